-- /readyz proves the database takes a write by updating this one row (rate-limited).
-- Same version number as migrations/postgres/0010.
CREATE TABLE health_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at TEXT NOT NULL
);
INSERT INTO health_probe (id, checked_at) VALUES (1, '1970-01-01T00:00:00Z');

-- Outbox fairness: the emails of one booking beyond its first few in one transaction (a body
-- with 2,000 attendees) go to lane 1, sent after every due lane-0 email, so one booking's burst
-- cannot hold back another booking's confirmation. The due index leads with the lane: each
-- lane is one index range, in due order.
ALTER TABLE email_outbox ADD COLUMN lane INTEGER NOT NULL DEFAULT 0;
DROP INDEX email_outbox_due_idx;
CREATE INDEX email_outbox_due_idx ON email_outbox (lane, due_at) WHERE state IN ('pending', 'sending');
