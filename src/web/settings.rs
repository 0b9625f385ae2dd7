//! The booking page's and dashboard's settings, validated once at start-up.

use jiff::tz::TimeZone;
use url::Url;

/// The Cal.com cloud app, the embed's default origin.
pub const DEFAULT_EMBED_ORIGIN: &str = "https://app.cal.com";

/// The embed's calendar layout (`CALCOM_EMBED_LAYOUT`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum EmbedLayout {
    #[default]
    MonthView,
    WeekView,
    ColumnView,
}

impl EmbedLayout {
    pub fn as_str(self) -> &'static str {
        match self {
            EmbedLayout::MonthView => "month_view",
            EmbedLayout::WeekView => "week_view",
            EmbedLayout::ColumnView => "column_view",
        }
    }
}

/// The embed's colour theme (`CALCOM_EMBED_THEME`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum EmbedTheme {
    #[default]
    Auto,
    Light,
    Dark,
}

impl EmbedTheme {
    pub fn as_str(self) -> &'static str {
        match self {
            EmbedTheme::Auto => "auto",
            EmbedTheme::Light => "light",
            EmbedTheme::Dark => "dark",
        }
    }
}

/// What the pages need, as configured (see the README's table).
#[derive(Debug, Clone, Default)]
pub struct WebSettings {
    /// `CALCOM_LINK`: `user/event-slug` (or `team/x/y`). `None` shows a setup notice on `/book`.
    pub calcom_link: Option<String>,
    /// `CALCOM_EMBED_ORIGIN`: where the booking iframe comes from. Default Cal.com's cloud app.
    pub embed_origin: Option<String>,
    /// `CALCOM_EMBED_SCRIPT_URL`: default `<origin>/embed/embed.js`.
    pub embed_script_url: Option<String>,
    pub layout: EmbedLayout,
    pub theme: EmbedTheme,
    /// `CALCOM_BRAND_COLOR`: `#rrggbb`.
    pub brand_color: Option<String>,
    /// `CALBOOK_BUSINESS_NAME`: shown in page titles and headings.
    pub business_name: Option<String>,
    /// `CALBOOK_ADMIN_TIMEZONE`: the zone the dashboard shows times and reads dates in (IANA
    /// name, default UTC).
    pub admin_time_zone: Option<String>,
}

/// A setting that cannot work, named.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    #[error("CALCOM_LINK {0:?} is not a Cal.com link like `acme/intro-call`")]
    Link(String),
    #[error("{name} {value:?} is not an http(s) origin like `https://cal.example.com`")]
    Origin { name: &'static str, value: String },
    #[error("CALCOM_EMBED_SCRIPT_URL {0:?} is not an absolute http(s) URL")]
    ScriptUrl(String),
    #[error("CALCOM_BRAND_COLOR {0:?} is not a colour like `#1f6feb`")]
    BrandColor(String),
    #[error("CALBOOK_ADMIN_TIMEZONE {0:?} is not a time zone name like `Europe/Berlin`")]
    TimeZone(String),
}

/// The validated embed configuration.
#[derive(Debug, Clone)]
pub struct Embed {
    pub link: String,
    /// `scheme://host[:port]`, no trailing slash.
    pub origin: String,
    pub script_url: String,
    /// The origin the script is served from (for the CSP).
    pub script_origin: String,
}

/// Validated settings, ready for the handlers.
#[derive(Debug, Clone)]
pub struct WebConfig {
    pub embed: Option<Embed>,
    pub layout: EmbedLayout,
    pub theme: EmbedTheme,
    pub brand_color: Option<String>,
    pub business_name: String,
    pub admin_zone: TimeZone,
}

