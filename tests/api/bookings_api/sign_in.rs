//! Signing in to the API: Supabase HS256 and ES256 tokens, the admin token, and every refusal.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode, get_current_timestamp};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    missing_expired_and_unsigned_tokens_are_refused_with_a_challenge,
    user_metadata_admin_grants_nothing,
    es256_tokens_are_checked_against_the_published_keys,
);

async fn missing_expired_and_unsigned_tokens_are_refused_with_a_challenge(backend: Backend) {
    let app = TestApp::spawn_with_supabase(backend).await;
    book(
        &app,
        "mine",
        hours_from_now(24),
        "ann@example.com",
        Some(CLIENT_1),
    )
    .await;

    let refused = |(status, headers, body): (StatusCode, HeaderMap, Value)| {
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(body["error"].is_string() && body["message"].is_string());
        assert!(
            !body.to_string().contains("eyJ"),
            "the token is not echoed: {body}"
        );
        headers[WWW_AUTHENTICATE].to_str().unwrap().to_owned()
    };

    // No token: a plain challenge, for every route (before any 404).
    for path in [
        "/api/bookings",
        "/api/bookings/mine",
        "/api/bookings/mine/history",
        "/api/bookings/unknown",
    ] {
        let challenge = refused(get(&app, path, None).await);
        assert_eq!(challenge, r#"Bearer realm="calbook""#, "{path}");
    }

    let now = get_current_timestamp();
    let mut expired = claims(CLIENT_1, "ann@example.com");
    expired["exp"] = json!(now - 600);
    let mut wrong_aud = claims(CLIENT_1, "ann@example.com");
    wrong_aud["aud"] = json!("anon");
    let mut wrong_iss = claims(CLIENT_1, "ann@example.com");
    wrong_iss["iss"] = json!("https://someone-else.supabase.co/auth/v1");
    let b64 = |v: &Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims(CLIENT_1, "ann@example.com"))
    );
    let other_secret = encode(
        &Header::new(Algorithm::HS256),
        &claims(CLIENT_1, "ann@example.com"),
        &EncodingKey::from_secret(b"not-the-project-secret-but-long-enough"),
    )
    .unwrap();

    let challenge = refused(get(&app, "/api/bookings", Some(&hs256(&expired))).await);
    assert!(
        challenge.starts_with(r#"Bearer realm="calbook", error="invalid_token""#),
        "{challenge}"
    );
    assert!(challenge.contains("expired"), "{challenge}");
    for token in [
        hs256(&wrong_aud),
        hs256(&wrong_iss),
        alg_none,
        other_secret,
        "not-a-token".to_owned(),
        "test-admin-token-0123456789abcdeX".to_owned(),
    ] {
        let challenge = refused(get(&app, "/api/bookings/mine", Some(&token)).await);
        assert_eq!(
            challenge, r#"Bearer realm="calbook", error="invalid_token""#,
            "{token}"
        );
    }

    // Only the Authorization header counts on the API: Supabase's cookie is ignored there.
    let res = app
        .client
        .get(app.url("/api/bookings"))
        .header(
            "cookie",
            format!(
                "sb-access-token={}",
                hs256(&claims(CLIENT_1, "ann@example.com"))
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // And the good token works.
    let good = hs256(&claims(CLIENT_1, "ann@example.com"));
    assert_eq!(uids(&app, "/api/bookings", &good).await, ["mine"]);
}

async fn user_metadata_admin_grants_nothing(backend: Backend) {
    let app = TestApp::spawn_with_supabase(backend).await;
    book_mine_and_theirs(&app).await;

    let mut c = claims(CLIENT_1, "ann@example.com");
    c["user_metadata"] = json!({"role": "admin"});
    c["role"] = json!("admin");
    let token = hs256(&c);
    assert_eq!(uids(&app, "/api/bookings", &token).await, ["mine"]);
    let (status, _, _) = get(&app, "/api/bookings/theirs", Some(&token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, _, own) = get(&app, "/api/bookings/mine", Some(&token)).await;
    assert!(own.get("metadata").is_none(), "no admin view either");
}

async fn es256_tokens_are_checked_against_the_published_keys(backend: Backend) {
    let jwks = MockServer::start().await;
    let serve_keys = |keys: Vec<Value>| {
        Mock::given(method("GET"))
            .and(path(JWKS_PATH))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "keys": keys })))
    };
    serve_keys(vec![ec_jwk("k1", K1_X, K1_Y)])
        .mount(&jwks)
        .await;
    let url = jwks.uri();
    let app = TestApp::spawn_with(backend, |s| {
        s.auth.supabase_url = Some(url.clone());
        s.auth.jwks_min_refresh = Duration::ZERO;
    })
    .await;
    book_mine_and_theirs(&app).await;

    // The issuer is the project's: <SUPABASE_URL>/auth/v1.
    let mut c = claims(CLIENT_1, "ann@example.com");
    c["iss"] = json!(format!("{url}/auth/v1"));

    assert_eq!(
        uids(&app, "/api/bookings", &es256("k1", K1_PRIVATE, &c)).await,
        ["mine"]
    );

    // A token from a key the project has not published (yet): refused.
    let rotated = es256("k2", K2_PRIVATE, &c);
    let (status, headers, _) = get(&app, "/api/bookings", Some(&rotated)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        headers[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );

    // HS256 "signed" with the published public key (key confusion): refused.
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some("k1".into());
    let confused = encode(&h, &c, &EncodingKey::from_secret(K1_PUBLIC.as_bytes())).unwrap();
    let (status, _, _) = get(&app, "/api/bookings", Some(&confused)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The project rotates to k2: the unknown kid makes calbook refetch the keys, and it is accepted.
    jwks.reset().await;
    serve_keys(vec![ec_jwk("k1", K1_X, K1_Y), ec_jwk("k2", K2_X, K2_Y)])
        .mount(&jwks)
        .await;
    assert_eq!(uids(&app, "/api/bookings", &rotated).await, ["mine"]);

    // An admin by app_metadata, through the published keys.
    let mut admin = admin_claims();
    admin["iss"] = c["iss"].clone();
    assert_eq!(
        sorted(uids(&app, "/api/bookings", &es256("k2", K2_PRIVATE, &admin)).await),
        ["mine", "theirs"]
    );
}
