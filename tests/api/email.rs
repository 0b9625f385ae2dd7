//! Emails end to end: the real server plans them in the webhook's transaction, the outbox worker
//! renders and sends them through a real transport (wiremock standing in for Resend, or the file
//! mailer), and the outbox records what happened.

use std::time::{Duration, Instant};

use calbook::outbox::worker::Worker;
use calbook::outbox::{EmailKind, JobState};
use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use serde_json::Value;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    a_new_booking_gets_one_confirmation_through_resend_with_its_idempotency_key,
    a_booking_cancelled_before_its_emails_went_out_gets_only_the_cancellation,
    resend_rate_limits_are_retried_after_retry_after_and_validation_errors_dead_letter,
    a_confirmation_goes_out_through_an_smtp_relay,
);

/// The created sample for booking `uid`, starting `hours` from now.
fn future_created(uid: &str, hours: i64) -> Vec<u8> {
    created_at(hours_from_now(hours), uid)
}

/// The idempotency keys of the requests `server` received, and how many requests there were.
pub(crate) async fn keys_sent(server: &MockServer) -> (std::collections::BTreeSet<String>, usize) {
    let requests = server.received_requests().await.unwrap();
    let keys = requests
        .iter()
        .map(|r| {
            r.headers
                .get("idempotency-key")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    (keys, requests.len())
}

/// Waits (at most 10 s) until `check` holds.
pub(crate) async fn eventually<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn a_new_booking_gets_one_confirmation_through_resend_with_its_idempotency_key(
    backend: Backend,
) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .and(header("authorization", "Bearer re_test_key"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": "re_0001"})),
        )
        .mount(&server)
        .await;
    let app = TestApp::spawn_with_resend(backend, &server, true).await;
    let body = future_created("EmailUid00000000000001", 30);

    app.deliver(&body).await;
    eventually("the confirmation is sent", || async {
        app.store
            .outbox(Some(JobState::Sent), 10)
            .await
            .unwrap()
            .len()
            == 1
    })
    .await;

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(
        r.headers.get("idempotency-key").unwrap(),
        "booking/EmailUid00000000000001/confirmation/marco.rossi@example.com"
    );
    let json: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(json["from"], "Acme Bookings <bookings@acme.example>");
    assert_eq!(
        json["to"][0].as_str().unwrap(),
        "Marco Rossi <marco.rossi@example.com>"
    );
    assert!(
        json["subject"].as_str().unwrap().contains("Intro Call"),
        "{json}"
    );
    assert!(
        json["text"].as_str().unwrap().contains("America/New_York"),
        "attendee's own zone"
    );
    assert_eq!(json["attachments"][0]["filename"], "invite.ics");
    let sent = &app.store.outbox(Some(JobState::Sent), 10).await.unwrap()[0];
    assert_eq!(sent.provider_id.as_deref(), Some("re_0001"));

    // The same delivery again (a Cal.com retry, or days later): no second email.
    app.deliver(&body).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    assert_eq!(
        app.store
            .outbox(Some(JobState::Pending), 10)
            .await
            .unwrap()
            .len(),
        2,
        "the two reminders wait for their time"
    );
}

async fn a_booking_cancelled_before_its_emails_went_out_gets_only_the_cancellation(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await; // file mailer, worker driven by hand
    let created = future_created("EmailUid00000000000002", 30);
    app.deliver(&created).await;
    let cancelled = String::from_utf8(created.clone())
        .unwrap()
        .replace("BOOKING_CREATED", "BOOKING_CANCELLED");
    app.deliver(cancelled.as_bytes()).await;

    // Run the worker as if the reminders were due too.
    let worker = app.worker();
    let later = Timestamp::now()
        .checked_add(SignedDuration::from_hours(29))
        .unwrap();
    worker.run_once(later).await.unwrap();

    let all = app.store.outbox(None, 10).await.unwrap();
    let state = |kind: &str| -> Vec<(JobState, Option<String>)> {
        all.iter()
            .filter(|j| j.kind.as_str() == kind)
            .map(|j| (j.state, j.last_error.clone()))
            .collect()
    };
    assert_eq!(
        state("confirmation"),
        [(JobState::Skipped, Some("booking is cancelled".into()))]
    );
    assert_eq!(state("reminder").len(), 2);
    assert!(
        state("reminder")
            .iter()
            .all(|(s, _)| *s == JobState::Skipped)
    );
    assert_eq!(state("cancelled"), [(JobState::Sent, None)]);
    let files: Vec<_> = std::fs::read_dir(app.settings.data_dir.join("mail"))
        .unwrap()
        .collect();
    assert_eq!(files.len(), 1, "one .eml: the cancellation");
    let eml = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
    assert!(
        eml.contains("METHOD:CANCEL"),
        "the cancellation carries METHOD:CANCEL"
    );
}

async fn resend_rate_limits_are_retried_after_retry_after_and_validation_errors_dead_letter(
    backend: Backend,
) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "2")
                .set_body_json(serde_json::json!({"name": "rate_limit_exceeded", "message": "Too many requests"})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(ResponseTemplate::new(422).set_body_json(
            serde_json::json!({"name": "validation_error", "message": "Invalid `to` field"}),
        ))
        .mount(&server)
        .await;
    let app = TestApp::spawn_with_resend(backend, &server, false).await;
    app.deliver(&future_created("EmailUid00000000000003", 30))
        .await;
    let worker = app.worker();

    let t0 = Timestamp::now();
    worker.run_once(t0).await.unwrap();
    let pending = app.store.outbox(Some(JobState::Pending), 10).await.unwrap();
    let retried = pending
        .iter()
        .find(|j| j.kind == EmailKind::Confirmation)
        .unwrap();
    assert!(
        retried
            .last_error
            .as_deref()
            .unwrap()
            .contains("Too many requests")
            || retried.last_error.as_deref().unwrap().contains("rate")
    );
    assert!(
        retried.due_at >= t0.checked_add(SignedDuration::from_secs(2)).unwrap(),
        "not before Retry-After: due {} vs {}",
        retried.due_at,
        t0
    );
    // Nothing is sent before it is due.
    worker.run_once(Timestamp::now()).await.unwrap();
    assert_eq!(server.received_requests().await.unwrap().len(), 1);

    worker.run_once(retried.due_at).await.unwrap();
    let dead = app.store.outbox(Some(JobState::Dead), 10).await.unwrap();
    assert_eq!(
        dead.len(),
        1,
        "a validation error is dead-lettered after one attempt"
    );
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("Invalid `to` field")
    );
    let booking = app.booking("EmailUid00000000000003").await;
    assert_eq!(
        booking.status,
        calbook::booking::Status::Confirmed,
        "booking data unaffected"
    );
}

