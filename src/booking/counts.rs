//! What an audit entry counts as in the business's numbers (issue 14: the dashboard's weekly
//! bookings, cancellations, reschedules and no-shows), decided once, when the entry is written.
//!
//! The rule is a pure function of the entry's action, old values and new values
//! ([`counts_as`]); the store keeps its answer in `booking_history.counts_as` (migration 0017),
//! so the weekly numbers count an index and never read an entry's JSON. Migration 0017 fills the
//! column for entries written before it with the same rule in SQL, on each backend; a test
//! compares the two on real entries.
//!
//! The rule:
//! * [`CountsAs::Booking`]: a new booking recorded (an insert: `created`, `requested`,
//!   `payment_initiated` or `paid` with no old values), unless it is the new booking of a
//!   reschedule (its `rescheduled_from` is set): that move is counted once, as a reschedule;
//! * [`CountsAs::Cancellation`]: `cancelled` and `series_cancelled` (a whole booking; a seat given
//!   up in a seated booking, `seat_cancelled`, is not one);
//! * [`CountsAs::Reschedule`]: `rescheduled` (the old side of each move, recorded once);
//! * [`CountsAs::NoShow`]: a `no_show_updated` entry that sets a mark to true, the host's
//!   (`host_no_show`) or an attendee's (`attendee_states.<email>.no_show`), that was not true
//!   before it. Taking a mark back is not one, even when another attendee's mark stays set.
//! * anything else counts as nothing (`None`).

use serde_json::Value;

use super::HistoryEntry;

/// What an audit entry counts as (see the module's rule). Stored as [`CountsAs::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CountsAs {
    Booking,
    Cancellation,
    Reschedule,
    NoShow,
}

impl CountsAs {
    pub const ALL: [CountsAs; 4] = [
        CountsAs::Booking,
        CountsAs::Cancellation,
        CountsAs::Reschedule,
        CountsAs::NoShow,
    ];

