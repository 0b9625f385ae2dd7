//! Who is calling: the admin token, or a Supabase user's access token.
//!
//! [`resolve_bearer`] (and the [`Caller`] extractor the API routes use) reads only the
//! `Authorization: Bearer …` header: a cookie is sent by the browser on its own, so accepting one
//! on the API would invite cross-site request forgery. [`resolve`] also accepts Supabase
//! auth-helpers' legacy `sb-access-token` cookie, for server-rendered pages (the booking page
//! prefills a signed-in client's details from it).
//!
//! * The admin token (`CALBOOK_ADMIN_TOKEN`, compared in constant time) → an admin.
//! * A Supabase access token that [`crate::auth::Verifier::verify`] accepts → an admin if its
//!   `app_metadata.role` is `admin`, otherwise the client whose id is `sub`.
//! * Anything else → 401 with `WWW-Authenticate: Bearer realm="calbook"` (and
//!   `error="invalid_token"` when a token was given but refused, per RFC 6750).
//!
//! A token never reaches a log; only the reason it was refused does.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tracing::{debug, warn};

use super::error::ApiError;
use crate::auth::{AuthError, Principal, bearer};
use crate::state::AppState;
use crate::store::{Owner, Scope};

/// The legacy cookie in which Supabase's auth helpers keep the access token.
pub const ACCESS_TOKEN_COOKIE: &str = "sb-access-token";

/// A signed-in caller.
#[derive(Debug, Clone, PartialEq)]
pub enum Caller {
    /// The operator, with the admin token.
    Operator,
    /// A Supabase user; an admin when the verified token says so in `app_metadata.role`.
    User(Principal),
}

impl Caller {
    /// Whether the caller sees every booking.
    pub fn is_admin(&self) -> bool {
        match self {
            Caller::Operator => true,
            Caller::User(p) => p.is_admin,
        }
    }

    /// The signed-in Supabase user, if any (the operator has none).
    pub fn principal(&self) -> Option<&Principal> {
        match self {
            Caller::Operator => None,
            Caller::User(p) => Some(p),
        }
    }

    /// Which bookings the caller may see: all for admins, else the client's own (its id is the
    /// booking's `client_id`, or, for a booking without one, its verified email is the
    /// attendee's).
    pub fn scope(&self) -> Scope {
        match self {
            Caller::User(p) if !p.is_admin => Scope::Owner(Owner {
                client_id: p.subject,
                email: p.email.clone(),
            }),
            _ => Scope::All,
        }
    }
}

/// Why a caller is not signed in.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// No credentials at all (no `Authorization: Bearer` header, or no cookie where allowed).
    #[error("sign in with an `Authorization: Bearer <token>` header")]
    Missing,
    /// A token was given and refused.
    #[error("{0}")]
    Invalid(AuthError),
    /// The signing keys could not be fetched; the token may well be good.
    #[error("sign-in is unavailable, retry later")]
    Unavailable,
    /// Too many refused tokens from this client lately (see [`crate::auth::throttle`]).
    #[error("too many refused sign-ins from this address; retry in {} seconds", .0.as_secs().max(1))]
    Throttled(std::time::Duration),
}

impl IntoResponse for SignInError {
    fn into_response(self) -> Response {
        let (challenge, code, message) = match &self {
            SignInError::Throttled(wait) => {
                let mut res = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_sign_ins",
                    self.to_string(),
                )
                .into_response();
                res.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(wait.as_secs().max(1)),
                );
                return res;
            }
            SignInError::Unavailable => {
                return ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "sign_in_unavailable",
                    self.to_string(),
                )
                .into_response();
            }
            SignInError::Missing => (
                r#"Bearer realm="calbook""#,
                "unauthorized",
                self.to_string(),
            ),
            SignInError::Invalid(AuthError::Expired) => (
                r#"Bearer realm="calbook", error="invalid_token", error_description="the token has expired""#,
                "invalid_token",
                "the token has expired; sign in again".to_owned(),
            ),
            SignInError::Invalid(e) => (
                r#"Bearer realm="calbook", error="invalid_token""#,
                "invalid_token",
                format!("the token was refused: {e}"),
            ),
        };
        let mut res = ApiError::new(StatusCode::UNAUTHORIZED, code, message).into_response();
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
        res
    }
}

/// The caller of an API request, from the `Authorization` header only.
pub async fn resolve_bearer(state: &AppState, headers: &HeaderMap) -> Result<Caller, SignInError> {
    let token = authorization_token(headers)?.ok_or(SignInError::Missing)?;
    check(state, token, true).await
}

/// The caller of an admin-only API request (the `Authorization` header only): `Err` holds the
/// answer to give instead, the sign-in's refusal (401, 503) or 403 `forbidden` with `refusal`
/// for a signed-in client.
pub async fn resolve_admin(
    state: &AppState,
    headers: &HeaderMap,
    refusal: &'static str,
) -> Result<Caller, Response> {
    match resolve_bearer(state, headers).await {
        Ok(caller) if caller.is_admin() => Ok(caller),
        Ok(_) => Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", refusal).into_response()),
        Err(e) => Err(e.into_response()),
    }
}

