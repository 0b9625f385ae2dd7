-- The dashboard's weekly numbers and a booking's admin actions (issue 14). Same version number
-- as migrations/sqlite/0015.
--
-- `booking_history_created_at_idx`: the weekly numbers (`GET /api/stats`, `/admin/stats`) read
-- twelve weeks of history by `created_at`, one range scan, however old the database.
CREATE INDEX booking_history_created_at_idx ON booking_history (created_at);

-- What an admin did about a booking from its dashboard page: an internal note, an email resent,
-- a cancel or a reschedule asked of Cal.com's API. Kept apart from `booking_history`, which
-- clients may read (the bookings API; the RLS policies of migration 0003): none of this reaches
-- a client. `detail` is the note's text or the reason given (bounded by calbook, 2,000
-- characters).
CREATE TABLE booking_actions (
  id         uuid PRIMARY KEY,
  booking_id uuid NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
  kind       text NOT NULL CHECK (kind IN ('note', 'resend', 'cancel', 'request_reschedule')),
  detail     text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL
);
CREATE INDEX booking_actions_booking_id_idx ON booking_actions (booking_id, created_at);

-- calbook's own: no API access (Supabase grants everything on new tables in `public` to its API
-- roles; take that back, and RLS with no policies refuses whatever a grant lets through). The
-- roles exist: migration 0003 creates them where missing.
REVOKE ALL ON booking_actions FROM anon, authenticated;
ALTER TABLE booking_actions ENABLE ROW LEVEL SECURITY;
