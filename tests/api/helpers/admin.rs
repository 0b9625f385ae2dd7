//! The dashboard as an admin's browser meets it: signing in through the login form, the session
//! cookie and the CSRF token, and an HTTP client that shows redirects instead of following them.

use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};

use super::{ADMIN_TOKEN, TestApp};

/// A client that does not follow redirects (to see `303`s and their `Location`).
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `name=value` of a `Set-Cookie` header named `name`.
pub fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.to_owned())
}

pub fn hidden(html: &str, name: &str) -> String {
    let needle = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&needle)
        .unwrap_or_else(|| panic!("no {name} field"))
        + needle.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

/// An admin signed in through the login form: the session cookie and the page's CSRF token.
pub struct AdminSession {
    pub cookie: String,
    pub csrf: String,
}

impl TestApp {
    /// Signs in through the login form with the admin token, as a browser would: the session
    /// cookie (`HttpOnly`, `SameSite=Strict`, for `/admin`) and the dashboard's CSRF token.
    pub async fn sign_in_as_admin(&self) -> AdminSession {
        let app = self;
        let http = no_redirects();
        let form = http.get(app.url("/admin/login")).send().await.unwrap();
        let login_cookie = set_cookie(&form, "calbook_login").unwrap();
        let nonce = hidden(&form.text().await.unwrap(), "csrf");
        let r = http
            .post(app.url("/admin/login"))
            .header("cookie", login_cookie.split(';').next().unwrap())
            .form(&[
                ("csrf", nonce.as_str()),
                ("token", ADMIN_TOKEN),
                ("next", "/admin/emails"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()[LOCATION], "/admin/emails");
        let line = set_cookie(&r, "calbook_admin").unwrap();
        assert!(
            line.contains("HttpOnly")
                && line.contains("SameSite=Strict")
                && line.contains("Path=/admin"),
            "{line}"
        );
        let cookie = line.split(';').next().unwrap().to_owned();
        let page = http
            .get(app.url("/admin/emails"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let csrf = hidden(&page.text().await.unwrap(), "csrf");
        AdminSession { cookie, csrf }
    }
}

impl AdminSession {
    pub async fn get(&self, app: &TestApp, path: &str) -> (StatusCode, String) {
        let r = no_redirects()
            .get(app.url(path))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }
}
