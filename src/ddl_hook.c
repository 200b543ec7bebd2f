/*-------------------------------------------------------------------------
 *
 * ddl_hook.c
 *		ProcessUtility hook: clean-up that DROP EXTENSION alone cannot do.
 *
 * Installed by _PG_init; it calls into the rooms that act on DDL (the
 * store, the table cache, the version check of src/api), none of which
 * calls it, so it lives beside start-up rather than in one of them.
 *
 * The control file names schema memshard; CREATE EXTENSION creates it when
 * missing, but the schema does not become a member of the extension (a
 * schema cannot be added to an extension that lives in it), so DROP
 * EXTENSION would leave it behind.  After DROP EXTENSION pg_memshard we drop
 * the schema if nothing is left in it.
 *
 * After CREATE EXTENSION and ALTER EXTENSION pg_memshard, the version just
 * installed must be one this library serves (ext_version.c): otherwise the
 * statement fails and is rolled back.
 *
 * Items live in shared memory, not in the database: after DROP EXTENSION
 * (the maps are gone) or DROP DATABASE we remove that database's items, so
 * that a map created later under a reused id never sees them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_namespace.h"
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"

#include "commands/dbcommands.h"
#include "miscadmin.h"

#include "api/api.h"
#include "cluster/cluster.h"
#include "ddl_hook.h"
#include "store/store.h"
#include "tablecache/tablecache.h"

#define MEMSHARD_EXTENSION "pg_memshard"

static ProcessUtility_hook_type prev_process_utility = NULL;

static bool drops_this_extension(Node *parsetree);
static bool changes_this_extension(Node *parsetree);
static Oid	dropped_database(Node *parsetree);
static bool schema_is_empty(Oid nspoid);
static void drop_schema_if_empty(void);
static void memshard_process_utility(PlannedStmt *pstmt, const char *queryString,
									 bool readOnlyTree,
									 ProcessUtilityContext context,
									 ParamListInfo params,
									 QueryEnvironment *queryEnv,
									 DestReceiver *dest, QueryCompletion *qc);

void
ddl_hook_install(void)
{
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = memshard_process_utility;
}

static void
memshard_process_utility(PlannedStmt *pstmt, const char *queryString,
						 bool readOnlyTree, ProcessUtilityContext context,
						 ParamListInfo params, QueryEnvironment *queryEnv,
						 DestReceiver *dest, QueryCompletion *qc)
{
	bool		dropping = drops_this_extension(pstmt->utilityStmt);
	bool		changing = changes_this_extension(pstmt->utilityStmt);
	Oid			dropped_db = dropped_database(pstmt->utilityStmt);

	tablecache_utility(pstmt->utilityStmt);
	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context,
							 params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);

	if (changing || dropping)
		ext_version_forget();
	if (changing)
		ext_version_check_catalog();
	if (dropping)
	{
		drop_schema_if_empty();
		if (store_is_ready())
			store_flush_database(MyDatabaseId);
		tablecache_forget_database(MyDatabaseId);
	}
	if (OidIsValid(dropped_db) && store_is_ready())
	{
		store_flush_database(dropped_db);
		tablecache_forget_database(dropped_db);
	}
}

/* the database a DROP DATABASE names, if it exists now */
static Oid
dropped_database(Node *parsetree)
{
	if (!IsA(parsetree, DropdbStmt))
		return InvalidOid;
	return get_database_oid(((DropdbStmt *) parsetree)->dbname, true);
}

static bool
drops_this_extension(Node *parsetree)
{
	DropStmt   *stmt;
	ListCell   *lc;

	if (!IsA(parsetree, DropStmt))
		return false;
	stmt = (DropStmt *) parsetree;
	if (stmt->removeType != OBJECT_EXTENSION)
		return false;
	foreach(lc, stmt->objects)
	{
		if (strcmp(strVal(lfirst(lc)), MEMSHARD_EXTENSION) == 0)
			return true;
	}
	return false;
}

/* CREATE EXTENSION or ALTER EXTENSION ... UPDATE of pg_memshard */
static bool
changes_this_extension(Node *parsetree)
{
	if (IsA(parsetree, CreateExtensionStmt))
		return strcmp(((CreateExtensionStmt *) parsetree)->extname,
					  MEMSHARD_EXTENSION) == 0;
	if (IsA(parsetree, AlterExtensionStmt))
		return strcmp(((AlterExtensionStmt *) parsetree)->extname,
					  MEMSHARD_EXTENSION) == 0;
	return false;
}

/* true when no object depends on (lives in) the schema */
static bool
schema_is_empty(Oid nspoid)
{
	Relation	depRel;
	ScanKeyData key[2];
	SysScanDesc scan;
	bool		empty;

	depRel = table_open(DependRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(NamespaceRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(nspoid));
	scan = systable_beginscan(depRel, DependReferenceIndexId, true, NULL, 2, key);
	empty = !HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(depRel, AccessShareLock);
	return empty;
}

static void
drop_schema_if_empty(void)
{
	Oid			nspoid = memshard_schema_oid(true);
	ObjectAddress schema;

	if (!OidIsValid(nspoid) || !schema_is_empty(nspoid))
		return;
	CommandCounterIncrement();
	ObjectAddressSet(schema, NamespaceRelationId, nspoid);
	performDeletion(&schema, DROP_RESTRICT, 0);
}
