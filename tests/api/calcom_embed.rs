//! Cal.com's real `embed.js`, for the browser tests: the npm package `@calcom/embed-core` at a
//! pinned version, fetched once with `npm pack` into `tests/.cache/` (ignored by git: the
//! package is under Cal.com's commercial licence, which allows copies for development and
//! testing but not redistribution), its tarball checked against the registry's pinned
//! `integrity` (sha512) and the extracted `dist/embed/embed.js` against a pinned sha256.
//!
//! As the harness starts its own PostgreSQL, it fetches the package itself when it is missing,
//! so `cargo test` alone still does everything. Without `npm` (or without the registry) the tests
//! fail with what to install; a tarball placed by hand in `tests/.cache/` is used as is.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use base64::Engine;
use sha2::{Digest, Sha256, Sha512};

/// The pinned package: `npm view @calcom/embed-core@1.5.3 dist.integrity`.
pub const PACKAGE: &str = "@calcom/embed-core";
pub const VERSION: &str = "1.5.3";
const TARBALL: &str = "calcom-embed-core-1.5.3.tgz";
const INTEGRITY: &str = "sha512-GeId9gaByJ5EWiPmuvelZOvFWPOTWkcWZr5vGTCbIUTX125oE5yn0n8lDF1MJk5Xj1WO+/dk9jKIE08Ad9ytiQ==";
/// sha256 of `package/dist/embed/embed.js` inside that tarball (Cal.com build `90a36777d8`).
const EMBED_JS_SHA256: &str = "0f3be0fb974db0fd4e30b5b36efe6501afa27f7d0f16769c67210ce03a6b7d90";

const INSTALL_HINT: &str = "The browser tests run Cal.com's real embed.js from the npm package \
@calcom/embed-core@1.5.3, fetched once with `npm pack` into tests/.cache/. Install Node.js and \
npm (`apt-get install -y npm`; .ci/run does) and let npm reach its registry, or put \
calcom-embed-core-1.5.3.tgz (from `npm pack @calcom/embed-core@1.5.3` on another machine) into \
tests/.cache/.";

/// The bytes of the real `embed.js`, verified. Panics with what to do when it cannot be had.
pub fn embed_js() -> &'static [u8] {
    static JS: OnceLock<Vec<u8>> = OnceLock::new();
    JS.get_or_init(|| match load() {
        Ok(js) => js,
        Err(e) => panic!("{e}\n{INSTALL_HINT}"),
    })
}

fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/.cache")
}

fn load() -> Result<Vec<u8>, String> {
    let dir = cache_dir();
    let unpacked = dir.join(format!("embed-core-{VERSION}/package/dist/embed/embed.js"));
    if let Ok(js) = std::fs::read(&unpacked)
        && sha256_hex(&js) == EMBED_JS_SHA256
    {
        return Ok(js);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let tarball = dir.join(TARBALL);
    if !tarball.exists() {
        npm_pack(&dir)?;
    }
    let bytes =
        std::fs::read(&tarball).map_err(|e| format!("cannot read {}: {e}", tarball.display()))?;
    let got = format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha512::digest(&bytes))
    );
    if got != INTEGRITY {
        let _ = std::fs::remove_file(&tarball);
        return Err(format!(
            "{} has integrity {got}, not the pinned {INTEGRITY}: removed it, run the tests again",
            tarball.display()
        ));
    }
    unpack(&tarball, &dir)?;
    let js = std::fs::read(&unpacked)
        .map_err(|e| format!("no dist/embed/embed.js in {TARBALL}: {e}"))?;
    if sha256_hex(&js) != EMBED_JS_SHA256 {
        return Err(format!(
            "{} does not match its pinned sha256",
            unpacked.display()
        ));
    }
    Ok(js)
}

/// `npm pack <package>@<version>` into `dir` (no scripts run: a registry tarball is only
/// downloaded).
fn npm_pack(dir: &Path) -> Result<(), String> {
    let out = Command::new("npm")
        .args(["pack", &format!("{PACKAGE}@{VERSION}"), "--ignore-scripts"])
        .arg("--pack-destination")
        .arg(dir)
        .args(["--loglevel=error", "--no-fund", "--no-audit"])
        .output()
        .map_err(|e| format!("cannot run npm ({e})"))?;
    if !out.status.success() || !dir.join(TARBALL).exists() {
        return Err(format!(
            "`npm pack {PACKAGE}@{VERSION}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// Unpacks into a fresh directory and renames it into place, so a half-unpacked tree is never
/// taken for the real one.
fn unpack(tarball: &Path, dir: &Path) -> Result<(), String> {
    let staging = tempfile::tempdir_in(dir).map_err(|e| e.to_string())?;
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(tarball)
        .arg("-C")
        .arg(staging.path())
        .status()
        .map_err(|e| format!("cannot run tar ({e})"))?;
    if !status.success() {
        return Err(format!("tar -xzf {} failed ({status})", tarball.display()));
    }
    let target = dir.join(format!("embed-core-{VERSION}"));
    let _ = std::fs::remove_dir_all(&target);
    std::fs::rename(staging.keep(), &target)
        .map_err(|e| format!("cannot move the package to {}: {e}", target.display()))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
