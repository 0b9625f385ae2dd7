//! Signed deliveries land exactly once, with their audit trail.

use calbook::booking::Status;
use futures::future::join_all as futures_join_all;
use reqwest::StatusCode;

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    created_sample_stores_a_confirmed_booking_with_one_history_entry,
    every_sample_is_accepted_with_its_published_signature,
    byte_identical_redelivery_is_a_duplicate_and_changes_nothing,
    ten_concurrent_copies_give_one_booking_and_one_history_entry,
    reschedule_creates_the_new_uid_and_marks_the_old_one,
    request_reschedule_is_not_a_final_cancellation,
    requested_then_created_confirms_and_rejected_stays_rejected,
    meeting_events_in_both_forms_add_one_history_entry,
    ping_is_acknowledged_without_a_booking,
    unknown_trigger_and_unknown_version_are_stored_as_ignored,
    a_client_id_counts_only_with_a_valid_ownership_proof,
    health_and_readiness_answer,
    many_concurrent_distinct_bookings_all_land,
);

/// PostgreSQL serves several calbook instances at once: the same deliveries racing through two
/// processes are applied once, and a reschedule racing its original creation ends as in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_database_apply_each_delivery_once() {
    let first = TestApp::spawn(Backend::Postgres).await;
    let second = first.spawn_sibling().await;
    let created = sample("created");
    let rescheduled = sample("rescheduled");

    let mut calls = Vec::new();
    for i in 0..10 {
        let app = if i % 2 == 0 { &first } else { &second };
        calls.push(app.deliver(&created));
        calls.push(app.deliver(&rescheduled));
    }
    let answers = futures_join_all(calls).await;

    assert!(
        answers.iter().all(|(s, _)| *s == StatusCode::OK),
        "{answers:?}"
    );
    let firsts: Vec<&str> = answers
        .iter()
        .filter(|(_, b)| b["outcome"] != "duplicate")
        .map(|(_, b)| b["outcome"].as_str().unwrap())
        .collect();
    // Each body is applied once; the CREATED is `ignored` when the reschedule won the race.
    assert_eq!(firsts.len(), 2, "one first copy per body: {answers:?}");
    assert!(firsts.contains(&"applied"), "{answers:?}");
    let a = first.booking(CREATED_UID).await;
    let b = second.booking(RESCHEDULED_UID).await;
    assert_eq!(a.status, Status::Rescheduled);
    assert_eq!(a.rescheduled_to.as_deref(), Some(RESCHEDULED_UID));
    assert_eq!(b.rescheduled_from.as_deref(), Some(CREATED_UID));
    assert_eq!(first.count("bookings").await, 2);
    assert_eq!(first.count("webhook_deliveries").await, 20);
    let history = first.count("booking_history").await;
    assert!(
        history == 3 || history == 2,
        "created + rescheduled on A and created on B, or A recorded from the reschedule: {history}"
    );
}

async fn created_sample_stores_a_confirmed_booking_with_one_history_entry(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let (status, body) = app.deliver_sample("created").await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "applied");
    assert_eq!(body["duplicate"], false);
    assert_eq!(body["booking_uid"], CREATED_UID);
    let b = app.booking(CREATED_UID).await;
    assert_eq!(b.status, Status::Confirmed);
    assert_eq!(b.title, "Intro Call between Dana Whitfield and Marco Rossi");
    assert_eq!(b.starts_at.to_string(), "2026-03-10T14:00:00Z");
    assert_eq!(b.ends_at.to_string(), "2026-03-10T14:30:00Z");
    assert_eq!(b.attendee_email.as_deref(), Some("marco.rossi@example.com"));
    assert_eq!(b.attendee_name.as_deref(), Some("Marco Rossi"));
    assert_eq!(
        b.attendees[0].time_zone.as_deref(),
        Some("America/New_York")
    );
    assert_eq!(
        b.organizer.as_ref().unwrap().time_zone.as_deref(),
        Some("Europe/Berlin")
    );
    assert_eq!(
        b.ical_uid.as_deref(),
        Some(format!("{CREATED_UID}@Cal.com").as_str())
    );
    assert_eq!(b.ical_sequence, 0);
    assert_eq!(b.calcom_id, Some(1101));
    assert_eq!(b.event_type_slug.as_deref(), Some("intro-call"));
    assert_eq!(b.location.as_deref(), Some("integrations:daily"));
    assert_eq!(
        b.meeting_url.as_deref(),
        Some("https://video.example.com/kx2Rt9Lmq4Vz")
    );
    assert_eq!(b.metadata["lead_ref"], "LR-20417");
    let history = app.history(CREATED_UID).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].action, "created");
    assert!(history[0].old_values.is_none());
    assert_eq!(
        history[0].new_values.as_ref().unwrap()["status"],
        "confirmed"
    );
    assert_eq!(app.deliveries_with("applied").await, 1);
}

