# Shared by scripts/*.sh: locations of PostgreSQL 15 and of a private
# installation of pg_memshard into a copy of it (tmp_install), so that tests
# never depend on what is installed system-wide.

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGXS_DIR=$(dirname "$("$PG_CONFIG" --pgxs)")/../..
PGXS_DIR=$(cd "$PGXS_DIR" && pwd)
PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress"
PG_PERL_LIB="$PGXS_DIR/src/test/perl"

# copy_tree_for_postgres SRC DST: copy the tree SRC (without build output
# or .git) to DST, owned by the postgres OS user.
copy_tree_for_postgres() {
    local src=$1 dst=$2
    rm -rf "$dst"
    mkdir -p "$dst"
    (cd "$src" && tar --exclude=./.git --exclude=./tmp_install \
        --exclude=./tmp_check --exclude=./.demo --exclude='*.o' \
        --exclude='*.so' -cf - .) | (cd "$dst" && tar xf -)
    chown -R postgres:postgres "$dst"
}

# make_private_install TOP: build and install pg_memshard into
# TOP/tmp_install, a relocated copy of the PostgreSQL 15 binaries and share
# files.  Sets BINDIR.
make_private_install() {
    local top=$1
    local bindir sharedir
    bindir=$("$PG_CONFIG" --bindir)
    sharedir=$("$PG_CONFIG" --sharedir)
    rm -rf "$top/tmp_install"
    mkdir -p "$top/tmp_install$(dirname "$bindir")" "$top/tmp_install$(dirname "$sharedir")"
    cp -a "$(dirname "$bindir")/." "$top/tmp_install$(dirname "$bindir")/"
    cp -a "$sharedir" "$top/tmp_install$sharedir"
    make -C "$top" -s PG_CONFIG="$PG_CONFIG" install DESTDIR="$top/tmp_install" >/dev/null
    BINDIR="$top/tmp_install$bindir"
}

# rerun_as_postgres TOP KIND SCRIPT [VAR...]: when run as root, copy the
# tree TOP to /tmp/pg_memshard-KIND-<checkout id> (PostgreSQL refuses to run
# as root), run SCRIPT (a path relative to TOP) there as the postgres OS
# user with the named environment variables passed on, copy its tmp_check
# back, and exit with its status.  Returns at once for any other user.
rerun_as_postgres() {
    local top=$1 kind=$2 script=$3
    shift 3
    [ "$(id -u)" = 0 ] || return 0
    local work envs=() var rc=0
    # one copy per checkout, so that several checkouts can run at once
    work=/tmp/pg_memshard-$kind-$(echo "$top" | cksum | cut -d' ' -f1)
    copy_tree_for_postgres "$top" "$work"
    for var in "$@"; do
        envs+=("$var=${!var:-}")
    done
    runuser -u postgres -- env "${envs[@]}" bash "$work/$script" || rc=$?
    if [ -d "$work/tmp_check" ]; then
        rm -rf "$top/tmp_check"
        cp -a "$work/tmp_check" "$top/tmp_check"
    fi
    exit $rc
}
