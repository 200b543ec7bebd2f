/*-------------------------------------------------------------------------
 *
 * api_args.c
 *		Argument checks shared by the SQL entry points of src/api.
 *
 * Our functions are not STRICT: a NULL where a value is needed is an
 * ERROR, not a silent NULL result.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "api/api_args.h"

/* ERROR 22004 if argument argno is NULL; 'what' names it in the message */
void
api_require_arg(FunctionCallInfo fcinfo, int argno, const char *what)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
}
