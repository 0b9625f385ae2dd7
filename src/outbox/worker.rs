//! The outbox worker: claims due emails, re-checks their booking, renders and sends them, and
//! records the outcome — with a lease so that a worker that dies mid-send is replaced, and a
//! fencing token so that a replaced worker cannot record an outcome afterwards.
//!
//! Delivery is at least once towards the provider and exactly once towards the recipient as long
//! as the provider honours the idempotency key (Resend keeps keys 24 h; the local `sent` state is
//! the guard beyond that). Sending happens outside any database transaction.
//!
//! Failures: a temporary one (rate limit, 5xx, timeout) is retried with capped exponential
//! backoff and jitter, never sooner than the provider's `Retry-After`; after `max_attempts` the
//! job is dead, with its last error kept. A permanent one (validation) is dead at once. A blocked
//! account (quota, bad API key) parks the queue: every claimed job goes back unchanged and the
//! worker pauses, logging one error, instead of retrying every few seconds.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use jiff::Timestamp;
use tokio::sync::{Mutex, Notify};
use tracing::{Instrument, debug, error, info, info_span, warn};
use uuid::Uuid;

use super::policy::{Verdict, backoff, send_time_check};
use super::{EmailKind, Finish, OutboxJob};
use crate::mail::render::{Recipient, RenderContext, Renderer, compose};
use crate::mail::transport::Mailer;
use crate::mail::{Mailbox, SendError};
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    pub business_name: String,
    /// How long a claim is held before another worker may take the job over.
    pub lease: Duration,
    /// Jobs claimed at a time.
    pub batch: u32,
    /// Sends in flight at once.
    pub concurrency: usize,
    pub max_attempts: i64,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Longest sleep when the queue is empty (new jobs also wake the worker at once).
    pub idle_poll: Duration,
    /// `EMAIL_RATE_PER_SECOND`: never exceeded, across this worker's concurrent sends.
    pub rate_per_second: Option<f64>,
    /// How long to park the queue when the provider blocks sending without saying how long.
    pub park_default: Duration,
}

impl WorkerConfig {
    pub fn new(from: Mailbox) -> WorkerConfig {
        WorkerConfig {
            from,
            reply_to: None,
            business_name: String::new(),
            lease: Duration::from_secs(120),
            batch: 64,
            concurrency: 32,
            max_attempts: 8,
            backoff_base: Duration::from_secs(30),
            backoff_cap: Duration::from_secs(3600),
            idle_poll: Duration::from_secs(1),
            rate_per_second: None,
            park_default: Duration::from_secs(900),
        }
    }
}

/// Spaces sends so that `rate` per second is never exceeded.
struct RateLimiter {
    interval: Duration,
    next: Mutex<tokio::time::Instant>,
}

impl RateLimiter {
    fn new(rate: f64) -> RateLimiter {
        RateLimiter {
            interval: Duration::from_secs_f64(1.0 / rate.max(0.001)),
            next: Mutex::new(tokio::time::Instant::now()),
        }
    }

    async fn acquire(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let slot = (*next).max(tokio::time::Instant::now());
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// What one processed job ended as (for logs, metrics and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    Sent,
    Skipped,
    Retried,
    Dead,
    Parked,
    /// The lease was lost before the outcome could be recorded.
    Fenced,
}

impl JobOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            JobOutcome::Sent => "sent",
            JobOutcome::Skipped => "skipped",
            JobOutcome::Retried => "retried",
            JobOutcome::Dead => "dead",
            JobOutcome::Parked => "parked",
            JobOutcome::Fenced => "fenced",
        }
    }
}

pub struct Worker {
    store: Store,
    mailer: Arc<Mailer>,
    renderer: Arc<Renderer>,
    config: WorkerConfig,
    wake: Arc<Notify>,
    limiter: Option<RateLimiter>,
}

impl Worker {
    pub fn new(
        store: Store,
        mailer: Arc<Mailer>,
        renderer: Arc<Renderer>,
        config: WorkerConfig,
    ) -> Worker {
        let limiter = config
            .rate_per_second
            .filter(|r| *r > 0.0)
            .map(RateLimiter::new);
        Worker {
            store,
            mailer,
            renderer,
            config,
            wake: Arc::new(Notify::new()),
            limiter,
        }
    }

