/*-------------------------------------------------------------------------
 *
 * read_path.c
 *		Reads: get and mget, optimistic first, under the partition lock when
 *		they must.
 *
 * The protocol.  Each partition has a sequence number, seq, that every
 * holder of its LWLock in exclusive mode makes odd as soon as it has the
 * lock (part_write_begin: a write barrier follows) and even again as it
 * lets go (part_unlock: a write barrier comes first).  Every change to a
 * partition's chains, and every change to or freeing of a chunk linked in
 * them, happens under that exclusive lock: set, add, replace, delete, incr,
 * touch and the compare-and-set (lock_key), flush and a map's detach
 * (items_remove_slot), the quota's sweep (quota.c), evictions and expiry
 * reclaim by the CLOCK hand (evict.c) and the page moves and evacuations
 * of compaction (compact.c: the item is copied, then its link repointed).
 * A chunk is only ever filled while it is linked nowhere (item_alloc); it
 * can be reached by a reader only through a link the reader read before an
 * exclusive holder unlinked it, which moved seq.  The one write to a linked
 * chunk without that lock is the CLOCK hand clearing a reference byte
 * (under its class lock), which readers use only as a hint.  Should an
 * exclusive holder ever leave without part_unlock (an ERROR: none is
 * raised under the lock), seq stays odd, readers take the lock, and the
 * next exclusive holder makes it even again.
 *
 * A reader of an item that fits one chunk takes no lock and writes nothing
 * shared: it reads seq (even, else it waits a little and tries again), a
 * read barrier, then walks the chain and copies the value into a buffer
 * of its own (the one it will return), a read barrier, and reads seq again.  The same value means no
 * exclusive holder began between the two reads, so nothing it read was
 * changing (seqlock: what a writer wrote after its odd seq, behind a write
 * barrier, cannot be seen by a read that comes before our second read of
 * seq without that read seeing the odd seq).  Otherwise it tries again,
 * READ_ATTEMPTS times, then falls back to the shared lock.  Until it has
 * validated, everything it read may be garbage, so every reference is
 * checked against the page area, every length against the page that holds
 * the chunk (an item never crosses its page), a chain is followed at most
 * READ_CHAIN_MAX steps, and the value is copied straight into the palloc'd
 * buffer the caller gets (no second copy), sized from a length bounded by
 * the room left in the chunk's page: a torn length costs at most a page's
 * palloc, which a failed validation frees; once validated, that length is
 * the item's.  Large items (chained over data chunks) are read under the
 * lock, as are chains longer than READ_CHAIN_MAX.
 *
 * The CLOCK reference byte is written only when it is clear, and then
 * under the shared lock after checking that seq has not moved (the item is
 * still where we read it: writing into a chunk freed and re-cut since
 * would corrupt another item).  Hot items stay referenced, so their reads
 * write nothing; the hand clears the byte once a turn.
 *
 * Hits and misses are counted in this backend (store_count_read, store.c)
 * and added to the shared counters now and then; retries and fallbacks
 * (rare) go straight to shared counters on a line of their own.
 *
 * A batch (store_mget) hashes every key first, then reads the keys in
 * order as a pipeline, prefetching a bucket and, later, the first item of
 * its chain a fixed number of keys ahead; each partition's seq is read
 * once per batch and carried from one of its keys to the next while
 * nothing changes there.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "store/item_time.h"

#define READ_ATTEMPTS		4	/* optimistic tries before the lock */
#define READ_CHAIN_MAX		64	/* chain steps an optimistic read follows */
#define MGET_AHEAD			8	/* keys between a prefetch and its use */

/* what one unlocked pass over a chain saw (to be validated) */
typedef enum ReadSeen
{
	SEEN_MISS,
	SEEN_HIT,
	SEEN_GONE,					/* the handle is stale */
	SEEN_LOCK					/* large, or a long chain: read under the lock */
} ReadSeen;

/* a key of a read, and where it lives */
typedef struct ReadKey
{
	const char *key;
	int			keylen;
	int			partition;
	uint32	   *bucket;
} ReadKey;

/* what a read of one key gives */
typedef struct ReadResult
{
	char	   *value;			/* palloc'd, prefix bytes first; NULL: none */
	int			vallen;			/* -1: the map is gone */
	uint32		expire;
	bool		text;			/* set as text of this database */
} ReadResult;