on_both_backends!(
    a_blocked_account_parks_the_queue_without_spending_attempts,
    a_job_whose_worker_died_is_sent_after_its_lease_with_the_same_key,
    two_workers_send_every_email_exactly_once,
);

async fn a_blocked_account_parks_the_queue_without_spending_attempts(backend: Backend) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(ResponseTemplate::new(429).set_body_json(
            serde_json::json!({"name": "daily_quota_exceeded", "message": "You have reached your daily email sending quota."}),
        ))
        .mount(&server)
        .await;
    let app = TestApp::spawn_with_resend(backend, &server, false).await;
    for i in 0..3 {
        app.deliver(&future_created(&format!("EmailUidQuota00000000{i}"), 30))
            .await;
    }
    let worker = app.worker();

    let t0 = Timestamp::now();
    let (claimed, parked) = worker.run_once(t0).await.unwrap();

    assert_eq!(claimed, 3, "the three confirmations were due");
    let pause = parked.expect("the queue is parked");
    assert!(
        pause >= Duration::from_secs(60),
        "a long pause, not a tight retry: {pause:?}"
    );
    assert!(server.received_requests().await.unwrap().len() <= 3);
    let pending: Vec<_> = app
        .store
        .outbox(Some(JobState::Pending), 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == EmailKind::Confirmation)
        .collect();
    assert_eq!(
        pending.len(),
        3,
        "every confirmation goes back to the queue"
    );
    assert!(
        pending.iter().all(|j| j.attempts == 0),
        "no attempt spent while parked"
    );
    assert!(
        pending
            .iter()
            .all(|j| j.due_at >= t0.checked_add(SignedDuration::from_secs(60)).unwrap())
    );
}

