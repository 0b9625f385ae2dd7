//! The `email_outbox` codec, written once for both backends: the column list ([`COLUMNS`]), a
//! job's values in that order ([`encode`]), a job from a row ([`decode`]), and every outbox
//! statement as SQL text plus its arguments ([`Stmt`]).
//!
//! The backends differ only in how a value travels, which [`Arg`] names: ids are `uuid` on
//! PostgreSQL and UUID text on SQLite, times `timestamptz` and fixed-width RFC 3339 text. Each
//! backend binds an [`Arg`] and reads a column through [`Get`] in a few lines of its own; the
//! few SQL differences (`FOR UPDATE SKIP LOCKED`, typed `NULL` checks) are [`Backend`] switches
//! here.

use jiff::Timestamp;
use uuid::Uuid;

use crate::outbox::{EmailKind, Finish, JobState, OutboxJob, Role, Withdrawal};
use crate::store::{Backend, Result, StoreError};

/// The columns of `email_outbox`, in the order [`encode`] writes them.
pub(super) const COLUMNS: [&str; 21] = [
    "id",
    "idempotency_key",
    "kind",
    "booking_id",
    "booking_uid",
    "recipient_email",
    "recipient_name",
    "recipient_time_zone",
    "recipient_role",
    "reminder_lead_seconds",
    "scheduled_start",
    "due_at",
    "state",
    "attempts",
    "last_error",
    "lease_token",
    "leased_until",
    "provider_id",
    "sent_at",
    "created_at",
    "updated_at",
];

/// One statement argument, by the SQL type it travels as.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Arg {
    Uuid(Option<Uuid>),
    Text(Option<String>),
    /// A PostgreSQL `bigint` (SQLite `INTEGER`).
    BigInt(Option<i64>),
    /// A PostgreSQL `integer` (SQLite `INTEGER`).
    Int(i32),
    Time(Option<Timestamp>),
}

fn text(s: &str) -> Arg {
    Arg::Text(Some(s.to_owned()))
}

fn time(t: Timestamp) -> Arg {
    Arg::Time(Some(t))
}

/// `job`'s values, in [`COLUMNS`] order.
pub(super) fn encode(j: &OutboxJob) -> [Arg; 21] {
    [
        Arg::Uuid(Some(j.id)),
        text(&j.idempotency_key),
        text(j.kind.as_str()),
        Arg::Uuid(Some(j.booking_id)),
        text(&j.booking_uid),
        text(&j.recipient_email),
        Arg::Text(j.recipient_name.clone()),
        Arg::Text(j.recipient_time_zone.clone()),
        text(j.recipient_role.as_str()),
        Arg::BigInt(j.reminder_lead_seconds),
        Arg::Time(j.scheduled_start),
        time(j.due_at),
        text(j.state.as_str()),
        Arg::Int(i32::try_from(j.attempts).unwrap_or(i32::MAX)),
        Arg::Text(j.last_error.clone()),
        Arg::Uuid(j.lease_token),
        Arg::Time(j.leased_until),
        Arg::Text(j.provider_id.clone()),
        Arg::Time(j.sent_at),
        time(j.created_at),
        time(j.updated_at),
    ]
}

/// Reads one column of a result row as the SQL type it is stored as (`NULL` is `None`).
pub(super) trait Get {
    fn uuid(&self, column: &str) -> Result<Option<Uuid>>;
    fn text(&self, column: &str) -> Result<Option<String>>;
    fn big_int(&self, column: &str) -> Result<Option<i64>>;
    fn int(&self, column: &str) -> Result<Option<i64>>;
    fn time(&self, column: &str) -> Result<Option<Timestamp>>;
}

fn required<T>(column: &str, value: Option<T>) -> Result<T> {
    value.ok_or_else(|| StoreError::Corrupt(format!("{column} is NULL")))
}

fn parsed<T: std::str::FromStr>(r: &impl Get, column: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    let s = required(column, r.text(column)?)?;
    s.parse()
        .map_err(|e| StoreError::Corrupt(format!("{column} {s:?}: {e}")))
}

