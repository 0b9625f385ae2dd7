//! Native signed Cal.com webhook load generator: the same bodies, event mix, closed loop and
//! database check as `../shared/bench/loadgen/loadgen.py`, at a fraction of its CPU, and it also
//! records every acknowledged uid and checks that each one is stored exactly once (with the
//! history rows its events call for) and that nothing unacknowledged or badly signed was stored.
//!
//! ```text
//! calbook-loadgen run --url http://127.0.0.1:8080/api/webhooks/calcom --secret S -n 20000 -c 64 \
//!     [--warmup 2000] [--mix created=70,rescheduled=15,cancelled=10,duplicate=5] [--bad-signature 0.01]
//!     [--seed 7] [--timeout 30] [--verify-dsn sqlite://PATH | postgres://...] [--reschedule-model new-row]
//!     [--json-out FILE] [--label NAME]
//! calbook-loadgen trivial --bind 127.0.0.1:18999 [--threads 2]   # the ceiling: answers 200 `{}` to anything
//! ```
//!
//! One client thread drives all connections (a current-thread runtime), so the generator takes at
//! most one core and usually much less; its own CPU time is printed with the results.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("run") => run(Opts::parse(&args[1..])),
        Some("trivial") => trivial(&args[1..]),
        _ => {
            eprintln!(
                "usage: calbook-loadgen run --url URL --secret S [-n N] [-c C] ... | trivial --bind ADDR"
            );
            2
        }
    };
    std::process::exit(code);
}

// ---------------------------------------------------------------------------------------------
// options

struct Opts {
    url: String,
    secret: String,
    n: usize,
    c: usize,
    warmup: usize,
    mix: [f64; 4],
    bad_signature: f64,
    seed: u64,
    timeout: Duration,
    verify_dsn: Option<String>,
    new_row: bool,
    json_out: Option<String>,
    label: String,
}

impl Opts {
    fn parse(a: &[String]) -> Opts {
        let mut o = Opts {
            url: String::new(),
            secret: std::env::var("CALCOM_WEBHOOK_SECRET").unwrap_or_default(),
            n: 5000,
            c: 16,
            warmup: 0,
            mix: [1.0, 0.0, 0.0, 0.0],
            bad_signature: 0.0,
            // Like loadgen.py: a fresh uid prefix per run unless --seed is given.
            seed: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0x5eed, |d| d.as_nanos() as u64),
            timeout: Duration::from_secs(30),
            verify_dsn: None,
            new_row: false,
            json_out: None,
            label: "timed".into(),
        };
        let mut i = 0;
        let val = |i: usize| {
            a.get(i + 1)
                .cloned()
                .unwrap_or_else(|| die(&format!("{} needs a value", a[i])))
        };
        while i < a.len() {
            match a[i].as_str() {
                "--url" => o.url = val(i),
                "--secret" => o.secret = val(i),
                "-n" | "--requests" => o.n = val(i).parse().unwrap_or_else(|_| die("-n: a number")),
                "-c" | "--concurrency" => {
                    o.c = val(i).parse().unwrap_or_else(|_| die("-c: a number"))
                }
                "--warmup" => {
                    o.warmup = val(i).parse().unwrap_or_else(|_| die("--warmup: a number"))
                }
                "--mix" => o.mix = parse_mix(&val(i)),
                "--bad-signature" => {
                    o.bad_signature = val(i)
                        .parse()
                        .unwrap_or_else(|_| die("--bad-signature: a fraction"))
                }
                "--seed" => o.seed = val(i).parse().unwrap_or_else(|_| die("--seed: a number")),
                "--timeout" => {
                    o.timeout = Duration::from_secs_f64(
                        val(i).parse().unwrap_or_else(|_| die("--timeout: seconds")),
                    )
                }
                "--verify-dsn" => o.verify_dsn = Some(val(i)),
                "--reschedule-model" => {
                    o.new_row = match val(i).as_str() {
                        "new-row" => true,
                        "update" => false,
                        _ => die("--reschedule-model: update or new-row"),
                    }
                }
                "--json-out" => o.json_out = Some(val(i)),
                "--label" => o.label = val(i),
                // Bookings start here (Unix seconds, or `+SECS` from now) instead of 2026-03-02
                // 08:00Z, 30 minutes apart: e.g. future bookings whose reminders get planned.
                "--start" => {
                    let v = val(i);
                    let secs: i64 = match v.strip_prefix('+') {
                        Some(rel) => {
                            let now = std::time::SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .map_or(0, |d| d.as_secs() as i64);
                            now - now % 60
                                + rel.parse::<i64>().unwrap_or_else(|_| die("--start +SECS"))
                        }
                        None => v
                            .parse()
                            .unwrap_or_else(|_| die("--start: Unix seconds or +SECS")),
                    };
                    EPOCH.store(secs, Ordering::Relaxed);
                }
                other => die(&format!("unknown option {other}")),
            }
            i += 2;
        }
        if o.url.is_empty() {
            die("--url is required");
        }
        if o.secret.is_empty() {
            die("--secret (or CALCOM_WEBHOOK_SECRET) is required");
        }
        o
    }
}

