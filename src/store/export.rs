//! Bookings as CSV: the dashboard's **Export CSV** link and `calbook bookings export --csv`.
//!
//! Guarantees:
//! * RFC 4180 output written by the `csv` crate: a header row, then one row per booking, CRLF
//!   line ends, fields quoted when they hold a comma, quote or line break (quotes doubled);
//! * every booking the filter matches, in the filter's order: the listing is read in pages of
//!   [`PAGE`] through the same keyset cursor as the dashboard, so rows written meanwhile neither
//!   repeat nor shift a page (the filter's own `limit` and `after` are replaced);
//! * times in two forms: RFC 3339 UTC (`starts_at`, for tools) and the wall time in the
//!   dashboard's zone (`starts_local`, for people);
//! * a text field that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`,
//!   a tab or a carriage return) is prefixed with `'`, as OWASP advises against CSV injection;
//!   nothing else is changed.
//!
//! Failure modes: a store error ([`ExportError::Store`]) or a write error of the destination
//! ([`ExportError::Write`]) stops the export; what was written before stays written.

use jiff::tz::TimeZone;

use super::{BookingFilter, Cursor, Store, StoreError};
use crate::booking::Booking;

/// Bookings read per query.
pub const PAGE: u32 = 1000;

/// The header row.
pub const COLUMNS: [&str; 14] = [
    "uid",
    "status",
    "starts_at",
    "ends_at",
    "starts_local",
    "title",
    "event_type",
    "attendee_name",
    "attendee_email",
    "attendee_time_zone",
    "location",
    "notes",
    "created_at",
    "rescheduled_to",
];

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the CSV: {0}")]
    Write(#[from] csv::Error),
}

/// Writes every booking `filter` matches to `out` as CSV; returns how many.
pub async fn bookings_csv<W: std::io::Write>(
    store: &Store,
    filter: &BookingFilter,
    zone: &TimeZone,
    out: W,
) -> Result<u64, ExportError> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COLUMNS)?;
    let mut f = filter.clone();
    f.limit = PAGE;
    f.after = None;
    let mut n = 0u64;
    loop {
        let page = store.bookings(&f).await?;
        for b in &page {
            w.write_record(record(b, zone))?;
        }
        n += page.len() as u64;
        match page.last() {
            Some(last) if page.len() == PAGE as usize => f.after = Some(Cursor::after(last)),
            _ => break,
        }
    }
    w.flush().map_err(csv::Error::from)?;
    Ok(n)
}

fn record(b: &Booking, zone: &TimeZone) -> [String; 14] {
    let text = |v: Option<&str>| defuse(v.unwrap_or(""));
    let zone_of = attendee_zone(b);
    [
        b.uid.clone(),
        b.status.as_str().to_owned(),
        b.starts_at.to_string(),
        b.ends_at.to_string(),
        b.starts_at
            .to_zoned_datetime(zone.clone())
            .strftime("%Y-%m-%d %H:%M %Z")
            .to_string(),
        defuse(&b.title),
        text(b.event_type_slug.as_deref()),
        text(b.attendee_name.as_deref()),
        text(b.attendee_email.as_deref()),
        text(zone_of.as_deref()),
        text(b.location.as_deref()),
        text(b.notes.as_deref()),
        b.created_at.to_string(),
        text(b.rescheduled_to.as_deref()),
    ]
}

/// The zone of the booking's attendee (the one named by `attendee_email`, else the first).
pub fn attendee_zone(b: &Booking) -> Option<String> {
    let named = b.attendee_email.as_deref().and_then(|e| {
        b.attendees.iter().find(|p| {
            p.email
                .as_deref()
                .is_some_and(|x| x.eq_ignore_ascii_case(e))
        })
    });
    named
        .or(b.attendees.first())?
        .time_zone
        .clone()
        .filter(|z| !z.is_empty())
}

/// `s`, with a `'` in front when a spreadsheet would read it as a formula.
fn defuse(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::defuse;

    #[test]
    fn formulas_are_defused_and_other_text_is_kept() {
        assert_eq!(defuse("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(defuse("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(defuse("-5"), "'-5");
        assert_eq!(defuse("Ann, \"the\" client"), "Ann, \"the\" client");
        assert_eq!(defuse(""), "");
    }
}
