/*-------------------------------------------------------------------------
 *
 * maps.c
 *		Defining and removing maps: the checks of a definition, its
 *		catalog row, its placements, and its state in the store.
 *
 * create_map (src/api/map_api.c) and a node applying a coordinator's
 * metadata (metadata_apply.c) both define a map with cluster_define_map,
 * and remove one with cluster_remove_map; they check the values with the
 * same map_check_* functions, in the same order, so that both give the
 * same errors.  A change of the cluster's metadata around them
 * (cluster_change_begin/end) is the caller's: a node applying metadata is
 * inside the coordinator's change.
 *
 * The store follows the transaction that changes the catalog: a dropped
 * map's items are removed when the drop commits, and a map created by a
 * transaction that aborts is released, so a rolled-back create_map or
 * drop_map leaves the store as the catalog says.  A prepared transaction
 * may be committed by another backend, which knows nothing of our list: a
 * drop releases the store at PREPARE (if the transaction is then rolled
 * back, the map comes back empty, which a cache may be).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "cluster/cluster.h"
#include "cluster/placement.h"
#include "partition/partition.h"
#include "pg_memshard.h"

/* a store release waiting for the end of the (sub)transaction */
typedef struct PendingRelease
{
	int32		mapid;
	bool		at_commit;		/* a drop: release at commit, else at abort */
	int			nestlevel;		/* subtransaction that asked for it */
} PendingRelease;

static List *pending_releases = NIL;

static void register_callbacks(void);
static void release_store_map(int32 mapid);
static void remember_release(int32 mapid, bool at_commit);
static void maps_xact_callback(XactEvent event, void *arg);
static void maps_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
								  SubTransactionId parentSubid, void *arg);

/*
 * A map name: 1 to 63 bytes (it keys fixed-size caches).  Like a quoted
 * identifier it may hold any character, newlines and quotes included;
 * metrics() escapes it in labels.
 */
void
map_check_name(const char *name)
{
	if (name[0] == '\0' || strlen(name) > MAP_NAME_MAX_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid map name \"%s\"", name),
				 errdetail("A map name is 1 to %d bytes long.", MAP_NAME_MAX_LEN)));
}

void
map_check_max_memory(int64 max_memory)
{
	if (max_memory <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_memory must be greater than zero"),
				 errhint("Pass NULL for a map without a quota.")));
}

/* a word that must be one of two: true for 'yes' */
bool
map_choice(const char *value, const char *what, const char *yes,
		   const char *no)
{
	if (strcmp(value, yes) == 0)
		return true;
	if (strcmp(value, no) == 0)
		return false;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid %s \"%s\"", what, value),
			 errhint("Use '%s' or '%s'.", yes, no)));
	return false;				/* keep the compiler quiet */
}

void
map_check_shard_count(int32 shard_count)
{
	if (shard_count <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("shard_count must be greater than zero")));
}

/*
 * Bounds (NULL: none) for the method; the shard count they make.  Range
 * bounds: a non-empty one-dimensional text array without NULLs, in
 * strictly ascending order under the database's collation (the order
 * range_partition routes by, and so the same check and messages); n split
 * points make n + 1 ranges.  A hash map keeps its shard_count.
 */
int32
map_check_bounds(MapMethod method, ArrayType *bounds, int32 shard_count)
{
	PartitionType ptype;
	Datum	   *elems;
	int			count;

	if (method == MAP_METHOD_HASH && bounds != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bounds are only for range maps"),
				 errhint("Pass method => 'range' with the bounds.")));
	if (method == MAP_METHOD_HASH)
		return shard_count;
	if (bounds == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a range map needs bounds"),
				 errhint("Pass bounds => ARRAY['b1', 'b2', ...], the split points in ascending order.")));
	partition_type_init(&ptype, PARTITION_BY_RANGE, TEXTOID,
						DEFAULT_COLLATION_OID, CurrentMemoryContext);
	partition_range_bounds_from_array(&ptype, bounds, &elems, &count);
	if (count == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a range map needs at least one bound")));
	return count + 1;
}

void
map_check_replicas(int32 replicas)
{
	if (replicas < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("replicas must be at least 1")));
}

/* once the nodes are known: copies live on distinct nodes */
void
map_check_local_replicas(const MapDefinition *def)
{
	if (def->replicas > 1 && def->nodes_null)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a map on this node only has exactly one replica"),
				 errhint("Replicas live on distinct nodes: pass nodes.")));
}

