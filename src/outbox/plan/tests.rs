use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::booking::{BookingDetails, BookingEvent, Person, PreviousSlot, decide};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn person(name: Option<&str>, email: &str, zone: Option<&str>) -> Person {
    Person {
        name: name.map(str::to_owned),
        email: Some(email.to_owned()),
        time_zone: zone.map(str::to_owned),
        locale: None,
    }
}

/// A booking with an attendee, the same attendee in other case as a guest, a second guest, and
/// an organizer.
fn details(uid: &str, start: &str) -> BookingDetails {
    BookingDetails {
        attendees: vec![
            person(Some("Marco"), "Marco@Example.com", Some("America/New_York")),
            person(None, "marco@example.com", None),
            person(None, "ops@example.com", None),
        ],
        organizer: Some(person(
            Some("Dana"),
            "dana@example.com",
            Some("Europe/Berlin"),
        )),
        ..BookingDetails::example(uid, start)
    }
}

fn plan_event(event: BookingEvent, policy: &EmailPolicy, now: &str) -> Vec<OutboxJob> {
    let d = decide(&event, |_| None, ts(now));
    d.changes
        .iter()
        .flat_map(|c| plan(c, policy, ts(now)))
        .collect()
}

fn summary(jobs: &[OutboxJob]) -> Vec<(String, String, JobState, String)> {
    jobs.iter()
        .map(|j| {
            (
                j.kind.to_string(),
                j.recipient_email.clone(),
                j.state,
                j.due_at.to_string(),
            )
        })
        .collect()
}

#[test]
fn booking_30h_ahead_gets_a_confirmation_and_both_reminders_at_the_right_instants() {
    let jobs = plan_event(
        BookingEvent::Created(details("A", "2026-03-11T14:00:00Z")),
        &EmailPolicy::default(),
        "2026-03-10T08:00:00Z",
    );
    assert_eq!(
        summary(&jobs),
        [
            (
                "confirmation".into(),
                "Marco@Example.com".into(),
                JobState::Pending,
                "2026-03-10T08:00:00Z".into()
            ),
            (
                "reminder".into(),
                "Marco@Example.com".into(),
                JobState::Pending,
                "2026-03-10T14:00:00Z".into()
            ),
            (
                "reminder".into(),
                "Marco@Example.com".into(),
                JobState::Pending,
                "2026-03-11T13:00:00Z".into()
            ),
            (
                "confirmation".into(),
                "ops@example.com".into(),
                JobState::Pending,
                "2026-03-10T08:00:00Z".into()
            ),
            (
                "reminder".into(),
                "ops@example.com".into(),
                JobState::Pending,
                "2026-03-10T14:00:00Z".into()
            ),
            (
                "reminder".into(),
                "ops@example.com".into(),
                JobState::Pending,
                "2026-03-11T13:00:00Z".into()
            ),
        ],
        "the duplicate guest address is mailed once"
    );
    assert_eq!(
        jobs[0].idempotency_key,
        "booking/A/confirmation/marco@example.com"
    );
    assert_eq!(
        jobs[1].idempotency_key,
        "booking/A/reminder/86400s/2026-03-11T14:00:00Z/marco@example.com"
    );
}

#[test]
fn booking_10h_ahead_plans_only_the_1h_reminder() {
    let policy = EmailPolicy {
        notify_host: false,
        ..EmailPolicy::default()
    };
    let jobs = plan_event(
        BookingEvent::Created(details("A", "2026-03-10T18:00:00Z")),
        &policy,
        "2026-03-10T08:00:00Z",
    );
    let reminders: Vec<_> = jobs
        .iter()
        .filter(|j| j.kind == EmailKind::Reminder && j.recipient_email == "ops@example.com")
        .map(|j| (j.reminder_lead_seconds, j.state))
        .collect();
    assert_eq!(
        reminders,
        [(Some(3600), JobState::Pending)],
        "the 24 h reminder's time has passed: not planned at all"
    );
}

#[test]
fn booking_20_minutes_ahead_gets_its_confirmation_and_no_late_reminders() {
    let jobs = plan_event(
        BookingEvent::Created(details("A", "2026-03-10T08:20:00Z")),
        &EmailPolicy::default(),
        "2026-03-10T08:00:00Z",
    );
    let states: Vec<(&str, JobState)> = jobs
        .iter()
        .filter(|j| j.recipient_email == "ops@example.com")
        .map(|j| (j.kind.as_str(), j.state))
        .collect();
    assert_eq!(
        states,
        [("confirmation", JobState::Pending)],
        "both reminders' times have passed: no rows for them"
    );
}

