//! The state machine: given the stored bookings an event touches, which changes it makes.
//!
//! | event | no booking yet | pending / awaiting_payment | confirmed | reschedule_requested | terminal |
//! |---|---|---|---|---|---|
//! | created | insert confirmed (an occurrence of a series: linked, see `series`) | confirm, nothing erased | fill gaps (`updated`) | fill gaps | — |
//! | created, seated | insert confirmed | confirm | `seat_added` for a new attendee | `seat_added` | `seat_added` reopens a booking emptied seat by seat |
//! | requested | insert pending | — | — | — | — |
//! | payment initiated | insert awaiting_payment | fill gaps | fill gaps | fill gaps | — |
//! | paid | insert confirmed, paid | `paid`, confirmed | `paid` | `paid` | `paid` (status kept) |
//! | rescheduled (new uid) | insert confirmed, linked from old | link | link | link | link |
//! | rescheduled (old uid) | insert as `rescheduled` | rescheduled | rescheduled | rescheduled | rescheduled (unless already) |
//! | rescheduled, one seat of a seated booking | the seat moves (see `seats`) | | | | |
//! | cancelled | insert cancelled | cancelled | cancelled | cancelled | — |
//! | cancelled, seated | `seat_cancelled` (see `seats`) | | | | |
//! | cancelled with `recurringEvent` (cancel all) | cancelled + every later occurrence `series_cancelled` | | | | |
//! | cancelled + requestReschedule | insert reschedule_requested | reschedule_requested | reschedule_requested | — | — |
//! | rejected | insert rejected | rejected | — | — | — |
//! | meeting started / ended | — (unknown) | history entry once | history entry once | — | — |
//! | no-show | — (unknown) | `no_show_updated` when a mark changes | same | same | same |
//! | reassigned / location updated | insert confirmed | `reassigned` / `location_updated`, sequence + 1 | same | same | — |
//! | any, naming its series (`recurringBookingUid`) | — | `series_linked` to that id, with the occurrences calbook had linked under its guess | same | same | same |
//!
//! Events never erase: an absent, null or empty field keeps the stored value, and metadata
//! merges key by key (`merge`).

use jiff::Timestamp;
use uuid::Uuid;

use super::{
    Booking, BookingDetails, BookingEvent, HistoryEntry, MeetingPhase, PreviousSlot, Status,
};

/// What an audit entry says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Created,
    Requested,
    Confirmed,
    Rejected,
    Cancelled,
    RescheduleRequested,
    /// This booking moved to a new one (`rescheduled_to`).
    Rescheduled,
    /// A booking already known learnt which booking it was rescheduled from.
    Linked,
    MeetingStarted,
    MeetingEnded,
    /// A seated booking gained an attendee.
    SeatAdded,
    /// Attendees of a seated booking cancelled (or moved) their seats; the booking stays.
    SeatCancelled,
    /// Recorded from `BOOKING_PAYMENT_INITIATED`: awaiting payment.
    PaymentInitiated,
    /// `BOOKING_PAID` recorded the payment (and confirmed a booking awaiting it).
    Paid,
    NoShowUpdated,
    /// A new host (`BOOKING_REASSIGNED`).
    Reassigned,
    /// A new place or meeting link (`BOOKING_LOCATION_UPDATED`).
    LocationUpdated,
    /// A later event filled in what the booking did not know yet (metadata, notes, owner).
    Updated,
    /// Cancelled by a "cancel all remaining" of its series, named by another occurrence: that
    /// occurrence's one email covers it.
    SeriesCancelled,
    /// The source named the series (`recurringBookingUid`): the occurrence takes that id in place
    /// of the one calbook guessed.
    SeriesLinked,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Requested => "requested",
            Action::Confirmed => "confirmed",
            Action::Rejected => "rejected",
            Action::Cancelled => "cancelled",
            Action::RescheduleRequested => "reschedule_requested",
            Action::Rescheduled => "rescheduled",
            Action::Linked => "linked",
            Action::MeetingStarted => "meeting_started",
            Action::MeetingEnded => "meeting_ended",
            Action::SeatAdded => "seat_added",
            Action::SeatCancelled => "seat_cancelled",
            Action::PaymentInitiated => "payment_initiated",
            Action::Paid => "paid",
            Action::NoShowUpdated => "no_show_updated",
            Action::Reassigned => "reassigned",
            Action::LocationUpdated => "location_updated",
            Action::Updated => "updated",
            Action::SeriesCancelled => "series_cancelled",
            Action::SeriesLinked => "series_linked",
        }
    }
}

