//! The issue-11 shapes: seats and series fields of the booking payload, payments, no-shows and
//! the empty body.
//!
//! Sources (Cal.com, `calcom/cal.com`):
//! - seats: `packages/features/bookings/lib/handleSeats/handleSeats.ts@00044803` spreads
//!   `eventTypeInfo` (`seatsPerTimeSlot`, `seatsShowAttendees`) into the webhook data;
//! - series: `recurringEvent` `{freq, count, interval}` on each occurrence and on a cancel-all
//!   (FINDINGS §3.4);
//! - payments: `BOOKING_PAID` / `BOOKING_PAYMENT_INITIATED` add `paymentId` and `paymentData`
//!   (`{amount, currency, …}`) to the booking payload
//!   (`packages/features/webhooks/lib/factory/versioned/v2021-10-20/BookingPayloadBuilder.ts@6f51e40f`);
//! - no-shows: `BOOKING_NO_SHOW_UPDATED` is `{bookingUid, bookingId, attendees:[{email, noShow}],
//!   message}` (same builder); the Cal Video triggers send `{bookingUid, bookingId, attendees,
//!   hostEmail?, message, …}`
//!   (`packages/features/tasker/tasks/triggerNoShow/common.ts`, `sendWebhookPayload`); the newest
//!   path sends only `{bookingId, webhook}`, which names no uid and is stored, ignored.

use serde_json::Value;

use super::{Parsed, Payload, PayloadError, as_i64, check_uid, truthy};
use crate::booking::{BookingEvent, DetailExtras, NoShowMark, Payment, RecurringRule};

/// Whether `body` is a JSON object with no members (whitespace aside).
pub(super) fn is_empty_object(body: &[u8]) -> bool {
    matches!(serde_json::from_slice::<Value>(body), Ok(Value::Object(m)) if m.is_empty())
}

/// Seats and recurrence from the payload.
pub(super) fn extras(p: &mut Payload) -> DetailExtras {
    let flag = |v: &Option<Value>| match v {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    DetailExtras {
        seats_per_time_slot: as_i64(&p.seats_per_time_slot).filter(|n| *n > 0),
        seats_show_attendees: flag(&p.seats_show_attendees),
        recurring_event: p.recurring_event.as_ref().and_then(rule),
        recurring_booking_uid: p
            .recurring_booking_uid
            .take()
            .or(p.recurring_event_id.take())
            .filter(|s| !s.trim().is_empty()),
        seat_roster: false,
        booker_url: p.booker_url.take().filter(|u| !u.trim().is_empty()),
        seat_refs: seat_refs(p),
    }
}

/// Seat reference uids by attendee email, as Cal.com's links use them (`getSeatReferenceId`
/// reads `calEvent.attendeeSeatId`, `packages/lib/CalEventParser.ts@03670679`): an attendee's
/// own `bookingSeat.referenceUid` when the payload has it, and the top-level `attendeeSeatId`
/// for the seat the event is about, which `createNewSeat` (`handleSeats/create/createNewSeat.ts`)
/// sets for the attendee it appends last to `attendees`.
fn seat_refs(p: &mut Payload) -> std::collections::BTreeMap<String, String> {
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= 200)
            .map(str::to_owned)
    };
    let email = |a: &super::RawPerson| {
        a.email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(crate::booking::email_key)
    };
    let mut out = std::collections::BTreeMap::new();
    for a in &p.attendees {
        if let (Some(email), Some(seat)) = (
            email(a),
            text(a.booking_seat.as_ref().and_then(|s| s.get("referenceUid"))),
        ) {
            out.insert(email, seat);
        }
    }
    let top = text(p.attendee_seat_id.take().map(Value::String).as_ref());
    if let (Some(seat), Some(email)) = (top, p.attendees.last().and_then(email))
        && !out.values().any(|s| *s == seat)
    {
        out.entry(email).or_insert(seat);
    }
    out
}

/// `recurringEvent`, when it is an object with a usable `freq` (`null` on single bookings).
fn rule(v: &Value) -> Option<RecurringRule> {
    let int = |k: &str| as_i64(&v.get(k).cloned());
    let freq = int("freq")?;
    Some(RecurringRule {
        freq,
        count: int("count").filter(|c| *c > 0),
        interval: int("interval").filter(|i| *i > 0).unwrap_or(1),
    })
}

/// `paymentId` and `paymentData.{amount, currency}` (else the event type's `price`/`currency`).
pub(super) fn payment(p: &mut Payload) -> Payment {
    let data = p.payment_data.take().unwrap_or(Value::Null);
    let id = match p.payment_id.take() {
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
        _ => None,
    };
    Payment {
        id,
        amount: as_i64(&data.get("amount").cloned()).or_else(|| as_i64(&p.price)),
        currency: data
            .get("currency")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or(p.currency.take())
            .filter(|c| !c.trim().is_empty())
            .map(|c| c.to_ascii_uppercase()),
    }
}

/// The three no-show triggers.
pub(super) fn no_show(trigger: &str, p: Payload) -> Result<Parsed, PayloadError> {
    let Some(uid) = p
        .booking_uid
        .clone()
        .or(p.uid.clone())
        .filter(|u| !u.trim().is_empty())
    else {
        return Ok(Parsed::Ignored {
            reason: format!("{trigger} names no bookingUid; calbook finds bookings by uid"),
        });
    };
    let uid = check_uid(uid.trim().to_owned())?;
    let marked = |default: Option<bool>| -> Vec<NoShowMark> {
        p.attendees
            .iter()
            .filter_map(|a| {
                let email = a.email.as_deref()?.trim();
                let no_show = match &a.no_show {
                    Some(Value::Bool(b)) => Some(*b),
                    _ => default,
                }?;
                (!email.is_empty()).then(|| NoShowMark {
                    email: email.to_owned(),
                    no_show,
                })
            })
            .collect()
    };
    let (attendees, host) = match trigger {
        "AFTER_HOSTS_CAL_VIDEO_NO_SHOW" => (Vec::new(), Some(true)),
        // "Guest didn't join the call": every guest the payload lists, unless it says who.
        "AFTER_GUESTS_CAL_VIDEO_NO_SHOW" => (marked(Some(true)), None),
        _ => (
            marked(None),
            p.no_show_host.as_ref().map(|v| truthy(&Some(v.clone()))),
        ),
    };
    Ok(Parsed::Booking(BookingEvent::NoShow {
        uid,
        attendees,
        host,
    }))
}
