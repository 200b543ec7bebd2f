/*-------------------------------------------------------------------------
 *
 * ddl_hook.h
 *		The utility hook of pg_memshard (ddl_hook.c), which _PG_init
 *		installs.
 *
 * It acts on DDL for the rooms that need it (the store, the table cache,
 * the schema), and so sits above them, beside start-up: no room calls it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_DDL_HOOK_H
#define MEMSHARD_DDL_HOOK_H

extern void ddl_hook_install(void);

#endif							/* MEMSHARD_DDL_HOOK_H */
