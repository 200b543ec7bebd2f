/*-------------------------------------------------------------------------
 *
 * partition.h
 *		Pure hash and range partitioning: what the partition room offers.
 *
 * No shared memory, no I/O: these work whether or not the library is
 * preloaded.  Hash partitioning gives exactly the remainder PostgreSQL's own
 * hash partition routing computes (compute_partition_hash_value); range
 * partitioning gives the number of split points <= value, as native range
 * partitioning with lower-inclusive bounds does.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_PARTITION_H
#define MEMSHARD_PARTITION_H

#include "fmgr.h"

/*
 * The shard of a text key in a hash map of 'modulus' shards: the same answer
 * as memshard.hash_partition(key::text, modulus), i.e. native routing of a
 * text column under the default collation.
 */
extern int	partition_hash_text(const char *key, int keylen, int modulus);

/*
 * The shard of a text key in a range map: the number of bounds <= key, with
 * bounds sorted ascending under 'collation' (memshard.range_partition).
 */
extern int	partition_range_text(const char *key, int keylen,
								 Datum *bounds, int nbounds, Oid collation);

#endif							/* MEMSHARD_PARTITION_H */
