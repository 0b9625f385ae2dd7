-- Issue 14: where a booking's emails link to. Same version number as migrations/sqlite/0014.
--
-- `email_links` is `{"booker_url": "https://acme.cal.com", "seats": {"<lowercase email>":
-- "<seat reference uid>"}}`: the webhook's `bookerUrl` (an organization's domain) and each seat's
-- reference uid (`attendeeSeatId`, API v2's `seatUid`), which the Reschedule and Cancel links
-- use. They are link facts, not booking facts: not audited, never a change on their own.
ALTER TABLE bookings
  ADD COLUMN IF NOT EXISTS email_links jsonb NOT NULL DEFAULT '{}';

-- No grant to `authenticated`: like the seat settings, the column stays calbook's own (the
-- bookings API's client view lists its columns in 0004 and 0008).
