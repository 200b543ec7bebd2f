# pg_memshard: a memory cache in PostgreSQL shared memory, partitioned over nodes.
#
# PGXS build. Every .c file under src/ is part of the module; each sub-folder
# of src/ is one "room" (see README.md).  Convenience targets:
#
#   make demo        install what is missing, build, start a throwaway cluster
#   make demo-stop   stop it
#   make test        the whole test suite (pg_regress + TAP), as in CI
#   make dist        release archives pg_memshard-<version>.zip and .tar.gz

MODULE_big = pg_memshard
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c src/*/*.c)))

EXTENSION = pg_memshard
DATA = $(sort $(wildcard pg_memshard--*.sql))
PGFILEDESC = "pg_memshard - sharded memory cache in shared memory"

PG_CPPFLAGS = -I$(srcdir)/src -I$(libpq_srcdir)
PG_CFLAGS = -Wall -Werror
SHLIB_LINK_INTERNAL = $(libpq)

EXTRA_CLEAN = tmp_install tmp_check results regression.diffs regression.out log

# no LLVM bitcode for JIT inlining: it needs clang and buys nothing here
override with_llvm = no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# every object depends on every header of ours (the project is small)
$(OBJS): $(wildcard src/*.h src/*/*.h)

.PHONY: demo demo-stop test

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
