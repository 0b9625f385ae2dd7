//! The admin dashboard: sign-in with the admin token, then bookings, deliveries and emails.
//!
//! Every handler here but the login form's takes an [`AdminSession`] (GET pages) or an
//! [`AdminForm`] (POSTs), see `guard.rs`: GET pages without a session redirect to the login form,
//! POSTs without one are refused (401). POSTs also need the session's CSRF token (403 without
//! it). A signed-out session is refused like a missing one; when the database cannot say whether
//! a session was signed out, the answer is 503, never a page. Nothing here
//! changes booking data but a delivery's Replay (through the webhook's own path); the other
//! writes are requeuing dead emails, recording a sign-out, and a booking page's actions (an
//! internal note, an email queued again, a cancel or reschedule request recorded after Cal.com's
//! API accepted it; see `actions.rs`: Cal.com's webhook then changes the booking as usual).
//! `/admin/stats` and `GET /api/stats` are the weekly numbers (`stats.rs`). Every
//! answer under `/admin` carries `Cache-Control: no-store` (see `http::no_store`).

mod actions;
mod bookings;
mod guard;
mod ops;
mod stats;
mod sync_ops;
mod timeline;
mod today;

pub use actions::{add_note, cancel, request_reschedule, resend};
pub use bookings::{booking, bookings, bookings_csv};
pub use guard::{AdminForm, AdminSession, CsrfField, CsrfForm};
use ops::delivery_row;
pub use ops::{deliveries, emails, retry_all_dead, retry_email};
pub use stats::{__path_stats_json, StatsDoc, stats_json, stats_page};
pub use sync_ops::{delivery, replay_delivery};
pub use today::today;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Deserialize;

use super::book::same_site_path;
use super::pages::STRICT_CSP;
use super::session::{self, LOGIN_COOKIE, SESSION_COOKIE, SESSION_TTL_SECS};
use crate::web::WebState;

#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

/// Where to go after signing in: a dashboard path, or the landing page.
fn after_login(next: Option<&str>) -> String {
    next.and_then(same_site_path)
        .filter(|p| p == "/admin" || p.starts_with("/admin/"))
        .filter(|p| !p.starts_with("/admin/login"))
        .unwrap_or_else(|| "/admin".to_owned())
}

pub async fn login_form(
    State(state): State<WebState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let next = after_login(q.next.as_deref());
    if AdminSession::from_headers(&state, &headers).await.is_ok() {
        return Redirect::to(&next).into_response();
    }
    login_page(&state, StatusCode::OK, &next, None, secure(&headers))
}

fn login_page(
    state: &WebState,
    status: StatusCode,
    next: &str,
    error: Option<&str>,
    secure: bool,
) -> Response {
    let nonce = session::login_nonce();
    let mut r = state.web.pages.render_status(
        status,
        "admin/login.html",
        minijinja::context! {
            business_name => &state.web.config.business_name,
            csrf => &nonce,
            next,
            error,
        },
        STRICT_CSP,
    );
    set_cookie(
        &mut r,
        &cookie_line(LOGIN_COOKIE, &nonce, "/admin/login", 600, secure),
    );
    r
}

