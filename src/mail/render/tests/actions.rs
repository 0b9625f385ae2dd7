//! Reschedule, Cancel, Join and Book again links, and location names.

use super::*;

fn links(kind: EmailKind, b: &Booking) -> EmailParts {
    renderer().render(kind, b, &attendee(b), &ctx()).unwrap()
}

#[test]
fn live_booking_emails_link_to_calcoms_reschedule_and_cancel_pages_on_the_booker_url() {
    let b = booking();
    for kind in [
        EmailKind::Confirmation,
        EmailKind::Rescheduled,
        EmailKind::Requested,
        EmailKind::Reminder,
        EmailKind::Updated,
    ] {
        let p = links(kind, &b);
        assert!(
            p.text
                .contains("Reschedule: https://acme.cal.com/reschedule/bk_7Yq2\n"),
            "{kind}: {}",
            p.text
        );
        let cancel = "https://acme.cal.com/booking/bk_7Yq2?cancel=true&allRemainingBookings=false&cancelledBy=marco%40example.com";
        assert!(p.text.contains(cancel), "{kind}: {}", p.text);
        assert!(p.html.contains(&esc(cancel)), "{kind}");
        assert!(!p.text.contains("Book again"), "{kind}");
    }
}

#[test]
fn a_recurring_booking_cancels_all_remaining_as_calcom_does() {
    let mut b = booking();
    b.extra.recurring_event = Some(crate::booking::RecurringRule {
        freq: 2,
        count: Some(4),
        interval: 1,
    });
    let p = links(EmailKind::Confirmation, &b);
    assert!(p.text.contains("allRemainingBookings=true"), "{}", p.text);
}

#[test]
fn booker_set_metadata_cannot_move_the_links_elsewhere() {
    let mut b = booking();
    b.metadata = serde_json::json!({ "bookerUrl": "https://evil.example" });
    let p = links(EmailKind::Confirmation, &b);
    assert!(
        p.text.contains("https://acme.cal.com/reschedule/bk_7Yq2"),
        "{}",
        p.text
    );
    assert!(!p.text.contains("evil"), "{}", p.text);
}

#[test]
fn with_no_booker_url_at_all_there_is_no_reschedule_link_rather_than_a_wrong_one() {
    let b = booking();
    let r = Renderer::new(None).unwrap();
    let mut b2 = b.clone();
    b2.metadata = serde_json::json!({});
    let p = r
        .render(EmailKind::Confirmation, &b2, &attendee(&b2), &ctx())
        .unwrap();
    assert!(!p.text.contains("Reschedule"), "{}", p.text);
    assert!(!p.html.contains("/reschedule/"), "{}", p.html);
}

#[test]
fn cancelled_and_declined_emails_offer_book_again_and_no_cancel_link() {
    let b = booking();
    for kind in [EmailKind::Cancelled, EmailKind::Declined] {
        let p = links(kind, &b);
        assert!(
            p.text
                .contains("Book again: https://book.acme.example/book\n"),
            "{kind}: {}",
            p.text
        );
        assert!(p.html.contains(&format!(
            "href=\"{}\"",
            esc("https://book.acme.example/book")
        )));
        assert!(!p.text.contains("cancel=true"), "{kind}");
        assert!(!p.text.contains("/reschedule/"), "{kind}");
    }
}

#[test]
fn a_meeting_url_is_a_join_button_in_html_and_a_line_in_text() {
    let b = booking();
    let p = links(EmailKind::Confirmation, &b);
    let url = esc("https://meet.example.com/abc-defg-hij");
    assert!(p.html.contains(&format!("<a href=\"{url}\"")), "{}", p.html);
    assert!(p.html.contains("Join the meeting</a>"));
    assert!(
        p.text
            .contains("Meeting link: https://meet.example.com/abc-defg-hij")
    );
    // A cancelled meeting has no Join button.
    let p = links(EmailKind::Cancelled, &b);
    assert!(!p.html.contains("Join the meeting"), "{}", p.html);
    // An unknown host's URL is no button.
    let mut b = booking();
    b.meeting_url = Some("https://evil.example/join".to_owned());
    let p = links(EmailKind::Confirmation, &b);
    assert!(!p.html.contains("Join the meeting"), "{}", p.html);
    assert!(!p.html.contains("href=\"https:&#x2f;&#x2f;evil"));
}

#[test]
fn locations_are_named_as_people_say_them() {
    let policy = LinkPolicy::default();
    for (raw, shown) in [
        ("integrations:daily", "Cal Video"),
        ("integrations:zoom", "Zoom"),
        ("integrations:google:meet", "Google Meet"),
        ("integrations:office365_video", "Microsoft Teams"),
        ("https://us02web.zoom.us/j/123", "Zoom"),
        ("https://meet.google.com/abc-defg-hij", "Google Meet"),
        ("https://evil.example/x", "hxxps://evil[.]example/x"),
        ("integrations:something_new", "integrations:something_new"),
        (
            "Acme office, Torstraße 1, Berlin",
            "Acme office, Torstraße 1, Berlin",
        ),
        ("+49 30 1234567", "+49 30 1234567"),
    ] {
        assert_eq!(location_label(raw, &policy), shown, "{raw}");
    }
}

