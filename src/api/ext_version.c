/*-------------------------------------------------------------------------
 *
 * ext_version.c
 *		Refuse SQL objects of an extension version this library cannot serve.
 *
 * A database's pg_memshard objects come from the SQL script of the version
 * recorded in pg_extension.extversion; the C functions come from whatever
 * library the server loaded.  The two can disagree: a newer package's
 * scripts installed and ALTER EXTENSION UPDATE run while the server still
 * has the old library preloaded, or a package downgraded under a database
 * that was already updated.  SQL objects of a version we do not know may
 * declare arguments or expect behaviour this library lacks, so we refuse
 * them with a clear error instead of answering wrongly.
 *
 * Two checks:
 *	- after CREATE EXTENSION and ALTER EXTENSION (src/ddl_hook.c), the
 *	  version just installed is checked at once, so that the statement
 *	  fails and is rolled back;
 *	- the data and map functions check at their first call in a backend (a
 *	  backend serves one database).  The answer is cached for the life of
 *	  the backend, so the hot path costs one test of a static flag.  A
 *	  version changed by another session is seen by new sessions.
 *
 * No locks beyond the AccessShareLock of the pg_extension scan.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_extension.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"

#include "api/api.h"

/* versions of the SQL script whose objects this library serves */
static const char *const served_versions[] = {"1.0", "1.1"};

#define NEWEST_SERVED_VERSION MEMSHARD_LIBRARY_VERSION

/* true once this backend found its database's version served */
static bool version_checked = false;

static char *installed_version(void);
static bool is_served(const char *version);
static bool older_than_served(const char *version);
static char *served_list(void);
static void report_unserved(const char *version) pg_attribute_noreturn();

/* ERROR unless this database's pg_memshard objects are of a served version */
void
ext_version_check(void)
{
	if (likely(version_checked))
		return;
	ext_version_check_catalog();
	version_checked = true;
}

/* the check itself, reading pg_extension now (not cached) */
void
ext_version_check_catalog(void)
{
	char	   *version = installed_version();

	/* no extension row: nothing declares a version (not ours to judge) */
	if (version != NULL && !is_served(version))
		report_unserved(version);
}

/* the next ext_version_check reads the catalog again */
void
ext_version_forget(void)
{
	version_checked = false;
}

/* pg_extension.extversion of pg_memshard in this database, or NULL */
static char *
installed_version(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	char	   *version = NULL;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("pg_memshard"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		bool		isnull;
		Datum		datum = heap_getattr(tuple, Anum_pg_extension_extversion,
										 RelationGetDescr(rel), &isnull);

		if (!isnull)
			version = text_to_cstring(DatumGetTextPP(datum));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return version;
}

static bool
is_served(const char *version)
{
	int			i;

	for (i = 0; i < lengthof(served_versions); i++)
	{
		if (strcmp(version, served_versions[i]) == 0)
			return true;
	}
	return false;
}

/* the served versions, for messages: "1.0, 1.1" */
static char *
served_list(void)
{
	StringInfoData list;
	int			i;

	initStringInfo(&list);
	for (i = 0; i < lengthof(served_versions); i++)
		appendStringInfo(&list, "%s%s", i > 0 ? ", " : "", served_versions[i]);
	return list.data;
}

/*
 * true when version reads as major.minor below the newest served version:
 * an old installation that ALTER EXTENSION UPDATE can bring forward.
 * Anything else (newer, or not a number) needs another library.
 */
static bool
older_than_served(const char *version)
{
	int			major,
				minor,
				newest_major,
				newest_minor;
	char		rest;

	if (sscanf(version, "%d.%d%c", &major, &minor, &rest) != 2 ||
		sscanf(NEWEST_SERVED_VERSION, "%d.%d", &newest_major, &newest_minor) != 2)
		return false;
	return major < newest_major ||
		(major == newest_major && minor < newest_minor);
}

static void
report_unserved(const char *version)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("pg_memshard library %s cannot serve extension version \"%s\"",
					MEMSHARD_LIBRARY_VERSION, version),
			 errdetail("This library serves the SQL objects of extension versions %s; "
					   "this database's pg_memshard objects are of version \"%s\".",
					   served_list(), version),
			 older_than_served(version) ?
			 errhint("Run ALTER EXTENSION pg_memshard UPDATE.") :
			 errhint("Install the pg_memshard library of version \"%s\" and restart the server.",
					 version)));
}
