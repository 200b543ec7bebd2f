# A plain role must never get the rights of another role through the SQL
# that pg_memshard runs internally (issue 9, part 1).  The cluster's queries
# run as the owner of its tables; before the fix they also ran under the
# caller's search_path, so an operator of the caller's schema that shadows
# pg_catalog's (WHERE map_id = $1) ran the caller's code as the owner.
#
# Three nodes; as roles that own a schema, we put in it operators shadowing
# pg_catalog's (=, <>, <, >, +, ||, LIKE, ->, ... for int4, int8, text,
# name, oid, jsonb), functions and aggregates of pg_catalog's names (md5,
# generate_series, string_agg, count, ...) and domains named like
# pg_catalog's types (text, name, jsonb), each of which, run as anyone else,
# records it and makes the role a superuser if it can.  Then, with
# search_path = <schema>, pg_catalog, we call every function and read every
# view the role may use, on a map of one node and on maps over the nodes,
# each in a fresh session (so that every cache is loaded again), and check
# after each call that none of that code ran as another role and that the
# role is still not a superuser.  dave is a plain role (what PUBLIC may
# do); carol is a cache administrator (README, "Permissions") and a member
# of pg_monitor.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MemshardCluster;

my @nodes = start_nodes('sp', 3, "pg_memshard.memory = 16MB\n");
my ($n1, $n2, $n3) = @nodes;

# what an admin's mapping needs on the other nodes (README, "Permissions")
my @admin_remote = (
	'memshard.create_map(text, interval, bigint, text, text, integer, text[], name[], integer)',
	'memshard.drop_map(text)',
	'memshard.peer_flush(text)',
	'memshard.peer_metadata_apply(text, jsonb, text)');
my @admin_local = (
	@admin_remote,
	'memshard.flush(text)',
	'memshard.stats_reset()',
	'memshard.add_node(name)',
	'memshard.remove_node(name)',
	'memshard.recover_metadata()',
	'memshard.rebalance_plan(text, text, double precision)',
	'memshard.rebalance_preview(text, text, double precision)');

# every node: the extension, the servers, and the roles nodes reach each
# other as (with a password, as non-superusers' mappings need)
for my $node (@nodes)
{
	require_password($node, 'memshard_link', 'memshard_admin_link');
	$node->safe_psql('postgres',
		"CREATE EXTENSION pg_memshard;\n"
		  . server_sql(\@nodes)
		  . peer_role_sql('memshard_link', 'link-pw')
		  . peer_role_sql('memshard_admin_link', 'admin-pw', @admin_remote));
}

# a map of node 1 only, made before node 1 joins a cluster
$n1->safe_psql('postgres', "SELECT memshard.create_map('local_m')");
$n1->safe_psql('postgres',
	"SELECT memshard.add_node('n1'), memshard.add_node('n2'), memshard.add_node('n3')");
$n1->safe_psql('postgres', q{
SELECT memshard.create_map('sessions', nodes => ARRAY['n1', 'n2', 'n3']);
SELECT memshard.create_map('twice', nodes => ARRAY['n1', 'n2', 'n3'], replicas => 2);
SELECT memshard.create_map('ranges', method => 'range', bounds => ARRAY['g', 'p'],
                           nodes => ARRAY['n1', 'n2', 'n3']);
});

# cached tables (issue 14), one of this node, one over the nodes, that
# every role may read
$n1->safe_psql('postgres', q{
CREATE TABLE public.tc_rows (id int PRIMARY KEY, v text);
CREATE TABLE public.tc_spread (id int PRIMARY KEY, v text);
INSERT INTO public.tc_rows VALUES (1, 'one'), (2, 'two');
INSERT INTO public.tc_spread SELECT i, 'v' || i FROM generate_series(1, 20) i;
GRANT SELECT ON public.tc_rows, public.tc_spread TO PUBLIC;
SELECT memshard.cache_table('public.tc_rows');
SELECT memshard.cache_table('public.tc_spread', nodes => ARRAY['n1', 'n2', 'n3']);
});

