//! An email in the attendee's language, through the real path: the signed webhook, the store
//! (the attendee's locale and the payload's `bookerUrl` kept with the booking), the outbox
//! worker, the renderer and the Resend stand-in.

use std::process::{Command, Stdio};
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

/// `calbook <args>` with a templates directory holding a language file with a misspelt key.
fn with_bad_language_file(app: &TestApp, dir: &std::path::Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_calbook"));
    c.args(args)
        .env_remove("SMTP_URL")
        .env_remove("RESEND_API_KEY")
        .env("CALCOM_WEBHOOK_SECRET", SAMPLE_SECRET)
        .env("CALBOOK_DATA_DIR", &app.settings.data_dir)
        .env("DATABASE_URL", &app.db.url)
        .env("CALBOOK_TEMPLATES_DIR", dir)
        .env("CALBOOK_BIND", "127.0.0.1:0")
        .env("RUST_LOG", "warn");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_language_file_stops_check_and_serve_naming_the_file_and_the_fix() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("lang")).unwrap();
    let file = dir.path().join("lang/de.json");
    std::fs::write(&file, r#"{"button.cancle": "Absagen"}"#).unwrap();
    let says_what_and_how = |out: &str| {
        out.contains(&file.display().to_string())
            && out.contains("unknown message key \"button.cancle\"")
            && out.contains("use the keys of the built-in en.json")
    };

    let out = with_bad_language_file(&app, dir.path(), &["check"])
        .output()
        .unwrap();
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{shown}");
    assert!(says_what_and_how(&shown), "{shown}");

    // `serve` refuses to start (within seconds, not at the first email).
    let mut serve = with_bad_language_file(&app, dir.path(), &["serve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while serve.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            serve.kill().unwrap();
            panic!("calbook serve started with a bad language file");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = serve.wait_with_output().unwrap();
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{shown}");
    assert!(says_what_and_how(&shown), "{shown}");
}
