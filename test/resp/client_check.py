#!/usr/bin/python3
"""redis-py (Debian's python3-redis) against pg_memshard's RESP port.

Usage: client_check.py PORT USER PASSWORD NOEXEC_USER NOEXEC_PASSWORD

Prints one "ok <what>" or "not ok <what>: <why>" line per check; exit
status 1 if any failed.  The TAP test runs it and checks the SQL side.
"""
import sys
import time

import redis

from resp_lib import Conn

failures = 0


def check(what, cond, why=""):
    global failures
    if cond:
        print("ok %s" % what)
    else:
        failures += 1
        print("not ok %s: %s" % (what, why))


def expect_error(what, fn, text):
    try:
        fn()
    except redis.exceptions.ResponseError as e:
        check(what, text in str(e), "error %r lacks %r" % (str(e), text))
        return
    except redis.exceptions.AuthenticationError as e:
        check(what, text in str(e), "error %r lacks %r" % (str(e), text))
        return
    check(what, False, "no error")


def main():
    port = int(sys.argv[1])
    user, password, noexec, noexec_pw = sys.argv[2:6]

    anon = redis.Redis(port=port)
    check("PING before AUTH", anon.ping())
    expect_error("GET before AUTH is refused", lambda: anon.get("x"), "Authentication required")
    expect_error("wrong password", lambda: redis.Redis(port=port, username=user,
                                                       password="wrong").ping(),
                 "invalid username-password pair")

    r = redis.Redis(port=port, username=user, password=password)
    # what SQL sets, RESP reads (the TAP test set sql_key beforehand)
    check("key set in SQL read over RESP", r.get("sql_key") == b"from sql")
    r.flushdb()
    check("SET/GET", r.set("rk", "rv") and r.get("rk") == b"rv")
    check("SET EX and TTL", r.set("ttl", "v", ex=100) and 99 <= r.ttl("ttl") <= 100)
    check("PX and PTTL", r.set("pttl", "v", px=5000) and 4800 <= r.pttl("pttl") <= 5000)
    check("SET NX on existing", r.set("rk", "other", nx=True) is None)
    check("SET XX", r.set("rk", "rv2", xx=True) and r.get("rk") == b"rv2")
    check("GETSET", r.getset("rk", "rv3") == b"rv2")
    check("MSET/MGET", r.mset({"m1": "1", "m2": "2"}) and r.mget("m1", "m2", "m3") == [b"1", b"2", None])
    check("INCR/INCRBY/DECR/DECRBY", r.incr("cnt") == 1 and r.incrby("cnt", 10) == 11
          and r.decr("cnt") == 10 and r.decrby("cnt", 5) == 5)
    check("INCRBYFLOAT", r.incrbyfloat("fl", 2.5) == 2.5)
    check("APPEND/STRLEN/GETRANGE/SETRANGE", r.append("ap", "hello") == 5
          and r.setrange("ap", 0, "J") == 5 and r.getrange("ap", 0, 1) == b"Je"
          and r.strlen("ap") == 5)
    check("EXPIRE/PERSIST", r.expire("ap", 100) and r.persist("ap") and r.ttl("ap") == -1)
    check("GETEX/GETDEL", r.getex("ap", ex=50) == b"Jello" and r.getdel("ap") == b"Jello"
          and r.exists("ap") == 0)
    check("TYPE", r.type("rk") == b"string" and r.type("nope") == b"none")
    keys = set(r.keys("m*"))
    check("KEYS", keys == {b"m1", b"m2"}, repr(keys))
    check("SCAN", set(r.scan_iter(match="m*", count=2)) == {b"m1", b"m2"})
    check("DBSIZE", r.dbsize() == len(r.keys("*")))
    check("DEL/UNLINK", r.delete("m1", "m2", "nope") == 2 and r.unlink("cnt") == 1)
    check("SELECT 1 is another map", redis.Redis(port=port, db=1, username=user,
                                                 password=password).get("rk") is None)
    check("CLIENT SETNAME/GETNAME", r.client_setname("tester") and r.client_getname() == "tester")
    check("INFO", r.info()["redis_version"].startswith("7.") and r.info()["arch_bits"] == 64)
    check("CONFIG GET", r.config_get("save") == {"save": ""})
    check("TIME", len(r.time()) == 2)

    # pipelining: 1000 commands in one write
    p = r.pipeline(transaction=False)
    for i in range(1000):
        p.set("p%d" % i, i)
    for i in range(1000):
        p.get("p%d" % i)
    res = p.execute()
    check("pipeline of 2000", res[:1000] == [True] * 1000 and
          res[1000:] == [str(i).encode() for i in range(1000)])

    # RESP3 on a raw socket: HELLO 3 AUTH, nulls and maps
    c = Conn(port)
    hello = c.call("HELLO", "3", "AUTH", user, password)
    check("HELLO 3 AUTH", hello.startswith(b"%7\r\n") and b"proto\r\n:3" in hello, repr(hello[:60]))
    check("RESP3 null", c.call("GET", "nope") == b"_\r\n")
    check("RESP3 map", c.call("CONFIG", "GET", "appendonly") == b"%1\r\n$10\r\nappendonly\r\n$2\r\nno\r\n")
    c.close()

    # a role that may log in but has no EXECUTE on the data functions
    n = redis.Redis(port=port, username=noexec, password=noexec_pw)
    check("role without EXECUTE authenticates", n.ping())
    expect_error("role without EXECUTE: GET refused", lambda: n.get("rk"), "no permissions")
    expect_error("role without EXECUTE: SET refused", lambda: n.set("rk", "x"), "no permissions")
    expect_error("FLUSHDB needs memshard.flush", lambda: n.flushdb(), "no permissions")
    check("refused SET changed nothing", r.get("rk") == b"rv3")

    r.set("resp_key", "from resp")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
