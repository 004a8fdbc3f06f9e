#!/usr/bin/env bash
# Installs what the namespace lab (scripts/lab.sh, tests/lab.rs) needs: iproute2, nftables,
# curl, lftp, procps (sysctl), util-linux (setsid), iputils-ping, tcpdump, vsftpd (the second
# obliging server of tests/lab_attacks.rs), pyftpdlib for the python3 on PATH, and ProFTPD
# (tests/lab_trust.rs) unpacked under $PROFTPD_DIR: Debian's proftpd-core conflicts with
# vsftpd as a package, so it is fetched with `apt-get download` and unpacked with
# `dpkg-deb -x`, and only the libraries it links are installed. Idempotent and quiet: it
# installs only what is missing and prints one line per thing it installed. Needs root for
# apt-get; without root it only reports.
# Exit status: 0 when everything is there afterwards, 1 otherwise.
set -euo pipefail

# command -> Debian package
declare -A PACKAGES=(
    [ip]=iproute2
    [nft]=nftables
    [curl]=curl
    [lftp]=lftp
    [sysctl]=procps
    [setsid]=util-linux
    [ping]=iputils-ping
    [tcpdump]=tcpdump
    [sha256sum]=coreutils
    [vsftpd]=vsftpd
)
PYTHON=${PYTHON:-python3}
# Where ProFTPD is unpacked (tests/lab/env.rs looks for $PROFTPD_DIR/usr/sbin/proftpd).
PROFTPD_DIR=/opt/ftpgate-lab/proftpd
# The shared libraries proftpd-core 1.3.8 (Debian 12) links that a minimal system lacks, used
# when apt-cache cannot list the package's dependencies.
PROFTPD_LIBS=(libhiredis0.14 libmemcached11 libmemcachedutil2 libpcre2-posix3)

missing=()
for cmd in "${!PACKAGES[@]}"; do
    # vsftpd lives in /usr/sbin, which a non-root PATH may lack.
    command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("${PACKAGES[$cmd]}")
done

# The lab's scripts run with the first of these interpreters that has pyftpdlib.
have_pyftpdlib() {
    local py
    for py in "$PYTHON" /usr/bin/python3; do
        command -v "$py" >/dev/null 2>&1 && "$py" -c 'import pyftpdlib' >/dev/null 2>&1 && return 0
    done
    return 1
}

# apt-get's chatter goes to a file, shown only when it fails.
apt_install() {
    local log rc=0 policy=/usr/sbin/policy-rc.d own_policy=""
    log=$(mktemp)
    export DEBIAN_FRONTEND=noninteractive
    # Packages with a service (vsftpd) must not start it: the lab runs its own, in a
    # namespace. Where no policy-rc.d forbids starts already (Docker images ship one), one
    # that does is in place for this install only.
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# scripts/lab-deps.sh: no service starts during its install\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        own_policy=1
    fi
    # An old or empty package list finds nothing: refresh it once per run.
    if [ -z "${apt_updated:-}" ]; then
        if apt-get update -qq >"$log" 2>&1; then
            apt_updated=1
        else
            rc=1
        fi
    fi
    if [ "$rc" -eq 0 ]; then
        apt-get install -y -qq --no-install-recommends "$@" >"$log" 2>&1 || rc=1
    fi
    [ "$rc" -eq 0 ] || cat "$log" >&2
    rm -f "$log"
    [ -z "$own_policy" ] || rm -f "$policy"
    return "$rc"
}

status=0
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "lab-deps: missing ${missing[*]} (run as root to install)" >&2
        status=1
    elif apt_install "${missing[@]}"; then
        echo "lab-deps: installed ${missing[*]}"
    else
        echo "lab-deps: apt-get could not install ${missing[*]}" >&2
        status=1
    fi
fi

if ! have_pyftpdlib; then
    # pip first (the python3 on PATH may not be Debian's); Debian's package (for
    # /usr/bin/python3, where pip may refuse an externally managed install) as the fallback.
    if command -v "$PYTHON" >/dev/null 2>&1 &&
        "$PYTHON" -m pip install -q --disable-pip-version-check pyftpdlib >/dev/null 2>&1 && have_pyftpdlib; then
        echo "lab-deps: installed pyftpdlib with pip for $("$PYTHON" -c 'import sys; print(sys.executable)')"
    elif [ "$(id -u)" -eq 0 ] && apt_install python3-pyftpdlib && have_pyftpdlib; then
        echo "lab-deps: installed python3-pyftpdlib"
    else
        echo "lab-deps: could not install pyftpdlib (pip for $PYTHON, or apt python3-pyftpdlib)" >&2
        status=1
    fi
fi

# ProFTPD, unpacked: proftpd-core's package would remove vsftpd (both provide ftp-server).
proftpd_works() {
    [ -x "$PROFTPD_DIR/usr/sbin/proftpd" ] && "$PROFTPD_DIR/usr/sbin/proftpd" -v >/dev/null 2>&1
}
install_proftpd() {
    local tmp rc=0
    local libs
    # The libraries proftpd-core depends on, as this system's package list says (the fixed
    # list above when apt-cache cannot tell); apt-get skips the ones already installed.
    mapfile -t libs < <(apt-cache depends proftpd-core 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^lib/ {print $2}')
    [ "${#libs[@]}" -gt 0 ] || libs=("${PROFTPD_LIBS[@]}")
    apt_install "${libs[@]}" || return 1
    tmp=$(mktemp -d)
    chmod 755 "$tmp" # apt-get download runs as _apt where it can
    if (cd "$tmp" && apt-get download -qq proftpd-core >/dev/null 2>&1); then
        mkdir -p "$PROFTPD_DIR"
        dpkg-deb -x "$tmp"/proftpd-core_*.deb "$PROFTPD_DIR" || rc=1
    else
        rc=1
    fi
    rm -rf "$tmp"
    [ "$rc" -eq 0 ] && proftpd_works
}
if ! proftpd_works; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "lab-deps: missing ProFTPD in $PROFTPD_DIR (run as root to install)" >&2
        status=1
    elif install_proftpd; then
        echo "lab-deps: unpacked proftpd-core into $PROFTPD_DIR"
    else
        echo "lab-deps: could not unpack proftpd-core into $PROFTPD_DIR (or it does not run: ldd $PROFTPD_DIR/usr/sbin/proftpd)" >&2
        status=1
    fi
fi

exit "$status"
