//! SMTP through lettre's pooled `AsyncSmtpTransport<Tokio1Executor>`.

use std::fmt;
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::Tls;
use lettre::transport::smtp::{Error as SmtpError, PoolConfig};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use reqwest::Url;

use super::TransportConfigError;
use super::mime::mime_message;
use crate::mail::{Email, SendError, Sent};

/// SMTP connections kept open, and sends at once (see [`SmtpMailer`]).
pub const POOL_SIZE: usize = 4;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// `smtps://`: TLS from the first byte (port 465 by default).
    Implicit,
    /// `smtp://`: STARTTLS is required (port 587 by default); no credentials or mail are sent
    /// if the server does not offer it.
    StartTls,
    /// `smtp://…?tls=none`: plain text (port 25 by default).
    None,
}

/// Sends over SMTP. Built from a URL:
///
/// - `smtps://user:pass@host[:465]`: implicit TLS (lettre's `relay`), certificate checked
///   against `host` with the system's trust store.
/// - `smtp://user:pass@host[:587]`: STARTTLS **required** (lettre's `starttls_relay`). If the
///   server does not offer STARTTLS, or the upgrade fails, the send fails and neither the
///   credentials nor the message are sent. There is no opportunistic mode.
/// - `smtp://host[:25]?tls=none`: plain SMTP, no encryption at all. Only for a relay on the same
///   host or private network (e.g. a local Postfix) and for tests; it must be asked for
///   explicitly. Credentials given with `tls=none` would travel in clear text, so avoid them.
///
/// User name and password are percent-decoded (`p%40ss` is `p@ss`). Each SMTP command and the
/// whole send are bounded by `timeout`. Connections are pooled (at most `POOL_SIZE`, 4, idle
/// 60 s), and at most `POOL_SIZE` sends run at once: lettre's pool keeps that many idle
/// connections but opens a new one for every send beyond them and closes it afterwards, so the
/// worker's 32 concurrent sends reconnected for nearly every email (2,072 SMTP sessions for
/// 3,000 emails; BENCHMARKS.md, issue 15). lettre does not pipeline commands (it has no
/// `PIPELINING` support): each email is NOOP (checking the pooled connection), MAIL, RCPT,
/// DATA and the message, one answer awaited each.
///
/// SMTP has no idempotency: a timeout after `DATA` may already have delivered the message. The
/// `Resend-Idempotency-Key` header lets Resend's SMTP relay drop such duplicates.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// `POOL_SIZE` permits: one per pooled connection.
    sends: std::sync::Arc<tokio::sync::Semaphore>,
    /// `scheme://host:port` and the security mode; no credentials.
    target: String,
    timeout: Duration,
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("target", &self.target)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// Parses `url` (see the type's documentation). Errors say what is wrong and never contain
    /// the password.
    ///
    /// Must be called inside a Tokio runtime: lettre's connection pool spawns a task when it is
    /// built and when it is dropped (outside a runtime this returns
    /// [`TransportConfigError::NoTokioRuntime`] instead of panicking).
    pub fn from_url(url: &str, timeout: Duration) -> Result<Self, TransportConfigError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(TransportConfigError::NoTokioRuntime);
        }
        let invalid = |reason: &str| TransportConfigError::InvalidSmtpUrl {
            reason: reason.to_owned(),
        };
        // url's own messages never echo the input.
        let parsed = Url::parse(url.trim()).map_err(|e| TransportConfigError::InvalidSmtpUrl {
            reason: e.to_string(),
        })?;

        let mut tls_none = false;
        for (name, value) in parsed.query_pairs() {
            match (name.as_ref(), value.as_ref()) {
                ("tls", "none") => tls_none = true,
                ("tls", _) => return Err(invalid("the only accepted value for tls= is \"none\"")),
                _ => {
                    return Err(TransportConfigError::InvalidSmtpUrl {
                        reason: format!("unknown parameter {:?} (only tls=none is accepted)", name),
                    });
                }
            }
        }
        let security = match (parsed.scheme(), tls_none) {
            ("smtps", false) => Security::Implicit,
            ("smtps", true) => return Err(invalid("tls=none contradicts the smtps:// scheme")),
            ("smtp", false) => Security::StartTls,
            ("smtp", true) => Security::None,
            (other, _) => {
                return Err(TransportConfigError::InvalidSmtpUrl {
                    reason: format!("scheme {other:?} is not smtp or smtps"),
                });
            }
        };
        if parsed.fragment().is_some() || !matches!(parsed.path(), "" | "/") {
            return Err(invalid("it must not have a path or fragment"));
        }
        let host = parsed
            .host_str()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned())
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid("it has no host"))?;
        let port = parsed.port().unwrap_or(match security {
            Security::Implicit => 465,
            Security::StartTls => 587,
            Security::None => 25,
        });

        let user = percent_decode(parsed.username())
            .ok_or_else(|| invalid("the user name is not valid percent-encoded UTF-8"))?;
        let password = match parsed.password() {
            Some(p) => Some(
                percent_decode(p)
                    .ok_or_else(|| invalid("the password is not valid percent-encoded UTF-8"))?,
            ),
            None => None,
        };
        let credentials = match (user.is_empty(), password) {
            (true, None) => None,
            (true, Some(_)) => return Err(invalid("it has a password but no user name")),
            (false, None) => return Err(invalid("it has a user name but no password")),
            (false, Some(p)) => Some(Credentials::new(user, p)),
        };

        let tls_error = |e: SmtpError| TransportConfigError::SmtpTls {
            reason: e.to_string(),
        };
        let builder = match security {
            Security::Implicit => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&host).map_err(tls_error)?
            }
            Security::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host).map_err(tls_error)?
            }
            Security::None => {
                if credentials.is_some() {
                    tracing::warn!(
                        "SMTP_URL has tls=none and credentials: they may be sent in clear text"
                    );
                }
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host).tls(Tls::None)
            }
        };
        let mut builder = builder.port(port).timeout(Some(timeout)).pool_config(
            PoolConfig::new()
                .max_size(POOL_SIZE as u32)
                .idle_timeout(Duration::from_secs(60)),
        );
        if let Some(credentials) = credentials {
            builder = builder.credentials(credentials);
        }
        let mode = match security {
            Security::Implicit => "implicit TLS",
            Security::StartTls => "STARTTLS required",
            Security::None => "no TLS",
        };
        Ok(SmtpMailer {
            transport: builder.build(),
            sends: std::sync::Arc::new(tokio::sync::Semaphore::new(POOL_SIZE)),
            target: format!("{}://{host}:{port} ({mode})", parsed.scheme()),
            timeout,
        })
    }

    /// Sends the [`mime_message`] of `email`. Errors: 4xx replies, connection problems and
    /// timeouts → `Retryable`; 5xx replies → `Permanent`, except authentication failures
    /// (530, 534, 535, 538) → `Blocked`; TLS failures and a server without STARTTLS → `Blocked`.
    pub async fn send(&self, email: &Email) -> Result<Sent, SendError> {
        let message = mime_message(email)?;
        // Waiting for a connection of the pool is not the server's time: outside the timeout.
        let _permit = self
            .sends
            .acquire()
            .await
            .map_err(|_| SendError::Retryable {
                reason: "the SMTP mailer is shutting down".to_owned(),
                retry_after: None,
            })?;
        let result = tokio::time::timeout(self.timeout, self.transport.send(message)).await;
        match result {
            Ok(Ok(response)) => {
                tracing::debug!(target_server = %self.target, code = %response.code(), "smtp accepted the email");
                Ok(Sent { provider_id: None })
            }
            Ok(Err(e)) => {
                let error = classify(&e);
                tracing::warn!(target_server = %self.target, error = %error, "smtp send failed");
                Err(error)
            }
            Err(_) => {
                let error = SendError::Retryable {
                    reason: format!("SMTP send did not finish within {:?}", self.timeout),
                    retry_after: None,
                };
                tracing::warn!(target_server = %self.target, error = %error, "smtp send failed");
                Err(error)
            }
        }
    }
}