/// A job from a row that has every column of [`COLUMNS`].
pub(super) fn decode(r: &impl Get) -> Result<OutboxJob> {
    let uuid = |c: &str| required(c, r.uuid(c)?);
    let text = |c: &str| required(c, r.text(c)?);
    let time = |c: &str| required(c, r.time(c)?);
    Ok(OutboxJob {
        id: uuid("id")?,
        idempotency_key: text("idempotency_key")?,
        kind: parsed::<EmailKind>(r, "kind")?,
        booking_id: uuid("booking_id")?,
        booking_uid: text("booking_uid")?,
        recipient_email: text("recipient_email")?,
        recipient_name: r.text("recipient_name")?,
        recipient_time_zone: r.text("recipient_time_zone")?,
        recipient_role: parsed::<Role>(r, "recipient_role")?,
        reminder_lead_seconds: r.big_int("reminder_lead_seconds")?,
        scheduled_start: r.time("scheduled_start")?,
        due_at: time("due_at")?,
        state: parsed::<JobState>(r, "state")?,
        attempts: required("attempts", r.int("attempts")?)?,
        last_error: r.text("last_error")?,
        lease_token: r.uuid("lease_token")?,
        leased_until: r.time("leased_until")?,
        provider_id: r.text("provider_id")?,
        sent_at: r.time("sent_at")?,
        created_at: time("created_at")?,
        updated_at: time("updated_at")?,
    })
}

/// SQL text with `$n` placeholders and its arguments, for either backend.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Stmt {
    pub sql: String,
    pub args: Vec<Arg>,
}

fn column_list() -> String {
    COLUMNS.join(", ")
}

/// How many of one booking's emails, due at once and planned in one transaction, go in lane 0;
/// the rest go in lane 1 (see [`lanes`]).
pub(crate) const FAIR_SHARE: usize = 4;

/// The lane of each of `jobs` (planned together, in one transaction): 0 for a booking's first
/// [`FAIR_SHARE`] emails due at once, 1 for the rest of them. Lane 1 is sent only when no lane-0
/// email is due, so a booking with 2,000 attendees cannot hold back another booking's
/// confirmation by more than the sends already under way. Emails due later (reminders) are in
/// lane 0: their due times already spread them.
pub(super) fn lanes(jobs: &[OutboxJob]) -> Vec<i32> {
    let mut seen: std::collections::HashMap<Uuid, usize> = std::collections::HashMap::new();
    jobs.iter()
        .map(|j| {
            if j.due_at > j.created_at {
                return 0;
            }
            let n = seen.entry(j.booking_id).or_default();
            *n += 1;
            i32::from(*n > FAIR_SHARE)
        })
        .collect()
}

/// Inserts `jobs` (at most a few dozen: see `row_chunks`) in lane 0, keeping existing
/// idempotency keys.
#[cfg(test)]
pub(super) fn insert(backend: Backend, jobs: &[OutboxJob]) -> Stmt {
    insert_rows(backend, jobs, None)
}

/// Inserts `jobs` (at most a few dozen) in `lanes` (one per job), keeping existing idempotency
/// keys.
pub(super) fn insert_in_lanes(backend: Backend, jobs: &[OutboxJob], lanes: &[i32]) -> Stmt {
    insert_rows(backend, jobs, Some(lanes))
}

/// The multi-row insert. On SQLite its placeholders are anonymous `?` (bound in order, as every
/// argument is used once): with numbered ones (`$n`, `?n`) sqlx looks each parameter's name up
/// with `sqlite3_bind_parameter_name`, a linear walk of the statement's parameter list, so
/// binding a 64-row insert (1,408 parameters) cost about a million steps, 14 % of calbook's CPU
/// with emails on (BENCHMARKS.md, issue 15). Anonymous parameters have no name to look up.
fn insert_rows(backend: Backend, jobs: &[OutboxJob], lanes: Option<&[i32]>) -> Stmt {
    let lane_column = if lanes.is_some() { ", lane" } else { "" };
    let mut sql = format!(
        "INSERT INTO email_outbox ({}{lane_column}) VALUES ",
        column_list()
    );
    let mut args = Vec::with_capacity(jobs.len() * (COLUMNS.len() + 1));
    for (i, job) in jobs.iter().enumerate() {
        sql.push_str(if i == 0 { "(" } else { ", (" });
        let lane = lanes.map(|l| Arg::Int(l.get(i).copied().unwrap_or(0)));
        for (c, arg) in encode(job).into_iter().chain(lane).enumerate() {
            args.push(arg);
            if c > 0 {
                sql.push_str(", ");
            }
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => sql.push_str(&format!("${}", args.len())),
            }
        }
        sql.push(')');
    }
    sql.push_str(" ON CONFLICT (idempotency_key) DO NOTHING");
    Stmt { sql, args }
}

/// Due `pending` rows and expired `sending` rows become `sending` under `lease`; returns them.
/// On PostgreSQL the candidates are locked `SKIP LOCKED`; SQLite runs it in `BEGIN IMMEDIATE`.
pub(super) fn claim(
    backend: Backend,
    lease: Uuid,
    now: Timestamp,
    until: Timestamp,
    limit: u32,
) -> Stmt {
    let lock = match backend {
        Backend::Sqlite => "",
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
    };
    Stmt {
        sql: format!(
            "UPDATE email_outbox SET state = 'sending', attempts = attempts + 1, lease_token = $1, \
               leased_until = $2, updated_at = $3 \
             WHERE id IN ({}) \
             RETURNING {}",
            due_ids(backend, "$3", "$4", lock),
            column_list()
        ),
        args: vec![
            Arg::Uuid(Some(lease)),
            time(until),
            time(now),
            Arg::BigInt(Some(i64::from(limit))),
        ],
    }
}