#[test]
fn reschedule_sends_one_rescheduled_email_and_new_reminders_not_a_cancellation() {
    let event = BookingEvent::Rescheduled {
        details: details("B", "2026-03-12T15:00:00Z"),
        from: PreviousSlot {
            uid: "A".into(),
            starts_at: None,
            ends_at: None,
        },
    };
    let jobs = plan_event(event, &EmailPolicy::default(), "2026-03-10T08:00:00Z");
    let kinds: BTreeSet<&str> = jobs.iter().map(|j| j.kind.as_str()).collect();
    assert_eq!(kinds, BTreeSet::from(["rescheduled", "reminder"]));
    assert!(
        jobs.iter().all(|j| j.booking_uid == "B"),
        "nothing for the old booking"
    );
}

#[test]
fn requested_rejected_cancelled_map_to_their_emails_and_no_reminders() {
    let now = "2026-03-10T08:00:00Z";
    let p = EmailPolicy::default();
    let kinds = |jobs: Vec<OutboxJob>| {
        jobs.into_iter()
            .map(|j| j.kind.to_string())
            .collect::<BTreeSet<_>>()
    };
    let d = details("D", "2026-03-20T09:00:00Z");
    assert_eq!(
        kinds(plan_event(
            BookingEvent::Requested {
                details: d.clone(),
                from: None
            },
            &p,
            now
        )),
        BTreeSet::from(["requested".to_owned()])
    );
    assert_eq!(
        kinds(plan_event(
            BookingEvent::Rejected {
                details: d.clone(),
                reason: None
            },
            &p,
            now
        )),
        BTreeSet::from(["declined".to_owned()])
    );
    assert_eq!(
        kinds(plan_event(
            BookingEvent::Cancelled {
                details: d.clone(),
                reason: None,
                by: None,
                reschedule_requested: false
            },
            &p,
            now
        )),
        BTreeSet::from(["cancelled".to_owned()])
    );
    // The host asked for a new time: each attendee (once) gets the reschedule-requested email.
    let jobs = plan_event(
        BookingEvent::Cancelled {
            details: d,
            reason: None,
            by: None,
            reschedule_requested: true,
        },
        &p,
        now,
    );
    assert_eq!(
        summary(&jobs)
            .into_iter()
            .map(|(kind, to, state, _)| (kind, to, state))
            .collect::<Vec<_>>(),
        vec![
            (
                "reschedule_requested".to_owned(),
                "Marco@Example.com".to_owned(),
                JobState::Pending
            ),
            (
                "reschedule_requested".to_owned(),
                "ops@example.com".to_owned(),
                JobState::Pending
            ),
        ]
    );
    // Switched off by EMAIL_KINDS like any kind.
    let off = EmailPolicy {
        kinds: parse_kinds("confirmation,cancelled").unwrap(),
        ..EmailPolicy::default()
    };
    let d = details("D2", "2026-03-20T09:00:00Z");
    assert!(
        plan_event(
            BookingEvent::Cancelled {
                details: d,
                reason: None,
                by: None,
                reschedule_requested: true,
            },
            &off,
            now,
        )
        .is_empty()
    );
}

#[test]
fn host_copies_and_kind_switches_follow_the_policy() {
    let now = "2026-03-10T08:00:00Z";
    let policy = EmailPolicy {
        kinds: parse_kinds("confirmation").unwrap(),
        reminder_offsets: parse_offsets("").unwrap(),
        notify_host: true,
    };
    let jobs = plan_event(
        BookingEvent::Created(details("A", "2026-03-11T14:00:00Z")),
        &policy,
        now,
    );
    let roles: Vec<_> = jobs
        .iter()
        .map(|j| {
            (
                j.kind.as_str(),
                j.recipient_role,
                j.recipient_time_zone.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("confirmation", Role::Attendee, Some("America/New_York")),
            ("confirmation", Role::Attendee, None),
            ("confirmation", Role::Host, Some("Europe/Berlin")),
        ]
    );
}

#[test]
fn settings_parse_and_name_their_problems() {
    assert_eq!(
        parse_offsets("48h, 24h,1h,15m,2d").unwrap(),
        [
            SignedDuration::from_hours(48),
            SignedDuration::from_hours(24),
            SignedDuration::from_hours(1),
            SignedDuration::from_mins(15)
        ],
        "2d equals 48h and is kept once"
    );
    assert!(parse_offsets("").unwrap().is_empty());
    assert!(parse_offsets("24").unwrap_err().contains("\"24\""));
    assert!(parse_offsets("-1h").unwrap_err().contains("positive"));
    assert!(
        parse_kinds("confirmation,bogus")
            .unwrap_err()
            .contains("\"bogus\"")
    );
}

#[test]
fn overlong_keys_are_hashed_to_fit_resend() {
    let long = "u".repeat(250);
    let jobs = plan_event(
        BookingEvent::Created(details(&long, "2026-03-11T14:00:00Z")),
        &EmailPolicy::default(),
        "2026-03-10T08:00:00Z",
    );
    assert!(jobs.iter().all(|j| j.idempotency_key.len() <= 256));
    let keys: BTreeSet<_> = jobs.iter().map(|j| &j.idempotency_key).collect();
    assert_eq!(keys.len(), jobs.len(), "still one key per email");
}
