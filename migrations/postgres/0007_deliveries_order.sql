-- Deliveries are listed newest first by (received_at, id) on both backends. The index on
-- received_at alone becomes one on (received_at, id), so a listing reads the index in its order
-- with no sort of ties. Same version number as migrations/sqlite/0007.
CREATE INDEX IF NOT EXISTS webhook_deliveries_received_at_id_idx
  ON webhook_deliveries (received_at, id);
DROP INDEX IF EXISTS webhook_deliveries_received_at_idx;
