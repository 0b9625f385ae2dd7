//! Bad input gets a clear error and loses nothing.

use reqwest::StatusCode;

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    bad_signature_headers_are_401_and_store_nothing,
    a_reserialized_body_with_the_original_signature_is_refused,
    either_secret_is_accepted_during_rotation_and_a_third_is_not,
    a_body_over_256_kib_is_413_before_any_signature_work,
    signed_but_malformed_bodies_are_400_and_kept_as_rejected,
    database_unavailable_is_503_and_the_redelivery_applies_once,
);

async fn bad_signature_headers_are_401_and_store_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = sample("created");
    let good = calbook::webhook::sign(SAMPLE_SECRET.as_bytes(), &body);
    let wrong = calbook::webhook::sign(b"some-other-secret", &body);
    let cases: Vec<Option<String>> = vec![
        None,
        Some(String::new()),
        Some("no-secret-provided".into()),
        Some(format!("sha256={good}")),
        Some(good[..40].to_owned()),
        Some("g".repeat(64)),
        Some(format!("{good}ab")),
        Some(wrong),
    ];
    for sig in cases {
        let (status, json) = app.post(&body, sig.as_deref(), &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{sig:?}");
        assert_eq!(json["error"], "invalid_signature");
        assert!(
            json["message"]
                .as_str()
                .unwrap()
                .contains("X-Cal-Signature-256")
                || json["message"]
                    .as_str()
                    .unwrap()
                    .contains("no-secret-provided")
        );
    }
    assert_eq!(
        app.counts().await,
        (0, 0, 0),
        "nothing stored for unsigned requests"
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("calbook_webhook_refused_total{reason=\"signature\"}"),
        "{metrics}"
    );
}

async fn a_reserialized_body_with_the_original_signature_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // The pretty file is the same JSON with whitespace: its bytes differ from the compact body.
    let compact_sig = sample_vector("compact/created.json");
    let (status, _) = app
        .post(&fixture("created.json"), Some(&compact_sig), &[])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Key order changed, same signature.
    let v: serde_json::Value = serde_json::from_slice(&sample("created")).unwrap();
    let mut reordered = serde_json::Map::new();
    for k in ["payload", "createdAt", "triggerEvent"] {
        reordered.insert(k.to_owned(), v[k].clone());
    }
    let (status, _) = app
        .post(
            serde_json::to_string(&reordered).unwrap().as_bytes(),
            Some(&compact_sig),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.counts().await, (0, 0, 0));
}

async fn either_secret_is_accepted_during_rotation_and_a_third_is_not(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.webhook_secret = Some(format!("new-secret-2026, {SAMPLE_SECRET}"));
    })
    .await;
    let created = sample("created");
    let rescheduled = sample("rescheduled");
    let (s1, _) = app
        .post(
            &created,
            Some(&calbook::webhook::sign(b"new-secret-2026", &created)),
            &[],
        )
        .await;
    let (s2, _) = app
        .post(
            &rescheduled,
            Some(&sample_vector("compact/rescheduled.json")),
            &[],
        )
        .await;
    let ping = sample("ping");
    let (s3, _) = app
        .post(
            &ping,
            Some(&calbook::webhook::sign(b"third-secret", &ping)),
            &[],
        )
        .await;
    assert_eq!(
        (s1, s2, s3),
        (StatusCode::OK, StatusCode::OK, StatusCode::UNAUTHORIZED)
    );
    assert_eq!(app.count("webhook_deliveries").await, 2);
}

async fn a_body_over_256_kib_is_413_before_any_signature_work(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Declared length over the limit: refused from the headers alone, before the body is sent
    // (a raw client, so the test can show that no byte of the body was needed).
    let mut conn = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = "POST /api/webhooks/calcom HTTP/1.1\r\nHost: calbook\r\nContent-Type: application/json\r\n\
                Content-Length: 1048576\r\nX-Cal-Signature-256: not-even-a-signature\r\n\r\n";
    tokio::io::AsyncWriteExt::write_all(&mut conn, head.as_bytes())
        .await
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::io::AsyncReadExt::read(&mut conn, &mut answer)
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]).to_string();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("\"error\":\"payload_too_large\""),
        "{answer}"
    );
    // Exactly at the limit is still read (and then refused for its signature).
    let (status, _) = app
        .post(&vec![b' '; 256 * 1024], Some(&"0".repeat(64)), &[])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // No declared length (chunked): refused once the limit is crossed. calbook answers 413 and
    // closes without reading the rest, so a client still sending may see the reset instead.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..64).map(|_| Ok(vec![b' '; 16 * 1024])).collect();
    let res = app
        .client
        .post(app.webhook_url())
        .header("x-cal-signature-256", "0".repeat(64))
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await;
    match res {
        Ok(res) => assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE),
        Err(e) => assert!(
            e.is_request() || e.is_body(),
            "unexpected client error: {e}"
        ),
    }
    assert_eq!(app.counts().await, (0, 0, 0));
}

