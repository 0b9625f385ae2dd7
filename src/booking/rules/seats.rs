//! Seated events (`seatsPerTimeSlot`): one booking, many attendees, each with their own seat.
//!
//! Cal.com's events about a seat name the booking's uid and, in `attendees`, only the seat
//! concerned [SRC `packages/features/bookings/lib/handleSeats/handleSeats.ts@00044803`
//! (`BOOKING_CREATED` with the existing booking's uid for a new seat) and
//! `handleSeats/cancel/cancelAttendeeSeat.ts@00b4c4ee` (`BOOKING_CANCELLED`, `evt.attendees` =
//! the cancelled attendee only, the booking stays accepted)].
//!
//! | event on a seated booking | effect |
//! |---|---|
//! | created, attendee not seated yet | `seat_added`; the booking's other seats untouched |
//! | cancelled, others still seated | `seat_cancelled` for the named attendees; stays confirmed |
//! | cancelled, naming every seat left | `seat_cancelled`, and the booking is `cancelled` |
//! | created, booking emptied seat by seat | the seat is added and the booking confirmed again |
//! | cancelled, booking unknown | recorded with that seat cancelled (later seats join) |
//! | rescheduled to another uid, others stay | `seat_cancelled` (moved) on the old, seat on the new |
//!
//! A cancelled seat is final for that booking: a late `BOOKING_CREATED` for it changes nothing.
//! A booking whose seats were all cancelled one by one is `cancelled`, but reopens when another
//! attendee's seat arrives (Cal.com sends the same body for the last seat's cancel as for a seat's
//! cancel, and a seat's creation may arrive after another seat's cancellation), so every arrival
//! order ends the same way. A booking cancelled as a whole (by the host) does not reopen.

use jiff::Timestamp;

use super::{Action, Booking, BookingDetails, Change, PreviousSlot, Status, insert, update};
use crate::booking::extras::email_key;
use crate::booking::{AttendeeState, Person, SeatState};

/// `old`'s attendees, then those of `new` not among them (matched by email).
pub(super) fn union(old: &[Person], new: &[Person]) -> Vec<Person> {
    let mut out = old.to_vec();
    for p in new {
        let known = p.email.as_deref().is_some_and(|e| {
            old.iter().any(|o| {
                o.email
                    .as_deref()
                    .is_some_and(|oe| email_key(oe) == email_key(e))
            })
        });
        if !known {
            out.push(p.clone());
        }
    }
    out
}

fn emails(d: &BookingDetails) -> Vec<String> {
    d.attendees
        .iter()
        .filter_map(|p| p.email.as_deref())
        .map(email_key)
        .collect()
}

/// Whether `b` keeps a seated attendee that `d` does not name.
fn others_remain(b: &Booking, d: &BookingDetails) -> bool {
    let named = emails(d);
    b.active_attendees().any(|p| {
        p.email
            .as_deref()
            .is_some_and(|e| !named.contains(&email_key(e)))
    })
}

/// Whether `b` was cancelled only because every seat in it was cancelled, one by one.
pub(super) fn emptied(b: &Booking) -> bool {
    b.status == Status::Cancelled
        && !b.attendees.is_empty()
        && b.active_attendees().next().is_none()
}

/// A new seat: the attendees of `d` not seated in `b` yet join it (and reopen an emptied one).
pub(super) fn add(b: &Booking, d: &BookingDetails, now: Timestamp) -> Option<Change> {
    let mut after = b.clone();
    after.attendees = union(&b.attendees, &d.attendees);
    if after.attendees.len() == b.attendees.len() {
        return None;
    }
    if emptied(b) {
        after.status = Status::Confirmed;
        after.cancellation_reason = None;
        after.cancelled_by = None;
    }
    after.extra.seats_per_time_slot = d.extra.seats_per_time_slot.or(b.extra.seats_per_time_slot);
    after.extra.seats_show_attendees = d
        .extra
        .seats_show_attendees
        .or(b.extra.seats_show_attendees);
    after.metadata = super::merge::merged_metadata(&b.metadata, &d.metadata);
    after.extra.links.merge(&crate::booking::EmailLinks::of(d));
    after.client_id = b.client_id.or(d.owner);
    after.updated_at = now;
    Some(update(Action::SeatAdded, b, after))
}

/// A seated booking as a list of every seat still held (API v2, [`DetailExtras::seat_roster`]):
/// new attendees take their seat (`seat_added`, as the webhook's), then the active attendees
/// missing from the list give theirs up (`seat_cancelled`, no reason: Cal.com deletes a cancelled
/// seat's attendee, the API keeps no trace of why). `None`, `None` when both agree already.
///
/// [`DetailExtras::seat_roster`]: crate::booking::DetailExtras::seat_roster
pub(super) fn roster(
    b: &Booking,
    d: &BookingDetails,
    now: Timestamp,
) -> (Option<Change>, Option<Change>) {
    let added = add(b, d, now);
    let current = added.as_ref().map_or(b, |c| &c.after);
    let listed = emails(d);
    let gone: Vec<Person> = current
        .active_attendees()
        .filter(|p| {
            p.email
                .as_deref()
                .is_some_and(|e| !listed.contains(&email_key(e)))
        })
        .cloned()
        .collect();
    if gone.is_empty() || d.attendees.is_empty() {
        return (added, None);
    }
    let mut after = current.clone();
    let leaving = BookingDetails {
        attendees: gone,
        ..d.clone()
    };
    cancel_seats(&mut after, &leaving, &None, None);
    settle(&mut after, &None);
    after.updated_at = now;
    let cancelled = update(Action::SeatCancelled, current, after);
    (added, Some(cancelled))
}

