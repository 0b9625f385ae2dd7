//! Cal.com delivery bodies → [`BookingEvent`]s (FINDINGS §3).
//!
//! Accepted: the default envelope `{triggerEvent, createdAt, payload}`, and the flat
//! `MEETING_STARTED` / `MEETING_ENDED` form of Cal.com's cron path (booking fields at the root).
//! Every time is parsed as RFC 3339 with any offset (`…Z`, `….000Z`, `…+00:00`).
//! Refused with a [`PayloadError`] that names the problem: bodies that are not JSON objects,
//! form-encoded custom-template bodies, and booking events without a usable uid or times.
//! Unknown triggers and unknown `X-Cal-Webhook-Version`s are not errors: they parse to
//! [`Parsed::Ignored`], to be stored and acknowledged.

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::booking::{BookingDetails, BookingEvent, MeetingPhase, Person, PreviousSlot};

/// Payload versions calbook understands (`X-Cal-Webhook-Version`; absent on older Cal.com).
pub const KNOWN_VERSIONS: [&str; 2] = ["2021-10-20", "2026-07-27"];

const MAX_UID_LEN: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error(
        "body is a form-encoded custom payload template; remove the template from the Cal.com webhook so it sends the default JSON body"
    )]
    FormEncoded,
    #[error("body is not valid JSON: {0}")]
    NotJson(String),
    #[error("body has no triggerEvent")]
    MissingTrigger,
    #[error("{trigger} has no payload object")]
    MissingPayload { trigger: String },
    #[error("payload.{field} is missing or empty")]
    MissingField { field: &'static str },
    #[error("payload.{field} is not an RFC 3339 time")]
    BadTime { field: &'static str },
    #[error("payload.uid is longer than {MAX_UID_LEN} characters or contains control characters")]
    BadUid,
    #[error("payload.endTime is before payload.startTime")]
    EndBeforeStart,
    #[error(
        "payload.attendees has {count} entries; calbook accepts at most {max} per delivery (raise CALBOOK_MAX_ATTENDEES if that is real)"
    )]
    TooManyAttendees { count: usize, max: usize },
}

impl PayloadError {
    /// A short stable name for metrics labels (`calbook_webhook_rejected_total{reason}`).
    pub fn reason(&self) -> &'static str {
        match self {
            PayloadError::FormEncoded => "form_encoded",
            PayloadError::NotJson(_) => "not_json",
            PayloadError::MissingTrigger => "missing_trigger",
            PayloadError::MissingPayload { .. } => "missing_payload",
            PayloadError::MissingField { .. } => "missing_field",
            PayloadError::BadTime { .. } => "bad_time",
            PayloadError::BadUid => "bad_uid",
            PayloadError::EndBeforeStart => "end_before_start",
            PayloadError::TooManyAttendees { .. } => "too_many_attendees",
        }
    }
}

/// What a verified delivery asks for.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one value per request, built once and moved; boxing would only add an allocation"
)]
pub enum Parsed {
    Ping,
    Booking(BookingEvent),
    /// Stored and acknowledged, with no effect.
    Ignored {
        reason: String,
    },
}

/// A parsed delivery: its trigger name (for the deliveries table) and what it asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedDelivery {
    pub trigger: String,
    pub parsed: Parsed,
}

impl ParsedDelivery {
    pub fn booking_uid(&self) -> Option<&str> {
        match &self.parsed {
            Parsed::Booking(e) => Some(e.uid()),
            _ => None,
        }
    }
}

