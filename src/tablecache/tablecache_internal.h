/*-------------------------------------------------------------------------
 *
 * tablecache_internal.h
 *		Declarations shared by the files of src/tablecache.
 *
 * catalog.c	memshard.table_catalog and the per-backend cache of tables
 *				(TcTable), kept fresh by relcache invalidations
 * row_codec.c	primary keys <-> bytes; rows <-> item values
 * invalidate.c	the row and TRUNCATE trigger, marks at commit, xact callbacks
 * reader.c		the read path: hit, lease, read the table, fill
 * tc_remote.c	rows held by other nodes (a table cached over nodes)
 * get_row.c	get_row and get_rows
 * cache_table.c cache_table, uncache_table, DROP TABLE, cached_tables
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_TABLECACHE_INTERNAL_H
#define MEMSHARD_TABLECACHE_INTERNAL_H

#include "access/htup.h"
#include "executor/spi.h"
#include "utils/relcache.h"

#include "store/store.h"

/* names the extension script gives */
#define TC_SCHEMA			"memshard"
#define TC_CATALOG_TABLE	"table_catalog"
#define TC_CATALOG_INDEX	"table_catalog_pkey"
#define TC_TRIGGER_FUNCTION "tablecache_trigger"
#define TC_ROW_TRIGGER		"memshard_tablecache"
#define TC_TRUNCATE_TRIGGER "memshard_tablecache_truncate"

/* how a key column is turned into bytes */
typedef enum TcKeyKind
{
	TC_KEY_BYVAL,				/* the Datum's typlen bytes */
	TC_KEY_FIXED,				/* typlen bytes at the pointer (uuid, name) */
	TC_KEY_VARLENA,				/* length word and the bytes */
	TC_KEY_BPCHAR				/* the same, trailing blanks stripped */
} TcKeyKind;

typedef struct TcKeyColumn
{
	char		name[NAMEDATALEN];
	AttrNumber	attnum;			/* in the relation of this entry */
	Oid			typid;			/* base type of the column: the key's type */
	int16		typlen;
	bool		typbyval;
	TcKeyKind	kind;
	Oid			eqop;			/* equality operator of the primary key's opclass */
	RegProcedure eqproc;		/* its function, for index scan keys */
	Oid			collation;		/* the primary key's collation of the column */
} TcKeyColumn;

/*
 * A relation as the table cache sees it, per backend.  For a cached table
 * 'root' is its own OID; for a partition of one (at any depth), the cached
 * table's, and 'keys' give the key columns' numbers in the partition; for
 * any other relation root is InvalidOid (a negative entry).  The root's
 * entry has everything else.  An entry is rebuilt after a relcache
 * invalidation of the relation, its root or the catalog; a pointer is good
 * until the next call into catalog.c.
 */
typedef struct TcTable
{
	Oid			relid;			/* hash key */
	bool		valid;
	Oid			root;
	int			nkeys;
	TcKeyColumn keys[INDEX_MAX_KEYS];
	/* the root's entry only */
	char		mapname[NAMEDATALEN];
	int32		mapid;
	Oid			rowtype;
	Oid			pkindex;		/* the primary key's index */
	bool		partitioned;	/* rows are read through SPI (partition routing) */
	int64		ttl_ms;
	StoreMapOptions opts;
	bool		usable;			/* its triggers are there: the cache may serve */
	bool		over_nodes;		/* its map is over nodes (tc_remote.c) */
	bool		rowsecurity;	/* relrowsecurity: reads go to the table */
	TransactionId class_xmin;	/* xmin of its pg_class row (own DDL: bypass) */
	TransactionId catalog_xmin; /* xmin of its table_catalog row */
	LocalTransactionId written_lxid;	/* this backend's xact wrote to it */
	int			slot;			/* store handle, -1 until attached */
	int			scope;			/* marks scope, -1 until attached */
	uint64		thash;			/* hash marking the whole table */
	SPIPlanPtr	plan;			/* SELECT t, t.xmin FROM ... WHERE key = $n */
} TcTable;

/* catalog.c */
extern Oid	tc_catalog_relid(bool missing_ok);
extern TcTable *tc_lookup(Oid relid);
extern TcTable *tc_root(TcTable *entry);
extern bool tc_catalog_find(Oid relid, char *mapname);
extern void tc_catalog_insert(Oid relid, const char *mapname, int nkeys,
							  const char **keynames, Datum ttl, bool ttl_null,
							  int64 max_memory, Datum nodes, bool nodes_null);
extern bool tc_catalog_delete(Oid relid, char *mapname);
extern List *tc_catalog_list(void);
extern SPIPlanPtr tc_table_plan(TcTable *table);
extern void tc_catalog_end_of_xact(void);
extern void tc_forget_all(void);

/* one row of memshard.table_catalog, for cached_tables */
typedef struct TcCatalogRow
{
	Oid			relid;
	char		mapname[NAMEDATALEN];
	Datum		key_columns;	/* name[] */
	bool		ttl_null;
	Datum		ttl;
	int64		max_memory;		/* 0: none */
} TcCatalogRow;

/* row_codec.c */
extern bool tc_key_column_init(TcKeyColumn *col, Relation rel,
							   AttrNumber attnum, Oid opfamily, Oid opcintype,
							   Oid indcollation, bool for_cache_table);
extern char *tc_key_encode(const TcTable *table, const Datum *values,
						   char *space, int size, int *keylen);
extern char *tc_key_from_tuple(const TcTable *entry, HeapTuple tuple,
							   TupleDesc desc, int *keylen);
extern uint64 tc_key_hash(Oid relid, const char *key, int keylen);
extern uint64 tc_table_hash(Oid relid);
extern char *tc_value_encode(HeapTupleHeader row, uint64 generation,
							 uint64 version, TransactionId xmin, int *vallen);
extern bool tc_value_decode(char *value, int vallen, uint64 *generation,
							uint64 *version, TransactionId *xmin);

/* invalidate.c */
extern void tc_note_written(TcTable *root);
extern void tc_release_at_end(int32 mapid, Oid relid, bool at_commit);

/* tc_remote.c */
extern bool tc_key_place(TcTable *table, const char *key, int keylen,
						 Oid *serverid);
extern char *tc_remote_get(TcTable *table, Oid serverid, const char *key,
						   int keylen, int *vallen);
extern bool tc_remote_set(TcTable *table, Oid serverid, const char *key,
						  int keylen, const char *value, int vallen,
						  int64 ttl_ms);

/* reader.c */
extern bool tc_read(TcTable *table, const Datum *keyvals, Datum *result);
extern void tc_attach(TcTable *table);
extern void tc_lease_release(int nestlevel);
extern void tc_test_wait(int key);

#endif							/* MEMSHARD_TABLECACHE_INTERNAL_H */
