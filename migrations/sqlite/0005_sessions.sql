-- Signed-out dashboard sessions. Same version number as migrations/postgres/0005.
--
-- A session cookie is stateless (an HMAC over its expiry and a random nonce); signing out writes
-- the SHA-256 of the nonce here, and a cookie whose nonce is listed is refused. A row is only
-- needed until the session would have expired anyway; calbook deletes expired rows when it writes
-- a new one. Times are TEXT in calbook's fixed RFC 3339 UTC form, like every other table.
CREATE TABLE revoked_sessions (
  nonce_hash TEXT PRIMARY KEY,
  expires_at TEXT NOT NULL
);
CREATE INDEX revoked_sessions_expires_at_idx ON revoked_sessions (expires_at);
