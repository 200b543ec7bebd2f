#!/usr/bin/python3
"""The RESP commands on a map over nodes (test/054_resp_cluster.pl).

Usage: cluster_check.py PORT1 PORT2 LOCAL_PORT

PORT1 and PORT2 are the RESP ports of two nodes whose database 0 map and
database 1 map (two copies of each shard) are maps over both nodes;
LOCAL_PORT is a node whose maps are of that node only.  Checks, printing
"FAIL ..." for each failure and exiting 1 if any:
- the read-modify-write and TTL commands on many keys (so on both nodes)
  give the same reply bytes through either node as on the local map;
- KEYS, SCAN (whole iterations with COUNT and MATCH) and DBSIZE see the
  keys of every node, each once, through either node, in both databases;
- APPEND and INCRBYFLOAT from several clients on both nodes at once lose
  no update (each is atomic, as on a local map).
Leaves keys for the SQL checks of the caller: sql:<i> = v<i>, rmw:app.
"""
import sys
import threading

import redis

from resp_lib import Conn

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL " + msg)


def rmw_commands(key):
    """Commands with replies fixed whatever the server (times far off)."""
    k = key
    return [
        ["DEL", k], ["GETSET", k, "a"], ["GETSET", k, "b"], ["SET", k, "c", "GET"],
        ["SET", k, "d", "KEEPTTL"], ["SET", k, "e", "EXAT", "1900000000"],
        ["EXPIRETIME", k], ["TTL", k + "_none"], ["SET", k, "f", "KEEPTTL", "GET"],
        ["EXPIRETIME", k], ["PERSIST", k], ["PERSIST", k], ["TTL", k], ["PTTL", k],
        ["EXPIRE", k, "100", "XX"], ["EXPIRE", k, "100", "NX"],
        ["EXPIRE", k, "1000", "GT"], ["TTL", k], ["EXPIRE", k, "10", "LT"], ["TTL", k],
        ["EXPIRE", k, "5000", "LT"], ["TTL", k], ["PEXPIREAT", k, "1900000000000"],
        ["PEXPIRETIME", k], ["EXPIREAT", k, "1900000001", "GT"], ["EXPIRETIME", k],
        ["GETEX", k, "PERSIST"], ["TTL", k], ["GETEX", k, "EXAT", "1900000000"],
        ["EXPIRETIME", k], ["GETEX", k, "PX", "-1"], ["GETEX", k],
        ["APPEND", k, "hello"], ["APPEND", k, " world"], ["STRLEN", k],
        ["SETRANGE", k, "6", "WORLD"], ["SETRANGE", k, "20", "!"], ["GET", k],
        ["GETRANGE", k, "0", "4"], ["GETDEL", k], ["GETDEL", k],
        ["INCRBYFLOAT", k, "1.5"], ["INCRBYFLOAT", k, "0.1"], ["INCRBYFLOAT", k, "x"],
        ["INCR", k], ["SET", k, "10"], ["INCR", k], ["INCRBY", k, "5"], ["DECRBY", k, "3"],
        ["APPEND", k, "x"], ["INCR", k], ["SET", k, "9223372036854775807"], ["INCR", k],
        ["SETEX", k, "100", "v"], ["TTL", k], ["PSETEX", k, "100000", "v"], ["TTL", k],
        ["SET", k, "v", "PXAT", "1"], ["GET", k], ["EXPIRE", k, "-1"], ["EXISTS", k],
        ["SET", k, "v", "EX", "100"], ["EXPIRE", k, "0"], ["GET", k], ["TYPE", k],
        ["MSETNX", k, "1", k + "_b", "2"], ["MSETNX", k, "1"], ["DEL", k, k + "_b"],
    ]


def compare_replies(ports, local_port):
    keys = ["key%d" % i for i in range(24)]
    for db in (0, 1):
        for port in ports:
            ours, theirs = Conn(port), Conn(local_port)
            for c in (ours, theirs):
                c.call("SELECT", str(db))
            n = 0
            for k in keys:
                for cmd in rmw_commands(k):
                    a, b = ours.call(*cmd), theirs.call(*cmd)
                    n += 1
                    if a != b:
                        fail("db %d port %d: %s: %r, on a local map %r"
                             % (db, port, " ".join(cmd), a, b))
            ours.close()
            theirs.close()
            print("db %d port %d: %d replies compared" % (db, port, n))


