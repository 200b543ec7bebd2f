#!/usr/bin/python3
"""MSETNX from several clients at once on the same keys (test/056).

Usage: msetnx_race.py PORT ROUNDS

Each round, CLIENTS clients (connections, so spread over the RESP workers)
wait for each other, then each sends MSETNX of the same three fresh keys
(every client its own value, half of them naming the keys in the other
order).  Checks, printing "FAIL ..." and exiting 1 on a failure: at most
one client of a round gets 1; afterwards the three keys hold that
client's value, or none of them exists if no client got 1 (all or none).
Deletes the keys.  Prints "<rounds> rounds, <won> won, 0 failures".
"""
import sys
import threading

from resp_lib import Conn

CLIENTS = 4
port, rounds = int(sys.argv[1]), int(sys.argv[2])
barrier = threading.Barrier(CLIENTS)
replies = [[None] * rounds for _ in range(CLIENTS)]


def client(me):
    conn = Conn(port)
    for r in range(rounds):
        keys = ["race:%d:%d" % (r, i) for i in range(3)]
        if me % 2:
            keys.reverse()
        args = ["MSETNX"]
        for k in keys:
            args += [k, "c%d" % me]
        barrier.wait()
        replies[me][r] = conn.call(*args)
    conn.close()


threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
for t in threads:
    t.start()
for t in threads:
    t.join()

check = Conn(port)
failures = won = 0
for r in range(rounds):
    got = [replies[c][r] for c in range(CLIENTS)]
    winners = [c for c in range(CLIENTS) if got[c] == b":1\r\n"]
    if any(g not in (b":0\r\n", b":1\r\n") for g in got) or len(winners) > 1:
        print("FAIL round %d: replies %r" % (r, got))
        failures += 1
        continue
    values = [check.call("GET", "race:%d:%d" % (r, i)) for i in range(3)]
    want = "$2\r\nc%d\r\n" % winners[0] if winners else "$-1\r\n"
    if values != [want.encode()] * 3:
        print("FAIL round %d: winners %r, keys %r" % (r, winners, values))
        failures += 1
    won += len(winners)
    check.call("DEL", *["race:%d:%d" % (r, i) for i in range(3)])
print("%d rounds, %d won, %d failures" % (rounds, won, failures))
sys.exit(1 if failures else 0)
