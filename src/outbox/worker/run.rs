//! The worker's loop: claims one after another, the next one overlapping the end of the last.
//!
//! A claim ends with its slowest sends and then writes its outcomes; meanwhile nothing would be
//! sent. So once a claim was full and has handed all of its jobs to tasks, the next claim starts
//! (it reads what is due, claims and reads its bookings while the last sends finish and their
//! outcomes are written). At most two claims are in progress at once; each keeps its own lease,
//! its own outcomes and its own batches, and their sends share the worker's
//! [`WorkerConfig::concurrency`](super::WorkerConfig::concurrency) and rate limit. They also
//! share the park: once the provider blocks sending, the jobs of both go back unsent, no further
//! claim starts, and the worker pauses after both have ended.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tracing::{Instrument, info, info_span, warn};
use uuid::Uuid;

use super::{ClaimResult, Park, Worker};

/// How long the claims in progress may take to finish once shutdown is asked for; then they are
/// dropped (which aborts their jobs' tasks) and their leases released.
const STOP_GRACE: Duration = Duration::from_millis(300);

/// A claim in progress.
struct InProgress<'w> {
    lease: Uuid,
    park: Arc<Park>,
    /// Polled until it gives `result`, never after.
    work: Pin<Box<dyn Future<Output = ClaimResult> + Send + 'w>>,
    /// What the claim came to, when it ended while the one before it was still in progress.
    result: Option<ClaimResult>,
    /// Told when the claim was full and all of its jobs are in tasks; `None` once heard.
    handed_out: Option<oneshot::Receiver<()>>,
}

impl InProgress<'_> {
    /// Waits for the claim to end (a claim that has its result already is not polled again).
    async fn end(self) {
        if self.result.is_none() {
            let _ = self.work.await;
        }
    }
}

impl Worker {
    /// Starts a claim; `after` is the claim still in progress, whose park it shares.
    fn start_claim(&self, after: Option<&InProgress<'_>>) -> InProgress<'_> {
        let lease = Uuid::now_v7();
        let park = after.map(|c| Arc::clone(&c.park)).unwrap_or_default();
        let (tx, rx) = oneshot::channel();
        InProgress {
            lease,
            park: Arc::clone(&park),
            work: Box::pin(self.run_once_leased(crate::time::now(), lease, park, Some(tx))),
            result: None,
            handed_out: Some(rx),
        }
    }

    /// Runs until `shutdown` resolves, finishing the claims in hand.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let span = info_span!("outbox_worker", mailer = self.runner.mailer.kind());
        async move {
            let config = &self.runner.config;
            tokio::pin!(shutdown);
            let mut next: Option<InProgress> = None;
            loop {
                let mut current = match next.take() {
                    Some(claim) => claim,
                    None => self.start_claim(None),
                };
                // The current claim to its end, starting the next one once it handed out all
                // of its jobs, and driving that one meanwhile.
                let result = loop {
                    if let Some(r) = current.result.take() {
                        break Some(r);
                    }
                    let may_start = next.is_none();
                    tokio::select! {
                        biased;
                        r = &mut current.work => break Some(r),
                        full = async {
                            match current.handed_out.as_mut() {
                                Some(rx) => rx.await.is_ok(),
                                None => std::future::pending().await,
                            }
                        }, if may_start => {
                            current.handed_out = None;
                            // A blocked provider: no new claim until the pause is over.
                            if full && current.park.pause().is_none() {
                                next = Some(self.start_claim(Some(&current)));
                            }
                        }
                        () = async {
                            match next.as_mut() {
                                Some(n) if n.result.is_none() => n.result = Some(n.work.as_mut().await),
                                _ => std::future::pending().await,
                            }
                        } => {}
                        _ = &mut shutdown => break None,
                    }
                };
                let Some(result) = result else {
                    self.stop(current, next).await;
                    break;
                };
                let pause = match result {
                    Ok((_, Some(parked))) => parked,
                    Ok((n, None)) if n > 0 => Duration::ZERO,
                    Ok(_) => config.idle_poll,
                    Err(e) => {
                        warn!(error = %e, "outbox poll failed; retrying");
                        config.idle_poll
                    }
                };
                // The next claim goes on first (a pause waits for it to end).
                if next.is_some() {
                    continue;
                }
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

    /// Gives the claims in progress `STOP_GRACE` to finish; then drops them, which aborts their
    /// jobs' tasks, and releases their leases, so another instance sends their jobs at once
    /// instead of waiting for the leases to run out. No task sends once the leases are released.
    async fn stop(&self, current: InProgress<'_>, next: Option<InProgress<'_>>) {
        let leases: Vec<Uuid> = std::iter::once(current.lease)
            .chain(next.as_ref().map(|c| c.lease))
            .collect();
        let finished = tokio::time::timeout(STOP_GRACE, async {
            let later = async {
                if let Some(c) = next {
                    c.end().await;
                }
            };
            tokio::join!(current.end(), later)
        })
        .await;
        if finished.is_ok() {
            return;
        }
        for lease in leases {
            match self.runner.store.release_outbox_lease(lease).await {
                Ok(n) if n > 0 => info!(jobs = n, "released the leases of unsent emails"),
                Ok(_) => {}
                Err(e) => warn!(error = %e, "could not release leases; they run out by themselves"),
            }
        }
    }
}
