/*-------------------------------------------------------------------------
 *
 * partition_api.c
 *		SQL entry points of the partitioning functions:
 *		memshard.hash_partition(value, modulus) and
 *		memshard.range_partition(value, bounds).
 *
 * Both take their value as "any" so that they see the argument's own type
 * (and an untyped literal, which they read as text or as the bounds' element
 * type), and so that bounds of another type are a clear ERROR 22023 rather
 * than "function does not exist".  What a call site needs (the type's support
 * function, the row type of a ROW(...) key, the checked bounds) is cached in
 * fn_extra, so that a statement over many rows looks it up once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "nodes/primnodes.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "partition/partition.h"

PG_FUNCTION_INFO_V1(memshard_hash_partition);
PG_FUNCTION_INFO_V1(memshard_range_partition);

/*
 * What one hash_partition call site knows.  A value of an anonymous record
 * type, ROW(a, b, ...), is a multi-column key: its columns are hashed one by
 * one, as PARTITION BY HASH (a, b, ...) does.  Any other value (a named
 * composite type included) is one key column.
 */
typedef struct HashCallSite
{
	Oid			argtype;		/* type of the value argument */
	bool		is_row;			/* argtype is RECORD: a multi-column key */
	Oid			row_typid;		/* the row type the columns below describe */
	int32		row_typmod;
	TupleDesc	row_desc;		/* a copy of that row type */
	int			ncolumns;
	PartitionType *columns;
	Datum	   *values;			/* room to deform a row key into */
	bool	   *isnull;
} HashCallSite;

/*
 * What one range_partition call site knows: the value's type and the bounds,
 * checked and deconstructed.  The bounds are kept until the argument brings
 * other bytes (or for good, when the argument is a constant).
 */
typedef struct RangeCallSite
{
	Oid			valtype;		/* type of the value (and bounds' elements) */
	bool		value_unknown;	/* the value is an untyped literal */
	bool		bounds_unknown; /* the bounds are an untyped literal */
	bool		bounds_const;	/* the bounds argument is a Const */
	FmgrInfo	value_input;	/* for an untyped value: element type input */
	Oid			value_ioparam;
	PartitionType ptype;

	bool		bounds_ready;	/* the fields below describe valid bounds */
	MemoryContext bounds_cxt;	/* owns the image and the Datums */
	char	   *bounds_image;	/* the argument's bytes they came from */
	Size		bounds_image_len;
	Datum	   *bounds;
	int			nbounds;
} RangeCallSite;

/* the type of argument 'argnum', or an ERROR when the call has no expression */
static Oid
argument_type(FunctionCallInfo fcinfo, int argnum)
{
	Oid			typid = get_fn_expr_argtype(fcinfo->flinfo, argnum);

	if (!OidIsValid(typid))
		elog(ERROR, "could not determine the data type of argument %d", argnum + 1);
	return typid;
}

/* whether argument 'argnum' is a constant of the expression, fixed for good */
static bool
argument_is_const(FunctionCallInfo fcinfo, int argnum)
{
	Node	   *expr = fcinfo->flinfo->fn_expr;

	return expr != NULL && IsA(expr, FuncExpr) &&
		IsA(list_nth(((FuncExpr *) expr)->args, argnum), Const);
}

/* ---------------------------------------------------------------------------
 * hash_partition
 * ---------------------------------------------------------------------------
 */

/*
 * Prepare to hash a key column of type typid.  An untyped literal, as in
 * hash_partition('abc', 8) or ROW('abc', 1), is text: PostgreSQL's reading
 * of it.  (Its value is a C string, which the callers turn into text.)
 */
static void
hash_column_init(PartitionType *column, Oid typid, Oid collation,
				 MemoryContext mcxt)
{
	if (typid == UNKNOWNOID)
		partition_type_init(column, PARTITION_BY_HASH, TEXTOID,
							DEFAULT_COLLATION_OID, mcxt);
	else
		partition_type_init(column, PARTITION_BY_HASH, typid, collation, mcxt);
}

static HashCallSite *
hash_call_site(FunctionCallInfo fcinfo)
{
	HashCallSite *site = fcinfo->flinfo->fn_extra;
	MemoryContext mcxt = fcinfo->flinfo->fn_mcxt;
	Oid			argtype;

	/* the argument's type is that of the call's expression: fixed */
	if (site != NULL)
		return site;

	argtype = argument_type(fcinfo, 0);
	site = MemoryContextAllocZero(mcxt, sizeof(HashCallSite));
	site->argtype = argtype;
	site->is_row = argtype == RECORDOID;
	if (!site->is_row)
	{
		site->ncolumns = 1;
		site->columns = MemoryContextAlloc(mcxt, sizeof(PartitionType));
		hash_column_init(site->columns, argtype, PG_GET_COLLATION(), mcxt);
	}
	fcinfo->flinfo->fn_extra = site;
	return site;
}

