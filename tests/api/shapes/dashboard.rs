//! The dashboard's booking page shows what the new shapes recorded: seats, series, payment,
//! no-shows and the `awaiting_payment` status.

use reqwest::StatusCode;
use serde_json::json;

use super::story::*;
use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(the_booking_page_shows_seats_no_shows_series_and_payment);

async fn the_booking_page_shows_seats_no_shows_series_and_payment(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let start = hours_from_now(30);
    let x = ("Xia Chen", "xia@example.com");
    let y = ("Yan Berg", "yan@example.com");
    let seat = |who| {
        Body::booking("BOOKING_CREATED", "DashSeats000000000001", start, &[who])
            .seated(true)
            .weekly(2)
    };
    deliver(&app, &seat(x)).await;
    deliver(&app, &seat(y)).await;
    deliver(&app, &cancelled(seat(y), "travelling")).await;
    let no_show = json!({"triggerEvent": "BOOKING_NO_SHOW_UPDATED", "createdAt": "2026-03-10T15:00:00Z",
        "payload": {"bookingUid": "DashSeats000000000001", "attendees": [{"email": x.1, "noShow": true}]}});
    app.deliver(&serde_json::to_vec(&no_show).unwrap()).await;
    let mut awaiting = Body::booking(
        "BOOKING_PAYMENT_INITIATED",
        "DashPaid00000000000001",
        start,
        &[x],
    );
    awaiting.0["triggerEvent"] = json!("BOOKING_PAYMENT_INITIATED");
    deliver(&app, &awaiting).await;
    let mut paid = Body::booking("BOOKING_PAID", "DashPaid00000000000001", start, &[x])
        .with("paymentId", json!(77))
        .with("paymentData", json!({"amount": 4550, "currency": "eur"}));
    paid.0["triggerEvent"] = json!("BOOKING_PAID");

    let session = app.sign_in_as_admin().await;
    let (status, page) = session
        .get(&app, "/admin/bookings/DashPaid00000000000001")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("awaiting payment"), "{page}");
    deliver(&app, &paid).await;
    let (_, page) = session
        .get(&app, "/admin/bookings/DashPaid00000000000001")
        .await;
    assert!(page.contains("45.50 EUR"), "{page}");
    assert!(page.contains("<code>77</code>"), "{page}");

    let (status, page) = session
        .get(&app, "/admin/bookings/DashSeats000000000001")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Seats (4 per slot)"), "{page}");
    assert!(page.contains("seat cancelled"), "{page}");
    assert!(page.contains("<strong>no-show</strong>"), "{page}");
    assert!(
        page.contains("id=\"series-id\">DashSeats000000000001<"),
        "{page}"
    );
    assert!(page.contains("a seat was booked") && page.contains("marked no-show: "));
}
