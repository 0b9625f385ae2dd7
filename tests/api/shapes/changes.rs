//! Changes to a live booking: confirmations that erase nothing, no-shows, a new host or place;
//! and the bodies calbook acknowledges without acting on them.

use calbook::booking::Status;
use calbook::mail::CalendarMethod;
use calbook::outbox::{EmailKind, JobState};
use reqwest::StatusCode;
use serde_json::json;

use super::story::*;
use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    confirming_a_request_keeps_the_notes_and_the_booking_pages_metadata,
    no_shows_are_recorded_per_attendee_and_for_the_host,
    a_new_host_sends_one_updated_invite_that_replaces_the_old_one,
    a_new_location_updates_the_join_link_and_the_reminders_follow_it,
    an_empty_signed_body_is_acknowledged_and_stored_ignored,
    every_trigger_calbook_does_not_act_on_is_stored_and_acknowledged,
);

const UID: &str = "LiveBooking00000000001";
const MARCO: (&str, &str) = ("Marco Rossi", "marco.rossi@example.com");

fn booking(trigger: &str) -> Body {
    let mut b = Body::booking(trigger, UID, hours_from_now(30), &[MARCO]);
    b.0["triggerEvent"] = json!(trigger);
    b
}

async fn confirming_a_request_keeps_the_notes_and_the_booking_pages_metadata(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let proof = app.ownership_proof(CLIENT_1, MARCO.1);
    let requested = booking("BOOKING_REQUESTED")
        .with("status", json!("PENDING"))
        .with(
            "metadata",
            json!({"client_id": CLIENT_1, "client_proof": proof, "lead_ref": "LR-1"}),
        );
    deliver(&app, &requested).await;
    // The host confirms: BOOKING_CREATED, same uid, notes empty, metadata only {videoCallUrl}.
    let confirmed = booking("BOOKING_CREATED")
        .with("additionalNotes", json!(""))
        .with("description", json!(null))
        .without("title")
        .with(
            "metadata",
            json!({"videoCallUrl": "https://video.example.com/c"}),
        );
    assert_eq!(deliver(&app, &confirmed).await, "applied");

    let b = app.booking(UID).await;
    assert_eq!(b.status, Status::Confirmed);
    assert_eq!(
        b.notes.as_deref(),
        Some("Would like to discuss the spring order.")
    );
    assert_eq!(
        b.description.as_deref(),
        Some("A short first conversation.")
    );
    assert!(b.title.starts_with("Intro Call"), "{}", b.title);
    assert_eq!(
        b.client_id.map(|c| c.to_string()).as_deref(),
        Some(CLIENT_1)
    );
    assert_eq!(b.metadata["lead_ref"], "LR-1");
    assert_eq!(b.metadata["videoCallUrl"], "https://video.example.com/c");
    let history = app.history(UID).await;
    assert_eq!(history.len(), 2, "requested, confirmed");
    let changed = history[1].new_values.as_ref().unwrap();
    assert!(changed.get("notes").is_none() && changed.get("client_id").is_none());
    assert_eq!(count_for(&app, EmailKind::Confirmation, MARCO.1).await, 1);
}

async fn no_shows_are_recorded_per_attendee_and_for_the_host(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let guest = ("Gia", "gia@example.com");
    deliver(&app, &booking("BOOKING_CREATED").attendees(&[MARCO, guest])).await;
    let before = planned(&app).await;

    // handleMarkNoShow → BOOKING_NO_SHOW_UPDATED {bookingUid, bookingId, attendees, message}
    // [SRC BookingPayloadBuilder.ts@6f51e40f].
    let marked = json!({"triggerEvent": "BOOKING_NO_SHOW_UPDATED", "createdAt": "2026-03-10T15:00:00Z",
        "payload": {"bookingUid": UID, "bookingId": 1101, "message": "x marked as no-show",
                    "attendees": [{"email": MARCO.1, "noShow": true}]}});
    let (status, answer) = app.deliver(&serde_json::to_vec(&marked).unwrap()).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (StatusCode::OK, Some("applied"))
    );
    // The Cal Video host trigger [SRC packages/features/tasker/tasks/triggerNoShow/common.ts].
    let host = json!({"triggerEvent": "AFTER_HOSTS_CAL_VIDEO_NO_SHOW", "createdAt": "2026-03-10T15:00:00Z",
        "payload": {"bookingUid": UID, "bookingId": 1101, "hostEmail": HOST,
                    "message": "Host with email dana@example.com didn't join the call"}});
    let (status, answer) = app.deliver(&serde_json::to_vec(&host).unwrap()).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (StatusCode::OK, Some("applied"))
    );

    let b = app.booking(UID).await;
    assert_eq!(b.attendee_state(MARCO.1).unwrap().no_show, Some(true));
    assert!(
        b.attendee_state(guest.1).is_none(),
        "the guest was not marked"
    );
    assert_eq!(b.extra.host_no_show, Some(true));
    assert_eq!(
        app.history_actions(UID).await,
        ["created", "no_show_updated", "no_show_updated"]
    );
    assert_eq!(planned(&app).await, before, "no emails");
    let api = booking_via_api(&app, UID).await;
    assert_eq!(api["attendee_states"][MARCO.1]["no_show"], true);
    assert_eq!(api["host_no_show"], true);
    // The newest Cal Video path names only bookingId: stored, acknowledged, ignored.
    let no_uid = json!({"triggerEvent": "AFTER_GUESTS_CAL_VIDEO_NO_SHOW", "createdAt": "2026-03-10T15:00:00Z",
        "payload": {"bookingId": 1101, "webhook": {"id": "w1"}}});
    let (status, answer) = app.deliver(&serde_json::to_vec(&no_uid).unwrap()).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (StatusCode::OK, Some("ignored"))
    );
}

