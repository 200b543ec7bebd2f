/*-------------------------------------------------------------------------
 *
 * api_args.h
 *		Argument checks shared by the SQL entry points of src/api.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_API_ARGS_H
#define MEMSHARD_API_ARGS_H

#include "fmgr.h"

extern void api_require_arg(FunctionCallInfo fcinfo, int argno,
							const char *what);

#endif							/* MEMSHARD_API_ARGS_H */