    /// Wakes the worker early (after the ingest planned new emails).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Runs until `shutdown` resolves, finishing the batch in hand.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let span = info_span!("outbox_worker", mailer = self.mailer.kind());
        async move {
            tokio::pin!(shutdown);
            loop {
                let pause = match self.run_once(crate::time::now()).await {
                    Ok((_, Some(parked))) => parked,
                    Ok((n, None)) if n > 0 => Duration::ZERO,
                    Ok(_) => self.config.idle_poll,
                    Err(e) => {
                        warn!(error = %e, "outbox poll failed; retrying");
                        self.config.idle_poll
                    }
                };
                // Shutdown is checked first, also when there is more work to do at once.
                tokio::select! {
                    biased;
                    _ = &mut shutdown => break,
                    _ = self.wake.notified(), if !pause.is_zero() => {},
                    _ = tokio::time::sleep(pause) => {},
                }
            }
            info!("outbox worker stopped");
        }
        .instrument(span)
        .await
    }

    /// Claims one batch of due jobs and processes it. Returns how many were claimed, and how
    /// long to park the queue when the provider blocked sending.
    pub async fn run_once(
        &self,
        now: Timestamp,
    ) -> Result<(usize, Option<Duration>), crate::store::StoreError> {
        if !self.store.outbox_has_due(now).await? {
            return Ok((0, None));
        }
        let lease = Uuid::now_v7();
        let until = now
            .checked_add(jiff::SignedDuration::try_from(self.config.lease).unwrap_or_default())
            .unwrap_or(now);
        // With a send rate, claim no more than can go out within half the lease, so that no
        // claimed job's lease runs out while it waits for its turn.
        let batch = match self.config.rate_per_second {
            Some(rate) if rate > 0.0 => {
                let fits = (rate * self.config.lease.as_secs_f64() / 2.0).floor() as u32;
                self.config.batch.min(fits.max(1))
            }
            _ => self.config.batch,
        };
        let jobs = self.store.claim_outbox(lease, now, until, batch).await?;
        let claimed = jobs.len();
        if claimed == 0 {
            return Ok((0, None));
        }
        let parked: Arc<Mutex<Option<Duration>>> = Arc::new(Mutex::new(None));
        futures_util::stream::iter(jobs)
            .for_each_concurrent(self.config.concurrency.max(1), |job| {
                let parked = parked.clone();
                async move {
                    let outcome = self.process(&job, lease, parked).await;
                    metrics::counter!("calbook_outbox_jobs_total", "outcome" => outcome.as_str())
                        .increment(1);
                }
            })
            .await;
        let parked = *parked.lock().await;
        if let Some(d) = parked {
            error!(
                pause_seconds = d.as_secs(),
                "the email provider blocks sending; the outbox is parked"
            );
        }
        Ok((claimed, parked))
    }

    async fn process(
        &self,
        job: &OutboxJob,
        lease: Uuid,
        parked: Arc<Mutex<Option<Duration>>>,
    ) -> JobOutcome {
        let now = crate::time::now();
        if let Some(pause) = *parked.lock().await {
            return self
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
                .await;
        }
        let booking = match self.store.booking_by_id(job.booking_id).await {
            Ok(Some(b)) => b,
            Ok(None) => {
                return self
                    .finish(
                        job,
                        lease,
                        Finish::Skipped {
                            reason: "booking no longer exists".into(),
                        },
                        JobOutcome::Skipped,
                    )
                    .await;
            }
            Err(e) => {
                return self
                    .retry(job, lease, format!("reading the booking: {e}"), None)
                    .await;
            }
        };
        if let Verdict::Skip(reason) = send_time_check(job, &booking, now) {
            debug!(job_id = %job.id, booking_uid = %job.booking_uid, kind = %job.kind, %reason, "email skipped");
            return self
                .finish(job, lease, Finish::Skipped { reason }, JobOutcome::Skipped)
                .await;
        }
        let kind = job.kind;
        let recipient = Recipient {
            name: job.recipient_name.clone(),
            email: job.recipient_email.clone(),
            time_zone: job.recipient_time_zone.clone(),
            role: job.recipient_role,
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
        let ctx = RenderContext {
            business_name: self.config.business_name.clone(),
            reminder_lead: job
                .reminder_lead_seconds
                .map(jiff::SignedDuration::from_secs),
            previous_start,
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
                return self
                    .finish(
                        job,
                        lease,
                        Finish::Dead {
                            error: format!("rendering failed: {e}"),
                        },
                        JobOutcome::Dead,
                    )
                    .await;
            }
        };
        if let Some(l) = &self.limiter {
            l.acquire().await;
        }
        match self.mailer.send(&email).await {
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
                *parked.lock().await = Some(pause);
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

    async fn retry(
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

    async fn finish(
        &self,
        job: &OutboxJob,
        lease: Uuid,
        finish: Finish,
        outcome: JobOutcome,
    ) -> JobOutcome {
        // An email already handed to the provider must not be sent again because its outcome
        // could not be written: a busy or briefly unavailable database is retried a few times.
        let mut delay = Duration::from_millis(50);
        for attempt in 1..=5 {
            match self
                .store
                .finish_outbox(job.id, lease, &finish, crate::time::now())
                .await
            {
                Ok(true) => return outcome,
                Ok(false) => {
                    warn!(job_id = %job.id, "lease lost before the outcome was recorded; the new owner decides");
                    return JobOutcome::Fenced;
                }
                Err(e) if attempt < 5 => {
                    debug!(job_id = %job.id, error = %e, attempt, "recording the email's outcome failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(e) => {
                    // The lease expires and the job is claimed again, with the same idempotency key.
                    warn!(job_id = %job.id, error = %e, "could not record the email's outcome");
                }
            }
        }
        JobOutcome::Fenced
    }
}

fn after(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_add(jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX))
        .unwrap_or(t)
}
