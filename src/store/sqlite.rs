//! SQLite backend. One writer at a time (`BEGIN IMMEDIATE`), WAL journal, explicit
//! `synchronous`, `busy_timeout` and `foreign_keys` on every connection.

use std::collections::HashSet;
use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};
use uuid::Uuid;

use super::query::Arg;
use super::{BookingFilter, Delivery, Outcome, Result, StoreError, StoreOptions};
use crate::booking::{Booking, HistoryEntry};
use crate::time::{from_db_text, to_db_text};

const BOOKING_COLUMNS: &str = "id, external_id, calcom_booking_id, client_id, title, description, \
     notes, starts_at, ends_at, status, attendee_email, attendee_name, attendees, organizer, \
     location, meeting_url, ical_uid, ical_sequence, event_type_id, event_type_slug, metadata, \
     rescheduled_from, rescheduled_to, cancellation_reason, cancelled_by, rejection_reason, \
     meeting_started_at, meeting_ended_at, created_at, updated_at";

pub(super) async fn connect(url: &str, o: &StoreOptions) -> Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::Config(format!("DATABASE_URL: {e}")))?;
    if let Some(dir) = options.get_filename().parent()
        && !dir.as_os_str().is_empty()
        && dir != Path::new(":memory:")
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", dir.display())))?;
    }
    let options = options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // Commits write the WAL without waiting for the disk; durability for `full` comes from
        // `Store::durability_barrier`, which fsyncs the WAL outside the write lock.
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(o.sqlite_busy_timeout)
        .foreign_keys(true)
        // Checkpoints run in the background (see `checkpoint`), not inside a webhook's commit.
        .pragma("wal_autocheckpoint", "0");
    Ok(SqlitePoolOptions::new()
        .max_connections(4)
        .acquire_timeout(o.acquire_timeout)
        .connect_with(options)
        .await?)
}

/// Prepares the ingest writer's connection: 16 MiB of page cache (SQLite's default is 2 MiB),
/// so the index pages every insert touches stay in memory.
pub(super) async fn tune_writer(conn: &mut SqliteConnection) -> Result<()> {
    sqlx::query("PRAGMA cache_size = -16384")
        .execute(conn)
        .await?;
    Ok(())
}

/// Copies committed WAL pages into the database file (a PASSIVE checkpoint: it never blocks the
/// writer). Run periodically by the server, so commits do not pay for checkpoints.
pub(super) async fn checkpoint(p: &SqlitePool) -> Result<()> {
    sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .execute(p)
        .await?;
    Ok(())
}

pub(super) async fn applied_migrations(p: &SqlitePool) -> Result<i64> {
    let n = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(p)
        .await;
    match n {
        Ok(n) => Ok(n),
        Err(sqlx::Error::Database(e)) if e.message().contains("no such table") => Ok(0),
        Err(e) => Err(e.into()),
    }
}

fn json_list(items: &[&str]) -> String {
    serde_json::to_string(items).expect("a list of strings serializes")
}

pub(super) async fn seen_bodies(
    tx: &mut SqliteConnection,
    digests: &[&str],
) -> Result<HashSet<String>> {
    let rows = sqlx::query_scalar::<_, String>(
        "SELECT body_sha256 FROM webhook_deliveries \
         WHERE body_sha256 IN (SELECT value FROM json_each($1)) \
           AND outcome IN ('applied', 'ignored')",
    )
    .bind(json_list(digests))
    .fetch_all(tx)
    .await?;
    Ok(rows.into_iter().collect())
}

