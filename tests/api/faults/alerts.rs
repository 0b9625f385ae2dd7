//! `CALBOOK_ALERT_EMAIL`: webhooks refused for their signature raise one alert email, not one
//! per refusal (at most one per kind an hour), sent through the configured transport.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_signatures_raise_one_alert_an_hour() {
    let inbox = AlertInbox::start().await;
    let app = TestApp::spawn_with_resend_and(Backend::Sqlite, &inbox.resend, |s| {
        s.alert_email = Some(AlertInbox::OWNER.to_owned());
    })
    .await;
    for _ in 0..3 {
        let (status, _) = app.post(&sample("created"), Some("sha256=00"), &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Give a second alert, were one coming, the time to arrive.
    let alerts = inbox.alerts_after_first(Duration::from_millis(300)).await;
    assert_eq!(alerts.len(), 1, "one alert for three refusals");
    let body = &alerts[0];
    assert!(body.contains("signature"), "{body}");
    assert!(
        body.contains("CALCOM_WEBHOOK_SECRET"),
        "says what to do: {body}"
    );
}
