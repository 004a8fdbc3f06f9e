#!/usr/bin/env python3
"""An anonymous FTP server for the ftpgate lab (pyftpdlib).

Anonymous users may read and write everything under --root. Every command received and every
reply sent is appended to --transcript, one line each ("<- PORT 198,51,100,1,78,33" and
"-> 200 Active data connection established."), so a test can see what crossed the gateway
after rewriting. When the server is listening, --ready FILE is created.

By default pyftpdlib refuses a PORT/EPRT naming any host but the control connection's peer
and any privileged port, and it refuses passive data connections from any host but the peer.
--permit-foreign lifts the first and last rule, so the server obeys bounce attempts (for
testing that the gateway stops them before the server sees them). --permit-privileged lifts
the second, so the server connects to a port below 1024 that a PORT/EPRT names (a NAT pinning
attempt: an inside client asking for a connection to its own privileged port).
--masquerade-address ADDR makes its 227 replies name ADDR (a server behind its own NAT that
announces its private address).

Run it in a lab namespace:
    scripts/lab.sh exec PREFIX server -- python3 scripts/ftp-server.py --root DIR
"""

import argparse
import logging
import os
import signal
import warnings
import sys

try:
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import FTPServer
except ImportError:
    sys.exit(
        "ftp-server.py: pyftpdlib is missing for %s (scripts/lab-deps.sh installs it)"
        % sys.executable
    )


def port_range(text):
    first, sep, last = text.partition("-")
    try:
        first, last = int(first), int(last if sep else first)
    except ValueError:
        raise argparse.ArgumentTypeError("expected FIRST-LAST, got %r" % text)
    if not 1024 <= first <= last <= 65535:
        raise argparse.ArgumentTypeError("expected 1024 <= FIRST <= LAST <= 65535")
    return list(range(first, last + 1))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, help="directory served (read and write)")
    parser.add_argument("--address", default="0.0.0.0", help="address to listen on")
    parser.add_argument("--port", type=int, default=21, help="control port (default 21)")
    parser.add_argument(
        "--passive-ports",
        type=port_range,
        default=port_range("40000-40100"),
        help="passive data ports FIRST-LAST (default 40000-40100)",
    )
    parser.add_argument(
        "--permit-foreign",
        action="store_true",
        help="obey PORT/EPRT naming third hosts and accept passive data from them",
    )
    parser.add_argument(
        "--permit-privileged",
        action="store_true",
        help="obey PORT/EPRT naming a port below 1024",
    )
    parser.add_argument(
        "--masquerade-address",
        help="the address 227 replies name instead of the server's own (a server behind its"
        " own NAT announcing its private address)",
    )
    parser.add_argument("--transcript", help="append commands and replies to this file")
    parser.add_argument("--ready", help="create this file once listening")
    parser.add_argument("--log", help="pyftpdlib's own log (default: stderr)")
    parser.add_argument("--debug", action="store_true", help="pyftpdlib logs at DEBUG level")
    return parser.parse_args(argv)


def make_handler(args):
    """An FTPHandler subclass bound to this run's settings."""
    transcript = open(args.transcript, "a", buffering=1) if args.transcript else None

    class LabHandler(FTPHandler):
        def pre_process_command(self, line, cmd, arg):
            if transcript is not None:
                shown = "PASS ******" if cmd == "PASS" else line
                transcript.write("<- %s\n" % shown)
            return super().pre_process_command(line, cmd, arg)

        def respond(self, resp, *rest, **kwargs):
            if transcript is not None:
                transcript.write("-> %s\n" % resp)
            return super().respond(resp, *rest, **kwargs)

    authorizer = DummyAuthorizer()
    # Anonymous write access is the point of a lab server: no warning for it.
    warnings.filterwarnings("ignore", "write permissions assigned to anonymous", RuntimeWarning)
    # e: cwd, l: list, r: retrieve, a: append, d: delete, f: rename, m: mkdir, w: store,
    # M: chmod, T: mtime.
    authorizer.add_anonymous(os.path.abspath(args.root), perm="elradfmwMT")
    LabHandler.authorizer = authorizer
    LabHandler.passive_ports = args.passive_ports
    LabHandler.permit_foreign_addresses = args.permit_foreign
    LabHandler.permit_privileged_ports = args.permit_privileged
    LabHandler.banner = "ftpgate lab server ready."
    if args.masquerade_address:
        LabHandler.masquerade_address = args.masquerade_address
    return LabHandler


def main(argv):
    args = parse_args(argv)
    if not os.path.isdir(args.root):
        sys.exit("ftp-server.py: --root %s is not a directory" % args.root)
    level = logging.DEBUG if args.debug else logging.INFO
    if args.log:
        logging.basicConfig(filename=args.log, level=level)
    else:
        logging.basicConfig(stream=sys.stderr, level=level)

    server = FTPServer((args.address, args.port), make_handler(args))
    server.max_cons = 64

    # SIGTERM ends the loop the same way Ctrl-C does, so connections are closed cleanly.
    def on_term(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    if args.ready:
        with open(args.ready, "w") as ready:
            ready.write("%s:%d\n" % server.address[:2])
    print("listening on %s:%d" % server.address[:2], flush=True)
    try:
        server.serve_forever(handle_exit=True)
    finally:
        server.close_all()


if __name__ == "__main__":
    main(sys.argv[1:])
