/*-------------------------------------------------------------------------
 *
 * shard_scan.h
 *		Reading the keys of a database's maps out of the store, in batches.
 *
 * The store does not know shards: a shard is what the partition room makes
 * of a key.  So to count items per shard (memshard.shard_stats,
 * memshard.skew) the caller walks the keys and asks the partition room.
 * This scan copies keys out of shared memory in bounded batches, holding
 * one partition lock (shared) at a time and never while the caller works,
 * so the caller may do anything (even raise an ERROR) between batches.
 *
 * The figures are a live view, not a snapshot: items set or removed while
 * the scan runs may or may not be seen.  Expired items are not returned.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_SHARD_SCAN_H
#define MEMSHARD_SHARD_SCAN_H

/* one item of a batch; key points into the scan's own buffer */
typedef struct StoreScanItem
{
	int32		mapid;
	int			keylen;
	const char *key;
	int64		bytes;			/* chunk bytes held, as map_stats counts them */
} StoreScanItem;

typedef struct StoreScan
{
	Oid			dboid;
	int32		mapid;			/* -1: every map of dboid */
	/* where the next batch starts */
	int			partition;
	uint32		bucket;
	int			skip;			/* matching items of that bucket already seen */
	/* the current batch */
	int			nitems;
	StoreScanItem *items;
	char	   *keybuf;
} StoreScan;

/* start a scan of one map (mapid >= 0) or of every map of a database (-1) */
extern void store_scan_begin(StoreScan *scan, Oid dboid, int32 mapid);

/* fill scan->items with the next batch; false when the scan is over */
extern bool store_scan_next(StoreScan *scan);

extern void store_scan_end(StoreScan *scan);

#endif							/* MEMSHARD_SHARD_SCAN_H */
