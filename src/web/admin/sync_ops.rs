//! The dashboard's view of the Cal.com sync and of one delivery: the last sync (when, result,
//! repairs, error) above the deliveries list, a delivery's stored body, and its Replay button.
//!
//! A replay goes through the webhook's own path ([`crate::webhook::Ingest`]) as a new delivery,
//! parsed and admitted by today's code; it is idempotent (a body applied before comes back
//! `duplicate`). The page shows the body as text, escaped by the template engine: it is what
//! Cal.com signed, personal data included, so only admins see it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{AdminForm, AdminSession, CsrfField, show_time, store_error};
use crate::store::{Delivery, SyncState};
use crate::web::WebState;
use crate::web::pages::STRICT_CSP;
use crate::webhook::Received;

/// The last sync, as the deliveries page shows it (`None` when no pass ever ran).
#[derive(Debug, Serialize)]
pub(super) struct LastSync {
    finished: String,
    outcome: String,
    error: Option<String>,
    fetched: i64,
    repaired: i64,
    emails: i64,
    total_repairs: i64,
    last_success: Option<String>,
    imported: bool,
}

pub(super) fn last_sync(s: &SyncState, zone: &jiff::tz::TimeZone) -> Option<LastSync> {
    let finished = s.last_finished_at?;
    Some(LastSync {
        finished: show_time(finished, zone),
        outcome: s.last_outcome.clone().unwrap_or_default(),
        error: s.last_error.clone(),
        fetched: s.last_fetched,
        repaired: s.last_changed,
        emails: s.last_emails,
        total_repairs: s.total_repairs,
        last_success: s.last_success_at.map(|t| show_time(t, zone)),
        imported: s.imported_at.is_some(),
    })
}

/// The delivery `id` names, or the error page to answer with (400 for a malformed id, 404 for an
/// unknown one, the store's error page).
async fn stored_delivery(state: &WebState, id: &str) -> Result<(Uuid, Delivery), Response> {
    let Ok(id) = id.parse::<Uuid>() else {
        return Err(state
            .web
            .pages
            .error(StatusCode::BAD_REQUEST, "That is not a delivery id."));
    };
    match state.store.delivery(id).await {
        Ok(Some(d)) => Ok((id, d)),
        Ok(None) => Err(state
            .web
            .pages
            .error(StatusCode::NOT_FOUND, "No such delivery.")),
        Err(e) => Err(store_error(state, &e)),
    }
}

pub async fn delivery(
    State(state): State<WebState>,
    Path(id): Path<String>,
    admin: AdminSession,
) -> Response {
    let web = &state.web;
    let (_, d) = match stored_delivery(&state, &id).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let body = String::from_utf8_lossy(&d.body).into_owned();
    web.pages.render(
        "admin/delivery.html",
        minijinja::context! {
            business_name => &web.config.business_name,
            csrf => &admin.csrf,
            section => "deliveries",
            d => minijinja::Value::from(minijinja::value::Serde(super::delivery_row(&d, &web.config.admin_zone))),
            body => body,
        },
        STRICT_CSP,
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct ReplayForm {
    #[serde(default)]
    csrf: String,
}

impl CsrfField for ReplayForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn replay_delivery(
    State(state): State<WebState>,
    Path(id): Path<String>,
    AdminForm { .. }: AdminForm<ReplayForm>,
) -> Response {
    let web = &state.web;
    let (id, d) = match stored_delivery(&state, &id).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let received = Received::replay_of(&d);
    match state.ingest.submit(received).await {
        Ok(a) => {
            tracing::info!(replayed = %id, delivery_id = %a.delivery_id, outcome = a.outcome.as_str(), "delivery replayed from the dashboard");
            let mut r =
                Redirect::to(&format!("/admin/deliveries/{}", a.delivery_id)).into_response();
            *r.status_mut() = StatusCode::SEE_OTHER;
            r
        }
        Err(e) => web.pages.error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("The replay failed: {e}."),
        ),
    }
}
