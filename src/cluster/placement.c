/*-------------------------------------------------------------------------
 *
 * placement.c
 *		Placements of shards on nodes: computing them for a new map and
 *		reading them for routing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "cluster/placement.h"

int
placement_count_on_node(int32 node_id, char **maps)
{
	MemoryContext caller = CurrentMemoryContext;
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1];
	int			count = 0;
	bool		isnull;

	args[0] = Int32GetDatum(node_id);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT count(*)::integer, "
							  "string_agg(DISTINCT map_id::text, ', ') "
							  "FROM memshard.placement_catalog WHERE node_id = $1",
							  1, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read memshard.placement_catalog");
	count = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
										SPI_tuptable->tupdesc, 1, &isnull));
	*maps = count > 0
		? MemoryContextStrdup(caller, SPI_getvalue(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 2))
		: NULL;
	SPI_finish();
	return count;
}
