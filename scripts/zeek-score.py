#!/usr/bin/env python3
"""Prints how many of the transfers Zeek logged in ../shared/captures/zeek an ftpgate replay
in analysis mode logs exactly.

usage: scripts/zeek-score.py [FTPGATE_BINARY] [RULES]   (defaults: target/debug/ftpgate,
rules/analysis.yaml)

A Zeek transfer row (RETR, STOR, APPE, STOU, LIST, NLST, MLSD in ftp.log) counts as logged
exactly when one transfer record has the same command, an argument Zeek's ends with, the same
reply code (Zeek pairs a transfer still pending when the session ends with the QUIT's 221:
then any reply counts), and, where Zeek's conn.log holds the
data connection, the same data connection with bytes + missing_bytes = Zeek's orig_bytes +
resp_bytes and missing_bytes = Zeek's missed_bytes; where Zeek only gives a file size and the
record has a data connection, the same byte count.
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZEEK = os.path.join(ROOT, "..", "shared", "captures", "zeek")
TRANSFERS = {"RETR", "STOR", "APPE", "STOU", "LIST", "NLST", "MLSD"}
# baseline -> capture (from the captures' README)
PAIRS = [
    ("scripts.base.protocols.ftp.ftp-ipv4", "ipv4.pcap"),
    ("scripts.base.protocols.ftp.ftp-ipv6", "ipv6.pcap"),
    ("scripts.base.protocols.ftp.ftp-get-file-size", "ftp-with-numbers-in-filename.pcap"),
    ("scripts.base.protocols.ftp.cwd-navigation", "cwd-navigation.pcap"),
    ("scripts.base.protocols.ftp.ftp-samba-retr", "ipv6-retr-samba.pcap"),
    ("scripts.base.protocols.ftp.ftp-multiline-reply", "ipv6-multiline-reply.pcap"),
    ("scripts.base.protocols.ftp.ftp-max-arg-length", "ipv4.pcap"),
    ("scripts.base.protocols.ftp.ftp-max-command-length", "fake-long-commands.pcap"),
    ("scripts.base.protocols.ftp.ftp-max-user-length", "ipv4.pcap"),
    (
        "scripts.base.protocols.ftp.ftp-missing-space-after-reply-code",
        "ftp-missing-space-after-reply-code.pcap",
    ),
]


def rows(path):
    if not os.path.exists(path):
        return []
    fields, out = [], []
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        if line.startswith("#fields\t"):
            fields = line.split("\t")[1:]
        elif line and not line.startswith("#"):
            out.append(dict(zip(fields, line.split("\t"))))
    return out


def host_port(endpoint):
    host, port = endpoint.rsplit(":", 1)
    return host.strip("[]"), port


def replay(binary, rules, capture):
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "log.jsonl")
        subprocess.run(
            [binary, "replay", "--rules", rules, capture, "--out", os.path.join(tmp, "o.pcap"),
             "--log", log],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        return [json.loads(line) for line in open(log)]


def exact(row, record, conns):
    if record["command"] != row["command"] or not row["arg"].endswith(record["arg"]):
        return False
    code = int(row["reply_code"]) if row["reply_code"].isdigit() else 0
    if code != record["reply_code"] and code != 221:
        return False
    resp = (row.get("data_channel.resp_h"), row.get("data_channel.resp_p"))
    conn = next(
        (c for c in conns
         if (c["id.resp_h"], c["id.resp_p"]) == resp and c["id.orig_h"] == row.get("data_channel.orig_h")),
        None,
    )
    if conn is not None:
        if record.get("data_resp") is None:
            return False
        if host_port(record["data_resp"]) != resp:
            return False
        seen = int(conn["orig_bytes"]) + int(conn["resp_bytes"])
        missed = int(conn["missed_bytes"])
        return record["bytes"] + record.get("missing_bytes", 0) == seen and record.get(
            "missing_bytes", 0) == missed
    if row["file_size"] not in ("-", "") and record.get("data_orig"):
        return str(record["bytes"]) == row["file_size"]
    return True


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/debug/ftpgate")
    rules = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "rules/analysis.yaml")
    total = good = 0
    for baseline, capture in PAIRS:
        base = os.path.join(ZEEK, "baselines", baseline)
        wanted = [r for r in rows(os.path.join(base, "ftp.log")) if r["command"] in TRANSFERS]
        if not wanted:
            continue
        conns = [c for c in rows(os.path.join(base, "conn.log")) if c.get("service") == "ftp-data"]
        records = replay(binary, rules, os.path.join(ZEEK, "pcaps", capture))
        unused = list(records)
        hits = 0
        for row in wanted:
            match = next((r for r in unused if exact(row, r, conns)), None)
            if match is not None:
                unused.remove(match)
                hits += 1
        print(f"{capture:45} {baseline.split('.')[-1]:38} {hits}/{len(wanted)}")
        total += len(wanted)
        good += hits
    print(f"transfers logged exactly: {good} of {total}")


if __name__ == "__main__":
    main()
