//! Calendar invites and the Google Calendar link.

use super::*;

#[test]
fn request_invite() {
    let b = booking();
    let invite = calendar_invite(&b, CalendarMethod::Request);
    assert_eq!(invite.method, CalendarMethod::Request);
    let ics = &unfold(&invite.ics);
    for line in [
        "BEGIN:VCALENDAR\r\n",
        "METHOD:REQUEST\r\n",
        "UID:bk_7Yq2@Cal.com\r\n",
        "SEQUENCE:2\r\n",
        "DTSTART:20260310T140000Z\r\n",
        "DTEND:20260310T143000Z\r\n",
        "STATUS:CONFIRMED\r\n",
        "SUMMARY:Intro call\r\n",
        "LOCATION:https://meet.example.com/abc-defg-hij\r\n",
        "ORGANIZER;CN=Dana Whitfield:mailto:dana@acme.example\r\n",
        "END:VCALENDAR\r\n",
    ] {
        assert!(ics.contains(line), "missing {line:?} in\n{ics}");
    }
    assert!(ics.contains("ATTENDEE;"), "{ics}");
    assert!(ics.contains("CN=Marco Rossi"), "{ics}");
    assert!(ics.contains("PARTSTAT=ACCEPTED"), "{ics}");
    assert!(ics.contains(":mailto:marco@example.com\r\n"), "{ics}");
    assert!(ics.contains("\r\nDTSTAMP:20260301T090000Z\r\n"), "{ics}");
    // Deterministic: a retry renders the same bytes.
    assert_eq!(calendar_invite(&b, CalendarMethod::Request), invite);
    // Every line ends with CRLF: no bare LF or CR.
    assert!(ics.ends_with("\r\n"));
    assert_eq!(ics.matches('\n').count(), ics.matches("\r\n").count());
    assert_eq!(ics.matches('\r').count(), ics.matches("\r\n").count());
    insta::assert_snapshot!("invite_request", invite.ics.replace("\r\n", "\n"));
}

#[test]
fn cancel_invite() {
    let b = booking();
    let ics = unfold(&calendar_invite(&b, CalendarMethod::Cancel).ics);
    for line in [
        "METHOD:CANCEL\r\n",
        "STATUS:CANCELLED\r\n",
        "UID:bk_7Yq2@Cal.com\r\n",
        "SEQUENCE:3\r\n",
        "DTSTART:20260310T140000Z\r\n",
    ] {
        assert!(ics.contains(line), "missing {line:?} in\n{ics}");
    }
    assert!(!ics.contains("METHOD:REQUEST"));
    assert!(!ics.contains("RSVP=TRUE"));
}

#[test]
fn invite_without_ical_uid_and_with_hostile_values() {
    let mut b = booking();
    b.ical_uid = None;
    b.ical_sequence = -4;
    b.meeting_url = None;
    b.title = "Call\r\nEND:VEVENT\r\nBEGIN:VEVENT".to_owned();
    b.attendees[0].name = Some("Marco \"the\"\r\nRossi".to_owned());
    let ics = unfold(&calendar_invite(&b, CalendarMethod::Request).ics);
    assert!(ics.contains("UID:bk_7Yq2@calbook\r\n"), "{ics}");
    assert!(ics.contains("SEQUENCE:0\r\n"), "{ics}");
    assert!(
        ics.contains("LOCATION:Acme office\\, Torstraße 1\\, Berlin\r\n"),
        "{ics}"
    );
    assert!(
        ics.contains("SUMMARY:Call\\nEND:VEVENT\\nBEGIN:VEVENT\r\n"),
        "{ics}"
    );
    assert_eq!(ics.matches("\r\nBEGIN:VEVENT\r\n").count(), 1, "{ics}");
    assert_eq!(ics.matches("\r\nEND:VEVENT\r\n").count(), 1, "{ics}");
    assert!(ics.contains("CN=Marco 'the' Rossi"), "{ics}");
    assert_eq!(ics.matches('\n').count(), ics.matches("\r\n").count());
}

#[test]
fn google_calendar_link_encodes_every_value() {
    let b = booking();
    assert_eq!(
        google_calendar_link(&b, "Meeting link"),
        "https://calendar.google.com/calendar/render?action=TEMPLATE&text=Intro%20call\
         &dates=20260310T140000Z/20260310T143000Z\
         &details=Let%27s%20talk%20about%20the%20garden%20project.%0A%0AMeeting%20link%3A%20https%3A%2F%2Fmeet.example.com%2Fabc-defg-hij\
         &location=https%3A%2F%2Fmeet.example.com%2Fabc-defg-hij"
    );
    let mut evil = booking();
    evil.title = "x&dates=1/2#@evil.example/?a=\"<>".to_owned();
    let link = google_calendar_link(&evil, "Meeting link");
    assert!(link.starts_with("https://calendar.google.com/calendar/render?action=TEMPLATE&text=x%26dates%3D1%2F2%23%40evil.example%2F%3Fa%3D%22%3C%3E&dates=20260310T140000Z/"));
    assert_eq!(link.matches('&').count(), 4);
    assert!(!link.contains(['#', '"', '<', '>', ' ']));
}
