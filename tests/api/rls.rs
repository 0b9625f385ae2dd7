//! Row-level security on PostgreSQL (migrations/postgres/0003_access.sql), checked on the real
//! server the way Supabase's API reaches it: inside `BEGIN … ROLLBACK`, `SET LOCAL ROLE
//! authenticated | anon | service_role` with the caller's JWT claims in `request.jwt.claims`.
//! The fixture is written as the test superuser, which (like calbook itself) is not subject to
//! RLS. SQLite has no RLS; calbook's own API applies the same ownership rule there.
//!
//! Each rule is one `check_…` function returning `Err` with what went wrong; the tests call them
//! on the migrated schema (all must pass) and on copies with one policy or grant broken (the
//! check that guards it must fail).

use std::collections::BTreeSet;

use calbook::store::{Store, StoreOptions};
use serde_json::{Value, json};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::postgres_server;

/// The SQLSTATE PostgreSQL answers with when a role lacks the privilege (a missing grant).
const DENIED: &str = "42501";

const ADA: Uuid = Uuid::from_u128(0xada0_0000_0000_4000_8000_0000_0000_0001);
const BOB: Uuid = Uuid::from_u128(0xb0b0_0000_0000_4000_8000_0000_0000_0002);
const ADMIN: Uuid = Uuid::from_u128(0xad01_0000_0000_4000_8000_0000_0000_0003);
const MALLORY: Uuid = Uuid::from_u128(0x3a11_0000_0000_4000_8000_0000_0000_0004);

const ADA_EMAIL: &str = "ada@example.com";
const BOB_EMAIL: &str = "bob@example.com";
const MALLORY_EMAIL: &str = "mallory@example.com";

/// The stored bookings, one history row each.
struct Bookings {
    /// client_id = Ada.
    ada_by_id: Uuid,
    /// No client_id; the attendee is Ada (in another letter case).
    ada_by_email: Uuid,
    /// client_id = Bob, although the attendee address is Ada's: the client id decides.
    bob_with_adas_email: Uuid,
    /// client_id = Mallory.
    mallory_by_id: Uuid,
}

impl Bookings {
    fn all(&self) -> BTreeSet<Uuid> {
        set(&[
            self.ada_by_id,
            self.ada_by_email,
            self.bob_with_adas_email,
            self.mallory_by_id,
        ])
    }
}

fn set(ids: &[Uuid]) -> BTreeSet<Uuid> {
    ids.iter().copied().collect()
}

/// A fresh database, migrated by calbook, with the four bookings stored by the superuser.
async fn migrated_database() -> (PgPool, Bookings) {
    let (url, _) = postgres_server::create_database().await;
    let pool = match Store::open(&url, &StoreOptions::default())
        .await
        .expect("calbook migrates the database")
    {
        Store::Postgres(pool) => pool,
        Store::Sqlite(_) => unreachable!("a postgres:// URL"),
    };
    let bookings = Bookings {
        ada_by_id: store_booking(&pool, Some(ADA), "someone@example.org").await,
        ada_by_email: store_booking(&pool, None, "Ada@Example.COM").await,
        bob_with_adas_email: store_booking(&pool, Some(BOB), ADA_EMAIL).await,
        mallory_by_id: store_booking(&pool, Some(MALLORY), MALLORY_EMAIL).await,
    };
    (pool, bookings)
}

async fn store_booking(pool: &PgPool, client_id: Option<Uuid>, attendee_email: &str) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO bookings (id, client_id, title, starts_at, ends_at, attendee_email) \
         VALUES ($1, $2, 'Intro call', now() + interval '1 day', now() + interval '25 hours', $3)",
    )
    .bind(id)
    .bind(client_id)
    .bind(attendee_email)
    .execute(pool)
    .await
    .expect("the superuser stores a booking");
    sqlx::query("INSERT INTO booking_history (booking_id, action) VALUES ($1, 'created')")
        .bind(id)
        .execute(pool)
        .await
        .expect("the superuser stores a history row");
    id
}

