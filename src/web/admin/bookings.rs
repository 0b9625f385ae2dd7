//! `/admin/bookings` (upcoming and past, filtered, paginated by cursor) and
//! `/admin/bookings/{uid}` (details, reschedule chain, audit timeline, emails).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::{AdminSession, show_time, store_error};
use crate::booking::{Booking, Status};
use crate::store::{BookingFilter, Cursor, Scope, SortOrder};
use crate::web::WebState;
use crate::web::pages::STRICT_CSP;

fn v(x: impl Serialize) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(x))
}

/// Rows per page.
const PAGE_SIZE: u32 = 50;

#[derive(Debug, Default, Deserialize, Serialize, Clone)]
pub struct ListQuery {
    #[serde(default)]
    view: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum View {
    Upcoming,
    Past,
}

/// A booking as a list row.
#[derive(Debug, Serialize)]
struct Row {
    uid: String,
    title: String,
    starts: String,
    ends: String,
    status: &'static str,
    attendee_name: Option<String>,
    attendee_email: Option<String>,
    /// The attendee's own zone, when Cal.com sent it.
    attendee_zone: Option<String>,
    event_type: Option<String>,
}

fn row(b: &Booking, zone: &TimeZone) -> Row {
    Row {
        uid: b.uid.clone(),
        title: b.title.clone(),
        starts: show_time(b.starts_at, zone),
        ends: show_time(b.ends_at, zone),
        status: b.status.as_str(),
        attendee_name: b.attendee_name.clone(),
        attendee_email: b.attendee_email.clone(),
        attendee_zone: crate::store::export::attendee_zone(b),
        event_type: b.event_type_slug.clone(),
    }
}

/// A filter value the page could not use.
#[derive(Debug)]
struct BadValue(String);

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The start of `date` in the dashboard's zone.
fn day_start(v: &str, name: &str, zone: &TimeZone) -> Result<Timestamp, BadValue> {
    let date: Date = v
        .parse()
        .map_err(|_| BadValue(format!("{name} {v:?} is not a date like 2026-11-25")))?;
    date.to_zoned_datetime(zone.clone())
        .map(|z| z.timestamp())
        .map_err(|_| BadValue(format!("{name} {v:?} is out of range")))
}

fn filter_for(
    q: &ListQuery,
    now: Timestamp,
    zone: &TimeZone,
) -> Result<(View, BookingFilter), BadValue> {
    let view = match non_empty(&q.view) {
        None | Some("upcoming") => View::Upcoming,
        Some("past") => View::Past,
        Some(v) => return Err(BadValue(format!("view {v:?} is not upcoming or past"))),
    };
    // No status: the live bookings; `all`: every status.
    let live = non_empty(&q.status).is_none();
    let status = non_empty(&q.status)
        .filter(|s| *s != "all")
        .map(|s| {
            s.parse::<Status>()
                .map_err(|_| BadValue(format!("status {s:?} is not a booking status")))
        })
        .transpose()?;
    let from = non_empty(&q.from)
        .map(|v| day_start(v, "from", zone))
        .transpose()?;
    let to = non_empty(&q.to)
        .map(|v| {
            let start = day_start(v, "to", zone)?;
            // `to` is inclusive: up to the start of the next day.
            let next: Date = v
                .parse::<Date>()
                .ok()
                .and_then(|d| d.tomorrow().ok())
                .ok_or_else(|| BadValue(format!("to {v:?} is out of range")))?;
            next.to_zoned_datetime(zone.clone())
                .map(|z| z.timestamp())
                .or(Ok(start))
        })
        .transpose()?;
    let after = non_empty(&q.cursor)
        .map(|c| {
            Cursor::decode(c).map_err(|_| {
                BadValue("the page cursor is not valid; start again from the first page".into())
            })
        })
        .transpose()?;
    let (from, to, order) = match view {
        View::Upcoming => (
            Some(from.map_or(now, |f| f.max(now))),
            to,
            SortOrder::Ascending,
        ),
        View::Past => (
            from,
            Some(to.map_or(now, |t| t.min(now))),
            SortOrder::Descending,
        ),
    };
    Ok((
        view,
        BookingFilter {
            status,
            from,
            to,
            search: non_empty(&q.q).map(|s| s.chars().take(200).collect()),
            live,
            order,
            after,
            limit: PAGE_SIZE + 1,
            ..Default::default()
        },
    ))
}

pub async fn bookings(
    State(state): State<WebState>,
    Query(q): Query<ListQuery>,
    admin: AdminSession,
) -> Response {
    let web = &state.web;
    let zone = &web.config.admin_zone;
    let (view, filter) = match filter_for(&q, crate::time::now(), zone) {
        Ok(f) => f,
        Err(BadValue(m)) => return web.pages.error(StatusCode::BAD_REQUEST, &m),
    };
    let mut list = match state.store.bookings(&filter).await {
        Ok(l) => l,
        Err(e) => return store_error(&state, &e),
    };
    let more = list.len() > PAGE_SIZE as usize;
    list.truncate(PAGE_SIZE as usize);
    let next = more.then(|| {
        let mut next_q = q.clone();
        next_q.cursor = list.last().map(|b| Cursor::after(b).encode());
        query_string(&next_q)
    });
    let mut first_q = q.clone();
    first_q.cursor = None;
    let rows: Vec<Row> = list.iter().map(|b| row(b, zone)).collect();
    web.pages.render(
        "admin/bookings.html",
        minijinja::context! {
            business_name => &web.config.business_name,
            csrf => &admin.csrf,
            section => "bookings",
            view => v(view),
            q => v(&q),
            statuses => Status::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            rows => v(&rows),
            next,
            paged => q.cursor.is_some(),
            first => query_string(&first_q),
            export => query_string(&first_q),
            zone => zone.iana_name().unwrap_or("UTC"),
        },
        STRICT_CSP,
    )
}

/// `/admin/bookings.csv`: every booking the list's filters match (all pages), as CSV.
pub async fn bookings_csv(
    State(state): State<WebState>,
    Query(mut q): Query<ListQuery>,
    _admin: AdminSession,
) -> Response {
    use axum::response::IntoResponse;
    let web = &state.web;
    let zone = &web.config.admin_zone;
    q.cursor = None;
    let (_, filter) = match filter_for(&q, crate::time::now(), zone) {
        Ok(f) => f,
        Err(BadValue(m)) => return web.pages.error(StatusCode::BAD_REQUEST, &m),
    };
    let mut body = Vec::new();
    match crate::store::export::bookings_csv(&state.store, &filter, zone, &mut body).await {
        Ok(_) => (
            [
                (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    axum::http::header::CONTENT_DISPOSITION,
                    "attachment; filename=\"bookings.csv\"",
                ),
                (axum::http::header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
        Err(crate::store::export::ExportError::Store(e)) => store_error(&state, &e),
        Err(e) => {
            tracing::error!(error = %e, "bookings export failed");
            web.pages
                .error(StatusCode::INTERNAL_SERVER_ERROR, "The export failed.")
        }
    }
}

fn query_string(q: &ListQuery) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("view", &q.view),
        ("status", &q.status),
        ("from", &q.from),
        ("to", &q.to),
        ("q", &q.q),
        ("cursor", &q.cursor),
    ] {
        if let Some(v) = non_empty(v) {
            s.append_pair(k, v);
        }
    }
    s.finish()
}

/// An email of the booking as the page shows it.
#[derive(Debug, Serialize)]
pub(super) struct EmailRow {
    id: String,
    booking_uid: String,
    kind: String,
    recipient: String,
    role: String,
    due: String,
    state: &'static str,
    attempts: i64,
    last_error: Option<String>,
    sent: Option<String>,
}

pub(super) fn email_row(j: &crate::outbox::OutboxJob, zone: &TimeZone) -> EmailRow {
    let kind = match j.reminder_lead_seconds {
        Some(s) => format!(
            "reminder, {} before",
            crate::mail::render::format_minutes(s / 60)
        ),
        None => j.kind.to_string(),
    };
    EmailRow {
        id: j.id.to_string(),
        booking_uid: j.booking_uid.clone(),
        kind,
        recipient: j.recipient_email.clone(),
        role: format!("{:?}", j.recipient_role).to_lowercase(),
        due: show_time(j.due_at, zone),
        state: j.state.as_str(),
        attempts: j.attempts,
        last_error: j.last_error.clone(),
        sent: j.sent_at.map(|t| show_time(t, zone)),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct BookingQuery {
    /// What the last action did (`note`, `resend`, `cancel`, `reschedule`): a fixed message.
    done: Option<String>,
}

pub async fn booking(
    State(state): State<WebState>,
    Path(uid): Path<String>,
    Query(q): Query<BookingQuery>,
    admin: AdminSession,
) -> Response {
    let ok = match q.done.as_deref() {
        Some("note") => Some("The note is saved."),
        Some("resend") => Some("The email is queued to be sent again."),
        Some("cancel") => Some(
            "Cal.com accepted the cancellation. This page shows it once Cal.com's webhook arrives.",
        ),
        Some("reschedule") => Some(
            "Cal.com asked the attendee to pick a new time. This page shows it once Cal.com's webhook arrives.",
        ),
        _ => None,
    };
    let flash = super::actions::Flash {
        ok: ok.map(str::to_owned),
        ..Default::default()
    };
    booking_page(&state, &admin, &uid, flash, StatusCode::OK).await
}

/// The booking's page, with a message about the last action (and a form's text kept after an
/// error).
pub(super) async fn booking_page(
    state: &WebState,
    admin: &AdminSession,
    uid: &str,
    flash: super::actions::Flash,
    status: StatusCode,
) -> Response {
    let web = &state.web;
    let zone = &web.config.admin_zone;
    let b = match state.store.booking(uid).await {
        Ok(Some(b)) => b,
        Ok(None) => {
            return web
                .pages
                .error(StatusCode::NOT_FOUND, "There is no booking with that uid.");
        }
        Err(e) => return store_error(state, &e),
    };
    let (chain, history, emails, deliveries, actions) = match tokio::try_join!(
        state.store.reschedule_chain(&b, &Scope::All),
        state.store.history(b.id),
        state.store.outbox_for_booking(b.id),
        state.store.deliveries_of_booking(b.id),
        state.store.booking_actions(b.id)
    ) {
        Ok(x) => x,
        Err(e) => return store_error(state, &e),
    };
    let cx = super::timeline::Context {
        booking: &b,
        starts: chain
            .iter()
            .filter_map(|c| c.booking.as_ref().map(|x| (c.uid.clone(), x.starts_at)))
            .collect(),
        zone,
    };
    let events = super::timeline::timeline(&history, &actions, &cx);
    let chain: Vec<_> = chain
        .iter()
        .map(|e| {
            minijinja::context! {
                uid => &e.uid,
                current => e.uid == b.uid,
                row => v(e.booking.as_ref().map(|x| row(x, zone))),
            }
        })
        .collect();
    let attendees: Vec<_> = b
        .attendees
        .iter()
        .map(|p| {
            let state = p.email.as_deref().and_then(|e| b.attendee_state(e));
            minijinja::context! {
                name => &p.name,
                email => &p.email,
                time_zone => &p.time_zone,
                seat_cancelled => state.is_some_and(|s| s.seat == Some(crate::booking::SeatState::Cancelled)),
                moved_to => state.and_then(|s| s.moved_to.clone()),
                no_show => state.and_then(|s| s.no_show),
            }
        })
        .collect();
    web.pages.render_status(
        status,
        "admin/booking.html",
        minijinja::context! {
            business_name => &web.config.business_name,
            csrf => &admin.csrf,
            section => "bookings",
            flash => v(&flash),
            actions => super::actions::available(state, &b),
            b => v(row(&b, zone)),
            booking => minijinja::context! {
                description => &b.description,
                notes => &b.notes,
                location => &b.location,
                meeting_link => web.links.meeting_link(&b),
                meeting_text => b.meeting_url.as_deref().filter(|_| web.links.meeting_link(&b).is_none()),
                organizer => b.organizer.as_ref().map(|p| minijinja::context! { name => &p.name, email => &p.email }),
                client_id => b.client_id.map(|c| c.to_string()),
                event_type => &b.event_type_slug,
                cancellation_reason => &b.cancellation_reason,
                rejection_reason => &b.rejection_reason,
                ical_sequence => b.ical_sequence,
                series_id => &b.extra.series_id,
                seats => b.extra.seats_per_time_slot,
                host_no_show => b.extra.host_no_show,
                payment => b.extra.payment.as_ref().map(|p| minijinja::context! {
                    id => &p.id,
                    amount => p.amount.map(|a| format!("{}.{:02}", a / 100, (a % 100).abs())),
                    currency => &p.currency,
                }),
                created => show_time(b.created_at, zone),
                updated => show_time(b.updated_at, zone),
            },
            attendees,
            has_chain => chain.len() > 1,
            chain,
            events => v(&events),
            emails => v(emails.iter().map(|j| email_row(j, zone)).collect::<Vec<_>>()),
            deliveries => v(deliveries.iter().map(|d| super::delivery_row(d, zone)).collect::<Vec<_>>()),
            back => format!("/admin/bookings/{}", b.uid),
        },
        STRICT_CSP,
    )
}

#[cfg(test)]
mod tests;
