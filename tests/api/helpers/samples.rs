//! The Cal.com sample bodies in `samples/calcom` (the ones `calbook trigger` ships), their
//! booking uids, and the edits tests make to them.

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

/// The booking `created.json` creates (and `cancelled_request_reschedule.json` cancels).
pub const CREATED_UID: &str = "7kQm2xVbN4pLr9sTzY3wHc";
/// The booking `rescheduled.json` moves [`CREATED_UID`] to (and `cancelled.json` cancels).
pub const RESCHEDULED_UID: &str = "Fh8cW1nRzq5TgK2mXy7Ud4";
/// The booking `requested.json` asks for (and the meeting-ended samples end).
pub const REQUESTED_UID: &str = "Qa3Zp8MmVt6Rk1NyWc5Xe2";

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/samples/calcom/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A compact (byte-exact) sample body.
pub fn sample(name: &str) -> Vec<u8> {
    fixture(&format!("compact/{name}.json"))
}

/// The signature `signatures.json` gives for a fixture file.
pub fn sample_vector(file: &str) -> String {
    let v: Value = serde_json::from_slice(&fixture("signatures.json")).unwrap();
    v["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["file"] == file)
        .unwrap_or_else(|| panic!("no vector for {file}"))["x_cal_signature_256"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The created sample moved to `start` (and 30 minutes on).
pub fn created_at(start: Timestamp, uid: &str) -> Vec<u8> {
    let end = start.checked_add(SignedDuration::from_mins(30)).unwrap();
    String::from_utf8(sample("created"))
        .unwrap()
        .replace(
            "2026-03-10T14:00:00Z",
            &start.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
        .replace(
            "2026-03-10T14:30:00Z",
            &end.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
        .replace(CREATED_UID, uid)
        .into_bytes()
}

/// The created sample for `uid`, `hours` from now, booked by `name` <`email`>.
pub fn booked_by(uid: &str, hours: i64, name: &str, email: &str) -> Vec<u8> {
    String::from_utf8(created_at(hours_from_now(hours), uid))
        .unwrap()
        .replace("Marco Rossi", name)
        .replace("marco.rossi@example.com", email)
        .into_bytes()
}

pub fn hours_from_now(h: i64) -> Timestamp {
    let now = Timestamp::now().as_second();
    Timestamp::from_second(now - now % 60 + h * 3600).unwrap()
}