# the attackers, on node 1
my $mappings = '';
for my $i (1 .. 3)
{
	$mappings .=
	    "CREATE USER MAPPING FOR dave SERVER n$i OPTIONS (user 'memshard_link', password 'link-pw');\n"
	  . "CREATE USER MAPPING FOR carol SERVER n$i OPTIONS (user 'memshard_admin_link', password 'admin-pw');\n";
}
$n1->safe_psql('postgres',
	"CREATE ROLE dave LOGIN; CREATE SCHEMA dave AUTHORIZATION dave;\n"
	  . "CREATE ROLE carol LOGIN IN ROLE pg_monitor; CREATE SCHEMA carol AUTHORIZATION carol;\n"
	  . join('', map { "GRANT EXECUTE ON FUNCTION $_ TO carol;\n" } @admin_local)
	  . "SET log_statement = 'none';\n"
	  . $mappings);

# --- the issue's repro, as it was reported ---
my $repro = q{
CREATE FUNCTION dave.f(int,int) RETURNS bool LANGUAGE plpgsql AS $$BEGIN
 IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) current_user)
 THEN EXECUTE 'alter role dave superuser'; END IF; RETURN $1 OPERATOR(pg_catalog.=) $2; END$$;
CREATE OPERATOR dave.= (leftarg=int, rightarg=int, function=dave.f);
SET search_path = dave, pg_catalog;
SELECT memshard.node_for('sessions','anything');
SELECT memshard.get('sessions','anything');
};
my ($ret, $out, $err) = $n1->psql('postgres', $repro,
	extra_params => [ '-U', 'dave' ]);
is($ret, 0, 'the repro runs') or diag($err);
is($n1->safe_psql('postgres', "SELECT rolsuper FROM pg_roles WHERE rolname = 'dave'"),
	'f', 'the repro of issue 9 leaves dave a plain role');
$n1->safe_psql('postgres',
	"ALTER ROLE dave NOSUPERUSER; DROP OPERATOR dave.= (int, int); DROP FUNCTION dave.f(int, int)");

