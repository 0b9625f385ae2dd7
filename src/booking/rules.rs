//! The state machine: given the stored bookings an event touches, which changes it makes.
//!
//! | event | no booking yet | pending | confirmed | reschedule_requested | terminal |
//! |---|---|---|---|---|---|
//! | created | insert confirmed | confirm | — | — | — |
//! | requested | insert pending | — | — | — | — |
//! | rescheduled (new uid) | insert confirmed, linked from old | link | link | link | link |
//! | rescheduled (old uid) | insert as `rescheduled` | rescheduled | rescheduled | rescheduled | rescheduled (unless already) |
//! | cancelled | insert cancelled | cancelled | cancelled | cancelled | — |
//! | cancelled + requestReschedule | insert reschedule_requested | reschedule_requested | reschedule_requested | — | — |
//! | rejected | insert rejected | rejected | — | — | — |
//! | meeting started / ended | — (unknown) | history entry once | history entry once | — | — |

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

/// Decides what `event` changes, given the stored bookings (`lookup` by Cal.com uid).
pub fn decide<'a>(
    event: &BookingEvent,
    lookup: impl Fn(&str) -> Option<&'a Booking>,
    now: Timestamp,
) -> Decision {
    let mut changes = Vec::new();
    let mut notes = Vec::new();
    match event {
        BookingEvent::Created(d) => match lookup(&d.uid) {
            None => changes.push(insert(d, Status::Confirmed, Action::Created, now)),
            Some(b) if b.status == Status::Pending => {
                let mut after = refreshed(b, d, now);
                after.status = Status::Confirmed;
                changes.push(update(Action::Confirmed, b, after));
            }
            Some(b) => notes.push(format!("booking is already {}", b.status)),
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
                    let after = refreshed(b, details, now);
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
            reschedule_requested,
        } => {
            let (status, action) = if *reschedule_requested {
                (Status::RescheduleRequested, Action::RescheduleRequested)
            } else {
                (Status::Cancelled, Action::Cancelled)
            };
            let apply = |b: &mut Booking| {
                b.status = status;
                b.cancellation_reason = reason.clone();
                b.cancelled_by = by.clone();
                b.ical_sequence = b.ical_sequence.max(details.ical_sequence.unwrap_or(0));
            };
            match lookup(&details.uid) {
                None => {
                    let mut c = insert(details, status, action, now);
                    apply(&mut c.after);
                    changes.push(c);
                }
                Some(b) if !b.status.is_terminal() && b.status != status => {
                    let mut after = b.clone();
                    apply(&mut after);
                    after.updated_at = now;
                    changes.push(update(action, b, after));
                }
                Some(b) => notes.push(format!("booking is already {}", b.status)),
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
    }
    Decision {
        note: (changes.is_empty() && !notes.is_empty()).then(|| notes.join("; ")),
        changes,
    }
}

fn insert(d: &BookingDetails, status: Status, action: Action, now: Timestamp) -> Change {
    Change {
        action,
        before: None,
        after: Booking::from_details(d, status, now),
    }
}

fn update(action: Action, before: &Booking, after: Booking) -> Change {
    Change {
        action,
        before: Some(before.clone()),
        after,
    }
}

/// `b` with the descriptive fields of `d` (times, people, place), keeping status and links.
fn refreshed(b: &Booking, d: &BookingDetails, now: Timestamp) -> Booking {
    let fresh = Booking::from_details(d, b.status, now);
    Booking {
        id: b.id,
        client_id: b.client_id.or(fresh.client_id),
        status: b.status,
        ical_sequence: b.ical_sequence.max(fresh.ical_sequence),
        rescheduled_from: b.rescheduled_from.clone(),
        rescheduled_to: b.rescheduled_to.clone(),
        cancellation_reason: b.cancellation_reason.clone(),
        cancelled_by: b.cancelled_by.clone(),
        rejection_reason: b.rejection_reason.clone(),
        meeting_started_at: b.meeting_started_at,
        meeting_ended_at: b.meeting_ended_at,
        created_at: b.created_at,
        ..fresh
    }
}

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

#[cfg(test)]
mod tests;
