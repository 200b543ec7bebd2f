#!/usr/bin/env bash
# read_bench.sh: the read path of pg_memshard (issue 12), each figure against
# its baseline in the same run (bench/README.md, "read path (issue 12)").
#
#   bash bench/read_bench.sh            (as root; one command, ~4 minutes)
#
# Measures, median and best of ROUNDS rounds:
#  - in-SQL get and get_bytea against the bare call loop (the same statement
#    calling textcat() with the same arguments) and the UNLOGGED index lookup;
#  - mget of 100 and of 1,000 local keys: per-key cost over the loop (the
#    same statement unnesting the same arrays), against single gets';
#  - hot key, pgbench -M prepared: 2 clients reading one key against 2
#    clients reading random keys, then the 2 hot readers beside 1 writer
#    client updating that key (reads/s and the optimistic read's retries,
#    from memshard.read_path_stats when the build has it);
#  - the get figures again in two instances side by side, in the same
#    rounds: a copy with huge_pages = on and the original without (4kB
#    pages), so that the machine's drifts fall on both.  As root it sizes
#    vm.nr_hugepages for pg_memshard.memory + shared_buffers and puts the
#    old value back at the end; if the kernel refuses, or other servers
#    on the machine (huge_pages = try) took the pages meanwhile, it says so
#    and skips.
#
# Knobs (environment): ROUNDS (5), GETS (1000000) lookups per get statement,
# PGBENCH_SECONDS (2) per pgbench run.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/common.sh"
. "$top/bench/bench_lib.sh"

ROUNDS=${ROUNDS:-5}
GETS=${GETS:-1000000}
PGBENCH_SECONDS=${PGBENCH_SECONDS:-2}
MEMORY_MB=64
SHARED_BUFFERS_MB=128
# huge pages for the whole shared memory: the cache, shared_buffers and
# PostgreSQL's own (a generous 64MB for those and rounding), and 128 more
# in case another server takes some first; the instance checks the exact
# need with postgres -C shared_memory_size_in_huge_pages
HUGE_PAGES_WANTED=${HUGE_PAGES_WANTED:-$(((MEMORY_MB + SHARED_BUFFERS_MB + 64) / 2 + 128))}
HUGE_HANDSHAKE=${HUGE_HANDSHAKE:-}

# As root: run the rest as postgres, and reserve huge pages only while it
# asks for them (a file want_huge in its run folder; the answer goes to
# huge_ready), so that other servers on the machine (huge_pages = try, the
# default) have little time to take them; give them back when it says
# huge_done, or at the end.
if [ "$(id -u)" = 0 ]; then
    if [ "$(nice)" = 0 ]; then
        exec nice -n 10 bash "$0" "$@"
    fi
    nr=/proc/sys/vm/nr_hugepages
    old_huge=$(cat "$nr" 2>/dev/null || echo "")
    # the folder rerun_as_postgres runs in
    flags=/tmp/pg_memshard-read-bench-$(echo "$top" | cksum | cut -d' ' -f1)/tmp_check/read_bench
    HUGE_HANDSHAKE=1
    rc=0
    # the last run's flags must not answer for this one (the copy replaces
    # the folder, but only once it has started)
    rm -rf "$flags"
    (rerun_as_postgres "$top" read-bench bench/read_bench.sh \
        ROUNDS GETS PGBENCH_SECONDS HUGE_HANDSHAKE) &
    bench=$!
    reserved=
    while kill -0 "$bench" 2>/dev/null; do
        if [ -z "$reserved" ] && [ -e "$flags/want_huge" ]; then
            reserved=1
            if [ -n "$old_huge" ] && echo "$HUGE_PAGES_WANTED" >"$nr" 2>/dev/null &&
                [ "$(cat "$nr")" -ge "$HUGE_PAGES_WANTED" ]; then
                answer="vm.nr_hugepages set to $HUGE_PAGES_WANTED (was $old_huge)"
            else
                answer="refused: the kernel would not give $HUGE_PAGES_WANTED huge pages (vm.nr_hugepages $(cat "$nr" 2>/dev/null))"
            fi
            echo "$answer" >"$flags/huge_ready.tmp"
            mv "$flags/huge_ready.tmp" "$flags/huge_ready"
        fi
        if [ -n "$reserved" ] && [ -e "$flags/huge_done" ] && [ -n "$old_huge" ]; then
            echo "$old_huge" >"$nr" 2>/dev/null || true
        fi
        sleep 0.2
    done
    wait "$bench" || rc=$?
    [ -n "$old_huge" ] && echo "$old_huge" >"$nr" 2>/dev/null || true
    exit $rc
