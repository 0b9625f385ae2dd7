#!/usr/bin/env bash
# Import speed of the first sync: `calbook sync` reading N bookings (250 per page) from a Cal.com
# API v2 stand-in (bench/calcom_api_standin.py) into an empty store, on SQLite and on PostgreSQL
# over TLS, with the wall time and calbook's peak memory (/usr/bin/time -v). Each size in SIZES
# runs on each backend, so the peak memory can be compared across sizes (pages are streamed:
# it must stay flat in N).
#
#   bench/sync-import.sh                              # SIZES="2500 10000", both backends
#   SIZES=10000 BACKENDS=sqlite bench/sync-import.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SIZES=${SIZES:-"2500 10000"}
BACKENDS=${BACKENDS:-"sqlite postgres"}
PORT=${PORT:-18391}
KEY=cal_bench_key
OUT=$ROOT/bench/out/sync-import-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/calbook-sync-import.XXXXXX)
BIN=$ROOT/target/release/calbook
API_PID=""; PG_PID=""
# shellcheck source=bench/postgres.sh
source "$ROOT/bench/postgres.sh"
cleanup() {
  [ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null || true
  stop_postgres
  rm -rf "$WORK"
}
trap cleanup EXIT
cargo build --release --locked 2>&1 | tail -1
API_PORT=$((PORT + 3))
printf '%-9s %7s %9s %11s %11s %9s\n' backend n seconds bookings/s peak_MiB created | tee "$OUT/summary.txt"
for n in $SIZES; do
  [ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null || true
  python3 "$ROOT/bench/calcom_api_standin.py" --port $API_PORT --n "$n" --key $KEY &
  API_PID=$!
  for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$API_PORT/stats" >/dev/null && break; sleep 0.05; done
  for backend in $BACKENDS; do
    rm -rf "$WORK/data"; mkdir -p "$WORK/data"
    case $backend in
      sqlite) URL="sqlite://$WORK/data/calbook.db" ;;
      postgres) stop_postgres; start_postgres tls; URL=$PG_URL ;;
    esac
    export CALBOOK_DATA_DIR=$WORK/data DATABASE_URL=$URL CALCOM_API_KEY=$KEY \
      CALCOM_API_URL=http://127.0.0.1:$API_PORT RUST_LOG=warn
    "$BIN" migrate >/dev/null
    /usr/bin/time -v -o "$OUT/$backend-$n.time" "$BIN" sync --json >"$OUT/$backend-$n.json"
    secs=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$OUT/$backend-$n.time")
    peak=$(awk -F': ' '/Maximum resident set size/{printf "%.1f", $2/1024}' "$OUT/$backend-$n.time")
    created=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["created"])' "$OUT/$backend-$n.json")
    rate=$(python3 -c "print(round($n/$secs))")
    printf '%-9s %7s %9s %11s %11s %9s\n' "$backend" "$n" "$secs" "$rate" "$peak" "$created" | tee -a "$OUT/summary.txt"
  done
done
echo "results in $OUT"
