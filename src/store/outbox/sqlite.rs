//! Outbox SQL for SQLite (times as fixed-width RFC 3339 text, ids as UUID text).

use jiff::Timestamp;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};
use uuid::Uuid;

use super::{Finish, parse_state};
use crate::outbox::{JobState, OutboxJob, RecipientRole};
use crate::store::{Result, StoreError, row_chunks};
use crate::time::{from_db_text, to_db_text};

const COLUMNS: &str = "id, idempotency_key, kind, booking_id, booking_uid, recipient_email, \
     recipient_name, recipient_time_zone, recipient_role, reminder_lead_seconds, scheduled_start, \
     due_at, state, attempts, last_error, lease_token, leased_until, provider_id, sent_at, \
     created_at, updated_at";

pub(super) async fn insert(tx: &mut SqliteConnection, jobs: &[OutboxJob]) -> Result<()> {
    for chunk in row_chunks(jobs) {
        let mut q = QueryBuilder::<Sqlite>::new(format!("INSERT INTO email_outbox ({COLUMNS}) "));
        q.push_values(chunk, |mut row, j| {
            row.push_bind(j.id.to_string())
                .push_bind(&j.idempotency_key)
                .push_bind(&j.kind)
                .push_bind(j.booking_id.to_string())
                .push_bind(&j.booking_uid)
                .push_bind(&j.recipient_email)
                .push_bind(&j.recipient_name)
                .push_bind(&j.recipient_time_zone)
                .push_bind(j.recipient_role.as_str())
                .push_bind(j.reminder_lead_seconds)
                .push_bind(j.scheduled_start.map(to_db_text))
                .push_bind(to_db_text(j.due_at))
                .push_bind(j.state.as_str())
                .push_bind(j.attempts)
                .push_bind(&j.last_error)
                .push_bind(j.lease_token.map(|u| u.to_string()))
                .push_bind(j.leased_until.map(to_db_text))
                .push_bind(&j.provider_id)
                .push_bind(j.sent_at.map(to_db_text))
                .push_bind(to_db_text(j.created_at))
                .push_bind(to_db_text(j.updated_at));
        });
        q.push(" ON CONFLICT (idempotency_key) DO NOTHING");
        q.build().execute(&mut *tx).await?;
    }
    Ok(())
}

pub(super) async fn claim(
    p: &SqlitePool,
    lease: Uuid,
    now: Timestamp,
    until: Timestamp,
    limit: u32,
) -> Result<Vec<OutboxJob>> {
    let sql = format!(
        "UPDATE email_outbox SET state = 'sending', attempts = attempts + 1, lease_token = $1, \
           leased_until = $2, updated_at = $3 \
         WHERE id IN ({DUE_IDS}) \
         RETURNING {COLUMNS}",
        DUE_IDS = due_ids("$3", "$4", "")
    );
    let mut tx = p
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(StoreError::Unavailable)?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(lease.to_string())
        .bind(to_db_text(until))
        .bind(to_db_text(now))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    rows.iter().map(job_from_row).collect()
}

pub(super) async fn has_due(p: &SqlitePool, now: Timestamp) -> Result<bool> {
    let sql = format!("SELECT 1 FROM ({}) due", due_ids("$1", "1", ""));
    let due: Option<i32> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(to_db_text(now))
        .fetch_optional(p)
        .await?;
    Ok(due.is_some())
}

/// The ids of jobs due at `now` (at most `limit`, earliest first): pending ones whose time has
/// come (a range of `email_outbox_due_idx`, which holds only pending and sending rows, up to
/// `now`), then sending ones whose lease ran out (a range of `email_outbox_state_idx` on
/// `state = 'sending'`: the jobs in flight). Two index ranges, so finding due jobs costs the same
/// with 200,000 reminders planned for later as with none (one query with an `OR` across the
/// two would walk the whole due index in order). SQLite, without statistics, would rather take
/// `state = 'pending'` from `email_outbox_state_idx` and sort every pending row, hence
/// `INDEXED BY` (an error, not a silent scan, should the index ever go).
fn due_ids(now: &str, limit: &str, lock: &str) -> String {
    format!(
        "SELECT id FROM (SELECT id FROM email_outbox INDEXED BY email_outbox_due_idx \
           WHERE state IN ('pending', 'sending') AND state = 'pending' AND due_at <= {now} \
           ORDER BY due_at LIMIT {limit} {lock}) pending_due \
         UNION ALL \
         SELECT id FROM (SELECT id FROM email_outbox \
           WHERE state = 'sending' AND leased_until <= {now} \
           LIMIT {limit} {lock}) lease_expired \
         LIMIT {limit}"
    )
}

pub(super) async fn finish(
    p: &SqlitePool,
    id: Uuid,
    lease: Uuid,
    finish: &Finish,
    now: Timestamp,
) -> Result<bool> {
    Ok(finish_query(id, lease, finish, now)
        .execute(p)
        .await?
        .rows_affected()
        == 1)
}

