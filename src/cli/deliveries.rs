//! `calbook deliveries show` and `calbook deliveries replay`: a stored delivery's body and
//! outcome, and re-applying stored bodies through today's rules.
//!
//! A replay is a new delivery through the webhook's own path ([`crate::webhook::Ingest`]): the
//! stored body is parsed and admitted by today's code and settings, applied in the same group
//! commit, and recorded as a new delivery (the original keeps its outcome). It is idempotent:
//! a body that was applied (or ignored) before, by the original or an earlier replay, comes back
//! `duplicate` and changes nothing.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use jiff::Timestamp;
use uuid::Uuid;

use crate::config::{self, Settings};
use crate::store::{Delivery, Outcome, Store};
use crate::webhook::{Admission, Ingest, IngestOptions, Received};

/// Prints one delivery: what calbook kept of its headers, its outcome, and its body.
pub async fn show(store: &Store, id: Uuid, json: bool) -> anyhow::Result<ExitCode> {
    let Some(d) = store.delivery(id).await? else {
        eprintln!("error: no delivery with id {id}");
        return Ok(ExitCode::from(2));
    };
    let body = String::from_utf8_lossy(&d.body).into_owned();
    let mut out = std::io::stdout().lock();
    if json {
        let mut v = serde_json::to_value(&d)?;
        v["body"] = match serde_json::from_slice::<serde_json::Value>(&d.body) {
            Ok(parsed) => parsed,
            Err(_) => body.into(),
        };
        serde_json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".to_owned());
    writeln!(out, "id                {}", d.id)?;
    writeln!(out, "received_at       {}", d.received_at)?;
    writeln!(out, "trigger           {}", opt(&d.trigger_event))?;
    writeln!(out, "outcome           {}", d.outcome.as_str())?;
    writeln!(out, "error             {}", opt(&d.error))?;
    writeln!(out, "booking_uid       {}", opt(&d.booking_uid))?;
    writeln!(out, "content-type      {}", opt(&d.content_type))?;
    writeln!(out, "webhook-version   {}", opt(&d.webhook_version))?;
    writeln!(out, "body_sha256       {}", d.body_sha256)?;
    writeln!(out, "body ({} bytes):", d.body.len())?;
    writeln!(out, "{body}")?;
    Ok(ExitCode::SUCCESS)
}

/// Which deliveries to replay.
pub struct Selection {
    pub ids: Vec<Uuid>,
    pub outcome: Option<Outcome>,
    pub since: Option<Timestamp>,
}

/// Replays the selected deliveries, oldest first; exit 2 when one is missing or failed.
pub async fn replay(settings: &Settings, sel: Selection, json: bool) -> anyhow::Result<ExitCode> {
    let store = super::open(settings).await?;
    let mut chosen: Vec<Delivery> = Vec::new();
    let mut failed = false;
    for id in &sel.ids {
        match store.delivery(*id).await? {
            Some(d) => chosen.push(d),
            None => {
                eprintln!("error: no delivery with id {id}");
                failed = true;
            }
        }
    }
    if let Some(outcome) = sel.outcome {
        let mut listed = store
            .deliveries_with_outcome(Some(outcome), u32::MAX)
            .await?;
        listed.retain(|d| sel.since.is_none_or(|s| d.received_at >= s));
        listed.reverse();
        for d in listed {
            if let Some(full) = store.delivery(d.id).await? {
                chosen.push(full);
            }
        }
    }
    let (ownership, _) = config::ownership_key(settings)?;
    let options = IngestOptions {
        email: Some(Arc::new(settings.email.policy.clone())),
        admission: Admission {
            ownership: Some(ownership),
            max_attendees: settings.ingest.admission.max_attendees,
        },
        ..IngestOptions::default()
    };
    let (ingest, writers) = Ingest::start(store.clone(), &options, None);
    let mut results = Vec::new();
    for d in &chosen {
        let received = Received::replay_of(d);
        match ingest.submit(received).await {
            Ok(a) => results.push(serde_json::json!({
                "replayed": d.id,
                "delivery_id": a.delivery_id,
                "outcome": a.outcome.as_str(),
                "booking_uid": a.booking_uid,
                "note": a.note,
                "emails_planned": a.emails_planned,
            })),
            Err(e) => {
                failed = true;
                results.push(serde_json::json!({"replayed": d.id, "error": e.to_string()}));
            }
        }
    }
    drop(ingest);
    for w in writers {
        let _ = w.await;
    }
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &results)?;
        writeln!(out)?;
    } else {
        for r in &results {
            let s = |k: &str| r[k].as_str().unwrap_or("-").to_owned();
            writeln!(
                out,
                "{} → {} {} {} {}",
                s("replayed"),
                s("delivery_id"),
                r["outcome"].as_str().or(r["error"].as_str()).unwrap_or("-"),
                s("booking_uid"),
                r["note"].as_str().unwrap_or("")
            )?;
        }
        if results.is_empty() {
            writeln!(out, "(nothing to replay)")?;
        }
    }
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