fn die(msg: &str) -> ! {
    eprintln!("calbook-loadgen: {msg}");
    std::process::exit(2)
}

const KINDS: [&str; 4] = ["created", "rescheduled", "cancelled", "duplicate"];

fn parse_mix(s: &str) -> [f64; 4] {
    let mut mix = [0.0; 4];
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, "1"));
        let idx = KINDS
            .iter()
            .position(|x| *x == k)
            .unwrap_or_else(|| die(&format!("--mix: unknown kind {k}")));
        mix[idx] = v
            .parse()
            .unwrap_or_else(|_| die("--mix: weights are numbers"));
    }
    if mix.iter().sum::<f64>() <= 0.0 {
        die("--mix: all weights are zero");
    }
    mix
}

/// Largest-remainder split of `n` over the weights (as loadgen.py does).
fn split_counts(n: usize, mix: [f64; 4]) -> [usize; 4] {
    let total: f64 = mix.iter().sum();
    let raw: Vec<f64> = mix.iter().map(|v| n as f64 * v / total).collect();
    let mut counts = [0usize; 4];
    for (k, r) in raw.iter().enumerate() {
        counts[k] = r.floor() as usize;
    }
    let mut order: Vec<usize> = (0..4).collect();
    order.sort_by(|&a, &b| (raw[b] - counts[b] as f64).total_cmp(&(raw[a] - counts[a] as f64)));
    let missing = n - counts.iter().sum::<usize>();
    for &k in order.iter().take(missing) {
        counts[k] += 1;
    }
    counts
}

/// xorshift64*: deterministic for a seed, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

// ---------------------------------------------------------------------------------------------
// bodies, shaped like Cal.com's (about 2 KiB of compact JSON), as in loadgen.py

/// The first booking's start (Unix seconds): 2026-03-02T08:00:00Z as in loadgen.py, or `--start`.
static EPOCH: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1_772_438_400);

/// The epoch plus `minutes`, as `YYYY-MM-DDTHH:MM:SSZ`.
fn iso(minutes: i64) -> String {
    let epoch = EPOCH.load(Ordering::Relaxed);
    let t = epoch + minutes * 60;
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // days since 1970-01-01 to a civil date (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn payload(i: usize, uid: &str) -> Value {
    let start = 30 * i as i64;
    let (first, last) = (format!("Guest{i}"), "Example");
    let email = format!("guest{i}@example.com");
    let notes = "Would like to discuss the spring order.";
    json!({
        "bookerUrl": "https://cal.example.com",
        "title": format!("Intro Call between Dana Whitfield and {first} {last}"),
        "startTime": iso(start), "endTime": iso(start + 30),
        "additionalNotes": notes, "type": "intro-call", "description": "A short first conversation.",
        "eventTypeId": 42, "hideCalendarNotes": false, "hideCalendarEventDetails": false,
        "hideOrganizerEmail": false, "schedulingType": null, "seatsPerTimeSlot": null,
        "seatsShowAttendees": true, "seatsShowAvailabilityCount": true, "customReplyToEmail": null,
        "disableRescheduling": false, "disableCancelling": false,
        "organizer": {"id": 7, "name": "Dana Whitfield", "email": "dana@example.com", "username": "dana",
            "timeZone": "Europe/Berlin", "language": {"locale": "en"}, "timeFormat": "h:mma", "utcOffset": 60},
        "attendees": [{"email": email, "name": format!("{first} {last}"), "firstName": first, "lastName": last,
            "timeZone": "America/New_York", "language": {"locale": "en"}, "utcOffset": -240}],
        "customInputs": {},
        "responses": {
            "name": {"label": "your_name", "value": format!("{first} {last}"), "isHidden": false},
            "email": {"label": "email_address", "value": email, "isHidden": false},
            "location": {"label": "location", "value": {"optionValue": "", "value": "integrations:daily"}, "isHidden": false},
            "notes": {"label": "additional_notes", "value": notes, "isHidden": false},
            "guests": {"label": "additional_guests", "value": [], "isHidden": false}
        },
        "userFieldsResponses": {}, "location": "integrations:daily", "destinationCalendar": null,
        "iCalUID": format!("{uid}@cal.example.com"), "iCalSequence": 0, "uid": uid,
        "bookingId": 100_000 + i, "metadata": {"videoCallUrl": format!("https://cal.example.com/video/{uid}")},
        "status": "ACCEPTED", "smsReminderNumber": null, "eventTitle": "Intro Call",
        "eventDescription": "A short first conversation.", "price": 0, "currency": "usd", "length": 30
    })
}

