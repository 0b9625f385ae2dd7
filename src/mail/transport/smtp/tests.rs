use super::*;
use crate::mail::transport::mime::tests::{assert_full_mime, sample_email};
use mailin_embedded::{Handler, Response, Server, response};
use std::net::{IpAddr, TcpListener};
use std::sync::{Arc, Mutex};

/// Everything the sink saw, in order: `HELO <domain>`, `MAIL <from>`, `RCPT <to>`,
/// `DATA`, `AUTH …`, and complete messages.
#[derive(Clone, Default)]
struct Sink {
    commands: Arc<Mutex<Vec<String>>>,
    messages: Arc<Mutex<Vec<Vec<u8>>>>,
    current: Arc<Mutex<Vec<u8>>>,
}

impl Sink {
    fn log(&self, line: String) {
        self.commands.lock().unwrap().push(line);
    }
    fn commands(&self) -> Vec<String> {
        self.commands.lock().unwrap().clone()
    }
    fn messages(&self) -> Vec<String> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .map(|m| String::from_utf8(m.clone()).unwrap())
            .collect()
    }
}

impl Handler for Sink {
    fn helo(&mut self, _ip: IpAddr, domain: &str) -> Response {
        self.log(format!("HELO {domain}"));
        response::OK
    }
    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> Response {
        self.log(format!("MAIL {from}"));
        response::OK
    }
    fn rcpt(&mut self, to: &str) -> Response {
        self.log(format!("RCPT {to}"));
        response::OK
    }
    fn data_start(&mut self, _d: &str, _f: &str, _8bit: bool, _to: &[String]) -> Response {
        self.log("DATA".into());
        self.current.lock().unwrap().clear();
        response::OK
    }
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.lock().unwrap().extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> Response {
        let msg = std::mem::take(&mut *self.current.lock().unwrap());
        self.messages.lock().unwrap().push(msg);
        response::OK
    }
    fn auth_plain(&mut self, _z: &str, user: &str, _p: &str) -> Response {
        self.log(format!("AUTH PLAIN {user}"));
        response::INVALID_CREDENTIALS
    }
    fn auth_login(&mut self, user: &str, _p: &str) -> Response {
        self.log(format!("AUTH LOGIN {user}"));
        response::INVALID_CREDENTIALS
    }
}

/// A plain-text SMTP sink (no STARTTLS offered) on a free port, serving on a thread that
/// lives until the test process exits.
fn start_sink() -> (Sink, u16) {
    start_sink_with_threads(2)
}

/// [`start_sink`] serving `threads` sessions at once.
fn start_sink_with_threads(threads: u32) -> (Sink, u16) {
    let sink = Sink::default();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut server = Server::new(sink.clone());
    server
        .with_name("sink.test")
        .with_num_threads(threads)
        .with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    (sink, port)
}

