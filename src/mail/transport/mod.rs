//! Sending rendered emails: Resend's HTTP API, SMTP, or `.eml` files.
//!
//! [`Mailer::from_config`] picks one: Resend when `RESEND_API_KEY` is set, else SMTP when
//! `SMTP_URL` is set, else the file mailer writing to `<data dir>/mail`. Every transport reports
//! failures as [`SendError`] classes (retry, block the queue, or dead-letter) and never logs
//! API keys, passwords, addresses or bodies.

mod file;
mod mime;
mod resend;
mod smtp;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use file::FileMailer;
pub use mime::{IDEMPOTENCY_HEADER, mime_message};
pub use resend::{MAX_BATCH as RESEND_MAX_BATCH, ResendMailer, batch_key};
pub use smtp::SmtpMailer;

use crate::mail::{Email, SendError, Sent};

/// Resend's API root.
pub const DEFAULT_RESEND_BASE_URL: &str = "https://api.resend.com";
/// Default bound on one send.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// Which transport to use and how. `Debug` redacts the API key and the SMTP URL (which may hold
/// a password).
#[derive(Clone)]
pub struct TransportConfig {
    /// `RESEND_API_KEY`.
    pub resend_api_key: Option<String>,
    /// `RESEND_BASE_URL`, default [`DEFAULT_RESEND_BASE_URL`].
    pub resend_base_url: String,
    /// `SMTP_URL`, see [`SmtpMailer`] for the forms.
    pub smtp_url: Option<String>,
    /// `<data dir>/mail`, for the file mailer.
    pub mail_dir: PathBuf,
    /// Per send, default [`DEFAULT_TIMEOUT`].
    pub timeout: Duration,
}

