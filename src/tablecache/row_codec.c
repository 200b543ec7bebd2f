/*-------------------------------------------------------------------------
 *
 * row_codec.c
 *		Primary keys to bytes, and rows to item values and back.
 *
 * A key is the store key of a row and the name of its marks, so two keys
 * equal under the primary key's operator must give the same bytes, whether
 * they come from the row (the trigger) or from get_row's argument.  That
 * holds for the types whose btree equality is equality of a canonical
 * form; only those are accepted as key columns: the integers, oid, bool,
 * "char", date, time, timestamp, timestamptz, uuid, name, enums, bytea,
 * and text, varchar and char(n) under a deterministic collation (char(n)
 * without its trailing blanks, which its equality ignores).  Numeric (1.0
 * = 1.00), floats (-0 = 0), interval ('1 day' = '24 hours') and
 * nondeterministic collations are refused by cache_table.  Columns are
 * concatenated; variable-length ones carry a length word.
 *
 * An item's value is the row as a composite Datum (what "SELECT t FROM
 * table t" returns: the table's row type, toasted fields inlined, every
 * physical column) followed by a 24-byte trailer: the table's generation
 * and the key's version when the lease to fill it was granted, the row's
 * xmin (REPEATABLE READ serves an item only if its snapshot sees that
 * xmin), and a magic number.  The trailer
 * is at the end so that the value read from the store is, at offset 0,
 * the Datum get_row returns.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/tupmacs.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "tablecache/tablecache_internal.h"

#define TC_VALUE_MAGIC	0x7463726F	/* "tcro" */
#define TC_TABLE_SEED_XOR UINT64CONST(0x9E3779B97F4A7C15)

typedef struct TcTrailer
{
	uint64		generation;
	uint64		version;
	TransactionId xmin;
	uint32		magic;
} TcTrailer;

static bool key_type_allowed(Oid typid);

/* see the header comment */
static bool
key_type_allowed(Oid typid)
{
	switch (typid)
	{
		case BOOLOID:
		case CHAROID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case OIDOID:
		case DATEOID:
		case TIMEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
		case UUIDOID:
		case NAMEOID:
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case BYTEAOID:
			return true;
		default:
			return type_is_enum(typid);
	}
}

/*
 * Describe key column attnum of rel (a column of its primary key, with the
 * index's operator family, input type and collation).  A column that
 * cannot be a cache key: ERROR for cache_table, false otherwise.
 */
bool
tc_key_column_init(TcKeyColumn *col, Relation rel, AttrNumber attnum,
				   Oid opfamily, Oid opcintype, Oid indcollation,
				   bool for_cache_table)
{
	Form_pg_attribute attr;

	if (attnum <= 0 || attnum > RelationGetNumberOfAttributes(rel))
		return false;
	attr = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
	memset(col, 0, sizeof(TcKeyColumn));
	strlcpy(col->name, NameStr(attr->attname), NAMEDATALEN);
	col->attnum = attnum;
	col->typid = getBaseType(attr->atttypid);

	if (!key_type_allowed(col->typid))
	{
		if (for_cache_table)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot cache table \"%s\": primary key column \"%s\" is of type %s",
							RelationGetRelationName(rel), col->name,
							format_type_be(attr->atttypid)),
					 errdetail("Rows are cached by keys of type smallint, integer, bigint, oid, boolean, \"char\", date, time, timestamp, timestamptz, uuid, name, text, varchar, char(n), bytea, an enum, or a domain over one of them.")));
		return false;
	}
	if (OidIsValid(indcollation) && !get_collation_isdeterministic(indcollation))
	{
		if (for_cache_table)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot cache table \"%s\": primary key column \"%s\" has a nondeterministic collation",
							RelationGetRelationName(rel), col->name),
					 errdetail("Keys equal under a nondeterministic collation can differ in their bytes.")));
		return false;
	}

	get_typlenbyval(col->typid, &col->typlen, &col->typbyval);
	if (col->typbyval)
		col->kind = TC_KEY_BYVAL;
	else if (col->typlen > 0)
		col->kind = TC_KEY_FIXED;
	else if (col->typid == BPCHAROID)
		col->kind = TC_KEY_BPCHAR;
	else
		col->kind = TC_KEY_VARLENA;

	col->eqop = get_opfamily_member(opfamily, opcintype, opcintype,
									BTEqualStrategyNumber);
	if (!OidIsValid(col->eqop))
		elog(ERROR, "no equality operator for column \"%s\" in operator family %u",
			 col->name, opfamily);
	col->eqproc = get_opcode(col->eqop);
	col->collation = indcollation;
	return true;
}

/* a key being built: in the caller's buffer, moved to palloc'd memory if it outgrows it */
typedef struct KeyBuf
{
	char	   *data;
	int			len;
	int			size;
	bool		own;			/* data is palloc'd */
} KeyBuf;

