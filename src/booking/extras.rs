//! What a booking knows beyond one meeting between two people (issue 11): its seats, the
//! recurring series it belongs to, its payment and who did not show up.
//!
//! Seats: a seated booking keeps every attendee who ever took a seat in `attendees`; an attendee
//! whose seat was cancelled (or moved to another booking) has a [`SeatState::Cancelled`] entry
//! in `attendee_states`, keyed by lowercase email. [`Booking::active_attendees`] are the others:
//! they alone get emails, and they alone appear in invites.
//!
//! Series: Cal.com's webhooks carry no series id. Occurrences of one series share a
//! [`series_key`] (event type, organizer, first attendee, rule); `series_id` is the uid of the
//! first occurrence calbook recorded, or Cal.com's `recurringBookingUid` when a source gives it.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Booking, BookingDetails, Payment, Person, RecurringRule};

/// Where one attendee's seat stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SeatState {
    Booked,
    /// Cancelled by its attendee, or moved to another booking (`moved_to`).
    Cancelled,
}

/// One attendee's own state in a booking: their seat and whether they showed up.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AttendeeState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seat: Option<SeatState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seat_reason: Option<String>,
    /// The booking this seat moved to (a seat's own reschedule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_show: Option<bool>,
}

/// The issue-11 fields of a [`Booking`], one column each.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct BookingExtras {
    /// Links the occurrences of one recurring series.
    pub series_id: Option<String>,
    /// What occurrences of one series share (see [`series_key`]); not shown.
    #[serde(skip)]
    pub series_key: Option<String>,
    pub recurring_event: Option<RecurringRule>,
    /// Set by a "cancel all remaining": occurrences of the series from this start on are
    /// cancelled, including those whose creation arrives later.
    pub series_cancelled_from: Option<Timestamp>,
    pub seats_per_time_slot: Option<i64>,
    pub seats_show_attendees: Option<bool>,
    /// Per attendee (lowercase email): seat state and no-show.
    pub attendee_states: BTreeMap<String, AttendeeState>,
    pub host_no_show: Option<bool>,
    pub payment: Option<Payment>,
    /// Where the booking's emails link to; never a change (see [`EmailLinks`]).
    #[serde(skip)]
    pub links: EmailLinks,
}

/// What the Reschedule and Cancel links in emails are built from: the payload's `bookerUrl` (an
/// organization's own domain) and each seat's reference uid (Cal.com's `attendeeSeatId`, API
/// v2's `seatUid`), keyed by lowercase email.
///
/// These are facts about links, not about the meeting: two values are always equal, so they
/// never make an event count as a change (no history row, no `updated` email), and they are
/// not in the audit snapshot. They are stored with any change or insert, and a later event
/// fills or replaces them then; a later event that changes nothing else leaves the stored ones.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EmailLinks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booker_url: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub seats: BTreeMap<String, String>,
}

impl PartialEq for EmailLinks {
    /// Always equal: links are not part of what a change is (see the type's docs).
    fn eq(&self, _: &EmailLinks) -> bool {
        true
    }
}

impl EmailLinks {
    /// What `d` says about links.
    pub fn of(d: &BookingDetails) -> EmailLinks {
        EmailLinks {
            booker_url: d.extra.booker_url.clone(),
            seats: d.extra.seat_refs.clone(),
        }
    }

    /// `self` with what `newer` says: its booker URL when it has one, its seats added.
    pub fn merge(&mut self, newer: &EmailLinks) {
        if newer.booker_url.is_some() {
            self.booker_url.clone_from(&newer.booker_url);
        }
        for (email, seat) in &newer.seats {
            self.seats.insert(email.clone(), seat.clone());
        }
    }

    /// The seat reference uid of the attendee with `email`, if known.
    pub fn seat(&self, email: &str) -> Option<&str> {
        self.seats.get(&email_key(email)).map(String::as_str)
    }
}

impl BookingExtras {
    pub(super) fn from_details(d: &BookingDetails) -> BookingExtras {
        let e = &d.extra;
        BookingExtras {
            series_id: e.recurring_booking_uid.clone(),
            series_key: e.recurring_event.as_ref().map(|rule| series_key(d, rule)),
            recurring_event: e.recurring_event.clone(),
            series_cancelled_from: None,
            seats_per_time_slot: e.seats_per_time_slot,
            seats_show_attendees: e.seats_show_attendees,
            attendee_states: BTreeMap::new(),
            host_no_show: None,
            payment: None,
            links: EmailLinks::of(d),
        }
    }

