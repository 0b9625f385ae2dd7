//! [`TestApp`]: calbook on port 0 over a real database, with the helpers every test needs.

use std::net::SocketAddr;
use std::time::Duration;

use calbook::app::App;
use calbook::booking::{Booking, HistoryEntry};
use calbook::config::Settings;
use calbook::store::{Store, StoreOptions};
use calbook::webhook::sign;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::oneshot;

use super::{ADMIN_TOKEN, Backend, OWNERSHIP_KEY, SAMPLE_SECRET, sample};
use crate::postgres_server;

pub struct TestDb {
    pub url: String,
    pub pg_name: Option<String>,
}

impl TestDb {
    pub async fn new(backend: Backend, dir: &std::path::Path) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let path = dir.join("bookings.db");
                TestDb {
                    url: format!("sqlite://{}", path.display()),
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                let (url, name) = postgres_server::create_database().await;
                TestDb {
                    url,
                    pg_name: Some(name),
                }
            }
        }
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    /// The metrics listener, when `metrics_bind` is set.
    pub metrics_addr: Option<SocketAddr>,
    pub backend: Backend,
    pub client: reqwest::Client,
    pub store: Store,
    pub db: TestDb,
    pub settings: Settings,
    /// Holds the data directory (and the SQLite file) until the test ends.
    _dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    /// The server task (`App::run`), until [`TestApp::stop`].
    run: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, |_| {}).await
    }

    /// Starts calbook with the sample secret, after `configure` had its say on the settings.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = TestDb::new(backend, dir.path()).await;
        let mut settings = Settings::with_data_dir(dir.path().join("data"));
        settings.bind = "127.0.0.1:0".parse().unwrap();
        settings.database_url = Some(db.url.clone());
        settings.webhook_secret = Some(SAMPLE_SECRET.to_owned());
        settings.admin_token = Some(ADMIN_TOKEN.to_owned());
        settings.ownership_key = Some(OWNERSHIP_KEY.to_owned());
        // The samples come from a self-hosted Cal.com at cal.example.com whose video calls live
        // on video.example.com: the business lists that host, as the README tells it to.
        settings.email.links = calbook::booking::LinkPolicy::from_setting(
            "video.example.com",
            Some("https://cal.example.com"),
        )
        .unwrap();
        settings.store = StoreOptions {
            acquire_timeout: Duration::from_secs(2),
            ..StoreOptions::default()
        };
        // Tests that check the outbox's own rules drive it by hand; email tests switch it on.
        settings.run_outbox_worker = false;
        configure(&mut settings);
        TestApp::start(backend, settings, db, dir).await
    }

    /// A second calbook process on the same database (PostgreSQL: several instances at once).
    pub async fn spawn_sibling(&self) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = self.settings.clone();
        settings.data_dir = dir.path().join("data");
        let db = TestDb {
            url: self.db.url.clone(),
            pg_name: self.db.pg_name.clone(),
        };
        TestApp::start(self.backend, settings, db, dir).await
    }

    async fn start(
        backend: Backend,
        settings: Settings,
        db: TestDb,
        dir: tempfile::TempDir,
    ) -> TestApp {
        let app = App::build(&settings).await.expect("calbook starts");
        let addr = app.local_addr();
        let metrics_addr = app.metrics_addr();
        let store = app.store().clone();
        let (tx, rx) = oneshot::channel::<()>();
        let run = tokio::spawn(app.run(async {
            let _ = rx.await;
        }));
        TestApp {
            addr,
            metrics_addr,
            backend,
            client: reqwest::Client::new(),
            store,
            db,
            settings,
            _dir: dir,
            shutdown: Some(tx),
            run: Some(run),
        }
    }

    /// Asks the server to stop (as SIGTERM does) and waits, at most `limit`, for `App::run` to
    /// return. `Err` if it was still running at `limit`.
    pub async fn stop(&mut self, limit: Duration) -> Result<(), String> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let Some(run) = self.run.take() else {
            return Ok(());
        };
        match tokio::time::timeout(limit, run).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(format!("App::run failed: {e:#}")),
            Ok(Err(e)) => Err(format!("App::run panicked: {e}")),
            Err(_) => Err(format!("still running {limit:?} after shutdown")),
        }
    }

    /// The ownership proof `/book` hands `client` signed in with `email` (made with the app's own
    /// key, as the booking page makes it; the page itself is tested in `web.rs`).
    pub fn ownership_proof(&self, client: &str, email: &str) -> String {
        calbook::auth::ownership::OwnershipKey::from_secret(OWNERSHIP_KEY).sign(
            client.parse().expect("a client uuid"),
            email,
            calbook::time::now(),
        )
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn webhook_url(&self) -> String {
        self.url("/api/webhooks/calcom")
    }

    /// The Prometheus text at `/metrics` (read with the admin token).
    /// `/metrics`, read by the operator from another address (127.0.0.2): a test that has its
    /// own address throttled for wrong tokens still gets the figures.
    pub async fn metrics(&self) -> String {
        let operator = reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
            .build()
            .unwrap();
        let res = operator
            .get(self.url("/metrics"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "/metrics with the admin token"
        );
        res.text().await.unwrap()
    }

    /// Posts `body` signed with the sample secret, as Cal.com would.
    pub async fn deliver(&self, body: &[u8]) -> (StatusCode, Value) {
        let sig = sign(SAMPLE_SECRET.as_bytes(), body);
        self.post(body, Some(&sig), &[]).await
    }

    /// Posts a compact sample, signed.
    pub async fn deliver_sample(&self, name: &str) -> (StatusCode, Value) {
        self.deliver(&sample(name)).await
    }

    /// Posts `body` with the given signature header (or none) and extra headers.
    pub async fn post(
        &self,
        body: &[u8],
        signature: Option<&str>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut req = self.client.post(self.webhook_url()).body(body.to_vec());
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            req = req.header("content-type", "application/json");
        }
        if let Some(s) = signature {
            req = req.header("x-cal-signature-256", s);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.expect("request reaches calbook");
        let status = res.status();
        let text = res.text().await.unwrap();
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("calbook answered {status} with a non-JSON body: {text:?}"));
        (status, json)
    }

    pub async fn booking(&self, uid: &str) -> Booking {
        self.store
            .booking(uid)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("booking {uid} is stored"))
    }

    pub async fn maybe_booking(&self, uid: &str) -> Option<Booking> {
        self.store.booking(uid).await.unwrap()
    }

    pub async fn history_actions(&self, uid: &str) -> Vec<String> {
        self.history(uid)
            .await
            .into_iter()
            .map(|h| h.action)
            .collect()
    }

    pub async fn history(&self, uid: &str) -> Vec<HistoryEntry> {
        let b = self.booking(uid).await;
        self.store.history(b.id).await.unwrap()
    }

    /// Row count of a table (a real query, no cache).
    pub async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM {table}");
        match &self.store {
            Store::Sqlite(s) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&s.pool)
                .await
                .unwrap(),
            Store::Postgres(p) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(p)
                .await
                .unwrap(),
        }
    }

    /// Deliveries with this outcome.
    pub async fn deliveries_with(&self, outcome: &str) -> i64 {
        self.store
            .deliveries(10_000)
            .await
            .unwrap()
            .iter()
            .filter(|d| d.outcome.as_str() == outcome)
            .count() as i64
    }

    /// `(bookings, booking_history, webhook_deliveries)` row counts.
    pub async fn counts(&self) -> (i64, i64, i64) {
        (
            self.count("bookings").await,
            self.count("booking_history").await,
            self.count("webhook_deliveries").await,
        )
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
