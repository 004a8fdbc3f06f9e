#!/usr/bin/env bash
# Regenerates the FTP captures under tests/captures/ (tests/replay_captures.rs replays them).
#
# Two network namespaces joined by one veth, with the veth's offloads left ON, so the
# captures carry the unfinished TCP checksums real captures taken on a sending host carry:
#
#   [inside  c0: 10.77.0.2/24 (+10.77.0.3, the bounce target), fd77::2/64]
#       --veth-- [outside s0: 198.51.100.2/24, fd51::2/64]
#
# Each side routes the other's network over the link (an "inside host with no NAT on the
# path"). tcpdump records on the inside host (c0). pyftpdlib (scripts/ftp-server.py) serves;
# python's ftplib is the client and never sends PWD, so paths are relative to the login
# directory. Captures written (small files, a few KB each):
#   v4-passive.pcap  v4-active.pcap   PASV / PORT: RETR, STOR, APPE, STOU, LIST, NLST, MLSD
#   v6-passive.pcap  v6-active.pcap   EPSV / EPRT: the same
#   v4-cut.pcap      a passive RETR of 20000 bytes, cut after about 10000 data bytes
#   v4-bounce.pcap   PORT naming 10.77.0.3 (not the client's control address), obeyed by
#                    the server (--permit-foreign): RETR's data goes to the third address
# Needs root, iproute2, tcpdump, python3 with pyftpdlib (scripts/lab-deps.sh installs them).
#
# usage: scripts/make-captures.sh [OUTDIR]   (default tests/captures)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$SCRIPT_DIR")
OUT=${1:-$REPO_DIR/tests/captures}
PREFIX="mkcap$$"
C="$PREFIX-in"
S="$PREFIX-out"
WORK=$(mktemp -d)
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    ip netns del "$C" 2>/dev/null || true
    ip netns del "$S" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || { echo "make-captures: needs root" >&2; exit 1; }
mkdir -p "$OUT"

ip netns add "$C"
ip netns add "$S"
ip -n "$C" link add c0 type veth peer name s0 netns "$S"
ip -n "$C" link set lo up
ip -n "$S" link set lo up
ip -n "$C" addr add 10.77.0.2/24 dev c0
ip -n "$C" addr add 10.77.0.3/24 dev c0
ip -n "$S" addr add 198.51.100.2/24 dev s0
ip -n "$C" -6 addr add fd77::2/64 dev c0 nodad
ip -n "$S" -6 addr add fd51::2/64 dev s0 nodad
ip -n "$C" link set c0 up
ip -n "$S" link set s0 up
ip -n "$C" route add 198.51.100.0/24 dev c0 src 10.77.0.2
ip -n "$S" route add 10.77.0.0/24 dev s0
ip -n "$C" -6 route add fd51::/64 dev c0
ip -n "$S" -6 route add fd77::/64 dev s0

# The served tree: pub/hello.txt (1000 bytes), pub/big.bin (20000 bytes).
ROOT="$WORK/root"
mkdir -p "$ROOT/pub"
python3 -c "import sys; sys.stdout.write(''.join(chr(97 + i % 26) for i in range(1000)))" >"$ROOT/pub/hello.txt"
head -c 20000 /dev/zero | tr '\0' 'z' >"$ROOT/pub/big.bin"
touch -d '2026-01-01 00:00:00' "$ROOT/pub" "$ROOT/pub/"*

cat >"$WORK/client.py" <<'EOF'
"""One scripted FTP session: python3 client.py HOST MODE [bounce]. MODE: passive|active."""
import io
import socket
import sys
import threading
from ftplib import FTP

host, mode = sys.argv[1], sys.argv[2]
ftp = FTP()
ftp.connect(host, 21, timeout=10)
ftp.login()
ftp.cwd("pub")
ftp.set_pasv(mode == "passive")
sink = bytearray()
if len(sys.argv) > 3 and sys.argv[3] == "bounce":
    # The data connection goes to another address of this host: a bounce the server obeys.
    listener = socket.create_server(("10.77.0.3", 50000))
    got = bytearray()

    def accept():
        conn, _ = listener.accept()
        while chunk := conn.recv(4096):
            got.extend(chunk)
        conn.close()

    thread = threading.Thread(target=accept)
    thread.start()
    ftp.sendcmd("PORT 10,77,0,3,195,80")
    ftp.sendcmd("TYPE I")
    conn_reply = ftp.sendcmd("RETR hello.txt")
    thread.join(10)
    ftp.voidresp()
    assert len(got) == 1000, len(got)
elif len(sys.argv) > 3 and sys.argv[3] == "cut":
    ftp.retrbinary("RETR big.bin", sink.extend)
else:
    ftp.retrbinary("RETR hello.txt", sink.extend)
    ftp.storbinary("STOR up.bin", io.BytesIO(b"u" * 700))
    ftp.storbinary("APPE up.bin", io.BytesIO(b"a" * 300))
    ftp.storbinary("STOU", io.BytesIO(b"s" * 200))
    ftp.retrlines("LIST", lambda line: None)
    ftp.retrlines("NLST", lambda line: None)
    list(ftp.mlsd())
