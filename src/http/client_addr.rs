//! The client's address, for the sign-in throttle.
//!
//! The accept loop puts the TCP peer's address in each request's extensions
//! (`ConnectInfo<SocketAddr>`). [`remember`], a middleware on the whole router, resolves the
//! client's address from it and keeps it for the rest of the request in a task-local, where
//! [`current`] reads it: every token check can then be throttled per client without threading
//! an address through every handler.
//!
//! `X-Forwarded-For` is ignored unless the peer is one of `CALBOOK_TRUSTED_PROXIES` (addresses
//! or CIDR ranges): then the header is read from the right, skipping trusted proxies, and the
//! first other address is the client (the left part can be written by the client itself).
//! A header that cannot be read leaves the peer's address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use crate::state::AppState;

tokio::task_local! {
    static CLIENT: IpAddr;
}

/// The current request's client address; `None` outside a request (tests calling handlers
/// directly), which every caller treats as one shared unknown client.
pub fn current() -> Option<IpAddr> {
    CLIENT.try_with(|a| *a).ok()
}

/// Parses `CALBOOK_TRUSTED_PROXIES`: addresses or CIDR ranges, separated by commas.
pub fn parse_trusted_proxies(list: &str) -> Result<Vec<IpNet>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!(
                        "CALBOOK_TRUSTED_PROXIES: {s:?} is not an IP address or a CIDR range (e.g. 10.0.0.0/8)"
                    )
                })
        })
        .collect()
}

/// The client of a request that came from `peer` with these `X-Forwarded-For` values.
pub fn client_of(peer: IpAddr, forwarded_for: &[&str], trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |a: &IpAddr| trusted.iter().any(|n| n.contains(a));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded_for
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(a) if is_trusted(&a) => continue,
            Ok(a) => return a,
            Err(_) => return peer,
        }
    }
    peer
}

/// Middleware: resolves the client's address and keeps it for the request.
pub async fn remember(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let Some(peer) = peer else {
        return next.run(req).await;
    };
    // Every request passes here (the webhook's too): without trusted proxies, no header is read.
    let client = if state.trusted_proxies.is_empty() {
        peer
    } else {
        let forwarded: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        client_of(peer, &forwarded, &state.trusted_proxies)
    };
    CLIENT.scope(client, next.run(req)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy() {
        let trusted = parse_trusted_proxies("10.0.0.0/8, 192.0.2.1").unwrap();
        // Not a trusted peer: the header is the client's own words.
        assert_eq!(
            client_of(ip("203.0.113.5"), &["198.51.100.1"], &trusted),
            ip("203.0.113.5")
        );
        // Through two trusted proxies; the leftmost entry was written by the client.
        assert_eq!(
            client_of(
                ip("10.1.1.1"),
                &["6.6.6.6, 198.51.100.9", "192.0.2.1"],
                &trusted
            ),
            ip("198.51.100.9")
        );
        assert_eq!(client_of(ip("10.1.1.1"), &[], &trusted), ip("10.1.1.1"));
        assert_eq!(
            client_of(ip("10.1.1.1"), &["garbage"], &trusted),
            ip("10.1.1.1")
        );
        assert!(parse_trusted_proxies("10.0.0.0/33").is_err());
        assert!(parse_trusted_proxies("proxy.local").is_err());
        assert_eq!(parse_trusted_proxies(" ").unwrap(), vec![]);
    }
}
