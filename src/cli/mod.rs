//! The `calbook` command line: the commands, and their dispatch. The settings (every one a flag
//! and an environment variable) are declared in [`crate::config::args`] and flattened in here.

mod check;
mod deliveries;
mod mail;
mod ops;
mod output;
mod sync;
mod trigger;
mod webhook;

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::booking::Status;
use crate::config::{self, GlobalArgs, ServeArgs, Settings};
use crate::store::{BookingFilter, Store};
use crate::telemetry;

#[derive(Debug, Parser)]
#[command(
    name = "calbook",
    version = crate::VERSION,
    about = "Dependable Cal.com bookings: signed webhook ingest, a booking store with audit history, and operator tools."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (webhook receiver, health checks, metrics).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Print the webhook secret(s) to paste into Cal.com (`serve` generates one on first start;
    /// this never does).
    Secret,
    /// Print the admin token that signs in to /admin (generating one if there is none).
    AdminToken,
    /// Inspect bookings.
    #[command(subcommand)]
    Bookings(BookingsCommand),
    /// Inspect webhook deliveries.
    #[command(subcommand)]
    Deliveries(DeliveriesCommand),
    /// Send a realistic signed Cal.com delivery to a URL, to test a setup.
    Trigger(trigger::TriggerArgs),
    /// Ask a running server's /readyz: exit 0 when ready, 1 otherwise (for container
    /// HEALTHCHECKs and systemd).
    Healthcheck(ops::HealthcheckArgs),
    /// Write a consistent copy of the SQLite database to PATH while calbook serves, and say how
    /// to restore it (PostgreSQL: use pg_dump).
    Backup(ops::BackupArgs),
    /// Inspect and retry the email outbox.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Preview emails, or send a test email through the configured transport.
    #[command(subcommand)]
    Mail(MailCommand),
    /// Reconcile with Cal.com's API v2 once (the first sync imports every booking).
    Sync(sync::SyncArgs),
    /// Register or check the Cal.com webhook subscription through API v2.
    #[command(subcommand)]
    Webhook(webhook::WebhookCommand),
    /// Check the whole configuration (secret, database, mail transport, Cal.com API key) and
    /// print a table; exit 1 if anything fails.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Render an email for a stored booking (subject, text and HTML) without sending it.
    Preview {
        /// confirmation, rescheduled, cancelled, requested, declined or reminder.
        kind: crate::mail::render::EmailKind,
        /// The booking's Cal.com uid.
        #[arg(long)]
        booking: String,
        /// Render the organizer's copy instead of the attendee's.
        #[arg(long)]
        host: bool,
    },
    /// Send one test email to TO through the configured transport and report the result.
    Test {
        /// Recipient address.
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List emails, most recently changed first, with their state, attempts and last error.
    List {
        /// Only this state (pending, sending, sent, skipped, dead).
        #[arg(long)]
        state: Option<crate::outbox::JobState>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Put a dead email back in the queue (same idempotency key, fresh attempts).
    Retry {
        /// The email's id (see `outbox list`).
        #[arg(required_unless_present = "all_dead", conflicts_with = "all_dead")]
        id: Option<uuid::Uuid>,
        /// Every dead email.
        #[arg(long)]
        all_dead: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BookingsCommand {
    /// List bookings, newest start first.
    List {
        /// Only this status (pending, confirmed, rejected, cancelled, rescheduled, reschedule_requested).
        #[arg(long)]
        status: Option<Status>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// JSON output (one array).
        #[arg(long)]
        json: bool,
    },
    /// Write bookings to standard output as CSV (RFC 4180; every matching booking, earliest
    /// start first; local times in CALBOOK_ADMIN_TIMEZONE).
    Export {
        /// CSV output (the only format; required so a later format can be added).
        #[arg(long, required = true)]
        csv: bool,
        /// Only this status; without it, every status.
        #[arg(long)]
        status: Option<Status>,
        /// Only live bookings (confirmed, pending, awaiting payment, reschedule requested).
        #[arg(long, conflicts_with = "status")]
        live: bool,
        /// Only bookings whose title, attendee name or email, or notes contain this text.
        #[arg(long)]
        search: Option<String>,
    },
    /// Show one booking (by Cal.com uid) with its history.
    Show {
        uid: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeliveriesCommand {
    /// List recent webhook deliveries, newest first.
    List {
        /// Only this outcome (applied, duplicate, ignored, rejected).
        #[arg(long)]
        outcome: Option<crate::store::Outcome>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Print a stored delivery: the headers calbook kept, its outcome and its body.
    Show {
        id: uuid::Uuid,
        #[arg(long)]
        json: bool,
    },
    /// Re-apply stored bodies through today's rules (as new deliveries; idempotent).
    Replay {
        /// The deliveries' ids (see `deliveries list --json`).
        #[arg(required_unless_present = "outcome")]
        ids: Vec<uuid::Uuid>,
        /// Every delivery with this outcome (e.g. rejected), oldest first.
        #[arg(long)]
        outcome: Option<crate::store::Outcome>,
        /// With --outcome: only deliveries received at or after this time (RFC 3339).
        #[arg(long, requires = "outcome")]
        since: Option<jiff::Timestamp>,
        #[arg(long)]
        json: bool,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    use clap::{CommandFactory as _, FromArgMatches as _};
    let matches = Cli::command().get_matches();
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    telemetry::init_logging(cli.global.log_format);
    warn_about_secret_flags(&matches);
    if let Err(e) = cli.global.read_secret_files() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", once(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes, each said once: a cause whose text its parent already contains
/// (`Permission denied (os error 13): Permission denied (os error 13)`, a migration error repeated
/// by every layer that wraps it) is left out.
pub fn once(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// A secret given as a flag is visible to every user of the machine (`ps`); say so, naming the
/// flag, never the value.
fn warn_about_secret_flags(matches: &clap::ArgMatches) {
    let mut level = Some(matches);
    while let Some(m) = level {
        for (id, name) in config::SECRETS {
            if m.try_contains_id(id).unwrap_or(false)
                && m.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
            {
                tracing::warn!(
                    flag = %format!("--{}", id.replace('_', "-")),
                    "a secret was given as a command-line flag, which other users can read in `ps`; use {name} or {name}_FILE instead"
                );
            }
        }
        level = m.subcommand().map(|(_, sub)| sub);
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Asks a server over HTTP only: no settings, no database, no data dir.
    if let Command::Healthcheck(args) = &cli.command {
        return Ok(ops::healthcheck(args).await);
    }
    let mut settings = cli.global.settings()?;
    match cli.command {
        Command::Serve(args) => {
            args.apply(&mut settings)?;
            let app = crate::app::App::build(&settings).await?;
            app.run(crate::app::shutdown_signal()).await?;
        }
        Command::Migrate => {
            config::ensure_data_dir(&settings.data_dir)?;
            let store = Store::open(&settings.database_url(), &settings.store)
                .await
                .context("opening the database (DATABASE_URL)")?;
            println!("migrations applied ({:?})", store.backend());
        }
        Command::Secret => {
            // Never generates: a new secret here would not be the one `serve` verifies with.
            let secrets = config::existing_webhook_secrets(&settings)?;
            for s in secrets.all() {
                println!("{s}");
            }
        }
        Command::AdminToken => {
            let (token, source) = config::admin_token(&settings)?;
            if let config::SecretSource::Generated(p) = &source {
                eprintln!("generated a new admin token in {}", p.display());
            }
            println!("{token}");
        }
        Command::Bookings(BookingsCommand::List {
            status,
            limit,
            json,
        }) => {
            let store = open(&settings).await?;
            let list = store
                .bookings(&BookingFilter {
                    status,
                    limit,
                    ..Default::default()
                })
                .await?;
            output::bookings(&list, json)?;
        }
        Command::Bookings(BookingsCommand::Export {
            csv: _,
            status,
            live,
            search,
        }) => {
            let store = open(&settings).await?;
            let filter = BookingFilter {
                status,
                live,
                search,
                order: crate::store::SortOrder::Ascending,
                ..Default::default()
            };
            let out = std::io::stdout().lock();
            let zone = settings.web.validate()?.admin_zone;
            crate::store::export::bookings_csv(&store, &filter, &zone, out).await?;
        }
        Command::Bookings(BookingsCommand::Show { uid, json }) => {
            let store = open(&settings).await?;
            let Some(booking) = store.booking(&uid).await? else {
                eprintln!("error: no booking with uid {uid:?}");
                return Ok(ExitCode::from(2));
            };
            let history = store.history(booking.id).await?;
            output::booking(&booking, &history, json)?;
        }
        Command::Deliveries(DeliveriesCommand::List {
            outcome,
            limit,
            json,
        }) => {
            let store = open(&settings).await?;
            output::deliveries(&store.deliveries_with_outcome(outcome, limit).await?, json)?;
        }
        Command::Deliveries(DeliveriesCommand::Show { id, json }) => {
            return deliveries::show(&open(&settings).await?, id, json).await;
        }
        Command::Deliveries(DeliveriesCommand::Replay {
            ids,
            outcome,
            since,
            json,
        }) => {
            let selection = deliveries::Selection {
                ids,
                outcome,
                since,
            };
            return deliveries::replay(&settings, selection, json).await;
        }
        Command::Trigger(args) => return trigger::run(&settings, args).await,
        Command::Sync(args) => return sync::run(&settings, args).await,
        Command::Webhook(cmd) => return webhook::run(&settings, cmd).await,
        Command::Check => return check::run(&settings).await,
        Command::Mail(MailCommand::Preview {
            kind,
            booking,
            host,
        }) => {
            return mail::preview(&settings, kind, &booking, host).await;
        }
        Command::Mail(MailCommand::Test { to }) => return mail::test(&settings, &to).await,
        Command::Healthcheck(_) => unreachable!("answered before the settings are read"),
        Command::Backup(args) => return ops::backup(&settings, &args).await,
        Command::Outbox(OutboxCommand::List { state, limit, json }) => {
            let store = open(&settings).await?;
            output::outbox(&store.outbox(state, limit).await?, json)?;
        }
        Command::Outbox(OutboxCommand::Retry { id, all_dead }) => {
            let store = open(&settings).await?;
            let n = store
                .retry_dead_outbox(if all_dead { None } else { id }, crate::time::now())
                .await?;
            if n == 0 {
                eprintln!(
                    "error: {}",
                    match id {
                        Some(id) if !all_dead => format!("no dead email with id {id}"),
                        _ => "no dead emails".to_owned(),
                    }
                );
                return Ok(ExitCode::from(2));
            }
            println!("{n} email(s) queued again");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Opens the database for a command that reads or changes what `serve` stored: it never creates
/// a data directory or a database (see [`Store::open_existing`]).
pub(crate) async fn open(settings: &Settings) -> anyhow::Result<Store> {
    Store::open_existing(&settings.database_url(), &settings.store)
        .await
        .context("opening the database (DATABASE_URL)")
}
