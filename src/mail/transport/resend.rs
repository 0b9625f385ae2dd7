//! Resend's HTTP API (`POST {base}/emails`, and `POST {base}/emails/batch` for up to 100 emails
//! without attachments in one request), hand-written over reqwest.

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};

use super::TransportConfigError;
use super::mime::{
    INVITE_FILENAME, base64, calendar_content_type, idempotency_key, mailbox, recipients,
};
use crate::mail::{Email, SendError, Sent, header_safe};

/// Resend accepts at most 50 recipients per email.
const MAX_RECIPIENTS: usize = 50;
/// Resend's batch endpoint takes at most 100 emails per request, none with attachments.
pub const MAX_BATCH: usize = 100;
/// Provider messages are kept in errors up to this many characters.
const MAX_MESSAGE_CHARS: usize = 300;

/// Sends through Resend's HTTP API with `Idempotency-Key` set to the email's key, so a retry
/// after a lost response within Resend's 24 h window returns the original id instead of sending
/// twice. The API key is never logged, nor are addresses or bodies.
#[derive(Clone)]
pub struct ResendMailer {
    client: reqwest::Client,
    endpoint: Url,
    batch_endpoint: Url,
    api_key: String,
    timeout: Duration,
}

impl ResendMailer {
    /// `GET /domains` with the API key: 200, or 401 `restricted_api_key` (a key that may only
    /// send), means the key is valid. For `calbook check`; sends nothing.
    pub async fn probe(&self) -> Result<String, String> {
        let url = self
            .endpoint
            .join("domains")
            .map_err(|e| format!("RESEND_BASE_URL: {e}"))?;
        let res = self
            .client
            .get(url.clone())
            .bearer_auth(&self.api_key)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "{} cannot be reached: {e}",
                    url.origin().ascii_serialization()
                )
            })?;
        let status = res.status();
        let body = res.text().await.unwrap_or_default();
        if status.is_success() || (status.as_u16() == 401 && body.contains("restricted_api_key")) {
            Ok(format!(
                "{} accepts the API key",
                url.origin().ascii_serialization()
            ))
        } else if matches!(status.as_u16(), 401 | 403) {
            Err("Resend refused the API key (RESEND_API_KEY)".to_owned())
        } else {
            Err(format!("Resend answered {status}"))
        }
    }
}

impl fmt::Debug for ResendMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResendMailer")
            .field("endpoint", &self.endpoint.as_str())
            .field("api_key", &"<redacted>")
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[derive(Serialize)]
struct SendRequest<'a> {
    from: String,
    to: Vec<String>,
    subject: String,
    text: &'a str,
    html: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_to: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<SendAttachment>,
}

#[derive(Serialize)]
struct SendAttachment {
    filename: &'static str,
    content: String,
    content_type: String,
}

#[derive(Deserialize)]
struct SendResponse {
    id: Option<String>,
}

#[derive(Deserialize)]
struct BatchResponse {
    #[serde(default)]
    data: Vec<SendResponse>,
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    name: Option<String>,
    message: Option<String>,
}

