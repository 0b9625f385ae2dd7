//! A small client for the parts of Cal.com's API v2 the sync needs: `GET /v2/bookings` (one
//! page), `GET /v2/bookings/{uid}`, and the webhook subscriptions (`/v2/webhooks`).
//!
//! Every request carries `Authorization: Bearer <key>` and `cal-api-version: 2024-08-13`
//! (without that header Cal.com answers with its 2024-04-15 controller, whose query parameters
//! differ). Failure handling, per request:
//! - **429**: waits as long as `Retry-After` (seconds) or `X-RateLimit-Reset` (seconds, or a Unix
//!   time) says, capped at [`RetryPolicy::max_wait`], then tries again, at most
//!   [`RetryPolicy::attempts`] times. An API key gets about 120 requests a minute.
//! - **5xx, timeouts, refused connections**: retries with doubling backoff from
//!   [`RetryPolicy::backoff`], then gives up with [`ClientError::Unavailable`] (the pass stops and
//!   says so; the next one starts over from the watermark).
//! - **401/403**: [`ClientError::Unauthorized`] at once: a wrong key does not get better by
//!   retrying, and the sync stops until the key is fixed.
//!
//! Never a busy loop: every retry waits first. The key is never logged, nor are bodies (they hold
//! attendee emails): logs name the path, the status and the wait.

use std::time::Duration;

use jiff::Timestamp;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::map::ApiBooking;

/// The API version the bookings endpoints are read with.
pub const API_VERSION: &str = "2024-08-13";
/// Largest page `GET /v2/bookings` serves.
pub const MAX_TAKE: usize = 250;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    #[error(
        "Cal.com refused the API key (HTTP {0}); check CALCOM_API_KEY (an API v2 key, cal_…) and its permissions"
    )]
    Unauthorized(u16),
    #[error("Cal.com's API is unavailable: {0}")]
    Unavailable(String),
    #[error("Cal.com's API answered {status} to {what}: {detail}")]
    Refused {
        status: u16,
        what: String,
        detail: String,
    },
    #[error("Cal.com's API answer to {what} is not what calbook expects: {detail}")]
    Protocol { what: String, detail: String },
    #[error("invalid CALCOM_API_URL: {0}")]
    BadUrl(String),
}

/// How the client waits and retries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Tries per request (the first included).
    pub attempts: u32,
    /// First wait after a 5xx or a timeout; doubled each time.
    pub backoff: Duration,
    /// Longest wait a 429 may ask for before the pass gives up instead.
    pub max_wait: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            backoff: Duration::from_secs(2),
            max_wait: Duration::from_secs(120),
            timeout: Duration::from_secs(30),
        }
    }
}

/// One page of `GET /v2/bookings`.
#[derive(Debug)]
pub struct Page {
    pub bookings: Vec<ApiBooking>,
    pub has_next: bool,
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    key: String,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("key", &"<redacted>")
            .finish()
    }
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
    #[serde(default)]
    pagination: Option<Pagination>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pagination {
    #[serde(default)]
    has_next_page: bool,
}

