/*-------------------------------------------------------------------------
 *
 * get_row.c
 *		SQL entry points get_row and get_rows.
 *
 * get_row(tbl anyelement, key "any") RETURNS anyelement: the first
 * argument only names the table (NULL::users), the second is its primary
 * key: a value for a one-column key, ROW(a, b) for more.  Each key column
 * is converted to the column's type the way an implicit cast would (an
 * untyped literal through the type's input function); anything else is
 * 22023 naming the expected type.  A NULL key (or key column) finds no row.
 *
 * Every call locks the table (ACCESS SHARE, as SELECT does: DDL waits for
 * it, and a committed DDL is seen), and checks the caller's SELECT
 * privilege on the table (grants on all its columns are not enough: the
 * read of a miss also takes the row's xmin).  The key conversions are
 * kept in fn_extra; they are redone when the table's key changes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "parser/parse_coerce.h"
#include "access/xact.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "api/api.h"
#include "tablecache/tablecache_internal.h"

typedef enum TcCoerceMethod
{
	TC_COERCE_NONE,				/* same type, or binary coercible */
	TC_COERCE_FUNC,				/* an implicit cast function */
	TC_COERCE_INPUT				/* an untyped literal: the input function */
} TcCoerceMethod;

/* how one key column is converted from the argument's type */
typedef struct TcCoerce
{
	Oid			source;			/* InvalidOid: not set up */
	Oid			target;
	TcCoerceMethod method;
	FmgrInfo	func;
	int			nargs;
	Oid			ioparam;
} TcCoerce;

/* what a call site keeps between calls (fn_extra) */
typedef struct TcCall
{
	Oid			rowtype;
	Oid			relid;
	Oid			keytype;		/* of the key argument */
	MemoryContext mcxt;			/* the call site's (fn_mcxt) */
	/* the lock and the privilege check, done once per transaction */
	LocalTransactionId locked_lxid;
	SubTransactionId locked_subid;
	Oid			acl_user;
	uint64		acl_epoch;
	TcCoerce	coerce[INDEX_MAX_KEYS];
} TcCall;

/* bumped when pg_class or role membership changes: privileges to recheck */
static uint64 acl_epoch = 1;
static bool acl_callbacks = false;

PG_FUNCTION_INFO_V1(memshard_get_row);
PG_FUNCTION_INFO_V1(memshard_get_rows);

static TcCall *call_init(FunctionCallInfo fcinfo, MemoryContext mcxt);
static void acl_changed(Datum arg, int cacheid, uint32 hashvalue);
static TcTable *open_table(TcCall *call);
static Datum coerce_key(TcCall *call, TcTable *table, int col, Datum value,
						Oid source);
static bool key_values(TcCall *call, TcTable *table, Datum key, Oid keytype,
					   Datum *values);

/*
 * The call's state: the table its first argument names.  get_row keeps it
 * in fn_extra; get_rows, whose fn_extra the SRF machinery owns, in the
 * memory of its scan.
 */
static TcCall *
call_init(FunctionCallInfo fcinfo, MemoryContext mcxt)
{
	TcCall	   *call;
	Oid			rowtype;
	Oid			relid;

	ext_version_check();
	store_require_ready();
	rowtype = get_fn_expr_argtype(fcinfo->flinfo, 0);
	relid = OidIsValid(rowtype) ? get_typ_typrelid(rowtype) : InvalidOid;
	if (!OidIsValid(relid) || get_rel_relkind(relid) == RELKIND_COMPOSITE_TYPE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("the first argument must be a row of a cached table, not %s",
						OidIsValid(rowtype) ? format_type_be(rowtype) : "unknown"),
				 errhint("Name the table with a NULL of its row type: memshard.get_row(NULL::users, 42).")));
	call = MemoryContextAllocZero(mcxt, sizeof(TcCall));
	call->rowtype = rowtype;
	call->relid = relid;
	call->keytype = get_fn_expr_argtype(fcinfo->flinfo, 1);
	call->mcxt = mcxt;
	if (!acl_callbacks)
	{
		CacheRegisterSyscacheCallback(RELOID, acl_changed, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, acl_changed, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHOID, acl_changed, (Datum) 0);
		acl_callbacks = true;
	}
	return call;
}

/* syscache callback: a relation's ACL or a role's memberships may have changed */
static void
acl_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	acl_epoch++;
}