fn envelope(trigger: &str, payload: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"triggerEvent": trigger, "createdAt": "2026-03-01T08:00:00.512Z", "payload": payload}))
        .expect("json")
}

struct Bodies {
    prefix: String,
    counter: u64,
}

impl Bodies {
    fn uid(&mut self) -> String {
        let mut n = self.counter;
        self.counter += 1;
        let mut digits = vec![0u8; 22 - self.prefix.len()];
        for d in digits.iter_mut().rev() {
            *d = ALPHABET[(n % 62) as usize];
            n /= 62;
        }
        format!(
            "{}{}",
            self.prefix,
            String::from_utf8(digits).expect("ascii")
        )
    }
    fn created(&mut self, i: usize) -> (String, Vec<u8>) {
        let uid = self.uid();
        let body = envelope("BOOKING_CREATED", payload(i, &uid));
        (uid, body)
    }
    fn rescheduled(&mut self, i: usize, old: &str) -> (String, Vec<u8>) {
        let uid = self.uid();
        let mut p = payload(i, &uid);
        let start = 30 * 24 * 60 + 30 * i as i64;
        p["startTime"] = json!(iso(start));
        p["endTime"] = json!(iso(start + 30));
        p["rescheduleUid"] = json!(old);
        p["rescheduled"] = json!(true);
        (uid, envelope("BOOKING_RESCHEDULED", p))
    }
    fn cancelled(&mut self, i: usize, uid: &str) -> Vec<u8> {
        let mut p = payload(i, uid);
        p["status"] = json!("CANCELLED");
        p["cancellationReason"] = json!("Load test cancellation");
        p["cancelledBy"] = json!("dana@example.com");
        envelope("BOOKING_CANCELLED", p)
    }
}

/// One request to send: the bytes, and what it does to which uid (for the exactly-once check).
struct Req {
    bytes: Vec<u8>,
    kind: Kind,
    /// The uid the request stores (created, rescheduled) or changes (cancelled, duplicate).
    uid: String,
    /// For a reschedule: the uid it replaces.
    old: Option<String>,
    /// Signed with a wrong key: must get 401 and change nothing.
    bad: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Created,
    Rescheduled,
    Cancelled,
    Duplicate,
}

struct Target {
    addr: String,
    host_header: String,
    path: String,
}

fn target(url: &str) -> Target {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| die("only http:// URLs"));
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let addr = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:80")
    };
    Target {
        addr,
        host_header: host.to_owned(),
        path,
    }
}

fn request(t: &Target, key: &[u8], body: &[u8]) -> Vec<u8> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("hmac key");
    mac.update(body);
    let sig = hex::encode(mac.finalize().into_bytes());
    let mut r = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nx-cal-signature-256: {sig}\r\n\r\n",
        t.path, t.host_header, body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 keep-alive client, closed loop

