#!/usr/bin/python3
"""Byte-for-byte comparison of pg_memshard's RESP replies with redis-server's.

Usage: compare.py OUR_PORT REDIS_PORT [AUTH_USER AUTH_PASSWORD]

Runs the same commands (RESP2, then RESP3 after HELLO 3, then inline ones)
against both servers and prints every reply that differs.  Commands whose
answer depends on time or on the server (INFO, CLIENT ID, TIME, TTL values)
are left out, or shaped so that the answer is fixed.  Exit status 1 if any
reply differs.
"""
import sys

from resp_lib import Conn, read_reply

COMMANDS = [
    ["PING"], ["PING", "hello"], ["PING", "a", "b"], ["ECHO", "x y"], ["ECHO"],
    ["FLUSHDB"], ["SET", "k", "v"], ["GET", "k"], ["GET", "nokey"], ["GET"],
    ["SET", "k"], ["SET", "k", "v", "NX"], ["SET", "k", "v2", "XX"], ["GET", "k"],
    ["SET", "k", "v", "NX", "XX"], ["SET", "k", "v", "EX"], ["SET", "k", "v", "EX", "0"],
    ["SET", "k", "v", "EX", "-1"], ["SET", "k", "v", "EX", "abc"],
    ["SET", "k", "v", "PX", "100", "EX", "100"], ["SET", "k", "v", "KEEPTTL", "EX", "5"],
    ["SET", "k", "v", "EX", "9223372036854775807"], ["SET", "k", "v3", "GET"],
    ["SET", "new", "v", "GET"], ["SET", "k", "v4", "NX", "GET"], ["SET", "k", "v5", "XX", "GET"],
    ["SET", "k", "v", "FOO"], ["SETNX", "k", "x"], ["SETNX", "k2", "x"],
    ["SETEX", "k3", "100", "v"], ["SETEX", "k3", "0", "v"], ["SETEX", "k3", "x", "v"],
    ["PSETEX", "k4", "100000", "v"], ["PSETEX", "k4", "-5", "v"],
    ["GETSET", "k", "g"], ["GETSET", "none1", "g"], ["GETDEL", "k"], ["GETDEL", "k"],
    ["GETEX", "k2"], ["GETEX", "k2", "PERSIST"], ["GETEX", "k2", "EX", "100"],
    ["GETEX", "k2", "EX", "-1"], ["GETEX", "nokey", "EX", "-1"], ["GETEX", "k2", "FOO"],
    ["MSET", "a", "1", "b", "2"], ["MSET", "a"], ["MSET", "a", "1", "b"],
    ["MGET", "a", "b", "nokey"], ["MSETNX", "a", "1", "c", "3"], ["MSETNX", "c", "3", "d", "4"],
    ["INCR", "n"], ["INCR", "n"], ["INCRBY", "n", "10"], ["INCRBY", "n", "x"],
    ["DECR", "n"], ["DECRBY", "n", "5"], ["DECRBY", "n", "-9223372036854775808"],
    ["SET", "n", "9223372036854775807"], ["INCR", "n"], ["SET", "n", " 1"], ["INCR", "n"],
    ["SET", "n", "01"], ["INCR", "n"], ["INCR", "a", "b"],
    ["INCRBYFLOAT", "f", "1.5"], ["INCRBYFLOAT", "f", "0.1"], ["INCRBYFLOAT", "f", "abc"],
    ["INCRBYFLOAT", "f", "1e400"], ["INCRBYFLOAT", "f", "-1.6"], ["SET", "f", "5.0e3"],
    ["INCRBYFLOAT", "f", "2.0e2"],
    ["APPEND", "s", "hello"], ["APPEND", "s", " world"], ["STRLEN", "s"], ["STRLEN", "nokey"],
    ["GETRANGE", "s", "0", "4"], ["GETRANGE", "s", "-5", "-1"], ["GETRANGE", "s", "5", "1"],
    ["GETRANGE", "s", "0", "-100"], ["GETRANGE", "nokey", "0", "1"], ["GETRANGE", "s", "x", "1"],
    ["SETRANGE", "s", "6", "WORLD"], ["GET", "s"], ["SETRANGE", "s", "-1", "x"],
    ["SETRANGE", "pad", "3", "ab"], ["GET", "pad"], ["SETRANGE", "empty", "0", ""],
    ["SETRANGE", "s", "536870911", "x"],
    ["DEL", "a", "b", "nokey"], ["UNLINK", "c"], ["EXISTS", "d", "d", "nokey"],
    ["EXPIRE", "d", "100"], ["TTL", "d"], ["EXPIRE", "d", "100", "NX"], ["EXPIRE", "d", "200", "XX"],
    ["EXPIRE", "d", "50", "GT"], ["EXPIRE", "d", "50", "LT"], ["EXPIRE", "d", "10", "NX", "XX"],
    ["EXPIRE", "d", "10", "GT", "LT"], ["EXPIRE", "d", "10", "FOO"], ["EXPIRE", "nokey", "10"],
    ["EXPIRE", "d", "x"], ["PERSIST", "d"], ["PERSIST", "d"], ["TTL", "d"], ["PTTL", "d"],
    ["TTL", "nokey"], ["PTTL", "nokey"], ["EXPIRETIME", "d"], ["PEXPIRETIME", "nokey"],
    ["EXPIREAT", "d", "2000000000"], ["EXPIRETIME", "d"], ["PEXPIREAT", "d", "1"],
    ["EXISTS", "d"], ["EXPIRE", "s", "-1"], ["GET", "s"], ["SET", "x", "1", "PXAT", "1"],
    ["GET", "x"], ["TYPE", "pad"], ["TYPE", "nokey"],
    ["FLUSHDB"], ["MSET", "key:1", "a", "key:2", "b", "other", "c"], ["KEYS", "nomatch*"],
    ["SCAN", "x"], ["SCAN", "0", "COUNT", "0"], ["SCAN", "0", "FOO", "bar"],
    ["SCAN", "0", "TYPE", "list"], ["DBSIZE"], ["DBSIZE", "x"],
    ["SELECT", "1"], ["SELECT", "100"], ["SELECT", "x"], ["SELECT", "0"],
    ["CLIENT", "SETNAME", "my-name"], ["CLIENT", "GETNAME"], ["CLIENT", "SETNAME", "a b"],
    ["CLIENT", "SETNAME"], ["CLIENT", "FOO"], ["CLIENT"],
    ["CONFIG", "GET", "save"], ["CONFIG", "GET", "appendonly"], ["CONFIG", "GET"],
    ["FUNCTION", "FLUSH"], ["FUNCTION", "FLUSH", "x"],
    ["HELLO", "4"], ["HELLO", "x"], ["HELLO", "2", "FOO"],
    ["AUTH", "a", "b", "c"], ["NOSUCHCOMMAND", "a", "b"], ["nosuch"],
    ["FLUSHDB", "ASYNC"], ["FLUSHDB", "FOO"], ["FLUSHALL", "SYNC"],
]

