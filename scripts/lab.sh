#!/usr/bin/env bash
# The ftpgate network-namespace lab: four namespaces, one gateway, two ways of doing NAT.
#
#   [client 10.77.0.2] --c0/g0-- [g0 10.77.0.1 | gateway | g1 198.51.100.1] --g1/s-gw-- [br0 server 198.51.100.2]
#                                                                                         |--s-third/t0-- [third 198.51.100.3]
#
# Run `lab.sh --help` for the interface. Every namespace is named PREFIX-ROLE, and every veth is
# created directly inside its namespaces, so interface names never meet in the root namespace
# and several labs (with different prefixes) can be up at once.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$SCRIPT_DIR")
readonly SCRIPT_DIR REPO_DIR
readonly STATE_ROOT="${FTPGATE_LAB_STATE:-/tmp/ftpgate-lab}"
readonly ROLES=(client gw server third)

# Addressing. The inside host is 10.77.0.2 in the client-inside layout and 10.77.0.10 (the
# forwarded FTP server) in the server-inside layout.
readonly INSIDE_NET=10.77.0.0/24
readonly GW_INSIDE=10.77.0.1
readonly CLIENT_ADDR=10.77.0.2
readonly INSIDE_SERVER_ADDR=10.77.0.10
readonly GW_OUTSIDE=198.51.100.1
readonly SERVER_ADDR=198.51.100.2
readonly THIRD_ADDR=198.51.100.3
readonly FTP_PORT=21
# Where ftpgate's steering moves local delivery (src/io/steering.rs, PREF_LOCAL).
readonly STEER_LOCAL_PREF=10200
# Policy-routing table of the lab's own steering (--steering script).
readonly TUN_TABLE=100

usage() {
    cat <<EOF
Usage:
  lab.sh up PREFIX --mode ftpgate|kernel [--layout client-inside|server-inside]
                   [--ftpgate BIN] [--rules FILE] [--log FILE] [--tun NAME]
                   [--steering ftpgate|script]
  lab.sh down PREFIX [--keep-state]
  lab.sh exec PREFIX client|gw|server|third|inside|outside -- CMD [ARG...]
  lab.sh state PREFIX            print the lab's state directory
  lab.sh list                    print the prefix of every lab with a gateway namespace
                                 (tests use ftl...; clean up after a killed run with
                                 for p in \$(lab.sh list); do lab.sh down "\$p"; done)
  lab.sh --help

Namespaces: PREFIX-client (the inside host), PREFIX-gw (the gateway), PREFIX-server (the
outside host) and PREFIX-third (a second outside host, for bounce tests). 'inside' and
'outside' are aliases of 'client' and 'server' for exec. PREFIX: 1-24 characters of a-z,
0-9 and '-', starting with a letter or digit.

Addresses:
  client  c0    $CLIENT_ADDR/24 (client-inside) or $INSIDE_SERVER_ADDR/24 (server-inside),
                default via $GW_INSIDE
  gw      g0    $GW_INSIDE/24, g1 $GW_OUTSIDE/24 (the NAT address)
  server  br0   $SERVER_ADDR/24, a bridge over s-gw (to g1) and s-third (to third); no route
                to $INSIDE_NET
  third   t0    $THIRD_ADDR/24

Layouts:
  client-inside  (default) the inside host is an FTP client; the FTP server runs in 'server'.
  server-inside  the inside host ($INSIDE_SERVER_ADDR) runs the FTP server, forwarded from
                 $GW_OUTSIDE:$FTP_PORT to $INSIDE_SERVER_ADDR:$FTP_PORT; 'server' ($SERVER_ADDR)
                 is the outside client.

Modes:
  kernel   Linux does the NAT in the gateway (nftables): masquerade out of g1, the DNAT
           forward in the server-inside layout, forwarding of new connections only from
           inside (plus the forward), and the kernel FTP helper assigned explicitly to tcp
           port $FTP_PORT (ct helper "ftp"); related data connections are let through.
  ftpgate  BIN run --rules STATE/rules.yaml --log FILE runs in the gateway in the
           background. STATE/rules.yaml is FILE plus, when FILE has no such sections,
           'interfaces: {inside: [g0], outside: [g1]}' and 'control: {socket:
           STATE/ftpgate.sock}'. ftpgate itself steers g0 and g1 into its TUN device (policy
           routing over netlink, see the README) and removes that steering when it stops; the
           script waits for the TUN device NAME (default ftg0, the rule file's tun.name), the
           steering and the control socket. Query it with
           'ftpgate status --socket STATE/ftpgate.sock'.
           --steering script: the script steers instead (for a stand-in gateway that does
           not, tests/lab/tun_standin.py): table $TUN_TABLE, rules 90 (iif g0 to $GW_INSIDE
           lookup local), 100-105 (iif g0|g1 ipproto tcp|udp|icmp), 200 (lookup local,
           moved from 0), 300-301 (iif g0|g1), and the sysctls, as ftpgate does.
           Defaults: BIN target/release/ftpgate (else target/debug/ftpgate), FILE
           rules/lab.yaml, --log STATE/transfers.jsonl.

State: $STATE_ROOT/PREFIX/ (override the root with FTPGATE_LAB_STATE) holds mode, layout,
ftpgate.pid, ftpgate.stdout and ftpgate.stderr. 'down' stops ftpgate (SIGTERM, then SIGKILL
after FTPGATE_LAB_KILL_TIMEOUT seconds, default 5), ends every process left in the
namespaces, deletes them and removes the state directory unless --keep-state is given.
'down' succeeds when the lab is already (partly) gone. A failed 'up' takes down what it built
but keeps the state directory, for ftpgate's stderr.
EOF
}

