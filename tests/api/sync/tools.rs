//! `calbook deliveries show|replay` and `calbook webhook register|status` as the real binary.

use std::process::{Command, Output};

use calbook::store::Outcome;
use reqwest::StatusCode;
use serde_json::Value;

use super::emails;
use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(a_rejected_delivery_is_replayed_after_the_rules_changed);

fn calbook(app: &TestApp, api: Option<&CalcomApi>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_calbook"));
    c.args(args)
        .env("CALCOM_WEBHOOK_SECRET", SAMPLE_SECRET)
        .env("CALBOOK_DATA_DIR", &app.settings.data_dir)
        .env("DATABASE_URL", &app.db.url)
        .env("CALBOOK_OWNERSHIP_KEY", OWNERSHIP_KEY)
        .env("RUST_LOG", "warn");
    if let Some(api) = api {
        c.env("CALCOM_API_KEY", CALCOM_API_KEY)
            .env("CALCOM_API_URL", api.url());
    }
    c.output().expect("run the calbook binary")
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "calbook failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn a_rejected_delivery_is_replayed_after_the_rules_changed(backend: Backend) {
    // The server refuses bookings with more than one attendee; the replay runs under the
    // default rules (100), as after an upgrade that fixed what rejected it.
    let app = TestApp::spawn_with(backend, |s| s.ingest.admission.max_attendees = 1).await;
    let mut body: Value = serde_json::from_slice(&sample("created")).unwrap();
    let mut second = body["payload"]["attendees"][0].clone();
    second["email"] = "second.guest@example.com".into();
    body["payload"]["attendees"]
        .as_array_mut()
        .unwrap()
        .push(second);
    let (status, _) = app.deliver(&serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let rejected = app
        .store
        .deliveries_with_outcome(Some(Outcome::Rejected), 10)
        .await
        .unwrap();
    assert_eq!(rejected.len(), 1);
    let id = rejected[0].id.to_string();

    let shown = json_of(&calbook(&app, None, &["deliveries", "show", &id, "--json"]));
    assert_eq!(shown["outcome"], "rejected");
    assert!(
        shown["error"].as_str().unwrap().contains("attendees"),
        "{shown}"
    );
    assert_eq!(shown["content_type"], "application/json");
    assert_eq!(shown["body"]["payload"]["uid"], CREATED_UID);
    let text = calbook(&app, None, &["deliveries", "show", &id]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("second.guest@example.com"));

    let replayed = json_of(&calbook(
        &app,
        None,
        &["deliveries", "replay", "--outcome", "rejected", "--json"],
    ));
    assert_eq!(replayed[0]["replayed"], id.as_str());
    assert_eq!(replayed[0]["outcome"], "applied", "{replayed}");
    assert_eq!(app.booking(CREATED_UID).await.attendees.len(), 2);
    let planned = emails(&app).await;
    assert_eq!(
        planned[&(CREATED_UID.to_owned(), "confirmation".to_owned())],
        2,
        "one confirmation per attendee"
    );

    // Again: the body was applied, so the replay is a duplicate and changes nothing.
    let counts = app.counts().await;
    let again = json_of(&calbook(
        &app,
        None,
        &["deliveries", "replay", &id, "--json"],
    ));
    assert_eq!(again[0]["outcome"], "duplicate");
    assert_eq!(app.counts().await.1, counts.1, "no new history");
    assert_eq!(emails(&app).await, planned);
    let missing = calbook(
        &app,
        None,
        &["deliveries", "show", &uuid::Uuid::nil().to_string()],
    );
    assert_eq!(missing.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_is_registered_and_checked_through_the_api() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let api = CalcomApi::start().await;
    let url = "https://bookings.example.com/api/webhooks/calcom";
    let out = calbook(&app, Some(&api), &["webhook", "status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("calbook webhook register"));

    let out = calbook(&app, Some(&api), &["webhook", "register", "--url", url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("created"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(SAMPLE_SECRET));
    let hooks = api.webhooks();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["subscriberUrl"], url);
    assert_eq!(hooks[0]["active"], true);
    assert_eq!(hooks[0]["secret"], SAMPLE_SECRET, "calbook's own secret");
    assert_eq!(hooks[0]["version"], "2021-10-20");
    assert_eq!(hooks[0]["triggers"].as_array().unwrap().len(), 7);

    let status = json_of(&calbook(&app, Some(&api), &["webhook", "status", "--json"]));
    assert_eq!(status["problems"], serde_json::json!([]));
    assert_eq!(status["secret_set"], true);

    // Someone switches it off and drops a trigger in Cal.com's settings: status says so, and
    // registering again repairs the same subscription.
    api.edit_webhooks(|w| {
        w[0]["active"] = false.into();
        w[0]["triggers"] = serde_json::json!(["BOOKING_CREATED"]);
    });
    let out = calbook(&app, Some(&api), &["webhook", "status", "--url", url]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.contains("not active") && said.contains("BOOKING_CANCELLED"),
        "{said}"
    );
    let out = calbook(&app, Some(&api), &["webhook", "register", "--url", url]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("updated"));
    assert_eq!(api.webhooks().len(), 1);
    let out = calbook(&app, Some(&api), &["webhook", "status", "--url", url]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