async fn every_sample_is_accepted_with_its_published_signature(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for name in [
        "created",
        "rescheduled",
        "cancelled",
        "cancelled_request_reschedule",
        "requested",
        "meeting_ended",
        "meeting_ended_wrapped",
        "ping",
    ] {
        let file = format!("compact/{name}.json");
        let vector = sample_vector(&file);
        let (status, body) = app.post(&sample(name), Some(&vector), &[]).await;
        assert_eq!(status, StatusCode::OK, "{file}: {body}");
    }
    // The pretty files are signed too: their own bytes, their own vector.
    let (status, _) = app
        .post(
            &fixture("created.json"),
            Some(&sample_vector("created.json")),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.count("webhook_deliveries").await, 9);
}

async fn byte_identical_redelivery_is_a_duplicate_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.deliver_sample("created").await;
    let before = app.booking(CREATED_UID).await;

    let (status, body) = app.deliver_sample("created").await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["duplicate"], true);
    assert_eq!(body["outcome"], "duplicate");
    assert_eq!(app.booking(CREATED_UID).await, before);
    assert_eq!(
        app.counts().await,
        (1, 1, 2),
        "the redelivery is kept, flagged duplicate"
    );
    assert_eq!(app.deliveries_with("duplicate").await, 1);
}

async fn ten_concurrent_copies_give_one_booking_and_one_history_entry(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = sample("created");

    let answers = futures_join_all((0..10).map(|_| app.deliver(&body))).await;

    assert!(
        answers.iter().all(|(s, _)| *s == StatusCode::OK),
        "{answers:?}"
    );
    let applied = answers
        .iter()
        .filter(|(_, b)| b["outcome"] == "applied")
        .count();
    assert_eq!(applied, 1, "exactly one copy applies: {answers:?}");
    assert_eq!(app.counts().await, (1, 1, 10));
}

async fn reschedule_creates_the_new_uid_and_marks_the_old_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.deliver_sample("created").await;

    let (status, _) = app.deliver_sample("rescheduled").await;

    assert_eq!(status, StatusCode::OK);
    let old = app.booking(CREATED_UID).await;
    let new = app.booking(RESCHEDULED_UID).await;
    assert_eq!(old.status, Status::Rescheduled);
    assert_eq!(old.rescheduled_to.as_deref(), Some(RESCHEDULED_UID));
    assert_eq!(
        old.starts_at.to_string(),
        "2026-03-10T14:00:00Z",
        "the old booking keeps its time"
    );
    assert_eq!(new.status, Status::Confirmed);
    assert_eq!(new.rescheduled_from.as_deref(), Some(CREATED_UID));
    assert_eq!(new.starts_at.to_string(), "2026-03-12T15:00:00Z");
    assert_eq!(
        new.ical_uid, old.ical_uid,
        "one calendar identity across the reschedule"
    );
    assert_eq!(new.ical_sequence, 1);
    assert_eq!(
        app.history_actions(CREATED_UID).await,
        ["created", "rescheduled"]
    );
    assert_eq!(app.history_actions(RESCHEDULED_UID).await, ["created"]);

    let (_, _) = app.deliver_sample("cancelled").await;
    let new = app.booking(RESCHEDULED_UID).await;
    assert_eq!(new.status, Status::Cancelled);
    assert_eq!(
        new.cancellation_reason.as_deref(),
        Some("Something came up at work, sorry.")
    );
    assert_eq!(new.cancelled_by.as_deref(), Some("marco.rossi@example.com"));
    assert_eq!(new.ical_sequence, 2);
}