/// One booking written: inserted (`before` is `None`) or updated.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub action: Action,
    pub before: Option<Booking>,
    pub after: Booking,
}

impl Change {
    /// The audit entry for this change: the whole snapshot for an insert, and only the fields
    /// that changed for an update.
    pub fn history(&self, delivery_id: Option<Uuid>, now: Timestamp) -> HistoryEntry {
        let new = self.after.audit_snapshot();
        let (old_values, new_values) = match &self.before {
            None => (None, serde_json::Value::Object(new)),
            Some(before) => {
                let old = before.audit_snapshot();
                let mut o = serde_json::Map::new();
                let mut n = serde_json::Map::new();
                for (k, v) in new {
                    let prev = old.get(&k).cloned().unwrap_or(serde_json::Value::Null);
                    if prev != v {
                        o.insert(k.clone(), prev);
                        n.insert(k, v);
                    }
                }
                (
                    Some(serde_json::Value::Object(o)),
                    serde_json::Value::Object(n),
                )
            }
        };
        HistoryEntry {
            id: Uuid::now_v7(),
            booking_id: self.after.id,
            action: self.action.as_str().to_owned(),
            old_values,
            new_values: Some(new_values),
            delivery_id,
            created_at: now,
            source: super::Source::Webhook,
        }
    }
}

/// The outcome of one event: the changes to write, or why there are none.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decision {
    pub changes: Vec<Change>,
    /// Why nothing changed, when nothing did.
    pub note: Option<String>,
}

/// Decides what `event` changes, given the stored bookings (`lookup` by Cal.com uid). Events
/// about recurring series also need the other occurrences: see [`decide_with`].
pub fn decide<'a>(
    event: &BookingEvent,
    lookup: impl Fn(&str) -> Option<&'a Booking>,
    now: Timestamp,
) -> Decision {
    decide_with(event, lookup, |_| Vec::new(), now)
}

