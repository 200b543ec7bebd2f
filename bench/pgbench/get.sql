\set k random(0, 99999)
SELECT memshard.get('bench', 'k' || :k);
