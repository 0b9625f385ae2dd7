//! One booking's burst cannot hold back another booking's confirmation: before, one signed
//! BOOKING_CREATED with 2,000 attendees queued 2,000 confirmations strictly first-in-first-out,
//! and the next client's confirmation waited behind all of them. Measured by its position in the
//! send order (the order the outbox hands jobs to its workers), not by wall time.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;
use crate::on_both_backends;

const ATTENDEES: usize = 2_000;
/// Jobs per claim, as a worker takes them.
const CLAIM: u32 = 25;

fn burst_body() -> Vec<u8> {
    let mut v: Value =
        serde_json::from_slice(&booked_by("burst", 72, "Marco Rossi", "marco@example.com"))
            .unwrap();
    let attendees: Vec<Value> = (0..ATTENDEES)
        .map(|i| {
            json!({
                "email": format!("guest{i}@example.com"),
                "name": format!("Guest {i}"),
                "timeZone": "Europe/Berlin",
                "language": {"locale": "en"}
            })
        })
        .collect();
    v["payload"]["attendees"] = Value::Array(attendees);
    serde_json::to_vec(&v).unwrap()
}

async fn a_large_booking_does_not_hold_back_the_next_confirmation(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.ingest.admission.max_attendees = 3_000;
    })
    .await;
    let (status, body) = app.deliver(&burst_body()).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A worker is already sending the first batch of the burst when the next booking comes in.
    let lease = Uuid::now_v7();
    let until = calbook::time::now()
        .checked_add(jiff::SignedDuration::from_hours(1))
        .unwrap();
    let mut order: Vec<String> = Vec::new();
    let first = app
        .store
        .claim_outbox(lease, calbook::time::now(), until, CLAIM)
        .await
        .unwrap();
    assert_eq!(first.len(), CLAIM as usize);
    order.extend(first.iter().map(|j| j.booking_uid.clone()));

    let (status, body) = app
        .deliver(&booked_by("next-client", 96, "Ana Lima", "ana@example.com"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    loop {
        let claimed = app
            .store
            .claim_outbox(lease, calbook::time::now(), until, CLAIM)
            .await
            .unwrap();
        if claimed.is_empty() {
            break;
        }
        order.extend(claimed.iter().map(|j| j.booking_uid.clone()));
    }
    assert!(
        order.iter().filter(|u| *u == "burst").count() >= ATTENDEES,
        "every burst email was sent in the end: {}",
        order.iter().filter(|u| *u == "burst").count()
    );
    let position = order
        .iter()
        .position(|u| u == "next-client")
        .expect("the next client's confirmation is sent");
    // The first claim after it arrived takes it: behind the batch in flight and, at most, the
    // rest of its own batch (a batch goes out as one request to Resend).
    assert!(
        position < 2 * CLAIM as usize,
        "the next client's confirmation is claimed right after the batch in flight, not after \
         the burst: position {position} of {}",
        order.len()
    );
}

on_both_backends!(a_large_booking_does_not_hold_back_the_next_confirmation);
