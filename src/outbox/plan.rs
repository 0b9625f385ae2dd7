//! Which emails a booking change calls for. Pure: the ingest writer calls [`plan`] for every
//! [`Change`] and inserts the rows in the same transaction as the change.
//!
//! | change | emails |
//! |---|---|
//! | created (confirmed), or a pending booking confirmed | confirmation + reminders |
//! | created as the new side of a reschedule | rescheduled (one email, not cancel + confirm) + reminders |
//! | requested | "request received" |
//! | rejected | declined |
//! | cancelled | cancellation (for a cancel-all, one listing the cancelled dates) |
//! | confirmed by payment (`paid` on a booking awaiting it) | confirmation + reminders |
//! | an occurrence of a recurring series | one confirmation for the series (key `series/<id>/…`, due [`SERIES_GATHER`] later, listing the dates) + reminders per occurrence |
//! | seat added | confirmation + reminders, to the new seat's attendee only |
//! | seat cancelled | cancellation to that attendee only (none for a seat moved to another booking) |
//! | reassigned, location updated | `updated` (invite with a higher SEQUENCE) to the attendees |
//! | reschedule requested | `reschedule_requested` (the reschedule link, and a CANCEL for the old slot) |
//! | payment initiated, paid after confirmation, no-shows, `updated`, series_cancelled | none |
//! | old side of a reschedule, link, meeting events | none |
//!
//! Reminders go when their booking goes: [`withdrawals`] marks the pending reminders of a
//! cancelled, rejected or rescheduled booking, of a cancelled seat, or of a start that moved,
//! `skipped` with the reason, in the same transaction (the send-time check stays as a second
//! guard). Attendees whose seat is cancelled get no email but their own cancellation.
//!
//! A reminder whose time had already passed when the booking was made is not planned at all (so
//! a booking 10 h ahead gets only the 1 h reminder): no row, where there used to be a `skipped`
//! one. Those rows were two of every three written for a booking in the past (an import, a
//! backfill) and cost the webhook path their inserts and index entries (BENCHMARKS.md, issue 15).

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{EmailKind, JobState, OutboxJob, Role, Withdrawal};
use crate::booking::{Action, Booking, Change, Status, email_key};

mod seats;

/// Which emails to plan (`EMAIL_KINDS`, `REMINDER_OFFSETS`, `NOTIFY_HOST`).
#[derive(Debug, Clone, PartialEq)]
pub struct EmailPolicy {
    pub kinds: BTreeSet<EmailKind>,
    /// How long before the start each reminder goes out; empty disables reminders.
    pub reminder_offsets: Vec<SignedDuration>,
    /// Copies to the organizer.
    pub notify_host: bool,
}

impl Default for EmailPolicy {
    fn default() -> Self {
        EmailPolicy {
            kinds: EmailKind::ALL.into_iter().collect(),
            reminder_offsets: vec![
                SignedDuration::from_hours(24),
                SignedDuration::from_hours(1),
            ],
            notify_host: false,
        }
    }
}

/// Parses `REMINDER_OFFSETS`: `48h,24h,1h,15m` (units d, h, m); empty disables reminders.
pub fn parse_offsets(s: &str) -> Result<Vec<SignedDuration>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (num, unit) = part.split_at(part.len() - 1);
        let n: i64 = num
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("REMINDER_OFFSETS: {part:?} is not a positive number with a unit (d, h or m), e.g. 24h"))?;
        let d = match unit {
            "d" => SignedDuration::from_hours(n * 24),
            "h" => SignedDuration::from_hours(n),
            "m" => SignedDuration::from_mins(n),
            _ => {
                return Err(format!(
                    "REMINDER_OFFSETS: {part:?} has no unit (use d, h or m), e.g. 24h"
                ));
            }
        };
        if !out.contains(&d) {
            out.push(d);
        }
    }
    Ok(out)
}

/// Parses `EMAIL_KINDS`: a comma-separated subset of [`EmailKind::ALL`].
pub fn parse_kinds(s: &str) -> Result<BTreeSet<EmailKind>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|k| {
            k.parse::<EmailKind>().map_err(|_| {
                let all: Vec<&str> = EmailKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("EMAIL_KINDS: unknown kind {k:?} (use {})", all.join(", "))
            })
        })
        .collect()
}

/// How long a series' one confirmation waits for the rest of its occurrences to arrive (Cal.com
/// sends one `BOOKING_CREATED` per occurrence, together); it lists every date recorded by then.
pub const SERIES_GATHER: SignedDuration = SignedDuration::from_secs(60);

