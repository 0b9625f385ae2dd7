//! Commands for running calbook as a service: `healthcheck` (for container `HEALTHCHECK`s and
//! systemd) and `backup` (a consistent SQLite copy while the server runs).
//!
//! - `healthcheck` asks a running server's `/readyz` and exits 0 when it answers 200, 1 for
//!   anything else (another status, no answer within the timeout, nothing listening), saying which
//!   on stderr. It reads no database and creates nothing.
//! - `backup PATH` copies the SQLite database with `VACUUM INTO` over a read-only connection: one
//!   read transaction, so the copy is a consistent snapshot of everything committed when it
//!   started, taken while the server keeps writing (WAL readers never block the writer). It
//!   refuses an existing PATH, a missing database (it never creates one) and PostgreSQL (that is
//!   `pg_dump`'s job), then opens the copy and runs `PRAGMA quick_check` before saying how to
//!   restore it. The copy is made readable by its owner only: it holds personal data.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::config::Settings;

/// `calbook healthcheck`.
#[derive(Debug, clap::Args)]
pub struct HealthcheckArgs {
    /// The readiness URL to ask. Default: `/readyz` on `CALBOOK_BIND` (on 127.0.0.1 when it
    /// binds every address), else `http://127.0.0.1:8080/readyz`.
    #[arg(long, env = "CALBOOK_HEALTHCHECK_URL")]
    pub url: Option<String>,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 5)]
    pub timeout_secs: u64,
}

/// `calbook backup`.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The file to write: a new file (an existing one is never overwritten).
    pub path: PathBuf,
}

/// The readiness URL for a server bound to `bind` (`CALBOOK_BIND`'s syntax).
pub fn readyz_url(bind: Option<&str>) -> String {
    let addr = bind
        .and_then(|b| SocketAddr::from_str(b.trim()).ok())
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}/readyz", SocketAddr::new(ip, addr.port()))
}

pub async fn healthcheck(args: &HealthcheckArgs) -> ExitCode {
    let url = args
        .url
        .clone()
        .unwrap_or_else(|| readyz_url(std::env::var("CALBOOK_BIND").ok().as_deref()));
    let client = match reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(args.timeout_secs.max(1)))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("unhealthy: cannot make an HTTP client: {e}");
            return ExitCode::FAILURE;
        }
    };
    match client.get(&url).send().await {
        Ok(r) if r.status() == reqwest::StatusCode::OK => {
            println!("ready: {url}");
            ExitCode::SUCCESS
        }
        Ok(r) => {
            eprintln!("unhealthy: {url} answered {}", r.status());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unhealthy: no answer from {url}: {}", without_url(&e));
            ExitCode::FAILURE
        }
    }
}

/// reqwest's error text without the URL it repeats (already in our own message).
fn without_url(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut out = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        out.push(s.to_string());
        source = s.source();
    }
    if out.is_empty() {
        e.to_string()
    } else {
        out.join(": ")
    }
}

pub async fn backup(settings: &Settings, args: &BackupArgs) -> anyhow::Result<ExitCode> {
    let url = settings.database_url();
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        eprintln!(
            "error: `calbook backup` copies a SQLite database; this one is PostgreSQL. Back it up \
             with PostgreSQL's own tool, e.g.\n  pg_dump --format=custom --file=calbook.dump \"$DATABASE_URL\"\n\
             and restore with `pg_restore --clean --dbname=\"$DATABASE_URL\" calbook.dump` \
             (see the README's Backups section)."
        );
        return Ok(ExitCode::from(2));
    }
    let options = SqliteConnectOptions::from_str(&url)
        .with_context(|| "DATABASE_URL is not a sqlite:// or postgres:// URL")?
        .read_only(true)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(10));
    let db = options.get_filename().to_owned();
    if !db.is_file() {
        bail!(
            "no SQLite database at {}: point DATABASE_URL (or CALBOOK_DATA_DIR) at the one \
             `calbook serve` uses",
            db.display()
        );
    }
    let target = &args.path;
    if target.exists() {
        bail!(
            "{} already exists: backup writes a new file; remove it or choose another name",
            target.display()
        );
    }
    let Some(target_str) = target.to_str() else {
        bail!("{} is not a UTF-8 path", target.display());
    };
    let mut conn = options
        .connect()
        .await
        .with_context(|| format!("opening {}", db.display()))?;
    sqlx::query("VACUUM INTO ?")
        .bind(target_str)
        .execute(&mut conn)
        .await
        .with_context(|| format!("copying {} into {}", db.display(), target.display()))?;
    conn.close().await.ok();
    restrict_to_owner(target)?;
    let bookings = check_copy(target).await?;
    let bytes = std::fs::metadata(target).map(|m| m.len()).unwrap_or(0);
    println!(
        "backup written to {} ({bookings} bookings, {bytes} bytes; PRAGMA quick_check: ok)",
        target.display()
    );
    println!(
        "to restore: stop calbook, then\n  cp {copy} {db}\n  rm -f {db}-wal {db}-shm\n\
         and start calbook again (it opens the copy as it is; migrations newer than the copy \
         run at start)",
        copy = target.display(),
        db = db.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Opens the copy read-only: it must pass `PRAGMA quick_check`; returns its booking count.
async fn check_copy(path: &Path) -> anyhow::Result<i64> {
    let mut c = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await
        .with_context(|| format!("opening the copy {}", path.display()))?;
    let check: String = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_one(&mut c)
        .await?;
    if check != "ok" {
        bail!(
            "the copy {} fails PRAGMA quick_check: {check}",
            path.display()
        );
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM bookings")
        .fetch_one(&mut c)
        .await?;
    c.close().await.ok();
    Ok(n)
}

#[cfg(unix)]
fn restrict_to_owner(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("making {} private", path.display()))
}

#[cfg(not(unix))]
fn restrict_to_owner(_: &Path) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::readyz_url;

    #[test]
    fn the_default_url_follows_the_bind_address() {
        assert_eq!(readyz_url(None), "http://127.0.0.1:8080/readyz");
        assert_eq!(
            readyz_url(Some("0.0.0.0:9000")),
            "http://127.0.0.1:9000/readyz"
        );
        assert_eq!(readyz_url(Some("[::]:8080")), "http://[::1]:8080/readyz");
        assert_eq!(
            readyz_url(Some("10.0.0.5:8080")),
            "http://10.0.0.5:8080/readyz"
        );
        assert_eq!(readyz_url(Some("nonsense")), "http://127.0.0.1:8080/readyz");
    }
}
