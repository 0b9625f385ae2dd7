-- Who may read what through the API roles, PostgreSQL / Supabase. Same version number as
-- migrations/sqlite/0003 (which only adds the indexes).
--
-- Roles. Supabase has `anon`, `authenticated` and `service_role`, the schema `auth` and the
-- functions auth.uid(), auth.jwt() and auth.role(); PostgREST sets `request.jwt.claims` to the
-- caller's JWT claims and switches to the role named in the token. On plain PostgreSQL this
-- migration creates compatible roles and functions, but only where they are missing: nothing that
-- Supabase already provides is replaced.
--
-- calbook itself connects as the tables' owner (`postgres` on Supabase, the database owner or a
-- superuser elsewhere). Owners and superusers are not subject to row-level security unless the
-- table is set to FORCE ROW LEVEL SECURITY, which this migration deliberately does not do: calbook's
-- own writes (the webhook path, the outbox) must keep working. The policies below restrict the API
-- roles only. Consequently, connecting calbook itself as `authenticated` or `anon` is not supported.
--
-- The ownership rule (the HTTP API uses the same predicate): a client owns a booking when
--   client_id = auth.uid()
-- or, when client_id IS NULL, when
--   lower(attendee_email) = lower(auth.jwt() ->> 'email').
-- An admin is a caller whose JWT has app_metadata.role = 'admin'. app_metadata is set by the
-- server; user_metadata is writable by the user and is never consulted.
--
-- Adopting the old app's database: its policies on bookings and booking_history are dropped, all
-- of them, whatever their names. Permissive policies are OR'ed together, so any old policy left
-- in place (for instance one that trusted user_metadata) would widen what calbook's policies allow.
-- calbook owns these two tables now; the only policies on them are the ones below.

-- Roles are cluster-wide, and several databases of one cluster may run this migration at the same
-- time (the test suite does). A role created by a concurrent transaction shows up here either as
-- duplicate_object (it committed first) or as unique_violation (we waited on its insert into
-- pg_authid); either way the role exists, which is all we need.
DO $roles$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r) THEN
      BEGIN
        IF r = 'service_role' THEN
          BEGIN
            -- As on Supabase. Only a superuser may grant BYPASSRLS; without it the explicit
            -- service_role policies below give the same access.
            CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
          EXCEPTION WHEN insufficient_privilege THEN
            CREATE ROLE service_role NOLOGIN NOINHERIT;
          END;
        ELSE
          EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT', r);
        END IF;
      EXCEPTION
        WHEN duplicate_object OR unique_violation THEN NULL;
        WHEN insufficient_privilege THEN
          RAISE EXCEPTION 'calbook needs the role % and may not create it', r
            USING HINT = 'Create the roles anon, authenticated and service_role (NOLOGIN) as a '
              'superuser, or run `calbook migrate` once as a role with CREATEROLE.';
      END;
    END IF;
  END LOOP;
END
$roles$;

