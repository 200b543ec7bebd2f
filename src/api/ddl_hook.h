/*-------------------------------------------------------------------------
 *
 * ddl_hook.h
 *		The utility hook of pg_memshard.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_DDL_HOOK_H
#define MEMSHARD_DDL_HOOK_H

extern void ddl_hook_install(void);

#endif							/* MEMSHARD_DDL_HOOK_H */
