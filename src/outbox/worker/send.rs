//! Sending claimed emails and recording what became of them: one by one, or as a batch through
//! a transport with a batch endpoint, then the outcome (sent, retried, dead, skipped, fenced)
//! under the claim's lease. Split from `worker.rs`, which claims and prepares.

use std::time::Duration;

use jiff::Timestamp;
use tracing::{debug, error, warn};
use uuid::Uuid;

use super::{JobOutcome, Park, Runner, after};
use crate::mail::SendError;
use crate::outbox::policy::backoff;
use crate::outbox::{Finish, OutboxJob};

impl Runner {
    /// Sends one email and records the outcome.
    pub(super) async fn deliver(
        &self,
        job: &OutboxJob,
        lease: Uuid,
        email: &crate::mail::Email,
        now: Timestamp,
        park: &Park,
    ) -> JobOutcome {
        if let Some(l) = &self.limiter {
            l.acquire().await;
        }
        let result = self.mailer.send(email).await;
        self.settle(job, lease, result, now, park).await
    }

    /// Sends emails without attachments as one batch request, retrying the same batch (same
    /// key) on a temporary failure within half the lease, and records every member's outcome.
    pub(super) async fn deliver_batch(
        &self,
        chunk: &[(OutboxJob, crate::mail::Email, Timestamp)],
        lease: Uuid,
        park: &Park,
    ) -> Vec<JobOutcome> {
        let emails: Vec<crate::mail::Email> = chunk.iter().map(|(_, e, _)| e.clone()).collect();
        let deadline = tokio::time::Instant::now() + self.config.lease / 2;
        let mut attempt: u32 = 0;
        let result = loop {
            let pause = park.pause();
            if let Some(pause) = pause {
                let mut out = Vec::with_capacity(chunk.len());
                for (job, _, now) in chunk {
                    let finish = Finish::Retry {
                        due_at: after(*now, pause),
                        error: "queue parked: the provider blocks sending".into(),
                        count_attempt: false,
                    };
                    out.push(self.finish(job, lease, finish, JobOutcome::Parked).await);
                }
                return out;
            }
            if let Some(l) = &self.limiter {
                l.acquire().await;
            }
            match self.mailer.send_batch(&emails).await {
                Err(SendError::Retryable {
                    reason,
                    retry_after,
                }) => {
                    let wait = retry_after.unwrap_or_else(|| {
                        Duration::from_millis(250u64 << attempt.min(5)).min(Duration::from_secs(5))
                    });
                    attempt += 1;
                    if attempt > 20 || tokio::time::Instant::now() + wait > deadline {
                        break Err(SendError::Retryable {
                            reason,
                            retry_after,
                        });
                    }
                    debug!(emails = emails.len(), attempt, wait_ms = wait.as_millis() as u64, %reason, "email batch will be retried as the same batch");
                    tokio::time::sleep(wait).await;
                }
                Err(SendError::Permanent { reason }) => {
                    // Nothing of the batch was sent; one email may be the cause. Send them
                    // one by one, each with its own key, so only that one is dead-lettered.
                    warn!(emails = emails.len(), %reason, "the provider refused an email batch; sending its emails one by one");
                    let mut out = Vec::with_capacity(chunk.len());
                    for (job, email, now) in chunk {
                        out.push(self.deliver(job, lease, email, *now, park).await);
                    }
                    return out;
                }
                other => break other,
            }
        };
        match result {
            Ok(sent) => {
                let mut out = Vec::with_capacity(chunk.len());
                for ((job, _, now), sent) in chunk.iter().zip(sent) {
                    out.push(self.settle(job, lease, Ok(sent), *now, park).await);
                }
                out
            }
            Err(e) => {
                let mut out = Vec::with_capacity(chunk.len());
                for (job, _, now) in chunk {
                    out.push(self.settle(job, lease, Err(e.clone()), *now, park).await);
                }
                out
            }
        }
    }

