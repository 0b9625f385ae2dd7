-- The dashboard's booking search (issue 14). Same version number as migrations/sqlite/0013.
--
-- A trigram (pg_trgm) GIN index over one folded text of the title, attendee name and email,
-- and notes: `<that text> LIKE '%…%'` is answered through the index for any search of three
-- characters or more. pg_trgm is a contrib extension that Debian's postgresql package and
-- Supabase ship; it is trusted (PostgreSQL 13+), so the database owner may create it. The
-- expression must stay exactly the one the store's queries use (SEARCH_TEXT_PG in
-- src/store/query.rs), or the planner cannot use the index.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX bookings_search_trgm_idx ON bookings USING gin (
  (lower(coalesce(title, '') || ' ' || coalesce(attendee_name, '') || ' '
         || coalesce(attendee_email, '') || ' ' || coalesce(notes, ''))) gin_trgm_ops
);
