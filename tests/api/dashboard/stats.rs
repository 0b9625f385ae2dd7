//! The numbers a business looks at (issue 14): `GET /api/stats` for admins, and `/admin/stats`
//! with its chart, on both backends.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::cancelled;
use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    stats_count_this_weeks_bookings_cancellations_reschedules_and_no_shows,
    stats_are_for_admins_only
);

/// A no-show mark on `uid`'s attendee Marco Rossi.
fn no_show(uid: &str, marked: bool) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "triggerEvent": "BOOKING_NO_SHOW_UPDATED", "createdAt": "2026-03-10T15:00:00Z",
        "payload": {"bookingUid": uid,
                    "attendees": [{"email": "marco.rossi@example.com", "noShow": marked}]}
    }))
    .unwrap()
}

/// Four new bookings (one moved, one cancelled), one no-show marked then taken back, in a fresh
/// database: this week's counts.
pub async fn seed_week(app: &TestApp) {
    let a = created_at(hours_from_now(30), "StatsA000000000000001");
    let b = created_at(hours_from_now(31), "StatsB000000000000001");
    let c = created_at(hours_from_now(32), "StatsC000000000000001");
    for body in [&a, &b, &c] {
        assert_eq!(app.deliver(body).await.0, StatusCode::OK);
    }
    assert_eq!(app.deliver(&cancelled(&c)).await.0, StatusCode::OK);
    // CREATED_UID is booked, then moved to RESCHEDULED_UID: one booking, one reschedule.
    assert_eq!(app.deliver_sample("created").await.0, StatusCode::OK);
    assert_eq!(app.deliver_sample("rescheduled").await.0, StatusCode::OK);
    assert_eq!(
        app.booking(RESCHEDULED_UID)
            .await
            .rescheduled_from
            .as_deref(),
        Some(CREATED_UID)
    );
    let (status, body) = app.deliver(&no_show("StatsA000000000000001", true)).await;
    assert_eq!(
        (status, &body["outcome"]),
        (StatusCode::OK, &json!("applied")),
        "{body}"
    );
    // Taking the mark back is no no-show.
    let (status, body) = app.deliver(&no_show("StatsA000000000000001", false)).await;
    assert_eq!(
        (status, &body["outcome"]),
        (StatusCode::OK, &json!("applied")),
        "{body}"
    );
}

/// What [`seed_week`] counts.
pub const SEEDED: [(&str, i64); 4] = [
    ("bookings", 4),
    ("cancellations", 1),
    ("reschedules", 1),
    ("no_shows", 1),
];

