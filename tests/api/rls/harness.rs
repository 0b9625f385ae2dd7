//! The fixture and the callers: a migrated database with four bookings, and one transaction per
//! API role with the caller's claims.

use std::collections::BTreeSet;

use calbook::store::{Store, StoreOptions};
use serde_json::{Value, json};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::postgres_server;

/// The SQLSTATE PostgreSQL answers with when a role lacks the privilege (a missing grant).
pub(super) const DENIED: &str = "42501";

pub(super) const ADA: Uuid = Uuid::from_u128(0xada0_0000_0000_4000_8000_0000_0000_0001);
pub(super) const BOB: Uuid = Uuid::from_u128(0xb0b0_0000_0000_4000_8000_0000_0000_0002);
pub(super) const ADMIN: Uuid = Uuid::from_u128(0xad01_0000_0000_4000_8000_0000_0000_0003);
pub(super) const MALLORY: Uuid = Uuid::from_u128(0x3a11_0000_0000_4000_8000_0000_0000_0004);
pub(super) const KIM: Uuid = Uuid::from_u128(0x0c10_0000_0000_4000_8000_0000_0000_0005);
/// A phone sign-in: its token's `email` claim is empty.
pub(super) const PHONE: Uuid = Uuid::from_u128(0x0f00_0000_0000_4000_8000_0000_0000_0006);

pub(super) const ADA_EMAIL: &str = "ada@example.com";
pub(super) const BOB_EMAIL: &str = "bob@example.com";
pub(super) const MALLORY_EMAIL: &str = "mallory@example.com";
/// Kim's address with `K` (U+212A KELVIN SIGN), which Unicode lower-cases to `k`.
pub(super) const KELVIN_KIM: &str = "\u{212A}im@example.com";

/// The stored bookings, one history row each.
pub(super) struct Bookings {
    /// client_id = Ada.
    pub(super) ada_by_id: Uuid,
    /// No client_id; the attendee is Ada (in another letter case).
    pub(super) ada_by_email: Uuid,
    /// client_id = Bob, although the attendee address is Ada's: the client id decides.
    pub(super) bob_with_adas_email: Uuid,
    /// client_id = Mallory.
    pub(super) mallory_by_id: Uuid,
    /// No client_id; the attendee is Kim, in another (ASCII) letter case.
    pub(super) kim_by_email: Uuid,
    /// No client_id; the attendee address is Kim's written with a Kelvin sign.
    pub(super) kelvin_attendee: Uuid,
    /// No client_id and an empty attendee email (as the old app could leave one).
    pub(super) blank_attendee: Uuid,
}

impl Bookings {
    pub(super) fn all(&self) -> BTreeSet<Uuid> {
        set(&[
            self.ada_by_id,
            self.ada_by_email,
            self.bob_with_adas_email,
            self.mallory_by_id,
            self.kim_by_email,
            self.kelvin_attendee,
            self.blank_attendee,
        ])
    }

    /// The fixture's bookings, stored in `pool` by the superuser.
    pub(super) async fn store(pool: &PgPool) -> Bookings {
        Bookings {
            ada_by_id: store_booking(pool, Some(ADA), "someone@example.org").await,
            ada_by_email: store_booking(pool, None, "Ada@Example.COM").await,
            bob_with_adas_email: store_booking(pool, Some(BOB), ADA_EMAIL).await,
            mallory_by_id: store_booking(pool, Some(MALLORY), MALLORY_EMAIL).await,
            kim_by_email: store_booking(pool, None, "Kim@EXAMPLE.com").await,
            kelvin_attendee: store_booking(pool, None, KELVIN_KIM).await,
            blank_attendee: store_booking(pool, None, "").await,
        }
    }
}

pub(super) fn set(ids: &[Uuid]) -> BTreeSet<Uuid> {
    ids.iter().copied().collect()
}