pub(super) async fn lock_bookings(
    tx: &mut SqliteConnection,
    uids: &[&str],
) -> Result<Vec<Booking>> {
    // The IMMEDIATE transaction already holds the database's write lock.
    let sql = format!(
        "SELECT {BOOKING_COLUMNS} FROM bookings WHERE external_id IN (SELECT value FROM json_each($1))"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(json_list(uids))
        .fetch_all(tx)
        .await?;
    rows.iter().map(booking_from_row).collect()
}

/// One multi-row INSERT of `chunk` into bookings, with the conflict clause `on_conflict`.
fn booking_rows(chunk: &[Booking], on_conflict: &str) -> QueryBuilder<Sqlite> {
    let mut q = QueryBuilder::<Sqlite>::new(format!(
        "INSERT INTO bookings ({BOOKING_COLUMNS}, provider) "
    ));
    q.push_values(chunk, |mut row, b| {
        row.push_bind(b.id.to_string())
            .push_bind(&b.uid)
            .push_bind(b.calcom_id)
            .push_bind(b.client_id.map(|u| u.to_string()))
            .push_bind(&b.title)
            .push_bind(&b.description)
            .push_bind(&b.notes)
            .push_bind(to_db_text(b.starts_at))
            .push_bind(to_db_text(b.ends_at))
            .push_bind(b.status.as_str())
            .push_bind(&b.attendee_email)
            .push_bind(&b.attendee_name)
            .push_bind(json(&b.attendees))
            .push_bind(b.organizer.as_ref().map(json))
            .push_bind(&b.location)
            .push_bind(&b.meeting_url)
            .push_bind(&b.ical_uid)
            .push_bind(b.ical_sequence)
            .push_bind(b.event_type_id)
            .push_bind(&b.event_type_slug)
            .push_bind(json(&b.metadata))
            .push_bind(&b.rescheduled_from)
            .push_bind(&b.rescheduled_to)
            .push_bind(&b.cancellation_reason)
            .push_bind(&b.cancelled_by)
            .push_bind(&b.rejection_reason)
            .push_bind(b.meeting_started_at.map(to_db_text))
            .push_bind(b.meeting_ended_at.map(to_db_text))
            .push_bind(to_db_text(b.created_at))
            .push_bind(to_db_text(b.updated_at))
            .push_bind("calcom");
    });
    q.push(on_conflict);
    q
}

pub(super) async fn insert_bookings(tx: &mut SqliteConnection, list: &[Booking]) -> Result<()> {
    for chunk in super::row_chunks(list) {
        let done = booking_rows(chunk, " ON CONFLICT (external_id) DO NOTHING")
            .build()
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != chunk.len() as u64 {
            return Err(StoreError::Conflict);
        }
    }
    Ok(())
}

/// Writes the new state of bookings already stored (read and locked in this transaction).
pub(super) async fn update_bookings(tx: &mut SqliteConnection, list: &[Booking]) -> Result<()> {
    for chunk in super::row_chunks(list) {
        let done = booking_rows(chunk, super::UPDATE_BOOKING_ON_CONFLICT)
            .build()
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != chunk.len() as u64 {
            return Err(StoreError::Conflict);
        }
    }
    Ok(())
}

pub(super) async fn insert_history(tx: &mut SqliteConnection, list: &[HistoryEntry]) -> Result<()> {
    for chunk in super::row_chunks(list) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO booking_history (id, booking_id, action, old_values, new_values, created_at, delivery_id) ",
        );
        q.push_values(chunk, |mut row, h| {
            row.push_bind(h.id.to_string())
                .push_bind(h.booking_id.to_string())
                .push_bind(&h.action)
                .push_bind(h.old_values.as_ref().map(json))
                .push_bind(h.new_values.as_ref().map(json))
                .push_bind(to_db_text(h.created_at))
                .push_bind(h.delivery_id.map(|u| u.to_string()));
        });
        q.build().execute(&mut *tx).await?;
    }
    Ok(())
}

