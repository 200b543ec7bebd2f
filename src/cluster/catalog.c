/*-------------------------------------------------------------------------
 *
 * catalog.c
 *		The extension's schema and the tables of the metadata: their names
 *		and OIDs, in one place.
 *
 * The objects of schema memshard are made by the extension script; every
 * room that reads or writes them by OID (the map catalog, the node and
 * placement caches, the utility hook) asks here.  A missing relation is an
 * ERROR saying that the extension is not installed in this database.
 * Nothing is cached here: callers that look an OID up on every call keep
 * it themselves, and forget it on a relcache invalidation of it (DROP
 * EXTENSION).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "utils/lsyscache.h"

#include "cluster/cluster.h"

/* names of the MemshardRelation values, in their order */
static const char *const relation_names[] = {
	"map_catalog",
	"map_catalog_name_key",
	"map_id_seq",
	"node_catalog",
	"placement_catalog"
};

StaticAssertDecl(lengthof(relation_names) == MEMSHARD_RELATION_COUNT,
				 "relation_names does not match MemshardRelation");

/* OID of schema memshard; InvalidOid if missing and missing_ok */
Oid
memshard_schema_oid(bool missing_ok)
{
	return get_namespace_oid(MEMSHARD_SCHEMA, missing_ok);
}

/* OID of a relation of the extension; ERROR if it is missing */
Oid
memshard_relid(MemshardRelation rel)
{
	const char *relname = relation_names[rel];
	Oid			relid = get_relname_relid(relname, memshard_schema_oid(false));

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s.%s\" does not exist",
						MEMSHARD_SCHEMA, relname),
				 errhint("Is the extension pg_memshard installed in this database?")));
	return relid;
}

/*
 * memshard.metadata_epoch exists: the SQL objects are of 1.1 or later
 * (the library also serves those of 1.0, which have no epoch)
 */
bool
memshard_epoch_table_exists(void)
{
	Oid			schema = memshard_schema_oid(true);

	return OidIsValid(schema) &&
		OidIsValid(get_relname_relid("metadata_epoch", schema));
}
