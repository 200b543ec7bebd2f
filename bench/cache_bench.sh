#!/usr/bin/env bash
# cache_bench.sh: the local-cache benchmarks of pg_memshard, each against
# its baseline in the same run (bench/README.md, "Local cache").
#
#   bash bench/cache_bench.sh            (as root; one command)
#
# As root it installs what is missing (memcached, pgmemcache), copies the
# tree to a folder owned by the postgres OS user and runs itself there, as
# that user, under nice (logs come back to tmp_check/cache_bench/).  As any
# other user it runs in place.  Either way it builds a private install,
# starts a throwaway PostgreSQL (pg_memshard and pgmemcache preloaded) and a
# memcached on loopback ports, measures, prints a table of ns/op, tps, items
# and ratios against the targets of issue 3, and stops and removes what it
# started.
#
# Knobs (environment): PGBENCH_SECONDS (5) per pgbench run, PGBENCH_ROUNDS
# (3) runs of each pgbench script (the best counts), RUNS (5) runs
# per timed statement (the best counts), MC_OPS (20000) memcached calls per
# statement, EFF_KEYS (2000000) keys of the memory test, PARTS (all) which
# parts to run: "all", or "memory" for the memory test alone (about a
# minute; what a change to the store's memory layout is measured with).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/common.sh"
. "$top/bench/bench_lib.sh"

PGBENCH_SECONDS=${PGBENCH_SECONDS:-5}
PGBENCH_ROUNDS=${PGBENCH_ROUNDS:-3}
RUNS=${RUNS:-5}
MC_OPS=${MC_OPS:-20000}
EFF_KEYS=${EFF_KEYS:-2000000}
PARTS=${PARTS:-all}
BUDGET_MB=64

if [ "$(id -u)" = 0 ]; then
    bash "$top/scripts/install-deps.sh" memcached postgresql-15-pgmemcache
    # everything below, servers included, runs niced: the machine is shared
    if [ "$(nice)" = 0 ]; then
        exec nice -n 10 bash "$0" "$@"
    fi
fi
rerun_as_postgres "$top" cache-bench bench/cache_bench.sh \
    PGBENCH_SECONDS PGBENCH_ROUNDS RUNS MC_OPS EFF_KEYS PARTS

cd "$top"
# logs stay in tmp_check/cache_bench (copied back to the checkout when run
# as root); the instance's data directory is removed at the end
run_dir=$top/tmp_check/cache_bench
log=$run_dir/bench.log
rm -rf "$run_dir"
mkdir -p "$run_dir"

echo "== build and private install"
make -s PG_CONFIG="$PG_CONFIG" >/dev/null
make_private_install "$top"
export PATH="$BINDIR:$PATH"

pg_port=$(free_port 56432)
mc_port=$(free_port 21211)
data=$run_dir/data
mc_pid=

cleanup() {
    pg_ctl -D "$data" -m fast stop >/dev/null 2>&1 || true
    stop_memcached
    rm -rf "$data"
}
trap cleanup EXIT

start_memcached() {
    memcached -l 127.0.0.1 -p "$mc_port" -U 0 -m "$BUDGET_MB" -t 2 >>"$log" 2>&1 &
    mc_pid=$!
    for _ in $(seq 50); do
        perl "$top/bench/memcached_tool.pl" "$mc_port" stats >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "memcached did not start" >&2
    return 1
}

stop_memcached() {
    if [ -n "$mc_pid" ]; then
        kill "$mc_pid" 2>/dev/null || true
        wait "$mc_pid" 2>/dev/null || true
        mc_pid=
    fi
}

echo "== throwaway instance on port $pg_port, memcached on 127.0.0.1:$mc_port"
initdb -D "$data" -A trust --no-sync >>"$log"
cat >>"$data/postgresql.conf" <<EOF
listen_addresses = ''
port = $pg_port
unix_socket_directories = '$run_dir'
shared_preload_libraries = 'pg_memshard,pgmemcache'
pg_memshard.memory = ${BUDGET_MB}MB
pgmemcache.default_servers = '127.0.0.1:$mc_port'
max_connections = 20
jit = off
fsync = off
EOF
start_memcached
pg_ctl -D "$data" -l "$run_dir/postgres.log" -w start >>"$log"
export PGHOST=$run_dir PGPORT=$pg_port
createdb bench

