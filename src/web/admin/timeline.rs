//! A booking's history in words, for its dashboard page: each audit entry becomes a sentence
//! ("moved from Fri 27 Nov 12:00 to Sat 28 Nov 12:00", "cancelled by the attendee: ill", "host
//! changed from Ann to Bob", "marked no-show: Marco Rossi"), times in the dashboard's zone,
//! followed only by the other fields that really changed (a field absent on one side and empty
//! on the other did not change: no `— → —` rows). The admin's own actions (notes, resent emails,
//! requests to Cal.com; `booking_actions`) are merged in by time.
//!
//! Pure: everything it needs comes in as arguments.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::booking::{Booking, HistoryEntry};
use crate::store::BookingAction;

/// One entry of the timeline.
#[derive(Debug, Serialize)]
pub(super) struct Event {
    #[serde(skip)]
    pub when: Timestamp,
    pub at: String,
    /// What happened, in words.
    pub summary: String,
    /// The other fields that changed, in words.
    pub changes: Vec<FieldChange>,
    /// How calbook learnt of it: `webhook`, `sync`, or `dashboard` (an admin's action).
    pub source: &'static str,
    /// `note` for an internal note (shown as a quote).
    pub kind: &'static str,
}

#[derive(Debug, Serialize, PartialEq)]
pub(super) struct FieldChange {
    pub field: String,
    pub before: String,
    pub after: String,
}

/// Fields whose values are instants.
const TIMES: [&str; 5] = [
    "starts_at",
    "ends_at",
    "meeting_started_at",
    "meeting_ended_at",
    "series_cancelled_from",
];

/// `Fri 27 Nov 12:00`: an instant in the dashboard's zone, short.
pub(super) fn short_time(t: Timestamp, zone: &TimeZone) -> String {
    t.to_zoned_datetime(zone.clone())
        .strftime("%a %-d %b %H:%M")
        .to_string()
}

fn is_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    }
}

fn text<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn show(field: &str, v: Option<&Value>, zone: &TimeZone) -> String {
    match v {
        None | Some(Value::Null) => "—".to_owned(),
        Some(Value::String(s)) if TIMES.contains(&field) => s
            .parse::<Timestamp>()
            .map(|t| short_time(t, zone))
            .unwrap_or_else(|_| s.clone()),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// What calbook knows around one booking: its own record and the start times of the other
/// bookings of its reschedule chain (by uid).
pub(super) struct Context<'a> {
    pub booking: &'a Booking,
    pub starts: HashMap<String, Timestamp>,
    pub zone: &'a TimeZone,
}

impl Context<'_> {
    fn time(&self, t: Option<&str>) -> Option<String> {
        t.and_then(|s| s.parse::<Timestamp>().ok())
            .map(|t| short_time(t, self.zone))
    }

    /// "the attendee", "the host" or the address, for a `cancelled_by`.
    fn who(&self, by: &str) -> String {
        let b = self.booking;
        let same = |e: Option<&str>| e.is_some_and(|e| e.eq_ignore_ascii_case(by));
        if same(b.organizer.as_ref().and_then(|o| o.email.as_deref())) {
            "the host".to_owned()
        } else if b.attendees.iter().any(|p| same(p.email.as_deref()))
            || same(b.attendee_email.as_deref())
        {
            "the attendee".to_owned()
        } else {
            by.to_owned()
        }
    }

    fn start_of(&self, uid: Option<&str>) -> Option<String> {
        uid.and_then(|u| self.starts.get(u))
            .map(|t| short_time(*t, self.zone))
    }
}

