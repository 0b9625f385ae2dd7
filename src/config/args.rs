//! The settings as command-line flags and environment variables, in sections that the
//! commands flatten ([`GlobalArgs`] for every command, [`ServeArgs`] for `serve`), each with the
//! mapping into [`Settings`] next to its flags: adding a setting is one flag and one line here
//! (and a field where the setting is used). Secrets' values are never shown in `--help`; each
//! secret also reads `<NAME>_FILE` ([`SECRETS`], [`GlobalArgs::read_secret_files`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{ConfigError, Settings};
use crate::store::{SqliteSync, StoreOptions};
use crate::telemetry::LogFormat;
use crate::webhook::IngestOptions;

/// The settings every command reads, flattened into the command line as global flags.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub secrets: SecretArgs,
    #[command(flatten)]
    pub supabase: SupabaseArgs,
    /// Log format on stderr. The level is set with RUST_LOG (default info).
    #[arg(
        long,
        env = "CALBOOK_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub page: PageArgs,
    #[command(flatten)]
    pub email: EmailArgs,
    #[command(flatten)]
    pub calcom_api: CalcomApiArgs,
    /// Business name shown in emails (default: the organizer's name) and on the pages (default:
    /// calbook).
    #[arg(long, env = "CALBOOK_BUSINESS_NAME", global = true)]
    pub business_name: Option<String>,
}

/// Where calbook keeps its state.
#[derive(Debug, Args)]
pub struct DatabaseArgs {
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
}

/// The secrets calbook generates when they are not given.
#[derive(Debug, Args)]
pub struct SecretArgs {
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
}

/// Supabase sign-in for the bookings API.
#[derive(Debug, Args)]
pub struct SupabaseArgs {
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
}

/// Database durability, timeouts and pool.
#[derive(Debug, Args)]
pub struct StoreArgs {
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
    /// SQLite: the WAL size in MiB at which the ingest writer starts the log again from its start
    /// (truncating it only if that fails), so it stays bounded under sustained load. 0: never
    /// (under Litestream, which manages the WAL).
    #[arg(
        long,
        env = "CALBOOK_WAL_TRUNCATE_MIB",
        default_value_t = 16,
        global = true
    )]
    pub wal_truncate_mib: u64,
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
}

/// The booking page's Cal.com embed and the dashboard's time zone.
#[derive(Debug, Args)]
pub struct PageArgs {
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
}

/// Emails: sender, transport, templates, which emails, reminders, rate.
#[derive(Debug, Args)]
pub struct EmailArgs {
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
    /// calbook's public URL, e.g. `https://book.acme.example`: cancellation and declined emails
    /// link to `<it>/book` ("Book again"). Unset: no such link.
    #[arg(long, env = "CALBOOK_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Logo shown at the top of the emails (an `https` URL).
    #[arg(long, env = "CALBOOK_LOGO_URL", global = true)]
    pub logo_url: Option<String>,
    /// A line at the bottom of every email (address, legal).
    #[arg(long, env = "CALBOOK_EMAIL_FOOTER", global = true)]
    pub email_footer: Option<String>,
    /// Reminders before each meeting, e.g. "48h,24h,1h,15m"; empty disables them.
    #[arg(
        long,
        env = "REMINDER_OFFSETS",
        default_value = "24h,1h",
        global = true
    )]
    pub reminder_offsets: String,
    /// Which emails are sent: any of confirmation, rescheduled, cancelled, requested, declined, reminder, updated, reschedule_requested.
    #[arg(
        long,
        env = "EMAIL_KINDS",
        default_value = "confirmation,rescheduled,cancelled,requested,declined,reminder,updated,reschedule_requested",
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
}

