//! The bookings API: `GET /api/bookings`, `GET /api/bookings/{uid}`,
//! `GET /api/bookings/{uid}/history`, described by the OpenAPI document at `/api/openapi.json`.
//!
//! Routes and document come from the same code: every handler here is registered through
//! [`OpenApiRouter`] with its `#[utoipa::path]`, so a route cannot exist without its entry in the
//! document, nor the other way round. The same document describes `GET /api/stats` (the
//! dashboard's weekly numbers, served by the pages, registered the same way in
//! [`crate::web::routes`]). `docs/openapi.json` is a committed copy that a test compares with the
//! generated one, so every change to the API shows up in review.
//!
//! Who sees what (see [`Caller`]): admins (the admin token, or `app_metadata.role = admin`) see
//! every booking; a client sees the bookings whose `client_id` is its id, or, for a booking
//! without one, whose attendee email is its verified email. A booking the caller may not see
//! answers exactly like an unknown uid (404, same body), so the API never tells whether a uid
//! exists. Links to other bookings (`rescheduled_from`, `rescheduled_to`, the reschedule chain,
//! the same fields in the history) show only bookings the caller may see (see the `links` module).
//!
//! Every answer under `/api/` carries `Cache-Control: no-store`, errors included (see
//! `http::no_store`): they are personal, and a shared cache must not keep them.
//!
//! What a client sees of its booking: everything but the booking's `metadata` (values the
//! embedding page passed, e.g. lead references: the business's, not the client's), Cal.com's
//! numeric id, the organizer's email (Cal.com can hide it from attendees, and calbook does not
//! know whether it was hidden) and the delivery ids in the history. A client does see the
//! `notes`: the attendee wrote them.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use serde::Deserialize;
use tracing::error;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::sign_in::Caller;
use crate::booking::{Booking, Status};
use crate::state::AppState;
use crate::store::{BookingFilter, Cursor, Scope, SortOrder, Store, StoreError};

mod links;
mod views;
use links::Links;
pub use views::{
    BookingDetail, BookingHistory, BookingPage, BookingView, ChainLink, HistoryItem, PersonView,
};

/// Page size when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page a request may ask for.
pub const MAX_LIMIT: u32 = 200;
/// Most bookings followed in each direction of a reschedule chain.
pub use crate::store::MAX_CHAIN_HOPS;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "calbook bookings API",
        description = "Bookings received from Cal.com, for the business and its clients. Sign in with \
`Authorization: Bearer <token>`: a Supabase access token of the project, or the admin token. \
Admins (the admin token, or `app_metadata.role = admin`) see every booking; a client sees the \
bookings made with its id as `metadata[client_id]`, or, failing that, with its verified email as \
the attendee's. The weekly numbers (`GET /api/stats`) are for admins only. Errors are JSON \
`{\"error\": code, \"message\": text}`."
    ),
    modifiers(&BearerAuth),
    components(schemas(Order)),
    tags((name = "bookings", description = "Bookings, their reschedule chains and audit history"))
)]
struct ApiDoc;

/// Adds the `bearer` security scheme the operations refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A Supabase access token (HS256 with the project's JWT secret, or ES256/RS256 \
with its published keys; `aud` must be `authenticated`), or the admin token. An operation that \
requires the role `admin` (`GET /api/stats`) takes the admin token or a token with \
`app_metadata.role = admin`, and answers 403 to anyone else signed in.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The API's routes, with their OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(list_bookings))
        .routes(routes!(get_booking))
        .routes(routes!(booking_history))
}

// ---------------------------------------------------------------------------------------------
// Requests.

/// Sort direction by start time.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // documents the `order` parameter
enum Order {
    Asc,
    Desc,
}

/// Filters and paging of `GET /api/bookings`. Empty values count as absent.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only bookings with this status.
    #[param(value_type = Option<Status>)]
    status: Option<String>,
    /// Only bookings starting at or after this instant (RFC 3339, e.g. `2026-03-10T00:00:00Z`;
    /// encode `+` as `%2B`).
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<String>,
    /// Only bookings starting before this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<String>,
    /// Only bookings whose attendee has this email (case-insensitive).
    attendee_email: Option<String>,
    /// `desc` (default: latest start first) or `asc` (earliest first).
    #[param(value_type = Option<Order>)]
    order: Option<String>,
    /// Page size, 1 to 200; default 50.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    limit: Option<String>,
    /// `next_cursor` of the previous page (with the same filters and order).
    cursor: Option<String>,
}

