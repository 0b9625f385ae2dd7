//! Outbox SQL for PostgreSQL. Claims take candidate rows `FOR UPDATE SKIP LOCKED`, so any number
//! of workers, in any number of calbook processes, never claim the same row.

use chrono::{DateTime, Utc};
use jiff::Timestamp;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row};
use uuid::Uuid;

use super::{Finish, parse_state};
use crate::outbox::{JobState, OutboxJob, RecipientRole};
use crate::store::{Result, StoreError, row_chunks};
use crate::time::{from_chrono, to_chrono};

const COLUMNS: &str = "id, idempotency_key, kind, booking_id, booking_uid, recipient_email, \
     recipient_name, recipient_time_zone, recipient_role, reminder_lead_seconds, scheduled_start, \
     due_at, state, attempts, last_error, lease_token, leased_until, provider_id, sent_at, \
     created_at, updated_at";

pub(super) async fn insert(tx: &mut PgConnection, jobs: &[OutboxJob]) -> Result<()> {
    for chunk in row_chunks(jobs) {
        let mut q = QueryBuilder::<Postgres>::new(format!("INSERT INTO email_outbox ({COLUMNS}) "));
        q.push_values(chunk, |mut row, j| {
            row.push_bind(j.id)
                .push_bind(&j.idempotency_key)
                .push_bind(&j.kind)
                .push_bind(j.booking_id)
                .push_bind(&j.booking_uid)
                .push_bind(&j.recipient_email)
                .push_bind(&j.recipient_name)
                .push_bind(&j.recipient_time_zone)
                .push_bind(j.recipient_role.as_str())
                .push_bind(j.reminder_lead_seconds)
                .push_bind(j.scheduled_start.map(to_chrono))
                .push_bind(to_chrono(j.due_at))
                .push_bind(j.state.as_str())
                .push_bind(j.attempts as i32)
                .push_bind(&j.last_error)
                .push_bind(j.lease_token)
                .push_bind(j.leased_until.map(to_chrono))
                .push_bind(&j.provider_id)
                .push_bind(j.sent_at.map(to_chrono))
                .push_bind(to_chrono(j.created_at))
                .push_bind(to_chrono(j.updated_at));
        });
        q.push(" ON CONFLICT (idempotency_key) DO NOTHING");
        q.build().execute(&mut *tx).await?;
    }
    Ok(())
}

pub(super) async fn claim(
    p: &PgPool,
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
        DUE_IDS = due_ids("$3", "$4", "FOR UPDATE SKIP LOCKED")
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(lease)
        .bind(to_chrono(until))
        .bind(to_chrono(now))
        .bind(i64::from(limit))
        .fetch_all(p)
        .await?;
    rows.iter().map(job_from_row).collect()
}

pub(super) async fn has_due(p: &PgPool, now: Timestamp) -> Result<bool> {
    let sql = format!("SELECT 1 FROM ({}) due", due_ids("$1", "1", ""));
    let due: Option<i32> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(to_chrono(now))
        .fetch_optional(p)
        .await?;
    Ok(due.is_some())
}