/*
 * Prepare the columns of a row key of row type (typid, typmod): that of a
 * ROW(...), or a named composite type cast to record.  Each column keeps its
 * own collation, as each column of a partition key does.
 */
static void
hash_site_set_row_type(FunctionCallInfo fcinfo, HashCallSite *site,
					   Oid typid, int32 typmod)
{
	MemoryContext mcxt = fcinfo->flinfo->fn_mcxt;
	TupleDesc	tupdesc = lookup_rowtype_tupdesc(typid, typmod);
	MemoryContext oldcxt = MemoryContextSwitchTo(mcxt);
	int			natts = tupdesc->natts;
	int			i;

	if (site->row_desc)
	{
		FreeTupleDesc(site->row_desc);
		pfree(site->columns);
		pfree(site->values);
		pfree(site->isnull);
	}
	site->row_typid = InvalidOid;	/* no row type, until the columns are ready */
	site->row_desc = CreateTupleDescCopy(tupdesc);
	ReleaseTupleDesc(tupdesc);
	site->columns = palloc(sizeof(PartitionType) * Max(natts, 1));
	site->values = palloc(sizeof(Datum) * Max(natts, 1));
	site->isnull = palloc(sizeof(bool) * Max(natts, 1));
	MemoryContextSwitchTo(oldcxt);

	for (i = 0; i < natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(site->row_desc, i);

		hash_column_init(&site->columns[i], att->atttypid, att->attcollation, mcxt);
	}
	site->ncolumns = natts;
	site->row_typid = typid;
	site->row_typmod = typmod;
}

/* the hash of a ROW(...) key: its columns, NULLs skipped */
static uint64
hash_row_key(FunctionCallInfo fcinfo, HashCallSite *site, HeapTupleHeader row)
{
	Oid			typid = HeapTupleHeaderGetTypeId(row);
	int32		typmod = HeapTupleHeaderGetTypMod(row);
	HeapTupleData tuple;
	int			i;

	if (site->row_typid != typid || site->row_typmod != typmod)
		hash_site_set_row_type(fcinfo, site, typid, typmod);

	tuple.t_len = HeapTupleHeaderGetDatumLength(row);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = row;
	heap_deform_tuple(&tuple, site->row_desc, site->values, site->isnull);
	for (i = 0; i < site->ncolumns; i++)
	{
		if (!site->isnull[i] &&
			TupleDescAttr(site->row_desc, i)->atttypid == UNKNOWNOID)
			site->values[i] = CStringGetTextDatum(DatumGetCString(site->values[i]));
	}

	return partition_hash_row(site->columns, site->ncolumns,
							  site->values, site->isnull);
}

/*
 * hash_partition(value "any", modulus integer) RETURNS integer
 *
 * The remainder of the hash partition that native routing sends 'value' to
 * in a table hash-partitioned on one column of value's type with 'modulus'
 * partitions (or on several columns, for a ROW(...) value).  A NULL value
 * hashes to 0, as native routing skips NULL key columns: remainder 0.
 */
Datum
memshard_hash_partition(PG_FUNCTION_ARGS)
{
	HashCallSite *site;
	int			modulus;
	bool		isnull = false;
	Datum		value;

	if (PG_ARGISNULL(1))
		PG_RETURN_NULL();
	modulus = PG_GETARG_INT32(1);
	partition_check_modulus(modulus);

	/* before the NULL test: an unhashable type is an error even for NULL */
	site = hash_call_site(fcinfo);
	if (PG_ARGISNULL(0))
		PG_RETURN_INT32(0);
	value = PG_GETARG_DATUM(0);

	if (site->argtype == UNKNOWNOID)
	{
		char	   *literal = DatumGetCString(value);

		PG_RETURN_INT32(partition_hash_text(literal, strlen(literal), modulus));
	}
	if (site->is_row)
		PG_RETURN_INT32(partition_hash_remainder(hash_row_key(fcinfo, site,
															  DatumGetHeapTupleHeader(value)),
												 modulus));
	if (site->columns->is_text)
	{
		text	   *t = DatumGetTextPP(value);

		PG_RETURN_INT32(partition_hash_text(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t),
											modulus));
	}
	PG_RETURN_INT32(partition_hash_remainder(partition_hash_row(site->columns, 1,
																&value, &isnull),
											 modulus));
}

/* ---------------------------------------------------------------------------
 * range_partition
 * ---------------------------------------------------------------------------
 */

/*
 * Settle the value's type from the two argument types: each untyped literal
 * takes the other argument's type, and two untyped literals are text.
 */