/// Reads one response; returns (status, connection closes).
async fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<(u16, bool)> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if read_more(s, buf).await? == 0 {
            return Err(bad("connection closed"));
        }
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| bad("head not utf-8"))?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|x| x.parse().ok())
        .ok_or_else(|| bad("status"))?;
    let (mut len, mut chunked, mut close) = (None, false, false);
    for line in head.split("\r\n").skip(1) {
        if let Some((k, v)) = line.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_ascii_lowercase());
            match k.as_str() {
                "content-length" => len = v.parse::<usize>().ok(),
                "transfer-encoding" => chunked = v.contains("chunked"),
                "connection" => close = v == "close",
                _ => {}
            }
        }
    }
    buf.drain(..head_end);
    if let Some(len) = len {
        while buf.len() < len {
            if read_more(s, buf).await? == 0 {
                return Err(bad("short body"));
            }
        }
        buf.drain(..len);
    } else if chunked {
        loop {
            let line_end = loop {
                if let Some(p) = buf.windows(2).position(|w| w == b"\r\n") {
                    break p;
                }
                if read_more(s, buf).await? == 0 {
                    return Err(bad("short chunk"));
                }
            };
            let size = usize::from_str_radix(
                std::str::from_utf8(&buf[..line_end])
                    .map_err(|_| bad("chunk"))?
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim(),
                16,
            )
            .map_err(|_| bad("chunk size"))?;
            while buf.len() < line_end + 2 + size + 2 {
                if read_more(s, buf).await? == 0 {
                    return Err(bad("short chunk"));
                }
            }
            buf.drain(..line_end + 2 + size + 2);
            if size == 0 {
                break;
            }
        }
    } else {
        while read_more(s, buf).await? > 0 {}
        buf.clear();
        return Ok((status, true));
    }
    Ok((status, close))
}

async fn read_more(s: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut tmp = [0u8; 8192];
    let n = s.read(&mut tmp).await?;
    buf.extend_from_slice(&tmp[..n]);
    Ok(n)
}

/// What one phase measured.
struct Phase {
    name: String,
    lat_us: Vec<u32>,
    /// Per request: the status, or 0 for a transport error.
    status: Vec<u16>,
    errors: HashMap<String, usize>,
    wall: Duration,
}

