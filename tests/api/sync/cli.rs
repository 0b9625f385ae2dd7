//! `calbook sync` as the real binary: `--check` for monitoring, `--json`, a refused key.

use std::process::{Command, Output};

use calbook::booking::Status;
use serde_json::Value;

use super::{created_sample_in_api, sync, syncer};
use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    check_reports_drift_with_exit_code_1,
    a_refused_key_is_a_clear_error
);

fn calbook(app: &TestApp, api: &CalcomApi, key: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_calbook"))
        .args(args)
        .env_remove("CALCOM_WEBHOOK_SECRET")
        .env("CALBOOK_DATA_DIR", &app.settings.data_dir)
        .env("DATABASE_URL", &app.db.url)
        .env("CALBOOK_OWNERSHIP_KEY", OWNERSHIP_KEY)
        .env("CALCOM_API_KEY", key)
        .env("CALCOM_API_URL", api.url())
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the calbook binary")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn check_reports_drift_with_exit_code_1(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let api = CalcomApi::start().await;
    api.put(api_booking("same", "accepted", 48, "a@example.com"));
    api.put(api_booking("gone", "accepted", 48, "b@example.com"));
    sync(&mut syncer(&app, &api)).await;

    let out = calbook(&app, &api, CALCOM_API_KEY, &["sync", "--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("no drift"),
        "{}",
        text(&out.stdout)
    );

    api.edit("gone", |b| b["status"] = "cancelled".into());
    api.put(api_booking("unknown", "accepted", 48, "c@example.com"));
    let out = calbook(&app, &api, CALCOM_API_KEY, &["sync", "--check", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "drift exits 1: {}",
        text(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let drift = report["drift"].as_array().unwrap();
    assert_eq!(drift.len(), 2, "{drift:?}");
    assert!(
        drift
            .iter()
            .any(|d| d["uid"] == "gone" && d["calbook"] == "confirmed")
    );
    assert!(
        drift
            .iter()
            .any(|d| d["uid"] == "unknown" && d["calbook"].is_null())
    );
    // --check changes nothing.
    assert_eq!(app.booking("gone").await.status, Status::Confirmed);
    assert!(app.maybe_booking("unknown").await.is_none());

    let out = calbook(&app, &api, CALCOM_API_KEY, &["sync", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["created"], 1);
    assert_eq!(report["updated"], 1);
    assert_eq!(app.booking("gone").await.status, Status::Cancelled);
    let out = calbook(&app, &api, CALCOM_API_KEY, &["sync", "--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // A webhook moves calbook away from what Cal.com says: --check reports it, though a sync
    // would keep calbook's state (a host's request to reschedule is not undone by the API).
    api.put(created_sample_in_api("accepted"));
    sync(&mut syncer(&app, &api)).await;
    let (status, _) = app.deliver_sample("cancelled_request_reschedule").await;
    assert_eq!(status, 200);
    let out = calbook(&app, &api, CALCOM_API_KEY, &["sync", "--check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let said = text(&out.stdout);
    assert!(
        said.contains(CREATED_UID) && said.contains("reschedule_requested"),
        "{said}"
    );
    let read = api.seen().last().unwrap().query.clone();
    assert!(
        !read.contains("afterUpdatedAt"),
        "--check reads every booking, not only those after the watermark: {read}"
    );
}

async fn a_refused_key_is_a_clear_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let api = CalcomApi::start().await;
    let out = calbook(&app, &api, "cal_wrong_key_42", &["sync", "--check"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("refused the API key"), "{stderr}");
    assert!(stderr.contains("CALCOM_API_KEY"), "{stderr}");
    assert!(
        !stderr.contains("cal_wrong_key_42") && !text(&out.stdout).contains("cal_wrong_key_42")
    );

    let out = calbook(&app, &api, "cal_wrong_key_42", &["sync"]);
    assert_eq!(out.status.code(), Some(2));
    let state = app.store.sync_state().await.unwrap();
    assert_eq!(state.last_outcome.as_deref(), Some("unauthorized"));
    // `--check` shows the last pass's error too.
    let out = calbook(&app, &api, CALCOM_API_KEY, &["sync", "--check"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("last sync: unauthorized"),
        "{}",
        text(&out.stdout)
    );
}

on_both_backends!(a_sync_logs_uids_and_counts_but_no_key_or_personal_data);

/// The whole of `calbook sync`'s output at debug level, through retries and a skipped booking:
/// never the API key, never an attendee's or host's email or name.
async fn a_sync_logs_uids_and_counts_but_no_key_or_personal_data(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let api = CalcomApi::start().await;
    api.put(api_booking(
        "log-ok",
        "accepted",
        48,
        "private.person@example.com",
    ));
    let mut bad = api_booking("log-bad", "accepted", 48, "other.person@example.com");
    bad["start"] = "not a time".into();
    api.put(bad);
    api.fail_next([
        Fault::RateLimited {
            retry_after_secs: 0,
        },
        Fault::Status(503),
    ]);
    let out = Command::new(env!("CARGO_BIN_EXE_calbook"))
        .args(["sync"])
        .env_remove("CALCOM_WEBHOOK_SECRET")
        .env("CALBOOK_DATA_DIR", &app.settings.data_dir)
        .env("DATABASE_URL", &app.db.url)
        .env("CALBOOK_OWNERSHIP_KEY", OWNERSHIP_KEY)
        .env("CALCOM_API_KEY", CALCOM_API_KEY)
        .env("CALCOM_API_URL", api.url())
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        all.contains("log-bad"),
        "the skipped booking is named by uid: {all}"
    );
    assert!(all.contains("retrying"), "the retries are logged");
    for secret in [
        CALCOM_API_KEY,
        "private.person@example.com",
        "other.person@example.com",
        "host@example.com",
        "Guest",
    ] {
        assert!(!all.contains(secret), "{secret} in the output:\n{all}");
    }
    assert_eq!(app.booking("log-ok").await.status, Status::Confirmed);
}
