-- /readyz proves the database takes a write by updating this one row (rate-limited).
-- Same version number as migrations/postgres/0010.
CREATE TABLE health_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at TEXT NOT NULL
);
INSERT INTO health_probe (id, checked_at) VALUES (1, '1970-01-01T00:00:00Z');
