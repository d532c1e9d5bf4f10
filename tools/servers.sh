#!/usr/bin/env bash
# Installs (only when missing), starts, stops and reports the local PostgreSQL 15 and Redis 7
# servers Canopy needs, on 127.0.0.1, with their data under .data/ (git-ignored).
# Idempotent: "up" on running servers does nothing.
#
#   tools/servers.sh up       install if needed, start PostgreSQL, its streaming standby and both Redis instances, create roles and databases
#   tools/servers.sh bench-tools  install wrk (the HTTP benchmarks' load generator) if missing
#   tools/servers.sh down     stop them
#   tools/servers.sh status   print what runs
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
root="$canopy_root"

pg_bin=/usr/lib/postgresql/15/bin
data_root="$root/.data"

log() { printf 'servers: %s\n' "$*"; }

if [[ $EUID -ne 0 ]]; then
  log "run as root: PostgreSQL is installed with apt and started as the postgres user (runuser)"
  exit 1
fi

as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

apt_updated=0
apt_install() {
  if [[ $apt_updated -eq 0 ]]; then
    log "apt-get update"
    as_root apt-get update -qq
    apt_updated=1
  fi
  log "installing $*"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

install_missing() {
  local wanted=()
  [[ -x "$pg_bin/postgres" ]] || wanted+=(postgresql-15 postgresql-client-15)
  command -v redis-server >/dev/null 2>&1 || wanted+=(redis-server)
  command -v redis-cli >/dev/null 2>&1 || wanted+=(redis-tools)
  # promtool (Debian's prometheus package) checks /metrics and the alert rules; the Prometheus
  # server it also installs is never started.
  command -v promtool >/dev/null 2>&1 || wanted+=(prometheus)
  # Argon2id password hashing (crypto_pwhash_str) is libsodium's; the service loads it at run time.
  ldconfig -p 2>/dev/null | grep -q 'libsodium\.so\.23 ' || wanted+=(libsodium23)
  if ((${#wanted[@]})); then apt_install "${wanted[@]}"; fi
}

# initdb and postgres refuse to run as root: they run as the postgres user, on a data folder
# it owns. When that user cannot reach the work tree (a private parent folder), the cluster
# lives in a folder of its own, keyed by the work tree's path.
pg_root() {
  if runuser -u postgres -- test -x "$root" 2>/dev/null && runuser -u postgres -- test -x "$(dirname "$root")"; then
    echo "$data_root/postgres"
  else
    echo "/var/lib/canopy/$(printf '%s' "$root" | sha256sum | cut -c1-16)/postgres"
  fi
}

pg_as() { runuser -u postgres -- "$@"; }

pg_ready() {
  "$pg_bin/pg_isready" -h 127.0.0.1 -p "${1:-$CANOPY_PG_PORT}" -q
}

pg_running() {
  [[ -s "$1/PG_VERSION" ]] && pg_as "$pg_bin/pg_ctl" -D "$1" status >/dev/null 2>&1
}

# Port and socket folder live in a file the server includes, never on a shell command line.
pg_write_local_conf() {
  local pgdata="$1" sockets="$2" port="${3:-$CANOPY_PG_PORT}"
  grep -q "^include_if_exists = 'canopy.conf'" "$pgdata/postgresql.conf" \
    || printf "\ninclude_if_exists = 'canopy.conf'\n" >> "$pgdata/postgresql.conf"
  printf "# Written by tools/servers.sh on every start.\nport = %s\nunix_socket_directories = '%s'\n" \
    "$port" "${sockets//\'/\'\'}" > "$pgdata/canopy.conf"
  chown postgres:postgres "$pgdata/canopy.conf"
}

pg_up() {
  local base; base="$(pg_root)"
  local pgdata="$base/data" sockets="$base/run" logfile="$base/postgres.log"
  if pg_running "$pgdata"; then
    log "PostgreSQL already runs from $pgdata"
  elif pg_ready; then
    log "port $CANOPY_PG_PORT already answers, but not from $pgdata: another PostgreSQL holds it. Stop it, or set CANOPY_PG_PORT."
    exit 1
  else
    mkdir -p "$base"
    chown postgres:postgres "$base"
    if [[ ! -s "$pgdata/PG_VERSION" ]]; then
      log "initialising a PostgreSQL cluster in $pgdata"
      pg_as mkdir -p "$pgdata" "$sockets"
      pg_as "$pg_bin/initdb" -D "$pgdata" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >/dev/null
      cat >> "$pgdata/postgresql.conf" <<CONF
# Canopy local server
listen_addresses = '127.0.0.1'
timezone = 'UTC'
log_timezone = 'UTC'
max_connections = 300
shared_buffers = 256MB
fsync = on
CONF
    fi
    pg_as mkdir -p "$sockets"
    pg_write_local_conf "$pgdata" "$sockets"
    log "starting PostgreSQL on 127.0.0.1:$CANOPY_PG_PORT"
    pg_as "$pg_bin/pg_ctl" -D "$pgdata" -l "$logfile" -w -t 60 start >/dev/null
  fi
  pg_bootstrap_roles "$sockets"
}

# psql runs with this environment (-m) so passwords reach it through \getenv, never argv.
pg_sql() {
  local sockets="$1"; shift
  runuser -u postgres -m -- "$pg_bin/psql" -h "$sockets" -p "$CANOPY_PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"
}

pg_bootstrap_roles() {
  local sockets="$1"
  pg_sql "$sockets" -d postgres -v owner="$CANOPY_PG_OWNER_USER" -v app="$CANOPY_PG_APP_USER" <<'SQL'
\getenv owner_pw CANOPY_PG_OWNER_PASSWORD
\getenv app_pw CANOPY_PG_APP_PASSWORD
SELECT format('CREATE ROLE %I LOGIN', :'owner') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('CREATE ROLE %I LOGIN', :'app') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app') \gexec
-- The owner migrates; the application role owns nothing and cannot bypass row-level security.
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEROLE NOBYPASSRLS PASSWORD %L', :'owner', :'owner_pw') \gexec
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD %L', :'app', :'app_pw') \gexec
SELECT format('ALTER ROLE %I SET timezone = %L', :'app', 'UTC') \gexec
SELECT format('ALTER ROLE %I SET timezone = %L', :'owner', 'UTC') \gexec
SQL
  # The standby replicates as a role that can do nothing else (initdb's pg_hba admits replication
  # from 127.0.0.1 with a password).
  pg_sql "$sockets" -d postgres -v replicator="$CANOPY_PG_REPLICATION_USER" <<'SQL'
\getenv replicator_pw CANOPY_PG_REPLICATION_PASSWORD
SELECT format('CREATE ROLE %I LOGIN REPLICATION', :'replicator') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'replicator') \gexec
SELECT format('ALTER ROLE %I LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L', :'replicator', :'replicator_pw') \gexec
SQL
  local db
  for db in "$CANOPY_PG_DATABASE" "$CANOPY_PG_TEST_DATABASE"; do
    pg_sql "$sockets" -d postgres -v db="$db" -v owner="$CANOPY_PG_OWNER_USER" -v app="$CANOPY_PG_APP_USER" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db') \gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', :'db', :'app') \gexec
SQL
  done
  # In the test database only, the owner may hold and resume the standby's replay: tests show
  # what dashboards serve while the replica lags. (Granted here, on the primary, it replicates.)
  pg_sql "$sockets" -d "$CANOPY_PG_TEST_DATABASE" -v owner="$CANOPY_PG_OWNER_USER" <<'SQL'
SELECT format('GRANT EXECUTE ON FUNCTION pg_wal_replay_pause(), pg_wal_replay_resume() TO %I', :'owner') \gexec
SQL
  log "PostgreSQL ready: databases $CANOPY_PG_DATABASE and $CANOPY_PG_TEST_DATABASE, roles $CANOPY_PG_OWNER_USER (owner) and $CANOPY_PG_APP_USER (application)"
}

# A hot standby of the primary on its own port, made once with pg_basebackup and then kept up to
# date by streaming replication: dashboard and report reads go there (ConnectionStrings__PostgresReplica).
replica_up() {
  local base; base="$(pg_root)"
  local pgdata="$base/replica" sockets="$base/run-replica" logfile="$base/replica.log"
  if pg_running "$pgdata"; then
    log "PostgreSQL standby already runs from $pgdata"
    return
  fi
  if pg_ready "$CANOPY_PG_REPLICA_PORT"; then
    log "port $CANOPY_PG_REPLICA_PORT already answers, but not from $pgdata: another PostgreSQL holds it. Stop it, or set CANOPY_PG_REPLICA_PORT."
    exit 1
  fi
  pg_as mkdir -p "$sockets"
  if [[ ! -s "$pgdata/PG_VERSION" ]]; then
    log "copying the primary into a standby in $pgdata (pg_basebackup)"
    rm -rf "$pgdata"
    PGPASSWORD="$CANOPY_PG_REPLICATION_PASSWORD" runuser -u postgres -m -- "$pg_bin/pg_basebackup" -h 127.0.0.1 -p "$CANOPY_PG_PORT" \
      -U "$CANOPY_PG_REPLICATION_USER" -D "$pgdata" -X stream -R -c fast
  fi
  pg_write_local_conf "$pgdata" "$sockets" "$CANOPY_PG_REPLICA_PORT"
  log "starting the PostgreSQL standby on 127.0.0.1:$CANOPY_PG_REPLICA_PORT"
  pg_as "$pg_bin/pg_ctl" -D "$pgdata" -l "$logfile" -w -t 60 start >/dev/null
}

# Stops the cluster in <data folder>, named <what> in the log, if it runs.
pg_stop() {
  local pgdata="$1" what="$2"
  if pg_running "$pgdata"; then
    log "stopping $what"
    pg_as "$pg_bin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null
  else
    log "$what is not running"
  fi
}

redis_cli() {
  local port="$1"; shift
  REDISCLI_AUTH="$CANOPY_REDIS_PASSWORD" redis-cli -h 127.0.0.1 -p "$port" "$@"
}

redis_up() {
  local name="$1" port="$2" persist="$3"
  if [[ "$(redis_cli "$port" ping 2>/dev/null)" == "PONG" ]]; then
    log "Redis ($name) already answers on 127.0.0.1:$port"
    return
  fi
  local dir="$data_root/redis-$name"
  mkdir -p "$dir"
  local persistence=(--save "" --appendonly no)
  [[ "$persist" == yes ]] && persistence=(--save "" --appendonly yes)
  log "starting Redis ($name) on 127.0.0.1:$port"
  # The password goes in a config file readable only by its owner, not on the command line.
  local conf="$dir/redis.conf"
  (umask 077 && printf 'requirepass %s\n' "$CANOPY_REDIS_PASSWORD" > "$conf")
  # Never evict: a revocation note evicted would be forgotten while its marker stays (ADR 0026).
  redis-server "$conf" --bind 127.0.0.1 --port "$port" --protected-mode yes --daemonize yes \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --maxmemory-policy noeviction "${persistence[@]}"
  local i
  for i in $(seq 1 100); do
    [[ "$(redis_cli "$port" ping 2>/dev/null)" == "PONG" ]] && return
    sleep 0.1
  done
  log "Redis ($name) did not start; see $dir/redis.log"
  exit 1
}

redis_down() {
  local name="$1" port="$2"
  if [[ "$(redis_cli "$port" ping 2>/dev/null)" == "PONG" ]]; then
    log "stopping Redis ($name)"
    redis_cli "$port" shutdown nosave >/dev/null 2>&1 || true
  else
    log "Redis ($name) is not running"
  fi
}

status() {
  if pg_ready; then log "PostgreSQL: up on 127.0.0.1:$CANOPY_PG_PORT"; else log "PostgreSQL: down"; fi
  if pg_ready "$CANOPY_PG_REPLICA_PORT"; then log "PostgreSQL standby: up on 127.0.0.1:$CANOPY_PG_REPLICA_PORT"; else log "PostgreSQL standby: down"; fi
  local name port
  for name in dev test; do
    port=$CANOPY_REDIS_PORT; [[ $name == test ]] && port=$CANOPY_REDIS_TEST_PORT
    if [[ "$(redis_cli "$port" ping 2>/dev/null)" == "PONG" ]]; then log "Redis ($name): up on 127.0.0.1:$port"; else log "Redis ($name): down"; fi
  done
}

case "${1:-}" in
  up)
    install_missing
    pg_up
    replica_up
    redis_up dev "$CANOPY_REDIS_PORT" yes
    redis_up test "$CANOPY_REDIS_TEST_PORT" no
    ;;
  down)
    redis_down dev "$CANOPY_REDIS_PORT"
    redis_down test "$CANOPY_REDIS_TEST_PORT"
    pg_stop "$(pg_root)/replica" "the PostgreSQL standby"
    pg_stop "$(pg_root)/data" "PostgreSQL"
    ;;
  status) status ;;
  # The load generator of the HTTP benchmarks (./build.sh --target=Bench), not needed by tests.
  bench-tools) command -v wrk >/dev/null 2>&1 || apt_install wrk ;;
  *) echo "usage: $0 up|down|status|bench-tools" >&2; exit 2 ;;
esac
