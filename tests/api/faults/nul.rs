//! A validly signed body with JSON `\u0000` in its values: before, PostgreSQL answered 500
//! forever and kept nothing (its `text` and `jsonb` cannot hold NUL) while SQLite took it. Now
//! both apply it alike, with U+FFFD where the NUL was, and keep the original bytes.

use reqwest::StatusCode;

use crate::helpers::*;
use crate::on_both_backends;

async fn a_body_with_json_nul_is_applied_and_kept(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = String::from_utf8(booked_by("nul-1", 72, "Marco Rossi", "marco@example.com"))
        .unwrap()
        .replace("Marco Rossi", "Marco\\u0000 Rossi")
        .replace("Would like", "Would\\u0000like")
        .replace(r#""lead_ref":"LR-20417""#, r#""lead\u0000ref":"LR\u0000""#)
        .into_bytes();
    let (status, answer) = app.deliver(&body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["outcome"], "applied", "{answer}");

    let booking = app.booking("nul-1").await;
    assert!(
        booking.title.contains("Marco\u{fffd} Rossi"),
        "the NUL became U+FFFD: {:?}",
        booking.title
    );
    // The delivery is kept with the bytes as they came.
    let kept = app.deliveries_with("applied").await;
    assert_eq!(kept, 1);
    // A redelivery of the same bytes is a duplicate, not a second application.
    let (status, answer) = app.deliver(&body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["duplicate"], true, "{answer}");
}

/// An escaped backslash before `u0000` is the text `\u0000`, not a NUL: left as it is.
async fn an_escaped_backslash_is_not_a_nul(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = String::from_utf8(booked_by("nul-2", 72, "Marco Rossi", "marco@example.com"))
        .unwrap()
        .replace("Marco Rossi", "Marco\\\\u0000 Rossi")
        .into_bytes();
    let (status, answer) = app.deliver(&body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let booking = app.booking("nul-2").await;
    assert!(
        booking.title.contains("Marco\\u0000 Rossi"),
        "{:?}",
        booking.title
    );
}

on_both_backends!(
    a_body_with_json_nul_is_applied_and_kept,
    an_escaped_backslash_is_not_a_nul
);