/*
 * Define a checked map: its catalog row, its state in the store, and for a
 * map over nodes its placements (given, or round robin over def->nodes).
 * Returns the map's id.
 */
int32
cluster_define_map(MapDefinition *def, const MapPlacementRows *placements)
{
	int32		mapid = map_catalog_insert(def);

	cluster_map_store_created(mapid);
	if (def->nodes_null)
		return mapid;
	if (placements != NULL)
		cluster_insert_placements(mapid, placements);
	else
		cluster_place_map(mapid, def->shard_count,
						  DatumGetArrayTypeP(def->nodes), def->replicas);
	return mapid;
}

/*
 * Remove the map called name, its placements, and (at commit) its items;
 * false if there is no such map.
 */
bool
cluster_remove_map(const char *name)
{
	int32		mapid;

	if (!map_catalog_delete(name, &mapid))
		return false;
	cluster_map_store_dropped(mapid);
	cluster_unplace_map(mapid);
	return true;
}

static void
register_callbacks(void)
{
	static bool registered = false;

	if (registered)
		return;
	RegisterXactCallback(maps_xact_callback, NULL);
	RegisterSubXactCallback(maps_subxact_callback, NULL);
	registered = true;
}

/*
 * Remove whatever the store holds for (this database, mapid): nothing if
 * the map was never attached.  A cached table's map has a second slot,
 * (database, -mapid), which the data functions never reach (src/tablecache):
 * it goes too, on every node the map is dropped on.  Runs in transaction
 * callbacks: the store never raises an ERROR.
 */
static void
release_store_map(int32 mapid)
{
	int			slot = store_map_find(MyDatabaseId, mapid);

	if (slot >= 0)
		store_map_detach(slot, MyDatabaseId, mapid);
	slot = store_map_find(MyDatabaseId, -mapid);
	if (slot >= 0)
		store_map_detach(slot, MyDatabaseId, -mapid);
}

/*
 * A catalog row was inserted.  A map id can have lived before (the
 * extension dropped and created again restarts the sequence), so release
 * anything the store still holds under it; and release the new map again if
 * the transaction aborts.
 */
void
cluster_map_store_created(int32 mapid)
{
	if (!memshard_preloaded)
		return;
	release_store_map(mapid);
	remember_release(mapid, false);
}

/* a catalog row was deleted: its items go when the drop commits */
void
cluster_map_store_dropped(int32 mapid)
{
	if (!memshard_preloaded)
		return;
	remember_release(mapid, true);
}

static void
remember_release(int32 mapid, bool at_commit)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	PendingRelease *pending = palloc(sizeof(PendingRelease));

	register_callbacks();
	pending->mapid = mapid;
	pending->at_commit = at_commit;
	pending->nestlevel = GetCurrentTransactionNestLevel();
	pending_releases = lappend(pending_releases, pending);
	MemoryContextSwitchTo(old);
}

/* end of transaction: at PREPARE as at commit (see the header comment) */
static void
maps_xact_callback(XactEvent event, void *arg)
{
	ListCell   *lc;
	bool		committing;

	if (pending_releases == NIL)
		return;
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PREPARE:
			committing = true;
			break;
		case XACT_EVENT_ABORT:
			committing = false;
			break;
		default:
			return;
	}
	foreach(lc, pending_releases)
	{
		PendingRelease *pending = lfirst(lc);

		if (pending->at_commit == committing)
			release_store_map(pending->mapid);
	}
	list_free_deep(pending_releases);
	pending_releases = NIL;
}

/* a subtransaction ends: hand its releases to the parent, or act on abort */
static void
maps_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	int			nestlevel = GetCurrentTransactionNestLevel();
	ListCell   *lc;

	if (event != SUBXACT_EVENT_COMMIT_SUB && event != SUBXACT_EVENT_ABORT_SUB)
		return;
	foreach(lc, pending_releases)
	{
		PendingRelease *pending = lfirst(lc);

		if (pending->nestlevel < nestlevel)
			continue;
		if (event == SUBXACT_EVENT_COMMIT_SUB)
			pending->nestlevel = nestlevel - 1;
		else
		{
			if (!pending->at_commit)
				release_store_map(pending->mapid);
			pfree(pending);
			pending_releases = foreach_delete_current(pending_releases, lc);
		}
	}
}
