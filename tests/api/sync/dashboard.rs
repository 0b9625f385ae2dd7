//! The last sync on the dashboard and in `/metrics`; a delivery's body and its Replay button.

use calbook::store::Outcome;
use calbook::sync::{Mode, RunOutcome};
use reqwest::StatusCode;
use reqwest::header::LOCATION;

use super::{settings, sync, syncer, syncer_with};
use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    the_dashboard_and_metrics_show_the_last_sync,
    a_delivery_is_shown_and_replayed_from_the_dashboard,
);

async fn the_dashboard_and_metrics_show_the_last_sync(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.sign_in_as_admin().await;
    let (_, page) = admin.get(&app, "/admin/deliveries").await;
    assert!(page.contains("No sync with Cal.com yet"), "{page}");

    let api = CalcomApi::start().await;
    api.put(api_booking("b1", "accepted", 48, "kim@example.com"));
    api.put(api_booking("b2", "accepted", 48, "lee@example.com"));
    sync(&mut syncer(&app, &api)).await;
    let (_, page) = admin.get(&app, "/admin/deliveries").await;
    assert!(page.contains("Last sync with Cal.com"), "{page}");
    assert!(page.contains(">ok</strong>"), "{page}");
    assert!(page.contains("2 booking(s) read, 2 repaired"), "{page}");
    let (_, booking) = admin.get(&app, "/admin/bookings/b1").await;
    assert!(
        booking.contains("found by the sync with Cal.com"),
        "{booking}"
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("calbook_sync_repairs_total 2"),
        "{metrics}"
    );
    assert!(metrics.contains("calbook_sync_last_ok 1"));
    let success: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("calbook_sync_last_success_timestamp_seconds "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(success > 1.7e9, "a real time: {success}");

    // A refused key shows on the dashboard, and /metrics says the last pass failed while
    // keeping the last success.
    let mut bad = syncer_with(&app, &settings(&api, "cal_wrong"));
    assert!(matches!(
        bad.run(None, Mode::Apply).await,
        RunOutcome::Failed(..)
    ));
    let (_, page) = admin.get(&app, "/admin/deliveries").await;
    assert!(
        page.contains("unauthorized") && page.contains("CALCOM_API_KEY"),
        "{page}"
    );
    let metrics = app.metrics().await;
    assert!(metrics.contains("calbook_sync_last_ok 0"));
    assert!(metrics.contains(&format!(
        "calbook_sync_last_success_timestamp_seconds {success}"
    )));
}

async fn a_delivery_is_shown_and_replayed_from_the_dashboard(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.ingest.admission.max_attendees = 1).await;
    let mut body: serde_json::Value = serde_json::from_slice(&sample("created")).unwrap();
    let extra = body["payload"]["attendees"][0].clone();
    body["payload"]["attendees"]
        .as_array_mut()
        .unwrap()
        .push(extra);
    let (status, _) = app.deliver(&serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let id = app
        .store
        .deliveries_with_outcome(Some(Outcome::Rejected), 1)
        .await
        .unwrap()[0]
        .id;
    let admin = app.sign_in_as_admin().await;
    let (_, list) = admin.get(&app, "/admin/deliveries").await;
    assert!(list.contains(&format!("/admin/deliveries/{id}")), "{list}");
    let (status, page) = admin.get(&app, &format!("/admin/deliveries/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(CREATED_UID) && page.contains("marco.rossi@example.com"));
    assert!(page.contains("Replay"));

    // Under this server's rules the replay is rejected again, as a new delivery; without the
    // CSRF token it is refused.
    let post = |form: Vec<(&'static str, String)>| {
        no_redirects()
            .post(app.url(&format!("/admin/deliveries/{id}/replay")))
            .header("cookie", &admin.cookie)
            .form(&form)
            .send()
    };
    assert_eq!(post(vec![]).await.unwrap().status(), StatusCode::FORBIDDEN);
    let r = post(vec![("csrf", admin.csrf.clone())]).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()[LOCATION].to_str().unwrap().to_owned();
    assert_ne!(to, format!("/admin/deliveries/{id}"), "a new delivery");
    let (_, replayed) = admin.get(&app, &to).await;
    assert!(replayed.contains("outcome-rejected"), "{replayed}");
    assert_eq!(app.deliveries_with("rejected").await, 2);
    assert!(app.maybe_booking(CREATED_UID).await.is_none());
}
