//! Group commit: verified deliveries are applied by writer tasks, many per transaction, and each
//! request is answered only after the transaction holding its effects has committed.
//!
//! One durable commit per request caps throughput at the disk's sync rate; batching the
//! deliveries that arrive together into one transaction (one sync) lifts that cap without giving
//! up durability. A writer takes whatever is queued (up to `max_batch`), applies it in order, and
//! commits once.
//!
//! Failure handling, per batch:
//! - [`StoreError::Conflict`] (another instance touched the same rows): the whole batch is
//!   retried from scratch; its decisions are recomputed from the new state.
//! - [`StoreError::Unavailable`]: every delivery in the batch gets [`IngestError::Unavailable`]
//!   (HTTP 503). Nothing was committed, so a redelivery applies exactly once.
//! - Any other error: the batch is split and each delivery is retried in its own transaction, so
//!   one bad delivery cannot fail its neighbours.
//!
//! Deliveries are routed to writers by booking uid, so events for one booking are applied in the
//! order they arrived, by one writer. SQLite always has one writer.

use std::collections::HashSet;
use std::hash::BuildHasher;

use bytes::Bytes;
use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, error, info_span, warn};
use uuid::Uuid;

use super::admit::Admission;
use super::apply::{Changes, EmailScope};
use super::payload::{Parsed, ParsedDelivery, PayloadError};
use crate::booking::Source;
use crate::outbox::plan::EmailPolicy;
use crate::store::{Delivery, Outcome, Store, StoreError, WalBound, WriterConnection};

/// How many times a batch that lost a race is recomputed before its deliveries go one by one.
const CONFLICT_RETRIES: usize = 5;

/// A delivery whose signature has been verified.
#[derive(Debug)]
pub struct Received {
    pub id: Uuid,
    pub received_at: Timestamp,
    pub body: Bytes,
    pub body_sha256: String,
    pub content_type: Option<String>,
    pub webhook_version: Option<String>,
    pub parsed: Result<ParsedDelivery, PayloadError>,
}

impl Received {
    /// A stored delivery's body received again now, as a new delivery parsed by today's rules
    /// (`calbook deliveries replay` and the dashboard's Replay button). Its body hash is the
    /// original's, so a body applied before comes back `duplicate`.
    pub fn replay_of(d: &crate::store::Delivery) -> Received {
        Received {
            id: Uuid::now_v7(),
            received_at: crate::time::now(),
            body: d.body.clone(),
            body_sha256: d.body_sha256.clone(),
            content_type: d.content_type.clone(),
            webhook_version: d.webhook_version.clone(),
            parsed: super::payload::parse(
                d.content_type.as_deref(),
                d.webhook_version.as_deref(),
                &d.body,
            ),
        }
    }
}

/// What became of a delivery, once committed.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub delivery_id: Uuid,
    pub outcome: Outcome,
    pub booking_uid: Option<String>,
    /// Why nothing changed (ignored), or why the delivery was rejected.
    pub note: Option<String>,
    /// Emails this delivery planned into the outbox.
    pub emails_planned: usize,
    /// Why a rejected delivery was rejected, as a metrics label ([`PayloadError::reason`]).
    pub rejected_for: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IngestError {
    #[error("the database is unavailable")]
    Unavailable,
    #[error("the delivery could not be stored")]
    Internal,
    #[error("calbook is shutting down")]
    ShuttingDown,
}

#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Writer tasks (each with its own transaction). `None`: 1 on SQLite, 2 on PostgreSQL.
    pub writers: Option<usize>,
    /// Most deliveries in one transaction.
    pub max_batch: usize,
    /// Which emails booking changes plan into the outbox (in the same transaction). `None`
    /// plans none.
    pub email: Option<std::sync::Arc<EmailPolicy>>,
    /// The attendee limit and the ownership proof key.
    pub admission: Admission,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            writers: None,
            max_batch: 256,
            email: None,
            admission: Admission::default(),
        }
    }
}

struct Job {
    received: Received,
    reply: oneshot::Sender<Result<Applied, IngestError>>,
}

/// The handle request handlers submit deliveries through. Cheap to clone.
#[derive(Clone)]
pub struct Ingest {
    writers: Vec<mpsc::Sender<Job>>,
    hasher: std::collections::hash_map::RandomState,
    admission: std::sync::Arc<Admission>,
    /// Counts deliveries in flight for the outbox worker, which gives them way.
    load: Option<std::sync::Arc<crate::outbox::load::IngestLoad>>,
}

