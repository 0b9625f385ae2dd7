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
/// whole send are bounded by `timeout`. Connections are pooled (at most 4, idle 60 s).
///
/// SMTP has no idempotency: a timeout after `DATA` may already have delivered the message. The
/// `Resend-Idempotency-Key` header lets Resend's SMTP relay drop such duplicates.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
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
                .max_size(4)
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
            target: format!("{}://{host}:{port} ({mode})", parsed.scheme()),
            timeout,
        })
    }

    /// Sends the [`mime_message`] of `email`. Errors: 4xx replies, connection problems and
    /// timeouts → `Retryable`; 5xx replies → `Permanent`, except authentication failures
    /// (530, 534, 535, 538) → `Blocked`; TLS failures and a server without STARTTLS → `Blocked`.
    pub async fn send(&self, email: &Email) -> Result<Sent, SendError> {
        let message = mime_message(email)?;
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

fn classify(e: &SmtpError) -> SendError {
    let text = error_chain(e);
    if e.is_tls() || has_rustls_error(e) {
        return SendError::Blocked {
            reason: format!(
                "TLS with the SMTP server failed; check SMTP_URL and the server's certificate ({text})"
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
                    "the SMTP server does not offer STARTTLS, so nothing was sent; use smtps:// or \
                     a server with STARTTLS ({text})"
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
mod tests {
    use super::*;
    use crate::mail::transport::mime::tests::{assert_full_mime, sample_email};
    use mailin_embedded::{Handler, Response, Server, response};
    use std::net::{IpAddr, TcpListener};
    use std::sync::{Arc, Mutex};

    /// Everything the sink saw, in order: `HELO <domain>`, `MAIL <from>`, `RCPT <to>`,
    /// `DATA`, `AUTH …`, and complete messages.
    #[derive(Clone, Default)]
    struct Sink {
        commands: Arc<Mutex<Vec<String>>>,
        messages: Arc<Mutex<Vec<Vec<u8>>>>,
        current: Arc<Mutex<Vec<u8>>>,
    }

    impl Sink {
        fn log(&self, line: String) {
            self.commands.lock().unwrap().push(line);
        }
        fn commands(&self) -> Vec<String> {
            self.commands.lock().unwrap().clone()
        }
        fn messages(&self) -> Vec<String> {
            self.messages
                .lock()
                .unwrap()
                .iter()
                .map(|m| String::from_utf8(m.clone()).unwrap())
                .collect()
        }
    }

    impl Handler for Sink {
        fn helo(&mut self, _ip: IpAddr, domain: &str) -> Response {
            self.log(format!("HELO {domain}"));
            response::OK
        }
        fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> Response {
            self.log(format!("MAIL {from}"));
            response::OK
        }
        fn rcpt(&mut self, to: &str) -> Response {
            self.log(format!("RCPT {to}"));
            response::OK
        }
        fn data_start(&mut self, _d: &str, _f: &str, _8bit: bool, _to: &[String]) -> Response {
            self.log("DATA".into());
            self.current.lock().unwrap().clear();
            response::OK
        }
        fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
            self.current.lock().unwrap().extend_from_slice(buf);
            Ok(())
        }
        fn data_end(&mut self) -> Response {
            let msg = std::mem::take(&mut *self.current.lock().unwrap());
            self.messages.lock().unwrap().push(msg);
            response::OK
        }
        fn auth_plain(&mut self, _z: &str, user: &str, _p: &str) -> Response {
            self.log(format!("AUTH PLAIN {user}"));
            response::INVALID_CREDENTIALS
        }
        fn auth_login(&mut self, user: &str, _p: &str) -> Response {
            self.log(format!("AUTH LOGIN {user}"));
            response::INVALID_CREDENTIALS
        }
    }

    /// A plain-text SMTP sink (no STARTTLS offered) on a free port, serving on a thread that
    /// lives until the test process exits.
    fn start_sink() -> (Sink, u16) {
        let sink = Sink::default();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut server = Server::new(sink.clone());
        server
            .with_name("sink.test")
            .with_num_threads(2)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        (sink, port)
    }

    #[tokio::test]
    async fn consecutive_sends_reuse_one_pooled_connection() {
        let (sink, port) = start_sink();
        let mailer = SmtpMailer::from_url(
            &format!("smtp://127.0.0.1:{port}?tls=none"),
            Duration::from_secs(10),
        )
        .unwrap();
        for _ in 0..10 {
            mailer.send(&sample_email()).await.unwrap();
        }
        assert_eq!(sink.messages().len(), 10);
        let greetings = sink
            .commands()
            .iter()
            .filter(|c| c.starts_with("HELO"))
            .count();
        // lettre hands a used connection back to its pool in the background, so the second
        // send may still open a second one; after that they are reused.
        assert!(
            (1..=2).contains(&greetings),
            "10 emails over {greetings} SMTP sessions: pooled connections are reused"
        );
    }

    #[tokio::test]
    async fn plain_smtp_delivers_the_full_mime_message() {
        let (sink, port) = start_sink();
        let mailer = SmtpMailer::from_url(
            &format!("smtp://127.0.0.1:{port}?tls=none"),
            Duration::from_secs(10),
        )
        .unwrap();
        let sent = mailer.send(&sample_email()).await.unwrap();
        assert_eq!(sent.provider_id, None);

        let messages = sink.messages();
        assert_eq!(messages.len(), 1);
        assert_full_mime(&messages[0]);
        let commands = sink.commands();
        assert!(
            commands.contains(&"MAIL bookings@studio.example".to_owned()),
            "{commands:?}"
        );
        let rcpts: Vec<_> = commands.iter().filter(|c| c.starts_with("RCPT")).collect();
        assert_eq!(
            rcpts,
            vec!["RCPT marco@client.example"],
            "the envelope has one recipient"
        );
    }

    #[tokio::test]
    async fn starttls_is_required_and_nothing_is_sent_without_it() {
        let (sink, port) = start_sink();
        let mailer = SmtpMailer::from_url(
            &format!("smtp://user:s3cret@127.0.0.1:{port}"),
            Duration::from_secs(10),
        )
        .unwrap();
        let got = mailer.send(&sample_email()).await;
        match &got {
            Err(SendError::Blocked { reason, .. }) => {
                assert!(reason.contains("STARTTLS"), "{reason}");
                assert!(!reason.contains("s3cret"), "{reason}");
            }
            other => panic!("expected Blocked, got {other:?}"),
        }
        let commands = sink.commands();
        assert!(
            commands.iter().any(|c| c.starts_with("HELO")),
            "the sink was reached: {commands:?}"
        );
        assert!(
            commands.iter().all(|c| c.starts_with("HELO")),
            "no AUTH, MAIL, RCPT or DATA: {commands:?}"
        );
        assert!(sink.messages().is_empty());
    }

    #[tokio::test]
    async fn implicit_tls_against_a_plain_server_is_blocked() {
        let (sink, port) = start_sink();
        let mailer = SmtpMailer::from_url(
            &format!("smtps://user:s3cret@127.0.0.1:{port}"),
            Duration::from_secs(5),
        )
        .unwrap();
        let got = mailer.send(&sample_email()).await;
        assert!(
            matches!(&got, Err(SendError::Blocked { reason, .. }) if !reason.contains("s3cret")),
            "{got:?}"
        );
        assert!(sink.messages().is_empty());
        assert!(
            !sink
                .commands()
                .iter()
                .any(|c| c.starts_with("MAIL") || c.starts_with("AUTH"))
        );
    }

    #[tokio::test]
    async fn refused_connection_is_retryable() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let mailer = SmtpMailer::from_url(
            &format!("smtp://127.0.0.1:{port}?tls=none"),
            Duration::from_secs(5),
        )
        .unwrap();
        let got = mailer.send(&sample_email()).await;
        assert!(matches!(got, Err(SendError::Retryable { .. })), "{got:?}");
    }

    #[test]
    fn outside_a_runtime_is_an_error_not_a_panic() {
        let err = SmtpMailer::from_url("smtp://localhost?tls=none", Duration::from_secs(1));
        assert!(matches!(err, Err(TransportConfigError::NoTokioRuntime)));
    }

    #[tokio::test]
    async fn urls_are_parsed_and_errors_hide_the_password() {
        let t = Duration::from_secs(3);
        let m = SmtpMailer::from_url("smtps://u:p@mail.example", t).unwrap();
        assert_eq!(m.target, "smtps://mail.example:465 (implicit TLS)");
        let m = SmtpMailer::from_url("smtp://u%40x:p%2Fw@mail.example", t).unwrap();
        assert_eq!(m.target, "smtp://mail.example:587 (STARTTLS required)");
        let m = SmtpMailer::from_url("smtp://localhost:2525?tls=none", t).unwrap();
        assert_eq!(m.target, "smtp://localhost:2525 (no TLS)");
        assert!(!format!("{m:?}").contains("p%2Fw"));

        for bad in [
            "http://u:hunter2@mail.example",
            "smtps://u:hunter2@mail.example?tls=none",
            "smtp://u:hunter2@mail.example?tls=opportunistic",
            "smtp://u:hunter2@mail.example?foo=bar",
            "smtp://:hunter2@mail.example",
            "smtp://u:hunter2%zz@mail.example",
            "smtp://u:hunter2@mail.example/path",
            "smtp://u:hunter2@",
            "smtp://u:hunter2@mail.example:99999",
            "not a url hunter2",
        ] {
            let err = SmtpMailer::from_url(bad, t).unwrap_err().to_string();
            assert!(!err.contains("hunter2"), "{bad}: {err}");
            assert!(err.contains("SMTP_URL"), "{bad}: {err}");
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("p%40ss%2F%C3%BC").as_deref(), Some("p@ss/ü"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%FF"), None);
    }
}
