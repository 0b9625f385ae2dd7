//! A local Cal.com origin for the booking page's browser tests. It serves Cal.com's real
//! `embed.js` (the pinned `@calcom/embed-core`, see [`crate::calcom_embed`]) at `/embed/embed.js`,
//! as a Cal.com instance does, and a stand-in booker page for `/<link>/embed` that speaks the
//! embed's real message protocol from inside the iframe.
//!
//! The child side follows Cal.com's source: `packages/embeds/embed-core/src/embed-iframe.ts` and
//! `embed-iframe-init.ts` (calcom/cal.com @ 03670679c00d600615e8df2bc64545bd51c61646),
//! `src/sdk-action-manager.ts` (@ 03bd4d17594785dd9a794da7e3d422c536626c2b), and the booking
//! success events of `packages/features/bookings/Booker/components/hooks/useBookings.ts`
//! (@ cd764fd827c001adedda807a326af9ca0f924beb). Every
//! message to the parent is `{originator: "CAL", type, namespace, fullType: "CAL:<ns>:<type>",
//! data}`; the parent's instructions arrive as `{originator: "CAL", method, arg}`:
//! - on load: `__iframeReady`, then (page status 200) `__windowLoadComplete` and
//!   `__dimensionChanged` `{iframeHeight, iframeWidth, isFirstTime}`, or (any other status, as
//!   Cal.com's 404 page with `window.CalComPageStatus = "404"`) `linkFailed` `{code, msg,
//!   data: {url}}`;
//! - on `parentKnowsIframeReady`, once the parent knows the height: the body is shown and
//!   `linkReady` fires;
//! - on "Confirm": `bookingSuccessful` (deprecated shape) then `bookingSuccessfulV2`, as current
//!   Cal.com does; [`Events::LegacyOnly`] sends only `bookingSuccessful`, as Cal.com did before
//!   the V2 events (a self-hosted instance may still).
//!
//! The stand-in records each booker page request (its path and query: what Cal.com would read
//! the prefill and `metadata[...]` from), each instruction the parent sent into the iframe, and
//! the booking the stand-in booker made.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Json, State};
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::Value;

/// Which success events the stand-in booker sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Events {
    /// `bookingSuccessful` then `bookingSuccessfulV2` (Cal.com since the V2 events).
    Current,
    /// `bookingSuccessful` only (Cal.com before the V2 events).
    LegacyOnly,
    /// Both, for an event that requires the host's confirmation (`status: "PENDING"`,
    /// `confirmed: false`).
    NeedsConfirmation,
}

/// What the stand-in saw.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// Each booker page request: path and query, as sent.
    pub pages: Vec<Uri>,
    /// Each record the iframe posted back: `{method, arg}` for the parent's instructions,
    /// `{booked: {...}}` for a booking.
    pub records: Vec<Value>,
}

impl Seen {
    pub fn instruction(&self, method: &str) -> Option<&Value> {
        self.records.iter().find(|r| r["method"] == method)
    }

    pub fn booked(&self) -> Option<&Value> {
        self.records.iter().find_map(|r| r.get("booked"))
    }
}

#[derive(Clone)]
struct StandInState {
    seen: Arc<Mutex<Seen>>,
    events: Events,
    embed_js: &'static [u8],
}

pub struct CalcomStandIn {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
}