/*
 * Lock the table, find it in the cache of tables, check the caller may read
 * it.  The lock is taken once per (sub)transaction, as a SELECT of the
 * table would hold it; the privilege check is redone when the user, the
 * catalogs of privileges or the transaction change.
 */
static TcTable *
open_table(TcCall *call)
{
	TcTable    *table;
	AclResult	acl;

	if (call->locked_lxid != MyProc->lxid ||
		call->locked_subid != GetCurrentSubTransactionId())
	{
		LockRelationOid(call->relid, AccessShareLock);
		call->locked_lxid = MyProc->lxid;
		call->locked_subid = GetCurrentSubTransactionId();
		call->acl_user = InvalidOid;
	}
	table = tc_lookup(call->relid);
	if (table->root != table->relid)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" is not cached", get_rel_name(call->relid)),
				 errhint("Cache it with memshard.cache_table('%s').",
						 quote_qualified_identifier(get_namespace_name(get_rel_namespace(call->relid)),
													get_rel_name(call->relid)))));
	if (call->acl_user != GetUserId() || call->acl_epoch != acl_epoch)
	{
		/* the table's own SELECT (column grants do not cover reading xmin) */
		acl = pg_class_aclcheck(call->relid, GetUserId(), ACL_SELECT);
		if (acl != ACLCHECK_OK)
			aclcheck_error(acl, OBJECT_TABLE, get_rel_name(call->relid));
		call->acl_user = GetUserId();
		call->acl_epoch = acl_epoch;
	}
	return table;
}

/* a key column's value converted from type 'source' to the column's type */
static Datum
coerce_key(TcCall *call, TcTable *table, int col, Datum value, Oid source)
{
	TcCoerce   *c = &call->coerce[col];
	Oid			target = table->keys[col].typid;

	if (c->source != source || c->target != target)
	{
		Oid			base = getBaseType(source);
		Oid			funcid;
		CoercionPathType path = COERCION_PATH_NONE;

		c->source = InvalidOid;
		c->target = target;
		if (base == target || IsBinaryCoercible(base, target))
			c->method = TC_COERCE_NONE;
		else if (base == UNKNOWNOID)
		{
			Oid			input;

			c->method = TC_COERCE_INPUT;
			getTypeInputInfo(target, &input, &c->ioparam);
			fmgr_info_cxt(input, &c->func, call->mcxt);
		}
		else if ((path = find_coercion_pathway(target, base, COERCION_IMPLICIT,
											   &funcid)) == COERCION_PATH_FUNC)
		{
			c->method = TC_COERCE_FUNC;
			c->nargs = get_func_nargs(funcid);
			fmgr_info_cxt(funcid, &c->func, call->mcxt);
		}
		else if (path == COERCION_PATH_RELABELTYPE)
			c->method = TC_COERCE_NONE;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("key column \"%s\" of cached table \"%s\" is of type %s, not %s",
							table->keys[col].name, get_rel_name(table->relid),
							format_type_be(target), format_type_be(source)),
					 errhint("Cast the key to %s.", format_type_be(target))));
		c->source = source;
	}
	switch (c->method)
	{
		case TC_COERCE_NONE:
			return value;
		case TC_COERCE_INPUT:
			return InputFunctionCall(&c->func, DatumGetCString(value),
									 c->ioparam, -1);
		case TC_COERCE_FUNC:
			if (c->nargs == 1)
				return FunctionCall1(&c->func, value);
			return FunctionCall3(&c->func, value, Int32GetDatum(-1),
								 BoolGetDatum(false));
	}
	return value;				/* keep the compiler quiet */
}

/*
 * The key columns' values of a key argument (of type keytype); false when
 * a column is NULL (no row has it).  One column: the value itself (or a
 * row of one field); several: a row of as many fields.
 */
