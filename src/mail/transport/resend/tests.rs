use super::*;
use crate::mail::transport::mime::tests::{ICS, sample_email, unbase64};
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "re_test_secret_key";

fn mailer(server: &MockServer, timeout: Duration) -> ResendMailer {
    ResendMailer::new(KEY.into(), &server.uri(), timeout).unwrap()
}

async fn answer(template: ResponseTemplate) -> Result<Sent, SendError> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(template)
        .expect(1)
        .mount(&server)
        .await;
    mailer(&server, Duration::from_secs(5))
        .send(&sample_email())
        .await
}

fn error(status: u16, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "statusCode": status, "name": name, "message": format!("{name} happened"),
    }))
}

#[tokio::test]
async fn sends_headers_and_body_and_returns_the_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header(
            "idempotency-key",
            "booking/uid-123/confirmation/marco@client.example",
        ))
        .and(header("content-type", "application/json"))
        .and(body_partial_json(
            json!({"subject": "Confirmed: Intro call"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "re-id-42"})))
        .expect(1)
        .mount(&server)
        .await;

    let sent = mailer(&server, Duration::from_secs(5))
        .send(&sample_email())
        .await
        .unwrap();
    assert_eq!(sent.provider_id.as_deref(), Some("re-id-42"));

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let body: Value = requests[0].body_json().unwrap();
    assert_eq!(body["from"], "Dana Whitfield <bookings@studio.example>");
    assert_eq!(
        body["to"],
        json!(["\"Marco Bcc: attacker@evil.example\" <marco@client.example>"])
    );
    assert_eq!(body["reply_to"], "Dana <dana@studio.example>");
    assert_eq!(body["subject"], "Confirmed: Intro call");
    assert_eq!(
        body["text"],
        "Your intro call is confirmed.\r\nSee you soon."
    );
    assert_eq!(body["html"], "<p>Your intro call is <b>confirmed</b>.</p>");
    let attachments = body["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0]["filename"], "invite.ics");
    assert_eq!(
        attachments[0]["content_type"],
        "text/calendar; method=REQUEST"
    );
    let content = unbase64(attachments[0]["content"].as_str().unwrap());
    assert_eq!(String::from_utf8(content).unwrap(), ICS);
}

#[tokio::test]
async fn no_calendar_means_no_attachments_and_no_reply_to_when_unset() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "x"})))
        .mount(&server)
        .await;
    let mut email = sample_email();
    email.calendar = None;
    email.reply_to = None;
    mailer(&server, Duration::from_secs(5))
        .send(&email)
        .await
        .unwrap();
    let body: Value = server.received_requests().await.unwrap()[0]
        .body_json()
        .unwrap();
    assert!(body.get("attachments").is_none());
    assert!(body.get("reply_to").is_none());
}

#[tokio::test]
async fn a_batch_posts_every_email_to_the_batch_endpoint_with_one_deterministic_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails/batch"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": [{"id": "re-1"}, {"id": "re-2"}]})),
        )
        .expect(2)
        .mount(&server)
        .await;
    let mut a = sample_email();
    a.calendar = None;
    let mut b = a.clone();
    b.idempotency_key = "booking/uid-456/reminder/3600s/x/marco@client.example".into();
    let emails = [a, b];
    let m = mailer(&server, Duration::from_secs(5));
    let sent = m.send_batch(&emails).await.unwrap();
    let ids: Vec<_> = sent.iter().map(|s| s.provider_id.as_deref()).collect();
    assert_eq!(ids, [Some("re-1"), Some("re-2")]);
    m.send_batch(&emails).await.unwrap();

    let requests = server.received_requests().await.unwrap();
    let key = |i: usize| {
        requests[i].headers["idempotency-key"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(key(0), key(1), "the same batch carries the same key");
    assert_eq!(key(0), batch_key(&emails));
    assert!(key(0).starts_with("batch/") && key(0).len() <= 256);
    let body: Value = requests[0].body_json().unwrap();
    let items = body.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|e| e.get("attachments").is_none()));
    assert_eq!(items[0]["subject"], "Confirmed: Intro call");

    let mut with_invite = emails.to_vec();
    with_invite[0] = sample_email();
    assert!(matches!(
        m.send_batch(&with_invite).await,
        Err(SendError::Permanent { .. })
    ));
}

#[tokio::test]
async fn rate_limit_is_retryable_with_retry_after() {
    let got = answer(error(429, "rate_limit_exceeded").insert_header("retry-after", "2")).await;
    assert!(
        matches!(&got, Err(SendError::Retryable { retry_after: Some(d), .. }) if *d == Duration::from_secs(2)),
        "{got:?}"
    );
}

