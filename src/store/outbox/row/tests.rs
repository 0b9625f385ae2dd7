use std::collections::HashMap;

use super::*;

/// A row as a map from column name to the value [`encode`] wrote there.
struct MapRow(HashMap<&'static str, Arg>);

impl MapRow {
    fn get(&self, column: &str) -> &Arg {
        self.0
            .get(column)
            .unwrap_or_else(|| panic!("no column {column}"))
    }
}

impl Get for MapRow {
    fn uuid(&self, column: &str) -> Result<Option<Uuid>> {
        match self.get(column) {
            Arg::Uuid(u) => Ok(*u),
            other => panic!("{column} is {other:?}, not a uuid"),
        }
    }
    fn text(&self, column: &str) -> Result<Option<String>> {
        match self.get(column) {
            Arg::Text(s) => Ok(s.clone()),
            other => panic!("{column} is {other:?}, not text"),
        }
    }
    fn big_int(&self, column: &str) -> Result<Option<i64>> {
        match self.get(column) {
            Arg::BigInt(n) => Ok(*n),
            other => panic!("{column} is {other:?}, not a bigint"),
        }
    }
    fn int(&self, column: &str) -> Result<Option<i64>> {
        match self.get(column) {
            Arg::Int(n) => Ok(Some(i64::from(*n))),
            other => panic!("{column} is {other:?}, not an integer"),
        }
    }
    fn time(&self, column: &str) -> Result<Option<Timestamp>> {
        match self.get(column) {
            Arg::Time(t) => Ok(*t),
            other => panic!("{column} is {other:?}, not a time"),
        }
    }
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// Every field set, each to a value no other field of its type has.
fn job(kind: EmailKind, role: Role, state: JobState) -> OutboxJob {
    OutboxJob {
        id: Uuid::from_u128(1),
        idempotency_key: "booking/A/reminder/3600s/x/m@example.com".into(),
        kind,
        booking_id: Uuid::from_u128(2),
        booking_uid: "A".into(),
        recipient_email: "m@example.com".into(),
        recipient_name: Some("Marco".into()),
        recipient_time_zone: Some("Europe/Rome".into()),
        recipient_role: role,
        reminder_lead_seconds: Some(3600),
        scheduled_start: Some(ts("2026-03-10T14:00:00Z")),
        due_at: ts("2026-03-10T13:00:00Z"),
        state,
        attempts: 3,
        last_error: Some("timeout".into()),
        lease_token: Some(Uuid::from_u128(3)),
        leased_until: Some(ts("2026-03-10T13:02:00Z")),
        provider_id: Some("re_1".into()),
        sent_at: Some(ts("2026-03-10T13:01:00Z")),
        created_at: ts("2026-03-01T00:00:00Z"),
        updated_at: ts("2026-03-10T13:01:30Z"),
    }
}

#[test]
fn every_job_survives_encode_then_decode_by_column_name() {
    for kind in EmailKind::ALL {
        for role in Role::ALL {
            for state in JobState::ALL {
                let job = job(kind, role, state);
                let row = MapRow(COLUMNS.into_iter().zip(encode(&job)).collect());
                assert_eq!(row.0.len(), COLUMNS.len(), "a column is listed twice");
                assert_eq!(decode(&row).unwrap(), job);
            }
        }
    }
}

#[test]
fn unknown_kinds_roles_and_states_are_corrupt_rows() {
    let good = job(EmailKind::Reminder, Role::Host, JobState::Sent);
    for (column, bad) in [
        ("kind", "welcome"),
        ("recipient_role", "guest"),
        ("state", "lost"),
    ] {
        let mut row = MapRow(COLUMNS.into_iter().zip(encode(&good)).collect());
        row.0.insert(column, Arg::Text(Some(bad.to_owned())));
        match decode(&row) {
            Err(StoreError::Corrupt(why)) => assert!(why.contains(bad), "{why}"),
            other => panic!("{column} = {bad:?} decoded as {other:?}"),
        }
    }
}

#[test]
fn a_multi_row_insert_numbers_every_placeholder_once() {
    let jobs = [
        job(EmailKind::Confirmation, Role::Attendee, JobState::Pending),
        job(EmailKind::Reminder, Role::Host, JobState::Skipped),
    ];
    let stmt = insert(Backend::Postgres, &jobs);
    assert_eq!(stmt.args.len(), 2 * COLUMNS.len());
    assert!(stmt.sql.contains("$1, $2,"), "{}", stmt.sql);
    assert!(stmt.sql.contains("$21), ($22,"), "{}", stmt.sql);
    assert!(
        stmt.sql
            .ends_with("$42) ON CONFLICT (idempotency_key) DO NOTHING")
    );
}

#[test]
fn a_multi_row_insert_on_sqlite_has_one_anonymous_placeholder_per_argument() {
    let jobs = [
        job(EmailKind::Confirmation, Role::Attendee, JobState::Pending),
        job(EmailKind::Reminder, Role::Host, JobState::Skipped),
    ];
    let stmt = insert(Backend::Sqlite, &jobs);
    assert_eq!(stmt.args.len(), 2 * COLUMNS.len());
    assert_eq!(
        stmt.sql.matches('?').count(),
        stmt.args.len(),
        "{}",
        stmt.sql
    );
    assert!(!stmt.sql.contains('$'), "{}", stmt.sql);
    assert!(
        stmt.sql
            .ends_with("?) ON CONFLICT (idempotency_key) DO NOTHING")
    );
}

#[test]
fn sent_outcomes_are_one_update_with_a_values_list_on_both_backends() {
    let (a, b, lease) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let sent = [(a, Some("re_a".to_owned())), (b, None)];
    let now = Timestamp::now();
    let lite = finish_sent(Backend::Sqlite, &sent, lease, now);
    // sent_at, updated_at, two (id, provider id) pairs, the lease: in the order they appear.
    assert_eq!(lite.args.len(), 7);
    assert_eq!(lite.sql.matches('?').count(), 7, "{}", lite.sql);
    assert!(
        lite.sql.contains("FROM (VALUES (?, ?), (?, ?)) AS v"),
        "{}",
        lite.sql
    );
    assert_eq!(lite.args[2], Arg::Uuid(Some(a)));
    assert_eq!(lite.args[5], Arg::Text(None));
    assert_eq!(lite.args[6], Arg::Uuid(Some(lease)));
    let pg = finish_sent(Backend::Postgres, &sent, lease, now);
    assert_eq!(pg.args, lite.args);
    assert!(
        pg.sql
            .contains("(VALUES ($3::uuid, $4::text), ($5::uuid, $6::text))"),
        "{}",
        pg.sql
    );
    assert!(pg.sql.contains("lease_token = $7::uuid"), "{}", pg.sql);
    assert!(pg.sql.ends_with("RETURNING email_outbox.id AS id"));
}
