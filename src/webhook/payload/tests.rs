use super::*;
use crate::booking::BookingEvent;

fn sample(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/samples/calcom/compact/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parse_sample(name: &str) -> ParsedDelivery {
    parse(Some("application/json"), Some("2021-10-20"), &sample(name)).unwrap()
}

fn ts(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

#[test]
fn created_sample_gives_a_created_event_with_people_and_metadata() {
    let p = parse_sample("created.json");
    assert_eq!(p.trigger, "BOOKING_CREATED");
    let Parsed::Booking(BookingEvent::Created(d)) = p.parsed else {
        panic!("{p:?}")
    };
    assert_eq!(d.uid, "7kQm2xVbN4pLr9sTzY3wHc");
    assert_eq!(d.calcom_id, Some(1101));
    assert_eq!(d.starts_at, ts("2026-03-10T14:00:00Z"));
    assert_eq!(
        d.attendees[0].time_zone.as_deref(),
        Some("America/New_York")
    );
    assert_eq!(
        d.organizer.unwrap().time_zone.as_deref(),
        Some("Europe/Berlin")
    );
    assert_eq!(d.metadata["lead_ref"], "LR-20417");
    assert_eq!(
        d.meeting_url.as_deref(),
        Some("https://video.example.com/kx2Rt9Lmq4Vz")
    );
    assert_eq!(
        d.ical_uid.as_deref(),
        Some("7kQm2xVbN4pLr9sTzY3wHc@Cal.com")
    );
}

#[test]
fn rescheduled_sample_names_the_new_and_the_old_booking() {
    let Parsed::Booking(BookingEvent::Rescheduled { details, from }) =
        parse_sample("rescheduled.json").parsed
    else {
        panic!()
    };
    assert_eq!(details.uid, "Fh8cW1nRzq5TgK2mXy7Ud4");
    assert_eq!(from.uid, "7kQm2xVbN4pLr9sTzY3wHc");
    assert_eq!(from.starts_at, Some(ts("2026-03-10T14:00:00Z")));
    assert_eq!(details.ical_sequence, Some(1));
}

#[test]
fn cancel_times_with_offsets_parse_and_request_reschedule_is_seen() {
    let Parsed::Booking(BookingEvent::Cancelled {
        details,
        reschedule_requested,
        by,
        ..
    }) = parse_sample("cancelled.json").parsed
    else {
        panic!()
    };
    assert_eq!(details.starts_at, ts("2026-03-12T15:00:00Z"));
    assert!(!reschedule_requested);
    assert_eq!(by.as_deref(), Some("marco.rossi@example.com"));
    let Parsed::Booking(BookingEvent::Cancelled {
        reschedule_requested,
        ..
    }) = parse_sample("cancelled_request_reschedule.json").parsed
    else {
        panic!()
    };
    assert!(reschedule_requested);
}

#[test]
fn meeting_ended_parses_in_flat_and_wrapped_form() {
    for name in ["meeting_ended.json", "meeting_ended_wrapped.json"] {
        let Parsed::Booking(BookingEvent::Meeting { uid, phase, at }) = parse_sample(name).parsed
        else {
            panic!("{name}")
        };
        assert_eq!(uid, "Qa3Zp8MmVt6Rk1NyWc5Xe2");
        assert_eq!(phase, MeetingPhase::Ended);
        assert_eq!(at, ts("2026-03-20T09:45:00Z"));
    }
}

#[test]
fn ping_and_requested_samples() {
    assert_eq!(parse_sample("ping.json").parsed, Parsed::Ping);
    let Parsed::Booking(BookingEvent::Requested { details, from }) =
        parse_sample("requested.json").parsed
    else {
        panic!()
    };
    assert!(from.is_none());
    assert_eq!(details.attendees.len(), 2, "the guest is an attendee too");
}

#[test]
fn unknown_trigger_and_unknown_version_are_ignored_not_errors() {
    let body =
        br#"{"triggerEvent":"RECORDING_READY","createdAt":"2026-03-02T09:15:42.318Z","payload":{}}"#;
    assert!(matches!(
        parse(None, None, body).unwrap().parsed,
        Parsed::Ignored { .. }
    ));
    let p = parse(None, Some("2099-01-01"), &sample("created.json")).unwrap();
    assert!(matches!(p.parsed, Parsed::Ignored { .. }));
    assert_eq!(p.trigger, "BOOKING_CREATED");
}

#[test]
fn bad_bodies_name_their_problem() {
    let cases: Vec<(&[u8], Option<&str>, PayloadError)> = vec![
        (b"triggerEvent=BOOKING_CREATED&uid=x", Some("application/x-www-form-urlencoded"), PayloadError::FormEncoded),
        (b"{\"triggerEvent\":", None, PayloadError::NotJson(String::new())),
        (b"[1,2]", None, PayloadError::NotJson(String::new())),
        (b"false", None, PayloadError::NotJson(String::new())),
        (b"{\"payload\":{}}", None, PayloadError::MissingTrigger),
        (b"{\"triggerEvent\":\"BOOKING_CREATED\"}", None, PayloadError::MissingPayload { trigger: "BOOKING_CREATED".into() }),
        (br#"{"triggerEvent":"BOOKING_CREATED","payload":{"startTime":"2026-03-10T14:00:00Z","endTime":"2026-03-10T14:30:00Z"}}"#, None, PayloadError::MissingField { field: "uid" }),
        (br#"{"triggerEvent":"BOOKING_CREATED","payload":{"uid":"u","startTime":"tomorrow","endTime":"2026-03-10T14:30:00Z"}}"#, None, PayloadError::BadTime { field: "startTime" }),
        (br#"{"triggerEvent":"BOOKING_CREATED","payload":{"uid":"u","startTime":"2026-03-10T15:00:00Z","endTime":"2026-03-10T14:30:00Z"}}"#, None, PayloadError::EndBeforeStart),
    ];
    for (body, ct, want) in cases {
        let got = parse(ct, None, body).unwrap_err();
        match (&got, &want) {
            (PayloadError::NotJson(_), PayloadError::NotJson(_)) => {}
            _ => assert_eq!(got, want, "{}", String::from_utf8_lossy(body)),
        }
    }
}

#[test]
fn booker_url_and_a_new_seats_reference_are_read_for_email_links() {
    let p = parse_sample("created.json");
    let Parsed::Booking(BookingEvent::Created(d)) = p.parsed else {
        panic!("{p:?}")
    };
    assert_eq!(
        d.extra.booker_url.as_deref(),
        Some("https://cal.example.com")
    );
    assert!(d.extra.seat_refs.is_empty());

    // A new seat (createNewSeat): `attendeeSeatId` names the seat of the attendee appended last;
    // an attendee's own `bookingSeat.referenceUid` is read too.
    let body = serde_json::json!({
        "triggerEvent": "BOOKING_CREATED",
        "createdAt": "2026-03-01T09:00:00.000Z",
        "payload": {
            "uid": "seated-1", "title": "Workshop", "type": "workshop",
            "startTime": "2026-03-10T14:00:00Z", "endTime": "2026-03-10T15:00:00Z",
            "seatsPerTimeSlot": 10,
            "organizer": {"name": "Dana", "email": "dana@acme.example", "timeZone": "Europe/Berlin"},
            "attendees": [
                {"name": "Ann", "email": "Ann@Example.com", "timeZone": "Europe/Paris",
                 "bookingSeat": {"referenceUid": "seat-ann"}},
                {"name": "Ben", "email": "ben@example.com", "timeZone": "Europe/Paris"}
            ],
            "attendeeSeatId": "seat-ben",
            "bookerUrl": "https://acme-org.cal.com"
        }
    });
    let p = parse(
        Some("application/json"),
        Some("2021-10-20"),
        body.to_string().as_bytes(),
    )
    .unwrap();
    let Parsed::Booking(BookingEvent::Created(d)) = p.parsed else {
        panic!("{p:?}")
    };
    assert_eq!(d.extra.seat_refs["ann@example.com"], "seat-ann");
    assert_eq!(d.extra.seat_refs["ben@example.com"], "seat-ben");
    assert_eq!(
        d.extra.booker_url.as_deref(),
        Some("https://acme-org.cal.com")
    );
}
