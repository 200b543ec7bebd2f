#!/usr/bin/env bash
# callgraph.sh: the call graph between the files and the rooms of src/,
# from the object files (nm: the symbols each .o defines and those it
# uses), and the circles in it.
#
#   bash scripts/callgraph.sh [--edges] [--check]
#
# Builds the objects first (make, warnings aside).  Prints the rooms each
# room uses, then every circle (strongly connected component of more than
# one member) between rooms and between files, then the files over 700
# lines.  --edges also prints every file -> file edge with the symbols it
# uses; --check exits 1 if there is a circle between files or rooms.
#
# A room is a folder of src/; a file directly in src/ is a room of its own,
# named after it (pg_memshard: start-up; settings: the settings' values).
# An edge A -> B means A.o refers to a symbol B.o defines: a call, or a use
# of a global variable.  Static inline functions of headers leave no
# symbol and are not seen.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
PG_CONFIG=${PG_CONFIG:-$(command -v pg_config || echo /usr/lib/postgresql/15/bin/pg_config)}

show_edges=0
check=0
for arg in "$@"; do
    case $arg in
        --edges) show_edges=1 ;;
        --check) check=1 ;;
        *) echo "usage: $0 [--edges] [--check]" >&2; exit 2 ;;
    esac
done

objs=$(ls src/*.c src/*/*.c | sed 's/\.c$/.o/')
# shellcheck disable=SC2086
make -s PG_CONFIG="$PG_CONFIG" $objs >/dev/null

# one line per symbol: "D file symbol" (defined) or "U file symbol" (used)
for o in $objs; do
    f=${o%.o}.c
    nm -g --defined-only "$o" | awk -v f="$f" 'NF >= 3 { print "D", f, $3 }'
    nm -u "$o" | awk -v f="$f" '{ print "U", f, $NF }'
done | SHOW_EDGES=$show_edges CHECK=$check python3 -c '
import os, sys
from collections import defaultdict

defined = {}
uses = defaultdict(set)
for line in sys.stdin:
    kind, f, sym = line.split()
    if kind == "D":
        defined[sym] = f
    else:
        uses[f].add(sym)

def room(f):
    parts = f.split("/")
    return parts[1] if len(parts) > 2 else parts[1][:-2]

edges = defaultdict(set)            # file -> files it uses
syms = defaultdict(set)             # (file, file) -> symbols
for f, ss in uses.items():
    for s in ss:
        g = defined.get(s)
        if g is not None and g != f:
            edges[f].add(g)
            syms[(f, g)].add(s)
files = sorted(set(defined.values()) | set(uses))

def sccs(nodes, succ):
    """Tarjan: the strongly connected components of more than one node."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    def visit(v):
        index[v] = low[v] = counter[0]; counter[0] += 1
        stack.append(v); on.add(v)
        for w in sorted(succ.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))
    sys.setrecursionlimit(10000)
    for v in nodes:
        if v not in index:
            visit(v)
    return sorted(out)

room_edges = defaultdict(set)
for f, gs in edges.items():
    for g in gs:
        if room(f) != room(g):
            room_edges[room(f)].add(room(g))
rooms = sorted({room(f) for f in files})

print("== rooms and the rooms they use")
for r in rooms:
    print("  %-12s -> %s" % (r, " ".join(sorted(room_edges.get(r, ()))) or "-"))

if os.environ.get("SHOW_EDGES") == "1":
    print("== file -> file (symbols)")
    for f in files:
        for g in sorted(edges.get(f, ())):
            print("  %s -> %s: %s" % (f, g, " ".join(sorted(syms[(f, g)]))))

bad = 0
print("== circles between rooms")
for comp in sccs(rooms, room_edges):
    bad += 1
    print("  " + " <-> ".join(comp))
    members = set(comp)
    for f in files:
        for g in sorted(edges.get(f, ())):
            if room(f) in members and room(g) in members and room(f) != room(g):
                print("      %s -> %s: %s" % (f, g, " ".join(sorted(syms[(f, g)]))))
print("== circles between files")
for comp in sccs(files, edges):
    bad += 1
    print("  " + " <-> ".join(comp))
    members = set(comp)
    for f in comp:
        for g in sorted(edges.get(f, ())):
            if g in members:
                print("      %s -> %s: %s" % (f, g, " ".join(sorted(syms[(f, g)]))))
print("== circles: %d" % bad)
if os.environ.get("CHECK") == "1" and bad:
    sys.exit(1)
'
status=$?

echo "== files over 700 lines"
wc -l src/*.[ch] src/*/*.[ch] | awk '$2 != "total" && $1 > 700 { print "  " $0; n++ } END { if (!n) print "  none" }'
exit $status