impl Ingest {
    /// Starts the writer tasks. They stop once every handle is dropped and their queues drained.
    /// `wake_outbox` (a runtime handle, not configuration) is woken once planned emails are
    /// durable, so the outbox worker sends them at once.
    pub fn start(
        store: Store,
        options: &IngestOptions,
        wake_outbox: Option<std::sync::Arc<tokio::sync::Notify>>,
    ) -> (Ingest, Vec<JoinHandle<()>>) {
        let n = match store.backend() {
            crate::store::Backend::Sqlite => 1,
            crate::store::Backend::Postgres => options.writers.unwrap_or(2).max(1),
        };
        let mut writers = Vec::with_capacity(n);
        let mut tasks = Vec::with_capacity(n);
        for index in 0..n {
            let (tx, rx) = mpsc::channel(4096);
            writers.push(tx);
            let store = store.clone();
            let max_batch = options.max_batch.max(1);
            let email = options.email.clone();
            let wake = wake_outbox.clone();
            tasks.push(tokio::spawn(
                writer(store, rx, max_batch, email, wake)
                    .instrument(info_span!("ingest_writer", index)),
            ));
        }
        (
            Ingest {
                writers,
                hasher: Default::default(),
                admission: std::sync::Arc::new(options.admission.clone()),
                load: None,
            },
            tasks,
        )
    }

    /// Counts every delivery in `load` from its submission to its answer (the outbox worker
    /// waits for quiet moments before claiming; see [`crate::outbox::load`]).
    pub fn with_load(mut self, load: std::sync::Arc<crate::outbox::load::IngestLoad>) -> Ingest {
        self.load = Some(load);
        self
    }

    /// Applies a delivery; returns once its effects are committed (or could not be).
    pub async fn submit(&self, mut received: Received) -> Result<Applied, IngestError> {
        let _in_flight = self.load.as_ref().map(|l| l.enter());
        let at = received.received_at;
        received.parsed = received.parsed.and_then(|p| self.admission.admit(p, at));
        // Occurrences of one recurring series go to one writer, so that they are linked in
        // arrival order (PostgreSQL also locks the series' rows, for several instances).
        let series = match &received.parsed {
            Ok(ParsedDelivery {
                parsed: Parsed::Booking(e),
                ..
            }) => series_key_of(e),
            _ => None,
        };
        let key = match (&series, &received.parsed) {
            (Some(k), _) => k.as_str(),
            (None, Ok(p)) => p.booking_uid().unwrap_or(&received.body_sha256),
            (None, Err(_)) => &received.body_sha256,
        };
        let slot = self.hasher.hash_one(key) as usize % self.writers.len();
        let writer = &self.writers[slot];
        let (reply, answer) = oneshot::channel();
        writer
            .send(Job { received, reply })
            .await
            .map_err(|_| IngestError::ShuttingDown)?;
        answer.await.unwrap_or(Err(IngestError::ShuttingDown))
    }
}

/// The series key of an event about an occurrence of a recurring series.
pub(super) fn series_key_of(e: &crate::booking::BookingEvent) -> Option<String> {
    let d = e.details()?;
    let rule = d.extra.recurring_event.as_ref()?;
    Some(crate::booking::series_key(d, rule))
}

