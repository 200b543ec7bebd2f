#!/usr/bin/env bash
# The package test: the Debian package is built, checked, installed, used
# by a real Debian cluster and removed, leaving the system as it was.
# Run as root (scripts/test.sh runs it before the rest of the suite) on
# Debian 12 with the build dependencies that scripts/install-deps.sh
# installs.
#
#  1. META.json passes scripts/check-meta.py, and `make dist` gives
#     pg_memshard-<version>.zip and .tar.gz holding the tree committed at
#     HEAD;
#  2. `dpkg-buildpackage -us -uc -b`, in a copy of the tree (nothing is
#     written into the checkout), makes postgresql-15-memshard_<version>_<arch>.deb
#     holding the library, the control file, every SQL script of the tree
#     and the Prometheus files; lintian reports no error on it;
#  3. `apt-get install ./<the .deb>`; a Debian cluster made by
#     pg_createcluster, with shared_preload_libraries set by pg_conftool and
#     started by pg_ctlcluster; CREATE EXTENSION, a map, set and get; the
#     upgrade path (CREATE EXTENSION VERSION '1.0', ALTER EXTENSION UPDATE);
#     pg_dropcluster --stop; apt-get purge;
#  4. the system is as it was: the same packages and clusters, and at every
#     path the package installs, what was there before (a copy installed
#     system-wide by `make install` is put back, byte for byte).
#
# A run that was killed is cleaned up by the next one (its state is kept
# in /tmp/pg_memshard-package-test/).  Logs: /tmp/pg_memshard-pkg-<checkout id>/log,
# kept when the test fails.
#
# Exit status: 0 passed, 1 failed, 77 skipped (not root, not Debian, or
# the package already installed: we never replace a package someone else
# installed).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
pgver=15
pkg=postgresql-$pgver-memshard
cluster=memshardtest
work=/tmp/pg_memshard-pkg-$(echo "$top" | cksum | cut -d' ' -f1)
logdir=$work/log
state_dir=/tmp/pg_memshard-package-test    # one system: one state
state=$state_dir/state
backup=$state_dir/backup
portdir=/tmp/pg_memshard-portlock          # shared with the TAP nodes
failed=0

# git refuses a checkout owned by another user when we are root
export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0='*'

say() { echo "package test: $*"; }
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failed=1; }

if [ "$(id -u)" != 0 ]; then
    say "skipped (it installs a package: run as root)"
    exit 77
fi
if ! command -v dpkg-buildpackage >/dev/null || ! command -v pg_buildext >/dev/null; then
    say "skipped (no dpkg-buildpackage or pg_buildext: run scripts/install-deps.sh)"
    exit 77
fi

mkdir -p "$state_dir" "$portdir"
exec 9>"$state_dir/lock"
if ! flock -w 900 9; then
    say "failed: another package test holds $state_dir/lock"
    exit 1
fi

# ---------------------------------------------------------------------------
# undoing what we did (also what a killed run did: see $state)

record() { echo "$1" >>"$state"; }
unrecord() { [ -f "$state" ] && sed -i "/^$1\$/d" "$state"; }
recorded() { [ -f "$state" ] && grep -qx "$1" "$state"; }