/// Runs `sql` as the superuser (to break a policy on purpose).
async fn as_superuser(pool: &PgPool, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// One API request's view of the database: a transaction under an API role with the caller's
/// JWT claims, rolled back at the end.
struct Session {
    tx: Transaction<'static, Postgres>,
}

/// What a statement did: rows returned or affected, or the SQLSTATE it failed with.
type Answer<T> = Result<T, String>;

fn sqlstate(e: sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()).unwrap_or_default(),
        other => panic!("not a database error: {other}"),
    }
}

impl Session {
    async fn begin(pool: &PgPool, role: &str, claims: Value) -> Session {
        let mut tx = pool.begin().await.expect("BEGIN");
        sqlx::query(sqlx::AssertSqlSafe(format!("SET LOCAL ROLE {role}")))
            .execute(&mut *tx)
            .await
            .expect("SET LOCAL ROLE");
        sqlx::query("SELECT set_config('request.jwt.claims', $1, true)")
            .bind(claims.to_string())
            .execute(&mut *tx)
            .await
            .expect("set request.jwt.claims");
        Session { tx }
    }

    /// Ids of the bookings this caller can read.
    async fn bookings(&mut self) -> Answer<BTreeSet<Uuid>> {
        self.ids("SELECT id FROM bookings").await
    }

    /// Booking ids of the history rows this caller can read.
    async fn history(&mut self) -> Answer<BTreeSet<Uuid>> {
        self.ids("SELECT booking_id FROM booking_history").await
    }

    async fn ids(&mut self, sql: &'static str) -> Answer<BTreeSet<Uuid>> {
        self.savepoint().await;
        let res = sqlx::query_scalar::<_, Uuid>(sql)
            .fetch_all(&mut *self.tx)
            .await
            .map(|ids| ids.into_iter().collect());
        self.settle(res).await
    }

    /// Rows counted by `SELECT count(*) FROM {table}`.
    async fn count(&mut self, table: &str) -> Answer<i64> {
        self.savepoint().await;
        let res = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&mut *self.tx)
            .await;
        self.settle(res).await
    }

    /// Every statement runs inside a savepoint, so that a refusal (which aborts the transaction)
    /// leaves the session usable for the next one.
    async fn savepoint(&mut self) {
        sqlx::query("SAVEPOINT attempt")
            .execute(&mut *self.tx)
            .await
            .expect("SAVEPOINT");
    }

    async fn settle<T>(&mut self, answer: Result<T, sqlx::Error>) -> Answer<T> {
        let end = if answer.is_ok() {
            "RELEASE SAVEPOINT attempt"
        } else {
            "ROLLBACK TO SAVEPOINT attempt"
        };
        sqlx::query(end)
            .execute(&mut *self.tx)
            .await
            .expect("end of savepoint");
        answer.map_err(sqlstate)
    }

    /// Rows a write affected.
    async fn write(&mut self, sql: &str, id: Uuid) -> Answer<u64> {
        self.savepoint().await;
        let res = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map(|r| r.rows_affected());
        self.settle(res).await
    }

    async fn insert_booking(&mut self) -> Answer<u64> {
        self.write(
            "INSERT INTO bookings (id, title, starts_at, ends_at) \
             VALUES ($1, 'Sneaky', now(), now() + interval '1 hour')",
            Uuid::new_v4(),
        )
        .await
    }

    async fn update_booking(&mut self, id: Uuid) -> Answer<u64> {
        self.write("UPDATE bookings SET title = 'Changed' WHERE id = $1", id)
            .await
    }

    async fn delete_booking(&mut self, id: Uuid) -> Answer<u64> {
        self.write("DELETE FROM bookings WHERE id = $1", id).await
    }

    async fn insert_history(&mut self, booking_id: Uuid) -> Answer<u64> {
        self.write(
            "INSERT INTO booking_history (booking_id, action) VALUES ($1, 'note')",
            booking_id,
        )
        .await
    }

    async fn update_history(&mut self, booking_id: Uuid) -> Answer<u64> {
        self.write(
            "UPDATE booking_history SET action = 'forged' WHERE booking_id = $1",
            booking_id,
        )
        .await
    }

    async fn delete_history(&mut self, booking_id: Uuid) -> Answer<u64> {
        self.write(
            "DELETE FROM booking_history WHERE booking_id = $1",
            booking_id,
        )
        .await
    }

    async fn end(self) {
        self.tx.rollback().await.expect("ROLLBACK");
    }
}

