/*-------------------------------------------------------------------------
 *
 * remote_options.c
 *		Options of FOREIGN DATA WRAPPER memshard: its validator, and the
 *		libpq keyword/value arrays built from a server and a user mapping.
 *
 * Nodes are foreign servers.  A server takes libpq's connection options
 * (host, hostaddr, port, dbname, connect_timeout, sslmode, ...), a user
 * mapping takes "user" and libpq's secret options (password, sslpassword)
 * plus sslcert/sslkey, as postgres_fdw's option.c arranges them.  Anything
 * else is rejected with the list of valid options in the HINT.  Debug
 * options and the ones we set ourselves (client_encoding,
 * fallback_application_name) are not accepted.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/reloptions.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "libpq-fe.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"

#include "remote/remote_internal.h"

/* one valid option and the catalog (object kind) it belongs to */
typedef struct NodeOption
{
	const char *keyword;
	Oid			context;		/* ForeignServerRelationId or
								 * UserMappingRelationId */
} NodeOption;

/* built once per backend from PQconndefaults(); malloc'd, never freed */
static NodeOption *node_options = NULL;

static void init_node_options(void);
static bool is_valid_option(const char *keyword, Oid context);
static char *valid_options_list(Oid context);

/*
 * Validate the options of a SERVER or USER MAPPING of FOREIGN DATA WRAPPER
 * memshard (the wrapper itself and foreign tables take none).
 */
void
remote_validate_options(List *options, Oid catalog)
{
	ListCell   *cell;

	init_node_options();

	foreach(cell, options)
	{
		DefElem    *def = (DefElem *) lfirst(cell);

		if (!is_valid_option(def->defname, catalog))
		{
			char	   *valid = valid_options_list(catalog);

			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\"", def->defname),
					 valid[0] != '\0'
					 ? errhint("Valid options in this context are: %s", valid)
					 : errhint("There are no valid options in this context.")));
		}

		/* a client certificate names server-side files: superuser only */
		if (catalog == UserMappingRelationId && !superuser() &&
			(strcmp(def->defname, "sslcert") == 0 ||
			 strcmp(def->defname, "sslkey") == 0))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("sslcert and sslkey are superuser-only"),
					 errhint("User mappings with the sslcert or sslkey options set may only be created or modified by the superuser.")));
	}
}

/*
 * Fill keywords/values (NULL-terminated) for PQconnectStartParams from a
 * server's and a user mapping's options.  The arrays are palloc'd.
 */
void
remote_connection_params(ForeignServer *server, UserMapping *user,
						 const char ***keywords, const char ***values)
{
	List	   *all = list_concat_copy(server->options, user->options);
	int			n = 0;
	ListCell   *lc;

	init_node_options();

	/* two extra slots for our own settings, one for the terminator */
	*keywords = palloc((list_length(all) + 3) * sizeof(char *));
	*values = palloc((list_length(all) + 3) * sizeof(char *));

	foreach(lc, all)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		(*keywords)[n] = def->defname;
		(*values)[n] = defGetString(def);
		n++;
	}
	(*keywords)[n] = "fallback_application_name";
	(*values)[n] = "pg_memshard";
	n++;
	/* values travel as bytes, but error messages are text */
	(*keywords)[n] = "client_encoding";
	(*values)[n] = GetDatabaseEncodingName();
	n++;
	(*keywords)[n] = (*values)[n] = NULL;
}

/*
 * Build the list of valid options from libpq's own list, once.  As in
 * postgres_fdw, "user" and secret options ('*' in dispchar) belong to user
 * mappings, everything else to servers.
 */
static void
init_node_options(void)
{
	PQconninfoOption *libpq_options;
	PQconninfoOption *lopt;
	NodeOption *opt;
	int			count = 0;

	if (node_options != NULL)
		return;

	libpq_options = PQconndefaults();
	if (libpq_options == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Could not get libpq's default connection options.")));

	for (lopt = libpq_options; lopt->keyword; lopt++)
		count++;

	/* room for sslcert and sslkey twice (servers and user mappings) */
	opt = malloc(sizeof(NodeOption) * (count + 3));
	if (opt == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	node_options = opt;

	for (lopt = libpq_options; lopt->keyword; lopt++)
	{
		if (strchr(lopt->dispchar, 'D') ||
			strcmp(lopt->keyword, "fallback_application_name") == 0 ||
			strcmp(lopt->keyword, "client_encoding") == 0)
			continue;

		/* libpq_options stays allocated, so keywords need no copy */
		opt->keyword = lopt->keyword;
		if (strcmp(lopt->keyword, "user") == 0 || strchr(lopt->dispchar, '*'))
			opt->context = UserMappingRelationId;
		else
			opt->context = ForeignServerRelationId;
		opt++;
	}
	opt->keyword = "sslcert";
	opt->context = UserMappingRelationId;
	opt++;
	opt->keyword = "sslkey";
	opt->context = UserMappingRelationId;
	opt++;
	opt->keyword = NULL;
}

static bool
is_valid_option(const char *keyword, Oid context)
{
	NodeOption *opt;

	for (opt = node_options; opt->keyword; opt++)
	{
		if (opt->context == context && strcmp(opt->keyword, keyword) == 0)
			return true;
	}
	return false;
}

/* "a, b, c": the options valid for one kind of object */
static char *
valid_options_list(Oid context)
{
	StringInfoData buf;
	NodeOption *opt;

	initStringInfo(&buf);
	for (opt = node_options; opt->keyword; opt++)
	{
		if (opt->context == context)
			appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "", opt->keyword);
	}
	return buf.data;
}
