\set k random(0, 99999)
SELECT memshard.set('bench', 'k' || :k, lpad(:k::text, 100, 'v'));
