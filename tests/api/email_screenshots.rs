//! Every email kind's HTML in a real headless Chromium, at phone (375 px) and desktop (1024 px)
//! width, in light and dark mode: the same accessibility rules as calbook's pages (text
//! contrast WCAG AA, a `lang` on `<html>`, alt text on the logo), no sideways scrolling on a
//! phone, and a screenshot of each in `target/screenshots/emails/` for a person to look at.
//!
//! The emails are rendered by calbook's renderer from a booking with every field filled, with
//! links, a location name and the brand; the logo's `https` URL is swapped for a local image so
//! no test reaches the internet.

use std::path::PathBuf;
use std::time::Duration;

use calbook::booking::links::LinkPolicy;
use calbook::booking::{Booking, Person, Status};
use calbook::mail::render::{
    Brand, EmailKind, Recipient, RenderContext, Renderer, Role, SiteLinks,
};

use crate::browser::{Browser, CONTRAST_JS};

const LOGO_URL: &str = "https://acme.example/logo.png";

fn ts(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

fn person(name: &str, email: &str, zone: &str, locale: &str) -> Person {
    Person {
        name: Some(name.to_owned()),
        email: Some(email.to_owned()),
        time_zone: Some(zone.to_owned()),
        locale: Some(locale.to_owned()),
    }
}

fn booking() -> Booking {
    let marco = person("Marco Rossi", "marco@example.com", "America/New_York", "en");
    Booking {
        id: uuid::Uuid::nil(),
        uid: "bk_7Yq2".to_owned(),
        calcom_id: Some(4242),
        client_id: None,
        title: "Intro call about the spring garden project".to_owned(),
        description: Some("Let's talk about the garden project.".to_owned()),
        notes: Some("Please call me on my mobile.".to_owned()),
        starts_at: ts("2026-03-10T14:00:00Z"),
        ends_at: ts("2026-03-10T14:30:00Z"),
        status: Status::Confirmed,
        attendee_email: marco.email.clone(),
        attendee_name: marco.name.clone(),
        attendees: vec![marco],
        organizer: Some(person(
            "Dana Whitfield",
            "dana@acme.example",
            "Europe/Berlin",
            "de",
        )),
        location: Some("integrations:google:meet".to_owned()),
        meeting_url: Some("https://meet.google.com/abc-defg-hij".to_owned()),
        ical_uid: Some("bk_7Yq2@Cal.com".to_owned()),
        ical_sequence: 2,
        event_type_id: Some(7),
        event_type_slug: Some("intro".to_owned()),
        metadata: serde_json::json!({}),
        rescheduled_from: None,
        rescheduled_to: None,
        cancellation_reason: Some("Something came up at work.".to_owned()),
        cancelled_by: None,
        rejection_reason: Some("Fully booked that week.".to_owned()),
        meeting_started_at: None,
        meeting_ended_at: None,
        created_at: ts("2026-03-01T09:00:00Z"),
        updated_at: ts("2026-03-01T09:00:00Z"),
        extra: Default::default(),
    }
}

fn renderer() -> Renderer {
    Renderer::new(None)
        .unwrap()
        .with_links(LinkPolicy::default())
        .with_site(SiteLinks {
            booker_origin: Some("https://acme.cal.com".to_owned()),
            public_url: Some("https://book.acme.example".to_owned()),
        })
        .with_brand(Brand {
            logo_url: Some(LOGO_URL.to_owned()),
            color: Some("#0f766e".to_owned()),
            footer: Some("Acme GmbH, Torstraße 1, 10119 Berlin".to_owned()),
        })
}

/// A 120×40 logo as a data URL, in place of the configured `https` one.
const LOCAL_LOGO: &str = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='120' height='40'%3E%3Crect width='120' height='40' fill='%230f766e'/%3E%3C/svg%3E";

/// The page's `lang`, its logo's alt text, sideways overflow, contrast offenders and body
/// background, as the browser sees them.
const CHECKS_JS: &str = r#"
const img = document.querySelector('img');
return {
  lang: document.documentElement.lang,
  title: document.title,
  alt: img ? img.getAttribute('alt') : null,
  overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  body: getComputedStyle(document.body).backgroundColor,
};
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_email_kind_reads_well_on_a_phone_and_a_desktop_in_light_and_dark_mode() {
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/emails");
    std::fs::create_dir_all(&out).unwrap();
    let pages = tempfile::tempdir().unwrap();
    let r = renderer();
    let b = booking();
    let ctx = RenderContext {
        business_name: "Acme".to_owned(),
        reminder_lead: Some(jiff::SignedDuration::from_hours(24)),
        previous_start: Some(ts("2026-03-09T16:00:00Z")),
        ..RenderContext::default()
    };
    let mut files = Vec::new();
    for kind in EmailKind::ALL {
        for (role, person, lang) in [
            (Role::Attendee, &b.attendees[0], "en"),
            (Role::Host, b.organizer.as_ref().unwrap(), "de"),
        ] {
            let to = Recipient::from_person(person, role).unwrap();
            let html = r.render(kind, &b, &to, &ctx).unwrap().html;
            let logo = LOGO_URL.replace('/', "&#x2f;");
            assert!(html.contains(&logo), "{kind}: the brand's logo");
            let html = html.replace(&logo, LOCAL_LOGO);
            let name = format!("{kind}-{}", role.as_str());
            let file = pages.path().join(format!("{name}.html"));
            std::fs::write(&file, html).unwrap();
            files.push((name, file, lang));
        }
    }

    for (scheme, dark) in [("light", false), ("dark", true)] {
        let browser = if dark {
            Browser::start_with(&["--blink-settings=preferredColorScheme=0"]).await
        } else {
            Browser::start().await
        };
        for (name, file, lang) in &files {
            let url = format!("file://{}", file.display());
            browser.client.goto(&url).await.unwrap();
            for (label, w) in [("phone", 375), ("desktop", 1024)] {
                browser.client.set_window_size(w, 900).await.unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
                let found = browser.client.execute(CHECKS_JS, vec![]).await.unwrap();
                assert_eq!(found["lang"], *lang, "{name}");
                assert!(!found["title"].as_str().unwrap().is_empty(), "{name}");
                assert_eq!(found["alt"], "Acme", "{name}: the logo's alt text");
                assert!(
                    found["overflow"].as_i64().unwrap() <= 0,
                    "{name} scrolls sideways by {} px at {w} px",
                    found["overflow"]
                );
                // The dark palette is in force in dark mode (so its contrast is what is checked).
                let body = found["body"].as_str().unwrap();
                assert_eq!(
                    body == "rgb(24, 24, 27)",
                    dark,
                    "{name} {scheme}: body background {body}"
                );
                let low = browser.client.execute(CONTRAST_JS, vec![]).await.unwrap();
                assert_eq!(
                    low,
                    serde_json::json!([]),
                    "{name} {scheme} at {w} px: text below WCAG AA contrast"
                );
                let png = browser.client.screenshot().await.unwrap();
                assert!(png.starts_with(b"\x89PNG"));
                std::fs::write(out.join(format!("{name}-{label}-{scheme}.png")), png).unwrap();
            }
        }
        browser.stop().await;
    }
}
