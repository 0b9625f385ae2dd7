//! The HTML pages: the booking page (`/book`) with the Cal.com embed, and the admin dashboard
//! (`/admin`).
//!
//! Guarantees:
//! * pages are rendered on the server by minijinja with HTML auto-escaping and strict undefined
//!   values, so attendee-supplied text (names, notes, titles) is always shown as text;
//! * every page carries a `Content-Security-Policy`: scripts only from calbook itself (no inline
//!   script) and, on `/book`, from the configured Cal.com embed origin, which is also the only
//!   origin allowed in frames; no page may itself be framed;
//! * no secret reaches a page: the embed needs none, and the admin pages show booking data only;
//! * `/admin` is behind the admin token (see `session.rs`), and every state-changing form carries a
//!   CSRF token bound to the session.
//!
//! Failure modes: bad query values get a 400 page naming the value; an unknown booking a 404
//! page; a database outage a 503 page. Nothing on these pages writes booking data (a booking
//! page's cancel or reschedule request goes to Cal.com's API, whose webhook then changes it).
//! `GET /api/stats` (the dashboard's weekly numbers as JSON, for admins) is mounted here too: it
//! needs the dashboard's zone.

mod admin;
mod assets;
mod book;
mod pages;
mod session;
pub mod settings;

pub use pages::Pages;
pub use session::SessionKey;
pub use settings::{EmbedLayout, EmbedTheme, WebConfigError, WebSettings};

use std::sync::Arc;

use axum::http::HeaderMap;
use axum::routing::{get, post};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::state::AppState;
use settings::WebConfig;

/// The pages' state: the application's shared state and the pages' own services. The web layer
/// depends on [`crate::state`]; the shared state knows nothing of the pages, so the two modules
/// point one way.
#[derive(Clone)]
pub struct WebState {
    pub app: AppState,
    pub web: Arc<Web>,
}

impl std::ops::Deref for WebState {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        &self.app
    }
}

/// What the page handlers share.
#[derive(Debug)]
pub struct Web {
    pub pages: Pages,
    pub config: WebConfig,
    pub sessions: SessionKey,
    /// "24 hours", "1 hour": the reminders the booking page promises.
    pub reminders: Vec<String>,
    /// Signs the ownership proof `/book` hands a signed-in client.
    pub ownership: crate::auth::ownership::OwnershipKey,
    /// Which meeting URLs the dashboard shows as links.
    pub links: crate::booking::LinkPolicy,
    /// Cal.com's API, for a booking page's cancel and reschedule request (when `CALCOM_API_KEY`
    /// is set); see [`Web::with_calcom`].
    pub calcom: Option<crate::sync::Client>,
}

impl Web {
    pub fn new(
        settings: &WebSettings,
        admin_token: &str,
        ownership: crate::auth::ownership::OwnershipKey,
        email: &crate::outbox::plan::EmailPolicy,
    ) -> Result<Web, settings::WebConfigError> {
        let reminders = if email
            .kinds
            .contains(&crate::mail::render::EmailKind::Reminder)
        {
            email
                .reminder_offsets
                .iter()
                .map(|d| crate::mail::render::format_minutes(d.as_mins()))
                .collect()
        } else {
            Vec::new()
        };
        let config = settings.validate()?;
        Ok(Web {
            pages: Pages::new(&config.business_name),
            config,
            sessions: SessionKey::from_admin_token(admin_token),
            reminders,
            ownership,
            links: Default::default(),
            calcom: None,
        })
    }

    /// Lets the dashboard ask Cal.com's API to cancel a booking or to request a new time, when
    /// `CALCOM_API_KEY` is set: one try per click (no retry: the admin sees the answer and may
    /// click again), 15 s at most.
    pub fn with_calcom(
        mut self,
        sync: &crate::sync::SyncSettings,
    ) -> Result<Web, crate::sync::ClientError> {
        if let Some(key) = sync.api_key.as_deref().filter(|k| !k.trim().is_empty()) {
            let retry = crate::sync::RetryPolicy {
                attempts: 1,
                timeout: std::time::Duration::from_secs(15),
                ..Default::default()
            };
            self.calcom = Some(crate::sync::Client::new(&sync.api_url, key, retry)?);
        }
        Ok(self)
    }
}

/// A signed-in client, for the booking page's prefill.
#[derive(Debug, Clone)]
pub struct SignedInClient {
    pub id: Uuid,
    pub name: Option<String>,
    pub email: Option<String>,
}

/// The client signed in on this request, if any: a Supabase access token in the
/// `Authorization` header or the `sb-access-token` cookie (see [`crate::http::sign_in`]). A
/// missing or refused token just means no prefill; the page never fails because of it.
async fn signed_in_client(state: &WebState, headers: &HeaderMap) -> Option<SignedInClient> {
    let caller = crate::http::sign_in::resolve(state, headers).await.ok()?;
    let p = caller.principal()?;
    Some(SignedInClient {
        id: p.subject,
        name: p.display_name.clone(),
        email: p.email.clone(),
    })
}

/// The page routes, and `GET /api/stats` registered with its OpenAPI operation (its route and
/// its entry in `/api/openapi.json` come from one registration); [`crate::routes`] merges the
/// routes into the application router and the operation into the API's document.
pub fn routes() -> OpenApiRouter<WebState> {
    OpenApiRouter::with_openapi(admin::StatsDoc::openapi())
        .routes(routes!(admin::stats_json))
        .route("/", get(|| async { axum::response::Redirect::to("/book") }))
        .route("/book", get(book::page))
        .route("/assets/{name}", get(assets::serve))
        .route("/admin", get(admin::today))
        .route("/admin/login", get(admin::login_form).post(admin::login))
        .route("/admin/logout", post(admin::logout))
        .route("/admin/bookings", get(admin::bookings))
        .route("/admin/bookings.csv", get(admin::bookings_csv))
        .route("/admin/bookings/{uid}", get(admin::booking))
        .route("/admin/bookings/{uid}/notes", post(admin::add_note))
        .route("/admin/bookings/{uid}/resend", post(admin::resend))
        .route("/admin/bookings/{uid}/cancel", post(admin::cancel))
        .route(
            "/admin/bookings/{uid}/request-reschedule",
            post(admin::request_reschedule),
        )
        .route("/admin/stats", get(admin::stats_page))
        .route("/admin/deliveries", get(admin::deliveries))
        .route("/admin/deliveries/{id}", get(admin::delivery))
        .route(
            "/admin/deliveries/{id}/replay",
            post(admin::replay_delivery),
        )
        .route("/admin/emails", get(admin::emails))
        .route("/admin/emails/{id}/retry", post(admin::retry_email))
        .route("/admin/emails/retry-dead", post(admin::retry_all_dead))
}
