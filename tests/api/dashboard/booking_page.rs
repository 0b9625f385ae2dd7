//! A booking's dashboard page (issue 14): its history in words and the dashboard's zone, and
//! the admin's actions (an internal note, an email sent again, a cancel or a reschedule request
//! through Cal.com's API, here the stand-in), on both backends.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    history_names_each_change_in_words_in_the_dashboard_zone,
    notes_are_kept_bounded_and_shown_only_on_the_dashboard,
    resend_queues_the_current_email_again_under_a_new_key,
    cancel_and_reschedule_requests_go_to_calcom_and_change_nothing_here,
    calcom_actions_need_an_api_key
);

/// POSTs a dashboard form as the signed-in admin: status, `Location`, body.
pub async fn post_form(
    app: &TestApp,
    session: &AdminSession,
    path: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, Option<String>, String) {
    let mut form = vec![("csrf", session.csrf.as_str())];
    form.extend_from_slice(fields);
    let r = no_redirects()
        .post(app.url(path))
        .header("cookie", &session.cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    (r.status(), location, r.text().await.unwrap())
}

/// The `<ol id="history">` of a booking page.
fn history(page: &str) -> &str {
    let start = page.find("id=\"history\"").expect("a history");
    let rest = &page[start..];
    &rest[..rest.find("</ol>").unwrap()]
}

async fn history_names_each_change_in_words_in_the_dashboard_zone(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.web.admin_time_zone = Some("Europe/Berlin".to_owned());
    })
    .await;
    app.deliver_sample("created").await;
    app.deliver_sample("rescheduled").await;
    let session = app.sign_in_as_admin().await;
    let (status, page) = session
        .get(&app, &format!("/admin/bookings/{CREATED_UID}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let h = history(&page);
    // 14:00 UTC on 10 March is 15:00 in Berlin; the new time 15:00 UTC on 12 March, 16:00.
    assert!(h.contains("booked for Tue 10 Mar 15:00"), "{h}");
    assert!(
        h.contains("moved from Tue 10 Mar 15:00 to Thu 12 Mar 16:00"),
        "{h}"
    );
    assert!(!h.contains("— → —"), "{h}");
    assert!(!h.contains("&mdash; → &mdash;"), "{h}");
    assert!(!h.contains("2026-03-10T14:00:00Z"), "no raw instants: {h}");
    let (_, page) = session
        .get(&app, &format!("/admin/bookings/{RESCHEDULED_UID}"))
        .await;
    let h = history(&page);
    assert!(
        h.contains("moved from Tue 10 Mar 15:00 to Thu 12 Mar 16:00 (booked as the new time)"),
        "{h}"
    );
}

async fn notes_are_kept_bounded_and_shown_only_on_the_dashboard(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.deliver_sample("created").await;
    let session = app.sign_in_as_admin().await;
    let path = format!("/admin/bookings/{CREATED_UID}/notes");
    let note = "Prefers mornings; <b>VIP</b> client";
    let (status, location, _) = post_form(&app, &session, &path, &[("text", note)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        location.as_deref(),
        Some(format!("/admin/bookings/{CREATED_UID}?done=note").as_str())
    );
    let (_, page) = session.get(&app, location.as_deref().unwrap()).await;
    assert!(page.contains("The note is saved."), "{page}");
    let h = history(&page);
    assert!(h.contains("Internal note"), "{h}");
    assert!(
        h.contains("Prefers mornings; &lt;b&gt;VIP&lt;&#x2f;b&gt; client"),
        "shown as text: {h}"
    );

    // Empty and too long: refused with the reason, the text kept, nothing stored.
    let (status, _, page) = post_form(&app, &session, &path, &[("text", "   ")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("The note is empty"), "{page}");
    let long = "x".repeat(2001);
    let (status, _, page) = post_form(&app, &session, &path, &[("text", &long)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("at most 2000 characters; this one has 2001"),
        "{page}"
    );
    assert!(page.contains(&long), "the text typed is kept");
    assert_eq!(app.count("booking_actions").await, 1);
    // A form without the session's token is refused.
    let r = no_redirects()
        .post(app.url(&path))
        .header("cookie", &session.cookie)
        .form(&[("text", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("booking_actions").await, 1);

    // The bookings API's history (what a client may read) has no note.
    let (status, _, body) = api::get(
        &app,
        &format!("/api/bookings/{CREATED_UID}/history"),
        Some(ADMIN_TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.to_string().contains("Prefers mornings"), "{body}");
}

async fn resend_queues_the_current_email_again_under_a_new_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.deliver_sample("created").await;
    let b = app.booking(CREATED_UID).await;
    let confirmations = |jobs: &[calbook::outbox::OutboxJob]| -> Vec<String> {
        jobs.iter()
            .filter(|j| j.kind.as_str() == "confirmation")
            .map(|j| j.idempotency_key.clone())
            .collect()
    };
    let before = confirmations(&app.store.outbox_for_booking(b.id).await.unwrap());
    assert_eq!(before.len(), 1, "{before:?}");
    let session = app.sign_in_as_admin().await;
    let (status, location, _) = post_form(
        &app,
        &session,
        &format!("/admin/bookings/{CREATED_UID}/resend"),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let after = confirmations(&app.store.outbox_for_booking(b.id).await.unwrap());
    assert_eq!(after.len(), 2, "{after:?}");
    let fresh: Vec<_> = after.iter().filter(|k| !before.contains(k)).collect();
    assert_eq!(fresh.len(), 1);
    assert!(
        fresh[0].starts_with(&format!("booking/{CREATED_UID}/confirmation/resend/")),
        "{fresh:?}"
    );
    let (_, page) = session.get(&app, location.as_deref().unwrap()).await;
    assert!(
        page.contains("The email is queued to be sent again."),
        "{page}"
    );
    assert!(
        history(&page).contains("email sent again: confirmation to marco.rossi@example.com"),
        "{page}"
    );
    // The outbox sends it: a second email reaches the provider.
    app.drain_outbox().await;
    let sent = app
        .store
        .outbox_for_booking(b.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind.as_str() == "confirmation" && j.state.as_str() == "sent")
        .count();
    assert_eq!(sent, 2);
}

/// calbook with the Cal.com stand-in's key and address, and one booking both know.
async fn with_calcom(backend: Backend, api: &CalcomApi, uid: &str) -> TestApp {
    let url = api.url();
    let app = TestApp::spawn_with(backend, move |s| {
        s.calcom.api_key = Some(CALCOM_API_KEY.to_owned());
        s.calcom.api_url = url;
    })
    .await;
    api.put(api_booking(uid, "accepted", 48, "marco.rossi@example.com"));
    let (status, _) = app.deliver(&created_at(hours_from_now(48), uid)).await;
    assert_eq!(status, StatusCode::OK);
    app
}

async fn cancel_and_reschedule_requests_go_to_calcom_and_change_nothing_here(backend: Backend) {
    let api = CalcomApi::start().await;
    let uid = "ActUid000000000000001";
    let app = with_calcom(backend, &api, uid).await;
    let session = app.sign_in_as_admin().await;
    let (_, page) = session.get(&app, &format!("/admin/bookings/{uid}")).await;
    assert!(page.contains("id=\"cancel-form\""), "{page}");
    assert!(page.contains("id=\"reschedule-form\""), "{page}");

    // A cancel without a reason is refused before Cal.com is asked.
    let cancel = format!("/admin/bookings/{uid}/cancel");
    let (status, _, page) = post_form(&app, &session, &cancel, &[("text", "")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("Give a reason"), "{page}");
    assert!(api.booking_calls().is_empty());

    let (status, location, _) =
        post_form(&app, &session, &cancel, &[("text", "Host is ill")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let calls = api.booking_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (calls[0].action.as_str(), calls[0].uid.as_str()),
        ("cancel", uid)
    );
    assert_eq!(calls[0].body, json!({"cancellationReason": "Host is ill"}));
    assert!(
        api.seen().iter().all(|s| s.version_header),
        "cal-api-version on every call"
    );
    // Nothing changed here until Cal.com's webhook arrives.
    assert_eq!(app.booking(uid).await.status.as_str(), "confirmed");
    let (_, page) = session.get(&app, location.as_deref().unwrap()).await;
    assert!(page.contains("Cal.com accepted the cancellation"), "{page}");
    assert!(
        history(&page).contains("requested cancel via Cal.com: Host is ill"),
        "{page}"
    );

    // Cal.com refuses a second cancel (already cancelled there): the page says so, nothing is
    // recorded.
    let actions = app.count("booking_actions").await;
    let (status, _, page) = post_form(&app, &session, &cancel, &[("text", "again")]).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(page.contains("Nothing changed."), "{page}");
    assert!(page.contains("already been cancelled"), "{page}");
    assert!(page.contains("value=\"again\""), "the reason typed is kept");
    assert_eq!(app.count("booking_actions").await, actions);

    // A reschedule request on another booking both know.
    let other = "ActUid000000000000002";
    api.put(api_booking(
        other,
        "accepted",
        50,
        "marco.rossi@example.com",
    ));
    app.deliver(&created_at(hours_from_now(50), other)).await;
    let (status, _, _) = post_form(
        &app,
        &session,
        &format!("/admin/bookings/{other}/request-reschedule"),
        &[("text", "Office closed that day")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let last = api.booking_calls().pop().unwrap();
    assert_eq!(
        (last.action.as_str(), last.uid.as_str(), last.body),
        (
            "request-reschedule",
            other,
            json!({"rescheduleReason": "Office closed that day"})
        )
    );
    let (_, page) = session.get(&app, &format!("/admin/bookings/{other}")).await;
    assert!(
        history(&page).contains("requested a new time via Cal.com: Office closed that day"),
        "{page}"
    );
    assert_eq!(app.booking(other).await.status.as_str(), "confirmed");
}

async fn calcom_actions_need_an_api_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.deliver_sample("created").await;
    let session = app.sign_in_as_admin().await;
    let (_, page) = session
        .get(&app, &format!("/admin/bookings/{CREATED_UID}"))
        .await;
    assert!(page.contains("id=\"calcom-actions-off\""), "{page}");
    assert!(!page.contains("id=\"cancel-form\""), "{page}");
    let (status, _, page) = post_form(
        &app,
        &session,
        &format!("/admin/bookings/{CREATED_UID}/cancel"),
        &[("text", "x")],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("CALCOM_API_KEY"), "{page}");
    assert_eq!(app.count("booking_actions").await, 0);
}