async fn request_reschedule_is_not_a_final_cancellation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.deliver_sample("created").await;

    app.deliver_sample("cancelled_request_reschedule").await;

    let a = app.booking(CREATED_UID).await;
    assert_eq!(a.status, Status::RescheduleRequested);
    assert_eq!(a.cancelled_by.as_deref(), Some("dana@example.com"));
    // The attendee then picks a new time: the later RESCHEDULED links the two.
    app.deliver_sample("rescheduled").await;
    let a = app.booking(CREATED_UID).await;
    assert_eq!(a.status, Status::Rescheduled);
    assert_eq!(a.rescheduled_to.as_deref(), Some(RESCHEDULED_UID));
    assert_eq!(
        app.history_actions(CREATED_UID).await,
        ["created", "reschedule_requested", "rescheduled"]
    );
}

async fn requested_then_created_confirms_and_rejected_stays_rejected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let uid = REQUESTED_UID;
    app.deliver_sample("requested").await;
    let d = app.booking(uid).await;
    assert_eq!(d.status, Status::Pending);
    assert_eq!(d.attendees.len(), 2, "the guest is kept as an attendee");

    // The host confirms: Cal.com sends BOOKING_CREATED for the same uid.
    let created = String::from_utf8(sample("requested"))
        .unwrap()
        .replace("BOOKING_REQUESTED", "BOOKING_CREATED")
        .replace("\"PENDING\"", "\"ACCEPTED\"");
    app.deliver(created.as_bytes()).await;
    assert_eq!(app.booking(uid).await.status, Status::Confirmed);
    assert_eq!(app.history_actions(uid).await, ["requested", "confirmed"]);

    // A rejection arriving late does not undo the confirmation.
    let rejected = String::from_utf8(sample("requested"))
        .unwrap()
        .replace("BOOKING_REQUESTED", "BOOKING_REJECTED")
        .replace("\"PENDING\"", "\"REJECTED\"");
    let (status, body) = app.deliver(rejected.as_bytes()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["outcome"], "ignored");
    assert_eq!(app.booking(uid).await.status, Status::Confirmed);

    // On a fresh store: requested then rejected is rejected, and a late CREATED can not revive it.
    let app = TestApp::spawn(backend).await;
    app.deliver_sample("requested").await;
    app.deliver(rejected.as_bytes()).await;
    assert_eq!(app.booking(uid).await.status, Status::Rejected);
    app.deliver(created.as_bytes()).await;
    assert_eq!(app.booking(uid).await.status, Status::Rejected);
}

async fn meeting_events_in_both_forms_add_one_history_entry(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let uid = REQUESTED_UID;
    app.deliver_sample("requested").await;

    let (status, body) = app.deliver_sample("meeting_ended").await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (StatusCode::OK, Some("applied"))
    );
    let (status, body) = app.deliver_sample("meeting_ended_wrapped").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["outcome"], "ignored",
        "the same meeting end, by the other path"
    );

    assert_eq!(
        app.history_actions(uid).await,
        ["requested", "meeting_ended"]
    );
    assert_eq!(
        app.booking(uid)
            .await
            .meeting_ended_at
            .map(|t| t.to_string())
            .as_deref(),
        Some("2026-03-20T09:45:00Z")
    );
    assert_eq!(
        app.booking(uid).await.status,
        Status::Pending,
        "a meeting event changes no status"
    );
}

async fn ping_is_acknowledged_without_a_booking(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, body) = app.deliver_sample("ping").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["received"], true);
    assert_eq!(app.counts().await, (0, 0, 1));
}