-- The auth schema and its functions, Supabase-compatible, only where missing (schemas and
-- functions are per database, so there is no cross-database race here).
DO $auth$
BEGIN
  IF to_regnamespace('auth') IS NULL THEN
    CREATE SCHEMA auth;
    GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
  END IF;

  -- The JWT claims of the request: `request.jwt.claims` (PostgREST 9+), or the older
  -- `request.jwt.claim` setting. NULL when neither is set.
  IF to_regprocedure('auth.jwt()') IS NULL THEN
    CREATE FUNCTION auth.jwt() RETURNS jsonb
      LANGUAGE sql STABLE
      AS $fn$
        SELECT coalesce(
          nullif(current_setting('request.jwt.claims', true), ''),
          nullif(current_setting('request.jwt.claim', true), '')
        )::jsonb
      $fn$;
  END IF;

  -- The `sub` claim as a uuid; NULL when unauthenticated (and when `sub` is not a uuid, where
  -- Supabase's own function would raise an error instead: both deny).
  IF to_regprocedure('auth.uid()') IS NULL THEN
    CREATE FUNCTION auth.uid() RETURNS uuid
      LANGUAGE sql STABLE
      AS $fn$
        SELECT CASE
                 WHEN s ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                 THEN s::uuid
               END
        FROM (SELECT coalesce(
                nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub',
                nullif(current_setting('request.jwt.claim.sub', true), '')
              ) AS s) AS claim
      $fn$;
  END IF;

  IF to_regprocedure('auth.role()') IS NULL THEN
    CREATE FUNCTION auth.role() RETURNS text
      LANGUAGE sql STABLE
      AS $fn$
        SELECT coalesce(
          nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role',
          nullif(current_setting('request.jwt.claim.role', true), '')
        )
      $fn$;
  END IF;
END
$auth$;

-- Indexes on the policy columns (and on the API's keyset order, starts_at then id).
DROP INDEX IF EXISTS bookings_client_starts_idx;
CREATE INDEX bookings_client_starts_idx ON bookings (client_id, starts_at, id);
DROP INDEX IF EXISTS bookings_attendee_email_idx;
CREATE INDEX bookings_attendee_email_idx ON bookings (lower(attendee_email), starts_at);
DROP INDEX IF EXISTS bookings_starts_id_idx;
CREATE INDEX bookings_starts_id_idx ON bookings (starts_at, id);
-- Now redundant: prefixes of bookings_client_starts_idx and bookings_starts_id_idx.
DROP INDEX IF EXISTS bookings_client_id_idx;
DROP INDEX IF EXISTS bookings_starts_at_idx;

-- Grants. A missing grant refuses with 42501 before any policy is looked at. Supabase grants
-- everything on new tables in `public` to all three API roles; take that back.
REVOKE ALL ON bookings, booking_history FROM anon, authenticated, service_role;
GRANT SELECT ON bookings, booking_history TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON bookings TO service_role;
-- The audit trail is append-only for every API role.
GRANT SELECT, INSERT ON booking_history TO service_role;

-- Personal data and raw webhook bodies: no API access at all (RLS on, no policies, no grants).
-- service_role keeps whatever it has: it is the server-side key and bypasses RLS on Supabase.
REVOKE ALL ON webhook_deliveries, email_outbox FROM anon, authenticated;
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE email_outbox ENABLE ROW LEVEL SECURITY;
-- sqlx's bookkeeping table sits in `public` too; on Supabase anon could otherwise edit it.
DO $sqlx$
BEGIN
  IF to_regclass('_sqlx_migrations') IS NOT NULL THEN
    REVOKE ALL ON _sqlx_migrations FROM anon, authenticated;
    ALTER TABLE _sqlx_migrations ENABLE ROW LEVEL SECURITY;
  END IF;
END
$sqlx$;

-- Policies: first every existing one on the two tables (see the header), then calbook's.
DO $drop$
DECLARE
  p record;
BEGIN
  FOR p IN
    SELECT polname, polrelid::regclass AS tbl
    FROM pg_catalog.pg_policy
    WHERE polrelid IN ('bookings'::regclass, 'booking_history'::regclass)
  LOOP
    EXECUTE format('DROP POLICY %I ON %s', p.polname, p.tbl);
  END LOOP;
END
$drop$;

ALTER TABLE bookings ENABLE ROW LEVEL SECURITY;
ALTER TABLE booking_history ENABLE ROW LEVEL SECURITY;

-- `(select auth.uid())` and `(select auth.jwt() ...)` are evaluated once per statement (an
-- initPlan), not once per row.
CREATE POLICY calbook_client_reads_own_bookings ON bookings
  FOR SELECT TO authenticated
  USING (
    (SELECT auth.uid()) IS NOT NULL
    AND (
      client_id = (SELECT auth.uid())
      OR (client_id IS NULL
          AND lower(attendee_email) = (SELECT lower(auth.jwt() ->> 'email')))
    )
  );

CREATE POLICY calbook_admin_reads_all_bookings ON bookings
  FOR SELECT TO authenticated
  USING (
    (SELECT auth.uid()) IS NOT NULL
    AND (SELECT auth.jwt() -> 'app_metadata' ->> 'role') = 'admin'
  );

-- service_role bypasses RLS on Supabase (and here when it was created with BYPASSRLS); these
-- policies give it the same access where it does not.
CREATE POLICY calbook_service_role_reads_bookings ON bookings
  FOR SELECT TO service_role USING (true);
CREATE POLICY calbook_service_role_inserts_bookings ON bookings
  FOR INSERT TO service_role WITH CHECK (true);
CREATE POLICY calbook_service_role_updates_bookings ON bookings
  FOR UPDATE TO service_role USING (true) WITH CHECK (true);
CREATE POLICY calbook_service_role_deletes_bookings ON bookings
  FOR DELETE TO service_role USING (true);

CREATE POLICY calbook_client_reads_own_history ON booking_history
  FOR SELECT TO authenticated
  USING (
    (SELECT auth.uid()) IS NOT NULL
    AND EXISTS (
      SELECT 1 FROM bookings b
      WHERE b.id = booking_history.booking_id
        AND (
          b.client_id = (SELECT auth.uid())
          OR (b.client_id IS NULL
              AND lower(b.attendee_email) = (SELECT lower(auth.jwt() ->> 'email')))
        )
    )
  );

CREATE POLICY calbook_admin_reads_all_history ON booking_history
  FOR SELECT TO authenticated
  USING (
    (SELECT auth.uid()) IS NOT NULL
    AND (SELECT auth.jwt() -> 'app_metadata' ->> 'role') = 'admin'
  );

CREATE POLICY calbook_service_role_reads_history ON booking_history
  FOR SELECT TO service_role USING (true);
CREATE POLICY calbook_service_role_inserts_history ON booking_history
  FOR INSERT TO service_role WITH CHECK (true);
-- No UPDATE or DELETE policy on booking_history for anyone, and no such grant either.
