//! Who may use the dashboard: the [`AdminSession`] extractor for its pages and the
//! [`AdminForm`] extractor for its forms.
//!
//! Failure modes: a page without a session redirects to the login form; a form without one gets
//! the 401 page and a form without the session's CSRF token the 403 page; when the database
//! cannot say whether a session was signed out, the answer is the 503 page, never a page of the
//! dashboard.

use axum::Form;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::store_error;
use crate::web::WebState;
use crate::web::session::{self, SESSION_COOKIE, Session};

/// A signed-in admin, with the CSRF token its forms carry.
///
/// As an extractor, it guards the dashboard's GET pages: without a session the request is
/// redirected to the login form, whose `next` is the dashboard section asked for
/// (`/admin/bookings/{uid}` returns to `/admin/bookings`); when the database cannot say whether
/// the session was signed out, the answer is the 503 page.
pub struct AdminSession {
    pub session: Session,
    pub csrf: String,
}

/// Why a request carries no usable session.
pub(super) enum NoSession {
    /// No session cookie, a forged, expired or signed-out one, and no admin bearer token.
    SignedOut,
    /// The database could not say whether the session was signed out: this page (503).
    Unavailable(Response),
}

impl AdminSession {
    /// The admin proved by the request: the dashboard's session cookie, or else an admin signed
    /// in as the bookings API signs in (a Supabase access token whose `app_metadata.role` is
    /// `admin`, in the `Authorization` header or the `sb-access-token` cookie; or the admin token
    /// as a bearer token, for scripts).
    pub(super) async fn from_headers(
        state: &WebState,
        headers: &HeaderMap,
    ) -> Result<AdminSession, NoSession> {
        let key = &state.web.sessions;
        let now = crate::time::now();
        let mut found = session::cookie(headers, SESSION_COOKIE).and_then(|v| key.verify(v, now));
        if let Some(id) = found.as_ref().and_then(Session::revocation_id) {
            match state.store.session_revoked(&id).await {
                Ok(false) => {}
                Ok(true) => found = None,
                // Fail closed: a session that may have been signed out is not let in.
                Err(e) => return Err(NoSession::Unavailable(store_error(state, &e))),
            }
        }
        if found.is_none()
            && let Ok(caller) = crate::http::sign_in::resolve(state, headers).await
            && caller.is_admin()
        {
            let subject = caller
                .principal()
                .map_or_else(|| "operator".to_owned(), |p| p.subject.to_string());
            found = Some(key.for_bearer(&subject, now));
        }
        match found {
            Some(session) => Ok(AdminSession {
                csrf: key.csrf_token(&session),
                session,
            }),
            None => Err(NoSession::SignedOut),
        }
    }
}

/// The dashboard section a path is in (`/admin/bookings/abc` is in `/admin/bookings`): where the
/// login form leads back to.
fn section(path: &str) -> &str {
    let rest = path.strip_prefix("/admin/").unwrap_or("");
    match rest.find('/') {
        Some(i) => &path[.."/admin/".len() + i],
        None => path,
    }
}

impl FromRequestParts<WebState> for AdminSession {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<AdminSession, Response> {
        match AdminSession::from_headers(state, &parts.headers).await {
            Ok(admin) => Ok(admin),
            Err(NoSession::Unavailable(r)) => Err(r),
            Err(NoSession::SignedOut) => {
                let next = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("next", section(parts.uri.path()))
                    .finish();
                Err(Redirect::to(&format!("/admin/login?{next}")).into_response())
            }
        }
    }
}

/// A dashboard form that carries the session's CSRF token.
pub trait CsrfField {
    /// The form's `csrf` field (empty when absent).
    fn csrf(&self) -> &str;
}

/// A POSTed dashboard form `F` from a signed-in admin, with its CSRF token checked.
///
/// As an extractor (the last one of a handler): the form is read first (its refusals are
/// axum's), then a request without a session is refused with the 401 page (503 when the
/// database cannot say whether the session was signed out) and a form without this session's CSRF
/// token with the 403 page. No redirect.
pub struct AdminForm<F> {
    pub admin: AdminSession,
    pub form: F,
}

impl<F> FromRequest<WebState> for AdminForm<F>
where
    F: serde::de::DeserializeOwned + CsrfField + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &WebState) -> Result<AdminForm<F>, Response> {
        let headers = req.headers().clone();
        let Form(form) = Form::<F>::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let admin = match AdminSession::from_headers(state, &headers).await {
            Ok(admin) => admin,
            Err(NoSession::Unavailable(r)) => return Err(r),
            Err(NoSession::SignedOut) => {
                return Err(state
                    .web
                    .pages
                    .error(StatusCode::UNAUTHORIZED, "Sign in to the dashboard first."));
            }
        };
        if !state.web.sessions.check_csrf(&admin.session, form.csrf()) {
            return Err(state.web.pages.error(
                StatusCode::FORBIDDEN,
                "This form is missing its security token or the token has expired. Go back, \
                 reload the page and try again.",
            ));
        }
        Ok(AdminForm { admin, form })
    }
}

/// The form's CSRF field; absent is the same as wrong.
#[derive(Debug, Default, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

impl CsrfField for CsrfForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_form_leads_back_to_the_section() {
        for (path, next) in [
            ("/admin/bookings", "/admin/bookings"),
            ("/admin/bookings/abc", "/admin/bookings"),
            ("/admin/deliveries", "/admin/deliveries"),
            ("/admin/emails", "/admin/emails"),
        ] {
            assert_eq!(section(path), next, "{path}");
        }
    }
}
