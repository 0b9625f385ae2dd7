#!/usr/bin/env bash
# Webhook ingest benchmark: builds the release binary, starts calbook on SQLite and on PostgreSQL,
# drives it with ../shared/bench/loadgen (every row verified in the database), samples CPU and
# memory with procmon, and measures cold start with coldstart. Results go to bench/out/ and a
# summary is printed; copy the figures into BENCHMARKS.md with the machine they ran on.
#
#   bench/ingest.sh                    # everything
#   BACKENDS=sqlite bench/ingest.sh    # one backend
#   N=20000 WARMUP=2000 bench/ingest.sh
#
# Needs: python3, and for PostgreSQL the server binaries (apt-get install -y postgresql).
# Everything listens on 127.0.0.1 only; every run is bounded by N.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
LOADGEN=${LOADGEN:-$ROOT/../shared/bench/loadgen}
N=${N:-20000}
WARMUP=${WARMUP:-2000}
BACKENDS=${BACKENDS:-"sqlite postgres"}
PORT=${PORT:-18181}
SECRET=bench-secret-$(date +%s)
OUT=$ROOT/bench/out
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/calbook-bench.XXXXXX)
# Ingest only: no emails are planned (the email benchmark measures those separately).
export CALCOM_WEBHOOK_SECRET=$SECRET RUST_LOG=${RUST_LOG:-warn} EMAIL_KINDS= REMINDER_OFFSETS=
BIN=$ROOT/target/release/calbook
PG_PID=""
CB_PID=""

cleanup() {
  [ -n "$CB_PID" ] && kill "$CB_PID" 2>/dev/null && wait "$CB_PID" 2>/dev/null || true
  if [ -n "$PG_PID" ]; then kill -INT "$PG_PID" 2>/dev/null || true; wait "$PG_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== build"
cargo build --release --locked 2>&1 | tail -1
echo "machine: $(nproc) cores, $(free -m | awk '/Mem:/{print $2}') MiB, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

# shellcheck source=bench/postgres.sh
source "$ROOT/bench/postgres.sh"

rss_kib() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }

start_calbook() { # $1 = DATABASE_URL
  DATABASE_URL=$1 CALBOOK_DATA_DIR=$WORK/data "$BIN" serve --bind 127.0.0.1:$PORT >"$WORK/calbook.log" 2>&1 &
  CB_PID=$!
  for _ in $(seq 1 200); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "calbook did not become ready:"; cat "$WORK/calbook.log"; exit 1
}

stop_calbook() {
  kill "$CB_PID"; wait "$CB_PID" 2>/dev/null || true; CB_PID=""
}

run_load() { # $1 backend, $2 verify dsn, $3 concurrency, $4 label, rest: extra loadgen args
  local backend=$1 dsn=$2 c=$3 label=$4; shift 4
  echo "-- $backend $label c=$c"
  python3 "$LOADGEN/procmon.py" --pid calbook=$CB_PID --json-out "$OUT/$backend-$label-c$c.procmon.json" -- \
    python3 "$LOADGEN/loadgen.py" --url "http://127.0.0.1:$PORT/api/webhooks/calcom" --secret "$SECRET" \
      -n "$N" -c "$c" --warmup "$WARMUP" --verify-dsn "$dsn" --reschedule-model new-row \
      --json-out "$OUT/$backend-$label-c$c.json" "$@" | tee "$OUT/$backend-$label-c$c.txt"
}

for backend in $BACKENDS; do
  echo "== $backend"
  rm -rf "$WORK/data"
  case $backend in
    sqlite) URL="sqlite://$WORK/data/calbook.db"; DSN="sqlite://$WORK/data/calbook.db" ;;
    postgres) [ -z "$PG_PID" ] && start_postgres; URL=$PG_URL; DSN=$PG_URL ;;
  esac
  start_calbook "$URL"
  python3 - "$PORT" "$SECRET" <<'PY'
import hashlib, hmac, http.client, sys
body = b'{"triggerEvent":"PING","createdAt":"2026-03-01T08:00:00.512Z","payload":{"type":"Test"}}'
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
c.request("POST", "/api/webhooks/calcom", body, {"x-cal-signature-256": hmac.new(sys.argv[2].encode(), body, hashlib.sha256).hexdigest()})
assert c.getresponse().status == 200
PY
  sleep 1
  echo "idle RSS after one PING: $(( $(rss_kib $CB_PID) / 1024 )) MiB ($(rss_kib $CB_PID) KiB)" | tee "$OUT/$backend-idle-rss.txt"
  run_load "$backend" "$DSN" 64 created
  run_load "$backend" "$DSN" 16 created
  run_load "$backend" "$DSN" 16 mixed --mix created=70,rescheduled=15,cancelled=10,duplicate=5 --bad-signature 0.01 --seed 7
  echo "RSS after the runs: $(( $(rss_kib $CB_PID) / 1024 )) MiB" | tee -a "$OUT/$backend-idle-rss.txt"
  stop_calbook
  echo "-- $backend cold start"
  rm -rf "$WORK/data"
  DATABASE_URL=$URL CALBOOK_DATA_DIR=$WORK/data python3 "$LOADGEN/coldstart.py" \
    --url "http://127.0.0.1:$PORT/api/webhooks/calcom" --secret "$SECRET" --runs 7 \
    --json-out "$OUT/$backend-coldstart.json" -- "$BIN" serve --bind 127.0.0.1:$PORT | tee "$OUT/$backend-coldstart.txt"
done
echo "== done; raw results in bench/out/"
