//! The API's seats, series and no-shows end a booking where the webhook's would (issue 11's
//! shapes, learnt by sync): a series imported or re-linked by `recurringBookingUid`, no-shows and
//! seats changed while calbook was down, and webhook/sync in both orders for a seat and a
//! no-show (one history entry, one email). API bodies follow
//! `packages/platform/types/bookings/2024-08-13/outputs/booking.output.ts@1adf94bd` (attendees'
//! `absent`, `absentHost`, `recurringBookingUid`, seated attendees' `seatUid`).

use calbook::booking::{SeatState, Source, Status};
use calbook::outbox::EmailKind;
use calbook::sync::{Mode, RunOutcome};
use serde_json::{Value, json};

use super::{created_sample_in_api, emails, sync, syncer};
use crate::helpers::*;
use crate::on_both_backends;
use crate::shapes::story::*;

on_both_backends!(
    a_series_imported_by_sync_gets_cal_coms_series_id,
    webhook_occurrences_are_relinked_to_the_series_cal_com_names_once,
    a_no_show_marked_while_calbook_was_down_converges_once,
    a_no_show_by_webhook_then_sync_is_one_change,
    a_seat_taken_while_calbook_was_down_gets_one_confirmation,
    a_seat_by_webhook_then_sync_is_one_change_and_one_email,
    a_seat_cancelled_while_calbook_was_down_converges,
    an_unpaid_booking_is_no_drift_and_its_payment_converges,
);

const ANN: (&str, &str) = ("Ann Lee", "ann@example.com");
const X: (&str, &str) = ("Xia Chen", "xia@example.com");
const Y: (&str, &str) = ("Yan Berg", "yan@example.com");
const SLOT: &str = "SeatedSlot000000000009";
const MARCO: &str = "marco.rossi@example.com";

/// The booking a webhook `body` is about, as API v2 shows it with `status`.
fn in_api(body: &Body, status: &str) -> Value {
    let p = &body.0["payload"];
    let mut b = api_booking(p["uid"].as_str().unwrap(), status, 0, "unused@example.com");
    b["start"] = p["startTime"].clone();
    b["end"] = p["endTime"].clone();
    b["title"] = p["title"].clone();
    b["icsUid"] = p["iCalUID"].clone();
    b["eventTypeId"] = p["eventTypeId"].clone();
    b["eventType"] = json!({"id": p["eventTypeId"], "slug": p["type"]});
    b["hosts"] = json!([{"id": 7, "name": p["organizer"]["name"], "email": p["organizer"]["email"],
                         "username": "dana", "timeZone": p["organizer"]["timeZone"]}]);
    b["attendees"] = p["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            json!({"name": a["name"], "email": a["email"], "displayEmail": a["email"],
                   "timeZone": a["timeZone"], "language": "en", "absent": false})
        })
        .collect();
    b
}

/// A seated booking with these seats, as `GetSeatedBookingOutput_2024_08_13` lists them.
fn seated_in_api(start: jiff::Timestamp, who: &[(&str, &str)]) -> Value {
    let mut b = in_api(&seat(who, start), "accepted");
    for (i, a) in b["attendees"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        a["seatUid"] = json!(format!("seat-{i}"));
        a["bookingFieldsResponses"] = json!({});
    }
    b
}

fn seat(who: &[(&str, &str)], start: jiff::Timestamp) -> Body {
    Body::booking("BOOKING_CREATED", SLOT, start, who).seated(true)
}

fn occurrence_uid(n: i64) -> String {
    format!("WeeklySeries00000009{n:02}")
}

/// The `n`th of four weekly occurrences, as its webhook carries it.
fn occurrence(n: i64) -> Body {
    Body::booking("BOOKING_CREATED", &occurrence_uid(n), week(n), &[ANN]).weekly(4)
}

/// A pass over the store after the (empty) import, so later passes plan every email.
async fn started(app: &TestApp, api: &CalcomApi) -> calbook::sync::Syncer {
    let mut s = syncer(app, api);
    sync(&mut s).await;
    s
}

