#!/usr/bin/env bash
# Email benchmark: created events at full load while the outbox worker drains the confirmations
# into ../shared/bench/seed-node/mock-resend/server.mjs. Reports webhook req/s, emails/s, the lag
# from booking to sent, and checks that the mock counted every email exactly once.
#
#   bench/email.sh                     # SQLite, mock latency 0 and 50 ms, then the reminder burst
#   LATENCIES="50" N=5000 BURST=0 bench/email.sh
#   LATENCIES= BURST=1 bench/email.sh  # only the burst
#
# The burst: BURST_N (1,000) bookings whose 1 h reminders all fall due in the same minute, sent
# through bench/resend_standin.py, which enforces Resend's default 5 requests a second with 429s.
# Reports when the last reminder was accepted relative to the due time, how many requests went
# out (batches of up to 100), the 429s, and checks that every reminder was accepted exactly once.
#
# Needs python3 and node. Everything listens on 127.0.0.1; every run is bounded by N.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
LOADGEN=${LOADGEN:-$ROOT/../shared/bench/loadgen}
MOCK=${MOCK:-$ROOT/../shared/bench/seed-node/mock-resend/server.mjs}
N=${N:-10000}
WARMUP=${WARMUP:-1000}
C=${C:-64}
LATENCIES=${LATENCIES-"0 50"}
BURST=${BURST:-1}
BURST_N=${BURST_N:-1000}
BURST_RATE=${BURST_RATE:-5}
PORT=${PORT:-18191}
MOCK_PORT=$((PORT + 1))
SECRET=bench-secret-$(date +%s)
OUT=$ROOT/bench/out
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/calbook-email-bench.XXXXXX)
BIN=$ROOT/target/release/calbook
CB_PID=""; MOCK_PID=""; STANDIN_PID=""
cleanup() {
  [ -n "$CB_PID" ] && kill "$CB_PID" 2>/dev/null && wait "$CB_PID" 2>/dev/null || true
  [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null || true
  [ -n "$STANDIN_PID" ] && kill "$STANDIN_PID" 2>/dev/null && wait "$STANDIN_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

cargo build --release --locked 2>&1 | tail -1
echo "machine: $(nproc) cores, $(free -m | awk '/Mem:/{print $2}') MiB, $(uname -r)"
RESEND_MOCK_PORT=$MOCK_PORT node "$MOCK" >"$WORK/mock.log" 2>&1 &
MOCK_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$MOCK_PORT/stats" >/dev/null && break; sleep 0.05; done

for latency in $LATENCIES; do
  echo "== mock latency ${latency} ms"
  curl -sf -X POST "http://127.0.0.1:$MOCK_PORT/config?latencyMs=$latency" >/dev/null
  curl -sf -X POST "http://127.0.0.1:$MOCK_PORT/stats/reset" >/dev/null
  rm -rf "$WORK/data"
  # One confirmation per booking (reminders are in the future and would not be due anyway).
  CALCOM_WEBHOOK_SECRET=$SECRET RUST_LOG=warn CALBOOK_DATA_DIR=$WORK/data \
    RESEND_API_KEY=re_bench RESEND_BASE_URL=http://127.0.0.1:$MOCK_PORT \
    EMAIL_FROM="Bench <bench@example.com>" EMAIL_KINDS=confirmation REMINDER_OFFSETS= \
    "$BIN" serve --bind 127.0.0.1:$PORT >"$WORK/calbook.log" 2>&1 &
  CB_PID=$!
  for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
  expected=$((N + WARMUP))
  start=$(date +%s.%N)
  python3 "$LOADGEN/loadgen.py" --url "http://127.0.0.1:$PORT/api/webhooks/calcom" --secret "$SECRET" \
    -n "$N" -c "$C" --warmup "$WARMUP" --verify-dsn "sqlite://$WORK/data/calbook.db" \
    --json-out "$OUT/email-l$latency.json" | tee "$OUT/email-l$latency.txt" | grep -E "timed|MATCH|OK|FAILED"
  webhooks_done=$(date +%s.%N)
  for _ in $(seq 1 1200); do
    got=$(curl -sf "http://127.0.0.1:$MOCK_PORT/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["emails"])')
    [ "$got" -ge "$expected" ] && break
    sleep 0.1
  done
  done_at=$(date +%s.%N)
  sleep 1
  got=$(curl -sf "http://127.0.0.1:$MOCK_PORT/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["emails"])')
  python3 - "$WORK/data/calbook.db" "$start" "$webhooks_done" "$done_at" "$expected" "$got" "$latency" <<'PY' | tee -a "$OUT/email-l$latency.txt"
import sqlite3, sys
from datetime import datetime
db, start, hooks, done, expected, got, latency = sys.argv[1], *map(float, sys.argv[2:5]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
rows = con.execute("SELECT created_at, sent_at FROM email_outbox WHERE state = 'sent'").fetchall()
states = dict(con.execute("SELECT state, count(*) FROM email_outbox GROUP BY state").fetchall())
ts = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
lags = sorted(ts(b) - ts(a) for a, b in rows)
pct = lambda p: lags[min(len(lags) - 1, int(p / 100 * len(lags)))] * 1000 if lags else float("nan")
span = done - start
print(f"latency {latency} ms: {got} emails counted by the mock (expected {expected}, exactly once: {got == expected}), outbox states {states}")
print(f"emails/s over the whole run (first webhook to last email): {got / span:.0f}; drain after the last webhook: {done - hooks:.2f} s")
print(f"lag booking -> sent: p50 {pct(50):.0f} ms, p90 {pct(90):.0f} ms, p99 {pct(99):.0f} ms, max {pct(100):.0f} ms")
PY
  kill "$CB_PID"; wait "$CB_PID" 2>/dev/null || true; CB_PID=""
done

[ "$BURST" = 1 ] || exit 0
echo "== reminder burst: $BURST_N reminders due in the same minute, stand-in at $BURST_RATE requests/s"
STANDIN_PORT=$((PORT + 2))
python3 "$ROOT/bench/resend_standin.py" --port $STANDIN_PORT --rate "$BURST_RATE" &
STANDIN_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$STANDIN_PORT/stats" >/dev/null && break; sleep 0.05; done
rm -rf "$WORK/data"
CALCOM_WEBHOOK_SECRET=$SECRET RUST_LOG=warn CALBOOK_DATA_DIR=$WORK/data \
  RESEND_API_KEY=re_bench RESEND_BASE_URL=http://127.0.0.1:$STANDIN_PORT \
  EMAIL_FROM="Bench <bench@example.com>" EMAIL_KINDS=reminder REMINDER_OFFSETS=1h \
  "$BIN" serve --bind 127.0.0.1:$PORT >"$WORK/calbook.log" 2>&1 &
CB_PID=$!
for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
python3 - "$LOADGEN" "$PORT" "$SECRET" "$STANDIN_PORT" "$BURST_N" <<'PY' | tee "$OUT/email-burst.txt"
import hashlib, hmac, http.client, json, sys, time
from datetime import datetime, timedelta, timezone
sys.path.insert(0, sys.argv[1])
from loadgen import Bodies
port, secret, standin, n = int(sys.argv[2]), sys.argv[3].encode(), int(sys.argv[4]), int(sys.argv[5])
now = datetime.now(timezone.utc)
due = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
if (due - now).total_seconds() < 20:  # leave time to deliver the bookings first
    due += timedelta(minutes=1)
start = due + timedelta(hours=1)
iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
b = Bodies(None, "Burst" + hex(int(time.time()))[-3:])
c = http.client.HTTPConnection("127.0.0.1", port)
t0 = time.time()
for i in range(n):
    uid = b.uid()
    p = b.payload(i, uid)
    p.update(startTime=iso(start), endTime=iso(start + timedelta(minutes=30)))
    body = Bodies.envelope("BOOKING_CREATED", p)
    c.request("POST", "/api/webhooks/calcom", body, {"content-type": "application/json",
              "x-cal-signature-256": hmac.new(secret, body, hashlib.sha256).hexdigest()})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
print(f"{n} bookings starting {iso(start)} delivered in {time.time() - t0:.1f} s; reminders due {iso(due)} "
      f"({(due - datetime.now(timezone.utc)).total_seconds():.0f} s from now)")
deadline = due.timestamp() + 180
s = {}
while time.time() < deadline:
    hc = http.client.HTTPConnection("127.0.0.1", standin); hc.request("GET", "/stats"); s = json.loads(hc.getresponse().read())
    if s["emails"] >= n:
        break
    time.sleep(0.2)
time.sleep(1.5)
hc = http.client.HTTPConnection("127.0.0.1", standin); hc.request("GET", "/stats"); s = json.loads(hc.getresponse().read())
times = sorted(t for _, _, t in s["accepted"])
late = [t - due.timestamp() for t in times]
ok = s["emails"] == n and s["twice"] == 0 and len(s["accepted"]) == n and late and late[-1] <= 60
print(f"accepted {s['emails']} of {n} reminders, {s['twice']} twice; requests {s['requests']} "
      f"(batches {s['batches']}, single {s['singles']}, 429s {s['refused']}, idempotent replays {s['replays']})")
if late:
    print(f"first accepted {late[0]:.2f} s after the due time, last {late[-1]:.2f} s after (target: all within 60 s)")
print("OK" if ok else "FAILED")
PY
kill "$CB_PID"; wait "$CB_PID" 2>/dev/null || true; CB_PID=""
