#!/usr/bin/env bash
# Flood lab: spoofed SYN and UDP floods from the outside namespace at the gateway's forwards,
# while a legitimate FTP download (outside client -> forwarded inside server) and new outbound
# connections from the inside host are measured; once through ftpgate, once through the
# kernel's NAT (nftables + conntrack). Prints, per mode: peak RSS of ftpgate, flows, and the
# legitimate connections completed / failed.
#
#   sudo scripts/flood-lab.sh [SYN_COUNT] [UDP_COUNT]      (defaults 60000 and 30000)
#
# Bounded: each flood sends at most its count within 25 s, to 198.51.100.1 (a lab address)
# only, from the lab's outside namespace; the lab (unique prefix) is torn down on any exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LAB="$ROOT/scripts/lab.sh"
SYNS=${1:-60000}
UDPS=${2:-30000}
FLOOD_SECONDS=25
OUTBOUND=200
WORK=$(mktemp -d /tmp/flood-lab.XXXXXX)
PREFIXES=()

cleanup() {
    for prefix in "${PREFIXES[@]}"; do "$LAB" down "$prefix" >/dev/null 2>&1 || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

if [[ $EUID -ne 0 ]]; then
    [[ "${CI:-}" == true ]] && { echo "flood-lab: needs root" >&2; exit 1; }
    echo "flood-lab: skipped: needs root" >&2
    exit 0
fi
BIN="$ROOT/target/release/ftpgate"
[[ -x "$BIN" ]] || (cd "$ROOT" && cargo build --release --bin ftpgate)

head -c 20000000 /dev/urandom >"$WORK/file.bin"
WANT=$(sha256sum "$WORK/file.bin" | cut -d' ' -f1)

# A TCP listener for the inside host's outbound connections (accepts and closes).
LISTENER='
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.51.100.2", 8080)); s.listen(1024)
while True:
    c, _ = s.accept(); c.close()
'
# N sequential connections from inside, 2 s timeout each; prints "ok failed".
CONNECTOR='
import socket, sys
ok = failed = 0
for _ in range(int(sys.argv[1])):
    try:
        socket.create_connection(("198.51.100.2", 8080), timeout=2).close(); ok += 1
    except OSError:
        failed += 1
print(ok, failed)
'

run_mode() {
    local mode=$1 prefix="fl$$${mode:0:1}" pid="" peak=0 rss flows=0 count
    PREFIXES+=("$prefix")
    local extra=()
    [[ $mode == ftpgate ]] && extra=(--ftpgate "$BIN" --rules "$ROOT/rules/flood-lab.yaml")
    "$LAB" up "$prefix" --mode "$mode" --layout server-inside "${extra[@]}" >/dev/null
    local state; state=$("$LAB" state "$prefix")
    [[ $mode == ftpgate ]] && pid=$(cat "$state/ftpgate.pid")
    mkdir -p "$WORK/$mode" && cp "$WORK/file.bin" "$WORK/$mode/file.bin"
    "$LAB" exec "$prefix" inside -- python3 "$ROOT/scripts/ftp-server.py" --root "$WORK/$mode" \
        --ready "$WORK/$mode.ready" --log "$WORK/$mode.ftp.log" &
    "$LAB" exec "$prefix" outside -- python3 -c "$LISTENER" &
    until [[ -e "$WORK/$mode.ready" ]]; do sleep 0.1; done
    sleep 0.5

    "$LAB" exec "$prefix" outside -- python3 "$ROOT/scripts/raw-flood.py" syn 198.51.100.1 21 \
        --count "$SYNS" --seconds "$FLOOD_SECONDS" >"$WORK/$mode.syn" &
    local syn_pid=$!
    "$LAB" exec "$prefix" outside -- python3 "$ROOT/scripts/raw-flood.py" udp 198.51.100.1 5353 \
        --count "$UDPS" --seconds "$FLOOD_SECONDS" --src-net 198.18.0.0/16 >"$WORK/$mode.udp" &
    local udp_pid=$!
    sleep 3 # the table fills

    local ftp_result=failed
    ( if "$LAB" exec "$prefix" outside -- curl -sS --max-time 60 -o "$WORK/$mode.got" \
            ftp://198.51.100.1/file.bin 2>"$WORK/$mode.curl.err" \
        && [[ $(sha256sum "$WORK/$mode.got" | cut -d' ' -f1) == "$WANT" ]]; then
          echo completed >"$WORK/$mode.ftp"
      else echo failed >"$WORK/$mode.ftp"; fi ) &
    local ftp_pid=$!
    "$LAB" exec "$prefix" inside -- python3 -c "$CONNECTOR" "$OUTBOUND" >"$WORK/$mode.out" &
    local out_pid=$!

    while kill -0 "$syn_pid" 2>/dev/null || kill -0 "$out_pid" 2>/dev/null; do
        if [[ -n $pid ]]; then
            rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
            (( rss > peak )) && peak=$rss
        else
            count=$(ip netns exec "$prefix-gw" cat /proc/sys/net/netfilter/nf_conntrack_count)
            (( count > flows )) && flows=$count
        fi
        sleep 0.5
    done
    wait "$syn_pid" "$udp_pid" "$out_pid" "$ftp_pid" || true
    ftp_result=$(cat "$WORK/$mode.ftp")
    read -r ok failed <"$WORK/$mode.out"

    echo "== $mode: $(cat "$WORK/$mode.syn"), $(cat "$WORK/$mode.udp") (within ${FLOOD_SECONDS} s)"
    echo "   legitimate FTP download (20 MB, outside client -> forwarded inside server): $ftp_result"
    echo "   new outbound connections from inside: $ok completed, $failed failed (of $OUTBOUND)"
    if [[ $mode == ftpgate ]]; then
        echo "   ftpgate peak RSS (VmHWM): $((peak / 1024)) MiB"
        "$LAB" down "$prefix" --keep-state >/dev/null 2>&1 || true
        echo "   ftpgate summary:"
        grep -E "^packets|flows|table_full|source_flow_cap|evicted|accepted|dropped|policy" "$state/ftpgate.stderr" \
            | sed 's/^/     /' || true
        rm -rf "$state"
    else
        echo "   kernel conntrack entries in the gateway at the peak: $flows (nf_conntrack_max $(cat /proc/sys/net/netfilter/nf_conntrack_max))"
        "$LAB" down "$prefix" >/dev/null 2>&1 || true
    fi
}

for mode in kernel ftpgate; do run_mode "$mode"; done
