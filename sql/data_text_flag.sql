-- "Stored as text" (issue 12): set, add and replace of a text value mark
-- the item as text of this database, and get returns it without checking
-- the encoding again; bytes set as bytea are still checked when read as
-- text, also when they replace a text value of the key.
CREATE EXTENSION pg_memshard;
SELECT memshard.create_map('tf') > 0 AS created;

-- text round trips, multibyte characters included, by set, add, replace
SELECT memshard.set('tf', 'a', 'plain ascii'),
       memshard.add('tf', 'b', 'grüße, ünïcödé ☃'),
       memshard.set('tf', 'c', 'first'),
       memshard.replace('tf', 'c', 'ça va'),
       memshard.set('tf', 'big', repeat('é', 40000));
SELECT memshard.get('tf', 'a') AS a, memshard.get('tf', 'b') AS b,
       memshard.get('tf', 'c') AS c,
       memshard.get('tf', 'big') = repeat('é', 40000) AS big;
SELECT key, value FROM memshard.mget('tf', ARRAY['a', 'b', 'c']);

-- bytea: checked when read as text, whatever the key held before
SELECT memshard.set('tf', 'bin', '\xff00fe'::bytea),
       memshard.set('tf', 'a', '\xc3'::bytea),
       memshard.replace('tf', 'b', '\x80'::bytea),
       memshard.set('tf', 'ok', convert_to('valid ü', 'UTF8'));
SELECT memshard.get('tf', 'bin');
SELECT memshard.get('tf', 'a');
SELECT memshard.get('tf', 'b');
SELECT * FROM memshard.mget('tf', ARRAY['c', 'a']);
SELECT memshard.get('tf', 'ok') AS valid_bytes, memshard.get_bytea('tf', 'a') AS raw;

-- text again over the bytes: the new item is text
SELECT memshard.set('tf', 'bin', 'text now');
SELECT memshard.get('tf', 'bin');

-- mget takes each value's flag: a large text item (read under the lock),
-- valid bytes set as bytea, text over bytes, a miss; then the bytes of 'b'
-- after a text value in the same batch are still checked
SELECT key, length(value) AS len, value = repeat('é', 40000) AS is_big
FROM memshard.mget('tf', ARRAY['big', 'ok', 'bin', 'missing']);
SELECT * FROM memshard.mget('tf', ARRAY['bin', 'big', 'b']);

SELECT memshard.drop_map('tf');
DROP EXTENSION pg_memshard;