# --- the kit: everything a schema's owner can shadow ---
sub kit_sql
{
	my ($s) = @_;
	my $sql = qq{
CREATE TABLE $s.runs (as_user name, what text);
GRANT INSERT ON $s.runs TO PUBLIC;
-- run as anyone but $s: say so, and take their rights if they are a superuser's
CREATE FUNCTION $s.pwn(what pg_catalog.text) RETURNS pg_catalog.bool
LANGUAGE plpgsql AS \$\$
BEGIN
  IF current_user OPERATOR(pg_catalog.<>) '$s'::pg_catalog.name THEN
    BEGIN
      IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r
           WHERE r.rolname OPERATOR(pg_catalog.=) current_user) THEN
        EXECUTE 'ALTER ROLE $s SUPERUSER';
      END IF;
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    BEGIN
      INSERT INTO $s.runs VALUES (current_user, what);
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
  END IF;
  RETURN true;
END\$\$;
};
	my $n = 0;
	my $op = sub {
		my ($name, $left, $right, $result) = @_;
		$n++;
		$sql .= qq{
CREATE FUNCTION $s.op$n(pg_catalog.$left, pg_catalog.$right) RETURNS pg_catalog.$result
LANGUAGE plpgsql AS \$\$BEGIN PERFORM $s.pwn('$left $name $right');
RETURN \$1 OPERATOR(pg_catalog.$name) \$2; END\$\$;
CREATE OPERATOR $s.$name (leftarg = pg_catalog.$left, rightarg = pg_catalog.$right, function = $s.op$n);
};
	};
	for my $types ([qw(int4 int4)], [qw(int8 int8)], [qw(int4 int8)],
		[qw(int8 int4)], [qw(text text)], [qw(name name)], [qw(name text)],
		[qw(text name)], [qw(oid oid)])
	{
		$op->($_, @$types, 'bool') for qw(= <> < > <= >=);
	}
	for my $type (qw(int4 int8))
	{
		$op->($_, $type, $type, $type) for qw(+ - * / %);
	}
	$op->('||', 'text', 'text', 'text');
	$op->('~~', 'text', 'text', 'bool');
	$op->('~~', 'name', 'text', 'bool');
	$op->('->', 'jsonb', 'text', 'jsonb');
	$op->('->', 'jsonb', 'int4', 'jsonb');
	$op->('->>', 'jsonb', 'text', 'text');
	$op->('->>', 'jsonb', 'int4', 'text');

	$sql .= qq{
CREATE FUNCTION $s.md5(pg_catalog.text) RETURNS pg_catalog.text
LANGUAGE plpgsql AS \$\$BEGIN PERFORM $s.pwn('md5'); RETURN pg_catalog.md5(\$1); END\$\$;
CREATE FUNCTION $s.current_setting(pg_catalog.text) RETURNS pg_catalog.text
LANGUAGE plpgsql AS \$\$BEGIN PERFORM $s.pwn('current_setting'); RETURN pg_catalog.current_setting(\$1); END\$\$;
CREATE FUNCTION $s.cardinality(anyarray) RETURNS pg_catalog.int4
LANGUAGE plpgsql AS \$\$BEGIN PERFORM $s.pwn('cardinality'); RETURN pg_catalog.cardinality(\$1); END\$\$;
CREATE FUNCTION $s.generate_series(pg_catalog.int4, pg_catalog.int4) RETURNS SETOF pg_catalog.int4
LANGUAGE plpgsql AS \$\$BEGIN PERFORM $s.pwn('generate_series');
RETURN QUERY SELECT pg_catalog.generate_series(\$1, \$2); END\$\$;
CREATE FUNCTION $s.jsonb_array_elements(pg_catalog.jsonb) RETURNS SETOF pg_catalog.jsonb
LANGUAGE plpgsql AS \$\$BEGIN PERFORM $s.pwn('jsonb_array_elements');
RETURN QUERY SELECT pg_catalog.jsonb_array_elements(\$1); END\$\$;
CREATE FUNCTION $s.agg_text(pg_catalog.text, pg_catalog.text, pg_catalog.text) RETURNS pg_catalog.text
LANGUAGE plpgsql AS \$\$BEGIN PERFORM $s.pwn('string_agg');
RETURN CASE WHEN \$1 IS NULL THEN \$2 ELSE pg_catalog.concat(\$1, \$3, \$2) END; END\$\$;
CREATE AGGREGATE $s.string_agg(pg_catalog.text, pg_catalog.text) (sfunc = $s.agg_text, stype = pg_catalog.text);
CREATE FUNCTION $s.agg_count(pg_catalog.int8) RETURNS pg_catalog.int8
LANGUAGE plpgsql AS \$\$BEGIN PERFORM $s.pwn('count'); RETURN \$1 OPERATOR(pg_catalog.+) 1; END\$\$;
CREATE AGGREGATE $s.count(*) (sfunc = $s.agg_count, stype = pg_catalog.int8, initcond = '0');
CREATE DOMAIN $s.text AS pg_catalog.text CHECK ($s.pwn('type text'));
CREATE DOMAIN $s.name AS pg_catalog.name CHECK ($s.pwn('type name'));
CREATE DOMAIN $s.jsonb AS pg_catalog.jsonb CHECK ($s.pwn('type jsonb'));
};
	return $sql;
}

for my $role (qw(dave carol))
{
	($ret, $out, $err) = $n1->psql('postgres', kit_sql($role),
		extra_params => [ '-U', $role ]);
	is($ret, 0, "$role shadows pg_catalog's operators, functions and types in schema $role")
	  or diag($err);
}

