-- The email outbox: one row per logical email, written in the same transaction as the booking
-- change that calls for it. Same version number as migrations/sqlite/0002.

CREATE TABLE email_outbox (
  id                    uuid PRIMARY KEY,
  idempotency_key       text NOT NULL UNIQUE,
  kind                  text NOT NULL
                        CHECK (kind IN ('confirmation', 'rescheduled', 'cancelled', 'requested', 'declined', 'reminder')),
  booking_id            uuid NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
  booking_uid           text NOT NULL,
  recipient_email       text NOT NULL,
  recipient_name        text NULL,
  recipient_time_zone   text NULL,
  recipient_role        text NOT NULL CHECK (recipient_role IN ('attendee', 'host')),
  reminder_lead_seconds bigint NULL,
  scheduled_start       timestamptz NULL,
  due_at                timestamptz NOT NULL,
  state                 text NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'skipped', 'dead')),
  attempts              integer NOT NULL DEFAULT 0,
  last_error            text NULL,
  lease_token           uuid NULL,
  leased_until          timestamptz NULL,
  provider_id           text NULL,
  sent_at               timestamptz NULL,
  created_at            timestamptz NOT NULL,
  updated_at            timestamptz NOT NULL
);

-- What the workers poll: only rows that may still need sending.
CREATE INDEX email_outbox_due_idx ON email_outbox (due_at) WHERE state IN ('pending', 'sending');
CREATE INDEX email_outbox_booking_idx ON email_outbox (booking_id);
CREATE INDEX email_outbox_state_idx ON email_outbox (state, updated_at);
