//! Admin sessions and CSRF tokens.
//!
//! Signing in with the admin token sets `calbook_admin`, an `HttpOnly; SameSite=Strict` cookie
//! holding `v1.<expiry>.<nonce>.<mac>`: the MAC (HMAC-SHA256) is keyed by a key derived from the
//! admin token, so any calbook instance sharing the token accepts the session, and changing the
//! token signs everybody out. The CSRF token of a session is the HMAC of its nonce under the same
//! key; forms carry it in a hidden field and every POST checks it in constant time.
//!
//! Signing out revokes the session on the server, not only in the browser: the SHA-256 of its
//! nonce ([`Session::revocation_id`]) is recorded in the database until the session's expiry
//! (see `store::sessions`), and the dashboard refuses a cookie whose nonce is recorded, on every
//! instance sharing the database, from the next request on. The cookie itself never reaches the
//! database. Otherwise a session lasts [`SESSION_TTL_SECS`].
//!
//! The login form, which has no session yet, uses a double-submit token: a random value in a
//! short-lived `calbook_login` cookie that the form must echo.

use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How long a dashboard session lasts.
pub const SESSION_TTL_SECS: i64 = 12 * 3600;

pub const SESSION_COOKIE: &str = "calbook_admin";
pub const LOGIN_COOKIE: &str = "calbook_login";

/// The key sessions and CSRF tokens are signed with.
#[derive(Clone)]
pub struct SessionKey([u8; 32]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

/// A valid session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    nonce: String,
    pub expires: Timestamp,
}

impl Session {
    /// What a sign-out records for this session: the SHA-256 of its nonce, hex-encoded. `None`
    /// for a session made from bearer credentials ([`SessionKey::for_bearer`]), which has no
    /// cookie to revoke (its token expires, or is changed, on its own).
    pub fn revocation_id(&self) -> Option<String> {
        if self.nonce.starts_with("bearer:") {
            return None;
        }
        Some(hex::encode(<Sha256 as sha2::Digest>::digest(
            self.nonce.as_bytes(),
        )))
    }
}

impl SessionKey {
    /// Derives the key from the admin token.
    pub fn from_admin_token(token: &str) -> SessionKey {
        let mut mac = HmacSha256::new_from_slice(token.as_bytes()).expect("HMAC takes any key");
        mac.update(b"calbook admin session key v1");
        SessionKey(mac.finalize().into_bytes().into())
    }

    fn mac(&self, parts: &[&[u8]]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key");
        for p in parts {
            mac.update(p);
            mac.update(b"\x00");
        }
        mac
    }

    /// The session of an admin signed in by bearer credentials (a Supabase admin's access token,
    /// or the admin token in an `Authorization` header) rather than by the session cookie: its
    /// CSRF token is bound to `subject` (the token's `sub`, or "operator").
    pub fn for_bearer(&self, subject: &str, now: Timestamp) -> Session {
        Session {
            nonce: format!("bearer:{subject}"),
            expires: Timestamp::from_second(now.as_second() + SESSION_TTL_SECS)
                .unwrap_or(Timestamp::MAX),
        }
    }

    /// A new session's cookie value.
    pub fn issue(&self, now: Timestamp) -> String {
        let expires = now.as_second() + SESSION_TTL_SECS;
        let nonce = hex::encode(rand::random::<[u8; 16]>());
        let body = format!("v1.{expires}.{nonce}");
        let tag = hex::encode(self.mac(&[body.as_bytes()]).finalize().into_bytes());
        format!("{body}.{tag}")
    }

