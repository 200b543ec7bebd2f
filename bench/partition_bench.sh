#!/usr/bin/env bash
# Cost per call of memshard.hash_partition in a statement over ROWS rows
# (default 1,000,000), on int8 and on 32-byte text keys read from an
# unlogged table held in shared buffers, against:
#   - the floor: the same scan calling a trivial function (abs, octet_length);
#   - the type's bare hash function (hashint8extended, hashtextextended);
#   - routing the same rows natively: INSERT into a hash-partitioned table
#     (8 unlogged partitions), and INSERT into one plain unlogged table, so
#     that the difference is native routing alone.
# Each statement runs REPS times (default 5), in turns; the best time counts.
#
# Run as root or as any non-root user:  bash bench/partition_bench.sh
# As root it copies the tree to a folder of the postgres OS user and runs
# there as that user (PostgreSQL refuses root).  It builds, installs into a
# private tmp_install, starts a throwaway instance (Unix socket only, in its
# own folder), measures under nice, and stops and removes the instance.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/common.sh"
ROWS=${ROWS:-1000000}
REPS=${REPS:-5}

rerun_as_postgres "$top" partition-bench bench/partition_bench.sh ROWS REPS

cd "$top"
echo "== build and private install"
make -s PG_CONFIG="$PG_CONFIG" >/dev/null
make_private_install "$top"

data=$(mktemp -d "${TMPDIR:-/tmp}/memshard-partition-bench.XXXXXX")
port=55432
while [ -e "$data/.s.PGSQL.$port" ] || (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    port=$((port + 1))
done
stop_instance() {
    "$BINDIR/pg_ctl" -D "$data/pgdata" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$data"
}
trap stop_instance EXIT

echo "== throwaway instance on port $port (socket in $data)"
"$BINDIR/initdb" -D "$data/pgdata" -A trust --no-sync >/dev/null
cat >>"$data/pgdata/postgresql.conf" <<EOF
port = $port
listen_addresses = ''
unix_socket_directories = '$data'
shared_buffers = 256MB
work_mem = 64MB
fsync = off
synchronous_commit = off
max_parallel_workers_per_gather = 0
jit = off
EOF
nice -n 10 "$BINDIR/pg_ctl" -D "$data/pgdata" -l "$data/log" -w start >/dev/null

psql_bench() {
    nice -n 10 "$BINDIR/psql" -X -q -h "$data" -p "$port" -d postgres -v ON_ERROR_STOP=1 "$@"
}

psql_bench <<EOF
CREATE EXTENSION pg_memshard;
CREATE EXTENSION pg_prewarm;
-- the rows: int8 keys and 32-byte text keys, read from shared buffers
CREATE UNLOGGED TABLE keys_int8 AS SELECT i::int8 AS k FROM generate_series(1, $ROWS) i;
CREATE UNLOGGED TABLE keys_text AS SELECT lpad(i::text, 32, 'k') AS k FROM generate_series(1, $ROWS) i;
VACUUM ANALYZE keys_int8, keys_text;
SELECT pg_prewarm('keys_int8'), pg_prewarm('keys_text');
CREATE UNLOGGED TABLE plain_int8 (k int8);
CREATE UNLOGGED TABLE plain_text (k text);
CREATE TABLE routed_int8 (k int8) PARTITION BY HASH (k);
CREATE TABLE routed_text (k text) PARTITION BY HASH (k);
DO \$\$
BEGIN
    FOR r IN 0 .. 7 LOOP
        EXECUTE format('CREATE UNLOGGED TABLE routed_int8_%s PARTITION OF routed_int8 FOR VALUES WITH (modulus 8, remainder %s)', r, r);
        EXECUTE format('CREATE UNLOGGED TABLE routed_text_%s PARTITION OF routed_text FOR VALUES WITH (modulus 8, remainder %s)', r, r);
    END LOOP;
END
\$\$;
EOF

# the statements by name, <key>,<what>; setup runs untimed before each
declare -A sql setup
for kind in int8 text; do
    if [ "$kind" = int8 ]; then
        floor_fn="abs(k)" bare_fn="hashint8extended(k, 0)"
    else
        floor_fn="octet_length(k)" bare_fn="hashtextextended(k, 0)"
    fi
    sql[$kind,floor]="SELECT count($floor_fn) FROM keys_$kind;"
    sql[$kind,bare]="SELECT count($bare_fn) FROM keys_$kind;"
    sql[$kind,hash]="SELECT count(memshard.hash_partition(k, 8)) FROM keys_$kind;"
    sql[$kind,plain]="INSERT INTO plain_$kind SELECT k FROM keys_$kind;"
    setup[$kind,plain]="TRUNCATE plain_$kind; CHECKPOINT;"
    sql[$kind,routed]="INSERT INTO routed_$kind SELECT k FROM keys_$kind;"
    setup[$kind,routed]="TRUNCATE routed_$kind; CHECKPOINT;"
done
names="int8,floor int8,bare int8,hash int8,plain int8,routed"
names="$names text,floor text,bare text,hash text,plain text,routed"

# time_ms NAME: one timing of statement NAME, in ms
time_ms() {
    printf '%s\n\\timing on\n%s\n' "${setup[$1]:-}" "${sql[$1]}" | psql_bench \
        | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
}

# best of REPS rounds; the statements take turns, so that a burst of load
# elsewhere on the machine hits all of them alike
declare -A ms
echo "== measuring ($ROWS rows, best of $REPS rounds)"
for _ in $(seq "$REPS"); do
    for name in $names; do
        t=$(time_ms "$name")
        if [ -z "${ms[$name]:-}" ] || awk "BEGIN{exit !($t < ${ms[$name]})}"; then
            ms[$name]=$t
        fi
    done
done

# ns per row of a timing in ms, or of the difference of two
ns() { awk -v a="$1" -v b="${2:-0}" -v n="$ROWS" 'BEGIN{printf "%.1f", (a - b) * 1e6 / n}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a / b}'; }

echo
echo "== ns per row ($ROWS rows, best of $REPS; $(nproc) cores," \
    "PostgreSQL $("$BINDIR/postgres" -V | awk '{print $3}'))"
printf '%-6s %10s %10s %15s %14s %14s\n' key floor bare_hash hash_partition insert_plain insert_routed
for kind in int8 text; do
    printf '%-6s %10s %10s %15s %14s %14s\n' "$kind" \
        "$(ns "${ms[$kind,floor]}")" "$(ns "${ms[$kind,bare]}")" "$(ns "${ms[$kind,hash]}")" \
        "$(ns "${ms[$kind,plain]}")" "$(ns "${ms[$kind,routed]}")"
done
echo
for kind in int8 text; do
    f=${ms[$kind,floor]} b=${ms[$kind,bare]} h=${ms[$kind,hash]}
    p=${ms[$kind,plain]} r=${ms[$kind,routed]}
    echo "$kind: hash_partition $(ns "$h" "$f") ns/call over the floor" \
        "(bare hash function $(ns "$b" "$f") ns); statement $(ratio "$h" "$f")x the floor;" \
        "routed INSERT $(ratio "$r" "$h")x the hash_partition statement;" \
        "native routing alone (routed - plain INSERT) $(ns "$r" "$p") ns/row"
done
