//! The HTTP surface: routes, shared state and middleware.
//!
//! Two routers: [`router`] for the main listener (API, webhook, pages, health, admin-only
//! `/metrics`) and [`metrics_router`] for the optional metrics listener (`CALBOOK_METRICS_BIND`).
//! Both share the same layers: a 30 s request timeout, panics turned into a JSON 500, header
//! redaction in traces, and `Cache-Control: no-store` on every answer under `/api/`, `/admin`,
//! `/metrics` and `/readyz`, whatever produced it.

pub mod bookings_api;
pub mod client_addr;
mod error;
mod health;
mod serve;
pub mod sign_in;
mod webhooks;

pub use serve::{ConnectionLimits, serve};

pub use error::ApiError;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::{AdminToken, Verifier};
use crate::store::Store;
use crate::webhook::{Ingest, Secrets};

/// What every handler shares. Cloned for each request, so it is one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> AppState {
        AppState(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Services {
    pub store: Store,
    pub ingest: Ingest,
    pub secrets: Arc<Secrets>,
    pub metrics: PrometheusHandle,
    /// Signs in to `/admin`; also an admin bearer token for the API.
    pub admin_token: AdminToken,
    /// The booking page and dashboard.
    pub web: Arc<crate::web::Web>,
    /// Verifies Supabase access tokens for the API; `None` when neither `SUPABASE_JWT_SECRET` nor
    /// `SUPABASE_URL` is set (then only the admin token signs in). See [`sign_in`].
    pub verifier: Option<Arc<Verifier>>,
    /// Failed token checks per client address (every sign-in path).
    pub sign_in_throttle: crate::auth::throttle::SignInThrottle,
    /// `CALBOOK_TRUSTED_PROXIES`: peers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

pub fn router(state: AppState) -> Router {
    // The bookings API and its OpenAPI document come from the same registrations.
    let (api, doc) = bookings_api::routes().split_for_parts();
    let doc: Arc<str> = doc
        .to_pretty_json()
        .expect("the OpenAPI document serializes")
        .into();
    let app = Router::new()
        .merge(api)
        .route(
            "/api/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        doc.to_string(),
                    )
                }
            }),
        )
        .route("/api/webhooks/calcom", post(webhooks::calcom))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .merge(crate::web::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            client_addr::remember,
        ))
        .with_state(state);
    common_layers(app)
}

/// The metrics listener (`CALBOOK_METRICS_BIND`): `/metrics` without sign-in, plus `/healthz`
/// and `/readyz` (answering as on the main listener); nothing else.
pub fn metrics_router(state: AppState) -> Router {
    let app = Router::new()
        .route("/metrics", get(health::open_metrics))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    common_layers(app)
}

/// Timeouts, panics, `Cache-Control`, tracing and header redaction, for both listeners.
fn common_layers(app: Router) -> Router {
    app.layer(TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        Duration::from_secs(30),
    ))
    .layer(CatchPanicLayer::custom(
        |_: Box<dyn std::any::Any + Send>| {
            tracing::error!("a request handler panicked");
            ApiError::internal().into_response()
        },
    ))
    .layer(axum::middleware::from_fn(no_store))
    // The span names the path, not the query: `/api/bookings?attendee_email=…` would put an
    // email address in the log.
    .layer(
        TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            tracing::debug_span!(
                "request",
                method = %req.method(),
                path = %req.uri().path(),
                version = ?req.version(),
            )
        }),
    )
    .layer(SetSensitiveRequestHeadersLayer::new([
        axum::http::header::AUTHORIZATION,
        axum::http::header::COOKIE,
        axum::http::HeaderName::from_static("x-cal-signature-256"),
    ]))
}

/// Whether answers to `path` must not be stored by browsers or proxies: the API (bookings,
/// errors, the webhook's answers), the dashboard, and the operational endpoints.
fn private_path(path: &str) -> bool {
    path.starts_with("/api/")
        || path == "/admin"
        || path.starts_with("/admin/")
        || matches!(path, "/metrics" | "/readyz")
}

/// Adds `Cache-Control: no-store` to every answer under a [`private_path`], whatever produced it
/// (a handler, an extractor's refusal, the fallback, a timeout or a panic).
async fn no_store(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let private = private_path(req.uri().path());
    let mut res = next.run(req).await;
    if private {
        res.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
    }
    res
}

/// Unknown paths: 404 with the JSON error body every refusal has.
async fn not_found(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("there is no {method} {}", uri.path()),
    )
}

/// A known path with a method it does not serve: 405 (axum adds the `Allow` header).
async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not accept {method}", uri.path()),
    )
}
