//! Proof that a booking was made by a signed-in client, so that nobody can claim a booking by
//! writing someone's id into the embed's metadata.
//!
//! Cal.com copies every `metadata[key]` of the booking page into the booking, and any booker can
//! set those keys (a link like `cal.com/acme/intro?metadata[client_id]=…` is enough). So a
//! `client_id` in the metadata proves nothing. The booking page (`/book`) therefore adds, next to
//! `client_id`, a `client_proof` that calbook signs with a key only it has
//! (`CALBOOK_OWNERSHIP_KEY`, or `<data dir>/ownership-key`, generated once):
//!
//! ```text
//! v1.<expiry, unix seconds>.<base64url HMAC-SHA256(key, "calbook client proof v1" | client id | email | expiry)>
//! ```
//!
//! The proof binds the client's id **and its verified email** (ASCII case-folded). At ingest a
//! booking gets the client as its owner only when the proof verifies for the booking's metadata
//! `client_id`, has not expired when the delivery arrived, and was made for the booking's attendee
//! email. A proof with another attendee email grants nothing: proofs travel in URLs and can be
//! forwarded, and binding the email keeps a forwarded link (the phishing case) from handing a
//! stranger's booking to the link's author. Such a booking is owned by whoever has the attendee's
//! verified email, like any booking without a proven owner.
//!
//! Guarantees: verification is constant-time in the MAC, never panics on any input, and needs no
//! I/O. A changed key invalidates every outstanding proof (bookings already stored keep their
//! owner).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// How long a proof handed out by `/book` stays valid: a booking made from a page opened more
/// than a day ago is owned by its email only.
pub const PROOF_TTL_SECS: i64 = 24 * 3600;

/// The metadata key the proof travels in, next to `client_id`.
pub const PROOF_METADATA_KEY: &str = "client_proof";

/// The key ownership proofs are signed with.
#[derive(Clone)]
pub struct OwnershipKey([u8; 32]);

impl std::fmt::Debug for OwnershipKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OwnershipKey(<redacted>)")
    }
}

/// The one email normalisation calbook uses for ownership: surrounding whitespace removed and
/// ASCII letters lower-cased. No Unicode case folding: `K` (U+212A KELVIN SIGN) stays itself and
/// never matches `k`.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

impl OwnershipKey {
    /// Derives the signing key from the configured secret text (any length).
    pub fn from_secret(secret: &str) -> OwnershipKey {
        let mut mac = HmacSha256::new_from_slice(secret.trim().as_bytes()).expect("any key");
        mac.update(b"calbook ownership key v1");
        OwnershipKey(mac.finalize().into_bytes().into())
    }

    fn mac(&self, client_id: Uuid, email: &str, expires: i64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("any key");
        for part in [
            b"calbook client proof v1".as_slice(),
            client_id.as_hyphenated().to_string().as_bytes(),
            normalize_email(email).as_bytes(),
            expires.to_string().as_bytes(),
        ] {
            mac.update(part);
            mac.update(b"\x00");
        }
        mac
    }

    /// A proof for `client_id` with verified `email`, valid for [`PROOF_TTL_SECS`] from `now`.
    pub fn sign(&self, client_id: Uuid, email: &str, now: Timestamp) -> String {
        let expires = now.as_second() + PROOF_TTL_SECS;
        let tag = self.mac(client_id, email, expires).finalize().into_bytes();
        format!("v1.{expires}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// Whether `proof` was made by this key for `client_id` and `attendee_email`, and had not
    /// expired at `at` (when the delivery was received).
    pub fn verify(
        &self,
        proof: &str,
        client_id: Uuid,
        attendee_email: &str,
        at: Timestamp,
    ) -> Result<(), ProofError> {
        let mut parts = proof.trim().split('.');
        let (Some("v1"), Some(expires), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ProofError::Malformed);
        };
        let expires: i64 = expires.parse().map_err(|_| ProofError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| ProofError::Malformed)?;
        if normalize_email(attendee_email).is_empty() {
            return Err(ProofError::WrongClientOrEmail);
        }
        self.mac(client_id, attendee_email, expires)
            .verify_slice(&tag)
            .map_err(|_| ProofError::WrongClientOrEmail)?;
        if at.as_second() > expires {
            return Err(ProofError::Expired);
        }
        Ok(())
    }
}

/// Why a proof did not verify (recorded in the log with the booking uid, never the proof).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the ownership proof is malformed")]
    Malformed,
    #[error("the ownership proof was made for another client or another email, or by another key")]
    WrongClientOrEmail,
    #[error("the ownership proof has expired")]
    Expired,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_proof_verifies_for_its_client_and_email_until_it_expires() {
        let key = OwnershipKey::from_secret("k");
        let client = Uuid::now_v7();
        let now = at("2026-11-27T10:00:00Z");
        let proof = key.sign(client, "Kim@Example.com", now);
        assert_eq!(key.verify(&proof, client, " kim@example.COM ", now), Ok(()));
        let late = at("2026-11-28T10:00:01Z");
        assert_eq!(
            key.verify(&proof, client, "kim@example.com", late),
            Err(ProofError::Expired)
        );
    }

    #[test]
    fn another_client_another_email_or_another_key_fails() {
        let key = OwnershipKey::from_secret("k");
        let client = Uuid::now_v7();
        let now = at("2026-11-27T10:00:00Z");
        let proof = key.sign(client, "kim@example.com", now);
        let wrong = Err(ProofError::WrongClientOrEmail);
        assert_eq!(
            key.verify(&proof, Uuid::now_v7(), "kim@example.com", now),
            wrong
        );
        assert_eq!(key.verify(&proof, client, "eve@example.com", now), wrong);
        // U+212A KELVIN SIGN is not folded to `k`.
        assert_eq!(
            key.verify(&proof, client, "\u{212A}im@example.com", now),
            wrong
        );
        assert_eq!(key.verify(&proof, client, "", now), wrong);
        let other = OwnershipKey::from_secret("other");
        assert_eq!(other.verify(&proof, client, "kim@example.com", now), wrong);
    }

    #[test]
    fn forged_or_garbled_proofs_are_refused() {
        let key = OwnershipKey::from_secret("k");
        let client = Uuid::now_v7();
        let now = at("2026-11-27T10:00:00Z");
        let proof = key.sign(client, "kim@example.com", now);
        // Moving the expiry invalidates the MAC.
        let (_, rest) = proof.split_once('.').unwrap();
        let (_, tag) = rest.split_once('.').unwrap();
        let forged = format!("v1.{}.{tag}", now.as_second() + 10 * PROOF_TTL_SECS);
        assert_eq!(
            key.verify(&forged, client, "kim@example.com", now),
            Err(ProofError::WrongClientOrEmail)
        );
        for bad in ["", "v1", "v2.1.AA", "v1.x.AA", "v1.1.!!", "v1.1.AA.x"] {
            assert_eq!(
                key.verify(bad, client, "kim@example.com", now),
                Err(ProofError::Malformed),
                "{bad:?}"
            );
        }
    }
}
