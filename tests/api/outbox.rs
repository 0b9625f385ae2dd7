//! The email outbox: which emails a booking change plans (in the same transaction), and the
//! claim / lease / fencing rules workers rely on, on both databases.

use std::collections::BTreeSet;

use calbook::outbox::plan::EmailPolicy;
use calbook::outbox::{EmailKind, Finish, JobState, OutboxJob, Role};
use futures::future::join_all;
use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    a_confirmed_booking_plans_its_confirmation_and_reminders_once,
    a_reschedule_plans_one_rescheduled_email_and_new_reminders,
    cancel_before_create_plans_no_confirmation_and_no_reminders,
    a_request_plans_no_reminders_and_a_rejection_plans_a_declined_email,
    concurrent_workers_claim_every_job_exactly_once,
    a_worker_whose_lease_expired_cannot_complete_the_job,
    outcomes_written_together_keep_each_jobs_provider_id_and_fencing,
    retries_dead_letters_and_operator_retry,
);

/// calbook with its default email policy (the worker is off in tests unless switched on).
async fn spawn_with_email(backend: Backend) -> TestApp {
    TestApp::spawn(backend).await
}

/// calbook planning no emails: the tests below seed the outbox themselves.
async fn spawn_without_emails(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |s| {
        s.email.policy = EmailPolicy {
            kinds: Default::default(),
            reminder_offsets: Vec::new(),
            notify_host: false,
        }
    })
    .await
}

async fn jobs(app: &TestApp) -> Vec<OutboxJob> {
    let mut v = app.store.outbox(None, 10_000).await.unwrap();
    v.sort_by(|a, b| a.idempotency_key.cmp(&b.idempotency_key));
    v
}

async fn a_confirmed_booking_plans_its_confirmation_and_reminders_once(backend: Backend) {
    let app = spawn_with_email(backend).await;
    let start = hours_from_now(30);
    let body = created_at(start, "OutboxUid000000000000A");

    let answers = join_all((0..10).map(|_| app.deliver(&body))).await;
    assert!(answers.iter().all(|(s, _)| *s == StatusCode::OK));

    let jobs = jobs(&app).await;
    let summary: Vec<(&str, &str, JobState, Timestamp)> = jobs
        .iter()
        .map(|j| {
            (
                j.kind.as_str(),
                j.recipient_email.as_str(),
                j.state,
                j.due_at,
            )
        })
        .collect();
    assert_eq!(
        summary.len(),
        3,
        "one confirmation, two reminders: {summary:?}"
    );
    assert_eq!(jobs[0].kind, EmailKind::Confirmation);
    assert_eq!(
        jobs[0].idempotency_key,
        "booking/OutboxUid000000000000A/confirmation/marco.rossi@example.com"
    );
    assert_eq!(
        jobs[0].recipient_time_zone.as_deref(),
        Some("America/New_York")
    );
    assert_eq!(jobs[0].recipient_role, Role::Attendee);
    let reminders: BTreeSet<Timestamp> = jobs
        .iter()
        .filter(|j| j.kind == EmailKind::Reminder)
        .map(|j| j.due_at)
        .collect();
    assert_eq!(
        reminders,
        BTreeSet::from([
            start.checked_sub(SignedDuration::from_hours(24)).unwrap(),
            start.checked_sub(SignedDuration::from_hours(1)).unwrap()
        ])
    );
    assert!(jobs.iter().all(|j| j.state == JobState::Pending));

    // Replayed days later: nothing new is planned.
    app.deliver(&body).await;
    assert_eq!(app.count("email_outbox").await, 3);
}

async fn a_reschedule_plans_one_rescheduled_email_and_new_reminders(backend: Backend) {
    let app = spawn_with_email(backend).await;
    app.deliver(&created_at(hours_from_now(30), "OutboxUid000000000000A"))
        .await;
    let new_start = hours_from_now(50);
    let moved = String::from_utf8(created_at(new_start, "OutboxUid000000000000B"))
        .unwrap()
        .replace("BOOKING_CREATED", "BOOKING_RESCHEDULED")
        .replace(
            "\"status\":\"ACCEPTED\"",
            "\"status\":\"ACCEPTED\",\"rescheduleUid\":\"OutboxUid000000000000A\"",
        );
    let (status, body) = app.deliver(moved.as_bytes()).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (StatusCode::OK, Some("applied"))
    );

    let for_b: Vec<_> = jobs(&app)
        .await
        .into_iter()
        .filter(|j| j.booking_uid == "OutboxUid000000000000B")
        .collect();
    let kinds: Vec<&str> = for_b.iter().map(|j| j.kind.as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "rescheduled").count(), 1);
    assert_eq!(kinds.iter().filter(|k| **k == "reminder").count(), 2);
    assert!(
        !kinds.contains(&"confirmation") && !kinds.contains(&"cancelled"),
        "{kinds:?}"
    );
    assert!(
        for_b
            .iter()
            .filter(|j| j.kind == EmailKind::Reminder)
            .all(|j| j.scheduled_start == Some(new_start))
    );
}

