//! `/metrics` shows the outbox (pending, dead, the oldest due email's age) and why deliveries
//! were rejected, on both backends.

use reqwest::StatusCode;

use crate::helpers::*;
use crate::on_both_backends;

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn outbox_and_rejections_are_in_metrics(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, _) = app.deliver_sample("created").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.deliver(br#"{"payload":{}}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let text = app.metrics().await;
    let pending = value(&text, "calbook_outbox_pending").expect("calbook_outbox_pending");
    assert!(
        pending >= 1.0,
        "the confirmation waits (no worker runs): {pending}"
    );
    assert_eq!(value(&text, "calbook_outbox_dead"), Some(0.0));
    let age = value(&text, "calbook_outbox_oldest_due_age_seconds").expect("oldest due age");
    assert!(age >= 0.0);
    assert!(
        text.lines()
            .any(|l| l.starts_with("calbook_webhook_rejected_total{reason=\"missing_trigger\"}")),
        "rejections by reason:\n{text}"
    );
}

on_both_backends!(outbox_and_rejections_are_in_metrics);
