use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode, get_current_timestamp};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;

const SECRET: &str = "super-secret-jwt-token-with-at-least-32-characters-long";
const ISS: &str = "https://abcdefgh.supabase.co/auth/v1";
const SUB: &str = "9f1b6a52-6c1e-4a8e-9a57-2f0d5a1c3b7e";
const JWKS_PATH: &str = "/auth/v1/.well-known/jwks.json";

// Test-only P-256 key pairs (openssl ecparam -name prime256v1 -genkey | openssl pkcs8 -topk8 -nocrypt).
const K1_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgFw0Aiy3P/PnFrjCK
IqfxAB7aE6x9lJ4Y8LykxRbfMZ6hRANCAASH7V4qLCQrHx0ImZ6qfr8WFDMy0T+s
pP2fhQDhQ/48fIDwtws+Ma4GOZHeHCuQGDXfNmyJL+6ntUCDWUqeSs5e
-----END PRIVATE KEY-----
";
const K1_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEh+1eKiwkKx8dCJmeqn6/FhQzMtE/
rKT9n4UA4UP+PHyA8LcLPjGuBjmR3hwrkBg13zZsiS/up7VAg1lKnkrOXg==
-----END PUBLIC KEY-----
";
const K1_X: &str = "h-1eKiwkKx8dCJmeqn6_FhQzMtE_rKT9n4UA4UP-PHw";
const K1_Y: &str = "gPC3Cz4xrgY5kd4cK5AYNd82bIkv7qe1QINZSp5Kzl4";

const K2_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgo79dD5KsgBQp7JjP
0IiWS12NhLT6Wsn6OA8ceCYhiiChRANCAASnpUgw+CVmku5NHJbB7pG3ou3h1DZF
PRQxl37mkjG3+wHDY1ILaDWQ3y8n4xYHD/nuEFpr38M8EaKGnc7TYa0U
-----END PRIVATE KEY-----
";
const K2_X: &str = "p6VIMPglZpLuTRyWwe6Rt6Lt4dQ2RT0UMZd-5pIxt_s";
const K2_Y: &str = "AcNjUgtoNZDfLyfjFgcP-e4QWmvfwzwRooadztNhrRQ";

fn claims() -> Value {
    json!({
        "iss": ISS,
        "aud": "authenticated",
        "exp": get_current_timestamp() + 3600,
        "iat": get_current_timestamp(),
        "sub": SUB,
        "email": "host@example.com",
        "role": "authenticated",
        "app_metadata": {"provider": "email"},
        "user_metadata": {},
    })
}

fn with(mut c: Value, key: &str, v: Value) -> Value {
    c[key] = v;
    c
}

fn hs256(c: &Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        c,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

fn es256(kid: &str, pem: &str, c: &Value) -> String {
    let mut h = Header::new(Algorithm::ES256);
    h.kid = Some(kid.to_owned());
    encode(&h, c, &EncodingKey::from_ec_pem(pem.as_bytes()).unwrap()).unwrap()
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn ec_jwk(kid: &str, x: &str, y: &str) -> Value {
    json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": "ES256", "use": "sig", "key_ops": ["verify"], "ext": true})
}

fn hs_verifier() -> Verifier {
    Verifier::new(AuthConfig {
        jwt_secret: Some(SECRET.into()),
        issuer: Some(ISS.into()),
        ..AuthConfig::default()
    })
}

async fn jwks_server(keys: Vec<Value>) -> MockServer {
    let server = MockServer::start().await;
    mount_jwks(&server, keys).await;
    server
}

async fn mount_jwks(server: &MockServer, keys: Vec<Value>) {
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "keys": keys })))
        .mount(server)
        .await;
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

fn jwks_verifier(server: &MockServer, min_refresh: Duration) -> Verifier {
    Verifier::new(AuthConfig {
        supabase_url: Some(format!("{}/", server.uri())),
        jwks_min_refresh: min_refresh,
        ..AuthConfig::default()
    })
}

