//! Migration 0017's backfill against the column calbook writes (issue 14): history written
//! through every path (webhooks of every counted shape, the sync), then `counts_as` cleared as an
//! older calbook left it and filled again by the migration's own UPDATE; both give the same value
//! on every entry, and the same weekly numbers, on both backends.

use calbook::store::{PeriodCounts, Store};
use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use serde_json::json;

use super::stats::seed_week;
use crate::helpers::*;
use crate::on_both_backends;
use crate::shapes::story::{Body, cancelled, deliver, week};
use crate::sync::{sync, syncer};

on_both_backends!(the_migrations_backfill_gives_what_calbook_writes);

const PAT: (&str, &str) = ("Pat Kim", "pat@example.com");
const GIA: (&str, &str) = ("Gia Russo", "gia@example.com");

/// `sql` on the app's database.
async fn execute(app: &TestApp, sql: String) {
    match &app.store {
        Store::Sqlite(s) => sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&s.pool)
            .await
            .map(drop),
        Store::Postgres(p) => sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(p)
            .await
            .map(drop),
    }
    .unwrap()
}

/// Every history entry as `(id, action, counts_as)`, in id order.
async fn entries(app: &TestApp) -> Vec<(String, String, Option<String>)> {
    let sql = "SELECT CAST(id AS TEXT), action, counts_as FROM booking_history ORDER BY id";
    match &app.store {
        Store::Sqlite(s) => sqlx::query_as(sql).fetch_all(&s.pool).await,
        Store::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await,
    }
    .unwrap()
}

/// The UPDATE of `migrations/<backend>/0017_history_counts_as.sql`, as shipped.
fn backfill(backend: Backend) -> String {
    let dir = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let path = format!(
        "{}/migrations/{dir}/0017_history_counts_as.sql",
        env!("CARGO_MANIFEST_DIR")
    );
    let migration = std::fs::read_to_string(&path).unwrap();
    let start = migration
        .find("UPDATE booking_history SET counts_as")
        .unwrap_or_else(|| panic!("{path} fills counts_as"));
    let len = migration[start..].find(';').unwrap();
    migration[start..start + len].to_owned()
}

/// A no-show event on `uid`: attendees' marks, or the host's (Cal Video's trigger).
fn no_show(uid: &str, attendees: &[(&str, bool)]) -> Vec<u8> {
    let marks: Vec<_> = attendees
        .iter()
        .map(|(email, marked)| json!({"email": email, "noShow": marked}))
        .collect();
    serde_json::to_vec(&json!({
        "triggerEvent": "BOOKING_NO_SHOW_UPDATED", "createdAt": "2026-03-10T15:00:00Z",
        "payload": {"bookingUid": uid, "attendees": marks}
    }))
    .unwrap()
}

fn host_no_show(uid: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "triggerEvent": "AFTER_HOSTS_CAL_VIDEO_NO_SHOW", "createdAt": "2026-03-10T15:00:00Z",
        "payload": {"bookingUid": uid, "hostEmail": "dana@example.com"}
    }))
    .unwrap()
}

async fn applied(app: &TestApp, body: &[u8]) {
    let (status, answer) = app.deliver(body).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (StatusCode::OK, Some("applied")),
        "{answer}"
    );
}

