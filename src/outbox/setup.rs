//! Email settings, and the pieces the outbox worker is built from.
//!
//! Transport, by configuration: Resend's API when `RESEND_API_KEY` is set, else SMTP when
//! `SMTP_URL` is set, else a file mailer writing `.eml` files to `<data dir>/mail/` (so a first
//! run works with no credentials). `EMAIL_FROM` (and `EMAIL_REPLY_TO`) set the sender; with a real
//! transport a missing or invalid sender is a startup error that says so.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use super::plan::EmailPolicy;
use super::worker::WorkerConfig;
use crate::mail::Mailbox;
use crate::mail::render::Renderer;
use crate::mail::transport::{Mailer, TransportConfig};

/// Everything about email that a user configures.
#[derive(Debug, Clone, Default)]
pub struct EmailSettings {
    pub from: Option<String>,
    pub reply_to: Option<String>,
    pub resend_api_key: Option<String>,
    pub resend_base_url: Option<String>,
    pub smtp_url: Option<String>,
    pub templates_dir: Option<PathBuf>,
    /// Where the emails' Reschedule, Cancel and Book again links point.
    pub site: crate::mail::render::SiteLinks,
    /// Logo, brand colour and footer line of the emails.
    pub brand: crate::mail::render::Brand,
    pub policy: EmailPolicy,
    pub rate_per_second: Option<f64>,
    pub max_attempts: Option<i64>,
    pub business_name: Option<String>,
    /// Which meeting URLs are links (`CALBOOK_ALLOWED_LINK_HOSTS` and the Cal.com origin), in the
    /// emails, the invites and the dashboard alike.
    pub links: crate::booking::LinkPolicy,
}

#[derive(Debug, thiserror::Error)]
pub enum EmailConfigError {
    #[error(
        "EMAIL_FROM is required when RESEND_API_KEY or SMTP_URL is set (e.g. EMAIL_FROM=\"Acme <bookings@acme.example>\")"
    )]
    MissingFrom,
    #[error(
        "{name} is not a valid mailbox: {reason} (use \"Name <address@example.com>\" or \"address@example.com\")"
    )]
    InvalidMailbox { name: &'static str, reason: String },
    #[error("EMAIL_RATE_PER_SECOND must be a positive number")]
    InvalidRate,
    #[error("email transport: {0}")]
    Transport(#[from] crate::mail::transport::TransportConfigError),
    #[error("email templates: {0}")]
    Templates(#[from] crate::mail::render::RenderError),
}

/// The mailer, the renderer and the worker's configuration.
pub struct EmailPipeline {
    pub mailer: Arc<Mailer>,
    pub renderer: Arc<Renderer>,
    pub worker: WorkerConfig,
}

/// `"Name <addr>"` or `"addr"`, validated, with the display name made header-safe.
pub fn parse_mailbox(name: &'static str, value: &str) -> Result<Mailbox, EmailConfigError> {
    let mb = lettre::message::Mailbox::from_str(value.trim()).map_err(|e| {
        EmailConfigError::InvalidMailbox {
            name,
            reason: e.to_string(),
        }
    })?;
    Ok(Mailbox {
        name: mb
            .name
            .map(|n| crate::mail::header_safe(&n))
            .filter(|n| !n.is_empty()),
        address: mb.email.to_string(),
    })
}

impl EmailSettings {
    pub fn build(&self, data_dir: &Path) -> Result<EmailPipeline, EmailConfigError> {
        let transport = TransportConfig {
            resend_api_key: self.resend_api_key.clone().filter(|k| !k.trim().is_empty()),
            resend_base_url: self
                .resend_base_url
                .clone()
                .filter(|u| !u.trim().is_empty())
                .unwrap_or_else(|| "https://api.resend.com".to_owned()),
            smtp_url: self.smtp_url.clone().filter(|u| !u.trim().is_empty()),
            mail_dir: data_dir.join("mail"),
            timeout: Duration::from_secs(20),
        };
        let real_transport = transport.resend_api_key.is_some() || transport.smtp_url.is_some();
        let from = match self
            .from
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
        {
            Some(f) => parse_mailbox("EMAIL_FROM", f)?,
            None if real_transport => return Err(EmailConfigError::MissingFrom),
            None => Mailbox {
                name: Some("calbook".to_owned()),
                address: "calbook@localhost".to_owned(),
            },
        };
        let reply_to = self
            .reply_to
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(|r| parse_mailbox("EMAIL_REPLY_TO", r))
            .transpose()?;
        if self
            .rate_per_second
            .is_some_and(|r| !(r > 0.0 && r.is_finite()))
        {
            return Err(EmailConfigError::InvalidRate);
        }
        let mailer = Mailer::from_config(&transport)?;
        let renderer = Renderer::new(self.templates_dir.as_deref())?
            .with_links(self.links.clone())
            .with_site(self.site.clone())
            .with_brand(self.brand.clone());
        let mut worker = WorkerConfig::new(from);
        worker.reply_to = reply_to;
        worker.business_name = self.business_name.clone().unwrap_or_default();
        worker.rate_per_second = self.rate_per_second;
        if let Some(m) = self.max_attempts {
            worker.max_attempts = m.max(1);
        }
        Ok(EmailPipeline {
            mailer: Arc::new(mailer),
            renderer: Arc::new(renderer),
            worker,
        })
    }
}
