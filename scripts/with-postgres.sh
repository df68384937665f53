#!/usr/bin/env bash
# Runs a command with TEST_DATABASE_URL pointing at a PostgreSQL server the tests may create
# databases on: the one already in TEST_DATABASE_URL, else the server on 127.0.0.1:5432, else a
# throwaway cluster started here (initdb + pg_ctl on a free port, removed afterwards).
# Never silently goes without: if no server can be had, it fails saying how to get one.
set -euo pipefail

if [ -n "${TEST_DATABASE_URL:-}" ]; then
  exec "$@"
fi

if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres"
  exec "$@"
fi

initdb=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$initdb" ]; then
  cat >&2 <<'MSG'
with-postgres: no PostgreSQL for the tests. Either
  - set TEST_DATABASE_URL=postgres://USER@HOST:PORT/DB (a user that may CREATE DATABASE), or
  - start a server on 127.0.0.1:5432 that lets user "postgres" in, or
  - install Debian's postgresql package (apt-get install postgresql) so a throwaway one is started.
MSG
  exit 1
fi
bindir=$(dirname "$initdb")
tmp=$(mktemp -d /tmp/slimage-pg.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
run_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$tmp"
cleanup() { run_pg "$bindir/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
run_pg "$bindir/initdb" -D "$tmp/data" -A trust -U postgres >/dev/null
run_pg "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/log" -w \
  -o "-p $port -k $tmp -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start >/dev/null
echo "with-postgres: started a throwaway PostgreSQL on 127.0.0.1:$port" >&2
export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
"$@"
