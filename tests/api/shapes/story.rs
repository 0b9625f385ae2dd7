//! Helpers that read like the story: Cal.com bodies for each shape, and what calbook planned.

use calbook::outbox::{EmailKind, JobState, OutboxJob};
use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

pub const HOST: &str = "dana@example.com";

/// A Cal.com booking body, built from the `created` sample.
#[derive(Clone)]
pub struct Body(pub Value);

impl Body {
    /// `trigger` for booking `uid`, starting `start` (30 minutes), booked by `who`.
    pub fn booking(trigger: &str, uid: &str, start: Timestamp, who: &[(&str, &str)]) -> Body {
        let mut v: Value = serde_json::from_slice(&sample("created")).unwrap();
        v["triggerEvent"] = json!(trigger);
        let p = &mut v["payload"];
        p["uid"] = json!(uid);
        p["iCalUID"] = json!(format!("{uid}@Cal.com"));
        p["startTime"] = json!(start.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
        let end = start.checked_add(SignedDuration::from_mins(30)).unwrap();
        p["endTime"] = json!(end.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
        let mut b = Body(v);
        b = b.attendees(who);
        b
    }

    /// `attendees`: only these people (a seat's events name only that seat).
    pub fn attendees(mut self, who: &[(&str, &str)]) -> Body {
        self.0["payload"]["attendees"] = who
            .iter()
            .map(|(name, email)| {
                json!({"email": email, "name": name, "timeZone": "Europe/Paris",
                       "language": {"locale": "en"}})
            })
            .collect();
        self
    }

    /// Sets `payload[key]`.
    pub fn with(mut self, key: &str, value: Value) -> Body {
        self.0["payload"][key] = value;
        self
    }

    /// Removes `payload[key]`.
    pub fn without(mut self, key: &str) -> Body {
        self.0["payload"].as_object_mut().unwrap().remove(key);
        self
    }

    /// A seated event type: `seatsPerTimeSlot` and `seatsShowAttendees`
    /// [SRC `packages/features/bookings/lib/handleSeats/handleSeats.ts@00044803`: the webhook
    /// data spreads `eventTypeInfo`, which carries both].
    pub fn seated(self, show_attendees: bool) -> Body {
        self.with("seatsPerTimeSlot", json!(4))
            .with("seatsShowAttendees", json!(show_attendees))
    }

    /// A weekly series of `count` occurrences (`recurringEvent`, rrule's `freq` 2 = weekly).
    pub fn weekly(self, count: i64) -> Body {
        self.with(
            "recurringEvent",
            json!({"freq": 2, "count": count, "interval": 1}),
        )
    }

    pub fn bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.0).unwrap()
    }
}

/// `BOOKING_CANCELLED` as `handleCancelBooking` / `cancelAttendeeSeat` send it: the booking's
/// fields, `status:"CANCELLED"`, `cancelledBy`, `cancellationReason`, `requestReschedule:false`
/// [SRC `packages/features/bookings/lib/handleSeats/cancel/cancelAttendeeSeat.ts@00b4c4ee`].
pub fn cancelled(b: Body, reason: &str) -> Body {
    let mut b = b
        .with("status", json!("CANCELLED"))
        .with("cancellationReason", json!(reason))
        .with("cancelledBy", json!("marco.rossi@example.com"))
        .with("requestReschedule", json!(false));
    b.0["triggerEvent"] = json!("BOOKING_CANCELLED");
    b
}

/// Delivers `body`, asserting 200, and returns calbook's outcome.
pub async fn deliver(app: &TestApp, body: &Body) -> String {
    let (status, answer) = app.deliver(&body.bytes()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["outcome"].as_str().unwrap().to_owned()
}

/// The start of the `n`th weekly occurrence, the first one 30 hours from now.
pub fn week(n: i64) -> Timestamp {
    hours_from_now(30 + 24 * 7 * n)
}

/// Every outbox row, as `(kind, recipient, state)`, in a stable order.
pub async fn planned(app: &TestApp) -> Vec<(EmailKind, String, JobState)> {
    let mut v: Vec<_> = app
        .store
        .outbox(None, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|j| (j.kind, j.recipient_email, j.state))
        .collect();
    v.sort_by(|a, b| (a.0.as_str(), &a.1, a.2.as_str()).cmp(&(b.0.as_str(), &b.1, b.2.as_str())));
    v
}

/// The outbox rows of one booking.
pub async fn planned_for(app: &TestApp, uid: &str) -> Vec<OutboxJob> {
    let b = app.booking(uid).await;
    app.store.outbox_for_booking(b.id).await.unwrap()
}

/// How many rows of `kind` are planned for `email` (in any state but `skipped`).
pub async fn count_for(app: &TestApp, kind: EmailKind, email: &str) -> usize {
    planned(app)
        .await
        .iter()
        .filter(|(k, to, st)| *k == kind && to == email && *st != JobState::Skipped)
        .count()
}

/// The reminders still pending for `email`.
pub async fn pending_reminders(app: &TestApp, email: &str) -> usize {
    planned(app)
        .await
        .iter()
        .filter(|(k, to, st)| *k == EmailKind::Reminder && to == email && *st == JobState::Pending)
        .count()
}

/// The booking as the bookings API shows it to an admin.
pub async fn booking_via_api(app: &TestApp, uid: &str) -> Value {
    let (status, _, body) = get(app, &format!("/api/bookings/{uid}"), Some(ADMIN_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}
