/*-------------------------------------------------------------------------
 *
 * persist_internal.h
 *		Declarations shared by the files of the persist room only: the dump
 *		file's format, the shared state, the reader and the writer.
 *
 * The dump file, in the byte order of the machine that wrote it:
 *
 *	 DumpHeader					magic, format and library versions, the
 *								cluster and WAL position it was written at
 *	 DumpRecord key value ...	one per item, in no particular order
 *	 DumpRecord (kind END)
 *	 DumpFooter					counts and the time the dump took
 *	 pg_crc32c					CRC-32C of every byte before it
 *
 * A dump is a list of items, not a memory image: it loads into a cache of
 * any size, partition count or page size.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_PERSIST_INTERNAL_H
#define MEMSHARD_PERSIST_INTERNAL_H

#include "access/xlogdefs.h"
#include "port/atomics.h"
#include "port/pg_crc32c.h"
#include "postmaster/bgworker.h"
#include "storage/spin.h"

#include "persist/persist.h"

/* under the data directory */
#define DUMP_DIR			"pg_memshard"
#define DUMP_FILE			DUMP_DIR "/cache.dump"
#define DUMP_TEMP_FILE		DUMP_DIR "/cache.dump.tmp"
#define DUMP_LOAD_FILE		DUMP_DIR "/cache.dump.load"	/* claimed for loading */

#define DUMP_MAGIC			"PGMSDUMP"
#define DUMP_FORMAT_VERSION	1
#define DUMP_MAX_VALUE		(16 * 1024 * 1024)	/* pg_memshard.max_item_size's limit */

typedef struct DumpHeader
{
	char		magic[8];
	uint32		format_version;
	uint32		header_size;	/* sizeof(DumpHeader) */
	char		library_version[16];
	uint64		system_identifier;
	XLogRecPtr	dump_lsn;		/* WAL insert position when it was written */
	TimeLineID	timeline;
	int32		partitions;		/* of the cache written out (for the logs) */
	int64		page_size;
	int64		memory_budget;
	TimestampTz written_at;
} DumpHeader;

#define DUMP_RECORD_ITEM	1
#define DUMP_RECORD_END		2

/* before each item's key and value */
typedef struct DumpRecord
{
	uint32		dboid;
	int32		mapid;
	TimestampTz expire_at;		/* 0: none; DT_NOEND: never */
	uint32		vallen;
	uint16		keylen;
	uint8		recent;			/* CLOCK reference set when written */
	uint8		kind;			/* DUMP_RECORD_ITEM or _END */
} DumpRecord;

typedef struct DumpFooter
{
	int64		items;
	int64		bytes;			/* keys and values */
	int64		skipped_expired;
	double		seconds;		/* writing it took */
} DumpFooter;

/* items of one database in a dump: [0] recently used, [1] the others */
typedef struct DumpDatabase
{
	Oid			dboid;
	int64		items[2];
} DumpDatabase;

/* what a verified dump holds */
typedef struct DumpSummary
{
	DumpHeader	header;
	DumpFooter	footer;
	int			ndatabases;
	DumpDatabase *databases;
} DumpSummary;

/* a buffered reader of a dump, computing the CRC of what it reads */
typedef struct DumpReader
{
	int			fd;
	char	   *buf;
	Size		len;
	Size		pos;
	Size		crc_pos;		/* buf[0 .. crc_pos) is in crc */
	pg_crc32c	crc;			/* of the bytes consumed (if checksum) */
	bool		checksum;		/* compute crc (the verification only) */
	int64		offset;			/* bytes consumed */
} DumpReader;

/* the loads's phases: recently used items of every database first */
#define LOAD_PHASE_RECENT	0x1
#define LOAD_PHASE_OTHERS	0x2

/* what a loader gets in bgw_extra */
typedef struct LoaderArgs
{
	Oid			dboid;
	int			phases;			/* LOAD_PHASE_ bits */
} LoaderArgs;

/* shared state (persist_state.c) */
typedef struct PersistShared
{
	slock_t		mutex;			/* the fields up to the counters */
	PersistStartState state;
	char		detail[256];
	/* pg_control as read at postmaster start */
	uint64		system_identifier;
	XLogRecPtr	checkpoint_lsn;
	TimeLineID	timeline;
	/* the dump read at this start */
	TimestampTz dump_written_at;
	int64		dump_items;
	int64		dump_bytes;
	double		dump_seconds;
	TimestampTz load_started;
	TimestampTz load_ended;
	pg_atomic_uint64 counters[PERSIST_NCOUNTERS];
} PersistShared;

extern PersistShared *persist_shared;

/* persist_state.c */
extern void persist_set_state(PersistStartState state, const char *detail);
extern bool persist_claim_load(void);
extern void persist_abandon_load(void);
extern void persist_count(PersistCounter counter, int64 n);
extern int64 persist_counter(PersistCounter counter);
extern void persist_remove_dumps(void);

/* dump_read.c */
extern bool dump_reader_open(DumpReader *reader, const char *path,
							 bool checksum);
extern void dump_reader_close(DumpReader *reader);
extern bool dump_read(DumpReader *reader, void *dest, Size len);
extern bool dump_skip(DumpReader *reader, Size len);
extern pg_crc32c dump_reader_crc(DumpReader *reader);
extern bool dump_read_record(DumpReader *reader, DumpRecord *record);
extern bool dump_verify(const char *path, DumpSummary *summary,
						char **reason);

/* dump.c */
extern void persist_dump_at_shutdown(void);

/* load.c */
extern void persist_load(void);

/*
 * The fields the persist worker and its loaders share (persist_worker.c
 * registers the one, load.c starts the others).
 */
static inline void
persist_fill_worker(BackgroundWorker *worker, const char *function,
					const char *name)
{
	memset(worker, 0, sizeof(BackgroundWorker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS;
	worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker->bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker->bgw_library_name, "pg_memshard", BGW_MAXLEN);
	strlcpy(worker->bgw_function_name, function, BGW_MAXLEN);
	strlcpy(worker->bgw_name, name, BGW_MAXLEN);
	strlcpy(worker->bgw_type, name, BGW_MAXLEN);
}

#endif							/* MEMSHARD_PERSIST_INTERNAL_H */
