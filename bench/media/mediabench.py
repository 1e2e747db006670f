#!/usr/bin/python3
"""RTP relay benchmark: imsd's in-process relay (bench/media/media_relay_bench,
the same code imsd runs) against rtpengine (userspace forwarding, driven by its
ng control protocol), relaying the same streams from the same generator
(bench/media/media_rtpgen) on loopback.

Per step (calls C): C calls set up on the relay (imsd: SDP offer/answer through
media_session_sdp; rtpengine: ng offer/answer), then every call's two UEs send
PPS packets/s of 12+PAYLOAD bytes each for SECS seconds. Reported: the relay
process's CPU (user and kernel, /proc/PID/stat, all threads) per relayed
packet, loss, and memory per call (RSS after set-up minus before, over C).
Run by bench/media/run.sh."""
import argparse
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib  # noqa: E402

UE_BASE = 22000
PORT_MIN, PORT_MAX = 43000, 62999
NG_PORT = 21999


def softnet_drops():
    """Packets the kernel dropped from its per-CPU input backlog (loopback
    delivery goes through it): the 2nd column of /proc/net/softnet_stat."""
    with open("/proc/net/softnet_stat") as f:
        return sum(int(line.split()[1], 16) for line in f)


def bencode(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, dict):
        return b"d" + b"".join(bencode(k) + bencode(v[k]) for k in sorted(v)) + b"e"
    if isinstance(v, list):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    raise TypeError(v)


def sdp(port):
    return ("v=0\r\no=ue 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 96 100\r\na=rtpmap:96 AMR-WB/16000\r\n"
            "a=rtpmap:100 telephone-event/16000\r\na=ptime:20\r\na=sendrecv\r\n")


def ng(sock, cookie, msg):
    sock.sendto(cookie.encode() + b" " + bencode(msg), ("127.0.0.1", NG_PORT))
    while True:
        data = sock.recv(65535)
        if data.startswith(cookie.encode() + b" "):
            break
    m = re.search(rb"m=audio (\d+)", data)
    if not m or b"ok" not in data:
        raise RuntimeError(f"rtpengine ng: {data[:200]!r}")
    return int(m.group(1))


def wait_ng(timeout=15):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            s.sendto(b"ping0 " + bencode({"command": "ping"}), ("127.0.0.1", NG_PORT))
            if b"pong" in s.recv(1000):
                return s
        except OSError:
            pass
    raise RuntimeError("rtpengine does not answer ng ping")


def start_rtpengine(work, calls):
    log = open(os.path.join(work, "rtpengine.log"), "w")
    p = subprocess.Popen(["rtpengine", "--foreground", "--log-stderr", "--log-level=3",
                          "--table=-1", "--interface=127.0.0.1",
                          f"--listen-ng=127.0.0.1:{NG_PORT}",
                          f"--port-min={PORT_MIN}", f"--port-max={PORT_MAX}",
                          "--timeout=600", "--silent-timeout=600"],
                         stdout=log, stderr=log)
    s = wait_ng()
    rss0 = benchlib.rss_kib([p.pid])
    s.settimeout(5)
    pairs = os.path.join(work, "pairs.rtpengine")
    with open(pairs, "w") as f:
        for i in range(calls):
            ua, ub = UE_BASE + 4 * i, UE_BASE + 4 * i + 2
            cid = f"bench-{i}"
            rb = ng(s, f"o{i}", {"command": "offer", "call-id": cid, "from-tag": "a",
                                 "sdp": sdp(ua), "replace": ["origin"]})
            ra = ng(s, f"a{i}", {"command": "answer", "call-id": cid, "from-tag": "a",
                                 "to-tag": "b", "sdp": sdp(ub)})
            f.write(f"{ua} {ra} {ub} {rb}\n")
    s.close()
    return p, pairs, rss0, None


