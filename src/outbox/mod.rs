//! The durable email outbox.
//!
//! Every email a booking change calls for is a row in `email_outbox`, written **in the same
//! transaction** as the change (see [`plan`]); nothing is sent from a request handler. Each row
//! has a deterministic idempotency key (`booking/<uid>/confirmation/<recipient>`,
//! `booking/<uid>/reminder/<lead>/<start>/<recipient>`), unique in the table, so a delivery
//! replayed days later plans nothing new.
//!
//! Rows move `pending` → `sending` (claimed with a lease and a fencing token) → `sent`, or
//! `skipped` (the booking no longer wants it, or a reminder's time had passed when it was
//! planned), or `dead` (failed for good, keeping the last error) — and back to `pending` on a
//! retry. A claim whose lease expired is claimed again and sent with the same key.

pub mod plan;
pub mod policy;
pub mod setup;
pub mod worker;

use jiff::Timestamp;
use serde::Serialize;
use uuid::Uuid;

/// Where an outbox row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Pending,
    Sending,
    Sent,
    Skipped,
    Dead,
}

impl JobState {
    pub const ALL: [JobState; 5] = [
        JobState::Pending,
        JobState::Sending,
        JobState::Sent,
        JobState::Skipped,
        JobState::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Sending => "sending",
            JobState::Sent => "sent",
            JobState::Skipped => "skipped",
            JobState::Dead => "dead",
        }
    }
}

impl std::str::FromStr for JobState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown outbox state {s:?} (expected pending, sending, sent, skipped or dead)"
                )
            })
    }
}

/// Who an email is for: the attendee's zone for attendees, the organizer's for the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientRole {
    Attendee,
    Host,
}

impl RecipientRole {
    pub fn as_str(self) -> &'static str {
        match self {
            RecipientRole::Attendee => "attendee",
            RecipientRole::Host => "host",
        }
    }

    pub fn parse(s: &str) -> Option<RecipientRole> {
        match s {
            "attendee" => Some(RecipientRole::Attendee),
            "host" => Some(RecipientRole::Host),
            _ => None,
        }
    }
}

/// One outbox row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxJob {
    pub id: Uuid,
    pub idempotency_key: String,
    /// `confirmation`, `rescheduled`, `cancelled`, `requested`, `declined` or `reminder`.
    pub kind: String,
    pub booking_id: Uuid,
    pub booking_uid: String,
    pub recipient_email: String,
    pub recipient_name: Option<String>,
    pub recipient_time_zone: Option<String>,
    pub recipient_role: RecipientRole,
    /// For reminders: how long before the start it is sent.
    pub reminder_lead_seconds: Option<i64>,
    /// For reminders: the start time it was planned for (a moved start skips it).
    pub scheduled_start: Option<Timestamp>,
    pub due_at: Timestamp,
    pub state: JobState,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub lease_token: Option<Uuid>,
    pub leased_until: Option<Timestamp>,
    pub provider_id: Option<String>,
    pub sent_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}
