//! Cal.com API v2 booking objects → the [`BookingEvent`]s a webhook would have produced: the one
//! place where the API's shape meets the domain (extend it here when the domain grows).
//!
//! The object is `BookingOutput_2024_08_13` of
//! `packages/platform/types/bookings/2024-08-13/outputs/booking.output.ts` in calcom/cal.com at
//! commit 1adf94bde079e5e2efc21b8557470da4eed026f9 (FINDINGS §6): lowercase `status`,
//! `rescheduledFromUid` / `rescheduledToUid`, `hosts`, `attendees` (with `absent`), `absentHost`,
//! `icsUid`, `metadata`, `createdAt` / `updatedAt`. The same file defines the other shapes
//! `GET /v2/bookings` mixes in: `RecurringBookingOutput_2024_08_13` (adds `recurringBookingUid`),
//! `GetSeatedBookingOutput_2024_08_13` (`attendees[]` are `SeatedAttendee`s, each with its
//! `seatUid`) and `GetRecurringSeatedBookingOutput_2024_08_13` (both).
//!
//! | API booking | event |
//! |---|---|
//! | `accepted`, no `rescheduledFromUid` | `Created` (also confirms a pending or unpaid one) |
//! | `accepted` with `rescheduledFromUid` | `Rescheduled` from that uid |
//! | `pending` | `Requested` (from `rescheduledFromUid` when set) |
//! | `cancelled` with `rescheduledToUid` | the OLD side of a reschedule: [`Mapped::MovedTo`]; the sync applies the new booking's `Rescheduled` instead, never a cancellation |
//! | `cancelled` | `Cancelled` (`cancellationReason`, `cancelledByEmail`) |
//! | `rejected` | `Rejected` |
//! | `awaiting_host` (an instant meeting no host took yet) | [`Mapped::NotYet`]: not a booking yet; it is read again when it changes |
//! | `recurringBookingUid` | `DetailExtras::recurring_booking_uid`: the series id, which replaces calbook's guess on every occurrence it linked (`series_linked`) |
//! | attendees with `seatUid` | `DetailExtras::seat_roster`: the list of every seat still held; a new one is `seat_added`, one missing is `seat_cancelled` |
//! | attendees' `absent`, `absentHost` | a `NoShow` event after the booking's own ([`marks`]): `no_show_updated` when a mark differs |
//!
//! What the API does not give, so the sync cannot converge it (the webhook's value is kept):
//! - `recurringEvent` (the rule): only `recurringBookingUid`. An occurrence first recorded by the
//!   sync has its series id but no rule, so a later webhook "cancel all remaining" reaches only
//!   the occurrences calbook linked by rule; the others converge when the next sync reads them
//!   cancelled (Cal.com cancels them too), each with its own cancellation email.
//! - payments: no `paid`, `payment` or price field. An unpaid booking is `pending` in the API
//!   (Cal.com holds it unconfirmed until payment): a booking calbook recorded `awaiting_payment`
//!   stays so (`--check` does not call that drift), and `accepted` confirms it as the webhook's
//!   `BOOKING_CREATED` after payment does. One first seen by the sync while unpaid is recorded
//!   `pending` (the API cannot tell it from one awaiting the host). The payment's id, amount and
//!   currency come only from `BOOKING_PAID`.
//! - a seat's cancellation reason, and where a seat moved (Cal.com deletes the seat's attendee):
//!   the sync records the seat cancelled without a reason or `moved_to`.
//! - the seat count (`seatsPerTimeSlot`) and `seatsShowAttendees`: a seated booking first seen by
//!   the sync has neither until a webhook brings them.
//! - a host's "request reschedule" (the API shows it as `cancelled`; the webhook's
//!   `requestReschedule` flag has no API twin), and the `iCalSequence` (the stored one is kept).

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;

use crate::booking::{
    BookingDetails, BookingEvent, DetailExtras, NoShowMark, Person, PreviousSlot,
};

