-- The table cache: every way a row changes invalidates (issue 14,
-- guarantee 5), nothing uncommitted is cached (2), a transaction sees its
-- own writes (3).  Before each write every key is read through the cache
-- (warm), so that a write that failed to invalidate would leave a stale
-- row; stale() counts the keys where get_row differs from the table.
CREATE EXTENSION pg_memshard;

CREATE TABLE acct (id int PRIMARY KEY, owner text NOT NULL, balance int NOT NULL DEFAULT 0);
INSERT INTO acct SELECT i, 'owner ' || i, 10 * i FROM generate_series(1, 10) i;
SELECT memshard.cache_table('acct');

CREATE FUNCTION pg_temp.warm(tbl anyelement) RETURNS bigint LANGUAGE sql AS $$
    SELECT count(memshard.get_row(tbl, k)) FROM generate_series(1, 30) k
$$;
CREATE FUNCTION pg_temp.stale() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM generate_series(1, 30) k
     WHERE memshard.get_row(NULL::acct, k) IS DISTINCT FROM
           (SELECT a FROM acct a WHERE a.id = k)
$$;
CREATE FUNCTION pg_temp.counts(tbl regclass)
RETURNS TABLE (items bigint, hits bigint, misses bigint, fills bigint,
               invalidations bigint, bypasses bigint)
LANGUAGE sql AS $$
    SELECT items, hits, misses, fills, invalidations, bypasses
      FROM memshard.cached_tables WHERE "table" = tbl
$$;

SELECT pg_temp.warm(NULL::acct) AS rows, pg_temp.stale();
SELECT items, hits, fills FROM pg_temp.counts('acct');
SELECT pg_temp.warm(NULL::acct) AS rows, pg_temp.stale();
SELECT items, hits, fills FROM pg_temp.counts('acct');

-- INSERT
INSERT INTO acct VALUES (11, 'new', 110);
SELECT memshard.get_row(NULL::acct, 11), pg_temp.stale();

-- UPDATE of a column, and of the key
SELECT pg_temp.warm(NULL::acct);
UPDATE acct SET balance = balance + 1 WHERE id = 1;
SELECT memshard.get_row(NULL::acct, 1), pg_temp.stale();
SELECT pg_temp.warm(NULL::acct);
UPDATE acct SET id = 12 WHERE id = 2;
SELECT memshard.get_row(NULL::acct, 2) AS old_key, memshard.get_row(NULL::acct, 12) AS new_key,
       pg_temp.stale();

-- DELETE
SELECT pg_temp.warm(NULL::acct);
DELETE FROM acct WHERE id = 3;
SELECT memshard.get_row(NULL::acct, 3) IS NULL AS deleted, pg_temp.stale();

-- MERGE
SELECT pg_temp.warm(NULL::acct);
MERGE INTO acct USING (VALUES (4, 5), (13, 7)) AS s(id, amount) ON acct.id = s.id
  WHEN MATCHED THEN UPDATE SET balance = acct.balance + s.amount
  WHEN NOT MATCHED THEN INSERT VALUES (s.id, 'merged', s.amount);
SELECT memshard.get_row(NULL::acct, 4), memshard.get_row(NULL::acct, 13), pg_temp.stale();

-- INSERT .. ON CONFLICT DO UPDATE
SELECT pg_temp.warm(NULL::acct);
INSERT INTO acct VALUES (5, 'upserted', 0) ON CONFLICT (id) DO UPDATE SET owner = excluded.owner;
SELECT memshard.get_row(NULL::acct, 5), pg_temp.stale();

-- COPY FROM
SELECT pg_temp.warm(NULL::acct);
COPY acct FROM stdin;
14	copied	140
15	copied	150
\.
SELECT memshard.get_row(NULL::acct, 14), pg_temp.stale();

