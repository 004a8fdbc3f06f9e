#!/usr/bin/env bash
# ftpgate against Linux's own NAT, side by side in one run. Brings up two labs (scripts/lab.sh):
# one with the kernel's NAT and FTP helper, one with ftpgate; then, for each figure, alternates
# them K F K F ... over PAIRS pairs, prints every run, the medians and the ratio
# ftpgate/kernel. Everything it starts lives in the two labs' namespaces, which it takes down
# on exit, even on failure or Ctrl-C. Traffic goes only to addresses inside those namespaces.
#
#   sudo scripts/bench-lab.sh [--pairs N] [--seconds S] [--queues N] [--only a,b,...]
#
# Figures (client 10.77.0.2 behind the gateway, server 198.51.100.2 outside):
#   tcp1_up tcp1_down tcp4_up tcp4_down   iperf3 TCP, 1 or 4 streams, client->server or -R (Gb/s)
#   udp64                                 iperf3 UDP, 64-byte payloads, unlimited rate: delivered kpps
#   conn_rate                             new TCP connections per second (1 byte each way, 4 threads)
#   rtt_p50                               one-byte request/response round trip, p50 in us
#   ftp_sessions                          FTP sessions per second (login, passive LIST, quit; ftplib)
# Defaults: 3 pairs, 3 s per run, the queues of rules/lab.yaml (2). Bounded: about
# figures x pairs x 2 x (S + 2) seconds. Needs root, iperf3 and pyftpdlib (scripts/lab-deps.sh).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LAB="$REPO/scripts/lab.sh"
PAIRS=3
RUN_SECONDS=3
QUEUES=""
ONLY="tcp1_up,tcp1_down,tcp4_up,tcp4_down,udp64,conn_rate,rtt_p50,ftp_sessions"
SERVER=198.51.100.2
while [ $# -gt 0 ]; do
    case $1 in
        --pairs) PAIRS=${2:?}; shift 2 ;;
        --seconds) RUN_SECONDS=${2:?}; shift 2 ;;
        --queues) QUEUES=${2:?}; shift 2 ;;
        --only) ONLY=${2:?}; shift 2 ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "bench-lab.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench-lab.sh needs root (network namespaces, a TUN device)" >&2; exit 1; }

K="benchk-$$"
F="benchf-$$"
WORK=$(mktemp -d /tmp/ftpgate-bench.XXXXXX)
cleanup() {
    "$LAB" down "$K" >/dev/null 2>&1 || true
    "$LAB" down "$F" --keep-state >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$REPO/scripts/lab-deps.sh"
(cd "$REPO" && cargo build --release --quiet --bin ftpgate --example netbench)
BIN="$REPO/target/release/ftpgate"
NETBENCH="$REPO/target/release/examples/netbench"

RULES="$WORK/rules.yaml"
if [ -n "$QUEUES" ]; then
    sed "s/^  queues: .*/  queues: $QUEUES/" "$REPO/rules/lab.yaml" >"$RULES"
else
    cp "$REPO/rules/lab.yaml" "$RULES"
fi

echo "bench-lab: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
    "pairs $PAIRS, ${RUN_SECONDS}s per run, ftpgate queues: $(sed -n 's/^  queues: //p' "$RULES")"
"$LAB" up "$K" --mode kernel >/dev/null
"$LAB" up "$F" --mode ftpgate --ftpgate "$BIN" --rules "$RULES" --log "$WORK/transfers.jsonl" >/dev/null

mkdir -p "$WORK/ftproot"
for lab in "$K" "$F"; do
    "$LAB" exec "$lab" server -- iperf3 -s -D -B "$SERVER" >/dev/null
    "$LAB" exec "$lab" server -- "$NETBENCH" serve 7000 >/dev/null 2>&1 &
    "$LAB" exec "$lab" server -- python3 "$REPO/scripts/ftp-server.py" --root "$WORK/ftproot" \
        --address "$SERVER" --ready "$WORK/$lab.ready" >/dev/null 2>&1 &
    for _ in $(seq 100); do [ -e "$WORK/$lab.ready" ] && break; sleep 0.1; done
done
sleep 0.5

# iperf3's JSON -> one number.
iperf_value() {
    python3 -c '
import json, sys
d = json.load(sys.stdin)
end = d["end"]
if sys.argv[1] == "udp":
    s = end["sum"]
    print("%.1f" % ((s["packets"] - s["lost_packets"]) / s["seconds"] / 1000))
else:
    print("%.2f" % (end["sum_received"]["bits_per_second"] / 1e9))' "$1"
}

# measure FIGURE LAB: prints the figure's value for one run.
measure() {
    local figure=$1 lab=$2
    local run=("$LAB" exec "$lab" client --)
    case $figure in
        tcp1_up) "${run[@]}" iperf3 -c "$SERVER" -t "$RUN_SECONDS" -P 1 -J | iperf_value tcp ;;
        tcp1_down) "${run[@]}" iperf3 -c "$SERVER" -t "$RUN_SECONDS" -P 1 -R -J | iperf_value tcp ;;
        tcp4_up) "${run[@]}" iperf3 -c "$SERVER" -t "$RUN_SECONDS" -P 4 -J | iperf_value tcp ;;
        tcp4_down) "${run[@]}" iperf3 -c "$SERVER" -t "$RUN_SECONDS" -P 4 -R -J | iperf_value tcp ;;
        udp64) "${run[@]}" iperf3 -c "$SERVER" -t "$RUN_SECONDS" -u -l 64 -b 0 -J | iperf_value udp ;;
        conn_rate) "${run[@]}" "$NETBENCH" connrate "$SERVER:7000" "$RUN_SECONDS" 4 | awk '{print $2}' ;;
        rtt_p50) "${run[@]}" "$NETBENCH" latency "$SERVER:7000" 20000 | awk '{print $2}' ;;
        ftp_sessions) "${run[@]}" python3 -c '