# the kit works: run as another role, it is caught and takes that role's rights
$n1->safe_psql('postgres', "SET search_path = dave, pg_catalog; SELECT 1 = 1");
is($n1->safe_psql('postgres', "SELECT rolsuper FROM pg_roles WHERE rolname = 'dave'"),
	't', "the kit works: a superuser running dave's = makes dave a superuser");
$n1->safe_psql('postgres', "ALTER ROLE dave NOSUPERUSER; TRUNCATE dave.runs");

# --- the calls: every function and view a role may use ---
my @maps = qw(local_m sessions twice ranges);
my %calls;		# signature => [ SQL to run, ... ]

sub call
{
	my ($signature, @sql) = @_;
	push @{ $calls{$signature} }, @sql;
}

for my $m (@maps)
{
	call('memshard.set(text,text,text,interval)',
		"SELECT memshard.set('$m', 'k1', 'v1')",
		"SELECT memshard.set('$m', 'k2', 'v2', interval '1 hour')");
	call('memshard.set(text,text,bytea,interval)',
		"SELECT memshard.set('$m', 'b1', '\\x0102'::bytea)");
	call('memshard.add(text,text,text,interval)',
		"SELECT memshard.add('$m', 'k3', 'v3')");
	call('memshard.add(text,text,bytea,interval)',
		"SELECT memshard.add('$m', 'b2', '\\x03'::bytea)");
	call('memshard.replace(text,text,text,interval)',
		"SELECT memshard.replace('$m', 'k1', 'v1bis')");
	call('memshard.replace(text,text,bytea,interval)',
		"SELECT memshard.replace('$m', 'b1', '\\x04'::bytea)");
	call('memshard.get(text,text)', "SELECT memshard.get('$m', 'k1')");
	call('memshard.get_bytea(text,text)', "SELECT memshard.get_bytea('$m', 'b1')");
	call('memshard.mget(text,text[])',
		"SELECT * FROM memshard.mget('$m', ARRAY['k1', 'k2', 'k3', 'zz', 'aa'])");
	call('memshard.mset(text,text[],text[],interval)',
		"SELECT memshard.mset('$m', ARRAY['aa', 'hh', 'zz'], ARRAY['1', '2', '3'])");
	call('memshard.delete(text,text)', "SELECT memshard.delete('$m', 'hh')");
	call('memshard.incr(text,text,bigint,interval)',
		"SELECT memshard.incr('$m', 'counter', 5)");
	call('memshard.touch(text,text,interval)',
		"SELECT memshard.touch('$m', 'k1', interval '2 hours')");
	call('memshard.shard_for(text,text)', "SELECT memshard.shard_for('$m', 'k1')");
	call('memshard.node_for(text,text)', "SELECT memshard.node_for('$m', 'k1')");
	# the peer side, as another node would call it (not for PUBLIC since 1.1)
	call('memshard.peer_set(text,text,bytea,bigint,integer)',
		"SELECT memshard.peer_set('$m', 'k1', '\\x05'::bytea, 0, 0)");
	call('memshard.peer_get(text,text)', "SELECT memshard.peer_get('$m', 'k1')");
	call('memshard.peer_mget(text,text[])',
		"SELECT * FROM memshard.peer_mget('$m', ARRAY['k1', 'aa'])");
	call('memshard.peer_mset(text,text[],bytea[],bigint)',
		"SELECT memshard.peer_mset('$m', ARRAY['k1'], ARRAY['\\x06'::bytea], 0)");
	call('memshard.peer_delete(text,text)', "SELECT memshard.peer_delete('$m', 'k3')");
	call('memshard.peer_incr(text,text,bigint,bigint)',
		"SELECT memshard.peer_incr('$m', 'counter', 1, 0)");
	call('memshard.peer_touch(text,text,bigint)',
		"SELECT memshard.peer_touch('$m', 'k1', 1000)");
	call('memshard.peer_flush(text)', "SELECT memshard.peer_flush('$m')");
	call('memshard.peer_get_expiry(text,text)',
		"SELECT * FROM memshard.peer_get_expiry('$m', 'k1')");
	call('memshard.peer_write_if(text,text,bytea,bigint,bytea,bigint)',
		"SELECT memshard.peer_write_if('$m', 'k1', NULL, NULL, '\\x07'::bytea, NULL)");
	call('memshard.peer_scan(text,integer[],bigint,integer)',
		"SELECT * FROM memshard.peer_scan('$m', ARRAY[0], 0, 10)");
	call('memshard.peer_count(text,integer[])',
		"SELECT memshard.peer_count('$m', ARRAY[0, 1])");
	call('memshard.flush(text)', "SELECT memshard.flush('$m')");
	call('memshard.skew(text)', "SELECT * FROM memshard.skew('$m')");
	call('memshard.read_skew(text)', "SELECT * FROM memshard.read_skew('$m')");
	call('memshard.read_shard_stats(text)', "SELECT * FROM memshard.read_shard_stats('$m')");
	call('memshard.local_shard_stats(text)', "SELECT * FROM memshard.local_shard_stats('$m')");
	call('memshard.node_shard_stats(text,text[])',
		"SELECT * FROM memshard.node_shard_stats('$m')");
}
call('memshard.version()', 'SELECT memshard.version()');
# the table cache: misses (a fill) then hits, here and on other nodes
call('memshard.get_row(anyelement,"any")',
	'SELECT memshard.get_row(NULL::public.tc_rows, 1), memshard.get_row(NULL::public.tc_rows, 1)',
	'SELECT count(memshard.get_row(NULL::public.tc_spread, i)) FROM generate_series(1, 20) i',
	'SELECT count(memshard.get_row(NULL::public.tc_spread, i)) FROM generate_series(1, 20) i');
