-- cache_bench.sql: the objects cache_bench.sh measures with, in database
-- "bench" of its throwaway instance.

CREATE EXTENSION pg_memshard;
CREATE EXTENSION pgmemcache;

-- the UNLOGGED-table cache, the baseline: a text primary key, an index
-- lookup per read
CREATE UNLOGGED TABLE kv (k text PRIMARY KEY, v text NOT NULL);

SELECT memshard.create_map('bench');
SELECT memshard.create_map('eff');

-- the 100-byte value of key 'k<i>' (cheap to compute, distinct per key)
CREATE FUNCTION bench_value(i int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT lpad(i::text, 100, 'v') $$;

-- Memory efficiency values: for mix 'uniform' a length uniformly spread
-- over 32..512 bytes, drawn by a hash seeded with 42 (so every run, and
-- memshard and memcached alike, get the same sequence); for mix '100'
-- always 100 bytes.
CREATE FUNCTION eff_value(n int, mix text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT left(repeat(md5(n::text), 16),
                CASE mix WHEN 'uniform'
                         THEN 32 + ((hashint4extended(n, 42) & 2147483647) % 481)::int
                         ELSE 100 END)
$$;

-- Wall-clock time of one run of a statement, in nanoseconds per operation.
-- EXECUTE runs it to completion and discards its (single-row) result.
CREATE FUNCTION bench_ns(query text, ops bigint) RETURNS double precision
LANGUAGE plpgsql
AS $$
DECLARE
    started timestamptz := clock_timestamp();
BEGIN
    EXECUTE query;
    RETURN extract(epoch FROM clock_timestamp() - started) * 1e9 / ops;
END
$$;
