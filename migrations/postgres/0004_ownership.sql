-- Ownership made strict, and API roles read only what calbook's API shows. PostgreSQL / Supabase;
-- same version number as migrations/sqlite/0004.
--
-- 1. The ownership rule (the HTTP API applies the same one, src/store/query.rs): a client owns a
--    booking when
--      client_id = auth.uid()
--    or, when client_id IS NULL, when the attendee email equals the client's verified, non-empty
--    email, ASCII case-insensitively:
--      calbook_ascii_lower(attendee_email)
--        = calbook_ascii_lower(nullif(btrim(auth.jwt() ->> 'email', E' \t\n\f\r'), ''))
--    PostgreSQL's lower() folds Unicode (with the usual UTF-8 locales), so `Kim@…` written with
--    the Kelvin sign (U+212A) would match `kim@…`; calbook_ascii_lower folds A-Z only. An empty
--    or missing `email` claim (a phone sign-in) matches nothing, not the rows whose attendee
--    email is empty. Tokens are only as good as the addresses in them: Supabase's email
--    confirmation must be on (README, "Who owns a booking").
--
-- 2. Client ids never proven are cleared. Before this version `client_id` came from the embed's
--    `metadata[client_id]`, which any booker can set; from now on calbook sets it only when the
--    booking carries an ownership proof it signed. Every existing client id is cleared (the
--    booking's `metadata` keeps the old value, with no power), and each cleared booking gets a
--    history entry `owner_cleared` with the old and the new client id. Such a booking now belongs
--    to the client whose verified email is the attendee's.
--
-- 3. Column grants: `authenticated` (clients and admins alike: PostgREST signs admins in as
--    `authenticated` too) may select only the columns calbook's bookings API shows a client:
--    not `metadata` (the embedding page's values), `calcom_booking_id`, `provider`, the iCalendar
--    and event-type ids, nor `delivery_id` in the history. `organizer` is withheld as a whole: it
--    is one JSON value that holds the organizer's email, which the API does not show a client
--    (the API does show the organizer's name; PostgREST callers do without it). The table's `id`
--    and the history's `booking_id` are granted as keys, so that history can be joined to its
--    booking. An admin's full view is calbook's API (and the service role), not PostgREST. With
--    column grants, `select=*` (SELECT *) is refused: name the columns. A test
--    (tests/api/rls/columns.rs) compares these grants with the API's client view.

-- lower() under the "C" collation folds A-Z and nothing else (PostgreSQL's documented "C"
-- behaviour: only the ASCII letters are letters), whatever the database's own locale, and it
-- costs every insert less than the locale's lower() (translate() would cost ten times more).
-- No SET search_path: it would keep the planner from inlining the function, so that every
-- evaluation (each insert into the index, each row a policy looks at) became a function call
-- with a settings change of its own; the body names pg_catalog explicitly instead.
CREATE OR REPLACE FUNCTION calbook_ascii_lower(t text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $fn$ SELECT pg_catalog.lower(t COLLATE pg_catalog."C") $fn$;
COMMENT ON FUNCTION calbook_ascii_lower(text) IS
  'calbook: folds A-Z to a-z and nothing else (the email match of the ownership rule)';
GRANT EXECUTE ON FUNCTION calbook_ascii_lower(text) TO authenticated, service_role;

DROP INDEX IF EXISTS bookings_attendee_email_idx;
CREATE INDEX bookings_attendee_email_idx
  ON bookings (calbook_ascii_lower(attendee_email), starts_at);

-- 2. Clear the unproven client ids, each with an audit entry. The lock keeps a concurrent
-- writer (an older calbook still running) from adding a client id between the two statements.
LOCK TABLE bookings IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO booking_history (id, booking_id, action, old_values, new_values, created_at)
SELECT gen_random_uuid(), id, 'owner_cleared',
       jsonb_build_object('client_id', client_id), jsonb_build_object('client_id', NULL),
       now()
FROM bookings
WHERE client_id IS NOT NULL;
UPDATE bookings SET client_id = NULL WHERE client_id IS NOT NULL;

-- 3. Grants: back to nothing, then the client view's columns.
REVOKE ALL ON bookings, booking_history FROM authenticated;
GRANT SELECT (
  id, external_id, status, title, description, notes, starts_at, ends_at,
  attendee_name, attendee_email, attendees, location, meeting_url, event_type_slug, client_id,
  rescheduled_from, rescheduled_to, cancellation_reason, cancelled_by, rejection_reason,
  meeting_started_at, meeting_ended_at, created_at, updated_at
) ON bookings TO authenticated;
GRANT SELECT (booking_id, action, old_values, new_values, created_at)
  ON booking_history TO authenticated;

-- 1. The policies, with the strict email match. Same shape as 0003's: auth.* is called through
-- a sub-select (one evaluation per statement).
DROP POLICY IF EXISTS calbook_client_reads_own_bookings ON bookings;
CREATE POLICY calbook_client_reads_own_bookings ON bookings
  FOR SELECT TO authenticated
  USING (
    (SELECT auth.uid()) IS NOT NULL
    AND (
      client_id = (SELECT auth.uid())
      OR (client_id IS NULL
          AND calbook_ascii_lower(attendee_email) = (
            SELECT calbook_ascii_lower(nullif(btrim(auth.jwt() ->> 'email', E' \t\n\f\r'), ''))))
    )
  );

DROP POLICY IF EXISTS calbook_client_reads_own_history ON booking_history;
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
              AND calbook_ascii_lower(b.attendee_email) = (
                SELECT calbook_ascii_lower(nullif(btrim(auth.jwt() ->> 'email', E' \t\n\f\r'), ''))))
        )
    )
  );
