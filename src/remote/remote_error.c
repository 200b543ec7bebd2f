/*-------------------------------------------------------------------------
 *
 * remote_error.c
 *		Why a call to a node failed (RemoteError): made, told apart, raised.
 *
 * Every file of the remote room reports a failure as a RemoteError whose
 * message already names the node; callers outside the room raise it with
 * remote_throw or handle it (a replica, a row of a view).  Nothing here
 * talks to a node, so the connection cache and the calls both use it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "remote/remote_internal.h"

/* a palloc'd error; the strings are copied */
RemoteError *
remote_error(int sqlstate, const char *message, const char *detail,
			 const char *hint)
{
	RemoteError *error = palloc0(sizeof(RemoteError));

	error->sqlstate = sqlstate;
	error->message = pstrdup(message);
	error->detail = detail ? pstrdup(detail) : NULL;
	error->hint = hint ? pstrdup(hint) : NULL;
	return error;
}

void
remote_throw(const RemoteCall *call)
{
	const RemoteError *error = call->error;

	Assert(error != NULL);
	ereport(ERROR,
			(errcode(error->sqlstate),
			 errmsg_internal("%s", error->message),
			 error->detail ? errdetail_internal("%s", error->detail) : 0,
			 error->hint ? errhint("%s", error->hint) : 0,
			 error->context ? errcontext("%s", error->context) : 0));
}

bool
remote_error_is_unreachable(const RemoteError *error)
{
	return error != NULL &&
		ERRCODE_TO_CATEGORY(error->sqlstate) == ERRCODE_CONNECTION_EXCEPTION;
}
