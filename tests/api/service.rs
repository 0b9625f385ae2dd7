//! Running calbook as a service, with the real binary: `--version`, `healthcheck` against a
//! running server, and `backup` while the server takes deliveries (the copy, restored, serves
//! the bookings it holds).

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use reqwest::StatusCode;

use crate::helpers::*;

fn calbook(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_calbook"));
    cmd.args(args)
        .env_remove("CALCOM_WEBHOOK_SECRET")
        .env_remove("DATABASE_URL")
        .env_remove("CALBOOK_BIND")
        .env_remove("CALBOOK_HEALTHCHECK_URL")
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run the calbook binary")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn version_names_the_package_version_and_the_commit() {
    let out = calbook(&["--version"], &[]);
    assert!(out.status.success());
    let v = text(&out.stdout);
    let prefix = format!("calbook {} (commit ", env!("CARGO_PKG_VERSION"));
    assert!(v.starts_with(&prefix) && v.trim_end().ends_with(')'), "{v}");
    let commit = &v.trim_end()[prefix.len()..v.trim_end().len() - 1];
    // Built from this checkout: the commit is HEAD's (build.rs reruns when HEAD moves).
    if let Ok(git) = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        && git.status.success()
    {
        assert_eq!(commit, text(&git.stdout).trim(), "{v}");
    } else {
        assert!(!commit.is_empty(), "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_exits_0_for_a_ready_server_and_1_otherwise() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let url = app.url("/readyz");
    let ok = calbook(&["healthcheck", "--url", &url], &[]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("ready"));
    // Without --url: /readyz on CALBOOK_BIND, on the loopback when it binds every address.
    let bind = format!("0.0.0.0:{}", app.addr.port());
    let ok = calbook(&["healthcheck"], &[("CALBOOK_BIND", &bind)]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));

    // A server that is up but not ready (503), and no server at all.
    let not_ready = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/readyz"))
        .respond_with(wiremock::ResponseTemplate::new(503))
        .mount(&not_ready)
        .await;
    let out = calbook(
        &[
            "healthcheck",
            "--url",
            &format!("{}/readyz", not_ready.uri()),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("503"), "{}", text(&out.stderr));
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = calbook(
        &["healthcheck", "--url", &format!("http://{closed}/readyz")],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("unhealthy: no answer"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_copies_sqlite_while_serving_and_the_restored_copy_serves_the_bookings() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.deliver_sample("created").await;
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("calbook-backup.db");
    let copy_arg = copy.to_str().unwrap().to_owned();

    // Deliveries keep arriving while the backup runs.
    let writer = {
        let app_url = app.webhook_url();
        let client = app.client.clone();
        tokio::spawn(async move {
            for i in 0..150 {
                let uid = format!("BackupUid{i:013}");
                let body = booked_by(&uid, 24 + i, "Lee Park", "lee.park@example.com");
                let sig = calbook::webhook::sign(SAMPLE_SECRET.as_bytes(), &body);
                let r = client
                    .post(&app_url)
                    .header("x-cal-signature-256", sig)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::OK);
            }
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let db_url = app.db.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        calbook(&["backup", &copy_arg], &[("DATABASE_URL", &db_url)])
    })
    .await
    .unwrap();
    writer.await.unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("quick_check: ok"), "{said}");
    assert!(said.contains("to restore: stop calbook"), "{said}");
    assert_eq!(
        std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
        0o600,
        "the copy holds personal data"
    );
    // A second backup to the same file is refused, the first copy untouched.
    let again = calbook(
        &["backup", copy.to_str().unwrap()],
        &[("DATABASE_URL", &app.db.url)],
    );
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("already exists"));

    // Restore: a server started on the copy serves what it holds, each booking with its history.
    let restored = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.database_url = Some(format!("sqlite://{}", copy.display()));
    })
    .await;
    let (status, _, body) = get(
        &restored,
        &format!("/api/bookings/{CREATED_UID}"),
        Some(ADMIN_TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["uid"], CREATED_UID);
    let in_copy = restored.count("bookings").await;
    assert!(
        (1..=151).contains(&in_copy),
        "{in_copy} bookings: the one before the backup, and the ones committed by then"
    );
    assert_eq!(
        restored.count("booking_history").await,
        in_copy,
        "a consistent snapshot: every booking in the copy has its history entry"
    );
    assert_eq!(app.count("bookings").await, 151, "the server kept serving");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_refuses_postgres_and_a_missing_database_and_creates_nothing() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    let out = calbook(
        &["backup", copy.to_str().unwrap()],
        &[("DATABASE_URL", &app.db.url)],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("pg_dump") && err.contains("pg_restore"),
        "{err}"
    );
    assert!(!err.contains(&app.db.url), "no password echoed: {err}");
    assert!(!copy.exists());

    let nowhere = dir.path().join("no-data-here");
    let out = calbook(
        &["backup", copy.to_str().unwrap()],
        &[("CALBOOK_DATA_DIR", nowhere.to_str().unwrap())],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no SQLite database at"),
        "{}",
        text(&out.stderr)
    );
    assert!(!nowhere.exists() && !copy.exists(), "nothing created");
}