async fn check(s: &mut calbook::sync::Syncer) -> calbook::sync::Report {
    match s.run(None, Mode::Check).await {
        RunOutcome::Done(r) => r,
        other => panic!("the check did not finish: {other:?}"),
    }
}

async fn a_series_imported_by_sync_gets_cal_coms_series_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let api = CalcomApi::start().await;
    for n in 0..3 {
        let mut b = in_api(&occurrence(n), "accepted");
        b["recurringBookingUid"] = json!("rec-import");
        api.put(b);
    }
    let mut s = syncer(&app, &api);
    assert_eq!(sync(&mut s).await.created, 3);
    for n in 0..3 {
        let b = app.booking(&occurrence_uid(n)).await;
        assert_eq!(b.extra.series_id.as_deref(), Some("rec-import"));
        assert_eq!(app.history_actions(&b.uid).await, ["created"]);
        assert_eq!(
            booking_via_api(&app, &b.uid).await["series_id"],
            "rec-import"
        );
    }
    let counts = app.counts().await;
    assert_eq!(sync(&mut s).await.changed(), 0);
    assert_eq!(app.counts().await, counts);
}

async fn webhook_occurrences_are_relinked_to_the_series_cal_com_names_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let api = CalcomApi::start().await;
    let mut s = started(&app, &api).await;
    for n in 0..4 {
        assert_eq!(deliver(&app, &occurrence(n)).await, "applied");
    }
    assert_eq!(
        app.booking(&occurrence_uid(3)).await.extra.series_id,
        Some(occurrence_uid(0)),
        "calbook's guess: the first occurrence's uid"
    );
    let planned = emails(&app).await;
    // Cal.com lists the later occurrences first here: the first one read re-links the others.
    for n in (1..4).rev() {
        let mut b = in_api(&occurrence(n), "accepted");
        b["recurringBookingUid"] = json!("rec-ann");
        api.put(b);
    }
    let report = sync(&mut s).await;
    assert!(report.changed() >= 1, "{report:?}");
    for n in 0..4 {
        let uid = occurrence_uid(n);
        assert_eq!(
            app.booking(&uid).await.extra.series_id.as_deref(),
            Some("rec-ann")
        );
        assert_eq!(
            app.history_actions(&uid).await,
            ["created", "series_linked"]
        );
        assert_eq!(app.history(&uid).await[1].source, Source::Sync);
    }
    assert_eq!(emails(&app).await, planned, "re-linking sends nothing");
    let counts = app.counts().await;
    let again = sync(&mut s).await;
    assert_eq!(again.changed(), 0, "{again:?}");
    assert_eq!(app.counts().await, counts);
    assert!(check(&mut s).await.drift.is_empty());
}

async fn a_no_show_marked_while_calbook_was_down_converges_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let api = CalcomApi::start().await;
    let mut s = started(&app, &api).await;
    assert_eq!(app.deliver_sample("created").await.0, 200);
    let planned = emails(&app).await;
    let mut b = created_sample_in_api("accepted");
    b["attendees"][0]["absent"] = json!(true);
    b["absentHost"] = json!(true);
    api.put(b);

    let drift = check(&mut s).await.drift;
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert_eq!(drift[0].uid, CREATED_UID);
    assert!(drift[0].calcom.contains("no_show_updated"), "{drift:?}");
    assert_eq!(app.history_actions(CREATED_UID).await, ["created"]);

    sync(&mut s).await;
    let booking = app.booking(CREATED_UID).await;
    assert_eq!(booking.attendee_state(MARCO).unwrap().no_show, Some(true));
    assert_eq!(booking.extra.host_no_show, Some(true));
    let history = app.history(CREATED_UID).await;
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].action, "no_show_updated");
    assert_eq!(history[1].source, Source::Sync);
    assert_eq!(emails(&app).await, planned, "a no-show sends nothing");
    assert_eq!(sync(&mut s).await.changed(), 0);
    assert!(check(&mut s).await.drift.is_empty());

    // Cal.com's own webhook for it, late: nothing more.
    let late = json!({"triggerEvent": "BOOKING_NO_SHOW_UPDATED", "createdAt": "2026-03-10T15:00:00Z",
        "payload": {"bookingUid": CREATED_UID, "bookingId": 1101, "message": "marked",
                    "attendees": [{"email": MARCO, "noShow": true}]}});
    let (status, answer) = app.deliver(&serde_json::to_vec(&late).unwrap()).await;
    assert_eq!(
        (status.as_u16(), answer["outcome"].as_str()),
        (200, Some("ignored"))
    );
    assert_eq!(app.history(CREATED_UID).await.len(), 2);
    assert_eq!(emails(&app).await, planned);
}