/// A signed-in client, as PostgREST would present them.
async fn as_client(pool: &PgPool, sub: Uuid, email: &str) -> Session {
    let claims = json!({
        "sub": sub, "email": email, "role": "authenticated", "aud": "authenticated",
        "app_metadata": {"provider": "email"}, "user_metadata": {},
    });
    Session::begin(pool, "authenticated", claims).await
}

/// A signed-in user whose app_metadata (set by the server) says admin.
async fn as_admin(pool: &PgPool) -> Session {
    let claims = json!({
        "sub": ADMIN, "email": "admin@example.com", "role": "authenticated",
        "app_metadata": {"provider": "email", "role": "admin"}, "user_metadata": {},
    });
    Session::begin(pool, "authenticated", claims).await
}

/// Mallory put `role: admin` into her own user_metadata, which any user may edit.
async fn as_self_declared_admin(pool: &PgPool) -> Session {
    let claims = json!({
        "sub": MALLORY, "email": MALLORY_EMAIL, "role": "authenticated",
        "app_metadata": {"provider": "email"}, "user_metadata": {"role": "admin"},
    });
    Session::begin(pool, "authenticated", claims).await
}

/// The `authenticated` role with an email claim but no `sub`.
async fn as_authenticated_without_sub(pool: &PgPool) -> Session {
    let claims = json!({"email": ADA_EMAIL, "role": "authenticated"});
    Session::begin(pool, "authenticated", claims).await
}

/// The publishable (anon) key, with no user token.
async fn as_anon(pool: &PgPool) -> Session {
    Session::begin(pool, "anon", json!({"role": "anon"})).await
}

/// The anon role carrying Ada's claims (the role, not the claims, decides).
async fn as_anon_with_adas_claims(pool: &PgPool) -> Session {
    let claims = json!({"sub": ADA, "email": ADA_EMAIL, "role": "anon"});
    Session::begin(pool, "anon", claims).await
}

/// The server-side service key.
async fn as_service_role(pool: &PgPool) -> Session {
    Session::begin(pool, "service_role", json!({"role": "service_role"})).await
}

/// A member of service_role without BYPASSRLS (created inside the transaction, so it vanishes on
/// rollback): what service_role is on a plain PostgreSQL where it could not get BYPASSRLS. Only
/// the explicit service_role policies let it through.
async fn as_service_role_without_bypass(pool: &PgPool) -> Session {
    let mut tx = pool.begin().await.expect("BEGIN");
    let role = format!("calbook_test_backend_{}", Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE ROLE {role} NOLOGIN INHERIT NOBYPASSRLS IN ROLE service_role"
    )))
    .execute(&mut *tx)
    .await
    .expect("CREATE ROLE");
    sqlx::query(sqlx::AssertSqlSafe(format!("SET LOCAL ROLE {role}")))
        .execute(&mut *tx)
        .await
        .expect("SET LOCAL ROLE");
    Session { tx }
}

/// Returns `Err` naming the rule when `actual != expected`.
macro_rules! expect {
    ($actual:expr, $expected:expr, $($rule:tt)+) => {{
        let actual = $actual;
        let expected = $expected;
        if actual != expected {
            return Err(format!(
                "{}: got {actual:?}, expected {expected:?}",
                format!($($rule)+)
            ));
        }
    }};
}

fn denied<T>() -> Answer<T> {
    Err(DENIED.to_owned())
}

