-- Reconciliation with Cal.com's API v2 (issue 12). Same version number as migrations/sqlite/0009.
--
-- Each audit entry says how calbook learnt of the change: a webhook delivery or a sync pass.
-- Entries written before this migration all came from webhooks. The column is not granted to
-- `authenticated` (migration 0004 grants booking_history's columns one by one).
ALTER TABLE booking_history ADD COLUMN source text NOT NULL DEFAULT 'webhook'
  CHECK (source IN ('webhook', 'sync'));

-- One row: the sync's watermark (Cal.com `updatedAt` of the last booking applied), whether the
-- first sync (the import) finished, the lease that lets one instance sync at a time (several
-- instances share this database), and what the last pass did (for the dashboard, /metrics and
-- `calbook sync --check`).
CREATE TABLE calcom_sync (
  id               integer PRIMARY KEY CHECK (id = 1),
  watermark        timestamptz NULL,
  imported_at      timestamptz NULL,
  lease_holder     text NULL,
  lease_until      timestamptz NULL,
  last_started_at  timestamptz NULL,
  last_finished_at timestamptz NULL,
  last_success_at  timestamptz NULL,
  last_outcome     text NULL,
  last_error       text NULL,
  last_fetched     bigint NOT NULL DEFAULT 0,
  last_changed     bigint NOT NULL DEFAULT 0,
  last_emails      bigint NOT NULL DEFAULT 0,
  last_duration_ms bigint NOT NULL DEFAULT 0,
  total_repairs    bigint NOT NULL DEFAULT 0
);
INSERT INTO calcom_sync (id) VALUES (1);

-- calbook's own bookkeeping: no API access (see migration 0005).
REVOKE ALL ON calcom_sync FROM anon, authenticated;
ALTER TABLE calcom_sync ENABLE ROW LEVEL SECURITY;