q -f "$top/bench/cache_bench.sql" >>"$log"

# timed statements: measure/run_measures of bench/bench_lib.sh (r[NAME] is
# the best ns per operation)
declare -A r r_med

if [ "$PARTS" = all ]; then
echo "== loading 100,000 keys with 100-byte values"
expect "memshard load" 100000 \
    "SELECT count(*) FILTER (WHERE memshard.set('bench', 'k' || i, bench_value(i)))
       FROM generate_series(0, 99999) i"
q -c "INSERT INTO kv SELECT 'k' || i, bench_value(i) FROM generate_series(0, 99999) i"
q -c "VACUUM ANALYZE kv"
q -c "COPY (SELECT 'k' || i, bench_value(i) FROM generate_series(0, 99999) i) TO STDOUT" |
    perl "$top/bench/memcached_tool.pl" "$mc_port" load >>"$log"
expect "memshard reads" 100000 \
    "SELECT count(memshard.get('bench', 'k' || i) = bench_value(i) OR NULL) FROM generate_series(0, 99999) i"
expect "memcached reads" "$MC_OPS" \
    "SELECT count(memcache_get('k' || i) = bench_value(i) OR NULL) FROM generate_series(0, $MC_OPS - 1) i"
if ! q -c "EXPLAIN SELECT count((SELECT v FROM kv WHERE k = 'k' || (i % 100000)))
             FROM generate_series(1, 1000000) i" | grep -q "Index Scan"; then
    echo "check failed: the UNLOGGED lookup does not use the index" >&2
    exit 1
fi

echo "== gets: one statement, 1,000,000 lookups over 100,000 keys ($RUNS rounds)"
measure floor 1000000 "SELECT count(length('k'||i)) FROM generate_series(1,1000000) i"
measure get 1000000 "SELECT count(memshard.get('bench', 'k' || (i % 100000))) FROM generate_series(1, 1000000) i"
measure get_bytea 1000000 "SELECT count(memshard.get_bytea('bench', 'k' || (i % 100000))) FROM generate_series(1, 1000000) i"
measure get_unlogged 1000000 "SELECT count((SELECT v FROM kv WHERE k = 'k' || (i % 100000))) FROM generate_series(1, 1000000) i"
measure get_memcached "$MC_OPS" "SELECT count(memcache_get('k' || ((i * 7) % 100000))) FROM generate_series(1, $MC_OPS) i"
run_measures

# the value of every set: a constant, folded at plan time, so that the
# statements time the writes and not the making of values
echo "== sets: one statement, 100,000 keys ($RUNS rounds)"
measure set 100000 "SELECT count(*) FILTER (WHERE memshard.set('bench', 'k' || i, repeat('v', 100))) FROM generate_series(0, 99999) i"
measure set_unlogged 100000 "INSERT INTO kv SELECT 'k' || i, repeat('v', 100) FROM generate_series(0, 99999) i ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v" "VACUUM kv"
measure set_memcached "$MC_OPS" "SELECT count(*) FILTER (WHERE memcache_set('k' || i, repeat('v', 100))) FROM generate_series(0, $MC_OPS - 1) i"
run_measures