static bool last_get_text = false;	/* store_take_last_get_text() */

static ReadSeen read_chain(uint32 *bucket, int handle, const char *key,
						   int keylen, Size prefix, char **copy, uint32 *len,
						   uint32 *expire, bool *text, StoreItem **found,
						   bool *ref_clear);
static void mark_referenced(StorePartition *part, StoreItem *item,
							uint32 seq);
static bool read_optimistic(int handle, const ReadKey *rk, Size prefix,
							uint32 *seq, ReadResult *out);
static void read_locked(int handle, const ReadKey *rk, Size prefix,
						ReadResult *out);
static void read_key(int handle, const ReadKey *rk, Size prefix, uint32 *seq,
					 ReadResult *out);
static void locate_key(ReadKey *rk, int mapslot, const char *key, int keylen);

/*
 * One pass over a chain without the lock, for (handle, key): a hit copies
 * the value into *copy, palloc'd with prefix bytes in front (*len bytes of
 * value, at most the room left in the chunk's page, so bounded even when
 * torn), and tells its expiry and whether its
 * reference byte is clear.  Nothing read is trusted before the caller
 * validates seq; every read stays within the page area and each chunk's
 * page.  Header fields are read once, through volatile, so that what was
 * checked is what is used.
 */
static ReadSeen
read_chain(uint32 *bucket, int handle, const char *key, int keylen,
		   Size prefix, char **copy, uint32 *len, uint32 *expire, bool *text,
		   StoreItem **found, bool *ref_clear)
{
	Size		page_size = store_shared->page_size;
	uint32		units = (uint32) ((Size) store_shared->npages * page_size / STORE_ALIGN);
	int			mapslot = HANDLE_SLOT(handle);
	uint32		ref;
	int			steps;

	if (!index_handle_valid(handle))
		return SEEN_GONE;
	ref = *(volatile uint32 *) bucket;
	for (steps = 0; ref != 0; steps++)
	{
		volatile StoreItem *item;
		Size		off;
		Size		room;
		Size		meta;
		uint16		rawkeylen;
		uint32		vallen;

		if (steps >= READ_CHAIN_MAX || ref > units)
			return SEEN_LOCK;
		off = ((Size) (ref - 1) * STORE_ALIGN) % page_size;
		if (off + ITEM_HEADER_SIZE + sizeof(uint32) > page_size)
			return SEEN_LOCK;
		item = item_at(ref);
		/* the value's lines while the header's miss is served (no fault) */
		__builtin_prefetch((const char *) item + 64);
		__builtin_prefetch((const char *) item + 128);
		room = page_size - off - ITEM_HEADER_SIZE;
		rawkeylen = item->keylen;
		if (item->mapslot != mapslot || (rawkeylen & KEYLEN_MASK) != keylen)
		{
			ref = item->next;
			continue;
		}
		meta = (rawkeylen & KEYLEN_EXPIRE) ? sizeof(uint32) : 0;
		if (rawkeylen & KEYLEN_LARGE)
			return SEEN_LOCK;	/* its key may match: read it locked */
		vallen = item->vallen[0] | (item->vallen[1] << 8) | (item->vallen[2] << 16);
		if (meta + keylen + (Size) vallen > room)
			return SEEN_LOCK;	/* torn (validation will say), or bad */
		if (memcmp((const char *) item->data + meta, key, keylen) == 0)
		{
			*expire = 0;
			if (meta)
				memcpy(expire, (const char *) item->data, sizeof(uint32));
			*copy = palloc(prefix + vallen);
			memcpy(*copy + prefix, (const char *) item->data + meta + keylen,
				   vallen);
			*len = vallen;
			*text = (rawkeylen & KEYLEN_TEXT) != 0;
			*ref_clear = item->ref == REF_CLEAR;
			*found = (StoreItem *) item;
			return SEEN_HIT;
		}
		ref = item->next;
	}
	return SEEN_MISS;
}

/* the reference byte of an item read at 'seq', if still there */
static void
mark_referenced(StorePartition *part, StoreItem *item, uint32 seq)
{
	LWLockAcquire(part->lock, LW_SHARED);
	if (pg_atomic_read_u32(&part->seq) == seq && item->ref == REF_CLEAR)
		item->ref = REF_SET;
	LWLockRelease(part->lock);
}

