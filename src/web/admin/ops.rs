//! `/admin/deliveries` (recent webhook deliveries and their outcomes) and `/admin/emails` (the
//! outbox: everything recent by default, newest first, with a tab and its count per state, and
//! retry for dead letters).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::bookings::email_row;
use super::{AdminForm, AdminSession, CsrfField, show_time, store_error};
use crate::outbox::JobState;
use crate::store::{Delivery, Outcome};
use crate::web::WebState;
use crate::web::book::same_site_path;
use crate::web::pages::STRICT_CSP;

/// Rows the operations pages show.
const LIMIT: u32 = 200;

#[derive(Debug, Serialize)]
pub(super) struct DeliveryRow {
    id: String,
    received: String,
    trigger: Option<String>,
    booking_uid: Option<String>,
    outcome: &'static str,
    error: Option<String>,
    body_sha256: String,
}

pub(super) fn delivery_row(d: &Delivery, zone: &jiff::tz::TimeZone) -> DeliveryRow {
    DeliveryRow {
        id: d.id.to_string(),
        received: show_time(d.received_at, zone),
        trigger: d.trigger_event.clone(),
        booking_uid: d.booking_uid.clone(),
        outcome: d.outcome.as_str(),
        error: d.error.clone(),
        body_sha256: d.body_sha256.chars().take(12).collect(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DeliveriesQuery {
    outcome: Option<String>,
}

pub async fn deliveries(
    State(state): State<WebState>,
    Query(q): Query<DeliveriesQuery>,
    admin: AdminSession,
) -> Response {
    let web = &state.web;
    let zone = &web.config.admin_zone;
    let outcome = match q
        .outcome
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None | Some("all") => None,
        Some(s) => match s.parse::<Outcome>() {
            Ok(o) => Some(o),
            Err(e) => return web.pages.error(StatusCode::BAD_REQUEST, &e.to_string()),
        },
    };
    let list = match state.store.deliveries_with_outcome(outcome, LIMIT).await {
        Ok(l) => l,
        Err(e) => return store_error(&state, &e),
    };
    let rows: Vec<DeliveryRow> = list.iter().map(|d| delivery_row(d, zone)).collect();
    let sync = match state.store.sync_state().await {
        Ok(s) => super::sync_ops::last_sync(&s, zone),
        Err(e) => return store_error(&state, &e),
    };
    web.pages.render(
        "admin/deliveries.html",
        minijinja::context! {
            business_name => &web.config.business_name,
            csrf => &admin.csrf,
            section => "deliveries",
            rows => minijinja::Value::from(minijinja::value::Serde(&rows)),
            limit => LIMIT,
            outcome => outcome.map_or("all", Outcome::as_str),
            outcomes => Outcome::ALL.iter().map(|o| o.as_str()).collect::<Vec<_>>(),
            sync => minijinja::Value::from(minijinja::value::Serde(&sync)),
        },
        STRICT_CSP,
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct EmailsQuery {
    state: Option<String>,
    retried: Option<u64>,
}

pub async fn emails(
    State(state): State<WebState>,
    Query(q): Query<EmailsQuery>,
    admin: AdminSession,
) -> Response {
    let web = &state.web;
    // Everything recent by default, newest first; a tab per state.
    let wanted = q.state.as_deref().map(str::trim).unwrap_or("all");
    let filter = match wanted {
        "" | "all" => None,
        s => match s.parse::<JobState>() {
            Ok(js) => Some(js),
            Err(_) => {
                return web.pages.error(
                    StatusCode::BAD_REQUEST,
                    &format!("state {s:?} is not an email state"),
                );
            }
        },
    };
    let (jobs, counts) = match tokio::try_join!(
        state.store.outbox(filter, LIMIT),
        state.store.outbox_counts()
    ) {
        Ok(x) => x,
        Err(e) => return store_error(&state, &e),
    };
    let count = |s: &str| {
        counts
            .iter()
            .filter(|(k, _)| s == "all" || k == s)
            .map(|(_, n)| n)
            .sum::<i64>()
    };
    let tabs: Vec<_> = std::iter::once("all")
        .chain(JobState::ALL.iter().map(|s| s.as_str()))
        .map(|s| minijinja::context! { name => s, count => count(s) })
        .collect();
    let zone = &web.config.admin_zone;
    let rows: Vec<_> = jobs.iter().map(|j| email_row(j, zone)).collect();
    web.pages.render(
        "admin/emails.html",
        minijinja::context! {
            business_name => &web.config.business_name,
            csrf => &admin.csrf,
            section => "emails",
            state => filter.map_or("all", |s| s.as_str()),
            tabs,
            limit => LIMIT,
            rows => minijinja::Value::from(minijinja::value::Serde(&rows)),
            retried => q.retried,
            back => format!("/admin/emails?state={}", filter.map_or("all", |s| s.as_str())),
        },
        STRICT_CSP,
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct RetryForm {
    #[serde(default)]
    csrf: String,
    back: Option<String>,
}

impl CsrfField for RetryForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Where to return after a retry: a dashboard page, with the count requeued.
fn back_to(back: Option<&str>, retried: u64) -> Response {
    let path = back
        .and_then(same_site_path)
        .filter(|p| p.starts_with("/admin/"))
        .unwrap_or_else(|| "/admin/emails".to_owned());
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut r = Redirect::to(&format!("{path}{sep}retried={retried}")).into_response();
    *r.status_mut() = StatusCode::SEE_OTHER;
    r
}

pub async fn retry_email(
    State(state): State<WebState>,
    Path(id): Path<String>,
    AdminForm { form, .. }: AdminForm<RetryForm>,
) -> Response {
    let Ok(id) = id.parse::<Uuid>() else {
        return state
            .web
            .pages
            .error(StatusCode::BAD_REQUEST, "That is not an email id.");
    };
    retry(&state, Some(id), form.back.as_deref()).await
}

pub async fn retry_all_dead(
    State(state): State<WebState>,
    AdminForm { form, .. }: AdminForm<RetryForm>,
) -> Response {
    retry(&state, None, form.back.as_deref()).await
}

async fn retry(state: &WebState, id: Option<Uuid>, back: Option<&str>) -> Response {
    match state.store.retry_dead_outbox(id, crate::time::now()).await {
        Ok(n) => {
            tracing::info!(email_id = ?id, requeued = n, "dead emails requeued from the dashboard");
            if n > 0
                && let Some(w) = &state.outbox_wake
            {
                w.notify_one();
            }
            back_to(back, n)
        }
        Err(e) => store_error(state, &e),
    }
}
