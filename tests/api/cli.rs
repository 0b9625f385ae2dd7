//! The operator CLI, run as the real binary against the same database as a running server.

use std::process::{Command, Output};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    bookings_and_deliveries_are_listed_and_shown_as_json,
    trigger_sends_signed_deliveries_the_server_accepts,
    migrate_is_idempotent,
);

pub fn calbook(app: &TestApp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_calbook"))
        .args(args)
        .env_remove("CALCOM_WEBHOOK_SECRET")
        .env("CALBOOK_DATA_DIR", &app.settings.data_dir)
        .env("DATABASE_URL", &app.db.url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the calbook binary")
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "calbook failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

async fn bookings_and_deliveries_are_listed_and_shown_as_json(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.deliver_sample("created").await;
    app.deliver_sample("rescheduled").await;

    let list = json_of(&calbook(&app, &["bookings", "list", "--json"]));
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["uid"], RESCHEDULED_UID, "newest start first");
    assert_eq!(list[0]["starts_at"], "2026-03-12T15:00:00Z");
    assert_eq!(list[0]["ends_at"], "2026-03-12T15:30:00Z");
    assert_eq!(list[0]["attendee_email"], "marco.rossi@example.com");
    assert_eq!(list[0]["rescheduled_from"], CREATED_UID);
    assert_eq!(list[1]["status"], "rescheduled");

    let only = json_of(&calbook(
        &app,
        &["bookings", "list", "--status", "rescheduled", "--json"],
    ));
    assert_eq!(only.as_array().unwrap().len(), 1);

    let shown = json_of(&calbook(&app, &["bookings", "show", CREATED_UID, "--json"]));
    assert_eq!(shown["status"], "rescheduled");
    assert_eq!(
        shown["title"],
        "Intro Call between Dana Whitfield and Marco Rossi"
    );
    assert_eq!(shown["rescheduled_to"], RESCHEDULED_UID);
    let history = shown["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["action"], "created");
    assert_eq!(history[1]["action"], "rescheduled");
    assert!(history[1]["created_at"].as_str().unwrap().ends_with('Z'));

    let text = calbook(&app, &["bookings", "show", CREATED_UID]);
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("rescheduled_to    Fh8cW1nRzq5TgK2mXy7Ud4")
    );

    let deliveries = json_of(&calbook(&app, &["deliveries", "list", "--json"]));
    let deliveries = deliveries.as_array().unwrap();
    assert_eq!(deliveries.len(), 2);
    assert_eq!(deliveries[0]["trigger_event"], "BOOKING_RESCHEDULED");
    assert_eq!(deliveries[0]["outcome"], "applied");
    let none = json_of(&calbook(
        &app,
        &["deliveries", "list", "--outcome", "rejected", "--json"],
    ));
    assert_eq!(none.as_array().unwrap().len(), 0);
    let bad = calbook(&app, &["deliveries", "list", "--outcome", "lost"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown delivery outcome \"lost\""));

    let missing = calbook(&app, &["bookings", "show", "NoSuchUid"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no booking with uid \"NoSuchUid\""));
    let bad = calbook(&app, &["bookings", "list", "--status", "lost"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown booking status \"lost\""));
}

async fn trigger_sends_signed_deliveries_the_server_accepts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let url = app.webhook_url();
    let run = |args: &[&str]| {
        let mut all = vec!["trigger"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--url", &url, "--secret", SAMPLE_SECRET]);
        calbook(&app, &all)
    };
    let out = run(&["created", "--uid", "TriggeredUid0000000001"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = run(&[
        "rescheduled",
        "--uid",
        "TriggeredUid0000000002",
        "--from",
        "TriggeredUid0000000001",
    ]);
    assert!(out.status.success());
    for event in [
        "cancelled",
        "requested",
        "rejected",
        "ping",
        "meeting-started",
        "meeting-ended",
        "reschedule-requested",
    ] {
        let out = run(&[event]);
        assert!(
            out.status.success(),
            "{event}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    assert_eq!(
        app.booking("TriggeredUid0000000001").await.status,
        calbook::booking::Status::Rescheduled
    );
    assert_eq!(app.count("webhook_deliveries").await, 9);

    // A wrong secret is refused, and the command says so with a failing exit status.
    let out = calbook(
        &app,
        &["trigger", "ping", "--url", &url, "--secret", "wrong"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("401"));
    let (status, _) = app.deliver_sample("ping").await;
    assert_eq!(status, StatusCode::OK);
}

async fn migrate_is_idempotent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.deliver_sample("created").await;
    for _ in 0..2 {
        let out = calbook(&app, &["migrate"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(app.count("bookings").await, 1);
}

/// `serve` generates the secret on its first start (through the same function as here);
/// `calbook secret` prints that one, the same every time, and never makes one of its own.
#[test]
fn the_secret_serve_generated_is_kept_private_and_printed() {
    let dir = tempfile::tempdir().unwrap();
    let settings = calbook::config::Settings::with_data_dir(dir.path());
    let (generated, source) = calbook::config::webhook_secrets(&settings).unwrap();
    assert!(matches!(
        source,
        calbook::config::SecretSource::Generated(_)
    ));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(calbook::config::secret_file(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the secret file is private");
    }
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_calbook"))
            .arg("secret")
            .env_remove("CALCOM_WEBHOOK_SECRET")
            .env("CALBOOK_DATA_DIR", dir.path())
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success());
    let secret = String::from_utf8(first.stdout).unwrap();
    assert_eq!(secret.trim(), generated.all().next().unwrap());
    assert_eq!(secret.trim().len(), 64);
    assert_eq!(
        String::from_utf8(run().stdout).unwrap(),
        secret,
        "the same secret every time"
    );
}

/// Every secret setting also reads `<NAME>_FILE` (Docker secrets, systemd credentials); both
/// at once is refused, naming them; a secret on the command line is warned about, unshown.
#[test]
fn secrets_come_from_files_and_flags_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let token_file = file("admin-token.secret", "token-from-a-file-0123456789\n");
    let secret_file = file("webhook.secret", "whsec-from-a-file\n");
    let db_file = file(
        "database-url.secret",
        &format!("sqlite://{}", dir.path().join("from-file.db").display()),
    );
    let run = |args: &[&str], envs: &[(&str, &std::path::Path)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_calbook"));
        c.args(args)
            .env_remove("CALCOM_WEBHOOK_SECRET")
            .env_remove("CALBOOK_ADMIN_TOKEN")
            .env_remove("DATABASE_URL")
            .env("CALBOOK_DATA_DIR", dir.path().join("data"))
            .env("RUST_LOG", "warn");
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let out = run(
        &["admin-token"],
        &[("CALBOOK_ADMIN_TOKEN_FILE", &token_file)],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "token-from-a-file-0123456789"
    );
    let out = run(&["secret"], &[("CALCOM_WEBHOOK_SECRET_FILE", &secret_file)]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "whsec-from-a-file"
    );
    let out = run(&["migrate"], &[("DATABASE_URL_FILE", &db_file)]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        dir.path().join("from-file.db").exists(),
        "the URL from the file was used"
    );

    let mut both = Command::new(env!("CARGO_BIN_EXE_calbook"));
    let out = both
        .arg("admin-token")
        .env("CALBOOK_DATA_DIR", dir.path().join("data"))
        .env("CALBOOK_ADMIN_TOKEN", "token-from-the-environment-012")
        .env("CALBOOK_ADMIN_TOKEN_FILE", &token_file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("both CALBOOK_ADMIN_TOKEN and CALBOOK_ADMIN_TOKEN_FILE are set"),
        "{err}"
    );
    let out = run(
        &["admin-token"],
        &[("CALBOOK_ADMIN_TOKEN_FILE", &dir.path().join("missing"))],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read CALBOOK_ADMIN_TOKEN_FILE"));

    let out = run(
        &["--admin-token", "flag-token-0123456789abc", "admin-token"],
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--admin-token") && err.contains("command-line flag"),
        "{err}"
    );
    assert!(
        !err.contains("flag-token-0123456789abc"),
        "the warning does not show the value"
    );
}

#[test]
fn a_bad_database_url_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_calbook"))
        .args(["bookings", "list"])
        .env("CALBOOK_DATA_DIR", dir.path())
        .env("DATABASE_URL", "mysql://localhost/x")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("DATABASE_URL must start with sqlite:// or postgres://")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_list_and_retry_report_what_they_did() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.deliver_sample("created").await;

    let listed = json_of(&calbook(&app, &["outbox", "list", "--json"]));
    let listed = listed.as_array().unwrap();
    // The sample meeting (March 2026) is in the past: the confirmation is planned, and no
    // reminder (their times had passed when the booking was made).
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["kind"], "confirmation");
    assert_eq!(listed[0]["state"], "pending");
    let pending = json_of(&calbook(
        &app,
        &["outbox", "list", "--state", "pending", "--json"],
    ));
    assert_eq!(pending.as_array().unwrap().len(), 1);
    let skipped = json_of(&calbook(
        &app,
        &["outbox", "list", "--state", "skipped", "--json"],
    ));
    assert_eq!(skipped.as_array().unwrap().len(), 0);

    let none = calbook(&app, &["outbox", "retry", "--all-dead"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("no dead emails"));
    let bad = calbook(&app, &["outbox", "list", "--state", "lost"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown outbox state \"lost\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_preview_renders_a_stored_booking_and_mail_test_sends_through_the_transport() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.deliver_sample("created").await;

    let out = calbook(
        &app,
        &["mail", "preview", "confirmation", "--booking", CREATED_UID],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("Subject: "), "{text}");
    assert!(text.contains("----- text/plain -----") && text.contains("----- text/html -----"));
    assert!(text.contains("America/New_York"), "the attendee's zone");
    let host = calbook(
        &app,
        &[
            "mail",
            "preview",
            "reminder",
            "--booking",
            CREATED_UID,
            "--host",
        ],
    );
    assert!(
        String::from_utf8_lossy(&host.stdout).contains("Europe/Berlin"),
        "the host's zone"
    );
    let bad = calbook(&app, &["mail", "preview", "invoice", "--booking", "x"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown email kind"));

    let sent = calbook(&app, &["mail", "test", "someone@example.com"]);
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert!(String::from_utf8_lossy(&sent.stdout).contains("sent through file"));
    let files = std::fs::read_dir(app.settings.data_dir.join("mail"))
        .unwrap()
        .count();
    assert_eq!(files, 1);

    // A real transport without a sender is a clear error.
    let out = Command::new(env!("CARGO_BIN_EXE_calbook"))
        .args(["mail", "test", "someone@example.com"])
        .env("CALBOOK_DATA_DIR", &app.settings.data_dir)
        .env("DATABASE_URL", &app.db.url)
        .env("SMTP_URL", "smtp://127.0.0.1:1")
        .env_remove("EMAIL_FROM")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("EMAIL_FROM is required"));
}
