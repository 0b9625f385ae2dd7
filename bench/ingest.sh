#!/usr/bin/env bash
# Webhook ingest benchmark: builds the release binary and the native load generator
# (bench/loadgen), measures the generator's own ceiling against a trivial endpoint, starts calbook
# on SQLite, on PostgreSQL over TLS (verify-full) and on plaintext PostgreSQL, drives each with the
# native generator and with ../shared/bench/loadgen/loadgen.py (every row verified in the database;
# the native one also checks every acknowledged uid is stored exactly once), samples CPU and memory
# with procmon, and measures cold start with coldstart. Results go to bench/out/ and a
# summary is printed; copy the figures into BENCHMARKS.md with the machine they ran on.
#
#   bench/ingest.sh                    # everything: sqlite, postgres (TLS), postgres-plain
#   BACKENDS=sqlite bench/ingest.sh    # one backend
#   BACKENDS="postgres postgres-plain" RUNS=created64 bench/ingest.sh
#   N=20000 WARMUP=2000 bench/ingest.sh
#   GENERATORS=native bench/ingest.sh  # only the native generator (native python by default)
#   EMAILS=on bench/ingest.sh          # calbook's default emails planned, the worker sending them
#                                      # to ../shared/bench/seed-node/mock-resend (0 ms) meanwhile
#
# Needs: python3, and for PostgreSQL the server binaries (apt-get install -y postgresql).
# Everything listens on 127.0.0.1 only; every run is bounded by N.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
LOADGEN=${LOADGEN:-$ROOT/../shared/bench/loadgen}
N=${N:-20000}
WARMUP=${WARMUP:-2000}
BACKENDS=${BACKENDS:-"sqlite postgres postgres-plain"}
# Which runs per backend: created64 created16 mixed16 (all by default).
RUNS=${RUNS:-"created64 created16 mixed16"}
COLDSTART=${COLDSTART:-1}
GENERATORS=${GENERATORS:-"native python"}
PORT=${PORT:-18181}
SECRET=bench-secret-$(date +%s)
OUT=$ROOT/bench/out/ingest-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/calbook-bench.XXXXXX)
# Ingest only by default: no emails are planned (EMAILS=on plans the default ones).
EMAILS=${EMAILS:-off}
export CALCOM_WEBHOOK_SECRET=$SECRET RUST_LOG=${RUST_LOG:-warn}
if [ "$EMAILS" = on ]; then
  rmdir "$OUT"; OUT=$OUT-emails; mkdir -p "$OUT"
  MOCK_PID=""
  RESEND_MOCK_PORT=$((PORT + 3)) node "$ROOT/../shared/bench/seed-node/mock-resend/server.mjs" >/dev/null 2>&1 &
  MOCK_PID=$!
  export RESEND_API_KEY=re_bench RESEND_BASE_URL=http://127.0.0.1:$((PORT + 3)) EMAIL_FROM="Bench <bench@example.com>"
else
  export EMAIL_KINDS= REMINDER_OFFSETS=
fi
BIN=$ROOT/target/release/calbook
NATIVE=$ROOT/target/loadgen/release/calbook-loadgen
PG_PID=""
CB_PID=""
TRIVIAL_PID=""

cleanup() {
  [ -n "$CB_PID" ] && kill "$CB_PID" 2>/dev/null && wait "$CB_PID" 2>/dev/null || true
  [ -n "$TRIVIAL_PID" ] && kill "$TRIVIAL_PID" 2>/dev/null && wait "$TRIVIAL_PID" 2>/dev/null || true
  [ -n "${MOCK_PID:-}" ] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null || true
  stop_postgres
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== build"
cargo build --release --locked 2>&1 | tail -1
# Its own crate and lock file (not part of calbook's build or tests); its own target directory.
CARGO_TARGET_DIR=$ROOT/target/loadgen cargo build --release --locked --manifest-path bench/loadgen/Cargo.toml 2>&1 | tail -1
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
  local backend=$1 dsn=$2 c=$3 label=$4 gen; shift 4
  for gen in $GENERATORS; do
    echo "-- $backend $label c=$c ($gen generator)"
    local out=$OUT/$backend-$label-c$c-$gen
    case $gen in
      native) python3 "$LOADGEN/procmon.py" --pid calbook=$CB_PID --json-out "$out.procmon.json" -- \
        "$NATIVE" run --url "http://127.0.0.1:$PORT/api/webhooks/calcom" --secret "$SECRET" \
          -n "$N" -c "$c" --warmup "$WARMUP" --verify-dsn "$dsn" --reschedule-model new-row \
          --json-out "$out.json" "$@" | tee "$out.txt" ;;
      python) python3 "$LOADGEN/procmon.py" --pid calbook=$CB_PID --json-out "$out.procmon.json" -- \
        python3 "$LOADGEN/loadgen.py" --url "http://127.0.0.1:$PORT/api/webhooks/calcom" --secret "$SECRET" \
          -n "$N" -c "$c" --warmup "$WARMUP" --verify-dsn "$dsn" --reschedule-model new-row \
          --json-out "$out.json" "$@" | tee "$out.txt" ;;
    esac
  done
}