/// [`decide`], with `series` listing the stored bookings that have a given series key
/// (see [`crate::booking::extras::series_key`]), so that occurrences of one recurring series are
/// linked and a "cancel all remaining" reaches every later one.
pub fn decide_with<'a>(
    event: &BookingEvent,
    lookup: impl Fn(&str) -> Option<&'a Booking>,
    series: impl Fn(&str) -> Vec<&'a Booking>,
    now: Timestamp,
) -> Decision {
    let mut changes = Vec::new();
    let mut notes = Vec::new();
    match event {
        BookingEvent::Created(d) => match lookup(&d.uid) {
            None => changes.extend(series::insert_occurrence(d, &series, now)),
            Some(b) if matches!(b.status, Status::Pending | Status::AwaitingPayment) => {
                let mut after = refreshed(b, d, now);
                after.status = Status::Confirmed;
                changes.push(update(Action::Confirmed, b, after));
            }
            Some(b)
                if (d.extra.seated() || b.seated())
                    && (!b.status.is_terminal() || seats::emptied(b)) =>
            {
                let (added, cancelled) = if d.extra.seat_roster {
                    seats::roster(b, d, now)
                } else {
                    (seats::add(b, d, now), None)
                };
                if added.is_none() && cancelled.is_none() {
                    notes.push("every seat in it is already recorded".to_owned());
                }
                changes.extend(added);
                changes.extend(cancelled);
            }
            Some(b) => match merge::learnt(b, d, now) {
                Some(c) => changes.push(c),
                None => notes.push(format!("booking is already {}", b.status)),
            },
        },
        BookingEvent::Requested { details, from } => {
            match lookup(&details.uid) {
                None => {
                    let mut c = insert(details, Status::Pending, Action::Requested, now);
                    c.after.rescheduled_from = from.as_ref().map(|f| f.uid.clone());
                    changes.push(c);
                }
                Some(b) => notes.push(format!("booking is already {}", b.status)),
            }
            if let Some(from) = from.as_ref().filter(|f| f.uid != details.uid) {
                changes.extend(mark_rescheduled(lookup(&from.uid), from, details, now));
            }
        }
        BookingEvent::Rescheduled { details, from } if from.uid == details.uid => {
            // Seated events can move a booking without a new uid: a time change in place.
            match lookup(&details.uid) {
                Some(b) if !b.status.is_terminal() => {
                    let mut after = refreshed(b, details, now);
                    // A seat list names only the seat concerned: keep everyone's.
                    after.attendees = seats::union(&b.attendees, &details.attendees);
                    if after.starts_at != b.starts_at || after.ends_at != b.ends_at {
                        changes.push(update(Action::Rescheduled, b, after));
                    } else {
                        notes.push("time unchanged".to_owned());
                    }
                }
                Some(b) => notes.push(format!("booking is already {}", b.status)),
                None => changes.push(insert(details, Status::Confirmed, Action::Created, now)),
            }
        }
        BookingEvent::Rescheduled { details, from }
            if details.extra.seated() && seats::moves_one_seat(lookup(&from.uid), details) =>
        {
            changes.extend(seats::move_seat(
                lookup(&from.uid),
                lookup(&details.uid),
                from,
                details,
                now,
            ));
        }
        BookingEvent::Rescheduled { details, from } => {
            match lookup(&details.uid) {
                None => {
                    let mut c = insert(details, Status::Confirmed, Action::Created, now);
                    c.after.rescheduled_from = Some(from.uid.clone());
                    changes.push(c);
                }
                Some(b) if b.rescheduled_from.is_none() => {
                    let mut after = b.clone();
                    after.rescheduled_from = Some(from.uid.clone());
                    after.updated_at = now;
                    changes.push(update(Action::Linked, b, after));
                }
                Some(_) => notes.push("new booking already recorded".to_owned()),
            }
            changes.extend(mark_rescheduled(lookup(&from.uid), from, details, now));
        }
        BookingEvent::Cancelled {
            details,
            reason,
            by,
            reschedule_requested: false,
        } if seats::is_seat_cancel(lookup(&details.uid), details) => {
            match seats::cancel(lookup(&details.uid), details, reason, now) {
                Some(c) => changes.push(c),
                None => notes.push("those seats are already cancelled".to_owned()),
            }
            let _ = by;
        }
        BookingEvent::Cancelled {
            details,
            reason,
            by,
            reschedule_requested,
        } => {
            let (status, action) = if *reschedule_requested {
                (Status::RescheduleRequested, Action::RescheduleRequested)
            } else {
                (Status::Cancelled, Action::Cancelled)
            };
            let cancel_all = !*reschedule_requested && details.extra.recurring_event.is_some();
            let apply = |b: &mut Booking| {
                b.status = status;
                b.cancellation_reason = reason.clone().or(b.cancellation_reason.take());
                b.cancelled_by = by.clone().or(b.cancelled_by.take());
                b.ical_sequence = b.ical_sequence.max(details.ical_sequence.unwrap_or(0));
                if cancel_all {
                    b.extra.series_cancelled_from = Some(b.starts_at);
                }
            };
            let named = match lookup(&details.uid) {
                None => {
                    let mut c = insert(details, status, action, now);
                    series::link(&mut c.after, &series);
                    apply(&mut c.after);
                    changes.push(c);
                    changes.last().map(|c| c.after.clone())
                }
                Some(b) if !b.status.is_terminal() && b.status != status => {
                    let mut after = b.clone();
                    apply(&mut after);
                    after.updated_at = now;
                    changes.push(update(action, b, after));
                    changes.last().map(|c| c.after.clone())
                }
                Some(b) => {
                    notes.push(format!("booking is already {}", b.status));
                    (cancel_all && b.status == Status::Cancelled).then(|| b.clone())
                }
            };
            if cancel_all && let Some(named) = named {
                changes.extend(series::cancel_later(&named, &series, now));
            }
        }
        BookingEvent::Rejected { details, reason } => match lookup(&details.uid) {
            None => {
                let mut c = insert(details, Status::Rejected, Action::Rejected, now);
                c.after.rejection_reason = reason.clone();
                changes.push(c);
            }
            Some(b) if b.status == Status::Pending => {
                let mut after = b.clone();
                after.status = Status::Rejected;
                after.rejection_reason = reason.clone();
                after.updated_at = now;
                changes.push(update(Action::Rejected, b, after));
            }
            Some(b) => notes.push(format!("booking is already {}", b.status)),
        },
        BookingEvent::Meeting { uid, phase, at } => match lookup(uid) {
            None => notes.push("unknown booking".to_owned()),
            Some(b) if b.status.is_terminal() => notes.push(format!("booking is {}", b.status)),
            Some(b) => {
                let mut after = b.clone();
                let (slot, action) = match phase {
                    MeetingPhase::Started => {
                        (&mut after.meeting_started_at, Action::MeetingStarted)
                    }
                    MeetingPhase::Ended => (&mut after.meeting_ended_at, Action::MeetingEnded),
                };
                if slot.is_some() {
                    notes.push("meeting event already recorded".to_owned());
                } else {
                    *slot = Some(*at);
                    after.updated_at = now;
                    changes.push(update(action, b, after));
                }
            }
        },
        BookingEvent::PaymentInitiated(d) => match lookup(&d.uid) {
            None => changes.push(insert(
                d,
                Status::AwaitingPayment,
                Action::PaymentInitiated,
                now,
            )),
            Some(b) => match merge::learnt(b, d, now) {
                Some(c) => changes.push(c),
                None => notes.push(format!("booking is already {}", b.status)),
            },
        },
        BookingEvent::Paid { details, payment } => {
            match more::paid(lookup(&details.uid), details, payment, now) {
                Some(c) => changes.push(c),
                None => notes.push("payment already recorded".to_owned()),
            }
        }
        BookingEvent::NoShow {
            uid,
            attendees,
            host,
        } => match lookup(uid) {
            None => notes.push("unknown booking".to_owned()),
            Some(b) => match more::no_show(b, attendees, *host, now) {
                Some(c) => changes.push(c),
                None => notes.push("no-show marks unchanged".to_owned()),
            },
        },
        BookingEvent::Reassigned(d) | BookingEvent::LocationUpdated(d) => {
            let action = if matches!(event, BookingEvent::Reassigned(_)) {
                Action::Reassigned
            } else {
                Action::LocationUpdated
            };
            match lookup(&d.uid) {
                None => changes.push(insert(d, Status::Confirmed, Action::Created, now)),
                Some(b) if b.status.is_terminal() => notes.push(format!("booking is {}", b.status)),
                Some(b) => match more::moved_details(b, d, action, now) {
                    Some(c) => changes.push(c),
                    None => notes.push("nothing changed".to_owned()),
                },
            }
        }
    }
    if let Some(d) = event.details() {
        series::adopt_id(d, &mut changes, &lookup, &series, now);
    }
    Decision {
        note: (changes.is_empty() && !notes.is_empty()).then(|| notes.join("; ")),
        changes,
    }
}

