-- Maps: create_map, drop_map, the maps view, their errors, their life in
-- transactions, and who may run them.
CREATE EXTENSION pg_memshard;

CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- create_map returns the map's id; defaults as documented
SELECT memshard.create_map('plain') AS plain_id \gset
SELECT memshard.create_map('sessions', default_ttl => '30 minutes',
                           max_memory => 1048576, eviction => 'lru') AS sessions_id \gset
SELECT memshard.create_map('pinned', eviction => 'none') AS pinned_id \gset
SELECT memshard.create_map('hashed', shard_count => 8) AS hashed_id \gset
SELECT memshard.create_map('ranged', method => 'range', bounds => ARRAY['g', 'n', 't']) AS ranged_id \gset
SELECT :plain_id < :sessions_id AND :sessions_id < :pinned_id
       AND :pinned_id < :hashed_id AND :hashed_id < :ranged_id AS ids_ascend;
SELECT name, default_ttl, max_memory, eviction, method, shard_count, bounds,
       nodes, replicas, created BETWEEN now() - interval '1 hour' AND now() AS created_recently
  FROM memshard.maps ORDER BY id;
SELECT id = :sessions_id AS id_matches FROM memshard.maps WHERE name = 'sessions';

-- each map is its own namespace
SELECT memshard.set('plain', 'k', 'plain value'), memshard.set('sessions', 'k', 'session value');
SELECT memshard.get('plain', 'k'), memshard.get('sessions', 'k'), memshard.get('hashed', 'k');

-- invalid definitions: nothing is created
SELECT stmt, pg_temp.try(stmt) AS result FROM (VALUES
    ($$SELECT memshard.create_map(NULL)$$),
    ($$SELECT memshard.create_map('')$$),
    ($$SELECT memshard.create_map(repeat('n', 64))$$),
    ($$SELECT memshard.create_map('plain')$$),
    ($$SELECT memshard.create_map('x', default_ttl => '0 seconds')$$),
    ($$SELECT memshard.create_map('x', default_ttl => '-5 minutes')$$),
    ($$SELECT memshard.create_map('x', max_memory => 0)$$),
    ($$SELECT memshard.create_map('x', max_memory => -1)$$),
    ($$SELECT memshard.create_map('x', eviction => 'fifo')$$),
    ($$SELECT memshard.create_map('x', eviction => NULL)$$),
    ($$SELECT memshard.create_map('x', method => 'list')$$),
    ($$SELECT memshard.create_map('x', method => NULL)$$),
    ($$SELECT memshard.create_map('x', shard_count => 0)$$),
    ($$SELECT memshard.create_map('x', shard_count => NULL)$$),
    ($$SELECT memshard.create_map('x', bounds => ARRAY['a'])$$),
    ($$SELECT memshard.create_map('x', method => 'range')$$),
    ($$SELECT memshard.create_map('x', method => 'range', bounds => ARRAY[]::text[])$$),
    ($$SELECT memshard.create_map('x', method => 'range', bounds => ARRAY['b', 'a'])$$),
    ($$SELECT memshard.create_map('x', method => 'range', bounds => ARRAY['a', 'a'])$$),
    ($$SELECT memshard.create_map('x', method => 'range', bounds => ARRAY['a', NULL])$$),
    ($$SELECT memshard.create_map('x', method => 'range', bounds => ARRAY[['a'], ['b']])$$),
    ($$SELECT memshard.create_map('x', nodes => ARRAY['n1']::name[])$$),
    ($$SELECT memshard.create_map('x', replicas => 0)$$),
    ($$SELECT memshard.create_map('x', replicas => 2)$$),
    ($$SELECT memshard.create_map('x', replicas => NULL)$$)
) AS t(stmt);
SELECT count(*) AS maps FROM memshard.maps;
-- with their details and hints
SELECT memshard.create_map('plain');
SELECT memshard.create_map('x', method => 'range', bounds => ARRAY['m', 'c']);
SELECT memshard.create_map('x', nodes => ARRAY['n1']::name[]);
SELECT memshard.create_map('x', eviction => 'fifo');
-- the longest name, and names that are not identifiers
SELECT memshard.create_map(repeat('n', 63)) > 0 AS created;
SELECT memshard.create_map('user:sessions / eu-west') > 0 AS created;
SELECT memshard.set('user:sessions / eu-west', 'k', 'v'), memshard.get('user:sessions / eu-west', 'k');
SELECT memshard.set(repeat('n', 63), 'k', 'v'), memshard.get(repeat('n', 63), 'k');

-- drop_map removes the map and its items
SELECT memshard.drop_map('plain');
SELECT memshard.get('plain', 'k');
SELECT memshard.drop_map('plain');
SELECT stmt, pg_temp.try(stmt) AS result FROM (VALUES
    ($$SELECT memshard.drop_map(NULL)$$),
    ($$SELECT memshard.drop_map('plain')$$)
) AS t(stmt);
-- a new map of the same name starts empty
SELECT memshard.create_map('plain') > :plain_id AS new_id;
SELECT memshard.get('plain', 'k') IS NULL AS empty;
SELECT items FROM memshard.map_stats WHERE map = 'plain';

