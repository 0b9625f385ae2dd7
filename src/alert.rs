//! Alerts to the owner: one email to `CALBOOK_ALERT_EMAIL` when something is losing bookings or
//! emails, at most one per [`AlertKind`] an hour ([`THROTTLE`]).
//!
//! Raised by: the webhook receiver when a delivery's signature is refused (a secret mismatch
//! refuses every booking) and when the database cannot take a delivery; the outbox worker when an
//! email goes dead; and [`Alerts::sync_failed`] for the reconciliation job. The alert goes
//! straight through the configured mail transport (not the outbox: the database may be what is
//! failing). Failure mode: an alert that cannot be sent is logged (`warn`) and counted in
//! `calbook_alerts_total{kind, outcome="failed"}`; nothing retries it before the hour is up.
//! Alerts carry counts and causes, never personal data or secrets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::mail::transport::Mailer;
use crate::mail::{Email, Mailbox};

/// At most one alert of a kind in this long.
pub const THROTTLE: Duration = Duration::from_secs(3600);

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertKind {
    /// Webhooks refused for their signature.
    SignatureRefused,
    /// An email was given up on (dead).
    EmailDead,
    /// The database refused a write (full disk, read-only file, unreachable server).
    DatabaseRefusesWrites,
    /// Reconciliation with Cal.com failed.
    SyncFailed,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::SignatureRefused => "signature_refused",
            AlertKind::EmailDead => "email_dead",
            AlertKind::DatabaseRefusesWrites => "database_refuses_writes",
            AlertKind::SyncFailed => "sync_failed",
        }
    }

    fn subject(self) -> &'static str {
        match self {
            AlertKind::SignatureRefused => {
                "calbook: Cal.com webhooks are refused (signature) - bookings are not recorded"
            }
            AlertKind::EmailDead => "calbook: an email could not be sent and was given up on",
            AlertKind::DatabaseRefusesWrites => {
                "calbook: the database refuses writes - webhooks get 503"
            }
            AlertKind::SyncFailed => "calbook: reconciliation with Cal.com failed",
        }
    }

    fn advice(self) -> &'static str {
        match self {
            AlertKind::SignatureRefused => {
                "Check that CALCOM_WEBHOOK_SECRET (or the data directory's webhook-secret, shown by \
                 `calbook secret`) is the secret set on the Cal.com webhook."
            }
            AlertKind::EmailDead => {
                "See /admin (outbox) for the reason; fix the mail settings (`calbook check`), then \
                 retry the dead emails from /admin or with `calbook outbox retry --all-dead`."
            }
            AlertKind::DatabaseRefusesWrites => {
                "Cal.com retries refused deliveries for a while. Check free disk space and the \
                 permissions of the data directory (or the PostgreSQL server); /readyz says what \
                 is wrong to an admin."
            }
            AlertKind::SyncFailed => "See calbook's log for the reconciliation error.",
        }
    }
}

/// The alert sender of one server. Cheap to share (`Arc`).
pub struct Alerts {
    to: Option<Mailbox>,
    from: Mailbox,
    mailer: Arc<Mailer>,
    last: Mutex<HashMap<AlertKind, Instant>>,
}

impl Alerts {
    /// `to` is `CALBOOK_ALERT_EMAIL` (`None`: alerts are only logged).
    pub fn new(to: Option<Mailbox>, from: Mailbox, mailer: Arc<Mailer>) -> Arc<Alerts> {
        Arc::new(Alerts {
            to,
            from,
            mailer,
            last: Mutex::new(HashMap::new()),
        })
    }

    /// For the reconciliation job: alerts that sync failed, with `detail` (no personal data).
    pub fn sync_failed(&self, detail: &str) {
        self.raise(AlertKind::SyncFailed, detail);
    }

    /// Sends an alert of `kind` unless one went out within the hour. Returns at once (the email
    /// is sent in the background). `detail`: a short cause, without personal data.
    pub fn raise(&self, kind: AlertKind, detail: &str) {
        let Some(to) = &self.to else {
            return;
        };
        {
            let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            if last.get(&kind).is_some_and(|at| at.elapsed() < THROTTLE) {
                return;
            }
            last.insert(kind, Instant::now());
        }
        let hour = crate::time::now().as_second() / 3600;
        let text = format!(
            "{}\n\nWhat happened: {}\n\nWhat to do: {}\n\nAt most one alert of this kind is \
             sent an hour.\n",
            kind.subject(),
            crate::mail::header_safe(detail),
            kind.advice()
        );
        let html = format!(
            "<pre>{}</pre>",
            text.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        );
        let email = Email {
            from: self.from.clone(),
            reply_to: None,
            to: vec![to.clone()],
            subject: kind.subject().to_owned(),
            text,
            html,
            calendar: None,
            idempotency_key: format!("calbook-alert/{}/{hour}", kind.as_str()),
        };
        let mailer = self.mailer.clone();
        tracing::warn!(kind = kind.as_str(), detail, "alert raised");
        tokio::spawn(async move {
            let outcome = match mailer.send(&email).await {
                Ok(_) => "sent",
                Err(e) => {
                    tracing::warn!(kind = kind.as_str(), error = %e, "the alert email could not be sent");
                    "failed"
                }
            };
            metrics::counter!("calbook_alerts_total", "kind" => kind.as_str(), "outcome" => outcome)
                .increment(1);
        });
    }
}
