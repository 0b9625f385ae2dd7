-- /readyz proves the database takes a write by updating this one row (rate-limited).
-- Same version number as migrations/sqlite/0010.
CREATE TABLE health_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at TIMESTAMPTZ NOT NULL
);
INSERT INTO health_probe (id, checked_at) VALUES (1, 'epoch');
-- Closed to Supabase's API roles, as every internal table is (0003 made sure the roles exist).
REVOKE ALL ON health_probe FROM anon, authenticated;
ALTER TABLE health_probe ENABLE ROW LEVEL SECURITY;

-- Outbox fairness: the emails of one booking beyond its first few in one transaction (a body
-- with 2,000 attendees) go to lane 1, sent after every due lane-0 email, so one booking's burst
-- cannot hold back another booking's confirmation. The due index leads with the lane: each
-- lane is one index range, in due order.
ALTER TABLE email_outbox ADD COLUMN lane integer NOT NULL DEFAULT 0;
DROP INDEX email_outbox_due_idx;
CREATE INDEX email_outbox_due_idx ON email_outbox (lane, due_at) WHERE state IN ('pending', 'sending');
