#!/usr/bin/env python3
"""OPTIONS responder: imsd against Kamailio (called by options_bench.sh).

For each server and each fixed offered rate, SIPp (UDP, 127.0.0.1) sends
OPTIONS and expects 200. The server's CPU time (utime+stime of every process
of it, /proc/PID/stat) is read before the run and after it, once the server
has gone idle again: imsd keeps each non-INVITE server transaction until
Timer J (64*T1 = 32 s over UDP, RFC 3261 §17.2.2), so the wait after the run
covers that and both servers get the same wait. Reported: CPU µs per
transaction (per successful OPTIONS), failures, latency p50/p95/p99 (SIPp
rtd, 1 ms resolution), imsd/Kamailio ratio. Everything is bounded: SIPp has
-m, -timeout and a hard deadline here; processes are stopped by PID.
"""
import argparse
import datetime
import glob
import json
import os
import signal
import socket
import subprocess
import sys
import time

from benchlib import CLK, descendants, free_udp_port, log, parse_stat, proc_ticks

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCEN = os.path.join(ROOT, "tests", "integ", "sipp", "options_ping.xml")
KAM_CFG = os.path.join(HERE, "options_kamailio.cfg")


def rss_kib(pids):
    tot = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        tot += int(line.split()[1])
        except OSError:
            pass
    return tot


