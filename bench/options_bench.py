#!/usr/bin/env python3
"""OPTIONS responder: imsd against Kamailio (called by options_bench.sh).

For each server and each fixed offered rate, SIPp (UDP, 127.0.0.1) sends
OPTIONS and expects 200. The server's CPU time (user time and kernel time,
utime and stime of every process of it, /proc/PID/stat) is read before the
run and after it, once the server has gone idle again: imsd keeps each
non-INVITE server transaction until Timer J (64*T1 = 32 s over UDP, RFC 3261
§17.2.2), so the wait after the run covers that and both servers get the
same wait. Reported: CPU µs per transaction (per successful OPTIONS), in all
and split into user and kernel time, failures, latency p50/p95/p99 (SIPp
rtd, 1 ms resolution; nearest-rank percentiles, benchlib.percentile),
imsd/Kamailio ratio. Everything is bounded: SIPp has -m, -timeout and a hard
deadline here; processes are stopped by PID. Launchers, parsers and the
statistics are bench/benchlib.py's.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import time

from benchlib import (CLK, BenchError, Cpu, Imsd, Kamailio, Sipp, append_section, free_udp_port,
                      git_commit, imsd_config, latency_summary, log, parse_stat, rss_kib,
                      sip_options_ping)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCEN = os.path.join(ROOT, "tests", "integ", "sipp", "options_ping.xml")
KAM_CFG = os.path.join(HERE, "options_kamailio.cfg")
SECTION = "## bench/options (OPTIONS responder: imsd vs Kamailio)"


def ready(server, idle_s=5.0):
    """Once the server answers OPTIONS: its processes, and its idle CPU rate
    (timer processes, housekeeping) over idle_s, user and kernel apart, which
    is subtracted from the settle period after each run so that waiting costs
    neither side."""
    if not sip_options_ping(server.port):
        server.stop()
        raise BenchError(f"{server.name} does not answer OPTIONS; see {server.out_path}")
    time.sleep(0.5)
    if isinstance(server, Kamailio):
        server.refresh_pids()
    c0 = server.cpu()
    time.sleep(idle_s)
    d = server.cpu() - c0
    server.idle_per_s = (d.user / idle_s, d.kernel / idle_s)
    return server


def start_imsd(binary, workdir, port, t1):
    cfg = os.path.join(workdir, "imsd_options.cfg")
    with open(cfg, "w") as f:
        f.write(imsd_config([("log_filename", f"{workdir}/imsd.log"),
                             ("log_options", "all.level=error"),
                             ("sip_addr", [f"127.0.0.1:{port}"]), ("domain", "ims.test"),
                             ("timer_t1", float(t1))]))
    srv = Imsd(binary, cfg, port, workdir)
    srv.start()
    return ready(srv)


def start_kamailio(workdir, port, children):
    srv = Kamailio(KAM_CFG, port, workdir, children=children, shm_mb=256,
                   runtime_dir=workdir)
    srv.start()
    return ready(srv)


def run_sipp(workdir, tag, port, rate, secs, uacs):
    """uacs SIPp processes sharing the rate; returns (stats, rtt, achieved)."""
    count = rate * secs
    procs = []
    for i in range(uacs):
        stat = os.path.join(workdir, f"{tag}_uac{i}_stat.csv")
        procs.append(Sipp(workdir, f"{tag}_uac{i}", [
            "-sf", SCEN, "-t", "u1", "-i", "127.0.0.1", "-p", str(free_udp_port()),
            f"127.0.0.1:{port}", "-r", str(rate // uacs), "-rp", "1000",
            "-m", str(count // uacs), "-l", str(rate * 2),
            "-recv_timeout", "5000", "-timeout", f"{secs + 20}s", "-nostdin",
            "-buff_size", "4194304", "-max_recv_loops", "10000",
            "-max_sched_loops", "10000",
            "-trace_stat", "-stf", stat, "-fd", "5", "-trace_rtt", "-rtt_freq", "1000"]))
    t0 = time.monotonic()
    deadline = time.time() + secs + 40
    for p in procs:
        if not p.wait(deadline):
            p.kill()
    elapsed = time.monotonic() - t0
    tot = {"ok": 0, "failed": 0, "retrans": 0}
    for i in range(uacs):
        try:
            st = parse_stat(os.path.join(workdir, f"{tag}_uac{i}_stat.csv"))
        except (OSError, IndexError):
            st = {"ok": 0, "failed": count // uacs, "retrans": 0}
        for k in tot:
            tot[k] += st[k]
    rts = [rt for p in procs for samples in p.rtt().values() for _, rt in samples]
    s = latency_summary(rts) or {"n": 0, "p50": None, "p95": None, "p99": None}
    rtt = {k: s[k] for k in ("p50", "p95", "p99", "n")}
    return tot, rtt, tot["ok"] / elapsed if elapsed else 0


def step(server, workdir, rate, secs, settle):
    uacs = 1 if rate <= 10000 else 2
    tag = f"{server.name}_{rate}"
    c0 = server.cpu()
    st, rtt, achieved = run_sipp(workdir, tag, server.port, rate, secs, uacs)
    rss = rss_kib(server.pids())
    time.sleep(settle)  # imsd: Timer J of the last transactions
    d = server.cpu() - c0
    iu, ik = server.idle_per_s
    cpu = Cpu(max(0.0, d.user - iu * settle), max(0.0, d.kernel - ik * settle))
    ok = st["ok"]
    us_user, us_kernel = cpu.us_per(ok)
    res = {"server": server.name, "rate": rate, "count": rate * secs, "uacs": uacs,
           "ok": ok, "failed": st["failed"] + (rate * secs - ok - st["failed"]),
           "retrans": st["retrans"], "achieved": round(achieved),
           "cpu_s": round(cpu.total / CLK, 2), "cpu_user_s": round(cpu.user / CLK, 2),
           "cpu_kernel_s": round(cpu.kernel / CLK, 2),
           "idle_ticks_per_s": iu + ik,
           "us_per_tx": round(us_user + us_kernel, 2) if ok else None,
           "us_per_tx_user": round(us_user, 2) if ok else None,
           "us_per_tx_kernel": round(us_kernel, 2) if ok else None,
           "rss_peak_kib": rss, **rtt}
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
        append_section(a.results, SECTION, "\n".join(rows))
        log("appended to", a.results)


def report(out, a):
    by = {(r["server"], r["rate"]): r for r in out}
    commit = git_commit(ROOT)
    load = os.getloadavg()[0]
    today = datetime.date.today().isoformat()
    rows = ["| date | commit | load | rate /s | imsd µs/tx | Kamailio µs/tx | ratio | imsd fail | "
            "Kamailio fail | imsd p50/p95/p99 ms | Kamailio p50/p95/p99 ms | imsd RSS MiB "
            "| imsd user / kernel µs/tx | Kamailio user / kernel µs/tx |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def split(r):
        if r.get("us_per_tx_user") is None:
            return "-"
        return f"{r['us_per_tx_user']} / {r['us_per_tx_kernel']}"

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
                    f"{i['rss_peak_kib'] / 1024:.0f} | {split(i)} | {split(k)} |")
    return rows


if __name__ == "__main__":
    sys.exit(main())