async fn cancel_before_create_plans_no_confirmation_and_no_reminders(backend: Backend) {
    let app = spawn_with_email(backend).await;
    let body = String::from_utf8(created_at(hours_from_now(30), "OutboxUid000000000000C"))
        .unwrap()
        .replace("BOOKING_CREATED", "BOOKING_CANCELLED");
    app.deliver(body.as_bytes()).await;
    app.deliver(&created_at(hours_from_now(30), "OutboxUid000000000000C"))
        .await;
    let kinds: Vec<String> = jobs(&app)
        .await
        .into_iter()
        .map(|j| j.kind.to_string())
        .collect();
    assert_eq!(kinds, ["cancelled"]);
}

async fn a_request_plans_no_reminders_and_a_rejection_plans_a_declined_email(backend: Backend) {
    let app = spawn_with_email(backend).await;
    let requested = String::from_utf8(created_at(hours_from_now(30), "OutboxUid000000000000D"))
        .unwrap()
        .replace("BOOKING_CREATED", "BOOKING_REQUESTED");
    app.deliver(requested.as_bytes()).await;
    let rejected = requested.replace("BOOKING_REQUESTED", "BOOKING_REJECTED");
    app.deliver(rejected.as_bytes()).await;
    let kinds: BTreeSet<String> = jobs(&app)
        .await
        .into_iter()
        .map(|j| j.kind.to_string())
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["declined".to_owned(), "requested".to_owned()])
    );
}

/// `n` due jobs for the sample booking, inserted as the ingest would.
pub(crate) async fn seed_jobs(app: &TestApp, n: usize, due: Timestamp) -> Vec<Uuid> {
    app.deliver_sample("created").await;
    let b = app.booking(CREATED_UID).await;
    let jobs: Vec<OutboxJob> = (0..n)
        .map(|i| OutboxJob {
            id: Uuid::now_v7(),
            idempotency_key: format!("test/{i}"),
            kind: EmailKind::Confirmation,
            booking_id: b.id,
            booking_uid: b.uid.clone(),
            recipient_email: format!("r{i}@example.com"),
            recipient_name: None,
            recipient_time_zone: None,
            recipient_role: Role::Attendee,
            reminder_lead_seconds: None,
            scheduled_start: None,
            due_at: due,
            state: JobState::Pending,
            attempts: 0,
            last_error: None,
            lease_token: None,
            leased_until: None,
            provider_id: None,
            sent_at: None,
            created_at: due,
            updated_at: due,
        })
        .collect();
    let mut tx = app.store.begin().await.unwrap();
    tx.insert_outbox(&jobs).await.unwrap();
    tx.commit().await.unwrap();
    jobs.iter().map(|j| j.id).collect()
}

async fn concurrent_workers_claim_every_job_exactly_once(backend: Backend) {
    let app = spawn_without_emails(backend).await;
    let now = Timestamp::now();
    let ids = seed_jobs(&app, 1000, now).await;
    let until = now.checked_add(SignedDuration::from_mins(5)).unwrap();

    let workers = (0..8).map(|_| {
        let store = app.store.clone();
        tokio::spawn(async move {
            let lease = Uuid::now_v7();
            let mut mine = Vec::new();
            loop {
                let claimed = store.claim_outbox(lease, now, until, 25).await.unwrap();
                if claimed.is_empty() {
                    break mine;
                }
                mine.extend(claimed.into_iter().map(|j| j.id));
            }
        })
    });
    let claimed: Vec<Uuid> = join_all(workers)
        .await
        .into_iter()
        .flat_map(|r| r.unwrap())
        .collect();

    assert_eq!(claimed.len(), 1000, "every job claimed once, none twice");
    let unique: BTreeSet<Uuid> = claimed.into_iter().collect();
    assert_eq!(unique, ids.into_iter().collect::<BTreeSet<_>>());
    assert!(
        app.store
            .claim_outbox(Uuid::now_v7(), now, until, 25)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_worker_whose_lease_expired_cannot_complete_the_job(backend: Backend) {
    let app = spawn_without_emails(backend).await;
    let t0 = Timestamp::now();
    let secs = |s: i64| t0.checked_add(SignedDuration::from_secs(s)).unwrap();
    seed_jobs(&app, 1, t0).await;

    let slow = Uuid::now_v7();
    let first = app
        .store
        .claim_outbox(slow, t0, secs(30), 10)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        app.store
            .claim_outbox(Uuid::now_v7(), secs(10), secs(40), 10)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );
    // The slow worker's lease expires; another worker takes the job over, with the same key.
    let fast = Uuid::now_v7();
    let second = app
        .store
        .claim_outbox(fast, secs(31), secs(61), 10)
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].idempotency_key, first[0].idempotency_key);
    assert_eq!(second[0].attempts, 2);

    let sent = Finish::Sent {
        provider_id: Some("re_1".into()),
    };
    assert!(
        !app.store
            .finish_outbox(first[0].id, slow, &sent, secs(32))
            .await
            .unwrap(),
        "fenced off"
    );
    assert!(
        app.store
            .finish_outbox(second[0].id, fast, &sent, secs(33))
            .await
            .unwrap()
    );
    let job = &app.store.outbox(Some(JobState::Sent), 10).await.unwrap()[0];
    assert_eq!(job.provider_id.as_deref(), Some("re_1"));
    assert!(job.lease_token.is_none());
}

