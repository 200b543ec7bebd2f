/*-------------------------------------------------------------------------
 *
 * placement.h
 *		Placements of shards on nodes (memshard.placement_catalog).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_PLACEMENT_H
#define MEMSHARD_PLACEMENT_H

/* shards placed on a node; *maps lists the maps they belong to */
extern int	placement_count_on_node(int32 node_id, char **maps);

#endif							/* MEMSHARD_PLACEMENT_H */
