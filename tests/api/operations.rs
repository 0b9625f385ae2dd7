//! The operational endpoints (issue 16, row 10): `/metrics` needs the admin token, or is served
//! on its own private listener (`CALBOOK_METRICS_BIND`); `/readyz` tells an anonymous caller
//! only whether calbook is ready, and an admin why not.

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(readiness_tells_anonymous_callers_only_ready_or_not);

async fn get(app: &TestApp, url: String, token: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_admin_token_on_the_main_listener() {
    let app = TestApp::spawn_with_supabase(Backend::Sqlite).await;
    app.deliver(b"{not json").await;
    assert!(
        app.metrics_addr.is_none(),
        "no metrics listener unless asked"
    );

    for (who, token) in [
        ("anonymous", None),
        ("a wrong token", Some("wrong-token-0123456789")),
    ] {
        let res = get(&app, app.url("/metrics"), token).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{who}");
        assert!(
            res.headers()[WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
        let body: Value = res.json().await.unwrap();
        assert!(
            body["error"] == "unauthorized" || body["error"] == "invalid_token",
            "{who}: {body}"
        );
        assert!(
            !body.to_string().contains("calbook_"),
            "{who}: no metric in the refusal"
        );
    }
    let client = hs256(&claims(CLIENT_1, "ann@example.com"));
    let res = get(&app, app.url("/metrics"), Some(&client)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "a client is no admin");
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "forbidden");

    for token in [ADMIN_TOKEN.to_owned(), hs256(&admin_claims())] {
        let res = get(&app, app.url("/metrics"), Some(&token)).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("calbook_webhook_deliveries_total")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_listener_serves_metrics_openly_and_nothing_else() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.metrics_bind = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    app.deliver(b"{not json").await;
    let addr = app.metrics_addr.expect("the metrics listener is bound");
    assert_ne!(addr, app.addr);
    let at = |path: &str| format!("http://{addr}{path}");

    let res = get(&app, at("/metrics"), None).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "no sign-in on the private listener"
    );
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("calbook_webhook_deliveries_total")
    );
    let res = get(&app, at("/healthz"), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = get(&app, at("/readyz"), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"status": "ready"})
    );
    // Only those: the API, the dashboard, the booking page and the webhook are elsewhere.
    for path in [
        "/api/bookings",
        "/admin/bookings",
        "/book",
        "/api/openapi.json",
    ] {
        let res = get(&app, at(path), Some(ADMIN_TOKEN)).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let res = app
        .client
        .post(at("/api/webhooks/calcom"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // The main listener still wants the token.
    let res = get(&app, app.url("/metrics"), None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

async fn readiness_tells_anonymous_callers_only_ready_or_not(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let backend_name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let ready = |token: Option<&'static str>| {
        let app = &app;
        async move {
            let res = get(app, app.url("/readyz"), token).await;
            assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
            (res.status(), res.json::<Value>().await.unwrap())
        }
    };
    assert_eq!(
        ready(None).await,
        (StatusCode::OK, json!({"status": "ready"}))
    );
    assert_eq!(
        ready(Some("wrong-token-0123456789")).await,
        (StatusCode::OK, json!({"status": "ready"})),
        "a refused token is an anonymous caller"
    );
    let (status, body) = ready(Some(ADMIN_TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], backend_name);
    assert_eq!(
        body["mail"]["transport"], "file",
        "the admin sees the mail transport"
    );

    // A migration this build knows is not applied (as after an upgrade without `migrate`).
    let forget =
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)";
    match &app.store {
        calbook::store::Store::Sqlite(s) => {
            sqlx::query(forget).execute(&s.pool).await.unwrap();
        }
        calbook::store::Store::Postgres(p) => {
            sqlx::query(forget).execute(p).await.unwrap();
        }
    }
    assert_eq!(
        ready(None).await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "unavailable"})
        ),
        "no backend, no reason"
    );
    let (status, body) = ready(Some(ADMIN_TOKEN)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["database"], backend_name);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("calbook migrate"),
        "{body}"
    );
}