/// The outbox rows `change` calls for.
pub fn plan(change: &Change, policy: &EmailPolicy, now: Timestamp) -> Vec<OutboxJob> {
    let b = &change.after;
    let became_confirmed = b.status == Status::Confirmed
        && change
            .before
            .as_ref()
            .is_none_or(|before| before.status != Status::Confirmed);
    // `only`: the emails of the seats the change is about (a seat's own emails).
    let (kind, only) = match change.action {
        Action::Created if b.status == Status::Confirmed && b.rescheduled_from.is_some() => {
            (EmailKind::Rescheduled, None)
        }
        Action::Created | Action::Confirmed | Action::Paid if became_confirmed => {
            (EmailKind::Confirmation, None)
        }
        Action::Requested => (EmailKind::Requested, None),
        Action::Rejected => (EmailKind::Declined, None),
        Action::Cancelled => (EmailKind::Cancelled, None),
        Action::RescheduleRequested => (EmailKind::RescheduleRequested, None),
        Action::SeatAdded => (EmailKind::Confirmation, Some(seats::added(change))),
        Action::SeatCancelled => (EmailKind::Cancelled, Some(seats::cancelled(change, false))),
        Action::Reassigned | Action::LocationUpdated => (EmailKind::Updated, None),
        _ => return Vec::new(),
    };
    let series = b.extra.series_id.as_deref().filter(|_| {
        kind == EmailKind::Confirmation && only.is_none() && b.extra.recurring_event.is_some()
    });
    let mut jobs = Vec::new();
    for (role, email, name, zone) in recipients(b, policy.notify_host && only.is_none(), &only) {
        let base = Recipient {
            role,
            email,
            name,
            zone,
        };
        if policy.kinds.contains(&kind) {
            let mut j = job(b, kind, &base, None, now, now);
            if let Some(series) = series {
                // One confirmation for the whole series, listing its dates.
                j.idempotency_key = bounded_key(format!(
                    "series/{series}/confirmation/{}",
                    base.email.to_ascii_lowercase()
                ));
                j.due_at = now.checked_add(SERIES_GATHER).unwrap_or(now);
            }
            if kind == EmailKind::Updated {
                j.idempotency_key = bounded_key(format!(
                    "booking/{}/updated/{}/{}",
                    b.uid,
                    b.ical_sequence,
                    base.email.to_ascii_lowercase()
                ));
            }
            jobs.push(j);
        }
        if kind.plans_reminders() && policy.kinds.contains(&EmailKind::Reminder) {
            for lead in &policy.reminder_offsets {
                let due = b.starts_at.checked_sub(*lead).unwrap_or(b.starts_at);
                if due <= now {
                    continue;
                }
                jobs.push(job(b, EmailKind::Reminder, &base, Some(*lead), due, now));
            }
        }
    }
    jobs
}

/// The pending reminders `change` takes back, in its own transaction: all of a booking that is
/// cancelled, rejected or rescheduled; a cancelled seat's own; those planned for a start the
/// booking moved away from.
pub fn withdrawals(change: &Change) -> Vec<Withdrawal> {
    let b = &change.after;
    let Some(before) = &change.before else {
        return Vec::new();
    };
    let gone = matches!(
        b.status,
        Status::Cancelled | Status::Rejected | Status::Rescheduled | Status::RescheduleRequested
    );
    if gone && before.status != b.status {
        return vec![Withdrawal {
            booking_id: b.id,
            recipient: None,
            keep_start: None,
            reason: format!("booking is {}", b.status),
        }];
    }
    if change.action == Action::SeatCancelled {
        return seats::cancelled(change, true)
            .into_iter()
            .map(|email| Withdrawal {
                booking_id: b.id,
                reason: match b.attendee_state(&email).and_then(|s| s.moved_to.as_deref()) {
                    Some(_) => "the seat moved to another booking".to_owned(),
                    None => "the seat was cancelled".to_owned(),
                },
                recipient: Some(email),
                keep_start: None,
            })
            .collect();
    }
    if b.starts_at != before.starts_at && !b.status.is_terminal() {
        return vec![Withdrawal {
            booking_id: b.id,
            recipient: None,
            keep_start: Some(b.starts_at),
            reason: "the booking's start time moved".to_owned(),
        }];
    }
    Vec::new()
}

