//! `/admin`, the landing page: the live bookings of today and of the rest of this week (Monday
//! to Sunday) in the dashboard's zone (`CALBOOK_ADMIN_TIMEZONE`), and what needs attention:
//! upcoming bookings awaiting confirmation or payment or a new time, dead emails, and deliveries
//! rejected in the last seven days.
//!
//! Each list is one indexed query with a bound (see [`LIMIT`]); a longer list says so and links
//! to the full one.

use axum::extract::State;
use axum::response::Response;
use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::Serialize;

use super::{AdminSession, store_error};
use crate::booking::{Booking, Status};
use crate::outbox::JobState;
use crate::store::{BookingFilter, Outcome, SortOrder};
use crate::web::WebState;
use crate::web::pages::STRICT_CSP;

fn v(x: impl Serialize) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(x))
}

/// Most rows per list.
const LIMIT: u32 = 100;

#[derive(Debug, Serialize)]
struct Row {
    uid: String,
    when: String,
    title: String,
    attendee: String,
    event_type: Option<String>,
    location: Option<String>,
    status: &'static str,
}

fn row(b: &Booking, zone: &TimeZone, with_day: bool) -> Row {
    let z = b.starts_at.to_zoned_datetime(zone.clone());
    let when = if with_day {
        z.strftime("%a %-d %b, %H:%M").to_string()
    } else {
        z.strftime("%H:%M").to_string()
    };
    let attendee = match (&b.attendee_name, &b.attendee_email) {
        (Some(n), Some(e)) => format!("{n} <{e}>"),
        (Some(x), None) | (None, Some(x)) => x.clone(),
        (None, None) => String::new(),
    };
    Row {
        uid: b.uid.clone(),
        when,
        title: b.title.clone(),
        attendee,
        event_type: b.event_type_slug.clone(),
        location: b.location.clone(),
        status: b.status.as_str(),
    }
}

/// Today's start, tomorrow's start and next Monday's start in `zone`.
fn bounds(now: Timestamp, zone: &TimeZone) -> Option<(Timestamp, Timestamp, Timestamp)> {
    let today = now.to_zoned_datetime(zone.clone()).date();
    let tomorrow = today.tomorrow().ok()?;
    let days_to_monday = 7 - i64::from(today.weekday().to_monday_zero_offset());
    let monday = today.checked_add(days_to_monday.days()).ok()?;
    let at = |d: jiff::civil::Date| {
        d.to_zoned_datetime(zone.clone())
            .ok()
            .map(|z| z.timestamp())
    };
    debug_assert_eq!(monday.weekday(), Weekday::Monday);
    Some((at(today)?, at(tomorrow)?, at(monday)?))
}

pub async fn today(State(state): State<WebState>, admin: AdminSession) -> Response {
    let web = &state.web;
    let zone = &web.config.admin_zone;
    let now = crate::time::now();
    let Some((day, tomorrow, monday)) = bounds(now, zone) else {
        return web.pages.error(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "Today is out of the calendar's range.",
        );
    };
    let live = |from, to| BookingFilter {
        from: Some(from),
        to: Some(to),
        live: true,
        order: SortOrder::Ascending,
        limit: LIMIT + 1,
        ..Default::default()
    };
    let waiting = |status| BookingFilter {
        status: Some(status),
        from: Some(now),
        order: SortOrder::Ascending,
        limit: LIMIT + 1,
        ..Default::default()
    };
    let store = &state.store;
    let week_ago = now - SignedDuration::from_hours(24 * 7);
    let filters = [
        live(day, tomorrow),
        live(tomorrow, monday),
        waiting(Status::Pending),
        waiting(Status::AwaitingPayment),
        waiting(Status::RescheduleRequested),
    ];
    let result = tokio::try_join!(
        store.bookings(&filters[0]),
        store.bookings(&filters[1]),
        store.bookings(&filters[2]),
        store.bookings(&filters[3]),
        store.bookings(&filters[4]),
        store.outbox(Some(JobState::Dead), LIMIT + 1),
        store.deliveries_with_outcome(Some(Outcome::Rejected), LIMIT + 1),
    );
    let (today, week, pending, unpaid, moving, dead, rejected) = match result {
        Ok(x) => x,
        Err(e) => return store_error(&state, &e),
    };
    let list = |l: &[Booking], with_day: bool| {
        minijinja::context! {
            rows => v(
                l.iter().take(LIMIT as usize).map(|b| row(b, zone, with_day)).collect::<Vec<_>>()
            ),
            more => l.len() > LIMIT as usize,
        }
    };
    let rejected: Vec<_> = rejected
        .iter()
        .filter(|d| d.received_at >= week_ago)
        .take(LIMIT as usize)
        .map(|d| super::delivery_row(d, zone))
        .collect();
    let dead: Vec<_> = dead
        .iter()
        .take(LIMIT as usize)
        .map(|j| super::bookings::email_row(j, zone))
        .collect();
    let attention = !pending.is_empty()
        || !unpaid.is_empty()
        || !moving.is_empty()
        || !dead.is_empty()
        || !rejected.is_empty();
    web.pages.render(
        "admin/today.html",
        minijinja::context! {
            business_name => &web.config.business_name,
            csrf => &admin.csrf,
            section => "today",
            zone => zone.iana_name().unwrap_or("UTC"),
            date => day.to_zoned_datetime(zone.clone()).strftime("%A %-d %B %Y").to_string(),
            today => list(&today, false),
            week => list(&week, true),
            pending => list(&pending, true),
            unpaid => list(&unpaid, true),
            moving => list(&moving, true),
            dead => v(&dead),
            rejected => v(&rejected),
            attention,
        },
        STRICT_CSP,
    )
}