async fn send_all(
    addr: &str,
    reqs: Arc<Vec<Req>>,
    order: Arc<Vec<usize>>,
    conns: usize,
    timeout: Duration,
) -> (Vec<u32>, Vec<u16>, HashMap<String, usize>, Duration) {
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conns.clamp(1, order.len().max(1)) {
        let (reqs, order, next, addr) =
            (reqs.clone(), order.clone(), next.clone(), addr.to_owned());
        tasks.push(tokio::task::spawn_local(async move {
            let mut out: Vec<(usize, u16, u32)> = Vec::new();
            let mut errs: HashMap<String, usize> = HashMap::new();
            let mut conn: Option<TcpStream> = None;
            let mut buf = Vec::with_capacity(16 * 1024);
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&idx) = order.get(k) else { break };
                let r = &reqs[idx];
                let attempt = async {
                    if conn.is_none() {
                        let s = TcpStream::connect(&addr).await?;
                        s.set_nodelay(true)?;
                        conn = Some(s);
                        buf.clear();
                    }
                    let s = conn.as_mut().expect("connected");
                    let t = Instant::now();
                    s.write_all(&r.bytes).await?;
                    let (status, close) = read_response(s, &mut buf).await?;
                    Ok::<_, std::io::Error>((status, close, t.elapsed()))
                };
                match tokio::time::timeout(timeout, attempt).await {
                    Ok(Ok((status, close, el))) => {
                        out.push((idx, status, el.as_micros().min(u32::MAX as u128) as u32));
                        if close {
                            conn = None;
                        }
                    }
                    Ok(Err(e)) => {
                        *errs.entry(format!("{:?}", e.kind())).or_default() += 1;
                        out.push((idx, 0, u32::MAX));
                        conn = None;
                    }
                    Err(_) => {
                        *errs.entry("Timeout".into()).or_default() += 1;
                        out.push((idx, 0, u32::MAX));
                        conn = None;
                    }
                }
            }
            (out, errs)
        }));
    }
    let mut status = vec![0u16; reqs.len()];
    let mut lat = Vec::with_capacity(order.len());
    let mut errors: HashMap<String, usize> = HashMap::new();
    for t in tasks {
        let (out, errs) = t.await.expect("connection task");
        for (idx, st, us) in out {
            status[idx] = st;
            if st != 0 {
                lat.push(us);
            }
        }
        for (k, v) in errs {
            *errors.entry(k).or_default() += v;
        }
    }
    let wall = t0.elapsed();
    (lat, status, errors, wall)
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let k = ((p / 100.0 * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    f64::from(sorted[k]) / 1000.0
}

impl Phase {
    fn summary(&self) -> Value {
        let mut s = self.lat_us.clone();
        s.sort_unstable();
        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
        for &st in &self.status {
            if st != 0 {
                *counts.entry(st.to_string()).or_default() += 1;
            }
        }
        let ok = self
            .status
            .iter()
            .filter(|s| (200..300).contains(*s))
            .count();
        let answered = self.status.iter().filter(|s| **s != 0).count();
        let transport: usize = self.errors.values().sum();
        let mean = if s.is_empty() {
            f64::NAN
        } else {
            s.iter().map(|&x| f64::from(x)).sum::<f64>() / s.len() as f64 / 1000.0
        };
        json!({
            "phase": self.name, "requests": self.status.len(), "ok_2xx": ok, "non_2xx": answered - ok,
            "transport_errors": transport, "status_counts": counts, "error_kinds": self.errors,
            "wall_s": (self.wall.as_secs_f64() * 1e4).round() / 1e4,
            "throughput_rps": ((answered as f64 / self.wall.as_secs_f64()) * 10.0).round() / 10.0,
            "latency_ms": {"mean": mean, "p50": pct(&s, 50.0), "p90": pct(&s, 90.0), "p99": pct(&s, 99.0),
                "p999": pct(&s, 99.9), "max": s.last().map_or(f64::NAN, |&x| f64::from(x) / 1000.0)},
            "errors": answered - ok + transport
        })
    }
}

/// CPU seconds this process has used (user + system), from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |x| x.1);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    // fields after ")" start at index 0 = state; utime is field 14 of the line = index 11 here
    (ticks(11) + ticks(12)) / 100.0
}

// ---------------------------------------------------------------------------------------------
// database check