def start_imsd(work, calls, bindir):
    exe = os.path.join(bindir, "bench", "media", "media_relay_bench")
    pairs = os.path.join(work, "pairs.imsd")
    p = subprocess.Popen([exe, str(calls), str(UE_BASE), str(PORT_MIN), str(PORT_MAX), pairs],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    if not line.startswith("ready"):
        raise RuntimeError(f"media_relay_bench: {line!r}")
    heap = int(re.search(r"per_call=(\d+)", line).group(1))
    rss0 = int(re.search(r"rss0_kib=(\d+)", line).group(1))
    return p, pairs, rss0, heap


def step(server, calls, args):
    benchlib.wait_quiet(10)
    if server in ("imsd", "imsd-b"):
        bindir = args.bindir if server == "imsd" else args.bindir_b
        p, pairs, rss0, heap = start_imsd(args.work, calls, bindir)
    else:
        p, pairs, rss0, heap = start_rtpengine(args.work, calls)
    try:
        rss = benchlib.rss_kib([p.pid])
        rcvbuf0 = benchlib.udp_rcvbuf_errors()
        backlog0 = softnet_drops()
        c0 = benchlib.proc_cpu(p.pid)
        t0 = time.time()
        gen = subprocess.run([os.path.join(args.bindir, "bench", "media", "media_rtpgen"),
                              pairs, str(args.secs), str(args.pps), str(args.payload)],
                             capture_output=True, text=True, timeout=args.secs + 60)
        out = gen.stdout + gen.stderr
        c1 = benchlib.proc_cpu(p.pid)
        wall = time.time() - t0
        rcvbuf = benchlib.udp_rcvbuf_errors() - rcvbuf0
        backlog = softnet_drops() - backlog0
    finally:
        p.terminate()
        try:
            tail, _ = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            tail = ""
    relay = "-"
    if server != "rtpengine" and tail:
        benchlib.log(f"imsd relay counts: {tail.strip().splitlines()[-1]}")
        m = re.search(r"rx=(\d+) tx=(\d+)(?: reads=(\d+) writes=(\d+))?", tail)
        if m:
            relay = f"{m.group(1)} / {m.group(2)}"
            if m.group(3):
                relay += f" in {m.group(3)} / {m.group(4)} syscalls"
    skipped = re.search(r"skipped_calls=(\d+)", out)
    if skipped and int(skipped.group(1)):
        benchlib.log(f"{skipped.group(1)} calls silent (UE port held by another program)")
    m = re.search(r"sent=(\d+) received=(\d+)", out)
    if not m:
        raise RuntimeError(f"media_rtpgen: {out!r}")
    sent, recv = int(m.group(1)), int(m.group(2))
    cpu = c1 - c0
    us_user, us_kern = cpu.us_per(recv)
    mem = f"{(rss - rss0) * 1024 // calls} B RSS"
    if heap is not None:
        mem += f" ({heap} B heap by media_session_mem)"
    benchlib.log(f"kernel drops during the run (whole machine): UDP receive buffers {rcvbuf}, "
                 f"input backlog {backlog}")
    row = {"server": server, "calls": calls, "sent": sent, "recv": recv, "rcvbuf": rcvbuf, "backlog": backlog, "relay": relay,
           "secs": args.secs,
           "loss": 1 - recv / sent if sent else 1.0, "wall": wall,
           "us_user": us_user, "us_kern": us_kern, "cpu_s": cpu.total / benchlib.CLK,
           "mem": mem}
    benchlib.log(f"{server} {calls} calls: {sent} sent {recv} received "
                 f"({row['loss']*100:.3f} % lost), {row['cpu_s']:.2f} s CPU, "
                 f"{(us_user or 0):.2f} + {(us_kern or 0):.2f} us/pkt, {mem}")
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", default="1000,5000")
    ap.add_argument("--secs", type=int, default=20)
    ap.add_argument("--pps", type=int, default=50)
    ap.add_argument("--payload", type=int, default=160)
    ap.add_argument("--servers", default="imsd,rtpengine")
    ap.add_argument("--bindir", required=True)
    ap.add_argument("--bindir-b", default="",
                    help="A/B: a second build whose bench/media/media_relay_bench "
                         "runs as server imsd-b (add it to --servers)")
    ap.add_argument("--work", required=True)
    ap.add_argument("--results", default="")
    ap.add_argument("--rounds", type=int, default=1,
                    help="repeat every step; the servers' order alternates per round")
    args = ap.parse_args()
    rows = []
    for rnd in range(args.rounds):
        for calls in [int(x) for x in args.calls.split(",")]:
            servers = args.servers.split(",")
            for server in (servers if rnd % 2 == 0 else servers[::-1]):
                rows.append(dict(step(server, calls, args), round=rnd + 1))
    md = ["| date | commit | round | server | calls | pkts/s offered / sent | sent | relay read / sent | received | loss | "
          "kernel drops (rcvbuf / backlog) | µs user / pkt | µs kernel / pkt | µs total / pkt | memory per call |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    date = time.strftime("%Y-%m-%d")
    commit = benchlib.git_commit(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))))
    for r in rows:
        md.append(f"| {date} | {commit} | {r['round']} | {r['server']} | {r['calls']} | "
                  f"{r['calls'] * 2 * args.pps} / {r['sent'] // r['secs']} | {r['sent']} | "
                  f"{r['relay']} | "
                  f"{r['recv']} | {r['loss'] * 100:.3f} % | {r['rcvbuf']} / {r['backlog']} | "
                  f"{(r['us_user'] or 0):.2f} | "
                  f"{(r['us_kern'] or 0):.2f} | "
                  f"{(r['us_user'] or 0) + (r['us_kern'] or 0):.2f} | {r['mem']} |")
    print("\n".join(md))
    if args.results:
        benchlib.append_section(args.results, "## bench/media — RTP relay, imsd vs rtpengine",
                                "\n".join(md))


if __name__ == "__main__":
    main()
