//! The booking page and the dashboard in a real headless Chromium (Debian's `chromium` and
//! `chromium-driver`, driven through WebDriver by fantoccini): the dashboard here, the booking
//! page with Cal.com's real embed in [`crate::booking_page`]. No test reaches the internet.
//!
//! Screenshots of `/book` and `/admin` at desktop and phone widths land in
//! `target/screenshots/` (outside git) for a person to look at.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use calbook::outbox::JobState;
use fantoccini::{Client, ClientBuilder, Locator};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A headless Chromium session; the driver process stops with it.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Browser {
        Browser::start_with(&[]).await
    }

    /// A session with extra Chromium flags (e.g. a preferred colour scheme).
    pub async fn start_with(flags: &[&str]) -> Browser {
        for bin in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(bin).exists(),
                "{bin} is missing: install Debian's browser with \
                 `apt-get install -y chromium chromium-driver` (.ci/run does)"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--window-size=1280,900",
        ]
        .map(str::to_owned)
        .into();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.extend(flags.iter().map(|f| f.to_string()));
        let caps = serde_json::json!({
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args }
        });
        let caps = match caps {
            serde_json::Value::Object(m) => m,
            _ => unreachable!(),
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        let client = loop {
            match ClientBuilder::rustls()
                .unwrap()
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(c) => break c,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot start a Chromium session: {e}"),
            }
        };
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    pub async fn text(&self, css: &str) -> String {
        let found = self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(el) => el.text().await.unwrap(),
            Err(e) => {
                let page = self.client.source().await.unwrap_or_default();
                panic!("no {css} ({e}) on {}:\n{page}", self.path().await)
            }
        }
    }

    /// Waits until the element is shown and its text contains `needle`.
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(el) = self.client.find(Locator::Css(css)).await
                && el.is_displayed().await.unwrap_or(false)
            {
                let t = el.text().await.unwrap_or_default();
                if t.contains(needle) {
                    return t;
                }
            }
            assert!(Instant::now() < deadline, "{css} never said {needle:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Waits until the browser is on a page whose path (and query) starts with `prefix`.
    pub async fn wait_for_path(&self, prefix: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = self.path().await;
            if now.starts_with(prefix) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "stayed on {now}, expected {prefix}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let el = self.client.find(Locator::Css(css)).await.unwrap();
        el.clear().await.unwrap();
        el.send_keys(value).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// The page's basic accessibility: a language, and a label (or an accessible name) for every
    /// control a person can reach.
    pub async fn assert_accessible(&self) {
        let found = self
            .client
            .execute(
                r#"
                const unlabeled = [...document.querySelectorAll(
                    'input:not([type=hidden]), select, textarea, button')]
                  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                               && !(e.tagName === 'BUTTON' && e.textContent.trim()))
                  .map(e => e.outerHTML);
                return { lang: document.documentElement.lang, unlabeled,
                         title: document.title };
                "#,
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(found["lang"], "en");
        assert!(!found["title"].as_str().unwrap().is_empty());
        assert_eq!(
            found["unlabeled"],
            serde_json::json!([]),
            "controls without a label"
        );
        let low = self.client.execute(CONTRAST_JS, vec![]).await.unwrap();
        assert_eq!(low, serde_json::json!([]), "text below WCAG AA contrast");
    }

    /// Saves a PNG of the page at desktop and phone widths; at phone width nothing may make the
    /// page scroll sideways.
    pub async fn screenshots(&self, name: &str) {
        self.assert_accessible().await;
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        for (label, w, h) in [("desktop", 1280, 900), ("phone", 390, 844)] {
            self.client.set_window_size(w, h).await.unwrap();
            tokio::time::sleep(Duration::from_millis(150)).await;
            let overflow = self
                .client
                .execute(
                    "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
                    vec![],
                )
                .await
                .unwrap();
            assert!(
                overflow.as_i64().unwrap() <= 0,
                "{name} scrolls sideways by {overflow} px at {w} px wide"
            );
            let png = self.client.screenshot().await.unwrap();
            assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
            std::fs::write(dir.join(format!("{name}-{label}.png")), png).unwrap();
        }
        self.client.set_window_size(1280, 900).await.unwrap();
    }

    pub async fn stop(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Every visible text of calbook's own page (not the embed's iframe) against its effective
/// background: WCAG AA, 4.5:1 (3:1 for large text). Returns the offenders.
pub(crate) const CONTRAST_JS: &str = r#"
const lum = (c) => {
  const [r, g, b] = c.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const rgba = (s) => (s.match(/[\d.]+/g) || []).map(Number);
const background = (el) => {
  for (let e = el; e; e = e.parentElement) {
    const c = rgba(getComputedStyle(e).backgroundColor);
    if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c.slice(0, 3);
  }
  return [255, 255, 255];
};
const bad = [];
for (const el of document.querySelectorAll('body *')) {
  const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  if (!own || !el.getClientRects().length) continue;
  const st = getComputedStyle(el);
  if (st.visibility === 'hidden') continue;
  const fg = rgba(st.color).slice(0, 3), bg = background(el);
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  const ratio = (a + 0.05) / (b + 0.05);
  const size = parseFloat(st.fontSize), bold = parseInt(st.fontWeight, 10) >= 700;
  const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
  if (ratio < need) bad.push(`${el.tagName}.${el.className} "${el.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
}
return bad;
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_booking_page_without_configuration_shows_a_setup_notice() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = Browser::start().await;
    browser.client.goto(&app.url("/book")).await.unwrap();
    let notice = browser.text(".notice.setup").await;
    assert!(notice.contains("CALCOM_LINK"), "{notice}");
    assert!(
        browser.client.find(Locator::Css("iframe")).await.is_err(),
        "no broken embed"
    );
    browser.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_bookings_history_and_chain_and_retries_a_dead_email() {
    // Resend refuses every email, so the confirmation is dead-lettered at once.
    let resend = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(ResponseTemplate::new(422).set_body_json(
            serde_json::json!({"name": "validation_error", "message": "Invalid `to` field"}),
        ))
        .mount(&resend)
        .await;
    let app = TestApp::spawn_with_resend(Backend::Sqlite, &resend, false).await;
    let script_name = "<script>alert(1)</script>";
    let (status, body) = app
        .deliver(&booked_by(
            "XssUid000000000000001",
            48,
            script_name,
            "marco.rossi@example.com",
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.booking("XssUid000000000000001")
            .await
            .attendee_name
            .as_deref(),
        Some(script_name)
    );
    app.deliver(&sample("created")).await;
    app.deliver(&sample("rescheduled")).await;
    app.drain_outbox().await;
    let dead = app.store.outbox(Some(JobState::Dead), 50).await.unwrap();
    assert!(!dead.is_empty(), "a dead-lettered email to retry");

    let browser = Browser::start().await;
    // Sign-in is required.
    browser
        .client
        .goto(&app.url("/admin/bookings"))
        .await
        .unwrap();
    browser
        .wait_for_path("/admin/login?next=%2Fadmin%2Fbookings")
        .await;
    // A wrong token is refused.
    browser.fill("#token", "not-the-admin-token").await;
    browser.click("form button[type=submit]").await;
    assert!(browser.text("#login-error").await.contains("not right"));
    browser.wait_for_path("/admin/login").await;
    // The right one, typed and sent with the Enter key, leads to the page asked for.
    browser.assert_accessible().await;
    browser.fill("#token", &format!("{ADMIN_TOKEN}\n")).await;
    browser.wait_for_path("/admin/bookings").await;

    // The upcoming booking, with its attendee's name shown as text, not run.
    let table = browser.text("#bookings").await;
    assert!(table.contains(script_name), "{table}");
    assert!(
        browser.client.get_alert_text().await.is_err(),
        "no script ran"
    );
    browser.screenshots("admin-bookings").await;

    // The rescheduled pair is in the past: the new booking shows its chain and timeline.
    browser
        .client
        .goto(&app.url("/admin/bookings?view=past"))
        .await
        .unwrap();
    browser
        .click(&format!("a[href='/admin/bookings/{RESCHEDULED_UID}']"))
        .await;
    browser
        .wait_for_path(&format!("/admin/bookings/{RESCHEDULED_UID}"))
        .await;
    let chain = browser.text("#reschedule-chain").await;
    assert!(chain.contains("this booking"), "{chain}");
    let items = browser
        .client
        .find_all(Locator::Css("#reschedule-chain > li"))
        .await
        .unwrap();
    assert_eq!(items.len(), 2, "{chain}");
    let history = browser.text("#history").await;
    assert!(history.contains("(booked as the new time)"), "{history}");
    browser
        .client
        .goto(&app.url(&format!("/admin/bookings/{CREATED_UID}")))
        .await
        .unwrap();
    let history = browser.text("#history").await;
    assert!(history.contains("booked for "), "{history}");
    assert!(history.contains("moved from "), "{history}");
    assert!(!history.contains("— → —"), "{history}");
    browser.screenshots("admin-booking").await;

    // The dead confirmation is retried from the emails page.
    browser
        .client
        .goto(&app.url("/admin/emails?state=dead"))
        .await
        .unwrap();
    let before = app
        .store
        .outbox(Some(JobState::Pending), 50)
        .await
        .unwrap()
        .len();
    browser.click("#emails form button").await;
    browser
        .wait_for_path("/admin/emails?state=dead&retried=")
        .await;
    let notice = browser.text("#retried").await;
    assert!(notice.contains("1 email is queued again"), "{notice}");
    let after = app
        .store
        .outbox(Some(JobState::Pending), 50)
        .await
        .unwrap()
        .len();
    assert_eq!(after, before + 1, "one dead email is pending again");
    assert_eq!(
        app.store
            .outbox(Some(JobState::Dead), 50)
            .await
            .unwrap()
            .len(),
        dead.len() - 1
    );
    browser.click("nav button.link").await;
    browser.wait_for_path("/admin/login").await;
    browser
        .client
        .goto(&app.url("/admin/emails"))
        .await
        .unwrap();
    browser.wait_for_path("/admin/login?next=").await;
    browser.stop().await;
}
