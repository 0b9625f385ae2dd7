//! Recipient-local times, always from jiff's bundled tz database (the system tzdata can be stale).

use std::sync::LazyLock;

use jiff::Timestamp;
use jiff::tz::{TimeZone, TimeZoneDatabase};

static BUNDLED: LazyLock<TimeZoneDatabase> = LazyLock::new(TimeZoneDatabase::bundled);

/// Longest zone name we look up (IANA names are far shorter); longer input is treated as unknown.
const MAX_ZONE_NAME: usize = 64;

/// The recipient-local view of an instant, from jiff's **bundled** tz database (never the system one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalTime {
    /// e.g. "Tuesday, 10 March 2026"
    pub date: String,
    /// 24-hour clock, e.g. "15:00"
    pub time: String,
    /// IANA name, "UTC" if the zone was missing, unknown or invalid.
    pub zone: String,
    /// e.g. "CET"
    pub abbreviation: String,
    /// e.g. "+01:00"
    pub offset: String,
}

/// How a requested zone resolved.
#[derive(Debug, Clone)]
pub(crate) enum ZoneLookup {
    /// The zone was found (its IANA name as the database spells it).
    Found(TimeZone, String),
    /// No zone was given: UTC.
    Missing,
    /// The zone was given but is not in the bundled database: UTC.
    Unknown(String),
}

impl ZoneLookup {
    pub(crate) fn resolve(zone: Option<&str>) -> ZoneLookup {
        let Some(name) = zone.map(str::trim).filter(|z| !z.is_empty()) else {
            return ZoneLookup::Missing;
        };
        if name.len() > MAX_ZONE_NAME || name.chars().any(|c| c.is_control()) {
            return ZoneLookup::Unknown(crate::mail::header_safe(
                &name.chars().take(MAX_ZONE_NAME).collect::<String>(),
            ));
        }
        match BUNDLED.get(name) {
            Ok(tz) => {
                let iana = tz.iana_name().unwrap_or(name).to_owned();
                ZoneLookup::Found(tz, iana)
            }
            Err(_) => ZoneLookup::Unknown(name.to_owned()),
        }
    }

    pub(crate) fn time_zone(&self) -> TimeZone {
        match self {
            ZoneLookup::Found(tz, _) => tz.clone(),
            _ => TimeZone::UTC,
        }
    }

    pub(crate) fn name(&self) -> &str {
        match self {
            ZoneLookup::Found(_, name) => name,
            _ => "UTC",
        }
    }

    pub(crate) fn local(&self, at: Timestamp) -> LocalTime {
        let tz = self.time_zone();
        let dt = tz.to_datetime(at);
        let info = tz.to_offset_info(at);
        LocalTime {
            date: dt.strftime("%A, %-d %B %Y").to_string(),
            time: dt.strftime("%H:%M").to_string(),
            zone: self.name().to_owned(),
            abbreviation: info.abbreviation().to_owned(),
            offset: format_offset(info.offset().seconds()),
        }
    }
}

/// The recipient-local view of `at` in `zone` (an IANA name; legacy links such as
/// `Asia/Calcutta` work). A missing, unknown or invalid zone gives UTC.
pub fn local_time(at: Timestamp, zone: Option<&str>) -> LocalTime {
    ZoneLookup::resolve(zone).local(at)
}

fn format_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let abs = seconds.unsigned_abs();
    let (h, m) = (abs / 3600, (abs % 3600) / 60);
    format!("{sign}{h:02}:{m:02}")
}

pub(crate) fn zone_label(l: &LocalTime) -> String {
    if l.abbreviation == l.zone {
        l.zone.clone()
    } else {
        format!("{}, {}", l.zone, l.abbreviation)
    }
}

/// "30 minutes", "1 hour", "1 hour 30 minutes", "24 hours", "3 days" (whole days from two on).
/// Emails and the booking page name durations and reminder leads with it.
pub fn format_minutes(total_minutes: i64) -> String {
    let total = total_minutes.max(0);
    let plural = |n: i64, unit: &str| {
        if n == 1 {
            format!("1 {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    const DAY: i64 = 24 * 60;
    if total >= 2 * DAY && total % DAY == 0 {
        return plural(total / DAY, "day");
    }
    let (h, m) = (total / 60, total % 60);
    match (h, m) {
        (0, m) => plural(m, "minute"),
        (h, 0) => plural(h, "hour"),
        (h, m) => format!("{} {}", plural(h, "hour"), plural(m, "minute")),
    }
}

#[cfg(test)]
mod tests {
    use super::format_minutes;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_minutes(24 * 60), "24 hours");
        assert_eq!(format_minutes(60), "1 hour");
        assert_eq!(format_minutes(30), "30 minutes");
        assert_eq!(format_minutes(90), "1 hour 30 minutes");
        assert_eq!(format_minutes(72 * 60), "3 days");
        assert_eq!(format_minutes(-5), "0 minutes");
    }
}
