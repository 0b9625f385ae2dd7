//! Settings, and the life cycle of the webhook secret and the admin token.
//!
//! Every setting is a CLI flag and an environment variable, declared in [`args`] (and listed in
//! the README's table). With no `CALCOM_WEBHOOK_SECRET`, calbook generates a strong secret on first start and
//! keeps it in `<data dir>/webhook-secret` (mode 0600), so an unsigned request is never accepted.
//! The admin token (`CALBOOK_ADMIN_TOKEN`) works the same way, in `<data dir>/admin-token`, and so
//! does the key the booking page signs ownership proofs with (`CALBOOK_OWNERSHIP_KEY`,
//! `<data dir>/ownership-key`; several instances must share it). Every secret setting can also be
//! read from a file named by `<NAME>_FILE` ([`secret_from_file`]). The data directory is created
//! private (0700) and every file calbook creates is private too ([`restrict_file_modes`]).
//! Secret values never reach a log; only the file's path does.

pub mod args;

pub use args::{GlobalArgs, SECRETS, ServeArgs};

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::store::{Store, StoreOptions};
use crate::webhook::{IngestOptions, Secrets};

/// Everything `serve` needs; tests build it directly.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    /// `CALBOOK_METRICS_BIND`: a second listener serving `/metrics` without sign-in.
    pub metrics_bind: Option<SocketAddr>,
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; `None` is a SQLite file in the data directory.
    pub database_url: Option<String>,
    /// One secret, or several separated by commas while rotating.
    pub webhook_secret: Option<String>,
    /// `CALBOOK_ADMIN_TOKEN`: signs in to `/admin` (and, as a bearer token, to the API as an
    /// admin). `None` means the data directory's `admin-token`, generated on first start.
    pub admin_token: Option<String>,
    /// `CALBOOK_OWNERSHIP_KEY`: signs the booking page's ownership proofs. `None` means the data
    /// directory's `ownership-key`, generated on first start.
    pub ownership_key: Option<String>,
    /// Supabase sign-in for the bookings API: JWT secret and/or project URL (JWKS), issuer,
    /// audience. With neither secret nor URL, only the admin token signs in.
    pub auth: crate::auth::AuthConfig,
    pub store: StoreOptions,
    pub ingest: IngestOptions,
    /// Emails: transport, sender, templates, which emails, reminders.
    pub email: crate::outbox::setup::EmailSettings,
    /// Run the outbox worker in `serve` (tests drive it by hand when false).
    pub run_outbox_worker: bool,
    /// Header-read timeout and shutdown drain.
    pub connection_limits: crate::http::ConnectionLimits,
    /// The booking page's embed and the dashboard's display settings.
    pub web: crate::web::WebSettings,
    /// `CALBOOK_TRUSTED_PROXIES`: reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `CALCOM_API_KEY`, `CALCOM_API_URL`, `CALCOM_SYNC_INTERVAL`: the sync with Cal.com's API.
    pub calcom: crate::sync::SyncSettings,
    /// `CALBOOK_ALERT_EMAIL`: who is told (at most hourly per kind) when bookings or emails are
    /// being lost ([`crate::alert`]). `None`: alerts are only logged.
    pub alert_email: Option<String>,
}

impl Settings {
    /// Embedded defaults, with the data directory given.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Settings {
        Settings {
            bind: "127.0.0.1:8080".parse().expect("valid address"),
            metrics_bind: None,
            data_dir: data_dir.into(),
            database_url: None,
            webhook_secret: None,
            admin_token: None,
            ownership_key: None,
            auth: crate::auth::AuthConfig::default(),
            store: StoreOptions::default(),
            ingest: IngestOptions::default(),
            email: Default::default(),
            run_outbox_worker: true,
            connection_limits: Default::default(),
            web: Default::default(),
            trusted_proxies: Vec::new(),
            calcom: crate::sync::SyncSettings {
                api_url: crate::sync::DEFAULT_API_URL.to_owned(),
                interval: None,
                ..Default::default()
            },
            alert_email: None,
        }
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.trim().is_empty() => url.trim().to_owned(),
            _ => Store::default_url(&self.data_dir),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read or write the webhook secret file {path}: {source}")]
    SecretFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the webhook secret file {0} is empty; delete it to generate a new secret, or set CALCOM_WEBHOOK_SECRET"
    )]
    EmptySecretFile(PathBuf),
    #[error(
        "the admin token file {0} is empty; delete it to generate a new token, or set CALBOOK_ADMIN_TOKEN"
    )]
    EmptyAdminTokenFile(PathBuf),
    #[error("CALBOOK_ADMIN_TOKEN is too short: use at least {MIN_ADMIN_TOKEN_LEN} characters")]
    WeakAdminToken,
    #[error(
        "the ownership key file {0} is empty; delete it to generate a new key, or set CALBOOK_OWNERSHIP_KEY"
    )]
    EmptyOwnershipKeyFile(PathBuf),
    #[error("CALBOOK_OWNERSHIP_KEY is too short: use at least {MIN_ADMIN_TOKEN_LEN} characters")]
    WeakOwnershipKey,
    #[error("both {name} and {name}_FILE are set; set only one of them")]
    SecretTwice { name: &'static str },
    #[error("cannot read {name}_FILE ({path}): {source}")]
    SecretFileUnreadable {
        name: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{name}_FILE ({path}) is empty")]
    SecretFileEmpty { name: &'static str, path: PathBuf },
    #[error(
        "no webhook secret: CALCOM_WEBHOOK_SECRET is not set and there is no {0} (the data \
         directory is {1}, relative paths start in the working directory). `calbook serve` creates \
         the secret on its first start; point CALBOOK_DATA_DIR (or --data-dir) at the directory it \
         uses"
    )]
    NoSecret(PathBuf, PathBuf),
}

