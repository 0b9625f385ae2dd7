//! The bookings API through real HTTP: sign-in (Supabase HS256 and ES256 tokens, the admin token),
//! who sees which booking, filters, cursor paging under concurrent inserts, reschedule chains,
//! history, and the OpenAPI document against the routes.

mod listing;
mod openapi;
mod privacy;
mod sign_in;

use jiff::Timestamp;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode, get_current_timestamp};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::helpers::*;

pub(crate) const JWT_SECRET: &str = "calbook-test-supabase-jwt-secret-0123456789";
pub(crate) const ISSUER: &str = "https://calbook-test.supabase.co/auth/v1";
pub(crate) const CLIENT_1: &str = "11111111-1111-4111-8111-111111111111";
pub(crate) const CLIENT_2: &str = "22222222-2222-4222-8222-222222222222";
pub(crate) const ADMIN_USER: &str = "99999999-9999-4999-8999-999999999999";
pub(crate) const JWKS_PATH: &str = "/auth/v1/.well-known/jwks.json";

// Test-only P-256 key pairs (the same as the verifier's unit tests).
pub(crate) const K1_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgFw0Aiy3P/PnFrjCK
IqfxAB7aE6x9lJ4Y8LykxRbfMZ6hRANCAASH7V4qLCQrHx0ImZ6qfr8WFDMy0T+s
pP2fhQDhQ/48fIDwtws+Ma4GOZHeHCuQGDXfNmyJL+6ntUCDWUqeSs5e
-----END PRIVATE KEY-----
";
pub(crate) const K1_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEh+1eKiwkKx8dCJmeqn6/FhQzMtE/
rKT9n4UA4UP+PHyA8LcLPjGuBjmR3hwrkBg13zZsiS/up7VAg1lKnkrOXg==
-----END PUBLIC KEY-----
";
pub(crate) const K1_X: &str = "h-1eKiwkKx8dCJmeqn6_FhQzMtE_rKT9n4UA4UP-PHw";
pub(crate) const K1_Y: &str = "gPC3Cz4xrgY5kd4cK5AYNd82bIkv7qe1QINZSp5Kzl4";
pub(crate) const K2_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgo79dD5KsgBQp7JjP
0IiWS12NhLT6Wsn6OA8ceCYhiiChRANCAASnpUgw+CVmku5NHJbB7pG3ou3h1DZF
PRQxl37mkjG3+wHDY1ILaDWQ3y8n4xYHD/nuEFpr38M8EaKGnc7TYa0U
-----END PRIVATE KEY-----
";
pub(crate) const K2_X: &str = "p6VIMPglZpLuTRyWwe6Rt6Lt4dQ2RT0UMZd-5pIxt_s";
pub(crate) const K2_Y: &str = "AcNjUgtoNZDfLyfjFgcP-e4QWmvfwzwRooadztNhrRQ";

/// Supabase-shaped access-token claims for `sub`.
pub(crate) fn claims(sub: &str, email: &str) -> Value {
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

pub(crate) fn admin_claims() -> Value {
    let mut c = claims(ADMIN_USER, "owner@business.example");
    c["app_metadata"] = json!({"provider": "email", "role": "admin"});
    c
}

pub(crate) fn hs256(c: &Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        c,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap()
}

pub(crate) fn es256(kid: &str, pem: &str, c: &Value) -> String {
    let mut h = Header::new(Algorithm::ES256);
    h.kid = Some(kid.to_owned());
    encode(&h, c, &EncodingKey::from_ec_pem(pem.as_bytes()).unwrap()).unwrap()
}

pub(crate) fn ec_jwk(kid: &str, x: &str, y: &str) -> Value {
    json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": "ES256", "use": "sig"})
}

/// calbook accepting HS256 tokens signed with the test project's secret.
pub(crate) async fn spawn_hs256(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |s| {
        s.auth.jwt_secret = Some(JWT_SECRET.to_owned());
        s.auth.issuer = Some(ISSUER.to_owned());
    })
    .await
}

/// A `BOOKING_CREATED` delivery for `uid` at `start`, booked by `email`, with the embed's
/// `metadata[client_id]` and `metadata[client_proof]` when given.
pub(crate) fn created(
    uid: &str,
    start: Timestamp,
    email: &str,
    client: Option<(&str, &str)>,
) -> Vec<u8> {
    let mut body = String::from_utf8(created_at(start, uid))
        .unwrap()
        .replace("marco.rossi@example.com", email);
    if let Some((c, proof)) = client {
        body = body.replace(
            "\"lead_ref\":\"LR-20417\"",
            &format!(
                "\"client_id\":\"{c}\",\"client_proof\":\"{proof}\",\"lead_ref\":\"LR-20417\""
            ),
        );
    }
    body.into_bytes()
}

/// `client` books `uid` through the booking page while signed in with `email` (so the booking
/// carries its id and a valid ownership proof), or, without a client, books it by email alone.
pub(crate) async fn book(
    app: &TestApp,
    uid: &str,
    start: Timestamp,
    email: &str,
    client: Option<&str>,
) {
    let proof = client.map(|c| app.ownership_proof(c, email));
    let claim = client.zip(proof.as_deref());
    let (status, body) = app.deliver(&created(uid, start, email, claim)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "applied", "{body}");
}

/// `GET path` with an optional bearer token: status, headers, JSON body.
pub(crate) async fn get(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, HeaderMap, Value) {
    let mut req = app.client.get(app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("request reaches calbook");
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{path}: {status} with a non-JSON body {text:?}"));
    (status, headers, json)
}

/// The uids of a listing, in order, asserting 200.
pub(crate) async fn uids(app: &TestApp, path: &str, token: &str) -> Vec<String> {
    let (status, _, body) = get(app, path, Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    uid_list(&body["bookings"])
}

pub(crate) fn uid_list(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|b| b["uid"].as_str().unwrap().to_owned())
        .collect()
}

pub(crate) fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Client 1's booking "mine" (tomorrow) and client 2's "theirs" (the day after).
pub(crate) async fn book_mine_and_theirs(app: &TestApp) {
    book(
        app,
        "mine",
        hours_from_now(24),
        "ann@example.com",
        Some(CLIENT_1),
    )
    .await;
    book(
        app,
        "theirs",
        hours_from_now(48),
        "bob@example.com",
        Some(CLIENT_2),
    )
    .await;
}