async fn stats_count_this_weeks_bookings_cancellations_reschedules_and_no_shows(backend: Backend) {
    let zone_name = "Europe/Berlin";
    let app = TestApp::spawn_with(backend, |s| {
        s.web.admin_time_zone = Some(zone_name.to_owned());
    })
    .await;
    seed_week(&app).await;

    let (status, headers, body) = get(&app, "/api/stats", Some(ADMIN_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["time_zone"], zone_name);
    let weeks = body["weeks"].as_array().unwrap();
    assert_eq!(weeks.len(), 12);
    // The last week is this one, from Monday 00:00 in Berlin.
    let zone = TimeZone::get(zone_name).unwrap();
    let today = Timestamp::now().to_zoned_datetime(zone.clone()).date();
    let monday = today
        .checked_sub(jiff::Span::new().days(i64::from(today.weekday().to_monday_zero_offset())))
        .unwrap();
    let this = &weeks[11];
    assert_eq!(this["week_start"], monday.to_string(), "{this}");
    let starts: Timestamp = this["starts_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(starts, monday.to_zoned_datetime(zone).unwrap().timestamp());
    for (key, n) in SEEDED {
        assert_eq!(this[key], n, "{key} this week: {this}");
        assert_eq!(body["totals"][key], n, "{key} in total: {body}");
    }
    for w in &weeks[..11] {
        for (key, _) in SEEDED {
            assert_eq!(w[key], 0, "{key} in an earlier week: {w}");
        }
    }

    // The same numbers on the page, in the table beside the chart.
    let session = app.sign_in_as_admin().await;
    let (status, page) = session.get(&app, "/admin/stats").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("role=\"img\""), "{page}");
    let totals = &page[page.find("id=\"stats-totals\"").unwrap()..];
    let totals = &totals[..totals.find("</tr>").unwrap()];
    assert_eq!(
        totals.matches("<td>").count(),
        4,
        "four columns of totals: {totals}"
    );
    assert!(
        totals.contains("<td>4</td><td>1</td><td>1</td><td>1</td>"),
        "{totals}"
    );
}

/// 401 without an admin token, 403 for a client, 200 for admins; and the store cuts periods where
/// it is told.
async fn stats_are_for_admins_only(backend: Backend) {
    let app = TestApp::spawn_with_supabase(backend).await;
    for (who, token) in [
        ("anonymous", None),
        ("a wrong token", Some("wrong-token-0123456789")),
    ] {
        let (status, headers, body) = get(&app, "/api/stats", token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{who}: {body}");
        assert!(
            headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        assert!(
            body["error"].is_string() && body["message"].is_string(),
            "{body}"
        );
    }
    let client = hs256(&claims(CLIENT_1, "ann@example.com"));
    let (status, _, body) = get(&app, "/api/stats", Some(&client)).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a client is no admin: {body}"
    );
    assert_eq!(body["error"], "forbidden");
    for token in [ADMIN_TOKEN.to_owned(), hs256(&admin_claims())] {
        let (status, _, body): (_, _, Value) = get(&app, "/api/stats", Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["weeks"].as_array().unwrap().len(), 12);
    }
    // The store cuts periods where it is told: an entry of now is in the period around now.
    app.deliver(&created_at(hours_from_now(5), "StatsBound00000000001"))
        .await;
    let now = Timestamp::now();
    let h = jiff::SignedDuration::from_hours(1);
    let counts = app
        .store
        .weekly_counts(&[now - h - h, now - h, now + h, now + h + h])
        .await
        .unwrap();
    let bookings: Vec<i64> = counts.iter().map(|c| c.bookings).collect();
    assert_eq!(bookings, [0, 1, 0]);
}

on_both_backends!(the_weekly_counts_read_the_history_by_its_time_index);

/// The statement behind `/api/stats` reads the history only through index-only range scans of
/// the partial index `booking_history_counts_idx` (migration 0017), one per week and kind: it
/// reads neither the table nor any entry's JSON
/// (on PostgreSQL, with sequential and bitmap scans off so that a small test table does not hide
/// whether the index alone can answer).
async fn the_weekly_counts_read_the_history_by_its_time_index(backend: Backend) {
    use calbook::store::Store;
    let app = TestApp::spawn(backend).await;
    let now = Timestamp::now();
    let week = jiff::SignedDuration::from_hours(24 * 7);
    let bounds: Vec<chrono::DateTime<chrono::Utc>> = (0..=12)
        .map(|i| {
            let t = now - week * (12 - i);
            chrono::DateTime::from_timestamp(t.as_second(), 0).unwrap()
        })
        .collect();
    let sql = app.store.weekly_counts_sql(12);
    let plan: Vec<String> = match &app.store {
        Store::Sqlite(s) => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")));
            for b in &bounds {
                q = q.bind(b.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
            }
            q.fetch_all(&s.pool)
                .await
                .unwrap()
                .iter()
                .map(|r| sqlx::Row::get::<String, _>(r, "detail"))
                .collect()
        }
        Store::Postgres(p) => {
            let mut conn = p.acquire().await.unwrap();
            for off in ["SET enable_seqscan = off", "SET enable_bitmapscan = off"] {
                sqlx::query(off).execute(&mut *conn).await.unwrap();
            }
            let mut q = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN {sql}")));
            for b in &bounds {
                q = q.bind(*b);
            }
            q.fetch_all(&mut *conn)
                .await
                .unwrap()
                .iter()
                .map(|r| sqlx::Row::get::<String, _>(r, 0))
                .collect()
        }
    };
    let index_only = match backend {
        Backend::Sqlite => "USING COVERING INDEX booking_history_counts_idx",
        Backend::Postgres => "Index Only Scan using booking_history_counts_idx",
    };
    // Every read of the history is one, and there is one.
    let reads: Vec<&String> = plan
        .iter()
        .filter(|line| line.contains("booking_history"))
        .collect();
    let plan = plan.join("\n");
    assert!(!reads.is_empty(), "{plan}");
    assert!(reads.iter().all(|r| r.contains(index_only)), "{plan}");
}