/// The caller of a page request: the `Authorization` header if there is one, else Supabase's
/// legacy `sb-access-token` cookie (a Supabase access token only; the admin token is not taken
/// from a cookie). Only for pages that read; never for a request that changes something.
pub async fn resolve(state: &AppState, headers: &HeaderMap) -> Result<Caller, SignInError> {
    if let Some(token) = authorization_token(headers)? {
        return check(state, token, true).await;
    }
    let token = cookie(headers, ACCESS_TOKEN_COOKIE).ok_or(SignInError::Missing)?;
    check(state, token, false).await
}

/// The bearer token of the `Authorization` header: `Ok(None)` without one (or with another
/// scheme), an error for a `Bearer` header without a usable token.
fn authorization_token(headers: &HeaderMap) -> Result<Option<&str>, SignInError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| SignInError::Invalid(AuthError::Malformed("not ASCII".into())))?;
    match bearer(value) {
        Some(token) => Ok(Some(token)),
        None if value
            .trim_start()
            .get(..6)
            .is_some_and(|s| s.eq_ignore_ascii_case("bearer")) =>
        {
            Err(SignInError::Invalid(AuthError::Malformed(
                "expected `Bearer <token>`".into(),
            )))
        }
        None => Ok(None),
    }
}

/// The value of the first cookie called `name` in the `Cookie` headers (parsed with the `cookie`
/// crate; a malformed pair is skipped, surrounding double quotes are removed, an empty value
/// counts as absent).
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .and_then(|c| c.value_raw())
        .map(|v| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// The client address token checks are counted under: the request's client (see
/// [`super::client_addr`]), or the unspecified address outside a request.
pub fn throttle_key() -> std::net::IpAddr {
    super::client_addr::current().unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

/// Checks a token, under the sign-in throttle: a client with too many refused tokens lately is
/// refused before any check, and every refusal counts.
async fn check(state: &AppState, token: &str, admin_token_ok: bool) -> Result<Caller, SignInError> {
    let client = throttle_key();
    let now = std::time::Instant::now();
    if let Err(wait) = state.sign_in_throttle.check(client, now) {
        metrics::counter!("calbook_sign_in_throttled_total").increment(1);
        return Err(SignInError::Throttled(wait));
    }
    if admin_token_ok && state.admin_token.matches(token) {
        return Ok(Caller::Operator);
    }
    let refused = |e: AuthError| {
        state.sign_in_throttle.record_failure(client, now);
        metrics::counter!("calbook_api_sign_in_refused_total").increment(1);
        debug!(reason = %e, "bearer token refused");
        Err(SignInError::Invalid(e))
    };
    let Some(verifier) = &state.verifier else {
        return refused(AuthError::NotConfigured);
    };
    match verifier.verify(token).await {
        Ok(p) => Ok(Caller::User(p)),
        Err(AuthError::KeysUnavailable(reason)) => {
            warn!(%reason, "Supabase signing keys unavailable");
            Err(SignInError::Unavailable)
        }
        Err(e) => refused(e),
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = SignInError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        resolve_bearer(state, &parts.headers).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn authorization_header_parsing() {
        assert_eq!(
            authorization_token(&headers(&[("authorization", "Bearer a.b.c")])).unwrap(),
            Some("a.b.c")
        );
        assert_eq!(authorization_token(&headers(&[])).unwrap(), None);
        assert_eq!(
            authorization_token(&headers(&[("authorization", "Basic dXNlcjpwYXNz")])).unwrap(),
            None
        );
        for bad in ["Bearer", "Bearer ", "bearer a b"] {
            assert!(
                matches!(
                    authorization_token(&headers(&[("authorization", bad)])),
                    Err(SignInError::Invalid(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn cookie_parsing() {
        let h = headers(&[
            ("cookie", "theme=dark; sb-access-token=x.y.z"),
            ("cookie", "sb-access-token=later"),
        ]);
        assert_eq!(cookie(&h, ACCESS_TOKEN_COOKIE), Some("x.y.z"));
        assert_eq!(cookie(&h, "theme"), Some("dark"));
        assert_eq!(cookie(&h, "sb-access"), None);
        assert_eq!(
            cookie(
                &headers(&[("cookie", "sb-access-token=")]),
                ACCESS_TOKEN_COOKIE
            ),
            None
        );
    }

    #[test]
    fn scope_follows_the_role() {
        let p = Principal {
            subject: uuid::Uuid::now_v7(),
            email: Some("a@example.com".into()),
            is_admin: false,
            display_name: None,
        };
        assert_eq!(
            Caller::User(p.clone()).scope(),
            Scope::Owner(Owner {
                client_id: p.subject,
                email: p.email.clone()
            })
        );
        assert_eq!(
            Caller::User(Principal {
                is_admin: true,
                ..p
            })
            .scope(),
            Scope::All
        );
        assert_eq!(Caller::Operator.scope(), Scope::All);
    }

    #[test]
    fn challenges() {
        let missing = SignInError::Missing.into_response();
        assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            missing.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer realm="calbook""#
        );
        let bad = SignInError::Invalid(AuthError::BadSignature).into_response();
        assert_eq!(
            bad.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer realm="calbook", error="invalid_token""#
        );
        let down = SignInError::Unavailable.into_response();
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