die() {
    printf 'lab.sh: %s\n' "$*" >&2
    exit 1
}

note() {
    printf 'lab.sh: %s\n' "$*" >&2
}

check_prefix() {
    [[ "$1" =~ ^[a-z0-9][a-z0-9-]{0,23}$ ]] || die "bad PREFIX '$1' (1-24 of a-z 0-9 -, starting with a letter or digit)"
}

ns() {
    printf '%s-%s' "$1" "$2"
}

state_dir() {
    printf '%s/%s' "$STATE_ROOT" "$1"
}

# in_ns PREFIX ROLE CMD...: runs CMD in the namespace of ROLE.
in_ns() {
    local prefix=$1 role=$2
    shift 2
    ip netns exec "$(ns "$prefix" "$role")" "$@"
}

set_sysctl() {
    local prefix=$1 role=$2
    shift 2
    in_ns "$prefix" "$role" sysctl -qw "$@" >/dev/null
}

ns_exists() {
    [ -e "/run/netns/$1" ]
}

# ---------------------------------------------------------------- topology

create_namespaces() {
    local prefix=$1 role name
    for role in "${ROLES[@]}"; do
        name=$(ns "$prefix" "$role")
        ip netns add "$name"
        # No IPv6 on the lab links: it would only add router solicitations and DAD noise.
        set_sysctl "$prefix" "$role" net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
        ip -n "$name" link set lo up
    done
}

create_links() {
    local prefix=$1 layout=$2 client gw server third inside_addr
    client=$(ns "$prefix" client)
    gw=$(ns "$prefix" gw)
    server=$(ns "$prefix" server)
    third=$(ns "$prefix" third)

    ip link add c0 netns "$client" type veth peer name g0 netns "$gw"
    ip link add s-gw netns "$server" type veth peer name g1 netns "$gw"
    ip link add s-third netns "$server" type veth peer name t0 netns "$third"
    ip -n "$server" link add br0 type bridge
    ip -n "$server" link set s-gw master br0
    ip -n "$server" link set s-third master br0

    inside_addr=$CLIENT_ADDR
    [ "$layout" = server-inside ] && inside_addr=$INSIDE_SERVER_ADDR
    ip -n "$client" addr add "$inside_addr/24" dev c0
    ip -n "$gw" addr add "$GW_INSIDE/24" dev g0
    ip -n "$gw" addr add "$GW_OUTSIDE/24" dev g1
    ip -n "$server" addr add "$SERVER_ADDR/24" dev br0
    ip -n "$third" addr add "$THIRD_ADDR/24" dev t0

    ip -n "$client" link set c0 up
    ip -n "$gw" link set g0 up
    ip -n "$gw" link set g1 up
    ip -n "$server" link set s-gw up
    ip -n "$server" link set s-third up
    ip -n "$server" link set br0 up
    ip -n "$third" link set t0 up

    ip -n "$client" route add default via "$GW_INSIDE"
}

