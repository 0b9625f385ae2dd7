//! Email through a Resend stand-in (a real HTTP server, wiremock) and the outbox driven by hand.

use calbook::outbox::worker::Worker;
use wiremock::MockServer;

use super::{Backend, TestApp};

impl TestApp {
    /// calbook sending through the Resend stand-in `server`, its own outbox worker on or off.
    pub async fn spawn_with_resend(backend: Backend, server: &MockServer, worker: bool) -> TestApp {
        TestApp::spawn_with_resend_and(backend, server, move |s| s.run_outbox_worker = worker).await
    }

    /// calbook sending through the Resend stand-in, after `configure` had its say.
    pub async fn spawn_with_resend_and(
        backend: Backend,
        server: &MockServer,
        configure: impl FnOnce(&mut calbook::config::Settings) + Send + 'static,
    ) -> TestApp {
        let uri = server.uri();
        TestApp::spawn_with(backend, move |s| {
            s.email.resend_api_key = Some("re_test_key".into());
            s.email.resend_base_url = Some(uri);
            s.email.from = Some("Acme Bookings <bookings@acme.example>".into());
            configure(s);
        })
        .await
    }

    /// An outbox worker driven by hand, with the app's own email settings.
    pub fn worker(&self) -> Worker {
        let pipeline = self.settings.email.build(&self.settings.data_dir).unwrap();
        Worker::new(
            self.store.clone(),
            pipeline.mailer,
            pipeline.renderer,
            pipeline.worker,
        )
    }

    /// Sends what is due now, once, with a worker driven by hand.
    pub async fn drain_outbox(&self) {
        self.worker()
            .run_once(calbook::time::now())
            .await
            .expect("the outbox worker runs");
    }
}

/// The owner's inbox for `CALBOOK_ALERT_EMAIL`: a Resend stand-in that accepts every email, and
/// the alerts addressed to [`AlertInbox::OWNER`] among them.
pub struct AlertInbox {
    /// The stand-in; give it to [`TestApp::spawn_with_resend_and`].
    pub resend: MockServer,
}

impl AlertInbox {
    /// The address the alerts go to; set `alert_email` to it.
    pub const OWNER: &'static str = "Owner <owner@example.com>";

    /// A Resend stand-in answering every `POST /emails` with 200.
    pub async fn start() -> AlertInbox {
        use wiremock::matchers::{method, path};
        use wiremock::{Mock, ResponseTemplate};
        let resend = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/emails"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": "re_a"})),
            )
            .mount(&resend)
            .await;
        AlertInbox { resend }
    }

    /// The bodies of the alerts received so far.
    pub async fn alerts(&self) -> Vec<String> {
        self.resend
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .filter(|body| body.contains("owner@example.com"))
            .collect()
    }

    /// Waits (up to 5 s) for a first alert, then `settle` more for any second one, and returns
    /// every alert received by then.
    pub async fn alerts_after_first(&self, settle: std::time::Duration) -> Vec<String> {
        for _ in 0..100 {
            if !self.alerts().await.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        tokio::time::sleep(settle).await;
        self.alerts().await
    }
}
