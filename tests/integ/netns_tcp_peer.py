"""Run by test_security.py inside a network namespace of its own (unshare -n,
as root): loopback up and 2001:db8::/32 routed to it as local, so sockets can
use any address of it (IP_FREEBIND). Starts imsd with RLIMIT_NOFILE 256 (192
connections, at most 96 for one peer), then:

1. 96 connections from 96 different addresses of one /64 send an OPTIONS
   each and get it answered (then sit idle, as an attacker would);
2. a 97th from yet another address of that /64 is refused;
3. one from another /64 is served.

Prints one JSON line with what happened; the test asserts on it."""
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import IMSD_BIN, Imsd, write_cfg  # noqa: E402
from sipstack import options, recv_msg  # noqa: E402

IP_FREEBIND = 15


class LimitedImsd(Imsd):
    """imsd under prlimit (same PID: prlimit execs it)."""

    def __init__(self, cfg_path, nofile):
        e = dict(os.environ)
        e.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        self.cfg_path = cfg_path
        self.proc = subprocess.Popen(
            ["prlimit", f"--nofile={nofile}:{nofile}", IMSD_BIN, cfg_path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
        self.out = b""
        self.err = b""


def conn_from(src, port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
    s.bind((src, 0))
    s.settimeout(5.0)
    s.connect(("::1", port))
    return s


def ask(s, port, n):
    s.sendall(options(f"sip:[::1]:{port}", "[::1]", port, f"z9hG4bKpeer{n}", f"peer-{n}@t",
                      transport="TCP"))
    try:
        return recv_msg(s, 5.0)[:12].decode()
    except (ConnectionError, OSError, AssertionError):
        return None


def main(tmp):
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "-6", "route", "add", "local", "2001:db8::/32", "dev", "lo"],
                   check=True)
    port = 5062
    from pathlib import Path
    cfg = write_cfg(Path(tmp), f"""{{
  log_filename: "{tmp}/ims.log",
  log_options: "all.level=info",
  sip_addr: ["[::1]:{port}"],
  domain: "ims.test",
}}
""")
    d = LimitedImsd(cfg, 256)
    res = {}
    socks = []
    try:
        d.wait_ready()
        ok = 0
        for i in range(96):
            s = conn_from(f"2001:db8:1:1::{i + 1:x}", port)
            socks.append(s)
            ok += ask(s, port, i) is not None
        res["same64_served"] = ok
        s = conn_from("2001:db8:1:1:ffff::1", port)
        socks.append(s)
        res["same64_97th"] = ask(s, port, 97)
        s = conn_from("2001:db8:1:2::1", port)
        socks.append(s)
        res["other64"] = ask(s, port, 98)
    finally:
        for s in socks:
            s.close()
        time.sleep(0.2)
        d.stop()
    res["sanitizer"] = d.sanitizer_report()
    res["rc"] = d.proc.returncode
    with open(f"{tmp}/ims.log", errors="replace") as f:
        log = f.read()
    res["cap_logged"] = "at most 192 connections" in log
    res["refused_logged"] = "per-peer connection limit reached" in log
    print(json.dumps(res))


if __name__ == "__main__":
    main(sys.argv[1])
