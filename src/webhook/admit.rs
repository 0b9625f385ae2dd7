//! Admission: what a parsed delivery must satisfy before the booking rules see it, decided in
//! the request's task (no I/O) so the writers only apply.
//!
//! - **Attendee limit.** A delivery naming more than [`Admission::max_attendees`] attendees is
//!   refused as `rejected` with a reason that names the limit and its setting
//!   (`CALBOOK_MAX_ATTENDEES`). Every attendee gets emails, so an unbounded list lets one signed
//!   body queue thousands of them. A seated event adds one seat per delivery, so a large
//!   workshop is not capped by this.
//! - **Ownership.** A booking's `client_id` is set only when the metadata's `client_proof`
//!   verifies for its `client_id` and first attendee's email ([`crate::auth::ownership`]); an
//!   unproven `client_id` stays in the metadata, with no power. The log names the booking uid
//!   and the reason, never the proof, the id or the email.

use jiff::Timestamp;

use super::payload::{Parsed, ParsedDelivery, PayloadError};
use crate::auth::ownership::{OwnershipKey, PROOF_METADATA_KEY};
use crate::booking::BookingDetails;

/// Default of `CALBOOK_MAX_ATTENDEES`.
pub const DEFAULT_MAX_ATTENDEES: usize = 100;

/// The admission rules of one server.
#[derive(Debug, Clone)]
pub struct Admission {
    /// Verifies the booking page's ownership proofs; `None` proves nothing (no booking gets a
    /// `client_id`).
    pub ownership: Option<OwnershipKey>,
    /// Most attendees one delivery may name.
    pub max_attendees: usize,
}

impl Default for Admission {
    fn default() -> Self {
        Admission {
            ownership: None,
            max_attendees: DEFAULT_MAX_ATTENDEES,
        }
    }
}

impl Admission {
    /// Checks `parsed` as received at `at`: an error to store as `rejected`, or the delivery
    /// with its proven owner set.
    pub fn admit(
        &self,
        mut parsed: ParsedDelivery,
        at: Timestamp,
    ) -> Result<ParsedDelivery, PayloadError> {
        if let Parsed::Booking(event) = &mut parsed.parsed
            && let Some(details) = event.details_mut()
        {
            let count = details.attendees.len();
            if count > self.max_attendees {
                return Err(PayloadError::TooManyAttendees {
                    count,
                    max: self.max_attendees,
                });
            }
            details.owner = self.proven_owner(details, at);
        }
        Ok(parsed)
    }

    fn proven_owner(&self, d: &BookingDetails, at: Timestamp) -> Option<uuid::Uuid> {
        let claimed = d.claimed_client_id()?;
        let unproven = |reason: &str| {
            tracing::info!(booking_uid = %d.uid, reason, "metadata client_id not proven; kept as metadata only");
            None
        };
        let Some(key) = &self.ownership else {
            return unproven("no ownership key configured");
        };
        let Some(proof) = d.metadata.get(PROOF_METADATA_KEY).and_then(|v| v.as_str()) else {
            return unproven("no client_proof");
        };
        let Some(email) = d.attendees.first().and_then(|p| p.email.as_deref()) else {
            return unproven("no attendee email");
        };
        match key.verify(proof, claimed, email, at) {
            Ok(()) => Some(claimed),
            Err(e) => unproven(&e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::{BookingEvent, Person};
    use uuid::Uuid;

    fn delivery(metadata: serde_json::Value, emails: &[&str]) -> ParsedDelivery {
        let mut d = BookingDetails::example("u1", "2026-12-01T10:00:00Z");
        d.metadata = metadata;
        d.attendees = emails
            .iter()
            .map(|e| Person {
                email: Some((*e).to_owned()),
                ..Person::default()
            })
            .collect();
        ParsedDelivery {
            trigger: "BOOKING_CREATED".into(),
            parsed: Parsed::Booking(BookingEvent::Created(d)),
        }
    }

    fn owner(p: &ParsedDelivery) -> Option<Uuid> {
        match &p.parsed {
            Parsed::Booking(BookingEvent::Created(d)) => d.owner,
            _ => unreachable!(),
        }
    }

    #[test]
    fn only_a_verified_proof_sets_the_owner() {
        let key = OwnershipKey::from_secret("k");
        let admission = Admission {
            ownership: Some(key.clone()),
            ..Admission::default()
        };
        let now: Timestamp = "2026-11-27T10:00:00Z".parse().unwrap();
        let client = Uuid::now_v7();
        let proof = key.sign(client, "kim@example.com", now);
        let meta = |proof: Option<&str>| match proof {
            Some(p) => serde_json::json!({"client_id": client.to_string(), "client_proof": p}),
            None => serde_json::json!({"client_id": client.to_string()}),
        };
        let proven = admission
            .admit(delivery(meta(Some(&proof)), &["Kim@example.com"]), now)
            .unwrap();
        assert_eq!(owner(&proven), Some(client));
        let claimed_only = admission
            .admit(delivery(meta(None), &["kim@example.com"]), now)
            .unwrap();
        assert_eq!(owner(&claimed_only), None);
        let other_attendee = admission
            .admit(delivery(meta(Some(&proof)), &["victim@example.com"]), now)
            .unwrap();
        assert_eq!(owner(&other_attendee), None);
        let no_key = Admission::default()
            .admit(delivery(meta(Some(&proof)), &["kim@example.com"]), now)
            .unwrap();
        assert_eq!(owner(&no_key), None);
    }

    #[test]
    fn too_many_attendees_is_a_clear_rejection() {
        let admission = Admission {
            max_attendees: 2,
            ..Admission::default()
        };
        let now = crate::time::now();
        let emails = ["a@x.example", "b@x.example", "c@x.example"];
        assert_eq!(
            admission.admit(delivery(serde_json::json!({}), &emails), now),
            Err(PayloadError::TooManyAttendees { count: 3, max: 2 })
        );
        assert!(
            admission
                .admit(delivery(serde_json::json!({}), &emails[..2]), now)
                .is_ok()
        );
    }
}
