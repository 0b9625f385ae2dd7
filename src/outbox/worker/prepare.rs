//! Everything before a claimed job's send: the parked check, the booking re-read, the
//! send-time check and rendering. Split from `worker.rs`, which claims and spawns the jobs.

use std::borrow::Cow;
use std::collections::HashMap;

use jiff::Timestamp;
use tracing::debug;
use uuid::Uuid;

use super::{Claim, JobOutcome, Runner, after};
use crate::mail::render::{Recipient, RenderContext, compose};
use crate::outbox::policy::{Verdict, send_time_check};
use crate::outbox::{EmailKind, Finish, OutboxJob};

/// A job checked and rendered, or already finished.
pub(super) enum Prepared {
    Done,
    Ready(Box<crate::mail::Email>, Timestamp),
}

impl Runner {
    /// The claimed jobs' bookings, read in one query (by uid, kept when the id matches too)
    /// instead of one read per job. A failed read gives an empty map: each job then reads its
    /// booking by itself, as before.
    pub(super) async fn bookings_of(
        &self,
        jobs: &[OutboxJob],
    ) -> HashMap<Uuid, crate::booking::Booking> {
        let mut uids: Vec<&str> = jobs.iter().map(|j| j.booking_uid.as_str()).collect();
        uids.sort_unstable();
        uids.dedup();
        match self.store.bookings_with_uids(&uids).await {
            Ok(list) => list.into_iter().map(|b| (b.id, b)).collect(),
            Err(e) => {
                debug!(error = %e, "reading the claimed emails' bookings at once failed; reading them one by one");
                HashMap::new()
            }
        }
    }

    /// Everything before the send: the parked check, the booking re-read (from `bookings`, read
    /// just after the claim, or by itself), the send-time check and rendering. Either the job is
    /// finished here or its email is ready.
    pub(super) async fn prepare(&self, job: &OutboxJob, claim: &Claim) -> Prepared {
        // A job finished here (skipped, dead, parked, retried) has its outcome recorded already.
        self.prepare_inner(job, claim)
            .await
            .unwrap_or(Prepared::Done)
    }

    async fn prepare_inner(&self, job: &OutboxJob, claim: &Claim) -> Result<Prepared, JobOutcome> {
        let (lease, now) = (claim.lease, crate::time::now());
        if let Some(pause) = claim.park.pause() {
            return Err(self
                .finish(
                    job,
                    lease,
                    Finish::Retry {
                        due_at: after(now, pause),
                        error: "queue parked: the provider blocks sending".into(),
                        count_attempt: false,
                    },
                    JobOutcome::Parked,
                )
                .await);
        }
        // Borrowed from the claim's bookings: no copy per email.
        let read = match claim.bookings.get(&job.booking_id) {
            Some(b) => Ok(Some(Cow::Borrowed(b))),
            None => self
                .store
                .booking_by_id(job.booking_id)
                .await
                .map(|b| b.map(Cow::Owned)),
        };
        let booking = match read {
            Ok(Some(b)) => b,
            Ok(None) => {
                return Err(self
                    .finish(
                        job,
                        lease,
                        Finish::Skipped {
                            reason: "booking no longer exists".into(),
                        },
                        JobOutcome::Skipped,
                    )
                    .await);
            }
            Err(e) => {
                return Err(self
                    .retry(job, lease, format!("reading the booking: {e}"), None)
                    .await);
            }
        };
        if let Verdict::Skip(reason) = send_time_check(job, &booking, now) {
            debug!(job_id = %job.id, booking_uid = %job.booking_uid, kind = %job.kind, %reason, "email skipped");
            return Err(self
                .finish(job, lease, Finish::Skipped { reason }, JobOutcome::Skipped)
                .await);
        }
        let kind = job.kind;
        let recipient = Recipient {
            name: job.recipient_name.clone(),
            email: job.recipient_email.clone(),
            time_zone: job.recipient_time_zone.clone(),
            role: job.recipient_role,
            // The booking's attendee (by email) or organizer locale.
            locale: None,
        };
        let previous_start = match &booking.rescheduled_from {
            Some(old) if kind == EmailKind::Rescheduled => self
                .store
                .booking(old)
                .await
                .ok()
                .flatten()
                .map(|b| b.starts_at),
            _ => None,
        };
        let occurrences = match &booking.extra.series_id {
            Some(id) if series_email(kind, &booking) => {
                self.store.series(id).await.unwrap_or_default()
            }
            _ => Vec::new(),
        };
        let series_uid = booking.extra.series_id.as_ref().and_then(|id| {
            occurrences
                .iter()
                .find(|o| &o.uid == id)
                .map(crate::mail::render::series_calendar_uid)
        });
        let series = match &booking.extra.series_id {
            Some(_) if series_email(kind, &booking) => occurrences
                .iter()
                .filter(|o| match kind {
                    EmailKind::Cancelled => {
                        o.status == crate::booking::Status::Cancelled
                            && o.extra.series_cancelled_from.is_some()
                    }
                    _ => !o.status.is_terminal(),
                })
                .map(|o| (o.starts_at, o.ends_at))
                .collect(),
            _ => Vec::new(),
        };
        let ctx = RenderContext {
            business_name: self.config.business_name.clone(),
            reminder_lead: job
                .reminder_lead_seconds
                .map(jiff::SignedDuration::from_secs),
            previous_start,
            series,
            series_uid,
        };
        let email = match compose(
            &self.renderer,
            kind,
            &booking,
            &recipient,
            &self.config.from,
            self.config.reply_to.as_ref(),
            job.idempotency_key.clone(),
            &ctx,
        ) {
            Ok(e) => e,
            Err(e) => {
                return Err(self
                    .finish(
                        job,
                        lease,
                        Finish::Dead {
                            error: format!("rendering failed: {e}"),
                        },
                        JobOutcome::Dead,
                    )
                    .await);
            }
        };
        Ok(Prepared::Ready(Box::new(email), now))
    }
}

/// Whether `kind` for `booking` is a series' one email: its confirmation, or the cancellation
/// of the occurrence a "cancel all remaining" named.
fn series_email(kind: EmailKind, booking: &crate::booking::Booking) -> bool {
    booking.extra.recurring_event.is_some()
        && match kind {
            EmailKind::Confirmation => true,
            EmailKind::Cancelled => booking.extra.series_cancelled_from == Some(booking.starts_at),
            _ => false,
        }
}
