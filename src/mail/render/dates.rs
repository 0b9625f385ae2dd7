//! Dates and times as the recipient's language writes them, by ICU4X (`icu_datetime` with its
//! compiled CLDR data): "Tuesday 10 March 2026", "Dienstag, 10. März 2026", "mardi 10 mars 2026".
//!
//! The wall-clock time comes from jiff's bundled tz database (see [`super::zone`]); ICU4X only
//! writes it. A locale ICU4X has no data for falls back along CLDR's chain (to its root at
//! worst), so formatters are always built; were construction to fail anyway, ISO-style
//! `2026-03-10 15:00` is written rather than failing the email.
//!
//! Building a locale's formatters (finding its data along the fallback chain) costs more than
//! rendering the rest of an email, so each thread keeps those of the last [`CACHED_LOCALES`]
//! locales it wrote (ICU4X's formatters cannot move between threads without its `sync` feature).
//! They depend on the locale alone; the bound keeps arbitrary locales in bookings from growing
//! the cache.

use std::cell::RefCell;
use std::rc::Rc;

use icu_calendar::{Date, Iso};
use icu_datetime::fieldsets::{MDE, MDET, T, YMDE, YMDET};
use icu_datetime::{DateTimeFormatter, NoCalendarFormatter};
use icu_locale_core::Locale;
use icu_time::{DateTime, Time};
use jiff::Timestamp;

use super::zone::{ZoneLookup, zone_label};

/// The formatters one email needs, for one locale.
pub(super) struct Dates(Rc<Option<Formatters>>);

/// How many locales' formatters each thread keeps.
const CACHED_LOCALES: usize = 16;

thread_local! {
    /// The formatters built last on this thread, oldest first.
    static BUILT: RefCell<Vec<(Locale, Rc<Option<Formatters>>)>> = const { RefCell::new(Vec::new()) };
}

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
    /// The formatters for `locale`, built once per thread (see the module docs).
    pub(super) fn new(locale: &Locale) -> Dates {
        BUILT.with_borrow_mut(|built| {
            if let Some((_, formatters)) = built.iter().find(|(l, _)| l == locale) {
                return Dates(Rc::clone(formatters));
            }
            let formatters =
                Rc::new(Formatters::new(locale).or_else(|| Formatters::new(&Locale::UNKNOWN)));
            if built.len() >= CACHED_LOCALES {
                built.remove(0);
            }
            built.push((locale.clone(), Rc::clone(&formatters)));
            Dates(formatters)
        })
    }

    /// "Tuesday 10 March 2026"
    pub(super) fn date(&self, at: jiff::civil::DateTime) -> String {
        match (self.0.as_ref(), icu(at)) {
            (Some(f), Some(dt)) => f.date.format(&dt.date).to_string(),
            _ => at.strftime("%Y-%m-%d").to_string(),
        }
    }

    /// "Tuesday 10 March 2026, 15:00"
    pub(super) fn date_time(&self, at: jiff::civil::DateTime) -> String {
        match (self.0.as_ref(), icu(at)) {
            (Some(f), Some(dt)) => f.date_time.format(&dt).to_string(),
            _ => at.strftime("%Y-%m-%d %H:%M").to_string(),
        }
    }

    /// "Tue 10 Mar, 15:00"
    pub(super) fn short(&self, at: jiff::civil::DateTime) -> String {
        match (self.0.as_ref(), icu(at)) {
            (Some(f), Some(dt)) => f.short.format(&dt).to_string(),
            _ => at.strftime("%Y-%m-%d %H:%M").to_string(),
        }
    }

    /// "15:00"
    pub(super) fn time(&self, at: jiff::civil::DateTime) -> String {
        match (self.0.as_ref(), icu(at)) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Formatters built for this locale alone, bypassing the thread's cache.
    fn fresh(locale: &Locale) -> Dates {
        Dates(Rc::new(Formatters::new(locale)))
    }

    #[test]
    fn kept_formatters_write_as_freshly_built_ones_for_more_locales_than_are_kept() {
        let at = jiff::civil::date(2026, 3, 10).at(15, 0, 0, 0);
        let tags = [
            "en-GB", "de", "fr", "es", "de-AT", "fr-CA", "es-MX", "en-US", "de-CH", "fr-BE", "it",
            "nl", "pt-BR", "sv", "da", "ja", "ko", "pl", "cs", "fi",
        ];
        assert!(
            tags.len() > CACHED_LOCALES,
            "some locales are dropped and built again"
        );
        let locales: Vec<Locale> = tags.iter().map(|t| t.parse().unwrap()).collect();
        // Twice round, so the second round finds some locales kept and others dropped.
        for _ in 0..2 {
            for locale in &locales {
                let (kept, fresh) = (Dates::new(locale), fresh(locale));
                assert_eq!(kept.date_time(at), fresh.date_time(at), "{locale}");
                assert_eq!(kept.short(at), fresh.short(at), "{locale}");
                assert_eq!(kept.date(at), fresh.date(at), "{locale}");
                assert_eq!(kept.time(at), fresh.time(at), "{locale}");
            }
        }
        assert_ne!(
            Dates::new(&locales[1]).date(at),
            Dates::new(&locales[2]).date(at),
            "German and French dates differ"
        );
        assert!(BUILT.with_borrow(|built| built.len()) <= CACHED_LOCALES);
    }
}
