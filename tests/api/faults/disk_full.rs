//! A full SQLite file answers 503 with `Retry-After` (never 500), and calbook takes deliveries
//! again by itself once space is back: no connection stays stuck in a transaction SQLite already
//! rolled back. The disk is made "full" with SQLite's `max_page_count` (a tmpfs mount needs
//! privileges CI does not have); SQLite answers `SQLITE_FULL` exactly as it does on a full disk.

use reqwest::StatusCode;

use crate::helpers::*;

/// Pages the test database may grow to: room for the schema and a few deliveries.
const PAGES: u64 = 400;

async fn sqlite_pool(app: &TestApp) -> sqlx::SqlitePool {
    match &app.store {
        calbook::store::Store::Sqlite(s) => s.pool.clone(),
        calbook::store::Store::Postgres(_) => unreachable!("a SQLite test"),
    }
}

/// Fills the file to its page cap with a filler table (through the app's own pool, so the same
/// cap applies).
pub(super) async fn fill(pool: &sqlx::SqlitePool) {
    sqlx::query("CREATE TABLE filler (b BLOB)")
        .execute(pool)
        .await
        .unwrap();
    // Big rows first, then ever smaller ones into what space is left.
    for size in [16_000, 1_000, 20] {
        loop {
            let r = sqlx::query("INSERT INTO filler VALUES (zeroblob($1))")
                .bind(size)
                .execute(pool)
                .await;
            match r {
                Ok(_) => continue,
                Err(sqlx::Error::Database(e)) if e.message().contains("full") => break,
                Err(e) => panic!("filling the database: {e}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sqlite_file_answers_503_and_heals_once_space_is_back() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.store.sqlite_max_page_count = Some(PAGES);
    })
    .await;
    let pool = sqlite_pool(&app).await;
    fill(&pool).await;

    // Full: what little room is left goes to the first deliveries; from the first refusal on,
    // every delivery is refused with 503 and Retry-After, never 500.
    let mut refused = 0;
    for i in 0..200 {
        let body = booked_by(&format!("full-{i}"), 48 + i, "Ana", "ana@example.com");
        let sig = calbook::webhook::sign(SAMPLE_SECRET.as_bytes(), &body);
        let res = app
            .client
            .post(app.webhook_url())
            .header("content-type", "application/json")
            .header("x-cal-signature-256", sig)
            .body(body)
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::OK && refused == 0 {
            continue;
        }
        assert_eq!(
            res.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "delivery {i} on a full disk"
        );
        assert!(
            res.headers().contains_key("retry-after"),
            "503 says when to retry"
        );
        refused += 1;
        if refused == 12 {
            break;
        }
    }
    assert_eq!(refused, 12, "the full database refused deliveries");
    let stored_while_full = app.count("bookings").await;

    // Space is back: the filler's pages go to the free list, and later writes reuse them.
    sqlx::query("DROP TABLE filler")
        .execute(&pool)
        .await
        .unwrap();

    // Every connection of the pool gets used again; none is stuck in a dead transaction.
    for i in 0..12 {
        let (status, body) = app
            .deliver(&booked_by(
                &format!("back-{i}"),
                48 + i,
                "Ana",
                "ana@example.com",
            ))
            .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "delivery {i} after space is back: {body}"
        );
        let claim = app.store.begin().await;
        assert!(
            claim.is_ok(),
            "a pooled write transaction begins: {:?}",
            claim.err()
        );
    }
    assert_eq!(app.count("bookings").await, stored_while_full + 12);
}