def wait_udp_answer(port, timeout=15):
    """Until the server answers an OPTIONS on 127.0.0.1:port (bounded)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.3)
    me = s.getsockname()[1]
    deadline = time.monotonic() + timeout
    i = 0
    try:
        while time.monotonic() < deadline:
            i += 1
            msg = (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
                   f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKwarm{i}\r\n"
                   f"From: <sip:w@127.0.0.1>;tag=w{i}\r\nTo: <sip:127.0.0.1:{port}>\r\n"
                   f"Call-ID: warm{i}@bench\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
                   f"Content-Length: 0\r\n\r\n").encode()
            s.sendto(msg, ("127.0.0.1", port))
            try:
                data, _ = s.recvfrom(65536)
                if data.startswith(b"SIP/2.0 200"):
                    return True
            except socket.timeout:
                pass
        return False
    finally:
        s.close()


class Server:
    def __init__(self, name, cmd, port, workdir, cwd=None):
        self.name = name
        self.port = port
        self.logf = open(os.path.join(workdir, f"{name}.out"), "ab")
        self.p = subprocess.Popen(cmd, stdout=self.logf, stderr=subprocess.STDOUT,
                                  stdin=subprocess.PIPE if name == "imsd" else subprocess.DEVNULL,
                                  cwd=cwd)
        if not wait_udp_answer(port):
            self.stop()
            raise RuntimeError(f"{name} does not answer OPTIONS; see {self.logf.name}")
        time.sleep(0.5)
        self.pids = descendants(self.p.pid)
        # idle cost (timer processes, housekeeping), subtracted from the
        # settle period after each run so that waiting costs neither side
        t0 = self.ticks()
        time.sleep(5.0)
        self.idle_per_s = (self.ticks() - t0) / 5.0

    def ticks(self):
        return sum(proc_ticks(p) for p in self.pids)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        self.logf.close()


def start_imsd(binary, workdir, port, t1):
    cfg = os.path.join(workdir, "imsd_options.cfg")
    with open(cfg, "w") as f:
        f.write(f"""{{
  log_filename: "{workdir}/imsd.log",
  log_options: "all.level=error",
  sip_addr: ["127.0.0.1:{port}"],
  domain: "ims.test",
  timer_t1: {t1},
}}
""")
    return Server("imsd", [binary, cfg], port, workdir)


def start_kamailio(workdir, port, children):
    return Server("kamailio", ["kamailio", "-f", KAM_CFG, "-DD", "-E", "-n", str(children),
                               "-m", "256", "-M", "32", "-A", f"LISTEN=udp:127.0.0.1:{port}",
                               "-Y", workdir, "-P", os.path.join(workdir, "kam.pid")],
                  port, workdir)


def parse_rtt(paths):
    vals = []
    for path in paths:
        with open(path) as f:
            next(f, None)
            for line in f:
                parts = line.strip().split(";")
                if len(parts) == 3:
                    try:
                        vals.append(float(parts[1]))
                    except ValueError:
                        pass
    vals.sort()

    def pct(q):
        if not vals:
            return None
        return vals[min(len(vals) - 1, int(q / 100.0 * len(vals)))]
    return {"p50": pct(50), "p95": pct(95), "p99": pct(99), "n": len(vals)}


def run_sipp(workdir, tag, port, rate, secs, uacs):
    """uacs SIPp processes sharing the rate; returns (stats, rtt, achieved)."""
    count = rate * secs
    procs = []
    for i in range(uacs):
        stat = os.path.join(workdir, f"{tag}_uac{i}_stat.csv")
        cmd = ["sipp", "-sf", SCEN, "-t", "u1", "-i", "127.0.0.1", "-p", str(free_udp_port()),
               f"127.0.0.1:{port}", "-r", str(rate // uacs), "-rp", "1000",
               "-m", str(count // uacs), "-l", str(rate * 2),
               "-recv_timeout", "5000", "-timeout", f"{secs + 20}s", "-nostdin",
               "-buff_size", "4194304", "-max_recv_loops", "10000",
               "-max_sched_loops", "10000",
               "-trace_stat", "-stf", stat, "-fd", "5", "-trace_rtt", "-rtt_freq", "1000"]
        procs.append(subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
    t0 = time.monotonic()
    deadline = t0 + secs + 40
    for p in procs:
        left = deadline - time.monotonic()
        try:
            p.wait(max(1, left))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
    elapsed = time.monotonic() - t0
    tot = {"ok": 0, "failed": 0, "retrans": 0}
    for i in range(uacs):
        try:
            st = parse_stat(os.path.join(workdir, f"{tag}_uac{i}_stat.csv"))
        except (OSError, IndexError):
            st = {"ok": 0, "failed": count // uacs, "retrans": 0}
        for k in tot:
            tot[k] += st[k]
    rtt = parse_rtt([f for p in procs for f in glob.glob(
        os.path.join(workdir, f"*_{p.pid}_rtt.csv"))])
    return tot, rtt, tot["ok"] / elapsed if elapsed else 0


def step(server, workdir, rate, secs, settle):
    uacs = 1 if rate <= 10000 else 2
    tag = f"{server.name}_{rate}"
    t0 = server.ticks()
    st, rtt, achieved = run_sipp(workdir, tag, server.port, rate, secs, uacs)
    rss = rss_kib(server.pids)
    time.sleep(settle)  # imsd: Timer J of the last transactions
    ticks = max(0.0, server.ticks() - t0 - server.idle_per_s * settle)
    cpu_us = ticks / CLK * 1e6
    res = {"server": server.name, "rate": rate, "count": rate * secs, "uacs": uacs,
           "ok": st["ok"], "failed": st["failed"] + (rate * secs - st["ok"] - st["failed"]),
           "retrans": st["retrans"], "achieved": round(achieved),
           "cpu_s": round(ticks / CLK, 2), "idle_ticks_per_s": server.idle_per_s,
           "us_per_tx": round(cpu_us / st["ok"], 2) if st["ok"] else None,
           "rss_peak_kib": rss, **{k: v for k, v in rtt.items()}}
    log(json.dumps(res))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--imsd", default=os.path.join(ROOT, "build-rel", "imsd"))
    ap.add_argument("--rates", default="5000,10000,20000")
    ap.add_argument("--secs", type=int, default=10)
    ap.add_argument("--settle", type=float, default=36.0,
                    help="seconds after each run before the CPU is read (Timer J + margin)")
    ap.add_argument("--t1", default="0.5", help="imsd timer_t1 in seconds")
    ap.add_argument("--kam-children", type=int, default=2)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--no-append", action="store_true")
    a = ap.parse_args()
    workdir = a.workdir or subprocess.check_output(["mktemp", "-d", "/tmp/options-bench.XXXXXX"],
                                                   text=True).strip()
    os.makedirs(workdir, exist_ok=True)
    log("work dir", workdir)
    rates = [int(r) for r in a.rates.split(",") if r]
    out = []
    for name in ("imsd", "kamailio"):
        port = free_udp_port()
        srv = start_imsd(a.imsd, workdir, port, a.t1) if name == "imsd" \
            else start_kamailio(workdir, port, a.kam_children)
        try:
            for r in rates:
                out.append(step(srv, workdir, r, a.secs, a.settle))
        finally:
            srv.stop()
    with open(os.path.join(workdir, "results.jsonl"), "a") as f:
        for r in out:
            f.write(json.dumps(r) + "\n")
    rows = report(out, a)
    print("\n".join(rows))
    if not a.no_append:
        with open(a.results, "a") as f:
            f.write("\n".join(rows[2:]) + "\n")
        log("appended to", a.results)


def report(out, a):
    by = {(r["server"], r["rate"]): r for r in out}
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    load = os.getloadavg()[0]
    today = datetime.date.today().isoformat()
    rows = ["| date | commit | load | rate /s | imsd µs/tx | Kamailio µs/tx | ratio | imsd fail | "
            "Kamailio fail | imsd p50/p95/p99 ms | Kamailio p50/p95/p99 ms | imsd RSS MiB |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def lat(r):
        return "/".join("-" if r.get(k) is None else f"{r[k]:g}" for k in ("p50", "p95", "p99"))
    for rate in sorted({r["rate"] for r in out}):
        i, k = by.get(("imsd", rate)), by.get(("kamailio", rate))
        if not i or not k:
            continue
        ratio = (f"{i['us_per_tx'] / k['us_per_tx']:.2f}"
                 if i["us_per_tx"] and k["us_per_tx"] else "-")
        rows.append(f"| {today} | {commit} | {load:.1f} | {rate} | {i['us_per_tx']} | "
                    f"{k['us_per_tx']} | {ratio} | {i['failed']}/{i['count']} | "
                    f"{k['failed']}/{k['count']} | {lat(i)} | {lat(k)} | "
                    f"{i['rss_peak_kib'] / 1024:.0f} |")
    return rows


if __name__ == "__main__":
    sys.exit(main())
