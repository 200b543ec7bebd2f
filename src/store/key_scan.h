/*-------------------------------------------------------------------------
 *
 * key_scan.h
 *		A key scan: reading the keys of one map, or of every map of a
 *		database, out of the store, in batches.
 *
 * The store does not know shards: a shard is what the partition room makes
 * of a key.  So to count items per shard (memshard.shard_stats,
 * memshard.skew) the caller walks the keys and asks the partition room;
 * the RESP front end's KEYS and SCAN walk them too.
 * This scan copies keys out of shared memory in bounded batches, holding
 * one partition lock (shared) at a time and never while the caller works,
 * so the caller may do anything (even raise an ERROR) between batches.
 *
 * The figures are a live view, not a snapshot: items set or removed while
 * the scan runs may or may not be seen.  Expired items are not returned.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_KEY_SCAN_H
#define MEMSHARD_KEY_SCAN_H

/* one item of a batch; key points into the scan's own buffer */
typedef struct KeyScanItem
{
	int32		mapid;
	int			keylen;
	const char *key;
	int64		bytes;			/* chunk bytes held, as map_stats counts them */
} KeyScanItem;

typedef struct KeyScan
{
	Oid			dboid;
	int32		mapid;			/* -1: every map of dboid */
	/* where the next batch starts */
	int			partition;
	uint32		bucket;
	int			skip;			/* matching items of that bucket already seen */
	/* the current batch */
	int			nitems;
	KeyScanItem *items;
	char	   *keybuf;
} KeyScan;

/* start a scan of one map (mapid >= 0) or of every map of a database (-1) */
extern void key_scan_begin(KeyScan *scan, Oid dboid, int32 mapid);

/* fill scan->items with the next batch; false when the scan is over */
extern bool key_scan_next(KeyScan *scan);

extern void key_scan_end(KeyScan *scan);

#endif							/* MEMSHARD_KEY_SCAN_H */
