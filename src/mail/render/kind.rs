//! The one list of email kinds ([`EmailKind`]) and recipient roles ([`Role`]).
//!
//! Everything that names a kind goes through [`EmailKind`]: the outbox job, the send-time policy,
//! `EMAIL_KINDS` parsing, the CLI, the templates (`<kind>.subject`, `.txt`, `.html`) and the
//! outbox table (stored as [`EmailKind::as_str`]; the table has no `CHECK` on it since migration
//! 0006, so a new kind needs no migration). Every decision on a kind is an exhaustive `match`:
//! adding a variant is a compile error until each place says what the new kind does.

use serde::{Deserialize, Serialize};

use crate::mail::CalendarMethod;

/// Declares [`EmailKind`] from one list: each line names a variant and its `as_str` name, which is
/// also the stem of its three built-in templates (`templates/email/<name>.subject`, `.txt`,
/// `.html`, embedded with `include_str!`, so a missing file does not compile). The variant list,
/// [`EmailKind::ALL`], the names and the templates cannot drift apart.
macro_rules! email_kinds {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// Which email a booking change sends.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum EmailKind {
            $($(#[$doc])* $variant,)*
        }

        impl EmailKind {
            /// Every kind, in declaration order.
            pub const ALL: [EmailKind; [$($name),*].len()] = [$(EmailKind::$variant),*];

            /// The kind's name: in `EMAIL_KINDS`, the outbox table, template file names and the
            /// CLI.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(EmailKind::$variant => $name,)*
                }
            }

            /// The built-in `(file name, source)` of this kind's subject, text and HTML templates.
            pub(super) const fn builtin_templates(self) -> [(&'static str, &'static str); 3] {
                match self {
                    $(EmailKind::$variant => [
                        (
                            concat!($name, ".subject"),
                            include_str!(concat!("../../../templates/email/", $name, ".subject")),
                        ),
                        (
                            concat!($name, ".txt"),
                            include_str!(concat!("../../../templates/email/", $name, ".txt")),
                        ),
                        (
                            concat!($name, ".html"),
                            include_str!(concat!("../../../templates/email/", $name, ".html")),
                        ),
                    ],)*
                }
            }
        }
    };
}

email_kinds! {
    /// A booking is confirmed (created confirmed, or a pending one accepted).
    Confirmation => "confirmation",
    /// The new side of a reschedule (one email, not a cancellation and a confirmation).
    Rescheduled => "rescheduled",
    Cancelled => "cancelled",
    /// A booking awaits the organizer's confirmation ("request received").
    Requested => "requested",
    /// The organizer rejected a requested booking.
    Declined => "declined",
    /// Before the start, by each `REMINDER_OFFSETS` lead.
    Reminder => "reminder",
    /// A new host or place (`BOOKING_REASSIGNED`, `BOOKING_LOCATION_UPDATED`): the invite
    /// replaces the old one (same UID, higher SEQUENCE).
    Updated => "updated",
    /// The host asked the client to pick a new time (`BOOKING_CANCELLED` with
    /// `requestReschedule`): the reschedule link, and a CANCEL for the old slot's invite.
    RescheduleRequested => "reschedule_requested",
}

impl EmailKind {
    /// The calendar invite this kind carries, if any.
    pub(super) fn calendar_method(self) -> Option<CalendarMethod> {
        match self {
            EmailKind::Confirmation | EmailKind::Rescheduled | EmailKind::Updated => {
                Some(CalendarMethod::Request)
            }
            EmailKind::Cancelled | EmailKind::RescheduleRequested => Some(CalendarMethod::Cancel),
            EmailKind::Requested | EmailKind::Declined | EmailKind::Reminder => None,
        }
    }

    pub(super) fn has_google_link(self) -> bool {
        match self {
            EmailKind::Confirmation
            | EmailKind::Rescheduled
            | EmailKind::Reminder
            | EmailKind::Updated => true,
            EmailKind::Cancelled
            | EmailKind::Requested
            | EmailKind::Declined
            | EmailKind::RescheduleRequested => false,
        }
    }

    /// Whether planning this kind also plans the booking's reminders.
    pub fn plans_reminders(self) -> bool {
        match self {
            EmailKind::Confirmation | EmailKind::Rescheduled => true,
            EmailKind::Cancelled
            | EmailKind::Requested
            | EmailKind::Declined
            | EmailKind::Reminder
            | EmailKind::Updated
            | EmailKind::RescheduleRequested => false,
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