/// Beyond [`seed_week`]: a request, a paid booking, a series cancelled from its third
/// occurrence, a seated booking with a seat given up, no-show marks set and taken back on one
/// booking with two attendees, and three bookings the sync imports (one cancelled, one with its
/// attendee marked absent).
async fn seed_every_shape(app: &TestApp) {
    seed_week(app).await;
    assert_eq!(app.deliver_sample("requested").await.0, StatusCode::OK);

    let start = hours_from_now(48);
    let mut initiated = Body::booking(
        "BOOKING_PAYMENT_INITIATED",
        "StatsPaid000000000001",
        start,
        &[PAT],
    )
    .with("paymentId", json!(881));
    initiated.0["triggerEvent"] = json!("BOOKING_PAYMENT_INITIATED");
    let mut paid = Body::booking("BOOKING_PAID", "StatsPaid000000000001", start, &[PAT])
        .with("paymentId", json!(881))
        .with("paymentData", json!({"amount": 4500, "currency": "eur"}));
    paid.0["triggerEvent"] = json!("BOOKING_PAID");
    for body in [initiated, paid] {
        assert_eq!(deliver(app, &body).await, "applied");
    }

    let occurrence = |n: i64| {
        Body::booking(
            "BOOKING_CREATED",
            &format!("StatsSeries0000000000{n}"),
            week(n),
            &[PAT],
        )
        .weekly(4)
    };
    for n in 0..4 {
        assert_eq!(deliver(app, &occurrence(n)).await, "applied");
    }
    assert_eq!(
        deliver(app, &cancelled(occurrence(2), "moving away")).await,
        "applied"
    );

    let seat =
        |who| Body::booking("BOOKING_CREATED", "StatsSeated0000000001", start, &[who]).seated(true);
    for body in [seat(PAT), seat(GIA), cancelled(seat(GIA), "travelling")] {
        assert_eq!(deliver(app, &body).await, "applied");
    }

    let marked = "StatsNoShow0000000001";
    assert_eq!(
        deliver(
            app,
            &Body::booking("BOOKING_CREATED", marked, start, &[PAT, GIA])
        )
        .await,
        "applied"
    );
    applied(app, &no_show(marked, &[(PAT.1, true)])).await;
    applied(app, &no_show(marked, &[(GIA.1, true)])).await;
    // Gia's mark taken back while Pat's stays: no no-show.
    applied(app, &no_show(marked, &[(GIA.1, false)])).await;
    applied(app, &host_no_show(marked)).await;

    let api = CalcomApi::start().await;
    api.put(api_booking("StatsSyncA", "accepted", 72, "sa@example.com"));
    api.put(api_booking("StatsSyncC", "cancelled", 73, "sc@example.com"));
    let mut absent = api_booking("StatsSyncN", "accepted", -3, "sn@example.com");
    absent["attendees"][0]["absent"] = json!(true);
    api.put(absent);
    let report = sync(&mut syncer(app, &api)).await;
    assert_eq!(report.created, 3);
}

async fn the_migrations_backfill_gives_what_calbook_writes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let from = Timestamp::now() - SignedDuration::from_mins(1);
    seed_every_shape(&app).await;
    let to = Timestamp::now() + SignedDuration::from_mins(1);

    let written = entries(&app).await;
    let counts = app.store.weekly_counts(&[from, to]).await.unwrap();
    assert_eq!(
        counts,
        [PeriodCounts {
            bookings: 14,
            cancellations: 4,
            reschedules: 1,
            no_shows: 5,
        }],
        "{written:#?}"
    );
    let sync_entries = match &app.store {
        Store::Sqlite(s) => sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM booking_history WHERE source = 'sync' AND counts_as IS NOT NULL",
        )
        .fetch_one(&s.pool)
        .await,
        Store::Postgres(p) => sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM booking_history WHERE source = 'sync' AND counts_as IS NOT NULL",
        )
        .fetch_one(p)
        .await,
    }
    .unwrap();
    assert_eq!(sync_entries, 4, "the sync writes the column too");

    // As an older calbook left them, then the migration's UPDATE.
    execute(
        &app,
        "UPDATE booking_history SET counts_as = NULL".to_owned(),
    )
    .await;
    assert_eq!(
        app.store.weekly_counts(&[from, to]).await.unwrap(),
        [PeriodCounts::default()],
        "nothing counts without the column"
    );
    execute(&app, backfill(backend)).await;

    let filled = entries(&app).await;
    assert_eq!(filled.len(), written.len());
    for (w, f) in written.iter().zip(&filled) {
        assert_eq!(w, f, "the backfill differs from the written value");
    }
    assert_eq!(app.store.weekly_counts(&[from, to]).await.unwrap(), counts);
}
