-- Who may run what (README, "Permissions"; issue 9): the functions and
-- relations each kind of role may use, the peer functions for
-- memshard_peer only, no SECURITY DEFINER function, and a fixed
-- search_path on every body that is parsed when it runs.  A change in
-- these lists is a change of the security model: review it, and the
-- README's Permissions and Security sections with it.
CREATE EXTENSION pg_memshard;

CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- memshard_peer: made by CREATE EXTENSION, and it cannot log in
SELECT rolname, rolcanlogin, rolsuper, rolinherit,
       shobj_description(oid, 'pg_authid') AS comment
  FROM pg_roles WHERE rolname = 'memshard_peer';

-- every function: may PUBLIC run it, or only memshard_peer, or pg_monitor
-- (else only superusers and whom they grant it)
SELECT p.oid::regprocedure AS function,
       CASE WHEN has_function_privilege('public', p.oid, 'EXECUTE') THEN 'PUBLIC'
            WHEN has_function_privilege('memshard_peer', p.oid, 'EXECUTE') THEN 'memshard_peer'
            WHEN has_function_privilege('pg_monitor', p.oid, 'EXECUTE') THEN 'pg_monitor'
            ELSE 'admin' END AS who
  FROM pg_proc p
 WHERE p.pronamespace = 'memshard'::regnamespace
 ORDER BY 2, p.oid::regprocedure::text;

-- every table, view and sequence: who may read it
SELECT c.oid::regclass AS relation, c.relkind,
       CASE WHEN has_table_privilege('public', c.oid, 'SELECT') THEN 'PUBLIC'
            WHEN has_table_privilege('pg_monitor', c.oid, 'SELECT') THEN 'pg_monitor'
            ELSE 'owner' END AS who
  FROM pg_class c
 WHERE c.relnamespace = 'memshard'::regnamespace AND c.relkind IN ('r', 'v', 'S')
 ORDER BY 3, c.oid::regclass::text;

-- nothing SECURITY DEFINER; the bodies parsed when they run (string bodies
-- of sql and plpgsql functions) have search_path = pg_catalog, pg_temp
SELECT p.oid::regprocedure AS function, l.lanname, p.prosecdef, p.proconfig
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'memshard'::regnamespace
   AND (p.prosecdef OR (l.lanname IN ('sql', 'plpgsql') AND p.prosqlbody IS NULL))
 ORDER BY p.oid::regprocedure::text;

-- a plain role gets 42501 from every peer function
CREATE ROLE regress_memshard_plain;
SELECT memshard.create_map('m') > 0 AS created;
SET ROLE regress_memshard_plain;
SELECT stmt, pg_temp.try(stmt) AS result FROM (VALUES
    ($$SELECT memshard.peer_set('m', 'k', '\x01'::bytea, 0, 0)$$),
    ($$SELECT memshard.peer_get('m', 'k')$$),
    ($$SELECT memshard.peer_mget('m', ARRAY['k'])$$),
    ($$SELECT memshard.peer_mset('m', ARRAY['k'], ARRAY['\x01'::bytea], 0)$$),
    ($$SELECT memshard.peer_delete('m', 'k')$$),
    ($$SELECT memshard.peer_incr('m', 'k', 1, 0)$$),
    ($$SELECT memshard.peer_touch('m', 'k', 1000)$$),
    ($$SELECT memshard.peer_flush('m')$$),
    ($$SELECT memshard.peer_identity()$$),
    ($$SELECT memshard.peer_metadata_apply(NULL, '{}', 'x')$$)
) AS t(stmt);
RESET ROLE;

-- a member of memshard_peer gets past the privilege check (to the node's
-- own answer: m is a map of this node only, no peer's)
GRANT memshard_peer TO regress_memshard_plain;
SET ROLE regress_memshard_plain;
SELECT pg_temp.try($$SELECT memshard.peer_set('m', 'k', '\x01'::bytea, 0, 0)$$);
SELECT (memshard.peer_identity()).database;
SELECT pg_temp.try($$SELECT memshard.peer_flush('m')$$);
RESET ROLE;

-- clean up
SELECT memshard.drop_map('m');
DROP EXTENSION pg_memshard;
DROP ROLE regress_memshard_plain;
-- roles belong to the instance: DROP EXTENSION leaves memshard_peer
SELECT count(*) AS memshard_peer FROM pg_roles WHERE rolname = 'memshard_peer';
