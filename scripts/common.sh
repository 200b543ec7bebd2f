# Shared by scripts/*.sh: locations of PostgreSQL 15 and of a private
# installation of pg_memshard into a copy of it (tmp_install), so that tests
# never depend on what is installed system-wide.

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGXS_DIR=$(dirname "$("$PG_CONFIG" --pgxs)")/../..
PGXS_DIR=$(cd "$PGXS_DIR" && pwd)
PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress"
PG_PERL_LIB="$PGXS_DIR/src/test/perl"

# run_as_postgres DIR SCRIPT ARGS...: copy the tree DIR to a folder owned by
# the postgres OS user (PostgreSQL refuses to run as root) and run SCRIPT
# there as that user.  Prints the copy's path in $COPY_DIR.
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