/*
 * Read one key without the lock, starting from *seq (read before, even or
 * not; it follows what we saw).  False when it must be read under the lock
 * instead: a large item, a long chain, or READ_ATTEMPTS failed validations.
 */
static bool
read_optimistic(int handle, const ReadKey *rk, Size prefix, uint32 *seq,
				ReadResult *out)
{
	StorePartition *part = store_partition(rk->partition);
	int			attempt;

	for (attempt = 0; attempt < READ_ATTEMPTS; attempt++)
	{
		uint32		len = 0;
		char	   *copy = NULL;
		uint32		expire = 0;
		StoreItem  *item = NULL;
		bool		ref_clear = false;
		bool		text = false;
		ReadSeen	seen;
		uint32		after;

		if (attempt > 0)
			*seq = pg_atomic_read_u32(&part->seq);
		if (*seq & 1)
		{
			pg_spin_delay();
			continue;
		}
		pg_read_barrier();
		seen = read_chain(rk->bucket, handle, rk->key, rk->keylen, prefix,
						  &copy, &len, &expire, &text, &item, &ref_clear);
		pg_read_barrier();
		after = pg_atomic_read_u32(&part->seq);
		if (after != *seq)
		{
			if (copy)
				pfree(copy);
			continue;
		}

		/* validated: what we read was the partition as it was at seq */
		if (attempt > 0)
			pg_atomic_fetch_add_u64(&store_shared->read_counters.c.retries,
									attempt);
		if (seen == SEEN_LOCK)
			break;
		if (seen == SEEN_GONE)
			out->vallen = -1;
		else if (seen == SEEN_HIT && (expire == 0 || now_tick() < expire))
		{
			out->value = copy;
			out->vallen = (int) len;
			out->expire = expire;
			out->text = text;
			if (ref_clear)
				mark_referenced(part, item, *seq);
		}
		else if (copy)
			pfree(copy);		/* expired */
		return true;
	}
	if (attempt == READ_ATTEMPTS)
		pg_atomic_fetch_add_u64(&store_shared->read_counters.c.retries, attempt);
	pg_atomic_fetch_add_u64(&store_shared->read_counters.c.fallbacks, 1);
	return false;
}

/* read one key under the shared partition lock (any item, large ones too) */
static void
read_locked(int handle, const ReadKey *rk, Size prefix, ReadResult *out)
{
	StorePartition *part = store_partition(rk->partition);
	StoreItem  *item;

	part_lock(part, LW_SHARED);
	if (!index_handle_valid(handle))
	{
		part_unlock(part);
		out->vallen = -1;
		return;
	}
	item = index_find(rk->bucket, HANDLE_SLOT(handle), rk->key, rk->keylen,
					  NULL);
	if (item != NULL && !item_expired(item, item_expire(item) ? now_tick() : 0))
	{
		uint32		len = item_vallen(item);

		if (item->ref == REF_CLEAR)
			item->ref = REF_SET;
		/* read-only under a shared lock: an ERROR here leaves nothing torn */
		out->value = palloc(prefix + len);
		item_copy_value(item, out->value + prefix);
		out->vallen = (int) len;
		out->expire = item_expire(item);
		out->text = (item->keylen & KEYLEN_TEXT) != 0;
	}
	part_unlock(part);
}

/* read one key, from 'seq' of its partition, and count the hit or miss */
static void
read_key(int handle, const ReadKey *rk, Size prefix, uint32 *seq,
		 ReadResult *out)
{
	out->value = NULL;
	out->vallen = 0;
	out->expire = 0;
	out->text = false;
	if (!read_optimistic(handle, rk, prefix, seq, out))
		read_locked(handle, rk, prefix, out);
	if (out->vallen >= 0)
		store_count_read(rk->partition, HANDLE_SLOT(handle), out->value != NULL);
}

static void
locate_key(ReadKey *rk, int mapslot, const char *key, int keylen)
{
	uint64		hash = item_hash(mapslot, key, keylen);

	rk->key = key;
	rk->keylen = keylen;
	rk->partition = hash_partition_of(hash);
	rk->bucket = index_bucket(rk->partition, hash);
}

char *
store_get(int handle, const char *key, int keylen, Size prefix, int *vallen)
{
	return store_get_expiry(handle, key, keylen, prefix, vallen, NULL);
}

