use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use uuid::Uuid;

use super::*;
use crate::booking::{Booking, Person, Status};
use crate::mail::{CalendarMethod, Mailbox};

mod actions;
mod invites;
mod langs;
mod limits;
mod templates;
mod zones;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn person(name: &str, email: &str, zone: &str) -> Person {
    Person {
        name: Some(name.to_owned()),
        email: Some(email.to_owned()),
        time_zone: Some(zone.to_owned()),
        locale: Some("en".to_owned()),
    }
}

/// Dana Whitfield (Europe/Berlin) hosts Marco Rossi (America/New_York), 2026-03-10 14:00–14:30Z.
fn booking() -> Booking {
    let marco = person("Marco Rossi", "marco@example.com", "America/New_York");
    Booking {
        id: Uuid::nil(),
        uid: "bk_7Yq2".to_owned(),
        calcom_id: Some(4242),
        client_id: None,
        title: "Intro call".to_owned(),
        description: Some("Let's talk about the garden project.".to_owned()),
        notes: Some("Please call me on my mobile.".to_owned()),
        starts_at: ts("2026-03-10T14:00:00Z"),
        ends_at: ts("2026-03-10T14:30:00Z"),
        status: Status::Confirmed,
        attendee_email: marco.email.clone(),
        attendee_name: marco.name.clone(),
        attendees: vec![marco],
        organizer: Some(person(
            "Dana Whitfield",
            "dana@acme.example",
            "Europe/Berlin",
        )),
        location: Some("Acme office, Torstraße 1, Berlin".to_owned()),
        meeting_url: Some("https://meet.example.com/abc-defg-hij".to_owned()),
        ical_uid: Some("bk_7Yq2@Cal.com".to_owned()),
        ical_sequence: 2,
        event_type_id: Some(7),
        event_type_slug: Some("intro".to_owned()),
        metadata: serde_json::json!({}),
        rescheduled_from: None,
        rescheduled_to: None,
        cancellation_reason: Some("Something came up at work.".to_owned()),
        cancelled_by: None,
        rejection_reason: Some("Fully booked that week.".to_owned()),
        meeting_started_at: None,
        meeting_ended_at: None,
        created_at: ts("2026-03-01T09:00:00Z"),
        updated_at: ts("2026-03-01T09:00:00Z"),
        extra: Default::default(),
    }
}

fn attendee(b: &Booking) -> Recipient {
    Recipient::from_person(&b.attendees[0], Role::Attendee).unwrap()
}

fn host(b: &Booking) -> Recipient {
    Recipient::from_person(b.organizer.as_ref().unwrap(), Role::Host).unwrap()
}

fn ctx() -> RenderContext {
    RenderContext {
        business_name: "Acme".to_owned(),
        reminder_lead: Some(SignedDuration::from_hours(24)),
        previous_start: Some(ts("2026-03-09T16:00:00Z")),
        series: Vec::new(),
        series_uid: None,
    }
}

/// One renderer for all tests (building one renders every kind once, to check the templates).
fn renderer() -> &'static Renderer {
    static RENDERER: std::sync::LazyLock<Renderer> = std::sync::LazyLock::new(new_renderer);
    &RENDERER
}

fn new_renderer() -> Renderer {
    // The sample booking's meeting is on meet.example.com, a host the business allows.
    Renderer::new(None)
        .unwrap()
        .with_links(LinkPolicy::new(["meet.example.com"]))
        .with_site(SiteLinks {
            booker_origin: Some("https://acme.cal.com".to_owned()),
            public_url: Some("https://book.acme.example".to_owned()),
        })
        .with_brand(Brand {
            logo_url: Some("https://acme.example/logo.png".to_owned()),
            color: Some("#0f766e".to_owned()),
            footer: Some("Acme GmbH, Torstraße 1, 10119 Berlin".to_owned()),
        })
}

/// What minijinja's HTML auto-escape makes of `s`.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

/// iCalendar text with folded lines joined again.
fn unfold(ics: &str) -> String {
    ics.replace("\r\n ", "")
}

