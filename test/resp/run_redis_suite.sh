#!/usr/bin/env bash
# Redis 7's own test suite in external mode against a RESP port:
#   run_redis_suite.sh PORT [REDIS_SRC] [WORKDIR]
# Runs unit/type/incr, unit/type/string and unit/expire with the skip list
# beside this script (tests needing lists, sets, hashes, DEBUG, OBJECT,
# DUMP, replication or CONFIG SET, and PEXPIRETIME's exact milliseconds) and
# prints one line per unit: "unit: N ok, N err, N skipped", then "total: ...".
# Exits non-zero if any test failed or raised an exception.
set -uo pipefail
port=$1
src=${2:-/usr/local/share/pg_memshard/redis-src}
work=${3:-$(mktemp -d)}
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work/redis" && mkdir -p "$work/redis" && cp -r "$src/tests" "$work/redis/"
cd "$work/redis"
total_ok=0 total_err=0 rc=0
for unit in unit/type/incr unit/type/string unit/expire; do
    log="$work/$(basename $unit).log"
    timeout 600 tclsh tests/test_helper.tcl --host 127.0.0.1 --port "$port" \
        --single "$unit" --clients 1 --timeout 120 \
        --tags -needs:repl --tags -needs:debug --tags -needs:save \
        --tags -needs:config-maxmemory \
        --skipfile "$here/redis_suite_skip.txt" > "$log" 2>&1 || rc=1
    ok=$(grep -c '^\[.*ok.*\]:' "$log")
    err=$(grep -cE '^\[.*(err|exception).*\]:' "$log")
    skip=$(grep -c '^\[.*skip.*\]:' "$log")
    echo "$unit: $ok ok, $err err, $skip skipped"
    [ "$err" -eq 0 ] || { rc=1; grep -A5 -E '\[.*(err|exception).*\]:' "$log" | head -40; }
    total_ok=$((total_ok + ok)); total_err=$((total_err + err))
done
echo "total: $total_ok ok, $total_err err"
exit $rc
