\set k random(0, 99999)
INSERT INTO kv VALUES ('k' || :k, repeat('v', 100)) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v;
