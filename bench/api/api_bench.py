#!/usr/bin/python3
"""bench/api: what the remote API costs SIP (docs/api.md, issue #17).

  bench/api/api_bench.py [--imsd build/imsd] [--users 100000] [--clients 1000]
                         [--rate 200] [--seconds 10]

One imsd (an optimized build) with --users users in ue_db and com_addr on
loopback. SIP latency is probed with OPTIONS at --rate a second from one UDP
socket (round trip of each, nearest-rank percentiles from benchlib), in
three phases of --seconds each:

  idle       nothing on the API;
  log_get    --clients WebSocket clients each polling log_get (allow_empty,
             timeout 0.2 s: a new request as soon as the answer comes);
  users_get  one client asking users_get over every user, again as soon as
             each answer came.

With --reg-rate R (the issue's load: 10,000/s) two more phases run in the
same run, side by side, with SIPp registering the ue_db users (MD5 digest,
bench/register/reg_md5_uac.xml, REGISTER -> 401 -> REGISTER -> 200) at R a
second for --seconds:

  reg        registrations alone (the API idle);
  reg+api    the same registrations while --clients log_get pollers and one
             users_get loop over every user run at once.

Each reports the registration rate SIPp achieved, its failures, the
REGISTER->401 and REGISTER->200 (whole registration) p50/p99 from SIPp's
-trace_rtt, the OPTIONS probe's p99 next to them and imsd's CPU.

The WebSocket clients run at nice 10, imsd and the OPTIONS probe at 0 (on a
2-core box the clients' Python would otherwise delay the probe: the harness
measured, not imsd). It reports the OPTIONS p50/p99/max of each phase, the imsd CPU (user,
kernel) of each, and the users_get answer time (wall, request sent to answer
received) and size, and appends a row to bench/RESULTS.md.
"""
import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import sys
import tempfile
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))

import benchlib  # noqa: E402
import websockets  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(HERE), "register"))
import regbench  # noqa: E402  (the SIPp registration arguments, one place)


def free_tcp_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Pinger(multiprocessing.Process):
    """OPTIONS at a fixed rate, in its own process (the clients' JSON work in
    this one must not delay it: the GIL); rtts in ms of those answered come
    back through a pipe."""

    def __init__(self, port, rate):
        super().__init__(daemon=True)
        self.port, self.rate = port, rate
        self.stop_ev = multiprocessing.Event()
        self.rx, self.tx = multiprocessing.Pipe(False)

    def run(self):
        os.setpriority(os.PRIO_PROCESS, 0, 0)  # the clients' nice is not the probe's
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        me = s.getsockname()[1]
        s.settimeout(1.0)
        rtts, lost, i = [], 0, 0
        nxt = time.monotonic()
        while not self.stop_ev.is_set():
            i += 1
            msg = (f"OPTIONS sip:127.0.0.1:{self.port} SIP/2.0\r\n"
                   f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKapib{i}\r\n"
                   f"From: <sip:b@127.0.0.1>;tag=b{i}\r\nTo: <sip:127.0.0.1:{self.port}>\r\n"
                   f"Call-ID: apib{i}@bench\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
                   f"Content-Length: 0\r\n\r\n").encode()
            t0 = time.monotonic()
            s.sendto(msg, ("127.0.0.1", self.port))
            try:
                while True:
                    data, _ = s.recvfrom(65536)
                    if f"branch=z9hG4bKapib{i}".encode() in data:
                        break
                rtts.append((time.monotonic() - t0) * 1000.0)
            except socket.timeout:
                lost += 1
            nxt += 1.0 / self.rate
            d = nxt - time.monotonic()
            if d > 0:
                time.sleep(d)
        s.close()
        self.tx.send((rtts, lost))

    def result(self):
        rtts, lost = self.rx.recv()
        self.join(5)
        return rtts, lost


