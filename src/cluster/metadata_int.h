/*-------------------------------------------------------------------------
 *
 * metadata_int.h
 *		Declarations shared by the files of the metadata change only:
 *		metadata_sync.c (a change and its two-phase commit),
 *		metadata_apply.c (a node's side of a change), metadata_recover.c
 *		(changes left in doubt) and recovery_worker.c (the background
 *		worker that finishes them).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_METADATA_INT_H
#define MEMSHARD_METADATA_INT_H

#include "access/transam.h"

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

/* metadata_sync.c, metadata_apply.c */
extern void metadata_register_callbacks(void);
extern void metadata_apply_done(void);

/* metadata_recover.c */
extern char *metadata_gid_prefix(void);
extern bool metadata_gid_parse(const char *gid, MetadataGid *parsed);
extern bool metadata_lock(bool wait);
extern int	metadata_recover_coordinated(bool all_nodes, int *left);

/*
 * recovery_worker.c; none of them can fail (commit callbacks call them).
 * What the worker should look at in a database soon: parts prepared there,
 * parts of changes made there left on other nodes, or both.
 */
#define RECOVER_PREPARED_HERE	0x01
#define RECOVER_COORDINATED		0x02
#define RECOVER_ALL				(RECOVER_PREPARED_HERE | RECOVER_COORDINATED)

extern void recovery_flag_database(Oid dboid, int what);
extern void recovery_count_resolved(int resolved);
extern bool recovery_note_problem(const char *problem);	/* true if new */

#endif							/* MEMSHARD_METADATA_INT_H */