/// The fields of an API v2 booking that calbook reads (unknown fields are ignored).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiBooking {
    pub id: Option<i64>,
    pub uid: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub status: String,
    #[serde(default)]
    pub cancellation_reason: Option<String>,
    #[serde(default)]
    pub cancelled_by_email: Option<String>,
    #[serde(default)]
    pub rejection_reason: Option<String>,
    #[serde(default)]
    pub rescheduled_from_uid: Option<String>,
    #[serde(default)]
    pub rescheduled_to_uid: Option<String>,
    pub start: String,
    pub end: String,
    #[serde(default)]
    pub event_type_id: Option<i64>,
    #[serde(default)]
    pub event_type: Option<EventTypeRef>,
    #[serde(default)]
    pub meeting_url: Option<String>,
    #[serde(default)]
    pub location: Option<Value>,
    #[serde(default)]
    pub hosts: Vec<ApiPerson>,
    #[serde(default)]
    pub attendees: Vec<ApiPerson>,
    #[serde(default)]
    pub ics_uid: Option<String>,
    #[serde(default)]
    pub metadata: Option<Value>,
    #[serde(default)]
    pub booking_fields_responses: Option<Value>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    /// Recurring bookings: the series' id.
    #[serde(default)]
    pub recurring_booking_uid: Option<String>,
    /// Whether the host was marked absent.
    #[serde(default)]
    pub absent_host: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventTypeRef {
    pub id: Option<i64>,
    pub slug: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiPerson {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    /// Attendees: marked absent (no-show).
    #[serde(default)]
    pub absent: Option<bool>,
    /// Seated bookings: the attendee's own seat.
    #[serde(default)]
    pub seat_uid: Option<String>,
}

impl ApiPerson {
    fn person(&self) -> Person {
        let s = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        Person {
            name: s(&self.name),
            email: s(&self.email),
            time_zone: s(&self.time_zone),
            locale: s(&self.language),
        }
    }
}

/// What an API booking stands for.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one value per booking, built and consumed at once; boxing would only add an allocation"
)]
pub enum Mapped {
    Event(BookingEvent),
    /// The old side of a reschedule: the booking moved to this uid. The new booking's
    /// `Rescheduled` event records both sides.
    MovedTo(String),
    /// Not a booking calbook records yet (`awaiting_host`: an instant meeting no host took).
    NotYet,
}

/// Why a booking could not be mapped (it is skipped, logged by uid, and counted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    #[error("booking {field} is not an RFC 3339 time")]
    BadTime { field: &'static str },
    #[error("booking ends before it starts")]
    EndBeforeStart,
    #[error("booking has no uid, or an unusable one")]
    BadUid,
    #[error("unknown booking status {0:?}")]
    UnknownStatus(String),
}

fn time(raw: &str, field: &'static str) -> Result<Timestamp, MapError> {
    raw.trim().parse().map_err(|_| MapError::BadTime { field })
}

impl ApiBooking {
    /// When Cal.com last changed this booking (its creation when never updated).
    pub fn changed_at(&self) -> Option<Timestamp> {
        self.updated_at
            .as_deref()
            .or(self.created_at.as_deref())
            .and_then(|t| t.trim().parse().ok())
    }

