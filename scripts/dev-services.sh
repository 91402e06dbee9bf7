#!/usr/bin/env bash
# PostgreSQL and Redis for running Parley by hand against them.
#
#   eval "$(scripts/dev-services.sh start)"   # then: npm start
#   scripts/dev-services.sh stop
#
# `start` starts both (if they are not running) on 127.0.0.1 and prints the
# `export DATABASE_URL=... REDIS_URL=...` line. PostgreSQL keeps its data in
# data/dev-services/ across stop and start (delete that dir to start afresh);
# Redis keeps nothing. Ports: PARLEY_DEV_PG_PORT (54329) and
# PARLEY_DEV_REDIS_PORT (63799); the dir: PARLEY_DEV_SERVICES_DIR.
# Needs: apt-get install -y postgresql redis-server. Tests don't use these:
# they start their own (test/global-setup.ts).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${PARLEY_DEV_SERVICES_DIR:-$root/data/dev-services}"
pgport="${PARLEY_DEV_PG_PORT:-54329}"
rport="${PARLEY_DEV_REDIS_PORT:-63799}"

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$pgbin/initdb" ] || pgbin=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")
[ -x "$pgbin/initdb" ] || { echo "dev-services: PostgreSQL is not installed (apt-get install -y postgresql)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "dev-services: redis-server is not installed (apt-get install -y redis-server)" >&2; exit 1; }

# PostgreSQL refuses to run as root: as root, run it as the postgres OS user.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
redis_pid() { local p; p=$(cat "$dir/redis.pid" 2>/dev/null) && kill -0 "$p" 2>/dev/null && echo "$p"; }

case "${1:-}" in
  start)
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
    if [ ! -s "$dir/pg/PG_VERSION" ]; then
      as_pg "$pgbin/initdb" -D "$dir/pg" -A trust -U parley -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { echo "dev-services: initdb failed, see $dir/initdb.log" >&2; exit 1; }
    fi
    if ! as_pg "$pgbin/pg_ctl" -D "$dir/pg" status >/dev/null 2>&1; then
      as_pg "$pgbin/pg_ctl" -D "$dir/pg" -l "$dir/postgres.log" -w -o \
        "-p $pgport -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=128MB" start >/dev/null \
        || { echo "dev-services: PostgreSQL did not start, see $dir/postgres.log" >&2; exit 1; }
    fi
    if [ -z "$("$pgbin/psql" -h 127.0.0.1 -p "$pgport" -U parley -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'parley'")" ]; then
      "$pgbin/createdb" -h 127.0.0.1 -p "$pgport" -U parley parley
    fi
    if [ -z "$(redis_pid)" ]; then
      redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
        --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
      for _ in $(seq 1 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
      redis-cli -p "$rport" ping >/dev/null 2>&1 || { echo "dev-services: Redis did not start, see $dir/redis.log" >&2; exit 1; }
    fi
    echo "export DATABASE_URL=postgres://parley@127.0.0.1:$pgport/parley REDIS_URL=redis://127.0.0.1:$rport"
    ;;
  stop)
    if [ -s "$dir/pg/PG_VERSION" ] && as_pg "$pgbin/pg_ctl" -D "$dir/pg" status >/dev/null 2>&1; then
      as_pg "$pgbin/pg_ctl" -D "$dir/pg" -m fast -w stop >/dev/null
    fi
    if p=$(redis_pid); then
      kill "$p"
      while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
    fi
    echo "dev-services: stopped (PostgreSQL's data stays in $dir)" >&2
    ;;
  *)
    sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
