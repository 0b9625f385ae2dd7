//! Times in the recipient's zone: names, daylight-saving changeovers, legacy and unknown zones.

use super::*;

#[test]
fn times_are_in_the_recipients_zone_with_its_name() {
    let r = renderer();
    let b = booking();
    let to_marco = r
        .render(EmailKind::Confirmation, &b, &attendee(&b), &ctx())
        .unwrap();
    let line = "Tuesday, 10 March 2026 at 10:00\u{2013}10:30 (America/New_York, EDT)";
    assert!(to_marco.text.contains(line), "{}", to_marco.text);
    assert!(to_marco.html.contains(&esc(line)), "{}", to_marco.html);
    assert!(to_marco.text.contains("Duration: 30 minutes"));

    let to_dana = r
        .render(EmailKind::Confirmation, &b, &host(&b), &ctx())
        .unwrap();
    let line = "Tuesday, 10 March 2026 at 15:00\u{2013}15:30 (Europe/Berlin, CET)";
    assert!(to_dana.text.contains(line), "{}", to_dana.text);
    assert!(to_dana.html.contains(&esc(line)));
}

#[test]
fn recipient_without_zone_uses_the_bookings_person() {
    let r = renderer();
    let b = booking();
    let mut marco = attendee(&b);
    marco.time_zone = None;
    marco.email = "MARCO@example.com".to_owned();
    let parts = r.render(EmailKind::Reminder, &b, &marco, &ctx()).unwrap();
    assert!(
        parts.text.contains("(America/New_York, EDT)"),
        "{}",
        parts.text
    );

    let mut dana = host(&b);
    dana.time_zone = None;
    let parts = r.render(EmailKind::Reminder, &b, &dana, &ctx()).unwrap();
    assert!(
        parts.text.contains("(Europe/Berlin, CET)"),
        "{}",
        parts.text
    );
}

#[test]
fn dst_changeover_days() {
    // 2026-03-29: Berlin springs forward at 01:00Z. 07:00Z is 09:00 CEST; New York is on EDT.
    let at = ts("2026-03-29T07:00:00Z");
    let berlin = local_time(at, Some("Europe/Berlin"));
    assert_eq!(
        (berlin.time.as_str(), berlin.abbreviation.as_str()),
        ("09:00", "CEST")
    );
    assert_eq!(berlin.offset, "+02:00");
    assert_eq!(berlin.date, "Sunday, 29 March 2026");
    let new_york = local_time(at, Some("America/New_York"));
    assert_eq!(
        (new_york.time.as_str(), new_york.abbreviation.as_str()),
        ("03:00", "EDT")
    );

    // The same through rendering: a Berlin attendee and a New York host.
    let mut b = booking();
    b.starts_at = at;
    b.ends_at = ts("2026-03-29T07:30:00Z");
    b.attendees[0].time_zone = Some("Europe/Berlin".to_owned());
    b.organizer.as_mut().unwrap().time_zone = Some("America/New_York".to_owned());
    let r = renderer();
    let to_attendee = r
        .render(EmailKind::Confirmation, &b, &attendee(&b), &ctx())
        .unwrap();
    assert!(
        to_attendee
            .text
            .contains("Sunday, 29 March 2026 at 09:00\u{2013}09:30 (Europe/Berlin, CEST)"),
        "{}",
        to_attendee.text
    );
    assert!(
        to_attendee.subject.ends_with(", Sun 29 Mar, 09:00"),
        "{}",
        to_attendee.subject
    );
    let to_host = r
        .render(EmailKind::Confirmation, &b, &host(&b), &ctx())
        .unwrap();
    assert!(
        to_host
            .text
            .contains("Sunday, 29 March 2026 at 03:00\u{2013}03:30 (America/New_York, EDT)"),
        "{}",
        to_host.text
    );

    // 2026-10-25: Berlin falls back at 01:00Z. 08:00Z is 09:00 CET.
    let autumn = local_time(ts("2026-10-25T08:00:00Z"), Some("Europe/Berlin"));
    assert_eq!(
        (autumn.time.as_str(), autumn.abbreviation.as_str()),
        ("09:00", "CET")
    );
    assert_eq!(autumn.offset, "+01:00");
}

#[test]
fn vancouver_uses_the_bundled_2026_rules() {
    // British Columbia stays on -07:00 from 2026-03-09; stale tzdata (2025b) says 09:00 -08:00.
    let l = local_time(ts("2026-11-24T17:00:00Z"), Some("America/Vancouver"));
    assert_eq!(l.time, "10:00");
    assert_eq!(l.offset, "-07:00");
    assert_eq!(l.zone, "America/Vancouver");
}

#[test]
fn legacy_and_unknown_zones() {
    let at = ts("2026-03-10T14:00:00Z");
    let calcutta = local_time(at, Some("Asia/Calcutta"));
    assert_eq!(calcutta.time, "19:30");
    assert_eq!(calcutta.offset, "+05:30");
    assert!(calcutta.zone.starts_with("Asia/"), "{}", calcutta.zone);

    for zone in [
        Some("Mars/Olympus_Mons"),
        Some(""),
        Some("../../etc/passwd"),
        None,
    ] {
        let l = local_time(at, zone);
        assert_eq!(l.zone, "UTC", "{zone:?}");
        assert_eq!(l.time, "14:00");
        assert_eq!(l.offset, "+00:00");
    }

    let mut b = booking();
    b.attendees[0].time_zone = Some("Mars/Olympus_Mons".to_owned());
    let parts = renderer()
        .render(EmailKind::Confirmation, &b, &attendee(&b), &ctx())
        .unwrap();
    assert!(
        parts
            .text
            .contains("Tuesday, 10 March 2026 at 14:00\u{2013}14:30 (UTC)"),
        "{}",
        parts.text
    );
    assert!(
        parts
            .text
            .contains("Times are shown in UTC because the time zone \u{201c}Mars/Olympus_Mons\u{201d} is not recognised."),
        "{}",
        parts.text
    );
    assert!(parts.html.contains("is not recognised"));
}