pub(super) async fn insert_deliveries(tx: &mut SqliteConnection, list: &[Delivery]) -> Result<()> {
    for chunk in super::row_chunks(list) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO webhook_deliveries (id, received_at, body_sha256, trigger_event, \
             webhook_version, content_type, booking_uid, outcome, error, body) ",
        );
        q.push_values(chunk, |mut row, d| {
            row.push_bind(d.id.to_string())
                .push_bind(to_db_text(d.received_at))
                .push_bind(&d.body_sha256)
                .push_bind(&d.trigger_event)
                .push_bind(&d.webhook_version)
                .push_bind(&d.content_type)
                .push_bind(&d.booking_uid)
                .push_bind(d.outcome.as_str())
                .push_bind(&d.error)
                .push_bind(d.body.as_ref());
        });
        q.push(" ON CONFLICT (body_sha256) WHERE outcome IN ('applied', 'ignored') DO NOTHING");
        let done = q.build().execute(&mut *tx).await?;
        if done.rows_affected() != chunk.len() as u64 {
            return Err(StoreError::Conflict);
        }
    }
    Ok(())
}

pub(super) async fn bookings(p: &SqlitePool, f: &BookingFilter) -> Result<Vec<Booking>> {
    let (tail, args) = super::query::listing_tail(f, super::Backend::Sqlite);
    let sql = format!("SELECT {BOOKING_COLUMNS} FROM bookings{tail}");
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for arg in args {
        q = match arg {
            Arg::Text(s) => q.bind(s),
            Arg::Uuid(u) => q.bind(u.to_string()),
            Arg::Time(t) => q.bind(to_db_text(t)),
            Arg::Int(i) => q.bind(i),
        };
    }
    let rows = q.fetch_all(p).await?;
    rows.iter().map(booking_from_row).collect()
}

pub(super) async fn booking(p: &SqlitePool, uid: &str) -> Result<Option<Booking>> {
    let sql = format!("SELECT {BOOKING_COLUMNS} FROM bookings WHERE external_id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(uid)
        .fetch_optional(p)
        .await?;
    row.as_ref().map(booking_from_row).transpose()
}

/// One query for many uids: they travel as one JSON array parameter.
pub(super) async fn bookings_with_uids(p: &SqlitePool, uids: &[&str]) -> Result<Vec<Booking>> {
    let sql = format!(
        "SELECT {BOOKING_COLUMNS} FROM bookings WHERE external_id IN (SELECT value FROM json_each($1))"
    );
    let list = serde_json::to_string(uids).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(list)
        .fetch_all(p)
        .await?;
    rows.iter().map(booking_from_row).collect()
}

pub(super) async fn booking_by_id(p: &SqlitePool, id: Uuid) -> Result<Option<Booking>> {
    let sql = format!("SELECT {BOOKING_COLUMNS} FROM bookings WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_string())
        .fetch_optional(p)
        .await?;
    row.as_ref().map(booking_from_row).transpose()
}

pub(super) async fn history(p: &SqlitePool, booking_id: Uuid) -> Result<Vec<HistoryEntry>> {
    let rows = sqlx::query(
        "SELECT id, booking_id, action, old_values, new_values, created_at, delivery_id \
         FROM booking_history WHERE booking_id = $1 ORDER BY created_at, id",
    )
    .bind(booking_id.to_string())
    .fetch_all(p)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(HistoryEntry {
                id: uuid(r.try_get("id")?)?,
                booking_id: uuid(r.try_get("booking_id")?)?,
                action: r.try_get("action")?,
                old_values: opt_json(r.try_get("old_values")?)?,
                new_values: opt_json(r.try_get("new_values")?)?,
                created_at: ts(r.try_get("created_at")?)?,
                delivery_id: r
                    .try_get::<Option<String>, _>("delivery_id")?
                    .map(uuid)
                    .transpose()?,
            })
        })
        .collect()
}

const DELIVERY_COLUMNS: &str = "id, received_at, body_sha256, trigger_event, webhook_version, \
     content_type, booking_uid, outcome, error";

pub(super) async fn deliveries(
    p: &SqlitePool,
    outcome: Option<Outcome>,
    limit: u32,
) -> Result<Vec<Delivery>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE ($1 IS NULL OR outcome = $1) \
         ORDER BY seq DESC LIMIT $2"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(outcome.map(Outcome::as_str))
        .bind(i64::from(limit))
        .fetch_all(p)
        .await?;
    rows.iter().map(delivery_from_row).collect()
}