async fn a_job_whose_worker_died_is_sent_after_its_lease_with_the_same_key(backend: Backend) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": "re_2"})))
        .mount(&server)
        .await;
    let app = TestApp::spawn_with_resend(backend, &server, false).await;
    app.deliver(&future_created("EmailUidLease000000001", 30))
        .await;

    // A worker claims the confirmation and dies before recording anything.
    let t0 = Timestamp::now();
    let dead_lease = uuid::Uuid::now_v7();
    let held = app
        .store
        .claim_outbox(
            dead_lease,
            t0,
            t0.checked_add(SignedDuration::from_secs(30)).unwrap(),
            10,
        )
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    let worker = app.worker();
    assert_eq!(worker.run_once(t0).await.unwrap().0, 0, "still leased");

    // After the lease, another worker sends it, under the same idempotency key.
    let after = t0.checked_add(SignedDuration::from_secs(31)).unwrap();
    assert_eq!(worker.run_once(after).await.unwrap().0, 1);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].headers.get("idempotency-key").unwrap(),
        held[0].idempotency_key.as_str()
    );
    let sent = app.store.outbox(Some(JobState::Sent), 10).await.unwrap();
    assert_eq!((sent.len(), sent[0].attempts), (1, 2));
    // The dead worker's late outcome is refused.
    let late = calbook::outbox::Finish::Sent {
        provider_id: Some("re_1".into()),
    };
    assert!(
        !app.store
            .finish_outbox(held[0].id, dead_lease, &late, after)
            .await
            .unwrap()
    );
}

async fn two_workers_send_every_email_exactly_once(backend: Backend) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": "re_x"})))
        .mount(&server)
        .await;
    let app = TestApp::spawn_with_resend(backend, &server, false).await;
    let bodies: Vec<Vec<u8>> = (0..100)
        .map(|i| future_created(&format!("EmailUidTwoWorkers{i:04}"), 30))
        .collect();
    futures::future::join_all(bodies.iter().map(|b| app.deliver(b))).await;

    let (a, b) = (app.worker(), app.worker());
    let now = Timestamp::now();
    let drain = |w: Worker| async move {
        let mut n = 0;
        loop {
            let (claimed, _) = w.run_once(now).await.unwrap();
            if claimed == 0 {
                break n;
            }
            n += claimed;
        }
    };
    let (na, nb) = tokio::join!(drain(a), drain(b));

    assert_eq!(
        na + nb,
        100,
        "every due confirmation claimed once across the two workers"
    );
    let (keys, requests) = keys_sent(&server).await;
    assert_eq!(requests, 100, "no email sent twice");
    assert_eq!(keys.len(), 100);
    assert_eq!(
        app.store
            .outbox(Some(JobState::Sent), 1000)
            .await
            .unwrap()
            .len(),
        100
    );
}

on_both_backends!(
    failing_sends_back_off_then_dead_letter_and_an_operator_retry_sends_once,
    the_configured_send_rate_is_never_exceeded,
);

