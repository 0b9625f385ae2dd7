//! The issue-11 rules on plain values: seats, series, payments, never-erase, no-shows, host and
//! place changes, each in every arrival order where Cal.com's order can vary.

use std::collections::HashMap;

use jiff::Timestamp;
use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::booking::{DetailExtras, NoShowMark, Payment, Person, RecurringRule, SeatState};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn person(name: &str, email: &str) -> Person {
    Person {
        name: Some(name.into()),
        email: Some(email.into()),
        time_zone: Some("Europe/Berlin".into()),
        locale: None,
    }
}

/// Applies events in order, as the ingest does (series looked up by key among all bookings).
fn run(events: &[BookingEvent]) -> (HashMap<String, Booking>, Vec<(String, Action)>) {
    let mut store: HashMap<String, Booking> = HashMap::new();
    let mut history = Vec::new();
    let now = ts("2026-03-01T00:00:00Z");
    for e in events {
        let decision = decide_with(
            e,
            |uid| store.get(uid),
            |key| {
                store
                    .values()
                    .filter(|b| b.extra.series_key.as_deref() == Some(key))
                    .collect()
            },
            now,
        );
        for c in decision.changes {
            history.push((c.after.uid.clone(), c.action));
            store.insert(c.after.uid.clone(), c.after);
        }
    }
    (store, history)
}

fn seated(uid: &str, who: &[Person]) -> BookingDetails {
    BookingDetails {
        attendees: who.to_vec(),
        extra: DetailExtras {
            seats_per_time_slot: Some(3),
            seats_show_attendees: Some(false),
            ..DetailExtras::default()
        },
        ..BookingDetails::example(uid, "2026-03-10T14:00:00Z")
    }
}

fn cancel(d: BookingDetails) -> BookingEvent {
    BookingEvent::Cancelled {
        details: d,
        reason: Some("can't make it".into()),
        by: None,
        reschedule_requested: false,
    }
}

#[test]
fn a_second_seat_joins_and_a_cancelled_seat_leaves_the_booking_confirmed_in_every_order() {
    let (x, y) = (person("X", "x@example.com"), person("Y", "y@example.com"));
    let events = [
        BookingEvent::Created(seated("S", std::slice::from_ref(&x))),
        BookingEvent::Created(seated("S", std::slice::from_ref(&y))),
        cancel(seated("S", std::slice::from_ref(&y))),
    ];
    for order in [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ] {
        let (store, _) = run(&order.map(|i| events[i].clone()));
        let s = &store["S"];
        assert_eq!(s.status, Status::Confirmed, "{order:?}");
        let active: Vec<_> = s
            .active_attendees()
            .filter_map(|p| p.email.clone())
            .collect();
        assert_eq!(active, ["x@example.com"], "{order:?}");
        assert_eq!(
            s.attendee_state("Y@example.com").and_then(|st| st.seat),
            Some(SeatState::Cancelled),
            "{order:?}"
        );
    }
    let (_, history) = run(&events);
    assert_eq!(
        history.iter().map(|h| h.1.as_str()).collect::<Vec<_>>(),
        ["created", "seat_added", "seat_cancelled"]
    );
}

/// An email shows the booking as its recipient may see it; the booking is only copied when
/// something is left out.
#[test]
fn an_email_copies_the_booking_only_when_it_leaves_someone_out() {
    use std::borrow::Cow;
    let (x, y) = (person("X", "x@example.com"), person("Y", "y@example.com"));
    let (store, _) = run(&[
        BookingEvent::Created(seated("S", std::slice::from_ref(&x))),
        BookingEvent::Created(seated("S", std::slice::from_ref(&y))),
        cancel(seated("S", std::slice::from_ref(&y))),
    ]);
    let s = &store["S"];
    let emails = |b: &Booking| -> Vec<String> {
        b.attendees.iter().filter_map(|p| p.email.clone()).collect()
    };
    // Y's seat is cancelled: the organizer sees X only; X sees themself only; Y sees their own.
    for (recipient, shown) in [
        (None, ["x@example.com"]),
        (Some("X@example.com"), ["x@example.com"]),
        (Some("y@example.com"), ["y@example.com"]),
    ] {
        let seen = s.seen_by(recipient);
        assert!(matches!(seen, Cow::Owned(_)), "{recipient:?}");
        assert_eq!(emails(&seen), shown, "{recipient:?}");
        assert_eq!(*seen, s.as_seen_by(recipient));
    }
    // An unseated booking with every attendee shown is borrowed as it is.
    let (plain, _) = run(&[BookingEvent::Created(BookingDetails {
        attendees: vec![x.clone(), y.clone()],
        ..BookingDetails::example("P", "2026-03-10T14:00:00Z")
    })]);
    let p = &plain["P"];
    for recipient in [None, Some("x@example.com"), Some("someone@example.com")] {
        let seen = p.seen_by(recipient);
        assert!(matches!(seen, Cow::Borrowed(_)), "{recipient:?}");
        assert_eq!(emails(&seen), ["x@example.com", "y@example.com"]);
    }
}

