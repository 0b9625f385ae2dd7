//! What an admin can do from a booking's page (`POST /admin/bookings/{uid}/…`, each a form with
//! the dashboard's CSRF token, see `guard.rs`):
//! * `notes`: an internal note, kept in calbook (`booking_actions`, never shown to clients and
//!   never logged), at most [`MAX_NOTE`] characters;
//! * `resend`: the email of the booking's current state (a confirmation for a confirmed booking,
//!   see [`crate::outbox::plan::resend_kind`]) queued again for its attendees, with a new
//!   idempotency key so the provider really sends it again;
//! * `cancel` (a reason is required) and `request-reschedule` (a reason is optional), when a
//!   Cal.com API key is configured: calbook asks Cal.com's API and records that it asked; the
//!   booking itself changes when Cal.com's webhook arrives, applied as any other.
//!
//! Failure modes: a bad form value is the page again with the message and the text typed (400);
//! an action the booking's state does not allow, 409; no API key, 409; Cal.com refusing or
//! unreachable, 502 with Cal.com's answer, and nothing recorded; a database error, 503. Every
//! success recorded in the booking's timeline, then a redirect (303) to the page saying so.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use super::bookings::booking_page;
use super::{AdminForm, AdminSession, CsrfField, store_error};
use crate::booking::{Booking, Status};
use crate::store::BookingAction;
use crate::web::WebState;

/// Longest internal note, in characters.
pub const MAX_NOTE: usize = 2000;
/// Longest reason sent to Cal.com, in characters.
pub const MAX_REASON: usize = 500;

/// A message on the booking's page about the last action, and what a form held.
#[derive(Debug, Default, Serialize)]
pub(super) struct Flash {
    pub ok: Option<String>,
    pub error: Option<String>,
    /// Which form the error is about (`note`, `cancel`, `reschedule`, `resend`).
    pub form: Option<&'static str>,
    /// The text the admin typed, kept after an error.
    pub text: Option<String>,
}