fi

cd "$top"
run_dir=$top/tmp_check/read_bench
log=$run_dir/bench.log
rm -rf "$run_dir"
mkdir -p "$run_dir"
RUNS=$ROUNDS

echo "== build and private install"
make -s PG_CONFIG="$PG_CONFIG" >/dev/null
make_private_install "$top"
export PATH="$BINDIR:$PATH"

pg_port=$(free_port 56532)
data=$run_dir/data
cleanup() {
    pg_ctl -D "$data" -m fast stop >/dev/null 2>&1 || true
    pg_ctl -D "$run_dir/data_huge" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$data" "$run_dir/data_huge"
}
trap cleanup EXIT

echo "== throwaway instance on port $pg_port"
initdb -D "$data" -A trust --no-sync >>"$log"
cat >>"$data/postgresql.conf" <<EOF
listen_addresses = ''
port = $pg_port
unix_socket_directories = '$run_dir'
shared_preload_libraries = 'pg_memshard'
pg_memshard.memory = ${MEMORY_MB}MB
shared_buffers = ${SHARED_BUFFERS_MB}MB
huge_pages = off
max_connections = 20
jit = off
fsync = off
EOF
pg_ctl -D "$data" -l "$run_dir/postgres.log" -w start >>"$log"
export PGHOST=$run_dir PGPORT=$pg_port
createdb bench
q -c "CREATE EXTENSION pg_memshard" >>"$log"
# the UNLOGGED table, the value generator and the timer of cache_bench
sed -n '/^CREATE UNLOGGED TABLE kv/p; /^CREATE FUNCTION bench_value/,/\$\$;$/p;
        /^CREATE FUNCTION bench_ns/,/^\$\$;$/p' "$top/bench/cache_bench.sql" | q >>"$log"
q -c "SELECT memshard.create_map('bench')" >>"$log"

declare -A r r_med

echo "== loading 100,000 keys with 100-byte values"
expect "memshard load" 100000 \
    "SELECT count(*) FILTER (WHERE memshard.set('bench', 'k' || i, bench_value(i)))
       FROM generate_series(0, 99999) i"
q -c "INSERT INTO kv SELECT 'k' || i, bench_value(i) FROM generate_series(0, 99999) i"
q -c "VACUUM ANALYZE kv"
expect "memshard reads" 100000 \
    "SELECT count(memshard.get('bench', 'k' || i) = bench_value(i) OR NULL) FROM generate_series(0, 99999) i"
# batches of keys for mget: 300,000 lookups each way, scrambled as below
q -c "CREATE TABLE batch100 AS SELECT b, array_agg('k' || ((b * 100 + j)::bigint * 7919 % 100000) ORDER BY j) AS keys
        FROM generate_series(0, 2999) b, generate_series(0, 99) j GROUP BY b"
q -c "CREATE TABLE batch1000 AS SELECT b, array_agg('k' || ((b * 1000 + j)::bigint * 7919 % 100000) ORDER BY j) AS keys
        FROM generate_series(0, 299) b, generate_series(0, 999) j GROUP BY b"
expect "mget of 1,000 keys" 300000 \
    "SELECT count(m.value) FROM batch1000 b, LATERAL memshard.mget('bench', b.keys) m"

# Keys are asked in a scrambled order, key (i * 7919) mod 100000 (7919 is
# prime to 100000: every key once per 100000): asked in the order they
# were set, consecutive reads found their items side by side in memory
# (the pages, the TLB entries and the hardware prefetcher served them),
# which no real workload does, and which a restart's reload undid.
# the get statements (S suffix: a label for the huge pages run)
key="'k' || (i::bigint * 7919 % 100000)"
measure_gets() {
    local s=$1 port=${2:-}
    measure "floor$s" "$GETS" "SELECT count(textcat('bench', $key)) FROM generate_series(1, $GETS) i" "" "$port"
    measure "get$s" "$GETS" "SELECT count(memshard.get('bench', $key)) FROM generate_series(1, $GETS) i" "" "$port"
    measure "get_bytea$s" "$GETS" "SELECT count(memshard.get_bytea('bench', $key)) FROM generate_series(1, $GETS) i" "" "$port"
    measure "unlogged$s" "$GETS" "SELECT count((SELECT v FROM kv WHERE k = $key)) FROM generate_series(1, $GETS) i" "" "$port"
}