# The load generators' own ceiling: the same requests against an endpoint that answers 200 `{}`
# to anything (the native generator's `trivial` server, 2 threads), in the same sitting.
if [ "${CEILING:-1}" = 1 ]; then
  echo "== ceiling: trivial endpoint"
  "$NATIVE" trivial --bind 127.0.0.1:$((PORT + 2)) --threads 2 &
  TRIVIAL_PID=$!
  sleep 0.3
  for c in 64 16; do
    for gen in $GENERATORS; do
      echo "-- trivial c=$c ($gen generator)"
      case $gen in
        native) "$NATIVE" run --url "http://127.0.0.1:$((PORT + 2))/api/webhooks/calcom" --secret "$SECRET" \
          -n "$N" -c $c --warmup "$WARMUP" --json-out "$OUT/trivial-c$c-native.json" | tee "$OUT/trivial-c$c-native.txt" ;;
        python) python3 "$LOADGEN/loadgen.py" --url "http://127.0.0.1:$((PORT + 2))/api/webhooks/calcom" --secret "$SECRET" \
          -n "$N" -c $c --warmup "$WARMUP" --json-out "$OUT/trivial-c$c-python.json" | tee "$OUT/trivial-c$c-python.txt" ;;
      esac
    done
  done
  kill "$TRIVIAL_PID"; wait "$TRIVIAL_PID" 2>/dev/null || true; TRIVIAL_PID=""
fi

for backend in $BACKENDS; do
  echo "== $backend"
  rm -rf "$WORK/data"
  case $backend in
    sqlite) URL="sqlite://$WORK/data/calbook.db"; DSN="sqlite://$WORK/data/calbook.db" ;;
    # PostgreSQL over TLS (verify-full against the CA made at start; the server refuses
    # plaintext), and once without TLS for comparison. A fresh cluster for each.
    postgres) stop_postgres; start_postgres tls; URL=$PG_URL; DSN=$PG_URL ;;
    postgres-plain) stop_postgres; start_postgres plain; URL=$PG_URL; DSN=$PG_URL ;;
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
  for run in $RUNS; do
    case $run in
      created64) run_load "$backend" "$DSN" 64 created ;;
      created16) run_load "$backend" "$DSN" 16 created ;;
      mixed16) run_load "$backend" "$DSN" 16 mixed --mix created=70,rescheduled=15,cancelled=10,duplicate=5 --bad-signature 0.01 --seed 7 ;;
    esac
  done
  echo "RSS after the runs: $(( $(rss_kib $CB_PID) / 1024 )) MiB" | tee -a "$OUT/$backend-idle-rss.txt"
  stop_calbook
  [ "$COLDSTART" = 1 ] || continue
  echo "-- $backend cold start"
  rm -rf "$WORK/data"
  DATABASE_URL=$URL CALBOOK_DATA_DIR=$WORK/data python3 "$LOADGEN/coldstart.py" \
    --url "http://127.0.0.1:$PORT/api/webhooks/calcom" --secret "$SECRET" --runs 7 \
    --json-out "$OUT/$backend-coldstart.json" -- "$BIN" serve --bind 127.0.0.1:$PORT | tee "$OUT/$backend-coldstart.txt"
done
echo "== summary (timed phase req/s; ratio = calbook / the same generator against the trivial endpoint)"
python3 - "$OUT" <<'PY'
import glob, json, os, sys
out = sys.argv[1]
def rps(path):
    d = json.load(open(path))
    p = [x for x in d["phases"] if x["phase"] not in ("warmup", "prepare")][-1]
    return p["throughput_rps"], p["latency_ms"], d.get("ok"), d.get("db", {})
ceil = {}
for f in glob.glob(f"{out}/trivial-c*-*.json"):
    c, gen = os.path.basename(f)[len("trivial-"):-5].split("-")
    ceil[(c, gen)] = rps(f)[0]
for f in sorted(glob.glob(f"{out}/*-c*-*.json")):
    name = os.path.basename(f)[:-5]
    if name.startswith("trivial") or name.endswith("procmon"):
        continue
    *_, c, gen = name.split("-")
    r, lat, ok, db = rps(f)
    ratio = f"{r / ceil[(c, gen)]:.2f}" if (c, gen) in ceil else "-"
    once = db.get("uids_exactly_once", "-")
    print(f"{name:<38} {r:>9} req/s  p50 {lat['p50']:.2f}  p99 {lat['p99']:.2f} ms  ok={ok} uids-once={once}  ratio-to-ceiling={ratio}")
for (c, gen), r in sorted(ceil.items()):
    print(f"ceiling {gen} c={c}: {r} req/s")
PY
echo "== done; raw results in bench/out/"
