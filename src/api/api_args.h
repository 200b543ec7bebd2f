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

/* a one-dimensional array of text or bytea, taken apart */
typedef struct VarlenaArrayArg
{
	int			count;
	Datum	   *elems;			/* the element Datums */
	char	  **data;			/* their bytes */
	int		   *lens;
} VarlenaArrayArg;

extern void api_require_arg(FunctionCallInfo fcinfo, int argno,
							const char *what);
extern void api_array_arg(FunctionCallInfo fcinfo, int argno, Oid elemtype,
						  const char *what, VarlenaArrayArg *arg);
extern void api_check_key_size(int keylen);
extern void api_check_item_size(int keylen, int vallen);

#endif							/* MEMSHARD_API_ARGS_H */
