/*-------------------------------------------------------------------------
 *
 * placement.h
 *		Placements of the shards of maps on nodes
 *		(memshard.placement_catalog): what the cluster room offers the
 *		router.
 *
 * Shard s of a map over nodes N0..Nk-1 with r replicas lives on nodes
 * N[(s + i) mod k], i = 0 .. r-1: round robin, replicas on distinct nodes,
 * replica 0 the primary.  That rule only fills the table when the map is
 * created; routing reads the table, so that a shard can later move.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_PLACEMENT_H
#define MEMSHARD_PLACEMENT_H

#include "cluster/cluster.h"
#include "utils/array.h"

/* a node holding shards of a map, resolved for routing */
typedef struct PlacementNode
{
	int32		id;
	Oid			serverid;		/* InvalidOid: no such server here */
	bool		is_local;
	NameData	server;
} PlacementNode;

/*
 * Where the shards of one map live: self-contained (no pointer into other
 * caches), valid until the next call of cluster_map_placements.
 */
typedef struct MapPlacements
{
	int32		mapid;
	int			nshards;
	int			replicas;
	int			nnodes;
	PlacementNode *nodes;		/* the distinct nodes of the map */
	int		   *copies;			/* [shard]: its copies, 1 .. replicas (fewer
								 * after a promote, until repaired) */
	int		   *placement;		/* [shard * replicas + i], i < copies[shard]:
								 * index in nodes */
} MapPlacements;

/* the placements of a map, or NULL if it has none (a map of this node) */
extern const MapPlacements *cluster_map_placements(int32 mapid);

/* how many copies of a shard there are (replicas, or fewer) */
static inline int
placement_copies(const MapPlacements *placements, int shard)
{
	return placements->copies[shard];
}

/* the node holding copy i (0: primary, i < placement_copies) of a shard */
static inline const PlacementNode *
placement_node(const MapPlacements *placements, int shard, int i)
{
	return &placements->nodes[placements->placement[shard * placements->replicas + i]];
}

/*
 * create_map over nodes: turn the nodes argument (name[], NULL for "this
 * node") into the list of servers the map is placed on, checking them;
 * returns NULL when the map stays a map of this node only.
 */
extern ArrayType *cluster_map_nodes(ArrayType *nodes, int replicas,
									const char *mapname);

/* insert the placements of a new map: round robin over nodes, or as given */
extern void cluster_place_map(int32 mapid, int shard_count,
							  ArrayType *nodes, int replicas);
extern void cluster_insert_placements(int32 mapid,
									  const MapPlacementRows *rows);

/* the placement table changed: every backend reads it again */
extern void cluster_placements_changed(void);

/* a dropped map's placements go with it */
extern void cluster_unplace_map(int32 mapid);

/* shards placed on a node; *maps lists the maps they belong to */
extern int	placement_count_on_node(int32 node_id, char **maps);

#endif							/* MEMSHARD_PLACEMENT_H */
