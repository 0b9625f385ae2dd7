//! The sync when Cal.com's API misbehaves or refuses, and several instances on one database.

use std::time::Duration;

use calbook::sync::{ClientError, Mode, PassError, RunOutcome};
use reqwest::StatusCode;

use super::{emails, settings, sync, syncer, syncer_with};
use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    a_refused_key_stops_the_sync_and_says_why,
    a_rate_limit_is_waited_out,
    server_errors_end_the_pass_and_keep_the_watermark,
);

async fn a_refused_key_stops_the_sync_and_says_why(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let api = CalcomApi::start().await;
    api.put(api_booking("b1", "accepted", 48, "kim@example.com"));
    let mut s = syncer_with(&app, &settings(&api, "cal_wrong_key"));
    let RunOutcome::Failed(report, e) = s.run(None, Mode::Apply).await else {
        panic!("a refused key fails the pass");
    };
    assert!(super::is_unauthorized(&e), "{e:?}");
    assert_eq!(report.fetched, 0);
    let seen = api.seen();
    assert_eq!(seen.len(), 1, "a refused key is not retried");
    assert_eq!(seen[0].path, "/v2/bookings");
    let state = app.store.sync_state().await.unwrap();
    assert_eq!(state.last_outcome.as_deref(), Some("unauthorized"));
    let error = state.last_error.unwrap();
    assert!(error.contains("CALCOM_API_KEY"), "{error}");
    assert!(!error.contains("cal_wrong_key"), "the key is never shown");
    assert!(state.imported_at.is_none() && state.watermark.is_none());
    // The receiver does not depend on Cal.com's API.
    let res = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

async fn a_rate_limit_is_waited_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let api = CalcomApi::start().await;
    api.put(api_booking("b1", "accepted", 48, "kim@example.com"));
    api.fail_next([Fault::RateLimited {
        retry_after_secs: 1,
    }]);
    let mut s = syncer(&app, &api);
    let report = sync(&mut s).await;
    assert_eq!(report.created, 1);
    let seen = api.seen();
    assert_eq!(seen.len(), 2, "one 429, then the page");
    let waited = seen[1].at.duration_since(seen[0].at);
    assert!(
        waited >= Duration::from_millis(950),
        "Retry-After: 1 honoured (waited {waited:?})"
    );
}

async fn server_errors_end_the_pass_and_keep_the_watermark(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let api = CalcomApi::start().await;
    api.put(api_booking("b1", "accepted", 48, "kim@example.com"));
    let mut s = syncer(&app, &api);
    sync(&mut s).await;
    let before = app.store.sync_state().await.unwrap();
    api.put(api_booking("b2", "accepted", 48, "lee@example.com"));
    // Three attempts, three 503s: the pass gives up and says so.
    api.fail_next([Fault::Status(503), Fault::Status(502), Fault::Status(500)]);
    let RunOutcome::Failed(_, e) = s.run(None, Mode::Apply).await else {
        panic!("the pass gives up");
    };
    assert!(
        matches!(&e, PassError::Api(ClientError::Unavailable(m)) if m.contains("gave up after 3 attempts")),
        "{e}"
    );
    let after = app.store.sync_state().await.unwrap();
    assert_eq!(after.watermark, before.watermark);
    assert_eq!(after.last_outcome.as_deref(), Some("failed"));
    assert_eq!(after.last_success_at, before.last_success_at);
    assert!(app.maybe_booking("b2").await.is_none());
    // The next pass recovers it, with its email.
    sync(&mut s).await;
    assert!(app.maybe_booking("b2").await.is_some());
    assert_eq!(
        emails(&app).await[&("b2".to_owned(), "confirmation".to_owned())],
        1
    );
}

/// Two instances on one PostgreSQL database: while one syncs, the other's pass does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_database_sync_one_at_a_time() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let other = app.spawn_sibling().await;
    let api = CalcomApi::start().await;
    for i in 0..20 {
        api.put(api_booking(
            &format!("b{i}"),
            "accepted",
            48,
            &format!("g{i}@example.com"),
        ));
    }
    api.slow_pages(Duration::from_millis(500));
    let mut a = syncer(&app, &api);
    let mut b = syncer(&other, &api);
    let (ra, rb) = tokio::join!(a.run(None, Mode::Apply), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        b.run(None, Mode::Apply).await
    });
    assert!(
        matches!(ra, RunOutcome::Done(ref r) if r.created == 20),
        "{ra:?}"
    );
    assert!(matches!(rb, RunOutcome::Busy), "{rb:?}");
    assert_eq!(
        api.seen().len(),
        1,
        "only the lease holder read Cal.com's API"
    );
    // The lease is released at the end of the pass: the other instance runs the next one.
    assert!(matches!(b.run(None, Mode::Apply).await, RunOutcome::Done(r) if r.changed() == 0));
}

/// `serve` with a key syncs at start and again on its interval, on its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_syncs_on_start_and_on_its_interval() {
    let api = CalcomApi::start().await;
    api.put(api_booking("first", "accepted", 48, "kim@example.com"));
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.calcom = settings(&api, CALCOM_API_KEY);
        s.calcom.interval = Some(Duration::from_millis(300));
    })
    .await;
    let appeared = |uid: &'static str| {
        let app = &app;
        async move {
            for _ in 0..100 {
                if app.maybe_booking(uid).await.is_some() {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            false
        }
    };
    assert!(appeared("first").await, "imported at start");
    api.put(api_booking("second", "accepted", 48, "lee@example.com"));
    assert!(appeared("second").await, "read by a later pass");
    assert_eq!(
        emails(&app).await[&("second".to_owned(), "confirmation".to_owned())],
        1
    );
}

/// `serve` whose key Cal.com refuses stops syncing and tells the owner (`CALBOOK_ALERT_EMAIL`),
/// once, with what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_a_refused_key_alerts_the_owner_once() {
    let inbox = AlertInbox::start().await;
    let api = CalcomApi::start().await;
    let calcom = settings(&api, "cal_wrong_key");
    let app = TestApp::spawn_with_resend_and(Backend::Sqlite, &inbox.resend, move |s| {
        s.alert_email = Some(AlertInbox::OWNER.to_owned());
        s.calcom = calcom;
        s.calcom.interval = Some(Duration::from_millis(200));
    })
    .await;
    // Several intervals pass: the sync stopped at the refusal, so no second pass and no second
    // alert.
    let alerts = inbox.alerts_after_first(Duration::from_millis(700)).await;
    assert_eq!(alerts.len(), 1, "one alert for a refused key");
    let body = &alerts[0];
    assert!(body.contains("CALCOM_API_KEY"), "says what to do: {body}");
    assert!(!body.contains("cal_wrong_key"), "never the key itself");
    assert_eq!(api.seen().len(), 1, "the refused key is not tried again");
    drop(app);
}