impl SmtpMailer {
    /// Connects and greets the server (EHLO, STARTTLS or TLS, and AUTH when credentials are
    /// set), sending nothing: for `calbook check`. The error says what failed.
    pub async fn probe(&self) -> Result<String, String> {
        match tokio::time::timeout(self.timeout, self.transport.test_connection()).await {
            Ok(Ok(true)) => Ok(self.target.clone()),
            Ok(Ok(false)) => Err(format!("{} did not accept a connection", self.target)),
            Ok(Err(e)) => Err(format!("{}: {}", self.target, classify(&e))),
            Err(_) => Err(format!(
                "{} did not answer within {:?}",
                self.target, self.timeout
            )),
        }
    }
}

fn classify(e: &SmtpError) -> SendError {
    let text = error_chain(e);
    if e.is_tls() || has_rustls_error(e) {
        return SendError::Blocked {
            reason: format!(
                "TLS with the SMTP server failed; check SMTP_URL and the server's certificate, or, \
                 for a local relay that speaks no TLS, add ?tls=none to SMTP_URL ({text})"
            ),
            retry_after: None,
        };
    }
    if let Some(code) = e.status() {
        let code = code.to_string();
        if e.is_transient() {
            return SendError::Retryable {
                reason: format!("SMTP server answered {code}: {text}"),
                retry_after: None,
            };
        }
        if matches!(code.as_str(), "530" | "534" | "535" | "538") {
            return SendError::Blocked {
                reason: format!(
                    "SMTP authentication failed; check the credentials in SMTP_URL ({text})"
                ),
                retry_after: None,
            };
        }
        return SendError::Permanent {
            reason: format!("SMTP server answered {code}: {text}"),
        };
    }
    if e.is_client() {
        if text.contains("STARTTLS") {
            return SendError::Blocked {
                reason: format!(
                    "the SMTP server does not offer STARTTLS, so nothing was sent; use smtps://, a \
                     server with STARTTLS, or, for a local relay, add ?tls=none to SMTP_URL ({text})"
                ),
                retry_after: None,
            };
        }
        if text.contains("SMTPUTF8") || text.contains("8BITMIME") {
            return SendError::Permanent {
                reason: format!("the SMTP server cannot carry this message ({text})"),
            };
        }
        return SendError::Blocked {
            reason: format!("SMTP client error; check SMTP_URL ({text})"),
            retry_after: None,
        };
    }
    SendError::Retryable {
        reason: format!("SMTP connection failed: {text}"),
        retry_after: None,
    }
}

/// Whether a rustls error (handshake, certificate) is somewhere in the chain; lettre reports
/// those as connection errors wrapped in `io::Error`.
fn has_rustls_error(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if err.is::<rustls::Error>() {
            return true;
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && inner.is::<rustls::Error>()
        {
            return true;
        }
        current = err.source();
    }
    false
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        source = s.source();
    }
    out
}

/// Decodes `%XX` escapes; `None` if an escape is malformed or the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests;