fn show(parts: &EmailParts) -> String {
    format!(
        "SUBJECT: {}\n\n----- TEXT -----\n{}\n----- HTML -----\n{}",
        parts.subject, parts.text, parts.html
    )
}

#[test]
fn snapshots_of_every_kind_for_attendee_and_host() {
    let r = renderer();
    let b = booking();
    for kind in EmailKind::ALL {
        for (who, recipient) in [("attendee", attendee(&b)), ("host", host(&b))] {
            let parts = r.render(kind, &b, &recipient, &ctx()).unwrap();
            insta::assert_snapshot!(format!("{}_{who}", kind.as_str()), show(&parts));
        }
    }
}

#[test]
fn snapshots_of_every_kind_in_german_french_and_spanish() {
    let r = renderer();
    let b = booking();
    for lang in ["de", "fr", "es"] {
        for kind in EmailKind::ALL {
            for (who, mut recipient) in [("attendee", attendee(&b)), ("host", host(&b))] {
                recipient.locale = Some(lang.to_owned());
                let parts = r.render(kind, &b, &recipient, &ctx()).unwrap();
                assert!(parts.html.contains(&format!("<html lang=\"{lang}\">")));
                insta::assert_snapshot!(format!("{lang}_{}_{who}", kind.as_str()), show(&parts));
            }
        }
    }
}

