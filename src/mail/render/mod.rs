//! Rendering emails from bookings: templates ([`Renderer`]), recipient time zones
//! ([`local_time`]) and calendar invites ([`calendar_invite`], [`google_calendar_link`]).
//!
//! - Built-in templates (`templates/email/`) are embedded in the binary; a user directory
//!   (`CALBOOK_TEMPLATES_DIR`) may override any of them by file name. Only the fixed names in
//!   [`TEMPLATE_NAMES`] are read from it, so no path from a template or a payload is followed.
//! - `*.html` templates auto-escape every value; `*.subject` and `*.txt` do not. Undefined
//!   variables are errors, and a fuel limit stops runaway templates.
//! - Booking values never reach an `href` except inside the percent-encoded query of the
//!   Google Calendar link, whose scheme and host are fixed.
//! - Times are shown in the recipient's zone from jiff's bundled tz database.

mod actions;
mod brand;
mod builtin;
mod dates;
mod ics;
mod kind;
mod lang;
mod sample;
mod values;
mod zone;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::Value;
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, State, UndefinedBehavior};
use serde::{Deserialize, Serialize};

use crate::booking::links::LinkPolicy;
use crate::booking::{Booking, Person};
use crate::mail::{Email, Mailbox, header_safe};

pub use actions::{Actions, SiteLinks, actions, location_label};
pub use brand::Brand;
use builtin::BUILTINS;
pub use builtin::TEMPLATE_NAMES;
pub use ics::{calendar_invite, google_calendar_link, series_invite};

/// The calendar UID a series' invites use: its first recorded occurrence's.
pub fn series_calendar_uid(first: &Booking) -> String {
    ics::ical_uid(first)
}
pub use kind::{EmailKind, Role};
pub use zone::{LocalTime, local_time};

pub use lang::BUILTIN_LANGUAGES;
use lang::Catalogs;
use values::{TemplateValues, recipient_locale};
pub use zone::format_minutes;

/// Who one email goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub name: Option<String>,
    pub email: String,
    /// IANA zone; when `None`, the booking's attendee (matched by email) or organizer zone is used.
    pub time_zone: Option<String>,
    pub role: Role,
    /// BCP 47 locale ("de", "fr-CA"); when `None`, the booking's attendee (matched by email) or
    /// organizer locale is used, else English.
    #[serde(default)]
    pub locale: Option<String>,
}

impl Recipient {
    /// A recipient from a booking's attendee or organizer; `None` when the person has no email.
    pub fn from_person(person: &Person, role: Role) -> Option<Recipient> {
        let email = person.email.as_deref()?.trim();
        (!email.is_empty()).then(|| Recipient {
            name: person.name.clone(),
            email: email.to_owned(),
            time_zone: person.time_zone.clone(),
            role,
            locale: person.locale.clone(),
        })
    }
}

/// Extra facts a template may need.
#[derive(Debug, Clone, Default)]
pub struct RenderContext {
    /// Shown in subject and body, e.g. "Acme"; empty → the organizer's name, else "calbook".
    pub business_name: String,
    /// For Reminder: "in 24 hours", "in 1 hour", "in 15 minutes".
    pub reminder_lead: Option<jiff::SignedDuration>,
    /// For Rescheduled: the old start time (shown as "moved from …").
    pub previous_start: Option<jiff::Timestamp>,
    /// For a recurring series' one confirmation, or a cancel-all's one cancellation: every
    /// occurrence's `(start, end)`, listed in the email (empty otherwise).
    pub series: Vec<(jiff::Timestamp, jiff::Timestamp)>,
    /// The series' calendar UID (its first recorded occurrence's iCalUID), with `series`.
    pub series_uid: Option<String>,
}

/// The rendered parts of one email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailParts {
    /// One line, header-safe.
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot read the template override directory {}: {source}", dir.display())]
    OverrideDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the template override {}: {source}", path.display())]
    OverrideFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("template {name:?} does not compile: {source}")]
    Syntax {
        name: String,
        #[source]
        source: minijinja::Error,
    },
    #[error(
        "language file {}: {problem}",
        path.display()
    )]
    Catalog { path: PathBuf, problem: String },
    #[error(
        "template {name:?} fails on a sample booking: {source}; fix that file in the templates directory (CALBOOK_TEMPLATES_DIR) or remove it to use the built-in one"
    )]
    Check {
        name: String,
        #[source]
        source: minijinja::Error,
    },
    #[error("template {name:?} failed to render: {source}")]
    Render {
        name: String,
        #[source]
        source: minijinja::Error,
    },
}