call('memshard.get_rows(anyelement,"any")',
	'SELECT * FROM memshard.get_rows(NULL::public.tc_rows, ARRAY[1, 2, 3])');
call('memshard.read_cached_tables()', 'SELECT * FROM memshard.read_cached_tables()');
call('memshard.tablecache_metric_samples()',
	'SELECT count(*) FROM memshard.tablecache_metric_samples()');
call('memshard.tablecache_trigger()', 'SELECT memshard.tablecache_trigger()');
call('memshard.peer_tc_get(text,bytea)',
	"SELECT memshard.peer_tc_get('table:public.tc_spread', '\\x01000000'::bytea)");
call('memshard.peer_tc_set(text,bytea,bytea,bigint)',
	"SELECT memshard.peer_tc_set('table:public.tc_spread', '\\x01000000'::bytea, '\\x00'::bytea, 0)");
call('memshard.hash_partition("any",integer)', 'SELECT memshard.hash_partition(42, 8)');
call('memshard.range_partition("any","any")',
	'SELECT memshard.range_partition(5, ARRAY[1, 10])');
call('memshard.fdw_validator(text[],oid)',
	"SELECT memshard.fdw_validator(ARRAY['host=h'], 1417)");
call('memshard.metadata_snapshot(boolean)', 'SELECT memshard.metadata_snapshot()');
call('memshard.read_stats()', 'SELECT * FROM memshard.read_stats()');
call('memshard.read_partition_stats()', 'SELECT * FROM memshard.read_partition_stats()');
call('memshard.read_slab_stats()', 'SELECT * FROM memshard.read_slab_stats()');
call('memshard.read_map_stats()', 'SELECT * FROM memshard.read_map_stats()');
call('memshard.stats_reset()', 'SELECT memshard.stats_reset()');
call('memshard.disconnect()', 'SELECT memshard.disconnect()');
call('memshard.connections()', 'SELECT * FROM memshard.connections()');
call('memshard.nodes()', 'SELECT * FROM memshard.nodes()');
call('memshard.cluster_stats()', 'SELECT * FROM memshard.cluster_stats()');
call('memshard.peer_identity()', 'SELECT * FROM memshard.peer_identity()');
call('memshard.peer_metadata_apply(text,jsonb,text)',
	"SELECT memshard.peer_metadata_apply('x', '{}', 'y')");
