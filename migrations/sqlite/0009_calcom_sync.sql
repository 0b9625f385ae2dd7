-- Reconciliation with Cal.com's API v2 (issue 12). Same version number as migrations/postgres/0009.
--
-- Each audit entry says how calbook learnt of the change: a webhook delivery or a sync pass.
-- Entries written before this migration all came from webhooks.
ALTER TABLE booking_history ADD COLUMN source TEXT NOT NULL DEFAULT 'webhook'
  CHECK (source IN ('webhook', 'sync'));

-- One row: the sync's watermark (Cal.com `updatedAt` of the last booking applied), whether the
-- first sync (the import) finished, the lease that lets one instance sync at a time, and what
-- the last pass did (for the dashboard, /metrics and `calbook sync --check`). Times are TEXT in
-- calbook's fixed RFC 3339 UTC form, like every other table.
CREATE TABLE calcom_sync (
  id               INTEGER PRIMARY KEY CHECK (id = 1),
  watermark        TEXT NULL,
  imported_at      TEXT NULL,
  lease_holder     TEXT NULL,
  lease_until      TEXT NULL,
  last_started_at  TEXT NULL,
  last_finished_at TEXT NULL,
  last_success_at  TEXT NULL,
  last_outcome     TEXT NULL,
  last_error       TEXT NULL,
  last_fetched     INTEGER NOT NULL DEFAULT 0,
  last_changed     INTEGER NOT NULL DEFAULT 0,
  last_emails      INTEGER NOT NULL DEFAULT 0,
  last_duration_ms INTEGER NOT NULL DEFAULT 0,
  total_repairs    INTEGER NOT NULL DEFAULT 0
);
INSERT INTO calcom_sync (id) VALUES (1);
