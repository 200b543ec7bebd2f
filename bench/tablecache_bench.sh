#!/usr/bin/env bash
# tablecache_bench.sh: the table cache (issue 14) against the table it
# caches, in the same run (bench/README.md, "Table cache").
#
#   bash bench/tablecache_bench.sh        (as root or any other user)
#
# As root it copies the tree to a folder owned by the postgres OS user and
# runs itself there, as that user, under nice (logs come back to
# tmp_check/tablecache_bench/).  It builds a private install, starts a
# throwaway PostgreSQL with pg_memshard preloaded, measures, prints a table
# and stops and removes what it started.
#
# Measures:
#   - get_row hits against SELECT * ... WHERE id = $1 (an index scan), both
#     in one statement (1,000,000 lookups over 100,000 rows) and with
#     pgbench -M prepared, 1 and 2 clients;
#   - write overhead: pgbench UPDATE tps on the cached table against the
#     same table uncached, 1 and 2 clients;
#   - a read-mostly mix (95% reads of a Zipfian key, 5% updates) through
#     get_row on a cache holding a fifth of the table, against plain
#     SELECTs: tps and the hit ratio.
#
# Knobs (environment): ROWS (100000), PGBENCH_SECONDS (5), PGBENCH_ROUNDS
# (2; the best counts), RUNS (3; statement loops, the best counts).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/common.sh"

ROWS=${ROWS:-100000}
PGBENCH_SECONDS=${PGBENCH_SECONDS:-5}
PGBENCH_ROUNDS=${PGBENCH_ROUNDS:-2}
RUNS=${RUNS:-3}

if [ "$(id -u)" = 0 ] && [ "$(nice)" = 0 ]; then
    exec nice -n 10 bash "$0" "$@"
fi
rerun_as_postgres "$top" tablecache-bench bench/tablecache_bench.sh \
    ROWS PGBENCH_SECONDS PGBENCH_ROUNDS RUNS

cd "$top"
run_dir=$top/tmp_check/tablecache_bench
log=$run_dir/bench.log
rm -rf "$run_dir"
mkdir -p "$run_dir"

echo "== build and private install"
make -s PG_CONFIG="$PG_CONFIG" >/dev/null
make_private_install "$top"
export PATH="$BINDIR:$PATH"

port=56532
while ss -ltnH "sport = :$port" | grep -q .; do port=$((port + 1)); done
data=$run_dir/data
cleanup() {
    pg_ctl -D "$data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$data"
}
trap cleanup EXIT

echo "== throwaway instance on port $port"
initdb -D "$data" -A trust --no-sync >>"$log"
cat >>"$data/postgresql.conf" <<EOF
listen_addresses = ''
port = $port
unix_socket_directories = '$run_dir'
shared_preload_libraries = 'pg_memshard'
pg_memshard.memory = 64MB
shared_buffers = 128MB
max_connections = 20
jit = off
fsync = off
EOF
pg_ctl -D "$data" -l "$run_dir/postgres.log" -w start >>"$log"
export PGHOST=$run_dir PGPORT=$port
createdb bench

q() {
    psql -X -q -At -v ON_ERROR_STOP=1 -d bench "$@"
}

# users: cached; users_plain: the same rows, not cached (the baseline);
# mix / mix_plain: the same again for the read-mostly mix, cached in a
# fifth of what the table needs
q <<EOF
CREATE EXTENSION pg_memshard;
CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL, visits int NOT NULL, bio text NOT NULL);
INSERT INTO users SELECT i, 'user ' || i, 0, repeat(md5(i::text), 3) FROM generate_series(1, $ROWS) i;
CREATE TABLE users_plain (LIKE users INCLUDING ALL);
INSERT INTO users_plain SELECT * FROM users;
CREATE TABLE mix (LIKE users INCLUDING ALL);
INSERT INTO mix SELECT * FROM users;
CREATE TABLE mix_plain (LIKE users INCLUDING ALL);
INSERT INTO mix_plain SELECT * FROM users;
VACUUM ANALYZE;
SELECT memshard.cache_table('users');
-- about 200 bytes a row in the cache: room for a fifth of the rows
SELECT memshard.cache_table('mix', max_memory => $ROWS / 5 * 200);
CREATE FUNCTION bench_ns(query text, ops bigint) RETURNS double precision
LANGUAGE plpgsql AS \$\$
DECLARE
    started timestamptz := clock_timestamp();
