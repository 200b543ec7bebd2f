/*-------------------------------------------------------------------------
 *
 * info_api.c
 *		SQL entry points that describe the extension itself.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "api/api.h"
#include "pg_memshard.h"

PG_FUNCTION_INFO_V1(memshard_version);

/* version of the loaded library (the catalog's version is in pg_extension) */
Datum
memshard_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(MEMSHARD_LIBRARY_VERSION));
}
