//! `CALBOOK_ALERT_EMAIL`: webhooks refused for their signature raise one alert email, not one
//! per refusal (at most one per kind an hour), sent through the configured transport.

use std::time::Duration;

use reqwest::StatusCode;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_signatures_raise_one_alert_an_hour() {
    let resend = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": "re_a"})))
        .mount(&resend)
        .await;
    let app = TestApp::spawn_with_resend_and(Backend::Sqlite, &resend, |s| {
        s.alert_email = Some("Owner <owner@example.com>".to_owned());
    })
    .await;
    for _ in 0..3 {
        let (status, _) = app.post(&sample("created"), Some("sha256=00"), &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let alerts_sent = || async {
        resend
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| String::from_utf8_lossy(&r.body).contains("owner@example.com"))
            .collect::<Vec<_>>()
    };
    for _ in 0..50 {
        if !alerts_sent().await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Give a second alert, were one coming, the time to arrive.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let alerts = alerts_sent().await;
    assert_eq!(alerts.len(), 1, "one alert for three refusals");
    let body = String::from_utf8_lossy(&alerts[0].body);
    assert!(body.contains("signature"), "{body}");
    assert!(
        body.contains("CALCOM_WEBHOOK_SECRET"),
        "says what to do: {body}"
    );
}
