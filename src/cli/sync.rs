//! `calbook sync`: one reconciliation pass with Cal.com's API v2, from the command line.
//!
//! Exit codes: 0 done (or, with `--check`, no drift); 1 `--check` found drift; 2 the pass
//! failed (Cal.com unavailable, key refused, database); 3 another instance holds the sync lease.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use jiff::Timestamp;

use crate::config::{self, Settings};
use crate::sync::{Mode, Report, RunOutcome, Syncer};
use crate::webhook::Admission;

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Read bookings Cal.com changed after this time (RFC 3339) instead of from the watermark.
    #[arg(long)]
    pub since: Option<Timestamp>,
    /// Change nothing: read every booking (or those changed after --since) and list those where
    /// calbook and Cal.com disagree; exit 1 if any.
    #[arg(long)]
    pub check: bool,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// A [`Syncer`] from the settings, with the same email policy and admission rules as `serve`.
pub(crate) async fn syncer(settings: &Settings) -> anyhow::Result<Syncer> {
    anyhow::ensure!(
        settings.calcom.api_key.is_some(),
        "CALCOM_API_KEY is not set: create an API key in Cal.com (Settings → Developer → API keys) and set CALCOM_API_KEY or CALCOM_API_KEY_FILE"
    );
    let store = super::open(settings).await?;
    let (ownership, _) = config::ownership_key(settings)?;
    let admission = Admission {
        ownership: Some(ownership),
        max_attendees: settings.ingest.admission.max_attendees,
    };
    Syncer::new(
        store,
        &settings.calcom,
        Some(Arc::new(settings.email.policy.clone())),
        admission,
        None,
    )
    .context("CALCOM_API_URL")
}

pub async fn run(settings: &Settings, args: SyncArgs) -> anyhow::Result<ExitCode> {
    let mut syncer = syncer(settings).await?;
    if args.check {
        let last = syncer.store().sync_state().await?;
        return Ok(match syncer.pass(args.since, Mode::Check).await {
            Ok(report) => {
                print(&report, None, args.json, true)?;
                if let (Some(outcome), false) = (&last.last_outcome, args.json) {
                    println!(
                        "last sync: {outcome}{}",
                        last.last_error
                            .as_deref()
                            .map(|e| format!(" ({e})"))
                            .unwrap_or_default()
                    );
                }
                if report.drift.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err((report, e)) => {
                print(&report, Some(&e.to_string()), args.json, true)?;
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        });
    }
    Ok(match syncer.run(args.since, Mode::Apply).await {
        RunOutcome::Busy => {
            eprintln!("another calbook instance is syncing with Cal.com now; try again later");
            ExitCode::from(3)
        }
        RunOutcome::Done(report) => {
            print(&report, None, args.json, false)?;
            ExitCode::SUCCESS
        }
        RunOutcome::Failed(report, e) => {
            print(&report, Some(&e.to_string()), args.json, false)?;
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    })
}

fn print(report: &Report, error: Option<&str>, json: bool, check: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        let mut v = serde_json::to_value(report)?;
        v["check"] = check.into();
        v["error"] = error.into();
        serde_json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
        return Ok(());
    }
    if report.import && !check {
        writeln!(
            out,
            "first sync: importing every booking (reminders for future ones, no other emails)"
        )?;
    }
    writeln!(
        out,
        "fetched {} booking(s) in {} page(s): {} created, {} updated, {} unchanged, {} skipped; {} email(s) planned",
        report.fetched,
        report.pages,
        report.created,
        report.updated,
        report.unchanged,
        report.skipped,
        report.emails_planned
    )?;
    if check {
        if report.drift.is_empty() {
            writeln!(out, "no drift: calbook agrees with Cal.com")?;
        } else {
            writeln!(out, "{} disagreement(s):", report.drift.len())?;
            writeln!(out, "{:<40} {:<22} CAL.COM SAYS", "UID", "CALBOOK")?;
            for d in &report.drift {
                writeln!(
                    out,
                    "{:<40} {:<22} {}",
                    d.uid,
                    d.calbook.as_deref().unwrap_or("(missing)"),
                    d.calcom
                )?;
            }
        }
    }
    if let Some(w) = report.watermark {
        writeln!(out, "watermark {w}")?;
    }
    Ok(())
}
