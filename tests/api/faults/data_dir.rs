//! The data is where the user thinks it is: CLI commands other than `serve` and `migrate` never
//! create a data directory or a database, `calbook secret` never generates one, `sqlite://` with
//! no path and a URL naming a missing directory are refused, and the log names the database.

use std::process::{Command, Output};

fn calbook(cwd: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_calbook"));
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("CALCOM_WEBHOOK_SECRET")
        .env_remove("CALBOOK_DATA_DIR")
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "info");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run the calbook binary")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Before, `cd elsewhere; calbook secret` printed a brand-new secret (a second setup in
/// `./calbook-data`) and `bookings list` there created an empty database.
#[test]
fn read_only_commands_in_the_wrong_directory_create_nothing_and_say_where_they_looked() {
    let elsewhere = tempfile::tempdir().unwrap();
    for args in [
        &["secret"][..],
        &["bookings", "list"],
        &["deliveries", "list"],
        &["outbox", "list"],
    ] {
        let out = calbook(elsewhere.path(), &[], args);
        assert!(!out.status.success(), "{args:?} fails: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("calbook-data") && err.contains("CALBOOK_DATA_DIR"),
            "{args:?} says where it looked and how to point it elsewhere: {err}"
        );
        assert!(
            !elsewhere.path().join("calbook-data").exists(),
            "{args:?} created no data directory"
        );
    }
}

#[test]
fn secret_prints_the_existing_secret_and_never_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("webhook-secret"), "whsec_the_one_serve_uses\n").unwrap();
    let data = data.to_str().unwrap();
    let out = calbook(dir.path(), &[("CALBOOK_DATA_DIR", data)], &["secret"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "whsec_the_one_serve_uses"
    );
}

#[test]
fn a_sqlite_url_without_a_path_or_with_a_missing_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/x.db");
    let missing_url = format!("sqlite://{}", missing.display());
    for url in ["sqlite://", missing_url.as_str()] {
        let out = calbook(dir.path(), &[("DATABASE_URL", url)], &["migrate"]);
        assert!(!out.status.success(), "{url} is refused");
        let err = stderr(&out);
        assert!(err.contains("DATABASE_URL"), "{url}: {err}");
    }
    assert!(
        !dir.path().join("no").exists(),
        "no folders made for a mistyped URL"
    );
}

#[test]
fn errors_say_their_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the data directory should be: before, "File exists (os error 17)" came
    // twice (the message and its source), as "Permission denied (os error 13)" did.
    let data = dir.path().join("data");
    std::fs::write(&data, "not a directory").unwrap();
    let out = calbook(
        dir.path(),
        &[("CALBOOK_DATA_DIR", data.to_str().unwrap())],
        &["migrate"],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    let last = err.lines().last().unwrap_or_default();
    let parts: Vec<&str> = last.split(": ").collect();
    for (i, p) in parts.iter().enumerate() {
        assert!(
            !parts[i + 1..].contains(p),
            "{p:?} is said twice in {last:?}"
        );
    }
}
