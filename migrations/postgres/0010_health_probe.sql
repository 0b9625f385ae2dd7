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