echo "== gets and mgets: $ROUNDS rounds"
measure_gets ""
for n in 100 1000; do
    measure "mget_loop$n" 300000 "SELECT count(u) FROM batch$n b, LATERAL unnest(b.keys) u"
    measure "mget$n" 300000 "SELECT count(m.value) FROM batch$n b, LATERAL memshard.mget('bench', b.keys) m"
done
run_measures

# pgbench scripts of this run
cat >"$run_dir/hot.sql" <<'EOF'
SELECT memshard.get('bench', 'k1');
EOF
cat >"$run_dir/writer.sql" <<'EOF'
\set n random(0, 999)
SELECT memshard.set('bench', 'k1', lpad(:n::text, 100, 'w'));
EOF

pgbench_tps() {
    local clients=$1 script=$2 out
    out=$(pgbench -n -M prepared -c "$clients" -j "$clients" -T "$PGBENCH_SECONDS" -f "$script" bench 2>&1)
    echo "$out" >>"$log"
    echo "$out" | sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' |
        awk '{ printf "%.0f", $1 }'
}

# retries and fallbacks of optimistic reads so far ("n/a" without them)
read_retries() {
    if [ "$(q -c "SELECT to_regclass('memshard.read_path_stats') IS NOT NULL")" = t ]; then
        q -F ' ' -c "SELECT retries, fallbacks FROM memshard.read_path_stats"
    else
        echo "n/a n/a"
    fi
}

echo "== hot key, pgbench -M prepared, $ROUNDS rounds of ${PGBENCH_SECONDS}s"
read -r retries0 fallbacks0 <<<"$(read_retries)"
for _ in $(seq "$ROUNDS"); do
    keep_round tps_random "$(pgbench_tps 2 "$top/bench/pgbench/get.sql")" max
    keep_round tps_hot "$(pgbench_tps 2 "$run_dir/hot.sql")" max
    pgbench_tps 1 "$run_dir/writer.sql" >"$run_dir/writer.tps" &
    writer=$!
    keep_round tps_hot_writer "$(pgbench_tps 2 "$run_dir/hot.sql")" max
    wait "$writer"
    keep_round tps_writer "$(cat "$run_dir/writer.tps")" max
done
read -r retries1 fallbacks1 <<<"$(read_retries)"
if [ "$retries0" = n/a ]; then
    retries=n/a fallbacks=n/a
else
    retries=$((retries1 - retries0)) fallbacks=$((fallbacks1 - fallbacks0))
fi

# huge pages: ask the root part for them now (see above)
HUGE_STATUS=
if [ -n "$HUGE_HANDSHAKE" ]; then
    touch "$run_dir/want_huge"
    # the kernel may take a while to find the pages (compaction)
    for _ in $(seq 1200); do
        [ -e "$run_dir/huge_ready" ] && break
        sleep 0.1
    done
    HUGE_STATUS=$(cat "$run_dir/huge_ready" 2>/dev/null || echo "refused: no answer from the root part")
fi
echo "== huge pages: ${HUGE_STATUS:-not root: vm.nr_hugepages left alone}"
huge=skipped
huge_data=$run_dir/data_huge
if [ -z "$HUGE_STATUS" ] || [ "${HUGE_STATUS#refused}" != "$HUGE_STATUS" ]; then
    huge="skipped (${HUGE_STATUS:-not root: vm.nr_hugepages left alone})"
else
    # a second instance, a copy of the first with huge_pages = on, beside
    # it: the gets of both run in the same rounds, so that the machine's
    # drifts (other tenants, frequency) fall on both alike
    pg_ctl -D "$data" -m fast -w stop >>"$log"
    need=$(postgres -D "$data" -c huge_pages=on -C shared_memory_size_in_huge_pages)
    have=$(awk '$1 == "HugePages_Free:" { print $2 }' /proc/meminfo)
    cp -a "$data" "$huge_data"
    huge_port=$(free_port $((pg_port + 1)))
    sed -i "s/^port = .*/port = $huge_port/; s/^huge_pages = off/huge_pages = on/" \
        "$huge_data/postgresql.conf"
    pg_ctl -D "$data" -l "$run_dir/postgres.log" -w start >>"$log"
    if [ "$have" -lt "$need" ]; then
        huge="skipped (the instance needs $need huge pages, $have free)"
    elif pg_ctl -D "$huge_data" -l "$run_dir/postgres_huge.log" -w start >>"$log" 2>&1; then
        huge="on ($need huge pages of 2MB), beside the same instance without"
        for port in "$pg_port" "$huge_port"; do
            PGPORT=$port expect "memshard load" 100000 \
                "SELECT count(*) FILTER (WHERE memshard.set('bench', 'k' || i, bench_value(i)))
                   FROM generate_series(0, 99999) i"
        done
        measure_gets _4k "$pg_port"
        measure_gets _huge "$huge_port"
        run_measures
        pg_ctl -D "$huge_data" -m fast -w stop >>"$log"
        touch "$run_dir/huge_done"
    else
        # other instances on the machine (huge_pages = try, the
        # default) may have taken the pages reserved for us
        huge="skipped (the server did not start with huge_pages = on: see postgres_huge.log; $(awk '$1 == "HugePages_Free:" { print $2 }' /proc/meminfo) huge pages free now)"
    fi
