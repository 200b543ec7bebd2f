/*-------------------------------------------------------------------------
 *
 * cluster_sql.c
 *		SQL on the cluster's tables (nodes, placements, metadata
 *		transactions), run as the tables' owner, immune to the caller's
 *		search_path.
 *
 * Only admin functions (create_map, drop_map, add_node, remove_node, the
 * peer side of their changes), which are not granted to PUBLIC, and
 * routing (reading placements, granted to all) come here.  A role granted
 * create_map must not need privileges on the tables themselves, as it needs
 * none on memshard.map_catalog: the statements run as the tables' owner,
 * the way PostgreSQL's referential-integrity triggers run as a table's
 * owner.
 *
 * The owner is usually a superuser, and any role reaches this code through
 * routing, so nothing the caller controls may take part in these
 * statements.  They are parsed under search_path = pg_catalog, pg_temp (as
 * a function's SET clause would), so that a caller's schema cannot shadow
 * an operator, function, collation or type of pg_catalog (IS DISTINCT FROM,
 * which cannot name its operator, finds pg_catalog's); every object in them
 * is schema-qualified all the same, and every operator written
 * OPERATOR(pg_catalog.x).  They run as a security-restricted operation (as
 * REFRESH MATERIALIZED VIEW runs the owner's query), which forbids what
 * could change the session's identity.  cluster_sql_begin_as_caller gives
 * the same protection to statements run with the caller's rights
 * (cluster_stats reading this node's figures).
 *
 * cluster_sql_begin and cluster_sql_end pair up as a stack (they nest); an
 * ERROR in between restores the user and the search_path with the
 * (sub)transaction's abort.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/syscache.h"

#include "cluster/cluster.h"

/* where the statements find what they do not qualify: pg_catalog only */
#define CLUSTER_SQL_SEARCH_PATH "pg_catalog, pg_temp"

static void sql_begin(ClusterSqlState *state, Oid userid);

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

	sql_begin(state, owner);
}

/* open SPI for statements that run with the caller's rights */
void
cluster_sql_begin_as_caller(ClusterSqlState *state)
{
	sql_begin(state, GetUserId());
}

/*
 * SPI, the user, a security-restricted operation and the fixed search_path,
 * in that order (cluster_sql_end undoes them in reverse).  GUC_ACTION_SAVE
 * in a new GUC nest level is how fmgr applies a function's SET clause: it
 * is allowed in parallel workers, and undone by AtEOXact_GUC or an abort.
 */
static void
sql_begin(ClusterSqlState *state, Oid userid)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	GetUserIdAndSecContext(&state->userid, &state->sec_context);
	SetUserIdAndSecContext(userid,
						   state->sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	state->guc_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", CLUSTER_SQL_SEARCH_PATH,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
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

/* back to the caller's search_path and user; close SPI (results are gone) */
void
cluster_sql_end(ClusterSqlState *state)
{
	AtEOXact_GUC(true, state->guc_nestlevel);
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