echo "== pgbench -M prepared, $PGBENCH_ROUNDS rounds of ${PGBENCH_SECONDS}s per script"
tps() {
    local clients=$1 script=$2 out
    out=$(pgbench -n -M prepared -c "$clients" -j "$clients" -T "$PGBENCH_SECONDS" \
        -f "$top/bench/pgbench/$script.sql" bench 2>&1)
    echo "$out" >>"$log"
    echo "$out" | sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' |
        awk '{ printf "%.0f", $1 }'
}
# the scripts take turns, round after round, so that a burst of load from
# elsewhere on the machine hurts every one of them alike; the best round counts
for c in 1 2; do
    for _ in $(seq "$PGBENCH_ROUNDS"); do
        for s in get select set upsert; do
            [ "$s" = upsert ] && q -c "VACUUM kv"
            t=$(tps "$c" "$s")
            if [ -z "${r[tps_${s}_$c]:-}" ] || [ "$t" -gt "${r[tps_${s}_$c]}" ]; then
                r[tps_${s}_$c]=$t
            fi
        done
    done
done
fi

echo "== memory: ${BUDGET_MB}MB each, $EFF_KEYS keys 'key:<n>'"
for mix in uniform 100; do
    # empty caches: a fresh start of both
    pg_ctl -D "$data" -l "$run_dir/postgres.log" -w restart >>"$log"
    stop_memcached
    start_memcached

    expect "memshard $mix sets" "$EFF_KEYS" \
        "SELECT count(*) FILTER (WHERE memshard.set('eff', 'key:' || n, eff_value(n, '$mix')))
           FROM generate_series(1, $EFF_KEYS) n"
    read -r items payload budget overhead index_bytes evictions <<<"$(q -F ' ' -c \
        "SELECT items, payload_bytes, memory_budget, item_overhead_bytes, index_bytes, evictions
           FROM memshard.stats")"
    expect "memshard $mix items all readable" "$items" \
        "SELECT count(memshard.get('eff', 'key:' || n) = eff_value(n, '$mix') OR NULL)
           FROM generate_series(1, $EFF_KEYS) n"
    r[ms_items_$mix]=$items
    r[ms_payload_$mix]=$payload
    r[ms_budget]=$budget
    r[ms_overhead]=$overhead
    r[ms_index]=$index_bytes
    echo "memshard $mix: items $items payload $payload evictions $evictions" >>"$log"
    q -x -c "SELECT * FROM memshard.stats" >>"$log"

    q -c "COPY (SELECT 'key:' || n, eff_value(n, '$mix') FROM generate_series(1, $EFF_KEYS) n) TO STDOUT" |
        perl "$top/bench/memcached_tool.pl" "$mc_port" load >>"$log"
    perl "$top/bench/memcached_tool.pl" "$mc_port" stats >"$run_dir/mc_stats_$mix"
    read -r _ mc_items _ mc_payload <<<"$(perl "$top/bench/memcached_tool.pl" "$mc_port" payload key: "$EFF_KEYS")"
    curr_items=$(awk '$1 == "curr_items" { print $2 }' "$run_dir/mc_stats_$mix")
    r[mc_limit]=$(awk '$1 == "limit_maxbytes" { print $2 }' "$run_dir/mc_stats_$mix")
    echo "memcached $mix: curr_items $curr_items, readable $mc_items, payload $mc_payload" >>"$log"
    r[mc_items_$mix]=$curr_items
    r[mc_payload_$mix]=$mc_payload
done

# the table
verdict() { awk "BEGIN { print ($1) ? \"met\" : \"MISSED\" }"; }

echo
echo "== results (ns per operation: best of $RUNS; tps: pgbench -M prepared, best of $PGBENCH_ROUNDS x ${PGBENCH_SECONDS}s)"
printf '%-44s %14s\n' "measure" "value"
if [ "$PARTS" = all ]; then
printf '%-44s %14s\n' "bare call loop (floor), ns/op" "${r[floor]}"
printf '%-44s %14s\n' "memshard.get, ns/op" "${r[get]}"
printf '%-44s %14s\n' "memshard.get_bytea (no UTF-8 check), ns/op" "${r[get_bytea]}"
printf '%-44s %14s\n' "UNLOGGED index lookup, ns/op" "${r[get_unlogged]}"
printf '%-44s %14s\n' "pgmemcache memcache_get, ns/op" "${r[get_memcached]}"
printf '%-44s %14s\n' "memshard.set, ns/op" "${r[set]}"
printf '%-44s %14s\n' "UNLOGGED upsert, ns/op" "${r[set_unlogged]}"
printf '%-44s %14s\n' "pgmemcache memcache_set, ns/op" "${r[set_memcached]}"
for c in 1 2; do
    printf '%-44s %14s\n' "pgbench $c client(s): memshard.get, tps" "${r[tps_get_$c]}"
    printf '%-44s %14s\n' "pgbench $c client(s): UNLOGGED select, tps" "${r[tps_select_$c]}"
    printf '%-44s %14s\n' "pgbench $c client(s): memshard.set, tps" "${r[tps_set_$c]}"
    printf '%-44s %14s\n' "pgbench $c client(s): UNLOGGED upsert, tps" "${r[tps_upsert_$c]}"
