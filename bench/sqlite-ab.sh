#!/usr/bin/env bash
# Interleaved A/B on SQLite (durable default, synchronous=full): two calbook binaries (e.g. before
# and after a refactor), ROUNDS rounds of one native-generator run each (created, C=64, rows and
# uids verified), alternating A and B so machine drift and neighbours' load hit both alike.
# Prints req/s and p50 per run and the median per side.
#
#   bench/sqlite-ab.sh /tmp/calbook-before target/release/calbook
#   ROUNDS=5 N=10000 bench/sqlite-ab.sh A B
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
A=$1; B=$2
ROUNDS=${ROUNDS:-3}
N=${N:-10000}
PORT=${PORT:-18581}
SECRET=bench-secret-$(date +%s)
WORK=$(mktemp -d /tmp/calbook-sqlite-ab.XXXXXX)
NATIVE=${NATIVE:-$ROOT/target/loadgen/release/calbook-loadgen}
[ -x "$NATIVE" ] || CARGO_TARGET_DIR=$ROOT/target/loadgen cargo build --release --locked --manifest-path bench/loadgen/Cargo.toml 2>&1 | tail -1
OUT=$ROOT/bench/out/sqlite-ab-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
export CALCOM_WEBHOOK_SECRET=$SECRET RUST_LOG=warn EMAIL_KINDS= REMINDER_OFFSETS=
echo "machine: $(nproc) cores, $(free -m | awk '/Mem:/{print $2}') MiB, $(uname -r)"
for round in $(seq 1 "$ROUNDS"); do
  for side in A B; do
    bin=$A; [ "$side" = B ] && bin=$B
    rm -rf "$WORK/data"
    DB="sqlite://$WORK/data/calbook.db"
    DATABASE_URL=$DB CALBOOK_DATA_DIR=$WORK/data "$bin" serve --bind 127.0.0.1:$PORT >"$WORK/calbook.log" 2>&1 &
    CB_PID=$!
    wait_ready $PORT
    "$NATIVE" run --url "http://127.0.0.1:$PORT/api/webhooks/calcom" --secret "$SECRET" -n "$N" -c 64 \
      --warmup 500 --verify-dsn "$DB" --json-out "$OUT/$side-$round.json" >"$OUT/$side-$round.txt"
    stop_calbook
    python3 - "$OUT/$side-$round.json" "$side" "$round" "$(cut -d' ' -f1 /proc/loadavg)" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); p = d["phases"][-1]
print(f"round {sys.argv[3]} {sys.argv[2]} {p['throughput_rps']:>8} req/s  p50 {p['latency_ms']['p50']:.1f} ms  "
      f"verified={d['ok']}  load average {sys.argv[4]}")
PY
  done
done
python3 - "$OUT" <<'PY'
import glob, json, os, statistics, sys
cells = {}
for f in glob.glob(f"{sys.argv[1]}/*.json"):
    side = os.path.basename(f).split("-")[0]
    cells.setdefault(side, []).append(json.load(open(f))["phases"][-1]["throughput_rps"])
for k in sorted(cells):
    print(f"median {k}: {statistics.median(cells[k]):.0f} req/s over {len(cells[k])} runs {sorted(cells[k])}")
PY
