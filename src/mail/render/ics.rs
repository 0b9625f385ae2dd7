//! Calendar invites (RFC 5545) and the "Add to Google Calendar" link.

use chrono::{DateTime, Utc};
use icalendar::{
    Attendee, Calendar, Component, Event, EventLike, EventStatus, PartStat, Property, Role,
};
use jiff::Timestamp;

use crate::booking::Booking;
use crate::mail::{CalendarInvite, CalendarMethod, header_safe};

/// The iCalendar UID: the booking's `ical_uid`, else `<uid>@calbook`.
pub(crate) fn ical_uid(booking: &Booking) -> String {
    booking
        .ical_uid
        .as_deref()
        .map(strip_controls)
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| format!("{}@calbook", strip_controls(&booking.uid)))
}

/// RFC 5545 text (CRLF line endings) for one booking: `METHOD:REQUEST` (`STATUS:CONFIRMED`,
/// `SEQUENCE` = `ical_sequence`) or `METHOD:CANCEL` (`STATUS:CANCELLED`, `SEQUENCE` =
/// `ical_sequence + 1`). Times are UTC (`…Z`), so no VTIMEZONE is needed. `DTSTAMP` is the
/// booking's `updated_at`, so the output is deterministic.
pub fn calendar_invite(booking: &Booking, method: CalendarMethod) -> CalendarInvite {
    invite(booking, method, None)
}

/// A recurring series' one invite: one event whose UID is the series' (`series_uid`, the first
/// recorded occurrence's iCalUID). A REQUEST starts at the earliest date and lists the others as
/// `RDATE`s; a CANCEL (a "cancel all remaining") names the first cancelled date with
/// `RECURRENCE-ID;RANGE=THISANDFUTURE`, which removes it and every later one.
pub fn series_invite(
    booking: &Booking,
    method: CalendarMethod,
    series_uid: &str,
    dates: &[(Timestamp, Timestamp)],
) -> CalendarInvite {
    let mut dates = dates.to_vec();
    dates.sort();
    let Some(&(first_start, first_end)) = dates.first() else {
        return calendar_invite(booking, method);
    };
    let mut b = booking.clone();
    b.ical_uid = Some(series_uid.to_owned());
    b.starts_at = first_start;
    b.ends_at = first_end;
    let extra = match method {
        CalendarMethod::Request if dates.len() > 1 => Some(Property::new(
            "RDATE",
            dates[1..]
                .iter()
                .map(|(s, _)| utc_basic(*s))
                .collect::<Vec<_>>()
                .join(","),
        )),
        CalendarMethod::Cancel => {
            let mut p = Property::new("RECURRENCE-ID", utc_basic(first_start));
            p.add_parameter("RANGE", "THISANDFUTURE");
            Some(p)
        }
        CalendarMethod::Request => None,
    };
    invite(&b, method, extra)
}

fn invite(booking: &Booking, method: CalendarMethod, extra: Option<Property>) -> CalendarInvite {
    let base_sequence = u32::try_from(booking.ical_sequence.max(0)).unwrap_or(u32::MAX);
    let (sequence, status) = match method {
        CalendarMethod::Request => (base_sequence, EventStatus::Confirmed),
        CalendarMethod::Cancel => (base_sequence.saturating_add(1), EventStatus::Cancelled),
    };

    let mut event = Event::new();
    event
        .uid(&ical_uid(booking))
        .sequence(sequence)
        // The booking's last change, not the wall clock: re-rendering the same email (an outbox
        // retry under the same idempotency key) must give the same bytes.
        .timestamp(to_chrono(booking.updated_at))
        .starts(to_chrono(booking.starts_at))
        .ends(to_chrono(booking.ends_at))
        .summary(&text_value(&booking.title))
        .status(status);
    if let Some(description) = nonempty(booking.description.as_deref()) {
        event.description(&text_value(description));
    }
    if let Some(location) = location(booking) {
        event.location(&text_value(location));
    }
    if let Some(organizer) = &booking.organizer
        && let Some(email) = organizer.email.as_deref().and_then(address)
    {
        let mut prop = Property::new("ORGANIZER", format!("mailto:{email}"));
        if let Some(cn) = organizer.name.as_deref().and_then(common_name) {
            prop.add_parameter("CN", &cn);
        }
        event.append_property(prop);
    }
    for (name, email) in attendees(booking) {
        let mut attendee = Attendee::new(format!("mailto:{email}"))
            .role(Role::ReqParticipant)
            .partstat(PartStat::Accepted);
        if method == CalendarMethod::Request {
            attendee = attendee.rsvp(true);
        }
        if let Some(cn) = name.and_then(common_name) {
            attendee = attendee.cn(cn);
        }
        event.attendee(attendee);
    }
    if let Some(p) = extra {
        event.append_property(p);
    }

    let mut calendar = Calendar::empty();
    calendar
        .append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new("PRODID", "-//calbook//calbook//EN"))
        .append_property(Property::new("CALSCALE", "GREGORIAN"))
        .append_property(Property::new("METHOD", method.as_str()))
        .push(event.done());
    CalendarInvite {
        method,
        ics: calendar.to_string(),
    }
}