/// The body with every JSON `\u0000` escape made `\ufffd` (the replacement character).
///
/// PostgreSQL's `text` and `jsonb` cannot hold NUL, so a name or title carrying one would fail
/// the whole transaction there while SQLite kept it. Replacing it before parsing treats both
/// backends alike; the stored body (`bytea`) keeps the original bytes. An escaped backslash
/// before `u0000` (`\\u0000`, the text "\u0000") is left alone.
pub fn without_nul_escapes(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    const NUL: &[u8] = b"\\u0000";
    if !body.windows(NUL.len()).any(|w| w == NUL) {
        return std::borrow::Cow::Borrowed(body);
    }
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'\\' {
            if body[i..].starts_with(NUL) {
                out.extend_from_slice(b"\\ufffd");
                i += NUL.len();
            } else {
                // Any other escape: copy it whole, so `\\` is never read as the start of one.
                out.extend_from_slice(&body[i..(i + 2).min(body.len())]);
                i += 2;
            }
        } else {
            out.push(body[i]);
            i += 1;
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The trigger name, when the body is JSON with one. Used to label rejected deliveries.
pub fn sniff_trigger(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct T {
        #[serde(rename = "triggerEvent")]
        trigger_event: Option<String>,
    }
    serde_json::from_slice::<T>(body)
        .ok()?
        .trigger_event
        .map(|t| t.chars().take(64).collect())
}

/// The outer object. The payload is kept as raw text and parsed once, straight into
/// [`Payload`] (building a `Value` tree of the whole body first cost an allocation per field).
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "triggerEvent")]
    trigger_event: Option<String>,
    payload: Option<Box<RawValue>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Payload {
    uid: Option<String>,
    booking_id: Option<Value>,
    id: Option<Value>,
    title: Option<String>,
    event_title: Option<String>,
    description: Option<String>,
    additional_notes: Option<String>,
    start_time: Option<String>,
    end_time: Option<String>,
    #[serde(rename = "type")]
    slug: Option<String>,
    event_type_id: Option<Value>,
    organizer: Option<RawPerson>,
    user: Option<RawPerson>,
    #[serde(default)]
    attendees: Vec<RawPerson>,
    location: Option<Value>,
    #[serde(rename = "iCalUID")]
    ical_uid: Option<String>,
    #[serde(rename = "iCalSequence")]
    ical_sequence: Option<Value>,
    metadata: Option<Value>,
    video_call_data: Option<Value>,
    reschedule_uid: Option<String>,
    reschedule_start_time: Option<String>,
    reschedule_end_time: Option<String>,
    cancellation_reason: Option<String>,
    cancelled_by: Option<String>,
    request_reschedule: Option<Value>,
    reschedule_requested: Option<Value>,
    rejection_reason: Option<String>,
    // Issue 11: seats, series, payments, no-shows (read in `shapes`).
    seats_per_time_slot: Option<Value>,
    seats_show_attendees: Option<Value>,
    recurring_event: Option<Value>,
    recurring_booking_uid: Option<String>,
    recurring_event_id: Option<String>,
    payment_id: Option<Value>,
    payment_data: Option<Value>,
    price: Option<Value>,
    currency: Option<String>,
    booking_uid: Option<String>,
    no_show_host: Option<Value>,
    // Issue 14: what email links are built from (read in `shapes`).
    booker_url: Option<String>,
    attendee_seat_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawPerson {
    name: Option<String>,
    email: Option<String>,
    time_zone: Option<String>,
    language: Option<Value>,
    locale: Option<String>,
    no_show: Option<Value>,
    /// A seat's own record (`{referenceUid, …}`), on the attendee of a new seat.
    booking_seat: Option<Value>,
}

impl RawPerson {
    fn into_person(self) -> Person {
        let locale = self
            .language
            .as_ref()
            .and_then(|l| l.get("locale"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or(self.locale);
        Person {
            name: self.name.filter(|s| !s.is_empty()),
            email: self.email.filter(|s| !s.is_empty()),
            time_zone: self.time_zone.filter(|s| !s.is_empty()),
            locale,
        }
    }
}

/// Parses a verified body. `content_type` and `version` are the request's headers.
pub fn parse(
    content_type: Option<&str>,
    version: Option<&str>,
    body: &[u8],
) -> Result<ParsedDelivery, PayloadError> {
    if content_type.is_some_and(|ct| {
        ct.trim()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    }) {
        return Err(PayloadError::FormEncoded);
    }
    let body = &*without_nul_escapes(body);
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| {
        PayloadError::NotJson(match e.classify() {
            serde_json::error::Category::Data => "expected a JSON object".to_owned(),
            _ => e.to_string(),
        })
    })?;
    if envelope.trigger_event.is_none()
        && envelope.payload.is_none()
        && shapes::is_empty_object(body)
    {
        // Cal.com has sent signed `{}` bodies for scheduled meeting events (its issue #13494).
        return Ok(ParsedDelivery {
            trigger: String::new(),
            parsed: Parsed::Ignored {
                reason: "empty body: Cal.com sent `{}` (its issue #13494); nothing to apply"
                    .to_owned(),
            },
        });
    }
    let trigger = envelope
        .trigger_event
        .filter(|t| !t.is_empty())
        .ok_or(PayloadError::MissingTrigger)?;
    let trigger: String = trigger.chars().take(64).collect();
    if let Some(v) = version
        .map(str::trim)
        .filter(|v| !KNOWN_VERSIONS.contains(v))
    {
        let v: String = v.chars().filter(|c| !c.is_control()).take(40).collect();
        return Ok(ParsedDelivery {
            parsed: Parsed::Ignored {
                reason: format!("unknown X-Cal-Webhook-Version {v:?}"),
            },
            trigger,
        });
    }
    let parsed = match trigger.as_str() {
        "PING" => Parsed::Ping,
        "BOOKING_CREATED"
        | "BOOKING_REQUESTED"
        | "BOOKING_RESCHEDULED"
        | "BOOKING_CANCELLED"
        | "BOOKING_REJECTED"
        | "BOOKING_PAYMENT_INITIATED"
        | "BOOKING_PAID"
        | "BOOKING_REASSIGNED"
        | "BOOKING_LOCATION_UPDATED" => {
            let payload = payload_of(&trigger, envelope.payload)?;
            Parsed::Booking(booking_event(&trigger, payload)?)
        }
        "BOOKING_NO_SHOW_UPDATED"
        | "AFTER_HOSTS_CAL_VIDEO_NO_SHOW"
        | "AFTER_GUESTS_CAL_VIDEO_NO_SHOW" => {
            let payload = payload_of(&trigger, envelope.payload)?;
            shapes::no_show(&trigger, payload)?
        }
        "MEETING_STARTED" | "MEETING_ENDED" => {
            // The cron path sends the booking flat, at the root; newer paths wrap it.
            let p: Payload = match envelope.payload {
                Some(v) => serde_json::from_str(v.get())
                    .map_err(|e| PayloadError::NotJson(e.to_string()))?,
                None => serde_json::from_slice(body)
                    .map_err(|e| PayloadError::NotJson(e.to_string()))?,
            };
            let uid = uid_of(&p)?;
            let (phase, field, raw) = if trigger == "MEETING_STARTED" {
                (MeetingPhase::Started, "startTime", &p.start_time)
            } else {
                (MeetingPhase::Ended, "endTime", &p.end_time)
            };
            let at = time(raw, field)?;
            Parsed::Booking(BookingEvent::Meeting { uid, phase, at })
        }
        other => Parsed::Ignored {
            reason: format!("trigger {other} is not handled"),
        },
    };
    Ok(ParsedDelivery { trigger, parsed })
}

fn payload_of(trigger: &str, payload: Option<Box<RawValue>>) -> Result<Payload, PayloadError> {
    match payload {
        Some(v) if v.get().trim_start().starts_with('{') => serde_json::from_str(v.get())
            .map_err(|e| PayloadError::NotJson(format!("payload: {e}"))),
        _ => Err(PayloadError::MissingPayload {
            trigger: trigger.to_owned(),
        }),
    }
}

fn booking_event(trigger: &str, mut p: Payload) -> Result<BookingEvent, PayloadError> {
    let from = match p.reschedule_uid.take().filter(|u| !u.trim().is_empty()) {
        Some(uid) => Some(PreviousSlot {
            uid: check_uid(uid)?,
            starts_at: optional_time(&p.reschedule_start_time, "rescheduleStartTime")?,
            ends_at: optional_time(&p.reschedule_end_time, "rescheduleEndTime")?,
        }),
        None => None,
    };
    let reschedule_requested = truthy(&p.request_reschedule) || truthy(&p.reschedule_requested);
    let cancellation_reason = p.cancellation_reason.take();
    let cancelled_by = p.cancelled_by.take();
    let rejection_reason = p.rejection_reason.take();
    let payment = shapes::payment(&mut p);
    let details = details(p)?;
    Ok(match trigger {
        "BOOKING_CREATED" => BookingEvent::Created(details),
        "BOOKING_REQUESTED" => BookingEvent::Requested { details, from },
        "BOOKING_RESCHEDULED" => match from {
            Some(from) => BookingEvent::Rescheduled { details, from },
            // Without rescheduleUid the old booking can not be found; keep the new one.
            None => BookingEvent::Created(details),
        },
        "BOOKING_PAYMENT_INITIATED" => BookingEvent::PaymentInitiated(details),
        "BOOKING_PAID" => BookingEvent::Paid { details, payment },
        "BOOKING_REASSIGNED" => BookingEvent::Reassigned(details),
        "BOOKING_LOCATION_UPDATED" => BookingEvent::LocationUpdated(details),
        "BOOKING_CANCELLED" => BookingEvent::Cancelled {
            details,
            reason: cancellation_reason,
            by: cancelled_by,
            reschedule_requested,
        },
        _ => BookingEvent::Rejected {
            details,
            reason: rejection_reason,
        },
    })
}

fn details(mut p: Payload) -> Result<BookingDetails, PayloadError> {
    let uid = uid_of(&p)?;
    let extra = shapes::extras(&mut p);
    let starts_at = time(&p.start_time, "startTime")?;
    let ends_at = time(&p.end_time, "endTime")?;
    if ends_at < starts_at {
        return Err(PayloadError::EndBeforeStart);
    }
    let metadata = match p.metadata {
        Some(m @ Value::Object(_)) => m,
        _ => Value::Object(Default::default()),
    };
    let meeting_url = p
        .video_call_data
        .as_ref()
        .and_then(|v| v.get("url"))
        .and_then(Value::as_str)
        .or_else(|| metadata.get("videoCallUrl").and_then(Value::as_str))
        .map(str::to_owned);
    let location = match p.location {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    };
    let meeting_url = meeting_url.or_else(|| {
        location
            .as_ref()
            .filter(|l| l.starts_with("https://") || l.starts_with("http://"))
            .cloned()
    });
    Ok(BookingDetails {
        uid,
        calcom_id: as_i64(&p.booking_id).or_else(|| as_i64(&p.id)),
        // Empty when absent: a new booking is then titled "Booking", a known one keeps its title.
        title: p
            .title
            .or(p.event_title)
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_default(),
        description: p.description.filter(|s| !s.is_empty()),
        notes: p.additional_notes.filter(|s| !s.is_empty()),
        starts_at,
        ends_at,
        attendees: p
            .attendees
            .into_iter()
            .map(RawPerson::into_person)
            .collect(),
        organizer: p.organizer.or(p.user).map(RawPerson::into_person),
        location,
        meeting_url,
        ical_uid: p.ical_uid.filter(|s| !s.is_empty()),
        ical_sequence: as_i64(&p.ical_sequence),
        event_type_id: as_i64(&p.event_type_id),
        event_type_slug: p.slug.filter(|s| !s.is_empty()),
        metadata,
        owner: None,
        extra,
    })
}

fn uid_of(p: &Payload) -> Result<String, PayloadError> {
    match p.uid.as_deref().map(str::trim) {
        Some(u) if !u.is_empty() => check_uid(u.to_owned()),
        _ => Err(PayloadError::MissingField { field: "uid" }),
    }
}

fn check_uid(uid: String) -> Result<String, PayloadError> {
    if uid.len() > MAX_UID_LEN || uid.chars().any(char::is_control) {
        return Err(PayloadError::BadUid);
    }
    Ok(uid)
}

fn time(raw: &Option<String>, field: &'static str) -> Result<Timestamp, PayloadError> {
    optional_time(raw, field)?.ok_or(PayloadError::MissingField { field })
}

fn optional_time(
    raw: &Option<String>,
    field: &'static str,
) -> Result<Option<Timestamp>, PayloadError> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse::<Timestamp>()
            .map(Some)
            .map_err(|_| PayloadError::BadTime { field }),
    }
}

fn as_i64(v: &Option<Value>) -> Option<i64> {
    match v.as_ref()? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn truthy(v: &Option<Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

mod shapes;

#[cfg(test)]
mod tests;
