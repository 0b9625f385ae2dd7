//! The holes found by attacking calbook (security issue), each as the attack that worked before:
//! booker-chosen meeting links, attendee fan-out, unthrottled token guessing, world-readable
//! files. Ownership proofs are in `ingest.rs`, the booking page's proof in `web.rs`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    a_booker_set_meeting_link_is_never_a_link,
    a_delivery_with_too_many_attendees_is_rejected_and_sends_nothing,
    token_guessing_is_throttled_per_client_on_every_sign_in_path,
);

/// The created sample with `edit` applied to its payload.
fn created_with(uid: &str, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut body: Value = serde_json::from_slice(&created_at(hours_from_now(48), uid)).unwrap();
    edit(&mut body["payload"]);
    serde_json::to_vec(&body).unwrap()
}

/// Row 5: `metadata[videoCallUrl]` is booker-settable. Without a Cal.com video call it must not
/// become a clickable link in the emails, the invite or the dashboard.
async fn a_booker_set_meeting_link_is_never_a_link(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let uid = "PhishingLink0000000001";
    let body = created_with(uid, |p| {
        p.as_object_mut().unwrap().remove("videoCallData");
        p["location"] = json!("integrations:daily");
        p["metadata"]["videoCallUrl"] = json!("https://evil.example/join");
    });
    assert_eq!(app.deliver(&body).await.0, StatusCode::OK);
    app.drain_outbox().await;
    let mail_dir = app.settings.data_dir.join("mail");
    let emails: Vec<String> = std::fs::read_dir(&mail_dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(!emails.is_empty(), "the confirmation was written");
    for eml in &emails {
        assert!(
            !eml.contains("evil.example"),
            "no usable link in the email or its invite:\n{eml}"
        );
        assert!(eml.contains("hxxps://evil[.]example/join"), "{eml}");
    }

    let admin = app.sign_in_as_admin().await;
    let (_, page) = admin.get(&app, &format!("/admin/bookings/{uid}")).await;
    assert!(
        page.contains("https:&#x2f;&#x2f;evil.example&#x2f;join")
            || page.contains("https://evil.example/join"),
        "shown as text"
    );
    assert!(!page.contains("href=\"https:&#x2f;&#x2f;evil"), "{page}");
    assert!(!page.contains("href=\"https://evil"), "{page}");

    // Cal.com's own video call (the sample's videoCallData) stays a link.
    app.deliver(&created_at(hours_from_now(72), "RealVideoLink000000001"))
        .await;
    let (_, page) = admin
        .get(&app, "/admin/bookings/RealVideoLink000000001")
        .await;
    assert!(
        page.contains("<a href=\"https:&#x2f;&#x2f;video.example.com"),
        "{page}"
    );
}

/// Row 2: one signed body with 1,000 guests queued 3,003 emails. Over the limit it is rejected
/// (stored, 400, reason naming the setting) and plans nothing.
async fn a_delivery_with_too_many_attendees_is_rejected_and_sends_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = created_with("FanOut0000000000000001", |p| {
        p["attendees"] = (0..101)
            .map(|i| json!({"name": format!("Guest {i}"), "email": format!("guest{i}@example.com"), "timeZone": "UTC"}))
            .collect();
    });
    let (status, answer) = app.deliver(&body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("CALBOOK_MAX_ATTENDEES"),
        "{answer}"
    );
    assert_eq!(app.deliveries_with("rejected").await, 1);
    assert_eq!(app.count("email_outbox").await, 0);
    assert!(app.maybe_booking("FanOut0000000000000001").await.is_none());
}

async fn status_of(req: reqwest::RequestBuilder) -> (StatusCode, Option<String>) {
    let r = req.send().await.unwrap();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (r.status(), retry)
}

/// Row 3: wrong bearer tokens ran at 2,100/s, all 401, while 10 bad form sign-ins locked the
/// real owner out. Now every token check counts against the client's address; a browser with a
/// session is not affected; another client is not affected.
async fn token_guessing_is_throttled_per_client_on_every_sign_in_path(backend: Backend) {
    let app = TestApp::spawn_with_supabase(backend).await;
    let session = app.sign_in_as_admin().await;
    let http = no_redirects();
    for i in 0..10 {
        let (status, _) = status_of(
            http.get(app.url("/api/bookings"))
                .bearer_auth(format!("guess-{i}")),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The eleventh check from this address is refused before it is made, even a right token.
    let good = hs256(&claims(CLIENT_1, "ann@example.com"));
    let (status, retry) = status_of(http.get(app.url("/api/bookings")).bearer_auth(&good)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry.unwrap().parse::<u64>().unwrap() >= 1);
    let (status, _) = status_of(
        http.get(app.url("/admin/bookings"))
            .bearer_auth(ADMIN_TOKEN),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "a bearer on the dashboard is not honoured either: to the sign-in page"
    );
    let form = http.get(app.url("/admin/login")).send().await.unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    // The browser already signed in keeps its dashboard.
    let (status, _) = status_of(
        http.get(app.url("/admin/bookings"))
            .header("cookie", &session.cookie),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

/// Behind a trusted proxy, the client is the address the proxy names; without that setting,
/// `X-Forwarded-For` is the client's own words and is ignored.
#[tokio::test]
async fn behind_a_trusted_proxy_each_client_is_throttled_on_its_own() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.trusted_proxies = calbook::http::client_addr::parse_trusted_proxies("127.0.0.1").unwrap();
    })
    .await;
    let http = no_redirects();
    let call = |client: &'static str| {
        http.get(app.url("/api/bookings"))
            .header("x-forwarded-for", format!("6.6.6.6, {client}"))
            .bearer_auth("wrong")
    };
    for _ in 0..10 {
        assert_eq!(
            status_of(call("198.51.100.1")).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        status_of(call("198.51.100.1")).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        status_of(call("198.51.100.2")).await.0,
        StatusCode::UNAUTHORIZED,
        "another client behind the same proxy is still heard"
    );

    let direct = TestApp::spawn(Backend::Sqlite).await;
    for i in 0..10 {
        let r = http
            .get(direct.url("/api/bookings"))
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .bearer_auth("wrong");
        assert_eq!(status_of(r).await.0, StatusCode::UNAUTHORIZED);
    }
    let r = http
        .get(direct.url("/api/bookings"))
        .header("x-forwarded-for", "203.0.113.200")
        .bearer_auth("wrong");
    assert_eq!(
        status_of(r).await.0,
        StatusCode::TOO_MANY_REQUESTS,
        "an untrusted X-Forwarded-For does not buy a fresh count"
    );
}

/// Row 8: the database, its WAL, the mail folder and every `.eml` were world-readable.
#[cfg(unix)]
#[tokio::test]
async fn data_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.deliver_sample("created").await;
    app.drain_outbox().await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let data = &app.settings.data_dir;
    assert_eq!(mode(data), 0o700, "data dir");
    assert_eq!(mode(&data.join("mail")), 0o700, "mail dir");
    let db = std::path::PathBuf::from(app.db.url.trim_start_matches("sqlite://"));
    let wal = db.with_extension("db-wal");
    assert!(wal.exists(), "the WAL is there to check");
    let files = std::fs::read_dir(data)
        .unwrap()
        .chain(std::fs::read_dir(data.join("mail")).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .chain([db, wal]);
    let mut checked = 0;
    for path in files {
        assert_eq!(mode(&path), 0o600, "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 3, "an email, the database and its WAL");
}
