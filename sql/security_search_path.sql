-- The SQL the extension runs inside (issue 9): the cluster's statements
-- run as the owner of its tables, so they must not depend on the caller's
-- search_path.  A plain role whose schema shadows pg_catalog's operators,
-- functions and types calls what it may, under search_path = <its schema>,
-- pg_catalog: none of its code may run as another role.  This instance
-- makes a cluster of itself (a server reaching its own database), so that
-- routing reads placements.  test/030_search_path.pl does the same over
-- three nodes, with every function and view.
CREATE EXTENSION pg_memshard;

CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- a map of this node only, then a cluster of this node
SELECT memshard.create_map('local_only') > 0 AS created;
DO $$
BEGIN
    EXECUTE format('CREATE SERVER self FOREIGN DATA WRAPPER memshard OPTIONS (host %L, port %L, dbname %L)',
                   split_part(current_setting('unix_socket_directories'), ',', 1),
                   current_setting('port'), current_database());
END
$$;
CREATE USER MAPPING FOR CURRENT_USER SERVER self;
SELECT memshard.add_node('self');

-- the attacker and its kit: run as anyone else, its code says so and takes
-- that role's rights if it can
CREATE ROLE regress_memshard_dave;
CREATE SCHEMA regress_memshard_dave AUTHORIZATION regress_memshard_dave;
SET ROLE regress_memshard_dave;
CREATE TABLE regress_memshard_dave.runs (as_user name, what text);
GRANT INSERT ON regress_memshard_dave.runs TO PUBLIC;
CREATE FUNCTION regress_memshard_dave.pwn(what pg_catalog.text) RETURNS pg_catalog.bool
LANGUAGE plpgsql AS $$
BEGIN
    IF current_user OPERATOR(pg_catalog.<>) 'regress_memshard_dave'::pg_catalog.name THEN
        INSERT INTO regress_memshard_dave.runs VALUES (current_user, what);
        IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r
             WHERE r.rolname OPERATOR(pg_catalog.=) current_user) THEN
            EXECUTE 'ALTER ROLE regress_memshard_dave SUPERUSER';
        END IF;
    END IF;
    RETURN true;
END
$$;
DO $$
DECLARE
    t text[];
    op text;
    n int := 0;
BEGIN
    FOREACH t SLICE 1 IN ARRAY ARRAY[['int4', 'int4'], ['int8', 'int8'], ['text', 'text'],
                                     ['name', 'name'], ['name', 'text'], ['oid', 'oid']] LOOP
        FOREACH op IN ARRAY ARRAY['=', '<>', '<', '>'] LOOP
            n := n + 1;
            EXECUTE format($f$CREATE FUNCTION regress_memshard_dave.op%s(pg_catalog.%s, pg_catalog.%s)
                RETURNS pg_catalog.bool LANGUAGE plpgsql AS $b$BEGIN
                PERFORM regress_memshard_dave.pwn(%L);
                RETURN $1 OPERATOR(pg_catalog.%s) $2; END $b$ $f$, n, t[1], t[2], op, op);
            EXECUTE format('CREATE OPERATOR regress_memshard_dave.%s (leftarg = pg_catalog.%s, rightarg = pg_catalog.%s, function = regress_memshard_dave.op%s)',
                           op, t[1], t[2], n);
        END LOOP;
    END LOOP;
END
$$;
CREATE FUNCTION regress_memshard_dave.md5(pg_catalog.text) RETURNS pg_catalog.text
LANGUAGE plpgsql AS $$BEGIN PERFORM regress_memshard_dave.pwn('md5');
RETURN pg_catalog.md5($1); END$$;
CREATE DOMAIN regress_memshard_dave.jsonb AS pg_catalog.jsonb
    CHECK (regress_memshard_dave.pwn('type jsonb'));
RESET ROLE;