/// A fresh database, migrated by calbook, with the fixture's bookings stored by the superuser.
pub(super) async fn migrated_database() -> (PgPool, Bookings) {
    let (url, _) = postgres_server::create_database().await;
    let pool = match Store::open(&url, &StoreOptions::default())
        .await
        .expect("calbook migrates the database")
    {
        Store::Postgres(pool) => pool,
        Store::Sqlite(_) => unreachable!("a postgres:// URL"),
    };
    let bookings = Bookings::store(&pool).await;
    (pool, bookings)
}

pub(super) async fn store_booking(
    pool: &PgPool,
    client_id: Option<Uuid>,
    attendee_email: &str,
) -> Uuid {
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
pub(super) async fn as_superuser(pool: &PgPool, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// One API request's view of the database: a transaction under an API role with the caller's
/// JWT claims, rolled back at the end.
pub(super) struct Session {
    pub(super) tx: Transaction<'static, Postgres>,
}

/// What a statement did: rows returned or affected, or the SQLSTATE it failed with.
pub(super) type Answer<T> = Result<T, String>;

pub(super) fn sqlstate(e: sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()).unwrap_or_default(),
        other => panic!("not a database error: {other}"),
    }
}

impl Session {
    pub(super) async fn begin(pool: &PgPool, role: &str, claims: Value) -> Session {
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
    pub(super) async fn bookings(&mut self) -> Answer<BTreeSet<Uuid>> {
        self.ids("SELECT id FROM bookings").await
    }

    /// Booking ids of the history rows this caller can read.
    pub(super) async fn history(&mut self) -> Answer<BTreeSet<Uuid>> {
        self.ids("SELECT booking_id FROM booking_history").await
    }

    pub(super) async fn ids(&mut self, sql: &'static str) -> Answer<BTreeSet<Uuid>> {
        self.savepoint().await;
        let res = sqlx::query_scalar::<_, Uuid>(sql)
            .fetch_all(&mut *self.tx)
            .await
            .map(|ids| ids.into_iter().collect());
        self.settle(res).await
    }

    /// Rows returned by `SELECT {columns} FROM {table}`.
    pub(super) async fn select(&mut self, table: &str, columns: &str) -> Answer<usize> {
        self.savepoint().await;
        let res = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {columns} FROM {table}"
        )))
        .fetch_all(&mut *self.tx)
        .await
        .map(|rows| rows.len());
        self.settle(res).await
    }

    /// Rows counted by `SELECT count(*) FROM {table}`.
    pub(super) async fn count(&mut self, table: &str) -> Answer<i64> {
        self.savepoint().await;
        let res = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&mut *self.tx)
            .await;
        self.settle(res).await
    }

    /// Every statement runs inside a savepoint, so that a refusal (which aborts the transaction)
    /// leaves the session usable for the next one.
    pub(super) async fn savepoint(&mut self) {
        sqlx::query("SAVEPOINT attempt")
            .execute(&mut *self.tx)
            .await
            .expect("SAVEPOINT");
    }

    pub(super) async fn settle<T>(&mut self, answer: Result<T, sqlx::Error>) -> Answer<T> {
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
    pub(super) async fn write(&mut self, sql: &str, id: Uuid) -> Answer<u64> {
        self.savepoint().await;
        let res = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map(|r| r.rows_affected());
        self.settle(res).await
    }

    pub(super) async fn insert_booking(&mut self) -> Answer<u64> {
        self.write(
            "INSERT INTO bookings (id, title, starts_at, ends_at) \
             VALUES ($1, 'Sneaky', now(), now() + interval '1 hour')",
            Uuid::new_v4(),
        )
        .await
    }

    pub(super) async fn update_booking(&mut self, id: Uuid) -> Answer<u64> {
        self.write("UPDATE bookings SET title = 'Changed' WHERE id = $1", id)
            .await
    }

    pub(super) async fn delete_booking(&mut self, id: Uuid) -> Answer<u64> {
        self.write("DELETE FROM bookings WHERE id = $1", id).await
    }

    pub(super) async fn insert_history(&mut self, booking_id: Uuid) -> Answer<u64> {
        self.write(
            "INSERT INTO booking_history (booking_id, action) VALUES ($1, 'note')",
            booking_id,
        )
        .await
    }

    pub(super) async fn update_history(&mut self, booking_id: Uuid) -> Answer<u64> {
        self.write(
            "UPDATE booking_history SET action = 'forged' WHERE booking_id = $1",
            booking_id,
        )
        .await
    }

    pub(super) async fn delete_history(&mut self, booking_id: Uuid) -> Answer<u64> {
        self.write(
            "DELETE FROM booking_history WHERE booking_id = $1",
            booking_id,
        )
        .await
    }

    pub(super) async fn end(self) {
        self.tx.rollback().await.expect("ROLLBACK");
    }
}

