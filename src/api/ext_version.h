/*-------------------------------------------------------------------------
 *
 * ext_version.h
 *		The versions of the extension's SQL objects this library serves.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_EXT_VERSION_H
#define MEMSHARD_EXT_VERSION_H

/* version of this library, as memshard.version() reports it */
#define MEMSHARD_LIBRARY_VERSION "1.1"

extern void ext_version_check(void);
extern void ext_version_check_catalog(void);
extern void ext_version_forget(void);

#endif							/* MEMSHARD_EXT_VERSION_H */
