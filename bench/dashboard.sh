#!/usr/bin/env bash
# Dashboard benchmark: fills calbook (release build, on SQLite and on PostgreSQL) with N bookings through signed
# webhooks (../shared/bench/loadgen, a mix of created, rescheduled and cancelled), signs in to
# /admin, and times each dashboard page REPEAT times with curl (one request at a time). Prints the
# median and p95 per page; copy them into BENCHMARKS.md with the machine they ran on.
#
# With BEFORE=<an older calbook binary>, the bookings are filled through that binary, its pages
# are timed, then the release build of this tree starts on the same data (applying its newer
# migrations) and the pages are timed again: a before/after on identical data, in one sitting.
#
#   bench/dashboard.sh                 # 100,000 bookings, both backends
#   N=20000 REPEAT=50 BACKENDS=sqlite bench/dashboard.sh
#   BEFORE=/tmp/calbook-before bench/dashboard.sh
#   VACUUM=1 BACKENDS=postgres BEFORE=/tmp/calbook-before bench/dashboard.sh   # vacuumed first
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
LOADGEN=${LOADGEN:-$ROOT/../shared/bench/loadgen}
N=${N:-100000}
REPEAT=${REPEAT:-30}
BACKENDS=${BACKENDS:-"sqlite postgres"}
PORT=${PORT:-18191}
SECRET=bench-secret-$(date +%s)
TOKEN=bench-admin-token-$(date +%s)
WORK=$(mktemp -d /tmp/calbook-dash.XXXXXX)
export CALCOM_WEBHOOK_SECRET=$SECRET CALBOOK_ADMIN_TOKEN=$TOKEN RUST_LOG=${RUST_LOG:-warn} EMAIL_KINDS= REMINDER_OFFSETS=
BIN=$ROOT/target/release/calbook
BEFORE=${BEFORE:-}
CB_PID=""
PG_PID=""
cleanup() {
  [ -n "$CB_PID" ] && kill "$CB_PID" 2>/dev/null && wait "$CB_PID" 2>/dev/null || true
  if [ -n "$PG_PID" ]; then kill -INT "$PG_PID" 2>/dev/null || true; wait "$PG_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
# shellcheck source=bench/postgres.sh
source "$ROOT/bench/postgres.sh"
trap cleanup EXIT

echo "== build"
if [ "${BUILD:-1}" = 1 ]; then cargo build --release --locked 2>&1 | tail -1; fi
echo "machine: $(nproc) cores, $(free -m | awk '/Mem:/{print $2}') MiB, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

sql() { # one value from the database of the current backend
  case $backend in
    sqlite) sqlite3 "$WORK/data/calbook.db" "$1" ;;
    postgres) "$PG_BIN/psql" -qtA "$PG_URL" -c "$1" ;;
  esac
}

time_page() { # $1 label, $2 path, then extra curl arguments
  local samples=() code label=$1 path=$2
  shift 2
  code=$(curl -s -o /dev/null -w '%{http_code}' -b "$JAR" "$@" "$B$path")
  [ "$code" = 404 ] && [ -n "$BEFORE" ] && { echo "$label: not in this build (404)"; return; }
  [ "$code" = 200 ] || { echo "$label: HTTP $code for $path"; exit 1; }
  for _ in $(seq 1 "$REPEAT"); do
    samples+=("$(curl -s -o /dev/null -w '%{time_total}' -b "$JAR" "$@" "$B$path")")
  done
  printf '%s\n' "${samples[@]}" | python3 -c "
import sys
xs = sorted(float(x) * 1000 for x in sys.stdin)
p = lambda q: xs[min(len(xs) - 1, int(q * len(xs)))]
print(f'{sys.argv[1]:<34} median {p(0.5):7.2f} ms   p95 {p(0.95):7.2f} ms')
" "$label"
}