undo() {
    if recorded cluster; then
        pg_dropcluster --stop "$pgver" "$cluster" >/dev/null 2>&1
        rm -f "/var/log/postgresql/postgresql-$pgver-$cluster.log"
    fi
    if recorded installed; then
        DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq \
            -o DPkg::Lock::Timeout=300 "$pkg" >/dev/null 2>&1 ||
            dpkg -P "$pkg" >/dev/null 2>&1
    fi
    if recorded backup && [ -d "$backup" ]; then
        (cd "$backup" && find . -type f -o -type l) | while read -r f; do
            mkdir -p "$(dirname "/${f#./}")"
            cp -a "$backup/${f#./}" "/${f#./}"
        done
    fi
    if [ -f "$state" ]; then
        sed -n 's/^port //p' "$state" | while read -r p; do
            rm -f "$portdir/$p.rsv"
        done
    fi
    rm -rf "$backup" "$state"
}

if [ -f "$state" ]; then
    say "cleaning up after a run that did not finish"
    undo
fi

if dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null | grep -qx installed; then
    say "skipped ($pkg is installed on this system: remove it to run the test)"
    exit 77
fi
if [ -e "/etc/postgresql/$pgver/$cluster" ] || [ -e "/var/lib/postgresql/$pgver/$cluster" ]; then
    say "failed: a cluster $pgver/$cluster exists that this test did not make"
    exit 1
fi

rm -rf "$work"
mkdir -p "$logdir"
chmod 755 "$work"    # apt reads the .deb as user _apt

finish() {
    undo
    if [ "$failed" = 0 ]; then
        rm -rf "$work"
    else
        say "logs in $logdir"
    fi
}
trap finish EXIT
trap 'exit 1' INT TERM

# ---------------------------------------------------------------------------
# what must not change

# the checkout, apart from the test's own output folders
checkout_digest() {
    (cd "$top" && find . \( -path ./.git -o -path ./tmp_check -o -path ./tmp_install \) -prune \
        -o -printf '%p %s %T@\n' | sort | md5sum)
}

# packages, clusters, and whatever is at the paths the package installs
system_snapshot() {
    dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\n' | sort
    pg_lsclusters -h | awk '{print $1, $2, $3}'
    local p
    while read -r p; do
        if [ -d "$p" ] && [ ! -L "$p" ]; then
            echo "dir $p"
        elif [ -e "$p" ] || [ -L "$p" ]; then
            echo "file $p $(md5sum <"$p" | cut -d' ' -f1) $(stat -c '%a %U' "$p")"
        else
            echo "absent $p"
        fi
    done <"$work/paths"
}

# the first port from 55432 that no cluster, socket, listener or TAP node uses
free_port() {
    local p
    for p in $(seq 55432 55531); do
        pg_lsclusters -h | awk '{print $3}' | grep -qx "$p" && continue
        [ -e "/var/run/postgresql/.s.PGSQL.$p" ] && continue
        [ -e "$portdir/$p.rsv" ] && continue
        ss -Hltn "sport = :$p" 2>/dev/null | grep -q . && continue
        echo "$p"
        return 0
    done
    return 1
}

psql_cluster() {
    local db=$1
    shift
    runuser -u postgres -- timeout 60 psql -X -Atq -v ON_ERROR_STOP=1 \
        -h /var/run/postgresql -p "$port" -d "$db" "$@"
}

before_checkout=$(checkout_digest)

# ---------------------------------------------------------------------------
# 1. META.json and the release archives

if python3 "$top/scripts/check-meta.py" "$top" >"$logdir/meta.log" 2>&1; then
    ok "META.json follows the PGXN Meta Spec 1.0.0 and matches the tree"
else
    not_ok "META.json"
    cat "$logdir/meta.log"
fi

version=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' "$top/META.json")
if git -C "$top" rev-parse --verify -q HEAD >/dev/null; then
    mkdir -p "$work/dist"
    if make -C "$top" -s dist DISTDIR="$work/dist" >"$logdir/dist.log" 2>&1 &&
        [ -f "$work/dist/pg_memshard-$version.zip" ] &&
        [ -f "$work/dist/pg_memshard-$version.tar.gz" ]; then
        git -C "$top" ls-tree -r --name-only HEAD | sed "s|^|pg_memshard-$version/|" | sort >"$work/dist/head.list"
        tar -tzf "$work/dist/pg_memshard-$version.tar.gz" | grep -v '/$' | sort >"$work/dist/tar.list"
        python3 -c 'import sys, zipfile; print("\n".join(n for n in zipfile.ZipFile(sys.argv[1]).namelist() if not n.endswith("/")))' \
            "$work/dist/pg_memshard-$version.zip" | sort >"$work/dist/zip.list"
        if cmp -s "$work/dist/head.list" "$work/dist/tar.list" && cmp -s "$work/dist/head.list" "$work/dist/zip.list" &&
            grep -qx "pg_memshard-$version/META.json" "$work/dist/tar.list"; then
            ok "make dist: pg_memshard-$version.zip and .tar.gz hold the tree at HEAD"
        else
            not_ok "make dist: the archives do not hold exactly the tree at HEAD (META.json committed?)"
            diff "$work/dist/head.list" "$work/dist/tar.list" | head -20
        fi
    else
        not_ok "make dist"
        cat "$logdir/dist.log"
    fi
else
    say "make dist not checked: not a git checkout"
fi

# ---------------------------------------------------------------------------
# 2. build in a copy of the tree, lintian

debversion=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
deb=$work/${pkg}_${debversion}_$arch.deb
src=$work/pg-memshard-$version
mkdir -p "$src"
(cd "$top" && tar --exclude=./.git --exclude=./tmp_install --exclude=./tmp_check \
    --exclude=./.demo --exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - .) |
    (cd "$src" && tar xf -)

# the build's own test cluster (pg_virtualenv) gets a free port
port=$(free_port) || { not_ok "no free port"; exit 1; }
echo "$$" >"$portdir/$port.rsv"
record "port $port"
if (cd "$src" && PGPORT=$port timeout 900 dpkg-buildpackage -us -uc -b) >"$logdir/build.log" 2>&1 &&
    [ -f "$deb" ]; then
    ok "dpkg-buildpackage -us -uc -b made $(basename "$deb")"
else
    not_ok "dpkg-buildpackage -us -uc -b (last lines of $logdir/build.log:)"
    tail -40 "$logdir/build.log"
    exit 1
fi
rm -f "$portdir/$port.rsv"
[ "$before_checkout" = "$(checkout_digest)" ] &&
    ok "the checkout is unchanged by dist and the build" ||
    not_ok "the checkout changed during dist or the build"

dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|; s|/$||' | grep -v '^$' | grep -vx / >"$work/paths"
missing=()
for f in "/usr/lib/postgresql/$pgver/lib/pg_memshard.so" \
    "/usr/share/postgresql/$pgver/extension/pg_memshard.control" \
    $(cd "$top" && ls pg_memshard--*.sql | sed "s|^|/usr/share/postgresql/$pgver/extension/|") \
    "/usr/share/$pkg/prometheus/queries.yaml" \
    "/usr/share/$pkg/prometheus/grafana-dashboard.json" \
    "/usr/share/doc/$pkg/copyright"; do
    grep -qx "$f" "$work/paths" || missing+=("$f")
done
[ ${#missing[@]} -eq 0 ] && ok "the package holds the library, control file, SQL scripts and Prometheus files" ||
    not_ok "missing from the package: ${missing[*]}"

timeout 300 lintian --fail-on error "$deb" >"$logdir/lintian.log" 2>&1
lintian_rc=$?
grep -E '^[EWI]: ' "$logdir/lintian.log" | sed 's/^/    lintian: /'
if [ $lintian_rc -eq 0 ] && ! grep -q '^E: ' "$logdir/lintian.log"; then
    ok "lintian: no errors"
else
    not_ok "lintian reports errors"
fi

# ---------------------------------------------------------------------------
# 3. install, a Debian cluster, use, drop, purge

before_system=$(system_snapshot)

# apt must install this package and nothing else (its dependencies are the
# server and libpq, already there): otherwise the purge would leave them
others=$(apt-get -s install --no-install-recommends "$deb" 2>/dev/null | awk '/^Inst /{print $2}' | grep -vx "$pkg")
if [ -n "$others" ]; then
    not_ok "installing the package would also install: $others"
    exit 1
fi

# files that are there before (a system-wide make install) are put back
mkdir -p "$backup"
record backup
while read -r p; do
    if [ -f "$p" ] || [ -L "$p" ]; then
        mkdir -p "$backup$(dirname "$p")"
        cp -a "$p" "$backup$p"
    fi
done <"$work/paths"

record installed
if DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -q --no-install-recommends \
    -o DPkg::Lock::Timeout=300 "$deb" >"$logdir/install.log" 2>&1 &&
    dpkg-query -W -f='${db:Status-Status} ${Version}' "$pkg" | grep -qx "installed $debversion"; then
    ok "apt-get install ./$(basename "$deb")"
else
    not_ok "apt-get install"
    tail -20 "$logdir/install.log"
    exit 1
fi

port=$(free_port) || { not_ok "no free port"; exit 1; }
echo "$$" >"$portdir/$port.rsv"
record "port $port"
record cluster
if timeout 120 pg_createcluster "$pgver" "$cluster" --port "$port" -- >"$logdir/cluster.log" 2>&1 &&
    pg_conftool "$pgver" "$cluster" set shared_preload_libraries pg_memshard >>"$logdir/cluster.log" 2>&1 &&
    pg_conftool "$pgver" "$cluster" set pg_memshard.memory 16MB >>"$logdir/cluster.log" 2>&1 &&
    timeout 120 pg_ctlcluster "$pgver" "$cluster" start >>"$logdir/cluster.log" 2>&1; then
    ok "pg_createcluster $pgver $cluster --port $port, preloading pg_memshard (pg_conftool), pg_ctlcluster start"
else
    not_ok "cluster $pgver/$cluster"
    cat "$logdir/cluster.log"
    tail -20 "/var/log/postgresql/postgresql-$pgver-$cluster.log" 2>/dev/null
    exit 1
fi

extversion=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$top/pg_memshard.control")
got=$(psql_cluster postgres 2>&1 <<'EOF'
CREATE EXTENSION pg_memshard;
SELECT extversion FROM pg_extension WHERE extname = 'pg_memshard';
SELECT memshard.create_map('sessions', default_ttl => '1 hour') > 0;
SELECT memshard.set('sessions', 'user:1', 'alice');
SELECT memshard.get('sessions', 'user:1');
SELECT items FROM memshard.stats;
SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries';
EOF
)
want=$(printf '%s\n' "$extversion" t t alice 1 pg_memshard)
[ "$got" = "$want" ] && ok "CREATE EXTENSION pg_memshard (version $extversion), set and get an item" ||
    not_ok "using the extension: got [$got], want [$want]"

got=$(psql_cluster postgres 2>&1 <<'EOF'
CREATE DATABASE old;
\c old
CREATE EXTENSION pg_memshard VERSION '1.0';
SELECT memshard.create_map('m') > 0;
SELECT memshard.set('m', 'k', 'kept');
ALTER EXTENSION pg_memshard UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'pg_memshard';
SELECT memshard.get('m', 'k');
EOF
)
want=$(printf '%s\n' t t "$extversion" kept)
[ "$got" = "$want" ] && ok "the packaged scripts update 1.0 to $extversion (ALTER EXTENSION UPDATE)" ||
    not_ok "upgrade path: got [$got], want [$want]"

if timeout 120 pg_dropcluster --stop "$pgver" "$cluster" >>"$logdir/cluster.log" 2>&1; then
    unrecord cluster
    ok "pg_dropcluster --stop $pgver $cluster"
else
    not_ok "pg_dropcluster"
fi
if DEBIAN_FRONTEND=noninteractive timeout 300 apt-get purge -y -q \
    -o DPkg::Lock::Timeout=300 "$pkg" >"$logdir/purge.log" 2>&1; then
    unrecord installed
    ok "apt-get purge $pkg"
else
    not_ok "apt-get purge"
    tail -20 "$logdir/purge.log"
fi

# ---------------------------------------------------------------------------
# 4. the system as it was

undo    # puts back what make install had left, forgets the state
rm -f "/var/log/postgresql/postgresql-$pgver-$cluster.log"
after_system=$(system_snapshot)
if [ "$before_system" = "$after_system" ]; then
    ok "the system is as before: packages, clusters, files at the package's paths"
else
    not_ok "the system changed:"
    diff <(echo "$before_system") <(echo "$after_system") | head -20
fi
for p in "/etc/postgresql/$pgver/$cluster" "/var/lib/postgresql/$pgver/$cluster"; do
    [ -e "$p" ] && not_ok "$p is left"
done

if [ "$failed" = 0 ]; then
    say "passed"
    exit 0
fi
say "failed"
exit 1
