//! Which meeting URLs calbook turns into links.
//!
//! A booking's meeting URL comes from Cal.com's `videoCallData.url`, or from a location that is a
//! URL, or, failing both, from `metadata.videoCallUrl`, which any booker can set through the
//! embed (`metadata[videoCallUrl]=https://evil.example/join`). Since calbook's emails come from
//! the business's own domain, a booker-chosen link there is a phishing link. So a meeting URL is
//! a link (in the dashboard, the emails, the calendar invite and the Google Calendar link) only
//! when it is `https` and its host is a known video host: Cal Video (`cal.com`, `daily.co` and
//! the configured Cal.com origin's host), Zoom, Google Meet, Microsoft Teams, or one of
//! `CALBOOK_ALLOWED_LINK_HOSTS`. A host matches itself and its subdomains.
//!
//! Any other URL is shown as text only: plainly in the dashboard, and *defanged* in emails and
//! invites (`hxxps://evil[.]example/join`), because mail clients turn any plain URL into a link.

use std::borrow::Cow;

use super::Booking;

/// Hosts that are links without configuration (each with its subdomains).
pub const KNOWN_VIDEO_HOSTS: [&str; 6] = [
    "cal.com",
    "daily.co",
    "zoom.us",
    "meet.google.com",
    "teams.microsoft.com",
    "teams.live.com",
];

/// The hosts whose meeting URLs are links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPolicy {
    hosts: Vec<String>,
}

impl Default for LinkPolicy {
    fn default() -> Self {
        LinkPolicy::new(std::iter::empty::<String>())
    }
}

impl LinkPolicy {
    /// The known video hosts plus `extra` (host names; a leading `*.` or `.` is ignored: a host
    /// always covers its subdomains).
    pub fn new(extra: impl IntoIterator<Item = impl AsRef<str>>) -> LinkPolicy {
        let mut hosts: Vec<String> = KNOWN_VIDEO_HOSTS.iter().map(|h| (*h).to_owned()).collect();
        for h in extra {
            let h = h
                .as_ref()
                .trim()
                .trim_start_matches("*.")
                .trim_start_matches('.')
                .trim_end_matches('.')
                .to_ascii_lowercase();
            if !h.is_empty() && !hosts.contains(&h) {
                hosts.push(h);
            }
        }
        LinkPolicy { hosts }
    }

    /// Parses `CALBOOK_ALLOWED_LINK_HOSTS` (host names separated by commas) and adds the host of
    /// the Cal.com origin (a self-hosted Cal Video link lives there).
    pub fn from_setting(list: &str, calcom_origin: Option<&str>) -> Result<LinkPolicy, String> {
        let mut extra = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let bare = item.trim_start_matches("*.");
            let valid = !bare.is_empty()
                && bare
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            if !valid {
                return Err(format!(
                    "CALBOOK_ALLOWED_LINK_HOSTS: {item:?} is not a host name (e.g. video.example.com)"
                ));
            }
            extra.push(bare.to_owned());
        }
        if let Some(host) = calcom_origin
            .and_then(|o| url::Url::parse(o).ok())
            .and_then(|u| u.host_str().map(str::to_owned))
        {
            extra.push(host);
        }
        Ok(LinkPolicy::new(extra))
    }

    /// Whether `url` may be shown as a link: `https`, no credentials, a known host.
    pub fn allows(&self, url: &str) -> bool {
        let Ok(parsed) = url::Url::parse(url.trim()) else {
            return false;
        };
        if parsed.scheme() != "https"
            || !parsed.username().is_empty()
            || parsed.password().is_some()
        {
            return false;
        }
        let Some(url::Host::Domain(host)) = parsed.host() else {
            return false;
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.hosts.iter().any(|allowed| {
            host == *allowed
                || host
                    .strip_suffix(allowed.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        })
    }

    /// The booking's meeting URL when it may be a link.
    pub fn meeting_link<'b>(&self, booking: &'b Booking) -> Option<&'b str> {
        booking
            .meeting_url
            .as_deref()
            .filter(|u| !u.trim().is_empty() && self.allows(u))
    }

    /// `booking` as emails and invites may show it: an unverified meeting URL is taken out (and
    /// returned defanged, to be shown as text).
    pub fn screen<'b>(&self, booking: &'b Booking) -> (Cow<'b, Booking>, Option<String>) {
        match booking.meeting_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() && !self.allows(url) => {
                let mut b = booking.clone();
                b.meeting_url = None;
                (Cow::Owned(b), Some(defang(url)))
            }
            _ => (Cow::Borrowed(booking), None),
        }
    }
}

/// A URL written so that no mail client makes a link of it: `https://a.example/x` →
/// `hxxps://a[.]example/x`.
pub fn defang(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (s.replacen("tt", "xx", 1), r),
        None => (String::new(), url),
    };
    let (host, path) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host = host.replace('.', "[.]");
    if scheme.is_empty() {
        format!("{host}{path}")
    } else {
        format!("{scheme}://{host}{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_video_hosts_and_configured_ones_are_links() {
        let p = LinkPolicy::from_setting(
            "*.video.example.com, meet.acme.example",
            Some("https://cal.acme.example"),
        )
        .unwrap();
        for ok in [
            "https://app.cal.com/video/abc",
            "https://acme.daily.co/room",
            "https://us02web.zoom.us/j/123",
            "https://meet.google.com/abc-defg-hij",
            "https://teams.microsoft.com/l/meetup-join/x",
            "https://cal.acme.example/video/abc",
            "https://room.video.example.com/x",
            "https://meet.acme.example/x",
        ] {
            assert!(p.allows(ok), "{ok}");
        }
        for bad in [
            "https://evil.example/join",
            "http://meet.google.com/abc",
            "https://zoom.us.evil.example/j/1",
            "https://evilzoom.us/j/1",
            "https://user:pw@meet.google.com/x",
            "https://192.0.2.1/x",
            "javascript:alert(1)",
            "meet.google.com/abc",
        ] {
            assert!(!p.allows(bad), "{bad}");
        }
        assert!(LinkPolicy::from_setting("bad host", None).is_err());
    }

    #[test]
    fn an_unverified_url_is_screened_out_and_defanged() {
        let mut b = crate::booking::Booking::from_details(
            &crate::booking::BookingDetails::example("u", "2026-12-01T10:00:00Z"),
            crate::booking::Status::Confirmed,
            crate::time::now(),
        );
        b.meeting_url = Some("https://evil.example/join?x=1".into());
        let p = LinkPolicy::default();
        assert_eq!(p.meeting_link(&b), None);
        let (screened, text) = p.screen(&b);
        assert_eq!(screened.meeting_url, None);
        assert_eq!(text.as_deref(), Some("hxxps://evil[.]example/join?x=1"));
        b.meeting_url = Some("https://meet.google.com/abc".into());
        assert_eq!(p.meeting_link(&b), Some("https://meet.google.com/abc"));
        assert!(matches!(p.screen(&b), (Cow::Borrowed(_), None)));
    }
}
