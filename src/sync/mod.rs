//! Reconciliation with Cal.com's API v2: calbook converges to Cal.com's truth on its own, so a
//! webhook Cal.com never sent (or sent while calbook was down) costs a delay, not a booking.
//!
//! - [`client`]: the HTTP client (version header, bearer key, 429 / 5xx / 401 rules).
//! - [`map`]: API booking objects → the same [`crate::booking::BookingEvent`]s a webhook gives.
//! - [`pass`]: one pass, page by page, each page applied with the watermark in one transaction
//!   through the webhook's own apply path ([`crate::webhook::apply`]), so the end state, the
//!   history (marked `sync`) and the emails (same idempotency keys) do not depend on the source.
//! - [`lease`]: at most one pass at a time across instances sharing a database.
//!
//! The first pass on a store that never synced is an **import**: every booking Cal.com has,
//! with reminders planned for future ones and no confirmation, reschedule or cancellation
//! emails (those clients were told before calbook existed).
//!
//! Failure modes: Cal.com unavailable (5xx, timeouts, long 429s) ends the pass after retries,
//! recorded as `failed`, and the next pass starts again from the watermark; a refused key (401,
//! 403) is recorded as `unauthorized` and `serve` stops syncing until restarted with a new key.
//! Neither makes calbook unready: the receiver does not depend on Cal.com's API. Logs carry
//! uids and counts only, never the key or attendee data.

pub mod client;
pub mod lease;
pub mod map;
pub mod pass;

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::Notify;
use tracing::{error, info, warn};

pub use client::{Client, ClientError, RetryPolicy};
pub use lease::Lease;
pub use pass::{Drift, Mode, PassError, Report};

use crate::outbox::plan::EmailPolicy;
use crate::store::{Store, SyncRecord};
use crate::webhook::Admission;

/// How far before the watermark each pass starts reading (see [`pass`]).
pub const OVERLAP: SignedDuration = SignedDuration::from_mins(10);

/// Default `CALCOM_API_URL`.
pub const DEFAULT_API_URL: &str = "https://api.cal.com";

/// `CALCOM_API_KEY`, `CALCOM_API_URL`, `CALCOM_SYNC_INTERVAL`.
#[derive(Clone, Default)]
pub struct SyncSettings {
    /// No key: no sync.
    pub api_key: Option<String>,
    pub api_url: String,
    /// `None`: `serve` does not sync (`CALCOM_SYNC_INTERVAL=0`).
    pub interval: Option<Duration>,
    pub options: SyncOptions,
}

impl std::fmt::Debug for SyncSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncSettings")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("api_url", &self.api_url)
            .field("interval", &self.interval)
            .finish()
    }
}

/// Tuning a pass (tests shorten the waits).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SyncOptions {
    /// Page size (Cal.com serves at most 250).
    pub take: usize,
    pub retry: RetryPolicy,
    /// How long a lease lasts without renewal (renewed after every page).
    pub lease: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            take: client::MAX_TAKE,
            retry: RetryPolicy::default(),
            lease: Duration::from_secs(300),
        }
    }
}

/// Parses `CALCOM_SYNC_INTERVAL`: `0` (off) or a number with `s`, `m` or `h`.
pub fn parse_interval(s: &str) -> Result<Option<Duration>, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(None);
    }
    let bad =
        || format!("CALCOM_SYNC_INTERVAL: {s:?} is not 0 or a number with s, m or h (e.g. 5m)");
    let (num, unit) = s.split_at(s.len().saturating_sub(1));
    let n: u64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(bad()),
    };
    if secs == 0 {
        return Ok(None);
    }
    Ok(Some(Duration::from_secs(secs)))
}

/// Runs passes: the client, the store, and the webhook's own email policy and admission rules.
pub struct Syncer {
    pub(crate) store: Store,
    pub(crate) client: Client,
    pub(crate) email: Option<Arc<EmailPolicy>>,
    pub(crate) admission: Admission,
    pub(crate) wake_outbox: Option<Arc<Notify>>,
    pub(crate) options: SyncOptions,
    pub(crate) lease: Option<Lease>,
}

/// What [`Syncer::run`] did.
#[derive(Debug)]
pub enum RunOutcome {
    /// Another instance holds the lease; nothing was done.
    Busy,
    /// The pass finished.
    Done(Report),
    /// The pass stopped; pages applied before the error stay applied.
    Failed(Report, PassError),
}

impl Syncer {
    pub fn new(
        store: Store,
        settings: &SyncSettings,
        email: Option<Arc<EmailPolicy>>,
        admission: Admission,
        wake_outbox: Option<Arc<Notify>>,
    ) -> Result<Syncer, ClientError> {
        let key = settings.api_key.as_deref().unwrap_or_default();
        let client = Client::new(&settings.api_url, key, settings.options.retry)?;
        Ok(Syncer {
            store,
            client,
            email,
            admission,
            wake_outbox,
            options: settings.options,
            lease: None,
        })
    }

