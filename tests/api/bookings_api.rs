//! The bookings API through real HTTP: sign-in (Supabase HS256 and ES256 tokens, the admin token),
//! who sees which booking, filters, cursor paging under concurrent inserts, reschedule chains,
//! history, and the OpenAPI document against the routes.

use std::collections::HashSet;
use std::time::Duration;

use jiff::Timestamp;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode, get_current_timestamp};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    a_client_sees_only_its_bookings_an_admin_sees_all,
    missing_expired_and_unsigned_tokens_are_refused_with_a_challenge,
    user_metadata_admin_grants_nothing,
    es256_tokens_are_checked_against_the_published_keys,
    pages_neither_repeat_nor_skip_when_bookings_arrive_between_them,
    filters_narrow_the_listing_and_bad_values_are_400,
    reschedule_chain_and_history_follow_the_callers_rights,
);

pub(crate) const JWT_SECRET: &str = "calbook-test-supabase-jwt-secret-0123456789";
pub(crate) const ISSUER: &str = "https://calbook-test.supabase.co/auth/v1";
pub(crate) const CLIENT_1: &str = "11111111-1111-4111-8111-111111111111";
const CLIENT_2: &str = "22222222-2222-4222-8222-222222222222";
const ADMIN_USER: &str = "99999999-9999-4999-8999-999999999999";
const JWKS_PATH: &str = "/auth/v1/.well-known/jwks.json";

// Test-only P-256 key pairs (the same as the verifier's unit tests).
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