/// Cal.com's API v2: the sync, and `calbook webhook`.
#[derive(Debug, Args)]
pub struct CalcomApiArgs {
    /// Cal.com API v2 key (`cal_…`): with it, `serve` reconciles with Cal.com on
    /// CALCOM_SYNC_INTERVAL and `calbook sync` works.
    #[arg(
        long = "calcom-api-key",
        env = "CALCOM_API_KEY",
        hide_env_values = true,
        global = true
    )]
    pub calcom_api_key: Option<String>,
    /// Cal.com API v2 origin (a self-hosted Cal.com's API v2 origin works).
    #[arg(long, env = "CALCOM_API_URL", default_value = crate::sync::DEFAULT_API_URL, global = true)]
    pub calcom_api_url: String,
    /// How often `serve` syncs with Cal.com: a number with s, m or h; 0 disables.
    #[arg(
        long,
        env = "CALCOM_SYNC_INTERVAL",
        default_value = "5m",
        global = true
    )]
    pub calcom_sync_interval: String,
}

impl CalcomApiArgs {
    fn sync_settings(&self) -> anyhow::Result<crate::sync::SyncSettings> {
        Ok(crate::sync::SyncSettings {
            api_key: nonempty(&self.calcom_api_key),
            api_url: self.calcom_api_url.trim().to_owned(),
            interval: crate::sync::parse_interval(&self.calcom_sync_interval)
                .map_err(anyhow::Error::msg)?,
            options: Default::default(),
        })
    }
}

/// The settings of `calbook serve`.
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
    /// Who gets an alert email (at most one per kind an hour) when webhooks are refused for
    /// their signature, emails go dead or the database refuses writes.
    #[arg(long, env = "CALBOOK_ALERT_EMAIL")]
    pub alert_email: Option<String>,
}

/// The secret settings: (argument id, environment variable). Each also reads `<NAME>_FILE`, and a
/// value given as a command-line flag is warned about (others can read it in `ps`).
pub const SECRETS: [(&str, &str); 8] = [
    ("database_url", "DATABASE_URL"),
    ("webhook_secret", "CALCOM_WEBHOOK_SECRET"),
    ("admin_token", "CALBOOK_ADMIN_TOKEN"),
    ("ownership_key", "CALBOOK_OWNERSHIP_KEY"),
    ("supabase_jwt_secret", "SUPABASE_JWT_SECRET"),
    ("resend_api_key", "RESEND_API_KEY"),
    ("smtp_url", "SMTP_URL"),
    ("calcom_api_key", "CALCOM_API_KEY"),
];

impl GlobalArgs {
    /// Fills the secrets that were not given from their `<NAME>_FILE` files.
    pub fn read_secret_files(&mut self) -> Result<(), ConfigError> {
        for (id, name) in SECRETS {
            let file = std::env::var_os(format!("{name}_FILE"));
            let slot = match id {
                "database_url" => &mut self.database.database_url,
                "webhook_secret" => &mut self.secrets.webhook_secret,
                "admin_token" => &mut self.secrets.admin_token,
                "ownership_key" => &mut self.secrets.ownership_key,
                "supabase_jwt_secret" => &mut self.supabase.supabase_jwt_secret,
                "resend_api_key" => &mut self.email.resend_api_key,
                "smtp_url" => &mut self.email.smtp_url,
                "calcom_api_key" => &mut self.calcom_api.calcom_api_key,
                other => unreachable!("SECRETS names {other} without a field"),
            };
            *slot = super::secret_from_file(name, slot.take(), file.as_deref())?;
        }
        Ok(())
    }

    /// The settings these flags describe (with the embedded defaults for the rest).
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let mut s = Settings::with_data_dir(&self.database.data_dir);
        s.database_url = self.database.database_url.clone();
        s.webhook_secret = self.secrets.webhook_secret.clone();
        s.admin_token = self.secrets.admin_token.clone();
        s.ownership_key = self.secrets.ownership_key.clone();
        s.auth = self.supabase.auth_config();
        s.store = self.store.options();
        s.web = self.page.web_settings(&self.business_name);
        s.email = self.email.email_settings(&self.business_name, &self.page)?;
        s.calcom = self.calcom_api.sync_settings()?;
        Ok(s)
    }
}

/// A set, non-blank value, trimmed.
fn nonempty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

