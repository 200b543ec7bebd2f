#!/usr/bin/env bash
# Automatic failover, measured on three throwaway nodes (Unix sockets, 64MB):
# a map over them with replicas=2, pg_memshard.failover_timeout = 3s (then
# 1s).  A writer on node 1 sets random keys of the map; node 3 is stopped
# with "pg_ctl stop -m immediate" (every process killed at once, as a crash);
# the writer keeps setting random keys and, every 50 ms, a key whose primary
# was on node 3, until that write works: the time from the stop to it, and
# the writes that failed meanwhile.  The figure minus failover_timeout is
# the detection and promotion overhead, given as a ratio to the timeout.
# Baseline in the same run: pgbench -M prepared tps of the same sets before
# the stop and after the recovery.  ROUNDS rounds per timeout (median, best);
# between rounds node 3 starts again, is brought back by the failover worker
# and the map is made again over the three nodes.
# Run as root or as any non-root user:  bash bench/failover_bench.sh
# (as root it runs as the postgres OS user in a copy of the tree).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/common.sh"
ROUNDS=${ROUNDS:-3}
TIMEOUTS=${TIMEOUTS:-"3000 1000"}   # failover_timeout values, ms
SECONDS_RUN=${SECONDS_RUN:-3}       # each pgbench run
CLIENTS=${CLIENTS:-2}

rerun_as_postgres "$top" failover-bench bench/failover_bench.sh ROUNDS TIMEOUTS SECONDS_RUN CLIENTS

cd "$top"
. "$top/bench/bench_lib.sh"
echo "== build and private install"
make -s PG_CONFIG="$PG_CONFIG" >/dev/null
make_private_install "$top"

log="${TMPDIR:-/tmp}/memshard-failover-bench.log"
: >"$log"
STOP_MODE=immediate    # the instances are thrown away
start_cluster failover-bench 58432 64MB "pg_memshard.connect_timeout = 1000
pg_memshard.remote_timeout = 2000"
create_cluster_servers
psql_on 1 >/dev/null <<'EOF'
SELECT memshard.add_node('n1'), memshard.add_node('n2'), memshard.add_node('n3');
-- Writes random keys of map fo, and every 50 ms the key probe, until the
-- probe's write works; t0 is the stop (epoch seconds).  Answers
-- "seconds until the probe worked, writes done, writes failed".
CREATE FUNCTION fo_wait(probe text, t0 float8) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    ok bigint := 0;
    failed bigint := 0;
    last_probe float8 := 0;
    t float8;
BEGIN
    LOOP
        t := extract(epoch FROM clock_timestamp());
        IF t - t0 > 60 THEN
            RAISE EXCEPTION 'writes to the shards of node 3 still fail after 60 s';
        END IF;
        IF t - last_probe >= 0.05 THEN
            last_probe := t;
            BEGIN
                PERFORM memshard.set('fo', probe, 'after');
                RETURN round((extract(epoch FROM clock_timestamp()) - t0)::numeric, 2)
                       || ' ' || ok || ' ' || failed;
            EXCEPTION WHEN OTHERS THEN
                failed := failed + 1;
            END;
        END IF;
        BEGIN
            PERFORM memshard.set('fo', 'k' || (1 + floor(random() * 10000))::int, 'w');
            ok := ok + 1;
        EXCEPTION WHEN OTHERS THEN
            failed := failed + 1;
            PERFORM pg_sleep(0.01);
        END;
    END LOOP;
END
$$;
EOF

cat >"$data/set.sql" <<'EOF'
\set k random(1, 10000)
SELECT memshard.set('fo', 'k' || :k, repeat('v', 100));
EOF
pgb() {
    nice -n 10 "$BINDIR/pgbench" -n -M prepared -h "$data" -p "${ports[0]}" -c "$CLIENTS" -j "$CLIENTS" \
        -T "$SECONDS_RUN" -f "$data/set.sql" postgres 2>>"$log" \
        | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | awk '{ printf "%.0f\n", $1 }'
}

