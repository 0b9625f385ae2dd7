//! The dashboard as a business runs its day from it (issue 14): the bookings list (live by
//! default, searchable through the index of migration 0013), on both backends.

mod booking_page;
mod emails;
mod export;
mod in_browser;
mod list;
mod stats;
mod stats_backfill;
mod today;

use crate::helpers::booked_by;

/// A booking `hours` from now by `name` <`email`>, with these notes.
pub fn booked_with_notes(uid: &str, hours: i64, name: &str, email: &str, notes: &str) -> Vec<u8> {
    String::from_utf8(booked_by(uid, hours, name, email))
        .unwrap()
        .replace("Would like to discuss the spring order.", notes)
        .into_bytes()
}

/// The same booking, cancelled (the created delivery as a `BOOKING_CANCELLED`).
pub fn cancelled(body: &[u8]) -> Vec<u8> {
    String::from_utf8(body.to_vec())
        .unwrap()
        .replace("\"BOOKING_CREATED\"", "\"BOOKING_CANCELLED\"")
        .replace("\"status\": \"ACCEPTED\"", "\"status\": \"CANCELLED\"")
        .replace(
            "\"createdAt\": \"2026-03-02T09:15:42.318Z\"",
            "\"createdAt\": \"2026-03-02T09:16:42.318Z\"",
        )
        .into_bytes()
}
