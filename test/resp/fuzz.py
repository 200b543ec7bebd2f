#!/usr/bin/python3
"""Fuzz pg_memshard's RESP parser: random and mutated requests, bounded.

Usage: fuzz.py PORT SECONDS SEED [USER PASSWORD]

Sends, for SECONDS, on fresh connections: well-formed requests mutated
(bytes flipped, inserted, cut), random bytes, huge and negative lengths,
deep arrays, half requests left hanging, and floods of pipelined requests
that are never read.  The server may answer with an error or close the
connection; it must never stop answering.  At the end a new client must get
PONG.  Prints how many requests were sent; exit status 1 if PING fails.
"""
import random
import socket
import sys
import time

from resp_lib import encode

SEEDS = [
    ["SET", "k", "v"], ["GET", "k"], ["MSET", "a", "1", "b", "2"], ["MGET", "a", "b"],
    ["INCR", "n"], ["INCRBYFLOAT", "f", "1.5"], ["APPEND", "k", "x"],
    ["SETRANGE", "k", "5", "abc"], ["GETRANGE", "k", "0", "-1"], ["EXPIRE", "k", "10", "GT"],
    ["SCAN", "0", "MATCH", "*[a-", "COUNT", "5"], ["KEYS", "[^a]*\\"], ["HELLO", "3"],
    ["CLIENT", "SETNAME", "x"], ["SET", "k", "v", "EX", "1", "GET"], ["PING"], ["INFO"],
    ["COMMAND", "DOCS", "get"],
]


def mutate(data, rnd):
    data = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        op = rnd.randint(0, 3)
        pos = rnd.randint(0, max(len(data) - 1, 0))
        if op == 0 and data:
            data[pos] = rnd.randint(0, 255)
        elif op == 1:
            data[pos:pos] = bytes([rnd.choice(b"*$\r\n-0123456789:+")])
        elif op == 2 and data:
            del data[pos]
        else:
            data = data[:pos]
    return bytes(data)


def attack(rnd):
    kind = rnd.randint(0, 9)
    if kind <= 4:
        return mutate(encode(rnd.choice(SEEDS)), rnd) * rnd.randint(1, 3)
    if kind == 5:
        return bytes(rnd.randint(0, 255) for _ in range(rnd.randint(1, 2000)))
    if kind == 6:
        return rnd.choice([b"*2147483648\r\n", b"*-5\r\n", b"*3\r\n$-1\r\n",
                           b"*1\r\n$999999999999\r\n", b"*1\r\n$4294967296\r\nx\r\n",
                           b"*1\r\n$2147483647\r\n", b"$5\r\nhello\r\n",
                           b"*99999999\r\n" + b"$1\r\na\r\n" * 50,
                           b"\"unbalanced " * 100 + b"\r\n", b"x" * 70000])
    if kind == 7:
        return b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nhalf"  # then hang
    if kind == 8:
        return encode(["PING"]) * 20000  # a flood, never read
    return (b"*" + str(rnd.randint(-3, 20)).encode() + b"\r\n" +
            b"".join(b"$" + str(rnd.randint(-2, 8)).encode() + b"\r\n" +
                     bytes(rnd.randint(0, 255) for _ in range(rnd.randint(0, 8))) + b"\r\n"
                     for _ in range(rnd.randint(0, 6))))


def ping(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"PING\r\n")
    reply = s.recv(100)
    s.close()
    return reply


def main():
    port, seconds, seed = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    auth = encode(["AUTH"] + sys.argv[4:6]) if len(sys.argv) > 5 else b""
    rnd = random.Random(seed)
    deadline = time.time() + seconds
    sent = 0
    hanging = []
    while time.time() < deadline:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.settimeout(0.2)
            if auth and rnd.random() < 0.5:
                s.sendall(auth)
            for _ in range(rnd.randint(1, 5)):
                s.sendall(attack(rnd))
                sent += 1
            try:
                s.recv(65536)
            except (socket.timeout, OSError):
                pass
            if rnd.random() < 0.1 and len(hanging) < 20:
                hanging.append(s)  # keep it open, never read again
            else:
                s.close()
        except OSError:
            pass  # the server closed on us: allowed
    reply = ping(port)
    for s in hanging:
        s.close()
    print("%d requests sent; PING after fuzzing: %r" % (sent, reply))
    sys.exit(0 if reply == b"+PONG\r\n" else 1)


if __name__ == "__main__":
    main()