async fn a_no_show_by_webhook_then_sync_is_one_change(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let api = CalcomApi::start().await;
    let mut s = started(&app, &api).await;
    assert_eq!(app.deliver_sample("created").await.0, 200);
    let marked = json!({"triggerEvent": "BOOKING_NO_SHOW_UPDATED", "createdAt": "2026-03-10T15:00:00Z",
        "payload": {"bookingUid": CREATED_UID, "bookingId": 1101, "message": "marked",
                    "attendees": [{"email": MARCO, "noShow": true}]}});
    let (status, answer) = app.deliver(&serde_json::to_vec(&marked).unwrap()).await;
    assert_eq!(
        (status.as_u16(), answer["outcome"].as_str()),
        (200, Some("applied"))
    );
    let planned = emails(&app).await;
    let mut b = created_sample_in_api("accepted");
    b["attendees"][0]["absent"] = json!(true);
    api.put(b);
    let report = sync(&mut s).await;
    assert_eq!((report.changed(), report.unchanged), (0, 1), "{report:?}");
    assert_eq!(
        app.history_actions(CREATED_UID).await,
        ["created", "no_show_updated"]
    );
    assert_eq!(emails(&app).await, planned);
    // Unmarked in Cal.com later: the sync follows, once.
    api.edit(CREATED_UID, |b| b["attendees"][0]["absent"] = json!(false));
    sync(&mut s).await;
    sync(&mut s).await;
    let b = app.booking(CREATED_UID).await;
    assert_eq!(b.attendee_state(MARCO).unwrap().no_show, Some(false));
    assert_eq!(
        app.history_actions(CREATED_UID).await,
        ["created", "no_show_updated", "no_show_updated"]
    );
}

async fn a_seat_taken_while_calbook_was_down_gets_one_confirmation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let api = CalcomApi::start().await;
    let mut s = started(&app, &api).await;
    let start = hours_from_now(30);
    assert_eq!(deliver(&app, &seat(&[X], start)).await, "applied");
    api.put(seated_in_api(start, &[X, Y]));

    sync(&mut s).await;
    let b = app.booking(SLOT).await;
    assert_eq!(b.status, Status::Confirmed);
    let seated: Vec<_> = b.attendees.iter().filter_map(|p| p.email.clone()).collect();
    assert_eq!(seated, [X.1, Y.1]);
    assert_eq!(app.history_actions(SLOT).await, ["created", "seat_added"]);
    assert_eq!(count_for(&app, EmailKind::Confirmation, Y.1).await, 1);
    assert_eq!(count_for(&app, EmailKind::Confirmation, X.1).await, 1);
    assert_eq!(pending_reminders(&app, Y.1).await, 2);
    let planned = emails(&app).await;
    assert_eq!(sync(&mut s).await.changed(), 0);

    // Cal.com's webhook for that seat, late: nothing more.
    assert_eq!(deliver(&app, &seat(&[Y], start)).await, "ignored");
    assert_eq!(app.history_actions(SLOT).await, ["created", "seat_added"]);
    assert_eq!(emails(&app).await, planned);
}

