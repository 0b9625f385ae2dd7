//! The `calbook` command line. Every setting is a flag and an environment variable; secrets'
//! values are never shown in `--help`.

mod mail;
mod output;
mod trigger;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::booking::Status;
use crate::config::{self, Settings};
use crate::store::{BookingFilter, SqliteSync, Store, StoreOptions};
use crate::telemetry::{self, LogFormat};
use crate::webhook::IngestOptions;

#[derive(Debug, Parser)]
#[command(
    name = "calbook",
    version,
    about = "Dependable Cal.com bookings: signed webhook ingest, a booking store with audit history, and operator tools."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Directory for the SQLite database, the generated webhook secret and other state.
    #[arg(
        long,
        env = "CALBOOK_DATA_DIR",
        default_value = "./calbook-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://USER:PASS@HOST/DB`. Default: `<data dir>/calbook.db`.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,
    /// Cal.com webhook secret; several separated by commas while rotating. Default: generated
    /// once and kept in `<data dir>/webhook-secret`.
    #[arg(
        long = "webhook-secret",
        env = "CALCOM_WEBHOOK_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub webhook_secret: Option<String>,
    /// Admin token for `/admin` (and the API as an admin), at least 16 characters. Default:
    /// generated once and kept in `<data dir>/admin-token`.
    #[arg(
        long = "admin-token",
        env = "CALBOOK_ADMIN_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub admin_token: Option<String>,
    /// Key that signs the booking page's ownership proofs (at least 16 characters; several
    /// instances must share it). Default: generated once and kept in `<data dir>/ownership-key`.
    #[arg(
        long = "ownership-key",
        env = "CALBOOK_OWNERSHIP_KEY",
        hide_env_values = true,
        global = true
    )]
    pub ownership_key: Option<String>,
    /// Supabase project's JWT secret: accept its HS256 access tokens on the bookings API.
    #[arg(
        long = "supabase-jwt-secret",
        env = "SUPABASE_JWT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub supabase_jwt_secret: Option<String>,
    /// Supabase project URL (`https://<ref>.supabase.co`): accept its ES256/RS256 access tokens,
    /// verified with the keys published at `<url>/auth/v1/.well-known/jwks.json`.
    #[arg(long = "supabase-url", env = "SUPABASE_URL", global = true)]
    pub supabase_url: Option<String>,
    /// Issuer access tokens must carry. Default: <SUPABASE_URL>/auth/v1 (not checked without a URL).
    #[arg(
        long = "supabase-jwt-issuer",
        env = "SUPABASE_JWT_ISSUER",
        global = true
    )]
    pub supabase_jwt_issuer: Option<String>,
    /// Audience access tokens must carry.
    #[arg(
        long = "supabase-jwt-audience",
        env = "SUPABASE_JWT_AUDIENCE",
        default_value = "authenticated",
        global = true
    )]
    pub supabase_jwt_audience: String,
    /// Log format on stderr. The level is set with RUST_LOG (default info).
    #[arg(
        long,
        env = "CALBOOK_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
    /// SQLite durability: `full` (a webhook is answered only once its commit is fsynced) or
    /// `normal` (answered at commit; a power cut may lose the last second, a crash of calbook
    /// loses nothing).
    #[arg(
        long,
        env = "CALBOOK_SQLITE_SYNCHRONOUS",
        default_value = "full",
        global = true
    )]
    pub sqlite_synchronous: SqliteSync,
    /// How long a database write waits for a lock or a connection before giving up (503), in ms.
    #[arg(
        long,
        env = "CALBOOK_DB_TIMEOUT_MS",
        default_value_t = 5000,
        global = true
    )]
    pub db_timeout_ms: u64,
    /// PostgreSQL connection pool size.
    #[arg(
        long,
        env = "CALBOOK_DB_POOL_SIZE",
        default_value_t = 10,
        global = true
    )]
    pub db_pool_size: u32,
    /// The Cal.com event the booking page embeds, e.g. `acme/intro-call`. Unset: /book shows a
    /// setup notice.
    #[arg(long, env = "CALCOM_LINK", global = true)]
    pub calcom_link: Option<String>,
    /// Origin of the Cal.com app the embed loads (a self-hosted instance's origin works).
    #[arg(long, env = "CALCOM_EMBED_ORIGIN", global = true, default_value = crate::web::settings::DEFAULT_EMBED_ORIGIN)]
    pub calcom_embed_origin: String,
    /// URL of the embed script. Default `<origin>/embed/embed.js`.
    #[arg(long, env = "CALCOM_EMBED_SCRIPT_URL", global = true)]
    pub calcom_embed_script_url: Option<String>,
    /// The embed's calendar layout.
    #[arg(
        long,
        env = "CALCOM_EMBED_LAYOUT",
        value_enum,
        default_value = "month-view",
        global = true
    )]
    pub calcom_embed_layout: crate::web::EmbedLayout,
    /// The embed's theme.
    #[arg(
        long,
        env = "CALCOM_EMBED_THEME",
        value_enum,
        default_value = "auto",
        global = true
    )]
    pub calcom_embed_theme: crate::web::EmbedTheme,
    /// Brand colour of the embed, `#rrggbb`.
    #[arg(long, env = "CALCOM_BRAND_COLOR", global = true)]
    pub calcom_brand_color: Option<String>,
    /// Time zone the dashboard shows times and reads dates in (IANA name).
    #[arg(
        long,
        env = "CALBOOK_ADMIN_TIMEZONE",
        default_value = "UTC",
        global = true
    )]
    pub admin_timezone: String,
    /// Sender of every email, e.g. "Acme <bookings@acme.example>". Required with Resend or SMTP.
    #[arg(long, env = "EMAIL_FROM", global = true)]
    pub email_from: Option<String>,
    /// Optional Reply-To of every email.
    #[arg(long, env = "EMAIL_REPLY_TO", global = true)]
    pub email_reply_to: Option<String>,
    /// Resend API key: send through Resend's HTTP API.
    #[arg(long, env = "RESEND_API_KEY", hide_env_values = true, global = true)]
    pub resend_api_key: Option<String>,
    /// Resend API base URL (default `https://api.resend.com`).
    #[arg(long, env = "RESEND_BASE_URL", global = true)]
    pub resend_base_url: Option<String>,
    /// SMTP server: smtps://user:pass@host:465 (TLS), smtp://user:pass@host:587 (STARTTLS
    /// required), smtp://host:25?tls=none (plain, local relays only).
    #[arg(long, env = "SMTP_URL", hide_env_values = true, global = true)]
    pub smtp_url: Option<String>,
    /// Directory with template overrides (`<kind>.subject`, `<kind>.txt`, `<kind>.html`).
    #[arg(long, env = "CALBOOK_TEMPLATES_DIR", global = true)]
    pub templates_dir: Option<PathBuf>,
    /// Reminders before each meeting, e.g. "48h,24h,1h,15m"; empty disables them.
    #[arg(
        long,
        env = "REMINDER_OFFSETS",
        default_value = "24h,1h",
        global = true
    )]
    pub reminder_offsets: String,
    /// Which emails are sent: any of confirmation, rescheduled, cancelled, requested, declined, reminder.
    #[arg(
        long,
        env = "EMAIL_KINDS",
        default_value = "confirmation,rescheduled,cancelled,requested,declined,reminder",
        global = true
    )]
    pub email_kinds: String,
    /// Hosts (comma-separated; each covers its subdomains) whose meeting URLs are shown as links,
    /// besides Cal Video, Zoom, Google Meet, Teams and the Cal.com origin's host. Any other
    /// meeting URL is shown as text only.
    #[arg(
        long,
        env = "CALBOOK_ALLOWED_LINK_HOSTS",
        default_value = "",
        global = true
    )]
    pub allowed_link_hosts: String,
    /// Send the host (the organizer) a copy of every email.
    #[arg(long, env = "NOTIFY_HOST", global = true)]
    pub notify_host: bool,
    /// Most emails sent per second (default: no limit).
    #[arg(long, env = "EMAIL_RATE_PER_SECOND", global = true)]
    pub email_rate_per_second: Option<f64>,
    /// Attempts before an email is dead-lettered.
    #[arg(long, env = "EMAIL_MAX_ATTEMPTS", default_value_t = 8, global = true)]
    pub email_max_attempts: i64,
    /// Business name shown in emails (default: the organizer's name) and on the pages (default:
    /// calbook).
    #[arg(long, env = "CALBOOK_BUSINESS_NAME", global = true)]
    pub business_name: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (webhook receiver, health checks, metrics).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Print the webhook secret(s) to paste into Cal.com (generating one if there is none).
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
    /// Inspect and retry the email outbox.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Preview emails, or send a test email through the configured transport.
    #[command(subcommand)]
    Mail(MailCommand),
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

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CALBOOK_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// A second address serving only `/metrics` (without sign-in), `/healthz` and `/readyz`,
    /// e.g. `127.0.0.1:9090`; keep it private. Unset: `/metrics` needs the admin token.
    #[arg(long, env = "CALBOOK_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,
    /// Ingest writer tasks on PostgreSQL (SQLite always uses one). Default 2.
    #[arg(long, env = "CALBOOK_INGEST_WRITERS")]
    pub ingest_writers: Option<usize>,
    /// Most webhook deliveries committed in one transaction.
    #[arg(long, env = "CALBOOK_INGEST_MAX_BATCH", default_value_t = 256)]
    pub ingest_max_batch: usize,
    /// Most attendees one webhook delivery may name; a delivery with more is rejected (400).
    #[arg(long, env = "CALBOOK_MAX_ATTENDEES", default_value_t = crate::webhook::admit::DEFAULT_MAX_ATTENDEES as u16, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_attendees: u16,
    /// Reverse proxies (addresses or CIDR ranges, comma-separated) whose `X-Forwarded-For` names
    /// the client; used to count failed sign-ins per client. Default: none (the peer's address).
    #[arg(long, env = "CALBOOK_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// Seconds a client has to send a request's headers (slow or silent connections are closed).
    #[arg(long, env = "CALBOOK_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,
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
}

