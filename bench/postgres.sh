# Sourced by the benchmark scripts: start_postgres starts a throwaway PostgreSQL server (stock
# durability settings) under $WORK/pg on port $((PORT + 1)), creates database calbook_bench, and
# sets PG_PID and PG_URL. The caller's cleanup stops it (kill -INT "$PG_PID").

start_postgres() {
  local bin; bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  local pgport=$((PORT + 1)) as=()
  [ "$(id -u)" = 0 ] && as=(setpriv --reuid postgres --regid postgres --init-groups)
  mkdir -p "$WORK/pg"; chmod 755 "$WORK"; [ "$(id -u)" = 0 ] && chown postgres:postgres "$WORK/pg"
  "${as[@]}" "$bin/initdb" -D "$WORK/pg/data" -U calbook --auth=trust -E UTF8 --no-instructions >/dev/null
  # Stock durability settings (fsync, synchronous_commit on), as in RESULTS.md's peer runs.
  "${as[@]}" "$bin/postgres" -D "$WORK/pg/data" -p $pgport -k "$WORK/pg" -c listen_addresses=127.0.0.1 \
    >"$WORK/pg/server.log" 2>&1 &
  PG_PID=$!
  for _ in $(seq 1 200); do
    "$bin/pg_isready" -q -h 127.0.0.1 -p $pgport -U calbook -d postgres && break
    sleep 0.05
  done
  "$bin/psql" -q -h 127.0.0.1 -p $pgport -U calbook -d postgres -c "CREATE DATABASE calbook_bench"
  PG_URL="postgres://calbook@127.0.0.1:$pgport/calbook_bench"
}
