//! Supabase-shaped access tokens (HS256 with the project secret, ES256 with published keys)
//! and calbook configured to accept them.

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode, get_current_timestamp};
use serde_json::{Value, json};

use super::{Backend, TestApp};

pub const JWT_SECRET: &str = "calbook-test-supabase-jwt-secret-0123456789";
pub const ISSUER: &str = "https://calbook-test.supabase.co/auth/v1";
pub const CLIENT_1: &str = "11111111-1111-4111-8111-111111111111";
pub const CLIENT_2: &str = "22222222-2222-4222-8222-222222222222";
pub const ADMIN_USER: &str = "99999999-9999-4999-8999-999999999999";
pub const JWKS_PATH: &str = "/auth/v1/.well-known/jwks.json";

// Test-only P-256 key pairs (the same as the verifier's unit tests).
pub const K1_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgFw0Aiy3P/PnFrjCK
IqfxAB7aE6x9lJ4Y8LykxRbfMZ6hRANCAASH7V4qLCQrHx0ImZ6qfr8WFDMy0T+s
pP2fhQDhQ/48fIDwtws+Ma4GOZHeHCuQGDXfNmyJL+6ntUCDWUqeSs5e
-----END PRIVATE KEY-----
";
pub const K1_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEh+1eKiwkKx8dCJmeqn6/FhQzMtE/
rKT9n4UA4UP+PHyA8LcLPjGuBjmR3hwrkBg13zZsiS/up7VAg1lKnkrOXg==
-----END PUBLIC KEY-----
";
pub const K1_X: &str = "h-1eKiwkKx8dCJmeqn6_FhQzMtE_rKT9n4UA4UP-PHw";
pub const K1_Y: &str = "gPC3Cz4xrgY5kd4cK5AYNd82bIkv7qe1QINZSp5Kzl4";
pub const K2_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgo79dD5KsgBQp7JjP
0IiWS12NhLT6Wsn6OA8ceCYhiiChRANCAASnpUgw+CVmku5NHJbB7pG3ou3h1DZF
PRQxl37mkjG3+wHDY1ILaDWQ3y8n4xYHD/nuEFpr38M8EaKGnc7TYa0U
-----END PRIVATE KEY-----
";
pub const K2_X: &str = "p6VIMPglZpLuTRyWwe6Rt6Lt4dQ2RT0UMZd-5pIxt_s";
pub const K2_Y: &str = "AcNjUgtoNZDfLyfjFgcP-e4QWmvfwzwRooadztNhrRQ";

/// Supabase-shaped access-token claims for `sub`.
pub fn claims(sub: &str, email: &str) -> Value {
    json!({
        "iss": ISSUER,
        "aud": "authenticated",
        "exp": get_current_timestamp() + 3600,
        "iat": get_current_timestamp(),
        "sub": sub,
        "email": email,
        "role": "authenticated",
        "app_metadata": {"provider": "email"},
        "user_metadata": {},
    })
}

pub fn admin_claims() -> Value {
    let mut c = claims(ADMIN_USER, "owner@business.example");
    c["app_metadata"] = json!({"provider": "email", "role": "admin"});
    c
}

pub fn hs256(c: &Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        c,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap()
}

pub fn es256(kid: &str, pem: &str, c: &Value) -> String {
    let mut h = Header::new(Algorithm::ES256);
    h.kid = Some(kid.to_owned());
    encode(&h, c, &EncodingKey::from_ec_pem(pem.as_bytes()).unwrap()).unwrap()
}

pub fn ec_jwk(kid: &str, x: &str, y: &str) -> Value {
    json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": "ES256", "use": "sig"})
}

impl TestApp {
    /// calbook accepting HS256 tokens signed with the test Supabase project's secret
    /// ([`hs256`] of [`claims`] signs a client in, of [`admin_claims`] an admin).
    pub async fn spawn_with_supabase(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, |s| {
            s.auth.jwt_secret = Some(JWT_SECRET.to_owned());
            s.auth.issuer = Some(ISSUER.to_owned());
        })
        .await
    }
}