impl WebSettings {
    pub fn validate(&self) -> Result<WebConfig, WebConfigError> {
        let set = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let embed = match set(&self.calcom_link) {
            None => None,
            Some(link) => {
                let link = link.trim_matches('/').to_owned();
                if !valid_link(&link) {
                    return Err(WebConfigError::Link(link));
                }
                let origin =
                    set(&self.embed_origin).unwrap_or_else(|| DEFAULT_EMBED_ORIGIN.to_owned());
                let origin = http_origin(&origin, true).ok_or(WebConfigError::Origin {
                    name: "CALCOM_EMBED_ORIGIN",
                    value: origin,
                })?;
                let script_url = set(&self.embed_script_url)
                    .unwrap_or_else(|| format!("{origin}/embed/embed.js"));
                let script_origin = http_origin(&script_url, false)
                    .ok_or_else(|| WebConfigError::ScriptUrl(script_url.clone()))?;
                Some(Embed {
                    link,
                    origin,
                    script_url,
                    script_origin,
                })
            }
        };
        let brand_color = match set(&self.brand_color) {
            Some(c) if valid_colour(&c) => Some(c),
            Some(c) => return Err(WebConfigError::BrandColor(c)),
            None => None,
        };
        let admin_zone = match set(&self.admin_time_zone) {
            Some(name) => {
                TimeZone::get(&name).map_err(|_| WebConfigError::TimeZone(name.clone()))?
            }
            None => TimeZone::UTC,
        };
        Ok(WebConfig {
            embed,
            layout: self.layout,
            theme: self.theme,
            brand_color,
            business_name: set(&self.business_name).unwrap_or_else(|| "calbook".to_owned()),
            admin_zone,
        })
    }
}

/// `user/event`, `team/x/y`: path segments of URL-safe characters, no dot segments.
fn valid_link(link: &str) -> bool {
    !link.is_empty()
        && link.len() <= 200
        && link.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
        })
}

/// The `scheme://host[:port]` of an http(s) URL. With `bare`, the URL must be only an origin
/// (a trailing `/` allowed).
fn http_origin(s: &str, bare: bool) -> Option<String> {
    let url = Url::parse(s).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    if !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    if bare && (url.path() != "/" || url.query().is_some() || url.fragment().is_some()) {
        return None;
    }
    Some(url.origin().ascii_serialization())
}

fn valid_colour(c: &str) -> bool {
    let hex = c.strip_prefix('#').unwrap_or("");
    matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_link(link: &str) -> WebSettings {
        WebSettings {
            calcom_link: Some(link.into()),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_to_the_cloud_origin_and_its_script() {
        let c = with_link("acme/intro-call").validate().unwrap();
        let e = c.embed.unwrap();
        assert_eq!(e.origin, "https://app.cal.com");
        assert_eq!(e.script_url, "https://app.cal.com/embed/embed.js");
        assert_eq!(e.script_origin, "https://app.cal.com");
        assert_eq!(c.business_name, "calbook");
        assert!(WebSettings::default().validate().unwrap().embed.is_none());
    }

    #[test]
    fn a_self_hosted_origin_and_script_are_normalised() {
        let mut s = with_link("/team/sales/demo/");
        s.embed_origin = Some("https://Cal.Example.com:8443/".into());
        s.embed_script_url = Some("https://cdn.example.net/embed.js?v=2".into());
        let e = s.validate().unwrap().embed.unwrap();
        assert_eq!(e.link, "team/sales/demo");
        assert_eq!(e.origin, "https://cal.example.com:8443");
        assert_eq!(e.script_origin, "https://cdn.example.net");
    }

    #[test]
    fn refuses_what_cannot_work() {
        for link in [
            "acme/../x",
            "acme//x",
            "acme/<x>",
            "a b",
            "javascript:alert(1)",
        ] {
            assert!(
                matches!(with_link(link).validate(), Err(WebConfigError::Link(_))),
                "{link}"
            );
        }
        for origin in [
            "javascript:alert(1)",
            "ftp://x.example",
            "https://x.example/path",
            "https://u:p@x.example",
            "cal.example.com",
        ] {
            let mut s = with_link("a/b");
            s.embed_origin = Some(origin.into());
            assert!(s.validate().is_err(), "{origin}");
        }
        let mut s = with_link("a/b");
        s.brand_color = Some("red; background:url(x)".into());
        assert!(matches!(s.validate(), Err(WebConfigError::BrandColor(_))));
        let mut s = WebSettings {
            admin_time_zone: Some("Mars/Olympus".into()),
            ..Default::default()
        };
        assert!(matches!(s.validate(), Err(WebConfigError::TimeZone(_))));
        s.admin_time_zone = Some("Europe/Berlin".into());
        assert!(s.validate().is_ok());
    }
}