/// Clients read their own bookings (by client id, or by email when there is no client id) and
/// their history, and nobody else's.
async fn check_clients_read_only_their_own(pool: &PgPool, b: &Bookings) -> Result<(), String> {
    let mut ada = as_client(pool, ADA, ADA_EMAIL).await;
    expect!(
        ada.bookings().await,
        Ok(set(&[b.ada_by_id, b.ada_by_email])),
        "Ada reads her bookings (by client id and by email), not Bob's"
    );
    expect!(
        ada.history().await,
        Ok(set(&[b.ada_by_id, b.ada_by_email])),
        "Ada reads the history of her bookings only"
    );
    ada.end().await;

    let mut bob = as_client(pool, BOB, BOB_EMAIL).await;
    expect!(
        bob.bookings().await,
        Ok(set(&[b.bob_with_adas_email])),
        "Bob reads his booking only"
    );
    expect!(
        bob.history().await,
        Ok(set(&[b.bob_with_adas_email])),
        "Bob reads his booking's history only"
    );
    bob.end().await;

    let mut no_sub = as_authenticated_without_sub(pool).await;
    expect!(
        no_sub.bookings().await,
        Ok(set(&[])),
        "a token without sub reads nothing, even with a matching email"
    );
    expect!(
        no_sub.history().await,
        Ok(set(&[])),
        "a token without sub reads no history"
    );
    no_sub.end().await;
    Ok(())
}

/// app_metadata.role = admin reads everything; user_metadata.role = admin is ignored.
async fn check_admin_is_told_by_app_metadata(pool: &PgPool, b: &Bookings) -> Result<(), String> {
    let mut admin = as_admin(pool).await;
    expect!(
        admin.bookings().await,
        Ok(b.all()),
        "the admin reads every booking"
    );
    expect!(
        admin.history().await,
        Ok(b.all()),
        "the admin reads all history"
    );
    admin.end().await;

    let mut mallory = as_self_declared_admin(pool).await;
    expect!(
        mallory.bookings().await,
        Ok(set(&[b.mallory_by_id])),
        "user_metadata.role = admin reads only its own bookings"
    );
    expect!(
        mallory.history().await,
        Ok(set(&[b.mallory_by_id])),
        "user_metadata.role = admin reads only its own history"
    );
    mallory.end().await;
    Ok(())
}

/// anon has no grant at all: every statement is refused with 42501, whatever the claims.
async fn check_anon_reads_and_writes_nothing(pool: &PgPool, b: &Bookings) -> Result<(), String> {
    let mut anon = as_anon(pool).await;
    expect!(anon.bookings().await, denied(), "anon selects bookings");
    expect!(anon.history().await, denied(), "anon selects history");
    expect!(
        anon.insert_booking().await,
        denied(),
        "anon inserts a booking"
    );
    expect!(
        anon.update_booking(b.ada_by_id).await,
        denied(),
        "anon updates"
    );
    expect!(
        anon.delete_booking(b.ada_by_id).await,
        denied(),
        "anon deletes"
    );
    anon.end().await;

    let mut anon = as_anon_with_adas_claims(pool).await;
    expect!(
        anon.bookings().await,
        denied(),
        "anon with Ada's claims selects"
    );
    expect!(
        anon.history().await,
        denied(),
        "anon with Ada's claims reads history"
    );
    anon.end().await;
    Ok(())
}

