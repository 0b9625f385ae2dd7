//! Stamps the binary with the git commit it was built from (`calbook --version`), without the
//! network: `CALBOOK_GIT_COMMIT` when set (a build from a source tarball or a container build
//! without `.git`), else `git rev-parse` on the checkout, else `unknown`.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!s.is_empty()).then_some(s)
}

fn main() {
    println!("cargo:rerun-if-env-changed=CALBOOK_GIT_COMMIT");
    let commit = match std::env::var("CALBOOK_GIT_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_owned(),
        _ => {
            // Rebuild when HEAD moves: HEAD itself, and the branch it points at.
            if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
                println!("cargo:rerun-if-changed={dir}/HEAD");
            }
            if let (Some(common), Some(head)) = (
                git(&["rev-parse", "--git-common-dir"]),
                git(&["symbolic-ref", "-q", "HEAD"]),
            ) {
                // Only paths that exist: Cargo treats a missing one as always stale, so a
                // checkout without `packed-refs` would rebuild calbook on every `cargo build`.
                // A branch that lives only in `packed-refs` gets its loose file at the next
                // commit, which the watched `refs/heads` directory notices.
                let loose = format!("{common}/{head}");
                let watched = if std::path::Path::new(&loose).exists() {
                    loose
                } else {
                    format!("{common}/refs/heads")
                };
                for path in [watched, format!("{common}/packed-refs")] {
                    if std::path::Path::new(&path).exists() {
                        println!("cargo:rerun-if-changed={path}");
                    }
                }
            }
            git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_owned())
        }
    };
    println!("cargo:rustc-env=CALBOOK_GIT_COMMIT={commit}");
}
