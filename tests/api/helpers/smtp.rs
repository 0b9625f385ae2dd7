//! A real SMTP server standing in for the business's mail relay: plain text on a loopback port
//! (`smtp://127.0.0.1:<port>?tls=none`), keeping every envelope recipient and message it accepts.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use mailin_embedded::{Handler, Response, Server, response};

use super::{Backend, TestApp};

/// What the sink accepted, in order. Clones share the same record.
#[derive(Clone, Default)]
pub struct SmtpSink {
    recipients: Arc<Mutex<Vec<String>>>,
    messages: Arc<Mutex<Vec<String>>>,
    current: Arc<Mutex<Vec<u8>>>,
}

impl SmtpSink {
    /// Starts the sink on a free loopback port, on a thread that lives until the test process
    /// exits; returns it with the `SMTP_URL` that reaches it.
    pub fn start() -> (SmtpSink, String) {
        let sink = SmtpSink::default();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut server = Server::new(sink.clone());
        server
            .with_name("sink.test")
            .with_num_threads(2)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        (sink, format!("smtp://127.0.0.1:{port}?tls=none"))
    }

    /// Every `RCPT TO` address, in order.
    pub fn recipients(&self) -> Vec<String> {
        self.recipients.lock().unwrap().clone()
    }

    /// Every complete message (headers and MIME body), in order.
    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }
}

impl Handler for SmtpSink {
    fn rcpt(&mut self, to: &str) -> Response {
        self.recipients.lock().unwrap().push(to.to_owned());
        response::OK
    }
    fn data_start(&mut self, _d: &str, _f: &str, _8bit: bool, _to: &[String]) -> Response {
        self.current.lock().unwrap().clear();
        response::OK
    }
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.lock().unwrap().extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> Response {
        let msg = std::mem::take(&mut *self.current.lock().unwrap());
        self.messages
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(&msg).into_owned());
        response::OK
    }
}

impl TestApp {
    /// calbook sending through an [`SmtpSink`] (its outbox driven by hand), and the sink.
    pub async fn spawn_with_smtp(backend: Backend) -> (TestApp, SmtpSink) {
        let (sink, url) = SmtpSink::start();
        let app = TestApp::spawn_with(backend, move |s| {
            s.email.smtp_url = Some(url);
            s.email.from = Some("Acme Bookings <bookings@acme.example>".into());
        })
        .await;
        (app, sink)
    }
}
