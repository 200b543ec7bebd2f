/*-------------------------------------------------------------------------
 *
 * tablecache.h
 *		The table cache: what the tablecache room offers the rest of the
 *		module.
 *
 * A read-through cache of tables' rows by primary key (cache_table,
 * get_row), invalidated at commit: writers mark the keys they changed in
 * shared memory (store/marks.c) before their commit becomes visible, and
 * readers neither serve nor fill a marked key.  The SQL entry points live
 * in this room; the module only needs to start it and tell it about
 * utility statements and dropped databases.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_TABLECACHE_H
#define MEMSHARD_TABLECACHE_H

#include "nodes/nodes.h"

/* _PG_init: transaction callbacks (in every backend, preloaded or not) */
extern void tablecache_init(void);

/*
 * The utility hook, before a utility statement runs: a statement that may
 * change a cached table's rows or row type (DDL) makes the transaction
 * look at the relcache invalidations it sends when it commits.
 */
extern void tablecache_utility(Node *parsetree);

/* DROP EXTENSION or DROP DATABASE removed a database's cached tables */
extern void tablecache_forget_database(Oid dboid);

#endif							/* MEMSHARD_TABLECACHE_H */
