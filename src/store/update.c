/*-------------------------------------------------------------------------
 *
 * update.c
 *		Read-modify-write operations: incr and touch.
 *
 * Both read the item under a shared partition lock, compute, and write the
 * result with store_write's compare-and-set: the write happens only if the
 * item still holds what was read, else they read again.  No lock is held
 * between attempts, where interrupts are checked.  Nothing here raises an
 * ERROR under a lock.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/int.h"
#include "miscadmin.h"

#include "store/items_internal.h"

static bool parse_int64(const char *s, int len, int64 *result);

/*
 * Read an item for a later compare-and-set: its value (if it fits 'buf')
 * and expiry.  Returns false when the key is absent or expired.
 */
static bool
read_for_update(int handle, const char *key, int keylen, char *buf,
				int bufsize, StoreExpect *seen, StoreResult *result)
{
	KeySite		site;
	StoreItem  *item;
	uint32	   *link;

	seen->value = buf;
	seen->vallen = -1;			/* too long for buf, or large */
	seen->expire = 0;
	*result = lock_key(handle, key, keylen, LW_SHARED, &site, &item, &link);
	if (item != NULL)
	{
		seen->expire = item_expire(item);
		if (!item_is_large(item) && item_vallen(item) <= bufsize)
		{
			seen->vallen = item_vallen(item);
			memcpy(buf, item_value(item), seen->vallen);
		}
	}
	part_unlock(site.part);
	return item != NULL;
}

StoreResult
store_incr(int handle, const char *key, int keylen, int64 delta,
		   int64 ttl_ms, int64 *result)
{
	char		current_text[32];
	char		new_text[32];
	StoreExpect seen;
	StoreResult rc;

	for (;;)
	{
		int64		current = 0;
		bool		exists;
		uint32		expire;

		exists = read_for_update(handle, key, keylen, current_text,
								 sizeof(current_text), &seen, &rc);
		if (rc != STORE_OK)
			return rc;
		if (exists && (seen.vallen < 0 ||
					   !parse_int64(current_text, seen.vallen, &current)))
			return STORE_NOT_NUMBER;
		if (pg_add_s64_overflow(current, delta, result))
			return STORE_OVERFLOW;
		snprintf(new_text, sizeof(new_text), INT64_FORMAT, *result);
		expire = ttl_ms > 0 ? expire_tick(ttl_ms) : seen.expire;

		/* lost a race with another writer of this key: read again */
		rc = store_write(handle, key, keylen, new_text, strlen(new_text), expire,
						 exists ? STORE_REPLACE : STORE_ADD,
						 exists ? &seen : NULL);
		if (rc != STORE_RETRY && rc != STORE_EXISTS && rc != STORE_NOT_FOUND)
			return rc;
		/* nothing is held between attempts */
		CHECK_FOR_INTERRUPTS();
	}
}

/* set the expiry of an item laid out with room for one; false otherwise */
static StoreResult
touch_in_place(int handle, const char *key, int keylen, uint32 expire,
			   char **value, int *vallen)
{
	KeySite		site;
	uint32	   *link = NULL;
	StoreItem  *item;
	StoreResult result;

	*value = NULL;
	result = lock_key(handle, key, keylen, LW_EXCLUSIVE, &site, &item, &link);
	if (result == STORE_OK && item == NULL)
		result = STORE_NOT_FOUND;
	else if (result == STORE_OK && (item->keylen & KEYLEN_EXPIRE))
	{
		item_set_expire(item, expire);
		slab_note_expiry(item, expire);
	}
	else if (result == STORE_OK)
	{
		/* nothing changed so far: an ERROR in palloc leaves nothing torn */
		*vallen = item_vallen(item);
		*value = palloc(*vallen + 1);
		memcpy(*value, item_value(item), *vallen);
		result = STORE_RETRY;
	}
	part_unlock(site.part);
	return result;
}

StoreResult
store_touch(int handle, const char *key, int keylen, int64 ttl_ms)
{
	uint32		expire = expire_tick(ttl_ms);

	for (;;)
	{
		char	   *value;
		int			vallen = 0;
		StoreExpect seen;
		StoreResult rc;

		rc = touch_in_place(handle, key, keylen, expire, &value, &vallen);
		if (rc != STORE_RETRY)
			return rc;

		/* no room for an expiry in place: store it again with one */
		seen.value = value;
		seen.vallen = vallen;
		seen.expire = 0;
		rc = store_write(handle, key, keylen, value, vallen, expire,
						 STORE_REPLACE, &seen);
		pfree(value);
		if (rc != STORE_RETRY)
			return rc;
		/* nothing is held between attempts */
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * A counter's value: optional sign and decimal digits, nothing else
 * (memcached's rule, stricter than int8in's whitespace).
 */
static bool
parse_int64(const char *s, int len, int64 *result)
{
	bool		neg = false;
	int64		value = 0;
	int			i = 0;

	if (len > 0 && (s[0] == '-' || s[0] == '+'))
	{
		neg = (s[0] == '-');
		i++;
	}
	if (i >= len)
		return false;
	for (; i < len; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return false;
		/* accumulate negatively so that INT64_MIN parses */
		if (pg_mul_s64_overflow(value, 10, &value) ||
			pg_sub_s64_overflow(value, s[i] - '0', &value))
			return false;
	}
	if (!neg)
	{
		if (value == PG_INT64_MIN)
			return false;
		value = -value;
	}
	*result = value;
	return true;
}
