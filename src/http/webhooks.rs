//! `POST /api/webhooks/calcom`: the Cal.com webhook receiver.
//!
//! Answers 200 only after the delivery and its effects are committed; 401 for any signature
//! problem (nothing stored, a counter incremented); 413 for a body over 256 KiB before any HMAC
//! or JSON work; 400 (or 415 for a form-encoded body) for a signed body that cannot be used,
//! which is kept as `rejected`; 503 with `Retry-After` when the database cannot take it now (a
//! retry is safe: a delivery is applied once). A 413 closes the connection (`Connection: close`).
//! Logs carry the delivery id, the body's SHA-256 and booking uids, never the body, the
//! signature, the secret or personal data.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::json;
use tracing::{info, warn};
use uuid::Uuid;

use super::error::ApiError;
use crate::state::AppState;
use crate::store::Outcome;
use crate::webhook::payload::{self, PayloadError};
use crate::webhook::{IngestError, MAX_BODY_BYTES, Received, body_sha256};

pub async fn calcom(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    match receive(&state, &headers, body).await {
        Ok(r) => r,
        Err(e) => {
            let refused_unread = e.status == StatusCode::PAYLOAD_TOO_LARGE;
            let mut res = e.into_response();
            // The unread rest of the body would be taken for the next request on this
            // keep-alive connection: say it closes (hyper then closes it after the answer).
            if refused_unread {
                res.headers_mut().insert(
                    header::CONNECTION,
                    header::HeaderValue::from_static("close"),
                );
            }
            res
        }
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the body exceeds {} KiB", MAX_BODY_BYTES / 1024),
    )
}

async fn receive(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Response, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        metrics::counter!("calbook_webhook_refused_total", "reason" => "too_large").increment(1);
        return Err(too_large());
    }
    // `Limited` is the body wrapper tower-http's `RequestBodyLimit` uses; it is applied here
    // rather than as a route layer so that the 413 carries this API's JSON error and counts a
    // refusal. Its limit error is a type, not a message to match.
    let body = Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<LengthLimitError>() {
                metrics::counter!("calbook_webhook_refused_total", "reason" => "too_large")
                    .increment(1);
                too_large()
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "unreadable_body",
                    "the request body could not be read",
                )
            }
        })?
        .to_bytes();

    let signature = headers.get("x-cal-signature-256").map(|v| v.as_bytes());
    let digest = body_sha256(&body);
    if let Err(e) = state.secrets.verify(signature, &body) {
        metrics::counter!("calbook_webhook_refused_total", "reason" => "signature").increment(1);
        state.alerts.raise(
            crate::alert::AlertKind::SignatureRefused,
            &format!("a webhook delivery was refused: {e}"),
        );
        warn!(body_sha256 = %digest, reason = %e, "webhook signature refused");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
            e.to_string(),
        ));
    }

    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(200).collect::<String>())
    };
    let content_type = text(header::CONTENT_TYPE);
    let webhook_version = text(header::HeaderName::from_static("x-cal-webhook-version"));
    let parsed = payload::parse(content_type.as_deref(), webhook_version.as_deref(), &body);
    let form_encoded = matches!(parsed, Err(PayloadError::FormEncoded));
    let received = Received {
        id: Uuid::now_v7(),
        received_at: crate::time::now(),
        body,
        body_sha256: digest.clone(),
        content_type,
        webhook_version,
        parsed,
    };
    let applied = state.ingest.submit(received).await.map_err(|e| match e {
        IngestError::Unavailable => {
            state.alerts.raise(
                crate::alert::AlertKind::DatabaseRefusesWrites,
                "a webhook delivery got 503: the database could not take it",
            );
            ApiError::unavailable()
        }
        IngestError::ShuttingDown => ApiError::unavailable(),
        IngestError::Internal => ApiError::internal(),
    })?;
    info!(
        delivery_id = %applied.delivery_id,
        body_sha256 = %digest,
        booking_uid = applied.booking_uid.as_deref().unwrap_or(""),
        outcome = applied.outcome.as_str(),
        "webhook delivery"
    );
    if applied.outcome == Outcome::Rejected {
        let (status, code) = if form_encoded {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
        } else {
            (StatusCode::BAD_REQUEST, "invalid_payload")
        };
        let mut res = ApiError::new(status, code, applied.note.unwrap_or_default()).into_response();
        res.headers_mut().insert(
            header::HeaderName::from_static("x-calbook-delivery-id"),
            header::HeaderValue::from_str(&applied.delivery_id.to_string()).expect("uuid is ascii"),
        );
        return Ok(res);
    }
    Ok((
        StatusCode::OK,
        Json(json!({
            "received": true,
            "duplicate": applied.outcome == Outcome::Duplicate,
            "outcome": applied.outcome,
            "delivery_id": applied.delivery_id,
            "booking_uid": applied.booking_uid,
            "note": applied.note,
        })),
    )
        .into_response())
}
