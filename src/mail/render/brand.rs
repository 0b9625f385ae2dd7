//! The business's look in its emails: logo (`CALBOOK_LOGO_URL`), brand colour (the booking
//! page's `CALCOM_BRAND_COLOR`) and an optional footer line (`CALBOOK_EMAIL_FOOTER`).
//!
//! A colour that is not `#rrggbb` falls back to the default blue; the button text is white or
//! near-black, whichever contrasts more with it, so any brand colour stays readable. A logo URL
//! that is not `https` (without credentials) is not used: a mail client would block or flag it.

/// What the business configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Brand {
    pub logo_url: Option<String>,
    pub color: Option<String>,
    pub footer: Option<String>,
}

/// The default accent: blue-700, 6.7:1 against white.
pub const DEFAULT_ACCENT: &str = "#1d4ed8";

impl Brand {
    /// The logo URL when it is usable in an `<img>`.
    pub fn logo(&self) -> Option<String> {
        let raw = self.logo_url.as_deref()?.trim();
        let u = url::Url::parse(raw).ok()?;
        (u.scheme() == "https" && u.username().is_empty() && u.password().is_none())
            .then(|| u.to_string())
    }

    /// `(background, text)` colours of a button in the brand colour.
    pub fn accent(&self) -> (String, &'static str) {
        let color = self
            .color
            .as_deref()
            .map(str::trim)
            .filter(|c| parse_hex(c).is_some())
            .map(str::to_ascii_lowercase)
            .unwrap_or_else(|| DEFAULT_ACCENT.to_owned());
        let rgb = parse_hex(&color).unwrap_or((0x1d, 0x4e, 0xd8));
        let l = luminance(rgb);
        // Contrast with white (L=1) versus near-black #18181b (L≈0.0095).
        let with_white = 1.05 / (l + 0.05);
        let with_dark = (l + 0.05) / (0.0095 + 0.05);
        let text = if with_white >= with_dark {
            "#ffffff"
        } else {
            "#18181b"
        };
        (color, text)
    }

    /// The footer line, one trimmed line without control characters.
    pub fn footer(&self) -> Option<String> {
        let f: String = self
            .footer
            .as_deref()?
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let f = f.trim();
        (!f.is_empty()).then(|| f.to_owned())
    }
}

fn parse_hex(c: &str) -> Option<(u8, u8, u8)> {
    let h = c.strip_prefix('#')?;
    if h.len() != 6 || !h.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let p = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).ok();
    Some((p(0)?, p(2)?, p(4)?))
}

/// WCAG relative luminance.
fn luminance((r, g, b): (u8, u8, u8)) -> f64 {
    let lin = |v: u8| {
        let s = f64::from(v) / 255.0;
        if s <= 0.039_28 {
            s / 12.92
        } else {
            ((s + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_light_brand_colour_gets_dark_button_text_and_a_bad_one_the_default() {
        let b = |c: &str| Brand {
            color: Some(c.to_owned()),
            ..Brand::default()
        };
        assert_eq!(b("#1D4ED8").accent(), ("#1d4ed8".to_owned(), "#ffffff"));
        assert_eq!(b("#facc15").accent(), ("#facc15".to_owned(), "#18181b"));
        assert_eq!(
            b("red; x:y").accent(),
            (DEFAULT_ACCENT.to_owned(), "#ffffff")
        );
        assert_eq!(Brand::default().accent().0, DEFAULT_ACCENT);
    }

    #[test]
    fn only_an_https_logo_is_used_and_the_footer_is_one_line() {
        let logo = |u: &str| {
            Brand {
                logo_url: Some(u.to_owned()),
                ..Brand::default()
            }
            .logo()
        };
        assert_eq!(
            logo("https://acme.example/logo.png").as_deref(),
            Some("https://acme.example/logo.png")
        );
        assert_eq!(logo("http://acme.example/logo.png"), None);
        assert_eq!(logo("javascript:alert(1)"), None);
        let f = Brand {
            footer: Some("Acme GmbH\r\nTorstraße 1".to_owned()),
            ..Brand::default()
        };
        assert_eq!(f.footer().as_deref(), Some("Acme GmbH  Torstraße 1"));
    }
}
