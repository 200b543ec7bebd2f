#!/usr/bin/env bash
# restart_bench.sh: the warm restart of a full cache (bench/README.md,
# "Warm restart"): how fast a clean shutdown writes the cache to disk and
# the next start loads it back, against refilling the same items with
# memshard.mset from SQL.
#
#   bash bench/restart_bench.sh            (as root; one command)
#
# As root it copies the tree to a folder owned by the postgres OS user and
# runs itself there, as that user, under nice (logs come back to
# tmp_check/restart_bench/).  As any other user it runs in place.  It builds
# a private install and starts a throwaway PostgreSQL with
# pg_memshard.memory = BUDGET_MB (fsync on: the dump's fsync is part of the
# shutdown), then for each value size:
#
#   1. cold start, fill the cache with mset from SQL until no page is free
#      (the refill time), clean shutdown (the shutdown time without a dump);
#   2. warm start, the same fill, clean shutdown: the dump (its time and
#      size, from the log and the file) and the shutdown time with it;
#   3. warm start: the load (memshard.restart_stats.load_seconds), checked
#      to hold every item.
#
# Knobs (environment): BUDGET_MB (1024), SIZES ("100 4096") value sizes in
# bytes, BATCH (10000) keys per mset.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/common.sh"

BUDGET_MB=${BUDGET_MB:-1024}
SIZES=${SIZES:-100 4096}
BATCH=${BATCH:-10000}

if [ "$(id -u)" = 0 ] && [ "$(nice)" = 0 ]; then
    # everything below, the server included, runs niced: the machine is shared
    exec nice -n 10 bash "$0" "$@"
fi
rerun_as_postgres "$top" restart-bench bench/restart_bench.sh BUDGET_MB SIZES BATCH

cd "$top"
run_dir=$top/tmp_check/restart_bench
log=$run_dir/bench.log
rm -rf "$run_dir"
mkdir -p "$run_dir"

echo "== build and private install"
make -s PG_CONFIG="$PG_CONFIG" >/dev/null
make_private_install "$top"
export PATH="$BINDIR:$PATH"

port=56532
while ss -ltnH "sport = :$port" | grep -q .; do
    port=$((port + 1))
done
data=$run_dir/data
cleanup() {
    pg_ctl -D "$data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$data"
}
trap cleanup EXIT

initdb -D "$data" -A trust >>"$log"
cat >>"$data/postgresql.conf" <<EOF
listen_addresses = ''
port = $port
unix_socket_directories = '$run_dir'
shared_preload_libraries = 'pg_memshard'
pg_memshard.memory = ${BUDGET_MB}MB
max_connections = 20
jit = off
EOF
export PGHOST=$run_dir PGPORT=$port

q() {
    psql -X -q -At -v ON_ERROR_STOP=1 -d postgres "$@"
}

now() {
    date +%s.%N
}

# seconds between two "now"s, 3 decimals
elapsed() {
    awk "BEGIN { printf \"%.3f\", $2 - $1 }"
}

start() {
    sed -i "/^pg_memshard.restart/d" "$data/postgresql.conf"
    echo "pg_memshard.restart = $1" >>"$data/postgresql.conf"
    pg_ctl -D "$data" -l "$run_dir/postgres.log" -w start >>"$log"
}

# stop the server; prints the seconds pg_ctl took
stop() {
    local t0
    t0=$(now)
    pg_ctl -D "$data" -m fast -w stop >>"$log"
    elapsed "$t0" "$(now)"
}

# fill map 'm' with values of $1 bytes until no page is free; prints seconds
fill() {
    local size=$1 t0
    q -c "SELECT memshard.create_map('m')" >/dev/null 2>&1 || true
    t0=$(now)
    q -c "
DO \$\$
DECLARE
    b bigint := 0;
BEGIN
    LOOP
        PERFORM memshard.mset('m', array_agg('k' || i), array_agg(lpad(i::text, $size, 'v')))
           FROM generate_series(b + 1, b + $BATCH) i;
        b := b + $BATCH;
        EXIT WHEN (SELECT pages_free FROM memshard.stats) = 0;
    END LOOP;
END
\$\$" >>"$log"
    elapsed "$t0" "$(now)"
}

wait_loaded() {
    for _ in $(seq 6000); do
        [ "$(q -c "SELECT state FROM memshard.restart_stats")" != loading ] && return 0
        sleep 0.05
    done
    echo "the load did not end" >&2
    exit 1
}

start cold
q -c "CREATE EXTENSION pg_memshard" >>"$log"
pg_ctl -D "$data" -m fast -w stop >>"$log"

results=()
for size in $SIZES; do
    echo "== ${size}-byte values, pg_memshard.memory = ${BUDGET_MB}MB"
    start cold
    refill=$(fill "$size")
    read -r items payload < <(q -F ' ' -c "SELECT items, payload_bytes FROM memshard.stats")
    stop_cold=$(stop)
    echo "  cold: filled $items items in $refill s, shutdown $stop_cold s" | tee -a "$log"

    start warm
    fill "$size" >/dev/null
    read -r items payload < <(q -F ' ' -c "SELECT items, payload_bytes FROM memshard.stats")
    stop_warm=$(stop)
    dump_bytes=$(stat -c %s "$data/pg_memshard/cache.dump")
    dump_s=$(grep -o 'of the cache to "pg_memshard/cache.dump" in [0-9.]* s' "$run_dir/postgres.log" | tail -1 | awk '{print $(NF-1)}')
    echo "  warm: $items items, dump $dump_bytes bytes in $dump_s s, shutdown $stop_warm s" | tee -a "$log"

    t0=$(now)
    start warm
    wait_loaded
    until_loaded=$(elapsed "$t0" "$(now)")
    read -r loaded load_s < <(q -F ' ' -c "SELECT items_loaded, round(load_seconds::numeric, 3) FROM memshard.restart_stats")
    # the same memory holds the same items (but for a little rounding of
    # pages between size classes, filled in another order)
    if [ $((loaded * 100)) -lt $((items * 99)) ]; then
        echo "the load brought back only $loaded of $items items" >&2
        exit 1
    fi
    echo "  load: $loaded items in $load_s s (start to loaded: $until_loaded s)" | tee -a "$log"
    pg_ctl -D "$data" -m fast -w stop >>"$log"
    rm -f "$data/pg_memshard/cache.dump"
    results+=("$size $items $payload $dump_bytes $dump_s $stop_cold $stop_warm $load_s $refill")
done

echo
echo "== warm restart of a full ${BUDGET_MB}MB cache ($(nproc) cores, $(postgres --version | awk '{print $3}'))"
printf '%-6s %9s %9s %9s %9s %10s %10s %9s %10s %9s %7s\n' \
    value items dump_MB dump_s dump_MB/s dump_it/s +shutdown load_s load_it/s refill_s ratio
for row in "${results[@]}"; do
    read -r size items payload dump_bytes dump_s stop_cold stop_warm load_s refill <<<"$row"
    awk -v size="$size" -v items="$items" -v bytes="$dump_bytes" -v ds="$dump_s" \
        -v sc="$stop_cold" -v sw="$stop_warm" -v ls="$load_s" -v rf="$refill" 'BEGIN {
        mb = bytes / 1048576;
        printf "%-6s %9d %9.1f %9.3f %9.0f %10.0f %+10.3f %9.3f %10.0f %9.3f %6.1fx\n",
            size, items, mb, ds, mb / ds, items / ds, sw - sc, ls, items / ls, rf, rf / ls }'
done
echo "(+shutdown: pg_ctl stop time with the dump minus without; ratio: refill_s / load_s)"
