/*-------------------------------------------------------------------------
 *
 * resp_auth.c
 *		AUTH against PostgreSQL roles, and what a role may do over RESP.
 *
 * A Redis user is a PostgreSQL role: AUTH user password checks the
 * password against what pg_authid stores (SCRAM-SHA-256 or md5), exactly
 * as a password login does (get_role_password, plain_crypt_verify: an
 * expired password or a role without LOGIN fails).  Every failure gives
 * Redis's one WRONGPASS text, so a client cannot tell a missing role from a
 * wrong password.
 *
 * What a role may do over RESP is what it may do in SQL: a command needs
 * EXECUTE on the data functions it stands for (memshard.get for GET,
 * memshard.set for SET, memshard.flush, an admin function, for FLUSHDB...;
 * see RESP_PERM_ in resp.h).  The answers are kept per client and asked
 * again after any change of functions, roles or role memberships (syscache
 * invalidations), so a REVOKE takes effect at the client's next command.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "libpq/crypt.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "resp/resp.h"

/* generation of the permission answers: bumped by invalidations */
static uint64 acl_generation = 1;
static Oid	function_oids[RESP_NPERMS];
static uint64 function_oids_gen = 0;

static void
acl_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	acl_generation++;
}

void
resp_auth_init(void)
{
	CacheRegisterSyscacheCallback(PROCOID, acl_invalidate, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHOID, acl_invalidate, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, acl_invalidate, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, acl_invalidate, (Datum) 0);
}

/* memshard.<name>(types...), InvalidOid when the extension is not there */
static Oid
data_function(const char *name, int nargs, const Oid *types)
{
	List	   *names = list_make2(makeString("memshard"), makeString((char *) name));

	return LookupFuncName(names, nargs, types, true);
}

/* the OIDs of the data functions, one per RESP_PERM_ bit */
static void
lookup_functions(void)
{
	Oid			text2[] = {TEXTOID, TEXTOID};
	Oid			set[] = {TEXTOID, TEXTOID, TEXTOID, INTERVALOID};
	Oid			mget[] = {TEXTOID, TEXTARRAYOID};
	Oid			mset[] = {TEXTOID, TEXTARRAYOID, TEXTARRAYOID, INTERVALOID};
	Oid			incr[] = {TEXTOID, TEXTOID, INT8OID, INTERVALOID};
	Oid			touch[] = {TEXTOID, TEXTOID, INTERVALOID};
	Oid			flush[] = {TEXTOID};

	if (function_oids_gen == acl_generation)
		return;
	function_oids[0] = data_function("get", 2, text2);
	function_oids[1] = data_function("set", 4, set);
	function_oids[2] = data_function("mget", 2, mget);
	function_oids[3] = data_function("mset", 4, mset);
	function_oids[4] = data_function("delete", 2, text2);
	function_oids[5] = data_function("incr", 4, incr);
	function_oids[6] = data_function("touch", 3, touch);
	function_oids[7] = data_function("flush", 1, flush);
	function_oids_gen = acl_generation;
}

/* may the client's role run a command needing 'perms'? (in a transaction) */
bool
resp_allowed(RespClient *c, uint32 perms)
{
	if (c->perms_gen != acl_generation)
	{
		int			i;

		lookup_functions();
		c->perms = 0;
		for (i = 0; i < RESP_NPERMS && OidIsValid(c->roleid); i++)
		{
			if (OidIsValid(function_oids[i]) &&
				pg_proc_aclcheck(function_oids[i], c->roleid,
								 ACL_EXECUTE) == ACLCHECK_OK)
				c->perms |= (1 << i);
		}
		c->perms_gen = acl_generation;
	}
	return (c->perms & perms) == perms;
}

void
resp_set_role(RespClient *c, Oid roleid, const char *name)
{
	c->roleid = roleid;
	if (c->rolename)
		pfree(c->rolename);
	c->rolename = MemoryContextStrdup(TopMemoryContext, name);
	c->authenticated = true;
	c->perms_gen = 0;
}

/*
 * Check user/password as a password login would; on success the client
 * runs as that role.  "default" (and AUTH with a password only) means
 * pg_memshard.resp_default_user.
 */
bool
resp_authenticate(RespClient *c, const char *user, const char *password)
{
	const char *logdetail = NULL;
	HeapTuple	tuple;
	Oid			roleid;
	bool		canlogin;
	char	   *shadow;

	if (strcmp(user, "default") == 0 && resp_default_user[0] != '\0')
		user = resp_default_user;
	tuple = SearchSysCache1(AUTHNAME, PointerGetDatum(user));
	if (!HeapTupleIsValid(tuple))
		return false;
	roleid = ((Form_pg_authid) GETSTRUCT(tuple))->oid;
	canlogin = ((Form_pg_authid) GETSTRUCT(tuple))->rolcanlogin;
	ReleaseSysCache(tuple);

	shadow = canlogin ? get_role_password(user, &logdetail) : NULL;
	if (shadow == NULL ||
		plain_crypt_verify(user, shadow, password, &logdetail) != STATUS_OK)
	{
		ereport(LOG,
				(errmsg("pg_memshard resp: password authentication failed for user \"%s\" from %s",
						user, c->addr),
				 logdetail ? errdetail_log("%s", logdetail) : 0));
		return false;
	}
	resp_set_role(c, roleid, user);
	return true;
}
