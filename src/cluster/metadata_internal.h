/*-------------------------------------------------------------------------
 *
 * metadata_internal.h
 *		Declarations shared by the files of the metadata change only:
 *		metadata_sync.c (a change and its two-phase commit),
 *		metadata_apply.c (a node's side of a change), metadata_lock.c (the
 *		metadata lock and the parts prepared here), metadata_recover.c
 *		(changes left in doubt), recovery_worker.c (the background worker
 *		that finishes them) and recovery_state.c (what they share in
 *		shared memory).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_METADATA_INTERNAL_H
#define MEMSHARD_METADATA_INTERNAL_H

#include "access/transam.h"
#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "storage/spin.h"

/*
 * The global transaction identifier of a node's part of a change:
 * memshard_<coordinator's system identifier>_<its database OID>_<its xid>_<node id>.
 * The prefix names the coordinator; the xid is its local transaction, in
 * which the change and its record (memshard.metadata_transactions) commit.
 */
typedef struct MetadataGid
{
	uint64		system_identifier;
	Oid			database;
	TransactionId xid;
	int32		node_id;
} MetadataGid;

/* the changes prepared in this database whose gid starts with $1, oldest first */
#define METADATA_PREPARED_QUERY \
	"SELECT p.gid FROM pg_catalog.pg_prepared_xacts p " \
	"WHERE p.database OPERATOR(pg_catalog.=) pg_catalog.current_database() " \
	"AND pg_catalog.starts_with(p.gid, $1) ORDER BY p.prepared"

/* metadata_lock.c */
extern char *metadata_gid_prefix(void);
extern bool metadata_gid_parse(const char *gid, MetadataGid *parsed);
extern bool metadata_lock(bool wait);
extern List *metadata_prepared_here(void);
extern List *metadata_coordinators_of(const MetadataGid *parsed);

/*
 * recovery_worker.c: the databases a launcher visits (a transaction of its
 * own), and a worker's description
 */
struct BackgroundWorker;
extern List *cluster_connectable_databases(void);
extern void cluster_fill_worker(struct BackgroundWorker *worker,
								const char *function, const char *type);

/* metadata_recover.c */
extern int	metadata_recover_coordinated(bool all_nodes, int *left);

/*
 * recovery_state.c; none of them can fail (commit callbacks call them).
 * What the worker should look at in a database soon: parts prepared there,
 * parts of changes made there left on other nodes, or both.
 */
#define RECOVER_PREPARED_HERE	0x01
#define RECOVER_COORDINATED		0x02
#define RECOVER_ALL				(RECOVER_PREPARED_HERE | RECOVER_COORDINATED)

extern void recovery_flag_database(Oid dboid, int what);
extern void recovery_count_resolved(int resolved);
extern bool recovery_note_problem(const char *problem);	/* true if new */

/*
 * recovery_state.c: the shared state of the recovery (RecoveryShared,
 * under its spinlock), which the launcher and its workers use directly.
 */
#define RECOVERY_MAX_FLAGGED 64

/* what the visit of a database found */
typedef enum VisitResult
{
	VISIT_FAILED,				/* the worker did not report (ERROR, no slot) */
	VISIT_NO_EXTENSION,
	VISIT_DONE,					/* nothing left to do there */
	VISIT_LEFT					/* something to look at again */
} VisitResult;

/* a database to visit, and what to look at there (RECOVER_*) */
typedef struct FlaggedDatabase
{
	Oid			dboid;
	int			what;
} FlaggedDatabase;

typedef struct RecoveryShared
{
	slock_t		mutex;
	bool		visit_all;		/* the next pass visits every database */
	int			nflagged;
	FlaggedDatabase flagged[RECOVERY_MAX_FLAGGED];	/* to visit next pass */
	int			visit_what;		/* what the visit running now looks at */
	VisitResult visit_result;	/* and what it found */
	uint64		resolved;		/* in-doubt parts finished since start */
	TimestampTz last_pass;		/* end of the worker's last pass, 0 none */
	char		problem[256];	/* why its last pass left one in doubt */
} RecoveryShared;

extern RecoveryShared *recovery_shared;

#endif							/* MEMSHARD_METADATA_INTERNAL_H */