/// The secret settings: (argument id, environment variable). Each also reads `<NAME>_FILE`, and a
/// value given as a command-line flag is warned about (others can read it in `ps`).
const SECRETS: [(&str, &str); 7] = [
    ("database_url", "DATABASE_URL"),
    ("webhook_secret", "CALCOM_WEBHOOK_SECRET"),
    ("admin_token", "CALBOOK_ADMIN_TOKEN"),
    ("ownership_key", "CALBOOK_OWNERSHIP_KEY"),
    ("supabase_jwt_secret", "SUPABASE_JWT_SECRET"),
    ("resend_api_key", "RESEND_API_KEY"),
    ("smtp_url", "SMTP_URL"),
];

impl GlobalArgs {
    /// Fills the secrets that were not given from their `<NAME>_FILE` files.
    fn read_secret_files(&mut self) -> Result<(), config::ConfigError> {
        for (id, name) in SECRETS {
            let file = std::env::var_os(format!("{name}_FILE"));
            let slot = match id {
                "database_url" => &mut self.database_url,
                "webhook_secret" => &mut self.webhook_secret,
                "admin_token" => &mut self.admin_token,
                "ownership_key" => &mut self.ownership_key,
                "supabase_jwt_secret" => &mut self.supabase_jwt_secret,
                "resend_api_key" => &mut self.resend_api_key,
                "smtp_url" => &mut self.smtp_url,
                other => unreachable!("SECRETS names {other} without a field"),
            };
            *slot = config::secret_from_file(name, slot.take(), file.as_deref())?;
        }
        Ok(())
    }

