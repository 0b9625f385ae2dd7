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
//!
//! Batches: with a transport that has a batch endpoint (Resend: up to 100 emails per request),
//! the claimed emails without attachments (reminders, requested, declined) go out together, in
//! groups ordered by their own idempotency keys, each request with a deterministic batch key
//! ([`crate::mail::transport::batch_key`]). A rate-limited or failed batch is retried as the same
//! batch, with the same key, within the lease (honouring `Retry-After`), so a burst of reminders
//! costs one request per 100 emails against the provider's rate limit. A batch the provider
//! refuses as invalid is sent again email by email, so one bad address does not fail the rest.

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

/// Outcomes decided but not yet written, by lease: (job id, how it ends, its outcome).
type Decided = std::collections::HashMap<Uuid, Vec<(Uuid, Finish, JobOutcome)>>;

pub struct Worker {
    /// Outcomes decided during `run_once`, by lease, written together at its end.
    finished: std::sync::Mutex<Decided>,
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
            finished: Default::default(),
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
        let batch_limit = self.mailer.batch_limit();
        // One batch request carries up to `batch_limit` emails: claim at least that many.
        let batch = if batch_limit > 1 {
            batch.max(batch_limit as u32)
        } else {
            batch
        };
        let jobs = self.store.claim_outbox(lease, now, until, batch).await?;
        let claimed = jobs.len();
        if claimed == 0 {
            return Ok((0, None));
        }
        let parked: Arc<Mutex<Option<Duration>>> = Arc::new(Mutex::new(None));
        if batch_limit <= 1 {
            futures_util::stream::iter(jobs)
                .for_each_concurrent(self.config.concurrency.max(1), |job| {
                    let parked = parked.clone();
                    async move {
                        if let Prepared::Ready(email, now) =
                            self.prepare(&job, lease, &parked).await
                        {
                            self.deliver(&job, lease, &email, now, &parked).await;
                        }
                    }
                })
                .await;
        } else {
            // Check and render everything first, then send the emails without attachments in
            // batches and the rest one by one, both at once.
            let prepared: Vec<(OutboxJob, Prepared)> = futures_util::stream::iter(jobs)
                .map(|job| {
                    let parked = parked.clone();
                    async move {
                        let p = self.prepare(&job, lease, &parked).await;
                        (job, p)
                    }
                })
                .buffer_unordered(self.config.concurrency.max(1))
                .collect()
                .await;
            let mut batchable = Vec::new();
            let mut single = Vec::new();
            for (job, p) in prepared {
                match p {
                    Prepared::Done => {}
                    Prepared::Ready(email, now) if email.calendar.is_none() => {
                        batchable.push((job, *email, now))
                    }
                    Prepared::Ready(email, now) => single.push((job, *email, now)),
                }
            }
            batchable.sort_by(|a, b| a.1.idempotency_key.cmp(&b.1.idempotency_key));
            let batches = async {
                for chunk in batchable.chunks(batch_limit) {
                    self.deliver_batch(chunk, lease, &parked).await;
                }
            };
            // Futures built in a loop, not in a closure over references: the latter trips
            // rustc's `Send` inference for the spawned worker (rust-lang/rust#102211).
            let mut sends = Vec::with_capacity(single.len());
            for (job, email, now) in &single {
                sends.push(self.deliver(job, lease, email, *now, &parked));
            }
            let singles = futures_util::stream::iter(sends)
                .buffer_unordered(self.config.concurrency.max(1))
                .for_each(|_| std::future::ready(()));
            tokio::join!(batches, singles);
        }
        // Every outcome of this claim, in one transaction (one commit instead of one per email).
        for outcome in self.flush(lease).await {
            count(outcome);
        }
        let parked = *parked.lock().await;
        if let Some(d) = parked {
            error!(
                pause_seconds = d.as_secs(),
                "the email provider blocks sending; the outbox is parked"
            );
        }
        Ok((claimed, parked))
    }

    /// Everything before the send: the parked check, the booking re-read, the send-time check
    /// and rendering. Either the job is finished here or its email is ready.
    async fn prepare(
        &self,
        job: &OutboxJob,
        lease: Uuid,
        parked: &Mutex<Option<Duration>>,
    ) -> Prepared {
        // A job finished here (skipped, dead, parked, retried) has its outcome recorded already.
        self.prepare_inner(job, lease, parked)
            .await
            .unwrap_or(Prepared::Done)
    }

    async fn prepare_inner(
        &self,
        job: &OutboxJob,
        lease: Uuid,
        parked: &Mutex<Option<Duration>>,
    ) -> Result<Prepared, JobOutcome> {
        let now = crate::time::now();
        if let Some(pause) = *parked.lock().await {
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
        let booking = match self.store.booking_by_id(job.booking_id).await {
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

    /// Sends one email and records the outcome.
    async fn deliver(
        &self,
        job: &OutboxJob,
        lease: Uuid,
        email: &crate::mail::Email,
        now: Timestamp,
        parked: &Mutex<Option<Duration>>,
    ) -> JobOutcome {
        if let Some(l) = &self.limiter {
            l.acquire().await;
        }
        let result = self.mailer.send(email).await;
        self.settle(job, lease, result, now, parked).await
    }

    /// Sends emails without attachments as one batch request, retrying the same batch (same
    /// key) on a temporary failure within half the lease, and records every member's outcome.
    async fn deliver_batch(
        &self,
        chunk: &[(OutboxJob, crate::mail::Email, Timestamp)],
        lease: Uuid,
        parked: &Mutex<Option<Duration>>,
    ) -> Vec<JobOutcome> {
        let emails: Vec<crate::mail::Email> = chunk.iter().map(|(_, e, _)| e.clone()).collect();
        let deadline = tokio::time::Instant::now() + self.config.lease / 2;
        let mut attempt: u32 = 0;
        let result = loop {
            let pause = *parked.lock().await;
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
                        out.push(self.deliver(job, lease, email, *now, parked).await);
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
                    out.push(self.settle(job, lease, Ok(sent), *now, parked).await);
                }
                out
            }
            Err(e) => {
                let mut out = Vec::with_capacity(chunk.len());
                for (job, _, now) in chunk {
                    out.push(self.settle(job, lease, Err(e.clone()), *now, parked).await);
                }
                out
            }
        }
    }

    /// Records the outcome of a send.
    async fn settle(
        &self,
        job: &OutboxJob,
        lease: Uuid,
        result: Result<crate::mail::Sent, SendError>,
        now: Timestamp,
        parked: &Mutex<Option<Duration>>,
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
                {
                    let mut p = parked.lock().await;
                    if p.is_none() {
                        *p = Some(pause);
                    }
                }
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

    /// Records `finish` for the job, to be written with the rest of the claim's outcomes at the
    /// end of `run_once` (see `flush`). Returns the outcome it will have if the lease holds.
    async fn finish(
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
    async fn flush(&self, lease: Uuid) -> Vec<JobOutcome> {
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

fn count(outcome: JobOutcome) {
    metrics::counter!("calbook_outbox_jobs_total", "outcome" => outcome.as_str()).increment(1);
}

/// A job checked and rendered, or already finished.
enum Prepared {
    Done,
    Ready(Box<crate::mail::Email>, Timestamp),
}

fn after(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_add(jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX))
        .unwrap_or(t)
}