/// Only the service role writes bookings; clients and admins are refused (no grant: 42501).
async fn check_only_the_service_role_writes(pool: &PgPool, b: &Bookings) -> Result<(), String> {
    let mut ada = as_client(pool, ADA, ADA_EMAIL).await;
    expect!(
        ada.insert_booking().await,
        denied(),
        "Ada inserts a booking"
    );
    expect!(
        ada.update_booking(b.ada_by_id).await,
        denied(),
        "Ada updates her booking"
    );
    expect!(
        ada.delete_booking(b.ada_by_id).await,
        denied(),
        "Ada deletes her booking"
    );
    expect!(
        ada.insert_history(b.ada_by_id).await,
        denied(),
        "Ada writes history"
    );
    ada.end().await;

    let mut admin = as_admin(pool).await;
    expect!(admin.insert_booking().await, denied(), "the admin inserts");
    expect!(
        admin.update_booking(b.ada_by_id).await,
        denied(),
        "the admin updates"
    );
    expect!(
        admin.delete_booking(b.ada_by_id).await,
        denied(),
        "the admin deletes"
    );
    admin.end().await;

    for bypass in [true, false] {
        let (mut service, who) = if bypass {
            (as_service_role(pool).await, "service_role")
        } else {
            (
                as_service_role_without_bypass(pool).await,
                "service_role without BYPASSRLS",
            )
        };
        expect!(
            service.bookings().await,
            Ok(b.all()),
            "{who} reads every booking"
        );
        expect!(
            service.insert_booking().await,
            Ok(1),
            "{who} inserts a booking"
        );
        expect!(
            service.update_booking(b.ada_by_id).await,
            Ok(1),
            "{who} updates"
        );
        expect!(
            service.insert_history(b.ada_by_id).await,
            Ok(1),
            "{who} adds history"
        );
        expect!(
            service.delete_booking(b.bob_with_adas_email).await,
            Ok(1),
            "{who} deletes"
        );
        service.end().await;
    }
    Ok(())
}

/// booking_history is append-only for every API role, the service role included.
async fn check_history_is_append_only(pool: &PgPool, b: &Bookings) -> Result<(), String> {
    let mut sessions = vec![
        ("service_role", as_service_role(pool).await),
        (
            "service_role without BYPASSRLS",
            as_service_role_without_bypass(pool).await,
        ),
        ("the admin", as_admin(pool).await),
        ("Ada", as_client(pool, ADA, ADA_EMAIL).await),
    ];
    for (who, s) in &mut sessions {
        expect!(
            s.update_history(b.ada_by_id).await,
            denied(),
            "{who} updates history"
        );
        expect!(
            s.delete_history(b.ada_by_id).await,
            denied(),
            "{who} deletes history"
        );
    }
    for (_, s) in sessions {
        s.end().await;
    }
    Ok(())
}

/// Deliveries (raw bodies), the outbox (addresses) and sqlx's table are closed to anon and
/// authenticated.
async fn check_internal_tables_are_closed(pool: &PgPool) -> Result<(), String> {
    for table in ["webhook_deliveries", "email_outbox", "_sqlx_migrations"] {
        let mut admin = as_admin(pool).await;
        expect!(
            admin.count(table).await,
            denied(),
            "the admin reads {table}"
        );
        admin.end().await;
        let mut anon = as_anon(pool).await;
        expect!(anon.count(table).await, denied(), "anon reads {table}");
        anon.end().await;
    }
    Ok(())
}