static RangeCallSite *
range_call_site(FunctionCallInfo fcinfo)
{
	RangeCallSite *site = fcinfo->flinfo->fn_extra;
	MemoryContext mcxt = fcinfo->flinfo->fn_mcxt;
	Oid			value_type;
	Oid			bounds_type;
	Oid			element_type;

	if (site != NULL)
		return site;

	site = MemoryContextAllocZero(mcxt, sizeof(RangeCallSite));
	value_type = argument_type(fcinfo, 0);
	bounds_type = argument_type(fcinfo, 1);
	site->value_unknown = value_type == UNKNOWNOID;
	site->bounds_unknown = bounds_type == UNKNOWNOID;
	site->bounds_const = argument_is_const(fcinfo, 1);

	if (site->bounds_unknown)
		element_type = site->value_unknown ? TEXTOID : value_type;
	else
	{
		element_type = get_base_element_type(bounds_type);
		if (!OidIsValid(element_type))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("range bounds must be an array, not type %s",
							format_type_be(bounds_type))));
		if (!site->value_unknown &&
			getBaseType(value_type) != getBaseType(element_type))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("range bounds of type %s do not match a value of type %s",
							format_type_be(bounds_type), format_type_be(value_type)),
					 errhint("Cast the value or the bounds so that the bounds are an array of the value's type.")));
	}
	site->valtype = site->value_unknown ? element_type : value_type;

	if (site->value_unknown)
	{
		Oid			input;

		getTypeInputInfo(site->valtype, &input, &site->value_ioparam);
		fmgr_info_cxt(input, &site->value_input, mcxt);
	}
	partition_type_init(&site->ptype, PARTITION_BY_RANGE, site->valtype,
						site->value_unknown && site->bounds_unknown ?
						DEFAULT_COLLATION_OID : PG_GET_COLLATION(),
						mcxt);
	site->bounds_cxt = AllocSetContextCreate(mcxt, "memshard range bounds",
											 ALLOCSET_SMALL_SIZES);
	fcinfo->flinfo->fn_extra = site;
	return site;
}

/* an untyped bounds literal read as an array of the value's type */
static ArrayType *
bounds_from_literal(RangeCallSite *site, char *literal)
{
	Oid			array_type = get_array_type(site->valtype);
	Oid			input;
	Oid			ioparam;

	if (!OidIsValid(array_type))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("type %s has no array type for range bounds",
						format_type_be(site->valtype))));
	getTypeInputInfo(array_type, &input, &ioparam);
	return DatumGetArrayTypeP(OidInputFunctionCall(input, literal, ioparam, -1));
}

/*
 * Deconstruct and check the bounds held in 'image' (an array, or the text
 * of an untyped literal), in the site's bounds context.
 */
static void
range_site_build_bounds(RangeCallSite *site, const char *image, Size len)
{
	MemoryContext oldcxt;
	ArrayType  *array;

	site->bounds_ready = false;
	MemoryContextReset(site->bounds_cxt);
	oldcxt = MemoryContextSwitchTo(site->bounds_cxt);

	site->bounds_image = palloc(len);
	memcpy(site->bounds_image, image, len);
	site->bounds_image_len = len;
	if (site->bounds_unknown)
		array = bounds_from_literal(site, site->bounds_image);
	else
		array = (ArrayType *) site->bounds_image;

	partition_range_bounds_from_array(&site->ptype, array, &site->bounds,
									  &site->nbounds);
	MemoryContextSwitchTo(oldcxt);
	site->bounds_ready = true;
}

/*
 * Make the site's bounds those of this call: kept as they are when the
 * argument is a constant or brings the same bytes, rebuilt otherwise.
 */
static void
range_site_load_bounds(FunctionCallInfo fcinfo, RangeCallSite *site)
{
	const char *image;
	Size		len;

	if (site->bounds_ready && site->bounds_const)
		return;

	if (site->bounds_unknown)
	{
		image = PG_GETARG_CSTRING(1);
		len = strlen(image) + 1;
	}
	else
	{
		struct varlena *array = PG_DETOAST_DATUM(PG_GETARG_DATUM(1));

		image = (const char *) array;
		len = VARSIZE(array);
	}

	if (site->bounds_ready && len == site->bounds_image_len &&
		memcmp(image, site->bounds_image, len) == 0)
		return;
	range_site_build_bounds(site, image, len);
}

/*
 * range_partition(value "any", bounds "any") RETURNS integer, STRICT
 *
 * The number of bounds <= value: with split points b1 < ... < bn, 0 for
 * values below b1 and i for values in [bi, bi+1), lower bounds inclusive as
 * in native range partitioning.
 */
Datum
memshard_range_partition(PG_FUNCTION_ARGS)
{
	RangeCallSite *site = range_call_site(fcinfo);
	Datum		value = PG_GETARG_DATUM(0);

	range_site_load_bounds(fcinfo, site);
	if (site->value_unknown)
		value = InputFunctionCall(&site->value_input, PG_GETARG_CSTRING(0),
								  site->value_ioparam, -1);

	PG_RETURN_INT32(partition_range_index(&site->ptype, value,
										  site->bounds, site->nbounds));
}