impl Client {
    /// A client for the API at `base` (e.g. `https://api.cal.com`) with `key`.
    pub fn new(base: &str, key: &str, retry: RetryPolicy) -> Result<Client, ClientError> {
        let mut base = Url::parse(base.trim()).map_err(|e| ClientError::BadUrl(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(ClientError::BadUrl("use an http or https URL".to_owned()));
        }
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        let http = reqwest::Client::builder()
            .timeout(retry.timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("calbook/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::BadUrl(e.to_string()))?;
        Ok(Client {
            http,
            base,
            key: key.trim().to_owned(),
            retry,
        })
    }

    fn url(&self, path: &str) -> Url {
        self.base
            .join(path.trim_start_matches('/'))
            .expect("a relative path joins")
    }

    /// One page of bookings updated after `after`, oldest update first.
    pub async fn bookings_page(
        &self,
        after: Option<Timestamp>,
        skip: usize,
        take: usize,
    ) -> Result<Page, ClientError> {
        let mut url = self.url("v2/bookings");
        {
            let mut q = url.query_pairs_mut();
            if let Some(after) = after {
                q.append_pair("afterUpdatedAt", &after.to_string());
            }
            q.append_pair("sortUpdatedAt", "asc");
            q.append_pair("take", &take.clamp(1, MAX_TAKE).to_string());
            q.append_pair("skip", &skip.to_string());
        }
        let env: Envelope<Vec<ApiBooking>> = self
            .json(Method::GET, url, None, "GET /v2/bookings")
            .await?;
        Ok(Page {
            bookings: env.data,
            has_next: env.pagination.is_some_and(|p| p.has_next_page),
        })
    }

    /// One booking by uid; `None` when Cal.com answers 404.
    pub async fn booking(&self, uid: &str) -> Result<Option<ApiBooking>, ClientError> {
        let mut url = self.url("v2/bookings/");
        url.path_segments_mut()
            .map_err(|_| ClientError::BadUrl("cannot be a base".to_owned()))?
            .pop_if_empty()
            .push(uid);
        match self
            .json::<Envelope<ApiBooking>>(Method::GET, url, None, "GET /v2/bookings/{uid}")
            .await
        {
            Ok(env) => Ok(Some(env.data)),
            Err(ClientError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The webhook subscriptions of the key's user (`GET /v2/webhooks`).
    pub async fn webhooks(&self) -> Result<Vec<serde_json::Value>, ClientError> {
        let url = self.url("v2/webhooks");
        let env: Envelope<Vec<serde_json::Value>> = self
            .json(Method::GET, url, None, "GET /v2/webhooks")
            .await?;
        Ok(env.data)
    }

    /// Creates (`id` `None`) or updates a webhook subscription.
    pub async fn put_webhook(
        &self,
        id: Option<&str>,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, ClientError> {
        let (method, url, what) = match id {
            None => (Method::POST, self.url("v2/webhooks"), "POST /v2/webhooks"),
            Some(id) => {
                let mut url = self.url("v2/webhooks/");
                url.path_segments_mut()
                    .map_err(|_| ClientError::BadUrl("cannot be a base".to_owned()))?
                    .pop_if_empty()
                    .push(id);
                (Method::PATCH, url, "PATCH /v2/webhooks/{id}")
            }
        };
        let env: Envelope<serde_json::Value> = self.json(method, url, Some(body), what).await?;
        Ok(env.data)
    }

    /// Cancels a booking: `POST /v2/bookings/{uid}/cancel` with `{"cancellationReason": …}`
    /// (Cal.com's `CancelBookingInput_2024_08_13`,
    /// `packages/platform/types/bookings/2024-08-13/inputs/cancel-booking.input.ts` at commit
    /// 1016df5bc34cb1da392f14dddfe72cd22dbc25b7). Cal.com then sends `BOOKING_CANCELLED`.
    pub async fn cancel_booking(&self, uid: &str, reason: &str) -> Result<(), ClientError> {
        let url = self.booking_action_url(uid, "cancel")?;
        let body = serde_json::json!({ "cancellationReason": reason });
        self.send(
            Method::POST,
            url,
            Some(&body),
            "POST /v2/bookings/{uid}/cancel",
        )
        .await
        .map(drop)
    }

    /// Asks the attendee to pick a new time: `POST /v2/bookings/{uid}/request-reschedule` with
    /// `{"rescheduleReason": …}` (answered 200; the booking becomes cancelled with `rescheduled`
    /// set, and Cal.com sends `BOOKING_CANCELLED` with `requestReschedule`). The endpoint and its
    /// body as Cal.com's own test uses them:
    /// `apps/api/v2/src/ee/bookings/2024-08-13/controllers/e2e/request-reschedule.e2e-spec.ts`
    /// at commit 6506429cf03af4c53c3bb4627a90500e7a917698.
    pub async fn request_reschedule(&self, uid: &str, reason: &str) -> Result<(), ClientError> {
        let url = self.booking_action_url(uid, "request-reschedule")?;
        let body = serde_json::json!({ "rescheduleReason": reason });
        self.send(
            Method::POST,
            url,
            Some(&body),
            "POST /v2/bookings/{uid}/request-reschedule",
        )
        .await
        .map(drop)
    }

    /// `v2/bookings/{uid}/{action}`, the uid as one path segment.
    fn booking_action_url(&self, uid: &str, action: &str) -> Result<Url, ClientError> {
        let mut url = self.url("v2/bookings/");
        url.path_segments_mut()
            .map_err(|_| ClientError::BadUrl("cannot be a base".to_owned()))?
            .pop_if_empty()
            .push(uid)
            .push(action);
        Ok(url)
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        what: &str,
    ) -> Result<T, ClientError> {
        let bytes = self.send(method, url, body, what).await?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol {
            what: what.to_owned(),
            detail: e.to_string(),
        })
    }

    /// Sends with the retry rules of the module docs; the body of a 2xx answer.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        what: &str,
    ) -> Result<bytes::Bytes, ClientError> {
        let mut backoff = self.retry.backoff;
        let mut last = String::new();
        for attempt in 1..=self.retry.attempts.max(1) {
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(&self.key)
                .header("cal-api-version", API_VERSION);
            if let Some(b) = body {
                req = req.json(b);
            }
            let wait = match req.send().await {
                Ok(res) => {
                    let status = res.status();
                    if status.is_success() {
                        return res.bytes().await.map_err(|e| {
                            ClientError::Unavailable(format!("{what}: reading the answer: {e}"))
                        });
                    }
                    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                        return Err(ClientError::Unauthorized(status.as_u16()));
                    }
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        let wait =
                            rate_limit_wait(res.headers(), Timestamp::now()).unwrap_or(backoff);
                        if wait > self.retry.max_wait {
                            return Err(ClientError::Unavailable(format!(
                                "{what}: rate limited for {}s, longer than calbook waits",
                                wait.as_secs()
                            )));
                        }
                        last = format!("{what}: rate limited (429)");
                        wait
                    } else if status.is_server_error() {
                        last = format!("{what}: HTTP {}", status.as_u16());
                        backoff
                    } else {
                        let detail: String = res
                            .text()
                            .await
                            .unwrap_or_default()
                            .chars()
                            .filter(|c| !c.is_control())
                            .take(200)
                            .collect();
                        return Err(ClientError::Refused {
                            status: status.as_u16(),
                            what: what.to_owned(),
                            detail,
                        });
                    }
                }
                Err(e) => {
                    last = format!(
                        "{what}: {}",
                        if e.is_timeout() {
                            "timed out".to_owned()
                        } else {
                            // reqwest's message names the URL (never the key); keep it short.
                            e.without_url().to_string()
                        }
                    );
                    backoff
                }
            };
            if attempt == self.retry.attempts.max(1) {
                break;
            }
            tracing::warn!(attempt, wait_ms = wait.as_millis() as u64, problem = %last, "Cal.com API request failed; retrying");
            tokio::time::sleep(wait).await;
            backoff = backoff.saturating_mul(2);
        }
        Err(ClientError::Unavailable(format!(
            "{last} (gave up after {} attempts)",
            self.retry.attempts.max(1)
        )))
    }
}

/// How long a 429 asks to wait: `Retry-After` in seconds, else `X-RateLimit-Reset` (seconds to
/// wait, or a Unix time in seconds when it is that large).
pub fn rate_limit_wait(headers: &HeaderMap, now: Timestamp) -> Option<Duration> {
    let num = |name: &str| {
        headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0)
    };
    if let Some(s) = num(RETRY_AFTER.as_str()) {
        return Some(Duration::from_secs_f64(s.min(86_400.0)));
    }
    let reset = num("x-ratelimit-reset")?;
    let secs = if reset > 1.0e9 {
        (reset - now.as_second() as f64).max(0.0)
    } else {
        reset
    };
    Some(Duration::from_secs_f64(secs.min(86_400.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_headers_are_read_as_seconds_or_unix_time() {
        let now: Timestamp = "2026-11-27T10:00:00Z".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(rate_limit_wait(&h, now), Some(Duration::from_secs(3)));
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset", "7".parse().unwrap());
        assert_eq!(rate_limit_wait(&h, now), Some(Duration::from_secs(7)));
        let mut h = HeaderMap::new();
        let at = now.as_second() + 20;
        h.insert("x-ratelimit-reset", at.to_string().parse().unwrap());
        assert_eq!(rate_limit_wait(&h, now), Some(Duration::from_secs(20)));
        assert_eq!(rate_limit_wait(&HeaderMap::new(), now), None);
    }

    #[test]
    fn the_key_is_not_in_debug_output() {
        let c = Client::new(
            "https://api.cal.com",
            "cal_secret_key",
            RetryPolicy::default(),
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("cal_secret_key"));
        assert_eq!(
            c.url("v2/bookings").as_str(),
            "https://api.cal.com/v2/bookings"
        );
    }
}
