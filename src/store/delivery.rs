//! Signed webhook deliveries as `webhook_deliveries` keeps them, and their outcomes.

use bytes::Bytes;
use jiff::Timestamp;
use serde::Serialize;
use uuid::Uuid;

use super::{Result, StoreError};

/// What happened to a signed delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Its effects are committed (a PING counts as applied: it asks for nothing).
    Applied,
    /// A byte-identical body was applied before; nothing changed.
    Duplicate,
    /// Stored and acknowledged with no effect (unknown trigger or version, or stale).
    Ignored,
    /// Signed, but unusable (malformed JSON, form-encoded body, missing fields).
    Rejected,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Applied,
        Outcome::Duplicate,
        Outcome::Ignored,
        Outcome::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
            Outcome::Ignored => "ignored",
            Outcome::Rejected => "rejected",
        }
    }

    pub(super) fn parse(s: &str) -> Result<Outcome> {
        Ok(match s {
            "applied" => Outcome::Applied,
            "duplicate" => Outcome::Duplicate,
            "ignored" => Outcome::Ignored,
            "rejected" => Outcome::Rejected,
            other => return Err(StoreError::Corrupt(format!("outcome {other:?}"))),
        })
    }
}

/// An outcome name that is not one of [`Outcome::ALL`].
#[derive(Debug, thiserror::Error)]
#[error("unknown delivery outcome {0:?} (expected one of applied, duplicate, ignored, rejected)")]
pub struct UnknownOutcome(pub String);

impl std::str::FromStr for Outcome {
    type Err = UnknownOutcome;

    fn from_str(s: &str) -> std::result::Result<Outcome, UnknownOutcome> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| UnknownOutcome(s.to_owned()))
    }
}

/// One signed delivery as kept in `webhook_deliveries`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    pub id: Uuid,
    pub received_at: Timestamp,
    pub body_sha256: String,
    pub trigger_event: Option<String>,
    pub webhook_version: Option<String>,
    pub content_type: Option<String>,
    pub booking_uid: Option<String>,
    pub outcome: Outcome,
    pub error: Option<String>,
    /// The raw body. Listings leave it empty.
    #[serde(skip)]
    pub body: Bytes,
}
