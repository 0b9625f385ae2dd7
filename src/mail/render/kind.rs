//! The one list of email kinds ([`EmailKind`]) and recipient roles ([`Role`]).
//!
//! Everything that names a kind goes through [`EmailKind`]: the outbox job, the send-time policy,
//! `EMAIL_KINDS` parsing, the CLI, the templates (`<kind>.subject`, `.txt`, `.html`) and the
//! outbox table (stored as [`EmailKind::as_str`]; the table has no `CHECK` on it since migration
//! 0006, so a new kind needs no migration). Every decision on a kind is an exhaustive `match`:
//! adding a variant is a compile error until each place says what the new kind does.

use serde::{Deserialize, Serialize};

use crate::mail::CalendarMethod;

/// Which email a booking change sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailKind {
    Confirmation,
    Rescheduled,
    Cancelled,
    Requested,
    Declined,
    Reminder,
}

impl EmailKind {
    pub const ALL: [EmailKind; 6] = [
        EmailKind::Confirmation,
        EmailKind::Rescheduled,
        EmailKind::Cancelled,
        EmailKind::Requested,
        EmailKind::Declined,
        EmailKind::Reminder,
    ];

    /// The kind's name: in `EMAIL_KINDS`, the outbox table, template file names and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            EmailKind::Confirmation => "confirmation",
            EmailKind::Rescheduled => "rescheduled",
            EmailKind::Cancelled => "cancelled",
            EmailKind::Requested => "requested",
            EmailKind::Declined => "declined",
            EmailKind::Reminder => "reminder",
        }
    }

    /// The calendar invite this kind carries, if any.
    pub(super) fn calendar_method(self) -> Option<CalendarMethod> {
        match self {
            EmailKind::Confirmation | EmailKind::Rescheduled => Some(CalendarMethod::Request),
            EmailKind::Cancelled => Some(CalendarMethod::Cancel),
            EmailKind::Requested | EmailKind::Declined | EmailKind::Reminder => None,
        }
    }

    pub(super) fn has_google_link(self) -> bool {
        match self {
            EmailKind::Confirmation | EmailKind::Rescheduled | EmailKind::Reminder => true,
            EmailKind::Cancelled | EmailKind::Requested | EmailKind::Declined => false,
        }
    }

    /// Whether planning this kind also plans the booking's reminders.
    pub fn plans_reminders(self) -> bool {
        match self {
            EmailKind::Confirmation | EmailKind::Rescheduled => true,
            EmailKind::Cancelled
            | EmailKind::Requested
            | EmailKind::Declined
            | EmailKind::Reminder => false,
        }
    }
}

impl std::fmt::Display for EmailKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::str::FromStr for EmailKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EmailKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let valid: Vec<&str> = EmailKind::ALL.iter().map(|k| k.as_str()).collect();
                format!(
                    "unknown email kind {s:?} (expected one of {})",
                    valid.join(", ")
                )
            })
    }
}

/// Whether the recipient booked (attendee) or hosts the meeting: the attendee's zone for
/// attendees, the organizer's for the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Attendee,
    Host,
}

impl Role {
    pub const ALL: [Role; 2] = [Role::Attendee, Role::Host];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Attendee => "attendee",
            Role::Host => "host",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown recipient role {s:?} (expected attendee or host)"))
    }
}
