/*-------------------------------------------------------------------------
 *
 * dump_read.c
 *		Reading a cache dump: a buffered reader, and the verification of a
 *		whole file before anything of it is loaded.
 *
 * dump_verify reads the file once from end to end: the header must be
 * ours (magic, format version, library version) and belong to the
 * shutdown that preceded this start (system identifier, timeline, written
 * before the checkpoint pg_control shows), every record must be well
 * formed, the footer's counts must match, the CRC-32C of the whole file
 * must be right and nothing may follow it.  Any failure is a reason, which
 * the caller logs before starting with an empty cache: a corrupt,
 * truncated or foreign dump is refused whole, never half loaded.
 *
 * The same pass counts the items of each database, recently used or not,
 * which is how the loads are planned (load.c).  Runs in the persist
 * worker, with no lock held; it only reads files and its own memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <unistd.h>

#include "storage/fd.h"
#include "utils/timestamp.h"

#include "pg_memshard.h"
#include "persist/persist_internal.h"
#include "store/store.h"

#define READ_BUFFER_SIZE	(1024 * 1024)

static void checksum_consumed(DumpReader *reader);
static bool refill(DumpReader *reader);
static bool record_valid(const DumpRecord *record);
static const char *check_header(const DumpHeader *header);
static const char *read_items(DumpReader *reader, DumpSummary *summary);
static void count_item(DumpSummary *summary, const DumpRecord *record);

bool
dump_reader_open(DumpReader *reader, const char *path, bool checksum)
{
	memset(reader, 0, sizeof(DumpReader));
	reader->checksum = checksum;
	reader->fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (reader->fd < 0)
		return false;
	reader->buf = palloc(READ_BUFFER_SIZE);
	INIT_CRC32C(reader->crc);
	return true;
}

void
dump_reader_close(DumpReader *reader)
{
	if (reader->fd >= 0)
		CloseTransientFile(reader->fd);
	reader->fd = -1;
	if (reader->buf)
		pfree(reader->buf);
	reader->buf = NULL;
}

/* add the bytes consumed since the last time to the checksum */
static void
checksum_consumed(DumpReader *reader)
{
	if (reader->checksum && reader->pos > reader->crc_pos)
		COMP_CRC32C(reader->crc, reader->buf + reader->crc_pos,
					reader->pos - reader->crc_pos);
	reader->crc_pos = reader->pos;
}

/* the CRC-32C of every byte consumed so far */
pg_crc32c
dump_reader_crc(DumpReader *reader)
{
	pg_crc32c	crc;

	checksum_consumed(reader);
	crc = reader->crc;
	FIN_CRC32C(crc);
	return crc;
}

/* read more of the file; false at its end (or on an error: errno set) */
static bool
refill(DumpReader *reader)
{
	ssize_t		got;

	checksum_consumed(reader);
	reader->len = reader->pos = reader->crc_pos = 0;
	do
	{
		got = read(reader->fd, reader->buf, READ_BUFFER_SIZE);
	} while (got < 0 && errno == EINTR);
	if (got <= 0)
		return false;
	reader->len = got;
	return true;
}

/* the next len bytes (NULL dest: skipped); false if the file ends first */
bool
dump_read(DumpReader *reader, void *dest, Size len)
{
	char	   *out = dest;

	while (len > 0)
	{
		Size		chunk;

		if (reader->pos == reader->len && !refill(reader))
			return false;
		chunk = Min(len, reader->len - reader->pos);
		if (out)
		{
			memcpy(out, reader->buf + reader->pos, chunk);
			out += chunk;
		}
		reader->pos += chunk;
		reader->offset += chunk;
		len -= chunk;
	}
	return true;
}

bool
dump_skip(DumpReader *reader, Size len)
{
	return dump_read(reader, NULL, len);
}

static bool
record_valid(const DumpRecord *record)
{
	if (record->kind == DUMP_RECORD_END)
		return true;
	return record->kind == DUMP_RECORD_ITEM &&
		record->keylen > 0 && record->keylen <= MEMSHARD_MAX_KEY_SIZE &&
		record->vallen <= DUMP_MAX_VALUE;
}

/* the next record's header; false if the file ends or it is malformed */
bool
dump_read_record(DumpReader *reader, DumpRecord *record)
{
	return dump_read(reader, record, sizeof(DumpRecord)) &&
		record_valid(record);
}