BEGIN
    EXECUTE query;
    RETURN extract(epoch FROM clock_timestamp() - started) * 1e9 / ops;
END
\$\$;
EOF

declare -A r
best_ns() {
    local name=$1 sql=$2 ns
    for _ in $(seq "$RUNS"); do
        ns=$(q -c "SELECT round(bench_ns(\$q\$$sql\$q\$, 1000000)::numeric, 1)")
        echo "  $ns ns/op: $sql" >>"$log"
        if [ -z "${r[$name]:-}" ] || awk "BEGIN { exit !($ns < ${r[$name]}) }"; then
            r[$name]=$ns
        fi
    done
}

echo "== one statement, 1,000,000 lookups over $ROWS rows ($RUNS rounds)"
# warm: every row in the cache (and in shared buffers)
q -c "SELECT count(memshard.get_row(NULL::users, i)) FROM generate_series(1, $ROWS) i" >>"$log"
q -c "SELECT count(u) FROM users_plain u" >>"$log"
best_ns floor "SELECT count(abs(i)) FROM generate_series(1, 1000000) i"
best_ns get_row "SELECT count(memshard.get_row(NULL::users, (i % $ROWS) + 1)) FROM generate_series(1, 1000000) i"
best_ns select "SELECT count((SELECT u FROM users_plain u WHERE u.id = (i % $ROWS) + 1)) FROM generate_series(1, 1000000) i"
q -x -c "SELECT * FROM memshard.cached_tables WHERE \"table\" = 'users'::regclass" >>"$log"

# pgbench scripts
cat >"$run_dir/get_row.sql" <<EOF
\set k random(1, $ROWS)
SELECT memshard.get_row(NULL::users, :k::int);
EOF
cat >"$run_dir/select.sql" <<EOF
\set k random(1, $ROWS)
SELECT * FROM users_plain WHERE id = :k;
EOF
cat >"$run_dir/update.sql" <<EOF
\set k random(1, $ROWS)
UPDATE users SET visits = visits + 1 WHERE id = :k;
EOF
cat >"$run_dir/update_plain.sql" <<EOF
\set k random(1, $ROWS)
UPDATE users_plain SET visits = visits + 1 WHERE id = :k;
EOF
cat >"$run_dir/mix.sql" <<EOF
\set k random_zipfian(1, $ROWS, 1.1)
\set op random(1, 100)
\if :op <= 95
SELECT memshard.get_row(NULL::mix, :k::int);
\else
UPDATE mix SET visits = visits + 1 WHERE id = :k;
\endif
EOF
cat >"$run_dir/mix_plain.sql" <<EOF
\set k random_zipfian(1, $ROWS, 1.1)
\set op random(1, 100)
\if :op <= 95
SELECT * FROM mix_plain WHERE id = :k;
\else
UPDATE mix_plain SET visits = visits + 1 WHERE id = :k;
\endif
EOF

tps() {
    local clients=$1 script=$2 out
    out=$(pgbench -n -M prepared -c "$clients" -j "$clients" -T "$PGBENCH_SECONDS" \
        -f "$run_dir/$script.sql" bench 2>&1)
    echo "$out" >>"$log"
    echo "$out" | sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' |
        awk '{ printf "%.0f", $1 }'
}

keep_best() {
    local name=$1 t=$2
    if [ -z "${r[$name]:-}" ] || [ "$t" -gt "${r[$name]}" ]; then
        r[$name]=$t
    fi
}

