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
//!
//! Concurrency: each claimed job is prepared (rendered) and sent in a task of its own, so
//! rendering uses every core; at most [`WorkerConfig::concurrency`] sends are in flight across
//! the worker, under one rate limit. The tasks only decide outcomes; a claim writes its outcomes
//! together, under its lease, once all of its tasks have ended. The loop (see `run`) starts the
//! next claim while the last one's slowest sends finish and its outcomes are written.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use std::sync::atomic::{AtomicBool, Ordering};

use jiff::Timestamp;
use tokio::sync::{Mutex, Notify, Semaphore, oneshot};
use tokio::task::JoinSet;
use tracing::{Instrument, error};
use uuid::Uuid;

use super::load::IngestLoad;
use super::{Finish, OutboxJob};
use crate::mail::Mailbox;
use crate::mail::render::Renderer;
use crate::mail::transport::Mailer;
use crate::store::Store;
use prepare::Prepared;

mod prepare;
mod run;
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
    /// What each job's task uses: shared with the tasks a claim spawns.
    runner: Arc<Runner>,
    wake: Arc<Notify>,
    /// Told when an email goes dead (`CALBOOK_ALERT_EMAIL`).
    alerts: Option<Arc<crate::alert::Alerts>>,
    /// The webhooks in flight, counted by the ingest (see [`Worker::ingest_load`]).
    ingest_load: Arc<IngestLoad>,
}

/// The part of the worker a job's task needs: it prepares, sends and decides the outcome of one
/// claimed job, on whichever runtime thread is free. Outcomes are only written by
/// [`Runner::flush`], once every task of the claim has ended.
struct Runner {
    /// Outcomes decided during `run_once`, by lease, written together at its end.
    finished: std::sync::Mutex<Decided>,
    store: Store,
    mailer: Arc<Mailer>,
    renderer: Arc<Renderer>,
    config: WorkerConfig,
    limiter: Option<RateLimiter>,
    /// One permit per send in flight ([`WorkerConfig::concurrency`]), across the claims in
    /// progress at once.
    sends: Arc<Semaphore>,
}

/// The provider's block on sending, shared by the claims in progress at once: once one of them
/// is told, the jobs of all go back unsent.
#[derive(Default)]
struct Park {
    /// How long to pause, once the provider blocked sending.
    pause: std::sync::Mutex<Option<Duration>>,
    /// Whether the block was logged (once, by the first claim to end after it).
    logged: AtomicBool,
}

impl Park {
    /// How long to pause, once the provider blocked sending.
    fn pause(&self) -> Option<Duration> {
        *self.pause.lock().expect("park")
    }

    /// Records that the provider blocks sending; the first pause told is kept.
    fn block(&self, pause: Duration) {
        self.pause.lock().expect("park").get_or_insert(pause);
    }
}

/// One claim, as its jobs' tasks see it.
struct Claim {
    /// The fencing token every outcome of the claim is written under.
    lease: Uuid,
    park: Arc<Park>,
    /// The claimed jobs' bookings, read together (see [`Runner::bookings_of`]).
    bookings: HashMap<Uuid, crate::booking::Booking>,
    /// Whether emails without attachments wait for a batch request instead of going one by one.
    batching: bool,
}

/// An email rendered and held back for a batch request.
type Held = (OutboxJob, crate::mail::Email, Timestamp);

