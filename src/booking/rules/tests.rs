use std::collections::HashMap;

use jiff::Timestamp;
use proptest::prelude::*;

use super::*;
use crate::booking::Person;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn details(uid: &str, start: &str, end: &str) -> BookingDetails {
    BookingDetails {
        ends_at: ts(end),
        attendees: vec![Person {
            name: Some("Marco".into()),
            email: Some("m@example.com".into()),
            time_zone: Some("America/New_York".into()),
            locale: None,
        }],
        ical_uid: Some("A@Cal.com".into()),
        ical_sequence: Some(0),
        ..BookingDetails::example(uid, start)
    }
}

/// Applies events in order to an in-memory store, as the webhook ingest does to a database.
fn run(events: &[BookingEvent]) -> (HashMap<String, Booking>, Vec<(String, Action)>) {
    let mut store: HashMap<String, Booking> = HashMap::new();
    let mut history = Vec::new();
    let now = ts("2026-03-01T00:00:00Z");
    for e in events {
        let decision = decide(e, |uid| store.get(uid), now);
        let changes = decision.changes;
        for c in changes {
            history.push((c.after.uid.clone(), c.action));
            store.insert(c.after.uid.clone(), c.after);
        }
    }
    (store, history)
}

fn created_a() -> BookingEvent {
    BookingEvent::Created(details("A", "2026-03-10T14:00:00Z", "2026-03-10T14:30:00Z"))
}
fn rescheduled_a_to_b() -> BookingEvent {
    let mut d = details("B", "2026-03-12T15:00:00Z", "2026-03-12T15:30:00Z");
    d.ical_sequence = Some(1);
    BookingEvent::Rescheduled {
        details: d,
        from: PreviousSlot {
            uid: "A".into(),
            starts_at: Some(ts("2026-03-10T14:00:00Z")),
            ends_at: Some(ts("2026-03-10T14:30:00Z")),
        },
    }
}
fn cancelled(uid: &str, reschedule_requested: bool) -> BookingEvent {
    BookingEvent::Cancelled {
        details: details(uid, "2026-03-12T15:00:00Z", "2026-03-12T15:30:00Z"),
        reason: Some("work".into()),
        by: Some("m@example.com".into()),
        reschedule_requested,
    }
}

