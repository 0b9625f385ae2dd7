//! The booking page in a real headless Chromium ([`crate::browser::Browser`]) with Cal.com's
//! real `embed.js` (the pinned `@calcom/embed-core`, [`crate::calcom_embed`]) served from a local
//! Cal.com origin whose booker speaks the embed's message protocol ([`crate::calcom_stand_in`]):
//! the prefill and `metadata[...]` the booker receives, the branding instruction, the success
//! message after the booker's real `bookingSuccessful` events, and the broken-link and
//! unreachable-Cal.com states.

use std::collections::HashMap;
use std::time::Duration;

use fantoccini::Locator;

use crate::browser::Browser;
use crate::calcom_stand_in::{CalcomStandIn, Events};
use crate::helpers::*;

async fn app_with_embed(link: &str, embed_origin: String) -> TestApp {
    let link = link.to_owned();
    TestApp::spawn_with(Backend::Sqlite, move |s| {
        s.auth.jwt_secret = Some(JWT_SECRET.to_owned());
        s.auth.issuer = Some(ISSUER.to_owned());
        s.web.calcom_link = Some(link);
        s.web.embed_origin = Some(embed_origin);
        s.web.business_name = Some("Acme Consulting".into());
        s.web.brand_color = Some("#1f6feb".into());
    })
    .await
}