wait_for() {    # until node 1 answers SQL with 't', at most $2 s
    local sql=$1 limit=$2 start=$SECONDS
    until [ "$(psql_on 1 -c "$sql" 2>>"$log")" = t ]; do
        if [ $((SECONDS - start)) -ge "$limit" ]; then
            echo "timed out waiting for: $sql" >&2
            exit 1
        fi
        sleep 0.2
    done
}

declare -A r r_med
for fo in $TIMEOUTS; do
    for i in 1 2 3; do
        psql_on "$i" -c "ALTER SYSTEM SET pg_memshard.failover_timeout = $fo" -c "SELECT pg_reload_conf()" >/dev/null
    done
    for round in $(seq "$ROUNDS"); do
        psql_on 1 >/dev/null <<'EOF'
SELECT memshard.drop_map(name) FROM memshard.maps WHERE name = 'fo';
SELECT memshard.create_map('fo', nodes => ARRAY['n1', 'n2', 'n3'], shard_count => 12, replicas => 2);
SELECT memshard.mset('fo', array_agg('k' || i), array_agg(repeat('v', 100))) FROM generate_series(1, 10000) i;
EOF
        probe=$(psql_on 1 -c "SELECT 'k' || i FROM generate_series(1, 10000) i WHERE memshard.node_for('fo', 'k' || i) = 'n3' LIMIT 1")
        before=$(pgb)
        t0=$(date +%s.%N)
        "$BINDIR/pg_ctl" -D "$data/n3" -m immediate stop >/dev/null
        read -r secs ok failed < <(psql_on 1 -c "SELECT fo_wait('$probe', $t0)" 2>>"$log")
        after=$(pgb)
        psql_on 1 -c "SELECT 'placements after: ' || string_agg(node || ' ' || role || ' ' || n, ', ')
                   FROM (SELECT node, role, count(*) n FROM memshard.shards WHERE map = 'fo'
                         GROUP BY 1, 2 ORDER BY 1, 2) s" >>"$log" 2>&1 || true
        overhead=$(awk "BEGIN { printf \"%.2f\", $secs - $fo / 1000 }")
        echo "failover_timeout ${fo} ms, round $round: writes to node 3's shards again after $secs s" \
             "(overhead $overhead s), $ok writes done and $failed failed meanwhile;" \
             "tps before $before, after $after" | tee -a "$log"
        keep_round "secs$fo" "$secs"
        keep_round "over$fo" "$overhead"
        keep_round "failed$fo" "$failed"
        keep_round "tpsratio$fo" "$(ratio "$after" "$before")" max
        keep_round "before$fo" "$before" max
        keep_round "after$fo" "$after" max
        # node 3 back: fenced, then brought back by the failover worker
        start_node 3
        wait_for "SELECT state = 'active' FROM memshard.nodes WHERE server = 'n3'" 60
    done
done

echo
echo "== results (ROUNDS=$ROUNDS; median, best; load average:$(uptime | sed 's/.*load average://'))"
for fo in $TIMEOUTS; do
    fo_s=$(awk "BEGIN { print $fo / 1000 }")
    echo "failover_timeout $fo ms:"
    echo "  stop -> first write to node 3's shards: ${r_med[secs$fo]} s median, ${r[secs$fo]} s best"
    echo "  minus failover_timeout: ${r_med[over$fo]} s median, ${r[over$fo]} s best;" \
         "ratio to the timeout: $(ratio "${r_med[over$fo]}" "$fo_s") median, $(ratio "${r[over$fo]}" "$fo_s") best"
    echo "  writes failed meanwhile: ${r_med[failed$fo]} median, ${r[failed$fo]} fewest"
    echo "  pgbench -M prepared set tps before ${r_med[before$fo]}, after recovery ${r_med[after$fo]} (medians);" \
         "after / before: ${r_med[tpsratio$fo]} median, ${r[tpsratio$fo]} best"
done
