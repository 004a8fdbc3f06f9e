#!/usr/bin/env bash
# The ftpgate demo: real FTP clients and a real FTP server talking through ftpgate in a
# network-namespace gateway, active and passive, through NAT; the transfer log; and a bounce
# attempt (a PORT naming a third host) refused. Builds the project, installs what the lab
# needs when it is missing (saying so), and tears everything down at the end, even on failure.
#
#   sudo scripts/demo.sh            (needs root: namespaces, TUN device)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
PREFIX="demo-$$"
WORK=$(mktemp -d /tmp/ftpgate-demo.XXXXXX)
LAB="$REPO/scripts/lab.sh"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() {
    "$LAB" down "$PREFIX" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || { echo "demo.sh needs root (network namespaces, a TUN device)" >&2; exit 1; }

say "Installing what the lab needs (only what is missing)"
"$REPO/scripts/lab-deps.sh"

say "Building ftpgate"
cargo build --release --quiet
BIN="$REPO/target/release/ftpgate"

say "Lab up: client 10.77.0.2 -- [ftpgate 10.77.0.1 | 198.51.100.1] -- server 198.51.100.2 (+ third 198.51.100.3)"
"$LAB" up "$PREFIX" --mode ftpgate --ftpgate "$BIN" --rules "$REPO/rules/lab.yaml" --log "$WORK/transfers.jsonl"
STATE=$("$LAB" state "$PREFIX")

mkdir -p "$WORK/served"
head -c 2000000 /dev/urandom > "$WORK/served/file.bin"
# A server that obeys PORTs naming third hosts, so only the gateway stands between the client
# and a bounce.
"$LAB" exec "$PREFIX" server -- python3 "$REPO/scripts/ftp-server.py" --root "$WORK/served" \
    --address 198.51.100.2 --permit-foreign --ready "$WORK/ready" --log "$WORK/ftpd.log" &
for _ in $(seq 100); do [ -e "$WORK/ready" ] && break; sleep 0.1; done
# The third host listens where a bounce would land.
"$LAB" exec "$PREFIX" third -- python3 -c "
import socket; s = socket.socket(); s.bind(('198.51.100.3', 2525)); s.listen(1); s.settimeout(8)
try:
    c, peer = s.accept(); print('THIRD HOST WAS CONNECTED FROM', peer)
except socket.timeout:
    print('third host: nobody connected')" > "$WORK/third.txt" &
THIRD_PID=$!

want=$(sha256sum < "$WORK/served/file.bin" | cut -c1-16)
for mode in "passive (EPSV)::" "passive (PASV):--disable-epsv:" "active (EPRT):--ftp-port 10.77.0.2:" "active (PORT):--ftp-port 10.77.0.2 --disable-eprt:"; do
    name=${mode%%:*}; rest=${mode#*:}; flags=${rest%%:*}
    say "curl, $name: download and upload 2 MB"
    # shellcheck disable=SC2086 # flags are words
    "$LAB" exec "$PREFIX" client -- curl -sS -m 30 $flags "ftp://198.51.100.2/file.bin" -o "$WORK/got.bin"
    got=$(sha256sum < "$WORK/got.bin" | cut -c1-16)
    # shellcheck disable=SC2086
    "$LAB" exec "$PREFIX" client -- curl -sS -m 30 $flags -T "$WORK/got.bin" "ftp://198.51.100.2/up-${name//[^a-zA-Z]/}.bin"
    echo "sha256 served $want, downloaded $got $([ "$want" = "$got" ] && echo OK || echo MISMATCH)"
done

say "A bounce attempt: the client sends PORT 198,51,100,3,9,253 (the third host)"
"$LAB" exec "$PREFIX" client -- python3 -c "
import ftplib, socket
f = ftplib.FTP('198.51.100.2', timeout=4); f.login()
try:
    print('answered:', f.sendcmd('PORT 198,51,100,3,9,253'))
except ftplib.error_perm as err:
    print('answered:', err, '(by ftpgate in the server\'s name; the server never saw the PORT)')
except (socket.timeout, TimeoutError):
    print('no answer')
" || true
wait "$THIRD_PID" || true
cat "$WORK/third.txt"
grep -h "ftp line refused" "$STATE/ftpgate.stderr" | tail -n 1 || true

say "The running gateway, asked over its control socket: ftpgate status, ftpgate flows"
"$BIN" status --socket "$STATE/ftpgate.sock" | head -n 14
"$BIN" flows --socket "$STATE/ftpgate.sock" -p tcp | tail -n 4

say "Transfer log (one JSON record per transfer)"
python3 -c "
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(f\"{r['command']:5} {r['direction']:8} {str(r['mode']):7} {r['announced_by'] or '-':5} {r['bytes']:>8} B  \"
          f\"{r['client']} -> {r['client_translated']}  data {r['data_orig']} -> {r['data_resp']}  {r['reply_code']}\")
" "$WORK/transfers.jsonl"
