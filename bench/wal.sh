#!/usr/bin/env bash
# WAL size under sustained full-speed load (issue 13): starts the release binary on SQLite,
# drives it with the native load generator (bench/loadgen) for SECONDS at concurrency C, samples
# the size of calbook.db-wal every half second during the load and for SETTLE seconds after,
# then kills calbook with SIGKILL and times a restart until /readyz answers (WAL recovery).
# Prints the peak and final WAL size and the restart time; writes the samples to bench/out/.
#
#   bench/wal.sh                     # 60 s at c=64
#   SECONDS_LOAD=600 C=64 bench/wal.sh
#   RESTARTS=7 bench/wal.sh          # the crash and restart seven times; the median is reported
#
# Everything listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_LOAD=${SECONDS_LOAD:-60}
SETTLE=${SETTLE:-5}
C=${C:-64}
PORT=${PORT:-18191}
SECRET=bench-secret-$(date +%s)
OUT=$ROOT/bench/out/wal-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/calbook-wal.XXXXXX)
export CALCOM_WEBHOOK_SECRET=$SECRET RUST_LOG=${RUST_LOG:-warn} EMAIL_KINDS= REMINDER_OFFSETS=
BIN=${BIN:-$ROOT/target/release/calbook}
NATIVE=${NATIVE:-$ROOT/target/loadgen/release/calbook-loadgen}
CB_PID=""
LG_PID=""
cleanup() {
  [ -n "$LG_PID" ] && kill "$LG_PID" 2>/dev/null || true
  [ -n "$CB_PID" ] && kill "$CB_PID" 2>/dev/null && wait "$CB_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ "${BUILD:-1}" = 1 ]; then
  cargo build --release --locked 2>&1 | tail -1
  CARGO_TARGET_DIR=$ROOT/target/loadgen cargo build --release --locked --manifest-path bench/loadgen/Cargo.toml 2>&1 | tail -1
fi
echo "machine: $(nproc) cores, $(free -m | awk '/Mem:/{print $2}') MiB, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

DB=$WORK/data/calbook.db
start_calbook() {
  DATABASE_URL=sqlite://$DB CALBOOK_DATA_DIR=$WORK/data "$BIN" serve --bind 127.0.0.1:$PORT >>"$WORK/calbook.log" 2>&1 &
  CB_PID=$!
}
wait_ready() {
  for _ in $(seq 1 2000); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && return 0
    sleep 0.005
  done
  echo "calbook did not become ready:"; cat "$WORK/calbook.log"; exit 1
}
wal_bytes() { stat -c %s "$DB-wal" 2>/dev/null || echo 0; }

start_calbook; wait_ready
# Enough requests for the whole period at well over the measured rate; the generator is stopped
# when the period ends.
"$NATIVE" run --url "http://127.0.0.1:$PORT/api/webhooks/calcom" --secret "$SECRET" \
  -n $((SECONDS_LOAD * 5000)) -c "$C" --warmup 0 --json-out "$OUT/load.json" >"$OUT/load.txt" 2>&1 &
LG_PID=$!
peak=0
: >"$OUT/samples.tsv"
t0=$(date +%s.%N)
while :; do
  now=$(date +%s.%N)
  el=$(echo "$now - $t0" | bc)
  w=$(wal_bytes); [ "$w" -gt "$peak" ] && peak=$w
  printf '%s\t%s\tload\n' "$el" "$w" >>"$OUT/samples.tsv"
  if [ "$(echo "$el >= $SECONDS_LOAD" | bc)" = 1 ] || ! kill -0 "$LG_PID" 2>/dev/null; then break; fi
  sleep 0.5
done
kill "$LG_PID" 2>/dev/null || true; wait "$LG_PID" 2>/dev/null || true; LG_PID=""
for _ in $(seq 1 $((SETTLE * 2))); do
  w=$(wal_bytes)
  printf '%s\t%s\tafter\n' "$(echo "$(date +%s.%N) - $t0" | bc)" "$w" >>"$OUT/samples.tsv"
  sleep 0.5
done
after=$(wal_bytes)
db=$(stat -c %s "$DB")
rows=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from webhook_deliveries').fetchone()[0])" "$DB")
# Crash under load and restart, RESTARTS times: how long until /readyz answers.
restarts=()
for _ in $(seq 1 "${RESTARTS:-1}"); do
  "$NATIVE" run --url "http://127.0.0.1:$PORT/api/webhooks/calcom" --secret "$SECRET" \
    -n 1000000 -c "$C" --warmup 0 >/dev/null 2>&1 &
  LG_PID=$!
  sleep 3
  w_crash=$(wal_bytes)
  kill -9 "$CB_PID"; wait "$CB_PID" 2>/dev/null || true; CB_PID=""
  kill "$LG_PID" 2>/dev/null || true; wait "$LG_PID" 2>/dev/null || true; LG_PID=""
  r0=$(date +%s%N)
  start_calbook; wait_ready
  r1=$(date +%s%N)
  restarts+=("$(( (r1 - r0) / 1000000 ))")
done
restart_ms=$(printf '%s\n' "${restarts[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
cat <<SUMMARY | tee "$OUT/summary.txt"
load: ${SECONDS_LOAD}s at c=$C, $rows deliveries stored (~$((rows / SECONDS_LOAD))/s)
WAL peak during load: $((peak / 1048576)) MiB ($peak bytes; bound 64 MiB)
WAL ${SETTLE}s after load: $after bytes; database: $((db / 1048576)) MiB
WAL at SIGKILL (3 s into a second load): $((w_crash / 1048576)) MiB
restart after SIGKILL until /readyz answers: median ${restart_ms} ms of ${#restarts[@]} (${restarts[*]} ms; includes process start and migrations check)
samples: $OUT/samples.tsv
SUMMARY