/// The `updated` rows, as `(recipient, state)`.
async fn updated_emails(app: &TestApp) -> Vec<(String, JobState)> {
    planned(app)
        .await
        .into_iter()
        .filter(|(k, ..)| *k == EmailKind::Updated)
        .map(|(_, to, st)| (to, st))
        .collect()
}

async fn a_new_host_sends_one_updated_invite_that_replaces_the_old_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    deliver(&app, &booking("BOOKING_CREATED")).await;
    let old = app.booking(UID).await;

    // Round-robin reassignment: the booking payload with the new `organizer` [FINDINGS §3.2].
    let reassigned = booking("BOOKING_REASSIGNED").with(
        "organizer",
        json!({"name": "Sam Ortiz", "email": "sam@example.com", "timeZone": "Europe/Madrid",
               "language": {"locale": "en"}}),
    );
    assert_eq!(deliver(&app, &reassigned).await, "applied");
    assert_eq!(deliver(&app, &reassigned).await, "duplicate");

    let b = app.booking(UID).await;
    assert_eq!(
        b.organizer.as_ref().unwrap().email.as_deref(),
        Some("sam@example.com")
    );
    assert_eq!(b.ical_sequence, old.ical_sequence + 1);
    assert_eq!(app.history_actions(UID).await, ["created", "reassigned"]);
    assert_eq!(
        updated_emails(&app).await,
        [(MARCO.1.to_owned(), JobState::Pending)],
        "one email to the attendee"
    );
    // Its invite: the same UID, a higher SEQUENCE, so calendars replace the old event.
    let invite = calbook::mail::render::calendar_invite(&b, CalendarMethod::Request);
    let old_invite = calbook::mail::render::calendar_invite(&old, CalendarMethod::Request);
    let line = |ics: &str, key: &str| ics.lines().find(|l| l.starts_with(key)).unwrap().to_owned();
    assert_eq!(line(&invite.ics, "UID:"), line(&old_invite.ics, "UID:"));
    assert_eq!(line(&invite.ics, "SEQUENCE:"), "SEQUENCE:1");
    assert_eq!(line(&old_invite.ics, "SEQUENCE:"), "SEQUENCE:0");
}

async fn a_new_location_updates_the_join_link_and_the_reminders_follow_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    deliver(&app, &booking("BOOKING_CREATED")).await;
    let new_link = "https://video.example.com/moved-room";
    let moved = booking("BOOKING_LOCATION_UPDATED")
        .with("location", json!(new_link))
        .with(
            "videoCallData",
            json!({"type": "daily_video", "url": new_link}),
        )
        .with("previousLocation", json!("integrations:daily"));
    assert_eq!(deliver(&app, &moved).await, "applied");

    let b = app.booking(UID).await;
    assert_eq!(b.location.as_deref(), Some(new_link));
    assert_eq!(b.meeting_url.as_deref(), Some(new_link));
    assert_eq!(
        app.history_actions(UID).await,
        ["created", "location_updated"]
    );
    assert_eq!(updated_emails(&app).await.len(), 1);
    // Reminders are rendered from the booking when they go: still pending, now on the new link.
    assert_eq!(pending_reminders(&app, MARCO.1).await, 2);
}

async fn an_empty_signed_body_is_acknowledged_and_stored_ignored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, answer) = app.deliver(b"{}").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["outcome"], "ignored");
    let stored = app.store.deliveries(10).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].outcome.as_str(), "ignored");
    assert!(stored[0].error.as_deref().unwrap().contains("empty body"));
    assert_eq!(stored[0].trigger_event, None);
}

async fn every_trigger_calbook_does_not_act_on_is_stored_and_acknowledged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // FINDINGS §2: the triggers with nothing for calbook to do.
    let triggers = [
        "FORM_SUBMITTED",
        "FORM_SUBMITTED_NO_EVENT",
        "RECORDING_READY",
        "RECORDING_TRANSCRIPTION_GENERATED",
        "INSTANT_MEETING",
        "INSTANT_MEETING_ACCEPTED",
        "OOO_CREATED",
        "ROUTING_FORM_FALLBACK_HIT",
        "DELEGATION_CREDENTIAL_ERROR",
        "WRONG_ASSIGNMENT_REPORT",
        "DELEGATION_CREDENTIAL_SECRET_ROTATION_FAILED",
        "DELEGATION_CREDENTIAL_ROTATION_REQUIRED",
        "DELEGATION_CREDENTIAL_SECRET_ROTATED",
        "CALENDAR_ENTRY_REJECTED",
    ];
    for t in triggers {
        let body = json!({"triggerEvent": t, "createdAt": "2026-03-10T15:00:00Z",
                          "payload": {"note": "anything"}, "formId": "f1"});
        let (status, answer) = app.deliver(&serde_json::to_vec(&body).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{t}: {answer}");
        assert_eq!(answer["outcome"], "ignored", "{t}");
    }
    assert_eq!(app.deliveries_with("ignored").await, triggers.len() as i64);
    assert_eq!(app.count("bookings").await, 0);
}