/// What a claim comes to: how many jobs it claimed, and how long to park the queue when the
/// provider blocked sending.
type ClaimResult = Result<(usize, Option<Duration>), crate::store::StoreError>;

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
            runner: Arc::new(Runner {
                finished: Default::default(),
                store,
                mailer,
                renderer,
                sends: Arc::new(Semaphore::new(config.concurrency.max(1))),
                config,
                limiter,
            }),
            wake: Arc::new(Notify::new()),
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

    /// Claims one batch of due jobs and processes it. Returns how many were claimed, and how
    /// long to park the queue when the provider blocked sending.
    pub async fn run_once(&self, now: Timestamp) -> ClaimResult {
        self.run_once_leased(now, Uuid::now_v7(), Arc::default(), None)
            .await
    }

    /// [`Worker::run_once`] with the lease token given (so a stopping worker can release it),
    /// the park shared with the claim in progress before it, if any, and `handed_out`, told
    /// when the claim was full and all of its jobs are in tasks (so `run` may start the next).
    ///
    /// Each claimed job is prepared (booking re-read, send-time check, rendering) and sent in a
    /// task of its own, at most [`WorkerConfig::concurrency`] at once, so that rendering and
    /// building requests use every core instead of the one the worker's task is on. The tasks
    /// only decide outcomes; they are written together once all have ended. Dropping the
    /// returned future aborts the tasks still running.
    async fn run_once_leased(
        &self,
        now: Timestamp,
        lease: Uuid,
        park: Arc<Park>,
        handed_out: Option<oneshot::Sender<()>>,
    ) -> ClaimResult {
        let runner = &self.runner;
        let config = &runner.config;
        if !runner.store.outbox_has_due(now).await? {
            return Ok((0, None));
        }
        // A background job: let the webhooks in flight go first (bounded, see `load`).
        self.ingest_load.quiet(config.yield_to_ingest).await;
        let until = now
            .checked_add(jiff::SignedDuration::try_from(config.lease).unwrap_or_default())
            .unwrap_or(now);
        // With a send rate, claim no more than can go out within half the lease, so that no
        // claimed job's lease runs out while it waits for its turn.
        let batch = match config.rate_per_second {
            Some(rate) if rate > 0.0 => {
                let fits = (rate * config.lease.as_secs_f64() / 2.0).floor() as u32;
                config.batch.min(fits.max(1))
            }
            _ => config.batch,
        };
        let batch_limit = runner.mailer.batch_limit();
        // One batch request carries up to `batch_limit` emails: claim at least that many.
        let batch = if batch_limit > 1 {
            batch.max(batch_limit as u32)
        } else {
            batch
        };
        let jobs = runner.store.claim_outbox(lease, now, until, batch).await?;
        let claimed = jobs.len();
        if claimed == 0 {
            return Ok((0, None));
        }
        // A claim that got fewer jobs than it asked for emptied the queue: no next one yet.
        let handed_out = handed_out.filter(|_| claimed >= batch as usize);
        let claim = Arc::new(Claim {
            lease,
            park,
            bookings: runner.bookings_of(&jobs).await,
            batching: batch_limit > 1,
        });
        // Emails with an attachment (and all emails without a batch endpoint) go out one by
        // one as soon as they are rendered; the others come back here and go out in batches.
        let mut batchable = runner.spawn_jobs(jobs, &claim, handed_out).await;
        batchable.sort_by(|a, b| a.1.idempotency_key.cmp(&b.1.idempotency_key));
        for chunk in batchable.chunks(batch_limit.max(1)) {
            let _send = runner.sends.acquire().await.expect("never closed");
            runner.deliver_batch(chunk, lease, &claim.park).await;
        }
        // Every outcome of this claim, in one transaction (one commit instead of one per email).
        let mut dead = 0;
        for outcome in runner.flush(lease).await {
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
        let parked = claim.park.pause();
        if let Some(d) = parked
            && !claim.park.logged.swap(true, Ordering::Relaxed)
        {
            error!(
                pause_seconds = d.as_secs(),
                "the email provider blocks sending; the outbox is parked"
            );
        }
        Ok((claimed, parked))
    }
}

impl Runner {
    /// Runs each job of `claim` in its own task, each holding one of the `sends` permits while
    /// it runs, and waits for all of them. Tells `handed_out` once every job is in a task.
    /// Returns the emails held back for a batch request. A task that panics is logged; its job
    /// has no outcome, so its lease runs out and it is claimed again (with the same key).
    async fn spawn_jobs(
        self: &Arc<Self>,
        jobs: Vec<OutboxJob>,
        claim: &Arc<Claim>,
        handed_out: Option<oneshot::Sender<()>>,
    ) -> Vec<Held> {
        let mut tasks = JoinSet::new();
        for job in jobs {
            let send = Arc::clone(&self.sends)
                .acquire_owned()
                .await
                .expect("never closed");
            let (runner, claim) = (Arc::clone(self), Arc::clone(claim));
            tasks.spawn(
                async move {
                    let held = runner.process(job, &claim).await;
                    drop(send);
                    held
                }
                .in_current_span(),
            );
        }
        if let Some(tx) = handed_out {
            let _ = tx.send(());
        }
        let mut held = Vec::new();
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(Some(email)) => held.push(email),
                Ok(None) => {}
                Err(e) => {
                    error!(error = %e, "an email's task failed; its lease runs out and it is tried again");
                }
            }
        }
        held
    }

    /// One job of a claim: prepared, then sent (or held back for a batch request).
    async fn process(&self, job: OutboxJob, claim: &Claim) -> Option<Held> {
        match self.prepare(&job, claim).await {
            Prepared::Done => None,
            Prepared::Ready(email, now) if claim.batching && email.calendar.is_none() => {
                Some((job, *email, now))
            }
            Prepared::Ready(email, now) => {
                self.deliver(&job, claim.lease, &email, now, &claim.park)
                    .await;
                None
            }
        }
    }
}

fn count(outcome: JobOutcome) {
    metrics::counter!("calbook_outbox_jobs_total", "outcome" => outcome.as_str()).increment(1);
}

fn after(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_add(jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX))
        .unwrap_or(t)
}