/// The shortest admin token accepted from the environment (a generated one has 64 characters).
pub const MIN_ADMIN_TOKEN_LEN: usize = 16;

/// Where the webhook secrets came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Environment,
    File(PathBuf),
    Generated(PathBuf),
}

pub fn secret_file(data_dir: &Path) -> PathBuf {
    data_dir.join("webhook-secret")
}

pub fn admin_token_file(data_dir: &Path) -> PathBuf {
    data_dir.join("admin-token")
}

pub fn ownership_key_file(data_dir: &Path) -> PathBuf {
    data_dir.join("ownership-key")
}

/// The configured ownership-proof key, or the data directory's, generating one there if there is
/// none.
pub fn ownership_key(
    settings: &Settings,
) -> Result<(crate::auth::ownership::OwnershipKey, SecretSource), ConfigError> {
    use crate::auth::ownership::OwnershipKey;
    if let Some(k) = settings
        .ownership_key
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty())
    {
        if k.len() < MIN_ADMIN_TOKEN_LEN {
            return Err(ConfigError::WeakOwnershipKey);
        }
        return Ok((OwnershipKey::from_secret(k), SecretSource::Environment));
    }
    let path = ownership_key_file(&settings.data_dir);
    match read_or_generate(&settings.data_dir, &path)? {
        (Some(text), source) => Ok((OwnershipKey::from_secret(&text), source)),
        (None, _) => Err(ConfigError::EmptyOwnershipKeyFile(path)),
    }
}

/// `value` (from the flag or `NAME`), or else the trimmed contents of the file that `NAME_FILE`
/// names (the Docker and systemd credentials convention). Both set is an error, so nobody wonders
/// which one is in force.
pub fn secret_from_file(
    name: &'static str,
    value: Option<String>,
    file: Option<&std::ffi::OsStr>,
) -> Result<Option<String>, ConfigError> {
    let Some(file) = file.filter(|f| !f.is_empty()) else {
        return Ok(value);
    };
    if value.as_deref().is_some_and(|v| !v.trim().is_empty()) {
        return Err(ConfigError::SecretTwice { name });
    }
    let path = PathBuf::from(file);
    let text =
        std::fs::read_to_string(&path).map_err(|source| ConfigError::SecretFileUnreadable {
            name,
            path: path.clone(),
            source,
        })?;
    let text = text.trim();
    if text.is_empty() {
        return Err(ConfigError::SecretFileEmpty { name, path });
    }
    Ok(Some(text.to_owned()))
}

/// Makes every file and directory this process creates private to its user (umask 077): the
/// database, its WAL, the mail folder and its `.eml` files, the secret files.
#[cfg(unix)]
pub fn restrict_file_modes() {
    use rustix::fs::Mode;
    rustix::process::umask(Mode::from_raw_mode(0o077));
}

#[cfg(not(unix))]
pub fn restrict_file_modes() {}

/// The configured admin token, or the data directory's, generating one there if there is none.
pub fn admin_token(settings: &Settings) -> Result<(String, SecretSource), ConfigError> {
    if let Some(t) = settings
        .admin_token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        if t.len() < MIN_ADMIN_TOKEN_LEN {
            return Err(ConfigError::WeakAdminToken);
        }
        return Ok((t.to_owned(), SecretSource::Environment));
    }
    let path = admin_token_file(&settings.data_dir);
    match read_or_generate(&settings.data_dir, &path)? {
        (Some(text), source) => Ok((text, source)),
        (None, _) => Err(ConfigError::EmptyAdminTokenFile(path)),
    }
}

