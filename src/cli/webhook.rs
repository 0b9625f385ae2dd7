//! `calbook webhook register|status`: the Cal.com webhook subscription, through API v2
//! (`/v2/webhooks`), so nobody has to click through Cal.com's settings or get a trigger wrong.
//!
//! `register` creates the subscription for `--url` (or updates the one with that URL): every
//! trigger calbook handles, calbook's primary webhook secret, payload version `2021-10-20`,
//! active. `status` checks it: exists, active, URL, triggers, secret set; exit 1 when something
//! is off. The secret travels to Cal.com only; it is never printed.

use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Value, json};

use crate::config::{self, Settings};

/// Every trigger calbook acts on.
pub const TRIGGERS: [&str; 7] = [
    "BOOKING_CREATED",
    "BOOKING_REQUESTED",
    "BOOKING_RESCHEDULED",
    "BOOKING_CANCELLED",
    "BOOKING_REJECTED",
    "MEETING_STARTED",
    "MEETING_ENDED",
];

/// The payload version calbook's parser is written against.
pub const PAYLOAD_VERSION: &str = "2021-10-20";

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Create (or update) the Cal.com webhook that sends to URL.
    Register {
        /// calbook's public webhook URL, e.g. https://bookings.example.com/api/webhooks/calcom
        #[arg(long)]
        url: String,
    },
    /// Check the Cal.com webhook: exists, active, URL, triggers, secret set. Exit 1 if not.
    Status {
        /// The URL it must send to (default: any subscription ending in /api/webhooks/calcom).
        #[arg(long)]
        url: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

fn same_url(a: &str, b: &str) -> bool {
    a.trim().trim_end_matches('/') == b.trim().trim_end_matches('/')
}

fn subscriber(w: &Value) -> &str {
    w["subscriberUrl"].as_str().unwrap_or("")
}

pub async fn run(settings: &Settings, cmd: WebhookCommand) -> anyhow::Result<ExitCode> {
    let syncer = super::sync::syncer(settings).await?;
    let client = syncer.client();
    match cmd {
        WebhookCommand::Register { url } => {
            let parsed = url::Url::parse(url.trim())
                .map_err(|e| anyhow::anyhow!("--url {url:?} is not a URL: {e}"))?;
            anyhow::ensure!(
                parsed.scheme() == "https"
                    || parsed
                        .host_str()
                        .is_some_and(|h| h == "localhost" || h == "127.0.0.1"),
                "--url must be https:// (Cal.com sends bookings' personal data to it)"
            );
            if !parsed.path().ends_with("/api/webhooks/calcom") {
                eprintln!(
                    "warning: calbook receives webhooks at /api/webhooks/calcom; {url} has another path"
                );
            }
            let (secrets, _) = config::webhook_secrets(settings)?;
            let secret = String::from_utf8_lossy(secrets.primary()).into_owned();
            let body = json!({
                "subscriberUrl": url.trim(),
                "triggers": TRIGGERS,
                "active": true,
                "secret": secret,
                "version": PAYLOAD_VERSION,
            });
            let existing = client.webhooks().await?;
            let found = existing.iter().find(|w| same_url(subscriber(w), &url));
            let id = found.and_then(|w| match &w["id"] {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
            let saved = client.put_webhook(id.as_deref(), &body).await?;
            println!(
                "{} Cal.com webhook {} → {} ({} triggers, payload version {PAYLOAD_VERSION}, active)",
                if id.is_some() { "updated" } else { "created" },
                saved["id"],
                subscriber(&saved),
                TRIGGERS.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        WebhookCommand::Status { url, json } => {
            let hooks = client.webhooks().await?;
            let found = hooks.iter().find(|w| match &url {
                Some(u) => same_url(subscriber(w), u),
                None => subscriber(w)
                    .trim_end_matches('/')
                    .ends_with("/api/webhooks/calcom"),
            });
            let mut problems = Vec::new();
            let mut report = json!({"exists": found.is_some()});
            match found {
                None => problems.push(match &url {
                    Some(u) => format!("no Cal.com webhook sends to {u}; run `calbook webhook register --url {u}`"),
                    None => "no Cal.com webhook sends to …/api/webhooks/calcom; run `calbook webhook register --url https://…/api/webhooks/calcom`".to_owned(),
                }),
                Some(w) => {
                    let active = w["active"].as_bool().unwrap_or(false);
                    let triggers: Vec<&str> = w["triggers"]
                        .as_array()
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    let missing: Vec<&str> = TRIGGERS
                        .iter()
                        .copied()
                        .filter(|t| !triggers.contains(t))
                        .collect();
                    let secret_set = w["secretSet"].as_bool().unwrap_or(false)
                        || w["secret"].as_str().is_some_and(|s| !s.is_empty());
                    if !active {
                        problems.push("the webhook is not active".to_owned());
                    }
                    if !missing.is_empty() {
                        problems.push(format!("triggers missing: {}", missing.join(", ")));
                    }
                    if !secret_set {
                        problems.push("no secret: calbook refuses unsigned deliveries".to_owned());
                    }
                    report = json!({
                        "exists": true,
                        "id": w["id"],
                        "url": subscriber(w),
                        "active": active,
                        "missing_triggers": missing,
                        "secret_set": secret_set,
                        "version": w["version"],
                    });
                }
            }
            report["problems"] = json!(problems);
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &report)?;
                writeln!(out)?;
            } else if problems.is_empty() {
                writeln!(
                    out,
                    "ok: Cal.com webhook {} → {} is active, has every trigger and a secret",
                    report["id"],
                    report["url"].as_str().unwrap_or("")
                )?;
            } else {
                for p in &problems {
                    writeln!(out, "problem: {p}")?;
                }
            }
            Ok(if problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
