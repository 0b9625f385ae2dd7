-- The default admin list (live bookings, by start) at any size (issue 14's regression). Same
-- version number as migrations/postgres/0016.
--
-- A partial index of the live bookings in the listing's order, (starts_at, id): the list walks it
-- from the cursor and stops after one page. Without it, `status IN (live statuses)` sent the
-- planner to the (status, starts_at) index, which reads every live booking and sorts them.
-- The WHERE term must stay exactly the one the store's listing writes (`live_term` in
-- src/store/query.rs, same statuses in the same order): SQLite uses a partial index only for
-- a query that contains its WHERE term as written.
CREATE INDEX bookings_live_starts_idx ON bookings (starts_at, id)
  WHERE status IN ('confirmed', 'pending', 'awaiting_payment', 'reschedule_requested');