# ---------------------------------------------------------------- kernel mode

# Prints why the kernel's FTP conntrack helper cannot be used, or nothing when it can.
kernel_helper_problem() {
    if [ -d /sys/module/nf_conntrack_ftp ] && nat_ftp_present; then
        return 0
    fi
    if command -v modprobe >/dev/null 2>&1; then
        modprobe nf_conntrack_ftp 2>/dev/null || true
        modprobe nf_nat_ftp 2>/dev/null || true
    fi
    if [ ! -d /sys/module/nf_conntrack_ftp ]; then
        echo "the kernel FTP conntrack helper (nf_conntrack_ftp) is not loaded and modprobe could not load it"
    elif ! nat_ftp_present; then
        echo "the kernel FTP NAT helper (nf_nat_ftp) is missing: PORT/EPRT and 227 replies would not be rewritten"
    fi
}

# nf_nat_ftp has no parameters, so when built in it leaves no /sys/module entry: ask the
# module list, then the kernel config. (No grep -q after a pipe: with pipefail, the writer's
# SIGPIPE would fail the test.)
nat_ftp_present() {
    [ -d /sys/module/nf_nat_ftp ] && return 0
    [ -r /proc/modules ] && grep -q '^nf_nat_ftp ' /proc/modules && return 0
    [ -r /proc/config.gz ] && zcat /proc/config.gz 2>/dev/null | grep '^CONFIG_NF_NAT_FTP=y' >/dev/null && return 0
    [ -r "/boot/config-$(uname -r)" ] && grep -q '^CONFIG_NF_NAT_FTP=y' "/boot/config-$(uname -r)" && return 0
    return 1
}

kernel_ruleset() {
    local layout=$1 dnat="" forward_in=""
    if [ "$layout" = server-inside ]; then
        dnat="iifname \"g1\" ip daddr $GW_OUTSIDE tcp dport $FTP_PORT dnat to $INSIDE_SERVER_ADDR:$FTP_PORT"
        forward_in="iifname \"g1\" oifname \"g0\" ct status dnat ct state new accept"
    fi
    cat <<EOF
table ip ftplab {
    ct helper ftp-standard {
        type "ftp" protocol tcp
        l3proto ip
    }
    chain helpers {
        type filter hook prerouting priority filter; policy accept;
        tcp dport $FTP_PORT ct helper set "ftp-standard"
    }
    chain dstnat {
        type nat hook prerouting priority dstnat; policy accept;
        $dnat
    }
    chain srcnat {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "g1" ip saddr $INSIDE_NET masquerade
    }
    chain forward {
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        iifname "g0" oifname "g1" ct state new accept
        $forward_in
    }
}
EOF
}

setup_kernel() {
    local prefix=$1 layout=$2 problem
    command -v nft >/dev/null 2>&1 || die "kernel mode needs nft (apt-get install nftables, or scripts/lab-deps.sh)"
    problem=$(kernel_helper_problem)
    [ -z "$problem" ] || die "kernel mode unavailable: $problem"
    set_sysctl "$prefix" gw net.ipv4.ip_forward=1
    local err
    if ! err=$(kernel_ruleset "$layout" | in_ns "$prefix" gw nft -f - 2>&1); then
        die "kernel mode: nft refused the ruleset (is the 'ftp' conntrack helper available?): $err"
    fi
}

# ---------------------------------------------------------------- ftpgate mode

default_ftpgate_bin() {
    if [ -x "$REPO_DIR/target/release/ftpgate" ]; then
        printf '%s' "$REPO_DIR/target/release/ftpgate"
    else
        printf '%s' "$REPO_DIR/target/debug/ftpgate"
    fi
}

link_is_up() {
    local prefix=$1 dev=$2 line
    line=$(ip -n "$(ns "$prefix" gw)" -o link show dev "$dev" 2>/dev/null) || return 1
    [[ "$line" =~ \<([A-Z_]+,)*UP(,[A-Z_]+)*\> ]]
}

