//! Reconciliation with Cal.com's API v2 against a stateful stand-in (a real HTTP server): the
//! import, recovery of what calbook missed, webhook/sync races, idempotence, the lease, refused
//! keys, rate limits and outages, and `calbook sync --check`.

use std::collections::BTreeMap;
use std::time::Duration;

use calbook::booking::{Source, Status};
use calbook::sync::{
    ClientError, Mode, PassError, RetryPolicy, RunOutcome, SyncOptions, SyncSettings, Syncer,
};
use calbook::webhook::Admission;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::on_both_backends;

mod cli;
mod dashboard;
mod domain;
mod faults;
mod tools;

on_both_backends!(
    first_sync_imports_every_page_with_future_reminders_only,
    changes_missed_while_stopped_are_recovered_with_one_email_each,
    webhook_then_sync_is_one_change_and_one_email,
    sync_then_webhook_is_one_change_and_one_email,
    a_booking_moved_while_a_pass_reads_is_not_lost,
);

/// The sync settings pointing at `api`, with short waits.
pub fn settings(api: &CalcomApi, key: &str) -> SyncSettings {
    SyncSettings {
        api_key: Some(key.to_owned()),
        api_url: api.url(),
        interval: None,
        options: SyncOptions {
            take: 250,
            retry: RetryPolicy {
                attempts: 3,
                backoff: Duration::from_millis(50),
                max_wait: Duration::from_secs(5),
                timeout: Duration::from_secs(5),
            },
            lease: Duration::from_secs(60),
        },
    }
}

/// A syncer for `app` reading `api`, with the app's email policy.
pub fn syncer_with(app: &TestApp, s: &SyncSettings) -> Syncer {
    Syncer::new(
        app.store.clone(),
        s,
        Some(std::sync::Arc::new(app.settings.email.policy.clone())),
        Admission::default(),
        None,
    )
    .unwrap()
}

pub fn syncer(app: &TestApp, api: &CalcomApi) -> Syncer {
    syncer_with(app, &settings(api, CALCOM_API_KEY))
}

/// Runs one pass and expects it to finish.
pub async fn sync(s: &mut Syncer) -> calbook::sync::Report {
    match s.run(None, Mode::Apply).await {
        RunOutcome::Done(r) => r,
        other => panic!("the pass did not finish: {other:?}"),
    }
}

/// `(booking uid, email kind)` → how many emails the outbox holds (every state).
pub async fn emails(app: &TestApp) -> BTreeMap<(String, String), usize> {
    let mut m = BTreeMap::new();
    for j in app.store.outbox(None, 100_000).await.unwrap() {
        *m.entry((j.booking_uid, j.kind.as_str().to_owned()))
            .or_default() += 1;
    }
    m
}

