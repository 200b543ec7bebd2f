\set k random(0, 99999)
SELECT memshard.set('bench', 'k' || :k, repeat('v', 100));