-- the kit works: a superuser under that search_path runs it
SET search_path = regress_memshard_dave, pg_catalog;
SELECT 1 = 1 AS one_is_one;
RESET search_path;
SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_memshard_dave';
SELECT as_user = current_user AS superuser_ran_it, what FROM regress_memshard_dave.runs;
ALTER ROLE regress_memshard_dave NOSUPERUSER;
TRUNCATE regress_memshard_dave.runs;

-- a map over the cluster, whose placements the role's calls will read
SELECT memshard.create_map('over_nodes', nodes => ARRAY['self'], replicas => 1) > 0 AS created;

SET ROLE regress_memshard_dave;
SET search_path = regress_memshard_dave, pg_catalog;
SELECT m AS map, stmt, pg_temp.try(format(stmt, m)) AS result
  FROM (VALUES ('local_only'), ('over_nodes')) maps(m),
       (VALUES (1, $$SELECT memshard.node_for(%L, 'k')$$),
               (2, $$SELECT memshard.shard_for(%L, 'k')$$),
               (3, $$SELECT memshard.set(%L, 'k', 'v')$$),
               (4, $$SELECT memshard.set(%L, 'b', '\x01'::bytea)$$),
               (5, $$SELECT memshard.add(%L, 'k2', 'v')$$),
               (6, $$SELECT memshard.replace(%L, 'k', 'w')$$),
               (7, $$SELECT memshard.get(%L, 'k')$$),
               (8, $$SELECT memshard.get_bytea(%L, 'b')$$),
               (9, $$SELECT memshard.mget(%L, ARRAY['k', 'k2'])$$),
               (10, $$SELECT memshard.mset(%L, ARRAY['a', 'c'], ARRAY['1', '2'])$$),
               (11, $$SELECT memshard.incr(%L, 'n', 2)$$),
               (12, $$SELECT memshard.touch(%L, 'k', interval '1 hour')$$),
               (13, $$SELECT memshard.delete(%L, 'a')$$)) calls(ord, stmt)
 ORDER BY m, ord;
SELECT stmt, pg_temp.try(stmt) AS result FROM (VALUES
    ($$SELECT * FROM memshard.nodes$$),
    ($$SELECT * FROM memshard.shards$$),
    ($$SELECT * FROM memshard.maps$$),
    ($$SELECT * FROM memshard.cluster_stats$$),
    ($$SELECT * FROM memshard.map_stats$$),
    ($$SELECT memshard.metrics()$$),
    ($$SELECT * FROM memshard.memory_report()$$)
) AS t(stmt);
RESET search_path;
RESET ROLE;

-- still a plain role, and none of its code ran as anyone else
SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_memshard_dave';
SELECT count(*) AS runs_as_others FROM regress_memshard_dave.runs;
-- (the calls worked)
SELECT memshard.get('over_nodes', 'k') AS k, memshard.get('over_nodes', 'n') AS n,
       memshard.get('local_only', 'c') AS c;

-- in a parallel worker the fixed search_path is set as a function's SET
-- clause is (GUC_ACTION_SAVE): routing works there too
SET force_parallel_mode = on;
SET parallel_setup_cost = 0;
SET ROLE regress_memshard_dave;
SET search_path = regress_memshard_dave, pg_catalog;
EXPLAIN (COSTS OFF) SELECT memshard.get('over_nodes', 'k');
SELECT memshard.get('over_nodes', 'k') AS k, memshard.get_bytea('over_nodes', 'b') AS b;
RESET search_path;
RESET ROLE;
RESET force_parallel_mode;
RESET parallel_setup_cost;
SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_memshard_dave';
SELECT count(*) AS runs_as_others FROM regress_memshard_dave.runs;

-- clean up
SELECT memshard.drop_map('over_nodes'), memshard.drop_map('local_only');
SELECT memshard.remove_node('self');
SELECT memshard.disconnect() >= 0 AS disconnected;
DROP USER MAPPING FOR CURRENT_USER SERVER self;
DROP SERVER self;
DROP EXTENSION pg_memshard;
DROP SCHEMA regress_memshard_dave CASCADE;
DROP ROLE regress_memshard_dave;