fn bad_parameter(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", message)
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn timestamp(name: &str, v: &Option<String>) -> Result<Option<Timestamp>, ApiError> {
    given(v)
        .map(|s| {
            s.parse::<Timestamp>().map_err(|_| {
                bad_parameter(format!(
                    "{name}={s:?} is not an RFC 3339 timestamp (e.g. 2026-03-10T14:00:00Z; encode + as %2B)"
                ))
            })
        })
        .transpose()
}

impl ListQuery {
    /// The listing this query asks for, within `scope`. One row more than the page is fetched to
    /// know whether there is a next page.
    fn filter(&self, scope: Scope) -> Result<BookingFilter, ApiError> {
        let status = given(&self.status)
            .map(|s| {
                s.parse::<Status>()
                    .map_err(|e| bad_parameter(e.to_string()))
            })
            .transpose()?;
        let from = timestamp("from", &self.from)?;
        let to = timestamp("to", &self.to)?;
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err(bad_parameter("from must not be after to"));
        }
        let attendee_email = given(&self.attendee_email).map(str::to_owned);
        if attendee_email.as_ref().is_some_and(|e| e.len() > 320) {
            return Err(bad_parameter("attendee_email is too long"));
        }
        let order = match given(&self.order) {
            None | Some("desc") => SortOrder::Descending,
            Some("asc") => SortOrder::Ascending,
            Some(o) => {
                return Err(bad_parameter(format!(
                    "order={o:?} is not a sort order (use asc or desc)"
                )));
            }
        };
        let limit = match given(&self.limit) {
            None => DEFAULT_LIMIT,
            Some(l) => match l.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(bad_parameter(format!(
                        "limit={l:?} is not a page size (use 1 to {MAX_LIMIT})"
                    )));
                }
            },
        };
        let after = given(&self.cursor)
            .map(|c| {
                Cursor::decode(c).map_err(|_| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_cursor",
                        "cursor is not a next_cursor this API returned",
                    )
                })
            })
            .transpose()?;
        Ok(BookingFilter {
            scope,
            status,
            from,
            to,
            attendee_email,
            search: None,
            live: false,
            order,
            after,
            limit,
        })
    }
}

fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Unavailable(_) => ApiError::unavailable(),
        e => {
            error!(error = %e, "bookings API: database error");
            ApiError::internal()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers.

/// List bookings.
///
/// Admins get every booking, a client its own. Ordered by start time (then by an internal id, so
/// the order is total), latest first unless `order=asc`. Paging is by cursor: bookings added or
/// changed meanwhile never make a later page repeat or skip one.
#[utoipa::path(
    get,
    path = "/api/bookings",
    tag = "bookings",
    operation_id = "list_bookings",
    params(ListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of bookings", body = BookingPage),
        (status = 400, description = "A parameter is invalid; the message names it", body = ErrorBody),
        (status = 401, description = "Missing or refused token", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"calbook\"`, with `error=\"invalid_token\"` for a refused token"))),
        (status = 503, description = "Database or signing keys unavailable; retry", body = ErrorBody),
    )
)]
async fn list_bookings(
    caller: Caller,
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<BookingPage>, ApiError> {
    let Query(query) = query.map_err(|e| bad_parameter(e.body_text()))?;
    let mut filter = query.filter(caller.scope())?;
    let page = filter.limit as usize;
    filter.limit += 1;
    let mut rows = state.store.bookings(&filter).await.map_err(store_error)?;
    let next_cursor = if rows.len() > page {
        rows.truncate(page);
        rows.last().map(|b| Cursor::after(b).encode())
    } else {
        None
    };
    let admin = caller.is_admin();
    let shown: Vec<&Booking> = rows.iter().collect();
    let links = Links::resolve(&state.store, &caller.scope(), &shown, [])
        .await
        .map_err(store_error)?;
    Ok(Json(BookingPage {
        bookings: rows
            .iter()
            .map(|b| BookingView::new(b, admin, &links))
            .collect(),
        next_cursor,
    }))
}

/// The booking `uid` if it exists and the caller may see it. Otherwise 404, the same answer
/// (status and body) whether the uid is unknown or another client's: no existence oracle.
async fn visible(store: &Store, caller: &Caller, uid: &str) -> Result<Booking, ApiError> {
    store
        .booking(uid)
        .await
        .map_err(store_error)?
        .filter(|b| caller.scope().allows(b))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no booking with this uid that this sign-in may see",
            )
        })
}