/// Every check above, on one database.
async fn check_all(pool: &PgPool, b: &Bookings) -> Result<(), String> {
    check_clients_read_only_their_own(pool, b).await?;
    check_admin_is_told_by_app_metadata(pool, b).await?;
    check_anon_reads_and_writes_nothing(pool, b).await?;
    check_only_the_service_role_writes(pool, b).await?;
    check_history_is_append_only(pool, b).await?;
    check_internal_tables_are_closed(pool).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_read_only_their_own_bookings_and_history() {
    let (pool, b) = migrated_database().await;
    check_clients_read_only_their_own(&pool, &b).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_are_told_by_app_metadata_never_user_metadata() {
    let (pool, b) = migrated_database().await;
    check_admin_is_told_by_app_metadata(&pool, &b)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anon_reads_and_writes_nothing() {
    let (pool, b) = migrated_database().await;
    check_anon_reads_and_writes_nothing(&pool, &b)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_service_role_writes_bookings() {
    let (pool, b) = migrated_database().await;
    check_only_the_service_role_writes(&pool, &b).await.unwrap();
    // The writes were rolled back.
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM bookings")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booking_history_is_append_only() {
    let (pool, b) = migrated_database().await;
    check_history_is_append_only(&pool, &b).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_outbox_and_migrations_are_closed_to_api_roles() {
    let (pool, _) = migrated_database().await;
    check_internal_tables_are_closed(&pool).await.unwrap();
}

/// Policies call auth.uid() / auth.jwt() through a sub-select (one evaluation per statement, as
/// Supabase's linter asks), and the columns they filter on are indexed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_evaluate_auth_once_per_statement_and_use_indexes() {
    let (pool, _) = migrated_database().await;
    let quals: Vec<(String, String)> = sqlx::query_as(
        "SELECT policyname::text, coalesce(qual, '') || ' ' || coalesce(with_check, '') \
         FROM pg_policies WHERE tablename IN ('bookings', 'booking_history')",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(quals.len(), 10, "{quals:?}");
    for (name, qual) in &quals {
        for call in ["auth.uid()", "auth.jwt()"] {
            let calls = qual.matches(call).count();
            let wrapped = qual.matches(&format!("SELECT {call}")).count()
                + qual.matches(&format!("SELECT lower(({call}")).count()
                + qual.matches(&format!("SELECT (({call}")).count();
            assert_eq!(calls, wrapped, "{name} calls {call} unwrapped: {qual}");
        }
    }

    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'bookings' ORDER BY indexname",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for wanted in [
        "bookings_client_starts_idx ON public.bookings USING btree (client_id, starts_at, id)",
        "bookings_attendee_email_idx ON public.bookings USING btree (lower(attendee_email), starts_at)",
        "bookings_starts_id_idx ON public.bookings USING btree (starts_at, id)",
    ] {
        assert!(
            indexes.iter().any(|i| i.ends_with(wanted)),
            "missing {wanted}: {indexes:#?}"
        );
    }
}

/// A database the old app left behind, with its own (looser) policies: calbook's migrations
/// replace them, so they cannot widen access (permissive policies are OR'ed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopting_the_old_apps_database_drops_its_policies() {
    let (url, _) = postgres_server::create_database().await;
    let old = sqlx::PgPool::connect(&url).await.unwrap();
    as_superuser(
        &old,
        "CREATE TABLE bookings (
           id uuid PRIMARY KEY DEFAULT gen_random_uuid(), client_id uuid NULL,
           title text NOT NULL, description text NULL,
           starts_at timestamptz NOT NULL, ends_at timestamptz NOT NULL,
           external_id text UNIQUE, provider text NOT NULL DEFAULT 'calcom',
           attendee_email text NULL, attendee_name text NULL,
           status text NOT NULL DEFAULT 'confirmed',
           created_at timestamptz NOT NULL DEFAULT now(),
           updated_at timestamptz NOT NULL DEFAULT now());
         CREATE TABLE booking_history (
           id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
           booking_id uuid NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
           action text NOT NULL, old_values jsonb NULL, new_values jsonb NULL,
           created_at timestamptz NOT NULL DEFAULT now());
         ALTER TABLE bookings ENABLE ROW LEVEL SECURITY;
         ALTER TABLE booking_history ENABLE ROW LEVEL SECURITY;
         CREATE POLICY \"Anyone can view bookings\" ON bookings FOR SELECT USING (true);
         CREATE POLICY \"Anyone can view history\" ON booking_history FOR SELECT USING (true);
         CREATE POLICY \"Anyone can fix history\" ON booking_history FOR UPDATE USING (true);",
    )
    .await;
    old.close().await;

    let store = Store::open(&url, &StoreOptions::default())
        .await
        .expect("calbook adopts the old database");
    let Store::Postgres(pool) = store else {
        unreachable!()
    };
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT policyname::text FROM pg_policies \
         WHERE tablename IN ('bookings', 'booking_history') AND policyname NOT LIKE 'calbook\\_%'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        names,
        Vec::<String>::new(),
        "the old app's policies are gone"
    );

    let b = Bookings {
        ada_by_id: store_booking(&pool, Some(ADA), "someone@example.org").await,
        ada_by_email: store_booking(&pool, None, "Ada@Example.COM").await,
        bob_with_adas_email: store_booking(&pool, Some(BOB), ADA_EMAIL).await,
        mallory_by_id: store_booking(&pool, Some(MALLORY), MALLORY_EMAIL).await,
    };
    check_all(&pool, &b).await.unwrap();
}

/// Each check catches the mistake it is there for: with one policy or grant broken (in a database
/// of its own), the named check fails. Without this, a check that can never fail would pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_policy_fails_its_check() {
    type Check = for<'a> fn(
        &'a PgPool,
        &'a Bookings,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>,
    >;
    let clients: Check = |p, b| Box::pin(check_clients_read_only_their_own(p, b));
    let admin: Check = |p, b| Box::pin(check_admin_is_told_by_app_metadata(p, b));
    let anon: Check = |p, b| Box::pin(check_anon_reads_and_writes_nothing(p, b));
    let writes: Check = |p, b| Box::pin(check_only_the_service_role_writes(p, b));
    let history: Check = |p, b| Box::pin(check_history_is_append_only(p, b));
    let internal: Check = |p, _| Box::pin(check_internal_tables_are_closed(p));

    let breakages: [(&str, &str, Check); 8] = [
        (
            "the client policy lets every signed-in user read everything",
            "DROP POLICY calbook_client_reads_own_bookings ON bookings;
             CREATE POLICY calbook_client_reads_own_bookings ON bookings
               FOR SELECT TO authenticated USING (true);",
            clients,
        ),
        (
            "the email match ignores whether client_id is set",
            "DROP POLICY calbook_client_reads_own_bookings ON bookings;
             CREATE POLICY calbook_client_reads_own_bookings ON bookings
               FOR SELECT TO authenticated USING (
                 client_id = (SELECT auth.uid())
                 OR lower(attendee_email) = (SELECT lower(auth.jwt() ->> 'email')));",
            clients,
        ),
        (
            "the client history policy does not look at the booking",
            "DROP POLICY calbook_client_reads_own_history ON booking_history;
             CREATE POLICY calbook_client_reads_own_history ON booking_history
               FOR SELECT TO authenticated USING ((SELECT auth.uid()) IS NOT NULL);",
            clients,
        ),
        (
            "the admin policy trusts user_metadata",
            "DROP POLICY calbook_admin_reads_all_bookings ON bookings;
             CREATE POLICY calbook_admin_reads_all_bookings ON bookings
               FOR SELECT TO authenticated
               USING ((SELECT auth.jwt() -> 'user_metadata' ->> 'role') = 'admin');",
            admin,
        ),
        (
            "anon was granted SELECT",
            "GRANT SELECT ON bookings, booking_history TO anon;",
            anon,
        ),
        (
            "signed-in users may insert their own bookings",
            "GRANT INSERT ON bookings TO authenticated;
             CREATE POLICY own_insert ON bookings FOR INSERT TO authenticated
               WITH CHECK (true);",
            writes,
        ),
        (
            "the service role may rewrite history",
            "GRANT UPDATE, DELETE ON booking_history TO service_role;
             CREATE POLICY fix_history ON booking_history FOR ALL TO service_role
               USING (true);",
            history,
        ),
        (
            "the outbox is readable by signed-in users",
            "GRANT SELECT ON email_outbox TO authenticated;
             ALTER TABLE email_outbox DISABLE ROW LEVEL SECURITY;",
            internal,
        ),
    ];

    let runs = breakages.into_iter().map(|(what, sql, check)| async move {
        let (pool, b) = migrated_database().await;
        check(&pool, &b)
            .await
            .unwrap_or_else(|e| panic!("before breaking anything ({what}): {e}"));
        as_superuser(&pool, sql).await;
        match check(&pool, &b).await {
            Ok(()) => Err(format!("the check still passes when {what}")),
            Err(_) => Ok(()),
        }
    });
    let failures: Vec<String> = futures::future::join_all(runs)
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}
