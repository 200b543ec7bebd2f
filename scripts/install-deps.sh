#!/usr/bin/env bash
# Installs the Debian packages pg_memshard needs to build, test and demo
# (and to build its Debian package: debhelper, pg_buildext, lintian).
# Run as root.  Only missing packages are installed; "apt-get update" runs
# first whenever something is missing.  Extra package names may be given as
# arguments (the benchmarks add memcached and pgmemcache).
set -euo pipefail

packages=(postgresql-15 postgresql-server-dev-15 libpq-dev build-essential
          libipc-run-perl perl prometheus prometheus-postgres-exporter curl
          debhelper postgresql-server-dev-all lintian python3
          redis-server redis-tools python3-redis tcl "$@")
missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Redis's own test suite (test/051_resp_redis_suite.pl) from Debian's redis
# source package, unpacked where the tests (run as postgres) can read it.
# Best effort: without it that test skips.
redis_tests=/usr/local/share/pg_memshard/redis-src
if [ ! -f "$redis_tests/tests/test_helper.tcl" ]; then
    (
        set -e
        src_list=/etc/apt/sources.list.d/pg_memshard-deb-src.sources
        if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && [ ! -f "$src_list" ]; then
            sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > "$src_list"
            apt-get update -qq
        fi
        tmp=$(mktemp -d)
        cd "$tmp"
        apt-get source --download-only redis >/dev/null 2>&1
        mkdir -p "$redis_tests"
        tar xzf redis_*.orig.tar.gz --strip-components=1 -C "$redis_tests"
        chmod -R a+rX "$redis_tests"
        rm -rf "$tmp"
    ) || echo "warning: Redis's test suite could not be fetched; test/051 will skip"
fi
