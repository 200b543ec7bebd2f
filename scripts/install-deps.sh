#!/usr/bin/env bash
# Installs the Debian packages pg_memshard needs to build, test and demo
# (and to build its Debian package: debhelper, pg_buildext, lintian).
# Run as root.  Only missing packages are installed; "apt-get update" runs
# first whenever something is missing.  Extra package names may be given as
# arguments (the benchmarks add memcached and pgmemcache).
set -euo pipefail

packages=(postgresql-15 postgresql-server-dev-15 libpq-dev build-essential
          libipc-run-perl perl prometheus prometheus-postgres-exporter curl
          debhelper postgresql-server-dev-all lintian python3 "$@")
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
