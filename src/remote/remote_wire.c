/*-------------------------------------------------------------------------
 *
 * remote_wire.c
 *		Binary parameters for calls to nodes.
 *
 * Keys and values travel as one-dimensional text[] and bytea[] arrays in
 * binary format (array_send's layout), so that a batch of keys needs no
 * quoting or escaping and values are sent as the bytes they are.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"

#include "remote/remote.h"

static char *binary_array(Oid elemtype, const char *const *elems,
						  const int *lengths, int nelems, int *size);

char *
remote_binary_text_array(const char *const *elems, const int *lengths,
						 int nelems, int *size)
{
	return binary_array(TEXTOID, elems, lengths, nelems, size);
}

char *
remote_binary_bytea_array(const char *const *elems, const int *lengths,
						  int nelems, int *size)
{
	return binary_array(BYTEAOID, elems, lengths, nelems, size);
}

/* array_send's layout; a NULL element (elems[i] == NULL) is sent as such */
static char *
binary_array(Oid elemtype, const char *const *elems, const int *lengths,
			 int nelems, int *size)
{
	StringInfoData buf;
	bool		hasnull = false;
	int			i;

	for (i = 0; i < nelems; i++)
		hasnull |= (elems[i] == NULL);

	initStringInfo(&buf);
	pq_sendint32(&buf, nelems > 0 ? 1 : 0);	/* dimensions */
	pq_sendint32(&buf, hasnull ? 1 : 0);
	pq_sendint32(&buf, elemtype);
	if (nelems > 0)
	{
		pq_sendint32(&buf, nelems);
		pq_sendint32(&buf, 1);	/* lower bound */
	}
	for (i = 0; i < nelems; i++)
	{
		if (elems[i] == NULL)
		{
			pq_sendint32(&buf, -1);
			continue;
		}
		pq_sendint32(&buf, lengths[i]);
		pq_sendbytes(&buf, elems[i], lengths[i]);
	}
	*size = buf.len;
	return buf.data;
}
