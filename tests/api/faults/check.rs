//! `calbook check` validates the whole configuration and prints a table: the webhook secret, the
//! database (reachable and writable), the mail transport (reachable, key accepted) and, when
//! `CALCOM_API_KEY` is set, the Cal.com API key (`GET /v2/me`).

use std::process::{Command, Output};

use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

fn check(app: &TestApp, resend: &MockServer, calcom: &MockServer, key: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_calbook"))
        .arg("check")
        .env_remove("SMTP_URL")
        .env("CALCOM_WEBHOOK_SECRET", SAMPLE_SECRET)
        .env("CALBOOK_DATA_DIR", &app.settings.data_dir)
        .env("DATABASE_URL", &app.db.url)
        .env("RESEND_API_KEY", "re_test_key")
        .env("RESEND_BASE_URL", resend.uri())
        .env("EMAIL_FROM", "Acme <bookings@acme.example>")
        .env("CALCOM_API_KEY", key)
        .env("CALCOM_API_URL", calcom.uri())
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the calbook binary")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_prints_a_table_and_fails_on_a_refused_key() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let resend = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/domains"))
        .and(header("authorization", "Bearer re_test_key"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"data": []})))
        .mount(&resend)
        .await;
    let calcom = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/me"))
        .and(header("authorization", "Bearer cal_live_good"))
        .and(header("cal-api-version", "2024-08-13"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"status": "success"})),
        )
        .mount(&calcom)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/me"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&calcom)
        .await;

    let out = check(&app, &resend, &calcom, "cal_live_good");
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{table}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for row in [
        "webhook secret",
        "database",
        "mail transport",
        "Cal.com API key",
    ] {
        assert!(
            table
                .lines()
                .any(|l| l.starts_with(row) && l.contains(" ok ")),
            "{row} is ok:\n{table}"
        );
    }

    let out = check(&app, &resend, &calcom, "cal_live_wrong");
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        !out.status.success(),
        "a refused key fails the check:\n{table}"
    );
    assert!(
        table.lines().any(|l| l.starts_with("Cal.com API key")
            && l.contains("FAIL")
            && l.contains("CALCOM_API_KEY")),
        "{table}"
    );
}
