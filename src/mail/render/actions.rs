//! What a client can do from an email: the Reschedule and Cancel links to Cal.com's own pages
//! for the booking, Book again, and the location as people say it.
//!
//! Links are built as Cal.com builds them (`getCancelLink` and `getRescheduleLink` in
//! `packages/lib/CalEventParser.ts`, calcom/cal.com@03670679c00d600615e8df2bc64545bd51c61646):
//! `<booker url>/reschedule/<uid>` and
//! `<booker url>/booking/<uid>?cancel=true&allRemainingBookings=<recurring>&cancelledBy=<email>`.
//! For a seat, Cal.com uses the seat's reference uid (`getSeatReferenceId`, the event's
//! `attendeeSeatId`): `<booker url>/reschedule/<seat reference uid>`, and the cancel link gains
//! `&seatReferenceUid=<seat reference uid>` (so only that seat is cancelled). calbook has a
//! seat's reference uid from the webhook that added it or from the API v2 sync; an attendee
//! whose reference calbook does not have gets the booking's links, as before.
//!
//! The booker URL is the payload's `bookerUrl` (an organization's own domain; kept per booking,
//! see [`crate::booking::EmailLinks`]), else the configured Cal.com embed origin
//! (`CALCOM_EMBED_ORIGIN`). With neither, an email has no Reschedule or Cancel link rather than
//! a wrong one. The booking's `metadata` is the booker's to set and is never read for it.

use crate::booking::Booking;
use crate::booking::links::{LinkPolicy, defang};

use super::{EmailKind, Recipient, Role};

/// Where calbook's and Cal.com's public pages are (from configuration).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteLinks {
    /// The Cal.com origin the booking page embeds (`CALCOM_EMBED_ORIGIN`): the booker URL.
    pub booker_origin: Option<String>,
    /// calbook's public URL (`CALBOOK_PUBLIC_URL`): "Book again" links to `<it>/book`.
    pub public_url: Option<String>,
}

/// The action links one email carries (each `None` when it does not apply or cannot be built).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actions {
    pub reschedule_url: Option<String>,
    pub cancel_url: Option<String>,
    pub book_again_url: Option<String>,
    /// Whether a (linkable) meeting URL is shown as a Join button.
    pub join: bool,
}

/// Which links `kind` offers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Offer {
    /// A booking that is still on: Join, Reschedule and Cancel.
    Live,
    /// The host asked for a new time: Reschedule only.
    PickNewTime,
    /// Over: Book again.
    Over,
}

fn offer(kind: EmailKind) -> Offer {
    match kind {
        EmailKind::Confirmation
        | EmailKind::Rescheduled
        | EmailKind::Requested
        | EmailKind::Reminder
        | EmailKind::Updated => Offer::Live,
        EmailKind::RescheduleRequested => Offer::PickNewTime,
        EmailKind::Cancelled | EmailKind::Declined => Offer::Over,
    }
}

/// The action links for `kind` sent to `recipient` about `booking`.
pub fn actions(
    kind: EmailKind,
    booking: &Booking,
    recipient: &Recipient,
    site: &SiteLinks,
) -> Actions {
    let mut out = Actions::default();
    let offer = offer(kind);
    if offer != Offer::Over {
        out.join = offer == Offer::Live;
        let base = booking
            .extra
            .links
            .booker_url
            .as_deref()
            .and_then(https_base)
            .or_else(|| site.booker_origin.as_deref().and_then(https_base));
        // A seated attendee's own seat; the host acts on the whole booking.
        let seat = match recipient.role {
            Role::Attendee if booking.seated() => booking.extra.links.seat(&recipient.email),
            _ => None,
        };
        if let Some(base) = base {
            let uid = urlencoding(&booking.uid);
            let rescheduled = seat.map(urlencoding).unwrap_or_else(|| uid.clone());
            out.reschedule_url = Some(format!("{base}/reschedule/{rescheduled}"));
            if offer == Offer::Live
                && let Ok(mut url) = url::Url::parse(&format!("{base}/booking/{uid}"))
            {
                url.query_pairs_mut()
                    .append_pair("cancel", "true")
                    .append_pair(
                        "allRemainingBookings",
                        if booking.extra.recurring_event.is_some() {
                            "true"
                        } else {
                            "false"
                        },
                    )
                    .append_pair("cancelledBy", recipient.email.trim());
                if let Some(seat) = seat {
                    url.query_pairs_mut().append_pair("seatReferenceUid", seat);
                }
                out.cancel_url = Some(url.to_string());
            }
        }
    } else {
        out.book_again_url = site
            .public_url
            .as_deref()
            .and_then(https_base)
            .map(|base| format!("{base}/book"));
    }
    out
}

/// `url` without query, fragment or trailing `/`, when it is an `http(s)` URL without
/// credentials (`http` only for a local address, for development).
fn https_base(url: &str) -> Option<String> {
    let mut u = url::Url::parse(url.trim()).ok()?;
    let local = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if !(u.scheme() == "https" || (u.scheme() == "http" && local))
        || !u.username().is_empty()
        || u.password().is_some()
        || u.host().is_none()
    {
        return None;
    }
    u.set_query(None);
    u.set_fragment(None);
    Some(u.as_str().trim_end_matches('/').to_owned())
}

/// A path segment, percent-encoded.
fn urlencoding(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// The location as people say it: Cal.com's integration names ("integrations:daily" is
/// "Cal Video"), a video URL by its service's name, a phone number as a phone number, anything
/// else (an address) as it is. A URL the policy does not allow is defanged, never a link.
pub fn location_label(location: &str, policy: &LinkPolicy) -> String {
    let loc = location.trim();
    let known = match loc {
        "integrations:daily" => Some("Cal Video"),
        "integrations:zoom" => Some("Zoom"),
        "integrations:google:meet" => Some("Google Meet"),
        "integrations:office365_video" => Some("Microsoft Teams"),
        "integrations:whereby_video" => Some("Whereby"),
        "integrations:jitsi" => Some("Jitsi Meet"),
        _ => None,
    };
    if let Some(name) = known {
        return name.to_owned();
    }
    if loc.starts_with("https://") || loc.starts_with("http://") {
        if !policy.allows(loc) {
            return defang(loc);
        }
        let host = url::Url::parse(loc)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .unwrap_or_default();
        let service = [
            ("zoom.us", "Zoom"),
            ("meet.google.com", "Google Meet"),
            ("teams.microsoft.com", "Microsoft Teams"),
            ("teams.live.com", "Microsoft Teams"),
            ("daily.co", "Cal Video"),
            ("cal.com", "Cal Video"),
        ]
        .into_iter()
        .find(|(h, _)| host == *h || host.ends_with(&format!(".{h}")));
        return match service {
            Some((_, name)) => name.to_owned(),
            None => VIDEO_CALL.to_owned(),
        };
    }
    loc.to_owned()
}

/// The label of a video URL whose service calbook does not know (emails write it in the
/// recipient's language).
pub const VIDEO_CALL: &str = "Video call";

/// Whether `location` is a phone number (Cal.com stores the number itself for phone locations).
pub fn is_phone(location: &str) -> bool {
    let loc = location.trim();
    loc.starts_with('+')
        && loc.chars().filter(char::is_ascii_digit).count() >= 6
        && loc[1..]
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.'))
}