impl CalcomStandIn {
    pub async fn start(events: Events) -> CalcomStandIn {
        let embed_js = tokio::task::spawn_blocking(crate::calcom_embed::embed_js)
            .await
            .expect("the embed package loads");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let state = StandInState {
            seen: seen.clone(),
            events,
            embed_js,
        };
        let app = Router::new()
            .route("/embed/embed.js", get(embed_js_file))
            .route("/__standin/embed-iframe.js", get(iframe_js))
            .route("/__standin/seen", post(record))
            .route("/{*link}", get(booker_page))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        CalcomStandIn { addr, seen }
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits (up to 10 s) until `ready` holds for what the stand-in saw, and returns it.
    pub async fn wait_for(&self, what: &str, ready: impl Fn(&Seen) -> bool) -> Seen {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let seen = self.seen.lock().unwrap().clone();
            if ready(&seen) {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "the stand-in never saw {what}: {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn embed_js_file(State(s): State<StandInState>) -> impl IntoResponse {
    ([("content-type", "text/javascript")], s.embed_js)
}

async fn iframe_js() -> impl IntoResponse {
    ([("content-type", "text/javascript")], IFRAME_JS)
}

async fn record(State(s): State<StandInState>, Json(v): Json<Value>) -> StatusCode {
    s.seen.lock().unwrap().records.push(v);
    StatusCode::NO_CONTENT
}

/// `/<link>/embed`: the booker (or Cal.com's 404 page for a link containing "broken").
async fn booker_page(State(s): State<StandInState>, uri: Uri) -> impl IntoResponse {
    if !uri.path().ends_with("/embed") {
        return (
            StatusCode::NOT_FOUND,
            [("content-type", "text/plain")],
            String::new(),
        );
    }
    s.seen.lock().unwrap().pages.push(uri.clone());
    let broken = uri.path().contains("broken");
    let (status, main) = if broken {
        (
            StatusCode::NOT_FOUND,
            "<h1>This page does not exist.</h1>".to_owned(),
        )
    } else {
        (StatusCode::OK, BOOKER_MAIN.to_owned())
    };
    let events = match s.events {
        Events::Current => "current",
        Events::LegacyOnly => "legacy",
        Events::NeedsConfirmation => "pending",
    };
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Intro Call | Cal.com stand-in</title>\
         <script>window.CalComPageStatus = \"{code}\"; window.StandInEvents = \"{events}\";</script>\
         <script src=\"/__standin/embed-iframe.js\" defer></script></head>\
         <body style=\"visibility:hidden\"><main class=\"main\">{main}</main></body></html>",
        code = status.as_u16()
    );
    (status, [("content-type", "text/html; charset=utf-8")], page)
}

const BOOKER_MAIN: &str = r#"<h1>Intro Call</h1>
<form id="booker">
  <p><label>Your name <input id="name" name="name"></label></p>
  <p><label>Email address <input id="email" name="email" type="email"></label></p>
  <p><button type="button" id="confirm">Confirm</button></p>
</form>
<p id="booked" hidden>This meeting is scheduled</p>"#;

/// The child side of the embed protocol (see the module docs for the source it follows).
const IFRAME_JS: &str = r#"
(function () {
  "use strict";
  var url = new URL(document.URL);
  // embed-iframe-init.ts: the namespace from `embed`, else the iframe's name, else `/embed`.
  var fromQuery = url.searchParams.get("embed");
  var ns = typeof fromQuery === "string" ? fromQuery
    : window.name.indexOf("cal-embed=") >= 0 ? window.name.replace(/cal-embed=(.*)/, "$1").trim()
    : url.pathname.endsWith("/embed") ? "" : null;
  if (top === window || ns === null) { document.body.style.visibility = "visible"; return; }

  function record(what) {
    fetch("/__standin/seen", { method: "POST", headers: { "content-type": "application/json" },
                               body: JSON.stringify(what) });
  }
  // sdk-action-manager.ts + embed-iframe.ts messageParent: one message per fired event.
  function fire(type, data) {
    var fullType = ns ? "CAL:" + ns + ":" + type : "CAL::" + type;
    parent.postMessage({ originator: "CAL", type: type, namespace: ns, fullType: fullType, data: data }, "*");
  }

  var parentKnowsHeight = false, parentReady = false, linkReadySent = false;
  function tellDimensions(first) {
    var main = document.querySelector("main");
    var h = first ? document.documentElement.scrollHeight : Math.ceil(main.getBoundingClientRect().height);
    var w = first ? document.documentElement.scrollWidth : Math.ceil(main.getBoundingClientRect().width);
    parentKnowsHeight = true;
    fire("__dimensionChanged", { iframeHeight: h, iframeWidth: w, isFirstTime: first });
    maybeLinkReady();
  }
  function maybeLinkReady() {
    if (!parentReady || !parentKnowsHeight || linkReadySent) return;
    linkReadySent = true;
    document.body.style.visibility = "visible";
    fire("linkReady", {});
  }
  var methods = {
    ui: function (arg) { record({ method: "ui", arg: arg }); },
    parentKnowsIframeReady: function () {
      record({ method: "parentKnowsIframeReady" });
      parentReady = true;
      maybeLinkReady();
    }
  };
  window.addEventListener("message", function (e) {
    var d = e.data;
    if (d && d.originator === "CAL" && typeof d.method === "string" && methods[d.method]) methods[d.method](d.arg);
  });

  fire("__iframeReady", { isPrerendering: false });
  var status = window.CalComPageStatus;
  if (status && status !== "200") {
    fire("linkFailed", { code: status, msg: "Problem loading the link", data: { url: document.URL } });
    return;
  }

  // The booker prefills its form from the query, and keeps `metadata[key]` for the booking.
  ["name", "email"].forEach(function (k) {
    var v = url.searchParams.get(k);
    if (v) document.getElementById(k).value = v;
  });
  var metadata = {};
  url.searchParams.forEach(function (v, k) {
    var m = /^metadata\[(.+)\]$/.exec(k);
    if (m) metadata[m[1]] = v;
  });

  window.addEventListener("load", function () {
    setTimeout(function () { fire("__windowLoadComplete", {}); tellDimensions(true); }, 100);
  });

  document.getElementById("confirm").addEventListener("click", function () {
    var start = "2026-12-01T15:00:00.000Z", end = "2026-12-01T15:30:00.000Z";
    var name = document.getElementById("name").value, email = document.getElementById("email").value;
    var pending = window.StandInEvents === "pending";
    var status = pending ? "PENDING" : "ACCEPTED";
    var booking = { uid: "StandInUid000000000001", title: "Intro Call between Acme and " + name,
                    startTime: start, endTime: end, status: status, eventTypeId: 48,
                    responses: { name: name, email: email }, metadata: metadata };
    record({ booked: booking });
    fire("bookingSuccessful", {
      booking: booking, eventType: { id: 48, title: "Intro Call", length: 30 }, date: start,
      duration: 30, organizer: { name: "Acme", email: "owner@acme.example", timeZone: "Europe/Berlin" },
      confirmed: !pending
    });
    if (window.StandInEvents !== "legacy") {
      fire("bookingSuccessfulV2", { uid: booking.uid, title: booking.title, startTime: start, endTime: end,
                                    eventTypeId: 48, status: status, paymentRequired: false,
                                    isRecurring: false });
    }
    document.getElementById("booker").hidden = true;
    document.getElementById("booked").hidden = false;
    fire("__routeChanged", {});
    tellDimensions(false);
  });
})();
"#;