/// The reschedule chain through `booking` as the caller may see it (see
/// [`Store::reschedule_chain`]): a uid calbook has no booking for ends the chain unlisted.
async fn reschedule_chain(
    store: &Store,
    scope: &Scope,
    booking: &Booking,
) -> Result<Vec<ChainLink>, ApiError> {
    let chain = store
        .reschedule_chain(booking, scope)
        .await
        .map_err(store_error)?;
    Ok(chain
        .iter()
        .filter_map(|e| e.booking.as_ref().map(ChainLink::new))
        .collect())
}

/// One booking, with its reschedule chain.
#[utoipa::path(
    get,
    path = "/api/bookings/{uid}",
    tag = "bookings",
    operation_id = "get_booking",
    params(("uid" = String, Path, description = "Cal.com booking uid")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The booking", body = BookingDetail),
        (status = 401, description = "Missing or refused token", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"calbook\"`, with `error=\"invalid_token\"` for a refused token"))),
        (status = 404, description = "No booking with this uid that the caller may see (an unknown uid and another client's booking get the same answer)", body = ErrorBody),
        (status = 503, description = "Database or signing keys unavailable; retry", body = ErrorBody),
    )
)]
async fn get_booking(
    caller: Caller,
    State(state): State<AppState>,
    Path(uid): Path<String>,
) -> Result<Json<BookingDetail>, ApiError> {
    let booking = visible(&state.store, &caller, &uid).await?;
    let scope = caller.scope();
    let reschedule_chain = reschedule_chain(&state.store, &scope, &booking).await?;
    let links = Links::resolve(&state.store, &scope, &[&booking], [])
        .await
        .map_err(store_error)?;
    Ok(Json(BookingDetail {
        booking: BookingView::new(&booking, caller.is_admin(), &links),
        reschedule_chain,
    }))
}

/// A booking's audit history, oldest first.
#[utoipa::path(
    get,
    path = "/api/bookings/{uid}/history",
    tag = "bookings",
    operation_id = "booking_history",
    params(("uid" = String, Path, description = "Cal.com booking uid")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The booking's audit entries", body = BookingHistory),
        (status = 401, description = "Missing or refused token", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"calbook\"`, with `error=\"invalid_token\"` for a refused token"))),
        (status = 404, description = "No booking with this uid that the caller may see (an unknown uid and another client's booking get the same answer)", body = ErrorBody),
        (status = 503, description = "Database or signing keys unavailable; retry", body = ErrorBody),
    )
)]
async fn booking_history(
    caller: Caller,
    State(state): State<AppState>,
    Path(uid): Path<String>,
) -> Result<Json<BookingHistory>, ApiError> {
    let booking = visible(&state.store, &caller, &uid).await?;
    let entries = state.store.history(booking.id).await.map_err(store_error)?;
    let admin = caller.is_admin();
    let mut mentioned = Vec::new();
    for h in &entries {
        mentioned.extend(links::linked_uids(&h.old_values));
        mentioned.extend(links::linked_uids(&h.new_values));
    }
    let links = Links::resolve(&state.store, &caller.scope(), &[&booking], mentioned)
        .await
        .map_err(store_error)?;
    Ok(Json(BookingHistory {
        uid: booking.uid.clone(),
        history: entries
            .iter()
            .map(|h| HistoryItem::new(h, admin, &links))
            .collect(),
    }))
}

#[cfg(test)]
mod tests;
