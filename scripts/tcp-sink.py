#!/usr/bin/env python3
"""Accepts one TCP connection and writes what it carried to a file: the victim of a bounce.

    tcp-sink.py --listen 198.51.100.3:40500 --out FILE [--ready FILE] [--timeout 30]

FILE gets the bytes received; FILE.peer the connecting address ("198.51.100.2:20"). Exits 0
after one connection closes, 1 when none came within --timeout seconds.
"""

import argparse
import socket
import sys


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", required=True, help="ADDRESS:PORT")
    parser.add_argument("--out", required=True)
    parser.add_argument("--ready", help="created once listening")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, int(port)))
        listener.listen(1)
        listener.settimeout(args.timeout)
        if args.ready:
            open(args.ready, "w").close()
        try:
            conn, peer = listener.accept()
        except socket.timeout:
            sys.exit("tcp-sink.py: no connection within %gs" % args.timeout)
        with conn, open(args.out, "wb") as out:
            conn.settimeout(args.timeout)
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                out.write(chunk)
    with open(args.out + ".peer", "w") as peer_file:
        peer_file.write("%s:%d\n" % peer[:2])


if __name__ == "__main__":
    main(sys.argv[1:])
