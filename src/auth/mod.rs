//! Supabase-compatible JWT verification.
//!
//! Supabase signs user access tokens either with the legacy shared **HS256** secret
//! (`SUPABASE_JWT_SECRET`) or with asymmetric signing keys (**ES256**, **RS256**) whose public halves
//! are served as a JWKS at `<SUPABASE_URL>/auth/v1/.well-known/jwks.json`, selected by the `kid` in the
//! token header. [`Verifier`] accepts exactly those two paths:
//!
//! * `HS256` only with the configured secret, never against a public key;
//! * `ES256`/`RS256` only with a JWKS key whose `kid` matches the header and whose own `alg` equals the
//!   header's `alg` (the JWK must carry `alg`);
//! * anything else (`none`, `HS384`, `PS256`, …) is refused before any cryptography runs.
//!
//! Claims checked: `exp` (leeway [`LEEWAY_SECS`]), `nbf` if present, `aud`, `iss` (when an issuer is
//! known), and `sub` must be a UUID. An unknown `kid` triggers one JWKS refetch, at most once per
//! [`AuthConfig::jwks_min_refresh`]; a refetch replaces the whole cache, so revoked keys disappear.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

pub mod ownership;
#[cfg(test)]
mod tests;
pub mod throttle;

/// Clock-skew leeway for `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: u64 = 30;

/// Upper bound for a JWKS response body; a real one is well under 10 KiB.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// How long one JWKS fetch may take.
const JWKS_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the keys and claims expectations come from.
#[derive(Clone)]
pub struct AuthConfig {
    /// `SUPABASE_JWT_SECRET`: enables HS256 tokens.
    pub jwt_secret: Option<String>,
    /// `SUPABASE_URL`: enables ES256/RS256 via `{url}/auth/v1/.well-known/jwks.json`; the default issuer
    /// is `{url}/auth/v1`.
    pub supabase_url: Option<String>,
    /// Overrides the issuer. `None` derives it from `supabase_url`; with neither, `iss` is not checked.
    pub issuer: Option<String>,
    /// Required `aud`; default `"authenticated"`.
    pub audience: String,
    /// Minimum time between JWKS refetches triggered by an unknown `kid`; default 30 s.
    pub jwks_min_refresh: Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            jwt_secret: None,
            supabase_url: None,
            issuer: None,
            audience: "authenticated".to_owned(),
            jwks_min_refresh: Duration::from_secs(30),
        }
    }
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field(
                "jwt_secret",
                &self.jwt_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("supabase_url", &self.supabase_url)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("jwks_min_refresh", &self.jwks_min_refresh)
            .finish()
    }
}

impl AuthConfig {
    fn base_url(&self) -> Option<&str> {
        self.supabase_url
            .as_deref()
            .map(|u| u.trim_end_matches('/'))
            .filter(|u| !u.is_empty())
    }

    fn secret(&self) -> Option<&str> {
        self.jwt_secret.as_deref().filter(|s| !s.is_empty())
    }

    /// `{supabase_url}/auth/v1/.well-known/jwks.json`, if a URL is configured.
    pub fn jwks_url(&self) -> Option<String> {
        self.base_url()
            .map(|u| format!("{u}/auth/v1/.well-known/jwks.json"))
    }

    /// The issuer tokens must carry: the override, else `{supabase_url}/auth/v1`, else none (not checked).
    pub fn expected_issuer(&self) -> Option<String> {
        self.issuer
            .clone()
            .or_else(|| self.base_url().map(|u| format!("{u}/auth/v1")))
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// `sub`.
    pub subject: uuid::Uuid,
    /// `email`, if present and non-empty.
    pub email: Option<String>,
    /// `app_metadata.role == "admin"`. `user_metadata` is user-writable and grants nothing.
    pub is_admin: bool,
    /// `user_metadata.full_name` or `user_metadata.name`: user-written, so only ever used to
    /// prefill a form, never to decide anything.
    pub display_name: Option<String>,
}

/// Why a token was refused. Every variant means 401 to a client, except `KeysUnavailable` and
/// `NotConfigured`, which are server-side problems (503/500).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("token expired")]
    Expired,
    #[error("token audience not accepted")]
    WrongAudience,
    #[error("token issuer not accepted")]
    WrongIssuer,
    #[error("token algorithm not allowed: {0}")]
    AlgorithmNotAllowed(String),
    #[error("token signed with an unknown key")]
    UnknownKey,
    #[error("token signature invalid")]
    BadSignature,
    #[error("signing keys unavailable: {0}")]
    KeysUnavailable(String),
    #[error("JWT verification is not configured")]
    NotConfigured,
}

