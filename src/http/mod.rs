//! The HTTP surface: the bookings API, the webhook, health and metrics, and the layers every
//! answer passes through.
//!
//! This module exposes its routes ([`routes`], [`metrics_routes`]), its fallbacks and
//! [`common_layers`]; the routers themselves are assembled in [`crate::routes`], next to the
//! pages' routes, and the shared state lives in [`crate::state`]. The layers: a 30 s request
//! timeout, panics turned into a JSON 500, header redaction in traces, and
//! `Cache-Control: no-store` on every answer under `/api/`, `/admin`, `/metrics` and `/readyz`,
//! whatever produced it.

pub mod bookings_api;
pub mod client_addr;
mod error;
mod health;
pub mod readiness;
mod serve;
pub mod sign_in;
mod webhooks;

pub use serve::{ConnectionLimits, serve};

pub use error::{ApiError, ErrorBody};

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::state::AppState;

/// The main listener's API routes: the bookings API and its OpenAPI document, the Cal.com
/// webhook, `/healthz`, `/readyz` and the admin-only `/metrics`. `more_api` is the document of
/// the operations the pages serve under `/api/` (`GET /api/stats`, see [`crate::web::routes`]):
/// `/api/openapi.json` describes them too.
pub fn routes(more_api: utoipa::openapi::OpenApi) -> Router<AppState> {
    // The bookings API and its OpenAPI document come from the same registrations.
    let (api, mut doc) = bookings_api::routes().split_for_parts();
    doc.merge(more_api);
    let doc: Arc<str> = doc
        .to_pretty_json()
        .expect("the OpenAPI document serializes")
        .into();
    Router::new()
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
}

/// The metrics listener's routes (`CALBOOK_METRICS_BIND`): `/metrics` without sign-in, plus
/// `/healthz` and `/readyz` (answering as on the main listener); nothing else.
pub fn metrics_routes() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(health::open_metrics))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
}

/// Timeouts, panics, `Cache-Control`, tracing and header redaction, for both listeners.
pub fn common_layers(app: Router) -> Router {
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
pub async fn not_found(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("there is no {method} {}", uri.path()),
    )
}

/// A known path with a method it does not serve: 405 (axum adds the `Allow` header).
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not accept {method}", uri.path()),
    )
}