    /// The session a cookie value proves, if it is authentic and not expired.
    pub fn verify(&self, value: &str, now: Timestamp) -> Option<Session> {
        let (body, tag) = value.rsplit_once('.')?;
        let tag = hex::decode(tag).ok()?;
        self.mac(&[body.as_bytes()]).verify_slice(&tag).ok()?;
        let mut parts = body.split('.');
        let (Some("v1"), Some(expires), Some(nonce), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let expires: i64 = expires.parse().ok()?;
        if expires <= now.as_second() {
            return None;
        }
        Some(Session {
            nonce: nonce.to_owned(),
            expires: Timestamp::from_second(expires).ok()?,
        })
    }

    /// The CSRF token forms of this session carry.
    pub fn csrf_token(&self, session: &Session) -> String {
        hex::encode(
            self.mac(&[b"csrf", session.nonce.as_bytes()])
                .finalize()
                .into_bytes(),
        )
    }

    /// Whether `token` is this session's CSRF token (constant time).
    pub fn check_csrf(&self, session: &Session, token: &str) -> bool {
        let Ok(tag) = hex::decode(token) else {
            return false;
        };
        self.mac(&[b"csrf", session.nonce.as_bytes()])
            .verify_slice(&tag)
            .is_ok()
    }
}

/// A fresh random value for the login form's double-submit check.
pub fn login_nonce() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Constant-time equality of two login nonces.
pub fn same_nonce(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    !a.is_empty() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

pub use crate::http::sign_in::cookie;

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-25T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_session_is_accepted_until_it_expires_and_only_with_its_key() {
        let key = SessionKey::from_admin_token("token-one-0123456789");
        let cookie = key.issue(now());
        let s = key.verify(&cookie, now()).expect("fresh session");
        let later = Timestamp::from_second(now().as_second() + SESSION_TTL_SECS).unwrap();
        assert!(key.verify(&cookie, later).is_none(), "expired");
        let other = SessionKey::from_admin_token("token-two-0123456789");
        assert!(other.verify(&cookie, now()).is_none(), "new token, new key");
        assert_eq!(s.expires, later);
    }

    #[test]
    fn a_tampered_cookie_is_refused() {
        let key = SessionKey::from_admin_token("token-one-0123456789");
        let cookie = key.issue(now());
        let (body, tag) = cookie.rsplit_once('.').unwrap();
        let longer = body.replacen(".17", ".27", 1);
        for bad in [
            format!("{longer}.{tag}"),
            format!("{body}.{}", "0".repeat(64)),
            format!("{body}x.{tag}"),
            body.to_owned(),
            String::new(),
            "v1.99999999999.nonce.zz".to_owned(),
        ] {
            assert!(key.verify(&bad, now()).is_none(), "{bad}");
        }
    }

    #[test]
    fn csrf_tokens_belong_to_one_session() {
        let key = SessionKey::from_admin_token("token-one-0123456789");
        let a = key.verify(&key.issue(now()), now()).unwrap();
        let b = key.verify(&key.issue(now()), now()).unwrap();
        let token = key.csrf_token(&a);
        assert!(key.check_csrf(&a, &token));
        assert!(!key.check_csrf(&b, &token));
        assert!(!key.check_csrf(&a, ""));
        assert!(!key.check_csrf(&a, "not hex"));
    }

    #[test]
    fn revocation_ids_name_one_cookie_session_and_hide_its_nonce() {
        let key = SessionKey::from_admin_token("token-one-0123456789");
        let a = key.verify(&key.issue(now()), now()).unwrap();
        let b = key.verify(&key.issue(now()), now()).unwrap();
        let id = a.revocation_id().unwrap();
        assert_eq!(id.len(), 64);
        assert_ne!(Some(id.clone()), b.revocation_id());
        assert!(!id.contains(&a.nonce), "a hash, not the nonce");
        assert_eq!(key.for_bearer("operator", now()).revocation_id(), None);
    }

    #[test]
    fn a_bearer_session_has_its_own_csrf_token() {
        let key = SessionKey::from_admin_token("token-one-0123456789");
        let a = key.for_bearer("11111111-1111-4111-8111-111111111111", now());
        let b = key.for_bearer("operator", now());
        assert!(key.check_csrf(&a, &key.csrf_token(&a)));
        assert!(!key.check_csrf(&b, &key.csrf_token(&a)));
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = axum::http::HeaderMap::new();
        h.append("cookie", "a=1; calbook_admin_x=2".parse().unwrap());
        h.append("cookie", "calbook_admin=3".parse().unwrap());
        assert_eq!(cookie(&h, "calbook_admin"), Some("3"));
        assert_eq!(cookie(&h, "b"), None);
        assert!(same_nonce("ab", "ab") && !same_nonce("ab", "ac") && !same_nonce("", ""));
    }
}