-- writes made inside a function and inside a trigger of another table
CREATE FUNCTION pg_temp.pay(k int, amount int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE acct SET balance = balance + amount WHERE id = k;
END
$$;
SELECT pg_temp.warm(NULL::acct);
SELECT pg_temp.pay(6, 1000);
SELECT memshard.get_row(NULL::acct, 6), pg_temp.stale();
CREATE TABLE payments (acct int, amount int);
CREATE FUNCTION pg_temp.apply_payment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE acct SET balance = balance - NEW.amount WHERE id = NEW.acct;
    RETURN NEW;
END
$$;
CREATE TRIGGER apply AFTER INSERT ON payments FOR EACH ROW EXECUTE FUNCTION pg_temp.apply_payment();
SELECT pg_temp.warm(NULL::acct);
INSERT INTO payments VALUES (7, 70);
SELECT memshard.get_row(NULL::acct, 7), pg_temp.stale();

-- a write under session_replication_role = replica (as logical replication
-- applies them): the triggers are ENABLE ALWAYS
SELECT pg_temp.warm(NULL::acct);
SET session_replication_role = replica;
UPDATE acct SET owner = 'replicated' WHERE id = 8;
RESET session_replication_role;
SELECT memshard.get_row(NULL::acct, 8), pg_temp.stale();

-- more keys than pg_memshard.tablecache_max_keys: the whole table
SELECT pg_temp.warm(NULL::acct);
SET pg_memshard.tablecache_max_keys = 3;
UPDATE acct SET balance = balance + 1;
RESET pg_memshard.tablecache_max_keys;
SELECT pg_temp.stale();
SELECT items FROM pg_temp.counts('acct');

-- ROLLBACK, ROLLBACK TO SAVEPOINT, an error: only committed data is cached
SELECT pg_temp.warm(NULL::acct);
BEGIN;
UPDATE acct SET balance = -1 WHERE id = 9;
SELECT (memshard.get_row(NULL::acct, 9)).balance AS own_uncommitted;
ROLLBACK;
SELECT (memshard.get_row(NULL::acct, 9)).balance AS after_rollback, pg_temp.stale();
BEGIN;
SAVEPOINT s;
UPDATE acct SET balance = -2 WHERE id = 9;
SELECT (memshard.get_row(NULL::acct, 9)).balance AS in_savepoint;
ROLLBACK TO SAVEPOINT s;
SELECT (memshard.get_row(NULL::acct, 9)).balance AS after_rollback_to;
COMMIT;
SELECT (memshard.get_row(NULL::acct, 9)).balance AS committed, pg_temp.stale();
BEGIN;
UPDATE acct SET balance = -3 WHERE id = 9;
SELECT (memshard.get_row(NULL::acct, 9)).balance AS own_uncommitted;
SELECT 1 / 0;
COMMIT;
SELECT (memshard.get_row(NULL::acct, 9)).balance AS after_error, pg_temp.stale();

-- own writes: the writing transaction reads the table, others see the
-- cache's committed rows; get_rows too
SELECT pg_temp.warm(NULL::acct);
SELECT bypasses AS bypasses_before FROM pg_temp.counts('acct') \gset
BEGIN;
UPDATE acct SET owner = 'mine' WHERE id = 10;
DELETE FROM acct WHERE id = 11;
SELECT memshard.get_row(NULL::acct, 10), memshard.get_row(NULL::acct, 11) IS NULL AS deleted;
SELECT * FROM memshard.get_rows(NULL::acct, ARRAY[10, 11, 12]);
COMMIT;
SELECT bypasses - :bypasses_before AS bypassed FROM pg_temp.counts('acct');
SELECT memshard.get_row(NULL::acct, 10), pg_temp.stale();

-- SERIALIZABLE reads the table (the read takes its predicate locks)
SELECT bypasses AS bypasses_before FROM pg_temp.counts('acct') \gset
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT (memshard.get_row(NULL::acct, 10)).owner;
COMMIT;
SELECT bypasses - :bypasses_before AS bypassed FROM pg_temp.counts('acct');

-- ALTER TABLE that changes the row type or rewrites the rows
SELECT pg_temp.warm(NULL::acct);
ALTER TABLE acct ADD COLUMN currency text NOT NULL DEFAULT 'EUR';
SELECT memshard.get_row(NULL::acct, 1), pg_temp.stale();
SELECT pg_temp.warm(NULL::acct);
ALTER TABLE acct ALTER COLUMN balance TYPE int USING balance * 2;
SELECT memshard.get_row(NULL::acct, 1), pg_temp.stale();
SELECT pg_temp.warm(NULL::acct);
ALTER TABLE acct DROP COLUMN currency;
SELECT memshard.get_row(NULL::acct, 1), pg_temp.stale();
-- in the transaction that alters the table, get_row reads the table
BEGIN;
ALTER TABLE acct ADD COLUMN note text DEFAULT 'fresh';
SELECT memshard.get_row(NULL::acct, 1);
ROLLBACK;
SELECT memshard.get_row(NULL::acct, 1), pg_temp.stale();

-- with its row trigger disabled the table is read, never served stale
SELECT pg_temp.warm(NULL::acct);
ALTER TABLE acct DISABLE TRIGGER memshard_tablecache;
UPDATE acct SET owner = 'unseen' WHERE id = 1;
SELECT memshard.get_row(NULL::acct, 1), pg_temp.stale();
ALTER TABLE acct ENABLE ALWAYS TRIGGER memshard_tablecache;
SELECT pg_temp.warm(NULL::acct), pg_temp.stale();

-- cascading foreign key actions on a cached referencing table
CREATE TABLE note (id int PRIMARY KEY,
                   acct_id int REFERENCES acct ON UPDATE CASCADE ON DELETE CASCADE,
                   body text);
INSERT INTO note VALUES (1, 1, 'first'), (2, 4, 'second'), (3, 4, 'third');
SELECT memshard.cache_table('note');
SELECT pg_temp.warm(NULL::note);
UPDATE acct SET id = 40 WHERE id = 4;
SELECT memshard.get_row(NULL::note, 2), memshard.get_row(NULL::note, 3);
SELECT pg_temp.warm(NULL::note);
DELETE FROM acct WHERE id = 40;
SELECT memshard.get_row(NULL::note, 2) IS NULL AS cascaded, memshard.get_row(NULL::note, 1);

-- TRUNCATE (with CASCADE to the referencing table)
SELECT pg_temp.warm(NULL::acct), pg_temp.warm(NULL::note);
TRUNCATE acct CASCADE;
SELECT pg_temp.warm(NULL::acct) AS acct_rows, pg_temp.warm(NULL::note) AS note_rows, pg_temp.stale();
INSERT INTO acct VALUES (1, 'again', 1);
SELECT memshard.get_row(NULL::acct, 1);

-- a partitioned table: rows moved between partitions, TRUNCATE, DETACH
-- and DROP of a partition
CREATE TABLE events (id int, region text, v int, PRIMARY KEY (id, region))
    PARTITION BY LIST (region);
CREATE TABLE events_eu PARTITION OF events FOR VALUES IN ('eu');
CREATE TABLE events_us PARTITION OF events FOR VALUES IN ('us');
CREATE TABLE events_asia (id int, region text, v int, PRIMARY KEY (id, region));
INSERT INTO events VALUES (1, 'eu', 1), (2, 'us', 2), (3, 'eu', 3);
SELECT memshard.cache_table('events');
-- every key's row through the cache, and how many keys differ from the
-- table (each call caches what the next one reads)
CREATE FUNCTION pg_temp.events() RETURNS TABLE (cached text, stale bigint)
LANGUAGE sql AS $$
    WITH k AS (
        SELECT i, r, memshard.get_row(NULL::events, ROW(i, r)) AS c,
               (SELECT e FROM events e WHERE e.id = i AND e.region = r) AS t
          FROM generate_series(1, 3) i, unnest(ARRAY['asia', 'eu', 'us']) r)
    SELECT string_agg(c::text, ' ' ORDER BY i, r),
           count(*) FILTER (WHERE c IS DISTINCT FROM t)
      FROM k
$$;
SELECT * FROM pg_temp.events();
UPDATE events SET region = 'us', v = 10 WHERE id = 1;
SELECT * FROM pg_temp.events();
UPDATE events SET v = 30 WHERE id = 3;
SELECT * FROM pg_temp.events();
TRUNCATE events_us;
SELECT * FROM pg_temp.events();
INSERT INTO events VALUES (1, 'us', 100), (2, 'us', 200);
SELECT * FROM pg_temp.events();
ALTER TABLE events DETACH PARTITION events_us;
SELECT * FROM pg_temp.events();
ALTER TABLE events ATTACH PARTITION events_us FOR VALUES IN ('us');
SELECT * FROM pg_temp.events();
DROP TABLE events_us;
SELECT * FROM pg_temp.events();
-- a partition attached later gets the row trigger
INSERT INTO events_asia VALUES (1, 'asia', 7);
ALTER TABLE events ATTACH PARTITION events_asia FOR VALUES IN ('asia');
SELECT * FROM pg_temp.events();
UPDATE events_asia SET v = 8;
SELECT * FROM pg_temp.events();
SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'events_asia'::regclass;

SELECT "table", items > 0 AS has_items, invalidations > 0 AS invalidated
  FROM memshard.cached_tables ORDER BY 1;

DROP TABLE events, note, acct, payments;
DROP EXTENSION pg_memshard;
