-- The outbox's `kind` column loses its CHECK: the list of email kinds is `EmailKind` in the code
-- (src/mail/render/kind.rs), which writes every row, so a new kind needs no migration. Same
-- version number as migrations/postgres/0006.
--
-- SQLite cannot drop a CHECK, so the table is rebuilt once, in this migration's transaction:
-- same columns in the same order, same constraints but that one, every row copied, the three
-- indexes recreated. Nothing references email_outbox, so dropping the old table is safe with
-- foreign keys on.

CREATE TABLE email_outbox_0006 (
  id                    TEXT PRIMARY KEY,
  idempotency_key       TEXT NOT NULL UNIQUE,
  kind                  TEXT NOT NULL,
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

INSERT INTO email_outbox_0006 (
  id, idempotency_key, kind, booking_id, booking_uid, recipient_email, recipient_name,
  recipient_time_zone, recipient_role, reminder_lead_seconds, scheduled_start, due_at, state,
  attempts, last_error, lease_token, leased_until, provider_id, sent_at, created_at, updated_at
)
SELECT
  id, idempotency_key, kind, booking_id, booking_uid, recipient_email, recipient_name,
  recipient_time_zone, recipient_role, reminder_lead_seconds, scheduled_start, due_at, state,
  attempts, last_error, lease_token, leased_until, provider_id, sent_at, created_at, updated_at
FROM email_outbox;

DROP TABLE email_outbox;
ALTER TABLE email_outbox_0006 RENAME TO email_outbox;

-- What the worker polls: only rows that may still need sending.
CREATE INDEX email_outbox_due_idx ON email_outbox (due_at) WHERE state IN ('pending', 'sending');
CREATE INDEX email_outbox_booking_idx ON email_outbox (booking_id);
CREATE INDEX email_outbox_state_idx ON email_outbox (state, updated_at);
