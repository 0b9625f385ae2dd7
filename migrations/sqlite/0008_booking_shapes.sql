-- no-transaction
-- Issue 11: seats, recurring series, payments and no-shows. Same version number as
-- migrations/postgres/0008.
--
-- A new status, `awaiting_payment`, widens the `status` CHECK. SQLite cannot change a CHECK, so
-- `bookings` is rebuilt once (same columns in the same order, then the new ones; every row
-- copied; its indexes recreated). booking_history and email_outbox reference bookings with
-- ON DELETE CASCADE: dropping the old table with foreign keys on would delete their rows, so
-- this migration runs outside sqlx's transaction, turns foreign keys off around its own
-- transaction (the pragma is a no-op inside one) and back on after.

PRAGMA foreign_keys = OFF;

BEGIN IMMEDIATE;

CREATE TABLE bookings_0008 (
  id                    TEXT PRIMARY KEY,
  client_id             TEXT NULL,
  title                 TEXT NOT NULL,
  description           TEXT NULL,
  starts_at             TEXT NOT NULL,
  ends_at               TEXT NOT NULL,
  external_id           TEXT UNIQUE,
  provider              TEXT NOT NULL DEFAULT 'calcom',
  attendee_email        TEXT NULL,
  attendee_name         TEXT NULL,
  status                TEXT NOT NULL DEFAULT 'confirmed'
                        CHECK (status IN ('pending', 'confirmed', 'rejected', 'cancelled', 'rescheduled',
                                          'reschedule_requested', 'awaiting_payment')),
  created_at            TEXT NOT NULL,
  updated_at            TEXT NOT NULL,
  calcom_booking_id     INTEGER NULL,
  notes                 TEXT NULL,
  attendees             TEXT NOT NULL DEFAULT '[]',
  organizer             TEXT NULL,
  location              TEXT NULL,
  meeting_url           TEXT NULL,
  ical_uid              TEXT NULL,
  ical_sequence         INTEGER NOT NULL DEFAULT 0,
  event_type_id         INTEGER NULL,
  event_type_slug       TEXT NULL,
  metadata              TEXT NOT NULL DEFAULT '{}',
  rescheduled_from      TEXT NULL,
  rescheduled_to        TEXT NULL,
  cancellation_reason   TEXT NULL,
  cancelled_by          TEXT NULL,
  rejection_reason      TEXT NULL,
  meeting_started_at    TEXT NULL,
  meeting_ended_at      TEXT NULL,
  series_id             TEXT NULL,
  series_key            TEXT NULL,
  recurring_event       TEXT NULL,
  series_cancelled_from TEXT NULL,
  seats_per_time_slot   INTEGER NULL,
  seats_show_attendees  INTEGER NULL,
  attendee_states       TEXT NOT NULL DEFAULT '{}',
  host_no_show          INTEGER NULL,
  payment               TEXT NULL
);

INSERT INTO bookings_0008 (
  id, client_id, title, description, starts_at, ends_at, external_id, provider, attendee_email,
  attendee_name, status, created_at, updated_at, calcom_booking_id, notes, attendees, organizer,
  location, meeting_url, ical_uid, ical_sequence, event_type_id, event_type_slug, metadata,
  rescheduled_from, rescheduled_to, cancellation_reason, cancelled_by, rejection_reason,
  meeting_started_at, meeting_ended_at
)
SELECT
  id, client_id, title, description, starts_at, ends_at, external_id, provider, attendee_email,
  attendee_name, status, created_at, updated_at, calcom_booking_id, notes, attendees, organizer,
  location, meeting_url, ical_uid, ical_sequence, event_type_id, event_type_slug, metadata,
  rescheduled_from, rescheduled_to, cancellation_reason, cancelled_by, rejection_reason,
  meeting_started_at, meeting_ended_at
FROM bookings;

DROP TABLE bookings;
ALTER TABLE bookings_0008 RENAME TO bookings;

CREATE INDEX bookings_starts_at_idx ON bookings (starts_at);
CREATE INDEX bookings_status_starts_at_idx ON bookings (status, starts_at);
CREATE INDEX bookings_client_starts_idx ON bookings (client_id, starts_at)
  WHERE client_id IS NOT NULL;
CREATE INDEX bookings_attendee_email_idx ON bookings (lower(attendee_email));
-- The ingest reads a series' occurrences by key.
CREATE INDEX bookings_series_key_idx ON bookings (series_key) WHERE series_key IS NOT NULL;

COMMIT;

PRAGMA foreign_keys = ON;