async fn a_seat_by_webhook_then_sync_is_one_change_and_one_email(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let api = CalcomApi::start().await;
    let mut s = started(&app, &api).await;
    let start = hours_from_now(30);
    deliver(&app, &seat(&[X], start)).await;
    assert_eq!(deliver(&app, &seat(&[Y], start)).await, "applied");
    let planned = emails(&app).await;
    api.put(seated_in_api(start, &[X, Y]));
    let report = sync(&mut s).await;
    assert_eq!((report.changed(), report.unchanged), (0, 1), "{report:?}");
    assert_eq!(app.history_actions(SLOT).await, ["created", "seat_added"]);
    assert_eq!(count_for(&app, EmailKind::Confirmation, Y.1).await, 1);
    assert_eq!(emails(&app).await, planned);
}

async fn a_seat_cancelled_while_calbook_was_down_converges(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let api = CalcomApi::start().await;
    let mut s = started(&app, &api).await;
    let start = hours_from_now(30);
    deliver(&app, &seat(&[X], start)).await;
    deliver(&app, &seat(&[Y], start)).await;
    // cancelAttendeeSeat deletes the seat's attendee: the API lists the seats still held.
    api.put(seated_in_api(start, &[X]));

    sync(&mut s).await;
    let b = app.booking(SLOT).await;
    assert_eq!(b.status, Status::Confirmed, "X still holds a seat");
    assert_eq!(
        b.attendee_state(Y.1).unwrap().seat,
        Some(SeatState::Cancelled)
    );
    assert!(!b.seat_cancelled(X.1));
    assert_eq!(
        app.history_actions(SLOT).await,
        ["created", "seat_added", "seat_cancelled"]
    );
    assert_eq!(count_for(&app, EmailKind::Cancelled, Y.1).await, 1);
    assert_eq!(count_for(&app, EmailKind::Cancelled, X.1).await, 0);
    assert_eq!(pending_reminders(&app, Y.1).await, 0);
    assert_eq!(pending_reminders(&app, X.1).await, 2);
    let planned = emails(&app).await;
    assert_eq!(sync(&mut s).await.changed(), 0);

    // The seat's own BOOKING_CANCELLED, late: nothing more.
    assert_eq!(
        deliver(&app, &cancelled(seat(&[Y], start), "travelling")).await,
        "ignored"
    );
    assert_eq!(app.history(SLOT).await.len(), 3);
    assert_eq!(emails(&app).await, planned);
}

/// API v2 has no payment fields: an unpaid booking is `pending` there, which is calbook's
/// `awaiting_payment`; `accepted` after payment confirms it as the webhook's `BOOKING_CREATED`.
async fn an_unpaid_booking_is_no_drift_and_its_payment_converges(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let api = CalcomApi::start().await;
    let mut s = started(&app, &api).await;
    let start = hours_from_now(48);
    let mut initiated = Body::booking(
        "BOOKING_PAYMENT_INITIATED",
        "UnpaidBooking000000009",
        start,
        &[ANN],
    )
    .with("paymentId", json!(881));
    initiated.0["triggerEvent"] = json!("BOOKING_PAYMENT_INITIATED");
    assert_eq!(deliver(&app, &initiated).await, "applied");
    let uid = "UnpaidBooking000000009";
    assert_eq!(app.booking(uid).await.status, Status::AwaitingPayment);
    api.put(in_api(&initiated, "pending"));
    assert!(check(&mut s).await.drift.is_empty());
    assert_eq!(sync(&mut s).await.changed(), 0);
    assert_eq!(app.booking(uid).await.status, Status::AwaitingPayment);
    assert_eq!(count_for(&app, EmailKind::Confirmation, ANN.1).await, 0);
    assert_eq!(count_for(&app, EmailKind::Requested, ANN.1).await, 0);

    // Paid while calbook was down: Cal.com accepted it.
    api.edit(uid, |b| b["status"] = json!("accepted"));
    assert_eq!(check(&mut s).await.drift.len(), 1);
    sync(&mut s).await;
    assert_eq!(app.booking(uid).await.status, Status::Confirmed);
    assert_eq!(
        app.history_actions(uid).await,
        ["payment_initiated", "confirmed"]
    );
    assert_eq!(count_for(&app, EmailKind::Confirmation, ANN.1).await, 1);
    assert_eq!(sync(&mut s).await.changed(), 0);
}
