//! The Cal.com events the rules understand, already validated (times parsed, uid present).
//! Building them from raw JSON is the webhook module's job.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An attendee or the organizer, with the time zone and locale their emails will use.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Person {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

/// What a booking event says about the booking it names.
#[derive(Debug, Clone, PartialEq)]
pub struct BookingDetails {
    pub uid: String,
    pub calcom_id: Option<i64>,
    pub title: String,
    pub description: Option<String>,
    pub notes: Option<String>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub attendees: Vec<Person>,
    pub organizer: Option<Person>,
    pub location: Option<String>,
    pub meeting_url: Option<String>,
    pub ical_uid: Option<String>,
    pub ical_sequence: Option<i64>,
    pub event_type_id: Option<i64>,
    pub event_type_slug: Option<String>,
    /// Booking metadata; the embed's `metadata[key]` values arrive here. Any booker can set
    /// them, so nothing in here decides anything.
    pub metadata: serde_json::Value,
    /// The client proven to have made this booking: the metadata's `client_id`, set only when the
    /// booking page's signed `client_proof` verified at ingest (see [`crate::auth::ownership`]).
    pub owner: Option<Uuid>,
    /// Seats and recurrence, when the event type has them (issue 11). `Default` for a plain
    /// one-to-one booking.
    pub extra: DetailExtras,
}

/// What a booking event says about seats and recurrence. Every field is optional: a source that
/// does not know (an older Cal.com, the API v2 mapping) leaves it `None`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DetailExtras {
    /// `seatsPerTimeSlot`: set on seated event types. A seated booking's events name only the
    /// seat concerned in `attendees` (a new seat, a cancelled seat, a moved seat).
    pub seats_per_time_slot: Option<i64>,
    /// `seatsShowAttendees`: `Some(false)` hides a seated booking's attendees from each other.
    pub seats_show_attendees: Option<bool>,
    /// `recurringEvent`: set on each occurrence of a recurring series, and on the
    /// `BOOKING_CANCELLED` of a "cancel all remaining".
    pub recurring_event: Option<RecurringRule>,
    /// `recurringBookingUid` / `recurringEventId` when the source has it (API v2 does, webhooks
    /// do not): the series' own id, which then wins over calbook's guess, also for occurrences
    /// already recorded under calbook's guess (they are re-linked, history `series_linked`).
    pub recurring_booking_uid: Option<String>,
    /// `attendees` is the whole list of seats still held (API v2's seated booking, whose
    /// attendees carry `seatUid`), not only the seat concerned as in a webhook: a seated attendee
    /// calbook has that is missing from it gave up their seat.
    pub seat_roster: bool,
    /// `bookerUrl`: the booker's Cal.com origin (an organization's domain), for email links.
    pub booker_url: Option<String>,
    /// Seat reference uids by lowercase attendee email (`attendeeSeatId`, `seatUid`).
    pub seat_refs: std::collections::BTreeMap<String, String>,
}

impl DetailExtras {
    /// Whether the event type is seated (or the source lists the booking's seats).
    pub fn seated(&self) -> bool {
        self.seats_per_time_slot.is_some_and(|n| n > 0) || self.seat_roster
    }
}

/// Cal.com's `recurringEvent` rule (`{freq, count, interval}`; `freq` is rrule's number:
/// 0 yearly, 1 monthly, 2 weekly, 3 daily, 4 hourly).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecurringRule {
    pub freq: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    pub interval: i64,
}

impl RecurringRule {
    /// The fixed length of one step of the series, when it has one (not for months or years).
    pub fn period(&self) -> Option<jiff::SignedDuration> {
        let unit = match self.freq {
            2 => jiff::SignedDuration::from_hours(24 * 7),
            3 => jiff::SignedDuration::from_hours(24),
            4 => jiff::SignedDuration::from_hours(1),
            _ => return None,
        };
        unit.checked_mul(i32::try_from(self.interval.max(1)).ok()?)
    }
}

/// A payment recorded from `BOOKING_PAID` (`paymentId`, `paymentData.amount` in the currency's
/// minor unit, `paymentData.currency`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Payment {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// In the currency's minor unit (cents), as Cal.com sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// One attendee's no-show mark from `BOOKING_NO_SHOW_UPDATED` (`attendees[{email, noShow}]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoShowMark {
    pub email: String,
    pub no_show: bool,
}

impl BookingDetails {
    /// The `client_id` the metadata claims, proven or not.
    pub fn claimed_client_id(&self) -> Option<Uuid> {
        self.metadata
            .get("client_id")
            .and_then(|v| v.as_str())
            .and_then(|s| Uuid::parse_str(s.trim()).ok())
    }
}

#[cfg(test)]
impl BookingDetails {
    /// A plain 30-minute booking for tests: no attendees, no organizer, no metadata.
    pub(crate) fn example(uid: &str, start: &str) -> BookingDetails {
        let starts_at: Timestamp = start.parse().expect("a test time");
        BookingDetails {
            uid: uid.to_owned(),
            calcom_id: None,
            title: "Intro Call".to_owned(),
            description: None,
            notes: None,
            starts_at,
            ends_at: starts_at
                .checked_add(jiff::SignedDuration::from_mins(30))
                .expect("in range"),
            attendees: Vec::new(),
            organizer: None,
            location: None,
            meeting_url: None,
            ical_uid: None,
            ical_sequence: None,
            event_type_id: None,
            event_type_slug: None,
            metadata: serde_json::json!({}),
            owner: None,
            extra: DetailExtras::default(),
        }
    }
}