pub async fn login(
    State(state): State<WebState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = after_login(form.next.as_deref());
    let secure = secure(&headers);
    let expected = session::cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if !session::same_nonce(expected, &form.csrf) {
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            &next,
            Some("The sign-in form expired. Please try again."),
            secure,
        );
    }
    let now = std::time::Instant::now();
    let client = crate::http::sign_in::throttle_key();
    if let Err(wait) = state.sign_in_throttle.check(client, now) {
        metrics::counter!("calbook_admin_logins_total", "outcome" => "throttled").increment(1);
        let secs = wait.as_secs().max(1);
        let mut r = login_page(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            &next,
            Some(&format!(
                "Too many failed sign-ins. Try again in {secs} seconds."
            )),
            secure,
        );
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    if !state.admin_token.matches(form.token.trim()) {
        state.sign_in_throttle.record_failure(client, now);
        tracing::warn!("admin sign-in refused: wrong token");
        metrics::counter!("calbook_admin_logins_total", "outcome" => "refused").increment(1);
        return login_page(
            &state,
            StatusCode::UNAUTHORIZED,
            &next,
            Some("That admin token is not right."),
            secure,
        );
    }
    metrics::counter!("calbook_admin_logins_total", "outcome" => "accepted").increment(1);
    tracing::info!("admin signed in");
    let value = state.web.sessions.issue(crate::time::now());
    let mut r = Redirect::to(&next).into_response();
    *r.status_mut() = StatusCode::SEE_OTHER;
    set_cookie(
        &mut r,
        &cookie_line(SESSION_COOKIE, &value, "/admin", SESSION_TTL_SECS, secure),
    );
    set_cookie(
        &mut r,
        &cookie_line(LOGIN_COOKIE, "", "/admin/login", 0, secure),
    );
    r
}

pub async fn logout(
    State(state): State<WebState>,
    headers: HeaderMap,
    AdminForm { admin, .. }: AdminForm<CsrfForm>,
) -> Response {
    // Revoked on the server first: a copy of the cookie is refused from now on, on every
    // instance. If that cannot be recorded, say so and keep the cookie, so that signing out can
    // be tried again.
    if let Some(id) = admin.session.revocation_id()
        && let Err(e) = state
            .store
            .revoke_session(&id, admin.session.expires, crate::time::now())
            .await
    {
        return store_error(&state, &e);
    }
    tracing::info!("admin signed out");
    let mut r = Redirect::to("/admin/login").into_response();
    *r.status_mut() = StatusCode::SEE_OTHER;
    set_cookie(
        &mut r,
        &cookie_line(SESSION_COOKIE, "", "/admin", 0, secure(&headers)),
    );
    r
}

/// Cookies get `Secure` when the request reached calbook over HTTPS through a proxy.
fn secure(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, `Secure` when asked, for `path`, kept for
/// `max_age` seconds (0 removes the cookie).
fn cookie_line(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> String {
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .path(path)
        .max_age(cookie::time::Duration::seconds(max_age))
        .build()
        .to_string()
}

fn set_cookie(r: &mut Response, line: &str) {
    if let Ok(v) = HeaderValue::from_str(line) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// `Wed 25 Nov 2026, 14:00 CET`: how the dashboard shows an instant.
pub fn show_time(t: Timestamp, zone: &TimeZone) -> String {
    t.to_zoned_datetime(zone.clone())
        .strftime("%a %-d %b %Y, %H:%M %Z")
        .to_string()
}

/// A store error as a page: 503 when the database is unavailable.
pub fn store_error(state: &WebState, e: &crate::store::StoreError) -> Response {
    tracing::error!(error = %e, "dashboard query failed");
    state.web.pages.error(
        StatusCode::SERVICE_UNAVAILABLE,
        "The database is not answering right now. Try again in a moment.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_only_leads_into_the_dashboard() {
        assert_eq!(
            after_login(Some("/admin/emails?state=dead")),
            "/admin/emails?state=dead"
        );
        for other in [
            None,
            Some("/book"),
            Some("//evil"),
            Some("/admin/login"),
            Some("/administrator"),
        ] {
            assert_eq!(after_login(other), "/admin", "{other:?}");
        }
    }

    #[test]
    fn times_show_in_the_dashboard_zone() {
        let t: Timestamp = "2026-11-25T13:00:00Z".parse().unwrap();
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        assert_eq!(show_time(t, &berlin), "Wed 25 Nov 2026, 14:00 CET");
        assert_eq!(show_time(t, &TimeZone::UTC), "Wed 25 Nov 2026, 13:00 UTC");
    }

    #[test]
    fn session_cookies_are_http_only_and_strict() {
        let line = cookie_line(SESSION_COOKIE, "v", "/admin", 60, true);
        assert_eq!(
            line,
            "calbook_admin=v; HttpOnly; SameSite=Strict; Secure; Path=/admin; Max-Age=60"
        );
    }
}
