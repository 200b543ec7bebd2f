# pg_memshard: a memory cache in PostgreSQL shared memory, partitioned over nodes.
#
# PGXS build. Every .c file under src/ is part of the module; each sub-folder
# of src/ is one "room" (see README.md).  Convenience targets:
#
#   make demo        install what is missing, build, start a throwaway cluster
#   make demo-stop   stop it
#   make test        the whole test suite (pg_regress + TAP), as in CI

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
