# Sourced by the benchmark scripts: start_postgres [tls|plain] starts a throwaway PostgreSQL server
# (stock durability settings) under $WORK/pg on port $((PORT + 1)), creates database
# calbook_bench, and sets PG_PID and PG_URL. The caller's cleanup stops it (kill -INT "$PG_PID");
# stop_postgres stops it earlier.
#
# tls (the default): `ssl = on` with a certificate made at start by a throwaway CA
# ($WORK/pg/ca.crt), and pg_hba.conf accepts only TLS connections (`hostssl`), as a managed
# PostgreSQL (Supabase, RDS, Debian's default cluster with ssl on) would. PG_URL then carries
# `sslmode=verify-full&sslrootcert=$WORK/pg/ca.crt`, so calbook and psql check the certificate.
# plain: no TLS at all (`host` lines only, `ssl = off`), for the comparison run.

pg_bin() { ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1; }

make_pg_certs() { # $1 directory: ca.crt/ca.key, server.crt/server.key for CN/SAN localhost + 127.0.0.1
  local d=$1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=calbook bench CA" -keyout "$d/ca.key" -out "$d/ca.crt" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
    -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$d/server.ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
    -extfile "$d/server.ext" -out "$d/server.crt" 2>/dev/null
  chmod 600 "$d/server.key"
}

start_postgres() {
  local mode=${1:-tls} bin; bin=$(pg_bin)
  local pgport=$((PORT + 1)) as=() ssl=()
  [ "$(id -u)" = 0 ] && as=(setpriv --reuid postgres --regid postgres --init-groups)
  rm -rf "$WORK/pg"; mkdir -p "$WORK/pg"; chmod 755 "$WORK"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$WORK/pg"
  "${as[@]}" "$bin/initdb" -D "$WORK/pg/data" -U calbook --auth=trust -E UTF8 --no-instructions >/dev/null
  if [ "$mode" = tls ]; then
    make_pg_certs "$WORK/pg"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$WORK/pg"/server.* "$WORK/pg"/ca.*
    # Only TLS connections over TCP; the Unix socket stays for local administration.
    printf 'local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n' >"$WORK/pg/hba.conf"
    ssl=(-c ssl=on -c ssl_cert_file="$WORK/pg/server.crt" -c ssl_key_file="$WORK/pg/server.key")
    PG_URL_PARAMS="?sslmode=verify-full&sslrootcert=$WORK/pg/ca.crt"
  else
    printf 'local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n' >"$WORK/pg/hba.conf"
    ssl=(-c ssl=off)
    PG_URL_PARAMS="?sslmode=disable"
  fi
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$WORK/pg/hba.conf"
  # Stock durability settings (fsync, synchronous_commit on), as in RESULTS.md's peer runs.
  "${as[@]}" "$bin/postgres" -D "$WORK/pg/data" -p $pgport -k "$WORK/pg" -c listen_addresses=127.0.0.1 \
    -c hba_file="$WORK/pg/hba.conf" "${ssl[@]}" >"$WORK/pg/server.log" 2>&1 &
  PG_PID=$!
  for _ in $(seq 1 200); do
    "$bin/pg_isready" -q -h "$WORK/pg" -p $pgport -U calbook -d postgres && break
    sleep 0.05
  done
  "$bin/psql" -q -h "$WORK/pg" -p $pgport -U calbook -d postgres -c "CREATE DATABASE calbook_bench"
  PG_URL="postgres://calbook@localhost:$pgport/calbook_bench$PG_URL_PARAMS"
  PG_MODE=$mode
}

stop_postgres() {
  [ -n "${PG_PID:-}" ] || return 0
  kill -INT "$PG_PID" 2>/dev/null || true; wait "$PG_PID" 2>/dev/null || true; PG_PID=""
}
