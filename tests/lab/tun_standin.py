#!/usr/bin/env python3
"""A stand-in for `ftpgate run`, to test the lab's ftpgate-mode plumbing before ftpgate can.

    tun_standin.py run --rules FILE [--log FILE]

It keeps ftpgate's contract with scripts/lab.sh: it creates the multi-queue TUN device named by
the rule file's `tun: {name: ...}` (default ftg0), brings it up with no address, processes
packets, installs no routes, and exits cleanly on SIGINT or SIGTERM. Its processing is a
static 1:1 NAT and nothing more: 10.77.0.2 <-> 198.51.100.1, every port kept, checksums
recomputed. So passive FTP from the client-inside layout works through it (the data
connection goes to the server's own address) while active FTP does not (no ALG). Each packet
that crossed it is counted by direction in --log (one JSON object written at exit).

This is a test fixture for the routing around the TUN (policy rules, local rule moved,
rp_filter, accept_local), not a gateway.
"""

import argparse
import fcntl
import json
import os
import re
import signal
import struct
import subprocess
import sys

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
IFF_MULTI_QUEUE = 0x0100

INSIDE = bytes([10, 77, 0, 2])
OUTSIDE = bytes([198, 51, 100, 1])


def tun_name(rules_path):
    """The rule file's tun.name (flow or block style), else ftg0."""
    text = open(rules_path).read()
    flow = re.search(r"^tun:\s*\{[^}]*\bname:\s*([\w.-]+)", text, re.M)
    block = re.search(r"^tun:\s*\n(?:[ \t]+.*\n)*?[ \t]+name:\s*([\w.-]+)", text, re.M)
    match = flow or block
    return match.group(1) if match else "ftg0"


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    ifr = struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE)
    fcntl.ioctl(fd, TUNSETIFF, ifr)
    return fd


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def translate(packet):
    """The packet with 10.77.0.2 and 198.51.100.1 swapped where they appear, or None when
    neither appears (and the packet is dropped)."""
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return None
    ihl = (packet[0] & 0x0F) * 4
    pkt = bytearray(packet)
    src, dst = bytes(pkt[12:16]), bytes(pkt[16:20])
    if src == INSIDE:
        pkt[12:16] = OUTSIDE
    elif dst == OUTSIDE:
        pkt[16:20] = INSIDE
    else:
        return None
    pkt[10:12] = b"\0\0"
    pkt[10:12] = struct.pack("!H", checksum(bytes(pkt[:ihl])))
    proto = pkt[9]
    fragment = struct.unpack("!H", pkt[6:8])[0] & 0x3FFF
    if proto in (6, 17) and not fragment:
        offset = {6: 16, 17: 6}[proto]
        segment = pkt[ihl:]
        if proto == 17 and segment[6:8] == b"\0\0":
            return bytes(pkt)  # UDP without checksum
        segment[offset : offset + 2] = b"\0\0"
        pseudo = bytes(pkt[12:20]) + struct.pack("!BBH", 0, proto, len(segment))
        value = checksum(pseudo + bytes(segment))
        if proto == 17 and value == 0:
            value = 0xFFFF
        pkt[ihl + offset : ihl + offset + 2] = struct.pack("!H", value)
    return bytes(pkt)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run")
    run.add_argument("--rules", required=True)
    run.add_argument("--log")
    args = parser.parse_args(argv)

    name = tun_name(args.rules)
    fd = open_tun(name)
    subprocess.run(["ip", "link", "set", "dev", name, "up"], check=True)
    counts = {"outbound": 0, "inbound": 0, "dropped": 0}

    def stop(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("stand-in on %s" % name, file=sys.stderr, flush=True)
    try:
        while True:
            packet = os.read(fd, 65535)
            out = translate(packet)
            if out is None:
                counts["dropped"] += 1
                continue
            counts["outbound" if packet[12:16] == INSIDE else "inbound"] += 1
            os.write(fd, out)
    except KeyboardInterrupt:
        pass
    finally:
        os.close(fd)
        if args.log:
            with open(args.log, "w") as log:
                json.dump(counts, log)
                log.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
