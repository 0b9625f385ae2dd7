//! PostgreSQL backend. Rows an event touches are locked with `FOR UPDATE` (in uid order); an
//! insert that loses a race to another instance returns [`StoreError::Conflict`].

use std::collections::HashSet;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row};
use uuid::Uuid;

use super::query::Arg;
use super::{BookingFilter, Delivery, Outcome, Result, StoreError, StoreOptions};
use crate::booking::{Booking, HistoryEntry};
use crate::time::{from_chrono, to_chrono};

const BOOKING_COLUMNS: &str = "id, external_id, calcom_booking_id, client_id, title, description, \
     notes, starts_at, ends_at, status, attendee_email, attendee_name, attendees, organizer, \
     location, meeting_url, ical_uid, ical_sequence, event_type_id, event_type_slug, metadata, \
     rescheduled_from, rescheduled_to, cancellation_reason, cancelled_by, rejection_reason, \
     meeting_started_at, meeting_ended_at, created_at, updated_at";

pub(super) async fn connect(url: &str, o: &StoreOptions) -> Result<PgPool> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Config(format!("DATABASE_URL: {e}")))?
        .application_name("calbook")
        // Plan each statement for the table as it is now. A generic plan cached while a table was
        // empty (a sequential scan) would otherwise be kept as the table grows, until autovacuum
        // next analyzes it.
        .options([("plan_cache_mode", "force_custom_plan")]);
    Ok(PgPoolOptions::new()
        .max_connections(o.pg_max_connections)
        .acquire_timeout(o.acquire_timeout)
        .connect_with(options)
        .await?)
}

pub(super) async fn applied_migrations(p: &PgPool) -> Result<i64> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(p)
        .await?;
    if !exists {
        return Ok(0);
    }
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(p)
            .await?,
    )
}

pub(super) async fn seen_bodies(
    tx: &mut PgConnection,
    digests: &[&str],
) -> Result<HashSet<String>> {
    let rows = sqlx::query_scalar::<_, String>(
        "SELECT body_sha256 FROM webhook_deliveries \
         WHERE body_sha256 = ANY($1) AND outcome IN ('applied', 'ignored')",
    )
    .bind(digests)
    .fetch_all(tx)
    .await?;
    Ok(rows.into_iter().collect())
}