async fn first_sync_imports_every_page_with_future_reminders_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let api = CalcomApi::start().await;
    // 320 future and 200 past confirmed bookings, 40 cancelled, 40 awaiting confirmation: three
    // pages of 250.
    for i in 0..600 {
        let (status, hours) = match i {
            0..320 => ("accepted", 48 + i as i64),
            320..520 => ("accepted", -48 - i as i64),
            520..560 => ("cancelled", 72),
            _ => ("pending", 72),
        };
        api.put(api_booking(
            &format!("imp-{i:03}"),
            status,
            hours,
            &format!("guest{i}@example.com"),
        ));
    }
    let mut s = syncer(&app, &api);
    let report = sync(&mut s).await;
    assert!(report.import, "a store that never synced imports");
    assert_eq!(report.fetched, 600);
    assert_eq!(report.pages, 3, "three pages of 250");
    assert_eq!(report.created, 600);
    assert_eq!(app.count("bookings").await, 600);
    assert_eq!(app.booking("imp-000").await.status, Status::Confirmed);
    assert_eq!(app.booking("imp-530").await.status, Status::Cancelled);
    assert_eq!(app.booking("imp-590").await.status, Status::Pending);

    // Only reminders, and only for future confirmed bookings: two each (24 h and 1 h before).
    let planned = emails(&app).await;
    assert!(
        planned.keys().all(|(_, kind)| kind == "reminder"),
        "{planned:?}"
    );
    assert_eq!(planned.len(), 320);
    assert!(planned.values().all(|n| *n == 2));
    assert!(!planned.contains_key(&("imp-400".to_owned(), "reminder".to_owned())));

    let history = app.history("imp-000").await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].source, Source::Sync);
    let state = app.store.sync_state().await.unwrap();
    assert!(state.imported_at.is_some());
    assert_eq!(state.last_outcome.as_deref(), Some("ok"));
    assert_eq!(state.last_fetched, 600);
    let newest: jiff::Timestamp = api.get("imp-599").unwrap()["updatedAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(state.watermark, Some(newest));

    // The same sync again changes nothing.
    let (bookings, history, _) = app.counts().await;
    let again = sync(&mut s).await;
    assert!(!again.import);
    assert_eq!(again.changed(), 0);
    assert_eq!(again.emails_planned, 0);
    assert_eq!(app.counts().await.0, bookings);
    assert_eq!(app.counts().await.1, history);
    assert_eq!(emails(&app).await, planned);
    assert!(
        api.seen().iter().all(|r| r.version_header),
        "every request names cal-api-version"
    );
    // The second pass read from the watermark minus the overlap.
    let last = api.seen().last().unwrap().query.clone();
    assert!(last.contains("afterUpdatedAt="), "{last}");
}

async fn changes_missed_while_stopped_are_recovered_with_one_email_each(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let api = CalcomApi::start().await;
    api.put(api_booking("keep", "accepted", 72, "keep@example.com"));
    api.put(api_booking("move", "accepted", 72, "move@example.com"));
    api.put(api_booking("drop", "accepted", 72, "drop@example.com"));
    api.put(api_booking("ask", "pending", 72, "ask@example.com"));
    api.put(api_booking("deny", "pending", 72, "deny@example.com"));
    let mut s = syncer(&app, &api);
    sync(&mut s).await;
    let imported = emails(&app).await;

    // calbook is "stopped": Cal.com changes and no webhook arrives.
    api.put(api_booking("new", "accepted", 96, "new@example.com"));
    api.reschedule("move", "moved", 120);
    api.edit("drop", |b| {
        b["status"] = "cancelled".into();
        b["cancellationReason"] = "ill".into();
    });
    api.edit("ask", |b| b["status"] = "accepted".into());
    api.edit("deny", |b| b["status"] = "rejected".into());
    // Booked and moved while calbook was stopped: calbook never saw the first booking.
    api.put(api_booking("fresh", "accepted", 100, "fresh@example.com"));
    api.reschedule("fresh", "fresh2", 130);

    let report = sync(&mut s).await;
    assert!(!report.import);
    assert_eq!(app.booking("new").await.status, Status::Confirmed);
    assert_eq!(app.booking("move").await.status, Status::Rescheduled);
    assert_eq!(
        app.booking("move").await.rescheduled_to.as_deref(),
        Some("moved")
    );
    assert_eq!(
        app.booking("moved").await.rescheduled_from.as_deref(),
        Some("move")
    );
    assert_eq!(app.booking("drop").await.status, Status::Cancelled);
    assert_eq!(
        app.booking("drop").await.cancellation_reason.as_deref(),
        Some("ill")
    );
    assert_eq!(app.booking("ask").await.status, Status::Confirmed);
    assert_eq!(app.booking("deny").await.status, Status::Rejected);
    let fresh = app.booking("fresh").await;
    assert_eq!(fresh.status, Status::Rescheduled);
    let fresh_start: jiff::Timestamp = api.get("fresh").unwrap()["start"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        fresh.starts_at, fresh_start,
        "the old booking keeps its own time"
    );

    let planned = emails(&app).await;
    let new: BTreeMap<_, _> = planned
        .iter()
        .filter(|(k, n)| imported.get(*k) != Some(*n))
        .map(|((uid, kind), n)| ((uid.as_str(), kind.as_str()), *n))
        .collect();
    let expected: BTreeMap<(&str, &str), usize> = [
        (("new", "confirmation"), 1),
        (("new", "reminder"), 2),
        (("moved", "rescheduled"), 1),
        (("moved", "reminder"), 2),
        (("drop", "cancelled"), 1),
        (("ask", "confirmation"), 1),
        (("ask", "reminder"), 2),
        (("deny", "declined"), 1),
        (("fresh2", "rescheduled"), 1),
        (("fresh2", "reminder"), 2),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        new, expected,
        "exactly the emails the webhooks would have planned"
    );
    assert!(
        !planned.contains_key(&("move".to_owned(), "cancelled".to_owned())),
        "a reschedule is not a cancellation"
    );
    let history = app.history("drop").await;
    assert_eq!(
        history
            .iter()
            .map(|h| (h.action.as_str(), h.source))
            .collect::<Vec<_>>(),
        [("created", Source::Sync), ("cancelled", Source::Sync)]
    );

    // Nothing changes the second time.
    let counts = app.counts().await;
    let again = sync(&mut s).await;
    assert_eq!(again.changed(), 0, "{again:?}");
    assert_eq!(app.counts().await, counts);
    assert_eq!(emails(&app).await, planned);
}