ftp.quit()
EOF

# Keeps a capture's packets up to the one that brings the server's data past `limit` bytes.
cat >"$WORK/cut.py" <<'EOF'
import struct
import sys

src, dst, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(src, "rb").read()
out, at, carried = [data[:24]], 24, 0
while at + 16 <= len(data):
    incl = struct.unpack("<I", data[at + 8:at + 12])[0]
    frame = data[at + 16:at + 16 + incl]
    out.append(data[at:at + 16 + incl])
    at += 16 + incl
    if frame[12:14] == b"\x08\x00":
        ip = frame[14:]
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        tcp = ip[ihl:]
        sport = struct.unpack(">H", tcp[0:2])[0]
        if ip[9] == 6 and 40000 <= sport <= 40100:
            carried += total - ihl - (tcp[12] >> 4) * 4
            if carried >= limit:
                break
open(dst, "wb").write(b"".join(out))
EOF

server() {  # server ADDRESS [ARGS...]: starts the FTP server, waits until it listens
    local address=$1
    shift
    rm -f "$WORK/ready"
    ip netns exec "$S" python3 "$SCRIPT_DIR/ftp-server.py" --root "$ROOT" --address "$address" \
        --ready "$WORK/ready" --log "$WORK/server.log" "$@" &
    PIDS+=($!)
    for _ in $(seq 100); do [ -e "$WORK/ready" ] && return 0; sleep 0.1; done
    echo "make-captures: the FTP server did not start" >&2
    exit 1
}

stop_server() {
    kill "${PIDS[-1]}" 2>/dev/null || true
    wait "${PIDS[-1]}" 2>/dev/null || true
    unset 'PIDS[-1]'
}

record() {  # record NAME HOST MODE [EXTRA]: one session, captured on the inside host
    local name=$1 attempt
    for attempt in 1 2 3; do
        if record_once "$@"; then
            cp "$WORK/$name.pcap" "$OUT/$name.pcap"
            echo "make-captures: $OUT/$name.pcap ($(stat -c %s "$OUT/$name.pcap") bytes)"
            return 0
        fi
        echo "make-captures: $name: capture incomplete (attempt $attempt), again" >&2
        find "$ROOT/pub" -type f ! -name hello.txt ! -name big.bin -delete
    done
    echo "make-captures: $name: no complete capture in 3 attempts" >&2
    exit 1
}

record_once() {  # true when the capture holds the whole session (up to both FINs of QUIT)
    local name=$1 host=$2 mode=$3 extra=${4:-} dump count
    rm -f "$WORK/$name.pcap" "$WORK/$name.tcpdump.log"
    ip netns exec "$C" tcpdump -i c0 -s 0 -U --immediate-mode -w "$WORK/$name.pcap" \
        'tcp' >"$WORK/$name.tcpdump.log" 2>&1 &
    dump=$!
    for _ in $(seq 100); do grep -q "listening on" "$WORK/$name.tcpdump.log" && break; sleep 0.1; done
    sleep 0.2
    ip netns exec "$C" python3 "$WORK/client.py" "$host" "$mode" $extra
    sleep 1
    kill -INT "$dump"
    wait "$dump" || true
    # The session is whole when the capture ends with QUIT's 221 and the control
    # connection's last ack, and no packet was lost to the capture.
    count=$(tcpdump -nn -r "$WORK/$name.pcap" 2>/dev/null | grep -c . || true)
    grep -q "^$count packets captured" "$WORK/$name.tcpdump.log" || return 1
    grep -q "^0 packets dropped by kernel" "$WORK/$name.tcpdump.log" || return 1
    tcpdump -nn -A -r "$WORK/$name.pcap" 2>/dev/null | grep -q "221 Goodbye" || return 1
    [ "$(tcpdump -nn -r "$WORK/$name.pcap" 'tcp port 21' 2>/dev/null | grep -c 'Flags \[F')" -eq 2 ]
}

server 198.51.100.2
record v4-passive 198.51.100.2 passive
rm -f "$ROOT/pub/up.bin" "$ROOT"/pub/*.tmp* 2>/dev/null || true
find "$ROOT/pub" -type f ! -name hello.txt ! -name big.bin -delete
record v4-active 198.51.100.2 active
find "$ROOT/pub" -type f ! -name hello.txt ! -name big.bin -delete
record v4-cut-full 198.51.100.2 passive cut
python3 "$WORK/cut.py" "$OUT/v4-cut-full.pcap" "$OUT/v4-cut.pcap" 10000
rm -f "$OUT/v4-cut-full.pcap"
echo "make-captures: $OUT/v4-cut.pcap ($(stat -c %s "$OUT/v4-cut.pcap") bytes)"
stop_server
server 198.51.100.2 --permit-foreign
record v4-bounce 198.51.100.2 active bounce
stop_server
server fd51::2
find "$ROOT/pub" -type f ! -name hello.txt ! -name big.bin -delete
record v6-passive fd51::2 passive
find "$ROOT/pub" -type f ! -name hello.txt ! -name big.bin -delete
record v6-active fd51::2 active
stop_server