#[tokio::test]
async fn rate_limit_falls_back_to_ratelimit_reset() {
    let got = answer(error(429, "rate_limit_exceeded").insert_header("ratelimit-reset", "3")).await;
    assert!(
        matches!(&got, Err(SendError::Retryable { retry_after: Some(d), .. }) if *d == Duration::from_secs(3)),
        "{got:?}"
    );
}

#[tokio::test]
async fn daily_and_monthly_quota_block() {
    let got = answer(error(429, "daily_quota_exceeded")).await;
    assert!(
        matches!(
            &got,
            Err(SendError::Blocked {
                retry_after: None,
                ..
            })
        ),
        "{got:?}"
    );
    let got =
        answer(error(429, "monthly_quota_exceeded").insert_header("retry-after", "3600")).await;
    assert!(
        matches!(&got, Err(SendError::Blocked { retry_after: Some(d), .. }) if *d == Duration::from_secs(3600)),
        "{got:?}"
    );
}

#[tokio::test]
async fn concurrent_idempotent_request_is_retryable() {
    let got = answer(error(409, "concurrent_idempotent_requests")).await;
    assert!(matches!(got, Err(SendError::Retryable { .. })), "{got:?}");
}

#[tokio::test]
async fn invalid_idempotent_request_is_permanent() {
    let got = answer(error(409, "invalid_idempotent_request")).await;
    assert!(
        matches!(&got, Err(SendError::Permanent { reason }) if reason.contains("invalid_idempotent_request")),
        "{got:?}"
    );
}

#[tokio::test]
async fn validation_error_is_permanent_with_the_providers_message() {
    let got = answer(error(422, "invalid_from_address")).await;
    assert!(
        matches!(&got, Err(SendError::Permanent { reason }) if reason.contains("invalid_from_address happened")),
        "{got:?}"
    );
    let got = answer(error(400, "validation_error")).await;
    assert!(matches!(got, Err(SendError::Permanent { .. })), "{got:?}");
}

#[tokio::test]
async fn rejected_key_blocks_without_printing_it() {
    for status in [401, 403] {
        let got = answer(error(status, "invalid_api_key")).await;
        match &got {
            Err(SendError::Blocked { reason, .. }) => {
                assert!(reason.contains("RESEND_API_KEY"), "{reason}");
                assert!(!reason.contains(KEY), "{reason}");
            }
            other => panic!("expected Blocked, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn server_error_is_retryable() {
    let got = answer(error(500, "internal_server_error")).await;
    assert!(matches!(got, Err(SendError::Retryable { .. })), "{got:?}");
    let got = answer(ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>")).await;
    assert!(matches!(got, Err(SendError::Retryable { .. })), "{got:?}");
}

#[tokio::test]
async fn a_server_slower_than_the_timeout_is_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "late"}))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let started = std::time::Instant::now();
    let got = mailer(&server, Duration::from_millis(300))
        .send(&sample_email())
        .await;
    assert!(matches!(got, Err(SendError::Retryable { .. })), "{got:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mailer = ResendMailer::new(
        KEY.into(),
        &format!("http://{addr}"),
        Duration::from_secs(2),
    )
    .unwrap();
    let got = mailer.send(&sample_email()).await;
    assert!(matches!(got, Err(SendError::Retryable { .. })), "{got:?}");
}

#[test]
fn base_url_and_key_are_validated() {
    let t = Duration::from_secs(1);
    assert!(ResendMailer::new(KEY.into(), "ftp://x", t).is_err());
    assert!(ResendMailer::new(KEY.into(), "not a url", t).is_err());
    assert!(ResendMailer::new(KEY.into(), "https://u:p@api.resend.com", t).is_err());
    assert!(ResendMailer::new("".into(), "https://api.resend.com", t).is_err());
    assert!(ResendMailer::new("a\nb".into(), "https://api.resend.com", t).is_err());
    let m = ResendMailer::new(KEY.into(), "http://127.0.0.1:3901/", t).unwrap();
    assert_eq!(m.endpoint.as_str(), "http://127.0.0.1:3901/emails");
    let m = ResendMailer::new(KEY.into(), "https://proxy.example/resend", t).unwrap();
    assert_eq!(m.endpoint.as_str(), "https://proxy.example/resend/emails");
    assert!(!format!("{m:?}").contains(KEY));
}