#[derive(Clone)]
struct CachedKey {
    key: Arc<DecodingKey>,
    alg: Algorithm,
}

/// Verifies Supabase access tokens; cheap to share behind an `Arc`.
pub struct Verifier {
    config: AuthConfig,
    client: reqwest::Client,
    hmac_key: Option<DecodingKey>,
    keys: RwLock<HashMap<String, CachedKey>>,
    /// When the JWKS was last fetched (successfully or not); held across the fetch so that concurrent
    /// unknown-`kid` tokens cause one request, not many.
    last_refresh: tokio::sync::Mutex<Option<Instant>>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    app_metadata: Option<serde_json::Value>,
    #[serde(default)]
    user_metadata: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<serde_json::Value>,
}

impl Verifier {
    pub fn new(config: AuthConfig) -> Verifier {
        let client = reqwest::Client::builder()
            .timeout(JWKS_TIMEOUT)
            .connect_timeout(JWKS_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("calbook/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        let hmac_key = config
            .secret()
            .map(|s| DecodingKey::from_secret(s.as_bytes()));
        Verifier {
            config,
            client,
            hmac_key,
            keys: RwLock::new(HashMap::new()),
            last_refresh: tokio::sync::Mutex::new(None),
        }
    }

    /// Verifies a bearer token (the value after "Bearer "). HS256 only with the configured secret;
    /// ES256/RS256 only with a key from the JWKS whose `kid` matches and whose own `alg` matches the
    /// token header. Never `none`, never HS256 against a public key. Checks exp (leeway
    /// [`LEEWAY_SECS`]), aud, iss. An unknown kid triggers one JWKS refresh, at most once per
    /// `jwks_min_refresh`.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        let jwks_url = self.config.jwks_url();
        if self.hmac_key.is_none() && jwks_url.is_none() {
            return Err(AuthError::NotConfigured);
        }

        // Read `alg` as a string ourselves so that `none` and unknown names get a precise error
        // instead of a generic parse failure.
        let (alg_name, kid) = raw_header(token)?;
        let alg = match alg_name.as_str() {
            "HS256" if self.hmac_key.is_some() => Algorithm::HS256,
            "ES256" if jwks_url.is_some() => Algorithm::ES256,
            "RS256" if jwks_url.is_some() => Algorithm::RS256,
            _ => return Err(AuthError::AlgorithmNotAllowed(alg_name)),
        };

        let claims = if alg == Algorithm::HS256 {
            let key = self.hmac_key.as_ref().ok_or(AuthError::NotConfigured)?;
            self.decode(token, key, alg)?
        } else {
            let kid = kid.ok_or_else(|| AuthError::Malformed("token header has no kid".into()))?;
            let cached = self.key_for(&kid).await?;
            if cached.alg != alg {
                return Err(AuthError::AlgorithmNotAllowed(alg_name));
            }
            self.decode(token, &cached.key, alg)?
        };

        let subject = uuid::Uuid::parse_str(&claims.sub)
            .map_err(|_| AuthError::Malformed("sub is not a UUID".into()))?;
        let is_admin = claims
            .app_metadata
            .as_ref()
            .and_then(|m| m.get("role"))
            .and_then(|r| r.as_str())
            == Some("admin");
        Ok(Principal {
            subject,
            email: claims.email.filter(|e| !e.is_empty()),
            is_admin,
            display_name: claims.user_metadata.as_ref().and_then(|m| {
                ["full_name", "name"]
                    .iter()
                    .filter_map(|k| m.get(*k)?.as_str())
                    .map(str::trim)
                    .find(|n| !n.is_empty() && n.len() <= 200)
                    .map(str::to_owned)
            }),
        })
    }

    fn decode(&self, token: &str, key: &DecodingKey, alg: Algorithm) -> Result<Claims, AuthError> {
        let mut validation = Validation::new(alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_audience(&[&self.config.audience]);
        let mut required = vec!["exp", "sub", "aud"];
        if let Some(iss) = self.config.expected_issuer() {
            validation.set_issuer(&[iss]);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);

        jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::InvalidAudience => AuthError::WrongAudience,
                ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
                ErrorKind::MissingRequiredClaim(c) if c == "aud" => AuthError::WrongAudience,
                ErrorKind::MissingRequiredClaim(c) if c == "iss" => AuthError::WrongIssuer,
                ErrorKind::InvalidSignature => AuthError::BadSignature,
                ErrorKind::InvalidAlgorithm => AuthError::AlgorithmNotAllowed(format!("{alg:?}")),
                ErrorKind::ImmatureSignature => AuthError::Malformed("token not yet valid".into()),
                _ => AuthError::Malformed(e.to_string()),
            })
    }