/// A claim's outcomes are written together (the sent ones in one statement): each job gets its
/// own provider id, a job another lease holds is left alone, and the answers follow the order
/// of the outcomes given.
async fn outcomes_written_together_keep_each_jobs_provider_id_and_fencing(backend: Backend) {
    let app = spawn_without_emails(backend).await;
    let t0 = Timestamp::now();
    let until = t0.checked_add(SignedDuration::from_secs(60)).unwrap();
    seed_jobs(&app, 4, t0).await;
    let other = app
        .store
        .claim_outbox(Uuid::now_v7(), t0, until, 1)
        .await
        .unwrap();
    let lease = Uuid::now_v7();
    let mine = app.store.claim_outbox(lease, t0, until, 10).await.unwrap();
    assert_eq!((other.len(), mine.len()), (1, 3));
    let sent = |p: &str| Finish::Sent {
        provider_id: Some(p.to_owned()),
    };
    let retry = Finish::Retry {
        due_at: until,
        error: "503 from the provider".into(),
        count_attempt: true,
    };
    let held = app
        .store
        .finish_outbox_many(
            lease,
            &[
                (mine[0].id, sent("re_0")),
                (other[0].id, sent("re_stolen")),
                (mine[1].id, retry),
                (mine[2].id, sent("re_2")),
            ],
            t0,
        )
        .await
        .unwrap();
    assert_eq!(held, [true, false, true, true]);
    let store = &app.store;
    let by_id = |id: Uuid| async move {
        store
            .outbox(None, 100)
            .await
            .unwrap()
            .into_iter()
            .find(|j| j.id == id)
            .unwrap()
    };
    let j0 = by_id(mine[0].id).await;
    assert_eq!(
        (j0.state, j0.provider_id.as_deref()),
        (JobState::Sent, Some("re_0"))
    );
    assert!(j0.lease_token.is_none() && j0.sent_at.is_some());
    let j2 = by_id(mine[2].id).await;
    assert_eq!(
        (j2.state, j2.provider_id.as_deref()),
        (JobState::Sent, Some("re_2"))
    );
    assert_eq!(by_id(mine[1].id).await.state, JobState::Pending);
    let stolen = by_id(other[0].id).await;
    assert_eq!(stolen.state, JobState::Sending, "another lease holds it");
    assert!(stolen.provider_id.is_none());
}

async fn retries_dead_letters_and_operator_retry(backend: Backend) {
    let app = spawn_without_emails(backend).await;
    let t0 = Timestamp::now();
    let later = t0.checked_add(SignedDuration::from_secs(60)).unwrap();
    let far = t0.checked_add(SignedDuration::from_hours(1)).unwrap();
    seed_jobs(&app, 2, t0).await;
    let lease = Uuid::now_v7();
    let claimed = app.store.claim_outbox(lease, t0, later, 10).await.unwrap();
    assert_eq!(claimed.len(), 2);

    let retry = Finish::Retry {
        due_at: later,
        error: "503 from provider".into(),
        count_attempt: true,
    };
    assert!(
        app.store
            .finish_outbox(claimed[0].id, lease, &retry, t0)
            .await
            .unwrap()
    );
    let dead = Finish::Dead {
        error: "422 invalid recipient".into(),
    };
    assert!(
        app.store
            .finish_outbox(claimed[1].id, lease, &dead, t0)
            .await
            .unwrap()
    );

    assert!(
        app.store
            .claim_outbox(Uuid::now_v7(), t0, far, 10)
            .await
            .unwrap()
            .is_empty(),
        "not due yet"
    );
    let pending = app.store.outbox(Some(JobState::Pending), 10).await.unwrap();
    assert_eq!(
        (pending.len(), pending[0].last_error.as_deref()),
        (1, Some("503 from provider"))
    );
    let dead_jobs = app.store.outbox(Some(JobState::Dead), 10).await.unwrap();
    assert_eq!(
        dead_jobs[0].last_error.as_deref(),
        Some("422 invalid recipient")
    );

    assert_eq!(app.store.retry_dead_outbox(None, t0).await.unwrap(), 1);
    let again = app
        .store
        .claim_outbox(Uuid::now_v7(), t0, far, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1, "the dead job is due again");
    assert_eq!(again[0].attempts, 1, "with a fresh attempt count");
}