    /// Adds the audited fields to a history snapshot.
    pub(super) fn audit_into(&self, m: &mut serde_json::Map<String, serde_json::Value>) {
        use serde_json::json;
        m.insert("series_id".into(), json!(self.series_id));
        m.insert(
            "series_cancelled_from".into(),
            json!(self.series_cancelled_from.map(|t| t.to_string())),
        );
        m.insert("attendee_states".into(), json!(self.attendee_states));
        m.insert("host_no_show".into(), json!(self.host_no_show));
        m.insert("payment".into(), json!(self.payment));
    }
}

/// The key occurrences of one series share: event type, organizer and first attendee (emails
/// lowercased) and the rule, hashed.
pub fn series_key(d: &BookingDetails, rule: &RecurringRule) -> String {
    let email = |p: Option<&Person>| {
        p.and_then(|p| p.email.as_deref())
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    };
    let text = format!(
        "{}\n{}\n{}\n{}/{}/{}",
        d.event_type_id.map(|i| i.to_string()).unwrap_or_default(),
        email(d.organizer.as_ref()),
        email(d.attendees.first()),
        rule.freq,
        rule.interval,
        rule.count.unwrap_or(0)
    );
    hex::encode(&Sha256::digest(text.as_bytes())[..16])
}

/// An email as `attendee_states` keys it.
pub fn email_key(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

impl Booking {
    /// Whether the booking is seated.
    pub fn seated(&self) -> bool {
        self.extra.seats_per_time_slot.is_some_and(|n| n > 0)
    }

    /// The state of the attendee with `email`, if any is recorded.
    pub fn attendee_state(&self, email: &str) -> Option<&AttendeeState> {
        self.extra.attendee_states.get(&email_key(email))
    }

    /// Whether `email`'s seat is cancelled (or moved away).
    pub fn seat_cancelled(&self, email: &str) -> bool {
        self.attendee_state(email)
            .is_some_and(|s| s.seat == Some(super::SeatState::Cancelled))
    }

    /// The attendees who still hold their seat (all of them for an unseated booking).
    pub fn active_attendees(&self) -> impl Iterator<Item = &Person> {
        self.attendees.iter().filter(|p| {
            p.email
                .as_deref()
                .is_none_or(|email| !self.seat_cancelled(email))
        })
    }

    /// The booking as an email to `recipient` shows it: cancelled seats left out, and, for a
    /// seated event that hides attendees from each other (`seatsShowAttendees: false`), only the
    /// recipient among the attendees. `None` shows the organizer's view (every active seat).
    pub fn as_seen_by(&self, recipient: Option<&str>) -> Booking {
        self.seen_by(recipient).into_owned()
    }

    /// [`Booking::as_seen_by`], borrowing the booking when the recipient sees every attendee
    /// (most emails), instead of copying it.
    pub fn seen_by(&self, recipient: Option<&str>) -> std::borrow::Cow<'_, Booking> {
        let hide_others = self.seated() && self.extra.seats_show_attendees == Some(false);
        let is_recipient = |p: &Person| {
            recipient.is_some_and(|r| {
                p.email
                    .as_deref()
                    .is_some_and(|e| e.trim().eq_ignore_ascii_case(r.trim()))
            })
        };
        let attendees: Vec<Person> = match self.attendees.iter().find(|p| is_recipient(p)) {
            Some(own) if hide_others => {
                if self.attendees.len() == 1 {
                    return std::borrow::Cow::Borrowed(self);
                }
                vec![own.clone()]
            }
            _ => {
                // Every active seat, plus the recipient's own (a cancelled seat's own notice).
                let shown = |p: &&Person| {
                    is_recipient(p) || p.email.as_deref().is_none_or(|e| !self.seat_cancelled(e))
                };
                if self.attendees.iter().all(|p| shown(&p)) {
                    return std::borrow::Cow::Borrowed(self);
                }
                self.attendees.iter().filter(shown).cloned().collect()
            }
        };
        let mut b = self.clone();
        b.attendees = attendees;
        std::borrow::Cow::Owned(b)
    }
}