def phase(imsd, sip_port, rate, seconds, work=None):
    """Pings for seconds while work (a coroutine factory taking a stop
    event) runs; returns (latency summary, lost, Cpu, work's result)."""
    p = Pinger(sip_port, rate)
    c0 = imsd.cpu()
    p.start()
    res = None
    if work:
        res = asyncio.run(work(seconds))
    else:
        time.sleep(seconds)
    p.stop_ev.set()
    rtts, lost = p.result()
    return benchlib.latency_summary(rtts), lost, imsd.cpu() - c0, res


def log_get_pollers(api_port, n):
    async def work(seconds):
        done = {"answers": 0}

        async def one():
            async with websockets.connect(f"ws://127.0.0.1:{api_port}/", origin="bench",
                                          max_size=None, open_timeout=60) as ws:
                await ws.recv()
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    await ws.send('{"message":"log_get","allow_empty":true,"timeout":0.2}')
                    await ws.recv()
                    done["answers"] += 1
        await asyncio.gather(*(one() for _ in range(n)))
        return done["answers"]
    return work


def users_get_loop(api_port):
    async def work(seconds):
        times, size = [], 0
        async with websockets.connect(f"ws://127.0.0.1:{api_port}/", origin="bench",
                                      max_size=None) as ws:
            await ws.recv()
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                t0 = time.monotonic()
                await ws.send('{"message":"users_get"}')
                txt = await ws.recv()
                times.append(time.monotonic() - t0)
                size = len(txt)
                n = len(json.loads(txt)["users"])
        return times, size, n
    return work


def api_load(api_port, clients):
    """log_get pollers and a users_get loop at once."""
    async def work(seconds):
        r = await asyncio.gather(log_get_pollers(api_port, clients)(seconds),
                                 users_get_loop(api_port)(seconds))
        return r
    return work


def write_reg_users(workdir, n):
    """The SIPp injection file of the bench's MD5 users (u<i>@ims.test, p<i>)."""
    path = os.path.join(workdir, "reg_users.csv")
    with open(path, "w") as f:
        f.write("SEQUENTIAL\n")
        for i in range(n):
            f.write(f"u{i};u{i}@ims.test;ims.test;"
                    f"[authentication username=u{i}@ims.test password=p{i}];\n")
    return path


def reg_phase(imsd, sip, a, csv, workdir, tag, work=None):
    """SIPp registering at a.reg_rate for a.seconds (bounded), with the OPTIONS
    probe and work (a coroutine factory) beside it; -> dict of figures."""
    d = os.path.join(workdir, tag)
    os.makedirs(d, exist_ok=True)
    count = int(a.reg_rate * a.seconds)
    timeout_s = int(a.seconds * 3) + 20
    srv = types.SimpleNamespace(addr=f"127.0.0.1:{sip}", scenario=regbench.MD5_XML)
    stat = os.path.join(d, "uac0_stat.csv")
    p = Pinger(sip, a.rate)
    c0 = imsd.cpu()
    t0 = time.time()
    p.start()
    s = benchlib.Sipp(d, "uac0", regbench.sipp_args(srv, 0, a.reg_rate, count, csv, stat,
                                                    timeout_s))
    res = None
    try:
        if work:
            res = asyncio.run(work(a.seconds))
        if not s.wait(t0 + timeout_s + 15):
            benchlib.log(f"  {tag}: sipp past its deadline, killing it")
            s.kill()
    except BaseException:
        s.kill()
        raise
    finally:
        p.stop_ev.set()
    rtts, lost = p.result()
    wall = time.time() - t0
    cpu = imsd.cpu() - c0
    st = benchlib.parse_stat(stat) if os.path.exists(stat) else {}
    r = s.rtt()
    final = r.get("1", [])
    span = (max(x for x, _ in final) - min(x for x, _ in final)) / 1000.0 if len(final) > 1 \
        else 0
    return {"ok": st.get("ok", 0), "failed": st.get("failed", 0),
            "rate": (len(final) - 1) / span if span > 0 else 0.0,
            "reg": benchlib.latency_summary(v for _, v in final),
            "chal": benchlib.latency_summary(v for _, v in r.get("2", [])),
            "options": benchlib.latency_summary(rtts), "lost": lost, "cpu": cpu,
            "wall": wall, "work": res, "errors": s.errors(3) if st.get("failed") else []}


