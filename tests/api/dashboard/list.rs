//! `/admin/bookings`: live bookings by default, every status on request, the event type and the
//! attendee's zone in each row, and the search over title, attendee name and email, and notes.

use reqwest::StatusCode;

use super::{booked_with_notes, cancelled};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    the_list_shows_live_bookings_unless_asked_for_all,
    the_search_finds_title_attendee_email_and_notes
);

fn listed(html: &str) -> Vec<&str> {
    html.split("href=\"/admin/bookings/")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect()
}

async fn the_list_shows_live_bookings_unless_asked_for_all(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let kept = booked_with_notes(
        "LiveUid00000000000001",
        24,
        "Ann Live",
        "ann@example.com",
        "",
    );
    let gone = booked_with_notes(
        "GoneUid00000000000001",
        25,
        "Bob Gone",
        "bob@example.com",
        "",
    );
    for body in [&kept, &gone] {
        assert_eq!(app.deliver(body).await.0, 200);
    }
    assert_eq!(app.deliver(&cancelled(&gone)).await.0, 200);
    assert_eq!(
        app.booking("GoneUid00000000000001").await.status.as_str(),
        "cancelled"
    );
    let session = app.sign_in_as_admin().await;

    let (status, page) = session.get(&app, "/admin/bookings").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed(&page), ["LiveUid00000000000001"], "{page}");
    // The row names the event type and the attendee's own zone (the sample's attendee is in
    // New York, the organizer in Berlin).
    let row = page.split("LiveUid00000000000001").nth(1).unwrap();
    let row = row.split("</tr>").next().unwrap();
    assert!(row.contains("<td>intro-call</td>"), "{row}");
    assert!(row.contains("<td>America&#x2f;New_York</td>"), "{row}");

    let (_, all) = session.get(&app, "/admin/bookings?status=all").await;
    assert_eq!(
        listed(&all),
        ["LiveUid00000000000001", "GoneUid00000000000001"],
        "{all}"
    );
    assert!(all.contains("<option value=\"all\" selected>"));
    let (_, only) = session.get(&app, "/admin/bookings?status=cancelled").await;
    assert_eq!(listed(&only), ["GoneUid00000000000001"]);
}

async fn the_search_finds_title_attendee_email_and_notes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let rows = [
        (
            "SrchUid00000000000001",
            "Zoë O'Brien",
            "zoe@obrien.example",
            "Quarterly pricing review",
        ),
        (
            "SrchUid00000000000002",
            "Li Wu",
            "li@wu.example",
            "bring the 100% cotton samples",
        ),
        (
            "SrchUid00000000000003",
            "Ann Other",
            "ann@other.example",
            "",
        ),
    ];
    for (i, (uid, name, email, notes)) in rows.iter().enumerate() {
        let body = booked_with_notes(uid, 24 + i as i64, name, email, notes);
        assert_eq!(app.deliver(&body).await.0, 200);
    }
    let session = app.sign_in_as_admin().await;
    let search = async |q: &str| {
        let (status, page) = session
            .get(
                &app,
                &format!("/admin/bookings?status=all&q={}", urlencode(q)),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{q}");
        listed(&page)
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let uid = |n: usize| rows[n - 1].0.to_owned();
    // Notes, case-insensitively, and a substring inside a word.
    assert_eq!(search("PRICING").await, [uid(1)]);
    assert_eq!(search("arterl").await, [uid(1)]);
    // Name (with its quote and accent), email.
    assert_eq!(search("o'brien").await, [uid(1)]);
    assert_eq!(search("Zoë").await, [uid(1)]);
    assert_eq!(search("wu.example").await, [uid(2)]);
    // LIKE and FTS syntax are plain text.
    assert_eq!(search("100%").await, [uid(2)]);
    assert_eq!(search("\"cotton").await, Vec::<String>::new());
    assert_eq!(search("cotton OR ann").await, Vec::<String>::new());
    // The title every sample shares; a two-letter search (too short for a trigram index).
    assert_eq!(search("intro call").await, [uid(1), uid(2), uid(3)]);
    assert_eq!(search("Wu").await, [uid(2)]);
    assert!(search("nobody-like-this").await.is_empty());

    // A cancellation rewrites the row: the index follows (no stale or doubled entry).
    let first = booked_with_notes(rows[0].0, 24, rows[0].1, rows[0].2, rows[0].3);
    assert_eq!(app.deliver(&super::cancelled(&first)).await.0, 200);
    assert_eq!(search("pricing").await, [uid(1)]);
    let (_, live) = session.get(&app, "/admin/bookings?q=pricing").await;
    assert!(listed(&live).is_empty(), "{live}");
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
