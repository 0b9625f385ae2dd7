//! Cal.com does not promise delivery order: every order of the same events ends the same way.

use calbook::booking::Status;
use reqwest::StatusCode;

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    cancel_before_create_leaves_a_cancelled_booking_the_late_create_does_not_revive,
    reschedule_before_the_original_create_gives_the_in_order_end_state,
    every_order_of_created_rescheduled_cancelled_ends_the_same,
);

const A: &str = CREATED_UID;
const B: &str = RESCHEDULED_UID;

async fn cancel_before_create_leaves_a_cancelled_booking_the_late_create_does_not_revive(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    // The cancellation of A (request-reschedule sample, made a genuine cancel) arrives first.
    let cancel_a = String::from_utf8(sample("cancelled_request_reschedule"))
        .unwrap()
        .replace("\"requestReschedule\":true", "\"requestReschedule\":false")
        .replace(
            "\"rescheduleRequested\":true",
            "\"rescheduleRequested\":false",
        );
    let (status, _) = app.deliver(cancel_a.as_bytes()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.booking(A).await.status, Status::Cancelled);

    let (status, body) = app.deliver_sample("created").await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["outcome"], "ignored");
    assert_eq!(app.booking(A).await.status, Status::Cancelled);
    assert_eq!(app.history_actions(A).await, ["cancelled"]);
}

async fn reschedule_before_the_original_create_gives_the_in_order_end_state(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.deliver_sample("rescheduled").await;

    let a = app.booking(A).await;
    assert_eq!(
        a.status,
        Status::Rescheduled,
        "A is recorded from rescheduleUid"
    );
    assert_eq!(
        a.starts_at.to_string(),
        "2026-03-10T14:00:00Z",
        "from rescheduleStartTime"
    );
    assert_eq!(
        a.ends_at.to_string(),
        "2026-03-10T14:30:00Z",
        "from rescheduleEndTime"
    );
    assert_eq!(a.rescheduled_to.as_deref(), Some(B));

    let (_, body) = app.deliver_sample("created").await;
    assert_eq!(
        body["outcome"], "ignored",
        "the late CREATED changes nothing"
    );
    assert_eq!(app.booking(A).await, a);
}

async fn every_order_of_created_rescheduled_cancelled_ends_the_same(backend: Backend) {
    let events = ["created", "rescheduled", "cancelled"];
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    let mut end_states = Vec::new();
    for order in orders {
        let app = TestApp::spawn(backend).await;
        for i in order {
            let (status, body) = app.deliver_sample(events[i]).await;
            assert_eq!(status, StatusCode::OK, "{order:?}: {body}");
        }
        let (a, b) = (app.booking(A).await, app.booking(B).await);
        end_states.push((
            order,
            (a.status, a.rescheduled_to.clone(), a.starts_at),
            (b.status, b.rescheduled_from.clone(), b.starts_at),
            app.count("bookings").await,
        ));
    }
    for s in &end_states {
        assert_eq!(
            (&s.1, &s.2, s.3),
            (
                &(
                    Status::Rescheduled,
                    Some(B.to_owned()),
                    "2026-03-10T14:00:00Z".parse().unwrap()
                ),
                &(
                    Status::Cancelled,
                    Some(A.to_owned()),
                    "2026-03-12T15:00:00Z".parse().unwrap()
                ),
                2
            ),
            "order {:?}",
            s.0
        );
    }
}
