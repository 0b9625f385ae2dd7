//! `/readyz` tells the truth: it fails when the database cannot take a write (a read-only file, a
//! full one) and is ready again once it can; deliveries meanwhile get 503, never 500.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

async fn readyz(app: &TestApp) -> (StatusCode, Value) {
    let res = app
        .client
        .get(app.url("/readyz"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap())
}

/// Polls `/readyz` until it answers `want` (the write probe's answer is reused for 2 s).
async fn wait_for_readyz(app: &TestApp, want: StatusCode) -> Value {
    let mut last = None;
    for _ in 0..60 {
        let (status, body) = readyz(app).await;
        if status == want {
            return body;
        }
        last = Some((status, body));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/readyz never answered {want}: last {last:?}");
}

/// SQLite opens a file it may not write read-only (a data dir owned by someone else; `mode=ro`
/// here, since the tests may run as root, whom permissions do not stop). Before, the log said
/// "database ready", `/readyz` said ready, and every webhook got 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_refuses_writes_is_not_ready_and_deliveries_get_503() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ro.db");
    let url = format!("sqlite://{}", path.display());
    let store = calbook::store::Store::open(&url, &Default::default())
        .await
        .unwrap();
    store.close().await;

    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.database_url = Some(format!("{url}?mode=ro"));
    })
    .await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("refuses writes"),
        "the admin is told why: {body}"
    );
    let (status, body) = app.deliver_sample("created").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
}

/// A full file is not ready; once space is back it is ready again by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_database_is_not_ready_until_space_is_back() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.store.sqlite_max_page_count = Some(400);
    })
    .await;
    wait_for_readyz(&app, StatusCode::OK).await;
    let pool = match &app.store {
        calbook::store::Store::Sqlite(s) => s.pool.clone(),
        calbook::store::Store::Postgres(_) => unreachable!(),
    };
    super::disk_full::fill(&pool).await;
    let body = wait_for_readyz(&app, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(
        body["message"].as_str().unwrap().contains("full"),
        "the admin is told why: {body}"
    );
    sqlx::query("DROP TABLE filler")
        .execute(&pool)
        .await
        .unwrap();
    wait_for_readyz(&app, StatusCode::OK).await;
}

/// The mail transport's state is reported to an admin, and an unreachable one does not make
/// calbook unready (emails wait in the outbox).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_reports_the_mail_transport_without_failing_on_it() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let resend = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/domains"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"data": []})))
        .mount(&resend)
        .await;
    let app = TestApp::spawn_with_resend(Backend::Sqlite, &resend, false).await;
    let mut body = Value::Null;
    for _ in 0..50 {
        body = wait_for_readyz(&app, StatusCode::OK).await;
        if body["mail"]["reachable"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(body["mail"]["transport"], "resend", "{body}");
    assert_eq!(body["mail"]["reachable"], true, "{body}");

    // A transport nobody answers: still ready, and the admin is told.
    let gone = MockServer::start().await;
    let uri = gone.uri();
    drop(gone);
    let app = TestApp::spawn_with_resend_and(Backend::Sqlite, &resend, move |s| {
        s.email.resend_base_url = Some(uri);
    })
    .await;
    for _ in 0..100 {
        body = wait_for_readyz(&app, StatusCode::OK).await;
        if body["mail"]["reachable"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(body["mail"]["reachable"], false, "{body}");
    assert!(body["mail"]["error"].is_string(), "{body}");
}
