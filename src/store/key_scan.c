/*-------------------------------------------------------------------------
 *
 * key_scan.c
 *		Batched scans of the keys of a database's maps (see key_scan.h).
 *
 * A batch walks index chains of one partition at a time under its lock,
 * taken shared: readers go on, a writer of that partition waits at most
 * for one batch.  A batch ends when its item slots or key bytes are used
 * up, or after SCAN_BUCKETS_PER_HOLD buckets, whichever comes first; the
 * next one resumes at the same bucket, skipping the matching items it
 * already returned (chains may have changed in between: the scan is a live
 * view, as key_scan.h says).
 *
 * Nothing here can raise an ERROR while a lock is held: buffers are
 * allocated before the first lock and only filled under it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/lwlock.h"

#include "pg_memshard.h"
#include "store/item_time.h"
#include "store/key_scan.h"

/* batch bounds: enough to keep locking rare, small enough to stay cheap */
#define SCAN_BATCH_ITEMS		4096
#define SCAN_BATCH_KEY_BYTES	(256 * 1024)
#define SCAN_BUCKETS_PER_HOLD	16384

StaticAssertDecl(SCAN_BATCH_KEY_BYTES >= MEMSHARD_MAX_KEY_SIZE,
				 "a batch must hold the longest key");

static bool item_in_scan(const KeyScan *scan, const StoreItem *item,
						 uint32 tick);
static void scan_partition(KeyScan *scan, Size *keyused);

void
key_scan_begin(KeyScan *scan, Oid dboid, int32 mapid)
{
	store_require_ready();
	memset(scan, 0, sizeof(KeyScan));
	scan->dboid = dboid;
	scan->mapid = mapid;
	scan->items = palloc(sizeof(KeyScanItem) * SCAN_BATCH_ITEMS);
	scan->keybuf = palloc(SCAN_BATCH_KEY_BYTES);
}

void
key_scan_end(KeyScan *scan)
{
	pfree(scan->items);
	pfree(scan->keybuf);
	scan->items = NULL;
	scan->keybuf = NULL;
}

/* an unexpired item of a map the scan covers (caller holds its partition) */
static bool
item_in_scan(const KeyScan *scan, const StoreItem *item, uint32 tick)
{
	const StoreMapSlot *slot;

	if (item->mapslot == MAPSLOT_FREE || item->mapslot == MAPSLOT_DATA ||
		item->mapslot > store_shared->max_maps)
		return false;
	slot = store_map_slot(item->mapslot);

	/*
	 * A map being dropped has mapid -1 from the moment its handles go stale
	 * until its items are gone: those items no longer count.
	 */
	if (!slot->in_use || slot->dboid != scan->dboid || slot->mapid < 0)
		return false;
	if (scan->mapid >= 0 && slot->mapid != scan->mapid)
		return false;
	return !item_expired(item, tick);
}

/*
 * Copy matching items of scan->partition, from scan->bucket on, into the
 * batch until it is full or the bucket budget of one lock hold is spent.
 */
static void
scan_partition(KeyScan *scan, Size *keyused)
{
	StorePartition *part = store_partition(scan->partition);
	uint32	   *buckets = store_buckets(scan->partition);
	uint32		nbuckets = store_shared->buckets_per_partition;
	uint32		walked = 0;
	uint32		tick = now_tick();

	LWLockAcquire(part->lock, LW_SHARED);
	while (scan->bucket < nbuckets && walked < SCAN_BUCKETS_PER_HOLD)
	{
		uint32		ref = buckets[scan->bucket];
		int			seen = 0;
		bool		full = false;

		while (ref != 0)
		{
			StoreItem  *item = item_at(ref);

			ref = item->next;
			if (!item_in_scan(scan, item, tick) || seen++ < scan->skip)
				continue;
			if (scan->nitems >= SCAN_BATCH_ITEMS ||
				*keyused + item_keylen(item) > SCAN_BATCH_KEY_BYTES)
			{
				/* resume here: this item is the first not yet returned */
				scan->skip = seen - 1;
				full = true;
				break;
			}
			{
				KeyScanItem *out = &scan->items[scan->nitems++];

				out->mapid = store_map_slot(item->mapslot)->mapid;
				out->keylen = item_keylen(item);
				out->key = scan->keybuf + *keyused;
				memcpy(scan->keybuf + *keyused, item_key(item), out->keylen);
				*keyused += out->keylen;
				out->bytes = item_chunk_bytes(item);
			}
		}
		if (full)
			break;
		scan->bucket++;
		scan->skip = 0;
		walked++;
	}
	LWLockRelease(part->lock);

	if (scan->bucket >= nbuckets)
	{
		scan->partition++;
		scan->bucket = 0;
		scan->skip = 0;
	}
}

bool
key_scan_next(KeyScan *scan)
{
	Size		keyused = 0;

	scan->nitems = 0;
	if (scan->partition >= store_shared->npartitions)
		return false;
	CHECK_FOR_INTERRUPTS();
	scan_partition(scan, &keyused);
	return true;
}