async fn unknown_trigger_and_unknown_version_are_stored_as_ignored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let paid = String::from_utf8(sample("created"))
        .unwrap()
        .replace("BOOKING_CREATED", "BOOKING_NO_SHOW_UPDATED");
    let (status, body) = app.deliver(paid.as_bytes()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["outcome"], "ignored");

    let created = sample("created");
    let sig = calbook::webhook::sign(SAMPLE_SECRET.as_bytes(), &created);
    let (status, body) = app
        .post(
            &created,
            Some(&sig),
            &[("x-cal-webhook-version", "2099-01-01")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["outcome"], "ignored");

    assert_eq!(app.counts().await, (0, 0, 2), "stored, flagged, no effect");
    assert_eq!(app.deliveries_with("ignored").await, 2);
    let listed = app.store.deliveries(10).await.unwrap();
    assert!(
        listed
            .iter()
            .any(|d| d.trigger_event.as_deref() == Some("BOOKING_NO_SHOW_UPDATED"))
    );
    assert!(
        listed
            .iter()
            .any(|d| d.webhook_version.as_deref() == Some("2099-01-01"))
    );
}

/// Security issue row 1: a `client_id` in the metadata (which any booker can write) owns a
/// booking only with the booking page's proof, made for that client and the attendee's email,
/// and not expired. Anything else stays plain metadata.
async fn a_client_id_counts_only_with_a_valid_ownership_proof(backend: Backend) {
    use calbook::auth::ownership::OwnershipKey;
    let app = TestApp::spawn(backend).await;
    let client = "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b";
    let attacker = "0a0a0a0a-4a5e-4f60-8a7b-9c0d1e2f3a4b";
    let attendee = "marco.rossi@example.com";
    let key = OwnershipKey::from_secret(OWNERSHIP_KEY);
    let two_days_ago = calbook::time::now() - jiff::SignedDuration::from_hours(48);
    let expired = key.sign(client.parse().unwrap(), attendee, two_days_ago);
    let valid = app.ownership_proof(client, attendee);
    let cases: [(&str, &str, String, Option<&str>); 6] = [
        ("NoProof000000000000001", client, String::new(), None),
        (
            "Forged0000000000000001",
            client,
            "v1.9999999999.AAAA".into(),
            None,
        ),
        ("Expired000000000000001", client, expired, None),
        // The attacker's own valid proof, planted in a link the victim books through.
        (
            "OtherEmail000000000001",
            attacker,
            app.ownership_proof(attacker, "eve@example.com"),
            None,
        ),
        // A proof for the client, with someone else's id written next to it.
        ("OtherClient00000000001", attacker, valid.clone(), None),
        ("Proven0000000000000001", client, valid, Some(client)),
    ];
    let template = String::from_utf8(sample("created")).unwrap();
    for (uid, claimed, proof, owner) in cases {
        let metadata = if proof.is_empty() {
            format!("\"client_id\":\"{claimed}\"")
        } else {
            format!("\"client_id\":\"{claimed}\",\"client_proof\":\"{proof}\"")
        };
        let body = template
            .replace(CREATED_UID, uid)
            .replace("\"lead_ref\":\"LR-20417\"", &metadata);
        let (status, answer) = app.deliver(body.as_bytes()).await;
        assert_eq!(status, StatusCode::OK, "{uid}: {answer}");
        let b = app.booking(uid).await;
        assert_eq!(
            b.client_id.map(|u| u.to_string()).as_deref(),
            owner,
            "{uid}"
        );
        assert_eq!(
            b.metadata["client_id"], claimed,
            "{uid}: the claim stays as metadata"
        );
    }
}

async fn health_and_readiness_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready = app
        .client
        .get(app.url("/readyz"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let body: serde_json::Value = ready.json().await.unwrap();
    let expected = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(body["database"], expected, "an admin gets the details");
    app.deliver(b"{not json").await;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("calbook_webhook_deliveries_total"),
        "{metrics}"
    );
}

async fn many_concurrent_distinct_bookings_all_land(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let template = String::from_utf8(sample("created")).unwrap();
    let bodies: Vec<String> = (0..200)
        .map(|i| template.replace(CREATED_UID, &format!("ConcurrentUid{i:09}")))
        .collect();
    let answers = futures_join_all(bodies.iter().map(|b| app.deliver(b.as_bytes()))).await;
    assert!(
        answers
            .iter()
            .all(|(s, b)| *s == StatusCode::OK && b["outcome"] == "applied")
    );
    assert_eq!(app.counts().await, (200, 200, 200));
}
