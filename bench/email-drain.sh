#!/usr/bin/env bash
# The outbox worker's own emails/s, without webhooks competing: N confirmations are planned
# through signed webhooks while the worker is held back (EMAIL_RATE_PER_SECOND=0.01: it sends at
# most one), then calbook is restarted with the worker free and timed until the Node mock Resend
# (../shared/bench/seed-node/mock-resend, 0 ms) has counted every pending email. Binaries are
# interleaved per round; SQLite and/or PostgreSQL over TLS (verify-full).
#
#   bench/email-drain.sh /tmp/calbook-before target/release/calbook
#   ROUNDS=3 N=10000 BACKENDS=postgres bench/email-drain.sh A B
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
N=${N:-20000}
ROUNDS=${ROUNDS:-2}
BACKENDS=${BACKENDS:-"sqlite postgres"}
PORT=${PORT:-18971}
MOCK_PORT=$((PORT + 3))
SECRET=bench-secret-$(date +%s)
WORK=$(mktemp -d /tmp/calbook-drain.XXXXXX)
NATIVE=$ROOT/target/loadgen/release/calbook-loadgen
[ -x "$NATIVE" ] || CARGO_TARGET_DIR=$ROOT/target/loadgen cargo build --release --locked --manifest-path bench/loadgen/Cargo.toml 2>&1 | tail -1
CB_PID=""; PG_PID=""; MOCK_PID=""
# shellcheck source=bench/postgres.sh
source "$ROOT/bench/postgres.sh"
cleanup() {
  [ -n "$CB_PID" ] && kill "$CB_PID" 2>/dev/null && wait "$CB_PID" 2>/dev/null || true
  [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null || true
  stop_postgres
  rm -rf "$WORK"
}
trap cleanup EXIT
RESEND_MOCK_PORT=$MOCK_PORT node "$ROOT/../shared/bench/seed-node/mock-resend/server.mjs" >"$WORK/mock.log" 2>&1 &
MOCK_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$MOCK_PORT/stats" >/dev/null && break; sleep 0.05; done
mock_count() { curl -sf "http://127.0.0.1:$MOCK_PORT/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["emails"])'; }
export CALCOM_WEBHOOK_SECRET=$SECRET RUST_LOG=warn RESEND_API_KEY=re_bench RESEND_BASE_URL=http://127.0.0.1:$MOCK_PORT \
  EMAIL_FROM="Bench <bench@example.com>" EMAIL_KINDS=confirmation REMINDER_OFFSETS=
echo "machine: $(nproc) cores, $(free -m | awk '/Mem:/{print $2}') MiB, $(uname -r)"
for backend in $BACKENDS; do
  [ "$backend" = postgres ] && { stop_postgres; start_postgres tls; }
  for round in $(seq 1 "$ROUNDS"); do
    for bin in "$@"; do
      rm -rf "$WORK/data"
      case $backend in
        sqlite) URL="sqlite://$WORK/data/calbook.db"; pending_sql() { sqlite3 "$WORK/data/calbook.db" "$1"; } ;;
        postgres)
          psql -q -h "$WORK/pg" -p $((PORT + 1)) -U calbook -d postgres -c "DROP DATABASE IF EXISTS calbook_bench" -c "CREATE DATABASE calbook_bench"
          URL=$PG_URL; pending_sql() { psql -At -h "$WORK/pg" -p $((PORT + 1)) -U calbook -d calbook_bench -c "$1"; } ;;
      esac
      start() { DATABASE_URL=$URL CALBOOK_DATA_DIR=$WORK/data "$@" "$bin" serve --bind 127.0.0.1:$PORT >>"$WORK/calbook.log" 2>&1 & CB_PID=$!
        for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.05; done; }
      start env EMAIL_RATE_PER_SECOND=0.01
      "$NATIVE" run --url "http://127.0.0.1:$PORT/api/webhooks/calcom" --secret "$SECRET" -n "$N" -c 64 --warmup 0 \
        --verify-dsn "$URL" | grep -q "MATCH" || { echo "fill not verified"; exit 1; }
      kill "$CB_PID"; wait "$CB_PID" 2>/dev/null || true; CB_PID=""
      pending=$(pending_sql "SELECT count(*) FROM email_outbox WHERE state IN ('pending', 'sending')")
      curl -sf -X POST "http://127.0.0.1:$MOCK_PORT/stats/reset" >/dev/null
      t0=$(date +%s.%N)
      start env
      for _ in $(seq 1 6000); do [ "$(mock_count)" -ge "$pending" ] && break; sleep 0.05; done
      t1=$(date +%s.%N)
      cpu=$(awk '{print ($14 + $15) / 100}' "/proc/$CB_PID/stat")
      kill "$CB_PID"; wait "$CB_PID" 2>/dev/null || true; CB_PID=""
      echo "round $round $backend $bin: $(mock_count) emails for $pending pending in $(python3 -c "print(f'{$t1 - $t0:.2f}')") s = \
$(python3 -c "print(f'{$pending / ($t1 - $t0):.0f}')") emails/s (from the restart); calbook CPU ${cpu} s; \
outbox $(pending_sql "SELECT state || ' ' || count(*) FROM email_outbox GROUP BY state" | tr '\n' ' '); load average $(cut -d' ' -f1 /proc/loadavg)"
    done
  done
done
