//! What a template sees ([`TemplateValues`]): the booking's facts for one recipient, in their
//! zone and language.

use serde::Serialize;

use super::dates::Dates;
use super::lang::{Catalogs, Lang};
use super::zone::ZoneLookup;
use super::{
    EmailKind, Recipient, RenderContext, Role, SUBJECT_TITLE_CHARS, brand, clip_words,
    google_calendar_link, text, text_ref,
};
use crate::booking::{Booking, Person};

/// Everything a template sees. Every key is always present (absent values are `none`), so
/// templates may test any of them under strict undefined behaviour.
#[derive(Debug, Serialize)]
pub(super) struct TemplateValues {
    /// The HTML `lang` attribute: "en", "de", "fr-CA".
    pub(super) lang: String,
    /// The message catalog `t(…)` reads ("en", "de").
    pub(super) language: String,
    pub(super) kind: &'static str,
    pub(super) role: &'static str,
    pub(super) subject: String,
    pub(super) business_name: String,
    pub(super) recipient_name: Option<String>,
    pub(super) title: String,
    /// The other side: the organizer for attendees, the attendees for the host.
    pub(super) other_party: String,
    pub(super) organizer_name: Option<String>,
    pub(super) attendee_label: String,
    pub(super) attendee_names: Vec<String>,
    /// The title cut for a subject line ([`SUBJECT_TITLE_CHARS`]).
    pub(super) short_title: String,
    /// The start in a subject: "Sat 28 Nov, 07:00", in the recipient's zone and language.
    pub(super) short_when: String,
    /// "Tuesday 10 March 2026, 15:00–15:30 (Europe/Berlin, CET)", in the recipient's language
    pub(super) when: String,
    pub(super) date: String,
    pub(super) start_time: String,
    pub(super) end_time: String,
    pub(super) zone: String,
    pub(super) abbreviation: String,
    pub(super) offset: String,
    pub(super) zone_note: Option<String>,
    pub(super) duration: String,
    /// The location as people say it ("Zoom", "Cal Video", an address, a phone number).
    pub(super) location: Option<String>,
    /// Whether `location` is a phone number.
    pub(super) location_is_phone: bool,
    pub(super) meeting_url: Option<String>,
    /// The business's logo (an `https` URL) for the HTML header.
    pub(super) logo_url: Option<String>,
    /// The brand colour (`#rrggbb`) and the text colour on it.
    pub(super) accent: String,
    pub(super) accent_text: String,
    /// A footer line (address, legal).
    pub(super) footer: Option<String>,
    /// The meeting URL as a Join button (emails about a live booking with a linkable URL).
    pub(super) join_url: Option<String>,
    /// Cal.com's page to pick a new time (emails about a live booking).
    pub(super) reschedule_url: Option<String>,
    /// Cal.com's page to cancel (emails about a live booking).
    pub(super) cancel_url: Option<String>,
    /// calbook's booking page (cancelled and declined emails).
    pub(super) book_again_url: Option<String>,
    /// A meeting URL that is not a known video host's, defanged: shown as text only.
    pub(super) meeting_url_unverified: Option<String>,
    pub(super) description: Option<String>,
    pub(super) notes: Option<String>,
    pub(super) cancellation_reason: Option<String>,
    pub(super) rejection_reason: Option<String>,
    pub(super) previous_when: Option<String>,
    pub(super) reminder_lead: String,
    pub(super) google_calendar_link: Option<String>,
    pub(super) uid: String,
    /// Each date of a series this email covers, in the recipient's zone (empty otherwise).
    pub(super) series_dates: Vec<String>,
}