/// The created sample as Cal.com's API shows it: same uid, times and attendee.
pub fn created_sample_in_api(status: &str) -> Value {
    api_copy_of(&sample("created"), status)
}

/// What Cal.com's API v2 answers for the booking a `BOOKING_CREATED` body describes, so neither
/// source knows more than the other.
pub fn api_copy_of(body: &[u8], status: &str) -> Value {
    let body: Value = serde_json::from_slice(body).unwrap();
    let p = &body["payload"];
    let mut b = api_booking(
        p["uid"].as_str().unwrap(),
        status,
        0,
        p["attendees"][0]["email"].as_str().unwrap(),
    );
    b["start"] = p["startTime"].clone();
    b["end"] = p["endTime"].clone();
    b["title"] = p["title"].clone();
    b["attendees"][0]["name"] = p["attendees"][0]["name"].clone();
    b["description"] = p["description"].clone();
    b["metadata"] = p["metadata"].clone();
    b["bookingFieldsResponses"] = json!({"notes": p["additionalNotes"].clone()});
    b["icsUid"] = p["iCalUID"].clone();
    b["id"] = p["bookingId"].clone();
    b["location"] = p["location"].clone();
    b["meetingUrl"] = p["videoCallData"]["url"].clone();
    b
}

async fn webhook_then_sync_is_one_change_and_one_email(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let api = CalcomApi::start().await;
    let mut s = syncer(&app, &api);
    sync(&mut s).await; // the (empty) import: later passes plan every email
    let (status, _) = app.deliver_sample("created").await;
    assert_eq!(status, 200);
    api.put(created_sample_in_api("accepted"));
    let report = sync(&mut s).await;
    assert_eq!(report.changed(), 0);
    assert_eq!(report.unchanged, 1);
    let history = app.history(CREATED_UID).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].source, Source::Webhook);
    let planned = emails(&app).await;
    assert_eq!(
        planned[&(CREATED_UID.to_owned(), "confirmation".to_owned())],
        1
    );
}

async fn sync_then_webhook_is_one_change_and_one_email(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let api = CalcomApi::start().await;
    let mut s = syncer(&app, &api);
    sync(&mut s).await;
    api.put(created_sample_in_api("accepted"));
    let report = sync(&mut s).await;
    assert_eq!(report.created, 1);
    let (status, json) = app.deliver_sample("created").await;
    assert_eq!(status, 200);
    assert_eq!(
        json["outcome"], "ignored",
        "the webhook finds the booking already there"
    );
    let history = app.history(CREATED_UID).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].source, Source::Sync);
    let planned = emails(&app).await;
    assert_eq!(
        planned[&(CREATED_UID.to_owned(), "confirmation".to_owned())],
        1
    );
    assert_eq!(app.booking(CREATED_UID).await.status, Status::Confirmed);
}

