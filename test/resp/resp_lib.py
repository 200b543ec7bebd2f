"""Raw RESP helpers for the pg_memshard RESP tests (no client library).

encode(args) builds a RESP2 multibulk request; read_reply(sock_file)
reads exactly one reply (RESP2 or RESP3) and returns its raw bytes, so
replies can be compared byte for byte with redis-server's.
"""
import socket


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def _line(f):
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise EOFError("connection closed in a reply: %r" % line)
    return line


def read_reply(f):
    """One reply's raw bytes."""
    line = _line(f)
    kind = line[:1]
    if kind in b"+-:_,#(":
        return line
    if kind in b"$=!":
        n = int(line[1:-2])
        if n < 0:
            return line
        return line + f.read(n + 2)
    if kind in b"*~>%|":
        n = int(line[1:-2])
        if n < 0:
            return line
        if kind in b"%|":
            n *= 2
        return line + b"".join(read_reply(f) for _ in range(n))
    raise ValueError("not a RESP reply: %r" % line)


class Conn:
    def __init__(self, port, host="127.0.0.1", timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.f = self.sock.makefile("rb")

    def call(self, *args):
        self.sock.sendall(encode(args))
        return read_reply(self.f)

    def send_raw(self, data):
        self.sock.sendall(data)

    def reply(self):
        return read_reply(self.f)

    def close(self):
        self.f.close()
        self.sock.close()