call('memshard.metric_label(text,text)', "SELECT memshard.metric_label('a', 'b')");
call('memshard.metric_samples()', 'SELECT count(*) FROM memshard.metric_samples()');
call('memshard.metrics()', 'SELECT length(memshard.metrics()) > 0');
call('memshard.memory_report()', 'SELECT * FROM memshard.memory_report()');
call('memshard.local_shard_stats(text)', 'SELECT * FROM memshard.local_shard_stats()');
call('memshard.node_shard_stats(text,text[])', 'SELECT * FROM memshard.node_shard_stats()');
call('memshard.read_shard_stats(text)', 'SELECT * FROM memshard.read_shard_stats()');
call('memshard.read_skew(text)', 'SELECT * FROM memshard.read_skew()');
call('memshard.recover_metadata()', 'SELECT memshard.recover_metadata()');
call('memshard.read_metadata_recovery()', 'SELECT * FROM memshard.read_metadata_recovery()');
call('memshard.recovery_metric_samples()', 'SELECT count(*) FROM memshard.recovery_metric_samples()');
call('memshard.restart_metric_samples()', 'SELECT count(*) FROM memshard.restart_metric_samples()');
call('memshard.read_restart_stats()', 'SELECT * FROM memshard.read_restart_stats()');
call('memshard.read_resp_clients()', 'SELECT * FROM memshard.read_resp_clients()');
call('memshard.read_path_counters()', 'SELECT * FROM memshard.read_path_counters()');
call('memshard.read_path_metric_samples()', 'SELECT count(*) FROM memshard.read_path_metric_samples()');
call('memshard.peer_metadata_outcome(text)', "SELECT memshard.peer_metadata_outcome('x')");
call('memshard.read_failover_stats()', 'SELECT * FROM memshard.read_failover_stats()');
call('memshard.failover_metric_samples()', 'SELECT count(*) FROM memshard.failover_metric_samples()');
call('memshard.add_node(name)', "SELECT memshard.add_node('n2')");
call('memshard.rebalance_plan(text,text,double precision)',
	'SELECT * FROM memshard.rebalance_plan()',
	"SELECT * FROM memshard.rebalance_plan('twice', 'by_shard_count', 0.2)");
call('memshard.rebalance_preview(text,text,double precision)',
	'SELECT * FROM memshard.rebalance_preview()');
call('memshard.read_rebalance_status()', 'SELECT * FROM memshard.read_rebalance_status()');
call('memshard.rebalance_metric_samples()',
	'SELECT count(*) FROM memshard.rebalance_metric_samples()');
call('memshard.remove_node(name)', "SELECT memshard.remove_node('n3')");
call('memshard.create_map(text,interval,bigint,text,text,integer,text[],name[],integer)',
	"SELECT memshard.create_map('made_by_' || current_user, nodes => ARRAY['n1', 'n2', 'n3'], replicas => 2)",
	"SELECT memshard.create_map('local_by_' || current_user, nodes => ARRAY['n1'])");
call('memshard.drop_map(text)',
	"SELECT memshard.drop_map('made_by_' || current_user)",
	"SELECT memshard.drop_map('local_by_' || current_user)");
for my $view (qw(maps stats partition_stats slab_stats map_stats nodes shards
	cluster_stats shard_stats node_catalog placement_catalog metadata_recovery
	restart_stats cached_tables resp_clients read_path_stats failover_stats
	metadata_epoch rebalance_status))
{
	call("view memshard.$view", "SELECT * FROM memshard.$view");
}