    /// The stored name (the values migration 0017's CHECK allows).
    pub fn as_str(self) -> &'static str {
        match self {
            CountsAs::Booking => "booking",
            CountsAs::Cancellation => "cancellation",
            CountsAs::Reschedule => "reschedule",
            CountsAs::NoShow => "no_show",
        }
    }

    /// The stored name back; `None` for anything else.
    pub fn parse(s: &str) -> Option<CountsAs> {
        CountsAs::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// What an entry with this action, old values and new values counts as (see the module's rule).
pub fn counts_as(
    action: &str,
    old_values: Option<&Value>,
    new_values: Option<&Value>,
) -> Option<CountsAs> {
    match action {
        "created" | "requested" | "payment_initiated" | "paid" => {
            let moved_here = new_values
                .and_then(|v| v.get("rescheduled_from"))
                .is_some_and(|v| !v.is_null());
            (old_values.is_none() && !moved_here).then_some(CountsAs::Booking)
        }
        "cancelled" | "series_cancelled" => Some(CountsAs::Cancellation),
        "rescheduled" => Some(CountsAs::Reschedule),
        "no_show_updated" => sets_a_mark(old_values, new_values).then_some(CountsAs::NoShow),
        _ => None,
    }
}

/// Whether `new` holds a no-show mark set to true that `old` does not hold as true.
fn sets_a_mark(old: Option<&Value>, new: Option<&Value>) -> bool {
    fn is_true(v: Option<&Value>) -> bool {
        v == Some(&Value::Bool(true))
    }
    fn host(v: Option<&Value>) -> Option<&Value> {
        v?.get("host_no_show")
    }
    fn states(v: Option<&Value>) -> Option<&serde_json::Map<String, Value>> {
        v?.get("attendee_states")?.as_object()
    }
    if is_true(host(new)) && !is_true(host(old)) {
        return true;
    }
    let Some(now) = states(new) else {
        return false;
    };
    now.iter().any(|(email, state)| {
        is_true(state.get("no_show"))
            && !is_true(states(old).and_then(|o| o.get(email)?.get("no_show")))
    })
}

impl HistoryEntry {
    /// What this entry counts as in the numbers (see [`counts_as`]).
    pub fn counts_as(&self) -> Option<CountsAs> {
        counts_as(
            &self.action,
            self.old_values.as_ref(),
            self.new_values.as_ref(),
        )
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;
    use serde_json::json;

    use super::*;
    use crate::booking::{Booking, BookingDetails, BookingEvent, NoShowMark, PreviousSlot, decide};

    fn now() -> Timestamp {
        "2026-03-01T00:00:00Z".parse().unwrap()
    }

    /// Applies `events` in order to an in-memory store, as the ingest does, and returns what each
    /// audit entry counts as, with its action.
    fn entries(events: &[BookingEvent]) -> Vec<(String, Option<CountsAs>)> {
        let mut store: std::collections::HashMap<String, Booking> = Default::default();
        let mut out = Vec::new();
        for e in events {
            for c in decide(e, |uid| store.get(uid), now()).changes {
                let h = c.history(None, now());
                out.push((h.action.clone(), h.counts_as()));
                store.insert(c.after.uid.clone(), c.after);
            }
        }
        out
    }

    fn created(uid: &str) -> BookingEvent {
        BookingEvent::Created(BookingDetails::example(uid, "2026-03-10T14:00:00Z"))
    }

    fn marks(uid: &str, marks: &[(&str, bool)], host: Option<bool>) -> BookingEvent {
        BookingEvent::NoShow {
            uid: uid.into(),
            attendees: marks
                .iter()
                .map(|(email, no_show)| NoShowMark {
                    email: (*email).into(),
                    no_show: *no_show,
                })
                .collect(),
            host,
        }
    }

    fn pairs(list: &[(&str, Option<CountsAs>)]) -> Vec<(String, Option<CountsAs>)> {
        list.iter().map(|(a, c)| ((*a).to_owned(), *c)).collect()
    }

    #[test]
    fn a_new_booking_counts_but_the_new_side_of_a_reschedule_is_the_reschedule() {
        let moved = BookingEvent::Rescheduled {
            details: BookingDetails::example("B", "2026-03-12T15:00:00Z"),
            from: PreviousSlot {
                uid: "A".into(),
                starts_at: None,
                ends_at: None,
            },
        };
        let cancelled = BookingEvent::Cancelled {
            details: BookingDetails::example("B", "2026-03-12T15:00:00Z"),
            reason: None,
            by: None,
            reschedule_requested: false,
        };
        use CountsAs::*;
        assert_eq!(
            entries(&[created("A"), moved, cancelled]),
            pairs(&[
                ("created", Some(Booking)),
                ("created", None),
                ("rescheduled", Some(Reschedule)),
                ("cancelled", Some(Cancellation)),
            ])
        );
    }

    #[test]
    fn a_request_and_a_payment_count_once_when_they_insert() {
        let d = BookingDetails::example("P", "2026-03-10T14:00:00Z");
        let events = [
            BookingEvent::PaymentInitiated(d.clone()),
            BookingEvent::Paid {
                details: d,
                payment: Default::default(),
            },
            BookingEvent::Requested {
                details: BookingDetails::example("R", "2026-03-11T14:00:00Z"),
                from: None,
            },
        ];
        use CountsAs::*;
        assert_eq!(
            entries(&events),
            pairs(&[
                ("payment_initiated", Some(Booking)),
                ("paid", None),
                ("requested", Some(Booking)),
            ])
        );
    }

    #[test]
    fn a_mark_set_counts_and_a_mark_taken_back_does_not_even_beside_one_still_set() {
        let events = [
            created("N"),
            marks("N", &[("pat@example.com", true)], None),
            marks("N", &[("Gia@example.com", true)], None),
            // Gia's mark back while Pat's stays: no no-show.
            marks("N", &[("gia@example.com", false)], None),
            marks("N", &[], Some(true)),
            marks("N", &[], Some(false)),
            // The sync states every mark: Pat's stays, Gia's is set again.
            marks(
                "N",
                &[("pat@example.com", true), ("gia@example.com", true)],
                Some(false),
            ),
        ];
        use CountsAs::*;
        assert_eq!(
            entries(&events),
            pairs(&[
                ("created", Some(Booking)),
                ("no_show_updated", Some(NoShow)),
                ("no_show_updated", Some(NoShow)),
                ("no_show_updated", None),
                ("no_show_updated", Some(NoShow)),
                ("no_show_updated", None),
                ("no_show_updated", Some(NoShow)),
            ])
        );
    }

    #[test]
    fn the_rule_reads_only_action_and_values_as_stored() {
        let c = |action: &str, old: Option<Value>, new: Option<Value>| {
            counts_as(action, old.as_ref(), new.as_ref())
        };
        assert_eq!(c("created", None, None), Some(CountsAs::Booking));
        assert_eq!(
            c("created", None, Some(json!({"rescheduled_from": null}))),
            Some(CountsAs::Booking)
        );
        assert_eq!(
            c("created", None, Some(json!({"rescheduled_from": "A"}))),
            None
        );
        assert_eq!(c("created", Some(json!({})), Some(json!({}))), None);
        assert_eq!(
            c("series_cancelled", None, None),
            Some(CountsAs::Cancellation)
        );
        for nothing in [
            "seat_cancelled",
            "seat_added",
            "reschedule_requested",
            "linked",
            "updated",
            "confirmed",
            "owner_cleared",
        ] {
            assert_eq!(c(nothing, None, Some(json!({}))), None, "{nothing}");
        }
        assert_eq!(
            c("no_show_updated", None, Some(json!({"host_no_show": true}))),
            Some(CountsAs::NoShow)
        );
        assert_eq!(
            c(
                "no_show_updated",
                Some(json!({"host_no_show": true})),
                Some(json!({"host_no_show": true}))
            ),
            None
        );
        // Not a boolean true, or not the shape calbook writes: no mark.
        for new in [
            json!({"host_no_show": "true"}),
            json!({"host_no_show": 1}),
            json!({"attendee_states": [{"no_show": true}]}),
            json!({"attendee_states": {"a@example.com": true}}),
            json!([]),
        ] {
            assert_eq!(c("no_show_updated", None, Some(new.clone())), None, "{new}");
        }
        for stored in CountsAs::ALL {
            assert_eq!(CountsAs::parse(stored.as_str()), Some(stored));
        }
        assert_eq!(CountsAs::parse("b"), None);
    }
}