impl ResendMailer {
    /// `base_url` is Resend's API root (`https://api.resend.com`, or a mock); `/emails` is
    /// appended. `timeout` bounds each whole request.
    pub fn new(
        api_key: String,
        base_url: &str,
        timeout: Duration,
    ) -> Result<Self, TransportConfigError> {
        let api_key = api_key.trim().to_owned();
        if api_key.is_empty() {
            return Err(TransportConfigError::InvalidResendApiKey {
                reason: "it is empty".into(),
            });
        }
        if HeaderValue::from_str(&format!("Bearer {api_key}")).is_err() {
            return Err(TransportConfigError::InvalidResendApiKey {
                reason: "it contains characters not allowed in an HTTP header".into(),
            });
        }
        let endpoint = endpoint(base_url, "emails")?;
        let batch_endpoint = endpoint_batch(base_url)?;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("calbook/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TransportConfigError::HttpClient {
                reason: e.to_string(),
            })?;
        Ok(ResendMailer {
            client,
            endpoint,
            batch_endpoint,
            api_key,
            timeout,
        })
    }

    /// `POST /emails`. 2xx → [`Sent`] with Resend's id; errors are classified as described on
    /// `classify`.
    pub async fn send(&self, email: &Email) -> Result<Sent, SendError> {
        let key = idempotency_key(&email.idempotency_key)?;
        let body = request_body(email)?;
        let bytes = self.post(&self.endpoint, &key, &body).await?;
        let id = bytes
            .and_then(|b| serde_json::from_slice::<SendResponse>(&b).ok())
            .and_then(|r| r.id);
        tracing::debug!(provider_id = ?id, "resend accepted the email");
        Ok(Sent { provider_id: id })
    }

    /// `POST /emails/batch`: up to [`MAX_BATCH`] emails without attachments in one request (one
    /// request against Resend's rate limit), all accepted or none. The `Idempotency-Key` is
    /// [`batch_key`] of the emails' own keys, so a retry of the same batch is recognised as such.
    /// The result has one [`Sent`] per email, in order.
    pub async fn send_batch(&self, emails: &[Email]) -> Result<Vec<Sent>, SendError> {
        if emails.is_empty() {
            return Ok(Vec::new());
        }
        if emails.len() > MAX_BATCH {
            return Err(SendError::Permanent {
                reason: format!("Resend's batch endpoint takes at most {MAX_BATCH} emails"),
            });
        }
        if emails.iter().any(|e| e.calendar.is_some()) {
            return Err(SendError::Permanent {
                reason: "Resend's batch endpoint takes no attachments".into(),
            });
        }
        let key = batch_key(emails);
        let body = emails
            .iter()
            .map(request_body)
            .collect::<Result<Vec<_>, _>>()?;
        let bytes = self.post(&self.batch_endpoint, &key, &body).await?;
        let ids = bytes
            .and_then(|b| serde_json::from_slice::<BatchResponse>(&b).ok())
            .map(|r| r.data)
            .unwrap_or_default();
        tracing::debug!(
            emails = emails.len(),
            ids = ids.len(),
            "resend accepted the batch"
        );
        let mut ids = ids.into_iter().map(|r| r.id);
        Ok(emails
            .iter()
            .map(|_| Sent {
                provider_id: ids.next().flatten(),
            })
            .collect())
    }

    /// One POST with the key; `Ok(Some(body))` on 2xx, `Ok(None)` when accepted but the body was
    /// lost, else the classified error.
    async fn post(
        &self,
        url: &Url,
        key: &str,
        body: &impl Serialize,
    ) -> Result<Option<bytes::Bytes>, SendError> {
        let response = self
            .client
            .post(url.clone())
            .bearer_auth(&self.api_key)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                let reason = if e.is_timeout() {
                    format!("Resend did not answer within {:?}", self.timeout)
                } else if e.is_connect() {
                    format!("cannot connect to Resend: {}", error_chain(&e))
                } else {
                    format!("request to Resend failed: {}", error_chain(&e))
                };
                tracing::warn!(%reason, "resend send failed");
                return Err(SendError::Retryable {
                    reason,
                    retry_after: None,
                });
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = match response.bytes().await {
            Ok(b) => b,
            Err(e) if status.is_success() => {
                // Accepted, but the id was lost: the same key on a retry returns it.
                tracing::warn!(error = %error_chain(&e), "resend accepted the email; reading its id failed");
                return Ok(None);
            }
            Err(_) => Default::default(),
        };
        if status.is_success() {
            return Ok(Some(bytes));
        }
        let error = classify(status, &headers, &bytes);
        tracing::warn!(status = status.as_u16(), error = %error, "resend refused the email");
        Err(error)
    }
}

/// The `Idempotency-Key` of a batch: `batch/` and the SHA-256 of its emails' own keys, in order.
/// The same emails in the same order always give the same key (the worker orders a batch by the
/// emails' keys), so a batch retried after a lost answer is recognised by Resend and not sent
/// twice; a different batch gets a different key.
pub fn batch_key(emails: &[Email]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for e in emails {
        h.update(e.idempotency_key.as_bytes());
        h.update([0u8]);
    }
    format!("batch/{}", hex::encode(h.finalize()))
}

fn endpoint_batch(base_url: &str) -> Result<Url, TransportConfigError> {
    endpoint(base_url, "emails/batch")
}

fn endpoint(base_url: &str, path: &str) -> Result<Url, TransportConfigError> {
    let invalid = |reason: String| TransportConfigError::InvalidResendBaseUrl { reason };
    let base = Url::parse(base_url.trim()).map_err(|e| invalid(e.to_string()))?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "scheme {:?} is not http or https",
            base.scheme()
        )));
    }
    if base.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it has no host".into()));
    }
    if !base.username().is_empty() || base.password().is_some() {
        return Err(invalid("it must not contain credentials".into()));
    }
    if base.query().is_some() || base.fragment().is_some() {
        return Err(invalid("it must not have a query or fragment".into()));
    }
    let joined = format!("{}/{path}", base.as_str().trim_end_matches('/'));
    Url::parse(&joined).map_err(|e| invalid(e.to_string()))
}