/// The names of [`TemplateValues`]' fields, which a catalog's placeholders may use (a test keeps
/// it equal to the struct).
pub(super) const VALUE_NAMES: [&str; 44] = [
    "lang",
    "language",
    "kind",
    "role",
    "subject",
    "business_name",
    "recipient_name",
    "title",
    "other_party",
    "organizer_name",
    "attendee_label",
    "attendee_names",
    "short_title",
    "short_when",
    "when",
    "date",
    "start_time",
    "end_time",
    "zone",
    "abbreviation",
    "offset",
    "zone_note",
    "duration",
    "location",
    "location_is_phone",
    "meeting_url",
    "logo_url",
    "accent",
    "accent_text",
    "footer",
    "join_url",
    "reschedule_url",
    "cancel_url",
    "book_again_url",
    "meeting_url_unverified",
    "description",
    "notes",
    "cancellation_reason",
    "rejection_reason",
    "previous_when",
    "reminder_lead",
    "google_calendar_link",
    "uid",
    "series_dates",
];

impl TemplateValues {
    pub(super) fn new(
        kind: EmailKind,
        booking: &Booking,
        recipient: &Recipient,
        ctx: &RenderContext,
        lang: &Lang,
        catalogs: &Catalogs,
    ) -> TemplateValues {
        let t = |key: &str| catalogs.fill(&lang.catalog, key, |_| None);
        let lookup = ZoneLookup::resolve(recipient_zone(booking, recipient));
        let dates = Dates::new(&lang.locale);
        let start = lookup.local(booking.starts_at);
        let tz = lookup.time_zone();
        let start_civil = tz.to_datetime(booking.starts_at);

        let organizer_name = booking
            .organizer
            .as_ref()
            .and_then(|o| text(o.name.as_deref()).or_else(|| text(o.email.as_deref())));
        let business_name = text(Some(&ctx.business_name))
            .or_else(|| organizer_name.clone())
            .unwrap_or_else(|| "calbook".to_owned());
        let attendee_names = attendee_names(booking);
        let attendee_label = if attendee_names.is_empty() {
            t("the_attendee")
        } else {
            attendee_names.join(", ")
        };
        let other_party = match recipient.role {
            Role::Host => attendee_label.clone(),
            Role::Attendee => organizer_name
                .clone()
                .unwrap_or_else(|| business_name.clone()),
        };
        let minutes = booking.ends_at.duration_since(booking.starts_at).as_mins();
        let zone_note = match &lookup {
            ZoneLookup::Found(..) => None,
            ZoneLookup::Missing => Some(t("zone.missing")),
            ZoneLookup::Unknown(given) => Some(catalogs.fill(&lang.catalog, "zone.unknown", |n| {
                (n == "zone_given").then(|| given.clone())
            })),
        };

        TemplateValues {
            lang: lang.tag.clone(),
            language: lang.catalog.clone(),
            kind: kind.as_str(),
            role: recipient.role.as_str(),
            subject: String::new(),
            business_name,
            recipient_name: text(recipient.name.as_deref()),
            title: booking.title.trim().to_owned(),
            short_title: clip_words(booking.title.trim(), SUBJECT_TITLE_CHARS),
            short_when: dates.short(start_civil),
            other_party,
            organizer_name,
            attendee_label,
            attendee_names,
            when: dates.span(&lookup, booking.starts_at, booking.ends_at),
            date: dates.date(start_civil),
            start_time: dates.time(start_civil),
            end_time: dates.time(tz.to_datetime(booking.ends_at)),
            zone: start.zone,
            abbreviation: start.abbreviation,
            offset: start.offset,
            zone_note,
            duration: duration(catalogs, &lang.catalog, minutes),
            location: text(booking.location.as_deref()),
            location_is_phone: false,
            logo_url: None,
            accent: brand::DEFAULT_ACCENT.to_owned(),
            accent_text: "#ffffff".to_owned(),
            footer: None,
            join_url: None,
            reschedule_url: None,
            cancel_url: None,
            book_again_url: None,
            meeting_url: text(booking.meeting_url.as_deref()),
            meeting_url_unverified: None,
            description: text(booking.description.as_deref()),
            notes: text(booking.notes.as_deref()),
            cancellation_reason: text(booking.cancellation_reason.as_deref()),
            rejection_reason: text(booking.rejection_reason.as_deref()),
            previous_when: ctx
                .previous_start
                .filter(|_| kind == EmailKind::Rescheduled)
                .map(|at| dates.instant(&lookup, at)),
            reminder_lead: reminder_lead(catalogs, &lang.catalog, ctx.reminder_lead),
            google_calendar_link: kind.has_google_link().then(|| {
                let label = catalogs.message(&lang.catalog, "label.meeting_link");
                google_calendar_link(booking, label.unwrap_or("Meeting link"))
            }),
            uid: booking.uid.clone(),
            series_dates: ctx
                .series
                .iter()
                .map(|(start, end)| dates.span(&lookup, *start, *end))
                .collect(),
        }
    }
}