/// The trimmed contents of a private file, creating it with a fresh secret when missing. `None`
/// when the file exists but is empty.
fn read_or_generate(
    data_dir: &Path,
    path: &Path,
) -> Result<(Option<String>, SecretSource), ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let text = text.trim();
            Ok((
                (!text.is_empty()).then(|| text.to_owned()),
                SecretSource::File(path.to_owned()),
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            ensure_data_dir(data_dir)?;
            let secret = generate_secret();
            write_private(path, &secret).map_err(|source| ConfigError::SecretFile {
                path: path.to_owned(),
                source,
            })?;
            Ok((Some(secret), SecretSource::Generated(path.to_owned())))
        }
        Err(source) => Err(ConfigError::SecretFile {
            path: path.to_owned(),
            source,
        }),
    }
}

/// The configured secrets, or the data directory's, generating one there if there is none.
pub fn webhook_secrets(settings: &Settings) -> Result<(Secrets, SecretSource), ConfigError> {
    if let Some(s) = settings
        .webhook_secret
        .as_deref()
        .and_then(Secrets::from_list)
    {
        return Ok((s, SecretSource::Environment));
    }
    let path = secret_file(&settings.data_dir);
    let (text, source) = read_or_generate(&settings.data_dir, &path)?;
    let secrets = text
        .as_deref()
        .and_then(Secrets::from_list)
        .ok_or(ConfigError::EmptySecretFile(path))?;
    Ok((secrets, source))
}

/// The configured secrets, or the data directory's; never generates one (for `calbook secret`,
/// which must print the secret `serve` verifies with, not start a second setup).
pub fn existing_webhook_secrets(settings: &Settings) -> Result<Secrets, ConfigError> {
    if let Some(s) = settings
        .webhook_secret
        .as_deref()
        .and_then(Secrets::from_list)
    {
        return Ok(s);
    }
    let path = secret_file(&settings.data_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => Secrets::from_list(text.trim()).ok_or(ConfigError::EmptySecretFile(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir = std::path::absolute(&settings.data_dir).unwrap_or(settings.data_dir.clone());
            Err(ConfigError::NoSecret(path, dir))
        }
        Err(source) => Err(ConfigError::SecretFile { path, source }),
    }
}

/// Creates the data directory (mode 0700) if it is missing. An existing one that others may read
/// is made private, with a log line saying so.
pub fn ensure_data_dir(dir: &Path) -> Result<(), ConfigError> {
    let err = |source| ConfigError::DataDir {
        path: dir.to_owned(),
        source,
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir).map_err(err)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & 0o700))
                .map_err(err)?;
            tracing::info!(path = %dir.display(), "made the data directory private (mode 0700)");
        }
    }
    Ok(())
}

/// 32 random bytes from the OS generator, hex-encoded (64 characters).
fn generate_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// Writes `text` to a new file readable only by its owner. Fails if the file exists.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_a_private_secret_once_and_reuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::with_data_dir(dir.path().join("data"));
        let (first, source) = webhook_secrets(&settings).unwrap();
        assert!(matches!(source, SecretSource::Generated(_)));
        let path = secret_file(&settings.data_dir);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, source) = webhook_secrets(&settings).unwrap();
        assert_eq!(source, SecretSource::File(path));
        assert_eq!(first.primary(), again.primary());
        assert_eq!(first.primary().len(), 64);
    }

    #[test]
    fn environment_wins_and_empty_means_unset() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::with_data_dir(dir.path());
        settings.webhook_secret = Some("a,b".into());
        let (s, source) = webhook_secrets(&settings).unwrap();
        assert_eq!((s.len(), source), (2, SecretSource::Environment));
        settings.webhook_secret = Some(" ".into());
        assert!(matches!(
            webhook_secrets(&settings).unwrap().1,
            SecretSource::Generated(_)
        ));
    }

    #[test]
    fn admin_token_is_generated_privately_and_a_weak_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::with_data_dir(dir.path());
        let (token, source) = admin_token(&settings).unwrap();
        assert!(matches!(source, SecretSource::Generated(_)));
        assert_eq!(token.len(), 64);
        assert_eq!(
            admin_token(&settings).unwrap().0,
            token,
            "kept across starts"
        );
        settings.admin_token = Some("short".into());
        assert!(matches!(
            admin_token(&settings),
            Err(ConfigError::WeakAdminToken)
        ));
        settings.admin_token = Some("a-long-enough-admin-token".into());
        assert_eq!(
            admin_token(&settings).unwrap(),
            (
                "a-long-enough-admin-token".into(),
                SecretSource::Environment
            )
        );
        std::fs::write(admin_token_file(dir.path()), "\n").unwrap();
        settings.admin_token = None;
        assert!(matches!(
            admin_token(&settings),
            Err(ConfigError::EmptyAdminTokenFile(_))
        ));
    }
}
