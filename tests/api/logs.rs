//! RELIABILITY §7 item 36: the logs of a whole story, at debug level, hold no secret, signature,
//! email address or notes; they do hold the booking uids and body hashes used instead.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(logs_carry_uids_and_hashes_but_no_secrets_or_personal_data);

async fn logs_carry_uids_and_hashes_but_no_secrets_or_personal_data(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(backend, dir.path()).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_calbook"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("CALBOOK_DATA_DIR", dir.path().join("data"))
        .env("DATABASE_URL", &db.url)
        .env("CALCOM_WEBHOOK_SECRET", SAMPLE_SECRET)
        .env("CALBOOK_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start calbook serve");
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    for stream in [
        Box::new(child.stderr.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stdout.take().unwrap()),
    ] {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let addr = loop {
        let found = lines.lock().unwrap().iter().find_map(|l| {
            l.split("listening on http://")
                .nth(1)
                .map(|rest| rest.split_whitespace().next().unwrap().to_owned())
        });
        if let Some(a) = found {
            break a;
        }
        assert!(
            Instant::now() < deadline,
            "calbook did not start: {:?}",
            lines.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let url = format!("http://{addr}/api/webhooks/calcom");
    let client = reqwest::Client::new();
    let mut signatures = Vec::new();
    let mut post = async |body: Vec<u8>, secret: &[u8]| {
        let sig = calbook::webhook::sign(secret, &body);
        signatures.push(sig.clone());
        client
            .post(&url)
            .header("x-cal-signature-256", sig)
            .header(
                "authorization",
                "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl",
            )
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
    };
    for name in [
        "created",
        "rescheduled",
        "cancelled",
        "requested",
        "meeting_ended",
        "ping",
        "cancelled_request_reschedule",
    ] {
        assert!(
            post(sample(name), SAMPLE_SECRET.as_bytes())
                .await
                .is_success()
        );
    }
    post(sample("created"), SAMPLE_SECRET.as_bytes()).await; // duplicate
    post(sample("created"), b"wrong-secret").await; // 401
    // The bookings API: filters in the query, refused tokens.
    for token in [
        "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl",
        "not-the-admin-token-0123456789",
    ] {
        let res = client
            .get(url.replace(
                "/api/webhooks/calcom",
                "/api/bookings?attendee_email=marco.rossi@example.com&status=confirmed",
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), reqwest::StatusCode::UNAUTHORIZED);
    }
    // The pages: sign-in (wrong and right token), a search by email, a prefilled booking page.
    let base = url.replace("/api/webhooks/calcom", "");
    let pages = no_redirects();
    let form = pages
        .get(format!("{base}/admin/login"))
        .send()
        .await
        .unwrap();
    let login_cookie = form.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = form.text().await.unwrap();
    let nonce = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let mut session_cookie = String::new();
    for token in ["wrong-admin-token-0123456789", ADMIN_TOKEN] {
        let res = pages
            .post(format!("{base}/admin/login"))
            .header("cookie", &login_cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={nonce}&token={token}"))
            .send()
            .await
            .unwrap();
        if let Some(c) = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .find_map(|v| v.to_str().ok().filter(|v| v.starts_with("calbook_admin=")))
        {
            session_cookie = c.split(';').next().unwrap().to_owned();
        }
    }
    assert!(!session_cookie.is_empty(), "signed in");
    let res = pages
        .get(format!(
            "{base}/admin/bookings?view=past&q=marco.rossi%40example.com"
        ))
        .header("cookie", &session_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let res = pages
        .get(format!(
            "{base}/book?name=Marco%20Rossi&email=marco.rossi%40example.com"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    post(b"{\"triggerEvent\":\"BOOKING_CREATED\",\"payload\":{\"uid\":\"x\",\"attendees\":[{\"email\":\"leak@example.com\"}]}}".to_vec(), SAMPLE_SECRET.as_bytes()).await; // 400
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(100));

    let log = lines.lock().unwrap().join("\n");
    assert!(log.contains(CREATED_UID), "booking uids are logged: {log}");
    assert!(
        log.contains(&calbook::webhook::body_sha256(&sample("created"))),
        "body hashes are logged"
    );
    assert!(
        log.contains("calbook stopped"),
        "the whole run was captured"
    );
    let session_value = session_cookie
        .trim_start_matches("calbook_admin=")
        .to_owned();
    let forbidden = [
        SAMPLE_SECRET,
        ADMIN_TOKEN,
        "wrong-admin-token",
        nonce.as_str(),
        session_value.as_str(),
        "marco.rossi%40example.com",
        "Marco%20Rossi",
        "wrong-secret",
        "eyJhbGciOiJIUzI1NiJ9",
        "@example.com",
        // The file mailer's file names once held the recipient's address, sanitized.
        "example_com",
        "Would like to discuss the spring order",
        "Please review the Q1 draft",
        "Something came up at work",
        "Marco Rossi",
        "Priya Nair",
    ];
    for f in forbidden {
        assert!(!log.contains(f), "the log contains {f:?}:\n{log}");
    }
    for sig in &signatures {
        assert!(!log.contains(sig.as_str()), "the log contains a signature");
    }
}