fn request_body(email: &Email) -> Result<SendRequest<'_>, SendError> {
    let to = recipients(email)?;
    if to.len() > MAX_RECIPIENTS {
        return Err(SendError::Permanent {
            reason: format!("Resend accepts at most {MAX_RECIPIENTS} recipients"),
        });
    }
    let attachments = email
        .calendar
        .iter()
        .map(|invite| SendAttachment {
            filename: INVITE_FILENAME,
            content: base64(invite.ics.as_bytes()),
            content_type: calendar_content_type(invite, false),
        })
        .collect();
    Ok(SendRequest {
        from: mailbox(&email.from, "from")?.to_string(),
        to: to.iter().map(ToString::to_string).collect(),
        subject: header_safe(&email.subject),
        text: &email.text,
        html: &email.html,
        reply_to: email
            .reply_to
            .as_ref()
            .map(|m| mailbox(m, "reply_to").map(|m| m.to_string()))
            .transpose()?,
        attachments,
    })
}

/// Maps a non-2xx answer to a [`SendError`]:
///
/// | status | Resend `name` | result |
/// |---|---|---|
/// | 429 | `daily_quota_exceeded`, `monthly_quota_exceeded` | `Blocked` (`retry-after` if given) |
/// | 429 | anything else (`rate_limit_exceeded`) | `Retryable`, `retry-after` else `ratelimit-reset` |
/// | 409 | `concurrent_idempotent_requests` | `Retryable` |
/// | 409 | anything else (`invalid_idempotent_request`) | `Permanent` |
/// | 401, 403 | | `Blocked`: check `RESEND_API_KEY` |
/// | 408 | | `Retryable` |
/// | other 4xx (400, 422, 451, …) | | `Permanent` with the provider's message |
/// | 5xx | | `Retryable` |
/// | 1xx, 3xx | | `Blocked` (wrong `RESEND_BASE_URL`?) |
pub(crate) fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> SendError {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let name = parsed.name.unwrap_or_default();
    let message: String = parsed
        .message
        .map(|m| header_safe(&m))
        .unwrap_or_default()
        .chars()
        .take(MAX_MESSAGE_CHARS)
        .collect();
    let detail = match (name.is_empty(), message.is_empty()) {
        (true, true) => format!("HTTP {}", status.as_u16()),
        (false, true) => format!("HTTP {} {name}", status.as_u16()),
        (true, false) => format!("HTTP {}: {message}", status.as_u16()),
        (false, false) => format!("HTTP {} {name}: {message}", status.as_u16()),
    };
    match status.as_u16() {
        429 if matches!(
            name.as_str(),
            "daily_quota_exceeded" | "monthly_quota_exceeded"
        ) =>
        {
            SendError::Blocked {
                reason: format!("Resend sending quota exceeded ({detail})"),
                retry_after: seconds_header(headers, "retry-after"),
            }
        }
        429 => SendError::Retryable {
            reason: format!("Resend rate limit ({detail})"),
            retry_after: seconds_header(headers, "retry-after")
                .or_else(|| seconds_header(headers, "ratelimit-reset")),
        },
        409 if name == "concurrent_idempotent_requests" => SendError::Retryable {
            reason: format!("the same idempotency key is still in flight at Resend ({detail})"),
            retry_after: seconds_header(headers, "retry-after"),
        },
        409 => SendError::Permanent {
            reason: format!("Resend refused the idempotency key ({detail})"),
        },
        401 | 403 => SendError::Blocked {
            reason: format!("Resend refused the API key; check RESEND_API_KEY ({detail})"),
            retry_after: None,
        },
        408 => SendError::Retryable {
            reason: format!("Resend timed out ({detail})"),
            retry_after: seconds_header(headers, "retry-after"),
        },
        400..=499 => SendError::Permanent {
            reason: format!("Resend rejected the email ({detail})"),
        },
        500..=599 => SendError::Retryable {
            reason: format!("Resend server error ({detail})"),
            retry_after: seconds_header(headers, "retry-after"),
        },
        _ => SendError::Blocked {
            reason: format!("unexpected answer from Resend; check RESEND_BASE_URL ({detail})"),
            retry_after: None,
        },
    }
}

/// A header holding a number of seconds (`retry-after: 2`, `ratelimit-reset: 1.5`).
fn seconds_header(headers: &HeaderMap, name: &str) -> Option<Duration> {
    let value = headers.get(name)?.to_str().ok()?.trim();
    let secs: f64 = value.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0 * 31.0)))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests;