/// The query the booker page was loaded with, as Cal.com reads it.
fn query_of(uri: &axum::http::Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// Waits until the real embed has taken the booker's `linkReady` (its `<cal-inline>` says
/// `loading="done"`) and shown the iframe; returns the iframe's inline style.
async fn wait_for_link_ready(browser: &Browser) -> String {
    browser
        .client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#cal-inline cal-inline[loading=done]"))
        .await
        .expect("the embed reports the link ready");
    let style = browser
        .client
        .find(Locator::Css("#cal-inline iframe"))
        .await
        .unwrap()
        .attr("style")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(!style.contains("visibility: hidden"), "{style}");
    style
}

/// Clicks "Confirm" in the stand-in booker inside the embed's iframe.
async fn book_in_the_iframe(browser: &Browser, expect_name: &str, expect_email: &str) {
    let frame = browser
        .client
        .find(Locator::Css("#cal-inline iframe"))
        .await
        .unwrap();
    frame.enter_frame().await.unwrap();
    let name = browser.client.find(Locator::Css("#name")).await.unwrap();
    assert_eq!(
        name.prop("value").await.unwrap().as_deref(),
        Some(expect_name)
    );
    let email = browser.client.find(Locator::Css("#email")).await.unwrap();
    assert_eq!(
        email.prop("value").await.unwrap().as_deref(),
        Some(expect_email)
    );
    browser.click("#confirm").await;
    browser.client.enter_parent_frame().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_booking_page_drives_the_real_embed_with_prefill_and_metadata_and_shows_success() {
    let calcom = CalcomStandIn::start(Events::Current).await;
    let app = app_with_embed("acme/intro-call", calcom.origin()).await;
    let browser = Browser::start().await;
    // A signed-in client (the Supabase session cookie), so the page passes its id and proof.
    browser.client.goto(&app.url("/healthz")).await.unwrap();
    let mut c = claims(CLIENT_1, "ann@example.com");
    c["user_metadata"] = serde_json::json!({"full_name": "Ann Lee"});
    browser
        .client
        .execute(
            "document.cookie = 'sb-access-token=' + arguments[0] + '; path=/'",
            vec![serde_json::json!(hs256(&c))],
        )
        .await
        .unwrap();
    browser
        .client
        .goto(&app.url("/book?redirect=%2Faccount"))
        .await
        .unwrap();

    // The real embed loads the booker from the Cal.com origin with the prefill as its query.
    let seen = calcom
        .wait_for("the ui instruction after parentKnowsIframeReady", |s| {
            s.instruction("parentKnowsIframeReady").is_some() && s.instruction("ui").is_some()
        })
        .await;
    assert_eq!(seen.pages.len(), 1, "{seen:?}");
    assert_eq!(seen.pages[0].path(), "/acme/intro-call/embed");
    let q = query_of(&seen.pages[0]);
    assert_eq!(q["embed"], "calbook", "{q:?}");
    assert_eq!(q["embedType"], "inline", "{q:?}");
    assert_eq!(q["layout"], "month_view", "{q:?}");
    assert_eq!(q["name"], "Ann Lee", "{q:?}");
    assert_eq!(q["email"], "ann@example.com", "{q:?}");
    assert_eq!(q["metadata[client_id]"], CLIENT_1, "{q:?}");
    let key = calbook::auth::ownership::OwnershipKey::from_secret(OWNERSHIP_KEY);
    assert_eq!(
        key.verify(
            &q["metadata[client_proof]"],
            CLIENT_1.parse().unwrap(),
            "ann@example.com",
            calbook::time::now()
        ),
        Ok(()),
        "the proof is for this client and email"
    );
    // The branding reached the booker through the embed's `ui` instruction.
    let ui = &seen.instruction("ui").unwrap()["arg"];
    assert_eq!(ui["styles"]["branding"]["brandColor"], "#1f6feb", "{ui}");
    assert_eq!(
        ui["cssVarsPerTheme"]["light"]["cal-brand"], "#1f6feb",
        "{ui}"
    );
    assert_eq!(ui["layout"], "month_view", "{ui}");

    let style = wait_for_link_ready(&browser).await;
    assert!(style.contains("height:") && style.contains("px"), "{style}");
    assert!(
        browser
            .client
            .find(Locator::Css("#cal-inline .loading"))
            .await
            .is_err(),
        "calbook's own loading line is gone once the embed shows its booker"
    );
    let status_box = browser
        .client
        .find(Locator::Css("#booking-status"))
        .await
        .unwrap();
    assert!(
        !status_box.is_displayed().await.unwrap(),
        "no message before a booking"
    );

    book_in_the_iframe(&browser, "Ann Lee", "ann@example.com").await;
    let status = browser.wait_for_text("#booking-status", "booked").await;
    assert!(status.contains("confirmation email"), "{status}");
    assert!(status.contains("2026"), "the meeting's date: {status}");
    let seen = calcom
        .wait_for("the booking", |s| s.booked().is_some())
        .await;
    let booked = seen.booked().unwrap();
    assert_eq!(booked["metadata"]["client_id"], CLIENT_1, "{booked}");
    assert_eq!(
        booked["metadata"]["client_proof"].as_str(),
        Some(q["metadata[client_proof]"].as_str())
    );
    let cont = browser.text("#booking-continue a").await;
    assert_eq!(cont, "Continue");
    assert!(
        browser
            .text("#next-heading")
            .await
            .contains("What happens next")
    );
    browser.screenshots("book").await;
    browser.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_cal_com_that_sends_only_booking_successful_still_gets_the_success_message() {
    let calcom = CalcomStandIn::start(Events::LegacyOnly).await;
    let app = app_with_embed("acme/intro-call", calcom.origin()).await;
    let browser = Browser::start().await;
    browser
        .client
        .goto(&app.url("/book?name=Bea%20Ng&email=bea%40example.com"))
        .await
        .unwrap();
    wait_for_link_ready(&browser).await;
    let seen = calcom
        .wait_for("the booker page", |s| !s.pages.is_empty())
        .await;
    let q = query_of(&seen.pages[0]);
    assert_eq!(q["name"], "Bea Ng", "{q:?}");
    assert_eq!(q["email"], "bea@example.com", "{q:?}");
    assert!(
        !q.keys().any(|k| k.starts_with("metadata[")),
        "no client id without a sign-in: {q:?}"
    );
    book_in_the_iframe(&browser, "Bea Ng", "bea@example.com").await;
    let status = browser.wait_for_text("#booking-status", "booked").await;
    assert!(status.contains("2026"), "{status}");
    browser.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_that_needs_the_hosts_confirmation_is_shown_as_a_request() {
    let calcom = CalcomStandIn::start(Events::NeedsConfirmation).await;
    let app = app_with_embed("acme/intro-call", calcom.origin()).await;
    let browser = Browser::start().await;
    browser
        .client
        .goto(&app.url("/book?name=Bea%20Ng&email=bea%40example.com"))
        .await
        .unwrap();
    wait_for_link_ready(&browser).await;
    book_in_the_iframe(&browser, "Bea Ng", "bea@example.com").await;
    let status = browser.wait_for_text("#booking-status", "request").await;
    assert!(status.contains("once it is confirmed"), "{status}");
    assert!(!status.contains("is booked"), "not confirmed yet: {status}");
    browser.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_that_fails_to_load_shows_a_failure_message() {
    let calcom = CalcomStandIn::start(Events::Current).await;
    let app = app_with_embed("acme/broken-event", calcom.origin()).await;
    let browser = Browser::start().await;
    browser.client.goto(&app.url("/book")).await.unwrap();
    let status = browser
        .wait_for_text("#booking-status", "could not be shown")
        .await;
    assert!(status.contains("404"), "{status}");
    // The real embed marks its own element failed, too.
    browser.text("#cal-inline cal-inline[loading=failed]").await;
    browser.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_cal_com_shows_that_the_calendar_could_not_be_loaded() {
    // A port nothing listens on: embed.js cannot be fetched (offline, or a wrong origin).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let app = app_with_embed("acme/intro-call", format!("http://{closed}")).await;
    let browser = Browser::start().await;
    browser.client.goto(&app.url("/book")).await.unwrap();
    let status = browser
        .wait_for_text("#booking-status", "could not be loaded")
        .await;
    assert!(status.contains("try again later"), "{status}");
    // One message: the placeholder is gone, and the message links to the event on Cal.com.
    let link = browser
        .client
        .find(Locator::Css("#booking-status a"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap();
    assert_eq!(
        link.as_deref(),
        Some(format!("http://{closed}/acme/intro-call").as_str())
    );
    let page = browser.client.source().await.unwrap();
    assert!(!page.contains("Loading the booking calendar"), "{page}");
    browser.stop().await;
}
