#!/usr/bin/env bash
# Side by side, in one sitting: the old app (../shared/bench/seed-node: Next.js + PostgreSQL,
# the email awaited inline against the mock Resend) and calbook (SQLite, and PostgreSQL over TLS),
# driven by the same Python load generator (../shared/bench/loadgen/loadgen.py) with emails on
# (calbook: its default kinds, sent by the outbox worker to the same mock meanwhile), every row
# verified. calbook is also driven by the native generator (bench/loadgen) for its own figure.
#
#   bench/side-by-side.sh                     # N=10000 WARMUP=1000 C=64
#   N=5000 C=16 bench/side-by-side.sh
#
# Needs node/npm (the old app: ../shared/bench/seed-node/setup.sh is run once if it was never
# built, which needs the npm registry), Debian's PostgreSQL cluster "15 main" for the old app (its
# start.sh starts it), and the server binaries for calbook's throwaway cluster (bench/postgres.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SEED=${SEED:-$ROOT/../shared/bench/seed-node}
LOADGEN=${LOADGEN:-$ROOT/../shared/bench/loadgen}
N=${N:-10000}
WARMUP=${WARMUP:-1000}
C=${C:-64}
PORT=${PORT:-18281}
SECRET=bench-secret-$(date +%s)
OUT=$ROOT/bench/out/side-by-side-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/calbook-side.XXXXXX)
BIN=$ROOT/target/release/calbook
NATIVE=$ROOT/target/loadgen/release/calbook-loadgen
CB_PID=""; PG_PID=""; MOCK_PID=""; SEED_STARTED=""
# shellcheck source=bench/postgres.sh
source "$ROOT/bench/postgres.sh"
cleanup() {
  [ -n "$CB_PID" ] && kill "$CB_PID" 2>/dev/null && wait "$CB_PID" 2>/dev/null || true
  [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null || true
  [ -n "$SEED_STARTED" ] && (cd "$SEED" && ./stop.sh) >/dev/null 2>&1 || true
  stop_postgres
  rm -rf "$WORK"
}
trap cleanup EXIT

cargo build --release --locked 2>&1 | tail -1
CARGO_TARGET_DIR=$ROOT/target/loadgen cargo build --release --locked --manifest-path bench/loadgen/Cargo.toml 2>&1 | tail -1
echo "machine: $(nproc) cores, $(free -m | awk '/Mem:/{print $2}') MiB, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

echo "== old app (Next.js + PostgreSQL, email inline)"
if [ ! -d "$SEED/node_modules" ] || [ ! -d "$SEED/.next" ]; then (cd "$SEED" && ./setup.sh); fi
(cd "$SEED" && env -u PORT ./start.sh)
SEED_STARTED=1
# shellcheck source=/dev/null
(unset PORT; source "$SEED/env.sh"
 python3 "$LOADGEN/loadgen.py" --url "http://127.0.0.1:$PORT/api/webhooks/calcom" --secret "$CALCOM_WEBHOOK_SECRET" \
   -n "$N" -c "$C" --warmup "$WARMUP" --verify-dsn "$DATABASE_URL" --json-out "$OUT/old-app.json" | tee "$OUT/old-app.txt")
(cd "$SEED" && ./stop.sh) >/dev/null; SEED_STARTED=""

echo "== calbook (emails on: default kinds, worker sending to the mock Resend)"
MOCK_PORT=$((PORT + 2))
RESEND_MOCK_PORT=$MOCK_PORT node "$SEED/mock-resend/server.mjs" >"$WORK/mock.log" 2>&1 &
MOCK_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$MOCK_PORT/stats" >/dev/null && break; sleep 0.05; done
for backend in sqlite postgres; do
  for gen in python native; do
    rm -rf "$WORK/data"
    case $backend in
      sqlite) URL="sqlite://$WORK/data/calbook.db" ;;
      postgres) stop_postgres; start_postgres tls; URL=$PG_URL ;;
    esac
    CALCOM_WEBHOOK_SECRET=$SECRET RUST_LOG=warn CALBOOK_DATA_DIR=$WORK/data DATABASE_URL=$URL \
      RESEND_API_KEY=re_bench RESEND_BASE_URL=http://127.0.0.1:$MOCK_PORT EMAIL_FROM="Bench <bench@example.com>" \
      "$BIN" serve --bind 127.0.0.1:$PORT >"$WORK/calbook.log" 2>&1 &
    CB_PID=$!
    for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
    echo "-- calbook $backend ($gen generator)"
    case $gen in
      python) python3 "$LOADGEN/loadgen.py" --url "http://127.0.0.1:$PORT/api/webhooks/calcom" --secret "$SECRET" \
        -n "$N" -c "$C" --warmup "$WARMUP" --verify-dsn "$URL" --reschedule-model new-row \
        --json-out "$OUT/calbook-$backend-$gen.json" | tee "$OUT/calbook-$backend-$gen.txt" ;;
      native) "$NATIVE" run --url "http://127.0.0.1:$PORT/api/webhooks/calcom" --secret "$SECRET" \
        -n "$N" -c "$C" --warmup "$WARMUP" --verify-dsn "$URL" --reschedule-model new-row \
        --json-out "$OUT/calbook-$backend-$gen.json" | tee "$OUT/calbook-$backend-$gen.txt" ;;
    esac
    kill "$CB_PID"; wait "$CB_PID" 2>/dev/null || true; CB_PID=""
  done
  stop_postgres
done
echo "== raw results in $OUT"
