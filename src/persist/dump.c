/*-------------------------------------------------------------------------
 *
 * dump.c
 *		Writing the cache to disk at a clean shutdown.
 *
 * The persist worker calls persist_dump_at_shutdown when it gets SIGTERM.
 * At a smart or fast shutdown the postmaster sends SIGTERM to every backend
 * and background worker at once, and writes the shutdown checkpoint only
 * once they have all exited, us included; an immediate shutdown sends
 * SIGQUIT instead, and the crash of a process makes the postmaster send
 * SIGQUIT to everyone: no dump then.
 *
 * A dump must hold the cache as it was when the server stopped serving,
 * with every acknowledged write in it.  So we first wait for every other
 * backend that could still write to the cache to be gone (client backends,
 * background workers, walsenders excepted: they stay until after the
 * checkpoint).  If some are still there after DUMP_WAIT_MS (a stuck
 * backend, or a SIGTERM sent to us alone while the server goes on running:
 * the autovacuum launcher and the logical replication launcher then still
 * run) nothing is written.  In the rare case of a SIGTERM to us alone on a
 * server that runs neither, a dump is written; the worker is restarted at
 * once and the restarted worker removes it (persist_worker.c).
 *
 * The file is written to a temporary name, fsynced, and renamed with
 * durable_rename, so that a crash while writing never leaves a partial
 * dump under the real name.  A failure is logged and the dump dropped;
 * nothing here raises an ERROR, and no lock is held while writing: items
 * are copied out in batches (store_dump_next) and written afterwards.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <unistd.h>

#include "access/xlog.h"
#include "common/file_perm.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "replication/walsender.h"
#include "replication/walsender_private.h"
#include "storage/fd.h"
#include "storage/latch.h"
#include "storage/procarray.h"
#include "utils/timestamp.h"

#include "pg_memshard.h"
#include "persist/persist_internal.h"
#include "store/store.h"

#define DUMP_WAIT_MS		10000	/* for the other backends to exit */
#define WRITE_BUFFER_SIZE	(1024 * 1024)
#define BATCH_ITEMS			8192
#define FLUSH_AFTER			(8 * 1024 * 1024)	/* start writeback every 8MB */

typedef struct DumpWriter
{
	int			fd;
	char	   *buf;
	Size		len;
	pg_crc32c	crc;
	bool		checksum;		/* flush adds to crc */
	bool		failed;
	off_t		written;		/* bytes written to the file */
	off_t		flushed;		/* of which handed to pg_flush_data */
} DumpWriter;

static bool wait_for_backends(void);
static int	other_backends(void);
static bool write_dump(DumpFooter *footer);
static void write_header(DumpWriter *writer);
static void write_items(DumpWriter *writer, DumpFooter *footer);
static void put(DumpWriter *writer, const void *data, Size len);
static void flush(DumpWriter *writer);

void
persist_dump_at_shutdown(void)
{
	TimestampTz started;
	DumpFooter	footer;

	if (!wait_for_backends())
		return;
	started = GetCurrentTimestamp();
	memset(&footer, 0, sizeof(footer));
	if (!write_dump(&footer))
		return;
	ereport(LOG,
			(errmsg("pg_memshard: wrote %lld items (%lld bytes of keys and values) of the cache to \"%s\" in %.3f s",
					(long long) footer.items, (long long) footer.bytes,
					DUMP_FILE,
					(double) (GetCurrentTimestamp() - started) / USECS_PER_SEC),
			 footer.skipped_expired > 0 ?
			 errdetail("%lld expired items were left out.",
					   (long long) footer.skipped_expired) : 0));
}

/* wait until no other process can write to the cache; false on timeout */
static bool
wait_for_backends(void)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   DUMP_WAIT_MS);
	int			left;

	while ((left = other_backends()) > 0)
	{
		if (GetCurrentTimestamp() >= deadline)
		{
			ereport(LOG,
					(errmsg("pg_memshard: the cache was not written to disk: %d other processes still run after %d s",
							left, DUMP_WAIT_MS / 1000),
					 errdetail("A dump is written at a clean shutdown, once every backend has exited.")));
			return false;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	return true;
}

/* processes of the proc array (we are not in it), walsenders excepted */
static int
other_backends(void)
{
	int			count = CountDBBackends(InvalidOid);
	int			i;

	for (i = 0; WalSndCtl != NULL && i < max_wal_senders; i++)
	{
		WalSnd	   *walsnd = &WalSndCtl->walsnds[i];
		pid_t		pid;

		SpinLockAcquire(&walsnd->mutex);
		pid = walsnd->pid;
		SpinLockRelease(&walsnd->mutex);
		if (pid != 0)
			count--;
	}
	return count;
}

static bool
write_dump(DumpFooter *footer)
{
	DumpWriter	writer;
	TimestampTz started = GetCurrentTimestamp();

	memset(&writer, 0, sizeof(writer));
	if (MakePGDirectory(DUMP_DIR) != 0 && errno != EEXIST)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("pg_memshard: could not create directory \"%s\": %m", DUMP_DIR)));
		return false;
	}
	writer.fd = OpenTransientFile(DUMP_TEMP_FILE,
								  O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
	if (writer.fd < 0)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("pg_memshard: could not create file \"%s\": %m", DUMP_TEMP_FILE)));
		return false;
	}
	writer.buf = palloc(WRITE_BUFFER_SIZE);
	INIT_CRC32C(writer.crc);
	writer.checksum = true;

	write_header(&writer);
	write_items(&writer, footer);
	footer->seconds = (double) (GetCurrentTimestamp() - started) / USECS_PER_SEC;
	put(&writer, footer, sizeof(DumpFooter));
	flush(&writer);
	FIN_CRC32C(writer.crc);
	if (!writer.failed)
	{
		/* the checksum itself is not part of what it covers */
		writer.checksum = false;
		put(&writer, &writer.crc, sizeof(pg_crc32c));
		flush(&writer);
	}
	if (!writer.failed && pg_fsync(writer.fd) != 0)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("pg_memshard: could not fsync file \"%s\": %m", DUMP_TEMP_FILE)));
		writer.failed = true;
	}
	if (CloseTransientFile(writer.fd) != 0 && !writer.failed)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("pg_memshard: could not close file \"%s\": %m", DUMP_TEMP_FILE)));
		writer.failed = true;
	}
	if (!writer.failed && durable_rename(DUMP_TEMP_FILE, DUMP_FILE, LOG) != 0)
		writer.failed = true;
	if (writer.failed)
		unlink(DUMP_TEMP_FILE);
	return !writer.failed;
}