/// The booking a reschedule moved away from (`rescheduleUid` and its old times).
#[derive(Debug, Clone, PartialEq)]
pub struct PreviousSlot {
    pub uid: String,
    pub starts_at: Option<Timestamp>,
    pub ends_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeetingPhase {
    Started,
    Ended,
}

/// A booking-related event, one per Cal.com trigger that changes state.
#[derive(Debug, Clone, PartialEq)]
pub enum BookingEvent {
    /// `BOOKING_CREATED`: a confirmed booking, or the confirmation of a requested one.
    Created(BookingDetails),
    /// `BOOKING_REQUESTED`: awaits the host's confirmation. `from` is set when the request is a
    /// reschedule into a slot that needs confirmation.
    Requested {
        details: BookingDetails,
        from: Option<PreviousSlot>,
    },
    /// `BOOKING_RESCHEDULED`: `details.uid` is the NEW booking, `from` the old one.
    Rescheduled {
        details: BookingDetails,
        from: PreviousSlot,
    },
    /// `BOOKING_CANCELLED`; with `reschedule_requested` the host asked for a new time instead.
    Cancelled {
        details: BookingDetails,
        reason: Option<String>,
        by: Option<String>,
        reschedule_requested: bool,
    },
    /// `BOOKING_REJECTED`.
    Rejected {
        details: BookingDetails,
        reason: Option<String>,
    },
    /// `MEETING_STARTED` / `MEETING_ENDED`.
    Meeting {
        uid: String,
        phase: MeetingPhase,
        at: Timestamp,
    },
    /// `BOOKING_PAYMENT_INITIATED`: a paid event was booked and awaits payment. Its body says
    /// `"status":"ACCEPTED"`, but Cal.com holds the booking unpaid; calbook records it as
    /// `awaiting_payment` with the booking page's metadata, and sends nothing yet.
    PaymentInitiated(BookingDetails),
    /// `BOOKING_PAID`: the payment arrived. Records it, and confirms a booking awaiting payment.
    Paid {
        details: BookingDetails,
        payment: Payment,
    },
    /// `BOOKING_NO_SHOW_UPDATED`, `AFTER_GUESTS_CAL_VIDEO_NO_SHOW` (attendees marked) and
    /// `AFTER_HOSTS_CAL_VIDEO_NO_SHOW` (`host: Some(true)`). Only a booking uid; no times.
    NoShow {
        uid: String,
        attendees: Vec<NoShowMark>,
        host: Option<bool>,
    },
    /// `BOOKING_REASSIGNED`: the same booking with a new `organizer` (round-robin).
    Reassigned(BookingDetails),
    /// `BOOKING_LOCATION_UPDATED`: the same booking with a new `location` / meeting URL.
    LocationUpdated(BookingDetails),
}

impl BookingEvent {
    /// The uid of the booking the event is about (for a reschedule, the new one).
    pub fn uid(&self) -> &str {
        match self {
            BookingEvent::Created(d)
            | BookingEvent::Requested { details: d, .. }
            | BookingEvent::Rescheduled { details: d, .. }
            | BookingEvent::Cancelled { details: d, .. }
            | BookingEvent::Rejected { details: d, .. }
            | BookingEvent::PaymentInitiated(d)
            | BookingEvent::Paid { details: d, .. }
            | BookingEvent::Reassigned(d)
            | BookingEvent::LocationUpdated(d) => &d.uid,
            BookingEvent::Meeting { uid, .. } | BookingEvent::NoShow { uid, .. } => uid,
        }
    }

    /// The event's details, when it carries a whole booking.
    pub fn details(&self) -> Option<&BookingDetails> {
        match self {
            BookingEvent::Created(d)
            | BookingEvent::Requested { details: d, .. }
            | BookingEvent::Rescheduled { details: d, .. }
            | BookingEvent::Cancelled { details: d, .. }
            | BookingEvent::Rejected { details: d, .. }
            | BookingEvent::PaymentInitiated(d)
            | BookingEvent::Paid { details: d, .. }
            | BookingEvent::Reassigned(d)
            | BookingEvent::LocationUpdated(d) => Some(d),
            BookingEvent::Meeting { .. } | BookingEvent::NoShow { .. } => None,
        }
    }

    /// [`details`](Self::details), to change (ingest's admission sets the proven owner).
    pub fn details_mut(&mut self) -> Option<&mut BookingDetails> {
        match self {
            BookingEvent::Created(d)
            | BookingEvent::Requested { details: d, .. }
            | BookingEvent::Rescheduled { details: d, .. }
            | BookingEvent::Cancelled { details: d, .. }
            | BookingEvent::Rejected { details: d, .. }
            | BookingEvent::PaymentInitiated(d)
            | BookingEvent::Paid { details: d, .. }
            | BookingEvent::Reassigned(d)
            | BookingEvent::LocationUpdated(d) => Some(d),
            BookingEvent::Meeting { .. } | BookingEvent::NoShow { .. } => None,
        }
    }

    /// Every booking uid the event may touch.
    pub fn uids(&self) -> Vec<&str> {
        let mut v = vec![self.uid()];
        match self {
            BookingEvent::Rescheduled { from, .. }
            | BookingEvent::Requested {
                from: Some(from), ..
            } if from.uid != self.uid() => v.push(&from.uid),
            _ => {}
        }
        v
    }
}
