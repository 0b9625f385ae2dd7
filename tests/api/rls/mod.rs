//! Row-level security on PostgreSQL (migrations/postgres/0003_access.sql and 0004_ownership.sql), checked on the real
//! server the way Supabase's API reaches it: inside `BEGIN … ROLLBACK`, `SET LOCAL ROLE
//! authenticated | anon | service_role` with the caller's JWT claims in `request.jwt.claims`.
//! The fixture is written as the test superuser, which (like calbook itself) is not subject to
//! RLS. SQLite has no RLS; calbook's own API applies the same ownership rule there.
//!
//! Each rule is one `check_…` function returning `Err` with what went wrong; the tests call them
//! on the migrated schema (all must pass) and on copies with one policy or grant broken (the
//! check that guards it must fail).

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

mod checks;
mod columns;
mod harness;

use calbook::store::{Store, StoreOptions};
use sqlx::PgPool;

use crate::postgres_server;

use checks::*;
use harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_read_only_their_own_bookings_and_history() {
    let (pool, b) = migrated_database().await;
    check_clients_read_only_their_own(&pool, &b).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_email_match_folds_ascii_only_and_an_empty_email_matches_nothing() {
    let (pool, b) = migrated_database().await;
    check_email_match_is_strict(&pool, &b).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn columns_the_api_hides_are_refused_to_clients_and_admins() {
    let (pool, _) = migrated_database().await;
    check_hidden_columns_are_refused(&pool).await.unwrap();
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
    assert_eq!(count, 7);
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
                + qual
                    .matches(&format!("SELECT calbook_ascii_lower(NULLIF(btrim(({call}"))
                    .count()
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
        "bookings_attendee_email_idx ON public.bookings USING btree (calbook_ascii_lower(attendee_email), starts_at)",
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

    let b = Bookings::store(&pool).await;
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
    let email: Check = |p, b| Box::pin(check_email_match_is_strict(p, b));
    let columns: Check = |p, _| Box::pin(check_hidden_columns_are_refused(p));

    let breakages: [(&str, &str, Check); 13] = [
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
            "the email match folds Unicode",
            "DROP POLICY calbook_client_reads_own_bookings ON bookings;
             CREATE POLICY calbook_client_reads_own_bookings ON bookings
               FOR SELECT TO authenticated USING (
                 client_id = (SELECT auth.uid())
                 OR (client_id IS NULL
                     AND lower(attendee_email) = (SELECT lower(auth.jwt() ->> 'email'))));",
            email,
        ),
        (
            "the history policy's email match folds Unicode",
            "DROP POLICY calbook_client_reads_own_history ON booking_history;
             CREATE POLICY calbook_client_reads_own_history ON booking_history
               FOR SELECT TO authenticated USING (EXISTS (
                 SELECT 1 FROM bookings b WHERE b.id = booking_history.booking_id
                   AND (b.client_id = (SELECT auth.uid())
                        OR (b.client_id IS NULL AND lower(b.attendee_email)
                            = (SELECT lower(auth.jwt() ->> 'email'))))));",
            email,
        ),
        (
            "an empty email claim matches empty attendee emails",
            "DROP POLICY calbook_client_reads_own_bookings ON bookings;
             CREATE POLICY calbook_client_reads_own_bookings ON bookings
               FOR SELECT TO authenticated USING (
                 client_id = (SELECT auth.uid())
                 OR (client_id IS NULL AND calbook_ascii_lower(attendee_email)
                     = (SELECT calbook_ascii_lower(btrim(coalesce(auth.jwt() ->> 'email', ''))))));",
            email,
        ),
        (
            "authenticated may select every column of bookings",
            "GRANT SELECT ON bookings TO authenticated;",
            columns,
        ),
        (
            "the history's delivery ids are granted",
            "GRANT SELECT (delivery_id) ON booking_history TO authenticated;",
            columns,
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
