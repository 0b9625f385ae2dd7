//! `X-Cal-Signature-256` verification: lowercase (or uppercase) hex HMAC-SHA256 over the raw body
//! bytes, keyed with the webhook secret as UTF-8 (Cal.com's `createHmac("sha256", secret)`).
//!
//! The header is hex-decoded first: anything that is not exactly 64 hex digits (empty,
//! `no-secret-provided`, `sha256=`-prefixed, truncated) is refused before any MAC is computed, so
//! no comparison ever runs on inputs of different lengths. The MAC comparison itself is
//! constant-time (`Mac::verify_slice`). Several secrets may be configured while one is rotated; a
//! signature made with any of them is accepted.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why a signature was refused. The messages name the problem, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Cal-Signature-256 header")]
    Missing,
    #[error(
        "Cal.com sent no signature (`no-secret-provided`): set the same secret in the Cal.com webhook and in calbook"
    )]
    NoSecretProvided,
    #[error("X-Cal-Signature-256 must be 64 hex digits (HMAC-SHA256, no prefix)")]
    Malformed,
    #[error("X-Cal-Signature-256 does not match the body for any configured secret")]
    Mismatch,
}

/// The configured webhook secrets. `Debug` never shows them.
#[derive(Clone)]
pub struct Secrets(Vec<Vec<u8>>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} configured, redacted)", self.0.len())
    }
}

impl Secrets {
    /// One or more secrets; empty entries are dropped. Returns `None` if none is left.
    pub fn new<I, S>(secrets: I) -> Option<Secrets>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let v: Vec<Vec<u8>> = secrets
            .into_iter()
            .map(|s| s.as_ref().trim().as_bytes().to_vec())
            .filter(|s| !s.is_empty())
            .collect();
        (!v.is_empty()).then_some(Secrets(v))
    }

    /// Parses the `CALCOM_WEBHOOK_SECRET` form: one secret, or several separated by commas.
    pub fn from_list(list: &str) -> Option<Secrets> {
        Secrets::new(list.split(','))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The secrets as text, for `calbook secret`.
    pub fn all(&self) -> impl Iterator<Item = std::borrow::Cow<'_, str>> {
        self.0.iter().map(|s| String::from_utf8_lossy(s))
    }

    /// The first secret, used to sign outgoing test deliveries (`calbook trigger`).
    pub fn primary(&self) -> &[u8] {
        &self.0[0]
    }

    /// Checks `header` against `body` with every secret.
    pub fn verify(&self, header: Option<&[u8]>, body: &[u8]) -> Result<(), SignatureError> {
        let header = header.ok_or(SignatureError::Missing)?;
        let header = header.trim_ascii();
        if header.is_empty() {
            return Err(SignatureError::Missing);
        }
        if header == b"no-secret-provided" {
            return Err(SignatureError::NoSecretProvided);
        }
        let mut expected = [0u8; 32];
        if header.len() != 64 || hex::decode_to_slice(header, &mut expected).is_err() {
            return Err(SignatureError::Malformed);
        }
        // Every secret is tried, whatever the outcome, so timing does not tell which one matched.
        let mut ok = false;
        for secret in &self.0 {
            let mut mac =
                HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
            mac.update(body);
            ok |= mac.verify_slice(&expected).is_ok();
        }
        if ok {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

/// The `X-Cal-Signature-256` value for `body` under `secret`, as Cal.com computes it.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BODY: &[u8] = br#"{"triggerEvent":"PING"}"#;

    fn secrets() -> Secrets {
        Secrets::from_list("first-secret, second-secret").unwrap()
    }

    #[test]
    fn accepts_either_secret_during_rotation_and_refuses_a_third() {
        let s = secrets();
        assert_eq!(
            s.verify(Some(sign(b"first-secret", BODY).as_bytes()), BODY),
            Ok(())
        );
        assert_eq!(
            s.verify(Some(sign(b"second-secret", BODY).as_bytes()), BODY),
            Ok(())
        );
        assert_eq!(
            s.verify(Some(sign(b"third-secret", BODY).as_bytes()), BODY),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn accepts_uppercase_hex() {
        let sig = sign(b"first-secret", BODY).to_uppercase();
        assert_eq!(secrets().verify(Some(sig.as_bytes()), BODY), Ok(()));
    }

    #[test]
    fn refuses_every_malformed_header_without_panicking() {
        let good = sign(b"first-secret", BODY);
        let cases: Vec<(Option<String>, SignatureError)> = vec![
            (None, SignatureError::Missing),
            (Some(String::new()), SignatureError::Missing),
            (
                Some("no-secret-provided".into()),
                SignatureError::NoSecretProvided,
            ),
            (Some(format!("sha256={good}")), SignatureError::Malformed),
            (Some(good[..63].to_owned()), SignatureError::Malformed),
            (Some(good[..62].to_owned()), SignatureError::Malformed),
            (Some(format!("{good}00")), SignatureError::Malformed),
            (Some("z".repeat(64)), SignatureError::Malformed),
            (Some("v1,".into()), SignatureError::Malformed),
            (Some("é".repeat(32)), SignatureError::Malformed),
        ];
        for (header, want) in cases {
            assert_eq!(
                secrets().verify(header.as_deref().map(str::as_bytes), BODY),
                Err(want.clone()),
                "header {header:?}"
            );
        }
    }

    #[test]
    fn empty_secret_list_is_no_secret() {
        assert!(Secrets::from_list(" , ").is_none());
        assert!(Secrets::from_list("").is_none());
    }

    proptest! {
        /// Any single-byte change to a signed body makes the signature fail.
        #[test]
        fn any_single_byte_change_is_rejected(
            body in proptest::collection::vec(any::<u8>(), 1..2048),
            pos in any::<proptest::sample::Index>(),
            delta in 1u8..=255,
        ) {
            let sig = sign(b"first-secret", &body);
            let mut tampered = body.clone();
            let i = pos.index(tampered.len());
            tampered[i] = tampered[i].wrapping_add(delta);
            prop_assert_eq!(secrets().verify(Some(sig.as_bytes()), &body), Ok(()));
            prop_assert_eq!(secrets().verify(Some(sig.as_bytes()), &tampered), Err(SignatureError::Mismatch));
        }
    }
}