async fn signed_but_malformed_bodies_are_400_and_kept_as_rejected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, json) = app.deliver(b"{\"triggerEvent\":\"BOOKING_CREATED\",").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["error"], "invalid_payload");
    assert!(
        json["message"].as_str().unwrap().contains("not valid JSON"),
        "{json}"
    );

    let (status, json) = app
        .deliver(br#"{"triggerEvent":"BOOKING_CREATED","payload":{"title":"x"}}"#)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        json["message"].as_str().unwrap().contains("payload.uid"),
        "{json}"
    );

    let form = b"triggerEvent=BOOKING_CREATED&uid=7kQm2xVbN4pLr9sTzY3wHc";
    let sig = calbook::webhook::sign(SAMPLE_SECRET.as_bytes(), form);
    let (status, json) = app
        .post(
            form,
            Some(&sig),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(json["error"], "unsupported_media_type");

    // A custom template whose rendering was not JSON: Cal.com sends the 5-byte body `false`.
    let (status, _) = app.deliver(b"false").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    assert_eq!(app.counts().await, (0, 0, 4));
    assert_eq!(app.deliveries_with("rejected").await, 4);
    let listed = app.store.deliveries(10).await.unwrap();
    assert!(
        listed.iter().all(|d| d.error.is_some()),
        "each rejection keeps its reason"
    );
}

/// Takes the database away from calbook, or gives it back.
async fn set_database_available(
    app: &TestApp,
    available: bool,
    lock: &mut Option<sqlx::SqliteConnection>,
) {
    use sqlx::Connection;
    match app.backend {
        Backend::Sqlite => {
            if available {
                if let Some(mut c) = lock.take() {
                    sqlx::query("ROLLBACK").execute(&mut c).await.unwrap();
                    c.close().await.unwrap();
                }
            } else {
                // Another process holds the write lock (a backup, a stuck writer).
                let mut c = sqlx::SqliteConnection::connect(&app.db.url).await.unwrap();
                sqlx::query("BEGIN EXCLUSIVE")
                    .execute(&mut c)
                    .await
                    .unwrap();
                *lock = Some(c);
            }
        }
        Backend::Postgres => {
            let name = app.db.pg_name.as_deref().unwrap();
            if available {
                crate::postgres_server::admin_execute(format!(
                    "ALTER DATABASE {name} ALLOW_CONNECTIONS true"
                ))
                .await;
            } else {
                crate::postgres_server::admin_execute(format!(
                    "ALTER DATABASE {name} ALLOW_CONNECTIONS false"
                ))
                .await;
                crate::postgres_server::admin_execute(format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
                ))
                .await;
            }
        }
    }
}

async fn database_unavailable_is_503_and_the_redelivery_applies_once(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.store.sqlite_busy_timeout = std::time::Duration::from_millis(300);
        s.store.acquire_timeout = std::time::Duration::from_millis(1500);
    })
    .await;
    app.deliver_sample("created").await;
    let mut lock = None;

    set_database_available(&app, false, &mut lock).await;
    let (status, json) = app.deliver_sample("rescheduled").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
    assert_eq!(json["error"], "database_unavailable");
    set_database_available(&app, true, &mut lock).await;

    assert_eq!(
        app.counts().await,
        (1, 1, 1),
        "nothing of the failed delivery was written"
    );
    assert!(app.maybe_booking(RESCHEDULED_UID).await.is_none());
    // Cal.com (or an operator) redelivers: applied exactly once.
    let (status, json) = app.deliver_sample("rescheduled").await;
    assert_eq!(
        (status, json["outcome"].as_str()),
        (StatusCode::OK, Some("applied")),
        "{json}"
    );
    let (_, json) = app.deliver_sample("rescheduled").await;
    assert_eq!(json["outcome"], "duplicate");
    assert_eq!(app.counts().await, (2, 3, 3));
}

/// RELIABILITY §7 items 7 and 8: a client trickling its headers, or sending nothing, is cut off
/// by the header timeout while other clients are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_or_silent_clients_are_disconnected_and_others_are_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.connection_limits.header_read_timeout = std::time::Duration::from_secs(1);
    })
    .await;
    let silent = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let mut slow = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let trickle = tokio::spawn(async move {
        for b in b"POST /api/webhooks/calcom HTTP/1.1\r\nHost: calbook\r\nX-Slow: "
            .iter()
            .cycle()
            .take(40)
        {
            if slow.write_all(&[*b]).await.is_err() {
                return slow;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        slow
    });

    // Meanwhile a normal client is served.
    let (status, _) = app.deliver_sample("ping").await;
    assert_eq!(status, StatusCode::OK);

    let closed = |mut s: tokio::net::TcpStream| async move {
        let mut buf = [0u8; 512];
        let read = tokio::time::timeout(std::time::Duration::from_secs(6), s.read(&mut buf)).await;
        matches!(read, Ok(Ok(0)) | Ok(Err(_)))
            || matches!(read, Ok(Ok(n)) if String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408"))
    };
    assert!(closed(silent).await, "a silent connection is closed");
    let slow = trickle.await.unwrap();
    assert!(closed(slow).await, "a trickling connection is closed");
}

/// Unknown paths and methods answer with the same JSON error body as every other refusal, and the
/// root leads to the booking page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_and_methods_are_json_errors() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let http = no_redirects();
    let r = http
        .get(app.url("/nope?email=a%40b.c"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    assert_eq!(body["message"], "there is no GET /nope");

    let r = http.get(app.webhook_url()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()["allow"], "POST");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "method_not_allowed");

    let r = http.get(app.url("/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/book");
}