/// Names of the attendees whose no-show mark turned on between `old` and `new`.
fn marked(old: &Map<String, Value>, new: &Map<String, Value>, on: bool) -> Vec<String> {
    let states =
        |m: &Map<String, Value>| m.get("attendee_states").and_then(Value::as_object).cloned();
    let (before, after) = (
        states(old).unwrap_or_default(),
        states(new).unwrap_or_default(),
    );
    after
        .iter()
        .filter(|(k, v)| {
            let now = v.get("no_show").and_then(Value::as_bool).unwrap_or(false);
            let was = before
                .get(*k)
                .and_then(|s| s.get("no_show"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            now == on && was != on
        })
        .map(|(k, _)| k.clone())
        .collect()
}

/// The sentence for an entry, and the fields it already tells (left out of the changes).
fn summary(
    h: &HistoryEntry,
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    cx: &Context<'_>,
) -> (String, Vec<&'static str>) {
    let insert = h.old_values.is_none();
    let reason = |k: &str| text(new, k).map(|r| format!(": {r}")).unwrap_or_default();
    let moved = |from: Option<String>, to: Option<String>| match (from, to) {
        (Some(f), Some(t)) => format!("moved from {f} to {t}"),
        (None, Some(t)) => format!("moved to {t}"),
        (Some(f), None) => format!("moved from {f}"),
        (None, None) => "moved to a new time".to_owned(),
    };
    match h.action.as_str() {
        "created" if text(new, "rescheduled_from").is_some() => (
            moved(
                cx.start_of(text(new, "rescheduled_from")),
                cx.time(text(new, "starts_at")),
            ) + " (booked as the new time)",
            vec!["starts_at", "ends_at", "rescheduled_from", "status"],
        ),
        "created" if insert => (
            format!(
                "booked for {}",
                cx.time(text(new, "starts_at")).unwrap_or_default()
            ),
            vec!["starts_at", "ends_at", "status"],
        ),
        "requested" => (
            format!(
                "requested for {}, awaiting confirmation",
                cx.time(text(new, "starts_at")).unwrap_or_default()
            ),
            vec!["starts_at", "ends_at", "status"],
        ),
        "confirmed" => ("confirmed".to_owned(), vec!["status"]),
        "rejected" => (
            format!("declined{}", reason("rejection_reason")),
            vec!["status", "rejection_reason"],
        ),
        "cancelled" => {
            let by = text(new, "cancelled_by")
                .map(|b| format!(" by {}", cx.who(b)))
                .unwrap_or_default();
            (
                format!("cancelled{by}{}", reason("cancellation_reason")),
                vec!["status", "cancellation_reason", "cancelled_by"],
            )
        }
        "series_cancelled" => (
            "cancelled with the rest of its recurring series".to_owned(),
            vec!["status", "series_cancelled_from"],
        ),
        "reschedule_requested" => (
            format!(
                "a new time was requested from the attendee{}",
                reason("cancellation_reason")
            ),
            vec!["status", "cancellation_reason", "cancelled_by"],
        ),
        "rescheduled" if new.contains_key("starts_at") && !insert => (
            moved(
                cx.time(text(old, "starts_at")),
                cx.time(text(new, "starts_at")),
            ),
            vec!["starts_at", "ends_at"],
        ),
        "rescheduled" => {
            let from = if insert {
                cx.time(text(new, "starts_at"))
            } else {
                Some(short_time(cx.booking.starts_at, cx.zone))
            };
            (
                moved(from, cx.start_of(text(new, "rescheduled_to"))),
                vec!["status", "rescheduled_to", "starts_at", "ends_at"],
            )
        }
        "linked" => (
            "linked to the booking it was moved from".to_owned(),
            vec!["rescheduled_from"],
        ),
        "no_show_updated" => {
            let mut parts = Vec::new();
            let on = marked(old, new, true);
            if !on.is_empty() {
                parts.push(format!("marked no-show: {}", on.join(", ")));
            }
            let off = marked(old, new, false);
            if !off.is_empty() {
                parts.push(format!("no-show mark taken back: {}", off.join(", ")));
            }
            match new.get("host_no_show").and_then(Value::as_bool) {
                Some(true) => parts.push("host marked no-show".to_owned()),
                Some(false) if old.get("host_no_show").and_then(Value::as_bool) == Some(true) => {
                    parts.push("host no-show mark taken back".to_owned())
                }
                _ => {}
            }
            if parts.is_empty() {
                parts.push("no-show marks updated".to_owned());
            }
            (parts.join("; "), vec!["attendee_states", "host_no_show"])
        }
        "reassigned" => match (text(old, "host"), text(new, "host")) {
            (Some(a), Some(b)) => (format!("host changed from {a} to {b}"), vec!["host"]),
            (None, Some(b)) => (format!("host changed to {b}"), vec!["host"]),
            _ => ("assigned to another host".to_owned(), vec!["host"]),
        },
        "location_updated" => {
            let before = text(old, "location").or(text(old, "meeting_url"));
            let after = text(new, "location").or(text(new, "meeting_url"));
            let s = match (before, after) {
                (Some(a), Some(b)) => format!("location changed from {a} to {b}"),
                (None, Some(b)) => format!("location changed to {b}"),
                _ => "location changed".to_owned(),
            };
            (s, vec!["location", "meeting_url"])
        }
        "meeting_started" => ("the meeting started".to_owned(), vec!["meeting_started_at"]),
        "meeting_ended" => ("the meeting ended".to_owned(), vec!["meeting_ended_at"]),
        "seat_added" => ("a seat was booked".to_owned(), vec!["attendee_states"]),
        "seat_cancelled" => ("a seat was given up".to_owned(), vec!["attendee_states"]),
        "payment_initiated" => ("awaiting payment".to_owned(), vec!["status"]),
        "paid" => ("payment received".to_owned(), vec!["status", "payment"]),
        "updated" => ("details filled in".to_owned(), vec![]),
        "series_linked" => (
            "linked to its recurring series".to_owned(),
            vec!["series_id"],
        ),
        other => (other.replace('_', " "), vec![]),
    }
}

/// One audit entry in words.
pub(super) fn event(h: &HistoryEntry, cx: &Context<'_>) -> Event {
    let empty = Map::new();
    let old = h
        .old_values
        .as_ref()
        .and_then(|v| v.as_object())
        .unwrap_or(&empty);
    let new = h
        .new_values
        .as_ref()
        .and_then(|v| v.as_object())
        .unwrap_or(&empty);
    let (summary, told) = summary(h, old, new, cx);
    // A new booking's snapshot is its whole record, shown above the timeline: no field list.
    let changes = if h.old_values.is_none() {
        Vec::new()
    } else {
        let mut fields: Vec<&String> = old.keys().chain(new.keys()).collect();
        fields.sort();
        fields.dedup();
        fields
            .into_iter()
            .filter(|f| !told.contains(&f.as_str()))
            .filter(|f| {
                let (a, b) = (old.get(*f), new.get(*f));
                a != b && !(is_empty(a) && is_empty(b))
            })
            .map(|f| FieldChange {
                field: f.replace('_', " "),
                before: show(f, old.get(f), cx.zone),
                after: show(f, new.get(f), cx.zone),
            })
            .collect()
    };
    Event {
        when: h.created_at,
        at: short_time(h.created_at, cx.zone),
        summary,
        changes,
        source: h.source.as_str(),
        kind: "history",
    }
}

/// One admin action in words.
pub(super) fn action(a: &BookingAction, zone: &TimeZone) -> Event {
    let reason = |prefix: &str| {
        if a.detail.is_empty() {
            prefix.to_owned()
        } else {
            format!("{prefix}: {}", a.detail)
        }
    };
    let (summary, kind) = match a.kind.as_str() {
        "note" => (a.detail.clone(), "note"),
        "resend" => (reason("email sent again"), "action"),
        "cancel" => (reason("requested cancel via Cal.com"), "action"),
        "request_reschedule" => (reason("requested a new time via Cal.com"), "action"),
        other => (other.replace('_', " "), "action"),
    };
    Event {
        when: a.created_at,
        at: short_time(a.created_at, zone),
        summary,
        changes: Vec::new(),
        source: "dashboard",
        kind,
    }
}

/// The history and the admin's actions, oldest first.
pub(super) fn timeline(
    history: &[HistoryEntry],
    actions: &[BookingAction],
    cx: &Context<'_>,
) -> Vec<Event> {
    let mut all: Vec<Event> = history
        .iter()
        .map(|h| event(h, cx))
        .chain(actions.iter().map(|a| action(a, cx.zone)))
        .collect();
    all.sort_by_key(|e| e.when);
    all
}

#[cfg(test)]
mod tests;