#[test]
fn booking_values_are_escaped_in_html_and_plain_in_text() {
    let evil_name = r#"<a href="https://evil.example">verify</a>"#;
    let script = "<script>alert(1)</script>";
    let mut b = booking();
    b.attendees[0].name = Some(evil_name.to_owned());
    b.attendee_name = Some(evil_name.to_owned());
    b.notes = Some(format!("notes {script}"));
    b.description = Some(format!("description {script}"));
    b.title = format!("Call {script}");
    b.location = Some(format!("Room {script}"));
    b.meeting_url = Some(r#"javascript:alert(1)//"><img src=x>"#.to_owned());
    let r = renderer();
    for kind in EmailKind::ALL {
        for recipient in [attendee(&b), host(&b)] {
            let parts = r.render(kind, &b, &recipient, &ctx()).unwrap();
            assert!(!parts.html.contains("<script"), "{kind}: {}", parts.html);
            assert!(!parts.html.contains("evil.example\""), "{kind}");
            assert!(!parts.html.contains("href=\"https://evil"), "{kind}");
            assert_eq!(
                parts.html.matches("<img").count(),
                1,
                "{kind}: only the logo"
            );
            assert!(!parts.html.contains("javascript:alert(1)//\""), "{kind}");
            assert!(parts.html.contains("&lt;script&gt;"), "{kind}");
            // Only our own links may carry an href: Google Calendar, the booker URL's Cal.com
            // pages and calbook's own booking page.
            for (i, _) in parts.html.match_indices("href=\"") {
                assert!(
                    [
                        "href=\"https:&#x2f;&#x2f;calendar.google.com&#x2f;calendar&#x2f;render?",
                        "href=\"https:&#x2f;&#x2f;acme.cal.com&#x2f;reschedule&#x2f;bk_7Yq2\"",
                        "href=\"https:&#x2f;&#x2f;acme.cal.com&#x2f;booking&#x2f;bk_7Yq2?cancel=true&amp;",
                        "href=\"https:&#x2f;&#x2f;book.acme.example&#x2f;book\"",
                    ]
                    .iter()
                    .any(|ok| parts.html[i..].starts_with(ok)),
                    "{kind}: {}",
                    &parts.html[i..]
                );
            }
            // The only image is the configured logo.
            assert_eq!(
                parts.html.matches("src=\"").count(),
                parts
                    .html
                    .matches("src=\"https:&#x2f;&#x2f;acme.example&#x2f;logo.png\"")
                    .count(),
                "{kind}"
            );
            assert!(parts.text.contains(script), "{kind}: {}", parts.text);
            if recipient.role == Role::Host {
                assert!(parts.text.contains(evil_name), "{kind}: {}", parts.text);
                assert!(parts.html.contains("&lt;a href=&quot;https:"), "{kind}");
            }
        }
    }
}

#[test]
fn names_and_subjects_cannot_inject_headers() {
    let mut b = booking();
    let name = "Marco\r\nBcc: attacker@evil.example";
    b.attendees[0].name = Some(name.to_owned());
    b.attendee_name = Some(name.to_owned());
    b.title = "Intro\r\nBcc: attacker@evil.example".to_owned();
    let recipient = attendee(&b);
    let from = Mailbox {
        name: Some("Acme\nX-Evil: 1".to_owned()),
        address: "bookings@acme.example".to_owned(),
    };
    let email = compose(
        renderer(),
        EmailKind::Confirmation,
        &b,
        &recipient,
        &from,
        Some(&from),
        "booking/bk_7Yq2/confirmation/marco@example.com".to_owned(),
        &ctx(),
    )
    .unwrap();
    let to_name = email.to[0].name.as_deref().unwrap();
    assert_eq!(to_name, "Marco Bcc: attacker@evil.example");
    assert_eq!(email.to[0].address, "marco@example.com");
    for value in [
        to_name,
        email.subject.as_str(),
        email.from.name.as_deref().unwrap(),
        email.reply_to.as_ref().unwrap().name.as_deref().unwrap(),
    ] {
        assert!(!value.contains(['\r', '\n', '\0']), "{value:?}");
    }
    assert!(
        email
            .subject
            .starts_with("Confirmed: Intro Bcc: attacker@evil.example")
    );
    // Host emails mention the attendee in the body, also without line breaks in the subject.
    let to_host = renderer()
        .render(EmailKind::Requested, &b, &host(&b), &ctx())
        .unwrap();
    assert!(!to_host.subject.contains(['\r', '\n']));
}

#[test]
fn compose_attaches_the_right_invite() {
    let r = renderer();
    let b = booking();
    let from = Mailbox {
        name: Some("Acme".to_owned()),
        address: "bookings@acme.example".to_owned(),
    };
    for kind in EmailKind::ALL {
        let email = compose(
            r,
            kind,
            &b,
            &attendee(&b),
            &from,
            None,
            format!("booking/bk_7Yq2/{kind}/marco@example.com"),
            &ctx(),
        )
        .unwrap();
        let expected = match kind {
            EmailKind::Confirmation | EmailKind::Rescheduled | EmailKind::Updated => {
                Some(CalendarMethod::Request)
            }
            EmailKind::Cancelled | EmailKind::RescheduleRequested => Some(CalendarMethod::Cancel),
            _ => None,
        };
        assert_eq!(
            email.calendar.as_ref().map(|c| c.method),
            expected,
            "{kind}"
        );
        assert_eq!(
            email.to,
            vec![Mailbox {
                name: Some("Marco Rossi".to_owned()),
                address: "marco@example.com".to_owned()
            }]
        );
        assert_eq!(email.from, from);
        assert_eq!(email.reply_to, None);
        assert_eq!(
            email.idempotency_key,
            format!("booking/bk_7Yq2/{kind}/marco@example.com")
        );
        let has_link = email
            .text
            .contains("Add to Google Calendar: https://calendar.google.com/");
        assert_eq!(
            has_link,
            matches!(
                kind,
                EmailKind::Confirmation
                    | EmailKind::Rescheduled
                    | EmailKind::Reminder
                    | EmailKind::Updated
            ),
            "{kind}"
        );
        assert_eq!(
            email.html.contains("Add to Google Calendar"),
            has_link,
            "{kind}"
        );
    }
}

#[test]
fn kind_specific_facts() {
    let r = renderer();
    let b = booking();
    let marco = attendee(&b);
    let cancelled = r.render(EmailKind::Cancelled, &b, &marco, &ctx()).unwrap();
    assert!(
        cancelled
            .text
            .contains("Reason for cancellation: Something came up at work.")
    );
    assert!(cancelled.html.contains("Something came up at work."));
    let mut no_reason = b.clone();
    no_reason.cancellation_reason = None;
    let cancelled = r
        .render(EmailKind::Cancelled, &no_reason, &marco, &ctx())
        .unwrap();
    assert!(!cancelled.text.contains("Reason"));

    let moved = r
        .render(EmailKind::Rescheduled, &b, &marco, &ctx())
        .unwrap();
    let old = "Monday, 9 March 2026 at 12:00 (America/New_York, EDT)";
    assert!(
        moved.text.contains(&format!("moved from {old}")),
        "{}",
        moved.text
    );
    assert!(moved.html.contains(&format!("moved from {}", esc(old))));
    let no_previous = RenderContext {
        previous_start: None,
        ..ctx()
    };
    let moved = r
        .render(EmailKind::Rescheduled, &b, &marco, &no_previous)
        .unwrap();
    assert!(!moved.text.contains("moved from"));

    for (lead, phrase) in [
        (SignedDuration::from_hours(24), "in 24 hours"),
        (SignedDuration::from_hours(1), "in 1 hour"),
        (SignedDuration::from_mins(15), "in 15 minutes"),
        (SignedDuration::from_mins(90), "in 1 hour 30 minutes"),
    ] {
        let c = RenderContext {
            reminder_lead: Some(lead),
            ..ctx()
        };
        let p = r.render(EmailKind::Reminder, &b, &marco, &c).unwrap();
        assert_eq!(p.subject, "Reminder: Intro call, Tue 10 Mar, 10:00");
        assert!(p.text.contains(&format!("starts {phrase}.")), "{}", p.text);
        assert!(p.html.contains(&format!("starts {phrase}.")));
    }

    // No business name: the organizer's name is used.
    let c = RenderContext {
        business_name: String::new(),
        ..ctx()
    };
    let p = r.render(EmailKind::Confirmation, &b, &marco, &c).unwrap();
    assert!(p.text.contains("-- \nDana Whitfield\n"), "{}", p.text);
}

#[test]
fn text_and_html_carry_the_same_facts() {
    let r = renderer();
    let b = booking();
    for kind in EmailKind::ALL {
        for recipient in [attendee(&b), host(&b)] {
            let p = r.render(kind, &b, &recipient, &ctx()).unwrap();
            for fact in [
                "Intro call",
                "30 minutes",
                "https://meet.example.com/abc-defg-hij",
                "Please call me on my mobile.",
            ] {
                assert!(p.text.contains(fact), "{kind} text lacks {fact}");
                assert!(
                    p.html.contains(&fact.replace('/', "&#x2f;")),
                    "{kind} html lacks {fact}"
                );
            }
            assert!(p.text.contains("Acme office, Torstraße 1, Berlin"));
            assert!(p.html.contains("Acme office, Torstraße 1, Berlin"));
        }
    }
}

mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_title_keeps_the_google_link_on_google(title in any::<String>()) {
            let mut b = booking();
            b.title = title;
            let link = google_calendar_link(&b, "Meeting link");
            prop_assert!(link.starts_with("https://calendar.google.com/calendar/render?action=TEMPLATE&text="));
            prop_assert_eq!(link.matches('&').count(), 4);
            prop_assert!(link.chars().all(|c| c.is_ascii_alphanumeric() || "-._~%&=/:?".contains(c)));
        }

        #[test]
        fn any_name_and_title_give_one_line_headers(name in any::<String>(), title in any::<String>()) {
            let mut b = booking();
            b.attendees[0].name = Some(name.clone());
            b.title = title;
            let r = renderer();
            let recipient = attendee(&b);
            let from = Mailbox { name: None, address: "bookings@acme.example".to_owned() };
            let email = compose(r, EmailKind::Requested, &b, &recipient, &from, None, "k".to_owned(), &ctx()).unwrap();
            prop_assert!(!email.subject.contains(['\r', '\n', '\0']));
            if let Some(n) = &email.to[0].name {
                prop_assert!(!n.contains(['\r', '\n', '\0']));
            }
        }
    }
}
