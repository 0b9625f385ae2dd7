//! The numbers' chart and a booking page's actions in a real headless Chromium (the harness
//! and its accessibility checks are `crate::browser`'s): the chart is there, labelled, with the
//! right totals; a note, a resend and the Cal.com actions (against the stand-in API) work from
//! the page's own forms.

use fantoccini::Locator;

use super::stats::{SEEDED, seed_week};
use crate::browser::Browser;
use crate::helpers::*;

/// Signs in through the login form and lands on `path`.
async fn sign_in(browser: &Browser, app: &TestApp, path: &str) {
    browser
        .client
        .goto(&app.url(&format!("/admin/login?next={path}")))
        .await
        .unwrap();
    browser.fill("#token", &format!("{ADMIN_TOKEN}\n")).await;
    browser.wait_for_path(path).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_is_labelled_and_shows_the_seeded_totals() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.web.admin_time_zone = Some("Europe/Berlin".to_owned());
    })
    .await;
    seed_week(&app).await;
    let browser = Browser::start().await;
    sign_in(&browser, &app, "/admin/stats").await;

    let chart = browser
        .client
        .find(Locator::Css("svg#stats-chart"))
        .await
        .expect("the chart");
    assert_eq!(chart.attr("role").await.unwrap().as_deref(), Some("img"));
    // Its accessible name and description are the title and desc it points to.
    let labelled = chart.attr("aria-labelledby").await.unwrap().unwrap();
    for id in labelled.split_whitespace() {
        let text = browser
            .client
            .execute(
                "return document.getElementById(arguments[0]).textContent",
                vec![id.into()],
            )
            .await
            .unwrap();
        assert!(!text.as_str().unwrap().trim().is_empty(), "#{id} is empty");
    }
    let desc = browser
        .client
        .execute(
            "return document.getElementById('stats-chart-desc').textContent",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        desc.as_str()
            .unwrap()
            .contains("4 bookings, 1 cancellation, 1 reschedule and 1 no-show"),
        "{desc}"
    );
    // A legend, axis titles, and a bar per series and week, each with its own title.
    let svg_text = browser
        .client
        .execute(
            "return [...document.querySelectorAll('#stats-chart text')].map(t => t.textContent).join('|')",
            vec![],
        )
        .await
        .unwrap();
    let svg_text = svg_text.as_str().unwrap();
    for label in [
        "Bookings",
        "Cancellations",
        "Reschedules",
        "No-shows",
        "Count per week",
        "Week starting (Monday, Europe/Berlin)",
    ] {
        assert!(svg_text.contains(label), "{label} in {svg_text}");
    }
    let bars = browser
        .client
        .find_all(Locator::Css("#stats-chart .bars rect"))
        .await
        .unwrap();
    assert_eq!(bars.len(), 12 * 4);
    let titles = browser
        .client
        .execute(
            "return [...document.querySelectorAll('#stats-chart .bars rect title')].slice(-4).map(t => t.textContent)",
            vec![],
        )
        .await
        .unwrap();
    let titles: Vec<String> = serde_json::from_value(titles).unwrap();
    for ((key, n), title) in SEEDED.iter().zip(&titles) {
        assert!(
            title.ends_with(&format!(": {n} {}", key.replace('_', "-"))),
            "{key}: {title}"
        );
    }
    // The table beside it has the totals.
    let totals = browser.text("#stats-totals").await;
    assert_eq!(
        totals.split_whitespace().collect::<Vec<_>>(),
        ["Total", "4", "1", "1", "1"]
    );
    browser.screenshots("admin-stats").await;
    browser.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_resend_and_calcom_actions_from_the_booking_page() {
    let api = CalcomApi::start().await;
    let url = api.url();
    let app = TestApp::spawn_with(Backend::Sqlite, move |s| {
        s.calcom.api_key = Some(CALCOM_API_KEY.to_owned());
        s.calcom.api_url = url;
    })
    .await;
    let uid = "BrowserAct0000000001";
    api.put(api_booking(uid, "accepted", 48, "marco.rossi@example.com"));
    app.deliver(&created_at(hours_from_now(48), uid)).await;
    let b = app.booking(uid).await;
    let page = format!("/admin/bookings/{uid}");
    let browser = Browser::start().await;
    sign_in(&browser, &app, &page).await;
    browser.assert_accessible().await;

    // An internal note.
    browser
        .fill("#note-text", "Prefers mornings <script>alert(1)</script>")
        .await;
    browser.click("#note-form button").await;
    browser.wait_for_path(&format!("{page}?done=note")).await;
    browser
        .wait_for_text("#action-done", "The note is saved.")
        .await;
    browser
        .wait_for_text("#history", "Prefers mornings <script>alert(1)</script>")
        .await;
    assert!(
        browser.client.get_alert_text().await.is_err(),
        "no script ran"
    );

    // The confirmation, sent again.
    let before = app.store.outbox_for_booking(b.id).await.unwrap().len();
    browser.click("#resend-form button").await;
    browser.wait_for_path(&format!("{page}?done=resend")).await;
    browser
        .wait_for_text(
            "#history",
            "email sent again: confirmation to marco.rossi@example.com",
        )
        .await;
    assert_eq!(
        app.store.outbox_for_booking(b.id).await.unwrap().len(),
        before + 1
    );

    // Cancel through Cal.com: the stand-in is asked, nothing changes here yet.
    browser.fill("#cancel-reason", "Host is ill").await;
    browser.click("#cancel-form button").await;
    browser.wait_for_path(&format!("{page}?done=cancel")).await;
    browser
        .wait_for_text("#action-done", "Cal.com accepted the cancellation")
        .await;
    browser
        .wait_for_text("#history", "requested cancel via Cal.com: Host is ill")
        .await;
    let calls = api.booking_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (calls[0].action.as_str(), calls[0].uid.as_str()),
        ("cancel", uid)
    );
    assert_eq!(app.booking(uid).await.status.as_str(), "confirmed");

    // Cal.com refuses a reschedule request for the booking it has cancelled: the error is shown,
    // the reason typed is kept, nothing is recorded.
    let actions = app.count("booking_actions").await;
    browser.fill("#reschedule-reason", "Office closed").await;
    browser.click("#reschedule-form button").await;
    browser
        .wait_for_text("#action-error", "Nothing changed.")
        .await;
    let error = browser.text("#action-error").await;
    assert!(error.contains("already been cancelled"), "{error}");
    let kept = browser
        .client
        .find(Locator::Css("#reschedule-reason"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("Office closed"));
    assert_eq!(app.count("booking_actions").await, actions);
    browser.screenshots("admin-booking-actions").await;
    browser.stop().await;
}
