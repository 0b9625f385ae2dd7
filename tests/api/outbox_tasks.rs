//! The outbox worker runs each claimed job in a task of its own and overlaps its claims: every
//! email still goes out once and has its own outcome, recorded once; a claim whose lease was
//! taken over records nothing; and a provider that blocks sending stops the next claim.

use std::time::Duration;

use calbook::outbox::plan::EmailPolicy;
use calbook::outbox::worker::Worker;
use calbook::outbox::{JobState, OutboxJob};
use jiff::{SignedDuration, Timestamp};
use tokio::sync::oneshot;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::email::{eventually, keys_sent};
use crate::helpers::*;
use crate::on_both_backends;
use crate::outbox::seed_jobs;

on_both_backends!(
    jobs_run_at_once_each_get_their_own_outcome_once,
    a_claim_taken_over_mid_send_records_no_outcome,
    overlapping_claims_of_two_worker_loops_send_every_email_once,
    a_blocked_provider_stops_the_next_claim,
);

/// calbook sending through the Resend stand-in `server`, planning no emails itself (the tests
/// seed the outbox), its own worker off.
async fn spawn(backend: Backend, server: &MockServer) -> TestApp {
    TestApp::spawn_with_resend_and(backend, server, |s| {
        s.email.policy = EmailPolicy {
            kinds: Default::default(),
            reminder_offsets: Vec::new(),
            notify_host: false,
        }
    })
    .await
}

/// A Resend stand-in that answers every `POST /emails` with `answer`.
async fn resend_answering(answer: impl Respond + 'static) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(answer)
        .mount(&server)
        .await;
    server
}

/// Resend's answer: `re_<idempotency key>`, so each outcome shows which request it came from.
fn provider_id_from_key(request: &Request) -> ResponseTemplate {
    let key = request
        .headers
        .get("idempotency-key")
        .and_then(|k| k.to_str().ok())
        .unwrap_or("none");
    ResponseTemplate::new(200)
        .set_body_json(serde_json::json!({ "id": format!("re_{key}") }))
        .set_delay(Duration::from_millis(20))
}

async fn jobs(app: &TestApp) -> Vec<OutboxJob> {
    app.store.outbox(None, 10_000).await.unwrap()
}

/// The worker's loop, stopped by sending on the returned channel.
fn run_loop(worker: Worker) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));
    (stop, handle)
}

async fn jobs_run_at_once_each_get_their_own_outcome_once(backend: Backend) {
    let server = resend_answering(provider_id_from_key).await;
    let app = spawn(backend, &server).await;
    let now = Timestamp::now();
    seed_jobs(&app, 100, now).await;

    assert_eq!(app.worker().run_once(now).await.unwrap().0, 100);

    let (keys, requests) = keys_sent(&server).await;
    assert_eq!((requests, keys.len()), (100, 100), "each email sent once");
    let jobs = jobs(&app).await;
    assert_eq!(jobs.len(), 100);
    for j in &jobs {
        assert_eq!(j.state, JobState::Sent, "{j:?}");
        assert_eq!(
            j.provider_id.as_deref(),
            Some(format!("re_{}", j.idempotency_key).as_str()),
            "each job keeps the answer to its own request"
        );
        assert_eq!(j.attempts, 1);
        assert!(j.lease_token.is_none());
    }
}

async fn a_claim_taken_over_mid_send_records_no_outcome(backend: Backend) {
    let server = resend_answering(
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({"id": "re_late"}))
            .set_delay(Duration::from_millis(500)),
    )
    .await;
    let app = spawn(backend, &server).await;
    let now = Timestamp::now();
    seed_jobs(&app, 40, now).await;

    let worker = app.worker();
    let sending = tokio::spawn(async move { worker.run_once(now).await.unwrap().0 });
    eventually("the worker is sending", || async {
        !server.received_requests().await.unwrap().is_empty()
    })
    .await;
    // Its lease (120 s) is treated as run out: another worker takes every job over.
    let later = now.checked_add(SignedDuration::from_secs(121)).unwrap();
    let thief = uuid::Uuid::now_v7();
    let taken = app
        .store
        .claim_outbox(thief, later, later, 100)
        .await
        .unwrap();
    assert_eq!(taken.len(), 40);
    assert_eq!(
        sending.await.unwrap(),
        40,
        "the first worker claimed all 40"
    );

    for j in jobs(&app).await {
        assert_eq!(j.state, JobState::Sending, "the new owner decides: {j:?}");
        assert_eq!(j.lease_token, Some(thief));
        assert_eq!(j.provider_id, None, "no outcome from the fenced claim");
    }
}

async fn overlapping_claims_of_two_worker_loops_send_every_email_once(backend: Backend) {
    let server = resend_answering(provider_id_from_key).await;
    let app = spawn(backend, &server).await;
    // Several claims each (a claim takes 100 with Resend).
    seed_jobs(&app, 450, Timestamp::now()).await;

    let (stop_a, a) = run_loop(app.worker());
    let (stop_b, b) = run_loop(app.worker());
    eventually("every email is sent", || async {
        app.store
            .outbox(Some(JobState::Sent), 1000)
            .await
            .unwrap()
            .len()
            == 450
    })
    .await;
    let _ = (stop_a.send(()), stop_b.send(()));
    a.await.unwrap();
    b.await.unwrap();

    let (keys, requests) = keys_sent(&server).await;
    assert_eq!((requests, keys.len()), (450, 450), "no email sent twice");
    for j in jobs(&app).await {
        assert_eq!(j.attempts, 1, "claimed once: {j:?}");
        assert_eq!(
            j.provider_id.as_deref(),
            Some(format!("re_{}", j.idempotency_key).as_str())
        );
    }
}

async fn a_blocked_provider_stops_the_next_claim(backend: Backend) {
    let server = resend_answering(ResponseTemplate::new(429).set_body_json(serde_json::json!({
        "name": "daily_quota_exceeded",
        "message": "You have reached your daily email sending quota."
    })))
    .await;
    let app = spawn(backend, &server).await;
    let now = Timestamp::now();
    seed_jobs(&app, 250, now).await;
    let concurrency = app
        .settings
        .email
        .build(&app.settings.data_dir)
        .unwrap()
        .worker
        .concurrency;

    let (stop, worker) = run_loop(app.worker());
    // The first claim (100 jobs, more than the sends in flight at once) is parked.
    eventually("the first claim is parked", || async {
        app.store
            .outbox(Some(JobState::Pending), 1000)
            .await
            .unwrap()
            .iter()
            .filter(|j| j.due_at > now)
            .count()
            == 100
    })
    .await;
    let _ = stop.send(());
    worker.await.unwrap();

    let jobs = jobs(&app).await;
    let (parked, untouched): (Vec<_>, Vec<_>) = jobs.iter().partition(|j| j.due_at > now);
    assert_eq!(parked.len(), 100);
    assert!(
        parked
            .iter()
            .all(|j| j.state == JobState::Pending && j.attempts == 0),
        "parked without spending an attempt"
    );
    assert_eq!(untouched.len(), 150);
    assert!(
        untouched
            .iter()
            .all(|j| j.state == JobState::Pending && j.attempts == 0 && j.lease_token.is_none()),
        "no further claim once the provider blocked sending"
    );
    let requests = server.received_requests().await.unwrap().len();
    assert!(
        requests <= concurrency,
        "only the sends already in flight reached the blocked provider: {requests}"
    );
}
