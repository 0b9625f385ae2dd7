//! The worker's rules, pure: whether a claimed email is still wanted (the send-time check),
//! and when to try again after a failure.

use std::time::Duration;

use jiff::Timestamp;

use super::{EmailKind, OutboxJob};
use crate::booking::{Booking, Status};

/// What to do with a claimed job once its booking has been re-read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Send,
    Skip(String),
}

/// Re-checks, just before sending, that the booking still wants this email: a reminder for a
/// booking that was cancelled, rescheduled, rejected or moved is skipped, as is one whose meeting
/// has started; a confirmation for a booking cancelled before it went out is skipped.
/// Cancellation and decline notices always go.
pub fn send_time_check(job: &OutboxJob, booking: &Booking, now: Timestamp) -> Verdict {
    let skip = |why: String| Verdict::Skip(why);
    // A seat cancelled (or moved) since: only its cancellation notice still goes.
    if job.kind != EmailKind::Cancelled && booking.seat_cancelled(&job.recipient_email) {
        return skip("the recipient's seat was cancelled".to_owned());
    }
    match job.kind {
        EmailKind::Reminder => {
            if booking.status != Status::Confirmed {
                skip(format!("booking is {}", booking.status))
            } else if job.scheduled_start != Some(booking.starts_at) {
                skip("the booking's start time moved".to_owned())
            } else if now >= booking.starts_at {
                skip("the meeting has already started".to_owned())
            } else {
                Verdict::Send
            }
        }
        EmailKind::Confirmation | EmailKind::Rescheduled | EmailKind::Updated => {
            match booking.status {
                Status::Cancelled | Status::Rejected | Status::Rescheduled => {
                    skip(format!("booking is {}", booking.status))
                }
                _ => Verdict::Send,
            }
        }
        EmailKind::RescheduleRequested if booking.status != Status::RescheduleRequested => {
            skip(format!(
                "booking is {}, no longer awaiting a new time",
                booking.status
            ))
        }
        EmailKind::RescheduleRequested => Verdict::Send,
        EmailKind::Requested if booking.status != Status::Pending => {
            skip(format!("booking is {}, no longer pending", booking.status))
        }
        EmailKind::Requested | EmailKind::Cancelled | EmailKind::Declined => Verdict::Send,
    }
}

