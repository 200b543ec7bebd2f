/*-------------------------------------------------------------------------
 *
 * api_internal.h
 *		Argument checks shared by the SQL entry points of src/api.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_API_INTERNAL_H
#define MEMSHARD_API_INTERNAL_H

#include "fmgr.h"

#include "router/router.h"

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
extern MapInfo *api_map_arg(FunctionCallInfo fcinfo, int argno);
extern void api_key_arg(FunctionCallInfo fcinfo, int argno, char **key,
						int *keylen);
extern void api_key_array_arg(FunctionCallInfo fcinfo, int argno,
							  VarlenaArrayArg *keys);
extern void api_key_value_arrays(FunctionCallInfo fcinfo, int keys_argno,
								 int values_argno, Oid value_type,
								 VarlenaArrayArg *keys,
								 VarlenaArrayArg *values);

#endif							/* MEMSHARD_API_INTERNAL_H */
