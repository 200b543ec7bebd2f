/*-------------------------------------------------------------------------
 *
 * cluster_sql.c
 *		SQL on the cluster's tables (nodes, placements, metadata
 *		transactions), run as the tables' owner.
 *
 * Only admin functions (create_map, drop_map, add_node, remove_node, the
 * peer side of their changes), which are not granted to PUBLIC, and
 * routing (reading placements, granted to all) come here.  A role granted
 * create_map must not need privileges on the tables themselves, as it needs
 * none on memshard.map_catalog: the statements run as the tables' owner,
 * the way PostgreSQL's referential-integrity triggers run as a table's
 * owner.  An ERROR restores the user with the (sub)transaction's abort.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/syscache.h"

#include "cluster/cluster.h"

/* open SPI and become the owner of memshard.node_catalog */
void
cluster_sql_begin(ClusterSqlState *state)
{
	Oid			relid = cluster_node_catalog_relid();
	HeapTuple	tuple;
	Oid			owner;

	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	GetUserIdAndSecContext(&state->userid, &state->sec_context);
	SetUserIdAndSecContext(owner,
						   state->sec_context | SECURITY_LOCAL_USERID_CHANGE);
}

/* run one statement; ERROR unless SPI answers 'expected'; rows processed */
uint64
cluster_sql_exec(const char *sql, int nargs, Oid *argtypes, Datum *args,
				 int expected)
{
	int			result;
	/*
	 * Not read-only, so that a change reads what committed while it waited
	 * for the metadata lock; but parallel workers (routing a read) may only
	 * read.
	 */
	bool		read_only = IsInParallelMode();

	if (nargs > 0)
		result = SPI_execute_with_args(sql, nargs, argtypes, args, NULL,
									   read_only, 0);
	else
		result = SPI_execute(sql, read_only, 0);
	if (result != expected)
		elog(ERROR, "could not run \"%s\": %s", sql,
			 SPI_result_code_string(result));
	return SPI_processed;
}

/* back to the caller's user; close SPI (results are gone) */
void
cluster_sql_end(ClusterSqlState *state)
{
	SetUserIdAndSecContext(state->userid, state->sec_context);
	SPI_finish();
}

/* one statement, begin to end */
uint64
cluster_sql(const char *sql, int nargs, Oid *argtypes, Datum *args,
			int expected)
{
	ClusterSqlState state;
	uint64		processed;

	cluster_sql_begin(&state);
	processed = cluster_sql_exec(sql, nargs, argtypes, args, expected);
	cluster_sql_end(&state);
	return processed;
}

/* a statement returning one text value, copied into the caller's context */
char *
cluster_sql_text(const char *sql)
{
	MemoryContext caller = CurrentMemoryContext;
	ClusterSqlState state;
	char	   *value;

	cluster_sql_begin(&state);
	if (cluster_sql_exec(sql, 0, NULL, NULL, SPI_OK_SELECT) != 1)
		elog(ERROR, "query did not return one row: %s", sql);
	value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	value = MemoryContextStrdup(caller, value ? value : "");
	cluster_sql_end(&state);
	return value;
}
