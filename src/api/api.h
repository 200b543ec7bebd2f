/*-------------------------------------------------------------------------
 *
 * api.h
 *		The SQL entry points of pg_memshard: what the api room offers.
 *
 * The api room holds the C functions behind the SQL objects of the
 * extension script (schema memshard), one file per area: maps
 * (map_api.c), data (data_api.c), partitioning (partition_api.c),
 * administration of the cluster (cluster_api.c), the calls other nodes
 * make (peer_api.c), recovery (recovery_api.c), statistics and
 * observability (stats_api.c, info_api.c, obs_shards.c).  They check
 * arguments and convert types, and leave the work to the rooms below;
 * argument checks they share are in api_internal.h.  It is the only room
 * that knows Datums and SQL types.
 *
 * To the rest of the C code it offers one thing: the check that the SQL
 * objects of this database are of a version this library serves
 * (ext_version.c), which every SQL entry point makes, the table cache's
 * and the utility hook (src/ddl_hook.c) too.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_API_H
#define MEMSHARD_API_H

/* version of this library, as memshard.version() reports it */
#define MEMSHARD_LIBRARY_VERSION "1.1"

/*
 * The versions of the extension's SQL objects this library serves
 * (ext_version.c): ERROR unless this database's objects are of one of them.
 */
extern void ext_version_check(void);
extern void ext_version_check_catalog(void);
extern void ext_version_forget(void);

#endif							/* MEMSHARD_API_H */
