//! The durable email outbox.
//!
//! Every email a booking change calls for is a row in `email_outbox`, written **in the same
//! transaction** as the change (see [`plan`]); nothing is sent from a request handler. Each row
//! has a deterministic idempotency key (`booking/<uid>/confirmation/<recipient>`,
//! `booking/<uid>/reminder/<lead>/<start>/<recipient>`), unique in the table, so a delivery
//! replayed days later plans nothing new.
//!
//! Rows move `pending` → `sending` (claimed with a lease and a fencing token) → `sent`, or
//! `skipped` (the booking no longer wants it), or `dead` (failed for good, keeping the last error) — and back to `pending` on a
//! retry. A claim whose lease expired is claimed again and sent with the same key.
//!
//! Layers: this module owns the outbox's types ([`OutboxJob`], [`JobState`], [`Finish`]) and
//! depends on no storage; `store` persists them (it imports these types, never the worker), and
//! the [`worker`] drives the queue through `store`. So the imports point one way:
//! `outbox` types ← `store` ← `outbox::worker`.

pub mod load;
pub mod plan;
pub mod policy;
pub mod setup;
pub mod worker;

use jiff::Timestamp;
use serde::Serialize;
use uuid::Uuid;

pub use crate::mail::render::{EmailKind, Role};

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

/// One outbox row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxJob {
    pub id: Uuid,
    pub idempotency_key: String,
    pub kind: EmailKind,
    pub booking_id: Uuid,
    pub booking_uid: String,
    pub recipient_email: String,
    pub recipient_name: Option<String>,
    pub recipient_time_zone: Option<String>,
    /// Attendee or host: whose zone the email's times are shown in.
    pub recipient_role: Role,
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

/// How a claimed job ends (or goes back to the queue).
#[derive(Debug, Clone, PartialEq)]
pub enum Finish {
    Sent {
        provider_id: Option<String>,
    },
    /// Back to `pending`, due again at `due_at`. `count_attempt: false` for a parked queue
    /// (the provider refused all sending for a while; the email itself did not fail).
    Retry {
        due_at: Timestamp,
        error: String,
        count_attempt: bool,
    },
    Dead {
        error: String,
    },
    Skipped {
        reason: String,
    },
}

/// Pending reminders a booking change takes back, in the change's own transaction (see
/// [`plan::withdrawals`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Withdrawal {
    pub booking_id: Uuid,
    /// Only this recipient's (a cancelled seat); all recipients when `None`.
    pub recipient: Option<String>,
    /// Keep the reminders planned for this start (a booking moved in place keeps its new ones).
    pub keep_start: Option<Timestamp>,
    /// Recorded in the row's `last_error`.
    pub reason: String,
}
