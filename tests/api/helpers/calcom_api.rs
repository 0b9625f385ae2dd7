//! A stand-in for Cal.com's API v2, as a real HTTP server (axum on port 0): stateful bookings
//! that tests change between calls (each change stamps a newer `updatedAt`), `GET /v2/bookings`
//! with `afterUpdatedAt` / `sortUpdatedAt=asc` / `take` (max 250) / `skip` and Cal.com's
//! `pagination` object, `GET /v2/bookings/{uid}`, the webhook subscriptions, the API key check
//! (401), the `cal-api-version: 2024-08-13` check (400 without it: the real API would answer with
//! another controller), and queued faults (429 with `Retry-After`, 5xx); and the dashboard's
//! `POST /v2/bookings/{uid}/cancel` and `/request-reschedule`, recorded ([`CalcomApi::booking_calls`]).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

/// The key the stand-in accepts.
pub const CALCOM_API_KEY: &str = "cal_test_0123456789abcdef";

/// One queued answer instead of the real one.
#[derive(Debug, Clone)]
pub enum Fault {
    /// 429 with `Retry-After: secs`.
    RateLimited { retry_after_secs: u64 },
    /// This status (5xx).
    Status(u16),
}

/// One request the stand-in saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The route (`/v2/bookings`, `/v2/webhooks`, …).
    pub path: String,
    pub query: String,
    pub at: Instant,
    pub version_header: bool,
}

/// Changes the bookings after a page was computed: (the bookings, the page's skip, a clock
/// giving newer `updatedAt` stamps).
pub type PageHook = Box<dyn FnMut(&mut Vec<Value>, usize, &mut dyn FnMut() -> Timestamp) + Send>;

#[derive(Default)]
struct Inner {
    bookings: Vec<Value>,
    last_stamp: Option<Timestamp>,
    faults: VecDeque<Fault>,
    seen: Vec<Seen>,
    webhooks: Vec<Value>,
    /// Called after each bookings page is computed (before it is answered), with the skip.
    after_page: Option<PageHook>,
    page_delay: Duration,
    /// The cancels and reschedule requests received, in order.
    booking_actions: Vec<BookingCall>,
}

/// A `POST /v2/bookings/{uid}/cancel` or `/request-reschedule` the stand-in accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct BookingCall {
    /// `cancel` or `request-reschedule`.
    pub action: String,
    pub uid: String,
    pub body: Value,
}

impl Inner {
    fn stamp(&mut self) -> Timestamp {
        let now = Timestamp::now();
        let t = match self.last_stamp {
            Some(last) if last >= now => last.checked_add(SignedDuration::from_millis(1)).unwrap(),
            _ => now,
        };
        self.last_stamp = Some(t);
        t
    }
}