done
fi
for mix in uniform 100; do
    printf '%-44s %14s\n' "memory $mix: memshard items" "${r[ms_items_$mix]}"
    printf '%-44s %14s\n' "memory $mix: memcached items" "${r[mc_items_$mix]}"
    printf '%-44s %14s\n' "memory $mix: memshard payload/budget" \
        "$(ratio "${r[ms_payload_$mix]}" "${r[ms_budget]}")"
    printf '%-44s %14s\n' "memory $mix: memcached payload/budget" \
        "$(ratio "${r[mc_payload_$mix]}" "${r[mc_limit]}")"
    printf '%-44s %14s\n' "memory $mix: memshard payload/item kept" \
        "$(ratio "${r[ms_payload_$mix]}" "${r[ms_items_$mix]}")"
    printf '%-44s %14s\n' "memory $mix: memcached payload/item kept" \
        "$(ratio "${r[mc_payload_$mix]}" "${r[mc_items_$mix]}")"
    printf '%-44s %14s\n' "memory $mix: memshard budget/item kept" \
        "$(ratio "${r[ms_budget]}" "${r[ms_items_$mix]}")"
done
printf '%-44s %14s\n' "memshard item header, bytes" "${r[ms_overhead]}"
printf '%-44s %14s\n' "memshard hash index, bytes" "${r[ms_index]}"

echo
printf '%-52s %10s %10s %8s\n' "target (issue 3)" "measured" "target" "verdict"
target() { printf '%-52s %10s %10s %8s\n' "$1" "$2" "$3" "$(verdict "$4")"; }
if [ "$PARTS" = all ]; then
x=$(ratio "${r[get_unlogged]}" "${r[get]}")
target "get vs UNLOGGED lookup, x faster" "$x" ">= 8" "$x >= 8"
x=$(awk "BEGIN { printf \"%.1f\", ${r[get]} - ${r[floor]} }")
target "get minus bare call loop, ns" "$x" "<= 150" "$x <= 150"
x=$(ratio "${r[get_memcached]}" "${r[get]}")
target "get vs memcache_get, x faster" "$x" "-" "1"
x=$(ratio "${r[set_unlogged]}" "${r[set]}")
target "set vs UNLOGGED upsert, x faster" "$x" ">= 10" "$x >= 10"
x=$(ratio "${r[set_memcached]}" "${r[set]}")
target "set vs memcache_set, x faster" "$x" "-" "1"
for c in 1 2; do
    x=$(ratio "${r[tps_get_$c]}" "${r[tps_select_$c]}")
    target "pgbench $c client(s): get / select tps" "$x" ">= 1" "$x >= 1"
    x=$(ratio "${r[tps_set_$c]}" "${r[tps_upsert_$c]}")
    target "pgbench $c client(s): set / upsert tps" "$x" ">= 1.3" "$x >= 1.3"
done
fi
for mix in uniform 100; do
    x=$(ratio "${r[ms_items_$mix]}" "${r[mc_items_$mix]}")
    target "memory $mix: memshard / memcached items" "$x" ">= 1.2" "$x >= 1.2"
done
echo
echo "log: tmp_check/cache_bench/bench.log"