static void
key_append(KeyBuf *buf, const void *bytes, int n)
{
	if (buf->len + n > buf->size)
	{
		int			size = Max(buf->size * 2, buf->len + n);
		char	   *data = palloc(size);

		memcpy(data, buf->data, buf->len);
		if (buf->own)
			pfree(buf->data);
		buf->data = data;
		buf->size = size;
		buf->own = true;
	}
	memcpy(buf->data + buf->len, bytes, n);
	buf->len += n;
}

/* append one key column's canonical bytes */
static void
append_key_column(KeyBuf *buf, const TcKeyColumn *col, Datum value)
{
	switch (col->kind)
	{
		case TC_KEY_BYVAL:
			{
				char		tmp[sizeof(Datum)];

				store_att_byval(tmp, value, col->typlen);
				key_append(buf, tmp, col->typlen);
				break;
			}
		case TC_KEY_FIXED:
			key_append(buf, DatumGetPointer(value), col->typlen);
			break;
		case TC_KEY_VARLENA:
		case TC_KEY_BPCHAR:
			{
				struct varlena *v = PG_DETOAST_DATUM_PACKED(value);
				const char *data = VARDATA_ANY(v);
				uint32		len = VARSIZE_ANY_EXHDR(v);

				if (col->kind == TC_KEY_BPCHAR)
					while (len > 0 && data[len - 1] == ' ')
						len--;
				key_append(buf, &len, sizeof(len));
				key_append(buf, data, len);
				break;
			}
	}
}

/*
 * The key of values (one per key column, of its type): in 'space' (size
 * bytes, the caller's) when it fits, else palloc'd.
 */
char *
tc_key_encode(const TcTable *table, const Datum *values, char *space,
			  int size, int *keylen)
{
	KeyBuf		buf = {space, 0, size, false};
	int			i;

	for (i = 0; i < table->nkeys; i++)
		append_key_column(&buf, &table->keys[i], values[i]);
	*keylen = buf.len;
	return buf.data;
}

/* the key of a row of the entry's relation (a cached table or a partition) */
char *
tc_key_from_tuple(const TcTable *entry, HeapTuple tuple, TupleDesc desc,
				  int *keylen)
{
	Datum		values[INDEX_MAX_KEYS];
	int			i;

	for (i = 0; i < entry->nkeys; i++)
	{
		bool		isnull;

		values[i] = heap_getattr(tuple, entry->keys[i].attnum, desc, &isnull);
		if (isnull)
			elog(ERROR, "primary key column \"%s\" is null", entry->keys[i].name);
	}
	return tc_key_encode(entry, values, NULL, 0, keylen);
}

/* the hash naming a key's marks and leases: database, table, key */
uint64
tc_key_hash(Oid relid, const char *key, int keylen)
{
	uint64		seed = ((uint64) MyDatabaseId << 32) | relid;

	return hash_bytes_extended((const unsigned char *) key, keylen, seed);
}

/* the hash naming the table's own marks (TRUNCATE, DDL, many keys) */
uint64
tc_table_hash(Oid relid)
{
	uint64		seed = (((uint64) MyDatabaseId << 32) | relid) ^ TC_TABLE_SEED_XOR;

	return hash_bytes_extended((const unsigned char *) "", 0, seed);
}

/* an item's value: the row's bytes and the trailer (palloc'd) */
char *
tc_value_encode(HeapTupleHeader row, uint64 generation, uint64 version,
				TransactionId xmin, int *vallen)
{
	uint32		len = HeapTupleHeaderGetDatumLength(row);
	TcTrailer	trailer;
	char	   *value = palloc(len + sizeof(TcTrailer));

	memcpy(value, row, len);
	trailer.generation = generation;
	trailer.version = version;
	trailer.xmin = xmin;
	trailer.magic = TC_VALUE_MAGIC;
	memcpy(value + len, &trailer, sizeof(TcTrailer));
	*vallen = len + sizeof(TcTrailer);
	return value;
}

/*
 * Check an item's value and read its trailer; the row is at value (a
 * HeapTupleHeader).  False for anything that is not what tc_value_encode
 * made.
 */
bool
tc_value_decode(char *value, int vallen, uint64 *generation,
				uint64 *version, TransactionId *xmin)
{
	TcTrailer	trailer;

	if (vallen < (int) (sizeof(TcTrailer) + SizeofHeapTupleHeader))
		return false;
	memcpy(&trailer, value + vallen - sizeof(TcTrailer), sizeof(TcTrailer));
	if (trailer.magic != TC_VALUE_MAGIC ||
		VARSIZE(value) != (Size) vallen - sizeof(TcTrailer))
		return false;
	*generation = trailer.generation;
	*version = trailer.version;
	*xmin = trailer.xmin;
	return true;
}
