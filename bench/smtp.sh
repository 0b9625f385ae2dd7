#!/usr/bin/env bash
# SMTP emails/s: N confirmations are planned through signed webhooks while the worker is held
# back (EMAIL_RATE_PER_SECOND=0.01: it sends at most one), then calbook is restarted with the
# worker free and the time until the sink (bench/smtp_sink.py, plain SMTP on loopback) has
# counted them all is the drain. Reports emails/s, the SMTP connections the sink saw (lettre's
# pool: at most 4) and its commands per email (lettre does not pipeline: NOOP on each checkout
# from the pool, MAIL, RCPT, DATA, one answer awaited each). SQLite, release build.
#
#   N=5000 bench/smtp.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
N=${N:-5000}
PORT=${PORT:-18781}
SINK=$((PORT + 2)); STATS=$((PORT + 3))
SECRET=bench-secret-$(date +%s)
WORK=$(mktemp -d /tmp/calbook-smtp.XXXXXX)
BIN=${BIN:-$ROOT/target/release/calbook}
NATIVE=$ROOT/target/loadgen/release/calbook-loadgen
CB_PID=""; SINK_PID=""
cleanup() {
  [ -n "$CB_PID" ] && kill "$CB_PID" 2>/dev/null && wait "$CB_PID" 2>/dev/null || true
  [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
[ -x "$NATIVE" ] || CARGO_TARGET_DIR=$ROOT/target/loadgen cargo build --release --locked --manifest-path bench/loadgen/Cargo.toml 2>&1 | tail -1
echo "machine: $(nproc) cores, $(free -m | awk '/Mem:/{print $2}') MiB, $(uname -r); load average $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$ROOT/bench/smtp_sink.py" --port $SINK --stats-port $STATS &
SINK_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$STATS/stats" >/dev/null && break; sleep 0.05; done
stat() { curl -sf "http://127.0.0.1:$STATS/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
export CALCOM_WEBHOOK_SECRET=$SECRET RUST_LOG=warn SMTP_URL="smtp://127.0.0.1:$SINK?tls=none" \
  EMAIL_FROM="Bench <bench@example.com>" EMAIL_KINDS=confirmation REMINDER_OFFSETS=
DB="sqlite://$WORK/data/calbook.db"
start() { DATABASE_URL=$DB CALBOOK_DATA_DIR=$WORK/data "$@" "$BIN" serve --bind 127.0.0.1:$PORT >>"$WORK/calbook.log" 2>&1 & CB_PID=$!
  for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.05; done; }
start env EMAIL_RATE_PER_SECOND=0.01
"$NATIVE" run --url "http://127.0.0.1:$PORT/api/webhooks/calcom" --secret "$SECRET" -n "$N" -c 64 --warmup 0 \
  --verify-dsn "$DB" | grep -E "MATCH|MISMATCH" | cut -c1-80
kill "$CB_PID"; wait "$CB_PID" 2>/dev/null || true; CB_PID=""
pending=$(sqlite3 "$WORK/data/calbook.db" "SELECT count(*) FROM email_outbox WHERE state IN ('pending', 'sending')")
curl -sf -X POST "http://127.0.0.1:$STATS/stats/reset" >/dev/null
t0=$(date +%s.%N)
start env
for _ in $(seq 1 6000); do [ "$(stat emails)" -ge "$pending" ] && break; sleep 0.05; done
t1=$(date +%s.%N)
sleep 0.5
python3 - "$t0" "$t1" "$pending" "$(stat emails)" "$(stat connections)" "$(stat commands)" \
  "$(sqlite3 "$WORK/data/calbook.db" "SELECT state || ' ' || count(*) FROM email_outbox GROUP BY state" | tr '\n' ',')" <<'PY'
import sys
t0, t1 = float(sys.argv[1]), float(sys.argv[2])
pending, got, conns, cmds = map(int, sys.argv[3:7])
print(f"SMTP: {got} emails for {pending} pending in {t1 - t0:.2f} s (from the restart) = {pending / (t1 - t0):.0f} emails/s; "
      f"{conns} SMTP connections; {cmds / max(got, 1):.1f} commands per email; outbox {sys.argv[7].rstrip(',')}")
PY
