-- What the demo shows once the server is up.
CREATE EXTENSION IF NOT EXISTS pg_memshard;
SELECT memshard.version() AS pg_memshard_version,
       current_setting('pg_memshard.memory') AS cache_memory;
