/*-------------------------------------------------------------------------
 *
 * items_internal.h
 *		What items.c shares with item_alloc.c and update.c: the writer's
 *		compare-and-set, finding a key under its partition lock, and the
 *		layout of an item in chunks.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_ITEMS_INTERNAL_H
#define MEMSHARD_ITEMS_INTERNAL_H

#include "store/item_time.h"

/* what a compare-and-set writer read before: value bytes and expiry */
typedef struct StoreExpect
{
	const char *value;
	int			vallen;
	uint32		expire;
} StoreExpect;

/* internal outcome: a compare-and-set lost a race; read and try again */
#define STORE_RETRY ((StoreResult) -1)

/* where a key lives: its map slot, partition and bucket */
typedef struct KeySite
{
	int			mapslot;
	int			partition;
	StorePartition *part;
	uint32	   *bucket;
} KeySite;

/* items.c */
extern StoreResult lock_key(int handle, const char *key, int keylen,
							LWLockMode mode, KeySite *site, StoreItem **item,
							uint32 **link);
extern StoreResult store_write(int handle, const char *key, int keylen,
							   const char *value, int vallen, uint32 expire,
							   StoreSetMode mode, const StoreExpect *expect);

/* item_alloc.c (item_need_bytes, item_copy_value: store_internal.h) */
extern uint32 item_alloc(const char *key, int keylen, const char *value,
						 int vallen, uint32 expire);
extern bool item_value_equals(StoreItem *item, const char *value);

#endif							/* MEMSHARD_ITEMS_INTERNAL_H */
