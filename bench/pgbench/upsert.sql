\set k random(0, 99999)
INSERT INTO kv VALUES ('k' || :k, lpad(:k::text, 100, 'v')) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v;
