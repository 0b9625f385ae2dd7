//! Seated events: each attendee has their own seat, emails and reminders.

use calbook::booking::{SeatState, Status};
use calbook::outbox::{EmailKind, JobState};
use jiff::Timestamp;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::story::*;
use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    a_second_seat_joins_the_booking_and_only_its_attendee_is_emailed,
    cancelling_one_seat_cancels_only_that_attendee_and_their_reminders,
    two_seats_and_a_seat_cancel_end_the_same_in_every_order,
    a_seat_moved_to_another_time_leaves_the_others_in_place,
    attendees_of_an_event_that_hides_them_never_see_each_other,
);

const X: (&str, &str) = ("Xia Chen", "xia@example.com");
const Y: (&str, &str) = ("Yan Berg", "yan@example.com");
const SLOT: &str = "SeatedSlot000000000001";

fn seat(who: (&str, &str), start: Timestamp) -> Body {
    Body::booking("BOOKING_CREATED", SLOT, start, &[who]).seated(true)
}

async fn a_second_seat_joins_the_booking_and_only_its_attendee_is_emailed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let start = hours_from_now(30);
    assert_eq!(deliver(&app, &seat(X, start)).await, "applied");
    assert_eq!(count_for(&app, EmailKind::Confirmation, X.1).await, 1);

    // Cal.com's createNewSeat: the existing booking's uid, `attendees` = only the new seat.
    assert_eq!(deliver(&app, &seat(Y, start)).await, "applied");

    let b = app.booking(SLOT).await;
    assert_eq!(b.status, Status::Confirmed);
    let emails: Vec<_> = b.attendees.iter().filter_map(|p| p.email.clone()).collect();
    assert_eq!(emails, [X.1, Y.1], "the first seat is kept");
    assert_eq!(app.history_actions(SLOT).await, ["created", "seat_added"]);
    assert_eq!(count_for(&app, EmailKind::Confirmation, Y.1).await, 1);
    assert_eq!(pending_reminders(&app, Y.1).await, 2, "24h and 1h");
    assert_eq!(
        count_for(&app, EmailKind::Confirmation, X.1).await,
        1,
        "the first attendee gets nothing new"
    );
    assert_eq!(pending_reminders(&app, X.1).await, 2);
    // The same seat again (a Cal.com retry with another body): nothing.
    let again = seat(Y, start).with("additionalNotes", json!("retry"));
    assert_eq!(deliver(&app, &again).await, "ignored");
}

async fn cancelling_one_seat_cancels_only_that_attendee_and_their_reminders(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let start = hours_from_now(30);
    deliver(&app, &seat(X, start)).await;
    deliver(&app, &seat(Y, start)).await;

    // cancelAttendeeSeat: BOOKING_CANCELLED, the booking's uid, `attendees` = that seat only.
    let outcome = deliver(&app, &cancelled(seat(Y, start), "travelling")).await;

    assert_eq!(outcome, "applied");
    let b = app.booking(SLOT).await;
    assert_eq!(b.status, Status::Confirmed, "the other seat is still taken");
    let y = b.attendee_state(Y.1).unwrap();
    assert_eq!(y.seat, Some(SeatState::Cancelled));
    assert_eq!(y.seat_reason.as_deref(), Some("travelling"));
    assert!(!b.seat_cancelled(X.1));
    assert_eq!(
        app.history_actions(SLOT).await,
        ["created", "seat_added", "seat_cancelled"]
    );
    assert_eq!(count_for(&app, EmailKind::Cancelled, Y.1).await, 1);
    assert_eq!(
        count_for(&app, EmailKind::Cancelled, X.1).await,
        0,
        "nobody else is told"
    );
    assert_eq!(pending_reminders(&app, Y.1).await, 0);
    assert_eq!(pending_reminders(&app, X.1).await, 2);
    let withdrawn: Vec<_> = planned_for(&app, SLOT)
        .await
        .into_iter()
        .filter(|j| j.kind == EmailKind::Reminder && j.recipient_email == Y.1)
        .collect();
    assert_eq!(withdrawn.len(), 2);
    for j in withdrawn {
        assert_eq!(j.state, JobState::Skipped);
        assert_eq!(j.last_error.as_deref(), Some("the seat was cancelled"));
    }
    let api = booking_via_api(&app, SLOT).await;
    assert_eq!(api["status"], "confirmed");
    assert_eq!(api["attendee_states"][Y.1]["seat"], "cancelled");
}