async fn writer(
    store: Store,
    mut rx: mpsc::Receiver<Job>,
    max_batch: usize,
    email: Option<std::sync::Arc<EmailPolicy>>,
    wake_outbox: Option<std::sync::Arc<tokio::sync::Notify>>,
) {
    let mut jobs = Vec::with_capacity(max_batch);
    let mut conn = None;
    let mut wal = WalBound::default();
    while rx.recv_many(&mut jobs, max_batch).await > 0 {
        metrics::histogram!("calbook_ingest_batch_size").record(jobs.len() as f64);
        let batch: Vec<Job> = std::mem::take(&mut jobs);
        let received: Vec<&Received> = batch.iter().map(|j| &j.received).collect();
        let started = std::time::Instant::now();
        let results = apply_with_retries(&store, &mut conn, &received, email.as_deref()).await;
        metrics::histogram!("calbook_ingest_batch_seconds").record(started.elapsed().as_secs_f64());
        // The answers wait for the durability barrier (an fsync on SQLite) in their own task,
        // so the writer starts the next batch while the disk works.
        let barrier = store.clone();
        let wake_outbox = wake_outbox.clone();
        tokio::spawn(async move {
            let durable = if results.iter().any(Result::is_ok) {
                barrier.durability_barrier().await
            } else {
                Ok(())
            };
            let planned = results
                .iter()
                .filter_map(|r| r.as_ref().ok())
                .any(|a| a.emails_planned > 0);
            if durable.is_ok()
                && planned
                && let Some(w) = &wake_outbox
            {
                w.notify_one();
            }
            if let Err(e) = &durable {
                error!(error = %e, size = batch.len(), "committed batch could not be synced to disk; answering 503");
            }
            for (job, result) in batch.into_iter().zip(results) {
                let result = match (result, &durable) {
                    (Ok(_), Err(_)) => Err(IngestError::Unavailable),
                    (r, _) => r,
                };
                if let Ok(a) = &result {
                    metrics::counter!("calbook_webhook_deliveries_total", "outcome" => a.outcome.as_str())
                        .increment(1);
                    if let Some(reason) = &a.rejected_for {
                        metrics::counter!("calbook_webhook_rejected_total", "reason" => *reason)
                            .increment(1);
                    }
                }
                // The requester may have gone away; the delivery is committed either way.
                let _ = job.reply.send(result);
            }
        });
        // Between two batches, on the writer's own connection: keep the SQLite WAL bounded.
        if let Some(c) = conn.as_mut()
            && let Err(e) = store.bound_wal(c, &mut wal).await
        {
            warn!(error = %e, "SQLite WAL truncation failed; will retry after the next batch");
            if let Some(c) = conn.take() {
                c.discard();
            }
        }
    }
}

/// Applies a batch, retrying lost races. `conn` is the writer's connection: taken from the pool
/// when missing, and dropped after any error so that a broken one is not reused.
async fn apply_with_retries(
    store: &Store,
    conn: &mut Option<WriterConnection>,
    batch: &[&Received],
    email: Option<&EmailPolicy>,
) -> Vec<Result<Applied, IngestError>> {
    for attempt in 0..=CONFLICT_RETRIES {
        let result = match conn {
            Some(c) => apply_batch(c, batch, email).await,
            None => match store.writer().await {
                Ok(c) => apply_batch(conn.insert(c), batch, email).await,
                Err(e) => Err(e),
            },
        };
        // A lost race leaves the connection healthy; any other error may not have.
        if matches!(&result, Err(e) if !matches!(e, StoreError::Conflict))
            && let Some(c) = conn.take()
        {
            c.discard();
        }
        match result {
            Ok(applied) => return applied.into_iter().map(Ok).collect(),
            Err(StoreError::Conflict) => {
                debug!(
                    attempt,
                    size = batch.len(),
                    "batch lost a race; recomputing"
                );
                continue;
            }
            Err(StoreError::Unavailable(e)) => {
                warn!(error = %e, size = batch.len(), "database unavailable; answering 503");
                return vec![Err(IngestError::Unavailable); batch.len()];
            }
            Err(e) if batch.len() > 1 => {
                warn!(error = %e, size = batch.len(), "batch failed; applying its deliveries one by one");
                break;
            }
            Err(e) => {
                error!(error = %e, delivery_id = %batch[0].id, body_sha256 = %batch[0].body_sha256, "delivery could not be applied; keeping it as rejected");
                return vec![keep_rejected(store, batch[0]).await];
            }
        }
    }
    if batch.len() == 1 {
        return vec![Err(IngestError::Internal)];
    }
    let mut out = Vec::with_capacity(batch.len());
    for one in batch {
        out.push(
            Box::pin(apply_with_retries(
                store,
                conn,
                std::slice::from_ref(one),
                email,
            ))
            .await
            .remove(0),
        );
    }
    out
}

