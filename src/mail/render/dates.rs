//! Dates and times as the recipient's language writes them, by ICU4X (`icu_datetime` with its
//! compiled CLDR data): "Tuesday 10 March 2026", "Dienstag, 10. März 2026", "mardi 10 mars 2026".
//!
//! The wall-clock time comes from jiff's bundled tz database (see [`super::zone`]); ICU4X only
//! writes it. A locale ICU4X has no data for falls back along CLDR's chain (to its root at
//! worst), so formatters are always built; were construction to fail anyway, ISO-style
//! `2026-03-10 15:00` is written rather than failing the email.

use icu_calendar::{Date, Iso};
use icu_datetime::fieldsets::{MDE, MDET, T, YMDE, YMDET};
use icu_datetime::{DateTimeFormatter, NoCalendarFormatter};
use icu_locale_core::Locale;
use icu_time::{DateTime, Time};
use jiff::Timestamp;

use super::zone::{ZoneLookup, zone_label};

/// The formatters one email needs, for one locale.
pub(super) struct Dates(Option<Formatters>);

struct Formatters {
    /// "Tuesday 10 March 2026"
    date: DateTimeFormatter<YMDE>,
    /// "Tuesday 10 March 2026, 15:00"
    date_time: DateTimeFormatter<YMDET>,
    /// "Tue 10 Mar, 15:00" (subjects)
    short: DateTimeFormatter<MDET>,
    /// "15:00"
    time: NoCalendarFormatter<T>,
}

impl Dates {
    pub(super) fn new(locale: &Locale) -> Dates {
        Dates(Formatters::new(locale).or_else(|| Formatters::new(&Locale::UNKNOWN)))
    }

    /// "Tuesday 10 March 2026"
    pub(super) fn date(&self, at: jiff::civil::DateTime) -> String {
        match (&self.0, icu(at)) {
            (Some(f), Some(dt)) => f.date.format(&dt.date).to_string(),
            _ => at.strftime("%Y-%m-%d").to_string(),
        }
    }

    /// "Tuesday 10 March 2026, 15:00"
    pub(super) fn date_time(&self, at: jiff::civil::DateTime) -> String {
        match (&self.0, icu(at)) {
            (Some(f), Some(dt)) => f.date_time.format(&dt).to_string(),
            _ => at.strftime("%Y-%m-%d %H:%M").to_string(),
        }
    }

    /// "Tue 10 Mar, 15:00"
    pub(super) fn short(&self, at: jiff::civil::DateTime) -> String {
        match (&self.0, icu(at)) {
            (Some(f), Some(dt)) => f.short.format(&dt).to_string(),
            _ => at.strftime("%Y-%m-%d %H:%M").to_string(),
        }
    }

    /// "15:00"
    pub(super) fn time(&self, at: jiff::civil::DateTime) -> String {
        match (&self.0, icu(at)) {
            (Some(f), Some(dt)) => f.time.format(&dt.time).to_string(),
            _ => at.strftime("%H:%M").to_string(),
        }
    }
}

impl Formatters {
    fn new(locale: &Locale) -> Option<Formatters> {
        let prefs = || locale.clone().into();
        Some(Formatters {
            date: DateTimeFormatter::try_new(prefs(), YMDE::long()).ok()?,
            date_time: DateTimeFormatter::try_new(prefs(), YMDE::long().with_time_hm()).ok()?,
            short: DateTimeFormatter::try_new(prefs(), MDE::medium().with_time_hm()).ok()?,
            time: NoCalendarFormatter::try_new(prefs(), T::hm()).ok()?,
        })
    }
}

/// jiff's civil date-time as ICU4X's ISO one, to the minute.
fn icu(at: jiff::civil::DateTime) -> Option<DateTime<Iso>> {
    let narrow = |v: i8| u8::try_from(v).ok();
    Some(DateTime {
        date: Date::try_new_iso(i32::from(at.year()), narrow(at.month())?, narrow(at.day())?)
            .ok()?,
        time: Time::try_new(narrow(at.hour())?, narrow(at.minute())?, 0, 0).ok()?,
    })
}

impl Dates {
    /// "Tuesday 10 March 2026, 15:00–15:30 (Europe/Berlin, CET)"; an end on another local day
    /// is written in full.
    pub(super) fn span(&self, lookup: &ZoneLookup, start: Timestamp, end: Timestamp) -> String {
        let tz = lookup.time_zone();
        let (s, e) = (tz.to_datetime(start), tz.to_datetime(end));
        let zone = zone_label(&lookup.local(start));
        if end <= start {
            format!("{} ({zone})", self.date_time(s))
        } else if s.date() == e.date() {
            format!("{}\u{2013}{} ({zone})", self.date_time(s), self.time(e))
        } else {
            format!(
                "{} \u{2013} {} ({zone})",
                self.date_time(s),
                self.date_time(e)
            )
        }
    }

    /// "Tuesday 10 March 2026, 15:00 (Europe/Berlin, CET)"
    pub(super) fn instant(&self, lookup: &ZoneLookup, at: Timestamp) -> String {
        let local = lookup.time_zone().to_datetime(at);
        format!(
            "{} ({})",
            self.date_time(local),
            zone_label(&lookup.local(at))
        )
    }
}