def reg_fmt(x):
    reg, chal = x["reg"] or {}, x["chal"] or {}
    return (f"{x['rate']:.0f}/s, {x['ok']} ok / {x['failed']} failed; 401 p50/p99 "
            f"{chal.get('p50', 0):.1f}/{chal.get('p99', 0):.1f} ms, 200 p50/p99 "
            f"{reg.get('p50', 0):.1f}/{reg.get('p99', 0):.1f} ms; OPTIONS p99 "
            f"{(x['options'] or {}).get('p99', 0):.2f} ms; imsd CPU "
            f"{x['cpu'].user / benchlib.CLK:.2f}+{x['cpu'].kernel / benchlib.CLK:.2f} s "
            f"in {x['wall']:.1f} s")


def reg_results(a, alone, both):
    """The registration rows of RESULTS.md's API section."""
    (answers, (times, size, n)) = both["work"]
    row = (f"| {time.strftime('%Y-%m-%d %H:%M')} | {os.uname().machine}, load "
           f"{os.getloadavg()[0]:.1f} | {benchlib.git_commit(ROOT)} | {a.users}, log "
           f"{a.log_level} | {a.reg_rate} | {reg_fmt(alone)} | {a.clients} pollers ({answers} answers) + "
           f"users_get x{len(times)} ({n} users, median "
           f"{sorted(times)[len(times) // 2] if times else 0:.3f} s): {reg_fmt(both)} |")
    head = ("Registrations (`--reg-rate`): SIPp MD5 registrations of the ue_db users at the "
            "offered rate for the phase, alone and then with the API load, in the same run; "
            "achieved rate from SIPp's -trace_rtt (first to last 200), latencies from the same "
            "file (nearest rank).\n\n"
            "| date | machine | commit | users | offered/s | registrations alone | "
            "registrations with the API load |\n|---|---|---|---|---|---|---|")
    return head, row