    /// The store it syncs into.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The API client (for `calbook webhook`).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// One pass under the lease, recorded in the store for the dashboard and `/metrics`.
    pub async fn run(&mut self, since: Option<jiff::Timestamp>, mode: Mode) -> RunOutcome {
        let lease = Lease::new(self.options.lease);
        match lease.take(&self.store).await {
            Ok(true) => {}
            Ok(false) => return RunOutcome::Busy,
            Err(e) => {
                return RunOutcome::Failed(Report::default(), PassError::Store(e));
            }
        }
        self.lease = Some(lease);
        let started = Timestamp::now();
        let clock = std::time::Instant::now();
        let result = self.pass(since, mode).await;
        let lease = self.lease.take().expect("taken above");
        let (report, err) = match result {
            Ok(r) => (r, None),
            Err((r, e)) => (r, Some(e)),
        };
        if mode == Mode::Apply {
            let record = SyncRecord {
                started_at: started,
                finished_at: Timestamp::now(),
                outcome: match &err {
                    None => "ok",
                    Some(e) if pass::is_unauthorized(e) => "unauthorized",
                    Some(_) => "failed",
                },
                error: err.as_ref().map(ToString::to_string),
                fetched: report.fetched as i64,
                changed: report.changed() as i64,
                emails: report.emails_planned as i64,
                duration_ms: clock.elapsed().as_millis() as i64,
            };
            if let Err(e) = self.store.record_sync(&record).await {
                warn!(error = %e, "could not record the sync's result");
            }
        }
        if let Err(e) = lease.release(&self.store).await {
            warn!(error = %e, "could not release the sync lease; it expires on its own");
        }
        match err {
            None => RunOutcome::Done(report),
            Some(e) => RunOutcome::Failed(report, e),
        }
    }

    /// `serve`'s loop: a pass now and every `interval`, until `shutdown`; stops for good on a
    /// refused key (the dashboard and `calbook sync --check` show why). A failed pass raises
    /// the `sync_failed` alert (at most one an hour, see [`crate::alert`]).
    pub async fn run_every(
        mut self,
        interval: Duration,
        shutdown: Arc<Notify>,
        alerts: Arc<crate::alert::Alerts>,
    ) {
        loop {
            match self.run(None, Mode::Apply).await {
                RunOutcome::Busy => {
                    info!("another instance is syncing with Cal.com; skipping this pass")
                }
                RunOutcome::Done(r) => info!(
                    import = r.import,
                    fetched = r.fetched,
                    created = r.created,
                    updated = r.updated,
                    unchanged = r.unchanged,
                    emails_planned = r.emails_planned,
                    "Cal.com sync pass finished"
                ),
                RunOutcome::Failed(_, e) if pass::is_unauthorized(&e) => {
                    error!(error = %e, "Cal.com sync stopped");
                    alerts.sync_failed(&format!(
                        "Cal.com refused the API key ({e}); the sync stopped until calbook restarts with a valid CALCOM_API_KEY"
                    ));
                    return;
                }
                RunOutcome::Failed(r, e) => {
                    warn!(
                        error = %e,
                        fetched = r.fetched,
                        "Cal.com sync pass gave up; the next pass starts again from the watermark"
                    );
                    alerts.sync_failed(&format!("a Cal.com sync pass gave up: {e}"));
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.notified() => return,
            }
        }
    }
}

/// The sync's figures in Prometheus' text format: the last successful sync's time, the last
/// pass's duration, and the bookings repaired (last pass and in all).
pub fn prometheus_text(s: &crate::store::SyncState) -> String {
    let secs = |t: Option<Timestamp>| t.map_or(0.0, |t| t.as_millisecond() as f64 / 1000.0);
    let ok = i64::from(s.last_outcome.as_deref() == Some("ok"));
    format!(
        "# HELP calbook_sync_last_success_timestamp_seconds When the last successful Cal.com sync finished (0: never).\n\
         # TYPE calbook_sync_last_success_timestamp_seconds gauge\n\
         calbook_sync_last_success_timestamp_seconds {}\n\
         # HELP calbook_sync_last_duration_seconds How long the last Cal.com sync pass took.\n\
         # TYPE calbook_sync_last_duration_seconds gauge\n\
         calbook_sync_last_duration_seconds {}\n\
         # HELP calbook_sync_last_ok Whether the last Cal.com sync pass succeeded (1) or not (0).\n\
         # TYPE calbook_sync_last_ok gauge\n\
         calbook_sync_last_ok {ok}\n\
         # HELP calbook_sync_last_repairs Bookings the last Cal.com sync pass repaired.\n\
         # TYPE calbook_sync_last_repairs gauge\n\
         calbook_sync_last_repairs {}\n\
         # HELP calbook_sync_repairs_total Bookings repaired by every Cal.com sync pass.\n\
         # TYPE calbook_sync_repairs_total counter\n\
         calbook_sync_repairs_total {}\n",
        secs(s.last_success_at),
        s.last_duration_ms as f64 / 1000.0,
        s.last_changed,
        s.total_repairs,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_with_units_and_zero_disables() {
        assert_eq!(parse_interval("5m"), Ok(Some(Duration::from_secs(300))));
        assert_eq!(parse_interval("30s"), Ok(Some(Duration::from_secs(30))));
        assert_eq!(parse_interval("1h"), Ok(Some(Duration::from_secs(3600))));
        assert_eq!(parse_interval("0"), Ok(None));
        assert!(parse_interval("5").is_err());
        assert!(parse_interval("fast").is_err());
    }
}
