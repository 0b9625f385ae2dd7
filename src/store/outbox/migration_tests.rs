//! Migration 0006 rebuilds SQLite's `email_outbox` to drop the CHECK on `kind`: rows and
//! indexes must come through it unchanged.

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};

use super::row::{self, COLUMNS};
use crate::outbox::{EmailKind, JobState, OutboxJob, Role};

fn job(i: u128, kind: EmailKind, state: JobState) -> OutboxJob {
    let t: jiff::Timestamp = "2026-03-10T13:00:00Z".parse().unwrap();
    OutboxJob {
        id: uuid::Uuid::from_u128(i),
        idempotency_key: format!("k/{i}"),
        kind,
        booking_id: uuid::Uuid::from_u128(99),
        booking_uid: "A".into(),
        recipient_email: format!("r{i}@example.com"),
        recipient_name: Some("R".into()),
        recipient_time_zone: None,
        recipient_role: Role::Host,
        reminder_lead_seconds: Some(3600),
        scheduled_start: Some(t),
        due_at: t,
        state,
        attempts: 2,
        last_error: Some("e".into()),
        lease_token: None,
        leased_until: None,
        provider_id: None,
        sent_at: None,
        created_at: t,
        updated_at: t,
    }
}

async fn indexes(pool: &SqlitePool) -> Vec<(String, String)> {
    sqlx::query(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'email_outbox' \
         AND sql IS NOT NULL ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

async fn all_jobs(pool: &SqlitePool) -> Vec<OutboxJob> {
    super::sqlite::jobs(pool, row::for_booking(uuid::Uuid::from_u128(99)))
        .await
        .unwrap()
}

#[tokio::test]
async fn the_sqlite_rebuild_keeps_every_row_and_index_and_accepts_any_kind() {
    let options = SqliteConnectOptions::new()
        .in_memory(true)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    let migrator = sqlx::migrate!("migrations/sqlite");
    migrator.run_to(5, &pool).await.unwrap();
    sqlx::query(
        "INSERT INTO bookings (id, title, starts_at, ends_at, created_at, updated_at, external_id) \
         VALUES ($1, 't', 'a', 'b', 'c', 'd', 'A')",
    )
    .bind(uuid::Uuid::from_u128(99).to_string())
    .execute(&pool)
    .await
    .unwrap();
    // The kinds 0002's CHECK knew (later kinds need no migration: that is what 0006 is for).
    let before: Vec<OutboxJob> = EmailKind::ALL[..6]
        .iter()
        .copied()
        .zip(JobState::ALL.into_iter().cycle())
        .enumerate()
        .map(|(i, (kind, state))| job(i as u128, kind, state))
        .collect();
    super::sqlite::execute(&pool, row::insert(crate::store::Backend::Sqlite, &before))
        .await
        .unwrap();
    let unknown_kind = format!(
        "INSERT INTO email_outbox ({}) SELECT {} FROM email_outbox LIMIT 1",
        COLUMNS.join(", "),
        COLUMNS
            .map(|c| match c {
                "id" => "'new'",
                "idempotency_key" => "'new'",
                "kind" => "'welcome'",
                other => other,
            })
            .join(", ")
    );
    assert!(
        sqlx::query(sqlx::AssertSqlSafe(unknown_kind.clone()))
            .execute(&pool)
            .await
            .is_err(),
        "before 0006 the CHECK refuses an unknown kind"
    );
    let indexes_before = indexes(&pool).await;
    assert_eq!(indexes_before.len(), 3, "{indexes_before:?}");

    // 0006 is the rebuild under test (0010 changes the due index on purpose).
    migrator.run_to(6, &pool).await.unwrap();

    assert_eq!(all_jobs(&pool).await, before);
    assert_eq!(indexes(&pool).await, indexes_before);
    sqlx::query(sqlx::AssertSqlSafe(unknown_kind))
        .execute(&pool)
        .await
        .expect("after 0006 the table takes any kind");
    sqlx::query("DELETE FROM bookings")
        .execute(&pool)
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM email_outbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "the foreign key still cascades");
}
