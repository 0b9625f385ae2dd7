//! `/admin/bookings`: live bookings by default, every status on request, the event type and the
//! attendee's zone in each row, and the search over title, attendee name and email, and notes.

use reqwest::StatusCode;

use super::{booked_with_notes, cancelled};
use crate::helpers::{AdminSession, Backend, TestApp};
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

/// The uids `/admin/bookings` lists for the search `q` over every status, in the page's order.
async fn searched(app: &TestApp, session: &AdminSession, q: &str) -> Vec<String> {
    let (status, page) = session
        .get(
            app,
            &format!("/admin/bookings?status=all&q={}", urlencode(q)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{q}");
    listed(&page).into_iter().map(str::to_owned).collect()
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
    let search = async |q: &str| searched(&app, &session, q).await;
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

/// A word in every title (at least `DENSE_MATCHES`, 2,000, bookings match) is answered by walking
/// the list's order on SQLite instead of through the search index: the same pages, in the same
/// order, as for a rare word. SQLite only: PostgreSQL plans each search with its own statistics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_matching_most_bookings_pages_in_start_order() {
    use calbook::store::{BookingFilter, Cursor, SortOrder};
    const BOOKINGS: usize = 2_050;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let uid = |i: usize| format!("DenseUid{i:013}");
    let bodies: Vec<Vec<u8>> = (0..BOOKINGS)
        .map(|i| {
            let notes = if i % 200 == 7 { "rare marker" } else { "" };
            booked_with_notes(
                &uid(i),
                24 + i as i64,
                "Ann Dense",
                "ann@dense.example",
                notes,
            )
        })
        .collect();
    for chunk in bodies.chunks(64) {
        let statuses = futures::future::join_all(chunk.iter().map(|b| app.deliver(b))).await;
        assert!(statuses.iter().all(|(s, _)| *s == StatusCode::OK));
    }
    let filter = |search: &str, after: Option<Cursor>| BookingFilter {
        search: Some(search.to_owned()),
        live: true,
        order: SortOrder::Ascending,
        after,
        limit: 50,
        ..Default::default()
    };
    let page = async |search: &str, after: Option<Cursor>| {
        app.store.bookings(&filter(search, after)).await.unwrap()
    };
    let walks = async |search: &str| {
        app.store
            .search_walks_the_order(&filter(search, None))
            .await
            .unwrap()
    };
    assert!(walks("intro call").await, "a word in every title is dense");
    assert!(
        !walks("rare marker").await,
        "11 matches go through the index"
    );
    // Every booking's title is the sample's "Intro call": dense.
    let first = page("intro call", None).await;
    let uids: Vec<String> = first.iter().map(|b| b.uid.clone()).collect();
    assert_eq!(uids, (0..50).map(uid).collect::<Vec<_>>());
    let last = first.last().unwrap();
    let cursor = Cursor {
        starts_at: last.starts_at,
        id: last.id,
    };
    let second = page("INTRO CALL", Some(cursor)).await;
    let uids: Vec<String> = second.iter().map(|b| b.uid.clone()).collect();
    assert_eq!(uids, (50..100).map(uid).collect::<Vec<_>>());
    // A rare word goes through the index and finds the same kind of answer.
    let rare = page("rare marker", None).await;
    let uids: Vec<String> = rare.iter().map(|b| b.uid.clone()).collect();
    assert_eq!(
        uids,
        (0..BOOKINGS)
            .filter(|i| i % 200 == 7)
            .map(uid)
            .collect::<Vec<_>>()
    );
    // And through the dashboard: the first page of the dense search, in start order.
    let session = app.sign_in_as_admin().await;
    let (status, html) = session.get(&app, "/admin/bookings?q=intro%20call").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed(&html)[..3], [uid(0), uid(1), uid(2)]);
}

/// The search index follows a booking's text, not its every write (migration 0018): a
/// cancellation (the same text, written whole) leaves the index untouched, notes learnt from a
/// repeated `BOOKING_CREATED` are indexed, and the index stays exactly the bookings' text (FTS5's
/// own integrity check compares the two). SQLite only: PostgreSQL maintains its trigram index.
#[tokio::test]
async fn the_search_index_is_rewritten_only_when_a_booking_text_changes() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (ann, bo) = ("TextUid00000000000001", "TextUid00000000000002");
    let first = booked_with_notes(ann, 24, "Ann Text", "ann@text.example", "pricing notes");
    let second = booked_with_notes(bo, 25, "Bo Other", "bo@other.example", "");
    for body in [&first, &second] {
        assert_eq!(app.deliver(body).await.0, 200);
    }
    let db = sqlx::SqlitePool::connect(&app.db.url).await.unwrap();
    // FTS5 rewrites this record (its segments and write counter) on every write to the index.
    let index_state = async || -> Vec<u8> {
        sqlx::query_scalar("SELECT block FROM bookings_search_data WHERE id = 10")
            .fetch_one(&db)
            .await
            .unwrap()
    };
    let integrity = async || {
        sqlx::query("INSERT INTO bookings_search (bookings_search) VALUES ('integrity-check')")
            .execute(&db)
            .await
            .expect("the index holds exactly the bookings' text");
    };
    let session = app.sign_in_as_admin().await;
    let search = async |q: &str| searched(&app, &session, q).await;
    assert_eq!(search("pricing").await, [ann]);
    assert!(search("budget").await.is_empty());

    let before = index_state().await;
    assert_eq!(app.deliver(&cancelled(&first)).await.0, 200);
    assert_eq!(app.booking(ann).await.status.as_str(), "cancelled");
    assert_eq!(
        index_state().await,
        before,
        "a status change with the same text writes nothing to the index"
    );
    integrity().await;
    assert_eq!(search("pricing").await, [ann]);

    let learnt = booked_with_notes(bo, 25, "Bo Other", "bo@other.example", "bring the BUDGET");
    assert_eq!(app.deliver(&learnt).await.0, 200);
    assert_eq!(
        app.booking(bo).await.notes.as_deref(),
        Some("bring the BUDGET")
    );
    assert_ne!(index_state().await, before, "the learnt notes are indexed");
    integrity().await;
    assert_eq!(search("budget").await, [bo]);
    assert_eq!(search("other.example").await, [bo]);
}