/// A signed-in client, as PostgREST would present them.
pub(super) async fn as_client(pool: &PgPool, sub: Uuid, email: &str) -> Session {
    let claims = json!({
        "sub": sub, "email": email, "role": "authenticated", "aud": "authenticated",
        "app_metadata": {"provider": "email"}, "user_metadata": {},
    });
    Session::begin(pool, "authenticated", claims).await
}

/// A client signed in by phone: `email` is `""` (as Supabase sets it), or absent.
pub(super) async fn as_phone_client(pool: &PgPool, email: Option<&str>) -> Session {
    let mut claims = json!({
        "sub": PHONE, "phone": "15550100", "role": "authenticated", "aud": "authenticated",
        "app_metadata": {"provider": "phone"}, "user_metadata": {},
    });
    if let Some(e) = email {
        claims["email"] = json!(e);
    }
    Session::begin(pool, "authenticated", claims).await
}

/// A signed-in user whose app_metadata (set by the server) says admin.
pub(super) async fn as_admin(pool: &PgPool) -> Session {
    let claims = json!({
        "sub": ADMIN, "email": "admin@example.com", "role": "authenticated",
        "app_metadata": {"provider": "email", "role": "admin"}, "user_metadata": {},
    });
    Session::begin(pool, "authenticated", claims).await
}

/// Mallory put `role: admin` into her own user_metadata, which any user may edit.
pub(super) async fn as_self_declared_admin(pool: &PgPool) -> Session {
    let claims = json!({
        "sub": MALLORY, "email": MALLORY_EMAIL, "role": "authenticated",
        "app_metadata": {"provider": "email"}, "user_metadata": {"role": "admin"},
    });
    Session::begin(pool, "authenticated", claims).await
}

/// The `authenticated` role with an email claim but no `sub`.
pub(super) async fn as_authenticated_without_sub(pool: &PgPool) -> Session {
    let claims = json!({"email": ADA_EMAIL, "role": "authenticated"});
    Session::begin(pool, "authenticated", claims).await
}

/// The publishable (anon) key, with no user token.
pub(super) async fn as_anon(pool: &PgPool) -> Session {
    Session::begin(pool, "anon", json!({"role": "anon"})).await
}

/// The anon role carrying Ada's claims (the role, not the claims, decides).
pub(super) async fn as_anon_with_adas_claims(pool: &PgPool) -> Session {
    let claims = json!({"sub": ADA, "email": ADA_EMAIL, "role": "anon"});
    Session::begin(pool, "anon", claims).await
}

/// The server-side service key.
pub(super) async fn as_service_role(pool: &PgPool) -> Session {
    Session::begin(pool, "service_role", json!({"role": "service_role"})).await
}

/// A member of service_role without BYPASSRLS (created inside the transaction, so it vanishes on
/// rollback): what service_role is on a plain PostgreSQL where it could not get BYPASSRLS. Only
/// the explicit service_role policies let it through.
pub(super) async fn as_service_role_without_bypass(pool: &PgPool) -> Session {
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
