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

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use jiff::Timestamp;
use tokio::sync::{Mutex, Notify};
use tracing::{Instrument, debug, error, info, info_span, warn};
use uuid::Uuid;

use super::load::IngestLoad;
use super::policy::{Verdict, send_time_check};
use super::{EmailKind, Finish, OutboxJob};
use crate::mail::Mailbox;
use crate::mail::render::{Recipient, RenderContext, Renderer, compose};
use crate::mail::transport::Mailer;
use crate::store::Store;

/// How long a batch in progress may take to finish once shutdown is asked for; then it is
/// dropped and its leases released.
const STOP_GRACE: Duration = Duration::from_millis(300);

mod send;

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
    /// Longest wait, before each claim, for a moment with no webhook in flight (see
    /// [`super::load`]): under a flood of webhooks the worker still claims a batch this often.
    pub yield_to_ingest: Duration,
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
            yield_to_ingest: Duration::from_secs(1),
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
    /// Told when an email goes dead (`CALBOOK_ALERT_EMAIL`).
    alerts: Option<Arc<crate::alert::Alerts>>,
    /// The webhooks in flight, counted by the ingest (see [`Worker::ingest_load`]).
    ingest_load: Arc<IngestLoad>,
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
            alerts: None,
            ingest_load: Arc::default(),
        }
    }

    /// Raises an alert (at most one an hour) when an email goes dead.
    pub fn with_alerts(mut self, alerts: Arc<crate::alert::Alerts>) -> Worker {
        self.alerts = Some(alerts);
        self
    }

    /// Wakes the worker early (after the ingest planned new emails).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// The counter the ingest keeps of webhooks in flight; the worker gives them way before each
    /// claim (at most [`WorkerConfig::yield_to_ingest`]).
    pub fn ingest_load(&self) -> Arc<IngestLoad> {
        self.ingest_load.clone()
    }

    /// Runs until `shutdown` resolves, finishing the batch in hand.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let span = info_span!("outbox_worker", mailer = self.mailer.kind());
        async move {
            tokio::pin!(shutdown);
            loop {
                // A batch in progress gets `STOP_GRACE` after shutdown to finish; then it is
                // dropped and its jobs' leases are released, so another instance sends them at
                // once instead of waiting for the leases to run out.
                let lease = Uuid::now_v7();
                let work = self.run_once_leased(crate::time::now(), lease);
                tokio::pin!(work);
                let result = tokio::select! {
                    biased;
                    r = &mut work => r,
                    _ = &mut shutdown => {
                        if tokio::time::timeout(STOP_GRACE, &mut work).await.is_err() {
                            match self.store.release_outbox_lease(lease).await {
                                Ok(n) if n > 0 => info!(jobs = n, "released the leases of unsent emails"),
                                Ok(_) => {}
                                Err(e) => warn!(error = %e, "could not release leases; they run out by themselves"),
                            }
                        }
                        break;
                    }
                };
                let pause = match result {
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
        self.run_once_leased(now, Uuid::now_v7()).await
    }

    /// [`Worker::run_once`] with the lease token given (so a stopping worker can release it).
    async fn run_once_leased(
        &self,
        now: Timestamp,
        lease: Uuid,
    ) -> Result<(usize, Option<Duration>), crate::store::StoreError> {
        if !self.store.outbox_has_due(now).await? {
            return Ok((0, None));
        }
        // A background job: let the webhooks in flight go first (bounded, see `load`).
        self.ingest_load.quiet(self.config.yield_to_ingest).await;
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
        let bookings = Arc::new(self.bookings_of(&jobs).await);
        if batch_limit <= 1 {
            futures_util::stream::iter(jobs)
                .for_each_concurrent(self.config.concurrency.max(1), |job| {
                    let parked = parked.clone();
                    let bookings = bookings.clone();
                    async move {
                        if let Prepared::Ready(email, now) =
                            self.prepare(&job, lease, &parked, &bookings).await
                        {
                            self.deliver(&job, lease, &email, now, &parked).await;
                        }
                    }
                })
                .await;
        } else {
            // Emails with an attachment go out one by one as soon as they are rendered; those
            // without are gathered and then sent in batches.
            let batchable = Arc::new(std::sync::Mutex::new(Vec::new()));
            futures_util::stream::iter(jobs)
                .for_each_concurrent(self.config.concurrency.max(1), |job| {
                    let parked = parked.clone();
                    let bookings = bookings.clone();
                    let batchable = batchable.clone();
                    async move {
                        match self.prepare(&job, lease, &parked, &bookings).await {
                            Prepared::Done => {}
                            Prepared::Ready(email, now) if email.calendar.is_none() => batchable
                                .lock()
                                .expect("batchable emails")
                                .push((job, *email, now)),
                            Prepared::Ready(email, now) => {
                                self.deliver(&job, lease, &email, now, &parked).await;
                            }
                        }
                    }
                })
                .await;
            let mut batchable = std::mem::take(&mut *batchable.lock().expect("batchable emails"));
            batchable.sort_by(|a, b| a.1.idempotency_key.cmp(&b.1.idempotency_key));
            for chunk in batchable.chunks(batch_limit) {
                self.deliver_batch(chunk, lease, &parked).await;
            }
        }
        // Every outcome of this claim, in one transaction (one commit instead of one per email).
        let mut dead = 0;
        for outcome in self.flush(lease).await {
            dead += usize::from(matches!(outcome, JobOutcome::Dead));
            count(outcome);
        }
        if dead > 0
            && let Some(a) = &self.alerts
        {
            a.raise(
                crate::alert::AlertKind::EmailDead,
                &format!("{dead} email(s) given up on in the last batch"),
            );
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

    /// The claimed jobs' bookings, read in one query (by uid, kept when the id matches too)
    /// instead of one read per job. A failed read gives an empty map: each job then reads its
    /// booking by itself, as before.
    async fn bookings_of(&self, jobs: &[OutboxJob]) -> HashMap<Uuid, crate::booking::Booking> {
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
    async fn prepare(
        &self,
        job: &OutboxJob,
        lease: Uuid,
        parked: &Mutex<Option<Duration>>,
        bookings: &HashMap<Uuid, crate::booking::Booking>,
    ) -> Prepared {
        // A job finished here (skipped, dead, parked, retried) has its outcome recorded already.
        self.prepare_inner(job, lease, parked, bookings)
            .await
            .unwrap_or(Prepared::Done)
    }

    async fn prepare_inner(
        &self,
        job: &OutboxJob,
        lease: Uuid,
        parked: &Mutex<Option<Duration>>,
        bookings: &HashMap<Uuid, crate::booking::Booking>,
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
        let read = match bookings.get(&job.booking_id) {
            Some(b) => Ok(Some(b.clone())),
            None => self.store.booking_by_id(job.booking_id).await,
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