/// Fuel for one render: the built-ins use a few thousand units; a runaway loop runs out.
const FUEL: u64 = 200_000;

/// Renders emails from built-in or user templates.
pub struct Renderer {
    env: Environment<'static>,
    /// Which meeting URLs may be links (see [`crate::booking::links`]).
    links: LinkPolicy,
    /// Where the action links point (see [`actions`]).
    site: SiteLinks,
    /// Logo, colour and footer (see [`Brand`]).
    brand: Brand,
    /// Every language's messages (see [`lang`]).
    catalogs: Arc<Catalogs>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer").finish_non_exhaustive()
    }
}

impl Renderer {
    /// Built-in templates, overridden by files in `override_dir` when given
    /// (`CALBOOK_TEMPLATES_DIR`): `<kind>.subject`, `<kind>.txt`, `<kind>.html` (and the shared
    /// `layout.html`, `_facts.html`, `_facts.txt`); missing files fall back to built-ins. Files are
    /// read and compiled here, so a broken override fails at start-up, naming the template.
    pub fn new(override_dir: Option<&Path>) -> Result<Renderer, RenderError> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL));
        let value_names: Vec<String> = values::VALUE_NAMES.iter().map(|&n| n.to_owned()).collect();
        let catalogs = Arc::new(Catalogs::load(override_dir, &value_names)?);
        let messages = Arc::clone(&catalogs);
        // `t("key")`: the message in the email's language, its `{placeholders}` filled from the
        // template's values (auto-escaped as a whole in HTML).
        env.add_function(
            "t",
            move |state: &State, key: &str| -> Result<String, minijinja::Error> {
                let language = state
                    .lookup("language")
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "en".to_owned());
                let message = messages.message(&language, key).ok_or_else(|| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("no message {key:?} in the language files"),
                    )
                })?;
                Ok(lang::fill(message, |name| {
                    state
                        .lookup(name)
                        .filter(|v| !v.is_none() && !v.is_undefined())
                        .map(|v| v.to_string())
                }))
            },
        );

        if let Some(dir) = override_dir {
            let meta = std::fs::metadata(dir).map_err(|source| RenderError::OverrideDir {
                dir: dir.to_owned(),
                source,
            })?;
            if !meta.is_dir() {
                return Err(RenderError::OverrideDir {
                    dir: dir.to_owned(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotADirectory,
                        "not a directory",
                    ),
                });
            }
        }

        for (name, builtin) in BUILTINS {
            let source = match override_dir {
                Some(dir) => read_override(dir, name)?,
                None => None,
            };
            let source = source.unwrap_or_else(|| builtin.to_owned());
            env.add_template_owned(name, source)
                .map_err(|source| RenderError::Syntax {
                    name: name.to_owned(),
                    source,
                })?;
        }
        let renderer = Renderer {
            env,
            links: LinkPolicy::default(),
            site: SiteLinks::default(),
            brand: Brand::default(),
            catalogs,
        };
        renderer.check()?;
        Ok(renderer)
    }

    /// Renders every kind for both roles from a sample booking, so a template that fails at
    /// render time fails here, at start-up, not at send time. One language is enough: every
    /// catalog has every key (filled from English at load) and only checked placeholders, so
    /// languages differ in text, never in what can fail.
    fn check(&self) -> Result<(), RenderError> {
        let booking = sample::booking();
        for code in ["en"] {
            for kind in EmailKind::ALL {
                for role in Role::ALL {
                    let person = match role {
                        Role::Attendee => &booking.attendees[0],
                        Role::Host => booking.organizer.as_ref().unwrap_or(&booking.attendees[0]),
                    };
                    let Some(mut recipient) = Recipient::from_person(person, role) else {
                        continue;
                    };
                    recipient.locale = Some(code.to_owned());
                    self.render(kind, &booking, &recipient, &sample::context())
                        .map_err(|e| match e {
                            RenderError::Render { name, source } => {
                                RenderError::Check { name, source }
                            }
                            other => other,
                        })?;
                }
            }
        }
        Ok(())
    }

    /// The languages emails can be written in: the built-in ones and any added in the
    /// templates directory.
    pub fn languages(&self) -> Vec<String> {
        self.catalogs.codes()
    }

    /// Uses `links` to decide which meeting URLs are links (default: the known video hosts).
    pub fn with_links(mut self, links: LinkPolicy) -> Renderer {
        self.links = links;
        self
    }

    /// Points the Reschedule, Cancel and Book again links at `site`.
    pub fn with_site(mut self, site: SiteLinks) -> Renderer {
        self.site = site;
        self
    }

    /// Shows the business's logo, colour and footer line.
    pub fn with_brand(mut self, brand: Brand) -> Renderer {
        self.brand = brand;
        self
    }

    /// Renders the subject, text and HTML parts of `kind` for one recipient.
    pub fn render(
        &self,
        kind: EmailKind,
        booking: &Booking,
        recipient: &Recipient,
        ctx: &RenderContext,
    ) -> Result<EmailParts, RenderError> {
        let booking = bounded(booking);
        let (booking, unverified_link) = self.links.screen(&booking);
        self.render_screened(kind, &booking, unverified_link, recipient, ctx)
    }

    /// [`Renderer::render`] of a booking already [`bounded`] and screened by the link policy
    /// (`unverified_link`: the meeting URL it took out, defanged).
    fn render_screened(
        &self,
        kind: EmailKind,
        booking: &Booking,
        unverified_link: Option<String>,
        recipient: &Recipient,
        ctx: &RenderContext,
    ) -> Result<EmailParts, RenderError> {
        let lang = self.catalogs.resolve(recipient_locale(booking, recipient));
        let mut values = TemplateValues::new(kind, booking, recipient, ctx, &lang, &self.catalogs);
        values.meeting_url_unverified = unverified_link;
        let acts = actions(kind, booking, recipient, &self.site);
        values.reschedule_url = acts.reschedule_url;
        values.cancel_url = acts.cancel_url;
        values.book_again_url = acts.book_again_url;
        values.logo_url = self.brand.logo();
        (values.accent, values.accent_text) = {
            let (bg, fg) = self.brand.accent();
            (bg, fg.to_owned())
        };
        values.footer = self.brand.footer();
        values.join_url = acts.join.then(|| values.meeting_url.clone()).flatten();
        if let Some(loc) = booking.location.as_deref().filter(|l| !l.trim().is_empty()) {
            values.location_is_phone = actions::is_phone(loc);
            let label = location_label(loc, &self.links);
            values.location = text(Some(&if label == actions::VIDEO_CALL {
                self.catalogs.fill(&lang.catalog, "video_call", |_| None)
            } else {
                label
            }));
        }
        // The values become a template context once, for all three parts; the text and HTML
        // parts see the subject as it was rendered.
        let base = Value::from(Serde(&values));
        let subject = clip(
            header_safe(&self.render_one(kind, "subject", &base)?),
            MAX_SUBJECT_CHARS,
        );
        let ctx = minijinja::context! { subject => subject.clone(), ..base };
        let text = self.render_one(kind, "txt", &ctx)?;
        let html = self.render_one(kind, "html", &ctx)?;
        Ok(EmailParts {
            subject,
            text,
            html,
        })
    }

    fn render_one(&self, kind: EmailKind, ext: &str, ctx: &Value) -> Result<String, RenderError> {
        let name = format!("{}.{ext}", kind.as_str());
        let err = |source| RenderError::Render {
            name: name.clone(),
            source,
        };
        let template = self.env.get_template(&name).map_err(err)?;
        template.render(ctx).map_err(err)
    }
}

