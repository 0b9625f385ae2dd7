-- Deliveries are listed newest first by (received_at, id) on both backends (before, SQLite listed
-- them by `seq`, PostgreSQL by received_at: the same deliveries could come in a different order).
-- This index lets a listing read only the rows it returns instead of sorting the whole table.
-- Same version number as migrations/postgres/0007.
CREATE INDEX webhook_deliveries_received_at_id_idx ON webhook_deliveries (received_at, id);
