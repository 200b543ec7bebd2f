/*-------------------------------------------------------------------------
 *
 * partition.c
 *		Hash and range partitioning that agree with PostgreSQL's own routing.
 *
 * Hash: for each non-NULL column, the extended hash support function of the
 * column type's default hash operator class, called with the column's
 * collation and seed HASH_PARTITION_SEED; the column hashes are folded with
 * hash_combine64 starting from 0, and the remainder is taken in uint64.
 * That is compute_partition_hash_value() of partbounds.c, which routes rows
 * of a hash-partitioned table; satisfies_hash_partition() checks them.
 *
 * Range: the number of split points <= value, found by binary search with
 * the comparison function of the type's default btree operator class and the
 * value's collation, as partition_range_datum_bsearch() finds a partition.
 *
 * Pure code: catalog look-ups through the type cache, no shared memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/partition.h"
#include "common/hashfn.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"
#include "utils/varlena.h"

#include "partition/partition.h"

/* a bound compared with the probe: < 0, 0 or > 0 as bound <, =, > probe */
typedef int (*BoundCompare) (Datum bound, const void *probe);

/* the probe of partition_range_text */
typedef struct TextProbe
{
	const char *key;
	int			keylen;
	Oid			collation;
} TextProbe;

/* the probe of partition_range_index on the generic path */
typedef struct DatumProbe
{
	const PartitionType *ptype;
	Datum		value;
} DatumProbe;

/*
 * hashtextextended() of a string under a deterministic collation: the bytes
 * alone, seeded for partitioning.
 */
static inline uint64
text_column_hash(const char *key, int keylen)
{
	return DatumGetUInt64(hash_any_extended((const unsigned char *) key, keylen,
											HASH_PARTITION_SEED));
}

void
partition_check_modulus(int modulus)
{
	if (modulus <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("modulus for hash partition must be an integer value greater than zero")));
}

int
partition_hash_remainder(uint64 rowhash, int modulus)
{
	partition_check_modulus(modulus);
	return (int) (rowhash % (uint64) modulus);
}

int
partition_hash_text(const char *key, int keylen, int modulus)
{
	/* a one-column row: hash_combine64 of 0 and the column's hash */
	return partition_hash_remainder(hash_combine64(0, text_column_hash(key, keylen)),
									modulus);
}

/*
 * Whether hashtextextended under 'collation' hashes the bytes of the string
 * (deterministic collations) rather than a sort key.  An invalid collation
 * is left to hashtextextended itself, which reports it.
 */
static bool
collation_hashes_bytes(Oid collation)
{
	return OidIsValid(collation) && get_collation_isdeterministic(collation);
}

void
partition_type_init(PartitionType *ptype, PartitionMethod method, Oid typid,
					Oid collation, MemoryContext mcxt)
{
	bool		by_hash = method == PARTITION_BY_HASH;
	TypeCacheEntry *typentry;
	Oid			proc;

	/*
	 * The default opclass of the base type, as GetDefaultOpClass finds it
	 * for a partition key column; the type cache also drops the procs of
	 * containers (arrays, records, ranges) whose elements lack them.
	 */
	typentry = lookup_type_cache(getBaseType(typid),
								 by_hash ? TYPECACHE_HASH_EXTENDED_PROC : TYPECACHE_CMP_PROC);
	proc = by_hash ? typentry->hash_extended_proc : typentry->cmp_proc;
	if (!OidIsValid(proc) && by_hash)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not identify an extended hash function for type %s",
						format_type_be(typid)),
				 errhint("Hash partitioning needs a type with a default hash operator class.")));
	if (!OidIsValid(proc))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not identify a comparison function for type %s",
						format_type_be(typid)),
				 errhint("Range partitioning needs a type with a default btree operator class.")));

	ptype->typid = typid;
	ptype->collation = collation;
	fmgr_info_cxt(proc, &ptype->support, mcxt);
	if (by_hash)
		ptype->is_text = proc == F_HASHTEXTEXTENDED && collation_hashes_bytes(collation);
	else
		ptype->is_text = proc == F_BTTEXTCMP;
}