/// Several outcomes of one lease in one transaction (one commit for a whole batch of sends).
pub(super) async fn finish_many(
    p: &SqlitePool,
    lease: Uuid,
    items: &[(Uuid, Finish)],
    now: Timestamp,
) -> Result<Vec<bool>> {
    let mut tx = p
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(StoreError::Unavailable)?;
    let mut out = Vec::with_capacity(items.len());
    for (id, finish) in items {
        let done = finish_query(*id, lease, finish, now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        out.push(done == 1);
    }
    tx.commit().await?;
    Ok(out)
}

fn finish_query(
    id: Uuid,
    lease: Uuid,
    finish: &Finish,
    now: Timestamp,
) -> sqlx::query::Query<'static, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    let now_text = to_db_text(now);
    match finish {
        Finish::Sent { provider_id } => sqlx::query(
            "UPDATE email_outbox SET state = 'sent', provider_id = $3, sent_at = $4, updated_at = $4, \
               last_error = NULL, lease_token = NULL, leased_until = NULL \
             WHERE id = $1 AND lease_token = $2 AND state = 'sending'",
        )
        .bind(id.to_string())
        .bind(lease.to_string())
        .bind(provider_id.clone())
        .bind(now_text),
        Finish::Retry {
            due_at,
            error,
            count_attempt,
        } => sqlx::query(
            "UPDATE email_outbox SET state = 'pending', due_at = $3, last_error = $4, updated_at = $5, \
               attempts = attempts - $6, lease_token = NULL, leased_until = NULL \
             WHERE id = $1 AND lease_token = $2 AND state = 'sending'",
        )
        .bind(id.to_string())
        .bind(lease.to_string())
        .bind(to_db_text(*due_at))
        .bind(error.clone())
        .bind(now_text)
        .bind(i64::from(!*count_attempt)),
        Finish::Dead { error: text } | Finish::Skipped { reason: text } => sqlx::query(
            "UPDATE email_outbox SET state = $3, last_error = $4, updated_at = $5, \
               lease_token = NULL, leased_until = NULL \
             WHERE id = $1 AND lease_token = $2 AND state = 'sending'",
        )
        .bind(id.to_string())
        .bind(lease.to_string())
        .bind(if matches!(finish, Finish::Dead { .. }) { "dead" } else { "skipped" })
        .bind(text.clone())
        .bind(now_text),
    }
}

pub(super) async fn list(
    p: &SqlitePool,
    state: Option<JobState>,
    limit: u32,
) -> Result<Vec<OutboxJob>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM email_outbox WHERE ($1 IS NULL OR state = $1) \
         ORDER BY updated_at DESC, id DESC LIMIT $2"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(state.map(JobState::as_str))
        .bind(i64::from(limit))
        .fetch_all(p)
        .await?;
    rows.iter().map(job_from_row).collect()
}

pub(super) async fn for_booking(p: &SqlitePool, booking_id: Uuid) -> Result<Vec<OutboxJob>> {
    let sql =
        format!("SELECT {COLUMNS} FROM email_outbox WHERE booking_id = $1 ORDER BY due_at, id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(booking_id.to_string())
        .fetch_all(p)
        .await?;
    rows.iter().map(job_from_row).collect()
}

pub(super) async fn retry_dead(p: &SqlitePool, id: Option<Uuid>, now: Timestamp) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE email_outbox SET state = 'pending', due_at = $2, attempts = 0, updated_at = $2 \
         WHERE state = 'dead' AND ($1 IS NULL OR id = $1)",
    )
    .bind(id.map(|u| u.to_string()))
    .bind(to_db_text(now))
    .execute(p)
    .await?;
    Ok(done.rows_affected())
}

fn job_from_row(r: &SqliteRow) -> Result<OutboxJob> {
    let uuid = |c: &str| -> Result<Uuid> {
        let s: String = r.try_get(c)?;
        Uuid::parse_str(&s).map_err(|e| StoreError::Corrupt(format!("{c} {s:?}: {e}")))
    };
    let ts = |c: &str| -> Result<Option<Timestamp>> {
        r.try_get::<Option<String>, _>(c)?
            .map(|s| from_db_text(&s).ok_or_else(|| StoreError::Corrupt(format!("{c} {s:?}"))))
            .transpose()
    };
    let required = |c: &str| -> Result<Timestamp> {
        ts(c)?.ok_or_else(|| StoreError::Corrupt(format!("{c} is NULL")))
    };
    let role: String = r.try_get("recipient_role")?;
    Ok(OutboxJob {
        id: uuid("id")?,
        idempotency_key: r.try_get("idempotency_key")?,
        kind: r.try_get("kind")?,
        booking_id: uuid("booking_id")?,
        booking_uid: r.try_get("booking_uid")?,
        recipient_email: r.try_get("recipient_email")?,
        recipient_name: r.try_get("recipient_name")?,
        recipient_time_zone: r.try_get("recipient_time_zone")?,
        recipient_role: RecipientRole::parse(&role)
            .ok_or_else(|| StoreError::Corrupt(format!("recipient_role {role:?}")))?,
        reminder_lead_seconds: r.try_get("reminder_lead_seconds")?,
        scheduled_start: ts("scheduled_start")?,
        due_at: required("due_at")?,
        state: parse_state(r.try_get("state")?)?,
        attempts: r.try_get("attempts")?,
        last_error: r.try_get("last_error")?,
        lease_token: r
            .try_get::<Option<String>, _>("lease_token")?
            .map(|s| {
                Uuid::parse_str(&s).map_err(|e| StoreError::Corrupt(format!("lease_token: {e}")))
            })
            .transpose()?,
        leased_until: ts("leased_until")?,
        provider_id: r.try_get("provider_id")?,
        sent_at: ts("sent_at")?,
        created_at: required("created_at")?,
        updated_at: required("updated_at")?,
    })
}
