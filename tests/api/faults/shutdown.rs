//! Shutdown ends quickly whatever clients do, and loses nothing acknowledged: before, one silent
//! or slow client delayed it by 10–30 s. Emails a stopping worker had claimed but not sent are
//! released at once for another instance. A 413 for an oversized declared length says
//! `Connection: close` (before, the socket closed without it and the next keep-alive request
//! failed).

use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;
use crate::on_both_backends;

/// The database of a stopped app (its own pool is closed).
async fn reopen(app: &TestApp) -> calbook::store::Store {
    calbook::store::Store::open(&app.db.url, &Default::default())
        .await
        .unwrap()
}

/// Generous against a loaded machine; the requirement is one second, measured in bench/.
const STOP_LIMIT: Duration = Duration::from_secs(3);

async fn a_silent_client_does_not_hold_up_shutdown(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    // One client connects and says nothing; another sends half a request's headers.
    let _silent = TcpStream::connect(app.addr).await.unwrap();
    let mut half = TcpStream::connect(app.addr).await.unwrap();
    half.write_all(b"POST /api/webhooks/calcom HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // A third is acknowledged just before the signal: its delivery must be kept.
    let (status, _) = app.deliver_sample("created").await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(50)).await;

    app.stop(STOP_LIMIT).await.expect("calbook stops");
    let store = reopen(&app).await;
    assert!(
        store.booking(CREATED_UID).await.unwrap().is_some(),
        "the acknowledged delivery is kept"
    );
}

async fn a_stopping_worker_releases_the_emails_it_had_not_sent(backend: Backend) {
    let resend = MockServer::start().await;
    // The provider never answers in time: the worker is mid-send when shutdown comes.
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .mount(&resend)
        .await;
    Mock::given(method("POST"))
        .and(path("/emails/batch"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .mount(&resend)
        .await;
    let mut app = TestApp::spawn_with_resend(backend, &resend, true).await;
    let (status, _) = app.deliver_sample("created").await;
    assert_eq!(status, StatusCode::OK);
    let mut claimed = false;
    for _ in 0..100 {
        let sending = app
            .store
            .outbox(Some(calbook::outbox::JobState::Sending), 10)
            .await
            .unwrap();
        if !sending.is_empty() {
            claimed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(claimed, "the worker claimed the confirmation");

    app.stop(STOP_LIMIT).await.expect("calbook stops");
    let store = reopen(&app).await;
    let jobs = store.outbox(None, 10).await.unwrap();
    assert!(!jobs.is_empty());
    for j in &jobs {
        assert_ne!(j.state, calbook::outbox::JobState::Sending, "{j:?}");
        assert_eq!(j.lease_token, None, "the lease was released: {j:?}");
    }
    // Another instance takes them at once, not when the lease would have run out.
    let now = calbook::time::now();
    let taken = store
        .claim_outbox(uuid::Uuid::now_v7(), now, now, 100)
        .await
        .unwrap();
    assert!(!taken.is_empty(), "released emails are claimable now");
}

#[tokio::test]
async fn a_413_for_a_declared_length_closes_the_connection() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    s.write_all(
        b"POST /api/webhooks/calcom HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 10000000\r\n\r\n{\"a\":",
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection after the 413")
        .unwrap();
    let text = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 413"), "{text}");
    assert!(text.contains("\r\nconnection: close\r\n"), "{text}");
}

on_both_backends!(
    a_silent_client_does_not_hold_up_shutdown,
    a_stopping_worker_releases_the_emails_it_had_not_sent
);