async fn a_booking_moved_while_a_pass_reads_is_not_lost(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let api = CalcomApi::start().await;
    for i in 0..30 {
        api.put(api_booking(
            &format!("p-{i:02}"),
            "accepted",
            48,
            &format!("g{i}@example.com"),
        ));
    }
    let mut s = syncer_with(&app, &{
        let mut st = settings(&api, CALCOM_API_KEY);
        st.options.take = 10;
        st
    });
    // After the first page is read, two bookings on it are updated: they move to the end and
    // every later booking shifts two places left. The next page starts one row early (on p-09,
    // where the pass stopped), so one booking (p-10) is skipped by this pass, and the pass sees
    // that the set shifted.
    let mut done = false;
    api.after_each_page(move |list, skip, stamp| {
        if skip == 0 && !done {
            done = true;
            for uid in ["p-03", "p-04"] {
                let b = list.iter_mut().find(|b| b["uid"] == uid).unwrap();
                b["title"] = "edited".into();
                b["updatedAt"] = stamp()
                    .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
                    .to_string()
                    .into();
            }
        }
    });
    let p09: jiff::Timestamp = api.get("p-09").unwrap()["updatedAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    sync(&mut s).await;
    assert_eq!(
        app.count("bookings").await,
        29,
        "offset paging skipped exactly one booking"
    );
    assert!(app.maybe_booking("p-10").await.is_none());
    let state = app.store.sync_state().await.unwrap();
    assert_eq!(
        state.watermark,
        Some(p09),
        "held at the last booking read before the shift"
    );
    // The watermark was held back, so the next pass reads it.
    sync(&mut s).await;
    assert!(
        app.maybe_booking("p-10").await.is_some(),
        "read by the next pass"
    );
    assert_eq!(app.count("bookings").await, 30);
}

/// Kept here so the sub-modules share one set of imports.
pub fn is_unauthorized(e: &PassError) -> bool {
    matches!(e, PassError::Api(ClientError::Unauthorized(401)))
}

on_both_backends!(webhooks_and_a_sync_racing_on_the_same_bookings_apply_each_change_once);

/// Webhook deliveries and a sync pass at the same time, on the same new bookings: whichever
/// writes first records the booking, the other changes nothing.
async fn webhooks_and_a_sync_racing_on_the_same_bookings_apply_each_change_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let api = CalcomApi::start().await;
    let mut s = syncer_with(&app, &{
        let mut st = settings(&api, CALCOM_API_KEY);
        st.options.take = 5;
        st
    });
    sync(&mut s).await;
    let uids: Vec<String> = (0..40).map(|i| format!("race-{i:02}")).collect();
    for (i, uid) in uids.iter().enumerate() {
        let body = booked_by(uid, 48 + i as i64, "Racer", &format!("r{i}@example.com"));
        api.put(api_copy_of(&body, "accepted"));
    }
    let deliveries = futures::future::join_all(uids.iter().enumerate().map(|(i, uid)| {
        let body = booked_by(uid, 48 + i as i64, "Racer", &format!("r{i}@example.com"));
        let app = &app;
        async move { app.deliver(&body).await.0 }
    }));
    let (statuses, report) = tokio::join!(deliveries, sync(&mut s));
    assert!(statuses.iter().all(|s| s.is_success()), "{statuses:?}");
    assert_eq!(report.created + report.unchanged, 40, "{report:?}");
    let planned = emails(&app).await;
    for uid in &uids {
        let history = app.history(uid).await;
        assert_eq!(history.len(), 1, "{uid}: {history:?}");
        assert_eq!(
            planned[&(uid.clone(), "confirmation".to_owned())],
            1,
            "{uid}"
        );
        assert_eq!(planned[&(uid.clone(), "reminder".to_owned())], 2, "{uid}");
    }
}