impl fmt::Debug for TransportConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("TransportConfig")
            .field("resend_api_key", &redacted(&self.resend_api_key))
            .field("resend_base_url", &self.resend_base_url)
            .field("smtp_url", &redacted(&self.smtp_url))
            .field("mail_dir", &self.mail_dir)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl TransportConfig {
    /// Reads `RESEND_API_KEY`, `RESEND_BASE_URL` and `SMTP_URL` from the environment (an empty
    /// value counts as unset); `mail_dir` is `<data_dir>/mail`, `timeout` [`DEFAULT_TIMEOUT`].
    pub fn from_env(data_dir: &Path) -> TransportConfig {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        TransportConfig {
            resend_api_key: var("RESEND_API_KEY"),
            resend_base_url: var("RESEND_BASE_URL")
                .unwrap_or_else(|| DEFAULT_RESEND_BASE_URL.to_owned()),
            smtp_url: var("SMTP_URL"),
            mail_dir: data_dir.join("mail"),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// A transport that cannot be set up. Messages never contain the API key or SMTP password.
#[derive(Debug, thiserror::Error)]
pub enum TransportConfigError {
    #[error("invalid SMTP_URL: {reason}")]
    InvalidSmtpUrl { reason: String },
    #[error("cannot set up TLS for SMTP_URL: {reason}")]
    SmtpTls { reason: String },
    #[error("the SMTP transport must be created inside a Tokio runtime")]
    NoTokioRuntime,
    #[error("invalid RESEND_BASE_URL: {reason}")]
    InvalidResendBaseUrl { reason: String },
    #[error("invalid RESEND_API_KEY: {reason}")]
    InvalidResendApiKey { reason: String },
    #[error("cannot build the HTTP client for Resend: {reason}")]
    HttpClient { reason: String },
    #[error("cannot create the mail directory {}: {source}", path.display())]
    MailDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The configured transport.
#[derive(Debug, Clone)]
pub enum Mailer {
    Resend(ResendMailer),
    Smtp(SmtpMailer),
    File(FileMailer),
}

impl Mailer {
    /// Resend when an API key is set, else SMTP when SMTP_URL is set, else the file mailer.
    /// Empty or blank values count as unset. Call it inside a Tokio runtime (the SMTP pool
    /// needs one).
    pub fn from_config(cfg: &TransportConfig) -> Result<Mailer, TransportConfigError> {
        let set = |v: &Option<String>| v.as_ref().filter(|v| !v.trim().is_empty()).cloned();
        if let Some(key) = set(&cfg.resend_api_key) {
            return ResendMailer::new(key, &cfg.resend_base_url, cfg.timeout).map(Mailer::Resend);
        }
        if let Some(url) = set(&cfg.smtp_url) {
            return SmtpMailer::from_url(&url, cfg.timeout).map(Mailer::Smtp);
        }
        FileMailer::new(cfg.mail_dir.clone()).map(Mailer::File)
    }

    pub async fn send(&self, email: &Email) -> Result<Sent, SendError> {
        match self {
            Mailer::Resend(m) => m.send(email).await,
            Mailer::Smtp(m) => m.send(email).await,
            Mailer::File(m) => m.send(email).await,
        }
    }

    /// How many emails without attachments one request can carry: Resend's batch endpoint takes
    /// up to 100; the other transports send one at a time (1).
    pub fn batch_limit(&self) -> usize {
        match self {
            Mailer::Resend(_) => resend::MAX_BATCH,
            Mailer::Smtp(_) | Mailer::File(_) => 1,
        }
    }

    /// Sends emails without attachments in one request (Resend's batch endpoint: all accepted
    /// or none). Only for transports whose [`Mailer::batch_limit`] is above 1.
    pub async fn send_batch(&self, emails: &[Email]) -> Result<Vec<Sent>, SendError> {
        match self {
            Mailer::Resend(m) => m.send_batch(emails).await,
            Mailer::Smtp(_) | Mailer::File(_) => Err(SendError::Permanent {
                reason: format!("the {} transport has no batch endpoint", self.kind()),
            }),
        }
    }

    /// Whether the transport is reachable and takes the credentials, sending nothing (for
    /// `calbook check`): SMTP connects and greets; Resend lists the account's domains with the
    /// API key (a key restricted to sending counts as valid); the file mailer is always ready.
    pub async fn probe(&self) -> Result<String, String> {
        match self {
            Mailer::Resend(m) => m.probe().await,
            Mailer::Smtp(m) => m.probe().await,
            Mailer::File(_) => Ok("emails are written to files".to_owned()),
        }
    }

    /// "resend", "smtp" or "file" (for logs and `calbook mail test`).
    pub fn kind(&self) -> &'static str {
        match self {
            Mailer::Resend(_) => "resend",
            Mailer::Smtp(_) => "smtp",
            Mailer::File(_) => "file",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> TransportConfig {
        TransportConfig {
            resend_api_key: None,
            resend_base_url: DEFAULT_RESEND_BASE_URL.into(),
            smtp_url: None,
            mail_dir: dir.join("mail"),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    #[tokio::test]
    async fn from_config_picks_resend_then_smtp_then_file() {
        let tmp = tempfile::tempdir().unwrap();
        let mut cfg = config(tmp.path());
        let m = Mailer::from_config(&cfg).unwrap();
        assert_eq!(m.kind(), "file");
        assert!(tmp.path().join("mail").is_dir());

        cfg.smtp_url = Some("smtps://u:p@mail.example".into());
        assert_eq!(Mailer::from_config(&cfg).unwrap().kind(), "smtp");

        cfg.resend_api_key = Some("re_123".into());
        assert_eq!(Mailer::from_config(&cfg).unwrap().kind(), "resend");

        cfg.resend_api_key = Some("  ".into());
        assert_eq!(Mailer::from_config(&cfg).unwrap().kind(), "smtp");
        cfg.smtp_url = Some(String::new());
        assert_eq!(Mailer::from_config(&cfg).unwrap().kind(), "file");
    }

    #[tokio::test]
    async fn invalid_smtp_url_is_an_error_without_the_password() {
        let tmp = tempfile::tempdir().unwrap();
        let mut cfg = config(tmp.path());
        cfg.smtp_url = Some("smtp://user:Tr0ub4dor@mail.example?tls=maybe".into());
        let err = Mailer::from_config(&cfg).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, TransportConfigError::InvalidSmtpUrl { .. }),
            "{text}"
        );
        assert!(text.contains("tls="), "{text}");
        assert!(!text.contains("Tr0ub4dor"), "{text}");
        assert!(!format!("{err:?}").contains("Tr0ub4dor"));
        assert!(!format!("{cfg:?}").contains("Tr0ub4dor"));
    }

    #[test]
    fn invalid_resend_base_url_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let mut cfg = config(tmp.path());
        cfg.resend_api_key = Some("re_secret".into());
        cfg.resend_base_url = "api.resend.com".into();
        let err = Mailer::from_config(&cfg).unwrap_err();
        assert!(
            matches!(err, TransportConfigError::InvalidResendBaseUrl { .. }),
            "{err}"
        );
        assert!(!err.to_string().contains("re_secret"));
    }
}