/// Claims whose issuer matches a wiremock-hosted "project".
fn claims_for(server: &MockServer) -> Value {
    with(claims(), "iss", json!(format!("{}/auth/v1", server.uri())))
}

#[tokio::test]
async fn hs256_valid_token_gives_principal() {
    let p = hs_verifier().verify(&hs256(&claims())).await.unwrap();
    assert_eq!(
        p,
        Principal {
            subject: SUB.parse().unwrap(),
            email: Some("host@example.com".into()),
            is_admin: false,
            display_name: None,
        }
    );
}

#[tokio::test]
async fn admin_only_from_app_metadata() {
    let v = hs_verifier();
    let admin = with(claims(), "app_metadata", json!({"role": "admin"}));
    assert!(v.verify(&hs256(&admin)).await.unwrap().is_admin);

    let self_declared = with(claims(), "user_metadata", json!({"role": "admin"}));
    assert!(!v.verify(&hs256(&self_declared)).await.unwrap().is_admin);

    let top_level = with(claims(), "role", json!("admin"));
    assert!(!v.verify(&hs256(&top_level)).await.unwrap().is_admin);
}

#[tokio::test]
async fn expired_token_refused_but_small_skew_tolerated() {
    let v = hs_verifier();
    let now = get_current_timestamp();
    let old = with(claims(), "exp", json!(now - 120));
    assert!(matches!(
        v.verify(&hs256(&old)).await,
        Err(AuthError::Expired)
    ));
    let skewed = with(claims(), "exp", json!(now - 5));
    assert!(v.verify(&hs256(&skewed)).await.is_ok());
    let mut no_exp = claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert!(matches!(
        v.verify(&hs256(&no_exp)).await,
        Err(AuthError::Malformed(_))
    ));
}

#[tokio::test]
async fn wrong_audience_and_issuer_refused() {
    let v = hs_verifier();
    let anon = with(claims(), "aud", json!("anon"));
    assert!(matches!(
        v.verify(&hs256(&anon)).await,
        Err(AuthError::WrongAudience)
    ));
    let mut no_aud = claims();
    no_aud.as_object_mut().unwrap().remove("aud");
    assert!(matches!(
        v.verify(&hs256(&no_aud)).await,
        Err(AuthError::WrongAudience)
    ));
    let other = with(claims(), "iss", json!("https://other.supabase.co/auth/v1"));
    assert!(matches!(
        v.verify(&hs256(&other)).await,
        Err(AuthError::WrongIssuer)
    ));
}

#[tokio::test]
async fn issuer_derived_from_supabase_url() {
    let v = Verifier::new(AuthConfig {
        jwt_secret: Some(SECRET.into()),
        supabase_url: Some("https://abcdefgh.supabase.co/".into()),
        ..AuthConfig::default()
    });
    assert!(v.verify(&hs256(&claims())).await.is_ok());
    let other = with(claims(), "iss", json!("https://evil.example/auth/v1"));
    assert!(matches!(
        v.verify(&hs256(&other)).await,
        Err(AuthError::WrongIssuer)
    ));
}

