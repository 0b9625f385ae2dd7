//! A booking with every field filled, which [`super::Renderer::new`] renders in every kind, role
//! and language so that a broken template or language file fails at start-up.

use crate::booking::{Booking, Person, Status};

use super::RenderContext;

fn ts(s: &str) -> jiff::Timestamp {
    s.parse().unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

fn person(name: &str, email: &str, zone: &str) -> Person {
    Person {
        name: Some(name.to_owned()),
        email: Some(email.to_owned()),
        time_zone: Some(zone.to_owned()),
        locale: None,
    }
}

pub(super) fn booking() -> Booking {
    let attendee = person("Sample Attendee", "attendee@example.com", "Europe/Paris");
    Booking {
        id: uuid::Uuid::nil(),
        uid: "sample".to_owned(),
        calcom_id: Some(1),
        client_id: None,
        title: "Sample meeting".to_owned(),
        description: Some("Description".to_owned()),
        notes: Some("Notes".to_owned()),
        starts_at: ts("2026-03-10T14:00:00Z"),
        ends_at: ts("2026-03-10T14:30:00Z"),
        status: Status::Confirmed,
        attendee_email: attendee.email.clone(),
        attendee_name: attendee.name.clone(),
        attendees: vec![attendee],
        organizer: Some(person("Sample Host", "host@example.com", "Europe/Berlin")),
        location: Some("integrations:daily".to_owned()),
        meeting_url: Some("https://meet.google.com/abc-defg-hij".to_owned()),
        ical_uid: Some("sample@Cal.com".to_owned()),
        ical_sequence: 0,
        event_type_id: Some(1),
        event_type_slug: Some("sample".to_owned()),
        metadata: serde_json::json!({}),
        rescheduled_from: None,
        rescheduled_to: None,
        cancellation_reason: Some("Reason".to_owned()),
        cancelled_by: None,
        rejection_reason: Some("Reason".to_owned()),
        meeting_started_at: None,
        meeting_ended_at: None,
        created_at: ts("2026-03-01T09:00:00Z"),
        updated_at: ts("2026-03-01T09:00:00Z"),
        extra: Default::default(),
    }
}

pub(super) fn context() -> RenderContext {
    RenderContext {
        business_name: "Sample".to_owned(),
        reminder_lead: Some(jiff::SignedDuration::from_hours(1)),
        previous_start: Some(ts("2026-03-09T14:00:00Z")),
        series: vec![(ts("2026-03-10T14:00:00Z"), ts("2026-03-10T14:30:00Z"))],
        series_uid: Some("sample@Cal.com".to_owned()),
    }
}
