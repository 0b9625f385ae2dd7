//! Cal.com webhook ingest: signature check, body parsing, and the group-commit writer that
//! applies deliveries to the store.
//!
//! A delivery travels: size check (413) → `X-Cal-Signature-256` over the raw bytes (401) →
//! parse (a signed but unusable body is stored as `rejected` and answered 400/415) → the
//! writer, which dedupes byte-identical bodies, applies the booking rules and records the
//! delivery in one transaction → 200 once committed (503 when the database is unavailable).
//! The writes themselves are [`apply`]'s, which the Cal.com sync shares.

pub mod admit;
pub mod apply;
pub mod ingest;
pub mod payload;
pub mod signature;

pub use admit::Admission;
pub use ingest::{Applied, Ingest, IngestError, IngestOptions, Received};
pub use signature::{Secrets, SignatureError, sign};

use sha2::{Digest, Sha256};

/// Largest body accepted, checked before any HMAC or JSON work.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Lowercase hex SHA-256 of a body: the dedupe key, and what logs show instead of the body.
pub fn body_sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}
