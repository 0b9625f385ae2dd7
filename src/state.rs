//! What every request handler shares: [`AppState`], built once by [`crate::app::App::build`].
//!
//! Both surfaces read it: [`crate::http`] (API, webhook, health) and [`crate::web`] (pages,
//! dashboard, which add their own services in [`crate::web::WebState`]). It depends on neither;
//! neither mounts the other's routes; the application router is assembled above both, in
//! [`crate::routes`].

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

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
    /// Verifies Supabase access tokens for the API; `None` when neither `SUPABASE_JWT_SECRET` nor
    /// `SUPABASE_URL` is set (then only the admin token signs in). See [`crate::http::sign_in`].
    pub verifier: Option<Arc<Verifier>>,
    /// Failed token checks per client address (every sign-in path).
    pub sign_in_throttle: crate::auth::throttle::SignInThrottle,
    /// `CALBOOK_TRUSTED_PROXIES`: peers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Wakes the outbox worker (after a retry from the dashboard); `None` when this process runs
    /// no worker. A runtime handle, not a setting.
    pub outbox_wake: Option<Arc<tokio::sync::Notify>>,
    /// Alerts to the owner (`CALBOOK_ALERT_EMAIL`).
    pub alerts: Arc<crate::alert::Alerts>,
    /// `/readyz`'s checks (a rate-limited write probe, free disk space).
    pub readiness: crate::http::readiness::Readiness,
}
