#!/usr/bin/env bash
# Interleaved A/B on PostgreSQL: two calbook binaries (e.g. before and after a change), over TLS
# (verify-full, a server that accepts only TLS) and over plaintext, ROUNDS rounds of one short
# native-generator run each (created, C=64, rows and uids verified), so machine drift and
# neighbours' load hit both sides alike. Prints req/s and p50 per run and the median per cell.
#
#   bench/pg-ab.sh /tmp/calbook-before target/release/calbook
#   ROUNDS=5 N=5000 bench/pg-ab.sh A B
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
A=$1; B=$2
ROUNDS=${ROUNDS:-3}
N=${N:-5000}
PORT=${PORT:-18481}
SECRET=bench-secret-$(date +%s)
WORK=$(mktemp -d /tmp/calbook-ab.XXXXXX)
NATIVE=$ROOT/target/loadgen/release/calbook-loadgen
OUT=$ROOT/bench/out/pg-ab-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
# shellcheck source=bench/postgres.sh
source "$ROOT/bench/postgres.sh"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
export CALCOM_WEBHOOK_SECRET=$SECRET RUST_LOG=warn EMAIL_KINDS= REMINDER_OFFSETS=
for round in $(seq 1 "$ROUNDS"); do
  for mode in tls plain; do
    stop_postgres; start_postgres "$mode"
    for side in A B; do
      bin=$A; [ "$side" = B ] && bin=$B
      rm -rf "$WORK/data"
      psql -q -h "$WORK/pg" -p $((PORT + 1)) -U calbook -d postgres -c "DROP DATABASE IF EXISTS calbook_bench" -c "CREATE DATABASE calbook_bench"
      DATABASE_URL=$PG_URL CALBOOK_DATA_DIR=$WORK/data "$bin" serve --bind 127.0.0.1:$PORT >"$WORK/calbook.log" 2>&1 &
      CB_PID=$!
      wait_ready $PORT
      "$NATIVE" run --url "http://127.0.0.1:$PORT/api/webhooks/calcom" --secret "$SECRET" -n "$N" -c 64 \
        --warmup 500 --verify-dsn "$PG_URL" --json-out "$OUT/$side-$mode-$round.json" >"$OUT/$side-$mode-$round.txt"
      stop_calbook
      python3 - "$OUT/$side-$mode-$round.json" "$side" "$mode" "$round" "$(cut -d' ' -f1 /proc/loadavg)" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); p = d["phases"][-1]
print(f"round {sys.argv[4]} {sys.argv[2]} {sys.argv[3]:<5} {p['throughput_rps']:>8} req/s  p50 {p['latency_ms']['p50']:.1f} ms  "
      f"verified={d['ok']}  load average {sys.argv[5]}")
PY
    done
  done
done
python3 - "$OUT" <<'PY'
import glob, json, os, statistics, sys
cells = {}
for f in glob.glob(f"{sys.argv[1]}/*.json"):
    side, mode, _ = os.path.basename(f)[:-5].split("-")
    cells.setdefault((side, mode), []).append(json.load(open(f))["phases"][-1]["throughput_rps"])
for k in sorted(cells):
    print(f"median {k[0]} {k[1]:<5}: {statistics.median(cells[k]):.0f} req/s over {len(cells[k])} runs {sorted(cells[k])}")
PY