/// The email a booking's client gets for where the booking stands now, for a resend from the
/// dashboard: a confirmation for a confirmed booking, "request received" for a pending one, the
/// cancellation, the decline, or the request to pick a new time. `None` for a booking moved to
/// another (resend the new booking's) or awaiting payment (nothing was sent yet).
pub fn resend_kind(b: &Booking) -> Option<EmailKind> {
    match b.status {
        Status::Confirmed => Some(EmailKind::Confirmation),
        Status::Pending => Some(EmailKind::Requested),
        Status::Cancelled => Some(EmailKind::Cancelled),
        Status::Rejected => Some(EmailKind::Declined),
        Status::RescheduleRequested => Some(EmailKind::RescheduleRequested),
        Status::Rescheduled | Status::AwaitingPayment => None,
    }
}

/// Fresh outbox rows sending `kind` again to the booking's attendees (not the host), due now,
/// each with a key of its own (`booking/<uid>/<kind>/resend/<row id>/<recipient>`), so that the
/// provider sends it again rather than taking it for the earlier one.
pub fn resend(b: &Booking, kind: EmailKind, now: Timestamp) -> Vec<OutboxJob> {
    recipients(b, false, &None)
        .into_iter()
        .map(|(role, email, name, zone)| {
            let to = Recipient {
                role,
                email,
                name,
                zone,
            };
            let mut j = job(b, kind, &to, None, now, now);
            j.idempotency_key = bounded_key(format!(
                "booking/{}/{kind}/resend/{}/{}",
                b.uid,
                j.id,
                to.email.to_ascii_lowercase()
            ));
            j
        })
        .collect()
}

struct Recipient {
    role: Role,
    email: String,
    name: Option<String>,
    zone: Option<String>,
}

/// Attendees (and guests) with an address, each once, whose seat is not cancelled (or only those
/// in `only`); then the organizer when asked for.
fn recipients(
    b: &Booking,
    notify_host: bool,
    only: &Option<Vec<String>>,
) -> Vec<(Role, String, Option<String>, Option<String>)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for p in &b.attendees {
        if let Some(email) = p.email.as_deref().map(str::trim).filter(|e| !e.is_empty())
            && match only {
                Some(only) => only.contains(&email_key(email)),
                None => !b.seat_cancelled(email),
            }
            && seen.insert(email.to_ascii_lowercase())
        {
            out.push((
                Role::Attendee,
                email.to_owned(),
                p.name.clone(),
                p.time_zone.clone(),
            ));
        }
    }
    if notify_host
        && let Some(o) = &b.organizer
        && let Some(email) = o.email.as_deref().map(str::trim).filter(|e| !e.is_empty())
        && seen.insert(email.to_ascii_lowercase())
    {
        out.push((
            Role::Host,
            email.to_owned(),
            o.name.clone(),
            o.time_zone.clone(),
        ));
    }
    out
}

/// A `pending` job.
fn job(
    b: &Booking,
    kind: EmailKind,
    to: &Recipient,
    lead: Option<SignedDuration>,
    due: Timestamp,
    now: Timestamp,
) -> OutboxJob {
    let recipient = to.email.to_ascii_lowercase();
    let key = match lead {
        Some(lead) => format!(
            "booking/{}/reminder/{}s/{}/{recipient}",
            b.uid,
            lead.as_secs(),
            b.starts_at
        ),
        None => format!("booking/{}/{kind}/{recipient}", b.uid),
    };
    OutboxJob {
        id: Uuid::now_v7(),
        idempotency_key: bounded_key(key),
        kind,
        booking_id: b.id,
        booking_uid: b.uid.clone(),
        recipient_email: to.email.clone(),
        recipient_name: to.name.clone(),
        recipient_time_zone: to.zone.clone(),
        recipient_role: to.role,
        reminder_lead_seconds: lead.map(|l| l.as_secs()),
        scheduled_start: lead.map(|_| b.starts_at),
        due_at: due,
        state: JobState::Pending,
        attempts: 0,
        last_error: None,
        lease_token: None,
        leased_until: None,
        provider_id: None,
        sent_at: None,
        created_at: now,
        updated_at: now,
    }
}

/// Resend accepts keys of at most 256 characters; longer ones are replaced by their hash.
fn bounded_key(key: String) -> String {
    if key.len() <= 256 {
        key
    } else {
        format!(
            "booking/sha256/{}",
            hex::encode(Sha256::digest(key.as_bytes()))
        )
    }
}

#[cfg(test)]
mod tests;
