#!/usr/bin/env bash
# The whole pg_memshard test suite, from a fresh machine: build with
# -Werror (make WERROR=1), install into a private copy of PostgreSQL 15,
# then
#   regress     "make installcheck" of the pg_regress tests (sql/, expected/)
#   isolation   "make installcheck" of the isolation specs (specs/, expected/)
#               each against a temporary instance of that copy, started with
#               test/regress.conf (the library preloaded)
#   tap         the TAP tests (test/*.pl) with PostgreSQL::Test::Cluster, one
#               prove per file, so that each file counts once
#
# Run as root (CI, a fresh machine): installs what is missing, copies the
# tree to a folder owned by the postgres OS user and runs itself there as
# that user.  Run as any other user: runs in place.
#
# Prints "N passed, N failed" last (package test + pg_regress tests +
# isolation specs + TAP files) and exits non-zero on any failure; a failing
# test's diff or log is shown.  TESTS="regress", "isolation", "tap" or
# "package" (or several, space-separated) runs a part; TAP_FILES="test/x.pl"
# a subset of the TAP tests.  WERROR=0 builds without -Werror.  As root, the
# whole suite (and TESTS=package) starts with scripts/package-test.sh.
set -uo pipefail
shopt -s nullglob

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/common.sh"

if [ "$(id -u)" = 0 ]; then
    bash "$top/scripts/install-deps.sh" || exit 1
    # the package test installs a package: it runs here, as root, and is
    # counted in the last line
    case " ${TESTS:-package} " in
        *" package "*)
            if [ -z "${TAP_FILES:-}" ]; then
                bash "$top/scripts/package-test.sh"
                case $? in 0) PACKAGE_TEST=passed ;; 77) ;; *) PACKAGE_TEST=failed ;; esac
            fi ;;
    esac
    rerun_as_postgres "$top" test scripts/test.sh TESTS TAP_FILES WERROR PACKAGE_TEST
fi

cd "$top"
TESTS=${TESTS:-regress isolation tap}
WERROR=${WERROR:-1}
passed=0
failed=0
case ${PACKAGE_TEST:-} in passed) passed=1 ;; failed) failed=1 ;; esac

echo "== build"
make -s clean >/dev/null
if ! make -s PG_CONFIG="$PG_CONFIG" WERROR="$WERROR" >/dev/null; then
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

# a port of our own per checkout (pg_regress only probes a few ports)
port=$((50000 + $(echo "$top" | cksum | cut -d' ' -f1) % 5000))

# run_installcheck KIND OTHER FILES: "make installcheck" of one kind of test
# (OTHER names the other kind's list, emptied), without the TAP tests,
# against a temporary instance of the private installation.  The Makefile's
# REGRESS_OPTS / ISOLATION_OPTS add test/regress.conf to that instance.
# FILES are the tests it must run: one that reports neither ok nor failed
# (the run stopped before it) counts as failed.
run_installcheck() {
    local kind=$1 other=$2 out rc=0 ok bad
    shift 2
    local outdir=tmp_check/$kind
    echo "== $kind"
    mkdir -p "$outdir"
    out=$(make -s PG_CONFIG="$PG_CONFIG" installcheck TAP_TESTS= "$other=" \
        bindir="$BINDIR" \
        EXTRA_REGRESS_OPTS="--temp-instance=tmp_check/$kind-instance --port=$port --outputdir=$outdir" \
        2>&1) || rc=$?
    echo "$out"
    ok=$(echo "$out" | grep -cE '^(test |     |ok )?.* \.\.\. ok' || true)
    bad=$(echo "$out" | grep -cE '\.\.\. (FAILED|failed)' || true)
    passed=$((passed + ok))
    failed=$((failed + bad))
    if [ $((ok + bad)) -lt $# ]; then
        echo "-- $kind: $(($# - ok - bad)) of $# tests did not run (make exited with $rc)"
        failed=$((failed + $# - ok - bad))
    elif [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
        echo "-- $kind: make exited with $rc"
        failed=$((failed + 1))
    fi
    if [ -f "$outdir/regression.diffs" ]; then
        echo "-- $outdir/regression.diffs (first 200 lines)"
        head -200 "$outdir/regression.diffs"
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

for part in $TESTS; do
    case "$part" in
        package) ;;
        regress) run_installcheck regress ISOLATION sql/*.sql ;;
        isolation) run_installcheck isolation REGRESS specs/*.spec ;;
        tap) run_tap ;;
        *) echo "unknown TESTS part: $part (package, regress, isolation, tap)"; failed=$((failed + 1)) ;;
    esac
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
