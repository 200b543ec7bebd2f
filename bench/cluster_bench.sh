#!/usr/bin/env bash
# Remote calls of a three-node cluster, all measured from node 1:
#   - mget of KEYS keys (default 1,000) spread over the three nodes: one
#     parallel fan-out, against the same keys fetched node by node (one mget
#     per node, one after the other), and against KEYS single gets;
#   - the latency of one remote get (a key on node 2), against a dblink
#     round trip and a postgres_fdw query to node 2 doing a comparable
#     lookup (a primary-key lookup in an unlogged table).
# Each measure runs REPS times (default 7); the best time counts.  The
# single-call measures run CALLS (2,000) calls in a PL/pgSQL loop, the same
# loop for all three.
#
# Run as root or as any non-root user:  bash bench/cluster_bench.sh
# As root it copies the tree to a folder of the postgres OS user and runs
# there as that user.  It builds, installs into a private tmp_install,
# starts three throwaway instances (Unix sockets only), measures under
# nice, and stops and removes them.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/common.sh"
. "$top/bench/bench_lib.sh"
KEYS=${KEYS:-1000}
REPS=${REPS:-7}

rerun_as_postgres "$top" cluster-bench bench/cluster_bench.sh KEYS REPS

cd "$top"
echo "== build and private install"
make -s PG_CONFIG="$PG_CONFIG" >/dev/null
make_private_install "$top"

start_cluster cluster-bench 56432 64MB
create_cluster_servers
psql_on 1 >/dev/null <<EOF
SELECT memshard.add_node('n1'), memshard.add_node('n2'), memshard.add_node('n3');
SELECT memshard.create_map('bench', nodes => ARRAY['n1', 'n2', 'n3']);
SELECT memshard.mset('bench', array_agg('key' || i), array_agg(repeat('v', 100)))
  FROM generate_series(1, $KEYS) i;
EOF

# node 2: the same lookup in a table, reached with dblink and postgres_fdw
psql_on 2 >/dev/null <<EOF
CREATE UNLOGGED TABLE kv (k text PRIMARY KEY, v text);
INSERT INTO kv SELECT 'key' || i, repeat('v', 100) FROM generate_series(1, $KEYS) i;
VACUUM ANALYZE kv;
EOF
psql_on 1 >/dev/null <<EOF
CREATE EXTENSION dblink;
CREATE EXTENSION postgres_fdw;
CREATE SERVER n2_fdw FOREIGN DATA WRAPPER postgres_fdw
  OPTIONS (host '$data', port '${ports[1]}', dbname 'postgres');
CREATE USER MAPPING FOR CURRENT_USER SERVER n2_fdw;
CREATE FOREIGN TABLE kv (k text, v text) SERVER n2_fdw;
-- best of REPS runs of a statement, in milliseconds
CREATE FUNCTION best_ms(sql text, reps integer) RETURNS numeric
LANGUAGE plpgsql AS \$\$
DECLARE
    best numeric;
    t0 timestamptz;
    ms numeric;
BEGIN
    FOR r IN 1 .. reps LOOP
        t0 := clock_timestamp();
        EXECUTE sql;
        ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
        best := least(best, ms);
    END LOOP;
    RETURN round(best, 3);
END
\$\$;
EOF

keys_of() {    # the keys of node \$1, as an array literal expression
    echo "(SELECT array_agg('key' || i) FROM generate_series(1, $KEYS) i WHERE memshard.node_for('bench', 'key' || i) = '$1')"
}
remote_key=$(psql_on 1 -c "SELECT 'key' || i FROM generate_series(1, $KEYS) i WHERE memshard.node_for('bench', 'key' || i) = 'n2' LIMIT 1")
CALLS=2000

psql_on 1 <<EOF
\\pset format aligned
\\pset tuples_only off
CREATE TEMP TABLE keys AS
  SELECT (SELECT array_agg('key' || i) FROM generate_series(1, $KEYS) i) AS everything,
         $(keys_of n1) AS k1, $(keys_of n2) AS k2, $(keys_of n3) AS k3;
SELECT cardinality(k1) AS keys_on_n1, cardinality(k2) AS keys_on_n2,
       cardinality(k3) AS keys_on_n3 FROM keys;
-- warm every connection
SELECT count(*) FROM memshard.mget('bench', (SELECT everything FROM keys));
SELECT dblink_connect('n2', 'host=$data port=${ports[1]} dbname=postgres');
SELECT count(*) FROM kv WHERE k = '$remote_key';

CREATE TEMP TABLE results (measure text, ms numeric);
INSERT INTO results VALUES
 ('mget $KEYS keys, parallel fan-out',
  best_ms(\$\$SELECT count(value) FROM memshard.mget('bench', (SELECT everything FROM keys))\$\$, $REPS)),
 ('mget $KEYS keys, node by node',
  best_ms(\$\$SELECT (SELECT count(value) FROM memshard.mget('bench', (SELECT k1 FROM keys)))
                 + (SELECT count(value) FROM memshard.mget('bench', (SELECT k2 FROM keys)))
                 + (SELECT count(value) FROM memshard.mget('bench', (SELECT k3 FROM keys)))\$\$, $REPS)),
 ('$KEYS single gets',
  best_ms(\$\$SELECT count(memshard.get('bench', k)) FROM unnest((SELECT everything FROM keys)) k\$\$, $REPS)),
 ('$CALLS remote gets (key on n2)',
  best_ms(\$b\$DO \$d\$ BEGIN FOR i IN 1 .. $CALLS LOOP
            PERFORM memshard.get('bench', '$remote_key'); END LOOP; END \$d\$\$b\$, $REPS)),
 ('$CALLS dblink lookups on n2',
  best_ms(\$b\$DO \$d\$ BEGIN FOR i IN 1 .. $CALLS LOOP
            PERFORM v FROM dblink('n2', 'SELECT v FROM kv WHERE k = ''$remote_key''') AS t(v text);
            END LOOP; END \$d\$\$b\$, $REPS)),
 ('$CALLS postgres_fdw lookups on n2',
  best_ms(\$b\$DO \$d\$ BEGIN FOR i IN 1 .. $CALLS LOOP
            PERFORM v FROM kv WHERE k = '$remote_key'; END LOOP; END \$d\$\$b\$, $REPS));

SELECT measure, ms FROM results;
SELECT round(f.ms / p.ms, 2) AS "node by node / parallel",
       round(s.ms / p.ms, 2) AS "single gets / parallel mget",
       round(1000 * g.ms / $CALLS, 1) AS "remote get, us",
       round(1000 * d.ms / $CALLS, 1) AS "dblink, us",
       round(1000 * w.ms / $CALLS, 1) AS "postgres_fdw, us",
       round(d.ms / g.ms, 2) AS "dblink / get",
       round(w.ms / g.ms, 2) AS "postgres_fdw / get"
  FROM results p, results f, results s, results g, results d, results w
 WHERE p.measure LIKE 'mget%parallel%' AND f.measure LIKE 'mget%node by node'
   AND s.measure LIKE '%single gets' AND g.measure LIKE '%remote gets%'
   AND d.measure LIKE '%dblink%' AND w.measure LIKE '%postgres_fdw%';
EOF