def scan_all(r, match=None, count=None):
    seen = []
    cursor = 0
    calls = 0
    while True:
        cursor, batch = r.scan(cursor, match=match, count=count)
        seen.extend(batch)
        calls += 1
        if cursor == 0:
            return seen, calls
        if calls > 100000:
            fail("SCAN does not end")
            return seen, calls


def check_keyspace(ports):
    for db in (0, 1):
        clients = [redis.Redis(port=p, db=db) for p in ports]
        clients[0].flushdb()
        expect = set()
        for i in range(300):
            clients[i % 2].set("sk:%d" % i, "v")
            expect.add(b"sk:%d" % i)
        for j in range(40):
            clients[j % 2].set("other:%d" % j, "w")
        everything = expect | {b"other:%d" % j for j in range(40)}
        for port, r in zip(ports, clients):
            where = "db %d port %d" % (db, port)
            if r.dbsize() != len(everything):
                fail("%s: DBSIZE %d, expected %d" % (where, r.dbsize(), len(everything)))
            keys = r.keys("*")
            if sorted(keys) != sorted(everything):
                fail("%s: KEYS * gave %d keys (%d distinct), expected %d"
                     % (where, len(keys), len(set(keys)), len(everything)))
            if set(r.keys("sk:*")) != expect:
                fail("%s: KEYS sk:* differs" % where)
            for count in (None, 7, 1000):
                seen, calls = scan_all(r, count=count)
                if set(seen) != everything or len(seen) != len(everything):
                    fail("%s: SCAN COUNT %s: %d keys (%d distinct) in %d calls, expected %d"
                         % (where, count, len(seen), len(set(seen)), calls, len(everything)))
            seen, calls = scan_all(r, match="sk:1*", count=5)
            want = {k for k in expect if k.startswith(b"sk:1")}
            if set(seen) != want or len(seen) != len(want):
                fail("%s: SCAN MATCH sk:1* COUNT 5: %d keys, expected %d"
                     % (where, len(seen), len(want)))
            seen, calls = scan_all(r, count=7)
            if calls < 3:
                fail("%s: SCAN COUNT 7 over %d keys took only %d calls"
                     % (where, len(everything), calls))
        print("db %d: keyspace checked on both nodes" % db)


def hammer(port, db, fn, n):
    r = redis.Redis(port=port, db=db)
    for _ in range(n):
        fn(r)


def check_atomic(ports):
    for db in (0, 1):
        r = redis.Redis(port=ports[0], db=db)
        r.delete("atom:app", "atom:float", "atom:incr")
        per, nthreads = 150, 4
        threads = []
        for t in range(nthreads):
            port = ports[t % 2]
            threads.append(threading.Thread(target=hammer, args=(
                port, db, lambda c: (c.append("atom:app", "x"),
                                     c.incrbyfloat("atom:float", "0.5"),
                                     c.incr("atom:incr")), per)))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        total = per * nthreads
        if r.strlen("atom:app") != total:
            fail("db %d: APPEND from %d clients on both nodes: length %d, expected %d"
                 % (db, nthreads, r.strlen("atom:app"), total))
        if float(r.get("atom:float")) != total * 0.5:
            fail("db %d: INCRBYFLOAT lost updates: %r" % (db, r.get("atom:float")))
        if int(r.get("atom:incr")) != total:
            fail("db %d: INCR lost updates: %r" % (db, r.get("atom:incr")))
        print("db %d: %d concurrent APPEND/INCRBYFLOAT/INCR each, none lost" % (db, total))


def leave_for_sql(ports):
    for db in (0, 1):
        r1 = redis.Redis(port=ports[0], db=db)
        r2 = redis.Redis(port=ports[1], db=db)
        for i in range(20):
            (r1 if i % 2 else r2).set("sql:%d" % i, "v%d" % i)
        r1.set("rmw:app", "ab")
        r2.append("rmw:app", "cd")
        r1.setrange("rmw:app", 4, "ef")
        r2.getset("rmw:gs", "new")
        r1.expire("rmw:app", 5000)


def main():
    ports = [int(sys.argv[1]), int(sys.argv[2])]
    local_port = int(sys.argv[3])
    compare_replies(ports, local_port)
    check_keyspace(ports)
    check_atomic(ports)
    leave_for_sql(ports)
    print("%d failures" % len(failures))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
