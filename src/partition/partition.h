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
#include "utils/array.h"

/*
 * The shard of a text key in a hash map of 'modulus' shards: the same answer
 * as memshard.hash_partition(key::text, modulus), i.e. native routing of a
 * text column under the default collation.
 */
extern int	partition_hash_text(const char *key, int keylen, int modulus);

/*
 * The shard of a text key in a range map: the number of bounds <= key, with
 * bounds sorted ascending under 'collation' (memshard.range_partition).
 * The bounds are text Datums as deconstruct_array gives them.
 */
extern int	partition_range_text(const char *key, int keylen,
								 Datum *bounds, int nbounds, Oid collation);

/*
 * How values of one type are hashed or ordered for partitioning, under one
 * collation: the support functions of the type's default hash or btree
 * operator class, the ones native partitioning uses for a key column of that
 * type.  Filled by partition_type_init; the FmgrInfo lives in the memory
 * context given there.
 */
typedef struct PartitionType
{
	Oid			typid;			/* as given (a domain is hashed as its base) */
	Oid			collation;		/* InvalidOid for types without collation */
	FmgrInfo	support;		/* extended hash proc or btree comparison */

	/*
	 * The support function is hashtextextended under a deterministic
	 * collation (hash: the bytes of the string) or bttextcmp (range): the
	 * text paths below do the same work without a function call.
	 */
	bool		is_text;
} PartitionType;

/* ERROR 22023 unless modulus > 0 */
extern void partition_check_modulus(int modulus);

typedef enum PartitionMethod
{
	PARTITION_BY_HASH,
	PARTITION_BY_RANGE
} PartitionMethod;

/*
 * Fill ptype for 'method' on values of typid under 'collation'; ERROR 42883
 * if the type has no default hash (or btree) operator class.
 */
extern void partition_type_init(PartitionType *ptype, PartitionMethod method,
								Oid typid, Oid collation, MemoryContext mcxt);

/*
 * The hash of one partition key row, as compute_partition_hash_value:
 * NULL columns are skipped, so an all-NULL row hashes to 0.
 */
extern uint64 partition_hash_row(const PartitionType *columns, int ncolumns,
								 const Datum *values, const bool *isnull);

/* the remainder of 'rowhash' modulo 'modulus', in uint64 as native routing */
extern int	partition_hash_remainder(uint64 rowhash, int modulus);

/*
 * ERROR 22023 unless the bounds are non-NULL and strictly ascending under
 * the type's comparison.
 */
extern void partition_range_check_bounds(const PartitionType *ptype,
										 const Datum *bounds, const bool *nulls,
										 int nbounds);

/*
 * The elements of a bounds array (of ptype's type), checked as above, in the
 * current memory context; ERROR 22023 for an array of more than one
 * dimension.
 */
extern void partition_range_bounds_from_array(const PartitionType *ptype,
											  ArrayType *array,
											  Datum **bounds, int *nbounds);

/* number of bounds <= value; the bounds must have passed the check above */
extern int	partition_range_index(const PartitionType *ptype, Datum value,
								  Datum *bounds, int nbounds);

#endif							/* MEMSHARD_PARTITION_H */