fi

over() { awk "BEGIN { printf \"%.1f\", $1 - $2 }"; }
per_key_over() { awk "BEGIN { printf \"%.1f\", $1 - $2 }"; }

echo
echo "== results: ns per operation, median / best of $ROUNDS rounds; huge pages: $huge"
row() { printf '%-48s %10s %10s\n' "$1" "$2" "$3"; }
row "measure" "median" "best"
show_gets() {
    local s=$1 label=$2
    row "bare call loop (textcat)$label" "${r_med[floor$s]}" "${r[floor$s]}"
    row "memshard.get$label" "${r_med[get$s]}" "${r[get$s]}"
    row "memshard.get_bytea$label" "${r_med[get_bytea$s]}" "${r[get_bytea$s]}"
    row "UNLOGGED index lookup$label" "${r_med[unlogged$s]}" "${r[unlogged$s]}"
    row "get over the loop, ns$label" "$(over "${r_med[get$s]}" "${r_med[floor$s]}")" \
        "$(over "${r[get$s]}" "${r[floor$s]}")"
    row "get_bytea over the loop, ns$label" "$(over "${r_med[get_bytea$s]}" "${r_med[floor$s]}")" \
        "$(over "${r[get_bytea$s]}" "${r[floor$s]}")"
    row "UNLOGGED lookup / get, x$label" "$(ratio "${r_med[unlogged$s]}" "${r_med[get$s]}")" \
        "$(ratio "${r[unlogged$s]}" "${r[get$s]}")"
}
show_gets "" ""
for n in 100 1000; do
    row "mget of $n: per key, ns" "${r_med[mget$n]}" "${r[mget$n]}"
    row "mget of $n: per key over the loop, ns" "$(per_key_over "${r_med[mget$n]}" "${r_med[mget_loop$n]}")" \
        "$(per_key_over "${r[mget$n]}" "${r[mget_loop$n]}")"
    row "mget of $n: per-key overhead / get's" \
        "$(ratio "$(per_key_over "${r_med[mget$n]}" "${r_med[mget_loop$n]}")" "$(over "${r_med[get]}" "${r_med[floor]}")")" \
        "$(ratio "$(per_key_over "${r[mget$n]}" "${r[mget_loop$n]}")" "$(over "${r[get]}" "${r[floor]}")")"
done
row "pgbench 2 clients, random keys, tps" "${r_med[tps_random]}" "${r[tps_random]}"
row "pgbench 2 clients, one hot key, tps" "${r_med[tps_hot]}" "${r[tps_hot]}"
row "hot / random tps" "$(ratio "${r_med[tps_hot]}" "${r_med[tps_random]}")" \
    "$(ratio "${r[tps_hot]}" "${r[tps_random]}")"
row "hot key + 1 writer: reads/s" "${r_med[tps_hot_writer]}" "${r[tps_hot_writer]}"
row "hot key + 1 writer: writes/s" "${r_med[tps_writer]}" "${r[tps_writer]}"
row "hot key + 1 writer: read retries, fallbacks" "$retries" "$fallbacks"
if [ -n "${r[get_huge]:-}" ]; then
    show_gets _4k " (4kB pages)"
    show_gets _huge " (huge pages)"
    row "get over the loop: huge / 4kB pages" \
        "$(ratio "$(over "${r_med[get_huge]}" "${r_med[floor_huge]}")" "$(over "${r_med[get_4k]}" "${r_med[floor_4k]}")")" \
        "$(ratio "$(over "${r[get_huge]}" "${r[floor_huge]}")" "$(over "${r[get_4k]}" "${r[floor_4k]}")")"
fi
echo
echo "log: tmp_check/read_bench/bench.log"
