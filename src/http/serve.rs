//! The accept loop. Like `axum::serve`, plus what it lacks: a **header-read timeout** (hyper's
//! is inert without a timer, so a client trickling headers or sending nothing would pin a
//! connection forever). Graceful shutdown: stop accepting, let in-flight requests finish, then
//! close idle connections, waiting at most `drain` (half a second) for stragglers, and end every
//! connection left (silent clients included).

use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tracing::{debug, warn};

/// Connection limits.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// A client must send a request's complete headers within this time (HTTP/1), or the
    /// connection is closed; this also closes connections that send nothing.
    pub header_read_timeout: Duration,
    /// How long shutdown waits for in-flight requests.
    pub drain: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            // SIGTERM to exit within a second, whatever clients do: in-flight requests get
            // this long to be answered; then their connections are closed (nothing is
            // acknowledged before it is committed, so a cut request is simply retried).
            drain: Duration::from_millis(500),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    // HTTP/1 only: the HTTP/2-or-1 detection of the auto builder reads the first bytes with no
    // timeout, so a silent client would escape the header timeout. Cal.com and browsers speak
    // HTTP/1.1 to an origin; put a proxy in front for HTTP/2.
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let graceful = GracefulShutdown::new();
    // Every connection's task, so that those left after the drain (a silent client still inside
    // the header timeout holds the router, and with it the ingest writers) are ended.
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // The peer's address, for the sign-in throttle (see `client_addr`).
        let router = router.clone();
        let service = TowerToHyperService::new(tower::service_fn(
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                tower::ServiceExt::oneshot(router.clone(), req)
            },
        ));
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let header_timeout = limits.header_read_timeout;
        tasks.spawn(async move {
            // hyper starts its header timer at the first byte; a client that sends nothing at
            // all is cut off here.
            let mut first = [0u8; 1];
            if tokio::time::timeout(header_timeout, stream.peek(&mut first))
                .await
                .is_err()
            {
                debug!(%peer, "connection sent nothing within the header timeout; closed");
                return;
            }
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn).await {
                debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.drain, graceful.shutdown())
        .await
        .is_err()
    {
        warn!(
            drain_seconds = limits.drain.as_secs(),
            "connections still open after the drain period; closing"
        );
    }
    tasks.shutdown().await;
}
