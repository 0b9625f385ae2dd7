#!/usr/bin/env bash
# Email benchmark: created events at full load while the outbox worker drains the confirmations
# into ../shared/bench/seed-node/mock-resend/server.mjs. Reports webhook req/s, emails/s, the lag
# from booking to sent, and checks that the mock counted every email exactly once.
#
#   bench/email.sh                     # SQLite, mock latency 0 and 50 ms
#   LATENCIES="50" N=5000 bench/email.sh
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
LATENCIES=${LATENCIES:-"0 50"}
PORT=${PORT:-18191}
MOCK_PORT=$((PORT + 1))
SECRET=bench-secret-$(date +%s)
OUT=$ROOT/bench/out
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/calbook-email-bench.XXXXXX)
BIN=$ROOT/target/release/calbook
CB_PID=""; MOCK_PID=""
cleanup() {
  [ -n "$CB_PID" ] && kill "$CB_PID" 2>/dev/null && wait "$CB_PID" 2>/dev/null || true
  [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null || true
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