setup_ftpgate() {
    local prefix=$1 bin=$2 rules=$3 log=$4 tun=$5 steering=$6 state pid deadline
    state=$(state_dir "$prefix")
    [ -x "$bin" ] || die "ftpgate binary '$bin' is missing or not executable (cargo build, or --ftpgate BIN)"
    [ -r "$rules" ] || die "rule file '$rules' is not readable"

    # ftpgate steers g0 and g1 into its TUN device itself (the rule file's `interfaces`),
    # and answers on a control socket of this lab's own. A rule file that names neither
    # gets them added in a copy kept in the state directory.
    local effective="$state/rules.yaml" socket=""
    if [ "$steering" = ftpgate ]; then
        socket="$state/ftpgate.sock"
        cp "$rules" "$effective"
        if ! grep -q '^interfaces:' "$rules"; then
            printf '\n# Added by lab.sh.\ninterfaces:\n  inside: [g0]\n  outside: [g1]\n' >>"$effective"
        fi
        if grep -q '^control:' "$rules"; then
            socket=""
        else
            printf 'control:\n  socket: %s\n' "$socket" >>"$effective"
        fi
        rules=$effective
    fi

    # setsid: ftpgate must not share the caller's process group (a test harness, a shell).
    # `ip netns exec` and setsid (not a group leader here) both exec, so $! is ftpgate's pid.
    ip netns exec "$(ns "$prefix" gw)" setsid "$bin" run --rules "$rules" --log "$log" \
        </dev/null >"$state/ftpgate.stdout" 2>"$state/ftpgate.stderr" &
    pid=$!
    echo "$pid" >"$state/ftpgate.pid"

    deadline=$((SECONDS + ${FTPGATE_LAB_TUN_TIMEOUT:-10}))
    until link_is_up "$prefix" "$tun"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            local rc=0
            wait "$pid" || rc=$?
            die "ftpgate exited (status $rc) before TUN device $tun came up; its stderr:
$(tail -n 20 "$state/ftpgate.stderr")"
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            die "TUN device $tun did not come up in the gateway within ${FTPGATE_LAB_TUN_TIMEOUT:-10}s (does the rule file's tun.name say '$tun'? pass --tun NAME); ftpgate's stderr:
$(tail -n 20 "$state/ftpgate.stderr")"
        fi
        sleep 0.05
    done

    if [ "$steering" = script ]; then
        steer_by_script "$prefix" "$tun"
        return 0
    fi
    # ftpgate steers once its TUN device is up, then opens its control socket.
    until steering_is_up "$prefix" && { [ -z "$socket" ] || [ -S "$socket" ]; }; do
        if ! kill -0 "$pid" 2>/dev/null; then
            local rc=0
            wait "$pid" || rc=$?
            die "ftpgate exited (status $rc) before its steering and control socket were up; its stderr:
$(tail -n 20 "$state/ftpgate.stderr")"
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            die "ftpgate's steering and control socket were not up within ${FTPGATE_LAB_TUN_TIMEOUT:-10}s; its stderr:
$(tail -n 20 "$state/ftpgate.stderr")"
        fi
        sleep 0.05
    done
}