/*
 * Verify a whole dump; on success fill 'summary' (palloc'd) and return
 * true, else set *reason.
 */
bool
dump_verify(const char *path, DumpSummary *summary, char **reason)
{
	DumpReader	reader;
	const char *problem;
	pg_crc32c	computed;
	pg_crc32c	stored;
	char		extra;

	memset(summary, 0, sizeof(DumpSummary));
	if (!dump_reader_open(&reader, path, true))
	{
		*reason = psprintf("could not open it: %m");
		return false;
	}
	if (!dump_read(&reader, &summary->header, sizeof(DumpHeader)))
		problem = "it is truncated (no complete header)";
	else
		problem = check_header(&summary->header);
	if (problem == NULL)
		problem = read_items(&reader, summary);
	if (problem == NULL)
	{
		computed = dump_reader_crc(&reader);
		if (!dump_read(&reader, &stored, sizeof(pg_crc32c)))
			problem = "it is truncated (no checksum)";
		else if (!EQ_CRC32C(stored, computed))
			problem = "its checksum does not match: the file is corrupt";
		else if (dump_read(&reader, &extra, 1))
			problem = "bytes follow its checksum: the file is corrupt";
	}
	dump_reader_close(&reader);
	if (problem != NULL)
		*reason = pstrdup(problem);
	return problem == NULL;
}

/* why a header is not one we may load, or NULL */
static const char *
check_header(const DumpHeader *header)
{
	if (memcmp(header->magic, DUMP_MAGIC, sizeof(header->magic)) != 0)
		return "it is not a pg_memshard cache dump";
	if (header->format_version != DUMP_FORMAT_VERSION ||
		header->header_size != sizeof(DumpHeader))
		return psprintf("it has format version %u, this library reads version %d",
						header->format_version, DUMP_FORMAT_VERSION);
	if (strncmp(header->library_version, MEMSHARD_VERSION,
				sizeof(header->library_version)) != 0)
		return psprintf("it was written by pg_memshard %.*s, this is %s",
						(int) sizeof(header->library_version) - 1,
						header->library_version, MEMSHARD_VERSION);
	if (header->system_identifier != persist_shared->system_identifier)
		return psprintf("it was written by another database cluster (system identifier "
						UINT64_FORMAT ", this one " UINT64_FORMAT ")",
						header->system_identifier,
						persist_shared->system_identifier);
	if (header->timeline != persist_shared->timeline ||
		header->dump_lsn > persist_shared->checkpoint_lsn)
		return "it was not written at the shutdown that preceded this start";
	return NULL;
}

/* every record up to the end record, then the footer */
static const char *
read_items(DumpReader *reader, DumpSummary *summary)
{
	DumpRecord	record;
	int64		items = 0;
	int64		bytes = 0;

	for (;;)
	{
		if (!dump_read(reader, &record, sizeof(DumpRecord)))
			return "it is truncated";
		if (!record_valid(&record))
			return "it holds a malformed record: the file is corrupt";
		if (record.kind == DUMP_RECORD_END)
			break;
		if (!dump_skip(reader, (Size) record.keylen + record.vallen))
			return "it is truncated";
		count_item(summary, &record);
		items++;
		bytes += record.keylen + record.vallen;
		if (items % 65536 == 0)
			store_load_progress();
	}
	if (!dump_read(reader, &summary->footer, sizeof(DumpFooter)))
		return "it is truncated (no footer)";
	if (summary->footer.items != items || summary->footer.bytes != bytes)
		return "its item count does not match its footer: the file is corrupt";
	return NULL;
}

static void
count_item(DumpSummary *summary, const DumpRecord *record)
{
	int			i;

	for (i = 0; i < summary->ndatabases; i++)
	{
		if (summary->databases[i].dboid == record->dboid)
			break;
	}
	if (i == summary->ndatabases)
	{
		/* room for 8, then doubled each time a power of two is full */
		if (i == 0)
			summary->databases = palloc0(sizeof(DumpDatabase) * 8);
		else if (i >= 8 && (i & (i - 1)) == 0)
			summary->databases = repalloc(summary->databases,
										  sizeof(DumpDatabase) * i * 2);
		summary->databases[i].dboid = record->dboid;
		summary->databases[i].items[0] = summary->databases[i].items[1] = 0;
		summary->ndatabases++;
	}
	summary->databases[i].items[record->recent ? 0 : 1]++;
}