/// Whether a (genuine) cancellation of `d` cancels seats rather than the whole booking. (A
/// cancellation that lists every seat, API v2's, is the whole booking's.)
pub(super) fn is_seat_cancel(b: Option<&Booking>, d: &BookingDetails) -> bool {
    let seated = d.extra.seated() || b.is_some_and(Booking::seated);
    if !seated || d.attendees.is_empty() || d.extra.seat_roster {
        return false;
    }
    match b {
        None => true,
        Some(b) => !b.status.is_terminal() || emptied(b),
    }
}

/// A seated booking with no seat left is cancelled.
fn settle(b: &mut Booking, reason: &Option<String>) {
    if b.active_attendees().next().is_none() {
        b.status = Status::Cancelled;
        b.cancellation_reason = reason.clone();
    }
}

/// Marks the seats of `d`'s attendees cancelled (`moved_to` when they moved to another booking).
fn cancel_seats(
    b: &mut Booking,
    d: &BookingDetails,
    reason: &Option<String>,
    moved_to: Option<&str>,
) -> bool {
    b.attendees = union(&b.attendees, &d.attendees);
    let mut changed = false;
    for email in emails(d) {
        let state = b.extra.attendee_states.entry(email).or_default();
        if state.seat != Some(SeatState::Cancelled) {
            *state = AttendeeState {
                seat: Some(SeatState::Cancelled),
                seat_reason: reason.clone(),
                moved_to: moved_to.map(str::to_owned),
                no_show: state.no_show,
            };
            changed = true;
        }
    }
    changed
}

/// A seat cancellation (see [`is_seat_cancel`]).
pub(super) fn cancel(
    b: Option<&Booking>,
    d: &BookingDetails,
    reason: &Option<String>,
    now: Timestamp,
) -> Option<Change> {
    match b {
        None => {
            let mut c = insert(d, Status::Confirmed, Action::SeatCancelled, now);
            cancel_seats(&mut c.after, d, reason, None);
            settle(&mut c.after, reason);
            Some(c)
        }
        Some(b) => {
            let mut after = b.clone();
            if !cancel_seats(&mut after, d, reason, None) {
                return None;
            }
            after.extra.seats_per_time_slot =
                d.extra.seats_per_time_slot.or(b.extra.seats_per_time_slot);
            settle(&mut after, reason);
            after.updated_at = now;
            Some(update(Action::SeatCancelled, b, after))
        }
    }
}

/// Whether a reschedule to another uid moves only the named seats out of `old`.
pub(super) fn moves_one_seat(old: Option<&Booking>, d: &BookingDetails) -> bool {
    !d.attendees.is_empty()
        && match old {
            None => true,
            Some(o) => !o.status.is_terminal() && others_remain(o, d),
        }
}

/// A seat's own reschedule: its attendee leaves `old` (seat cancelled, `moved_to` the new uid)
/// and takes a seat in `new` (inserted, linked from the old uid, when unknown).
pub(super) fn move_seat(
    old: Option<&Booking>,
    new: Option<&Booking>,
    from: &PreviousSlot,
    d: &BookingDetails,
    now: Timestamp,
) -> Vec<Change> {
    let mut changes = Vec::new();
    let reason = Some("moved to another time".to_owned());
    match new {
        None => {
            let mut c = insert(d, Status::Confirmed, Action::Created, now);
            c.after.rescheduled_from = Some(from.uid.clone());
            changes.push(c);
        }
        Some(n) if !n.status.is_terminal() => changes.extend(add(n, d, now)),
        Some(_) => {}
    }
    match old {
        None => {
            let mut c = insert(d, Status::Confirmed, Action::SeatCancelled, now);
            c.after.uid = from.uid.clone();
            c.after.calcom_id = None;
            let length = d.ends_at.duration_since(d.starts_at);
            c.after.starts_at = from.starts_at.unwrap_or(d.starts_at);
            c.after.ends_at = from
                .ends_at
                .or_else(|| c.after.starts_at.checked_add(length).ok())
                .unwrap_or(d.ends_at);
            c.after.ical_sequence = (c.after.ical_sequence - 1).max(0);
            cancel_seats(&mut c.after, d, &reason, Some(&d.uid));
            changes.push(c);
        }
        Some(o) => {
            let mut after = o.clone();
            if cancel_seats(&mut after, d, &reason, Some(&d.uid)) {
                after.updated_at = now;
                changes.push(update(Action::SeatCancelled, o, after));
            }
        }
    }
    changes
}