/* store_get, also telling the item's expiry (0: none) when expires != NULL */
char *
store_get_expiry(int handle, const char *key, int keylen, Size prefix,
				 int *vallen, TimestampTz *expires)
{
	ReadKey		rk;
	ReadResult	res;
	uint32		seq;

	locate_key(&rk, HANDLE_SLOT(handle), key, keylen);
	seq = pg_atomic_read_u32(&store_partition(rk.partition)->seq);
	read_key(handle, &rk, prefix, &seq, &res);
	*vallen = res.vallen;
	last_get_text = res.text;
	if (expires)
		*expires = res.expire != 0 ? tick_time(res.expire) : 0;
	return res.value;
}

bool
store_take_last_get_text(void)
{
	bool		text = last_get_text;

	last_get_text = false;
	return text;
}

/*
 * The first item of a key's chain, prefetched: its header and key, and the
 * start of its value.  The bucket was prefetched MGET_AHEAD keys earlier;
 * what it holds is only a hint (a stale reference costs a useless
 * prefetch, and one outside the page area is not followed).
 */
static inline void
prefetch_first_item(const ReadKey *rk, uint32 units)
{
	uint32		ref = *(volatile uint32 *) rk->bucket;

	if (ref != 0 && ref <= units)
	{
		const char *item = (const char *) item_at(ref);

		__builtin_prefetch(item);
		__builtin_prefetch(item + 64);
		__builtin_prefetch(item + 128);
	}
}

/*
 * Many keys of one map: values[i] and vallens[i] as store_get gives them,
 * texts[i] (if texts != NULL) whether the value was set as text.
 *
 * Every key is hashed first; then the keys are read in order, as a
 * pipeline: key i+2*MGET_AHEAD's bucket is prefetched, then key
 * i+MGET_AHEAD's first item (its bucket has arrived by then), then key i
 * is read.  A fixed distance keeps the lines in flight within what the
 * core can track and what its L1 holds: prefetching a whole batch of
 * 1,000 keys up front stalled on the prefetches themselves and read the
 * items back from L2.  Each partition's seq is read once per batch, when
 * its first key comes, and carried from key to key (a read that finds it
 * moved reads it again, as any optimistic read does).  False when the map
 * is gone (then some values may be missing: the caller looks the map up
 * again and asks again).
 */
bool
store_mget(int handle, int nkeys, char **keys, int *keylens, Size prefix,
		   char **values, int *vallens, bool *texts)
{
	int			np = store_shared->npartitions;
	ReadKey    *rks;
	uint32	   *seqs;
	bool	   *seq_read;
	uint32		units;
	bool		gone = false;
	int			i;

	if (nkeys <= 0)
		return true;
	units = (uint32) ((Size) store_shared->npages * store_shared->page_size /
					  STORE_ALIGN);
	rks = palloc(sizeof(ReadKey) * nkeys);
	seqs = palloc(sizeof(uint32) * np);
	seq_read = palloc0(sizeof(bool) * np);
	for (i = 0; i < nkeys; i++)
		locate_key(&rks[i], HANDLE_SLOT(handle), keys[i], keylens[i]);
	for (i = 0; i < Min(nkeys, 2 * MGET_AHEAD); i++)
		__builtin_prefetch(rks[i].bucket);
	for (i = 0; i < Min(nkeys, MGET_AHEAD); i++)
		prefetch_first_item(&rks[i], units);
	for (i = 0; i < nkeys; i++)
	{
		int			part = rks[i].partition;
		ReadResult	res;

		if (i + 2 * MGET_AHEAD < nkeys)
			__builtin_prefetch(rks[i + 2 * MGET_AHEAD].bucket);
		if (i + MGET_AHEAD < nkeys)
			prefetch_first_item(&rks[i + MGET_AHEAD], units);
		if (!seq_read[part])
		{
			seqs[part] = pg_atomic_read_u32(&store_partition(part)->seq);
			seq_read[part] = true;
		}
		read_key(handle, &rks[i], prefix, &seqs[part], &res);
		values[i] = res.value;
		vallens[i] = res.vallen;
		if (texts)
			texts[i] = res.text;
		gone |= res.vallen < 0;
	}
	pfree(seq_read);
	pfree(seqs);
	pfree(rks);
	return !gone;
}
