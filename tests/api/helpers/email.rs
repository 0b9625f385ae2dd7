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