    fn details(&self) -> Result<BookingDetails, MapError> {
        let uid = self.uid.trim();
        if uid.is_empty() || uid.len() > 255 || uid.chars().any(char::is_control) {
            return Err(MapError::BadUid);
        }
        let starts_at = time(&self.start, "start")?;
        let ends_at = time(&self.end, "end")?;
        if ends_at < starts_at {
            return Err(MapError::EndBeforeStart);
        }
        let metadata = match &self.metadata {
            Some(m @ Value::Object(_)) => m.clone(),
            _ => Value::Object(Default::default()),
        };
        let meeting_url = self
            .meeting_url
            .clone()
            .or_else(|| {
                metadata
                    .get("videoCallUrl")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .filter(|u| !u.is_empty());
        let location = match &self.location {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        };
        let notes = self
            .booking_fields_responses
            .as_ref()
            .and_then(|r| r.get("notes"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        Ok(BookingDetails {
            uid: uid.to_owned(),
            calcom_id: self.id,
            title: self.title.clone().unwrap_or_default(),
            description: self.description.clone().filter(|s| !s.is_empty()),
            notes,
            starts_at,
            ends_at,
            attendees: self.attendees.iter().map(ApiPerson::person).collect(),
            organizer: self.hosts.first().map(ApiPerson::person),
            location,
            meeting_url,
            ical_uid: self.ics_uid.clone().filter(|s| !s.is_empty()),
            ical_sequence: None,
            event_type_id: self
                .event_type
                .as_ref()
                .and_then(|e| e.id)
                .or(self.event_type_id),
            event_type_slug: self.event_type.as_ref().and_then(|e| e.slug.clone()),
            metadata,
            owner: None,
            extra: DetailExtras {
                recurring_booking_uid: nonempty(&self.recurring_booking_uid).map(str::to_owned),
                seat_roster: self
                    .attendees
                    .iter()
                    .any(|a| nonempty(&a.seat_uid).is_some()),
                // API v2's `seatUid` is the seat's reference uid, which email links use.
                seat_refs: self
                    .attendees
                    .iter()
                    .filter_map(|a| {
                        Some((
                            crate::booking::email_key(nonempty(&a.email)?),
                            nonempty(&a.seat_uid)?.to_owned(),
                        ))
                    })
                    .collect(),
                ..DetailExtras::default()
            },
        })
    }
}

fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The event a webhook would have carried for the booking's current state.
pub fn to_event(b: &ApiBooking) -> Result<Mapped, MapError> {
    let from = nonempty(&b.rescheduled_from_uid).map(|uid| PreviousSlot {
        uid: uid.to_owned(),
        starts_at: None,
        ends_at: None,
    });
    Ok(Mapped::Event(match b.status.trim() {
        "accepted" => {
            let details = b.details()?;
            match from {
                Some(from) if from.uid != details.uid => {
                    BookingEvent::Rescheduled { details, from }
                }
                _ => BookingEvent::Created(details),
            }
        }
        "pending" => BookingEvent::Requested {
            details: b.details()?,
            from,
        },
        "cancelled" => {
            if let Some(to) = nonempty(&b.rescheduled_to_uid) {
                b.details()?;
                return Ok(Mapped::MovedTo(to.to_owned()));
            }
            BookingEvent::Cancelled {
                details: b.details()?,
                reason: b.cancellation_reason.clone().filter(|s| !s.is_empty()),
                by: b.cancelled_by_email.clone().filter(|s| !s.is_empty()),
                reschedule_requested: false,
            }
        }
        "rejected" => BookingEvent::Rejected {
            details: b.details()?,
            reason: b
                .rejection_reason
                .clone()
                .or_else(|| b.cancellation_reason.clone())
                .filter(|s| !s.is_empty()),
        },
        "awaiting_host" => {
            b.details()?;
            return Ok(Mapped::NotYet);
        }
        other => {
            return Err(MapError::UnknownStatus(
                other.chars().filter(|c| !c.is_control()).take(40).collect(),
            ));
        }
    }))
}

/// The no-show marks the booking carries (attendees' `absent`, `absentHost`), as the event that
/// follows the booking's own: `None` when the booking states none.
pub fn marks(b: &ApiBooking) -> Option<BookingEvent> {
    let attendees: Vec<NoShowMark> = b
        .attendees
        .iter()
        .filter_map(|a| {
            Some(NoShowMark {
                email: nonempty(&a.email)?.to_owned(),
                no_show: a.absent?,
            })
        })
        .collect();
    if attendees.is_empty() && b.absent_host.is_none() {
        return None;
    }
    Some(BookingEvent::NoShow {
        uid: b.uid.trim().to_owned(),
        attendees,
        host: b.absent_host,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn booking(status: &str) -> ApiBooking {
        serde_json::from_value(serde_json::json!({
            "id": 7, "uid": "b1", "title": "Intro", "status": status,
            "start": "2026-12-01T10:00:00.000Z", "end": "2026-12-01T10:30:00.000Z",
            "eventType": {"id": 3, "slug": "intro"},
            "hosts": [{"id": 1, "name": "Host", "email": "host@example.com", "timeZone": "Europe/Rome"}],
            "attendees": [{"name": "Kim", "email": "kim@example.com", "timeZone": "UTC", "language": "en", "absent": false}],
            "icsUid": "ics-1", "location": "https://video.example.com/x",
            "updatedAt": "2026-11-01T09:00:00Z", "recurringBookingUid": "r1"
        }))
        .unwrap()
    }

    #[test]
    fn statuses_map_to_the_webhook_events() {
        let Mapped::Event(BookingEvent::Created(d)) = to_event(&booking("accepted")).unwrap()
        else {
            panic!("accepted is created")
        };
        assert_eq!(d.uid, "b1");
        assert_eq!(d.calcom_id, Some(7));
        assert_eq!(d.event_type_slug.as_deref(), Some("intro"));
        assert_eq!(d.attendees[0].email.as_deref(), Some("kim@example.com"));
        assert_eq!(d.attendees[0].locale.as_deref(), Some("en"));
        assert_eq!(
            d.organizer.as_ref().unwrap().time_zone.as_deref(),
            Some("Europe/Rome")
        );
        assert_eq!(d.ical_uid.as_deref(), Some("ics-1"));
        assert!(matches!(
            to_event(&booking("pending")).unwrap(),
            Mapped::Event(BookingEvent::Requested { from: None, .. })
        ));
        assert!(matches!(
            to_event(&booking("rejected")).unwrap(),
            Mapped::Event(BookingEvent::Rejected { .. })
        ));
        let mut c = booking("cancelled");
        c.cancellation_reason = Some("ill".into());
        assert!(matches!(
            to_event(&c).unwrap(),
            Mapped::Event(BookingEvent::Cancelled { reason: Some(r), reschedule_requested: false, .. }) if r == "ill"
        ));
        assert!(matches!(
            to_event(&booking("weird")),
            Err(MapError::UnknownStatus(_))
        ));
    }

    #[test]
    fn a_reschedule_is_not_a_cancellation() {
        let mut old = booking("cancelled");
        old.rescheduled_to_uid = Some("b2".into());
        assert_eq!(to_event(&old).unwrap(), Mapped::MovedTo("b2".into()));
        let mut new = booking("accepted");
        new.uid = "b2".into();
        new.rescheduled_from_uid = Some("b1".into());
        assert!(matches!(
            to_event(&new).unwrap(),
            Mapped::Event(BookingEvent::Rescheduled { from, .. }) if from.uid == "b1"
        ));
    }

    #[test]
    fn unusable_bookings_are_errors_not_panics() {
        let mut b = booking("accepted");
        b.start = "tomorrow".into();
        assert_eq!(to_event(&b), Err(MapError::BadTime { field: "start" }));
        let mut b = booking("accepted");
        b.end = "2026-12-01T09:00:00Z".into();
        assert_eq!(to_event(&b), Err(MapError::EndBeforeStart));
        assert_eq!(
            booking("accepted").changed_at(),
            Some("2026-11-01T09:00:00Z".parse().unwrap())
        );
    }

    #[test]
    fn series_seats_and_no_shows_are_carried() {
        let Mapped::Event(BookingEvent::Created(d)) = to_event(&booking("accepted")).unwrap()
        else {
            panic!("accepted is created")
        };
        assert_eq!(d.extra.recurring_booking_uid.as_deref(), Some("r1"));
        assert!(!d.extra.seat_roster, "no seatUid: not seated");
        let mut seated = booking("accepted");
        seated.attendees[0].seat_uid = Some("seat-1".into());
        let Mapped::Event(e) = to_event(&seated).unwrap() else {
            panic!("an event")
        };
        assert!(e.details().unwrap().extra.seat_roster);

        assert_eq!(
            marks(&booking("accepted")),
            Some(BookingEvent::NoShow {
                uid: "b1".into(),
                attendees: vec![NoShowMark {
                    email: "kim@example.com".into(),
                    no_show: false
                }],
                host: None,
            })
        );
        let mut absent = booking("accepted");
        absent.attendees[0].absent = Some(true);
        absent.absent_host = Some(true);
        let Some(BookingEvent::NoShow {
            attendees, host, ..
        }) = marks(&absent)
        else {
            panic!("marks")
        };
        assert!(attendees[0].no_show);
        assert_eq!(host, Some(true));
        let mut silent = booking("accepted");
        silent.attendees[0].absent = None;
        assert_eq!(marks(&silent), None);
    }

    #[test]
    fn a_meeting_awaiting_its_host_is_not_a_booking_yet() {
        assert_eq!(to_event(&booking("awaiting_host")).unwrap(), Mapped::NotYet);
    }
}