pub(super) fn insert(d: &BookingDetails, status: Status, action: Action, now: Timestamp) -> Change {
    Change {
        action,
        before: None,
        after: Booking::from_details(d, status, now),
    }
}

pub(super) fn update(action: Action, before: &Booking, after: Booking) -> Change {
    Change {
        action,
        before: Some(before.clone()),
        after,
    }
}

use merge::refreshed;

/// The old side of a reschedule: mark it `rescheduled` → `new`. When its own creation never
/// arrived, record it from the reschedule's `rescheduleUid` / `rescheduleStartTime` /
/// `rescheduleEndTime`, so that a late `BOOKING_CREATED` for it changes nothing.
fn mark_rescheduled(
    old: Option<&Booking>,
    from: &PreviousSlot,
    new: &BookingDetails,
    now: Timestamp,
) -> Option<Change> {
    match old {
        None => {
            let mut b = Booking::from_details(new, Status::Rescheduled, now);
            b.uid = from.uid.clone();
            b.calcom_id = None;
            // Without the old times (older Cal.com versions omit them) keep the new ones: the
            // booking is marked rescheduled either way, and its row says which uid it moved to.
            let length = new.ends_at.duration_since(new.starts_at);
            b.starts_at = from.starts_at.unwrap_or(new.starts_at);
            b.ends_at = from
                .ends_at
                .or_else(|| b.starts_at.checked_add(length).ok())
                .unwrap_or(new.ends_at);
            b.ical_sequence = (b.ical_sequence - 1).max(0);
            b.rescheduled_to = Some(new.uid.clone());
            Some(Change {
                action: Action::Rescheduled,
                before: None,
                after: b,
            })
        }
        Some(b) if b.status == Status::Rescheduled && b.rescheduled_to.is_some() => None,
        Some(b) => {
            let mut after = b.clone();
            after.status = Status::Rescheduled;
            after.rescheduled_to = Some(new.uid.clone());
            after.updated_at = now;
            Some(update(Action::Rescheduled, b, after))
        }
    }
}

mod merge;
mod more;
mod seats;
mod series;

#[cfg(test)]
mod shape_tests;
#[cfg(test)]
mod tests;
