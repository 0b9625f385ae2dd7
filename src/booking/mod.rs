//! Booking domain: what a booking is, which statuses it can have, and the rules that turn a Cal.com
//! event into changes. Nothing here does I/O, so every rule is testable on plain values.
//!
//! Guarantees the rules give (and the store relies on):
//! - **Order independence.** Cal.com does not promise delivery order. Terminal statuses
//!   (`cancelled`, `rejected`, `rescheduled`) are never left again, except that a reschedule
//!   always wins, so a late `BOOKING_CREATED` can not resurrect a cancelled or rescheduled booking
//!   and the same set of events gives the same end state in any order. (One more exception: a
//!   seated booking cancelled because its seats were cancelled one by one reopens when another
//!   seat arrives; see `rules::seats`.)
//! - **Nothing erased.** A later event's absent, null or empty field keeps the stored value;
//!   metadata merges key by key.
//! - **Seats, series, payments** (issue 11): see [`BookingExtras`] and the rules' table.
//! - **Idempotence.** Applying an event to the state it produced changes nothing.
//! - **Reschedules are new bookings.** Cal.com gives the new time a new uid; the old booking is
//!   marked `rescheduled` and linked both ways (`rescheduled_from` / `rescheduled_to`).
//! - **Each audit entry knows what it counts as** in the business's numbers (a booking, a
//!   cancellation, a reschedule, a no-show, or nothing): [`HistoryEntry::counts_as`].

mod counts;
mod event;
mod extras;
pub mod links;
pub use links::LinkPolicy;
mod rules;

pub use counts::{CountsAs, counts_as};
pub use event::{
    BookingDetails, BookingEvent, DetailExtras, MeetingPhase, NoShowMark, Payment, Person,
    PreviousSlot, RecurringRule,
};
pub use extras::{AttendeeState, BookingExtras, EmailLinks, SeatState, email_key, series_key};
pub use rules::{Action, Change, Decision, decide, decide_with};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where a booking stands. Stored as its snake_case name.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Requested, awaiting the host's confirmation.
    Pending,
    Confirmed,
    /// The host declined the request.
    Rejected,
    Cancelled,
    /// Moved to a new time, which is a new booking (see `rescheduled_to`).
    Rescheduled,
    /// The host asked the attendee to pick a new time; not final.
    RescheduleRequested,
    /// A paid event booked but not paid yet (`BOOKING_PAYMENT_INITIATED`): no confirmation and
    /// no reminders until the payment arrives.
    AwaitingPayment,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Pending,
        Status::Confirmed,
        Status::Rejected,
        Status::Cancelled,
        Status::Rescheduled,
        Status::RescheduleRequested,
        Status::AwaitingPayment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Confirmed => "confirmed",
            Status::Rejected => "rejected",
            Status::Cancelled => "cancelled",
            Status::Rescheduled => "rescheduled",
            Status::RescheduleRequested => "reschedule_requested",
            Status::AwaitingPayment => "awaiting_payment",
        }
    }

    /// The statuses of a booking that still holds its slot (the dashboard's default listing):
    /// every status but the terminal ones.
    pub const LIVE: [Status; 4] = [
        Status::Confirmed,
        Status::Pending,
        Status::AwaitingPayment,
        Status::RescheduleRequested,
    ];

    /// Whether the booking still holds its slot (not rejected, cancelled or rescheduled).
    pub fn is_live(self) -> bool {
        !self.is_terminal()
    }

    /// Terminal statuses are never left for a live one.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Status::Rejected | Status::Cancelled | Status::Rescheduled
        )
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "unknown booking status {0:?} (expected one of pending, confirmed, rejected, cancelled, rescheduled, reschedule_requested, awaiting_payment)"
)]
pub struct UnknownStatus(pub String);

