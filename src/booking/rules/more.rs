//! Payments, no-shows, and changes of host or place on a live booking.
//!
//! Shapes [SRC `packages/features/webhooks/lib/factory/versioned/v2021-10-20/BookingPayloadBuilder.ts@6f51e40f`,
//! FINDINGS §3.2]: `BOOKING_PAID` is the booking payload plus `paymentId` and `paymentData`;
//! `BOOKING_NO_SHOW_UPDATED` is `{bookingUid, bookingId, attendees:[{email, noShow}], message}`;
//! `BOOKING_REASSIGNED` / `BOOKING_LOCATION_UPDATED` are the booking payload with the new
//! `organizer` / `location`.

use jiff::Timestamp;

use super::merge::refreshed;
use super::{Action, Booking, BookingDetails, Change, Status, insert, update};
use crate::booking::extras::email_key;
use crate::booking::{NoShowMark, Payment};

/// `BOOKING_PAID`: records the payment; a booking awaiting payment (or not known yet) is
/// confirmed. A cancelled booking keeps its status and still records the payment.
pub(super) fn paid(
    b: Option<&Booking>,
    d: &BookingDetails,
    payment: &Payment,
    now: Timestamp,
) -> Option<Change> {
    match b {
        None => {
            let mut c = insert(d, Status::Confirmed, Action::Paid, now);
            c.after.extra.payment = Some(payment.clone());
            Some(c)
        }
        Some(b) => {
            let mut after = if b.status.is_terminal() {
                b.clone()
            } else {
                refreshed(b, d, now)
            };
            if matches!(b.status, Status::AwaitingPayment | Status::Pending) {
                after.status = Status::Confirmed;
            }
            let known = b.extra.payment.clone().unwrap_or_default();
            after.extra.payment = Some(Payment {
                id: payment.id.clone().or(known.id),
                amount: payment.amount.or(known.amount),
                currency: payment.currency.clone().or(known.currency),
            });
            if after.status == b.status && after.extra.payment == b.extra.payment {
                return None;
            }
            after.updated_at = now;
            Some(update(Action::Paid, b, after))
        }
    }
}

/// No-show marks: per attendee (by email) and for the host. Nobody marked yet counts as having
/// shown up: a "showed up" mark on someone never marked changes nothing, so a source that states
/// every attendee's mark (API v2's `absent`, `absentHost`) and one that names only the marked
/// (the webhook) end the same, with the same history.
pub(super) fn no_show(
    b: &Booking,
    marks: &[NoShowMark],
    host: Option<bool>,
    now: Timestamp,
) -> Option<Change> {
    let known = |email: &str| {
        b.extra
            .attendee_states
            .get(&email_key(email))
            .and_then(|s| s.no_show)
            .unwrap_or(false)
    };
    // The sync states every booking's marks: most change nothing, and cost no copy.
    let host_differs = host.is_some_and(|h| b.extra.host_no_show.unwrap_or(false) != h);
    if !host_differs && marks.iter().all(|m| known(&m.email) == m.no_show) {
        return None;
    }
    let mut after = b.clone();
    for m in marks {
        let key = email_key(&m.email);
        let known = after
            .extra
            .attendee_states
            .get(&key)
            .and_then(|s| s.no_show);
        if known.unwrap_or(false) != m.no_show {
            after.extra.attendee_states.entry(key).or_default().no_show = Some(m.no_show);
        }
    }
    if let Some(h) = host
        && b.extra.host_no_show.unwrap_or(false) != h
    {
        after.extra.host_no_show = Some(h);
    }
    if after.extra == b.extra {
        return None;
    }
    after.updated_at = now;
    Some(update(Action::NoShowUpdated, b, after))
}

/// A new host or place: the booking takes the event's details (nothing absent erased), and its
/// invite's sequence goes up, so the `updated` email's invite replaces the old one.
pub(super) fn moved_details(
    b: &Booking,
    d: &BookingDetails,
    action: Action,
    now: Timestamp,
) -> Option<Change> {
    let mut after = refreshed(b, d, now);
    // A seated booking's event names only some seats: keep everyone's.
    after.attendees = super::seats::union(&b.attendees, &d.attendees);
    let changed = match action {
        Action::Reassigned => after.organizer != b.organizer,
        _ => after.location != b.location || after.meeting_url != b.meeting_url,
    };
    if !changed {
        return None;
    }
    after.ical_sequence = (b.ical_sequence + 1).max(d.ical_sequence.unwrap_or(0));
    Some(update(action, b, after))
}