/// Keeps a delivery the database refused to apply (a value it cannot hold, a rule it enforces
/// that calbook's did not foresee) as `rejected`, body and all, so nothing signed is lost and the
/// operator can look at it. Only a failure to store even that is an error (HTTP 500).
async fn keep_rejected(store: &Store, r: &Received) -> Result<Applied, IngestError> {
    const NOTE: &str = "the database refused this delivery's values (see calbook's log); it is \
                        kept here, unapplied, for inspection";
    let delivery = Delivery {
        id: r.id,
        received_at: r.received_at,
        body_sha256: r.body_sha256.clone(),
        trigger_event: super::payload::sniff_trigger(&super::payload::without_nul_escapes(&r.body)),
        webhook_version: r.webhook_version.clone(),
        content_type: r.content_type.clone(),
        booking_uid: None,
        outcome: Outcome::Rejected,
        error: Some(NOTE.to_owned()),
        body: r.body.clone(),
    };
    let stored = async {
        let mut tx = store.begin().await?;
        tx.insert_deliveries(std::slice::from_ref(&delivery))
            .await?;
        tx.commit().await
    }
    .await;
    match stored {
        Ok(()) => Ok(Applied {
            delivery_id: r.id,
            outcome: Outcome::Rejected,
            booking_uid: None,
            note: Some(NOTE.to_owned()),
            emails_planned: 0,
            rejected_for: Some("database_refused"),
        }),
        Err(StoreError::Unavailable(_)) => Err(IngestError::Unavailable),
        Err(e) => {
            error!(error = %e, delivery_id = %r.id, body_sha256 = %r.body_sha256, "delivery could not be stored");
            Err(IngestError::Internal)
        }
    }
}

/// Applies `batch` in one transaction and commits it. Decisions are made in memory against the
/// rows read (and locked) at the start, in arrival order; the writes then go out as a handful of
/// multi-row statements, whatever the batch size.
async fn apply_batch(
    conn: &mut WriterConnection,
    batch: &[&Received],
    email: Option<&EmailPolicy>,
) -> Result<Vec<Applied>, StoreError> {
    let mut tx = conn.begin().await?;
    let digests: Vec<&str> = batch
        .iter()
        .filter(|r| r.parsed.is_ok())
        .map(|r| r.body_sha256.as_str())
        .collect();
    let mut seen = if digests.is_empty() {
        HashSet::new()
    } else {
        tx.seen_bodies(&digests).await?
    };
    let now = crate::time::now();
    let events = batch.iter().filter_map(|r| match &r.parsed {
        Ok(ParsedDelivery {
            parsed: Parsed::Booking(e),
            ..
        }) => Some(e),
        _ => None,
    });
    let mut changes = Changes::load(&mut tx, events, email, now).await?;
    let mut deliveries = Vec::with_capacity(batch.len());
    let mut results = Vec::with_capacity(batch.len());
    for r in batch {
        let mut planned_here = 0;
        let (outcome, trigger, booking_uid, note) = match &r.parsed {
            Err(e) => (
                Outcome::Rejected,
                super::payload::sniff_trigger(&r.body),
                None,
                Some(e.to_string()),
            ),
            Ok(p) if seen.contains(&r.body_sha256) => (
                Outcome::Duplicate,
                Some(p.trigger.clone()),
                p.booking_uid().map(str::to_owned),
                None,
            ),
            Ok(p) => {
                let uid = p.booking_uid().map(str::to_owned);
                let mut planned = 0;
                let (outcome, note) = match &p.parsed {
                    Parsed::Ping => (Outcome::Applied, None),
                    Parsed::Ignored { reason } => (Outcome::Ignored, Some(reason.clone())),
                    Parsed::Booking(event) => {
                        let done =
                            changes.apply(event, Some(r.id), Source::Webhook, EmailScope::All);
                        planned = done.emails_planned;
                        if done.changes == 0 {
                            (Outcome::Ignored, done.note)
                        } else {
                            (Outcome::Applied, None)
                        }
                    }
                };
                seen.insert(r.body_sha256.clone());
                planned_here = planned;
                (outcome, Some(p.trigger.clone()), uid, note)
            }
        };
        debug!(delivery_id = %r.id, body_sha256 = %r.body_sha256, booking_uid = booking_uid.as_deref().unwrap_or(""), outcome = outcome.as_str(), "delivery decided");
        deliveries.push(Delivery {
            id: r.id,
            received_at: r.received_at,
            body_sha256: r.body_sha256.clone(),
            trigger_event: trigger.filter(|t| !t.is_empty()),
            webhook_version: r.webhook_version.clone(),
            content_type: r.content_type.clone(),
            booking_uid: booking_uid.clone(),
            outcome,
            error: note.clone(),
            body: r.body.clone(),
        });
        results.push(Applied {
            delivery_id: r.id,
            outcome,
            booking_uid,
            note,
            emails_planned: planned_here,
            rejected_for: r.parsed.as_ref().err().map(PayloadError::reason),
        });
    }

    changes.write(&mut tx).await?;
    tx.insert_deliveries(&deliveries).await?;
    tx.commit().await?;
    Ok(results)
}
