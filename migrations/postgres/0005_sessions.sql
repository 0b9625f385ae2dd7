-- Signed-out dashboard sessions. Same version number as migrations/sqlite/0005.
--
-- A session cookie is stateless (an HMAC over its expiry and a random nonce); signing out writes
-- the SHA-256 of the nonce here, and a cookie whose nonce is listed is refused, by every calbook
-- instance on this database. A row is only needed until the session would have expired anyway;
-- calbook deletes expired rows when it writes a new one.
CREATE TABLE revoked_sessions (
  nonce_hash TEXT PRIMARY KEY,
  expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX revoked_sessions_expires_at_idx ON revoked_sessions (expires_at);

-- calbook's own bookkeeping: no API access (Supabase grants everything on new tables in `public`
-- to its API roles; take that back, and RLS with no policies refuses whatever a grant lets
-- through). The roles exist: migration 0003 creates them where missing.
REVOKE ALL ON revoked_sessions FROM anon, authenticated;
ALTER TABLE revoked_sessions ENABLE ROW LEVEL SECURITY;
