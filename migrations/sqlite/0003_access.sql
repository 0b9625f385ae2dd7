-- Indexes for the bookings API and the dashboard: the ownership rule's columns. Same version
-- number as migrations/postgres/0003, which also sets up row-level security (SQLite has none;
-- calbook's own API enforces the same ownership rule).
--
-- Every index costs each webhook's insert (the email index alone about 5 % of SQLite ingest
-- throughput, BENCHMARKS.md), so they are as small as the queries allow: the client index is
-- partial (most bookings have no client id; `client_id = ?` implies the WHERE), the email index
-- has no second column (an email has few bookings), and the keyset order (starts_at, id) uses the
-- existing starts_at index, sorting equal start times by id.
CREATE INDEX bookings_client_starts_idx ON bookings (client_id, starts_at)
  WHERE client_id IS NOT NULL;
CREATE INDEX bookings_attendee_email_idx ON bookings (lower(attendee_email));
DROP INDEX IF EXISTS bookings_client_id_idx;
-- A booking's page lists the deliveries that changed it (by the ids its history names). Delivery
-- ids are UUIDv7, time-ordered, so this index only ever appends: no measurable ingest cost.
CREATE INDEX webhook_deliveries_id_idx ON webhook_deliveries (id);