/// Capped exponential backoff with jitter: attempt 1 waits about `base`, each later attempt
/// twice as long, never more than `cap`; the wait is drawn from [½·d, d] so that a burst of
/// failures does not retry in lockstep. A provider's `Retry-After` is a floor.
pub fn backoff(
    attempt: i64,
    base: Duration,
    cap: Duration,
    retry_after: Option<Duration>,
    unit_random: f64,
) -> Duration {
    let exp = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let full = base.saturating_mul(2u32.saturating_pow(exp)).min(cap);
    let jittered = full.mul_f64(0.5 + 0.5 * unit_random.clamp(0.0, 1.0));
    jittered.max(retry_after.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::booking::BookingDetails;
    use crate::outbox::{JobState, Role};

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn booking(status: Status, start: &str) -> Booking {
        let d = BookingDetails::example("A", start);
        Booking::from_details(&d, status, ts("2026-03-01T00:00:00Z"))
    }

    fn job(kind: &str, scheduled_start: Option<&str>) -> OutboxJob {
        let kind: EmailKind = kind.parse().unwrap();
        let t = ts("2026-03-01T00:00:00Z");
        OutboxJob {
            id: Uuid::nil(),
            idempotency_key: "k".into(),
            kind,
            booking_id: Uuid::nil(),
            booking_uid: "A".into(),
            recipient_email: "m@example.com".into(),
            recipient_name: None,
            recipient_time_zone: None,
            recipient_role: Role::Attendee,
            reminder_lead_seconds: scheduled_start.map(|_| 3600),
            scheduled_start: scheduled_start.map(ts),
            due_at: t,
            state: JobState::Sending,
            attempts: 1,
            last_error: None,
            lease_token: None,
            leased_until: None,
            provider_id: None,
            sent_at: None,
            created_at: t,
            updated_at: t,
        }
    }

    #[test]
    fn a_reschedule_request_goes_only_while_the_booking_awaits_a_new_time() {
        let now = ts("2026-03-10T13:00:00Z");
        let start = "2026-03-10T14:00:00Z";
        let j = job("reschedule_requested", None);
        assert_eq!(
            send_time_check(&j, &booking(Status::RescheduleRequested, start), now),
            Verdict::Send
        );
        for status in [Status::Rescheduled, Status::Cancelled, Status::Confirmed] {
            assert_eq!(
                send_time_check(&j, &booking(status, start), now),
                Verdict::Skip(format!(
                    "booking is {status}, no longer awaiting a new time"
                ))
            );
        }
    }

    #[test]
    fn reminders_are_skipped_for_changed_bookings_and_sent_otherwise() {
        let now = ts("2026-03-10T13:00:00Z");
        let start = "2026-03-10T14:00:00Z";
        let reminder = job("reminder", Some(start));
        assert_eq!(
            send_time_check(&reminder, &booking(Status::Confirmed, start), now),
            Verdict::Send
        );
        for status in [
            Status::Cancelled,
            Status::Rescheduled,
            Status::Rejected,
            Status::RescheduleRequested,
        ] {
            assert_eq!(
                send_time_check(&reminder, &booking(status, start), now),
                Verdict::Skip(format!("booking is {status}"))
            );
        }
        let moved = booking(Status::Confirmed, "2026-03-10T16:00:00Z");
        assert!(
            matches!(send_time_check(&reminder, &moved, now), Verdict::Skip(w) if w.contains("moved"))
        );
        let late = ts("2026-03-10T14:05:00Z");
        assert!(
            matches!(send_time_check(&reminder, &booking(Status::Confirmed, start), late), Verdict::Skip(w) if w.contains("started"))
        );
    }

    #[test]
    fn confirmations_wait_for_nothing_but_a_cancellation_and_notices_always_go() {
        let now = ts("2026-03-10T13:00:00Z");
        let start = "2026-03-11T14:00:00Z";
        assert_eq!(
            send_time_check(
                &job("confirmation", None),
                &booking(Status::Confirmed, start),
                now
            ),
            Verdict::Send
        );
        assert!(matches!(
            send_time_check(
                &job("confirmation", None),
                &booking(Status::Cancelled, start),
                now
            ),
            Verdict::Skip(_)
        ));
        assert_eq!(
            send_time_check(
                &job("cancelled", None),
                &booking(Status::Cancelled, start),
                now
            ),
            Verdict::Send
        );
        assert_eq!(
            send_time_check(
                &job("declined", None),
                &booking(Status::Rejected, start),
                now
            ),
            Verdict::Send
        );
        assert!(matches!(
            send_time_check(
                &job("requested", None),
                &booking(Status::Confirmed, start),
                now
            ),
            Verdict::Skip(_)
        ));
    }

    #[test]
    fn backoff_grows_is_capped_jittered_and_honours_retry_after() {
        let base = Duration::from_secs(30);
        let cap = Duration::from_secs(3600);
        assert_eq!(backoff(1, base, cap, None, 1.0), Duration::from_secs(30));
        assert_eq!(backoff(1, base, cap, None, 0.0), Duration::from_secs(15));
        assert_eq!(backoff(3, base, cap, None, 1.0), Duration::from_secs(120));
        assert_eq!(backoff(30, base, cap, None, 1.0), cap);
        assert_eq!(backoff(i64::MAX, base, cap, None, 1.0), cap);
        assert_eq!(
            backoff(1, base, cap, Some(Duration::from_secs(90)), 0.0),
            Duration::from_secs(90)
        );
        for r in [0.0, 0.3, 0.7, 1.0] {
            let d = backoff(4, base, cap, None, r);
            assert!(
                d >= Duration::from_secs(120) && d <= Duration::from_secs(240),
                "{d:?}"
            );
        }
    }
}
