#!/usr/bin/env bash
# resp_bench.sh: pg_memshard's Redis protocol port against redis-server,
# both on loopback in the same run, with Redis's own redis-benchmark
# (bench/README.md, "Redis protocol").
#
#   bash bench/resp_bench.sh            (as root; one command)
#
# As root it installs what is missing, copies the tree to a folder owned by
# the postgres OS user and runs itself there as that user.  It builds a
# private install, starts a throwaway PostgreSQL with one RESP worker
# (pg_memshard.resp_workers = WORKERS) and a redis-server, runs
#   redis-benchmark -t set,get,incr,mset -n N -c 50 -r 100000 -q [-P 16]
# against each, prints ops/s and the ratio ours/redis, then the memory
# test: KEYS keys with 100-byte values SET over RESP into each, bytes per
# key from each side's INFO (used_memory after minus before).
#
# Knobs: N (100000) requests per test, KEYS (1000000), WORKERS (1).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/common.sh"
N=${N:-100000}
KEYS=${KEYS:-1000000}
WORKERS=${WORKERS:-1}

if [ "$(id -u)" = 0 ]; then
    bash "$top/scripts/install-deps.sh"
fi
rerun_as_postgres "$top" resp-bench bench/resp_bench.sh N KEYS WORKERS

cd "$top"
run_dir=$top/tmp_check/resp_bench
rm -rf "$run_dir"
mkdir -p "$run_dir"
make -s PG_CONFIG="$PG_CONFIG" >/dev/null
make_private_install "$top"
export PATH="$BINDIR:$PATH"

free_port() {
    local port=$1
    while ss -ltnH "sport = :$port" | grep -q .; do port=$((port + 1)); done
    echo "$port"
}
pgport=$(free_port 56432)
ours=$(free_port 56379)
theirs=$(free_port $((ours + 1)))

initdb -D "$run_dir/data" -A trust >/dev/null
cat >> "$run_dir/data/postgresql.conf" <<EOC
port = $pgport
listen_addresses = ''
unix_socket_directories = '$run_dir'
shared_preload_libraries = 'pg_memshard'
pg_memshard.memory = 1GB
pg_memshard.resp_port = $ours
pg_memshard.resp_workers = $WORKERS
pg_memshard.resp_auth = off
EOC
pg_ctl -D "$run_dir/data" -l "$run_dir/pg.log" -w start >/dev/null
psql -h "$run_dir" -p "$pgport" -d postgres -qc 'CREATE EXTENSION pg_memshard'
redis-server --port "$theirs" --bind 127.0.0.1 --save '' --appendonly no \
    --maxmemory 2gb --dir "$run_dir" --daemonize yes --logfile "$run_dir/redis.log" \
    --pidfile "$run_dir/redis.pid"
cleanup() {
    redis-cli -p "$theirs" shutdown nosave >/dev/null 2>&1 || true
    pg_ctl -D "$run_dir/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$run_dir/data"
}
trap cleanup EXIT
for p in "$ours" "$theirs"; do
    for _ in $(seq 50); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
done

bench() {   # port pipeline -> "test ops" lines
    redis-benchmark -p "$1" -t set,get,incr,mset -n "$N" -c 50 -r 100000 -q -P "$2" 2>/dev/null |
        tr '\r' '\n' | awk -F': ' '/requests per second/ {split($2, a, " "); n = $1; gsub(/[ ()]/, "", n); print n, a[1]}'
}
echo "redis-benchmark -t set,get,incr,mset -n $N -c 50 -r 100000 -q; $WORKERS RESP worker(s)"
printf '%-14s %-4s %14s %14s %8s\n' test P pg_memshard redis ratio
for P in 1 16; do
    bench "$ours" "$P" > "$run_dir/ours.$P"
    bench "$theirs" "$P" > "$run_dir/redis.$P"
    join <(sort "$run_dir/ours.$P") <(sort "$run_dir/redis.$P") |
        awk -v P="$P" '{printf "%-14s %-4s %14.0f %14.0f %8.2f\n", $1, P, $2, $3, $2 / $3}'
done

used() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '/^used_memory:/ {print $2}'; }
redis-cli -p "$ours" flushall >/dev/null
redis-cli -p "$theirs" flushall >/dev/null
echo
echo "memory: $KEYS keys, 100-byte values, SET over RESP (INFO used_memory after - before)"
for p in "$ours" "$theirs"; do
    before=$(used "$p")
    redis-benchmark -p "$p" -t set -n "$KEYS" -r 100000000000 -d 100 -c 50 -P 64 -q \
        >/dev/null 2>&1
    # -r draws keys at random: count the keys actually there
    keys=$(redis-cli -p "$p" dbsize)
    after=$(used "$p")
    echo "$p $keys $before $after" >> "$run_dir/mem"
done
awk 'NR == 1 {o = ($4 - $3) / $2; printf "pg_memshard: %d keys, %.1f bytes/key\n", $2, o}
     NR == 2 {r = ($4 - $3) / $2; printf "redis:       %d keys, %.1f bytes/key\n", $2, r;
              printf "ratio pg_memshard/redis: %.2f\n", o / r}' "$run_dir/mem"