/// One row (selecting `id`) if any job is due.
pub(super) fn has_due(backend: Backend, now: Timestamp) -> Stmt {
    Stmt {
        sql: format!("SELECT 1 FROM ({}) due", due_ids(backend, "$1", "1", "")),
        args: vec![time(now)],
    }
}

/// The ids of jobs due at `now` (at most `limit`): pending ones whose time has come, lane 0
/// first, then lane 1 (each lane one range of `email_outbox_due_idx`, on `(lane, due_at)`, which
/// holds only pending and sending rows; earliest first within a lane), then sending ones whose
/// lease ran out (a range of `email_outbox_state_idx` on `state = 'sending'`: the jobs in flight).
/// Index ranges only, so finding due jobs costs the same with 200,000 reminders planned for later
/// as with none (one query with an `OR` across them would walk the whole due index in order).
/// SQLite, without statistics, would rather take `state = 'pending'` from
/// `email_outbox_state_idx` and sort every pending row, hence `INDEXED BY` there (an error, not a
/// silent scan, should the index ever go). Lanes: see [`lanes`].
fn due_ids(backend: Backend, now: &str, limit: &str, lock: &str) -> String {
    let indexed_by = match backend {
        Backend::Sqlite => "INDEXED BY email_outbox_due_idx",
        Backend::Postgres => "",
    };
    let lane = |n: u8| {
        format!(
            "SELECT id FROM (SELECT id FROM email_outbox {indexed_by} \
               WHERE state IN ('pending', 'sending') AND state = 'pending' AND lane = {n} \
                 AND due_at <= {now} \
               ORDER BY due_at LIMIT {limit} {lock}) lane_{n}"
        )
    };
    format!(
        "{} UNION ALL {} \
         UNION ALL \
         SELECT id FROM (SELECT id FROM email_outbox \
           WHERE state = 'sending' AND leased_until <= {now} \
           LIMIT {limit} {lock}) lease_expired \
         LIMIT {limit}",
        lane(0),
        lane(1)
    )
}

/// Puts the jobs still `sending` under `lease` back to `pending` (due as they were, the attempt
/// not counted), for a worker that stops before sending them.
pub(super) fn release(lease: Uuid) -> Stmt {
    Stmt {
        sql: "UPDATE email_outbox SET state = 'pending', attempts = attempts - 1, \
                lease_token = NULL, leased_until = NULL \
              WHERE lease_token = $1 AND state = 'sending'"
            .to_owned(),
        args: vec![Arg::Uuid(Some(lease))],
    }
}

/// Ends a `sending` job held by `lease`; changes no row when the lease was lost.
pub(super) fn finish(id: Uuid, lease: Uuid, finish: &Finish, now: Timestamp) -> Stmt {
    let held = [Arg::Uuid(Some(id)), Arg::Uuid(Some(lease))];
    let (sql, rest) = match finish {
        Finish::Sent { provider_id } => (
            "UPDATE email_outbox SET state = 'sent', provider_id = $3, sent_at = $4, updated_at = $4, \
               last_error = NULL, lease_token = NULL, leased_until = NULL \
             WHERE id = $1 AND lease_token = $2 AND state = 'sending'",
            vec![Arg::Text(provider_id.clone()), time(now)],
        ),
        Finish::Retry {
            due_at,
            error,
            count_attempt,
        } => (
            "UPDATE email_outbox SET state = 'pending', due_at = $3, last_error = $4, updated_at = $5, \
               attempts = attempts - $6, lease_token = NULL, leased_until = NULL \
             WHERE id = $1 AND lease_token = $2 AND state = 'sending'",
            vec![
                time(*due_at),
                text(error),
                time(now),
                Arg::Int(i32::from(!*count_attempt)),
            ],
        ),
        Finish::Dead { error: why } | Finish::Skipped { reason: why } => (
            "UPDATE email_outbox SET state = $3, last_error = $4, updated_at = $5, \
               lease_token = NULL, leased_until = NULL \
             WHERE id = $1 AND lease_token = $2 AND state = 'sending'",
            vec![
                text(if matches!(finish, Finish::Dead { .. }) {
                    JobState::Dead.as_str()
                } else {
                    JobState::Skipped.as_str()
                }),
                text(why),
                time(now),
            ],
        ),
    };
    Stmt {
        sql: sql.to_owned(),
        args: held.into_iter().chain(rest).collect(),
    }
}

