//! The application's routers, assembled from the routes each surface exposes:
//! [`crate::http::routes`] (bookings API, OpenAPI document, webhook, health, `/metrics`) and
//! [`crate::web::routes`] (booking page, dashboard), with the shared fallbacks and layers of
//! [`crate::http`]. Neither surface mounts the other.

use axum::Router;

use crate::http;
use std::sync::Arc;

use crate::state::AppState;
use crate::web::{Web, WebState};

/// The main listener's router.
pub fn router(state: AppState, web: Arc<Web>) -> Router {
    // The pages' `/api/stats` is described in the API's document beside the bookings API.
    let (pages, pages_api) = crate::web::routes().split_for_parts();
    let pages = pages.with_state(WebState {
        app: state.clone(),
        web,
    });
    let app = Router::new()
        .merge(http::routes(pages_api).with_state(state.clone()))
        .merge(pages)
        .fallback(http::not_found)
        .method_not_allowed_fallback(http::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state,
            http::client_addr::remember,
        ));
    http::common_layers(app)
}

/// The metrics listener's router (`CALBOOK_METRICS_BIND`): `/metrics` without sign-in, plus
/// `/healthz` and `/readyz` (answering as on the main listener); nothing else.
pub fn metrics_router(state: AppState) -> Router {
    let app = http::metrics_routes()
        .fallback(http::not_found)
        .method_not_allowed_fallback(http::method_not_allowed)
        .with_state(state);
    http::common_layers(app)
}
