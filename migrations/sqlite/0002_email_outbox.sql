-- The email outbox: one row per logical email, written in the same transaction as the booking
-- change that calls for it. Same version number as migrations/postgres/0002.

CREATE TABLE email_outbox (
  id                    TEXT PRIMARY KEY,
  idempotency_key       TEXT NOT NULL UNIQUE,
  kind                  TEXT NOT NULL
                        CHECK (kind IN ('confirmation', 'rescheduled', 'cancelled', 'requested', 'declined', 'reminder')),
  booking_id            TEXT NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
  booking_uid           TEXT NOT NULL,
  recipient_email       TEXT NOT NULL,
  recipient_name        TEXT NULL,
  recipient_time_zone   TEXT NULL,
  recipient_role        TEXT NOT NULL CHECK (recipient_role IN ('attendee', 'host')),
  reminder_lead_seconds INTEGER NULL,
  scheduled_start       TEXT NULL,
  due_at                TEXT NOT NULL,
  state                 TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'skipped', 'dead')),
  attempts              INTEGER NOT NULL DEFAULT 0,
  last_error            TEXT NULL,
  lease_token           TEXT NULL,
  leased_until          TEXT NULL,
  provider_id           TEXT NULL,
  sent_at               TEXT NULL,
  created_at            TEXT NOT NULL,
  updated_at            TEXT NOT NULL
);

-- What the worker polls: only rows that may still need sending.
CREATE INDEX email_outbox_due_idx ON email_outbox (due_at) WHERE state IN ('pending', 'sending');
CREATE INDEX email_outbox_booking_idx ON email_outbox (booking_id);
CREATE INDEX email_outbox_state_idx ON email_outbox (state, updated_at);
