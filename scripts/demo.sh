#!/usr/bin/env bash
# A throwaway pg_memshard cluster for trying it out.
#
#   scripts/demo.sh start   (as root) install what is missing, build, install
#                           system-wide, initdb .demo/data as the postgres OS
#                           user with pg_memshard preloaded, start it on a
#                           free port, run a short demo and say how to connect
#   scripts/demo.sh stop    stop it
#   NODES=3 scripts/demo.sh start   a cluster instead: three nodes of 64MB
#                           (.demo/node1 ..), a map over them, then a fourth
#                           node of 256MB added, and memshard.rebalance_preview()
#                           and rebalance_plan() of the rebalance it calls for
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

# NODES=n: n nodes of 64MB, a map over them, node n+1 (256MB) added, the
# preview of the rebalance onto it
start_cluster() {
    [ "$(id -u)" = 0 ] || { echo "run as root (it installs packages and switches to the postgres user)"; exit 1; }
    bash "$top/scripts/install-deps.sh"
    make -C "$top" -s PG_CONFIG="$PG_CONFIG" >/dev/null
    make -C "$top" -s PG_CONFIG="$PG_CONFIG" install >/dev/null
    prepare_demo_dir
    local count=$((NODES + 1)) ports=() i port=54321
    for i in $(seq 1 "$count"); do
        local data=$demo/node$i
        if ! as_postgres test -f "$data/PG_VERSION"; then
            as_postgres "$BIN/initdb" -D "$data" -A trust >/dev/null
            while (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null; do port=$((port + 1)); done
            local memory=64MB
            [ "$i" = "$count" ] && memory=256MB
            cat >> "$data/postgresql.conf" <<CONF
port = $port
listen_addresses = 'localhost'
unix_socket_directories = '$demo'
shared_preload_libraries = 'pg_memshard'
pg_memshard.memory = $memory
max_prepared_transactions = 10
CONF
            port=$((port + 1))
        fi
        ports+=("$(sed -n "s/^port = //p" "$data/postgresql.conf" | tail -1)")
        as_postgres "$BIN/pg_ctl" -D "$data" -l "$demo/node$i.log" -w restart >/dev/null 2>&1 ||
            as_postgres "$BIN/pg_ctl" -D "$data" -l "$demo/node$i.log" -w start >/dev/null
    done
    local servers="" names=""
    for i in $(seq 1 "$count"); do
        servers+="CREATE SERVER IF NOT EXISTS n$i FOREIGN DATA WRAPPER memshard OPTIONS (host '$demo', port '${ports[$((i - 1))]}', dbname 'postgres');
CREATE USER MAPPING IF NOT EXISTS FOR CURRENT_USER SERVER n$i;
"
        [ "$i" -le "$NODES" ] && names+="${names:+, }'n$i'"
    done
    for i in $(seq 1 "$count"); do
        as_postgres "$BIN/psql" -X -q -h "$demo" -p "${ports[$((i - 1))]}" -d postgres \
            -c "DROP EXTENSION IF EXISTS pg_memshard CASCADE" -c "CREATE EXTENSION pg_memshard" \
            -c "$servers" >/dev/null
    done
    as_postgres "$BIN/psql" -X -h "$demo" -p "${ports[0]}" -d postgres -v ON_ERROR_STOP=1 <<SQL
SELECT $(for i in $(seq 1 "$NODES"); do printf "%smemshard.add_node('n%s')" "$([ "$i" -gt 1 ] && echo ', ')" "$i"; done);
SELECT memshard.create_map('sessions', nodes => ARRAY[$names]);
SELECT memshard.mset('sessions', array_agg('session:' || i), array_agg(repeat('x', 500)))
  FROM generate_series(1, 30000) i;
SELECT node, count(*) AS shards FROM memshard.shards GROUP BY node ORDER BY node;
-- a fourth node, four times the memory
SELECT memshard.add_node('n$count');
SELECT * FROM memshard.rebalance_preview();
SELECT step, map, shard, source, target, pg_size_pretty(bytes) AS bytes, items
  FROM memshard.rebalance_plan() LIMIT 10;
SQL
    cat <<MSG

pg_memshard demo cluster: $count nodes on ports ${ports[*]} (data in $demo/node*).
  connect:  runuser -u postgres -- psql -h $demo -p ${ports[0]} postgres
  then:     SELECT memshard.rebalance();   -- or rebalance_start(), then memshard.rebalance_status
  stop:     NODES=$NODES bash scripts/demo.sh stop
MSG
}

stop_cluster() {
    local i
    for i in $(seq 1 $((NODES + 1))); do
        [ -f "$demo/node$i/PG_VERSION" ] && as_postgres "$BIN/pg_ctl" -D "$demo/node$i" -m fast stop || true
    done
}

NODES=${NODES:-1}
case "${1:-start}" in
    start) if [ "$NODES" -gt 1 ]; then start_cluster; else start; fi ;;
    stop) if [ "$NODES" -gt 1 ]; then stop_cluster; else stop; fi ;;
    *) echo "usage: $0 start|stop"; exit 2 ;;
esac