/// `https://calendar.google.com/calendar/render?action=TEMPLATE&text=…&dates=…/…&details=…&location=…`,
/// every value percent-encoded so booking values cannot change the link's target. The details
/// name the meeting URL with `meeting_label` (the email's language).
pub fn google_calendar_link(booking: &Booking, meeting_label: &str) -> String {
    let mut details = booking.description.clone().unwrap_or_default();
    if let Some(url) = nonempty(booking.meeting_url.as_deref()) {
        if !details.is_empty() {
            details.push_str("\n\n");
        }
        details.push_str(meeting_label);
        details.push_str(": ");
        details.push_str(url);
    }
    format!(
        "https://calendar.google.com/calendar/render?action=TEMPLATE&text={}&dates={}/{}&details={}&location={}",
        percent_encode(&booking.title),
        utc_basic(booking.starts_at),
        utc_basic(booking.ends_at),
        percent_encode(&details),
        percent_encode(location(booking).unwrap_or("")),
    )
}

/// The meeting URL if there is one, else the location.
pub(crate) fn location(booking: &Booking) -> Option<&str> {
    nonempty(booking.meeting_url.as_deref()).or_else(|| nonempty(booking.location.as_deref()))
}

/// The attendees with an address: `attendees`, or the flat `attendee_email` when that list is empty.
fn attendees(booking: &Booking) -> Vec<(Option<&str>, String)> {
    let list: Vec<_> = booking
        .attendees
        .iter()
        .filter_map(|p| {
            let email = address(p.email.as_deref()?)?;
            Some((p.name.as_deref(), email))
        })
        .collect();
    if !list.is_empty() {
        return list;
    }
    booking
        .attendee_email
        .as_deref()
        .and_then(address)
        .map(|email| vec![(booking.attendee_name.as_deref(), email)])
        .unwrap_or_default()
}

fn nonempty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// A CN parameter value: one line, no double quotes (they cannot appear in a quoted-string).
fn common_name(name: &str) -> Option<String> {
    let cn = header_safe(&name.replace('"', "'"));
    (!cn.is_empty()).then_some(cn)
}

/// An address for a `mailto:` URI: no whitespace, controls or characters that could end the value.
fn address(email: &str) -> Option<String> {
    let email: String = email
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control() && !matches!(c, '"' | '<' | '>'))
        .collect();
    email.contains('@').then_some(email)
}

fn strip_controls(value: &str) -> String {
    value.chars().filter(|c| !c.is_control()).collect()
}

/// A TEXT value: line breaks normalised to `\n` (the crate escapes those), other controls removed.
fn text_value(value: &str) -> String {
    value
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|&c| c == '\n' || !c.is_control())
        .collect()
}

fn to_chrono(ts: Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp(ts.as_second(), 0).unwrap_or_default()
}

/// `20260310T140000Z`
fn utc_basic(ts: Timestamp) -> String {
    ts.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// Percent-encodes everything except RFC 3986 unreserved characters.
pub(crate) fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