impl std::str::FromStr for Status {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// A booking as calbook stores it. `uid` is Cal.com's booking uid (`external_id` in the table).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Booking {
    pub id: Uuid,
    pub uid: String,
    pub calcom_id: Option<i64>,
    pub client_id: Option<Uuid>,
    pub title: String,
    pub description: Option<String>,
    pub notes: Option<String>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub status: Status,
    pub attendee_email: Option<String>,
    pub attendee_name: Option<String>,
    pub attendees: Vec<Person>,
    pub organizer: Option<Person>,
    pub location: Option<String>,
    pub meeting_url: Option<String>,
    pub ical_uid: Option<String>,
    pub ical_sequence: i64,
    pub event_type_id: Option<i64>,
    pub event_type_slug: Option<String>,
    pub metadata: serde_json::Value,
    pub rescheduled_from: Option<String>,
    pub rescheduled_to: Option<String>,
    pub cancellation_reason: Option<String>,
    pub cancelled_by: Option<String>,
    pub rejection_reason: Option<String>,
    pub meeting_started_at: Option<Timestamp>,
    pub meeting_ended_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Seats, series, payment and no-shows (issue 11), one column each.
    #[serde(flatten)]
    pub extra: BookingExtras,
}

impl Booking {
    /// A new booking from an event's details.
    pub fn from_details(d: &BookingDetails, status: Status, now: Timestamp) -> Booking {
        let first = d.attendees.first();
        Booking {
            id: Uuid::now_v7(),
            uid: d.uid.clone(),
            calcom_id: d.calcom_id,
            client_id: d.owner,
            title: if d.title.trim().is_empty() {
                "Booking".to_owned()
            } else {
                d.title.clone()
            },
            description: d.description.clone(),
            notes: d.notes.clone(),
            starts_at: d.starts_at,
            ends_at: d.ends_at,
            status,
            attendee_email: first.and_then(|p| p.email.clone()),
            attendee_name: first.and_then(|p| p.name.clone()),
            attendees: d.attendees.clone(),
            organizer: d.organizer.clone(),
            location: d.location.clone(),
            meeting_url: d.meeting_url.clone(),
            ical_uid: d.ical_uid.clone(),
            ical_sequence: d.ical_sequence.unwrap_or(0),
            event_type_id: d.event_type_id,
            event_type_slug: d.event_type_slug.clone(),
            metadata: d.metadata.clone(),
            rescheduled_from: None,
            rescheduled_to: None,
            cancellation_reason: None,
            cancelled_by: None,
            rejection_reason: None,
            meeting_started_at: None,
            meeting_ended_at: None,
            created_at: now,
            updated_at: now,
            extra: BookingExtras::from_details(d),
        }
    }

    /// The fields an audit entry records, as a JSON object. Personal data stays in the database;
    /// it never reaches a log.
    pub fn audit_snapshot(&self) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::json;
        let ts = |t: &Option<Timestamp>| t.map(|t| t.to_string());
        let v = json!({
            "status": self.status.as_str(),
            "title": self.title,
            "starts_at": self.starts_at.to_string(),
            "ends_at": self.ends_at.to_string(),
            "attendee_email": self.attendee_email,
            "attendee_name": self.attendee_name,
            "location": self.location,
            "meeting_url": self.meeting_url,
            "host": self.organizer.as_ref().and_then(|o| o.name.clone()),
            "ical_sequence": self.ical_sequence,
            "client_id": self.client_id,
            "rescheduled_from": self.rescheduled_from,
            "rescheduled_to": self.rescheduled_to,
            "cancellation_reason": self.cancellation_reason,
            "cancelled_by": self.cancelled_by,
            "rejection_reason": self.rejection_reason,
            "meeting_started_at": ts(&self.meeting_started_at),
            "meeting_ended_at": ts(&self.meeting_ended_at),
        });
        match v {
            serde_json::Value::Object(mut m) => {
                self.extra.audit_into(&mut m);
                m
            }
            _ => unreachable!("json! of an object literal is an object"),
        }
    }
}

/// One audit entry, written in the same transaction as the change it describes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub action: String,
    pub old_values: Option<serde_json::Value>,
    pub new_values: Option<serde_json::Value>,
    pub delivery_id: Option<Uuid>,
    pub created_at: Timestamp,
    /// How calbook learnt of the change.
    pub source: Source,
}

/// How calbook learnt of a change: a webhook delivery, or a sync pass over Cal.com's API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    #[default]
    Webhook,
    Sync,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Webhook => "webhook",
            Source::Sync => "sync",
        }
    }

    /// The stored name back; anything unknown reads as `webhook` (the column's default).
    pub fn parse(s: &str) -> Source {
        if s == "sync" {
            Source::Sync
        } else {
            Source::Webhook
        }
    }
}
