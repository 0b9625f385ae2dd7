#!/usr/bin/env bash
# Scale of the schedule: N (100,000) future bookings through signed webhooks with their default
# reminders (24 h and 1 h) planned for later (EMAIL_KINDS=reminder; KINDS=all adds the
# confirmations, sent meanwhile to the mock Resend at 0 ms), then: calbook's memory while the worker idles over the 2N
# planned reminders, and the query plans of finding due jobs (`has_due` and the claim's
# selection) on SQLite and on PostgreSQL over TLS.
#
#   bench/schedule.sh                         # N=100000, both backends
#   N=20000 BACKENDS=sqlite bench/schedule.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
N=${N:-100000}
BACKENDS=${BACKENDS:-"sqlite postgres"}
KINDS=${KINDS:-reminder}
PORT=${PORT:-18381}
SECRET=bench-secret-$(date +%s)
OUT=$ROOT/bench/out/schedule-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/calbook-schedule.XXXXXX)
BIN=$ROOT/target/release/calbook
NATIVE=$ROOT/target/loadgen/release/calbook-loadgen
# shellcheck source=bench/postgres.sh
source "$ROOT/bench/postgres.sh"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
cargo build --release --locked 2>&1 | tail -1
CARGO_TARGET_DIR=$ROOT/target/loadgen cargo build --release --locked --manifest-path bench/loadgen/Cargo.toml 2>&1 | tail -1
MOCK_PORT=$((PORT + 2))
start_mock
rss() { awk '/VmRSS/{print int($2/1024)}' "/proc/$CB_PID/status"; }

HAS_DUE_SQL="SELECT 1 FROM (SELECT id FROM (SELECT id FROM email_outbox INDEXED_BY_SQLITE WHERE state IN ('pending', 'sending') AND state = 'pending' AND due_at <= NOW ORDER BY due_at LIMIT 1) pending_due UNION ALL SELECT id FROM (SELECT id FROM email_outbox WHERE state = 'sending' AND leased_until <= NOW LIMIT 1) lease_expired LIMIT 1) due"
CLAIM_SQL="SELECT id FROM (SELECT id FROM email_outbox INDEXED_BY_SQLITE WHERE state IN ('pending', 'sending') AND state = 'pending' AND due_at <= NOW ORDER BY due_at LIMIT 100) pending_due UNION ALL SELECT id FROM (SELECT id FROM email_outbox WHERE state = 'sending' AND leased_until <= NOW LIMIT 100) lease_expired LIMIT 100"

for backend in $BACKENDS; do
  echo "== $backend"
  rm -rf "$WORK/data"
  case $backend in
    sqlite) URL="sqlite://$WORK/data/calbook.db" ;;
    postgres) stop_postgres; start_postgres tls; URL=$PG_URL ;;
  esac
  curl -sf -X POST "http://127.0.0.1:$MOCK_PORT/stats/reset" >/dev/null
  kinds=$KINDS; [ "$KINDS" = all ] && kinds=confirmation,rescheduled,cancelled,requested,declined,reminder
  EMAIL_KINDS=$kinds CALCOM_WEBHOOK_SECRET=$SECRET RUST_LOG=warn CALBOOK_DATA_DIR=$WORK/data DATABASE_URL=$URL \
    RESEND_API_KEY=re_bench RESEND_BASE_URL=http://127.0.0.1:$MOCK_PORT EMAIL_FROM="Bench <bench@example.com>" \
    "$BIN" serve --bind 127.0.0.1:$PORT >"$WORK/calbook.log" 2>&1 &
  CB_PID=$!
  wait_ready $PORT
  echo "idle RSS before: $(rss) MiB"
  # Bookings from two days ahead, 30 minutes apart: every reminder lies in the future.
  "$NATIVE" run --url "http://127.0.0.1:$PORT/api/webhooks/calcom" --secret "$SECRET" -n "$N" -c 64 \
    --start +172800 --verify-dsn "$URL" --json-out "$OUT/$backend-fill.json" | tee "$OUT/$backend-fill.txt"
  echo "RSS after the fill: $(rss) MiB"
  if [ "$KINDS" = all ]; then
    for _ in $(seq 1 600); do
      got=$(curl -sf "http://127.0.0.1:$MOCK_PORT/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["emails"])')
      [ "$got" -ge "$N" ] && break
      sleep 0.5
    done
    echo "confirmations counted by the mock: $got of $N"
  fi
  samples=""
  for _ in $(seq 1 10); do samples="$samples $(rss)"; sleep 1; done
  echo "RSS while the worker idles over the planned reminders (10 s, 1 s apart):$samples MiB" | tee "$OUT/$backend-rss.txt"
  case $backend in
    sqlite)
      DB=$WORK/data/calbook.db
      sqlite3 "$DB" "SELECT state, count(*) FROM email_outbox GROUP BY state" | tee "$OUT/$backend-states.txt"
      NOW="'$(date -u +%Y-%m-%dT%H:%M:%S.000Z)'"
      H=${HAS_DUE_SQL//INDEXED_BY_SQLITE/INDEXED BY email_outbox_due_idx}; Q=${CLAIM_SQL//INDEXED_BY_SQLITE/INDEXED BY email_outbox_due_idx}
      echo "-- has_due plan"; sqlite3 "$DB" "EXPLAIN QUERY PLAN ${H//NOW/$NOW}" | tee "$OUT/$backend-plan-has-due.txt"
      echo "-- claim plan"; sqlite3 "$DB" "EXPLAIN QUERY PLAN ${Q//NOW/$NOW}" | tee "$OUT/$backend-plan-claim.txt"
      ;;
    postgres)
      psql "$URL" -XqAt -c "SELECT state, count(*) FROM email_outbox GROUP BY state" | tee "$OUT/$backend-states.txt"
      psql "$URL" -Xq -c "ANALYZE email_outbox"
      H=${HAS_DUE_SQL//INDEXED_BY_SQLITE/}; Q=${CLAIM_SQL//INDEXED_BY_SQLITE/}
      echo "-- has_due plan"; psql "$URL" -X -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${H//NOW/now()}" | tee "$OUT/$backend-plan-has-due.txt"
      echo "-- claim plan"; psql "$URL" -X -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${Q//NOW/now()}" | tee "$OUT/$backend-plan-claim.txt"
      ;;
  esac
  stop_calbook
done
echo "== raw results in $OUT"
