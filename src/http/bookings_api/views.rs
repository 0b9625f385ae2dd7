//! The API's response bodies: explicit types, so that a new column never reaches the API
//! unnoticed, and what a client sees of a booking is decided in one place.

use jiff::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::links::Links;
use crate::booking::{Booking, HistoryEntry, Person, Status};

/// A person on a booking.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonView {
    pub name: Option<String>,
    /// Omitted for the organizer when a client asks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub time_zone: Option<String>,
    pub locale: Option<String>,
}

impl PersonView {
    pub(super) fn new(p: &Person, with_email: bool) -> PersonView {
        PersonView {
            name: p.name.clone(),
            email: p.email.clone().filter(|_| with_email),
            time_zone: p.time_zone.clone(),
            locale: p.locale.clone(),
        }
    }
}

/// A booking.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookingView {
    /// Cal.com's booking uid; the booking's id in this API.
    pub uid: String,
    pub status: Status,
    pub title: String,
    pub description: Option<String>,
    /// What the attendee wrote when booking.
    pub notes: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: Timestamp,
    /// The first attendee's name and email (the person who booked).
    pub attendee_name: Option<String>,
    pub attendee_email: Option<String>,
    pub attendees: Vec<PersonView>,
    /// The host. A client does not get the organizer's email.
    pub organizer: Option<PersonView>,
    pub location: Option<String>,
    pub meeting_url: Option<String>,
    pub event_type_slug: Option<String>,
    /// The client the booking belongs to (`metadata[client_id]` of the embed).
    pub client_id: Option<Uuid>,
    /// The uid of the booking this one replaced; `null` for a client that may not see that
    /// booking.
    pub rescheduled_from: Option<String>,
    /// The uid of the booking that replaced this one; `null` for a client that may not see that
    /// booking.
    pub rescheduled_to: Option<String>,
    pub cancellation_reason: Option<String>,
    pub cancelled_by: Option<String>,
    pub rejection_reason: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub meeting_started_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub meeting_ended_at: Option<Timestamp>,
    /// When calbook first recorded the booking.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    /// The recurring series this booking is an occurrence of (the uid of its first recorded
    /// occurrence); `null` for a single booking.
    pub series_id: Option<String>,
    /// Per attendee (lowercase email): `seat` (`booked` / `cancelled`, for seated events),
    /// `seat_reason`, `moved_to` (a seat moved to another booking) and `no_show`.
    #[schema(value_type = Object)]
    pub attendee_states: std::collections::BTreeMap<String, crate::booking::AttendeeState>,
    /// Whether the host was marked absent; `null` when nobody said.
    pub host_no_show: Option<bool>,
    /// The payment `BOOKING_PAID` recorded (amount in the currency's minor unit).
    pub payment: Option<crate::booking::Payment>,
    /// Admins only: Cal.com's numeric booking id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calcom_id: Option<i64>,
    /// Admins only: the booking's metadata (the embed's `metadata[...]` values).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

impl BookingView {
    /// What `admin` (or a client, when false) sees of `b`; `links` says which linked uids it may
    /// see.
    pub fn new(b: &Booking, admin: bool, links: &Links) -> BookingView {
        let seen;
        let b = if admin || !b.seated() {
            b
        } else {
            seen = client_view(b);
            &seen
        };
        BookingView {
            uid: b.uid.clone(),
            status: b.status,
            title: b.title.clone(),
            description: b.description.clone(),
            notes: b.notes.clone(),
            starts_at: b.starts_at,
            ends_at: b.ends_at,
            attendee_name: b.attendee_name.clone(),
            attendee_email: b.attendee_email.clone(),
            attendees: b
                .attendees
                .iter()
                .map(|p| PersonView::new(p, true))
                .collect(),
            organizer: b.organizer.as_ref().map(|p| PersonView::new(p, admin)),
            location: b.location.clone(),
            meeting_url: b.meeting_url.clone(),
            event_type_slug: b.event_type_slug.clone(),
            client_id: b.client_id,
            rescheduled_from: links.show(&b.rescheduled_from),
            rescheduled_to: links.show(&b.rescheduled_to),
            cancellation_reason: b.cancellation_reason.clone(),
            cancelled_by: b.cancelled_by.clone(),
            rejection_reason: b.rejection_reason.clone(),
            meeting_started_at: b.meeting_started_at,
            meeting_ended_at: b.meeting_ended_at,
            created_at: b.created_at,
            updated_at: b.updated_at,
            series_id: b.extra.series_id.clone(),
            attendee_states: b.extra.attendee_states.clone(),
            host_no_show: b.extra.host_no_show,
            payment: b.extra.payment.clone(),
            calcom_id: b.calcom_id.filter(|_| admin),
            metadata: admin.then(|| b.metadata.clone()),
        }
    }
}

/// A seated booking as its client (the booker, its first attendee) sees it: with
/// `seatsShowAttendees: false`, no other seat's attendee or state.
fn client_view(b: &Booking) -> Booking {
    let mut seen = b.as_seen_by(b.attendee_email.as_deref());
    let visible: Vec<String> = seen
        .attendees
        .iter()
        .filter_map(|p| p.email.as_deref())
        .map(crate::booking::email_key)
        .collect();
    seen.extra
        .attendee_states
        .retain(|email, _| visible.contains(email));
    seen
}

/// One page of bookings.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookingPage {
    pub bookings: Vec<BookingView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// One booking of a reschedule chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainLink {
    pub uid: String,
    pub status: Status,
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: Timestamp,
}

impl ChainLink {
    pub(super) fn new(b: &Booking) -> ChainLink {
        ChainLink {
            uid: b.uid.clone(),
            status: b.status,
            starts_at: b.starts_at,
            ends_at: b.ends_at,
        }
    }
}

/// A booking with its reschedule chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookingDetail {
    #[serde(flatten)]
    pub booking: BookingView,
    /// Every booking of the chain this one belongs to, earliest first, this one included: the
    /// bookings it replaced (via `rescheduled_from`) and those that replaced it (via
    /// `rescheduled_to`). The chain stops at a booking the caller may not see, and after 50 steps
    /// in either direction.
    pub reschedule_chain: Vec<ChainLink>,
}

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryItem {
    /// `created`, `confirmed`, `rescheduled`, `cancelled`, `meeting_started`, …
    pub action: String,
    /// The changed fields before the change (a `rescheduled_from` / `rescheduled_to` the caller
    /// may not see is `null`).
    pub old_values: Option<serde_json::Value>,
    /// The changed fields after the change (links as in `old_values`).
    pub new_values: Option<serde_json::Value>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Admins only: the webhook delivery that caused the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<Uuid>,
}

impl HistoryItem {
    pub(super) fn new(h: &HistoryEntry, admin: bool, links: &Links) -> HistoryItem {
        HistoryItem {
            action: h.action.clone(),
            old_values: links.redact(&h.old_values),
            new_values: links.redact(&h.new_values),
            created_at: h.created_at,
            delivery_id: h.delivery_id.filter(|_| admin),
        }
    }
}

/// A booking's audit history.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookingHistory {
    pub uid: String,
    /// Oldest first.
    pub history: Vec<HistoryItem>,
}
