use super::*;
use crate::booking::Source;
use serde_json::json;

fn entry(action: &str, old: Option<Value>, new: Value) -> HistoryEntry {
    HistoryEntry {
        id: uuid::Uuid::nil(),
        booking_id: uuid::Uuid::nil(),
        action: action.into(),
        old_values: old,
        new_values: Some(new),
        delivery_id: None,
        source: Source::Webhook,
        created_at: "2026-11-27T10:00:00Z".parse().unwrap(),
    }
}

fn booking() -> Booking {
    let d = crate::booking::BookingDetails {
        uid: "B1".into(),
        title: "Intro".into(),
        starts_at: "2026-11-27T11:00:00Z".parse().unwrap(),
        ends_at: "2026-11-27T11:30:00Z".parse().unwrap(),
        attendees: vec![crate::booking::Person {
            name: Some("Marco Rossi".into()),
            email: Some("marco@example.com".into()),
            time_zone: None,
            locale: None,
        }],
        organizer: Some(crate::booking::Person {
            name: Some("Dana".into()),
            email: Some("dana@example.com".into()),
            time_zone: None,
            locale: None,
        }),
        calcom_id: None,
        description: None,
        notes: None,
        location: None,
        meeting_url: None,
        ical_uid: None,
        ical_sequence: None,
        event_type_id: None,
        event_type_slug: None,
        metadata: json!({}),
        owner: None,
        extra: Default::default(),
    };
    Booking::from_details(&d, crate::booking::Status::Confirmed, Timestamp::UNIX_EPOCH)
}

fn say(h: &HistoryEntry, starts: &[(&str, &str)]) -> Event {
    let b = booking();
    let zone = TimeZone::get("Europe/Berlin").unwrap();
    let cx = Context {
        booking: &b,
        starts: starts
            .iter()
            .map(|(u, t)| ((*u).to_owned(), t.parse().unwrap()))
            .collect(),
        zone: &zone,
    };
    event(h, &cx)
}

#[test]
fn a_move_in_place_names_both_times_in_the_dashboard_zone() {
    let e = say(
        &entry(
            "rescheduled",
            Some(
                json!({"starts_at": "2026-11-27T11:00:00Z", "ends_at": "2026-11-27T11:30:00Z", "ical_sequence": 0}),
            ),
            json!({"starts_at": "2026-11-28T11:00:00Z", "ends_at": "2026-11-28T11:30:00Z", "ical_sequence": 1}),
        ),
        &[],
    );
    assert_eq!(e.summary, "moved from Fri 27 Nov 12:00 to Sat 28 Nov 12:00");
    assert_eq!(
        e.changes,
        [FieldChange {
            field: "ical sequence".into(),
            before: "0".into(),
            after: "1".into()
        }]
    );
    assert_eq!(e.at, "Fri 27 Nov 11:00");
}

#[test]
fn the_old_side_of_a_reschedule_names_the_new_time() {
    let e = say(
        &entry(
            "rescheduled",
            Some(json!({"status": "confirmed", "rescheduled_to": null})),
            json!({"status": "rescheduled", "rescheduled_to": "B2"}),
        ),
        &[("B2", "2026-11-28T11:00:00Z")],
    );
    assert_eq!(e.summary, "moved from Fri 27 Nov 12:00 to Sat 28 Nov 12:00");
    assert!(e.changes.is_empty(), "{:?}", e.changes);
}

#[test]
fn a_cancellation_says_who_and_why_and_no_empty_rows() {
    let e = say(
        &entry(
            "cancelled",
            Some(json!({"status": "confirmed", "cancellation_reason": null, "cancelled_by": null})),
            // A field absent before and empty after did not change.
            json!({"status": "cancelled", "cancellation_reason": "ill", "cancelled_by": "MARCO@example.com", "rejection_reason": null, "title": "Intro"}),
        ),
        &[],
    );
    assert_eq!(e.summary, "cancelled by the attendee: ill");
    assert_eq!(
        e.changes,
        [FieldChange {
            field: "title".into(),
            before: "—".into(),
            after: "Intro".into()
        }]
    );
    let by_host = say(
        &entry(
            "cancelled",
            Some(json!({})),
            json!({"status": "cancelled", "cancelled_by": "dana@example.com"}),
        ),
        &[],
    );
    assert_eq!(by_host.summary, "cancelled by the host");
}

#[test]
fn hosts_locations_and_no_shows_in_words() {
    let host = say(
        &entry(
            "reassigned",
            Some(json!({"host": "Ann", "ical_sequence": 1})),
            json!({"host": "Bob", "ical_sequence": 2}),
        ),
        &[],
    );
    assert_eq!(host.summary, "host changed from Ann to Bob");
    assert!(host.changes.iter().all(|c| c.field != "host"));
    let place = say(
        &entry(
            "location_updated",
            Some(json!({"location": "Office"})),
            json!({"location": "https://meet.example.com/x"}),
        ),
        &[],
    );
    assert_eq!(
        place.summary,
        "location changed from Office to https://meet.example.com/x"
    );
    let no_show = say(
        &entry(
            "no_show_updated",
            Some(json!({"attendee_states": {}})),
            json!({"attendee_states": {"marco@example.com": {"no_show": true}}}),
        ),
        &[],
    );
    assert_eq!(no_show.summary, "marked no-show: marco@example.com");
    assert!(no_show.changes.is_empty());
}

#[test]
fn a_new_booking_is_one_sentence() {
    let e = say(
        &HistoryEntry {
            old_values: None,
            ..entry(
                "created",
                None,
                json!({"status": "confirmed", "starts_at": "2026-11-27T11:00:00Z", "title": "Intro"}),
            )
        },
        &[],
    );
    assert_eq!(e.summary, "booked for Fri 27 Nov 12:00");
    assert!(e.changes.is_empty());
}

#[test]
fn admin_actions_read_as_what_was_done() {
    let zone = TimeZone::UTC;
    let a = |kind: &str, detail: &str| BookingAction {
        id: uuid::Uuid::nil(),
        booking_id: uuid::Uuid::nil(),
        kind: kind.into(),
        detail: detail.into(),
        created_at: Timestamp::UNIX_EPOCH,
    };
    assert_eq!(
        action(&a("cancel", "double booked"), &zone).summary,
        "requested cancel via Cal.com: double booked"
    );
    assert_eq!(
        action(&a("request_reschedule", ""), &zone).summary,
        "requested a new time via Cal.com"
    );
    let note = action(&a("note", "Prefers mornings"), &zone);
    assert_eq!(
        (note.summary.as_str(), note.kind),
        ("Prefers mornings", "note")
    );
}
