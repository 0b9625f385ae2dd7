//! Paid events: `awaiting_payment` until paid, the booking page's client kept, the payment
//! recorded.
//!
//! Shapes [SRC `packages/features/webhooks/lib/factory/versioned/v2021-10-20/BookingPayloadBuilder.ts@6f51e40f`,
//! FINDINGS §3.2]: `BOOKING_PAYMENT_INITIATED` is the booking payload (its `status` says
//! `ACCEPTED`) with `paymentId` and `paymentData`; after payment Cal.com sends `BOOKING_CREATED`
//! (same uid, `metadata` only `{videoCallUrl}`) and `BOOKING_PAID` (`paymentId`,
//! `paymentData:{amount, currency}`).

use calbook::booking::Status;
use calbook::outbox::EmailKind;
use serde_json::json;

use super::story::*;
use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    a_payment_initiated_booking_awaits_payment_with_its_client_and_no_emails,
    payment_confirms_keeps_the_client_and_records_the_payment,
    payment_events_end_the_same_in_every_order,
);

const PAY: &str = "PaidBooking00000000001";
const PAT: (&str, &str) = ("Pat Kim", "pat@example.com");

fn initiated(app: &TestApp) -> Body {
    let client = CLIENT_1;
    let proof = app.ownership_proof(client, PAT.1);
    let mut b = Body::booking("BOOKING_PAYMENT_INITIATED", PAY, hours_from_now(48), &[PAT])
        .with(
            "metadata",
            json!({"client_id": client, "client_proof": proof, "page": "pricing"}),
        )
        .with("paymentId", json!(881))
        .with("price", json!(4500))
        .with("currency", json!("eur"));
    b.0["triggerEvent"] = json!("BOOKING_PAYMENT_INITIATED");
    b
}

fn created_after_payment() -> Body {
    Body::booking("BOOKING_CREATED", PAY, hours_from_now(48), &[PAT])
        .with(
            "metadata",
            json!({"videoCallUrl": "https://video.example.com/paid"}),
        )
        .with("additionalNotes", json!(""))
}

fn paid() -> Body {
    let mut b = Body::booking("BOOKING_PAID", PAY, hours_from_now(48), &[PAT])
        .with("metadata", json!({}))
        .with("paymentId", json!(881))
        .with(
            "paymentData",
            json!({"amount": 4500, "currency": "eur", "status": "succeeded"}),
        );
    b.0["triggerEvent"] = json!("BOOKING_PAID");
    b
}

async fn a_payment_initiated_booking_awaits_payment_with_its_client_and_no_emails(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(deliver(&app, &initiated(&app)).await, "applied");

    let b = app.booking(PAY).await;
    assert_eq!(b.status, Status::AwaitingPayment, "not the body's ACCEPTED");
    assert_eq!(
        b.client_id.map(|c| c.to_string()).as_deref(),
        Some(CLIENT_1)
    );
    assert_eq!(app.history_actions(PAY).await, ["payment_initiated"]);
    assert!(
        planned(&app).await.is_empty(),
        "no confirmation, no reminders"
    );
    // Visible as such in the API (and so in the dashboard's lists).
    assert_eq!(
        booking_via_api(&app, PAY).await["status"],
        "awaiting_payment"
    );
}

async fn payment_confirms_keeps_the_client_and_records_the_payment(backend: Backend) {
    let app = TestApp::spawn_with_supabase(backend).await;
    deliver(&app, &initiated(&app)).await;
    deliver(&app, &created_after_payment()).await;

    let b = app.booking(PAY).await;
    assert_eq!(b.status, Status::Confirmed);
    assert_eq!(
        b.client_id.map(|c| c.to_string()).as_deref(),
        Some(CLIENT_1)
    );
    assert_eq!(
        b.metadata["page"], "pricing",
        "the booking page's metadata survives"
    );
    assert_eq!(b.metadata["videoCallUrl"], "https://video.example.com/paid");
    assert_eq!(count_for(&app, EmailKind::Confirmation, PAT.1).await, 1);
    assert_eq!(pending_reminders(&app, PAT.1).await, 2);
    // The client sees it in the API.
    let token = hs256(&claims(CLIENT_1, PAT.1));
    assert_eq!(uids(&app, "/api/bookings", &token).await, [PAY]);

    assert_eq!(deliver(&app, &paid()).await, "applied");
    let b = app.booking(PAY).await;
    let p = b.extra.payment.clone().unwrap();
    assert_eq!(
        (p.id.as_deref(), p.amount, p.currency.as_deref()),
        (Some("881"), Some(4500), Some("EUR"))
    );
    let history = app.history(PAY).await;
    let last = history.last().unwrap();
    assert_eq!(last.action, "paid");
    assert_eq!(last.new_values.as_ref().unwrap()["payment"]["amount"], 4500);
    assert_eq!(
        count_for(&app, EmailKind::Confirmation, PAT.1).await,
        1,
        "paid after confirmation: no second email"
    );
    assert_eq!(
        booking_via_api(&app, PAY).await["payment"]["currency"],
        "EUR"
    );
}

async fn payment_events_end_the_same_in_every_order(backend: Backend) {
    for order in [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ] {
        let app = TestApp::spawn(backend).await;
        let events = [initiated(&app), created_after_payment(), paid()];
        for i in order {
            deliver(&app, &events[i]).await;
        }
        let b = app.booking(PAY).await;
        assert_eq!(b.status, Status::Confirmed, "{order:?}");
        assert_eq!(
            b.client_id.map(|c| c.to_string()).as_deref(),
            Some(CLIENT_1),
            "{order:?}"
        );
        assert_eq!(b.metadata["page"], "pricing", "{order:?}");
        assert_eq!(b.extra.payment.unwrap().amount, Some(4500), "{order:?}");
        assert_eq!(
            count_for(&app, EmailKind::Confirmation, PAT.1).await,
            1,
            "{order:?}"
        );
        assert_eq!(pending_reminders(&app, PAT.1).await, 2, "{order:?}");
    }
}
