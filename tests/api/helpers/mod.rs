//! The test harness: a real calbook server on port 0 over a real database (a SQLite file, or a
//! fresh database on the throwaway PostgreSQL server), and helpers that read like the story.
//!
//! Every test module takes what it needs from here (`use crate::helpers::*;`), never from a
//! sibling test module:
//! - [`app`]: [`TestApp`], calbook started on a real database, delivering signed bodies and
//!   reading the store.
//! - [`samples`]: the Cal.com sample bodies (`samples/calcom`), their uids and edits of them.
//! - [`admin`]: the dashboard's sign-in flow ([`TestApp::sign_in_as_admin`]) and a client that
//!   does not follow redirects.
//! - [`supabase`]: Supabase-shaped access tokens and an app that accepts them.
//! - [`email`]: a Resend stand-in app and driving the outbox by hand.
//! - [`smtp`]: an SMTP sink standing in for a mail relay.
//! - [`api`]: the bookings API as a client sees it.
//! - [`calcom_api`]: a stateful stand-in for Cal.com's API v2 (the sync's counterpart).

pub mod admin;
pub mod api;
pub mod app;
pub mod calcom_api;
pub mod email;
pub mod samples;
pub mod smtp;
pub mod supabase;

pub use admin::*;
pub use api::*;
pub use app::*;
pub use calcom_api::*;
pub use email::AlertInbox;
pub use samples::*;
pub use supabase::*;

/// The secret the sample signatures were made with (`samples/calcom/signatures.json`).
pub const SAMPLE_SECRET: &str = "whsec_test_calcom_samples_2026";

/// The admin token every test server is given.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";
/// Signs the booking page's ownership proofs in every test app (instances of one business share it).
pub const OWNERSHIP_KEY: &str = "test-ownership-key-0123456789abcdef";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named scenario `async fn name(backend: Backend)` twice: `name::sqlite` and
/// `name::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    )*};
}
