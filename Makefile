# pg_memshard: a memory cache in PostgreSQL shared memory, partitioned over nodes.
#
# PGXS build. Every .c file under src/ is part of the module; each sub-folder
# of src/ is one "room" (see README.md).
#
#   make [WERROR=1]          build (WERROR=1 adds -Werror, as the tests and CI do)
#   make install             install into the PostgreSQL of PG_CONFIG
#   make installcheck        pg_regress (sql/), isolation specs (specs/) and TAP
#                            tests (test/) against the installed server; the
#                            server must preload the library (README, "Tests")
#   make installcheck TAP_TESTS=   the same without the TAP tests
#   make prove_installcheck  the TAP tests only (run as a non-root user)
#   make demo / demo-stop    a throwaway cluster to try it out
#   make test                the whole suite from a fresh machine, as in CI
#   make dist                release archives pg_memshard-<version>.zip and .tar.gz
#
# The test lists are wildcards: a new sql/NAME.sql, specs/NAME.spec or
# test/NNN_name.pl is picked up with no change here.

MODULE_big = pg_memshard
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c src/*/*.c)))

EXTENSION = pg_memshard
DATA = $(sort $(wildcard pg_memshard--*.sql))
PGFILEDESC = "pg_memshard - sharded memory cache in shared memory"

PG_CPPFLAGS = -I$(srcdir)/src -I$(libpq_srcdir)
PG_CFLAGS = -Wall
# -Werror only on request: a newer compiler's new warning must not break a
# user's build, while our own tests and CI stay warning-free
ifeq ($(WERROR),1)
PG_CFLAGS += -Werror
endif
SHLIB_LINK_INTERNAL = $(libpq)

# pg_regress: sql/NAME.sql against expected/NAME.out, in name order
REGRESS := $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
# isolation specs: specs/NAME.spec against expected/NAME.out
ISOLATION := $(patsubst specs/%.spec,%,$(sort $(wildcard specs/*.spec)))
# Only used when a temporary instance is asked for (EXTRA_REGRESS_OPTS=
# --temp-instance=DIR, as scripts/test.sh does): it preloads the library.
# Against a running server it is ignored; that server needs the same
# settings (README, "Tests").
REGRESS_OPTS = --temp-config=$(srcdir)/test/regress.conf
ISOLATION_OPTS = --temp-config=$(srcdir)/test/regress.conf

# TAP tests: test/NNN_name.pl with PostgreSQL::Test::Cluster (test/lib for
# our helper module, added below to PG_PROVE_FLAGS so that PROVE_FLAGS stays
# free for the user's own, e.g. PROVE_FLAGS=--verbose)
TAP_TESTS = 1
PROVE_TESTS := $(sort $(wildcard test/*.pl))

EXTRA_CLEAN = tmp_install

# no LLVM bitcode for JIT inlining: it needs clang and buys nothing here
override with_llvm = no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

PG_PROVE_FLAGS += -I $(srcdir)/test/lib

# every object depends on every header of ours (the project is small)
$(OBJS): $(wildcard src/*.h src/*/*.h)

.PHONY: prove_installcheck tap-not-root demo demo-stop test

# PGXS defines how to run the TAP tests against the installation but no
# target for it alone
prove_installcheck: tap-not-root
	$(prove_installcheck)

# PostgreSQL::Test::Cluster runs initdb, which refuses to run as root: say
# so before anything starts
ifdef TAP_TESTS
installcheck: tap-not-root
endif
tap-not-root:
	@if [ "$$(id -u)" = 0 ]; then \
		echo "The TAP tests cannot run as root (initdb refuses): run make as another user," >&2; \
		echo "e.g. runuser -u postgres -- make $(MAKECMDGOALS) (make installcheck TAP_TESTS= skips them)." >&2; \
		exit 1; \
	fi

demo:
	bash scripts/demo.sh start

demo-stop:
	bash scripts/demo.sh stop

test:
	bash scripts/test.sh

# Release archives (PGXN, and the Debian orig tarball): the tree committed
# at HEAD, as pg_memshard-<META.json version>.zip and .tar.gz in DISTDIR,
# after checking META.json (scripts/check-meta.py).
DISTDIR ?= .
DIST_VERSION = $(shell python3 -c 'import json; print(json.load(open("META.json"))["version"])')
DIST_NAME = pg_memshard-$(DIST_VERSION)

.PHONY: dist

dist:
	python3 scripts/check-meta.py
	git archive --format=zip --prefix=$(DIST_NAME)/ -o $(DISTDIR)/$(DIST_NAME).zip HEAD
	git archive --format=tar.gz --prefix=$(DIST_NAME)/ -o $(DISTDIR)/$(DIST_NAME).tar.gz HEAD
