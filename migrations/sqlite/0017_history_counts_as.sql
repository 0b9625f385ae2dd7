-- The dashboard's weekly numbers without reading the history's JSON (issue 14). Same version
-- number as migrations/postgres/0017.
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
ALTER TABLE booking_history ADD COLUMN counts_as TEXT NULL
  CHECK (counts_as IN ('booking', 'cancellation', 'reschedule', 'no_show'));

UPDATE booking_history SET counts_as = CASE
    WHEN action IN ('created', 'requested', 'payment_initiated', 'paid') THEN
      CASE WHEN old_values IS NULL AND json_extract(new_values, '$.rescheduled_from') IS NULL
           THEN 'booking' END
    WHEN action IN ('cancelled', 'series_cancelled') THEN 'cancellation'
    WHEN action = 'rescheduled' THEN 'reschedule'
    WHEN action = 'no_show_updated' AND json_type(new_values, '$.host_no_show') = 'true'
         AND coalesce(json_type(old_values, '$.host_no_show'), '') <> 'true' THEN 'no_show'
    WHEN action = 'no_show_updated'
         AND json_type(new_values, '$.attendee_states') = 'object' AND EXISTS (
           SELECT 1 FROM json_each(new_values, '$.attendee_states') AS cur
            WHERE CASE WHEN cur.type = 'object' THEN json_type(cur.value, '$.no_show') END = 'true'
              AND NOT EXISTS (
                    SELECT 1 FROM json_each(
                             CASE WHEN json_type(old_values, '$.attendee_states') = 'object'
                                  THEN json_extract(old_values, '$.attendee_states') END) AS prev
                     WHERE prev.key = cur.key
                       AND CASE WHEN prev.type = 'object'
                                THEN json_type(prev.value, '$.no_show') END = 'true'))
      THEN 'no_show'
  END
WHERE action IN ('created', 'requested', 'payment_initiated', 'paid', 'cancelled',
                 'series_cancelled', 'rescheduled', 'no_show_updated');

-- The weekly numbers read this index alone: each kind in each week is one range of it, counted
-- (index-only, no sort; the WHERE must stay the statement's `counts_as IS NOT NULL`,
-- src/store/stats.rs). It replaces 0015's index on `created_at`, which nothing else reads.
CREATE INDEX booking_history_counts_idx ON booking_history (counts_as, created_at)
  WHERE counts_as IS NOT NULL;
DROP INDEX booking_history_created_at_idx;
