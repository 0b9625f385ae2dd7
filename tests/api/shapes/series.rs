//! Recurring series: occurrences linked, cancel-all reaching every later one, one email each way.

use calbook::booking::Status;
use calbook::outbox::{EmailKind, JobState};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::story::*;
use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    a_weekly_series_is_linked_and_gets_one_confirmation_and_reminders_per_occurrence,
    cancel_all_cancels_the_named_occurrence_and_every_later_one_with_one_email,
    a_cancel_all_arriving_before_some_creates_ends_the_same,
    the_series_emails_list_the_dates,
);

const ANN: (&str, &str) = ("Ann Lee", "ann@example.com");

fn uid(n: i64) -> String {
    format!("WeeklySeries00000000{n:02}")
}

/// The `n`th of four weekly occurrences, as Cal.com sends each: its own uid, `recurringEvent`
/// set [FINDINGS §3.2; `RegularBookingService.ts@368f82de` spreads `evt.recurringEvent`].
fn occurrence(n: i64) -> Body {
    Body::booking("BOOKING_CREATED", &uid(n), week(n), &[ANN]).weekly(4)
}

/// "Cancel all remaining" from occurrence `n`: one BOOKING_CANCELLED for it, `recurringEvent` set
/// [FINDINGS §3.4, handleCancelBooking].
fn cancel_all_from(n: i64) -> Body {
    cancelled(occurrence(n), "moving away")
}

async fn a_weekly_series_is_linked_and_gets_one_confirmation_and_reminders_per_occurrence(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    for n in 0..4 {
        assert_eq!(deliver(&app, &occurrence(n)).await, "applied");
    }
    for n in 0..4 {
        let b = app.booking(&uid(n)).await;
        assert_eq!(b.status, Status::Confirmed);
        assert_eq!(b.extra.series_id.as_deref(), Some(uid(0).as_str()));
        assert_eq!(
            booking_via_api(&app, &uid(n)).await["series_id"],
            json!(uid(0))
        );
    }
    assert_eq!(
        count_for(&app, EmailKind::Confirmation, ANN.1).await,
        1,
        "one confirmation for the whole series"
    );
    assert_eq!(
        pending_reminders(&app, ANN.1).await,
        8,
        "two per occurrence"
    );
    // A single booking of the same person and event type is in no series.
    let single = Body::booking("BOOKING_CREATED", "SingleBooking000000001", week(0), &[ANN]);
    deliver(&app, &single).await;
    assert_eq!(
        app.booking("SingleBooking000000001").await.extra.series_id,
        None
    );
}

async fn cancel_all_cancels_the_named_occurrence_and_every_later_one_with_one_email(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    for n in 0..4 {
        deliver(&app, &occurrence(n)).await;
    }
    assert_eq!(deliver(&app, &cancel_all_from(2)).await, "applied");

    let statuses: Vec<Status> = {
        let mut v = Vec::new();
        for n in 0..4 {
            v.push(app.booking(&uid(n)).await.status);
        }
        v
    };
    assert_eq!(
        statuses,
        [
            Status::Confirmed,
            Status::Confirmed,
            Status::Cancelled,
            Status::Cancelled
        ]
    );
    assert_eq!(app.history_actions(&uid(2)).await, ["created", "cancelled"]);
    assert_eq!(
        app.history_actions(&uid(3)).await,
        ["created", "series_cancelled"]
    );
    assert_eq!(
        count_for(&app, EmailKind::Cancelled, ANN.1).await,
        1,
        "one cancellation for the series"
    );
    for n in [2, 3] {
        let reminders: Vec<_> = planned_for(&app, &uid(n))
            .await
            .into_iter()
            .filter(|j| j.kind == EmailKind::Reminder)
            .collect();
        assert_eq!(reminders.len(), 2);
        assert!(
            reminders.iter().all(|j| j.state == JobState::Skipped
                && j.last_error.as_deref() == Some("booking is cancelled")),
            "{reminders:?}"
        );
    }
    assert_eq!(
        pending_reminders(&app, ANN.1).await,
        4,
        "the first two keep theirs"
    );
}

async fn a_cancel_all_arriving_before_some_creates_ends_the_same(backend: Backend) {
    // Cal.com sends the creates together and the cancel-all later, but does not promise order.
    for cancel_at in [0, 2, 4] {
        let app = TestApp::spawn(backend).await;
        let mut events: Vec<Body> = (0..4).map(occurrence).collect();
        events.insert(cancel_at, cancel_all_from(1));
        for e in &events {
            deliver(&app, e).await;
        }
        let mut statuses = Vec::new();
        for n in 0..4 {
            let b = app.booking(&uid(n)).await;
            statuses.push(b.status);
            assert!(b.extra.series_id.is_some(), "{cancel_at}");
        }
        let series: Vec<_> = {
            let mut ids = Vec::new();
            for n in 0..4 {
                ids.push(app.booking(&uid(n)).await.extra.series_id);
            }
            ids
        };
        assert!(series.windows(2).all(|w| w[0] == w[1]), "{series:?}");
        assert_eq!(
            statuses,
            [
                Status::Confirmed,
                Status::Cancelled,
                Status::Cancelled,
                Status::Cancelled
            ],
            "cancel-all delivered at position {cancel_at}"
        );
        assert_eq!(count_for(&app, EmailKind::Cancelled, ANN.1).await, 1);
        assert_eq!(pending_reminders(&app, ANN.1).await, 2, "only the first's");
    }
}

async fn the_series_emails_list_the_dates(backend: Backend) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "re_1"})))
        .mount(&server)
        .await;
    let app = TestApp::spawn_with_resend(backend, &server, false).await;
    for n in 0..4 {
        deliver(&app, &occurrence(n)).await;
    }
    // The confirmation waits for the rest of the series to arrive.
    app.drain_outbox().await;
    assert!(server.received_requests().await.unwrap().is_empty());
    let later = calbook::time::now()
        .checked_add(jiff::SignedDuration::from_mins(2))
        .unwrap();
    app.worker().run_once(later).await.unwrap();
    deliver(&app, &cancel_all_from(2)).await;
    app.worker().run_once(later).await.unwrap();

    let sent: Vec<Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(sent.len(), 2, "one confirmation, one cancellation");
    let dates = |j: &Value| j["text"].as_str().unwrap().matches("\n- ").count();
    assert!(
        sent[0]["subject"].as_str().unwrap().contains("Confirmed"),
        "{}",
        sent[0]
    );
    assert_eq!(dates(&sent[0]), 4, "{}", sent[0]["text"]);
    assert_eq!(
        dates(&sent[1]),
        2,
        "the two cancelled dates: {}",
        sent[1]["text"]
    );
}