#[test]
fn emails_show_location_names_and_phone_numbers_as_phone_numbers() {
    let mut b = booking();
    b.location = Some("integrations:daily".to_owned());
    let p = links(EmailKind::Confirmation, &b);
    assert!(p.text.contains("Where: Cal Video\n"), "{}", p.text);
    assert!(!p.text.contains("integrations:"));
    assert!(!p.html.contains("integrations:"));
    b.location = Some("+49 30 1234567".to_owned());
    let p = links(EmailKind::Confirmation, &b);
    assert!(
        p.text.contains("Where: Phone +49 30 1234567\n"),
        "{}",
        p.text
    );
    assert!(p.html.contains("href=\"tel:+49301234567\""), "{}", p.html);
}

#[test]
fn a_reschedule_request_links_to_the_reschedule_page_and_cancels_the_old_invite() {
    let mut b = booking();
    b.status = crate::booking::Status::RescheduleRequested;
    b.cancellation_reason = Some("I'm ill that day.".to_owned());
    let p = links(EmailKind::RescheduleRequested, &b);
    assert!(
        p.text
            .contains("Reschedule: https://acme.cal.com/reschedule/bk_7Yq2\n"),
        "{}",
        p.text
    );
    assert!(p.text.contains("Reason: I'm ill that day."), "{}", p.text);
    assert!(!p.text.contains("cancel=true"), "{}", p.text);
    assert!(!p.html.contains("Join the meeting"));
    let email = compose(
        renderer(),
        EmailKind::RescheduleRequested,
        &b,
        &attendee(&b),
        &Mailbox {
            name: None,
            address: "bookings@acme.example".to_owned(),
        },
        None,
        "k".to_owned(),
        &ctx(),
    )
    .unwrap();
    let invite = email.calendar.expect("a calendar CANCEL for the old slot");
    assert_eq!(invite.method, CalendarMethod::Cancel);
    assert!(
        unfold(&invite.ics).contains("UID:bk_7Yq2@Cal.com"),
        "{}",
        invite.ics
    );
}

#[test]
fn the_webhooks_booker_url_wins_over_the_embed_origin() {
    let mut b = booking();
    b.extra.links.booker_url = Some("https://acme-org.cal.com/".to_owned());
    let p = links(EmailKind::Confirmation, &b);
    assert!(
        p.text
            .contains("Reschedule: https://acme-org.cal.com/reschedule/bk_7Yq2\n"),
        "{}",
        p.text
    );
    assert!(
        p.text
            .contains("https://acme-org.cal.com/booking/bk_7Yq2?cancel=true"),
        "{}",
        p.text
    );
    // One that is not https (or has credentials) is not used: the embed origin is.
    b.extra.links.booker_url = Some("http://acme-org.example".to_owned());
    let p = links(EmailKind::Confirmation, &b);
    assert!(
        p.text.contains("https://acme.cal.com/reschedule/bk_7Yq2"),
        "{}",
        p.text
    );
}

#[test]
fn a_seat_links_with_its_reference_uid_as_calcom_does() {
    let mut b = booking();
    b.extra.seats_per_time_slot = Some(10);
    b.extra
        .links
        .seats
        .insert("marco@example.com".to_owned(), "seat-ref-9f2".to_owned());
    let p = links(EmailKind::Confirmation, &b);
    assert!(
        p.text
            .contains("Reschedule: https://acme.cal.com/reschedule/seat-ref-9f2\n"),
        "{}",
        p.text
    );
    let cancel = "https://acme.cal.com/booking/bk_7Yq2?cancel=true&allRemainingBookings=false&cancelledBy=marco%40example.com&seatReferenceUid=seat-ref-9f2";
    assert!(p.text.contains(cancel), "{}", p.text);
    assert!(p.html.contains(&esc(cancel)));
    // The host acts on the whole booking.
    let to_host = renderer()
        .render(EmailKind::Confirmation, &b, &host(&b), &ctx())
        .unwrap();
    assert!(
        to_host
            .text
            .contains("https://acme.cal.com/reschedule/bk_7Yq2\n"),
        "{}",
        to_host.text
    );
    assert!(!to_host.text.contains("seatReferenceUid"));
    // A seat whose reference calbook does not have gets the booking's links.
    b.extra.links.seats.clear();
    let p = links(EmailKind::Confirmation, &b);
    assert!(p.text.contains("https://acme.cal.com/reschedule/bk_7Yq2\n"));
    assert!(!p.text.contains("seatReferenceUid"));
}
