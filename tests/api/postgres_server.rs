//! A throwaway PostgreSQL server for the test binary, started once on first use: `initdb` into a
//! temporary directory and `postgres` on a free loopback port, watched by a shell loop that stops
//! it (and removes its files) when the test process exits. `CALBOOK_TEST_POSTGRES_URL` points
//! the tests at an existing server instead. Each test gets its own database.
//!
//! The throwaway server runs as managed PostgreSQL does: `ssl = on` with a certificate issued at
//! start by a throwaway CA (made with the `openssl` CLI, which Debian's `postgresql` package pulls
//! in), and `pg_hba.conf` accepting TCP connections only over TLS (`hostssl`). Every test connects
//! with `sslmode=verify-full` and that CA, so the whole suite runs over verified TLS.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sqlx::Connection;

const INSTALL_HINT: &str = "PostgreSQL server binaries (initdb, postgres) are needed for the \
PostgreSQL half of the suite. Install them with `apt-get install -y postgresql` (or run .ci/run, \
which does), or set CALBOOK_TEST_POSTGRES_URL=postgres://USER:PASS@HOST:PORT/DB to use a server \
you run yourself (the user must be allowed to CREATE DATABASE).";

/// The shared server: its admin URL (a database the tests may connect to for CREATE DATABASE)
/// and, for the throwaway server, the directory holding its CA (`ca.crt`) and a second,
/// unrelated CA (`other-ca.crt`).
struct Server {
    url: String,
    tls_dir: Option<PathBuf>,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| match std::env::var("CALBOOK_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Server { url, tls_dir: None },
        _ => start_throwaway_server(),
    })
}

/// The admin URL of the shared server (a database the tests may connect to for CREATE DATABASE).
pub fn admin_url() -> &'static str {
    &server().url
}

/// For the throwaway server: (host, port, CA file that issued its certificate, an unrelated CA
/// file). `None` with `CALBOOK_TEST_POSTGRES_URL`.
pub fn tls_setup() -> Option<(String, u16, PathBuf, PathBuf)> {
    let s = server();
    let dir = s.tls_dir.as_ref()?;
    let url = url::Url::parse(&s.url).ok()?;
    Some((
        url.host_str()?.to_owned(),
        url.port()?,
        dir.join("ca.crt"),
        dir.join("other-ca.crt"),
    ))
}

/// Creates a fresh database and returns its URL and name.
pub async fn create_database() -> (String, String) {
    let admin = admin_url();
    let name = format!("calbook_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .unwrap_or_else(|e| panic!("connecting to the test PostgreSQL server: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("CREATE DATABASE");
    conn.close().await.ok();
    (replace_database(admin, &name), name)
}

/// Runs one admin statement (for tests that take a database offline).
pub async fn admin_execute(sql: String) {
    let mut conn = sqlx::PgConnection::connect(admin_url())
        .await
        .expect("admin connection");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .expect("admin statement");
    conn.close().await.ok();
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let host_start = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[host_start..]
        .find('/')
        .map_or(base.len(), |i| host_start + i);
    format!("{}/{name}{query}", &base[..host_end])
}

fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CALBOOK_TEST_PG_BIN") {
        return PathBuf::from(dir);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() && dir.join("postgres").exists() {
            return dir;
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|d| d.join("initdb").exists() && d.join("postgres").exists());
    versions.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions.pop().unwrap_or_else(|| panic!("{INSTALL_HINT}"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `setpriv` switches to the `postgres` user and execs the program (no forwarding parent, so
/// signals reach PostgreSQL itself); PostgreSQL refuses to run as root.
const AS_POSTGRES: &str = "setpriv --reuid postgres --regid postgres --init-groups";

/// A command run as the `postgres` user when we are root.
fn as_server_user(program: &Path, root: bool) -> Command {
    if root {
        let mut parts = AS_POSTGRES.split_whitespace();
        let mut c = Command::new(parts.next().expect("setpriv"));
        c.args(parts).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Makes `ca.crt` (a throwaway CA), `server.crt`/`server.key` (issued by it, for `localhost`
/// only) and `other-ca.crt` (an unrelated CA) in `dir`.
fn make_certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap_or_else(|e| {
                panic!("running openssl (needed for the test server's TLS certificate): {e}")
            });
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    for ca in ["ca", "other-ca"] {
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=calbook test {ca}"),
            "-keyout",
            &format!("{ca}.key"),
            "-out",
            &format!("{ca}.crt"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
    }
    openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write server.ext");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.crt",
    ]);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .expect("chmod server.key");
    // Only TLS over TCP; the Unix socket (for pg_isready) stays open.
    std::fs::write(
        dir.join("hba.conf"),
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n",
    )
    .expect("write hba.conf");
}

#[allow(
    clippy::zombie_processes,
    reason = "the watchdog outlives this process on purpose: it stops the server once we exit"
)]
fn start_throwaway_server() -> Server {
    let bin = bin_dir();
    let root = is_root();
    let dir = std::env::temp_dir().join(format!(
        "calbook-test-pg-{}-{}",
        std::process::id(),
        free_port()
    ));
    let data = dir.join("data");
    std::fs::create_dir_all(&dir).expect("temp dir for PostgreSQL");
    make_certificates(&dir);
    if root {
        let ok = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "chown of the PostgreSQL test directory failed; is there a `postgres` user? {INSTALL_HINT}"
        );
    }
    let out = as_server_user(&bin.join("initdb"), root)
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "calbook",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        ])
        .output()
        .unwrap_or_else(|e| panic!("running initdb: {e}. {INSTALL_HINT}"));
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = free_port();
    let postgres = bin.join("postgres");
    let server = format!(
        "{} -D {} -p {port} -k {d} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 \
         -c ssl=on -c ssl_cert_file={d}/server.crt -c ssl_key_file={d}/server.key -c hba_file={d}/hba.conf",
        postgres.display(),
        data.display(),
        d = dir.display()
    );
    let server = if root {
        format!("{AS_POSTGRES} {server}")
    } else {
        server
    };
    // The watchdog stops the server when this test process is gone, whatever way it ended.
    let script = format!(
        "{server} >{log} 2>&1 & pg=$!; while kill -0 {pid} 2>/dev/null && kill -0 $pg 2>/dev/null; do sleep 0.5; done; kill -INT $pg 2>/dev/null; wait $pg; rm -rf {dir}",
        log = dir.join("server.log").display(),
        pid = std::process::id(),
        dir = dir.display(),
    );
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the PostgreSQL watchdog");
    let url = format!(
        "postgres://calbook@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={}",
        dir.join("ca.crt").display()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            // Accepting TCP; wait until it also accepts queries (startup may still be running).
            let ready = Command::new(bin.join("pg_isready"))
                .arg("-h")
                .arg(&dir)
                .args(["-p", &port.to_string(), "-U", "calbook", "-d", "postgres"])
                .output()
                .is_ok_and(|o| o.status.success());
            if ready {
                return Server {
                    url,
                    tls_dir: Some(dir),
                };
            }
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            panic!("the test PostgreSQL server did not start within 30 s:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
