//! Application start-up: open (and migrate) the store, resolve the webhook secret, start the
//! ingest writers, bind the listener. [`App::build`] returns with the port bound, so callers
//! (and tests, on port 0) know where it listens before it serves.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing::info;

use crate::auth::Verifier;
use crate::config::{self, SecretSource, Settings};
use crate::outbox::worker::Worker;
use crate::routes::router;
use crate::state::{AppState, Services};
use crate::store::Store;
use crate::webhook::Ingest;

pub struct App {
    listener: TcpListener,
    /// `CALBOOK_METRICS_BIND`'s listener, if set.
    metrics_listener: Option<TcpListener>,
    state: AppState,
    /// The booking page's and dashboard's own services.
    web: Arc<crate::web::Web>,
    writers: Vec<JoinHandle<()>>,
    outbox: Option<Worker>,
    limits: crate::http::ConnectionLimits,
    /// The Cal.com sync and its interval, when CALCOM_API_KEY is set and the interval is not 0.
    sync: Option<(crate::sync::Syncer, std::time::Duration)>,
}

impl App {
    pub async fn build(settings: &Settings) -> anyhow::Result<App> {
        config::restrict_file_modes();
        config::ensure_data_dir(&settings.data_dir)?;
        let (secrets, source) = config::webhook_secrets(settings)?;
        match &source {
            SecretSource::Environment => info!(
                count = secrets.len(),
                "webhook secret(s) from CALCOM_WEBHOOK_SECRET"
            ),
            SecretSource::File(p) => info!(path = %p.display(), "webhook secret from file"),
            SecretSource::Generated(p) => info!(
                path = %p.display(),
                "generated a webhook secret; print it with `calbook secret` and paste it into the Cal.com webhook"
            ),
        }
        let (admin_token, source) = config::admin_token(settings)?;
        match &source {
            SecretSource::Environment => info!("admin token from CALBOOK_ADMIN_TOKEN"),
            SecretSource::File(p) => info!(path = %p.display(), "admin token from file"),
            SecretSource::Generated(p) => info!(
                path = %p.display(),
                "generated an admin token for /admin; print it with `calbook admin-token`"
            ),
        }
        let (ownership_key, source) = config::ownership_key(settings)?;
        match &source {
            SecretSource::Environment => info!("ownership key from CALBOOK_OWNERSHIP_KEY"),
            SecretSource::File(p) => info!(path = %p.display(), "ownership key from file"),
            SecretSource::Generated(p) => info!(
                path = %p.display(),
                "generated the key that signs the booking page's ownership proofs; several instances must share it"
            ),
        }
        let verifier = sign_in_verifier(settings)?;
        let store = Store::open(&settings.database_url(), &settings.store)
            .await
            .with_context(|| {
                format!(
                    "opening the database at {}",
                    Store::describe_url(&settings.database_url())
                )
            })?;
        info!(
            backend = ?store.backend(),
            database = %Store::describe_url(&settings.database_url()),
            "database ready"
        );
        let email = settings
            .email
            .build(&settings.data_dir)
            .context("email settings")?;
        let alert_to = settings
            .alert_email
            .as_deref()
            .map(|a| crate::outbox::setup::parse_mailbox("CALBOOK_ALERT_EMAIL", a))
            .transpose()
            .context("alert settings")?;
        if alert_to.is_some() {
            info!("alerts go to CALBOOK_ALERT_EMAIL (at most one per kind an hour)");
        }
        let alerts =
            crate::alert::Alerts::new(alert_to, email.worker.from.clone(), email.mailer.clone());
        let worker = Worker::new(
            store.clone(),
            email.mailer.clone(),
            email.renderer.clone(),
            email.worker,
        )
        .with_alerts(alerts.clone());
        info!(mailer = email.mailer.kind(), "email outbox ready");
        let mut web = crate::web::Web::new(
            &settings.web,
            &admin_token,
            ownership_key.clone(),
            &settings.email.policy,
        )
        .context("booking page settings")?
        .with_calcom(&settings.calcom)
        .context("CALCOM_API_URL")?;
        web.links = settings.email.links.clone();
        match &web.config.embed {
            Some(e) => info!(origin = %e.origin, "booking page /book shows {}", e.link),
            None => info!("booking page /book shows a setup notice: set CALCOM_LINK"),
        }
        let mut ingest_options = settings.ingest.clone();
        ingest_options.email = Some(Arc::new(settings.email.policy.clone()));
        ingest_options.admission.ownership = Some(ownership_key);
        let (ingest, writers) = Ingest::start(store.clone(), &ingest_options, Some(worker.waker()));
        let ingest = ingest.with_load(worker.ingest_load());
        let sync = sync_loop(settings, &store, &ingest_options, worker.waker())?;
        store.start_upkeep();
        let listener = TcpListener::bind(settings.bind)
            .await
            .with_context(|| format!("binding {}", settings.bind))?;
        let metrics_listener = match settings.metrics_bind {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding CALBOOK_METRICS_BIND {addr}"))?,
            ),
            None => None,
        };
        let state = AppState::new(Services {
            ingest,
            secrets: Arc::new(secrets),
            metrics: crate::telemetry::metrics_handle(),
            admin_token: crate::auth::AdminToken::new(admin_token),
            verifier,
            sign_in_throttle: Default::default(),
            trusted_proxies: settings.trusted_proxies.clone(),
            outbox_wake: settings.run_outbox_worker.then(|| worker.waker()),
            alerts,
            readiness: crate::http::readiness::Readiness::new(&store, settings.data_dir.clone())
                .with_mailer(email.mailer.clone()),
            store,
        });
        Ok(App {
            listener,
            metrics_listener,
            state,
            web: Arc::new(web),
            writers,
            outbox: settings.run_outbox_worker.then_some(worker),
            limits: settings.connection_limits,
            sync,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Where the metrics listener listens, if `CALBOOK_METRICS_BIND` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .map(|l| l.local_addr().expect("a bound listener has an address"))
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Serves until `shutdown` resolves, then lets in-flight deliveries commit.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self.local_addr();
        info!(%addr, "calbook listening on http://{addr}");
        // Probe an SMTP relay once at start (in the background): a wrong SMTP_URL host, port or
        // TLS mode shows in the log now, not when the first emails die. (Resend's key is
        // checked by `calbook check` and an admin's /readyz.)
        if self.state.readiness.mail_kind() == Some("smtp") {
            let _ = self.state.readiness.mail_state();
        }
        let store = self.state.store.clone();
        let (stop_outbox, outbox_stopped) = tokio::sync::oneshot::channel::<()>();
        let outbox = self.outbox.map(|w| {
            tokio::spawn(w.run(async {
                let _ = outbox_stopped.await;
            }))
        });
        let (stop_metrics, metrics_stopped) = tokio::sync::oneshot::channel::<()>();
        let metrics = self.metrics_listener.map(|listener| {
            let addr = listener.local_addr().ok();
            match addr {
                Some(a) if !a.ip().is_loopback() => tracing::warn!(
                    addr = %a,
                    "metrics listener on a non-loopback address: anyone who can reach it reads /metrics"
                ),
                _ => {}
            }
            if let Some(a) = addr {
                info!(addr = %a, "metrics on http://{a}/metrics (no sign-in)");
            }
            tokio::spawn(crate::http::serve(
                listener,
                crate::routes::metrics_router(self.state.clone()),
                self.limits,
                async {
                    let _ = metrics_stopped.await;
                },
            ))
        });
        let stop_sync = Arc::new(tokio::sync::Notify::new());
        let alerts = self.state.alerts.clone();
        let sync = self.sync.map(|(syncer, every)| {
            tokio::spawn(syncer.run_every(every, stop_sync.clone(), alerts))
        });
        let app = router(self.state, self.web);
        crate::http::serve(self.listener, app, self.limits, shutdown).await;
        if let Some(mut task) = sync {
            // Between passes it stops at once; a pass in flight gets a moment, then is dropped
            // (its open transaction rolls back; its lease lapses on its own).
            stop_sync.notify_one();
            if tokio::time::timeout(std::time::Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
        let _ = stop_metrics.send(());
        if let Some(m) = metrics {
            let _ = m.await;
        }
        // The router (and with it every Ingest handle) is gone: the writers drain and stop.
        for w in self.writers {
            let _ = w.await;
        }
        let _ = stop_outbox.send(());
        if let Some(o) = outbox {
            let _ = o.await;
        }
        store.close().await;
        info!("calbook stopped");
        Ok(())
    }
}

/// The Cal.com sync `serve` runs: with CALCOM_API_KEY and a non-zero CALCOM_SYNC_INTERVAL.
fn sync_loop(
    settings: &Settings,
    store: &Store,
    ingest: &crate::webhook::IngestOptions,
    wake_outbox: Arc<tokio::sync::Notify>,
) -> anyhow::Result<Option<(crate::sync::Syncer, std::time::Duration)>> {
    let calcom = &settings.calcom;
    let (Some(_), Some(every)) = (&calcom.api_key, calcom.interval) else {
        info!("Cal.com sync off (set CALCOM_API_KEY, and CALCOM_SYNC_INTERVAL to other than 0)");
        return Ok(None);
    };
    let syncer = crate::sync::Syncer::new(
        store.clone(),
        calcom,
        ingest.email.clone(),
        ingest.admission.clone(),
        Some(wake_outbox),
    )
    .context("CALCOM_API_URL")?;
    info!(api = %calcom.api_url, every_secs = every.as_secs(), "Cal.com sync on");
    Ok(Some((syncer, every)))
}

/// The Supabase token verifier, if a JWT secret or a project URL is configured; without one only
/// the admin token signs in to the API.
fn sign_in_verifier(settings: &Settings) -> anyhow::Result<Option<Arc<Verifier>>> {
    let auth = &settings.auth;
    let secret = auth.jwt_secret.as_deref().is_some_and(|s| !s.is_empty());
    let jwks = auth.jwks_url();
    if !secret && jwks.is_none() {
        info!(
            "API sign-in: admin token only (set SUPABASE_JWT_SECRET or SUPABASE_URL for Supabase users)"
        );
        return Ok(None);
    }
    anyhow::ensure!(
        !auth.audience.trim().is_empty(),
        "SUPABASE_JWT_AUDIENCE must not be empty"
    );
    if let Some(url) = auth.supabase_url.as_deref() {
        anyhow::ensure!(
            url.starts_with("https://") || url.starts_with("http://"),
            "SUPABASE_URL must start with https:// (or http:// for a local project)"
        );
    }
    info!(
        hs256 = secret,
        jwks = jwks.as_deref().unwrap_or(""),
        issuer = auth.expected_issuer().as_deref().unwrap_or("(not checked)"),
        audience = %auth.audience,
        "API sign-in: Supabase access tokens"
    );
    Ok(Some(Arc::new(Verifier::new(auth.clone()))))
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    info!("shutting down");
}