pub(super) async fn lock_bookings(tx: &mut PgConnection, uids: &[&str]) -> Result<Vec<Booking>> {
    let sql = format!(
        "SELECT {BOOKING_COLUMNS} FROM bookings WHERE external_id = ANY($1) \
         ORDER BY external_id FOR UPDATE"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(uids)
        .fetch_all(tx)
        .await?;
    rows.iter().map(booking_from_row).collect()
}

/// One multi-row INSERT of `chunk` into bookings, with the conflict clause `on_conflict`.
fn booking_rows(chunk: &[Booking], on_conflict: &str) -> QueryBuilder<Postgres> {
    let mut q = QueryBuilder::<Postgres>::new(format!(
        "INSERT INTO bookings ({BOOKING_COLUMNS}, provider) "
    ));
    q.push_values(chunk, |mut row, b| {
        row.push_bind(b.id)
            .push_bind(&b.uid)
            .push_bind(b.calcom_id)
            .push_bind(b.client_id)
            .push_bind(&b.title)
            .push_bind(&b.description)
            .push_bind(&b.notes)
            .push_bind(to_chrono(b.starts_at))
            .push_bind(to_chrono(b.ends_at))
            .push_bind(b.status.as_str())
            .push_bind(&b.attendee_email)
            .push_bind(&b.attendee_name)
            .push_bind(Json(&b.attendees))
            .push_bind(b.organizer.as_ref().map(Json))
            .push_bind(&b.location)
            .push_bind(&b.meeting_url)
            .push_bind(&b.ical_uid)
            .push_bind(b.ical_sequence)
            .push_bind(b.event_type_id)
            .push_bind(&b.event_type_slug)
            .push_bind(Json(&b.metadata))
            .push_bind(&b.rescheduled_from)
            .push_bind(&b.rescheduled_to)
            .push_bind(&b.cancellation_reason)
            .push_bind(&b.cancelled_by)
            .push_bind(&b.rejection_reason)
            .push_bind(b.meeting_started_at.map(to_chrono))
            .push_bind(b.meeting_ended_at.map(to_chrono))
            .push_bind(to_chrono(b.created_at))
            .push_bind(to_chrono(b.updated_at))
            .push_bind("calcom");
    });
    q.push(on_conflict);
    q
}

pub(super) async fn insert_bookings(tx: &mut PgConnection, list: &[Booking]) -> Result<()> {
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
pub(super) async fn update_bookings(tx: &mut PgConnection, list: &[Booking]) -> Result<()> {
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

pub(super) async fn insert_history(tx: &mut PgConnection, list: &[HistoryEntry]) -> Result<()> {
    for chunk in super::row_chunks(list) {
        let mut q = QueryBuilder::<Postgres>::new(
            "INSERT INTO booking_history (id, booking_id, action, old_values, new_values, created_at, delivery_id) ",
        );
        q.push_values(chunk, |mut row, h| {
            row.push_bind(h.id)
                .push_bind(h.booking_id)
                .push_bind(&h.action)
                .push_bind(h.old_values.as_ref().map(Json))
                .push_bind(h.new_values.as_ref().map(Json))
                .push_bind(to_chrono(h.created_at))
                .push_bind(h.delivery_id);
        });
        q.build().execute(&mut *tx).await?;
    }
    Ok(())
}

pub(super) async fn insert_deliveries(tx: &mut PgConnection, list: &[Delivery]) -> Result<()> {
    for chunk in super::row_chunks(list) {
        let mut q = QueryBuilder::<Postgres>::new(
            "INSERT INTO webhook_deliveries (id, received_at, body_sha256, trigger_event, \
             webhook_version, content_type, booking_uid, outcome, error, body) ",
        );
        q.push_values(chunk, |mut row, d| {
            row.push_bind(d.id)
                .push_bind(to_chrono(d.received_at))
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

pub(super) async fn bookings(p: &PgPool, f: &BookingFilter) -> Result<Vec<Booking>> {
    let (tail, args) = super::query::listing_tail(f, super::Backend::Postgres);
    let sql = format!("SELECT {BOOKING_COLUMNS} FROM bookings{tail}");
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for arg in args {
        q = match arg {
            Arg::Text(s) => q.bind(s),
            Arg::Uuid(u) => q.bind(u),
            Arg::Time(t) => q.bind(to_chrono(t)),
            Arg::Int(i) => q.bind(i),
        };
    }
    let rows = q.fetch_all(p).await?;
    rows.iter().map(booking_from_row).collect()
}

pub(super) async fn booking(p: &PgPool, uid: &str) -> Result<Option<Booking>> {
    let sql = format!("SELECT {BOOKING_COLUMNS} FROM bookings WHERE external_id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(uid)
        .fetch_optional(p)
        .await?;
    row.as_ref().map(booking_from_row).transpose()
}

pub(super) async fn bookings_with_uids(p: &PgPool, uids: &[&str]) -> Result<Vec<Booking>> {
    let sql = format!("SELECT {BOOKING_COLUMNS} FROM bookings WHERE external_id = ANY($1)");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(uids)
        .fetch_all(p)
        .await?;
    rows.iter().map(booking_from_row).collect()
}

pub(super) async fn booking_by_id(p: &PgPool, id: Uuid) -> Result<Option<Booking>> {
    let sql = format!("SELECT {BOOKING_COLUMNS} FROM bookings WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(p)
        .await?;
    row.as_ref().map(booking_from_row).transpose()
}

pub(super) async fn history(p: &PgPool, booking_id: Uuid) -> Result<Vec<HistoryEntry>> {
    let rows = sqlx::query(
        "SELECT id, booking_id, action, old_values, new_values, created_at, delivery_id \
         FROM booking_history WHERE booking_id = $1 ORDER BY created_at, id",
    )
    .bind(booking_id)
    .fetch_all(p)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(HistoryEntry {
                id: r.try_get("id")?,
                booking_id: r.try_get("booking_id")?,
                action: r.try_get("action")?,
                old_values: r
                    .try_get::<Option<Json<serde_json::Value>>, _>("old_values")?
                    .map(|j| j.0),
                new_values: r
                    .try_get::<Option<Json<serde_json::Value>>, _>("new_values")?
                    .map(|j| j.0),
                created_at: from_chrono(r.try_get("created_at")?),
                delivery_id: r.try_get("delivery_id")?,
            })
        })
        .collect()
}

const DELIVERY_COLUMNS: &str = "id, received_at, body_sha256, trigger_event, webhook_version, \
     content_type, booking_uid, outcome, error";

pub(super) async fn deliveries(
    p: &PgPool,
    outcome: Option<Outcome>,
    limit: u32,
) -> Result<Vec<Delivery>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE ($1::text IS NULL OR outcome = $1) \
         ORDER BY received_at DESC, id DESC LIMIT $2"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(outcome.map(Outcome::as_str))
        .bind(i64::from(limit))
        .fetch_all(p)
        .await?;
    rows.iter().map(delivery_from_row).collect()
}

/// The deliveries that changed a booking (through its history), oldest first.
pub(super) async fn deliveries_of_booking(p: &PgPool, booking_id: Uuid) -> Result<Vec<Delivery>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id IN \
           (SELECT delivery_id FROM booking_history WHERE booking_id = $1) \
         ORDER BY received_at, id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(booking_id)
        .fetch_all(p)
        .await?;
    rows.iter().map(delivery_from_row).collect()
}

fn delivery_from_row(r: &PgRow) -> Result<Delivery> {
    Ok(Delivery {
        id: r.try_get("id")?,
        received_at: from_chrono(r.try_get("received_at")?),
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

fn booking_from_row(r: &PgRow) -> Result<Booking> {
    let opt_ts = |c: &str| -> Result<Option<jiff::Timestamp>> {
        Ok(r.try_get::<Option<DateTime<Utc>>, _>(c)?.map(from_chrono))
    };
    Ok(Booking {
        id: r.try_get("id")?,
        uid: r.try_get("external_id")?,
        calcom_id: r.try_get("calcom_booking_id")?,
        client_id: r.try_get("client_id")?,
        title: r.try_get("title")?,
        description: r.try_get("description")?,
        notes: r.try_get("notes")?,
        starts_at: from_chrono(r.try_get("starts_at")?),
        ends_at: from_chrono(r.try_get("ends_at")?),
        status: super::parse_status(r.try_get("status")?)?,
        attendee_email: r.try_get("attendee_email")?,
        attendee_name: r.try_get("attendee_name")?,
        attendees: r.try_get::<Json<_>, _>("attendees")?.0,
        organizer: r.try_get::<Option<Json<_>>, _>("organizer")?.map(|j| j.0),
        location: r.try_get("location")?,
        meeting_url: r.try_get("meeting_url")?,
        ical_uid: r.try_get("ical_uid")?,
        ical_sequence: r.try_get("ical_sequence")?,
        event_type_id: r.try_get("event_type_id")?,
        event_type_slug: r.try_get("event_type_slug")?,
        metadata: r.try_get::<Json<_>, _>("metadata")?.0,
        rescheduled_from: r.try_get("rescheduled_from")?,
        rescheduled_to: r.try_get("rescheduled_to")?,
        cancellation_reason: r.try_get("cancellation_reason")?,
        cancelled_by: r.try_get("cancelled_by")?,
        rejection_reason: r.try_get("rejection_reason")?,
        meeting_started_at: opt_ts("meeting_started_at")?,
        meeting_ended_at: opt_ts("meeting_ended_at")?,
        created_at: from_chrono(r.try_get("created_at")?),
        updated_at: from_chrono(r.try_get("updated_at")?),
    })
}
