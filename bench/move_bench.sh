#!/usr/bin/env bash
# The elastic cluster, measured on three throwaway nodes (Unix sockets):
#   - move throughput: move_shard of one shard holding ITEMS_SMALL items of
#     100-byte values, then ITEMS_LARGE items of 4kB values (MB/s and
#     items/s), against the same keys and values sent to the same target
#     with mset over libpq (from node 1, in batches of 1,000, to a map
#     placed on node 2 only) in the same run: the ratio move / mset;
#   - impact: pgbench tps of set/get (CLIENTS clients, SECONDS each) on a
#     map over nodes 1 and 2, before, and during a rebalance onto a third
#     node that was just added: the ratio during / before.
# Run as root or as any non-root user:  bash bench/move_bench.sh
# (as root it runs as the postgres OS user in a copy of the tree).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/common.sh"
. "$top/bench/bench_lib.sh"
ITEMS_SMALL=${ITEMS_SMALL:-100000}
ITEMS_LARGE=${ITEMS_LARGE:-5000}
CLIENTS=${CLIENTS:-4}
SECONDS_RUN=${SECONDS_RUN:-5}

rerun_as_postgres "$top" move-bench bench/move_bench.sh ITEMS_SMALL ITEMS_LARGE CLIENTS SECONDS_RUN

cd "$top"
echo "== build and private install"
make -s PG_CONFIG="$PG_CONFIG" >/dev/null
make_private_install "$top"

start_cluster move-bench 57432 256MB
create_cluster_servers
psql_on 1 -c "SELECT memshard.add_node('n1'), memshard.add_node('n2')" >/dev/null

# one measure: move a one-shard map of $1 items of $2 bytes from n1 to n2,
# and mset the same items into a map placed on n2 only
measure() {
    local items=$1 size=$2 name=$3
    psql_on 1 <<EOF
SELECT memshard.create_map('mv_$name', shard_count => 1, nodes => ARRAY['n1']);
SELECT memshard.create_map('ms_$name', shard_count => 1, nodes => ARRAY['n2']);
DO \$\$ BEGIN
  FOR b IN 0 .. ($items - 1) / 1000 LOOP
    PERFORM memshard.mset('mv_$name', array_agg('key' || i), array_agg(repeat('v', $size)))
       FROM generate_series(b * 1000 + 1, least((b + 1) * 1000, $items)) i;
  END LOOP;
END \$\$;
CREATE TEMP TABLE t (what text, seconds float8, bytes bigint);
DO \$\$
DECLARE t0 timestamptz;
BEGIN
  t0 := clock_timestamp();
  PERFORM memshard.move_shard('mv_$name', 0, 'n2');
  INSERT INTO t VALUES ('move', extract(epoch FROM clock_timestamp() - t0), $items::bigint * ($size + 10));
  t0 := clock_timestamp();
  FOR b IN 0 .. ($items - 1) / 1000 LOOP
    PERFORM memshard.mset('ms_$name', array_agg('key' || i), array_agg(repeat('v', $size)))
       FROM generate_series(b * 1000 + 1, least((b + 1) * 1000, $items)) i;
  END LOOP;
  INSERT INTO t VALUES ('mset', extract(epoch FROM clock_timestamp() - t0), $items::bigint * ($size + 10));
END \$\$;
SELECT format('%s items of %s bytes: move %s MB/s, %s items/s; mset %s MB/s, %s items/s; move / mset %s',
              $items, $size,
              round((m.bytes / m.seconds / 1e6)::numeric, 1), round(($items / m.seconds)::numeric),
              round((s.bytes / s.seconds / 1e6)::numeric, 1), round(($items / s.seconds)::numeric),
              round((s.seconds / m.seconds)::numeric, 2))
  FROM t m, t s WHERE m.what = 'move' AND s.what = 'mset';
SELECT memshard.drop_map('mv_$name'), memshard.drop_map('ms_$name');
EOF
}
echo "== move throughput"
measure "$ITEMS_SMALL" 100 small
measure "$ITEMS_LARGE" 4096 large

echo "== pgbench set/get before and during a rebalance"
psql_on 1 <<EOF >/dev/null
SELECT memshard.create_map('rb', nodes => ARRAY['n1', 'n2']);
DO \$\$ BEGIN
  FOR b IN 0 .. 99 LOOP
    PERFORM memshard.mset('rb', array_agg('key' || i), array_agg(repeat('v', 1000)))
       FROM generate_series(b * 1000 + 1, (b + 1) * 1000) i;
  END LOOP;
END \$\$;
EOF
cat >"$data/setget.sql" <<'EOF'
\set k random(1, 100000)
SELECT memshard.set('rb', 'key' || :k, 'value' || :k);
SELECT memshard.get('rb', 'key' || ((:k * 7) % 100000 + 1));
EOF
pgb() {
    nice -n 10 "$BINDIR/pgbench" -n -h "$data" -p "${ports[0]}" -c "$CLIENTS" -j "$CLIENTS" \
        -T "$SECONDS_RUN" -f "$data/setget.sql" postgres 2>/dev/null \
        | sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
before=$(pgb)
psql_on 1 -c "SELECT memshard.add_node('n3')" >/dev/null
job=$(psql_on 1 -c "SELECT memshard.rebalance_start()")
during=$(pgb)
state=$(psql_on 1 -c "SELECT state || ' after ' || step || ' of ' || steps || ' moves' FROM memshard.rebalance_status")
psql_on 1 -c "SELECT memshard.rebalance_wait()" >/dev/null
total=$(psql_on 1 -c "SELECT steps || ' moves, ' || round(extract(epoch FROM now() - started)::numeric, 1) || ' s' FROM memshard.rebalance_status")
echo "tps before: $before; during the rebalance (job $job, $state when pgbench ended): $during; during / before: $(echo "scale=2; $during / $before" | bc)"
echo "rebalance: $total"
