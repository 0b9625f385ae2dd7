-- Issue 11: seats, recurring series, payments and no-shows. Same version number as
-- migrations/sqlite/0008.
--
-- A new status, `awaiting_payment` (BOOKING_PAYMENT_INITIATED), and one column per new fact:
-- the series an occurrence belongs to (`series_id`, and `series_key`, what its occurrences share),
-- its rule, where a "cancel all remaining" began, the event type's seat settings, each attendee's
-- seat and no-show state (JSON keyed by lowercase email), the host's no-show and the payment.

ALTER TABLE bookings DROP CONSTRAINT IF EXISTS bookings_status_check;
ALTER TABLE bookings ADD CONSTRAINT bookings_status_check
  CHECK (status IN ('pending', 'confirmed', 'rejected', 'cancelled', 'rescheduled',
                    'reschedule_requested', 'awaiting_payment'));

ALTER TABLE bookings
  ADD COLUMN IF NOT EXISTS series_id             text NULL,
  ADD COLUMN IF NOT EXISTS series_key            text NULL,
  ADD COLUMN IF NOT EXISTS recurring_event       jsonb NULL,
  ADD COLUMN IF NOT EXISTS series_cancelled_from timestamptz NULL,
  ADD COLUMN IF NOT EXISTS seats_per_time_slot   bigint NULL,
  ADD COLUMN IF NOT EXISTS seats_show_attendees  bigint NULL,
  ADD COLUMN IF NOT EXISTS attendee_states       jsonb NOT NULL DEFAULT '{}',
  ADD COLUMN IF NOT EXISTS host_no_show          bigint NULL,
  ADD COLUMN IF NOT EXISTS payment               jsonb NULL;

-- The ingest reads a series' occurrences by key.
CREATE INDEX IF NOT EXISTS bookings_series_key_idx ON bookings (series_key)
  WHERE series_key IS NOT NULL;

-- The bookings API shows a client these four (see 0004 and tests/api/rls/columns.rs); the seat
-- settings, the series key and rule stay calbook's own.
GRANT SELECT (series_id, attendee_states, host_no_show, payment) ON bookings TO authenticated;