/// Several jobs held by `lease` become `sent`, each with its provider id, in one statement
/// (`UPDATE … FROM (VALUES …)`, whose columns are `column1`, `column2` on both backends);
/// returns the ids it changed (a job whose lease was lost is left out). Placeholders as in
/// [`insert_rows`]: anonymous on SQLite, bound in the order they appear.
pub(super) fn finish_sent(
    backend: Backend,
    sent: &[(Uuid, Option<String>)],
    lease: Uuid,
    now: Timestamp,
) -> Stmt {
    let mut args = Vec::with_capacity(sent.len() * 2 + 3);
    let param = |args: &mut Vec<Arg>, arg: Arg, cast: &str| {
        args.push(arg);
        match backend {
            Backend::Sqlite => "?".to_owned(),
            Backend::Postgres => format!("${}{cast}", args.len()),
        }
    };
    let sent_at = param(&mut args, time(now), "");
    let updated_at = param(&mut args, time(now), "");
    let mut values = String::new();
    for (i, (id, provider_id)) in sent.iter().enumerate() {
        if i > 0 {
            values.push_str(", ");
        }
        let id = param(&mut args, Arg::Uuid(Some(*id)), "::uuid");
        let provider = param(&mut args, Arg::Text(provider_id.clone()), "::text");
        values.push_str(&format!("({id}, {provider})"));
    }
    let lease = param(&mut args, Arg::Uuid(Some(lease)), "::uuid");
    Stmt {
        sql: format!(
            "UPDATE email_outbox SET state = 'sent', provider_id = v.column2, sent_at = {sent_at}, \
               updated_at = {updated_at}, last_error = NULL, lease_token = NULL, \
               leased_until = NULL \
             FROM (VALUES {values}) AS v \
             WHERE email_outbox.id = v.column1 AND email_outbox.lease_token = {lease} \
               AND email_outbox.state = 'sending' \
             RETURNING email_outbox.id AS id"
        ),
        args,
    }
}

/// Jobs, most recently changed first, optionally of one state.
pub(super) fn list(backend: Backend, state: Option<JobState>, limit: u32) -> Stmt {
    let state_param = match backend {
        Backend::Sqlite => "$1",
        Backend::Postgres => "$1::text",
    };
    Stmt {
        sql: format!(
            "SELECT {} FROM email_outbox WHERE ({state_param} IS NULL OR state = $1) \
             ORDER BY updated_at DESC, id DESC LIMIT $2",
            column_list()
        ),
        args: vec![
            Arg::Text(state.map(|s| s.as_str().to_owned())),
            Arg::BigInt(Some(i64::from(limit))),
        ],
    }
}

/// One booking's jobs, in the order they are due.
pub(super) fn for_booking(booking_id: Uuid) -> Stmt {
    Stmt {
        sql: format!(
            "SELECT {} FROM email_outbox WHERE booking_id = $1 ORDER BY due_at, id",
            column_list()
        ),
        args: vec![Arg::Uuid(Some(booking_id))],
    }
}

/// Pending reminders of one booking become `skipped` with `w.reason` (only `w.recipient`'s, when
/// set; only those planned for another start than `w.keep_start`, when set).
pub(super) fn withdraw(w: &Withdrawal, now: Timestamp) -> Stmt {
    let mut sql = "UPDATE email_outbox SET state = 'skipped', last_error = $2, updated_at = $3 \
         WHERE booking_id = $1 AND state = 'pending' AND kind = 'reminder'"
        .to_owned();
    let mut args = vec![Arg::Uuid(Some(w.booking_id)), text(&w.reason), time(now)];
    if let Some(r) = &w.recipient {
        args.push(text(&r.trim().to_ascii_lowercase()));
        sql.push_str(&format!(" AND lower(recipient_email) = ${}", args.len()));
    }
    if let Some(start) = w.keep_start {
        args.push(time(start));
        sql.push_str(&format!(
            " AND (scheduled_start IS NULL OR scheduled_start <> ${})",
            args.len()
        ));
    }
    Stmt { sql, args }
}

/// Dead jobs (all, or the one with `id`) back to `pending`, due `now`, with no attempts.
pub(super) fn retry_dead(backend: Backend, id: Option<Uuid>, now: Timestamp) -> Stmt {
    let id_param = match backend {
        Backend::Sqlite => "$1",
        Backend::Postgres => "$1::uuid",
    };
    Stmt {
        sql: format!(
            "UPDATE email_outbox SET state = 'pending', due_at = $2, attempts = 0, updated_at = $2 \
             WHERE state = 'dead' AND ({id_param} IS NULL OR id = $1)"
        ),
        args: vec![Arg::Uuid(id), time(now)],
    }
}

#[cfg(test)]
mod tests;
