# bench_lib.sh: helpers shared by the benchmark scripts of bench/ (sourced,
# after scripts/common.sh).  They talk to the throwaway instance through
# PGHOST/PGPORT and database "bench", and write their details to $log.
#
#   free_port PORT              first port from PORT on which nothing listens
#   q [psql args]               psql on database bench, quiet, unaligned
#   expect WHAT WANT SQL        fail loudly unless SQL answers WANT
#   ratio A B                   A / B with two decimals
#   measure NAME OPS SQL [PRE]  register a timed statement (bench_ns() of
#                               bench/cache_bench.sql must exist)
#   run_measures                run them, RUNS rounds; r[NAME] = best ns/op,
#                               r_med[NAME] = median ns/op (callers declare
#                               "declare -A r r_med")
#   keep_round NAME VALUE [max] add VALUE to the rounds of NAME; r/r_med as
#                               above (min/median, or max/median with "max")

free_port() {
    local port=$1
    while ss -ltnH "sport = :$port" | grep -q .; do
        port=$((port + 1))
    done
    echo "$port"
}

q() {
    psql -X -q -At -v ON_ERROR_STOP=1 -d bench "$@"
}

expect() {
    local what=$1 want=$2 sql=$3 got
    got=$(q -c "$sql")
    if [ "$got" != "$want" ]; then
        echo "check failed: $what: got '$got', expected '$want'" >&2
        exit 1
    fi
}

ratio() { awk "BEGIN { printf \"%.2f\", $1 / $2 }"; }

# Rounds of each name, space separated, in r_rounds[NAME]; the best (min, or
# max for rates) in r[NAME], the median in r_med[NAME].
declare -A r_rounds
keep_round() {
    local name=$1 value=$2 how=${3:-min} sorted n
    r_rounds[$name]="${r_rounds[$name]:-} $value"
    sorted=$(tr ' ' '\n' <<<"${r_rounds[$name]}" | grep . | sort -g)
    n=$(wc -l <<<"$sorted")
    if [ "$how" = max ]; then
        r[$name]=$(tail -n1 <<<"$sorted")
    else
        r[$name]=$(head -n1 <<<"$sorted")
    fi
    r_med[$name]=$(awk -v n="$n" '{ v[NR] = $1 }
        END { if (n % 2) print v[(n + 1) / 2]; else printf "%.1f\n", (v[n / 2] + v[n / 2 + 1]) / 2 }' <<<"$sorted")
}

# Timed statements are registered with "measure NAME OPS SQL [PRE [PORT]]"
# and run by "run_measures": RUNS rounds in which each statement runs once
# (PRE, optional, before it; PORT, optional, the instance's port instead of
# $PGPORT), so that a burst of load from elsewhere on the machine hurts them
# alike.
m_names=()
declare -A m_ops m_sql m_pre m_port
measure() {
    m_names+=("$1")
    m_ops[$1]=$2
    m_sql[$1]=$3
    m_pre[$1]=${4:-}
    m_port[$1]=${5:-}
}

run_measures() {
    local name ns port
    for _ in $(seq "$RUNS"); do
        for name in "${m_names[@]}"; do
            port=${m_port[$name]:-${PGPORT:-}}
            [ -n "${m_pre[$name]}" ] && PGPORT=$port q -c "${m_pre[$name]}"
            ns=$(PGPORT=$port q -c "SELECT round(bench_ns(\$q\$${m_sql[$name]}\$q\$, ${m_ops[$name]})::numeric, 1)")
            echo "  $ns ns/op: ${m_sql[$name]}" >>"$log"
            keep_round "$name" "$ns"
        done
    done
    m_names=()
}

# Three throwaway instances on Unix sockets, for the cluster benchmarks:
#   start_cluster NAME PORT MEMORY [CONF]
#                               initdb and start n1..n3 under a fresh
#                               $data (sockets there), ports from PORT on in
#                               ${ports[@]}, pg_memshard.memory = MEMORY, CONF
#                               appended to each postgresql.conf; stopped and
#                               removed on exit (STOP_MODE, default fast)
#   start_node I                start instance I again
#   psql_on I [psql args]       psql on instance I, database postgres
#   create_cluster_servers      the extension, and servers n1..n3 with user
#                               mappings, on every instance
start_cluster() {
    local name=$1 port=$2 memory=$3 conf=${4:-} i
    data=$(mktemp -d "${TMPDIR:-/tmp}/memshard-$name.XXXXXX")
    ports=()
    port=$(free_port "$port")
    for i in 1 2 3; do
        ports+=("$port")
        port=$(free_port $((port + 1)))
    done
    trap stop_instances EXIT
    for i in 1 2 3; do
        "$BINDIR/initdb" -D "$data/n$i" -A trust --no-sync >/dev/null
        cat >>"$data/n$i/postgresql.conf" <<CONF
port = ${ports[$((i - 1))]}
listen_addresses = ''
unix_socket_directories = '$data'
shared_preload_libraries = 'pg_memshard'
pg_memshard.memory = $memory
max_prepared_transactions = 10
fsync = off
synchronous_commit = off
jit = off
$conf
CONF
        start_node "$i"
    done
    echo "== three instances on ports ${ports[*]} (sockets in $data)"
}

stop_instances() {
    local i
    for i in 1 2 3; do
        "$BINDIR/pg_ctl" -D "$data/n$i" -m "${STOP_MODE:-fast}" stop >/dev/null 2>&1 || true
    done
    rm -rf "$data"
}

start_node() {
    nice -n 10 "$BINDIR/pg_ctl" -D "$data/n$1" -l "$data/n$1.log" -w start >/dev/null
}

psql_on() {
    local node=$1
    shift
    nice -n 10 "$BINDIR/psql" -X -q -At -h "$data" -p "${ports[$((node - 1))]}" \
        -d postgres -v ON_ERROR_STOP=1 "$@"
}

create_cluster_servers() {
    local servers="" i
    for i in 1 2 3; do
        servers+="CREATE SERVER n$i FOREIGN DATA WRAPPER memshard OPTIONS (host '$data', port '${ports[$((i - 1))]}', dbname 'postgres');
CREATE USER MAPPING FOR CURRENT_USER SERVER n$i;
"
    done
    for i in 1 2 3; do
        psql_on "$i" -c "CREATE EXTENSION pg_memshard;" -c "$servers" >/dev/null
    done
}
