//! A burst of reminders through Resend's batch endpoint, against a stand-in that enforces
//! Resend's default rate limit (5 requests a second per team) with 429s: every reminder is
//! accepted exactly once, each batch carries a deterministic `Idempotency-Key`, and the 429s'
//! `Retry-After` is honoured. (How fast belongs in bench/email.sh; this checks what happens.)

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use calbook::outbox::{EmailKind, JobState};
use jiff::SignedDuration;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    a_thousand_reminders_due_together_go_out_in_batches_each_once_within_the_rate_limit
);

/// What the stand-in saw.
#[derive(Default)]
pub struct Seen {
    /// Arrival times of the requests it accepted (for the rate limit).
    accepted_at: Vec<Instant>,
    /// Requests refused with 429.
    pub refused: usize,
    /// Requests that arrived within the `Retry-After` of an earlier 429.
    pub too_early: usize,
    /// When the last 429 said to come back.
    not_before: Option<Instant>,
    /// Emails accepted, by recipient and subject (a reminder per booking is one of each).
    pub emails: BTreeMap<(String, String), usize>,
    /// Batch requests accepted, by idempotency key, with their size.
    pub batches: HashMap<String, usize>,
    /// Requests whose idempotency key had been accepted before (answered, not sent again).
    pub replays: usize,
    /// Single-email requests accepted.
    pub singles: usize,
    /// Requests still to refuse with 429 whatever the rate (the team's other traffic used the
    /// second's quota), so that every run meets a 429.
    pub refuse_first: usize,
}

/// An HTTP stand-in for Resend: `POST /emails` and `POST /emails/batch` (at most 100 emails, no
/// attachments), at most `rate` requests in any second (else 429 `rate_limit_exceeded` with
/// `retry-after: 1`), and Resend's idempotency: a key seen before returns the first answer and
/// sends nothing.
pub struct ResendStandIn {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Seen>>,
}

impl ResendStandIn {
    pub async fn start(rate: usize) -> ResendStandIn {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let app = Router::new()
            .route("/emails", post(single))
            .route("/emails/batch", post(batch))
            .with_state((seen.clone(), rate));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        ResendStandIn { addr, seen }
    }

    pub fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }
}

type StandInState = (Arc<Mutex<Seen>>, usize);

/// The rate limit and idempotency shared by both endpoints; `Ok(None)` to go on, `Ok(Some(r))`
/// to answer `r` (a replay), `Err(r)` to refuse.
#[allow(
    clippy::result_large_err,
    reason = "a test stand-in: the Err is the HTTP answer itself"
)]
fn admit(seen: &mut Seen, rate: usize, headers: &HeaderMap) -> Result<Option<Response>, Response> {
    let now = Instant::now();
    if seen.not_before.is_some_and(|t| now < t) {
        seen.too_early += 1;
    }
    seen.accepted_at
        .retain(|t| now.duration_since(*t) < Duration::from_secs(1));
    if seen.accepted_at.len() >= rate || seen.refuse_first > 0 {
        seen.refuse_first = seen.refuse_first.saturating_sub(1);
        seen.refused += 1;
        seen.not_before = Some(now + Duration::from_secs(1));
        let body = json!({"statusCode": 429, "name": "rate_limit_exceeded", "message": "Too many requests"});
        return Err((
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1"), ("content-type", "application/json")],
            body.to_string(),
        )
            .into_response());
    }
    seen.accepted_at.push(now);
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if key.is_empty() {
        return Err((StatusCode::BAD_REQUEST, "no idempotency key").into_response());
    }
    if seen.batches.contains_key(&key) {
        seen.replays += 1;
        return Ok(Some(
            (StatusCode::OK, json!({"data": []}).to_string()).into_response(),
        ));
    }
    Ok(None)
}

#[allow(
    clippy::result_large_err,
    reason = "a test stand-in: the Err is the HTTP answer itself"
)]
fn count_email(seen: &mut Seen, e: &Value) -> Result<(), Response> {
    let to = e["to"][0].as_str().unwrap_or_default().to_owned();
    let subject = e["subject"].as_str().unwrap_or_default().to_owned();
    if to.is_empty() || subject.is_empty() || e["from"].as_str().is_none() {
        return Err((StatusCode::UNPROCESSABLE_ENTITY, "missing to/from/subject").into_response());
    }
    *seen.emails.entry((to, subject)).or_default() += 1;
    Ok(())
}

async fn batch(
    State((seen, rate)): State<StandInState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut seen = seen.lock().unwrap();
    match admit(&mut seen, rate, &headers) {
        Err(r) => return r,
        Ok(Some(replay)) => return replay,
        Ok(None) => {}
    }
    let Ok(Value::Array(emails)) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "a JSON array").into_response();
    };
    if emails.is_empty() || emails.len() > 100 {
        return (StatusCode::UNPROCESSABLE_ENTITY, "1 to 100 emails").into_response();
    }
    if emails.iter().any(|e| e.get("attachments").is_some()) {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            "no attachments in a batch",
        )
            .into_response();
    }
    for e in &emails {
        if let Err(r) = count_email(&mut seen, e) {
            return r;
        }
    }
    let key = headers["idempotency-key"].to_str().unwrap().to_owned();
    seen.batches.insert(key, emails.len());
    let data: Vec<Value> = (0..emails.len())
        .map(|i| json!({"id": format!("re_batch_{i}")}))
        .collect();
    (StatusCode::OK, json!({ "data": data }).to_string()).into_response()
}