/// Reads `dir/name` if it exists. `name` is one of the fixed [`TEMPLATE_NAMES`].
fn read_override(dir: &Path, name: &str) -> Result<Option<String>, RenderError> {
    let path = dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(source) => Ok(Some(source)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(RenderError::OverrideFile { path, source }),
    }
}

fn text_ref(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// The longest subject an email gets, in characters (a 200 KB title once made a 1.9 MB header).
pub const MAX_SUBJECT_CHARS: usize = 200;
/// The longest title a subject shows, in characters: `Confirmed: <title>, Sat 28 Nov, 07:00`
/// stays readable in an inbox list.
pub const SUBJECT_TITLE_CHARS: usize = 60;
/// The longest booking title shown in an email, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// The longest description, notes or reason shown in an email, in characters.
pub const MAX_NOTES_CHARS: usize = 2_000;

/// `booking` with its title, description, notes and reasons cut to what an email shows (a clone
/// only when something is cut): the subject, body, calendar invite and Google link all read it.
fn bounded(booking: &Booking) -> std::borrow::Cow<'_, Booking> {
    let long = |v: &Option<String>| v.as_ref().is_some_and(|t| t.len() > MAX_NOTES_CHARS);
    if booking.title.len() <= MAX_TITLE_CHARS
        && !long(&booking.description)
        && !long(&booking.notes)
        && !long(&booking.cancellation_reason)
        && !long(&booking.rejection_reason)
    {
        return std::borrow::Cow::Borrowed(booking);
    }
    let mut b = booking.clone();
    b.title = clip(b.title, MAX_TITLE_CHARS);
    for v in [
        &mut b.description,
        &mut b.notes,
        &mut b.cancellation_reason,
        &mut b.rejection_reason,
    ] {
        *v = v.take().map(|t| clip(t, MAX_NOTES_CHARS));
    }
    std::borrow::Cow::Owned(b)
}