/// The locale to write in: the recipient's own, else the matching attendee's (by email) for
/// attendees, the organizer's for the host.
pub(super) fn recipient_locale<'a>(
    booking: &'a Booking,
    recipient: &'a Recipient,
) -> Option<&'a str> {
    recipient_or_person(booking, recipient, recipient.locale.as_deref(), |p| {
        p.locale.as_deref()
    })
}

/// The zone to show times in: the recipient's own, else the matching attendee's (by email) for
/// attendees, the organizer's for the host.
fn recipient_zone<'a>(booking: &'a Booking, recipient: &'a Recipient) -> Option<&'a str> {
    recipient_or_person(booking, recipient, recipient.time_zone.as_deref(), |p| {
        p.time_zone.as_deref()
    })
}

/// `own` when set, else `field` of the person the recipient is in the booking: the organizer
/// for the host, the attendee with the recipient's email (ASCII case-insensitive) for an attendee.
fn recipient_or_person<'a>(
    booking: &'a Booking,
    recipient: &Recipient,
    own: Option<&'a str>,
    field: impl Fn(&'a Person) -> Option<&'a str>,
) -> Option<&'a str> {
    if let Some(value) = text_ref(own) {
        return Some(value);
    }
    let person = match recipient.role {
        Role::Host => booking.organizer.as_ref(),
        Role::Attendee => booking.attendees.iter().find(|p| {
            p.email
                .as_deref()
                .is_some_and(|e| e.trim().eq_ignore_ascii_case(recipient.email.trim()))
        }),
    };
    person.and_then(|p| text_ref(field(p)))
}

fn attendee_names(booking: &Booking) -> Vec<String> {
    let names: Vec<String> = booking
        .attendees
        .iter()
        .filter_map(|p| text(p.name.as_deref()).or_else(|| text(p.email.as_deref())))
        .collect();
    if !names.is_empty() {
        return names;
    }
    text(booking.attendee_name.as_deref())
        .or_else(|| text(booking.attendee_email.as_deref()))
        .into_iter()
        .collect()
}

/// "in 24 hours", "in 1 hour", "in 15 minutes"; "soon" when unknown, "now" when not positive.
fn reminder_lead(catalogs: &Catalogs, lang: &str, lead: Option<jiff::SignedDuration>) -> String {
    match lead {
        None => catalogs.fill(lang, "lead.soon", |_| None),
        Some(d) if d.as_secs() < 60 => catalogs.fill(lang, "lead.now", |_| None),
        Some(d) => {
            let span = duration(catalogs, lang, d.as_mins());
            catalogs.fill(lang, "lead.in", |n| (n == "duration").then(|| span.clone()))
        }
    }
}

/// "30 minutes", "1 hour 30 minutes", "3 days" in the catalog's words (whole days from two on,
/// as [`super::format_minutes`]).
fn duration(catalogs: &Catalogs, lang: &str, total_minutes: i64) -> String {
    let total = total_minutes.max(0);
    let unit = |n: i64, unit: &str| {
        let key = format!("{unit}.{}", if n == 1 { "one" } else { "other" });
        catalogs.fill(lang, &key, |name| (name == "n").then(|| n.to_string()))
    };
    const DAY: i64 = 24 * 60;
    if total >= 2 * DAY && total % DAY == 0 {
        return unit(total / DAY, "days");
    }
    match (total / 60, total % 60) {
        (0, m) => unit(m, "minutes"),
        (h, 0) => unit(h, "hours"),
        (h, m) => format!("{} {}", unit(h, "hours"), unit(m, "minutes")),
    }
}
