//! The file mailer: writes each email as an `.eml` file (for development and for deployments
//! without a mail provider).

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::TransportConfigError;
use super::mime::{idempotency_key, mime_message};
use crate::mail::{Email, SendError, Sent};

/// Longest readable prefix kept in a file name.
const PREFIX_CHARS: usize = 48;

/// Writes `<dir>/<prefix>-<sha256 of the key>.eml`, where `<prefix>` is the idempotency key
/// without its last segment (the recipient's address: file names end up in logs and directory
/// listings), with everything but ASCII letters, digits, `-` and `_` replaced by `_` (so
/// `booking/u1/confirmation/ann@example.com` gives `booking_u1_confirmation-3f2a….eml`).
///
/// Idempotent: if the file for a key exists, nothing is written and the send succeeds. The file
/// is written to a temporary name, synced, then linked into place (never half-written, and two
/// concurrent sends of one key leave one file). `Sent::provider_id` is the file name.
#[derive(Debug, Clone)]
pub struct FileMailer {
    dir: PathBuf,
}

impl FileMailer {
    /// Creates `dir` (and its parents) if needed.
    pub fn new(dir: PathBuf) -> Result<Self, TransportConfigError> {
        std::fs::create_dir_all(&dir).map_err(|source| TransportConfigError::MailDir {
            path: dir.clone(),
            source,
        })?;
        Ok(FileMailer { dir })
    }

    /// The directory the files go to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub async fn send(&self, email: &Email) -> Result<Sent, SendError> {
        let name = file_name(&email.idempotency_key)?;
        let path = self.dir.join(&name);
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            tracing::debug!(file = %name, "email already written");
            return Ok(Sent {
                provider_id: Some(name),
            });
        }
        let bytes = mime_message(email)?.formatted();
        let dir = self.dir.clone();
        let target = path.clone();
        let written = tokio::task::spawn_blocking(move || write_once(&dir, &target, &bytes))
            .await
            .map_err(|e| SendError::Retryable {
                reason: format!("writing the email file panicked or was cancelled: {e}"),
                retry_after: None,
            })?;
        match written {
            Ok(created) => {
                tracing::info!(file = %name, created, "email written to file");
                Ok(Sent {
                    provider_id: Some(name),
                })
            }
            Err(e) => Err(SendError::Retryable {
                reason: format!("cannot write {}: {e}", path.display()),
                retry_after: None,
            }),
        }
    }
}

/// `<sanitized prefix>-<hex sha256>.eml`.
fn file_name(key: &str) -> Result<String, SendError> {
    let key = idempotency_key(key)?;
    let readable = key.rsplit_once('/').map_or("", |(head, _)| head);
    let prefix: String = readable
        .chars()
        .take(PREFIX_CHARS)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(format!(
        "{prefix}-{}.eml",
        hex::encode(Sha256::digest(key.as_bytes()))
    ))
}

/// Writes `bytes` to `target` unless it exists; `Ok(true)` if this call created it.
fn write_once(dir: &Path, target: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".tmp-{}.eml", uuid::Uuid::new_v4()));
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        // Emails are personal data: readable by calbook's user only, whatever the umask.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        // hard_link fails if the target exists, so a concurrent writer never gets replaced.
        match std::fs::hard_link(&tmp, target) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            // File systems without hard links: rename (atomic, replaces an identical file).
            Err(_) => std::fs::rename(&tmp, target).map(|()| true),
        }
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::transport::mime::tests::{assert_full_mime, sample_email};

    fn eml_files(dir: &Path) -> Vec<PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
    }

    #[tokio::test]
    async fn writes_one_file_per_key_and_is_idempotent() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data/mail");
        let mailer = FileMailer::new(dir.clone()).unwrap();
        assert!(dir.is_dir());

        let email = sample_email();
        let first = mailer.send(&email).await.unwrap();
        let name = first.provider_id.clone().unwrap();
        assert!(name.starts_with("booking_uid-123_confirmation-"), "{name}");
        assert!(name.ends_with(".eml"));
        let files = eml_files(&dir);
        assert_eq!(files, vec![dir.join(&name)], "one file, no temp leftovers");
        let raw = std::fs::read_to_string(&files[0]).unwrap();
        assert_full_mime(&raw);

        // Same key, different content: nothing new is written.
        let mut again = email.clone();
        again.subject = "Changed".into();
        let second = mailer.send(&again).await.unwrap();
        assert_eq!(second, first);
        assert_eq!(eml_files(&dir), files);
        assert_eq!(std::fs::read_to_string(&files[0]).unwrap(), raw);

        // Another key: another file.
        let mut other = email.clone();
        other.idempotency_key = "booking/uid-123/cancellation/marco@client.example".into();
        let third = mailer.send(&other).await.unwrap();
        assert_ne!(third.provider_id, first.provider_id);
        assert_eq!(eml_files(&dir).len(), 2);
    }

    #[tokio::test]
    async fn concurrent_sends_of_one_key_leave_one_file() {
        let tmp = tempfile::tempdir().unwrap();
        let mailer = FileMailer::new(tmp.path().to_path_buf()).unwrap();
        let email = sample_email();
        let results = futures::future::join_all((0..8).map(|_| mailer.send(&email))).await;
        assert!(results.iter().all(|r| r.is_ok()));
        assert_eq!(eml_files(tmp.path()).len(), 1);
    }

    #[test]
    fn file_names_are_safe_and_distinct() {
        let a = file_name("../../etc/passwd").unwrap();
        assert!(!a.contains('/') && !a.contains(".."), "{a}");
        // Keys that sanitize to the same prefix still get distinct names.
        assert_ne!(file_name("a/b").unwrap(), file_name("a_b").unwrap());
        assert!(file_name(&"x".repeat(1000)).unwrap().len() < 200);
    }

    #[test]
    fn file_names_leave_the_recipient_out() {
        let name = file_name("booking/u1/confirmation/ann.lee@example.com").unwrap();
        assert!(name.starts_with("booking_u1_confirmation-"), "{name}");
        assert!(!name.contains("ann") && !name.contains("example"), "{name}");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn email_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let mailer = FileMailer::new(tmp.path().to_path_buf()).unwrap();
        mailer.send(&sample_email()).await.unwrap();
        let file = &eml_files(tmp.path())[0];
        let mode = std::fs::metadata(file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", file.display());
    }

    #[test]
    fn an_uncreatable_dir_is_a_config_error() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("not-a-dir");
        std::fs::write(&file, "x").unwrap();
        let err = FileMailer::new(file.join("mail")).unwrap_err();
        assert!(matches!(err, TransportConfigError::MailDir { .. }), "{err}");
    }
}