fn admin_claims() -> Value {
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

fn es256(kid: &str, pem: &str, c: &Value) -> String {
    let mut h = Header::new(Algorithm::ES256);
    h.kid = Some(kid.to_owned());
    encode(&h, c, &EncodingKey::from_ec_pem(pem.as_bytes()).unwrap()).unwrap()
}

fn ec_jwk(kid: &str, x: &str, y: &str) -> Value {
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
/// `metadata[client_id]` when given.
fn created(uid: &str, start: Timestamp, email: &str, client: Option<&str>) -> Vec<u8> {
    let mut body = String::from_utf8(created_at(start, uid))
        .unwrap()
        .replace("marco.rossi@example.com", email);
    if let Some(c) = client {
        body = body.replace(
            "\"lead_ref\":\"LR-20417\"",
            &format!("\"client_id\":\"{c}\",\"lead_ref\":\"LR-20417\""),
        );
    }
    body.into_bytes()
}

async fn book(app: &TestApp, uid: &str, start: Timestamp, email: &str, client: Option<&str>) {
    let (status, body) = app.deliver(&created(uid, start, email, client)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "applied", "{body}");
}

/// `GET path` with an optional bearer token: status, headers, JSON body.
async fn get(app: &TestApp, path: &str, token: Option<&str>) -> (StatusCode, HeaderMap, Value) {
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
async fn uids(app: &TestApp, path: &str, token: &str) -> Vec<String> {
    let (status, _, body) = get(app, path, Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    uid_list(&body["bookings"])
}

fn uid_list(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|b| b["uid"].as_str().unwrap().to_owned())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn a_client_sees_only_its_bookings_an_admin_sees_all(backend: Backend) {
    let app = spawn_hs256(backend).await;
    book(
        &app,
        "c1-by-id",
        hours_from_now(24),
        "ann@example.com",
        Some(CLIENT_1),
    )
    .await;
    // No client id: it is client 1's because the attendee email is its verified email.
    book(
        &app,
        "c1-by-email",
        hours_from_now(48),
        "Ann@Example.com",
        None,
    )
    .await;
    book(
        &app,
        "c2-by-id",
        hours_from_now(72),
        "ann@example.com",
        Some(CLIENT_2),
    )
    .await;
    book(&app, "nobodys", hours_from_now(96), "zed@example.com", None).await;

    let c1 = hs256(&claims(CLIENT_1, "ann@example.com"));
    let c2 = hs256(&claims(CLIENT_2, "bob@example.com"));
    let admin = hs256(&admin_claims());

    assert_eq!(
        uids(&app, "/api/bookings", &c1).await,
        ["c1-by-email", "c1-by-id"],
        "latest start first; another client's id wins over a matching email"
    );
    assert_eq!(uids(&app, "/api/bookings", &c2).await, ["c2-by-id"]);
    let all = ["c1-by-email", "c1-by-id", "c2-by-id", "nobodys"];
    assert_eq!(sorted(uids(&app, "/api/bookings", &admin).await), all);
    assert_eq!(
        sorted(uids(&app, "/api/bookings", ADMIN_TOKEN).await),
        all,
        "the admin token is an admin bearer token"
    );

    // One booking: the client's own, with its notes but not the business's metadata.
    let (status, _, own) = get(&app, "/api/bookings/c1-by-id", Some(&c1)).await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert_eq!(own["uid"], "c1-by-id");
    assert_eq!(own["client_id"], CLIENT_1);
    assert_eq!(own["status"], "confirmed");
    assert_eq!(own["notes"], "Would like to discuss the spring order.");
    assert_eq!(own["attendee_email"], "ann@example.com");
    assert!(own.get("metadata").is_none() && own.get("calcom_id").is_none());
    assert!(own["organizer"].get("email").is_none());
    assert_eq!(own["organizer"]["name"], "Dana Whitfield");
    assert!(own.get("id").is_none(), "internal ids stay inside");
    let (_, _, as_admin) = get(&app, "/api/bookings/c1-by-id", Some(&admin)).await;
    assert_eq!(as_admin["metadata"]["lead_ref"], "LR-20417");
    assert_eq!(as_admin["organizer"]["email"], "dana@example.com");

    // Someone else's booking: 403; an unknown one: 404; both JSON.
    for path in ["/api/bookings/c2-by-id", "/api/bookings/c2-by-id/history"] {
        let (status, _, body) = get(&app, path, Some(&c1)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(body["error"], "forbidden");
    }
    for path in [
        "/api/bookings/no-such-uid",
        "/api/bookings/no-such-uid/history",
    ] {
        let (status, _, body) = get(&app, path, Some(&c1)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["error"], "not_found");
    }
    let (status, _, body) = get(&app, "/api/bookings/nobodys", Some(ADMIN_TOKEN)).await;
    assert_eq!((status, &body["uid"]), (StatusCode::OK, &json!("nobodys")));

    // History: the client's own, without delivery ids; an admin's with them.
    let (status, _, h) = get(&app, "/api/bookings/c1-by-email/history", Some(&c1)).await;
    assert_eq!(status, StatusCode::OK, "{h}");
    assert_eq!(h["uid"], "c1-by-email");
    assert_eq!(h["history"][0]["action"], "created");
    assert!(h["history"][0].get("delivery_id").is_none());
    let (_, _, h) = get(&app, "/api/bookings/c1-by-email/history", Some(&admin)).await;
    assert!(h["history"][0]["delivery_id"].is_string());
}

async fn missing_expired_and_unsigned_tokens_are_refused_with_a_challenge(backend: Backend) {
    let app = spawn_hs256(backend).await;
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
    let app = spawn_hs256(backend).await;
    book(
        &app,
        "mine",
        hours_from_now(24),
        "ann@example.com",
        Some(CLIENT_1),
    )
    .await;
    book(
        &app,
        "theirs",
        hours_from_now(48),
        "bob@example.com",
        Some(CLIENT_2),
    )
    .await;

    let mut c = claims(CLIENT_1, "ann@example.com");
    c["user_metadata"] = json!({"role": "admin"});
    c["role"] = json!("admin");
    let token = hs256(&c);
    assert_eq!(uids(&app, "/api/bookings", &token).await, ["mine"]);
    let (status, _, _) = get(&app, "/api/bookings/theirs", Some(&token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
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
    book(
        &app,
        "mine",
        hours_from_now(24),
        "ann@example.com",
        Some(CLIENT_1),
    )
    .await;
    book(
        &app,
        "theirs",
        hours_from_now(48),
        "bob@example.com",
        Some(CLIENT_2),
    )
    .await;

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

async fn pages_neither_repeat_nor_skip_when_bookings_arrive_between_them(backend: Backend) {
    // (order, first page, bookings added before the cursor, after it, the pages that follow)
    type Case = (
        &'static str,
        [&'static str; 2],
        [i64; 2],
        i64,
        [&'static str; 4],
    );
    let cases: [Case; 2] = [
        (
            "asc",
            ["h10", "h20"],
            [5, 15],
            35,
            ["h30", "h35", "h40", "h50"],
        ),
        (
            "desc",
            ["h50", "h40"],
            [55, 45],
            25,
            ["h30", "h25", "h20", "h10"],
        ),
    ];
    for (order, first, before, after, rest) in cases {
        let app = spawn_hs256(backend).await;
        let token = hs256(&claims(CLIENT_1, "ann@example.com"));
        let mine = async |h: i64| {
            book(
                &app,
                &format!("h{h}"),
                hours_from_now(h),
                "ann@example.com",
                Some(CLIENT_1),
            )
            .await
        };
        for h in [10, 20, 30, 40, 50] {
            mine(h).await;
        }
        // Another client's booking never shows up, nor counts towards a page.
        book(
            &app,
            "other",
            hours_from_now(35),
            "bob@example.com",
            Some(CLIENT_2),
        )
        .await;

        let base = format!("/api/bookings?order={order}&limit=2");
        let (status, _, page1) = get(&app, &base, Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{page1}");
        assert_eq!(uid_list(&page1["bookings"]), first, "{order}");
        let mut cursor = page1["next_cursor"].as_str().unwrap().to_owned();

        // Meanwhile: bookings that sort before the cursor (one of them between the rows of
        // page 1), and one after it.
        for h in before {
            mine(h).await;
        }
        mine(after).await;

        let mut seen: Vec<String> = first.iter().map(|s| s.to_string()).collect();
        let mut pages = 0;
        loop {
            let (status, _, page) =
                get(&app, &format!("{base}&cursor={cursor}"), Some(&token)).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let got = uid_list(&page["bookings"]);
            assert!(got.len() <= 2);
            seen.extend(got);
            pages += 1;
            match page["next_cursor"].as_str() {
                Some(c) => cursor = c.to_owned(),
                None => break,
            }
            assert!(pages < 10, "paging ends");
        }
        let expected: Vec<&str> = first.iter().chain(rest.iter()).copied().collect();
        assert_eq!(
            seen, expected,
            "{order}: nothing after the cursor is skipped, nothing before it reappears"
        );
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len());
        assert_eq!(
            pages, 2,
            "{order}: the last page says so (no empty extra page)"
        );
    }
}

async fn filters_narrow_the_listing_and_bad_values_are_400(backend: Backend) {
    let app = spawn_hs256(backend).await;
    book(
        &app,
        "early",
        "2030-01-10T10:00:00Z".parse().unwrap(),
        "ann@example.com",
        None,
    )
    .await;
    book(
        &app,
        "mid",
        "2030-01-20T10:00:00Z".parse().unwrap(),
        "bob@example.com",
        None,
    )
    .await;
    book(
        &app,
        "late",
        "2030-01-30T10:00:00Z".parse().unwrap(),
        "ann@example.com",
        None,
    )
    .await;
    let cancel = String::from_utf8(sample("cancelled"))
        .unwrap()
        .replace("Fh8cW1nRzq5TgK2mXy7Ud4", "mid");
    let (status, _) = app.deliver(cancel.as_bytes()).await;
    assert_eq!(status, StatusCode::OK);

    for (query, expected) in [
        ("status=cancelled", vec!["mid"]),
        ("status=confirmed&order=asc", vec!["early", "late"]),
        ("from=2030-01-15T00:00:00Z", vec!["late", "mid"]),
        ("to=2030-01-20T10:00:00Z", vec!["early"]),
        (
            "from=2030-01-20T11:00:00%2B01:00&to=2030-01-30T00:00:00Z",
            vec!["mid"],
        ),
        (
            "attendee_email=ANN@example.com&order=asc",
            vec!["early", "late"],
        ),
    ] {
        assert_eq!(
            uids(&app, &format!("/api/bookings?{query}"), ADMIN_TOKEN).await,
            expected,
            "{query}"
        );
    }

    for (query, code, needle) in [
        ("status=done", "invalid_parameter", "done"),
        ("from=yesterday", "invalid_parameter", "yesterday"),
        ("to=2030-01-01", "invalid_parameter", "to="),
        ("limit=201", "invalid_parameter", "201"),
        ("limit=ten", "invalid_parameter", "ten"),
        ("order=sideways", "invalid_parameter", "sideways"),
        ("cursor=garbage", "invalid_cursor", "cursor"),
    ] {
        let (status, _, body) =
            get(&app, &format!("/api/bookings?{query}"), Some(ADMIN_TOKEN)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"], code, "{query}");
        assert!(
            body["message"].as_str().unwrap().contains(needle),
            "{query}: {body}"
        );
    }
}

async fn reschedule_chain_and_history_follow_the_callers_rights(backend: Backend) {
    const A: &str = "7kQm2xVbN4pLr9sTzY3wHc";
    const B: &str = "Fh8cW1nRzq5TgK2mXy7Ud4";
    let app = spawn_hs256(backend).await;
    // A was booked by client 1 through the embed; the reschedule to B carries no client id,
    // so B belongs to whoever has the attendee's verified email.
    let created_a = String::from_utf8(sample("created")).unwrap().replace(
        "\"lead_ref\":\"LR-20417\"",
        &format!("\"client_id\":\"{CLIENT_1}\""),
    );
    app.deliver(created_a.as_bytes()).await;
    app.deliver_sample("rescheduled").await;

    let chain = |body: &Value| uid_list(&body["reschedule_chain"]);

    let admin = hs256(&admin_claims());
    for uid in [A, B] {
        let (status, _, body) = get(&app, &format!("/api/bookings/{uid}"), Some(&admin)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(chain(&body), [A, B], "earliest first, from either end");
    }
    let (_, _, b) = get(&app, &format!("/api/bookings/{B}"), Some(&admin)).await;
    assert_eq!(b["rescheduled_from"], A);
    assert_eq!(b["reschedule_chain"][0]["status"], "rescheduled");
    assert_eq!(b["reschedule_chain"][1]["status"], "confirmed");

    // Client 1 owns A by id but not B (another email): its chain stops at what it may see.
    let c1 = hs256(&claims(CLIENT_1, "ann@example.com"));
    let (status, _, a) = get(&app, &format!("/api/bookings/{A}"), Some(&c1)).await;
    assert_eq!(status, StatusCode::OK, "{a}");
    assert_eq!(chain(&a), [A]);
    assert_eq!(a["rescheduled_to"], B, "the link itself is part of A");
    let (status, _, _) = get(&app, &format!("/api/bookings/{B}"), Some(&c1)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The attendee, signed in with the booking's email, owns B (no client id) but not A.
    let marco = hs256(&claims(CLIENT_2, "marco.rossi@example.com"));
    let (_, _, b) = get(&app, &format!("/api/bookings/{B}"), Some(&marco)).await;
    assert_eq!(chain(&b), [B]);

    // History, oldest first, as stored.
    let (status, _, h) = get(&app, &format!("/api/bookings/{A}/history"), Some(&c1)).await;
    assert_eq!(status, StatusCode::OK, "{h}");
    let actions: Vec<&str> = h["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, app.history_actions(A).await);
    assert_eq!(actions.first(), Some(&"created"));
    assert_eq!(h["history"].as_array().unwrap().len(), 2, "{h}");
    let last = &h["history"][1];
    assert_eq!(last["new_values"]["status"], "rescheduled");
    assert_eq!(last["new_values"]["rescheduled_to"], B);
}

/// The document at `/api/openapi.json` describes exactly the API routes the server answers, with
/// their parameters, and equals the reviewed copy in `docs/openapi.json`
/// (`UPDATE_OPENAPI=1 cargo test openapi` rewrites it after a deliberate change).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_matches_the_routes_and_the_committed_copy() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let res = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "served without sign-in");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc: Value = res.json().await.unwrap();

    // The operations the API serves, with their parameters: all in the document, nothing else.
    let expected: &[(&str, &str, &[&str])] = &[
        (
            "/api/bookings",
            "get",
            &[
                "status",
                "from",
                "to",
                "attendee_email",
                "order",
                "limit",
                "cursor",
            ],
        ),
        ("/api/bookings/{uid}", "get", &["uid"]),
        ("/api/bookings/{uid}/history", "get", &["uid"]),
    ];
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = Vec::new();
    for (p, item) in paths {
        for (m, op) in item.as_object().unwrap() {
            documented.push((p.clone(), m.clone()));
            // Every documented operation is served: without a token it is 401, not 404/405.
            let url = p.replace("{uid}", "some-uid");
            let req = app
                .client
                .request(m.to_uppercase().parse().unwrap(), app.url(&url));
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{m} {p} is served");
            assert_eq!(
                op["security"],
                json!([{"bearer": []}]),
                "{m} {p} declares the bearer scheme"
            );
        }
    }
    let mut want: Vec<(String, String)> = expected
        .iter()
        .map(|(p, m, _)| (p.to_string(), m.to_string()))
        .collect();
    want.sort();
    documented.sort();
    assert_eq!(documented, want);
    for (p, m, params) in expected {
        let names: Vec<&str> = doc["paths"][*p][*m]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{m} {p} has parameters"))
            .iter()
            .map(|x| x["name"].as_str().unwrap())
            .collect();
        assert_eq!(&names, params, "{m} {p}");
        for code in ["200", "401"] {
            assert!(
                doc["paths"][*p][*m]["responses"][code].is_object(),
                "{m} {p} documents {code}"
            );
        }
    }
    // Methods the API does not serve are not served.
    let res = app
        .client
        .post(app.url("/api/bookings"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    // Every schema reference resolves.
    fn refs<'v>(v: &'v Value, out: &mut Vec<&'v str>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r);
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty());
    for r in found {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected $ref {r}"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "$ref {r} resolves"
        );
    }

    let file = format!("{}/docs/openapi.json", env!("CARGO_MANIFEST_DIR"));
    let pretty = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::create_dir_all(format!("{}/docs", env!("CARGO_MANIFEST_DIR"))).unwrap();
        std::fs::write(&file, &pretty).unwrap();
    }
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}")),
    )
    .unwrap();
    assert!(
        committed == doc,
        "docs/openapi.json differs from the generated document; review the change and run \
         `UPDATE_OPENAPI=1 cargo test openapi` to update it"
    );
}