# every function and relation of the extension a role may use is called
sub usable
{
	my ($role) = @_;
	return $n1->safe_psql('postgres', qq{
SELECT string_agg(what, E'\\n' ORDER BY what) FROM (
  SELECT regexp_replace(p.oid::regprocedure::text, ', ?', ',', 'g') AS what
    FROM pg_proc p
    JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
    JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_memshard'
   WHERE has_function_privilege('$role', p.oid, 'EXECUTE')
  UNION ALL
  SELECT 'view ' || c.oid::regclass::text
    FROM pg_class c
    JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
    JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_memshard'
   WHERE c.relkind IN ('r', 'v') AND has_table_privilege('$role', c.oid, 'SELECT')) u});
}

for my $role (qw(dave carol))
{
	my @missing = grep { !exists $calls{$_} } split /\n/, usable($role);
	is_deeply(\@missing, [], "every function and view $role may use is called");
}

# what each call answers: it works, or fails for want of a privilege (or
# for a reason of its own), and whatever it does it must not run the role's
# code as anyone else
sub expected_outcome
{
	my ($role, $sql) = @_;

	# for the roles nodes log in as only (memshard_peer)
	return '42501' if $sql =~ /peer_(set|get|mget|mset|delete|incr|touch|identity|metadata_outcome|tc_get|tc_set|get_expiry|write_if|scan|count)\(/;
	# the table cache's trigger function, called outside a trigger
	return '39P01' if $sql =~ /tablecache_trigger\(/;
	# reads memshard.map_catalog, which is not PUBLIC's
	return '42501' if $sql =~ /metadata_snapshot\(/;
	if ($role eq 'dave')
	{
		return '42501'
		  if $sql =~ /\b(peer_flush|peer_metadata_apply|flush|stats_reset|skew|read_skew|shard_stats|local_shard_stats|node_shard_stats|read_shard_stats|read_resp_clients|resp_clients|recover_metadata|add_node|remove_node|create_map|drop_map|rebalance_plan|rebalance_preview)\b/;
		return 'ok';
	}
	# carol may, but these refuse: a map of one node is no peer's, the
	# metadata is not a snapshot, n2 is in, n3 holds shards
	return '55000' if $sql =~ /peer_flush\('local_m'\)|peer_metadata_apply/;
	return '42710' if $sql =~ /add_node/;
	return '2BP01' if $sql =~ /remove_node/;
	return 'ok';
}

# --- run them: in a fresh session each, under the role's search_path ---
my $check = q{
SELECT CASE WHEN r.rolsuper THEN 't' ELSE 'f' END || '|' || coalesce((SELECT string_agg(DISTINCT x.as_user || ' ran ' || x.what, ', ')
                                        FROM %1$s.runs x), '')
  FROM pg_roles r WHERE r.rolname = '%1$s';
ALTER ROLE %1$s NOSUPERUSER;
TRUNCATE %1$s.runs;
};
for my $role (qw(dave carol))
{
	for my $signature (sort keys %calls)
	{
		for my $sql (@{ $calls{$signature} })
		{
			($ret, $out, $err) = $n1->psql('postgres',
				"\\set VERBOSITY sqlstate\nSET search_path = $role, pg_catalog;\n$sql",
				extra_params => [ '-U', $role ]);
			my $outcome = $err =~ /ERROR:  (\w{5})/ ? $1 : 'ok';
			my $expected = expected_outcome($role, $sql);

			is($outcome, $expected, "$role: $sql answers $expected")
			  or diag($err);
			is($n1->safe_psql('postgres', sprintf($check, $role)), 'f|',
				"$role: $sql runs none of ${role}'s code as another role");
		}
	}
}

# the calls did reach the other nodes (as memshard_link), and made no
# superuser there either
for my $node ($n2, $n3)
{
	cmp_ok($node->safe_psql('postgres',
			"SELECT sum(sets) FROM memshard.map_stats WHERE map IN ('sessions', 'twice', 'ranges')"),
		'>', 0, 'the roles\' calls reached ' . $node->name);
	is($node->safe_psql('postgres',
			"SELECT count(*) FROM pg_roles WHERE rolsuper AND rolname <> 'postgres'"),
		'0', 'no new superuser on ' . $node->name);
}

$_->stop for @nodes;
done_testing();
