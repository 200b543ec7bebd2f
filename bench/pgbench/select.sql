\set k random(0, 99999)
SELECT v FROM kv WHERE k = 'k' || :k;
