#!/usr/bin/env bash
# A throwaway pg_memshard cluster for trying it out.
#
#   scripts/demo.sh start   (as root) install what is missing, build, install
#                           system-wide, initdb .demo/data as the postgres OS
#                           user with pg_memshard preloaded, start it on a
#                           free port, run a short demo and say how to connect
#   scripts/demo.sh stop    stop it
#
# Running "start" twice is harmless: it rebuilds and reuses the running server.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/common.sh"
BIN=$("$PG_CONFIG" --bindir)
demo=$top/.demo

as_postgres() { runuser -u postgres -- "$@"; }

# The demo folder must be reachable by the postgres user; when the checkout
# is not (e.g. under /root), keep the data in /var/tmp and link it.
prepare_demo_dir() {
    mkdir -p "$demo"
    chown postgres:postgres "$demo"
    if ! as_postgres test -w "$demo"; then
        local alt=/var/tmp/pg_memshard-demo
        mkdir -p "$alt"
        chown postgres:postgres "$alt"
        rm -rf "$demo"
        ln -s "$alt" "$demo"
    fi
}

free_port() {
    local port=54321
    while (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null; do
        port=$((port + 1))
    done
    echo $port
}

start() {
    [ "$(id -u)" = 0 ] || { echo "run as root (it installs packages and switches to the postgres user)"; exit 1; }
    bash "$top/scripts/install-deps.sh"
    make -C "$top" -s PG_CONFIG="$PG_CONFIG" >/dev/null
    make -C "$top" -s PG_CONFIG="$PG_CONFIG" install >/dev/null
    prepare_demo_dir
    local data=$demo/data
    if ! as_postgres test -f "$data/PG_VERSION"; then
        as_postgres "$BIN/initdb" -D "$data" -A trust >/dev/null
        local port
        port=$(free_port)
        cat >> "$data/postgresql.conf" <<CONF
port = $port
listen_addresses = 'localhost'
unix_socket_directories = '$demo'
shared_preload_libraries = 'pg_memshard'
pg_memshard.memory = 64MB
CONF
    fi
    local port
    port=$(sed -n "s/^port = //p" "$data/postgresql.conf" | tail -1)
    if ! as_postgres "$BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        as_postgres "$BIN/pg_ctl" -D "$data" -l "$demo/server.log" -w start >/dev/null
    else
        as_postgres "$BIN/pg_ctl" -D "$data" -l "$demo/server.log" -w restart >/dev/null
    fi
    as_postgres "$BIN/psql" -X -h "$demo" -p "$port" -d postgres -v ON_ERROR_STOP=1 \
        -f "$top/scripts/demo.sql"
    cat <<MSG

pg_memshard demo is running on port $port (data in $data).
  connect:  runuser -u postgres -- psql -h $demo -p $port postgres
        or  psql -h localhost -p $port -U postgres postgres
  stop:     make demo-stop   (or: bash scripts/demo.sh stop)
MSG
}

stop() {
    if [ -f "$demo/data/PG_VERSION" ]; then
        as_postgres "$BIN/pg_ctl" -D "$demo/data" -m fast stop || true
    else
        echo "no demo cluster in $demo"
    fi
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop"; exit 2 ;;
esac