uint64
partition_hash_row(const PartitionType *columns, int ncolumns,
				   const Datum *values, const bool *isnull)
{
	uint64		rowhash = 0;
	int			i;

	for (i = 0; i < ncolumns; i++)
	{
		const PartitionType *column = &columns[i];
		uint64		hash;

		/* NULLs are skipped, as native routing skips them */
		if (isnull[i])
			continue;

		if (column->is_text)
		{
			text	   *t = DatumGetTextPP(values[i]);

			hash = text_column_hash(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
		}
		else
			hash = DatumGetUInt64(FunctionCall2Coll((FmgrInfo *) &column->support,
													column->collation, values[i],
													UInt64GetDatum(HASH_PARTITION_SEED)));
		rowhash = hash_combine64(rowhash, hash);
	}
	return rowhash;
}

static int
compare_datums(const PartitionType *ptype, Datum a, Datum b)
{
	return DatumGetInt32(FunctionCall2Coll((FmgrInfo *) &ptype->support,
										   ptype->collation, a, b));
}

/* a bound as text, for error details */
static char *
bound_to_cstring(const PartitionType *ptype, Datum bound)
{
	Oid			typoutput;
	bool		typisvarlena;

	getTypeOutputInfo(ptype->typid, &typoutput, &typisvarlena);
	return OidOutputFunctionCall(typoutput, bound);
}

void
partition_range_check_bounds(const PartitionType *ptype, const Datum *bounds,
							 const bool *nulls, int nbounds)
{
	int			i;

	for (i = 0; i < nbounds; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("range bounds must not contain NULL"),
					 errdetail("Bound %d of %d is NULL.", i + 1, nbounds)));
	}

	for (i = 1; i < nbounds; i++)
	{
		int			cmp = compare_datums(ptype, bounds[i - 1], bounds[i]);

		if (cmp == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("range bounds must not contain duplicates"),
					 errdetail("Bounds %d and %d are both %s.", i, i + 1,
							   bound_to_cstring(ptype, bounds[i]))));
		if (cmp > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("range bounds must be sorted in ascending order"),
					 errdetail("Bound %d (%s) is greater than bound %d (%s).",
							   i, bound_to_cstring(ptype, bounds[i - 1]),
							   i + 1, bound_to_cstring(ptype, bounds[i]))));
	}
}

void
partition_range_bounds_from_array(const PartitionType *ptype, ArrayType *array,
								  Datum **bounds, int *nbounds)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	bool	   *nulls;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("range bounds must be a one-dimensional array"),
				 errdetail("The bounds have %d dimensions.", ARR_NDIM(array))));
	get_typlenbyvalalign(ARR_ELEMTYPE(array), &typlen, &typbyval, &typalign);
	deconstruct_array(array, ARR_ELEMTYPE(array), typlen, typbyval, typalign,
					  bounds, &nulls, nbounds);
	partition_range_check_bounds(ptype, *bounds, nulls, *nbounds);
}

/*
 * The number of bounds <= probe: the index of the range [b(i), b(i+1)) that
 * holds the probe, lower bounds inclusive.  O(log n) comparisons.
 */
static int
count_bounds_at_or_below(const Datum *bounds, int nbounds,
						 BoundCompare compare, const void *probe)
{
	int			lo = 0;
	int			hi = nbounds;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (compare(bounds[mid], probe) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* bttextcmp() of a bound and the probe, without the function call */
static int
compare_text_bound(Datum bound, const void *probe)
{
	const TextProbe *p = probe;
	text	   *b = DatumGetTextPP(bound);

	return varstr_cmp(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b),
					  p->key, p->keylen, p->collation);
}

static int
compare_datum_bound(Datum bound, const void *probe)
{
	const DatumProbe *p = probe;

	return compare_datums(p->ptype, bound, p->value);
}

int
partition_range_text(const char *key, int keylen, Datum *bounds, int nbounds,
					 Oid collation)
{
	TextProbe	probe;

	/* as bttextcmp: a string comparison needs a collation */
	if (!OidIsValid(collation))
		ereport(ERROR,
				(errcode(ERRCODE_INDETERMINATE_COLLATION),
				 errmsg("could not determine which collation to use for string comparison"),
				 errhint("Use the COLLATE clause to set the collation explicitly.")));

	probe.key = key;
	probe.keylen = keylen;
	probe.collation = collation;
	return count_bounds_at_or_below(bounds, nbounds, compare_text_bound, &probe);
}

int
partition_range_index(const PartitionType *ptype, Datum value, Datum *bounds,
					  int nbounds)
{
	DatumProbe	probe;

	if (ptype->is_text)
	{
		text	   *t = DatumGetTextPP(value);

		return partition_range_text(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t),
									bounds, nbounds, ptype->collation);
	}

	probe.ptype = ptype;
	probe.value = value;
	return count_bounds_at_or_below(bounds, nbounds, compare_datum_bound, &probe);
}
