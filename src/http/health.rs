//! `GET /healthz` (the process answers), `GET /readyz` (every migration is applied, the database
//! takes a write and the disk has room: [`super::readiness`]) and `GET /metrics` (Prometheus text).
//!
//! What an anonymous caller learns is only what a load balancer needs: `/healthz` is
//! `{"status":"ok"}`, `/readyz` is `{"status":"ready"}` or 503 `{"status":"unavailable"}`.
//! The details (which database backend, why it is not ready) go to the log, and to an admin
//! (the admin token, or a Supabase admin, as a bearer token). `/metrics` on the main listener is
//! for admins only (401 with the JSON error body without a token, 403 for a signed-in
//! non-admin); the metrics listener (`CALBOOK_METRICS_BIND`, see [`crate::routes::metrics_router`]) serves
//! it to anyone who can reach that address, which is meant to be private.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::sign_in::{resolve_admin, resolve_bearer};
use crate::state::AppState;

pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Whether the request carries an admin's bearer token. No header means no (and no token check
/// at all, so probes cost nothing); a refused token also means no: readiness answers anyway.
async fn is_admin(state: &AppState, headers: &HeaderMap) -> bool {
    headers.contains_key(header::AUTHORIZATION)
        && resolve_bearer(state, headers)
            .await
            .is_ok_and(|c| c.is_admin())
}

pub async fn readyz(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let ready = state.readiness.check(&state.store).await;
    if let Err(e) = &ready {
        tracing::warn!(error = %e, "readiness check failed");
    }
    let details = is_admin(&state, &headers).await;
    let backend = state.store.backend();
    let mail = || match state.readiness.mail_state() {
        None => serde_json::Value::Null,
        Some((transport, None)) => json!({ "transport": transport, "reachable": null }),
        Some((transport, Some(Ok(_)))) => json!({ "transport": transport, "reachable": true }),
        Some((transport, Some(Err(e)))) => {
            json!({ "transport": transport, "reachable": false, "error": e })
        }
    };
    match ready {
        Ok(()) if details => {
            Json(json!({ "status": "ready", "database": backend, "mail": mail() })).into_response()
        }
        Ok(()) => Json(json!({ "status": "ready" })).into_response(),
        Err(e) if details => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "unavailable",
                "database": backend,
                "mail": mail(),
                "error": "database_unavailable",
                "message": e,
            })),
        )
            .into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable" })),
        )
            .into_response(),
    }
}

/// `/metrics` on the main listener: admins only.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match resolve_admin(
        &state,
        &headers,
        "metrics are for admins: use the admin token",
    )
    .await
    {
        Ok(_) => metrics_text(&state).await,
        Err(refused) => refused,
    }
}

/// `/metrics` on the metrics listener: no sign-in (the address is the protection).
pub async fn open_metrics(State(state): State<AppState>) -> Response {
    metrics_text(&state).await
}

/// The process's counters and histograms, then this server's outbox figures, read from the
/// database now (left out, with a log line, if the database does not answer within a second),
/// then the Cal.com sync's, read from the database so that every instance reports the same last
/// sync whichever ran it.
async fn metrics_text(state: &AppState) -> Response {
    let mut text = state.metrics.render();
    let stats = tokio::time::timeout(
        std::time::Duration::from_secs(1),
        state.store.outbox_stats(crate::time::now()),
    )
    .await;
    match stats {
        Ok(Ok(s)) => {
            use std::fmt::Write;
            let _ = write!(
                text,
                "# HELP calbook_outbox_pending Emails waiting to be sent (due or not).\n\
                 # TYPE calbook_outbox_pending gauge\n\
                 calbook_outbox_pending {}\n\
                 # HELP calbook_outbox_dead Emails given up on (retry them from /admin).\n\
                 # TYPE calbook_outbox_dead gauge\n\
                 calbook_outbox_dead {}\n\
                 # HELP calbook_outbox_oldest_due_age_seconds How long the oldest email still to send has been due.\n\
                 # TYPE calbook_outbox_oldest_due_age_seconds gauge\n\
                 calbook_outbox_oldest_due_age_seconds {}\n",
                s.pending, s.dead, s.oldest_due_age_seconds
            );
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "outbox figures for /metrics could not be read"),
        Err(_) => tracing::warn!("outbox figures for /metrics took over a second; left out"),
    }
    if let Ok(Ok(sync)) =
        tokio::time::timeout(std::time::Duration::from_secs(1), state.store.sync_state()).await
    {
        text.push_str(&crate::sync::prometheus_text(&sync));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