async fn two_seats_and_a_seat_cancel_end_the_same_in_every_order(backend: Backend) {
    let start = hours_from_now(30);
    let events = [
        seat(X, start),
        seat(Y, start),
        cancelled(seat(Y, start), "travelling"),
    ];
    for order in [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ] {
        let app = TestApp::spawn(backend).await;
        for i in order {
            deliver(&app, &events[i]).await;
        }
        let b = app.booking(SLOT).await;
        assert_eq!(b.status, Status::Confirmed, "{order:?}");
        let active: Vec<_> = b
            .active_attendees()
            .filter_map(|p| p.email.clone())
            .collect();
        assert_eq!(active, [X.1], "{order:?}");
        assert!(b.seat_cancelled(Y.1), "{order:?}");
        // X: one confirmation and its reminders; Y: a cancellation, no reminder left.
        assert_eq!(
            count_for(&app, EmailKind::Confirmation, X.1).await,
            1,
            "{order:?}"
        );
        assert_eq!(pending_reminders(&app, X.1).await, 2, "{order:?}");
        assert_eq!(
            count_for(&app, EmailKind::Cancelled, X.1).await,
            0,
            "{order:?}"
        );
        assert_eq!(
            count_for(&app, EmailKind::Cancelled, Y.1).await,
            1,
            "{order:?}"
        );
        assert_eq!(pending_reminders(&app, Y.1).await, 0, "{order:?}");
    }
}

async fn a_seat_moved_to_another_time_leaves_the_others_in_place(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let start = hours_from_now(30);
    deliver(&app, &seat(X, start)).await;
    deliver(&app, &seat(Y, start)).await;

    // attendeeRescheduleSeatedBooking: BOOKING_RESCHEDULED for the seat's new booking, with
    // `rescheduleUid` = the old one and `attendees` = that seat only.
    let later = hours_from_now(54);
    let mut moved = Body::booking("BOOKING_RESCHEDULED", "SeatedSlot000000000002", later, &[Y])
        .seated(true)
        .with("rescheduleUid", json!(SLOT));
    moved.0["triggerEvent"] = json!("BOOKING_RESCHEDULED");
    assert_eq!(deliver(&app, &moved).await, "applied");

    let old = app.booking(SLOT).await;
    assert_eq!(old.status, Status::Confirmed);
    let y = old.attendee_state(Y.1).unwrap();
    assert_eq!(y.moved_to.as_deref(), Some("SeatedSlot000000000002"));
    let new = app.booking("SeatedSlot000000000002").await;
    assert_eq!(new.status, Status::Confirmed);
    assert_eq!(new.rescheduled_from.as_deref(), Some(SLOT));
    // Y: one "rescheduled" email and reminders for the new time; no cancellation; X untouched.
    assert_eq!(count_for(&app, EmailKind::Rescheduled, Y.1).await, 1);
    assert_eq!(count_for(&app, EmailKind::Cancelled, Y.1).await, 0);
    assert_eq!(pending_reminders(&app, Y.1).await, 2, "only the new time's");
    assert_eq!(pending_reminders(&app, X.1).await, 2);
    assert_eq!(count_for(&app, EmailKind::Rescheduled, X.1).await, 0);
}

/// The text, HTML and invite of every email sent to `to`.
fn sent_to(requests: &[wiremock::Request], to: &str) -> Vec<String> {
    requests
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap())
        .filter(|j| j["to"][0].as_str().unwrap().contains(to))
        .map(|j| {
            let ics = j["attachments"][0]["content"].as_str().unwrap_or("");
            // Unfolded (RFC 5545 folds long lines), so an address is never split.
            let ics = base64_decode(ics).replace("\r\n ", "");
            format!("{}\n{}\n{}", j["text"], j["html"], ics)
        })
        .collect()
}

fn base64_decode(s: &str) -> String {
    use base64::Engine;
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .unwrap_or_default(),
    )
    .unwrap_or_default()
}

async fn attendees_of_an_event_that_hides_them_never_see_each_other(backend: Backend) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "re_1"})))
        .mount(&server)
        .await;
    let app = TestApp::spawn_with_resend_and(backend, &server, |s| {
        s.auth.jwt_secret = Some(JWT_SECRET.to_owned());
        s.auth.issuer = Some(ISSUER.to_owned());
    })
    .await;
    let start = hours_from_now(30);
    let hidden = |who| seat(who, start).seated(false);
    deliver(&app, &hidden(X)).await;
    deliver(&app, &hidden(Y)).await;
    app.drain_outbox().await;
    deliver(&app, &cancelled(hidden(Y), "travelling")).await;
    app.drain_outbox().await;

    let requests = server.received_requests().await.unwrap();
    let to_x = sent_to(&requests, X.1);
    let to_y = sent_to(&requests, Y.1);
    assert_eq!(to_x.len(), 1, "X's confirmation");
    assert_eq!(to_y.len(), 2, "Y's confirmation and cancellation");
    for email in &to_x {
        assert!(
            !email.contains(Y.1) && !email.contains("Yan Berg"),
            "{email}"
        );
    }
    for email in &to_y {
        assert!(
            email.contains(&format!("mailto:{}", Y.1)),
            "Y's own invite names Y: {email}"
        );
        assert!(
            !email.contains(X.1) && !email.contains("Xia Chen"),
            "{email}"
        );
    }
}
