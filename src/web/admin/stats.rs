//! `/admin/stats`: the weekly numbers (see [`crate::stats`]) as a chart drawn on the server
//! (SVG, no script) with a title, axis labels, a legend and a text alternative (`role="img"`
//! with `<title>` and `<desc>`, and the same numbers in a table beside it); and `GET
//! /api/stats`, the same numbers as JSON for admins (a bearer token, as the bookings API signs
//! in: 401 JSON without one, 403 JSON for a signed-in non-admin).
//!
//! Failure modes: a database error is the 503 page (or `database_unavailable` JSON).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::{AdminSession, store_error};
use crate::http::{ApiError, ErrorBody};
use crate::stats::{StatsError, WeeklyStats};
use crate::web::WebState;
use crate::web::pages::STRICT_CSP;

/// The series drawn, in legend order: (key, label, colour). The colours keep 3:1 against white
/// and against each other's neighbours' lightness.
const SERIES: [(&str, &str, &str); 4] = [
    ("bookings", "Bookings", "#0b57d0"),
    ("cancellations", "Cancellations", "#a40e26"),
    ("reschedules", "Reschedules", "#7d4e00"),
    ("no_shows", "No-shows", "#5b2a86"),
];

/// The chart's geometry (SVG user units).
const WIDTH: i64 = 760;
const HEIGHT: i64 = 340;
const LEFT: i64 = 56;
const RIGHT: i64 = 12;
const TOP: i64 = 44;
const BOTTOM: i64 = 64;

#[derive(Debug, Serialize)]
struct Bar {
    x: i64,
    y: i64,
    width: i64,
    height: i64,
    colour: &'static str,
    label: String,
}

#[derive(Debug, Serialize)]
struct Tick {
    y: i64,
    value: i64,
}

#[derive(Debug, Serialize)]
struct XLabel {
    x: i64,
    text: String,
}

#[derive(Debug, Serialize)]
struct Legend {
    x: i64,
    colour: &'static str,
    label: &'static str,
}

/// A ceiling for the y axis: 4 ticks of a round step (1, 2, 5 × 10ⁿ) that cover `max`.
fn axis_step(max: i64) -> i64 {
    let want = (max.max(1) + 3) / 4;
    let mut unit = 1;
    loop {
        for m in [1, 2, 5] {
            if m * unit >= want {
                return m * unit;
            }
        }
        unit *= 10;
    }
}

fn count(c: &crate::store::PeriodCounts, key: &str) -> i64 {
    match key {
        "bookings" => c.bookings,
        "cancellations" => c.cancellations,
        "reschedules" => c.reschedules,
        _ => c.no_shows,
    }
}

/// `23 Nov` for the Monday `2026-11-23`.
fn short_date(iso: &str) -> String {
    iso.parse::<jiff::civil::Date>()
        .map(|d| d.strftime("%-d %b").to_string())
        .unwrap_or_else(|_| iso.to_owned())
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The chart's parts, for `admin/stats.html`.
fn chart(stats: &WeeklyStats) -> minijinja::Value {
    let max = stats
        .weeks
        .iter()
        .flat_map(|w| SERIES.iter().map(|(k, ..)| count(&w.counts, k)))
        .max()
        .unwrap_or(0);
    let step = axis_step(max);
    let top_value = step * 4;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let base = TOP + plot_h;
    let group = plot_w / stats.weeks.len().max(1) as i64;
    let bar_w = (group - 8) / SERIES.len() as i64;
    let y_of = |v: i64| base - v * plot_h / top_value;
    let mut bars = Vec::new();
    let mut labels = Vec::new();
    for (i, w) in stats.weeks.iter().enumerate() {
        let x0 = LEFT + i as i64 * group + 4;
        for (j, (key, label, colour)) in SERIES.iter().enumerate() {
            let n = count(&w.counts, key);
            let y = y_of(n);
            bars.push(Bar {
                x: x0 + j as i64 * bar_w,
                y,
                width: bar_w - 1,
                height: base - y,
                colour,
                label: format!(
                    "Week of {}: {n} {}",
                    short_date(&w.week_start),
                    label.to_lowercase()
                ),
            });
        }
        labels.push(XLabel {
            x: x0 + group / 2 - 4,
            text: short_date(&w.week_start),
        });
    }
    let ticks: Vec<Tick> = (0..=4)
        .map(|k| Tick {
            y: y_of(k * step),
            value: k * step,
        })
        .collect();
    let legend: Vec<Legend> = SERIES
        .iter()
        .enumerate()
        .map(|(i, (_, label, colour))| Legend {
            x: LEFT + i as i64 * 150,
            colour,
            label,
        })
        .collect();
    let t = &stats.totals;
    let desc = format!(
        "Grouped bars, one group per week, from the week of {} to the current week of {}. Over \
         the {} weeks: {}, {}, {} and {}. The table after the chart gives every week's numbers.",
        stats
            .weeks
            .first()
            .map_or(String::new(), |w| short_date(&w.week_start)),
        stats
            .weeks
            .last()
            .map_or(String::new(), |w| short_date(&w.week_start)),
        stats.weeks.len(),
        plural(t.bookings, "booking", "bookings"),
        plural(t.cancellations, "cancellation", "cancellations"),
        plural(t.reschedules, "reschedule", "reschedules"),
        plural(t.no_shows, "no-show", "no-shows"),
    );
    minijinja::context! {
        width => WIDTH,
        height => HEIGHT,
        left => LEFT,
        right_edge => WIDTH - RIGHT,
        base,
        plot_mid => TOP + plot_h / 2,
        x_title_y => HEIGHT - 8,
        label_y => base + 18,
        bars => v(&bars),
        ticks => v(&ticks),
        labels => v(&labels),
        legend => v(&legend),
        desc,
    }
}

fn v(x: impl Serialize) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(x))
}

