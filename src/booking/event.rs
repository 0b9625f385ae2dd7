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
}

impl BookingEvent {
    /// The uid of the booking the event is about (for a reschedule, the new one).
    pub fn uid(&self) -> &str {
        match self {
            BookingEvent::Created(d)
            | BookingEvent::Requested { details: d, .. }
            | BookingEvent::Rescheduled { details: d, .. }
            | BookingEvent::Cancelled { details: d, .. }
            | BookingEvent::Rejected { details: d, .. } => &d.uid,
            BookingEvent::Meeting { uid, .. } => uid,
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