    fn cached(&self, kid: &str) -> Option<CachedKey> {
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(kid)
            .cloned()
    }

    /// The key for `kid`, refetching the JWKS once (rate-limited) if it is not cached.
    async fn key_for(&self, kid: &str) -> Result<CachedKey, AuthError> {
        if let Some(k) = self.cached(kid) {
            return Ok(k);
        }
        let mut last = self.last_refresh.lock().await;
        // Another task may have refreshed while we waited for the lock.
        if let Some(k) = self.cached(kid) {
            return Ok(k);
        }
        if let Some(at) = *last
            && at.elapsed() < self.config.jwks_min_refresh
        {
            return Err(AuthError::UnknownKey);
        }
        *last = Some(Instant::now());
        let fresh = self.fetch_jwks().await?;
        let found = fresh.get(kid).cloned();
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        found.ok_or(AuthError::UnknownKey)
    }

    async fn fetch_jwks(&self) -> Result<HashMap<String, CachedKey>, AuthError> {
        let url = self.config.jwks_url().ok_or(AuthError::NotConfigured)?;
        let unavailable = |e: &dyn fmt::Display| AuthError::KeysUnavailable(e.to_string());
        let mut resp = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        if !resp.status().is_success() {
            return Err(AuthError::KeysUnavailable(format!(
                "JWKS answered {}",
                resp.status()
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| unavailable(&e))? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(AuthError::KeysUnavailable("JWKS response too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        let raw: RawJwks = serde_json::from_slice(&body).map_err(|e| unavailable(&e))?;
        let keys: HashMap<String, CachedKey> = raw
            .keys
            .into_iter()
            .filter_map(|v| serde_json::from_value::<Jwk>(v).ok())
            .filter_map(|jwk| usable_key(&jwk))
            .collect();
        tracing::debug!(count = keys.len(), "JWKS refreshed");
        Ok(keys)
    }
}

/// A JWK we accept: has `kid`, declares `alg` ES256 (P-256) or RS256 (RSA), is not an encryption key.
fn usable_key(jwk: &Jwk) -> Option<(String, CachedKey)> {
    let kid = jwk.common.key_id.clone()?;
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let alg = match (&jwk.common.key_algorithm, &jwk.algorithm) {
        (Some(KeyAlgorithm::ES256), AlgorithmParameters::EllipticCurve(p))
            if p.curve == EllipticCurve::P256 =>
        {
            Algorithm::ES256
        }
        (Some(KeyAlgorithm::RS256), AlgorithmParameters::RSA(_)) => Algorithm::RS256,
        _ => return None,
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some((
        kid,
        CachedKey {
            key: Arc::new(key),
            alg,
        },
    ))
}

/// `alg` (as written) and `kid` from the token header, without trusting anything else in it.
fn raw_header(token: &str) -> Result<(String, Option<String>), AuthError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed(
            "expected three dot-separated parts".into(),
        ));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| AuthError::Malformed("header is not base64url".into()))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|_| AuthError::Malformed("header is not JSON".into()))?;
    let alg = value
        .get("alg")
        .and_then(|a| a.as_str())
        .ok_or_else(|| AuthError::Malformed("header has no alg".into()))?
        .to_owned();
    let kid = match value.get("kid") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(AuthError::Malformed("kid is not a string".into())),
    };
    Ok((alg, kid))
}

/// The operator's admin token (`CALBOOK_ADMIN_TOKEN`), compared in constant time.
#[derive(Clone)]
pub struct AdminToken(Arc<str>);

impl AdminToken {
    pub fn new(token: impl Into<Arc<str>>) -> AdminToken {
        AdminToken(token.into())
    }

    /// Whether `candidate` is the token. The comparison takes the same time wherever the first
    /// difference is (lengths may differ; a length is not a secret worth hiding).
    pub fn matches(&self, candidate: &str) -> bool {
        use subtle::ConstantTimeEq as _;
        self.0.as_bytes().ct_eq(candidate.as_bytes()).into()
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// Parses an `Authorization` header value: `Bearer <token>` (case-insensitive scheme) → token.
pub fn bearer(header: &str) -> Option<&str> {
    let header = header.trim();
    let (scheme, rest) = header.split_once([' ', '\t'])?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return None;
    }
    Some(token)
}