/// Which actions the page offers for `b`.
pub(super) fn available(state: &WebState, b: &Booking) -> minijinja::Value {
    let live = matches!(
        b.status,
        Status::Confirmed | Status::Pending | Status::AwaitingPayment
    );
    minijinja::context! {
        calcom => state.web.calcom.is_some(),
        cancel => live,
        reschedule => b.status == Status::Confirmed,
        resend => crate::outbox::plan::resend_kind(b).map(|k| k.as_str()),
        max_note => MAX_NOTE,
        max_reason => MAX_REASON,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct TextForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    text: String,
}

impl CsrfField for TextForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

fn done(uid: &str, what: &str) -> Response {
    let path = format!("/admin/bookings/{}?done={what}", urlencoding(uid));
    let mut r = Redirect::to(&path).into_response();
    *r.status_mut() = StatusCode::SEE_OTHER;
    r
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn refuse(
    state: &WebState,
    admin: &AdminSession,
    uid: &str,
    status: StatusCode,
    form: &'static str,
    error: String,
    text: Option<String>,
) -> Response {
    let flash = Flash {
        ok: None,
        error: Some(error),
        form: Some(form),
        text,
    };
    booking_page(state, admin, uid, flash, status).await
}

/// The booking, or the 404 / 503 page.
async fn find(state: &WebState, uid: &str) -> Result<Booking, Response> {
    match state.store.booking(uid).await {
        Ok(Some(b)) => Ok(b),
        Ok(None) => Err(state
            .web
            .pages
            .error(StatusCode::NOT_FOUND, "There is no booking with that uid.")),
        Err(e) => Err(store_error(state, &e)),
    }
}

fn record(b: &Booking, kind: &str, detail: String) -> BookingAction {
    BookingAction {
        id: uuid::Uuid::now_v7(),
        booking_id: b.id,
        kind: kind.to_owned(),
        detail,
        created_at: crate::time::now(),
    }
}

/// `POST /admin/bookings/{uid}/notes`.
pub async fn add_note(
    State(state): State<WebState>,
    Path(uid): Path<String>,
    AdminForm { admin, form }: AdminForm<TextForm>,
) -> Response {
    let b = match find(&state, &uid).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let note = form.text.trim();
    let chars = note.chars().count();
    let problem = if note.is_empty() {
        Some("The note is empty: write something to keep.".to_owned())
    } else if chars > MAX_NOTE {
        Some(format!(
            "A note can be at most {MAX_NOTE} characters; this one has {chars}. Shorten it and save again."
        ))
    } else {
        None
    };
    if let Some(p) = problem {
        let text = Some(form.text.clone());
        return refuse(
            &state,
            &admin,
            &uid,
            StatusCode::BAD_REQUEST,
            "note",
            p,
            text,
        )
        .await;
    }
    if let Err(e) = state
        .store
        .add_booking_action(&record(&b, "note", note.to_owned()), &[])
        .await
    {
        return store_error(&state, &e);
    }
    tracing::info!(booking_uid = %b.uid, "internal note added from the dashboard");
    done(&b.uid, "note")
}

/// `POST /admin/bookings/{uid}/resend`.
pub async fn resend(
    State(state): State<WebState>,
    Path(uid): Path<String>,
    AdminForm { admin, .. }: AdminForm<super::CsrfForm>,
) -> Response {
    let b = match find(&state, &uid).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(kind) = crate::outbox::plan::resend_kind(&b) else {
        let why = format!(
            "A {} booking has no email of its own to send again.",
            b.status.as_str().replace('_', " ")
        );
        return refuse(
            &state,
            &admin,
            &uid,
            StatusCode::CONFLICT,
            "resend",
            why,
            None,
        )
        .await;
    };
    let now = crate::time::now();
    let jobs = crate::outbox::plan::resend(&b, kind, now);
    if jobs.is_empty() {
        let why = "The booking has no attendee with an email address.".to_owned();
        return refuse(
            &state,
            &admin,
            &uid,
            StatusCode::CONFLICT,
            "resend",
            why,
            None,
        )
        .await;
    }
    let to: Vec<&str> = jobs.iter().map(|j| j.recipient_email.as_str()).collect();
    let detail = format!("{} to {}", kind.as_str().replace('_', " "), to.join(", "));
    if let Err(e) = state
        .store
        .add_booking_action(&record(&b, "resend", detail), &jobs)
        .await
    {
        return store_error(&state, &e);
    }
    if let Some(w) = &state.outbox_wake {
        w.notify_one();
    }
    tracing::info!(booking_uid = %b.uid, kind = kind.as_str(), emails = jobs.len(), "email resent from the dashboard");
    done(&b.uid, "resend")
}

/// What the admin asks of Cal.com.
#[derive(Clone, Copy)]
enum Ask {
    Cancel,
    Reschedule,
}

/// `POST /admin/bookings/{uid}/cancel`.
pub async fn cancel(
    State(state): State<WebState>,
    Path(uid): Path<String>,
    AdminForm { admin, form }: AdminForm<TextForm>,
) -> Response {
    ask_calcom(&state, &admin, &uid, form.text, Ask::Cancel).await
}

/// `POST /admin/bookings/{uid}/request-reschedule`.
pub async fn request_reschedule(
    State(state): State<WebState>,
    Path(uid): Path<String>,
    AdminForm { admin, form }: AdminForm<TextForm>,
) -> Response {
    ask_calcom(&state, &admin, &uid, form.text, Ask::Reschedule).await
}

async fn ask_calcom(
    state: &WebState,
    admin: &AdminSession,
    uid: &str,
    text: String,
    ask: Ask,
) -> Response {
    let (form, kind, done_as) = match ask {
        Ask::Cancel => ("cancel", "cancel", "cancel"),
        Ask::Reschedule => ("reschedule", "request_reschedule", "reschedule"),
    };
    let b = match find(state, uid).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(client) = &state.web.calcom else {
        let why = "Set CALCOM_API_KEY (an API v2 key) to cancel or reschedule from here; until \
                   then, use Cal.com's own bookings page."
            .to_owned();
        return refuse(
            state,
            admin,
            uid,
            StatusCode::CONFLICT,
            form,
            why,
            Some(text),
        )
        .await;
    };
    let allowed = match ask {
        Ask::Cancel => matches!(
            b.status,
            Status::Confirmed | Status::Pending | Status::AwaitingPayment
        ),
        Ask::Reschedule => b.status == Status::Confirmed,
    };
    if !allowed {
        let why = format!(
            "This booking is {}: Cal.com would refuse.",
            b.status.as_str().replace('_', " ")
        );
        return refuse(
            state,
            admin,
            uid,
            StatusCode::CONFLICT,
            form,
            why,
            Some(text),
        )
        .await;
    }
    let reason = text.trim().to_owned();
    let chars = reason.chars().count();
    let problem = match ask {
        Ask::Cancel if reason.is_empty() => {
            Some("Give a reason: Cal.com shows it to the attendee.".to_owned())
        }
        _ if chars > MAX_REASON => Some(format!(
            "A reason can be at most {MAX_REASON} characters; this one has {chars}."
        )),
        _ => None,
    };
    if let Some(p) = problem {
        return refuse(
            state,
            admin,
            uid,
            StatusCode::BAD_REQUEST,
            form,
            p,
            Some(text),
        )
        .await;
    }
    let answer = match ask {
        Ask::Cancel => client.cancel_booking(&b.uid, &reason).await,
        Ask::Reschedule => client.request_reschedule(&b.uid, &reason).await,
    };
    if let Err(e) = answer {
        // The status only: Cal.com's answer body is not logged.
        let status = match &e {
            crate::sync::ClientError::Refused { status, .. } => status.to_string(),
            crate::sync::ClientError::Unauthorized(s) => s.to_string(),
            _ => "unreachable".to_owned(),
        };
        tracing::warn!(booking_uid = %b.uid, %status, "Cal.com refused a dashboard {kind}");
        let why = format!("Nothing changed. {}", calcom_says(&e));
        return refuse(
            state,
            admin,
            uid,
            StatusCode::BAD_GATEWAY,
            form,
            why,
            Some(text),
        )
        .await;
    }
    tracing::info!(booking_uid = %b.uid, "{kind} asked of Cal.com from the dashboard");
    if let Err(e) = state
        .store
        .add_booking_action(&record(&b, kind, reason), &[])
        .await
    {
        // Cal.com did it; only calbook's note of asking is missing. Say so rather than pretend.
        tracing::error!(booking_uid = %b.uid, error = %e, "recording a Cal.com request failed");
        return store_error(state, &e);
    }
    done(&b.uid, done_as)
}

/// Cal.com's refusal in words: the `error.message` of its JSON answer when there is one.
fn calcom_says(e: &crate::sync::ClientError) -> String {
    if let crate::sync::ClientError::Refused { status, detail, .. } = e
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(detail)
        && let Some(m) = v["error"]["message"]
            .as_str()
            .or(v["message"].as_str())
            .filter(|m| !m.is_empty())
    {
        return format!("Cal.com answered {status}: {m}");
    }
    e.to_string()
}

#[cfg(test)]
mod tests {
    use crate::sync::ClientError;

    #[test]
    fn calcom_refusals_read_as_its_message() {
        let e = ClientError::Refused {
            status: 400,
            what: "POST /v2/bookings/{uid}/cancel".into(),
            detail: r#"{"status":"error","error":{"code":"BadRequestException","message":"This booking has already been cancelled."}}"#.into(),
        };
        assert_eq!(
            super::calcom_says(&e),
            "Cal.com answered 400: This booking has already been cancelled."
        );
        let raw = ClientError::Refused {
            status: 404,
            what: "x".into(),
            detail: "not json".into(),
        };
        assert!(super::calcom_says(&raw).contains("not json"));
        assert!(super::calcom_says(&ClientError::Unauthorized(401)).contains("CALCOM_API_KEY"));
    }
}
