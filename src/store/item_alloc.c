/*-------------------------------------------------------------------------
 *
 * item_alloc.c
 *		An item's chunks: one chunk, or for a value larger than a page a head
 *		chunk and data pieces; writing them, reading a value back and
 *		comparing it (compare-and-set).
 *
 * An item too large for one chunk (one page) is "large": a head chunk with
 * its key and the references of data chunks of the page-sized class, each
 * holding a piece of the value after a header whose 'next' names the head
 * (see store_internal.h).  The chunks are taken while the writer holds no
 * partition lock, so that evictions never wait on a backend that waits on
 * us; the item is published (linked, its mapslot set) by items.c, through
 * index.c's index_link.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "port/atomics.h"

#include "store/items_internal.h"

/* bytes of value a data chunk holds */
static inline Size
data_piece_max(void)
{
	return data_class()->chunk_size - ITEM_HEADER_SIZE;
}

/* data chunks a large value needs */
static uint32
data_chunk_count(int vallen)
{
	return (vallen + data_piece_max() - 1) / data_piece_max();
}

/* whether an item of these lengths fits one chunk (else it is large) */
static bool
fits_one_chunk(int keylen, int vallen, bool has_expire)
{
	return ITEM_HEADER_SIZE + item_meta_size(has_expire, false, 0) +
		keylen + vallen <= data_class()->chunk_size;
}

/* size of the (head) chunk contents; large items always keep an expiry */
static Size
head_size(int keylen, int vallen, bool has_expire)
{
	if (fits_one_chunk(keylen, vallen, has_expire))
		return ITEM_HEADER_SIZE + item_meta_size(has_expire, false, 0) +
			keylen + vallen;
	return ITEM_HEADER_SIZE +
		item_meta_size(true, true, data_chunk_count(vallen)) + keylen;
}

/*
 * The most chunk bytes an item of these lengths may take: its head's chunk
 * may be borrowed from a slightly larger class (slab_largest_chunk), data
 * chunks are one page each.  What a write reserves under its map's quota;
 * linking the item gives back what it did not take.
 */
int64
item_need_bytes(int keylen, int vallen, bool has_expire)
{
	int64		bytes = slab_largest_chunk(head_size(keylen, vallen, has_expire));

	if (!fits_one_chunk(keylen, vallen, has_expire))
		bytes += (int64) data_chunk_count(vallen) * data_class()->chunk_size;
	return bytes;
}

/*
 * The class of the (head) chunk an item of these lengths takes, and the
 * data chunks of the page-sized class it needs besides (large items): what
 * a warm restart's load checks is free before it writes (store_dump.c).
 */
int
items_chunk_class(int keylen, int vallen, bool has_expire, uint32 *data_chunks)
{
	*data_chunks = fits_one_chunk(keylen, vallen, has_expire) ? 0 :
		data_chunk_count(vallen);
	return slab_class_for(head_size(keylen, vallen, has_expire));
}

/* fill a data chunk with a piece of a large value; publish it */
static void
write_data_chunk(StoreItem *data, uint32 head_ref, const char *piece, Size len)
{
	data->next = head_ref;
	data->keylen = 0;
	item_set_vallen(data, len);
	data->ref = REF_CLEAR;
	memcpy(data->data, piece, len);
	pg_write_barrier();
	data->mapslot = MAPSLOT_DATA;
}

/*
 * Chunks for an item, written but for mapslot and link: one chunk, or for a
 * large item a head plus data chunks holding the value.  Taken while no
 * partition lock is held, so that evictions never wait on a backend that
 * waits on us.  0 when memory cannot be found, with everything taken given
 * back.
 */
uint32
item_alloc(const char *key, int keylen, const char *value, int vallen,
		   uint32 expire)
{
	bool		large = !fits_one_chunk(keylen, vallen, expire != 0);
	Size		size = head_size(keylen, vallen, expire != 0);
	uint32		count = large ? data_chunk_count(vallen) : 0;
	int			class_id = slab_class_for(size);
	uint32		ref;
	StoreItem  *head;
	uint32	   *refs;
	uint32		i;

	ref = slab_alloc(class_id, size, expire,
					 store_class(class_id)->chunk_size +
					 (Size) count * data_class()->chunk_size);
	if (ref == 0)
		return 0;
	head = item_at(ref);
	head->keylen = keylen | (large ? KEYLEN_LARGE | KEYLEN_EXPIRE : 0) |
		(expire != 0 ? KEYLEN_EXPIRE : 0);
	item_set_vallen(head, vallen);
	/*
	 * A new item starts referenced: chunks freed ahead of the CLOCK hand are
	 * reused too, and an item just written there must not be the next to go.
	 */
	head->ref = REF_SET;
	if (head->keylen & KEYLEN_EXPIRE)
		item_set_expire(head, expire);
	if (!large)
	{
		memcpy(item_key(head), key, keylen);
		memcpy(item_value(head), value, vallen);
		return ref;
	}

	/* large items always have an expiry slot; the count follows it */
	memcpy(head->data + sizeof(uint32), &count, sizeof(uint32));
	refs = large_refs(head, &count);
	memset(refs, 0, sizeof(uint32) * count);
	memcpy(item_key(head), key, keylen);
	for (i = 0; i < count; i++)
	{
		Size		off = (Size) i * data_piece_max();
		Size		piece = Min(data_piece_max(), (Size) vallen - off);
		uint32		dref = slab_alloc(store_shared->nclasses - 1,
									  ITEM_HEADER_SIZE + piece, 0,
									  (Size) (count - i) * data_class()->chunk_size);

		if (dref == 0)
		{
			/* give back what we took (references not yet taken are 0) */
			slab_free(head);
			return 0;
		}
		write_data_chunk(item_at(dref), ref, value + off, piece);
		refs[i] = dref;
	}
	return ref;
}

/* copy an item's value out, gathering a large item's pieces */
void
item_copy_value(StoreItem *item, char *dest)
{
	uint32		count;
	uint32	   *refs;
	uint32		i;

	if (!item_is_large(item))
	{
		memcpy(dest, item_value(item), item_vallen(item));
		return;
	}
	refs = large_refs(item, &count);
	for (i = 0; i < count; i++)
	{
		StoreItem  *piece = item_at(refs[i]);

		memcpy(dest, piece->data, item_vallen(piece));
		dest += item_vallen(piece);
	}
}

/*
 * Whether an item's value (its partition held) equals item_vallen bytes at
 * value, comparing a large item piece by piece; the caller checked lengths.
 */
bool
item_value_equals(StoreItem *item, const char *value)
{
	uint32		count;
	uint32	   *refs;
	uint32		i;

	if (!item_is_large(item))
		return memcmp(item_value(item), value, item_vallen(item)) == 0;
	refs = large_refs(item, &count);
	for (i = 0; i < count; i++)
	{
		StoreItem  *piece = item_at(refs[i]);

		if (memcmp(piece->data, value, item_vallen(piece)) != 0)
			return false;
		value += item_vallen(piece);
	}
	return true;
}