# steer_by_script PREFIX TUN: the lab's own steering, for a gateway that does not steer
# itself (tests/lab/tun_standin.py); ftpgate does the same over netlink from `interfaces`.
steer_by_script() {
    local prefix=$1 tun=$2
    set_sysctl "$prefix" gw net.ipv4.ip_forward=1 \
        net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
        net.ipv4.conf.g0.rp_filter=0 net.ipv4.conf.g1.rp_filter=0
    # Reverse-path filtering must let the TUN's packets in. What ftpgate writes back after
    # masquerading carries the gateway's own address as its source; the kernel's source check
    # looks that address up as if arriving on the outgoing device, and where that lookup ends
    # in the local table (protocols other than TCP, UDP and ICMP, with the rules below) only
    # accept_local keeps the packet from being dropped as a martian. (With the ipproto rules,
    # TCP, UDP and ICMP land in the TUN table and pass either way; measured in the lab.)
    set_sysctl "$prefix" gw "net.ipv4.conf.$tun.rp_filter=0" "net.ipv4.conf.$tun.accept_local=1"

    # The rules. Local delivery (the `local` table, rule 0 by default) moves behind the TUN
    # rules, so that packets for $GW_OUTSIDE, the NAT address g1 owns, reach ftpgate instead
    # of the gateway's own stack. ARP must still see the gateway's addresses as local, or
    # nobody learns g0's and g1's MAC addresses: ARP's route lookup carries no IP protocol,
    # so the rules ahead of `local` name TCP, UDP and ICMP (ipproto), and a catch-all for the
    # other protocols follows `local`. Traffic from inside to the gateway's own inside address
    # stays local. What ftpgate writes into the TUN arrives on it, matches no iif rule and is
    # routed by the main table.
    local gw pref=100 dev proto
    gw=$(ns "$prefix" gw)
    ip -n "$gw" route add default dev "$tun" table "$TUN_TABLE"
    ip -n "$gw" rule add iif g0 to "$GW_INSIDE" lookup local pref 90
    for dev in g0 g1; do
        for proto in tcp udp icmp; do
            ip -n "$gw" rule add iif "$dev" ipproto "$proto" lookup "$TUN_TABLE" pref "$pref"
            pref=$((pref + 1))
        done
    done
    ip -n "$gw" rule add lookup local pref 200
    ip -n "$gw" rule add iif g0 lookup "$TUN_TABLE" pref 300
    ip -n "$gw" rule add iif g1 lookup "$TUN_TABLE" pref 301
    ip -n "$gw" rule del pref 0
}

# Whether ftpgate's steering is in place: local delivery has moved to priority $STEER_LOCAL_PREF.
steering_is_up() {
    local out
    out=$(ip -n "$(ns "$1" gw)" rule show pref "$STEER_LOCAL_PREF" 2>/dev/null) || return 1
    [ -n "$out" ]
}

# ---------------------------------------------------------------- up / down

cmd_up() {
    local prefix="" mode="" layout=client-inside bin="" rules="$REPO_DIR/rules/lab.yaml" log="" tun=ftg0 steering=ftpgate
    [ $# -ge 1 ] || die "up: PREFIX missing (see --help)"
    prefix=$1
    shift
    check_prefix "$prefix"
    while [ $# -gt 0 ]; do
        case "$1" in
            --mode) mode=${2:?--mode needs a value}; shift 2 ;;
            --layout) layout=${2:?--layout needs a value}; shift 2 ;;
            --ftpgate) bin=${2:?--ftpgate needs a value}; shift 2 ;;
            --rules) rules=${2:?--rules needs a value}; shift 2 ;;
            --log) log=${2:?--log needs a value}; shift 2 ;;
            --tun) tun=${2:?--tun needs a value}; shift 2 ;;
            --steering) steering=${2:?--steering needs a value}; shift 2 ;;
            *) die "up: unknown argument '$1' (see --help)" ;;
        esac
    done
    case "$mode" in
        kernel | ftpgate) ;;
        "") die "up: --mode ftpgate|kernel is required" ;;
        *) die "up: unknown mode '$mode'" ;;
    esac
    case "$layout" in
        client-inside | server-inside) ;;
        *) die "up: unknown layout '$layout'" ;;
    esac
    [[ "$tun" =~ ^[A-Za-z0-9_.-]{1,15}$ ]] || die "up: bad TUN name '$tun'"
    case "$steering" in
        ftpgate | script) ;;
        *) die "up: unknown steering '$steering' (ftpgate or script)" ;;
    esac

    local role
    for role in "${ROLES[@]}"; do
        ! ns_exists "$(ns "$prefix" "$role")" || die "up: namespace $(ns "$prefix" "$role") exists already (lab.sh down $prefix)"
    done

    local state
    state=$(state_dir "$prefix")
    mkdir -p "$state"
    echo "$mode" >"$state/mode"
    echo "$layout" >"$state/layout"
    # From here on, a failure takes down whatever was built.
    trap 'rc=$?; if [ "$rc" -ne 0 ]; then note "up failed, taking the lab down"; cmd_down "$prefix" --keep-state >&2 || true; fi' EXIT

    create_namespaces "$prefix"
    create_links "$prefix" "$layout"
    case "$mode" in
        kernel) setup_kernel "$prefix" "$layout" ;;
        ftpgate)
            [ -n "$bin" ] || bin=$(default_ftpgate_bin)
            [ -n "$log" ] || log="$state/transfers.jsonl"
            setup_ftpgate "$prefix" "$(realpath "$bin")" "$(realpath "$rules")" "$(realpath -m "$log")" "$tun" "$steering"
            ;;
    esac
    trap - EXIT
    note "lab $prefix is up: mode $mode, layout $layout, state in $state"
}

