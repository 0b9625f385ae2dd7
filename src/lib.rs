//! calbook: dependable Cal.com bookings for the business that takes them.
//!
//! Modules mirror the architecture: [`webhook`] (signature, payload parsing, group-commit
//! ingest) → [`booking`] (the domain rules, no I/O) → [`store`] (SQLite or PostgreSQL);
//! [`outbox`] and [`mail`] send the emails; [`http`] is the HTTP surface and [`web`] its pages
//! (booking page, admin dashboard), both reading the shared [`state`] and neither mounting the
//! other: [`routes`] assembles them; [`auth`] verifies sign-in; [`config`] declares every
//! setting; [`cli`] dispatches the operator commands; [`app`] wires them together.

pub mod alert;
pub mod app;
pub mod auth;
pub mod booking;
pub mod cli;
pub mod config;
pub mod http;
pub mod mail;
pub mod outbox;
pub mod routes;
pub mod state;
pub mod stats;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod time;
pub mod web;
pub mod webhook;

/// `calbook --version`: the package version and the git commit it was built from (see
/// `build.rs`; `unknown` when built outside a checkout without `CALBOOK_GIT_COMMIT`).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("CALBOOK_GIT_COMMIT"),
    ")"
);