#[tokio::test]
async fn consecutive_sends_reuse_one_pooled_connection() {
    let (sink, port) = start_sink();
    let mailer = SmtpMailer::from_url(
        &format!("smtp://127.0.0.1:{port}?tls=none"),
        Duration::from_secs(10),
    )
    .unwrap();
    for _ in 0..10 {
        mailer.send(&sample_email()).await.unwrap();
    }
    assert_eq!(sink.messages().len(), 10);
    let greetings = sink
        .commands()
        .iter()
        .filter(|c| c.starts_with("HELO"))
        .count();
    // lettre hands a used connection back to its pool in the background, so the second
    // send may still open a second one; after that they are reused.
    assert!(
        (1..=2).contains(&greetings),
        "10 emails over {greetings} SMTP sessions: pooled connections are reused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_share_the_small_pool_instead_of_reconnecting() {
    let (sink, port) = start_sink_with_threads(16);
    let mailer = SmtpMailer::from_url(
        &format!("smtp://127.0.0.1:{port}?tls=none"),
        Duration::from_secs(10),
    )
    .unwrap();
    let email = sample_email();
    let sends: Vec<_> = (0..40).map(|_| mailer.send(&email)).collect();
    for result in futures_util::future::join_all(sends).await {
        result.unwrap();
    }
    assert_eq!(sink.messages().len(), 40);
    let greetings = sink
        .commands()
        .iter()
        .filter(|c| c.starts_with("HELO"))
        .count();
    // At most POOL_SIZE sends at once; a connection handed back to the pool in the background
    // may make one of them open a spare, but not one session per email as without the bound.
    assert!(
        greetings <= 2 * POOL_SIZE,
        "40 concurrent emails over {greetings} SMTP sessions"
    );
}

#[tokio::test]
async fn plain_smtp_delivers_the_full_mime_message() {
    let (sink, port) = start_sink();
    let mailer = SmtpMailer::from_url(
        &format!("smtp://127.0.0.1:{port}?tls=none"),
        Duration::from_secs(10),
    )
    .unwrap();
    let sent = mailer.send(&sample_email()).await.unwrap();
    assert_eq!(sent.provider_id, None);

    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert_full_mime(&messages[0]);
    let commands = sink.commands();
    assert!(
        commands.contains(&"MAIL bookings@studio.example".to_owned()),
        "{commands:?}"
    );
    let rcpts: Vec<_> = commands.iter().filter(|c| c.starts_with("RCPT")).collect();
    assert_eq!(
        rcpts,
        vec!["RCPT marco@client.example"],
        "the envelope has one recipient"
    );
}

#[tokio::test]
async fn starttls_is_required_and_nothing_is_sent_without_it() {
    let (sink, port) = start_sink();
    let mailer = SmtpMailer::from_url(
        &format!("smtp://user:s3cret@127.0.0.1:{port}"),
        Duration::from_secs(10),
    )
    .unwrap();
    let got = mailer.send(&sample_email()).await;
    match &got {
        Err(SendError::Blocked { reason, .. }) => {
            assert!(reason.contains("STARTTLS"), "{reason}");
            assert!(!reason.contains("s3cret"), "{reason}");
        }
        other => panic!("expected Blocked, got {other:?}"),
    }
    let commands = sink.commands();
    assert!(
        commands.iter().any(|c| c.starts_with("HELO")),
        "the sink was reached: {commands:?}"
    );
    assert!(
        commands.iter().all(|c| c.starts_with("HELO")),
        "no AUTH, MAIL, RCPT or DATA: {commands:?}"
    );
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn implicit_tls_against_a_plain_server_is_blocked() {
    let (sink, port) = start_sink();
    let mailer = SmtpMailer::from_url(
        &format!("smtps://user:s3cret@127.0.0.1:{port}"),
        Duration::from_secs(5),
    )
    .unwrap();
    let got = mailer.send(&sample_email()).await;
    assert!(
        matches!(&got, Err(SendError::Blocked { reason, .. }) if !reason.contains("s3cret")),
        "{got:?}"
    );
    assert!(sink.messages().is_empty());
    assert!(
        !sink
            .commands()
            .iter()
            .any(|c| c.starts_with("MAIL") || c.starts_with("AUTH"))
    );
}

#[tokio::test]
async fn refused_connection_is_retryable() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mailer = SmtpMailer::from_url(
        &format!("smtp://127.0.0.1:{port}?tls=none"),
        Duration::from_secs(5),
    )
    .unwrap();
    let got = mailer.send(&sample_email()).await;
    assert!(matches!(got, Err(SendError::Retryable { .. })), "{got:?}");
}

#[test]
fn outside_a_runtime_is_an_error_not_a_panic() {
    let err = SmtpMailer::from_url("smtp://localhost?tls=none", Duration::from_secs(1));
    assert!(matches!(err, Err(TransportConfigError::NoTokioRuntime)));
}

#[tokio::test]
async fn urls_are_parsed_and_errors_hide_the_password() {
    let t = Duration::from_secs(3);
    let m = SmtpMailer::from_url("smtps://u:p@mail.example", t).unwrap();
    assert_eq!(m.target, "smtps://mail.example:465 (implicit TLS)");
    let m = SmtpMailer::from_url("smtp://u%40x:p%2Fw@mail.example", t).unwrap();
    assert_eq!(m.target, "smtp://mail.example:587 (STARTTLS required)");
    let m = SmtpMailer::from_url("smtp://localhost:2525?tls=none", t).unwrap();
    assert_eq!(m.target, "smtp://localhost:2525 (no TLS)");
    assert!(!format!("{m:?}").contains("p%2Fw"));

    for bad in [
        "http://u:hunter2@mail.example",
        "smtps://u:hunter2@mail.example?tls=none",
        "smtp://u:hunter2@mail.example?tls=opportunistic",
        "smtp://u:hunter2@mail.example?foo=bar",
        "smtp://:hunter2@mail.example",
        "smtp://u:hunter2%zz@mail.example",
        "smtp://u:hunter2@mail.example/path",
        "smtp://u:hunter2@",
        "smtp://u:hunter2@mail.example:99999",
        "not a url hunter2",
    ] {
        let err = SmtpMailer::from_url(bad, t).unwrap_err().to_string();
        assert!(!err.contains("hunter2"), "{bad}: {err}");
        assert!(err.contains("SMTP_URL"), "{bad}: {err}");
    }
}

#[test]
fn percent_decoding() {
    assert_eq!(percent_decode("p%40ss%2F%C3%BC").as_deref(), Some("p@ss/ü"));
    assert_eq!(percent_decode("%zz"), None);
    assert_eq!(percent_decode("%4"), None);
    assert_eq!(percent_decode("%FF"), None);
}
