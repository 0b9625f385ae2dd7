-- calbook core schema, SQLite. Same version numbers as migrations/postgres.
-- Times are TEXT in one fixed RFC 3339 UTC form (2026-03-10T14:00:00.000Z), so text order is
-- time order; ids are UUID text; JSON columns hold JSON text.

CREATE TABLE bookings (
  id                  TEXT PRIMARY KEY,
  client_id           TEXT NULL,
  title               TEXT NOT NULL,
  description         TEXT NULL,
  starts_at           TEXT NOT NULL,
  ends_at             TEXT NOT NULL,
  external_id         TEXT UNIQUE,
  provider            TEXT NOT NULL DEFAULT 'calcom',
  attendee_email      TEXT NULL,
  attendee_name       TEXT NULL,
  status              TEXT NOT NULL DEFAULT 'confirmed'
                      CHECK (status IN ('pending', 'confirmed', 'rejected', 'cancelled', 'rescheduled', 'reschedule_requested')),
  created_at          TEXT NOT NULL,
  updated_at          TEXT NOT NULL,
  calcom_booking_id   INTEGER NULL,
  notes               TEXT NULL,
  attendees           TEXT NOT NULL DEFAULT '[]',
  organizer           TEXT NULL,
  location            TEXT NULL,
  meeting_url         TEXT NULL,
  ical_uid            TEXT NULL,
  ical_sequence       INTEGER NOT NULL DEFAULT 0,
  event_type_id       INTEGER NULL,
  event_type_slug     TEXT NULL,
  metadata            TEXT NOT NULL DEFAULT '{}',
  rescheduled_from    TEXT NULL,
  rescheduled_to      TEXT NULL,
  cancellation_reason TEXT NULL,
  cancelled_by        TEXT NULL,
  rejection_reason    TEXT NULL,
  meeting_started_at  TEXT NULL,
  meeting_ended_at    TEXT NULL
);

CREATE INDEX bookings_starts_at_idx ON bookings (starts_at);
CREATE INDEX bookings_status_starts_at_idx ON bookings (status, starts_at);
CREATE INDEX bookings_client_id_idx ON bookings (client_id);

-- Ids are UUIDv7s minted by calbook, unique by construction: SQLite keeps them unindexed (a
-- rowid table), which saves a B-tree insert per row on the webhook path.
CREATE TABLE booking_history (
  id          TEXT NOT NULL,
  booking_id  TEXT NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
  action      TEXT NOT NULL,
  old_values  TEXT NULL,
  new_values  TEXT NULL,
  created_at  TEXT NOT NULL,
  delivery_id TEXT NULL
);

CREATE INDEX booking_history_booking_id_idx ON booking_history (booking_id, created_at);

-- `seq` (the rowid) is arrival order; listings use it instead of an index on received_at.
CREATE TABLE webhook_deliveries (
  seq             INTEGER PRIMARY KEY,
  id              TEXT NOT NULL,
  received_at     TEXT NOT NULL,
  body_sha256     TEXT NOT NULL,
  trigger_event   TEXT NULL,
  webhook_version TEXT NULL,
  content_type    TEXT NULL,
  booking_uid     TEXT NULL,
  outcome         TEXT NOT NULL CHECK (outcome IN ('applied', 'duplicate', 'ignored', 'rejected')),
  error           TEXT NULL,
  body            BLOB NOT NULL
);

-- A body is applied (or ignored) at most once; byte-identical redeliveries are kept as 'duplicate'.
CREATE UNIQUE INDEX webhook_deliveries_body_once_idx
  ON webhook_deliveries (body_sha256) WHERE outcome IN ('applied', 'ignored');