/// The part of the end state that must not depend on arrival order.
fn summary(
    store: &HashMap<String, Booking>,
) -> Vec<(String, Status, Option<String>, Option<String>)> {
    let mut v: Vec<_> = store
        .values()
        .map(|b| {
            (
                b.uid.clone(),
                b.status,
                b.rescheduled_from.clone(),
                b.rescheduled_to.clone(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn created_then_rescheduled_then_cancelled_links_both_ways() {
    let (store, history) = run(&[created_a(), rescheduled_a_to_b(), cancelled("B", false)]);
    assert_eq!(store["A"].status, Status::Rescheduled);
    assert_eq!(store["A"].rescheduled_to.as_deref(), Some("B"));
    assert_eq!(store["B"].status, Status::Cancelled);
    assert_eq!(store["B"].rescheduled_from.as_deref(), Some("A"));
    assert_eq!(
        history,
        vec![
            ("A".into(), Action::Created),
            ("B".into(), Action::Created),
            ("A".into(), Action::Rescheduled),
            ("B".into(), Action::Cancelled)
        ]
    );
}

#[test]
fn late_created_does_not_resurrect_a_cancelled_booking() {
    let (store, history) = run(&[cancelled("A", false), created_a()]);
    assert_eq!(store["A"].status, Status::Cancelled);
    assert_eq!(history.len(), 1);
}

#[test]
fn reschedule_of_unknown_booking_records_the_old_one_as_rescheduled() {
    let (store, _) = run(&[rescheduled_a_to_b(), created_a()]);
    let a = &store["A"];
    assert_eq!(a.status, Status::Rescheduled);
    assert_eq!(a.starts_at, ts("2026-03-10T14:00:00Z"));
    assert_eq!(a.rescheduled_to.as_deref(), Some("B"));
}

#[test]
fn request_reschedule_is_not_final_and_the_later_reschedule_links() {
    let (store, _) = run(&[created_a(), cancelled("A", true)]);
    assert_eq!(store["A"].status, Status::RescheduleRequested);
    let (store, _) = run(&[created_a(), cancelled("A", true), rescheduled_a_to_b()]);
    assert_eq!(store["A"].status, Status::Rescheduled);
    assert_eq!(store["B"].rescheduled_from.as_deref(), Some("A"));
}

#[test]
fn requested_then_created_confirms_and_rejected_only_applies_to_pending() {
    let req = BookingEvent::Requested {
        details: details("D", "2026-03-20T09:00:00Z", "2026-03-20T09:45:00Z"),
        from: None,
    };
    let (store, history) = run(&[
        req.clone(),
        BookingEvent::Created(details("D", "2026-03-20T09:00:00Z", "2026-03-20T09:45:00Z")),
    ]);
    assert_eq!(store["D"].status, Status::Confirmed);
    assert_eq!(history[1].1, Action::Confirmed);
    let rej = BookingEvent::Rejected {
        details: details("D", "2026-03-20T09:00:00Z", "2026-03-20T09:45:00Z"),
        reason: None,
    };
    let (store, _) = run(&[req.clone(), rej.clone()]);
    assert_eq!(store["D"].status, Status::Rejected);
    let (store, _) = run(&[rej, req]);
    assert_eq!(store["D"].status, Status::Rejected);
}

#[test]
fn meeting_events_are_recorded_once_and_not_for_unknown_bookings() {
    let ended = BookingEvent::Meeting {
        uid: "A".into(),
        phase: MeetingPhase::Ended,
        at: ts("2026-03-10T14:30:00Z"),
    };
    let (store, history) = run(&[created_a(), ended.clone(), ended.clone()]);
    assert!(store["A"].meeting_ended_at.is_some());
    assert_eq!(history.len(), 2);
    let (store, history) = run(std::slice::from_ref(&ended));
    assert!(store.is_empty() && history.is_empty());
}

#[test]
fn an_update_records_only_the_fields_that_changed() {
    let now = ts("2026-03-01T00:00:00Z");
    let (store, _) = run(&[created_a()]);
    let d = decide(&cancelled("A", false), |u| store.get(u), now);
    let h = d.changes[0].history(None, now);
    let old = h.old_values.unwrap();
    let new = h.new_values.unwrap();
    assert_eq!(old["status"], "confirmed");
    assert_eq!(new["status"], "cancelled");
    assert!(
        new.get("title").is_none(),
        "unchanged fields are left out: {new}"
    );
}

proptest! {
    /// Whatever order the created / rescheduled / cancelled (and a duplicate) events arrive in, the
    /// bookings end in the same state, and applying everything twice changes nothing more.
    #[test]
    fn end_state_does_not_depend_on_arrival_order(order in Just(vec![0usize, 1, 2, 3]).prop_shuffle()) {
        let all = [created_a(), rescheduled_a_to_b(), cancelled("B", false), created_a()];
        let events: Vec<_> = order.iter().map(|&i| all[i].clone()).collect();
        let (store, _) = run(&events);
        let (expected, _) = run(&all);
        prop_assert_eq!(summary(&store), summary(&expected));
        let twice: Vec<_> = events.iter().chain(events.iter()).cloned().collect();
        prop_assert_eq!(summary(&run(&twice).0), summary(&expected));
    }

    #[test]
    fn request_reschedule_story_is_order_independent(order in Just(vec![0usize, 1, 2]).prop_shuffle()) {
        let all = [created_a(), cancelled("A", true), rescheduled_a_to_b()];
        let events: Vec<_> = order.iter().map(|&i| all[i].clone()).collect();
        prop_assert_eq!(summary(&run(&events).0), summary(&run(&all).0));
    }
}

#[test]
fn a_booker_url_or_seat_reference_alone_is_not_a_change_but_rides_along_with_one() {
    // Recorded without one (the API sync has no bookerUrl), then the webhook brings it.
    let (store, _) = run(&[created_a()]);
    let mut d = details("A", "2026-03-10T14:00:00Z", "2026-03-10T14:30:00Z");
    d.extra.booker_url = Some("https://acme-org.cal.com".into());
    d.extra
        .seat_refs
        .insert("m@example.com".into(), "seat-1".into());
    let decision = decide(
        &BookingEvent::Created(d.clone()),
        |uid| store.get(uid),
        ts("2026-03-01T00:00:00Z"),
    );
    assert!(decision.changes.is_empty(), "{decision:?}");
    // With a real change it is stored, and the audit never names it.
    let mut moved = d;
    moved.location = Some("Room 2".into());
    let decision = decide(
        &BookingEvent::Created(moved),
        |uid| store.get(uid),
        ts("2026-03-01T00:00:00Z"),
    );
    let change = decision.changes.last().expect("the location fills in");
    assert_eq!(
        change.after.extra.links.booker_url.as_deref(),
        Some("https://acme-org.cal.com")
    );
    assert_eq!(
        change.after.extra.links.seat("M@example.com"),
        Some("seat-1")
    );
    let entry = change.history(None, ts("2026-03-01T00:00:00Z"));
    let shown = serde_json::to_string(&entry.new_values).unwrap();
    assert!(
        !shown.contains("acme-org") && !shown.contains("seat-1"),
        "{shown}"
    );
}
