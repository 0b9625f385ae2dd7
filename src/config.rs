//! Settings, and the life cycle of the webhook secret and the admin token.
//!
//! Every setting is a CLI flag and an environment variable (see `cli.rs` and the README's
//! table). With no `CALCOM_WEBHOOK_SECRET`, calbook generates a strong secret on first start and
//! keeps it in `<data dir>/webhook-secret` (mode 0600), so an unsigned request is never accepted.
//! The admin token (`CALBOOK_ADMIN_TOKEN`) works the same way, in `<data dir>/admin-token`.
//! Secret values never reach a log; only the file's path does.

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
            auth: crate::auth::AuthConfig::default(),
            store: StoreOptions::default(),
            ingest: IngestOptions::default(),
            email: Default::default(),
            run_outbox_worker: true,
            connection_limits: Default::default(),
            web: Default::default(),
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

pub fn ensure_data_dir(dir: &Path) -> Result<(), ConfigError> {
    std::fs::create_dir_all(dir).map_err(|source| ConfigError::DataDir {
        path: dir.to_owned(),
        source,
    })
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