/// The ids of jobs due at `now` (at most `limit`, earliest first): pending ones whose time has
/// come (a range of `email_outbox_due_idx`, which holds only pending and sending rows, up to
/// `now`), then sending ones whose lease ran out (a range of `email_outbox_state_idx` on
/// `state = 'sending'`: the jobs in flight). Two index ranges, so finding due jobs costs the same
/// with 200,000 reminders planned for later as with none (one query with an `OR` across the
/// two would walk the whole due index in order).
fn due_ids(now: &str, limit: &str, lock: &str) -> String {
    format!(
        "SELECT id FROM (SELECT id FROM email_outbox \
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
    p: &PgPool,
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
    p: &PgPool,
    lease: Uuid,
    items: &[(Uuid, Finish)],
    now: Timestamp,
) -> Result<Vec<bool>> {
    let mut tx = p.begin().await?;
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
) -> sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments> {
    match finish {
        Finish::Sent { provider_id } => sqlx::query(
            "UPDATE email_outbox SET state = 'sent', provider_id = $3, sent_at = $4, updated_at = $4, \
               last_error = NULL, lease_token = NULL, leased_until = NULL \
             WHERE id = $1 AND lease_token = $2 AND state = 'sending'",
        )
        .bind(id)
        .bind(lease)
        .bind(provider_id.clone())
        .bind(to_chrono(now)),
        Finish::Retry {
            due_at,
            error,
            count_attempt,
        } => sqlx::query(
            "UPDATE email_outbox SET state = 'pending', due_at = $3, last_error = $4, updated_at = $5, \
               attempts = attempts - $6, lease_token = NULL, leased_until = NULL \
             WHERE id = $1 AND lease_token = $2 AND state = 'sending'",
        )
        .bind(id)
        .bind(lease)
        .bind(to_chrono(*due_at))
        .bind(error.clone())
        .bind(to_chrono(now))
        .bind(i32::from(!*count_attempt)),
        Finish::Dead { error: text } | Finish::Skipped { reason: text } => sqlx::query(
            "UPDATE email_outbox SET state = $3, last_error = $4, updated_at = $5, \
               lease_token = NULL, leased_until = NULL \
             WHERE id = $1 AND lease_token = $2 AND state = 'sending'",
        )
        .bind(id)
        .bind(lease)
        .bind(if matches!(finish, Finish::Dead { .. }) { "dead" } else { "skipped" })
        .bind(text.clone())
        .bind(to_chrono(now)),
    }
}

pub(super) async fn list(
    p: &PgPool,
    state: Option<JobState>,
    limit: u32,
) -> Result<Vec<OutboxJob>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM email_outbox WHERE ($1::text IS NULL OR state = $1) \
         ORDER BY updated_at DESC, id DESC LIMIT $2"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(state.map(JobState::as_str))
        .bind(i64::from(limit))
        .fetch_all(p)
        .await?;
    rows.iter().map(job_from_row).collect()
}

pub(super) async fn for_booking(p: &PgPool, booking_id: Uuid) -> Result<Vec<OutboxJob>> {
    let sql =
        format!("SELECT {COLUMNS} FROM email_outbox WHERE booking_id = $1 ORDER BY due_at, id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(booking_id)
        .fetch_all(p)
        .await?;
    rows.iter().map(job_from_row).collect()
}

pub(super) async fn retry_dead(p: &PgPool, id: Option<Uuid>, now: Timestamp) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE email_outbox SET state = 'pending', due_at = $2, attempts = 0, updated_at = $2 \
         WHERE state = 'dead' AND ($1::uuid IS NULL OR id = $1)",
    )
    .bind(id)
    .bind(to_chrono(now))
    .execute(p)
    .await?;
    Ok(done.rows_affected())
}

fn job_from_row(r: &PgRow) -> Result<OutboxJob> {
    let ts = |c: &str| -> Result<Option<Timestamp>> {
        Ok(r.try_get::<Option<DateTime<Utc>>, _>(c)?.map(from_chrono))
    };
    let role: String = r.try_get("recipient_role")?;
    Ok(OutboxJob {
        id: r.try_get("id")?,
        idempotency_key: r.try_get("idempotency_key")?,
        kind: r.try_get("kind")?,
        booking_id: r.try_get("booking_id")?,
        booking_uid: r.try_get("booking_uid")?,
        recipient_email: r.try_get("recipient_email")?,
        recipient_name: r.try_get("recipient_name")?,
        recipient_time_zone: r.try_get("recipient_time_zone")?,
        recipient_role: RecipientRole::parse(&role)
            .ok_or_else(|| StoreError::Corrupt(format!("recipient_role {role:?}")))?,
        reminder_lead_seconds: r.try_get("reminder_lead_seconds")?,
        scheduled_start: ts("scheduled_start")?,
        due_at: from_chrono(r.try_get("due_at")?),
        state: parse_state(r.try_get("state")?)?,
        attempts: i64::from(r.try_get::<i32, _>("attempts")?),
        last_error: r.try_get("last_error")?,
        lease_token: r.try_get("lease_token")?,
        leased_until: ts("leased_until")?,
        provider_id: r.try_get("provider_id")?,
        sent_at: ts("sent_at")?,
        created_at: from_chrono(r.try_get("created_at")?),
        updated_at: from_chrono(r.try_get("updated_at")?),
    })
}