    /// Records the outcome of a send.
    pub(super) async fn settle(
        &self,
        job: &OutboxJob,
        lease: Uuid,
        result: Result<crate::mail::Sent, SendError>,
        now: Timestamp,
        park: &Park,
    ) -> JobOutcome {
        match result {
            Ok(sent) => {
                debug!(job_id = %job.id, booking_uid = %job.booking_uid, kind = %job.kind, "email sent");
                self.finish(
                    job,
                    lease,
                    Finish::Sent {
                        provider_id: sent.provider_id,
                    },
                    JobOutcome::Sent,
                )
                .await
            }
            Err(SendError::Retryable {
                reason,
                retry_after,
            }) => self.retry(job, lease, reason, retry_after).await,
            Err(SendError::Permanent { reason }) => {
                warn!(job_id = %job.id, booking_uid = %job.booking_uid, kind = %job.kind, %reason, "email rejected by the provider; dead-lettered");
                self.finish(job, lease, Finish::Dead { error: reason }, JobOutcome::Dead)
                    .await
            }
            Err(SendError::Blocked {
                reason,
                retry_after,
            }) => {
                let pause = retry_after.unwrap_or(self.config.park_default);
                park.block(pause);
                error!(%reason, pause_seconds = pause.as_secs(), "email provider blocks sending");
                self.finish(
                    job,
                    lease,
                    Finish::Retry {
                        due_at: after(now, pause),
                        error: reason,
                        count_attempt: false,
                    },
                    JobOutcome::Parked,
                )
                .await
            }
        }
    }

    pub(super) async fn retry(
        &self,
        job: &OutboxJob,
        lease: Uuid,
        error: String,
        retry_after: Option<Duration>,
    ) -> JobOutcome {
        if job.attempts >= self.config.max_attempts {
            warn!(job_id = %job.id, booking_uid = %job.booking_uid, attempts = job.attempts, %error, "email failed for good; dead-lettered");
            return self
                .finish(job, lease, Finish::Dead { error }, JobOutcome::Dead)
                .await;
        }
        let wait = backoff(
            job.attempts,
            self.config.backoff_base,
            self.config.backoff_cap,
            retry_after,
            rand::random::<f64>(),
        );
        debug!(job_id = %job.id, wait_ms = wait.as_millis() as u64, %error, "email will be retried");
        let due_at = after(crate::time::now(), wait);
        self.finish(
            job,
            lease,
            Finish::Retry {
                due_at,
                error,
                count_attempt: true,
            },
            JobOutcome::Retried,
        )
        .await
    }

    /// Records `finish` for the job, to be written with the rest of the claim's outcomes at the
    /// end of `run_once` (see `flush`). Returns the outcome it will have if the lease holds.
    pub(super) async fn finish(
        &self,
        job: &OutboxJob,
        lease: Uuid,
        finish: Finish,
        outcome: JobOutcome,
    ) -> JobOutcome {
        self.finished
            .lock()
            .expect("outcome list")
            .entry(lease)
            .or_default()
            .push((job.id, finish, outcome));
        outcome
    }

    /// Writes the outcomes recorded for `lease` in one transaction and returns them; a job whose
    /// lease was lost meanwhile is `Fenced`. An email already handed to the provider must not be
    /// sent again because its outcome could not be written: a busy or briefly unavailable
    /// database is retried a few times. If that fails, the leases expire and the jobs are claimed
    /// again, with the same idempotency keys.
    pub(super) async fn flush(&self, lease: Uuid) -> Vec<JobOutcome> {
        let items = self
            .finished
            .lock()
            .expect("outcome list")
            .remove(&lease)
            .unwrap_or_default();
        if items.is_empty() {
            return Vec::new();
        }
        let writes: Vec<(Uuid, Finish)> = items.iter().map(|(id, f, _)| (*id, f.clone())).collect();
        let mut delay = Duration::from_millis(50);
        for attempt in 1..=5 {
            match self
                .store
                .finish_outbox_many(lease, &writes, crate::time::now())
                .await
            {
                Ok(done) => {
                    return items
                        .iter()
                        .zip(done)
                        .map(|((id, _, outcome), held)| {
                            if held {
                                *outcome
                            } else {
                                warn!(job_id = %id, "lease lost before the outcome was recorded; the new owner decides");
                                JobOutcome::Fenced
                            }
                        })
                        .collect();
                }
                Err(e) if attempt < 5 => {
                    debug!(error = %e, attempt, jobs = items.len(), "recording the emails' outcomes failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(e) => {
                    warn!(error = %e, jobs = items.len(), "could not record the emails' outcomes");
                }
            }
        }
        vec![JobOutcome::Fenced; items.len()]
    }
}