/// `s` cut to `max` characters, with "…" in place of the rest.
fn clip(s: String, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s,
        Some((at, _)) => {
            let mut cut = s[..at].trim_end().to_owned();
            cut.pop();
            cut.push('…');
            cut
        }
    }
}

/// `s` cut to `max` characters at a word boundary when there is one in the last third, with "…".
fn clip_words(s: &str, max: usize) -> String {
    let Some((at, _)) = s.char_indices().nth(max) else {
        return s.to_owned();
    };
    let head = &s[..at];
    let cut = match head.rfind(char::is_whitespace) {
        Some(space) if head[..space].chars().count() >= max * 2 / 3 => &head[..space],
        _ => {
            let mut h = head.chars();
            h.next_back();
            h.as_str()
        }
    };
    format!("{}…", cut.trim_end())
}

/// A trimmed, non-empty value with `\r\n` normalised to `\n` and other controls removed.
fn text(value: Option<&str>) -> Option<String> {
    text_ref(value).map(|v| {
        v.replace("\r\n", "\n")
            .chars()
            .filter(|&c| c == '\n' || c == '\t' || !c.is_control())
            .collect()
    })
}

/// A complete email for one recipient: rendered parts, header-safe subject and names, and the
/// calendar invite (REQUEST for Confirmation and Rescheduled; CANCEL for Cancelled; none for
/// Requested, Declined and Reminder).
#[allow(clippy::too_many_arguments)]
pub fn compose(
    renderer: &Renderer,
    kind: EmailKind,
    booking: &Booking,
    recipient: &Recipient,
    from: &Mailbox,
    reply_to: Option<&Mailbox>,
    idempotency_key: String,
    ctx: &RenderContext,
) -> Result<Email, RenderError> {
    // Cancelled seats left out; a seated event that hides attendees shows each only themself.
    let seen = booking.seen_by(match recipient.role {
        Role::Attendee => Some(recipient.email.as_str()),
        Role::Host => None,
    });
    // Bounded and screened once, for the parts and the invite alike.
    let booking = bounded(&seen);
    let (booking, unverified_link) = renderer.links.screen(&booking);
    let parts = renderer.render_screened(kind, &booking, unverified_link, recipient, ctx)?;
    Ok(Email {
        from: safe_mailbox(from.name.as_deref(), &from.address),
        reply_to: reply_to.map(|m| safe_mailbox(m.name.as_deref(), &m.address)),
        to: vec![safe_mailbox(recipient.name.as_deref(), &recipient.email)],
        subject: parts.subject,
        text: parts.text,
        html: parts.html,
        calendar: kind.calendar_method().map(|method| match &ctx.series_uid {
            Some(uid) if !ctx.series.is_empty() => {
                series_invite(&booking, method, uid, &ctx.series)
            }
            _ => calendar_invite(&booking, method),
        }),
        idempotency_key,
    })
}

fn safe_mailbox(name: Option<&str>, address: &str) -> Mailbox {
    Mailbox {
        name: name.map(header_safe).filter(|n| !n.is_empty()),
        address: header_safe(address),
    }
}
