#!/usr/bin/env bash
# Where the SQLite webhook rate goes: the same build and load on a fresh database as shipped, and
# with parts of the schema dropped after the migrations (measurement only; calbook never runs
# without them): `nofts` drops the search index's triggers (issue 14), `noidx` the dashboard's
# six secondary indexes (starts_at, status+starts_at, live, attendee e-mail, weekly counts,
# deliveries by time), `none` both. Interleaved per round, native generator, rows and uids
# verified, synchronous=full, emails off. Prints req/s, p50 and p99 per run.
#
#   bench/sqlite-parts.sh                         # release build, 2 rounds, C=64 and C=16
#   ROUNDS=3 N=20000 PARTS="full nofts" BIN=/tmp/calbook-x bench/sqlite-parts.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${BIN:-$ROOT/target/release/calbook}
NATIVE=${NATIVE:-$ROOT/target/loadgen/release/calbook-loadgen}
ROUNDS=${ROUNDS:-2}
N=${N:-20000}
WARMUP=${WARMUP:-2000}
CS=${CS:-"64 16"}
PARTS=${PARTS:-"full nofts noidx none"}
PORT=${PORT:-18681}
SECRET=bench-secret-$(date +%s)
[ -x "$BIN" ] || cargo build --release --locked 2>&1 | tail -1
[ -x "$NATIVE" ] || CARGO_TARGET_DIR=$ROOT/target/loadgen cargo build --release --locked --manifest-path bench/loadgen/Cargo.toml 2>&1 | tail -1
WORK=$(mktemp -d /tmp/calbook-parts.XXXXXX)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
export CALCOM_WEBHOOK_SECRET=$SECRET RUST_LOG=warn EMAIL_KINDS= REMINDER_OFFSETS=
NOFTS="DROP TRIGGER bookings_search_insert; DROP TRIGGER bookings_search_update;"
NOIDX="DROP INDEX bookings_starts_at_idx; DROP INDEX bookings_status_starts_at_idx;
  DROP INDEX bookings_attendee_email_idx; DROP INDEX bookings_live_starts_idx;
  DROP INDEX booking_history_counts_idx; DROP INDEX webhook_deliveries_received_at_id_idx;"
echo "machine: $(nproc) cores, $(free -m | awk '/Mem:/{print $2}') MiB, $(uname -r); $BIN"
for round in $(seq 1 "$ROUNDS"); do
  for part in $PARTS; do
    case $part in
      full) SQL="" ;; nofts) SQL=$NOFTS ;; noidx) SQL=$NOIDX ;; none) SQL="$NOFTS $NOIDX" ;;
      *) echo "unknown part $part (full nofts noidx none)"; exit 2 ;;
    esac
    for c in $CS; do
      rm -rf "$WORK/data"; mkdir -p "$WORK/data"
      DB="sqlite://$WORK/data/calbook.db"
      DATABASE_URL=$DB CALBOOK_DATA_DIR=$WORK/data "$BIN" migrate >/dev/null
      [ -z "$SQL" ] || sqlite3 "$WORK/data/calbook.db" "$SQL"
      DATABASE_URL=$DB CALBOOK_DATA_DIR=$WORK/data "$BIN" serve --bind 127.0.0.1:$PORT >"$WORK/calbook.log" 2>&1 &
      CB_PID=$!
      wait_ready $PORT
      "$NATIVE" run --url "http://127.0.0.1:$PORT/api/webhooks/calcom" --secret "$SECRET" -n "$N" -c "$c" \
        --warmup "$WARMUP" --verify-dsn "$DB" --json-out "$WORK/run.json" >"$WORK/run.txt"
      stop_calbook
      python3 - "$WORK/run.json" "$part" "$c" "$round" "$(cut -d' ' -f1 /proc/loadavg)" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); p = d["phases"][-1]; l = p["latency_ms"]
print(f"round {sys.argv[4]} {sys.argv[2]:<6} c={sys.argv[3]:<3} {p['throughput_rps']:>8} req/s  "
      f"p50 {l['p50']:.1f}  p99 {l['p99']:.1f} ms  verified={d['ok']}  load average {sys.argv[5]}")
PY
    done
  done
done