stop_ftpgate() {
    local state=$1 pid timeout deadline
    [ -r "$state/ftpgate.pid" ] || return 0
    pid=$(cat "$state/ftpgate.pid")
    rm -f "$state/ftpgate.pid"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    timeout=${FTPGATE_LAB_KILL_TIMEOUT:-5}
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + timeout))
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        note "ftpgate (pid $pid) ignored SIGTERM for ${timeout}s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
}

# Ends every process still running in a namespace (FTP servers a test started, say).
stop_ns_processes() {
    local name=$1 pids deadline
    pids=$(ip netns pids "$name" 2>/dev/null || true)
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086 # one pid per word
    kill -TERM $pids 2>/dev/null || true
    deadline=$((SECONDS + 2))
    while [ -n "$(ip netns pids "$name" 2>/dev/null || true)" ] && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.05
    done
    pids=$(ip netns pids "$name" 2>/dev/null || true)
    # shellcheck disable=SC2086
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
}

cmd_down() {
    local prefix="" keep=0
    [ $# -ge 1 ] || die "down: PREFIX missing (see --help)"
    prefix=$1
    shift
    check_prefix "$prefix"
    while [ $# -gt 0 ]; do
        case "$1" in
            --keep-state) keep=1; shift ;;
            *) die "down: unknown argument '$1'" ;;
        esac
    done
    local state role name failed=0
    state=$(state_dir "$prefix")
    stop_ftpgate "$state"
    for role in "${ROLES[@]}"; do
        name=$(ns "$prefix" "$role")
        ns_exists "$name" || continue
        stop_ns_processes "$name"
        ip netns del "$name" || failed=1
    done
    [ "$keep" -eq 1 ] || rm -rf "$state"
    [ "$failed" -eq 0 ] || die "down: some namespaces of $prefix could not be deleted"
}

cmd_exec() {
    [ $# -ge 3 ] || die "exec: usage: lab.sh exec PREFIX ROLE -- CMD [ARG...]"
    local prefix=$1 role=$2
    shift 2
    check_prefix "$prefix"
    case "$role" in
        inside) role=client ;;
        outside) role=server ;;
        client | gw | server | third) ;;
        *) die "exec: unknown role '$role' (client, gw, server, third, inside, outside)" ;;
    esac
    [ "${1:-}" = "--" ] && shift
    [ $# -ge 1 ] || die "exec: no command given"
    ns_exists "$(ns "$prefix" "$role")" || die "exec: lab $prefix is not up (no namespace $(ns "$prefix" "$role"))"
    exec ip netns exec "$(ns "$prefix" "$role")" "$@"
}

main() {
    [ $# -ge 1 ] || { usage >&2; exit 2; }
    local cmd=$1
    shift
    case "$cmd" in
        -h | --help | help) usage ;;
        up | down | exec)
            [ "$(id -u)" -eq 0 ] || die "$cmd needs root (network namespaces)"
            "cmd_$cmd" "$@"
            ;;
        list)
            [ $# -eq 0 ] || die "list takes no arguments"
            local name
            for name in /run/netns/*-gw; do
                [ -e "$name" ] || continue
                name=${name##*/}
                printf '%s\n' "${name%-gw}"
            done
            ;;
        state)
            [ $# -eq 1 ] || die "state: usage: lab.sh state PREFIX"
            check_prefix "$1"
            state_dir "$1"
            echo
            ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
