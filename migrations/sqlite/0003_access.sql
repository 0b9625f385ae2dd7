-- Indexes for the bookings API: the ownership rule's columns and the keyset order (starts_at,
-- id). Same version number as migrations/postgres/0003, which also sets up row-level security
-- (SQLite has none; calbook's own API enforces the same ownership rule).

CREATE INDEX bookings_client_starts_idx ON bookings (client_id, starts_at, id);
CREATE INDEX bookings_attendee_email_idx ON bookings (lower(attendee_email), starts_at);
CREATE INDEX bookings_starts_id_idx ON bookings (starts_at, id);
