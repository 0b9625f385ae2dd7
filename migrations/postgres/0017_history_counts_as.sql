-- The dashboard's weekly numbers without reading the history's JSON (issue 14). Same version
-- number as migrations/sqlite/0017.
--
-- `counts_as`: what the entry counts as in the numbers (`GET /api/stats`, `/admin/stats`):
-- 'booking', 'cancellation', 'reschedule', 'no_show', or NULL for nothing. calbook decides it
-- as it writes each entry (`HistoryEntry::counts_as`, src/booking/counts.rs); the UPDATE below
-- decides it for the entries written before, with the same rule:
-- * a booking: an insert (`created`, `requested`, `payment_initiated` or `paid` with no old
--   values) that is not the new side of a reschedule (no `rescheduled_from`);
-- * a cancellation: `cancelled`, `series_cancelled`;
-- * a reschedule: `rescheduled`;
-- * a no-show: `no_show_updated` setting a mark to true (the host's, or an attendee's in
--   `attendee_states`) that was not true in the old values; taking one back is none.
-- The column is not granted to `authenticated` (migration 0004 grants booking_history's columns
-- one by one): it is calbook's bookkeeping, not part of the API's client view.
ALTER TABLE booking_history ADD COLUMN counts_as text NULL
  CHECK (counts_as IN ('booking', 'cancellation', 'reschedule', 'no_show'));

UPDATE booking_history SET counts_as = CASE
    WHEN action IN ('created', 'requested', 'payment_initiated', 'paid') THEN
      CASE WHEN old_values IS NULL AND new_values->>'rescheduled_from' IS NULL
           THEN 'booking' END
    WHEN action IN ('cancelled', 'series_cancelled') THEN 'cancellation'
    WHEN action = 'rescheduled' THEN 'reschedule'
    WHEN action = 'no_show_updated' AND new_values->'host_no_show' = 'true'::jsonb
         AND (old_values->'host_no_show') IS DISTINCT FROM 'true'::jsonb THEN 'no_show'
    WHEN action = 'no_show_updated' AND EXISTS (
           SELECT 1 FROM jsonb_each(
                    CASE WHEN jsonb_typeof(new_values->'attendee_states') = 'object'
                         THEN new_values->'attendee_states' END) AS cur
            WHERE cur.value->'no_show' = 'true'::jsonb
              AND (CASE WHEN jsonb_typeof(old_values->'attendee_states') = 'object'
                        THEN old_values->'attendee_states'->cur.key->'no_show' END)
                  IS DISTINCT FROM 'true'::jsonb)
      THEN 'no_show'
  END
WHERE action IN ('created', 'requested', 'payment_initiated', 'paid', 'cancelled',
                 'series_cancelled', 'rescheduled', 'no_show_updated');

-- The weekly numbers read this index alone: each kind in each week is one range of it, counted
-- (an index-only scan, without heap fetches once VACUUM has visited the table; the WHERE must
-- stay the statement's `counts_as IS NOT NULL`, src/store/stats.rs). It replaces 0015's index on
-- `created_at`, which nothing else reads. No policy or grant: an index follows its table's.
CREATE INDEX booking_history_counts_idx ON booking_history (counts_as, created_at)
  WHERE counts_as IS NOT NULL;
DROP INDEX booking_history_created_at_idx;
-- Fresh statistics for the planner: the UPDATE above rewrote most rows.
ANALYZE booking_history;