#[test]
fn cancelling_the_last_seat_cancels_the_booking() {
    let x = person("X", "x@example.com");
    let (store, _) = run(&[
        BookingEvent::Created(seated("S", std::slice::from_ref(&x))),
        cancel(seated("S", std::slice::from_ref(&x))),
    ]);
    assert_eq!(store["S"].status, Status::Cancelled);
}

#[test]
fn a_seat_that_moves_leaves_the_old_booking_for_the_new_one() {
    let (x, y) = (person("X", "x@example.com"), person("Y", "y@example.com"));
    let mut moved = seated("T", std::slice::from_ref(&y));
    moved.starts_at = ts("2026-03-11T14:00:00Z");
    moved.ends_at = ts("2026-03-11T14:30:00Z");
    let (store, _) = run(&[
        BookingEvent::Created(seated("S", std::slice::from_ref(&x))),
        BookingEvent::Created(seated("S", std::slice::from_ref(&y))),
        BookingEvent::Rescheduled {
            details: moved,
            from: PreviousSlot {
                uid: "S".into(),
                starts_at: None,
                ends_at: None,
            },
        },
    ]);
    assert_eq!(store["S"].status, Status::Confirmed);
    let st = store["S"].attendee_state("y@example.com").unwrap();
    assert_eq!(
        (st.seat, st.moved_to.as_deref()),
        (Some(SeatState::Cancelled), Some("T"))
    );
    assert_eq!(store["T"].status, Status::Confirmed);
    assert_eq!(store["T"].rescheduled_from.as_deref(), Some("S"));
}

fn weekly(n: usize) -> BookingEvent {
    let start = ts("2026-03-02T09:00:00Z")
        .checked_add(jiff::SignedDuration::from_hours(24 * 7 * n as i64))
        .unwrap();
    let mut d = BookingDetails::example(&format!("W{n}"), &start.to_string());
    d.attendees = vec![person("Ann", "ann@example.com")];
    d.organizer = Some(person("Host", "host@example.com"));
    d.event_type_id = Some(7);
    d.extra.recurring_event = Some(RecurringRule {
        freq: 2,
        count: Some(4),
        interval: 1,
    });
    BookingEvent::Created(d)
}

fn cancel_all_from(n: usize) -> BookingEvent {
    let BookingEvent::Created(d) = weekly(n) else {
        unreachable!()
    };
    cancel(d)
}

