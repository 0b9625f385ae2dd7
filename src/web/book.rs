//! `GET /book`: the Cal.com inline embed for the configured event, prefilled, with success and
//! failure messages driven by the embed's events (`assets/book.js`).
//!
//! The embed's events are client-side messages anyone can forge; they only change what the page
//! says. Bookings are recorded from the signed webhook alone.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::settings::WebConfig;
use crate::web::WebState;

#[derive(Debug, Default, Deserialize)]
pub struct BookQuery {
    name: Option<String>,
    email: Option<String>,
    /// Where "Continue" leads after a booking: a same-site path only.
    redirect: Option<String>,
}

/// Who is booking, as far as the page knows.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Prefill {
    pub name: Option<String>,
    pub email: Option<String>,
    /// A signed-in client's id, passed as `metadata[client_id]`.
    pub client_id: Option<String>,
    /// The proof that makes `client_id` count (`metadata[client_proof]`): signed by calbook for
    /// this client and its verified email (see [`crate::auth::ownership`]). Only for a client
    /// with an email; without it a booking is owned by its attendee email alone.
    pub client_proof: Option<String>,
}

/// What `book.js` reads from the page (a JSON data block, never executed).
#[derive(Debug, Serialize)]
struct EmbedConfig<'a> {
    link: &'a str,
    origin: &'a str,
    script_url: &'a str,
    layout: &'a str,
    theme: &'a str,
    brand_color: Option<&'a str>,
    prefill: &'a Prefill,
}

pub async fn page(
    State(state): State<WebState>,
    headers: HeaderMap,
    Query(q): Query<BookQuery>,
) -> Response {
    let web = &state.web;
    let mut prefill = Prefill {
        name: clean_field(q.name.as_deref(), 200),
        email: clean_field(q.email.as_deref(), 320).filter(|e| e.contains('@')),
        client_id: None,
        client_proof: None,
    };
    if let Some(client) = super::signed_in_client(&state, &headers).await {
        prefill.client_proof = client
            .email
            .as_deref()
            .map(|email| web.ownership.sign(client.id, email, crate::time::now()));
        prefill.name = client.name.or(prefill.name);
        prefill.email = client.email.or(prefill.email);
        prefill.client_id = Some(client.id.to_string());
    }
    let redirect = q.redirect.as_deref().and_then(same_site_path);
    let config = &web.config;
    let embed = config.embed.as_ref().map(|e| EmbedConfig {
        link: &e.link,
        origin: &e.origin,
        script_url: &e.script_url,
        layout: config.layout.as_str(),
        theme: config.theme.as_str(),
        brand_color: config.brand_color.as_deref(),
        prefill: &prefill,
    });
    web.pages.render(
        "book.html",
        minijinja::context! {
            business_name => &config.business_name,
            embed => minijinja::Value::from(minijinja::value::Serde(&embed)),
            prefill => minijinja::Value::from(minijinja::value::Serde(&prefill)),
            redirect,
            reminders => &web.reminders,
            brand_color => config.brand_color.as_deref(),
        },
        &book_csp(config),
    )
}

/// Scripts from calbook and the embed's script and app origins; frames from the app origin only.
pub fn book_csp(config: &WebConfig) -> String {
    match &config.embed {
        None => super::pages::STRICT_CSP.to_owned(),
        Some(e) => {
            let scripts = if e.script_origin == e.origin {
                e.origin.clone()
            } else {
                format!("{} {}", e.script_origin, e.origin)
            };
            format!(
                "default-src 'none'; script-src 'self' {scripts}; frame-src {origin}; \
                 style-src 'self' 'unsafe-inline' {origin}; img-src 'self' data: {origin}; \
                 font-src {origin}; connect-src 'self' {scripts}; form-action 'self'; \
                 frame-ancestors 'none'; base-uri 'none'",
                origin = e.origin
            )
        }
    }
}

/// A prefill value: trimmed, bounded, without control characters; empty means none.
fn clean_field(v: Option<&str>, max: usize) -> Option<String> {
    let v = v?.trim();
    if v.is_empty() || v.len() > max || v.chars().any(char::is_control) {
        return None;
    }
    Some(v.to_owned())
}

/// `redirect` when it is a path on this site: starts with one `/`, no scheme, no host, no
/// backslash, no control characters. `//evil`, `/\evil`, `javascript:…` and absolute URLs are
/// refused.
pub fn same_site_path(redirect: &str) -> Option<String> {
    let r = redirect;
    let ok = r.starts_with('/')
        && !r.starts_with("//")
        && !r.contains('\\')
        && !r.chars().any(|c| c.is_control() || c.is_whitespace())
        && r.len() <= 512;
    ok.then(|| r.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_stay_on_this_site() {
        for good in ["/", "/account", "/account/bookings?tab=upcoming#x"] {
            assert_eq!(same_site_path(good).as_deref(), Some(good));
        }
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "https://evil.example/",
            "evil.example",
            "/\tevil",
            "/ok\r\nSet-Cookie: x=1",
            "",
        ] {
            assert_eq!(same_site_path(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn prefill_values_are_bounded_and_clean() {
        assert_eq!(clean_field(Some("  Ann  "), 10).as_deref(), Some("Ann"));
        assert_eq!(clean_field(Some(""), 10), None);
        assert_eq!(clean_field(Some("a\u{0}b"), 10), None);
        assert_eq!(clean_field(Some(&"x".repeat(11)), 10), None);
    }

    #[test]
    fn the_csp_names_the_embed_origins_only() {
        let c = super::super::WebSettings {
            calcom_link: Some("acme/intro".into()),
            embed_origin: Some("https://cal.example.com".into()),
            embed_script_url: Some("https://cdn.example.net/embed.js".into()),
            ..Default::default()
        }
        .validate()
        .unwrap();
        let csp = book_csp(&c);
        assert!(csp.contains("script-src 'self' https://cdn.example.net https://cal.example.com;"));
        assert!(csp.contains("frame-src https://cal.example.com;"));
        assert!(!csp.contains("unsafe-eval") && !csp.contains("*"));
    }
}