for backend in $BACKENDS; do
  echo "==== $backend"
  rm -rf "$WORK/data"
  case $backend in
    sqlite) URL="sqlite://$WORK/data/calbook.db"; DSN="$WORK/data/calbook.db" ;;
    postgres) [ -z "$PG_PID" ] && start_postgres; PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); URL=$PG_URL; DSN=$PG_URL ;;
  esac
  start_calbook() { # $1 the binary; prints how long it took to be ready (pending migrations included)
    local t0; t0=$(date +%s.%N)
    DATABASE_URL=$URL CALBOOK_DATA_DIR=$WORK/data "$1" serve --bind 127.0.0.1:$PORT >>"$WORK/calbook.log" 2>&1 &
    CB_PID=$!
    # Up to 2 minutes: a build with a new migration applies it to the filled database first.
    for _ in $(seq 1 2400); do
      if curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then
        echo "ready after $(awk "BEGIN{printf \"%.2f\", $(date +%s.%N) - $t0}") s ($1)"
        return 0
      fi
      sleep 0.05
    done
    echo "calbook did not become ready:"; tail -5 "$WORK/calbook.log"; exit 1
  }
  stop_calbook() { kill "$CB_PID"; wait "$CB_PID" 2>/dev/null || true; CB_PID=""; }
  start_calbook "${BEFORE:-$BIN}"

  echo "== fill: $N bookings"
  python3 "$LOADGEN/loadgen.py" --url "http://127.0.0.1:$PORT/api/webhooks/calcom" --secret "$SECRET" \
    -n "$N" -c 32 --mix created=80,rescheduled=10,cancelled=10 --reschedule-model new-row \
    --verify-dsn "$DSN" | tail -4
  B=http://127.0.0.1:$PORT
  UID1=$(sql "select external_id from bookings where rescheduled_to is not null limit 1")
  EMAIL=$(sql "select attendee_email from bookings order by starts_at limit 1 offset 5000")
  NEEDLE=${EMAIL%%@*}
  echo "bookings in the database: $(sql "select count(*) from bookings")"

  for bin in $BEFORE $BIN; do
    [ -z "$CB_PID" ] && start_calbook "$bin"
    # VACUUM=1: on PostgreSQL, times each build on a vacuumed database (visibility map set, as
    # autovacuum leaves it within minutes) instead of right after the fill or a migration.
    if [ "${VACUUM:-0}" = 1 ] && [ "$backend" = postgres ]; then
      t0=$(date +%s.%N); sql "VACUUM (ANALYZE)" >/dev/null
      echo "VACUUM (ANALYZE) in $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}") s"
    fi
    echo "== $backend, $bin ($(cut -d' ' -f1-3 /proc/loadavg))"
    JAR=$WORK/jar; rm -f "$JAR"
    curl -s -c "$JAR" "$B/admin/login" >"$WORK/login.html"
    NONCE=$(grep -o 'name="csrf" value="[^"]*"' "$WORK/login.html" | sed 's/.*value="//;s/"$//')
    curl -s -b "$JAR" -c "$JAR" -o /dev/null -X POST "$B/admin/login" \
      --data-urlencode "csrf=$NONCE" --data-urlencode "token=$TOKEN" --data-urlencode "next=/admin/bookings"
    # The list's own next-page link (the <a rel="next">), HTML entities decoded.
    next_link() {
      curl -s -b "$JAR" "$B$1" | python3 -c '
import html, re, sys
for tag in re.findall(r"<a\s[^>]*>", sys.stdin.read()):
    if re.search(r"\brel=\"next\"", tag):
        print(html.unescape(re.search(r"\bhref=\"([^\"]*)\"", tag).group(1)))
        break
'
    }
    # With N deliveries the fill's first N/5 bookings (the earliest, the only past ones) are all
    # rescheduled or cancelled: the past live list is empty, so page 2 is taken from the past
    # list of every status.
    PAGE2=$(next_link "/admin/bookings?view=past&status=all")
    UPCOMING2=$(next_link "/admin/bookings")
    for pair in "past&status=all|$PAGE2" "upcoming|$UPCOMING2"; do
      case ${pair#*|} in
        /admin/bookings\?*cursor=*) ;;
        *) echo "no next-page link with a cursor on the first page of the ${pair%%|*} list:"
           curl -s -b "$JAR" -w 'HTTP %{http_code}\n' "$B/admin/bookings?view=${pair%%|*}" | grep -E 'rel="next"|<h1|HTTP|<p' | head -8
           exit 1 ;;
      esac
    done

    echo "== pages ($REPEAT requests each, one at a time)"
    time_page "upcoming" "/admin/bookings"
    time_page "upcoming, page 2 (cursor)" "$UPCOMING2"
    time_page "past" "/admin/bookings?view=past"
    time_page "past, all statuses" "/admin/bookings?view=past&status=all"
    time_page "past, all statuses, page 2 (cursor)" "$PAGE2"
    time_page "past, status=cancelled" "/admin/bookings?view=past&status=cancelled"
    time_page "past, one month" "/admin/bookings?view=past&from=2026-03-01&to=2026-03-31"
    time_page "search by attendee (substring)" "/admin/bookings?view=past&status=all&q=$NEEDLE"
    time_page "search, upcoming live (substring)" "/admin/bookings?q=$NEEDLE"
    time_page "search, common word (every title)" "/admin/bookings?view=past&status=all&q=between"
    time_page "search, two letters (scan)" "/admin/bookings?view=past&status=all&q=${NEEDLE:0:2}"
    time_page "one booking (chain, history, emails)" "/admin/bookings/$UID1"
    time_page "deliveries" "/admin/deliveries"
    time_page "emails (all, with counts)" "/admin/emails"
    time_page "numbers (12 weeks, chart)" "/admin/stats"
    time_page "GET /api/stats (admin token)" "/api/stats" -H "Authorization: Bearer $TOKEN"
    stop_calbook
  done
  if [ -n "$BEFORE" ]; then
    # The same build again, nothing left to migrate: the difference to its first start on this
    # data is what the newer migrations took.
    echo -n "restart, nothing to migrate: "; start_calbook "$BIN"; stop_calbook
  fi
done