-- create_map and drop_map are transactional (catalog rows); the items
-- follow: a rolled-back create leaves nothing, a rolled-back drop keeps them
SELECT items AS items_before FROM memshard.stats \gset
BEGIN;
SELECT memshard.create_map('doomed') > 0 AS created;
SELECT memshard.set('doomed', 'k', 'v');
SELECT memshard.get('doomed', 'k');
ROLLBACK;
SELECT count(*) AS doomed FROM memshard.maps WHERE name = 'doomed';
SELECT pg_temp.try($$SELECT memshard.get('doomed', 'k')$$);
SELECT items - :items_before AS items_left_by_doomed FROM memshard.stats;
SELECT memshard.set('sessions', 'survivor', 'still here');
BEGIN;
SELECT memshard.drop_map('sessions');
SELECT pg_temp.try($$SELECT memshard.get('sessions', 'survivor')$$);
ROLLBACK;
SELECT memshard.get('sessions', 'survivor');
-- the same in subtransactions
BEGIN;
SAVEPOINT s1;
SELECT memshard.drop_map('sessions');
ROLLBACK TO SAVEPOINT s1;
SAVEPOINT s2;
SELECT memshard.create_map('inner') > 0 AS created;
SELECT memshard.set('inner', 'k', 'v');
ROLLBACK TO SAVEPOINT s2;
SAVEPOINT s3;
SELECT memshard.create_map('kept') > 0 AS created;
RELEASE SAVEPOINT s3;
COMMIT;
SELECT name FROM memshard.maps WHERE name IN ('sessions', 'inner', 'kept') ORDER BY name;
SELECT memshard.get('sessions', 'survivor');
-- drop then create in one transaction: a new, empty map
BEGIN;
SELECT memshard.drop_map('sessions');
SELECT memshard.create_map('sessions') > :sessions_id AS new_id;
SELECT memshard.get('sessions', 'survivor') IS NULL AS empty;
SELECT items AS items_before FROM memshard.stats \gset
COMMIT;
SELECT memshard.get('sessions', 'survivor') IS NULL AS empty;
SELECT items - :items_before AS items_changed_by_commit FROM memshard.stats;

-- another session drops (and creates again) a map this session has been
-- using, in the middle of our transaction: we notice, never touch the old
-- map's items, and report a dropped map as unknown
CREATE EXTENSION dblink;
SELECT dblink_connect('other', format('dbname=%s port=%s host=%s', current_database(),
       current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1)));
SELECT memshard.create_map('shared') > 0 AS created;
BEGIN;
SELECT memshard.set('shared', 'k', 'old map');
SELECT * FROM dblink('other', $$SELECT memshard.drop_map('shared'), memshard.create_map('shared') > 0$$)
    AS t(dropped boolean, created boolean);
SELECT memshard.get('shared', 'k') IS NULL AS new_map_is_empty;
-- the same within one statement (this backend has not yet processed the
-- invalidation: the store tells it that its handle is stale)
SELECT memshard.set('shared', 'k2', 'v'),
       (SELECT created FROM dblink('other', $$SELECT memshard.drop_map('shared'), memshard.create_map('shared') > 0$$)
          AS t(dropped boolean, created boolean)),
       memshard.get('shared', 'k2') IS NULL AS new_map_is_empty;
SELECT pg_temp.try($$SELECT memshard.set('shared', 'k3', 'v'),
       (SELECT dropped FROM dblink('other', 'SELECT memshard.drop_map(''shared'')') AS t(dropped boolean)),
       memshard.get('shared', 'k3')$$);
SELECT * FROM dblink('other', $$SELECT memshard.create_map('shared') > 0$$) AS t(created boolean);
SELECT memshard.set('shared', 'k', 'new map');
SELECT * FROM dblink('other', $$SELECT memshard.get('shared', 'k')$$) AS t(v text);
SELECT * FROM dblink('other', $$SELECT memshard.drop_map('shared')$$) AS t(dropped boolean);
SELECT pg_temp.try($$SELECT memshard.get('shared', 'k')$$);
SELECT pg_temp.try($$SELECT memshard.set('shared', 'k', 'v')$$);
SELECT pg_temp.try($$SELECT memshard.flush('shared')$$);
-- a get that reloads the map under it (the map dropped and created again,
-- with a value that is not valid text) still names the map in its error:
-- the name is the caller's copy, not the reloaded cache's entry
SELECT * FROM dblink('other', $$SELECT memshard.create_map('shared') > 0$$) AS t(created boolean);
SELECT memshard.set('shared', 'k', 'v');
SELECT pg_temp.try($$SELECT (SELECT stored FROM dblink('other',
       $q$SELECT memshard.drop_map('shared'), memshard.create_map('shared') > 0,
                 memshard.set('shared', 'bin', '\xff'::bytea)$q$)
          AS t(dropped boolean, created boolean, stored boolean)),
       memshard.get('shared', 'bin')$$);
