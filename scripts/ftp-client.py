#!/usr/bin/env python3
"""A python ftplib client for the ftpgate lab: one get, put or list per run.

    ftp-client.py --host 198.51.100.2 [--active] get REMOTE LOCAL
    ftp-client.py --host 198.51.100.2 [--active] put LOCAL REMOTE
    ftp-client.py --host 198.51.100.2 [--active] list [DIR]

Passive mode (PASV, the default) or active mode (--active: PORT). Over IPv4, ftplib speaks
PASV and PORT only, never EPSV or EPRT. Logs in anonymously. list prints the LIST lines.
Exits non-zero with the server's reply on any FTP error.

--bounce HOST:PORT sends "PORT HOST,PORT" naming another host instead of opening a data
connection of its own, then the transfer command, and waits for the final reply: the FTP
bounce attack (RFC 2577), for testing what a gateway lets through. get then writes nothing.
"""

import argparse
import ftplib
import sys


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, default=21)
    parser.add_argument("--active", action="store_true", help="PORT instead of PASV")
    parser.add_argument("--timeout", type=float, default=20.0, help="socket timeout, seconds")
    parser.add_argument("--verbose", action="store_true", help="print the control dialogue")
    parser.add_argument(
        "--bounce", metavar="HOST:PORT", help="announce HOST:PORT with PORT (no data of our own)"
    )
    sub = parser.add_subparsers(dest="op", required=True)
    get = sub.add_parser("get", help="download REMOTE to LOCAL")
    get.add_argument("remote")
    get.add_argument("local")
    put = sub.add_parser("put", help="upload LOCAL to REMOTE")
    put.add_argument("local")
    put.add_argument("remote")
    lst = sub.add_parser("list", help="print the LIST of DIR")
    lst.add_argument("dir", nargs="?", default="")
    return parser.parse_args(argv)


def run(args):
    with ftplib.FTP(timeout=args.timeout) as ftp:
        ftp.set_debuglevel(1 if args.verbose else 0)
        ftp.connect(args.host, args.port)
        ftp.login()
        ftp.set_pasv(not args.active)
        if args.bounce:
            bounce(ftp, args)
        elif args.op == "get":
            with open(args.local, "wb") as out:
                ftp.retrbinary("RETR " + args.remote, out.write)
        elif args.op == "put":
            with open(args.local, "rb") as src:
                ftp.storbinary("STOR " + args.remote, src)
        else:
            lines = []
            ftp.retrlines("LIST " + args.dir if args.dir else "LIST", lines.append)
            for line in lines:
                print(line)
        ftp.quit()


def bounce(ftp, args):
    """PORT naming someone else, then the transfer; the data goes there, not to us."""
    host, _, port = args.bounce.rpartition(":")
    ftp.sendport(host, int(port))
    if args.op == "get":
        command = "RETR " + args.remote
    elif args.op == "put":
        command = "STOR " + args.remote
    else:
        command = "LIST " + args.dir if args.dir else "LIST"
    reply = ftp.sendcmd(command)  # 1xx: the server is connecting to HOST:PORT
    print(reply, file=sys.stderr)
    print(ftp.voidresp(), file=sys.stderr)  # 2xx once the transfer is done


def main(argv):
    args = parse_args(argv)
    try:
        run(args)
    except ftplib.all_errors as err:
        sys.exit("ftp-client.py: %s: %s" % (type(err).__name__, err))


if __name__ == "__main__":
    main(sys.argv[1:])
