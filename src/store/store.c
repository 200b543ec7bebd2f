/*-------------------------------------------------------------------------
 *
 * store.c
 *		Shared-memory segment of the cache: sizing, start-up, readiness.
 *
 * (Foundation stub: the slab allocator, index and eviction come with the
 * local-cache work.)
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "pg_memshard.h"
#include "store/store.h"

typedef struct StoreShared
{
	LWLock	   *locks;
	Size		budget;
} StoreShared;

static StoreShared *store = NULL;

Size
store_shmem_size(void)
{
	return (Size) memshard_memory_kb * 1024;
}

int
store_lwlock_count(void)
{
	return memshard_partitions + 1;
}

void
store_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	store = ShmemInitStruct("pg_memshard", sizeof(StoreShared), &found);
	if (!found)
	{
		store->locks = &(GetNamedLWLockTranche(STORE_LWLOCK_TRANCHE))->lock;
		store->budget = store_shmem_size();
	}
	LWLockRelease(AddinShmemInitLock);
}

void
store_require_ready(void)
{
	if (store == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_memshard must be loaded via shared_preload_libraries"),
				 errhint("Add pg_memshard to shared_preload_libraries in postgresql.conf and restart the server.")));
}