async fn single(
    State((seen, rate)): State<StandInState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut seen = seen.lock().unwrap();
    match admit(&mut seen, rate, &headers) {
        Err(r) => return r,
        Ok(Some(replay)) => return replay,
        Ok(None) => {}
    }
    let Ok(e) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "JSON").into_response();
    };
    if let Err(r) = count_email(&mut seen, &e) {
        return r;
    }
    let key = headers["idempotency-key"].to_str().unwrap().to_owned();
    seen.batches.insert(key, 1);
    seen.singles += 1;
    (StatusCode::OK, json!({"id": "re_single"}).to_string()).into_response()
}

async fn a_thousand_reminders_due_together_go_out_in_batches_each_once_within_the_rate_limit(
    backend: Backend,
) {
    const N: usize = 1000;
    let standin = ResendStandIn::start(5).await;
    // The first request meets a 429 whatever the pace, so every run checks that it is honoured.
    standin.seen.lock().unwrap().refuse_first = 1;
    let uri = standin.uri();
    let app = TestApp::spawn_with(backend, move |s| {
        s.email.resend_api_key = Some("re_test_key".into());
        s.email.resend_base_url = Some(uri);
        s.email.from = Some("Acme Bookings <bookings@acme.example>".into());
        s.email.policy.kinds = [EmailKind::Reminder].into();
        s.email.policy.reminder_offsets = vec![SignedDuration::from_hours(1)];
    })
    .await;
    // 1,000 bookings, all starting at the same minute 2 h from now: 1,000 reminders due together.
    let start = hours_from_now(2);
    let bodies: Vec<Vec<u8>> = (0..N)
        .map(|i| {
            String::from_utf8(created_at(start, &format!("BurstUid{i:014}")))
                .unwrap()
                .replace("Marco Rossi", &format!("Guest {i}"))
                .replace(
                    "marco.rossi@example.com",
                    &format!("guest{i}@client.example"),
                )
                .into_bytes()
        })
        .collect();
    for chunk in bodies.chunks(100) {
        let answers = futures::future::join_all(chunk.iter().map(|b| app.deliver(b))).await;
        assert!(answers.iter().all(|(s, _)| s.is_success()), "{answers:?}");
    }
    let due = start.checked_sub(SignedDuration::from_hours(1)).unwrap();
    let planned = app
        .store
        .outbox(Some(JobState::Pending), 10_000)
        .await
        .unwrap();
    assert_eq!(planned.len(), N, "one reminder per booking");
    assert!(
        planned
            .iter()
            .all(|j| j.kind == EmailKind::Reminder && j.due_at == due)
    );

    // The worker, run by hand at the due time until the queue is empty.
    let worker = app.worker();
    let now = due.checked_add(SignedDuration::from_secs(1)).unwrap();
    let mut rounds = 0;
    while worker.run_once(now).await.unwrap().0 > 0 {
        rounds += 1;
        assert!(rounds < 100, "the queue does not drain");
    }

    {
        let seen = standin.seen.lock().unwrap();
        assert_eq!(seen.emails.len(), N, "every reminder accepted");
        assert!(
            seen.emails.values().all(|&n| n == 1),
            "none accepted twice: {:?}",
            seen.emails
                .iter()
                .filter(|(_, n)| **n > 1)
                .take(3)
                .collect::<Vec<_>>()
        );
        assert_eq!(
            seen.singles, 0,
            "reminders carry no attachment: all went in batches"
        );
        assert!(
            seen.batches.len() <= N.div_ceil(100) + 2,
            "batches of up to 100: {} batch requests",
            seen.batches.len()
        );
        assert!(seen.batches.values().all(|&n| n <= 100));
        assert!(
            seen.batches.keys().all(|k| k.starts_with("batch/")),
            "deterministic batch keys"
        );
        assert!(seen.refused >= 1, "the burst met a 429");
        assert_eq!(seen.too_early, 0, "Retry-After was honoured");
        assert_eq!(seen.replays, 0);
    }
    let sent = app
        .store
        .outbox(Some(JobState::Sent), 10_000)
        .await
        .unwrap();
    assert_eq!(sent.len(), N, "every reminder recorded as sent");
}

#[tokio::test]
async fn the_batch_key_is_the_same_for_the_same_emails_and_differs_otherwise() {
    use calbook::mail::transport::batch_key;
    let mailbox = |a: &str| calbook::mail::Mailbox {
        name: None,
        address: a.into(),
    };
    let email = |k: &str| calbook::mail::Email {
        from: mailbox("a@example.com"),
        reply_to: None,
        to: vec![mailbox("b@example.com")],
        subject: "s".into(),
        text: "t".into(),
        html: "h".into(),
        calendar: None,
        idempotency_key: k.into(),
    };
    let a = [email("k1"), email("k2")];
    assert_eq!(batch_key(&a), batch_key(&[email("k1"), email("k2")]));
    assert_ne!(batch_key(&a), batch_key(&[email("k1")]));
    assert_ne!(batch_key(&a), batch_key(&[email("k1k2")]));
    assert!(batch_key(&a).len() <= 256);
}