static void
write_header(DumpWriter *writer)
{
	DumpHeader	header;
	StoreGlobalStats stats;

	store_global_stats(&stats);
	memset(&header, 0, sizeof(header));
	memcpy(header.magic, DUMP_MAGIC, sizeof(header.magic));
	header.format_version = DUMP_FORMAT_VERSION;
	header.header_size = sizeof(DumpHeader);
	strlcpy(header.library_version, MEMSHARD_VERSION,
			sizeof(header.library_version));
	header.system_identifier = GetSystemIdentifier();
	header.dump_lsn = GetXLogInsertRecPtr();
	header.timeline = GetWALInsertionTimeLine();
	header.partitions = store_partition_count();
	header.page_size = stats.page_size;
	header.memory_budget = stats.memory_budget;
	header.written_at = GetCurrentTimestamp();
	put(writer, &header, sizeof(header));
}

/* every item of the cache, a batch of one partition at a time */
static void
write_items(DumpWriter *writer, DumpFooter *footer)
{
	Size		bufsize = store_dump_buffer_size();
	char	   *buf = palloc(bufsize);
	StoreDumpItem *items = palloc(sizeof(StoreDumpItem) * BATCH_ITEMS);
	StoreDumpCursor cursor;
	DumpRecord	end;

	store_dump_start(&cursor);
	while (!cursor.done && !writer->failed)
	{
		int			n = store_dump_next(&cursor, buf, bufsize, items, BATCH_ITEMS);
		int			i;

		for (i = 0; i < n; i++)
		{
			DumpRecord	record;

			memset(&record, 0, sizeof(record));
			record.kind = DUMP_RECORD_ITEM;
			record.dboid = items[i].dboid;
			record.mapid = items[i].mapid;
			record.expire_at = items[i].expire_at;
			record.keylen = items[i].keylen;
			record.vallen = items[i].vallen;
			record.recent = items[i].recent ? 1 : 0;
			put(writer, &record, sizeof(record));
			put(writer, items[i].key, items[i].keylen);
			put(writer, items[i].value, items[i].vallen);
			footer->items++;
			footer->bytes += items[i].keylen + items[i].vallen;
		}
	}
	footer->skipped_expired = cursor.expired;
	memset(&end, 0, sizeof(end));
	end.kind = DUMP_RECORD_END;
	put(writer, &end, sizeof(end));
	pfree(items);
	pfree(buf);
}

/* append to the file through the buffer */
static void
put(DumpWriter *writer, const void *data, Size len)
{
	const char *p = data;

	while (len > 0 && !writer->failed)
	{
		Size		chunk = Min(len, WRITE_BUFFER_SIZE - writer->len);

		memcpy(writer->buf + writer->len, p, chunk);
		writer->len += chunk;
		p += chunk;
		len -= chunk;
		if (writer->len == WRITE_BUFFER_SIZE)
			flush(writer);
	}
}

/* write the buffer out, adding it to the checksum (one call per buffer) */
static void
flush(DumpWriter *writer)
{
	Size		done = 0;

	if (writer->checksum)
		COMP_CRC32C(writer->crc, writer->buf, writer->len);

	while (done < writer->len && !writer->failed)
	{
		ssize_t		n = write(writer->fd, writer->buf + done, writer->len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
		{
			if (n == 0)
				errno = ENOSPC;
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("pg_memshard: could not write file \"%s\": %m", DUMP_TEMP_FILE)));
			writer->failed = true;
		}
		else
			done += n;
	}
	writer->written += writer->len;
	writer->len = 0;

	/* let the kernel write out what we have so far while we go on */
	if (!writer->failed && writer->written - writer->flushed >= FLUSH_AFTER)
	{
		pg_flush_data(writer->fd, writer->flushed,
					  writer->written - writer->flushed);
		writer->flushed = writer->written;
	}
}