RESP3_COMMANDS = [
    ["HELLO", "3"], ["SET", "k", "v"], ["GET", "k"], ["GET", "nokey"], ["MGET", "k", "nokey"],
    ["SET", "k", "v", "NX"], ["GETDEL", "nokey"], ["CONFIG", "GET", "save"],
    ["CLIENT", "GETNAME"], ["INCRBYFLOAT", "f", "2.5"], ["TTL", "k"], ["DEL", "k", "f"],
    ["HELLO", "2"], ["GET", "nokey"],
]

INLINE = [b"PING\r\n", b"SET inl \"a b\\x41\"\r\n", b"GET inl\r\n", b"ECHO 'it\\'s'\r\n",
          b"  \r\n", b"ECHO \"unbalanced\r\n"]


def hello_fixed(reply):
    """HELLO's client id differs between servers: leave it out."""
    if b"id\r\n:" not in reply:
        return reply
    head, tail = reply.split(b"id\r\n:", 1)
    return head + tail.split(b"\r\n", 1)[1]


def run(port, auth, cmds):
    c = Conn(port)
    if auth:
        c.call("AUTH", *auth)
    out = []
    for cmd in cmds:
        r = c.call(*cmd)
        if cmd[0] == "HELLO" and r.startswith((b"*", b"%")):
            r = hello_fixed(r)
        out.append(r)
    c.close()
    return out


def run_inline(port, auth):
    c = Conn(port)
    if auth:
        c.call("AUTH", *auth)
    out = []
    for line in INLINE:
        c.send_raw(line)
        if line.strip():
            out.append(c.reply())
    c.close()
    return out


def main():
    ours, theirs = int(sys.argv[1]), int(sys.argv[2])
    auth = sys.argv[3:5] if len(sys.argv) > 4 else None
    bad = 0
    total = 0
    for cmds in (COMMANDS, RESP3_COMMANDS):
        a = run(ours, auth, cmds)
        b = run(theirs, None, cmds)
        for cmd, x, y in zip(cmds, a, b):
            total += 1
            if x != y:
                bad += 1
                print("DIFF %s\n  ours:  %r\n  redis: %r" % (" ".join(cmd), x, y))
    a = run_inline(ours, auth)
    b = run_inline(theirs, None)
    for line, x, y in zip([l for l in INLINE if l.strip()], a, b):
        total += 1
        if x != y:
            bad += 1
            print("DIFF inline %r\n  ours:  %r\n  redis: %r" % (line, x, y))
    print("%d replies compared, %d differ" % (total, bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
