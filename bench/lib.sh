# Sourced by the A/B and attribution bench scripts, after they set ROOT, WORK and, with the mock
# Resend, MOCK_PORT: the processes a script starts (calbook, the mock, PostgreSQL through
# bench/postgres.sh), waiting for them, and stopping all of them and removing WORK on exit.
# shellcheck shell=bash
CB_PID=""; MOCK_PID=""; PG_PID=${PG_PID:-}

# Waits until calbook answers /readyz on port $1; a message and failure after 10 s.
wait_ready() {
  for _ in $(seq 1 200); do
    curl -sf "http://127.0.0.1:$1/readyz" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "calbook on port $1 did not become ready; its log: $WORK/calbook.log" >&2
  return 1
}

stop_calbook() {
  if [ -n "$CB_PID" ]; then kill "$CB_PID" 2>/dev/null || true; wait "$CB_PID" 2>/dev/null || true; fi
  CB_PID=""
}

# The Node mock Resend of ../shared/bench/seed-node (0 ms answers) on $MOCK_PORT.
start_mock() {
  RESEND_MOCK_PORT=$MOCK_PORT node "$ROOT/../shared/bench/seed-node/mock-resend/server.mjs" >"$WORK/mock.log" 2>&1 &
  MOCK_PID=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$MOCK_PORT/stats" >/dev/null && return 0; sleep 0.05; done
  echo "the mock Resend did not start; its log: $WORK/mock.log" >&2
  return 1
}

# Emails the mock has accepted since its last reset.
mock_count() {
  curl -sf "http://127.0.0.1:$MOCK_PORT/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["emails"])'
}

bench_cleanup() {
  stop_calbook
  if [ -n "$MOCK_PID" ]; then kill "$MOCK_PID" 2>/dev/null || true; wait "$MOCK_PID" 2>/dev/null || true; fi
  if declare -F stop_postgres >/dev/null; then stop_postgres; fi
  rm -rf "$WORK"
}
trap bench_cleanup EXIT
