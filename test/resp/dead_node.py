#!/usr/bin/python3
"""A node that does not answer costs only its keys' clients (test/055).

Usage: dead_node.py PORT DEAD_KEY LIVE_KEY BOUND_SECONDS POSTMASTER_PID

PORT is a node with two RESP workers whose map is over nodes; DEAD_KEY's
shard is on another node, LIVE_KEY's on this node.  Once both clients are
connected and client A's worker has a connection to the other node (A
reads DEAD_KEY), the other node's postmaster and its children are stopped
(SIGSTOP: its connections hang rather than fail); they are resumed at the
end, and their pids printed ("stopped: ...").  Client A (on one worker) asks for DEAD_KEY; client B (on the
other worker) keeps asking for LIVE_KEY meanwhile.  Prints what happened
and exits 1 unless A got an error within BOUND_SECONDS, and B got answers
while A was still waiting.
"""
import os
import signal
import sys
import threading
import time

from resp_lib import Conn


def on_workers(port):
    """Two connections, on two different workers (CLIENT ID's low bits)."""
    by_worker = {}
    spare = []
    for _ in range(64):
        c = Conn(port, timeout=120)
        worker = int(c.call("CLIENT", "ID")[1:-2]) & 63
        if worker in by_worker:
            spare.append(c)
        else:
            by_worker[worker] = c
        if len(by_worker) == 2:
            break
    for c in spare:
        c.close()
    if len(by_worker) < 2:
        print("FAIL could not reach two workers")
        sys.exit(1)
    return list(by_worker.values())


def main():
    port, dead_key, live_key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    bound = float(sys.argv[4])
    postmaster = int(sys.argv[5])
    a, b = on_workers(port)

    # A's worker now holds a connection to the other node: then stop it
    print("before the stop, client A read %r" % a.call("GET", dead_key))
    pids = [postmaster] + children(postmaster)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    print("stopped: %s" % " ".join(str(p) for p in pids))
    try:
        run(a, b, dead_key, live_key, bound)
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def children(parent):
    """The processes whose parent is parent (from /proc), now."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so after ')'
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            found.append(int(entry))
    return found


def run(a, b, dead_key, live_key, bound):
    result = {}

    def blocked():
        t0 = time.monotonic()
        result["reply"] = a.call("GET", dead_key)
        result["start"], result["end"] = t0, time.monotonic()

    t = threading.Thread(target=blocked)
    t.start()
    time.sleep(0.2)
    answered_meanwhile = 0
    while t.is_alive():
        if b.call("SET", live_key, "x") != b"+OK\r\n" or b.call("GET", live_key) != b"$1\r\nx\r\n":
            print("FAIL the other worker's client got a wrong answer")
            sys.exit(1)
        if t.is_alive():
            answered_meanwhile += 1
        time.sleep(0.01)
    t.join()
    waited = result["end"] - result["start"]
    print("client A waited %.2f s and got %r" % (waited, result["reply"]))
    print("client B got %d answers meanwhile" % answered_meanwhile)
    ok = True
    if not result["reply"].startswith(b"-"):
        print("FAIL client A got no error")
        ok = False
    if waited > bound:
        print("FAIL client A waited more than %.1f s" % bound)
        ok = False
    if answered_meanwhile < 5:
        print("FAIL the other worker's client was not answered while A waited")
        ok = False
    # the blocked worker answers again once its call timed out
    if a.call("PING") != b"+PONG\r\n":
        print("FAIL client A's worker does not answer afterwards")
        ok = False
    print("ok" if ok else "failed")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
