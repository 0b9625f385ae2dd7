//! The Emails tab (issue 14): it opens on every recent email, newest first, with a tab and a
//! count per state.

use std::collections::BTreeMap;

use reqwest::StatusCode;

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(the_emails_tab_opens_on_everything_recent_with_counts_per_state);

async fn the_emails_tab_opens_on_everything_recent_with_counts_per_state(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.deliver(&booked_by(
        "MailA000000000000001",
        48,
        "Ann",
        "ann@example.com",
    ))
    .await;
    app.drain_outbox().await;
    app.deliver(&booked_by(
        "MailB000000000000001",
        72,
        "Bob",
        "bob@example.com",
    ))
    .await;
    let jobs = app.store.outbox(None, 500).await.unwrap();
    let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
    for j in &jobs {
        *by_state.entry(j.state.as_str()).or_default() += 1;
    }
    assert!(
        by_state.get("sent").is_some_and(|n| *n >= 1),
        "{by_state:?}"
    );
    assert!(
        by_state.get("pending").is_some_and(|n| *n >= 1),
        "{by_state:?}"
    );

    let session = app.sign_in_as_admin().await;
    let (status, page) = session.get(&app, "/admin/emails").await;
    assert_eq!(status, StatusCode::OK);
    let tabs = &page[page.find("id=\"email-tabs\"").unwrap()..];
    let tabs = &tabs[..tabs.find("</nav>").unwrap()];
    assert!(
        tabs.contains(&format!(
            "aria-current=\"page\">all <span class=\"count\">({})</span>",
            jobs.len()
        )),
        "{tabs}"
    );
    for s in ["pending", "sending", "sent", "skipped", "dead"] {
        let n = by_state.get(s).copied().unwrap_or(0);
        assert!(
            tabs.contains(&format!(">{s} <span class=\"count\">({n})</span>")),
            "{s}: {tabs}"
        );
    }
    // Both bookings' emails, the newest change first: Bob's (just planned) before Ann's (sent).
    let bob = page.find("MailB000000000000001").expect("Bob's emails");
    let ann = page.find("MailA000000000000001").expect("Ann's emails");
    assert!(bob < ann, "newest first");

    // A state tab lists only that state.
    let (status, page) = session.get(&app, "/admin/emails?state=sent").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("MailA000000000000001"));
    assert!(
        !page.contains("MailB000000000000001"),
        "Bob's are not sent yet"
    );
}