#[derive(Clone)]
pub struct CalcomApi {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

fn ts(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A booking object as API v2 (2024-08-13) returns it, `start` `hours` from now, 30 minutes.
pub fn api_booking(uid: &str, status: &str, hours: i64, email: &str) -> Value {
    let start = super::hours_from_now(hours);
    let end = start.checked_add(SignedDuration::from_mins(30)).unwrap();
    json!({
        "id": 1000,
        "uid": uid,
        "title": "Intro Call between Host and Guest",
        "description": "",
        "hosts": [{"id": 1, "name": "Host", "email": "host@example.com", "username": "host", "timeZone": "Europe/Rome"}],
        "status": status,
        "start": ts(start),
        "end": ts(end),
        "duration": 30,
        "eventTypeId": 7,
        "eventType": {"id": 7, "slug": "intro-call"},
        "location": "https://video.example.com/room",
        "absentHost": false,
        "attendees": [{"name": "Guest", "email": email, "timeZone": "Europe/Rome", "language": "en", "absent": false}],
        "bookingFieldsResponses": {},
        "metadata": {},
        "icsUid": format!("{uid}@Cal.com"),
        "createdAt": ts(Timestamp::now()),
        "updatedAt": ts(Timestamp::now()),
    })
}

impl CalcomApi {
    pub async fn start() -> CalcomApi {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/v2/bookings", get(list))
            .route("/v2/bookings/{uid}", get(one))
            .route("/v2/webhooks", get(list_webhooks).post(create_webhook))
            .route("/v2/webhooks/{id}", patch(update_webhook))
            .route("/v2/bookings/{uid}/cancel", post(cancel_booking))
            .route(
                "/v2/bookings/{uid}/request-reschedule",
                post(request_reschedule),
            )
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        CalcomApi { addr, inner }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds or replaces a booking (by uid), stamped with a new `updatedAt`.
    pub fn put(&self, mut booking: Value) {
        let mut g = self.inner.lock().unwrap();
        let id = g.bookings.len() as i64 + 1;
        booking["updatedAt"] = ts(g.stamp()).into();
        let uid = booking["uid"].clone();
        match g.bookings.iter_mut().find(|b| b["uid"] == uid) {
            Some(b) => {
                booking["id"] = b["id"].clone();
                *b = booking;
            }
            None => {
                booking["id"] = id.into();
                g.bookings.push(booking);
            }
        }
    }

    /// Changes a stored booking (a new `updatedAt`).
    pub fn edit(&self, uid: &str, change: impl FnOnce(&mut Value)) {
        let mut b = self.get(uid).expect("a booking the stand-in has");
        change(&mut b);
        self.put(b);
    }

    pub fn get(&self, uid: &str) -> Option<Value> {
        let g = self.inner.lock().unwrap();
        g.bookings.iter().find(|b| b["uid"] == uid).cloned()
    }

    /// Reschedules `uid` to `new_uid`, `hours` from now, as Cal.com does: the old booking
    /// becomes `cancelled` with `rescheduledToUid`, the new one is `accepted` with
    /// `rescheduledFromUid`.
    pub fn reschedule(&self, uid: &str, new_uid: &str, hours: i64) {
        let old = self.get(uid).unwrap();
        let email = old["attendees"][0]["email"].as_str().unwrap().to_owned();
        let mut new = api_booking(new_uid, "accepted", hours, &email);
        new["rescheduledFromUid"] = uid.into();
        self.edit(uid, |b| {
            b["status"] = "cancelled".into();
            b["rescheduledToUid"] = new_uid.into();
        });
        self.put(new);
    }

    pub fn fail_next(&self, faults: impl IntoIterator<Item = Fault>) {
        self.inner.lock().unwrap().faults.extend(faults);
    }

    /// Runs `hook` after each bookings page is computed (with the page's `skip`), to change the
    /// set while a pass reads it.
    pub fn after_each_page(
        &self,
        hook: impl FnMut(&mut Vec<Value>, usize, &mut dyn FnMut() -> Timestamp) + Send + 'static,
    ) {
        self.inner.lock().unwrap().after_page = Some(Box::new(hook));
    }

    /// Makes every bookings page take this long.
    pub fn slow_pages(&self, delay: Duration) {
        self.inner.lock().unwrap().page_delay = delay;
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.inner.lock().unwrap().seen.clone()
    }

    /// The cancels and reschedule requests the stand-in accepted, in order.
    pub fn booking_calls(&self) -> Vec<BookingCall> {
        self.inner.lock().unwrap().booking_actions.clone()
    }

    /// The webhook subscriptions as stored (secrets included).
    pub fn webhooks(&self) -> Vec<Value> {
        self.inner.lock().unwrap().webhooks.clone()
    }

    /// Changes the stored subscriptions (as someone clicking in Cal.com's settings would).
    pub fn edit_webhooks(&self, change: impl FnOnce(&mut Vec<Value>)) {
        change(&mut self.inner.lock().unwrap().webhooks);
    }
}

type Shared = Arc<Mutex<Inner>>;

/// The checks every endpoint makes, in Cal.com's order: key, then version, then queued faults.
fn gate(inner: &Shared, headers: &HeaderMap, path: &str, query: &str) -> Option<Response> {
    let mut g = inner.lock().unwrap();
    let version =
        headers.get("cal-api-version").and_then(|v| v.to_str().ok()) == Some("2024-08-13");
    g.seen.push(Seen {
        path: path.to_owned(),
        query: query.to_owned(),
        at: Instant::now(),
        version_header: version,
    });
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if auth != Some(&format!("Bearer {CALCOM_API_KEY}")) {
        return Some(
            (
                StatusCode::UNAUTHORIZED,
                Json(json!({"status": "error", "error": {"code": "UnauthorizedException"}})),
            )
                .into_response(),
        );
    }
    if !version {
        return Some(
            (
                StatusCode::BAD_REQUEST,
                Json(json!({"status": "error", "error": {"message": "cal-api-version 2024-08-13 expected"}})),
            )
                .into_response(),
        );
    }
    match g.faults.pop_front() {
        Some(Fault::RateLimited { retry_after_secs }) => Some(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", retry_after_secs.to_string())],
                "rate limited",
            )
                .into_response(),
        ),
        Some(Fault::Status(s)) => Some(StatusCode::from_u16(s).unwrap().into_response()),
        None => None,
    }
}

async fn list(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let query: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if let Some(r) = gate(&inner, &headers, "/v2/bookings", &query.join("&")) {
        return r;
    }
    let param = |name: &str| q.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let after: Option<Timestamp> = param("afterUpdatedAt").map(|v| v.parse().unwrap());
    let take: usize = param("take").map_or(100, |v| v.parse().unwrap());
    let skip: usize = param("skip").map_or(0, |v| v.parse().unwrap());
    if take > 250 || take == 0 {
        return (StatusCode::BAD_REQUEST, "take must be 1..=250").into_response();
    }
    assert_eq!(
        param("sortUpdatedAt").as_deref(),
        Some("asc"),
        "calbook sorts by updatedAt"
    );
    let delay = inner.lock().unwrap().page_delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut g = inner.lock().unwrap();
    let updated = |b: &Value| -> Timestamp { b["updatedAt"].as_str().unwrap().parse().unwrap() };
    let mut matching: Vec<&Value> = g
        .bookings
        .iter()
        .filter(|b| after.is_none_or(|a| updated(b) > a))
        .collect();
    matching.sort_by_key(|b| (updated(b), b["id"].as_i64()));
    let total = matching.len();
    let data: Vec<Value> = matching
        .into_iter()
        .skip(skip)
        .take(take)
        .cloned()
        .collect();
    let returned = data.len();
    let has_next = skip + returned < total;
    if let Some(mut hook) = g.after_page.take() {
        let mut list = std::mem::take(&mut g.bookings);
        {
            let mut stamp = || g.stamp();
            hook(&mut list, skip, &mut stamp);
        }
        g.bookings = list;
        g.after_page = Some(hook);
    }
    Json(json!({
        "status": "success",
        "data": data,
        "pagination": {
            "totalItems": total,
            "remainingItems": total.saturating_sub(skip + returned),
            "returnedItems": returned,
            "itemsPerPage": take,
            "currentPage": skip / take + 1,
            "totalPages": total.div_ceil(take),
            "hasNextPage": has_next,
            "hasPreviousPage": skip > 0,
        }
    }))
    .into_response()
}

async fn one(State(inner): State<Shared>, headers: HeaderMap, Path(uid): Path<String>) -> Response {
    if let Some(r) = gate(&inner, &headers, "/v2/bookings/{uid}", &uid) {
        return r;
    }
    let g = inner.lock().unwrap();
    match g.bookings.iter().find(|b| b["uid"] == uid.as_str()) {
        Some(b) => Json(json!({"status": "success", "data": b})).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn list_webhooks(State(inner): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(r) = gate(&inner, &headers, "/v2/webhooks", "") {
        return r;
    }
    let g = inner.lock().unwrap();
    // Cal.com never returns the secret; it says whether one is set.
    let data: Vec<Value> = g.webhooks.iter().map(redacted).collect();
    Json(json!({"status": "success", "data": data})).into_response()
}

fn redacted(w: &Value) -> Value {
    let mut w = w.clone();
    if let Some(o) = w.as_object_mut() {
        let set = o.remove("secret").is_some_and(|s| !s.is_null());
        o.insert("secretSet".into(), set.into());
    }
    w
}

async fn create_webhook(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Json(mut body): Json<Value>,
) -> Response {
    if let Some(r) = gate(&inner, &headers, "/v2/webhooks", "POST") {
        return r;
    }
    let mut g = inner.lock().unwrap();
    body["id"] = (g.webhooks.len() as i64 + 1).into();
    g.webhooks.push(body.clone());
    (
        StatusCode::CREATED,
        Json(json!({"status": "success", "data": redacted(&body)})),
    )
        .into_response()
}

async fn update_webhook(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = gate(&inner, &headers, "/v2/webhooks/{id}", "PATCH") {
        return r;
    }
    let mut g = inner.lock().unwrap();
    let Some(w) = g.webhooks.iter_mut().find(|w| w["id"] == id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    for (k, v) in body.as_object().unwrap() {
        w[k] = v.clone();
    }
    let out = redacted(w);
    Json(json!({"status": "success", "data": out})).into_response()
}

/// `POST /v2/bookings/{uid}/cancel` (`{"cancellationReason"?, "cancelSubsequentBookings"?}`) and
/// `POST /v2/bookings/{uid}/request-reschedule` (`{"rescheduleReason"?}`), as Cal.com answers
/// them: 404 for an unknown uid, 400 for a booking already cancelled, else the booking becomes
/// `cancelled` (with `rescheduled: true` for a reschedule request) and the answer is 200.
async fn booking_action(
    inner: &Shared,
    headers: &HeaderMap,
    action: &str,
    uid: String,
    body: Value,
) -> Response {
    if let Some(r) = gate(
        inner,
        headers,
        &format!("/v2/bookings/{{uid}}/{action}"),
        &uid,
    ) {
        return r;
    }
    let mut g = inner.lock().unwrap();
    let stamp = ts(g.stamp());
    let Some(b) = g.bookings.iter_mut().find(|b| b["uid"] == uid.as_str()) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"status": "error", "error": {"code": "NotFoundException", "message": format!("Booking with uid={uid} was not found in the database")}})),
        )
            .into_response();
    };
    if b["status"] == "cancelled" {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"status": "error", "error": {"code": "BadRequestException", "message": "This booking has already been cancelled."}})),
        )
            .into_response();
    }
    b["status"] = "cancelled".into();
    b["updatedAt"] = stamp.into();
    let reason = match action {
        "cancel" => body["cancellationReason"].clone(),
        _ => {
            b["rescheduled"] = true.into();
            body["rescheduleReason"].clone()
        }
    };
    b["cancellationReason"] = reason;
    let data = b.clone();
    g.booking_actions.push(BookingCall {
        action: action.to_owned(),
        uid,
        body,
    });
    Json(json!({"status": "success", "data": data})).into_response()
}

async fn cancel_booking(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Path(uid): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    booking_action(&inner, &headers, "cancel", uid, body).await
}

async fn request_reschedule(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Path(uid): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    booking_action(&inner, &headers, "request-reschedule", uid, body).await
}
