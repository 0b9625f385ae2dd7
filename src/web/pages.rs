//! Page rendering: the built-in templates (`templates/web/`), the security headers every page
//! carries, and error pages.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};

/// Templates compiled into the binary.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/web/base.html")),
    ("book.html", include_str!("../../templates/web/book.html")),
    ("error.html", include_str!("../../templates/web/error.html")),
    (
        "admin/login.html",
        include_str!("../../templates/web/admin/login.html"),
    ),
    (
        "admin/bookings.html",
        include_str!("../../templates/web/admin/bookings.html"),
    ),
    (
        "admin/booking.html",
        include_str!("../../templates/web/admin/booking.html"),
    ),
    (
        "admin/deliveries.html",
        include_str!("../../templates/web/admin/deliveries.html"),
    ),
    (
        "admin/delivery.html",
        include_str!("../../templates/web/admin/delivery.html"),
    ),
    (
        "admin/_emails_table.html",
        include_str!("../../templates/web/admin/_emails_table.html"),
    ),
    (
        "admin/emails.html",
        include_str!("../../templates/web/admin/emails.html"),
    ),
    (
        "admin/today.html",
        include_str!("../../templates/web/admin/today.html"),
    ),
    (
        "admin/stats.html",
        include_str!("../../templates/web/admin/stats.html"),
    ),
    (
        "admin/_today_table.html",
        include_str!("../../templates/web/admin/_today_table.html"),
    ),
];

/// Rendering work a page may do; pages loop over at most a few hundred rows.
const FUEL: u64 = 5_000_000;

/// The CSP of every page but `/book`: nothing but calbook's own stylesheet and script.
pub const STRICT_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The page templates.
pub struct Pages {
    env: Environment<'static>,
}

impl std::fmt::Debug for Pages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages").finish_non_exhaustive()
    }
}

impl Pages {
    /// The built-in templates; `business_name` is available to every page.
    pub fn new(business_name: &str) -> Pages {
        let mut env = Environment::new();
        env.add_global("business_name", business_name.to_owned());
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL));
        for &(name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("built-in template {name}: {e}"));
        }
        Pages { env }
    }

    /// Renders `name` with `ctx` into a page with security headers and the given CSP.
    pub fn render(&self, name: &str, ctx: minijinja::Value, csp: &str) -> Response {
        self.render_status(StatusCode::OK, name, ctx, csp)
    }

    pub fn render_status(
        &self,
        status: StatusCode,
        name: &str,
        ctx: minijinja::Value,
        csp: &str,
    ) -> Response {
        let html = self.env.get_template(name).and_then(|t| t.render(ctx));
        match html {
            Ok(html) => html_response(status, html, csp),
            Err(e) => {
                tracing::error!(template = name, error = %e, "page rendering failed");
                plain_error(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }

    /// An error page naming the problem.
    pub fn error(&self, status: StatusCode, message: &str) -> Response {
        self.render_status(
            status,
            "error.html",
            minijinja::context! {
                title => status.canonical_reason().unwrap_or("Error"),
                status => status.as_u16(),
                message,
            },
            STRICT_CSP,
        )
    }
}

fn html_response(status: StatusCode, html: String, csp: &str) -> Response {
    let mut r = (status, html).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    match HeaderValue::from_str(csp) {
        Ok(v) => {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
        }
        Err(_) => {
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(STRICT_CSP),
            );
        }
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// For the one case where the error page itself cannot be rendered.
fn plain_error(status: StatusCode) -> Response {
    html_response(
        status,
        "<!doctype html><title>Error</title><p>Something went wrong.</p>".to_owned(),
        STRICT_CSP,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_builtin_template_compiles_and_the_error_page_escapes() {
        let pages = Pages::new("Acme & Co");
        let r = pages.error(StatusCode::BAD_REQUEST, "<script>alert(1)</script>");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.headers()[header::CONTENT_SECURITY_POLICY], STRICT_CSP);
        let body = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(body.contains("&lt;script&gt;alert(1)&lt;"), "{body}");
        assert!(body.contains("Acme &amp; Co"));
        assert!(!body.contains("<script>alert"));
    }
}
