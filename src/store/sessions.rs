//! Revoked dashboard sessions (migration 0005): what makes signing out final.
//!
//! A dashboard session cookie carries no server-side state (see `web::session`); signing out
//! records the SHA-256 of the session's nonce with the session's expiry, and every instance on
//! the same database refuses a cookie whose nonce is recorded: one primary-key lookup per
//! dashboard request, no cache, so a sign-out on one instance holds on all of them at once.
//! Rows are kept until the session would have expired anyway; each new revocation deletes the
//! expired ones, so the table stays as small as the number of sessions signed out in the last
//! session lifetime.
//!
//! Failure modes: an unreachable database is [`StoreError::Unavailable`](super::StoreError); the
//! caller refuses the session rather than guess (fail closed).

use jiff::Timestamp;

use super::common;
use super::value::Value;
use super::{Result, Store};

impl Store {
    /// Records that the session whose nonce hashes to `nonce_hash` is signed out until
    /// `expires_at`, and forgets revocations that expired before `now`. Idempotent.
    pub async fn revoke_session(
        &self,
        nonce_hash: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<()> {
        const INSERT: &str = "INSERT INTO revoked_sessions (nonce_hash, expires_at) VALUES ($1, $2) \
             ON CONFLICT (nonce_hash) DO NOTHING";
        const PRUNE: &str = "DELETE FROM revoked_sessions WHERE expires_at <= $1";
        let mut tx = self.begin().await?;
        let revoked = [Value::text(nonce_hash), Value::Time(Some(expires_at))];
        tx.execute(INSERT, &revoked).await?;
        tx.execute(PRUNE, &[Value::Time(Some(now))]).await?;
        tx.commit().await
    }

    /// Whether the session whose nonce hashes to `nonce_hash` was signed out.
    pub async fn session_revoked(&self, nonce_hash: &str) -> Result<bool> {
        const SQL: &str = "SELECT count(*) AS n FROM revoked_sessions WHERE nonce_hash = $1";
        let args = [Value::text(nonce_hash)];
        let n = match self {
            Store::Sqlite(s) => common::count(&s.pool, SQL, &args).await?,
            Store::Postgres(p) => common::count(p, SQL, &args).await?,
        };
        Ok(n > 0)
    }
}
