-- The default admin list (live bookings, by start) at any size (issue 14's regression). Same
-- version number as migrations/sqlite/0016.
--
-- A partial index of the live bookings in the listing's order, (starts_at, id): the list walks it
-- from the cursor and stops after one page. Without it, `status IN (live statuses)` sent the
-- planner to the (status, starts_at) index, which reads every live booking and sorts them.
-- The WHERE term must stay the one the store's listing writes (`live_term` in
-- src/store/query.rs): the planner proves that a query's term implies the index's predicate.
-- No policy or grant: an index follows its table's (migrations 0003 and 0004).
CREATE INDEX bookings_live_starts_idx ON bookings (starts_at, id)
  WHERE status IN ('confirmed', 'pending', 'awaiting_payment', 'reschedule_requested');