import ftplib, sys, time
seconds = float(sys.argv[1]); end = time.time() + seconds; n = 0
while time.time() < end:
    f = ftplib.FTP(sys.argv[2], timeout=5); f.login(); f.retrlines("LIST", lambda line: None); f.quit(); n += 1
print("%.1f" % (n / seconds))' "$RUN_SECONDS" "$SERVER" ;;
        *) echo "bench-lab.sh: unknown figure $figure" >&2; return 2 ;;
    esac
}

median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else printf "%.2f\n", (v[NR/2]+v[NR/2+1])/2}'; }

declare -A UNIT=([tcp1_up]="Gb/s" [tcp1_down]="Gb/s" [tcp4_up]="Gb/s" [tcp4_down]="Gb/s" [udp64]="kpps"
    [conn_rate]="conn/s" [rtt_p50]="us" [ftp_sessions]="sess/s")
SUMMARY="$WORK/summary"
: >"$SUMMARY"
IFS=, read -r -a FIGURES <<<"$ONLY"
for figure in "${FIGURES[@]}"; do
    : >"$WORK/k" ; : >"$WORK/f"
    for pair in $(seq "$PAIRS"); do
        k=$(measure "$figure" "$K" || echo nan)
        f=$(measure "$figure" "$F" || echo nan)
        printf '%-13s pair %d  kernel %10s  ftpgate %10s %s\n' "$figure" "$pair" "$k" "$f" "${UNIT[$figure]}"
        echo "$k" >>"$WORK/k"
        echo "$f" >>"$WORK/f"
    done
    km=$(grep -v nan "$WORK/k" | median || true)
    fm=$(grep -v nan "$WORK/f" | median || true)
    ratio=$(awk -v k="${km:-0}" -v f="${fm:-0}" 'BEGIN {if (k > 0) printf "%.2f", f / k; else print "n/a"}')
    extra=""
    [ "$figure" = rtt_p50 ] && extra=$(awk -v k="${km:-0}" -v f="${fm:-0}" 'BEGIN {printf " (added %+.1f us)", f - k}')
    printf '| %s | %s | %s | %s | %s%s |\n' "$figure" "${UNIT[$figure]}" "${km:-n/a}" "${fm:-n/a}" "$ratio" "$extra" >>"$SUMMARY"
done

echo
echo "| figure | unit | kernel (median) | ftpgate (median) | ftpgate/kernel |"
echo "| --- | --- | ---: | ---: | ---: |"
cat "$SUMMARY"
"$LAB" down "$F" --keep-state >/dev/null 2>&1 || true
STATE=$(FTPGATE_LAB_STATE="${FTPGATE_LAB_STATE:-/tmp/ftpgate-lab}" "$LAB" state "$F" 2>/dev/null || true)
if [ -n "$STATE" ] && [ -f "$STATE/ftpgate.stderr" ]; then
    echo
    echo "ftpgate's summary:"
    sed -n '/^packets /,$p' "$STATE/ftpgate.stderr" | sed 's/^/  /'
    rm -rf "$STATE"
fi