SELECT pg_temp.try($$SELECT (SELECT stored FROM dblink('other',
       $q$SELECT memshard.drop_map('shared'), memshard.create_map('shared') > 0,
                 memshard.set('shared', 'bin', '\xfe'::bytea)$q$)
          AS t(dropped boolean, created boolean, stored boolean)),
       (SELECT count(*) FROM memshard.mget('shared', ARRAY['bin']))$$);
SELECT * FROM dblink('other', $$SELECT memshard.drop_map('shared')$$) AS t(dropped boolean);
COMMIT;
SELECT dblink_disconnect('other');
DROP EXTENSION dblink;

-- maps are catalog rows: pg_dump keeps them (config table of the extension)
SELECT extconfig::regclass[] FROM pg_extension WHERE extname = 'pg_memshard';

-- permissions: admin functions are revoked from PUBLIC, data functions and
-- views are for everyone
CREATE ROLE memshard_tester LOGIN;
SET ROLE memshard_tester;
SELECT stmt, pg_temp.try(stmt) AS result FROM (VALUES
    ($$SELECT memshard.create_map('mine')$$),
    ($$SELECT memshard.drop_map('kept')$$),
    ($$SELECT memshard.flush('kept')$$),
    ($$SELECT memshard.stats_reset()$$),
    ($$SELECT count(*) FROM memshard.map_catalog$$),
    ($$SELECT memshard.set('kept', 'by tester', 'v')$$),
    ($$SELECT memshard.get('kept', 'by tester')$$),
    ($$SELECT memshard.incr('kept', 'n')$$),
    ($$SELECT memshard.delete('kept', 'n')$$),
    ($$SELECT count(*) FROM memshard.maps$$),
    ($$SELECT count(*) FROM memshard.map_stats$$),
    ($$SELECT count(*) FROM memshard.stats$$)
) AS t(stmt);
RESET ROLE;
SELECT memshard.get('kept', 'by tester');
-- how an administrator hands out map administration, and takes data access away
GRANT EXECUTE ON FUNCTION memshard.create_map, memshard.drop_map TO memshard_tester;
REVOKE EXECUTE ON FUNCTION memshard.set(text, text, text, interval) FROM PUBLIC;
SET ROLE memshard_tester;
SELECT memshard.create_map('mine') > 0 AS created;
SELECT pg_temp.try($$SELECT memshard.set('mine', 'k', 'v')$$);
SELECT memshard.drop_map('mine');
RESET ROLE;
REVOKE EXECUTE ON FUNCTION memshard.create_map, memshard.drop_map FROM memshard_tester;
GRANT EXECUTE ON FUNCTION memshard.set(text, text, text, interval) TO PUBLIC;

-- a map name may hold any character, as a quoted identifier does
SELECT memshard.create_map(E'line one\nline "two"') > 0 AS created;
SELECT memshard.set(E'line one\nline "two"', 'k', 'odd name'),
       memshard.get(E'line one\nline "two"', 'k');
SELECT memshard.get('line one', 'k');
SELECT memshard.drop_map(E'line one\nline "two"');

-- a call site keeps its map for the statement (fn_extra), but follows the
-- map named in each row, and notices a map dropped and created again
SELECT memshard.create_map('site_a') > 0 AS a, memshard.create_map('site_b') > 0 AS b;
SELECT count(*) FILTER (WHERE memshard.set(CASE WHEN i % 3 = 0 THEN 'site_a' ELSE 'site_b' END,
                                           'k' || i, 'v' || i)) AS stored
  FROM generate_series(1, 30) i;
SELECT map, items FROM memshard.map_stats WHERE map LIKE 'site_%' ORDER BY map;
SELECT count(*) FILTER (WHERE memshard.get(CASE WHEN i % 3 = 0 THEN 'site_a' ELSE 'site_b' END,
                                           'k' || i) = 'v' || i) AS found,
       count(*) FILTER (WHERE memshard.get(CASE WHEN i % 3 = 0 THEN 'site_b' ELSE 'site_a' END,
                                           'k' || i) IS NULL) AS absent_elsewhere
  FROM generate_series(1, 30) i;
-- a PL/pgSQL expression keeps its call site for the transaction: it follows
-- the map through a drop and a create in between
CREATE FUNCTION pg_temp.read_a(k text) RETURNS text LANGUAGE plpgsql
    AS $$BEGIN RETURN memshard.get('site_a', k); END$$;
BEGIN;
SELECT pg_temp.read_a('k3');
SELECT memshard.drop_map('site_a');
SELECT pg_temp.try($$SELECT pg_temp.read_a('k3')$$);
SELECT memshard.create_map('site_a') > 0 AS again;
SELECT memshard.set('site_a', 'k3', 'new map');
SELECT pg_temp.read_a('k3'), pg_temp.read_a('k6') IS NULL AS old_items_gone;
COMMIT;
SELECT memshard.drop_map('site_a'), memshard.drop_map('site_b');

-- clean up
SELECT memshard.drop_map(name) FROM memshard.maps ORDER BY name;
DROP EXTENSION pg_memshard;
DROP ROLE memshard_tester;
