//! `calbook trigger` sends each new shape, and calbook applies it as Cal.com's own.

use std::process::Output;

use calbook::booking::Status;

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(calbook_trigger_sends_every_new_shape);

/// `calbook trigger ARGS --url <app> --secret <sample secret>`, through the built binary.
fn trigger(app: &TestApp, args: &[&str]) -> Output {
    let url = app.webhook_url();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_calbook"))
        .arg("trigger")
        .args(args)
        .args(["--url", &url, "--secret", SAMPLE_SECRET])
        .env_remove("CALCOM_WEBHOOK_SECRET")
        .env("CALBOOK_DATA_DIR", &app.settings.data_dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the calbook binary");
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

async fn calbook_trigger_sends_every_new_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    trigger(&app, &["series", "--uid", "TrigSeries"]);
    trigger(
        &app,
        &[
            "series-cancel-all",
            "--uid",
            "TrigSeries-2",
            "--occurrence",
            "2",
        ],
    );
    let mut statuses = Vec::new();
    for n in 1..=4 {
        let b = app.booking(&format!("TrigSeries-{n}")).await;
        assert_eq!(b.extra.series_id.as_deref(), Some("TrigSeries-1"));
        statuses.push(b.status);
    }
    assert_eq!(
        statuses,
        [
            Status::Confirmed,
            Status::Cancelled,
            Status::Cancelled,
            Status::Cancelled
        ]
    );

    trigger(&app, &["seat-added", "--uid", "TrigSeat"]);
    trigger(
        &app,
        &[
            "seat-added",
            "--uid",
            "TrigSeat",
            "--attendee",
            "third@example.com",
        ],
    );
    trigger(&app, &["seat-cancelled", "--uid", "TrigSeat"]);
    let seat = app.booking("TrigSeat").await;
    assert_eq!(seat.status, Status::Confirmed);
    assert!(seat.seat_cancelled("second.seat@example.com"));
    assert!(!seat.seat_cancelled("third@example.com"));

    trigger(&app, &["payment-initiated", "--uid", "TrigPaid"]);
    assert_eq!(
        app.booking("TrigPaid").await.status,
        Status::AwaitingPayment
    );
    trigger(&app, &["paid", "--uid", "TrigPaid"]);
    let paid = app.booking("TrigPaid").await;
    assert_eq!(paid.status, Status::Confirmed);
    assert_eq!(paid.extra.payment.unwrap().amount, Some(4500));
    trigger(&app, &["no-show", "--uid", "TrigPaid"]);
    let marked = app.booking("TrigPaid").await;
    assert_eq!(
        marked
            .attendee_state("marco.rossi@example.com")
            .unwrap()
            .no_show,
        Some(true)
    );

    trigger(&app, &["created", "--uid", "TrigMoved"]);
    trigger(&app, &["reassigned", "--uid", "TrigMoved"]);
    trigger(&app, &["location-updated", "--uid", "TrigMoved"]);
    assert_eq!(
        app.history_actions("TrigMoved").await,
        ["created", "reassigned", "location_updated"]
    );
}
