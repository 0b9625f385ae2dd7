//! Recurring series. Cal.com sends one `BOOKING_CREATED` per occurrence (each its own uid, with
//! `recurringEvent` = `{freq, count, interval}`), and a "cancel all remaining" sends one
//! `BOOKING_CANCELLED`, for the occurrence acted on, with `recurringEvent` set
//! [SRC `packages/features/bookings/lib/handleCancelBooking.ts@001f8e29`: "Include
//! recurringEvent information only when cancelling all bookings"; FINDINGS §3.4]. (Cal.com itself
//! cancels every remaining occurrence from now on; calbook, told only of the one named, cancels it
//! and the later ones, as the webhook lets it know.)
//! No webhook carries a series id, so calbook links occurrences itself: same series key (event
//! type, organizer, first attendee, rule) and starts a whole number of steps apart, within the
//! series' length. The first occurrence recorded names the series (`series_id` = its uid).
//!
//! When a source names the series (`recurringBookingUid`, API v2), that id wins: the booking
//! takes it, and so do the recorded occurrences calbook had linked under its own guess (same
//! series key, same guessed id), each with one `series_linked` history entry; a second pass
//! finds them linked and changes nothing ([`adopt_id`]).
//!
//! Order independence: an occurrence that arrives after a cancel-all of its series, starting at
//! or after the cancelled one, is recorded cancelled (`series_cancelled`, no email), so any
//! interleaving of creates and the cancel-all ends the same way.

use jiff::Timestamp;

use super::{Action, Booking, BookingDetails, Change, Status, insert, update};
use crate::booking::RecurringRule;

/// Whether starts `a` and `b` can belong to one series under `rule`.
fn aligned(a: Timestamp, b: Timestamp, rule: &RecurringRule) -> bool {
    let Some(period) = rule.period() else {
        return true;
    };
    let step = period.as_secs();
    let gap = (a.as_second() - b.as_second()).abs();
    step > 0
        && gap % step == 0
        && rule
            .count
            .is_none_or(|count| gap < step.saturating_mul(count.max(1)))
}

/// The other recorded occurrences of `b`'s series.
fn members<'a>(b: &Booking, series: &impl Fn(&str) -> Vec<&'a Booking>) -> Vec<&'a Booking> {
    let (Some(key), Some(rule)) = (&b.extra.series_key, &b.extra.recurring_event) else {
        return Vec::new();
    };
    series(key)
        .into_iter()
        .filter(|m| m.uid != b.uid)
        .filter(|m| aligned(m.starts_at, b.starts_at, rule))
        .collect()
}

/// Gives `b` its series id: the series' when another occurrence is recorded, else its own uid.
pub(super) fn link<'a>(b: &mut Booking, series: &impl Fn(&str) -> Vec<&'a Booking>) {
    if b.extra.recurring_event.is_none() || b.extra.series_id.is_some() {
        return;
    }
    let known = members(b, series)
        .into_iter()
        .filter_map(|m| m.extra.series_id.clone())
        .min();
    b.extra.series_id = Some(known.unwrap_or_else(|| b.uid.clone()));
}

/// A new confirmed booking; an occurrence of a series is linked to it, and recorded cancelled
/// when a cancel-all of the series already reached its start.
pub(super) fn insert_occurrence<'a>(
    d: &BookingDetails,
    series: &impl Fn(&str) -> Vec<&'a Booking>,
    now: Timestamp,
) -> Vec<Change> {
    let mut c = insert(d, Status::Confirmed, Action::Created, now);
    link(&mut c.after, series);
    let cancelled_by = members(&c.after, series)
        .into_iter()
        .filter(|m| {
            m.status == Status::Cancelled
                && m.extra
                    .series_cancelled_from
                    .is_some_and(|from| from <= c.after.starts_at)
        })
        .min_by_key(|m| m.starts_at);
    if let Some(m) = cancelled_by {
        c.action = Action::SeriesCancelled;
        c.after.status = Status::Cancelled;
        c.after.cancellation_reason = m.cancellation_reason.clone();
        c.after.cancelled_by = m.cancelled_by.clone();
        c.after.extra.series_cancelled_from = m.extra.series_cancelled_from;
    }
    vec![c]
}

/// The later occurrences a cancel-all of `named` cancels with it.
pub(super) fn cancel_later<'a>(
    named: &Booking,
    series: &impl Fn(&str) -> Vec<&'a Booking>,
    now: Timestamp,
) -> Vec<Change> {
    let mut out: Vec<Change> = members(named, series)
        .into_iter()
        .filter(|m| m.starts_at >= named.starts_at && !m.status.is_terminal())
        .map(|m| {
            let mut after = m.clone();
            after.status = Status::Cancelled;
            after.cancellation_reason = named.cancellation_reason.clone();
            after.cancelled_by = named.cancelled_by.clone();
            after.extra.series_cancelled_from = Some(named.starts_at);
            after.extra.series_id = after
                .extra
                .series_id
                .or_else(|| named.extra.series_id.clone());
            after.updated_at = now;
            update(Action::SeriesCancelled, m, after)
        })
        .collect();
    out.sort_by_key(|c| c.after.starts_at);
    out
}

/// The series id `d` names (`recurringBookingUid`) replaces calbook's guess: on the booking the
/// event is about (in the change `changes` already makes to it, or as a `series_linked` update),
/// and on every recorded occurrence linked under the same guessed id. Nothing when they agree.
pub(super) fn adopt_id<'a>(
    d: &BookingDetails,
    changes: &mut Vec<Change>,
    lookup: &impl Fn(&str) -> Option<&'a Booking>,
    series: &impl Fn(&str) -> Vec<&'a Booking>,
    now: Timestamp,
) {
    let Some(id) = d.extra.recurring_booking_uid.as_deref() else {
        return;
    };
    let latest = |uid: &str, changes: &[Change]| -> Option<Booking> {
        changes
            .iter()
            .rev()
            .find(|c| c.after.uid == uid)
            .map(|c| c.after.clone())
    };
    let Some(target) = latest(&d.uid, changes).or_else(|| lookup(&d.uid).cloned()) else {
        return;
    };
    let guessed = target.extra.series_id.clone().filter(|g| g != id);
    let relink = |b: &Booking, changes: &mut Vec<Change>| {
        if b.extra.series_id.as_deref() == Some(id) {
            return;
        }
        if let Some(c) = changes.iter_mut().rev().find(|c| c.after.uid == b.uid) {
            c.after.extra.series_id = Some(id.to_owned());
            return;
        }
        let mut after = b.clone();
        after.extra.series_id = Some(id.to_owned());
        after.updated_at = now;
        changes.push(update(Action::SeriesLinked, b, after));
    };
    relink(&target, changes);
    let Some(guessed) = guessed else {
        return;
    };
    let mut others: Vec<&Booking> = members(&target, series)
        .into_iter()
        .filter(|m| m.extra.series_id.as_deref() == Some(guessed.as_str()))
        .collect();
    others.sort_by_key(|m| m.starts_at);
    for m in others {
        let current = latest(&m.uid, changes).unwrap_or_else(|| m.clone());
        relink(&current, changes);
    }
}