def fmt(lat):
    return f"{lat['p50']:.2f} / {lat['p99']:.2f} / {lat['max']:.1f}" if lat else "-"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--imsd", default=os.path.join(ROOT, "build", "imsd"))
    ap.add_argument("--users", type=int, default=100000)
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--no-results", action="store_true")
    ap.add_argument("--reg-rate", type=int, default=0,
                    help="also run the registration phases at this rate (0: not)")
    ap.add_argument("--log-level", default="info",
                    help="imsd's log level (info: every SIP message is a log line the "
                         "log_get pollers get)")
    ap.add_argument("--reg-only", action="store_true",
                    help="only the registration phases")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="api_bench_")
    for _ in range(50):  # SIP takes the port on UDP and TCP
        sip = benchlib.free_udp_port()
        t = socket.socket()
        try:
            t.bind(("127.0.0.1", sip))
            break
        except OSError:
            continue
        finally:
            t.close()
    api = free_tcp_port()
    users = ({"imsi": f"00101{i:010d}", "impi": f"u{i}@ims.test", "impu": [f"sip:u{i}"],
              "pwd": f"p{i}", "authent_type": "MD5"} for i in range(a.users))
    cfg = os.path.join(work, "ims.cfg")
    with open(cfg, "w") as f:
        f.write(benchlib.imsd_config([("log_filename", os.path.join(work, "ims.log")),
                                      ("log_options", f"all.level={a.log_level}"),
                                      ("sip_addr", [f"127.0.0.1:{sip}"]),
                                      ("domain", "ims.test"), ("ipsec", False),
                                      ("com_addr", f"127.0.0.1:{api}")], users,
                                     comment="bench/api"))
    imsd = benchlib.Imsd(a.imsd, cfg, sip, work)
    imsd.start()
    alive = False
    # the clients (this process) at nice 10: on a 2-core box their Python
    # CPU would otherwise delay the OPTIONS probe and imsd itself, and the
    # probe would measure the harness; imsd and the probe stay at 0
    os.setpriority(os.PRIO_PROCESS, 0, 10)
    try:
        benchlib.sip_options_ping(sip)
        if a.reg_rate:
            csv = write_reg_users(work, a.users)
            benchlib.log(f"imsd up with {a.users} users; registrations at {a.reg_rate}/s alone")
            alone = reg_phase(imsd, sip, a, csv, work, "reg")
            benchlib.log(f"reg: {reg_fmt(alone)} {alone['errors']}")
            both = reg_phase(imsd, sip, a, csv, work, "reg_api", api_load(api, a.clients))
            benchlib.log(f"reg+api: {reg_fmt(both)} {both['errors']}")
            if a.reg_only:
                alive = imsd.alive()
                return
        benchlib.log(f"imsd up with {a.users} users; idle phase")
        idle = phase(imsd, sip, a.rate, a.seconds)
        benchlib.log(f"idle: OPTIONS p50/p99/max {fmt(idle[0])} ms, lost {idle[1]}")
        lg = phase(imsd, sip, a.rate, a.seconds, log_get_pollers(api, a.clients))
        benchlib.log(f"{a.clients} log_get pollers ({lg[3]} answers): OPTIONS {fmt(lg[0])} ms, "
                     f"lost {lg[1]}, imsd CPU {lg[2].total / benchlib.CLK:.2f} s")
        ug = phase(imsd, sip, a.rate, a.seconds, users_get_loop(api))
        times, size, n = ug[3]
        benchlib.log(f"users_get x{len(times)} over {n} users ({size} bytes): "
                     f"median {sorted(times)[len(times) // 2]:.3f} s, max {max(times):.3f} s; "
                     f"OPTIONS {fmt(ug[0])} ms, lost {ug[1]}")
        alive = imsd.alive()
    finally:
        imsd.stop()
        if a.reg_rate and alive and not a.no_results:
            head, row = reg_results(a, alone, both)
            path = os.path.join(ROOT, "bench", "RESULTS.md")
            with open(path) as f:
                have = "| registrations alone |" in f.read()
            benchlib.append_section(path, "## bench/api (remote API next to SIP)",
                                    row if have else head + "\n" + row)
    if not alive:
        raise SystemExit("imsd died during the run")
    if a.no_results or a.reg_only:
        return
    cpu = benchlib.CLK
    row = (f"| {time.strftime('%Y-%m-%d')} | {os.uname().machine}, load "
           f"{os.getloadavg()[0]:.1f} | {benchlib.git_commit(ROOT)} | {a.users} | "
           f"{fmt(idle[0])} | {a.clients}: {fmt(lg[0])} ({lg[3]} answers, CPU "
           f"{lg[2].user / cpu:.2f}+{lg[2].kernel / cpu:.2f} s) | {fmt(ug[0])} | "
           f"{sorted(times)[len(times) // 2]:.3f} / {max(times):.3f} s, {size // 1024} KiB |")
    head = ("Run: `bench/api/api_bench.py` (release build `build/imsd`); OPTIONS at "
            f"{a.rate}/s for {a.seconds:g} s per phase, round trips in ms (p50 / p99 / max, "
            "nearest rank); CPU user+kernel of imsd in the phase.\n\n"
            "| date | machine | commit | users | OPTIONS idle | OPTIONS with log_get "
            "pollers | OPTIONS with users_get in a loop | users_get median / max, size |\n"
            "|---|---|---|---|---|---|---|---|")
    path = os.path.join(ROOT, "bench", "RESULTS.md")
    with open(path) as f:
        have = "## bench/api" in f.read()
    benchlib.append_section(path, "## bench/api (remote API next to SIP)",
                            row if have else head + "\n" + row)


if __name__ == "__main__":
    main()
