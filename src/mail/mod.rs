//! Email: what a rendered message is ([`Email`]), how it is rendered from a booking
//! ([`render`]), and how it is sent ([`transport`]: Resend's HTTP API, SMTP, or files).
//!
//! Nothing here touches the database: the outbox (`crate::outbox`) decides *which* email is due
//! and calls into this module to render and send it.
//!
//! Guarantees of this module:
//! - Every value that reaches a header (names, subject) is stripped of CR, LF and NUL, so a name
//!   like `x\r\nBcc: a@evil.example` cannot add a header.
//! - Every value from a booking is HTML-escaped in HTML parts and never placed in an `href`.
//! - Times are shown in the recipient's own time zone, computed with jiff's bundled tz database.

pub mod render;
pub mod transport;

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A mailbox: an address with an optional display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mailbox {
    pub name: Option<String>,
    pub address: String,
}

/// How a calendar invite part asks the calendar to act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CalendarMethod {
    /// Create or update the event (`METHOD:REQUEST`).
    Request,
    /// Remove the event (`METHOD:CANCEL`).
    Cancel,
}

impl CalendarMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            CalendarMethod::Request => "REQUEST",
            CalendarMethod::Cancel => "CANCEL",
        }
    }
}

/// An iCalendar object (RFC 5545 text, CRLF line endings) and its method. Sent as a
/// `text/calendar; method=…` alternative part and as an `invite.ics` attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarInvite {
    pub method: CalendarMethod,
    pub ics: String,
}

/// A rendered email, ready for any transport.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    /// One line; no CR, LF or NUL.
    pub subject: String,
    pub text: String,
    pub html: String,
    pub calendar: Option<CalendarInvite>,
    /// Deterministic per logical email (e.g. `booking/<uid>/confirmation/<recipient>`), at most
    /// 256 characters. Resend receives it as `Idempotency-Key`, SMTP as `Resend-Idempotency-Key`.
    pub idempotency_key: String,
}

/// A transport accepted the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The provider's id for the message (Resend's `id`), when it gives one.
    pub provider_id: Option<String>,
}

/// Why a send failed, classified by what the outbox should do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Try again later with the same idempotency key: rate limits, 5xx, timeouts, network
    /// errors, Resend's `concurrent_idempotent_requests`. `retry_after` is the provider's hint.
    #[error("temporary failure: {reason}")]
    Retryable {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// The account cannot send for a while (Resend's daily or monthly quota, a rejected API
    /// key): park the whole queue and alert, do not retry every few seconds.
    #[error("sending is blocked: {reason}")]
    Blocked {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// This message will never be accepted (validation errors, idempotency key reused with a
    /// different payload): dead-letter it at once, keeping the reason.
    #[error("rejected: {reason}")]
    Permanent { reason: String },
}

/// Removes CR, LF and NUL (and other control characters) from a value bound for a header.
pub fn header_safe(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_lose_line_breaks_and_nul() {
        assert_eq!(
            header_safe("Marco\r\nBcc: attacker@evil.example\0"),
            "Marco Bcc: attacker@evil.example"
        );
        assert_eq!(header_safe("  Dana   Whitfield "), "Dana Whitfield");
    }
}
