#!/usr/bin/env bash
# Interleaved A/B of what planning and sending emails costs the webhook path: two calbook
# binaries, each run with emails off (`EMAIL_KINDS=`) and on (the default kinds, the worker
# sending the confirmations to ../shared/bench/seed-node/mock-resend at 0 ms meanwhile), on
# SQLite (synchronous=full) and PostgreSQL over TLS (verify-full), ROUNDS rounds alternating
# every cell so the neighbours' load hits all alike. Native generator, created, C=64, rows and
# uids verified. For each "on" run also: the confirmations sent by the time the load ended, and
# how long after it the last one was accepted by the mock. Prints each run, then the median of
# each cell and on/off per side.
#
#   bench/emails-ab.sh /tmp/calbook-before target/release/calbook
#   ROUNDS=3 N=10000 BACKENDS=sqlite bench/emails-ab.sh A B
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
A=$1; B=$2
ROUNDS=${ROUNDS:-2}
N=${N:-10000}
WARMUP=${WARMUP:-1000}
BACKENDS=${BACKENDS:-"sqlite postgres"}
PORT=${PORT:-18681}
MOCK_PORT=$((PORT + 3))
SECRET=bench-secret-$(date +%s)
WORK=$(mktemp -d /tmp/calbook-emails-ab.XXXXXX)
NATIVE=${NATIVE:-$ROOT/target/loadgen/release/calbook-loadgen}
[ -x "$NATIVE" ] || CARGO_TARGET_DIR=$ROOT/target/loadgen cargo build --release --locked --manifest-path bench/loadgen/Cargo.toml 2>&1 | tail -1
OUT=$ROOT/bench/out/emails-ab-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
# shellcheck source=bench/postgres.sh
source "$ROOT/bench/postgres.sh"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
start_mock
export CALCOM_WEBHOOK_SECRET=$SECRET RUST_LOG=warn
echo "machine: $(nproc) cores, $(free -m | awk '/Mem:/{print $2}') MiB, $(uname -r); A=$A B=$B"
for backend in $BACKENDS; do
  [ "$backend" = postgres ] && { stop_postgres; start_postgres tls; }
  for round in $(seq 1 "$ROUNDS"); do
    for side in A B; do
      for emails in off on; do
        bin=$A; [ "$side" = B ] && bin=$B
        rm -rf "$WORK/data"
        case $backend in
          sqlite) URL="sqlite://$WORK/data/calbook.db" ;;
          postgres)
            psql -q -h "$WORK/pg" -p $((PORT + 1)) -U calbook -d postgres -c "DROP DATABASE IF EXISTS calbook_bench" -c "CREATE DATABASE calbook_bench"
            URL=$PG_URL ;;
        esac
        env_emails=(EMAIL_KINDS= REMINDER_OFFSETS=)
        [ "$emails" = on ] && env_emails=(RESEND_API_KEY=re_bench RESEND_BASE_URL=http://127.0.0.1:$MOCK_PORT EMAIL_FROM="Bench <bench@example.com>")
        curl -sf -X POST "http://127.0.0.1:$MOCK_PORT/stats/reset" >/dev/null
        env "${env_emails[@]}" DATABASE_URL=$URL CALBOOK_DATA_DIR=$WORK/data "$bin" serve --bind 127.0.0.1:$PORT >"$WORK/calbook.log" 2>&1 &
        CB_PID=$!
        wait_ready $PORT
        cell=$side-$backend-$emails-$round
        "$NATIVE" run --url "http://127.0.0.1:$PORT/api/webhooks/calcom" --secret "$SECRET" -n "$N" -c 64 \
          --warmup "$WARMUP" --verify-dsn "$URL" --json-out "$OUT/$cell.json" >"$OUT/$cell.txt"
        at_end=0; drain=-
        if [ "$emails" = on ]; then
          at_end=$(mock_count); t0=$(date +%s.%N)
          for _ in $(seq 1 1200); do [ "$(mock_count)" -ge $((N + WARMUP)) ] && break; sleep 0.05; done
          drain=$(python3 -c "print(f'{$(date +%s.%N) - $t0:.1f}')")
          [ "$(mock_count)" -ge $((N + WARMUP)) ] || drain="not drained ($(mock_count))"
        fi
        stop_calbook
        python3 - "$OUT/$cell.json" "$side" "$backend" "$emails" "$round" "$(cut -d' ' -f1 /proc/loadavg)" "$at_end" "$drain" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); p = d["phases"][-1]
extra = f"  sent by the end {sys.argv[7]}, drained {sys.argv[8]} s later" if sys.argv[4] == "on" else ""
print(f"round {sys.argv[5]} {sys.argv[2]} {sys.argv[3]:<8} emails {sys.argv[4]:<3} {p['throughput_rps']:>8} req/s  "
      f"p50 {p['latency_ms']['p50']:.1f} ms  verified={d['ok']}  load average {sys.argv[6]}{extra}")
PY
      done
    done
  done
done
python3 - "$OUT" <<'PY'
import glob, json, os, statistics, sys
cells = {}
for f in glob.glob(f"{sys.argv[1]}/*.json"):
    side, backend, emails, _ = os.path.basename(f)[:-5].split("-")
    cells.setdefault((backend, side, emails), []).append(json.load(open(f))["phases"][-1]["throughput_rps"])
for backend in sorted({k[0] for k in cells}):
    for side in ("A", "B"):
        off = cells.get((backend, side, "off")); on = cells.get((backend, side, "on"))
        if off and on:
            print(f"median {backend:<8} {side}: off {statistics.median(off):.0f}, on {statistics.median(on):.0f} req/s "
                  f"-> on/off {statistics.median(on) / statistics.median(off):.2f}  (off {sorted(off)}, on {sorted(on)})")
PY