/// `/admin/stats`: the chart and its table.
pub async fn stats_page(State(state): State<WebState>, admin: AdminSession) -> Response {
    let web = &state.web;
    let zone = &web.config.admin_zone;
    let stats = match crate::stats::weekly(&state.store, zone, crate::time::now()).await {
        Ok(s) => s,
        Err(StatsError::Store(e)) => return store_error(&state, &e),
        Err(e) => {
            return web
                .pages
                .error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string());
        }
    };
    let rows: Vec<_> = stats
        .weeks
        .iter()
        .map(|w| {
            minijinja::context! {
                week => short_date(&w.week_start),
                iso => &w.week_start,
                counts => v(w.counts),
            }
        })
        .collect();
    web.pages.render(
        "admin/stats.html",
        minijinja::context! {
            business_name => &web.config.business_name,
            csrf => &admin.csrf,
            section => "stats",
            zone => &stats.time_zone,
            chart => chart(&stats),
            rows,
            totals => v(stats.totals),
            weeks => stats.weeks.len(),
        },
        STRICT_CSP,
    )
}

/// The `stats` tag of the API document.
#[derive(utoipa::OpenApi)]
#[openapi(tags((name = "stats", description = "The dashboard's weekly numbers, for admins")))]
pub struct StatsDoc;

/// The weekly numbers: bookings, cancellations, reschedules and no-shows per week.
///
/// Admins only: the admin token, or a Supabase access token with `app_metadata.role = admin`
/// (the `admin` role of the `bearer` scheme). The last twelve weeks, Monday 00:00 to Monday
/// 00:00 in the dashboard's zone (`CALBOOK_ADMIN_TIMEZONE`), oldest first, the current week last
/// (still running). Each entry of a booking's history counts by when calbook learnt of it (a
/// webhook or the sync): a new booking (not the new time of a reschedule), a cancellation (a
/// whole booking, not one seat), a reschedule (each move once), a no-show mark set (not one
/// taken back).
#[utoipa::path(
    get,
    path = "/api/stats",
    tag = "stats",
    operation_id = "weekly_stats",
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "The last twelve weeks' numbers, and their sums", body = WeeklyStats),
        (status = 401, description = "Missing or refused token", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"calbook\"`, with `error=\"invalid_token\"` for a refused token"))),
        (status = 403, description = "Signed in, but not as an admin (a client)", body = ErrorBody),
        (status = 503, description = "Database or signing keys unavailable; retry", body = ErrorBody),
    )
)]
pub async fn stats_json(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let refusal = "the numbers are for admins: use the admin token or an admin's access token";
    if let Err(refused) = crate::http::sign_in::resolve_admin(&state, &headers, refusal).await {
        return refused;
    }
    let zone = &state.web.config.admin_zone;
    match crate::stats::weekly(&state.store, zone, crate::time::now()).await {
        Ok(s) => Json(s).into_response(),
        Err(StatsError::Store(crate::store::StoreError::Unavailable(_))) => {
            ApiError::unavailable().into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "stats query failed");
            ApiError::internal().into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_is_four_round_steps_over_the_largest_count() {
        for (max, step) in [
            (0, 1),
            (1, 1),
            (4, 1),
            (5, 2),
            (9, 5),
            (20, 5),
            (21, 10),
            (399, 100),
        ] {
            assert_eq!(axis_step(max), step, "{max}");
            assert!(axis_step(max) * 4 >= max);
        }
    }
}
