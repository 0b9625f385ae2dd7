//! The CSV export of the filtered bookings list: `/admin/bookings.csv` (linked from the list)
//! and `calbook bookings export --csv`.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE};

use super::{booked_with_notes, cancelled};
use crate::cli::calbook;
use crate::helpers::{Backend, TestApp, no_redirects};
use crate::on_both_backends;

on_both_backends!(the_filtered_list_exports_as_csv);

fn rows(text: &str) -> Vec<csv::StringRecord> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        r.headers().unwrap().iter().take(3).collect::<Vec<_>>(),
        ["uid", "status", "starts_at"]
    );
    r.records().map(Result::unwrap).collect()
}

async fn the_filtered_list_exports_as_csv(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tricky = booked_with_notes(
        "CsvUid000000000000001",
        24,
        "Ann \\\"Nan\\\" Lee, Jr.",
        "ann@example.com",
        "=HYPERLINK(\\\"http://x\\\")\\nsecond line",
    );
    let plain = booked_with_notes("CsvUid000000000000002", 25, "Bo", "bo@example.com", "");
    let gone = booked_with_notes("CsvUid000000000000003", 26, "Cy", "cy@example.com", "");
    for body in [&tricky, &plain, &gone] {
        assert_eq!(app.deliver(body).await.0, 200);
    }
    assert_eq!(app.deliver(&cancelled(&gone)).await.0, 200);
    let session = app.sign_in_as_admin().await;

    // The list links to the export of the same filters.
    let (_, page) = session.get(&app, "/admin/bookings?q=lee").await;
    assert!(
        page.contains("href=\"/admin/bookings.csv?q=lee\""),
        "{page}"
    );
    let r = no_redirects()
        .get(app.url("/admin/bookings.csv?q=lee"))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[CONTENT_TYPE], "text/csv; charset=utf-8");
    assert!(
        r.headers()[CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains("bookings.csv")
    );
    let text = r.text().await.unwrap();
    let found = rows(&text);
    assert_eq!(found.len(), 1, "{text}");
    let row = &found[0];
    assert_eq!(&row[0], "CsvUid000000000000001");
    assert_eq!(&row[7], "Ann \"Nan\" Lee, Jr.", "quotes and commas survive");
    assert_eq!(
        &row[11], "'=HYPERLINK(\"http://x\")\nsecond line",
        "a formula is defused, the line break kept"
    );
    assert_eq!(&row[9], "America/New_York");
    assert!(
        text.contains("\"Ann \"\"Nan\"\" Lee, Jr.\""),
        "RFC 4180 quoting: {text}"
    );

    // Live by default; all on request; without a session, the sign-in.
    let (status, live) = session.get(&app, "/admin/bookings.csv").await;
    assert_eq!(status, StatusCode::OK);
    let uids: Vec<String> = rows(&live).iter().map(|r| r[0].to_owned()).collect();
    assert_eq!(uids, ["CsvUid000000000000001", "CsvUid000000000000002"]);
    let (_, all) = session.get(&app, "/admin/bookings.csv?status=all").await;
    assert_eq!(rows(&all).len(), 3);
    let r = no_redirects()
        .get(app.url("/admin/bookings.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // The CLI writes the same rows.
    let out = calbook(&app, &["bookings", "export", "--csv", "--live"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli = String::from_utf8(out.stdout).unwrap();
    assert_eq!(rows(&cli).len(), 2);
    assert_eq!(rows(&cli)[0][7], found[0][7]);
    let out = calbook(&app, &["bookings", "export", "--csv", "--search", "cy@"]);
    let cli = String::from_utf8(out.stdout).unwrap();
    assert_eq!(rows(&cli).len(), 1);
    assert_eq!(&rows(&cli)[0][1], "cancelled");
    let out = calbook(&app, &["bookings", "export"]);
    assert!(!out.status.success(), "--csv is required");
}
