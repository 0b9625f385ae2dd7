//! The bookings API as its callers meet it: bookings made through the booking page (with a
//! client's ownership proof) or by email alone, and JSON reads with a bearer token.

use jiff::Timestamp;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

use super::{CLIENT_1, CLIENT_2, TestApp, created_at, hours_from_now};

/// A `BOOKING_CREATED` delivery for `uid` at `start`, booked by `email`, with the embed's
/// `metadata[client_id]` and `metadata[client_proof]` when given.
pub fn created(uid: &str, start: Timestamp, email: &str, client: Option<(&str, &str)>) -> Vec<u8> {
    let mut body = String::from_utf8(created_at(start, uid))
        .unwrap()
        .replace("marco.rossi@example.com", email);
    if let Some((c, proof)) = client {
        body = body.replace(
            "\"lead_ref\":\"LR-20417\"",
            &format!(
                "\"client_id\":\"{c}\",\"client_proof\":\"{proof}\",\"lead_ref\":\"LR-20417\""
            ),
        );
    }
    body.into_bytes()
}

/// `client` books `uid` through the booking page while signed in with `email` (so the booking
/// carries its id and a valid ownership proof), or, without a client, books it by email alone.
pub async fn book(app: &TestApp, uid: &str, start: Timestamp, email: &str, client: Option<&str>) {
    let proof = client.map(|c| app.ownership_proof(c, email));
    let claim = client.zip(proof.as_deref());
    let (status, body) = app.deliver(&created(uid, start, email, claim)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "applied", "{body}");
}

/// `GET path` with an optional bearer token: status, headers, JSON body.
pub async fn get(app: &TestApp, path: &str, token: Option<&str>) -> (StatusCode, HeaderMap, Value) {
    let mut req = app.client.get(app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("request reaches calbook");
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{path}: {status} with a non-JSON body {text:?}"));
    (status, headers, json)
}

/// The uids of a listing, in order, asserting 200.
pub async fn uids(app: &TestApp, path: &str, token: &str) -> Vec<String> {
    let (status, _, body) = get(app, path, Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    uid_list(&body["bookings"])
}

pub fn uid_list(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|b| b["uid"].as_str().unwrap().to_owned())
        .collect()
}

pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Client 1's booking "mine" (tomorrow) and client 2's "theirs" (the day after).
pub async fn book_mine_and_theirs(app: &TestApp) {
    book(
        app,
        "mine",
        hours_from_now(24),
        "ann@example.com",
        Some(CLIENT_1),
    )
    .await;
    book(
        app,
        "theirs",
        hours_from_now(48),
        "bob@example.com",
        Some(CLIENT_2),
    )
    .await;
}