impl SupabaseArgs {
    fn auth_config(&self) -> crate::auth::AuthConfig {
        crate::auth::AuthConfig {
            jwt_secret: nonempty(&self.supabase_jwt_secret),
            supabase_url: nonempty(&self.supabase_url),
            issuer: nonempty(&self.supabase_jwt_issuer),
            audience: self.supabase_jwt_audience.trim().to_owned(),
            ..crate::auth::AuthConfig::default()
        }
    }
}

impl StoreArgs {
    fn options(&self) -> StoreOptions {
        StoreOptions {
            sqlite_busy_timeout: Duration::from_millis(self.db_timeout_ms),
            sqlite_synchronous: self.sqlite_synchronous,
            pg_max_connections: self.db_pool_size.max(1),
            acquire_timeout: Duration::from_millis(self.db_timeout_ms),
            sqlite_wal_truncate_bytes: (self.wal_truncate_mib > 0)
                .then(|| self.wal_truncate_mib.saturating_mul(1024 * 1024)),
            ..StoreOptions::default()
        }
    }
}

impl PageArgs {
    fn web_settings(&self, business_name: &Option<String>) -> crate::web::WebSettings {
        crate::web::WebSettings {
            calcom_link: self.calcom_link.clone(),
            embed_origin: Some(self.calcom_embed_origin.clone()),
            embed_script_url: self.calcom_embed_script_url.clone(),
            layout: self.calcom_embed_layout,
            theme: self.calcom_embed_theme,
            brand_color: self.calcom_brand_color.clone(),
            business_name: business_name.clone(),
            admin_time_zone: Some(self.admin_timezone.clone()),
        }
    }
}

impl EmailArgs {
    /// The email settings; `embed_origin`'s host is among the meeting hosts shown as links.
    fn email_settings(
        &self,
        business_name: &Option<String>,
        page: &PageArgs,
    ) -> anyhow::Result<crate::outbox::setup::EmailSettings> {
        use crate::outbox::plan;
        let embed_origin = page.calcom_embed_origin.as_str();
        Ok(crate::outbox::setup::EmailSettings {
            from: self.email_from.clone(),
            reply_to: self.email_reply_to.clone(),
            resend_api_key: self.resend_api_key.clone(),
            resend_base_url: self.resend_base_url.clone(),
            smtp_url: self.smtp_url.clone(),
            templates_dir: self.templates_dir.clone(),
            brand: crate::mail::render::Brand {
                logo_url: nonempty(&self.logo_url),
                color: nonempty(&page.calcom_brand_color),
                footer: nonempty(&self.email_footer),
            },
            site: crate::mail::render::SiteLinks {
                booker_origin: Some(embed_origin.to_owned()),
                public_url: nonempty(&self.public_url),
            },
            policy: plan::EmailPolicy {
                kinds: plan::parse_kinds(&self.email_kinds).map_err(anyhow::Error::msg)?,
                reminder_offsets: plan::parse_offsets(&self.reminder_offsets)
                    .map_err(anyhow::Error::msg)?,
                notify_host: self.notify_host,
            },
            rate_per_second: self.email_rate_per_second,
            max_attempts: Some(self.email_max_attempts),
            business_name: business_name.clone(),
            links: crate::booking::LinkPolicy::from_setting(
                &self.allowed_link_hosts,
                Some(embed_origin),
            )
            .map_err(anyhow::Error::msg)?,
        })
    }
}

impl ServeArgs {
    /// Puts `serve`'s settings into `s`.
    pub fn apply(&self, s: &mut Settings) -> anyhow::Result<()> {
        s.bind = self.bind;
        s.metrics_bind = self.metrics_bind;
        s.ingest = IngestOptions {
            writers: self.ingest_writers,
            max_batch: self.ingest_max_batch,
            ..IngestOptions::default()
        };
        s.ingest.admission.max_attendees = usize::from(self.max_attendees);
        s.alert_email = self.alert_email.clone().filter(|a| !a.trim().is_empty());
        s.trusted_proxies = crate::http::client_addr::parse_trusted_proxies(&self.trusted_proxies)
            .map_err(anyhow::Error::msg)?;
        s.connection_limits.header_read_timeout =
            Duration::from_secs(self.header_timeout_secs.max(1));
        Ok(())
    }
}