async fn failing_sends_back_off_then_dead_letter_and_an_operator_retry_sends_once(
    backend: Backend,
) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(
            ResponseTemplate::new(500).set_body_json(
                serde_json::json!({"name": "internal_server_error", "message": "boom"}),
            ),
        )
        .up_to_n_times(3)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": "re_after"})),
        )
        .mount(&server)
        .await;
    let app = TestApp::spawn_with_resend_and(backend, &server, |s| {
        s.email.max_attempts = Some(3);
        s.email.policy.kinds = [EmailKind::Confirmation].into();
    })
    .await;
    app.deliver(&future_created("EmailUidRetries0000001", 30))
        .await;
    let worker = app.worker();

    let mut now = Timestamp::now();
    let mut waits = Vec::new();
    for _ in 0..3 {
        assert_eq!(worker.run_once(now).await.unwrap().0, 1);
        let pending = app.store.outbox(Some(JobState::Pending), 1).await.unwrap();
        if let Some(job) = pending.first() {
            waits.push(job.due_at.duration_since(Timestamp::now()).as_secs_f64());
            now = job.due_at;
        }
    }
    // Base 30 s, doubling, jittered into [d/2, d]: about 15–30 s, then 30–60 s.
    assert_eq!(waits.len(), 2, "two retries, then dead: {waits:?}");
    assert!((14.0..=30.0).contains(&waits[0]), "{waits:?}");
    assert!((29.0..=60.0).contains(&waits[1]), "{waits:?}");
    let dead = app.store.outbox(Some(JobState::Dead), 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].last_error.as_deref().unwrap().contains("500")
            || dead[0].last_error.as_deref().unwrap().contains("boom")
    );

    assert_eq!(
        app.store
            .retry_dead_outbox(Some(dead[0].id), now)
            .await
            .unwrap(),
        1
    );
    worker.run_once(now).await.unwrap();
    worker.run_once(now).await.unwrap();
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        4,
        "three failures, one success"
    );
    let sent = app.store.outbox(Some(JobState::Sent), 10).await.unwrap();
    assert_eq!(
        (sent.len(), sent[0].provider_id.as_deref()),
        (1, Some("re_after"))
    );
}

async fn the_configured_send_rate_is_never_exceeded(backend: Backend) {
    let arrivals = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Instant>::new()));
    let server = MockServer::start().await;
    let log = arrivals.clone();
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(move |_: &wiremock::Request| {
            log.lock().unwrap().push(Instant::now());
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": "re_rate"}))
        })
        .mount(&server)
        .await;
    let app = TestApp::spawn_with_resend_and(backend, &server, |s| {
        s.email.rate_per_second = Some(20.0);
        s.email.policy.kinds = [EmailKind::Confirmation].into();
    })
    .await;
    for i in 0..10 {
        app.deliver(&future_created(&format!("EmailUidRate00000000{i:02}"), 30))
            .await;
    }
    let worker = app.worker();
    let started = Instant::now();
    assert_eq!(worker.run_once(Timestamp::now()).await.unwrap().0, 10);

    let arrivals = arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 10);
    // 20 per second: the 10th send may not start before 9 intervals of 50 ms have passed.
    let last = *arrivals.iter().max().unwrap();
    assert!(
        last.duration_since(started) >= Duration::from_millis(450),
        "10 emails at 20/s took only {:?}",
        last.duration_since(started)
    );
}

/// The same confirmation through SMTP: one message, to the attendee alone, with the invite.
async fn a_confirmation_goes_out_through_an_smtp_relay(backend: Backend) {
    let (app, sink) = TestApp::spawn_with_smtp(backend).await;
    let (status, _) = app
        .deliver(&future_created("EmailUid00000000000009", 30))
        .await;
    assert_eq!(status, StatusCode::OK);
    app.drain_outbox().await;

    assert_eq!(sink.recipients(), ["marco.rossi@example.com"]);
    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "one confirmation");
    let message = &messages[0];
    assert!(
        message.contains("From: \"Acme Bookings\" <bookings@acme.example>"),
        "{message}"
    );
    assert!(message.contains("Intro Call"), "{message}");
    assert!(message.contains("invite.ics"), "{message}");
    let sent = app.store.outbox(Some(JobState::Sent), 10).await.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, EmailKind::Confirmation);
}