static bool
key_values(TcCall *call, TcTable *table, Datum key, Oid keytype,
		   Datum *values)
{
	HeapTupleHeader th;
	TupleDesc	desc;
	HeapTupleData tuple;
	Datum		fields[INDEX_MAX_KEYS];
	bool		nulls[INDEX_MAX_KEYS];
	int			nfields;
	int			i;
	bool		complete = true;

	if (!type_is_rowtype(keytype))
	{
		if (table->nkeys != 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the key of cached table \"%s\" has %d columns",
							get_rel_name(table->relid), table->nkeys),
					 errhint("Pass the key as ROW(...) of its %d columns, in primary key order.",
							 table->nkeys)));
		values[0] = coerce_key(call, table, 0, key, keytype);
		return true;
	}

	th = DatumGetHeapTupleHeader(key);
	desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(th),
								  HeapTupleHeaderGetTypMod(th));
	nfields = desc->natts;
	if (nfields != table->nkeys)
	{
		int			n = table->nkeys;

		ReleaseTupleDesc(desc);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the key of cached table \"%s\" has %d column%s, not %d",
						get_rel_name(table->relid), n, n == 1 ? "" : "s", nfields),
				 errhint("Pass the key as ROW(...) of its %d columns, in primary key order.", n)));
	}
	tuple.t_len = HeapTupleHeaderGetDatumLength(th);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = th;
	heap_deform_tuple(&tuple, desc, fields, nulls);
	for (i = 0; i < nfields; i++)
	{
		Oid			ftype = TupleDescAttr(desc, i)->atttypid;

		if (nulls[i])
			complete = false;
		else
			values[i] = coerce_key(call, table, i, fields[i], ftype);
	}
	ReleaseTupleDesc(desc);
	return complete;
}

/*
 * get_row(tbl anyelement, key "any") RETURNS anyelement: the row with that
 * primary key, or NULL.
 */
Datum
memshard_get_row(PG_FUNCTION_ARGS)
{
	TcCall	   *call = fcinfo->flinfo->fn_extra;
	TcTable    *table;
	Datum		values[INDEX_MAX_KEYS];
	Datum		row;

	if (call == NULL)
		fcinfo->flinfo->fn_extra = call =
			call_init(fcinfo, fcinfo->flinfo->fn_mcxt);
	table = open_table(call);
	if (PG_ARGISNULL(1))
		PG_RETURN_NULL();
	if (!key_values(call, table, PG_GETARG_DATUM(1), call->keytype, values))
		PG_RETURN_NULL();
	if (!tc_read(table, values, &row))
		PG_RETURN_NULL();
	PG_RETURN_DATUM(row);
}

/* get_rows' state between calls */
typedef struct TcRowsState
{
	TcCall	   *call;
	Datum	   *keys;
	bool	   *nulls;
	int			nkeys;
	int			next;
	Oid			elemtype;
} TcRowsState;

/*
 * get_rows(tbl anyelement, keys "any") RETURNS SETOF anyelement: for an
 * array of keys, the row of each key that has one, in the order of the
 * keys (a key given twice gives its row twice).
 */
Datum
memshard_get_rows(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	TcRowsState *state;
	TcCall	   *call;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext old;
		Oid			argtype;
		ArrayType  *array;
		int16		typlen;
		bool		typbyval;
		char		typalign;

		funcctx = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		state = palloc0(sizeof(TcRowsState));
		state->call = call_init(fcinfo, funcctx->multi_call_memory_ctx);
		(void) open_table(state->call);
		funcctx->user_fctx = state;
		argtype = get_fn_expr_argtype(fcinfo->flinfo, 1);
		if (!PG_ARGISNULL(1))
		{
			state->elemtype = get_element_type(argtype);
			if (!OidIsValid(state->elemtype))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("keys must be an array, not %s", format_type_be(argtype)),
						 errhint("Pass ARRAY[...] of keys.")));
			array = PG_GETARG_ARRAYTYPE_P_COPY(1);
			get_typlenbyvalalign(state->elemtype, &typlen, &typbyval, &typalign);
			deconstruct_array(array, state->elemtype, typlen, typbyval, typalign,
							  &state->keys, &state->nulls, &state->nkeys);
		}
		MemoryContextSwitchTo(old);
	}

	funcctx = SRF_PERCALL_SETUP();
	state = funcctx->user_fctx;
	call = state->call;
	while (state->next < state->nkeys)
	{
		int			i = state->next++;
		TcTable    *table = open_table(call);
		Datum		values[INDEX_MAX_KEYS];
		Datum		row;

		if (state->nulls[i] ||
			!key_values(call, table, state->keys[i], state->elemtype, values))
			continue;
		if (tc_read(table, values, &row))
			SRF_RETURN_NEXT(funcctx, row);
	}
	SRF_RETURN_DONE(funcctx);
}
