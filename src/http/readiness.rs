//! What `/readyz` checks, and how often: [`Readiness`].
//!
//! Ready means a delivery would be kept now: every migration is applied, the database took a real
//! write ([`Store::probe_write`]), and the disk under the data directory (and under the SQLite
//! file) has at least [`MIN_FREE_BYTES`] free. The write probe runs at most once every
//! [`PROBE_INTERVAL`]; callers in between get the last answer, so a load balancer polling every
//! second costs one small write every few seconds. Concurrent callers share one probe. The mail
//! transport's state is reported too (probed in the background at most once a minute) but never
//! fails readiness: emails wait in the outbox while it is down.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::store::Store;

/// The least free space under the data directory (and the SQLite file) that counts as ready.
pub const MIN_FREE_BYTES: u64 = 64 * 1024 * 1024;
/// How long one probe's answer is reused.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(2);

/// How long the mail transport's last probe is reported before another is started.
pub const MAIL_PROBE_INTERVAL: Duration = Duration::from_secs(60);

/// The readiness checks and their last answer.
pub struct Readiness {
    dirs: Vec<PathBuf>,
    last: tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>,
    mail: Option<std::sync::Arc<MailState>>,
}

/// The mail transport's reachability, probed in the background (never in a `/readyz` request,
/// and never failing readiness: emails wait in the outbox while the transport is down).
struct MailState {
    mailer: std::sync::Arc<crate::mail::transport::Mailer>,
    last: std::sync::Mutex<Option<(Instant, Result<String, String>)>>,
    probing: std::sync::atomic::AtomicBool,
}

impl Readiness {
    /// Checks `data_dir`, and the SQLite file's directory when `store` is SQLite.
    pub fn new(store: &Store, data_dir: PathBuf) -> Readiness {
        let mut dirs = vec![data_dir];
        if let Some(file) = store.sqlite_file()
            && let Some(dir) = file.parent()
            && !dirs.iter().any(|d| d == dir)
        {
            dirs.push(dir.to_path_buf());
        }
        Readiness {
            dirs,
            last: tokio::sync::Mutex::new(None),
            mail: None,
        }
    }

    /// Also reports `mailer`'s reachability (see [`Readiness::mail_state`]).
    pub fn with_mailer(mut self, mailer: std::sync::Arc<crate::mail::transport::Mailer>) -> Self {
        self.mail = Some(std::sync::Arc::new(MailState {
            mailer,
            last: std::sync::Mutex::new(None),
            probing: std::sync::atomic::AtomicBool::new(false),
        }));
        self
    }

    /// The mail transport's kind (`resend`, `smtp`, `file`), when one is reported.
    pub fn mail_kind(&self) -> Option<&'static str> {
        self.mail.as_ref().map(|m| m.mailer.kind())
    }

    /// The mail transport as last probed: its kind, and `Some(Ok(detail))` reachable,
    /// `Some(Err(why))` not, `None` not probed yet. Starts a probe in the background when the last
    /// one is older than [`MAIL_PROBE_INTERVAL`]; never waits for it.
    pub fn mail_state(&self) -> Option<(&'static str, Option<Result<String, String>>)> {
        use std::sync::atomic::Ordering;
        let m = self.mail.as_ref()?;
        let last = m.last.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let stale = last
            .as_ref()
            .is_none_or(|(at, _)| at.elapsed() >= MAIL_PROBE_INTERVAL);
        if stale && !m.probing.swap(true, Ordering::AcqRel) {
            let m = m.clone();
            tokio::spawn(async move {
                let result = m.mailer.probe().await;
                if let Err(e) = &result {
                    tracing::warn!(
                        transport = m.mailer.kind(),
                        error = %e,
                        "the mail transport is not reachable; emails wait in the outbox (`calbook check` tests it)"
                    );
                }
                *m.last.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), result));
                m.probing.store(false, Ordering::Release);
            });
        }
        Some((m.mailer.kind(), last.map(|(_, r)| r)))
    }

    /// Ok when ready; otherwise what is wrong, for the log and for admins. The migrations are
    /// counted on every call (a read); the write probe and the disk's free space at most every
    /// [`PROBE_INTERVAL`].
    pub async fn check(&self, store: &Store) -> Result<(), String> {
        store.ready().await.map_err(|e| e.to_string())?;
        let mut last = self.last.lock().await;
        if let Some((at, answer)) = &*last
            && at.elapsed() < PROBE_INTERVAL
        {
            return answer.clone();
        }
        let answer = self.probe(store).await;
        *last = Some((Instant::now(), answer.clone()));
        answer
    }

    async fn probe(&self, store: &Store) -> Result<(), String> {
        store
            .probe_write()
            .await
            .map_err(|e| format!("the database refuses writes: {e}"))?;
        for dir in &self.dirs {
            if let Some(free) = free_bytes(dir)
                && free < MIN_FREE_BYTES
            {
                return Err(format!(
                    "the disk under {} is nearly full: {} MiB free (at least {} MiB needed)",
                    dir.display(),
                    free / (1024 * 1024),
                    MIN_FREE_BYTES / (1024 * 1024)
                ));
            }
        }
        Ok(())
    }
}

/// Bytes an unprivileged writer may still use under `dir` (`None` if it cannot be read: the
/// directory missing is for the write probe to find).
fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    let s = rustix::fs::statvfs(dir).ok()?;
    Some(s.f_bavail.saturating_mul(s.f_frsize))
}