echo "== pgbench -M prepared, $PGBENCH_ROUNDS rounds of ${PGBENCH_SECONDS}s per script"
# the scripts take turns, so that load from elsewhere hurts them alike.
# (With -M prepared the key is cast: get_row's key is "any", which cannot
# type a parameter by itself.)
for c in 1 2; do
    for _ in $(seq "$PGBENCH_ROUNDS"); do
        for s in get_row select update update_plain; do
            keep_best "tps_${s}_$c" "$(tps "$c" "$s")"
        done
        q -c "VACUUM users, users_plain"
    done
done

echo "== read-mostly mix, 2 clients"
q -c "SELECT memshard.stats_reset()" >/dev/null
for _ in $(seq "$PGBENCH_ROUNDS"); do
    keep_best tps_mix "$(tps 2 mix)"
    keep_best tps_mix_plain "$(tps 2 mix_plain)"
    q -c "VACUUM mix, mix_plain"
done
read -r mix_hits mix_misses mix_items mix_refused mix_bypasses <<<"$(q -F ' ' -c \
    "SELECT hits, misses, items, fills_refused, bypasses FROM memshard.cached_tables
      WHERE \"table\" = 'mix'::regclass")"
q -x -c "SELECT * FROM memshard.cached_tables" >>"$log"

ratio() { awk "BEGIN { printf \"%.2f\", $1 / $2 }"; }

echo
echo "== results ($ROWS rows; ns per lookup: best of $RUNS; tps: pgbench -M prepared, best of $PGBENCH_ROUNDS x ${PGBENCH_SECONDS}s)"
printf '%-56s %12s\n' "measure" "value"
printf '%-56s %12s\n' "bare call loop (floor), ns/op" "${r[floor]}"
printf '%-56s %12s\n' "get_row, a hit, ns/op" "${r[get_row]}"
printf '%-56s %12s\n' "SELECT * WHERE id = \$1 (index scan), ns/op" "${r[select]}"
printf '%-56s %12s\n' "  statement: index scan / get_row" "$(ratio "${r[select]}" "${r[get_row]}")"
printf '%-56s %12s\n' "  over the floor: index scan / get_row" \
    "$(ratio "(${r[select]} - ${r[floor]})" "(${r[get_row]} - ${r[floor]})")"
for c in 1 2; do
    printf '%-56s %12s\n' "pgbench $c client(s): get_row, tps" "${r[tps_get_row_$c]}"
    printf '%-56s %12s\n' "pgbench $c client(s): SELECT by id, tps" "${r[tps_select_$c]}"
    printf '%-56s %12s\n' "  get_row / SELECT" "$(ratio "${r[tps_get_row_$c]}" "${r[tps_select_$c]}")"
done
for c in 1 2; do
    printf '%-56s %12s\n' "pgbench $c client(s): UPDATE cached table, tps" "${r[tps_update_$c]}"
    printf '%-56s %12s\n' "pgbench $c client(s): UPDATE uncached table, tps" "${r[tps_update_plain_$c]}"
    printf '%-56s %12s\n' "  cached / uncached" "$(ratio "${r[tps_update_$c]}" "${r[tps_update_plain_$c]}")"
done
printf '%-56s %12s\n' "mix 95/5 Zipf(1.1), 2 clients: get_row, tps" "${r[tps_mix]}"
printf '%-56s %12s\n' "mix 95/5 Zipf(1.1), 2 clients: SELECT, tps" "${r[tps_mix_plain]}"
printf '%-56s %12s\n' "  get_row / SELECT" "$(ratio "${r[tps_mix]}" "${r[tps_mix_plain]}")"
printf '%-56s %12s\n' "  hit ratio (cache of a fifth of the rows)" \
    "$(ratio "$mix_hits" "($mix_hits + $mix_misses)")"
printf '%-56s %12s\n' "  rows cached / fills refused / bypasses" "$mix_items / $mix_refused / $mix_bypasses"
echo
echo "log: tmp_check/tablecache_bench/bench.log"
