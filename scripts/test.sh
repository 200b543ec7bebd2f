#!/usr/bin/env bash
# The whole pg_memshard test suite: build with -Werror, pg_regress tests
# (sql/, expected/) against a temporary instance with the library preloaded,
# then the TAP tests (test/*.pl) with PostgreSQL::Test::Cluster.
#
# Run as root (CI, a fresh machine): installs what is missing, copies the
# tree to a folder owned by the postgres OS user and runs itself there as
# that user.  Run as any other user: runs in place.
#
# Prints "N passed, N failed" last and exits non-zero on any failure.
# TESTS="regress" or TESTS="tap" runs one half; TAP_FILES="test/x.pl" a
# subset of the TAP tests.  As root, the whole suite (and TESTS=package)
# starts with scripts/package-test.sh.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/common.sh"

if [ "$(id -u)" = 0 ]; then
    bash "$top/scripts/install-deps.sh" || exit 1
    # the package test installs a package: it runs here, as root, and is
    # counted in the last line (TESTS=package runs it alone)
    if [ "${TESTS:-all}" = package ] || [ "${TESTS:-all}-${TAP_FILES:-}" = all- ]; then
        bash "$top/scripts/package-test.sh"
        case $? in 0) PACKAGE_TEST=passed ;; 77) ;; *) PACKAGE_TEST=failed ;; esac
    fi
    rerun_as_postgres "$top" test scripts/test.sh TESTS TAP_FILES PACKAGE_TEST
fi

cd "$top"
TESTS=${TESTS:-all}
passed=0
failed=0
case ${PACKAGE_TEST:-} in passed) passed=1 ;; failed) failed=1 ;; esac

echo "== build"
make -s clean >/dev/null
if ! make -s PG_CONFIG="$PG_CONFIG" >/dev/null; then
    echo "build failed"
    echo "0 passed, 1 failed"
    exit 1
fi
make_private_install "$top"
export PATH="$BINDIR:$PATH"
# TAP nodes of every checkout reserve their ports in one place
export PG_TEST_PORT_DIR=/tmp/pg_memshard-portlock
mkdir -p "$PG_TEST_PORT_DIR" 2>/dev/null || true
rm -rf tmp_check
mkdir -p tmp_check

run_regress() {
    local tests out
    tests=$(ls sql/*.sql | sed 's|sql/||; s|\.sql$||' | sort)
    echo "== pg_regress"
    # a port of our own per checkout (pg_regress only probes a few ports)
    local port=$((50000 + $(echo "$top" | cksum | cut -d' ' -f1) % 5000))
    out=$("$PG_REGRESS" --temp-instance=tmp_check/regress --port="$port" \
        --temp-config=test/regress.conf --bindir="$BINDIR" \
        --inputdir=. --outputdir=tmp_check --dbname=contrib_regression \
        $tests 2>&1)
    echo "$out"
    local ok bad
    ok=$(echo "$out" | grep -cE '^(test |     |ok )?.* \.\.\. ok' || true)
    bad=$(echo "$out" | grep -cE '\.\.\. (FAILED|failed)' || true)
    passed=$((passed + ok))
    failed=$((failed + bad))
    if [ "$ok" -eq 0 ] && [ "$bad" -eq 0 ]; then
        failed=$((failed + 1))
    fi
    if [ -f tmp_check/regression.diffs ]; then
        echo "-- regression.diffs (first 200 lines)"
        head -200 tmp_check/regression.diffs
    fi
}

run_tap() {
    local files f
    files=${TAP_FILES:-$(ls test/*.pl 2>/dev/null | sort)}
    echo "== TAP"
    mkdir -p "$top/tmp_check/tap/tmp_check/log"
    for f in $files; do
        if TESTDIR="$top/tmp_check/tap" PG_REGRESS="$PG_REGRESS" \
            PERL5LIB="$PG_PERL_LIB${PERL5LIB:+:$PERL5LIB}" \
            prove -I "$PG_PERL_LIB" -I "$top/test/lib" "$f"; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
            echo "-- logs of $f"
            tail -n 60 "$top"/tmp_check/tap/tmp_check/log/regress_log_"$(basename "$f" .pl)" 2>/dev/null
        fi
    done
}

case "$TESTS" in
    package) ;;
    regress) run_regress ;;
    tap) run_tap ;;
    *) run_regress; run_tap ;;
esac

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
