//! An email in the attendee's language, through the real path: the signed webhook, the store
//! (the attendee's locale and the payload's `bookerUrl` kept with the booking), the outbox
//! worker, the renderer and the Resend stand-in.

use std::time::{Duration, Instant};

use calbook::outbox::JobState;
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(an_attendee_with_locale_de_gets_a_german_email_linking_to_the_booker_url,);

async fn an_attendee_with_locale_de_gets_a_german_email_linking_to_the_booker_url(
    backend: Backend,
) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": "re_de_1"})),
        )
        .mount(&server)
        .await;
    let app = TestApp::spawn_with_resend(backend, &server, true).await;
    let uid = "GermanUid0000000000001";
    let mut body: Value = serde_json::from_slice(&created_at(hours_from_now(30), uid)).unwrap();
    body["payload"]["attendees"][0]["language"]["locale"] = "de".into();
    body["payload"]["bookerUrl"] = "https://acme-org.cal.com".into();
    app.deliver(&serde_json::to_vec(&body).unwrap()).await;

    let deadline = Instant::now() + Duration::from_secs(10);
    while app
        .store
        .outbox(Some(JobState::Sent), 10)
        .await
        .unwrap()
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the confirmation was not sent");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let json: Value = serde_json::from_slice(&requests[0].body).unwrap();
    let subject = json["subject"].as_str().unwrap();
    assert!(subject.starts_with("Bestätigt: Intro Call"), "{subject}");
    let text = json["text"].as_str().unwrap();
    assert!(text.starts_with("Hallo Marco Rossi,"), "{text}");
    assert!(text.contains("Dauer: 30 Minuten"), "{text}");
    assert!(text.contains("Wo: Cal Video"), "{text}");
    assert!(
        text.contains(&format!(
            "Verschieben: https://acme-org.cal.com/reschedule/{uid}"
        )),
        "the payload's bookerUrl, kept with the booking: {text}"
    );
    let html = json["html"].as_str().unwrap();
    assert!(html.contains("<html lang=\"de\">"), "{html}");
    assert!(html.contains(">Absagen</a>"), "{html}");
}