/// Runs a query with psql or sqlite3 and returns its rows, fields separated by '|'.
fn query(dsn: &str, sql: &str) -> Vec<Vec<String>> {
    let out = if dsn.starts_with("postgres://") || dsn.starts_with("postgresql://") {
        std::process::Command::new("psql")
            .args([dsn, "-X", "-qAt", "-F", "|", "-c", sql])
            .output()
    } else {
        let path = dsn.trim_start_matches("sqlite://");
        let path = path.split('?').next().unwrap_or(path);
        std::process::Command::new("sqlite3")
            .args([
                "-readonly",
                "-separator",
                "|",
                "-cmd",
                ".timeout 30000",
                path,
                sql,
            ])
            .output()
    }
    .unwrap_or_else(|e| die(&format!("running the database client: {e}")));
    if !out.status.success() {
        die(&format!(
            "database query failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split('|').map(str::to_owned).collect())
        .collect()
}

fn db_counts(dsn: &str) -> [i64; 3] {
    let r = query(
        dsn,
        "SELECT (SELECT count(*) FROM bookings), (SELECT count(*) FROM booking_history), \
         (SELECT count(*) FROM bookings WHERE status = 'cancelled')",
    );
    let row = r.first().unwrap_or_else(|| die("no counts"));
    let n = |i: usize| {
        row.get(i)
            .and_then(|x| x.parse().ok())
            .unwrap_or_else(|| die("bad count"))
    };
    [n(0), n(1), n(2)]
}

// ---------------------------------------------------------------------------------------------

fn run(o: Opts) -> i32 {
    let t = target(&o.url);
    let key = o.secret.as_bytes().to_vec();
    let wrong_key = [key.as_slice(), b"-wrong"].concat();
    let mut rng = Rng(o.seed.max(1));
    let prefix: String = (0..8).map(|_| ALPHABET[rng.below(62)] as char).collect();
    let mut b = Bodies {
        prefix: prefix.clone(),
        counter: 0,
    };
    let counts = split_counts(o.n, o.mix);
    let n_prep = counts[1] + counts[2] + counts[3];

    // Build and sign everything before the clock starts.
    let mut i = 0usize;
    let mut warm = Vec::with_capacity(o.warmup);
    for _ in 0..o.warmup {
        let (uid, body) = b.created(i);
        i += 1;
        warm.push(Req {
            bytes: request(&t, &key, &body),
            kind: Kind::Created,
            uid,
            old: None,
            bad: false,
        });
    }
    let mut prep = Vec::with_capacity(n_prep);
    let mut prep_bodies = Vec::with_capacity(n_prep);
    for _ in 0..n_prep {
        let (uid, body) = b.created(i);
        i += 1;
        prep.push(Req {
            bytes: request(&t, &key, &body),
            kind: Kind::Created,
            uid,
            old: None,
            bad: false,
        });
        prep_bodies.push(body);
    }
    let mut timed: Vec<(Kind, String, Option<String>, Vec<u8>)> = Vec::with_capacity(o.n);
    for _ in 0..counts[0] {
        let (uid, body) = b.created(i);
        i += 1;
        timed.push((Kind::Created, uid, None, body));
    }
    let mut k = 0;
    for _ in 0..counts[1] {
        let (uid, body) = b.rescheduled(i, &prep[k].uid);
        i += 1;
        timed.push((Kind::Rescheduled, uid, Some(prep[k].uid.clone()), body));
        k += 1;
    }
    for _ in 0..counts[2] {
        let body = b.cancelled(i, &prep[k].uid);
        i += 1;
        timed.push((Kind::Cancelled, prep[k].uid.clone(), None, body));
        k += 1;
    }
    for _ in 0..counts[3] {
        timed.push((
            Kind::Duplicate,
            prep[k].uid.clone(),
            None,
            prep_bodies[k].clone(),
        ));
        k += 1;
    }
    for j in (1..timed.len()).rev() {
        timed.swap(j, rng.below(j + 1));
    }
    let n_bad = (o.bad_signature * timed.len() as f64).round() as usize;
    let mut bad = vec![false; timed.len()];
    let mut placed = 0;
    while placed < n_bad {
        let j = rng.below(timed.len());
        if !bad[j] {
            bad[j] = true;
            placed += 1;
        }
    }
    let timed: Vec<Req> = timed
        .into_iter()
        .zip(&bad)
        .map(|((kind, uid, old, body), &bad)| Req {
            bytes: request(&t, if bad { &wrong_key } else { &key }, &body),
            kind,
            uid,
            old,
            bad,
        })
        .collect();
    let avg_body =
        timed.iter().map(|r| r.bytes.len()).sum::<usize>() as f64 / timed.len().max(1) as f64;

    let before = o.verify_dsn.as_deref().map(db_counts);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    let mut phases = Vec::new();
    let mut all: Vec<(String, Arc<Vec<Req>>, Vec<u16>)> = Vec::new();
    for (name, reqs) in [
        ("warmup", warm),
        ("prepare", prep),
        (o.label.as_str(), timed),
    ] {
        if reqs.is_empty() {
            continue;
        }
        let reqs = Arc::new(reqs);
        let order: Arc<Vec<usize>> = Arc::new((0..reqs.len()).collect());
        let timed_phase = name == o.label;
        let c0 = cpu_seconds();
        let (lat_us, status, errors, wall) =
            local.block_on(&rt, send_all(&t.addr, reqs.clone(), order, o.c, o.timeout));
        let cpu = cpu_seconds() - c0;
        let p = Phase {
            name: name.to_owned(),
            lat_us,
            status: status.clone(),
            errors,
            wall,
        };
        let mut s = p.summary();
        s["client_cpu_s"] = json!(cpu);
        s["client_cpu_pct_of_core"] = json!((cpu / wall.as_secs_f64() * 1000.0).round() / 10.0);
        if timed_phase && n_bad > 0 {
            s["expected_401"] = json!(n_bad);
        }
        phases.push(s);
        all.push((name.to_owned(), reqs, status));
    }

    // Exit status: every request 2xx except the badly signed ones (which must be 401).
    let mut ok = true;
    let mut problems: Vec<String> = Vec::new();
    for (name, reqs, status) in &all {
        for (r, &st) in reqs.iter().zip(status) {
            let good = if r.bad {
                st == 401
            } else {
                (200..300).contains(&st)
            };
            if !good {
                ok = false;
                if problems.len() < 10 {
                    problems.push(format!(
                        "{name}: {:?} {} got {}",
                        r.kind,
                        r.uid,
                        if st == 0 {
                            "a transport error".into()
                        } else {
                            st.to_string()
                        }
                    ));
                }
            }
        }
    }

    let mut result = json!({
        "generator": "calbook-loadgen (native)", "url": o.url, "requests": o.n, "concurrency": o.c,
        "mix": {"created": counts[0], "rescheduled": counts[1], "cancelled": counts[2], "duplicate": counts[3]},
        "bad_signature": n_bad, "prepared_bookings": n_prep, "uid_prefix": prefix,
        "avg_request_bytes": avg_body.round(), "phases": phases,
    });

    if let (Some(dsn), Some(before)) = (o.verify_dsn.as_deref(), before) {
        // Row counts, as loadgen.py checks them.
        let after = db_counts(dsn);
        let eff = |kind: Kind| {
            all.iter()
                .flat_map(|(_, r, _)| r.iter())
                .filter(|r| r.kind == kind && !r.bad)
                .count() as i64
        };
        let created_total = eff(Kind::Created);
        let (resch, canc) = (eff(Kind::Rescheduled), eff(Kind::Cancelled));
        let expected = [
            created_total + if o.new_row { resch } else { 0 },
            created_total + resch * if o.new_row { 2 } else { 1 } + canc,
            canc,
        ];
        let delta = [
            after[0] - before[0],
            after[1] - before[1],
            after[2] - before[2],
        ];
        let counts_match = delta == expected;
        ok &= counts_match;

        // Every acknowledged uid, stored exactly once, with the history its events call for;
        // nothing else of this run stored.
        let mut want: HashMap<String, i64> = HashMap::new(); // uid -> expected history rows
        let mut unacked_ok: HashMap<String, ()> = HashMap::new();
        for (_, reqs, status) in &all {
            for (r, &st) in reqs.iter().zip(status) {
                let acked = (200..300).contains(&st);
                match (r.kind, r.bad, acked) {
                    (_, true, _) => {}
                    (Kind::Created, false, true) => *want.entry(r.uid.clone()).or_default() += 1,
                    (Kind::Rescheduled, false, true) => {
                        if o.new_row {
                            *want.entry(r.uid.clone()).or_default() += 1;
                        }
                        *want.entry(r.old.clone().unwrap_or_default()).or_default() += 1;
                    }
                    (Kind::Cancelled, false, true) => *want.entry(r.uid.clone()).or_default() += 1,
                    (Kind::Duplicate, false, true) => {}
                    (_, false, false) => {
                        unacked_ok.insert(r.uid.clone(), ());
                    }
                }
            }
        }
        let rows = query(
            dsn,
            &format!(
                "SELECT b.external_id, (SELECT count(*) FROM booking_history h WHERE h.booking_id = b.id) \
                 FROM bookings b WHERE b.external_id LIKE '{prefix}%'"
            ),
        );
        let mut seen: HashMap<String, (usize, i64)> = HashMap::new();
        for r in &rows {
            let e = seen.entry(r[0].clone()).or_default();
            e.0 += 1;
            e.1 = r.get(1).and_then(|x| x.parse().ok()).unwrap_or(-1);
        }
        let (mut missing, mut twice, mut wrong_history, mut unexpected) =
            (0usize, 0usize, 0usize, 0usize);
        for (uid, hist) in &want {
            match seen.get(uid) {
                None => missing += 1,
                Some((n, _)) if *n != 1 => twice += 1,
                Some((_, h)) if h != hist => wrong_history += 1,
                _ => {}
            }
        }
        for uid in seen.keys() {
            if !want.contains_key(uid) && !unacked_ok.contains_key(uid) {
                unexpected += 1;
            }
        }
        let uids_ok = missing == 0 && twice == 0 && wrong_history == 0 && unexpected == 0;
        ok &= uids_ok;
        result["db"] = json!({
            "before": before, "after": after, "delta": delta, "expected_delta": expected, "match": counts_match,
            "acknowledged_uids": want.len(), "stored_uids": seen.len(), "missing": missing, "stored_twice": twice,
            "wrong_history": wrong_history, "stored_but_never_acknowledged": unexpected, "uids_exactly_once": uids_ok
        });
    }
    result["ok"] = json!(ok);

    let mut out = std::io::stdout().lock();
    for p in result["phases"].as_array().expect("phases") {
        let l = &p["latency_ms"];
        let _ = writeln!(
            out,
            "[{}] {} req in {:.2}s = {} req/s | p50 {:.3} ms p90 {:.3} ms p99 {:.3} ms max {:.3} ms | errors {} (status {}, transport {}) | client CPU {}% of a core",
            p["phase"].as_str().unwrap_or(""),
            p["requests"],
            p["wall_s"].as_f64().unwrap_or(0.0),
            p["throughput_rps"],
            l["p50"].as_f64().unwrap_or(f64::NAN),
            l["p90"].as_f64().unwrap_or(f64::NAN),
            l["p99"].as_f64().unwrap_or(f64::NAN),
            l["max"].as_f64().unwrap_or(f64::NAN),
            p["errors"],
            p["status_counts"],
            p["error_kinds"],
            p["client_cpu_pct_of_core"]
        );
    }
    let _ = writeln!(
        out,
        "mix {}, prepared {n_prep}, bad signatures {n_bad}, avg request {avg_body:.0} B, c={}",
        result["mix"], o.c
    );
    if let Some(d) = result.get("db") {
        let _ = writeln!(
            out,
            "db delta {} expected {} -> {}; uids: {} acknowledged, {} stored, missing {}, stored twice {}, wrong history {}, stored but never acknowledged {} -> {}",
            d["delta"],
            d["expected_delta"],
            if d["match"] == json!(true) {
                "MATCH"
            } else {
                "MISMATCH"
            },
            d["acknowledged_uids"],
            d["stored_uids"],
            d["missing"],
            d["stored_twice"],
            d["wrong_history"],
            d["stored_but_never_acknowledged"],
            if d["uids_exactly_once"] == json!(true) {
                "EXACTLY ONCE"
            } else {
                "NOT EXACTLY ONCE"
            }
        );
    }
    for p in &problems {
        let _ = writeln!(out, "  {p}");
    }
    let _ = writeln!(out, "{}", if ok { "OK" } else { "FAILED" });
    if let Some(path) = &o.json_out {
        std::fs::write(path, serde_json::to_vec_pretty(&result).expect("json"))
            .unwrap_or_else(|e| die(&format!("{path}: {e}")));
    }
    if ok { 0 } else { 1 }
}

// ---------------------------------------------------------------------------------------------
// the trivial endpoint: reads each request (headers and Content-Length body) and answers 200 `{}`

fn trivial(a: &[String]) -> i32 {
    let mut bind = "127.0.0.1:18999".to_owned();
    let mut threads = 2usize;
    let mut i = 0;
    while i < a.len() {
        match a[i].as_str() {
            "--bind" => bind = a.get(i + 1).cloned().unwrap_or_else(|| die("--bind ADDR")),
            "--threads" => {
                threads = a
                    .get(i + 1)
                    .and_then(|x| x.parse().ok())
                    .unwrap_or_else(|| die("--threads N"))
            }
            o => die(&format!("unknown option {o}")),
        }
        i += 2;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let l = TcpListener::bind(&bind).await.unwrap_or_else(|e| die(&format!("{bind}: {e}")));
        loop {
            let Ok((mut s, _)) = l.accept().await else { continue };
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = Vec::with_capacity(8192);
                loop {
                    let head_end = loop {
                        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break p + 4;
                        }
                        match read_more(&mut s, &mut buf).await {
                            Ok(n) if n > 0 => {}
                            _ => return,
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                    let len = head
                        .split("\r\n")
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        match read_more(&mut s, &mut buf).await {
                            Ok(n) if n > 0 => {}
                            _ => return,
                        }
                    }
                    buf.drain(..head_end + len);
                    if s
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}")
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    0
}