/// The deliveries that changed a booking (through its history), oldest first.
pub(super) async fn deliveries_of_booking(
    p: &SqlitePool,
    booking_id: Uuid,
) -> Result<Vec<Delivery>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id IN \
           (SELECT delivery_id FROM booking_history WHERE booking_id = $1) \
         ORDER BY received_at, id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(booking_id.to_string())
        .fetch_all(p)
        .await?;
    rows.iter().map(delivery_from_row).collect()
}

fn delivery_from_row(r: &SqliteRow) -> Result<Delivery> {
    Ok(Delivery {
        id: uuid(r.try_get("id")?)?,
        received_at: ts(r.try_get("received_at")?)?,
        body_sha256: r.try_get("body_sha256")?,
        trigger_event: r.try_get("trigger_event")?,
        webhook_version: r.try_get("webhook_version")?,
        content_type: r.try_get("content_type")?,
        booking_uid: r.try_get("booking_uid")?,
        outcome: Outcome::parse(r.try_get("outcome")?)?,
        error: r.try_get("error")?,
        body: Default::default(),
    })
}

fn booking_from_row(r: &SqliteRow) -> Result<Booking> {
    Ok(Booking {
        id: uuid(r.try_get("id")?)?,
        uid: r.try_get("external_id")?,
        calcom_id: r.try_get("calcom_booking_id")?,
        client_id: r
            .try_get::<Option<String>, _>("client_id")?
            .map(uuid)
            .transpose()?,
        title: r.try_get("title")?,
        description: r.try_get("description")?,
        notes: r.try_get("notes")?,
        starts_at: ts(r.try_get("starts_at")?)?,
        ends_at: ts(r.try_get("ends_at")?)?,
        status: super::parse_status(r.try_get("status")?)?,
        attendee_email: r.try_get("attendee_email")?,
        attendee_name: r.try_get("attendee_name")?,
        attendees: from_json(r.try_get("attendees")?)?,
        organizer: r
            .try_get::<Option<String>, _>("organizer")?
            .map(from_json)
            .transpose()?,
        location: r.try_get("location")?,
        meeting_url: r.try_get("meeting_url")?,
        ical_uid: r.try_get("ical_uid")?,
        ical_sequence: r.try_get("ical_sequence")?,
        event_type_id: r.try_get("event_type_id")?,
        event_type_slug: r.try_get("event_type_slug")?,
        metadata: from_json(r.try_get("metadata")?)?,
        rescheduled_from: r.try_get("rescheduled_from")?,
        rescheduled_to: r.try_get("rescheduled_to")?,
        cancellation_reason: r.try_get("cancellation_reason")?,
        cancelled_by: r.try_get("cancelled_by")?,
        rejection_reason: r.try_get("rejection_reason")?,
        meeting_started_at: r
            .try_get::<Option<String>, _>("meeting_started_at")?
            .map(ts)
            .transpose()?,
        meeting_ended_at: r
            .try_get::<Option<String>, _>("meeting_ended_at")?
            .map(ts)
            .transpose()?,
        created_at: ts(r.try_get("created_at")?)?,
        updated_at: ts(r.try_get("updated_at")?)?,
    })
}

fn json<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).expect("booking values serialize")
}

fn from_json<T: serde::de::DeserializeOwned>(s: String) -> Result<T> {
    serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("JSON column: {e}")))
}

fn opt_json(s: Option<String>) -> Result<Option<serde_json::Value>> {
    s.map(from_json).transpose()
}

fn uuid(s: String) -> Result<Uuid> {
    Uuid::parse_str(&s).map_err(|e| StoreError::Corrupt(format!("uuid {s:?}: {e}")))
}

fn ts(s: String) -> Result<jiff::Timestamp> {
    from_db_text(&s).ok_or_else(|| StoreError::Corrupt(format!("timestamp {s:?}")))
}