#[tokio::test]
async fn alg_none_refused() {
    let v = hs_verifier();
    for alg in ["none", "None", "NONE"] {
        let token = format!(
            "{}.{}.",
            b64(&json!({"alg": alg, "typ": "JWT"})),
            b64(&claims())
        );
        match v.verify(&token).await {
            Err(AuthError::AlgorithmNotAllowed(a)) => assert_eq!(a, alg),
            other => panic!("alg {alg}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn other_hmac_algorithms_refused() {
    let token = encode(
        &Header::new(Algorithm::HS512),
        &claims(),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert!(matches!(
        hs_verifier().verify(&token).await,
        Err(AuthError::AlgorithmNotAllowed(a)) if a == "HS512"
    ));
}

#[tokio::test]
async fn hs256_signed_with_public_key_refused() {
    let server = jwks_server(vec![ec_jwk("k1", K1_X, K1_Y)]).await;
    let c = claims_for(&server);
    // The classic key-confusion attack: HMAC "secret" = the public key as PEM, SPKI DER, or raw point.
    let der = base64::engine::general_purpose::STANDARD
        .decode(
            K1_PUBLIC
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
    let mut point = vec![0x04];
    point.extend(URL_SAFE_NO_PAD.decode(K1_X).unwrap());
    point.extend(URL_SAFE_NO_PAD.decode(K1_Y).unwrap());
    for key in [K1_PUBLIC.as_bytes(), &der, &point] {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("k1".into());
        let token = encode(&h, &c, &EncodingKey::from_secret(key)).unwrap();

        // Only JWKS configured: HS256 is not an option at all.
        let v = jwks_verifier(&server, Duration::ZERO);
        assert!(matches!(
            v.verify(&token).await,
            Err(AuthError::AlgorithmNotAllowed(a)) if a == "HS256"
        ));

        // Both configured: HS256 is checked against the secret only, never the public key.
        let both = Verifier::new(AuthConfig {
            jwt_secret: Some(SECRET.into()),
            ..jwks_verifier(&server, Duration::ZERO).config.clone()
        });
        assert!(matches!(
            both.verify(&token).await,
            Err(AuthError::BadSignature)
        ));
    }
    assert_eq!(requests(&server).await, 0, "HS256 never consults the JWKS");
}

#[tokio::test]
async fn tampered_payload_refused() {
    let token = hs256(&claims());
    let parts: Vec<&str> = token.split('.').collect();
    let evil = with(claims(), "app_metadata", json!({"role": "admin"}));
    let forged = format!("{}.{}.{}", parts[0], b64(&evil), parts[2]);
    assert!(matches!(
        hs_verifier().verify(&forged).await,
        Err(AuthError::BadSignature)
    ));
    let wrong_secret = encode(
        &Header::new(Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(b"another-secret-of-sufficient-length-000"),
    )
    .unwrap();
    assert!(matches!(
        hs_verifier().verify(&wrong_secret).await,
        Err(AuthError::BadSignature)
    ));
}

#[tokio::test]
async fn malformed_missing_and_unconfigured() {
    let v = hs_verifier();
    assert!(matches!(v.verify("").await, Err(AuthError::Missing)));
    for junk in ["abc", "a.b", "a.b.c.d", "!!!.e30.", "e30.e30.sig"] {
        assert!(
            matches!(v.verify(junk).await, Err(AuthError::Malformed(_))),
            "{junk}"
        );
    }
    let not_uuid = with(claims(), "sub", json!("anon"));
    assert!(matches!(
        v.verify(&hs256(&not_uuid)).await,
        Err(AuthError::Malformed(_))
    ));
    let none = Verifier::new(AuthConfig::default());
    assert!(matches!(
        none.verify(&hs256(&claims())).await,
        Err(AuthError::NotConfigured)
    ));
}

#[tokio::test]
async fn es256_jwks_rotation_picks_up_new_kid() {
    let server = jwks_server(vec![ec_jwk("k1", K1_X, K1_Y)]).await;
    let v = jwks_verifier(&server, Duration::ZERO);
    let c = claims_for(&server);
    let t1 = es256("k1", K1_PRIVATE, &c);
    let t2 = es256("k2", K2_PRIVATE, &c);

    let p = v.verify(&t1).await.unwrap();
    assert_eq!(p.subject, SUB.parse::<uuid::Uuid>().unwrap());
    assert_eq!(requests(&server).await, 1);
    v.verify(&t1).await.unwrap();
    assert_eq!(requests(&server).await, 1, "known kid is served from cache");

    assert!(matches!(v.verify(&t2).await, Err(AuthError::UnknownKey)));
    assert_eq!(requests(&server).await, 2, "unknown kid refetches once");

    // Supabase rotates: k2 becomes the signing key.
    server.reset().await;
    mount_jwks(
        &server,
        vec![ec_jwk("k1", K1_X, K1_Y), ec_jwk("k2", K2_X, K2_Y)],
    )
    .await;
    assert!(v.verify(&t2).await.is_ok());
    assert!(v.verify(&t1).await.is_ok());
    assert_eq!(requests(&server).await, 1);

    // A token claiming k1 but signed with k2's private key.
    let forged = es256("k1", K2_PRIVATE, &c);
    assert!(matches!(
        v.verify(&forged).await,
        Err(AuthError::BadSignature)
    ));
}

#[tokio::test]
async fn unknown_kid_refetch_is_rate_limited() {
    let server = jwks_server(vec![ec_jwk("k1", K1_X, K1_Y)]).await;
    let v = jwks_verifier(&server, Duration::from_secs(3600));
    let c = claims_for(&server);
    let t2 = es256("k2", K2_PRIVATE, &c);

    assert!(matches!(v.verify(&t2).await, Err(AuthError::UnknownKey)));
    assert_eq!(requests(&server).await, 1);
    assert!(matches!(v.verify(&t2).await, Err(AuthError::UnknownKey)));
    assert!(matches!(v.verify(&t2).await, Err(AuthError::UnknownKey)));
    assert_eq!(
        requests(&server).await,
        1,
        "no refetch within jwks_min_refresh"
    );
    // The first fetch still populated k1.
    assert!(v.verify(&es256("k1", K1_PRIVATE, &c)).await.is_ok());
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn token_alg_must_match_the_keys_alg() {
    let server = jwks_server(vec![ec_jwk("k1", K1_X, K1_Y)]).await;
    let v = jwks_verifier(&server, Duration::ZERO);
    let c = claims_for(&server);
    let token = format!(
        "{}.{}.c2ln",
        b64(&json!({"alg": "RS256", "kid": "k1"})),
        b64(&c)
    );
    assert!(matches!(
        v.verify(&token).await,
        Err(AuthError::AlgorithmNotAllowed(a)) if a == "RS256"
    ));
    let no_kid = format!("{}.{}.c2ln", b64(&json!({"alg": "ES256"})), b64(&c));
    assert!(matches!(
        v.verify(&no_kid).await,
        Err(AuthError::Malformed(_))
    ));
}

#[tokio::test]
async fn jwks_keys_without_alg_or_for_encryption_are_ignored() {
    let mut no_alg = ec_jwk("k1", K1_X, K1_Y);
    no_alg.as_object_mut().unwrap().remove("alg");
    let mut enc = ec_jwk("k2", K2_X, K2_Y);
    enc["use"] = json!("enc");
    let oct =
        json!({"kty": "oct", "k": URL_SAFE_NO_PAD.encode(SECRET), "kid": "k3", "alg": "HS256"});
    let server = jwks_server(vec![no_alg, enc, oct, json!({"kty": "weird"})]).await;
    let v = jwks_verifier(&server, Duration::ZERO);
    let c = claims_for(&server);
    assert!(matches!(
        v.verify(&es256("k1", K1_PRIVATE, &c)).await,
        Err(AuthError::UnknownKey)
    ));
    assert!(matches!(
        v.verify(&es256("k2", K2_PRIVATE, &c)).await,
        Err(AuthError::UnknownKey)
    ));
}

#[tokio::test]
async fn jwks_failure_is_keys_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(JWKS_PATH))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let v = jwks_verifier(&server, Duration::ZERO);
    let token = es256("k1", K1_PRIVATE, &claims_for(&server));
    assert!(matches!(
        v.verify(&token).await,
        Err(AuthError::KeysUnavailable(_))
    ));
}

#[test]
fn bearer_parsing() {
    assert_eq!(bearer("Bearer abc.def.ghi"), Some("abc.def.ghi"));
    assert_eq!(bearer("bearer abc"), Some("abc"));
    assert_eq!(bearer("BEARER   abc  "), Some("abc"));
    assert_eq!(bearer("Bearer\tabc"), Some("abc"));
    assert_eq!(bearer("Bearer"), None);
    assert_eq!(bearer("Bearer "), None);
    assert_eq!(bearer("Basic dXNlcjpwYXNz"), None);
    assert_eq!(bearer("Bearerabc"), None);
    assert_eq!(bearer("Bearer a b"), None);
    assert_eq!(bearer(""), None);
}