    pub fn settings(&self) -> anyhow::Result<Settings> {
        let mut s = Settings::with_data_dir(&self.data_dir);
        s.database_url = self.database_url.clone();
        s.webhook_secret = self.webhook_secret.clone();
        s.admin_token = self.admin_token.clone();
        s.ownership_key = self.ownership_key.clone();
        s.web = crate::web::WebSettings {
            calcom_link: self.calcom_link.clone(),
            embed_origin: Some(self.calcom_embed_origin.clone()),
            embed_script_url: self.calcom_embed_script_url.clone(),
            layout: self.calcom_embed_layout,
            theme: self.calcom_embed_theme,
            brand_color: self.calcom_brand_color.clone(),
            business_name: self.business_name.clone(),
            admin_time_zone: Some(self.admin_timezone.clone()),
        };
        let nonempty = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        s.auth = crate::auth::AuthConfig {
            jwt_secret: nonempty(&self.supabase_jwt_secret),
            supabase_url: nonempty(&self.supabase_url),
            issuer: nonempty(&self.supabase_jwt_issuer),
            audience: self.supabase_jwt_audience.trim().to_owned(),
            ..crate::auth::AuthConfig::default()
        };
        s.store = StoreOptions {
            sqlite_busy_timeout: Duration::from_millis(self.db_timeout_ms),
            sqlite_synchronous: self.sqlite_synchronous,
            pg_max_connections: self.db_pool_size.max(1),
            acquire_timeout: Duration::from_millis(self.db_timeout_ms),
        };
        s.email = crate::outbox::setup::EmailSettings {
            from: self.email_from.clone(),
            reply_to: self.email_reply_to.clone(),
            resend_api_key: self.resend_api_key.clone(),
            resend_base_url: self.resend_base_url.clone(),
            smtp_url: self.smtp_url.clone(),
            templates_dir: self.templates_dir.clone(),
            policy: crate::outbox::plan::EmailPolicy {
                kinds: crate::outbox::plan::parse_kinds(&self.email_kinds)
                    .map_err(anyhow::Error::msg)?,
                reminder_offsets: crate::outbox::plan::parse_offsets(&self.reminder_offsets)
                    .map_err(anyhow::Error::msg)?,
                notify_host: self.notify_host,
            },
            rate_per_second: self.email_rate_per_second,
            max_attempts: Some(self.email_max_attempts),
            business_name: self.business_name.clone(),
            links: crate::booking::LinkPolicy::from_setting(
                &self.allowed_link_hosts,
                Some(&self.calcom_embed_origin),
            )
            .map_err(anyhow::Error::msg)?,
        };
        Ok(s)
    }
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
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A secret given as a flag is visible to every user of the machine (`ps`); say so, naming the
/// flag, never the value.
fn warn_about_secret_flags(matches: &clap::ArgMatches) {
    let mut level = Some(matches);
    while let Some(m) = level {
        for (id, name) in SECRETS {
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
    let mut settings = cli.global.settings()?;
    match cli.command {
        Command::Serve(args) => {
            settings.bind = args.bind;
            settings.metrics_bind = args.metrics_bind;
            settings.ingest = IngestOptions {
                writers: args.ingest_writers,
                max_batch: args.ingest_max_batch,
                ..IngestOptions::default()
            };
            settings.ingest.admission.max_attendees = usize::from(args.max_attendees);
            settings.trusted_proxies =
                crate::http::client_addr::parse_trusted_proxies(&args.trusted_proxies)
                    .map_err(anyhow::Error::msg)?;
            settings.connection_limits.header_read_timeout =
                Duration::from_secs(args.header_timeout_secs.max(1));
            let app = crate::app::App::build(&settings).await?;
            app.run(crate::app::shutdown_signal()).await?;
        }
        Command::Migrate => {
            config::ensure_data_dir(&settings.data_dir)?;
            let store = open(&settings).await?;
            println!("migrations applied ({:?})", store.backend());
        }
        Command::Secret => {
            let (secrets, source) = config::webhook_secrets(&settings)?;
            if let config::SecretSource::Generated(p) = &source {
                eprintln!("generated a new webhook secret in {}", p.display());
            }
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
        Command::Trigger(args) => return trigger::run(&settings, args).await,
        Command::Mail(MailCommand::Preview {
            kind,
            booking,
            host,
        }) => {
            return mail::preview(&settings, kind, &booking, host).await;
        }
        Command::Mail(MailCommand::Test { to }) => return mail::test(&settings, &to).await,
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

pub(crate) async fn open(settings: &Settings) -> anyhow::Result<Store> {
    Store::open(&settings.database_url(), &settings.store)
        .await
        .context("opening the database (DATABASE_URL)")
}
