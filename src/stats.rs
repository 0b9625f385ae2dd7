//! The numbers a business looks at: bookings, cancellations, reschedules and no-shows per week
//! for the last [`WEEKS`] weeks, weeks from Monday 00:00 in the dashboard's zone
//! (`CALBOOK_ADMIN_TIMEZONE`), the current week last (it is still running).
//!
//! What counts is defined by [`crate::store::Store::weekly_counts`] (one grouped, indexed
//! statement); this module only cuts the weeks, DST included (a week may be 167 or 169 hours).
//! Served as JSON by `GET /api/stats` (admins) and as a chart on `/admin/stats`.
//!
//! Failure modes: a database error is the store's; a zone whose weeks fall outside jiff's range
//! (not a real case) is [`StatsError::OutOfRange`].

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::store::{PeriodCounts, Store, StoreError};

/// How many weeks the numbers cover.
pub const WEEKS: usize = 12;

/// One week's numbers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Week {
    /// The Monday the week starts on, in the dashboard's zone (`2026-11-23`).
    #[schema(format = Date)]
    pub week_start: String,
    /// The week's first instant (RFC 3339, UTC).
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: Timestamp,
    /// The next week's first instant.
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: Timestamp,
    #[serde(flatten)]
    pub counts: PeriodCounts,
}

/// The answer of `GET /api/stats`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WeeklyStats {
    /// The zone the weeks are cut in (IANA name, `CALBOOK_ADMIN_TIMEZONE`).
    pub time_zone: String,
    /// Oldest first; the last is the current week.
    pub weeks: Vec<Week>,
    /// The sums over the weeks.
    pub totals: PeriodCounts,
}

#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the weeks around {0} are out of the calendar's range")]
    OutOfRange(Timestamp),
}

/// The Mondays starting the last [`WEEKS`] weeks and the next one, with their first instants in
/// `zone` (`WEEKS + 1` entries, ascending).
pub fn week_bounds(now: Timestamp, zone: &TimeZone) -> Option<Vec<(Date, Timestamp)>> {
    let today = now.to_zoned_datetime(zone.clone()).date();
    let monday = today
        .checked_sub(jiff::Span::new().days(i64::from(today.weekday().to_monday_zero_offset())))
        .ok()?;
    let first = monday
        .checked_sub(jiff::Span::new().weeks(WEEKS as i64 - 1))
        .ok()?;
    (0..=WEEKS as i64)
        .map(|i| {
            let d = first.checked_add(jiff::Span::new().weeks(i)).ok()?;
            let t = d.to_zoned_datetime(zone.clone()).ok()?.timestamp();
            Some((d, t))
        })
        .collect()
}

/// The last [`WEEKS`] weeks' numbers in `zone`.
pub async fn weekly(
    store: &Store,
    zone: &TimeZone,
    now: Timestamp,
) -> Result<WeeklyStats, StatsError> {
    let bounds = week_bounds(now, zone).ok_or(StatsError::OutOfRange(now))?;
    let instants: Vec<Timestamp> = bounds.iter().map(|(_, t)| *t).collect();
    let counts = store.weekly_counts(&instants).await?;
    let mut totals = PeriodCounts::default();
    let weeks = bounds
        .windows(2)
        .zip(counts)
        .map(|(w, c)| {
            totals.bookings += c.bookings;
            totals.cancellations += c.cancellations;
            totals.reschedules += c.reschedules;
            totals.no_shows += c.no_shows;
            Week {
                week_start: w[0].0.to_string(),
                starts_at: w[0].1,
                ends_at: w[1].1,
                counts: c,
            }
        })
        .collect();
    Ok(WeeklyStats {
        time_zone: zone.iana_name().unwrap_or("UTC").to_owned(),
        weeks,
        totals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday_midnight_in_the_zone_and_end_with_the_current_one() {
        // Wednesday 25 November 2026, 12:00 UTC.
        let now: Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let b = week_bounds(now, &berlin).unwrap();
        assert_eq!(b.len(), WEEKS + 1);
        assert_eq!(b[WEEKS - 1].0.to_string(), "2026-11-23");
        assert_eq!(b[WEEKS - 1].1, "2026-11-22T23:00:00Z".parse().unwrap());
        assert_eq!(b[WEEKS].0.to_string(), "2026-11-30");
        assert_eq!(b[0].0.to_string(), "2026-09-07");
        // Summer time: Monday 7 September starts at 22:00 UTC the day before.
        assert_eq!(b[0].1, "2026-09-06T22:00:00Z".parse().unwrap());
        // The week of 25 October (the clocks go back) is 169 hours long.
        let i = b
            .iter()
            .position(|(d, _)| d.to_string() == "2026-10-19")
            .unwrap();
        assert_eq!((b[i + 1].1 - b[i].1).as_hours(), 169);
    }

    #[test]
    fn sunday_late_is_still_the_week_that_started_on_monday() {
        // Sunday 29 November 23:30 in Kiritimati (UTC+14) is Sunday 09:30 UTC.
        let zone = TimeZone::get("Pacific/Kiritimati").unwrap();
        let now: Timestamp = "2026-11-29T09:30:00Z".parse().unwrap();
        let b = week_bounds(now, &zone).unwrap();
        assert_eq!(b[WEEKS - 1].0.to_string(), "2026-11-23");
    }
}
