-- calbook core schema, PostgreSQL / Supabase. Same version numbers as migrations/sqlite.
-- The first two tables start from the original app's definitions (IF NOT EXISTS), so a database
-- that already holds them is adopted in place and its rows are kept; calbook's columns are added.

CREATE TABLE IF NOT EXISTS bookings (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  client_id      uuid NULL,
  title          text NOT NULL,
  description    text NULL,
  starts_at      timestamptz NOT NULL,
  ends_at        timestamptz NOT NULL,
  external_id    text UNIQUE,
  provider       text NOT NULL DEFAULT 'calcom',
  attendee_email text NULL,
  attendee_name  text NULL,
  status         text NOT NULL DEFAULT 'confirmed',
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE bookings
  ADD COLUMN IF NOT EXISTS calcom_booking_id   bigint NULL,
  ADD COLUMN IF NOT EXISTS notes               text NULL,
  ADD COLUMN IF NOT EXISTS attendees           jsonb NOT NULL DEFAULT '[]',
  ADD COLUMN IF NOT EXISTS organizer           jsonb NULL,
  ADD COLUMN IF NOT EXISTS location            text NULL,
  ADD COLUMN IF NOT EXISTS meeting_url         text NULL,
  ADD COLUMN IF NOT EXISTS ical_uid            text NULL,
  ADD COLUMN IF NOT EXISTS ical_sequence       bigint NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS event_type_id       bigint NULL,
  ADD COLUMN IF NOT EXISTS event_type_slug     text NULL,
  ADD COLUMN IF NOT EXISTS metadata            jsonb NOT NULL DEFAULT '{}',
  ADD COLUMN IF NOT EXISTS rescheduled_from    text NULL,
  ADD COLUMN IF NOT EXISTS rescheduled_to      text NULL,
  ADD COLUMN IF NOT EXISTS cancellation_reason text NULL,
  ADD COLUMN IF NOT EXISTS cancelled_by        text NULL,
  ADD COLUMN IF NOT EXISTS rejection_reason    text NULL,
  ADD COLUMN IF NOT EXISTS meeting_started_at  timestamptz NULL,
  ADD COLUMN IF NOT EXISTS meeting_ended_at    timestamptz NULL;

DO $$ BEGIN
  ALTER TABLE bookings ADD CONSTRAINT bookings_status_check
    CHECK (status IN ('pending', 'confirmed', 'rejected', 'cancelled', 'rescheduled', 'reschedule_requested'));
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

CREATE INDEX IF NOT EXISTS bookings_starts_at_idx ON bookings (starts_at);
CREATE INDEX IF NOT EXISTS bookings_status_starts_at_idx ON bookings (status, starts_at);
CREATE INDEX IF NOT EXISTS bookings_client_id_idx ON bookings (client_id);

CREATE TABLE IF NOT EXISTS booking_history (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  booking_id  uuid NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
  action      text NOT NULL,
  old_values  jsonb NULL,
  new_values  jsonb NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE booking_history ADD COLUMN IF NOT EXISTS delivery_id uuid NULL;

DROP INDEX IF EXISTS booking_history_booking_id_idx;
CREATE INDEX booking_history_booking_id_idx ON booking_history (booking_id, created_at);

CREATE TABLE webhook_deliveries (
  id              uuid PRIMARY KEY,
  received_at     timestamptz NOT NULL,
  body_sha256     text NOT NULL,
  trigger_event   text NULL,
  webhook_version text NULL,
  content_type    text NULL,
  booking_uid     text NULL,
  outcome         text NOT NULL CHECK (outcome IN ('applied', 'duplicate', 'ignored', 'rejected')),
  error           text NULL,
  body            bytea NOT NULL
);

-- A body is applied (or ignored) at most once; byte-identical redeliveries are kept as 'duplicate'.
CREATE UNIQUE INDEX webhook_deliveries_body_once_idx
  ON webhook_deliveries (body_sha256) WHERE outcome IN ('applied', 'ignored');
CREATE INDEX webhook_deliveries_received_at_idx ON webhook_deliveries (received_at);
