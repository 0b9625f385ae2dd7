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
# shellcheck source=bench/postgres.sh
source "$ROOT/bench/postgres.sh"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
start_mock
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
        wait_ready $PORT; }
      start env EMAIL_RATE_PER_SECOND=0.01
      "$NATIVE" run --url "http://127.0.0.1:$PORT/api/webhooks/calcom" --secret "$SECRET" -n "$N" -c 64 --warmup 0 \
        --verify-dsn "$URL" | grep -q "MATCH" || { echo "fill not verified"; exit 1; }
      stop_calbook
      pending=$(pending_sql "SELECT count(*) FROM email_outbox WHERE state IN ('pending', 'sending')")
      curl -sf -X POST "http://127.0.0.1:$MOCK_PORT/stats/reset" >/dev/null
      t0=$(date +%s.%N)
      start env
      for _ in $(seq 1 6000); do [ "$(mock_count)" -ge "$pending" ] && break; sleep 0.05; done
      t1=$(date +%s.%N)
      cpu=$(awk '{print ($14 + $15) / 100}' "/proc/$CB_PID/stat")
      stop_calbook
      echo "round $round $backend $bin: $(mock_count) emails for $pending pending in $(python3 -c "print(f'{$t1 - $t0:.2f}')") s = \
$(python3 -c "print(f'{$pending / ($t1 - $t0):.0f}')") emails/s (from the restart); calbook CPU ${cpu} s; \
outbox $(pending_sql "SELECT state || ' ' || count(*) FROM email_outbox GROUP BY state" | tr '\n' ' '); load average $(cut -d' ' -f1 /proc/loadavg)"
    done
  done
done