/// `(uid, status, series linked to W0's?)`, sorted.
fn series_state(store: &HashMap<String, Booking>) -> Vec<(String, Status, bool)> {
    let ids: Vec<_> = store.values().map(|b| b.extra.series_id.clone()).collect();
    let mut out: Vec<_> = store
        .values()
        .map(|b| (b.uid.clone(), b.status, b.extra.series_id == ids[0]))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

proptest! {
    /// Any interleaving of a weekly series' four creates and a cancel-all from the third ends
    /// the same way: the first two confirmed, the last two cancelled, all one series.
    #[test]
    fn any_interleaving_of_a_series_and_its_cancel_all_ends_the_same(
        order in Just((0..5).collect::<Vec<usize>>()).prop_shuffle()
    ) {
        let events: Vec<BookingEvent> = order
            .iter()
            .map(|&i| if i == 4 { cancel_all_from(2) } else { weekly(i) })
            .collect();
        let (store, _) = run(&events);
        let expected: Vec<(String, Status, bool)> = vec![
            ("W0".into(), Status::Confirmed, true),
            ("W1".into(), Status::Confirmed, true),
            ("W2".into(), Status::Cancelled, true),
            ("W3".into(), Status::Cancelled, true),
        ];
        prop_assert_eq!(series_state(&store), expected);
    }
}

#[test]
fn a_single_booking_is_in_no_series_and_a_plain_cancel_cancels_one_occurrence() {
    let (store, _) = run(&[weekly(0), weekly(1)]);
    assert_eq!(store["W0"].extra.series_id.as_deref(), Some("W0"));
    assert_eq!(store["W1"].extra.series_id.as_deref(), Some("W0"));
    let BookingEvent::Created(mut d) = weekly(0) else {
        unreachable!()
    };
    d.uid = "single".into();
    d.extra = DetailExtras::default();
    let (store, _) = run(&[BookingEvent::Created(d)]);
    assert_eq!(store["single"].extra.series_id, None);
}

fn paid_event(uid: &str, with_meta: serde_json::Value) -> BookingDetails {
    BookingDetails {
        metadata: with_meta,
        attendees: vec![person("Pat", "pat@example.com")],
        ..BookingDetails::example(uid, "2026-03-10T14:00:00Z")
    }
}

#[test]
fn a_paid_booking_keeps_its_page_metadata_and_records_the_payment_in_every_order() {
    let client = uuid::Uuid::now_v7();
    let mut initiated = paid_event("P", json!({"client_id": client.to_string(), "page": "x"}));
    initiated.owner = Some(client);
    let events = [
        BookingEvent::PaymentInitiated(initiated),
        BookingEvent::Created(paid_event("P", json!({"videoCallUrl": "https://v/1"}))),
        BookingEvent::Paid {
            details: paid_event("P", json!({})),
            payment: Payment {
                id: Some("42".into()),
                amount: Some(5000),
                currency: Some("EUR".into()),
            },
        },
    ];
    for order in [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ] {
        let (store, _) = run(&order.map(|i| events[i].clone()));
        let p = &store["P"];
        assert_eq!(p.status, Status::Confirmed, "{order:?}");
        assert_eq!(p.client_id, Some(client), "{order:?}");
        assert_eq!(p.metadata["page"], "x", "{order:?}");
        assert_eq!(p.metadata["videoCallUrl"], "https://v/1", "{order:?}");
        assert_eq!(p.extra.payment.as_ref().unwrap().amount, Some(5000));
    }
    let (store, history) = run(&events[..1]);
    assert_eq!(store["P"].status, Status::AwaitingPayment);
    assert_eq!(history[0].1, Action::PaymentInitiated);
}

#[test]
fn a_confirmation_with_empty_fields_erases_nothing() {
    let client = uuid::Uuid::now_v7();
    let mut requested = paid_event("R", json!({"client_id": client.to_string()}));
    requested.notes = Some("gate code 1234".into());
    requested.owner = Some(client);
    let mut confirmed = paid_event("R", json!({"videoCallUrl": "https://v/2"}));
    confirmed.title = String::new();
    let (store, history) = run(&[
        BookingEvent::Requested {
            details: requested,
            from: None,
        },
        BookingEvent::Created(confirmed),
    ]);
    let r = &store["R"];
    assert_eq!(r.status, Status::Confirmed);
    assert_eq!(r.notes.as_deref(), Some("gate code 1234"));
    assert_eq!(r.title, "Intro Call");
    assert_eq!(r.client_id, Some(client));
    assert_eq!(r.metadata["client_id"], client.to_string());
    assert_eq!(history.len(), 2);
}

#[test]
fn no_shows_are_recorded_per_attendee_and_for_the_host_once() {
    let created = BookingEvent::Created(paid_event("N", json!({})));
    let mark = BookingEvent::NoShow {
        uid: "N".into(),
        attendees: vec![NoShowMark {
            email: "Pat@example.com".into(),
            no_show: true,
        }],
        host: None,
    };
    let host = BookingEvent::NoShow {
        uid: "N".into(),
        attendees: Vec::new(),
        host: Some(true),
    };
    let (store, history) = run(&[created, mark.clone(), mark, host]);
    let n = &store["N"];
    assert_eq!(
        n.attendee_state("pat@example.com").unwrap().no_show,
        Some(true)
    );
    assert_eq!(n.extra.host_no_show, Some(true));
    let actions: Vec<_> = history.iter().map(|h| h.1.as_str()).collect();
    assert_eq!(actions, ["created", "no_show_updated", "no_show_updated"]);
}

#[test]
fn a_new_host_or_place_updates_the_booking_and_raises_the_invite_sequence() {
    let base = paid_event("H", json!({}));
    let mut reassigned = base.clone();
    reassigned.organizer = Some(person("New host", "new@example.com"));
    let mut moved = base.clone();
    moved.location = Some("https://video.example.com/new".into());
    moved.meeting_url = moved.location.clone();
    let (store, history) = run(&[
        BookingEvent::Created(base),
        BookingEvent::Reassigned(reassigned.clone()),
        BookingEvent::Reassigned(reassigned),
        BookingEvent::LocationUpdated(moved),
    ]);
    let h = &store["H"];
    assert_eq!(
        h.organizer.as_ref().unwrap().email.as_deref(),
        Some("new@example.com")
    );
    assert_eq!(
        h.meeting_url.as_deref(),
        Some("https://video.example.com/new")
    );
    assert_eq!(h.ical_sequence, 2);
    let actions: Vec<_> = history.iter().map(|h| h.1.as_str()).collect();
    assert_eq!(actions, ["created", "reassigned", "location_updated"]);
}

/// `event` as API v2 shows it: naming its series.
fn from_api(event: BookingEvent, series: &str) -> BookingEvent {
    let BookingEvent::Created(mut d) = event else {
        unreachable!()
    };
    d.extra.recurring_event = None;
    d.extra.recurring_booking_uid = Some(series.into());
    BookingEvent::Created(d)
}

#[test]
fn the_series_id_a_source_names_relinks_every_occurrence_once() {
    let (_, history) = run(&[
        weekly(0),
        weekly(1),
        weekly(2),
        from_api(weekly(1), "rec-1"),
        from_api(weekly(1), "rec-1"),
        from_api(weekly(0), "rec-1"),
    ]);
    let linked: Vec<_> = history
        .iter()
        .filter(|h| h.1 == Action::SeriesLinked)
        .map(|h| h.0.as_str())
        .collect();
    assert_eq!(linked, ["W1", "W0", "W2"], "each once, none again");
    let (store, _) = run(&[
        weekly(0),
        weekly(1),
        from_api(weekly(1), "rec-1"),
        weekly(2),
    ]);
    for uid in ["W0", "W1"] {
        assert_eq!(store[uid].extra.series_id.as_deref(), Some("rec-1"));
    }
    // A later webhook occurrence joins the series it finds by rule: the source's id.
    assert_eq!(store["W2"].extra.series_id.as_deref(), Some("rec-1"));
}

#[test]
fn a_seat_roster_adds_new_seats_and_cancels_missing_ones() {
    let (x, y, z) = (
        person("X", "x@example.com"),
        person("Y", "y@example.com"),
        person("Z", "z@example.com"),
    );
    let roster = |who: &[Person]| {
        let mut d = seated("S", who);
        d.extra = DetailExtras {
            seat_roster: true,
            ..DetailExtras::default()
        };
        BookingEvent::Created(d)
    };
    let (store, history) = run(&[
        BookingEvent::Created(seated("S", std::slice::from_ref(&x))),
        BookingEvent::Created(seated("S", std::slice::from_ref(&y))),
        roster(&[x.clone(), z.clone()]),
        roster(&[x.clone(), z.clone()]),
    ]);
    let s = &store["S"];
    assert_eq!(s.status, Status::Confirmed);
    assert!(s.seat_cancelled("y@example.com"));
    assert!(!s.seat_cancelled("z@example.com"));
    let actions: Vec<_> = history.iter().map(|h| h.1.as_str()).collect();
    assert_eq!(
        actions,
        ["created", "seat_added", "seat_added", "seat_cancelled"]
    );
    // The webhook's own cancel of that seat, after: nothing more.
    let (_, history) = run(&[
        BookingEvent::Created(seated("S", &[x.clone(), y.clone()])),
        roster(std::slice::from_ref(&x)),
        cancel(seated("S", std::slice::from_ref(&y))),
    ]);
    assert_eq!(history.len(), 2, "{history:?}");
}

#[test]
fn a_showed_up_mark_on_someone_never_marked_changes_nothing() {
    let created = BookingEvent::Created(paid_event("N", json!({})));
    let marks = |no_show: bool, host: bool| BookingEvent::NoShow {
        uid: "N".into(),
        attendees: vec![NoShowMark {
            email: "pat@example.com".into(),
            no_show,
        }],
        host: Some(host),
    };
    let (store, history) = run(&[
        created,
        marks(false, false),
        marks(true, false),
        marks(true, false),
        marks(false, false),
    ]);
    let actions: Vec<_> = history.iter().map(|h| h.1.as_str()).collect();
    assert_eq!(actions, ["created", "no_show_updated", "no_show_updated"]);
    let n = &store["N"];
    assert_eq!(
        n.attendee_state("pat@example.com").unwrap().no_show,
        Some(false)
    );
    assert_eq!(n.extra.host_no_show, None);
}
