#!/usr/bin/env python3
"""Call benchmark driver: imsd (B2BUA with its in-process media relay) vs
Kamailio's stateful proxy (the anchor of shared/anchors/kamailio/), both up
in the same run, SIPp as the UEs, 127.0.0.1 only. Called by run.sh.

The call is the anchor's: INVITE -> 100 -> 180 -> 200 -> ACK -> BYE -> 200
(call_uac.xml / call_uas.xml, the same files for both servers; the UAC's
pause is SIPp's -d, 0 in the rate steps).

- Kamailio: the anchor's kamailio.cfg (bench/register/kamailio.cfg, the same
  file), -n 2 -x tlsf: every initial INVITE relayed to a fixed UAS
  (UAS_URI), calls not authenticated, no dialog state, no media.
- imsd: two users (caller, callee) with MD5 passwords; each SIPp UE
  registers (call_reg.xml, 401 then 200) from the port it then calls or is
  answered on; imsd terminates the caller's dialog, originates the callee's,
  and sets up a relay session (an RTP/RTCP port pair per leg) for the SDP of
  each. timer_t1 0.5 s (as bench/register): its UDP transactions are kept
  64*T1 = 32 s; a stopped call is kept 30 s (docs/calls.md); dialog_timeout
  600 s, since SIPp sends no RTP (the default 30 s would end the calls held
  in the memory phase).

Per step (offered rate, --secs-per-step long), each server in turn (the
order alternating per round): server CPU from /proc/PID/stat split into user
(utime) and kernel (stime) time, over the load window and over the load
window plus the settle (the time the server's call and transaction state
takes to go: imsd 34 s, Kamailio 2 s: the CPU of freeing it counts), per
call attempt; successful / failed calls, achieved rate, INVITE -> 200
response times (rtd 1), SIPp's CPU. A step is clean with < 0.1 % failures
and >= 97 % of the offered rate achieved.

Memory per live call: --live calls held --hold-ms each (the UAC's pause);
while all are up, imsd's heap_in_use (monitor `stats`), RSS and open file
descriptors, Kamailio's shared memory in use (kamcmd core.shmmem real_used)
and the PSS of its processes, each minus the same figure before.

A/B (--imsd-b PATH): a second imsd binary runs as server imsd-b on its own
SIP port (--imsd-b-port) and relay range (the same size, right above
imsd's), measured at the same steps in the same rounds as imsd, each step
on both back to back (the order alternating per round), so that a change
is read as the paired ratio imsd-b / imsd on a noisy machine. Default
servers then: imsd,imsd-b. --live 0 leaves the memory phase out.

Every process started here is stopped by its own PID. Raw results: JSON
lines in the work dir; the markdown report is printed, and appended to
bench/RESULTS.md with --results-md.
"""
import argparse
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchlib import (CLK, BenchError, Imsd, Kamailio, Sipp, append_section,  # noqa: E402
                      git_commit, latency_summary, log, parse_stat, smaps_sum,
                      sys_busy_ticks, udp_rcvbuf_errors, vm_status, wait_quiet)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KAM_CFG = os.path.join(ROOT, "bench", "register", "kamailio.cfg")
UAC_XML = os.path.join(HERE, "call_uac.xml")
UAS_XML = os.path.join(HERE, "call_uas.xml")
REG_XML = os.path.join(HERE, "call_reg.xml")
SIPP_BUF = "4194304"
SECTION = "## calls — call set-up and teardown vs Kamailio (bench/calls/)"
CALLER, CALLEE = "caller", "callee"
PWD = {CALLER: "caller-bench-pw", CALLEE: "callee-bench-pw"}
STATS_LAST = "registrar.mem"


def free_block(count, lo=61000, hi=65500):
    """The first of count consecutive UDP ports free on 127.0.0.1 now (SIPp
    binds its media ports -mp.. and control port -cp even when the scenario
    plays no media; other benches on this machine hold thousands of ports)."""
    import random
    import socket
    rnd = random.Random(os.getpid() + int(time.time()))
    for _ in range(500):
        first = rnd.randrange(lo, hi - count) & ~1
        socks = []
        try:
            for port in range(first, first + count):
                so = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(so)
                so.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for so in socks:
                so.close()
    raise BenchError("no free block of UDP ports for SIPp")


def wait_port_free(port, secs=15.0):
    """True once UDP 127.0.0.1:port can be bound (within secs): another
    program on this shared machine may hold a SIPp port for a while."""
    import socket
    end = time.time() + secs
    while True:
        so = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            so.bind(("127.0.0.1", port))
            return True
        except OSError:
            if time.time() >= end:
                return False
            time.sleep(0.5)
        finally:
            so.close()


class Side:
    """One server under test with its SIPp ports: name, server, uac/uas
    ports, settle seconds, and how its memory is sampled."""

    def __init__(self, name, server, uac_port, uas_port, settle_s):
        self.name = name
        self.server = server
        self.uac_port = uac_port
        self.uas_port = uas_port
        self.settle_s = settle_s
        # UAC media ports mp..mp+3, UAS mp+4..mp+7, control ports mp+8, mp+9
        self.media_port = free_block(10)
        self.ctrl_port = self.media_port + 8

    def mem(self):
        s = self.server
        out = {"pss_kib": smaps_sum(s.pids())[1]}
        if isinstance(s, Imsd):
            st = s.monitor("stats", STATS_LAST)
            out["heap_in_use"] = st.get("heap_in_use")
            out["rss_kib"] = vm_status(s.p.pid).get("VmRSS")
            try:
                out["fds"] = len(os.listdir(f"/proc/{s.p.pid}/fd"))
            except OSError:
                out["fds"] = None
        else:
            txt = s.rpc("core.shmmem") or ""
            m = re.search(r"real_used:\s*(\d+)", txt)
            out["shm_real_used"] = int(m.group(1)) if m else None
        return out


def imsd_cfg(path, port, relay):
    with open(path, "w") as f:
        f.write(f"""/* Generated by bench/calls/callbench.py */
{{
  log_filename: "imsd.log",
  log_options: "all.level=error",
  sip_addr: [ {{ addr: "127.0.0.1:{port}", port_min: {relay[0]}, port_max: {relay[1]} }} ],
  domain: "ims.test",
  ipsec: false,
  timer_t1: 0.5,
  binding_expires: 3600,
  dialog_timeout: 600,
  ue_db: [
    {{ imsi: "001010000009001", impi: "{CALLER}@ims.test", impu: ["sip:{CALLER}"],
       authent_type: "MD5", pwd: "{PWD[CALLER]}" }},
    {{ imsi: "001010000009002", impi: "{CALLEE}@ims.test", impu: ["sip:{CALLEE}"],
       authent_type: "MD5", pwd: "{PWD[CALLEE]}" }},
  ],
}}
""")


def write_inf(workdir, user):
    path = os.path.join(workdir, f"{user}.csv")
    with open(path, "w") as f:
        f.write(f"SEQUENTIAL\n{user};[authentication username={user}@ims.test "
                f"password={PWD[user]}]\n")
    return path


def register(side, workdir, user, port):
    """One MD5 registration of user from 127.0.0.1:port (SIPp, bounded)."""
    inf = write_inf(workdir, user)
    s = Sipp(workdir, f"{side.name}_reg_{user}",
             ["127.0.0.1:%d" % side.server.port, "-sf", REG_XML, "-inf", inf, "-m", "1",
              "-i", "127.0.0.1", "-p", str(port), "-mp", str(side.media_port),
              "-cp", str(side.ctrl_port), "-nostdin", "-timeout", "15s", "-timeout_error",
              "-trace_err"])
    if not s.wait(time.time() + 20):
        s.kill()
    if s.rc != 0:
        raise BenchError(f"{side.name}: {user} did not register from port {port}: "
                         f"{s.errors() or 'sipp status %s' % s.rc}")


def uas_args(side, count, timeout_s, stat, hold_ms):
    return ["-sf", UAS_XML, "-i", "127.0.0.1", "-p", str(side.uas_port),
            "-mp", str(side.media_port + 4), "-cp", str(side.ctrl_port + 1),
            "-m", str(count), "-timeout", f"{timeout_s + 15}s",
            "-recv_timeout", str(10000 + hold_ms),
            "-nostdin", "-buff_size", SIPP_BUF, "-max_recv_loops", "10000",
            "-max_sched_loops", "10000", "-watchdog_minor_maxtriggers", "1000000",
            "-watchdog_major_maxtriggers", "100000", "-trace_stat", "-stf", stat, "-fd", "5",
            "-trace_err"]


def uac_args(side, workdir, rate, count, timeout_s, stat, hold_ms):
    limit = max(3 * int(rate), 1000, count if hold_ms else 0)
    return ["127.0.0.1:%d" % side.server.port, "-sf", UAC_XML,
            "-inf", write_inf(workdir, CALLER), "-s", CALLEE,
            "-i", "127.0.0.1", "-p", str(side.uac_port), "-mp", str(side.media_port),
            "-cp", str(side.ctrl_port), "-r", str(rate), "-rp", "1000", "-m", str(count),
            "-l", str(limit), "-d", str(hold_ms), "-recv_timeout", "5000",
            "-timeout", f"{timeout_s}s", "-nostdin", "-buff_size", SIPP_BUF,
            "-max_recv_loops", "10000", "-max_sched_loops", "10000",
            "-watchdog_minor_maxtriggers", "1000000", "-watchdog_major_maxtriggers", "100000",
            "-trace_stat", "-stf", stat, "-fd", "5",
            "-trace_rtt", "-rtt_freq", str(max(1, min(1000, count // 4))),
            "-trace_err"]


def run_calls(side, workdir, tag, rate, count, hold_ms=0, during=None):
    """UAS then UAC; during(t0) is called while they run (memory phase).
    Returns (uac Sipp, uac stat, uas Sipp, uas stat, t_uac_end)."""
    timeout_s = int(count / rate * 3 + hold_ms / 1000) + 30
    uas_stat = os.path.join(workdir, f"{tag}_uas_stat.csv")
    uac_stat = os.path.join(workdir, f"{tag}_uac_stat.csv")
    for port in (side.uas_port, side.uac_port):
        if not wait_port_free(port):
            log(f"  {tag}: UDP port {port} still held by another program after 15 s")
    uas = Sipp(workdir, f"{tag}_uas", uas_args(side, count, timeout_s, uas_stat, hold_ms))
    time.sleep(0.5)  # SIPp binds its port before it reads the first recv
    uac = Sipp(workdir, f"{tag}_uac", uac_args(side, workdir, rate, count, timeout_s,
                                               uac_stat, hold_ms))
    t0 = time.time()
    deadline = t0 + timeout_s + 20
    try:
        if during:
            during(t0)
        if not uac.wait(deadline):
            log(f"  {tag}: sipp UAC past its deadline, killing pid {uac.p.pid}")
            uac.kill()
        t_end = time.time()
        if not uas.wait(time.time() + 5):  # calls were lost: it would wait for them
            uas.kill()
    except BaseException:
        uac.kill()
        uas.kill()
        raise
    return uac, uac_stat, uas, uas_stat, t_end


def stat_or_empty(path):
    try:
        return parse_stat(path)
    except (OSError, IndexError, StopIteration):
        return {}


def run_step(side, workdir, rate, secs, rnd, quiet_wait):
    waited, busy_before = wait_quiet(quiet_wait)
    count = int(rate * secs)
    tag = f"{side.name}_r{rate}_{rnd}"
    c0 = side.server.cpu()
    b0 = sys_busy_ticks()
    u0 = udp_rcvbuf_errors()
    t0 = time.time()
    uac, uac_stat, uas, uas_stat, t_end = run_calls(side, workdir, tag, rate, count)
    c_load = side.server.cpu()
    time.sleep(side.settle_s)
    c1 = side.server.cpu()
    b1 = sys_busy_ticks()
    st = stat_or_empty(uac_stat)
    sst = stat_or_empty(uas_stat)
    rtt = uac.rtt()
    setup = [r for _, r in rtt.get("1", [])]
    dates = [d for d, _ in rtt.get("1", [])]
    wall = max(t_end - t0, 1e-3)
    achieved = ((len(dates) - 1) / ((max(dates) - min(dates)) / 1000.0)
                if len(dates) > 1 and max(dates) > min(dates) else st.get("ok", 0) / wall)
    created = st.get("created", 0) or count
    failed = st.get("failed", 0) + max(0, count - st.get("ok", 0) - st.get("failed", 0))
    load = c_load - c0
    total = c1 - c0
    res = {
        "server": side.name, "round": rnd, "rate": rate, "count": count,
        "ok": st.get("ok", 0), "failed": failed, "retrans": st.get("retrans", 0),
        "timeouts": st.get("timeouts", 0), "unexpected": st.get("unexpected", 0),
        "uas_ok": sst.get("ok", 0), "uas_failed": sst.get("failed", 0),
        "achieved": round(achieved, 1), "wall_s": round(wall, 2),
        "cpu_load": {"user": load.user / CLK, "kernel": load.kernel / CLK},
        "cpu_total": {"user": total.user / CLK, "kernel": total.kernel / CLK},
        "us_per_call": [round(x, 1) for x in total.us_per(created)],
        "us_per_call_load": [round(x, 1) for x in load.us_per(created)],
        "setup_ms": latency_summary(setup),
        "sipp_cpu_s": round((uac.cpu_s or 0) + (uas.cpu_s or 0), 2),
        "machine_busy_cores": round((b1[0] - b0[0]) / CLK / max(time.time() - t0, 1e-3), 2),
        "udp_rcvbuf_errors": udp_rcvbuf_errors() - u0,
        "busy_before": round(busy_before, 2), "errors": uac.errors(3) + uas.errors(2),
    }
    res["clean"] = (res["failed"] < 0.001 * count and achieved >= 0.97 * rate)
    if any("Unable to bind" in e for e in res["errors"]):
        # a SIPp port held by another program: the step says nothing of the server
        res["clean"] = None
        res["invalid"] = "not measured: a SIPp could not bind its port (held by another program)"
    u, k = res["us_per_call"]
    log(f"  {side.name} {rate}/s: ok {res['ok']}/{count} failed {failed} achieved "
        f"{achieved:.0f}/s, CPU/call {u + k:.0f} µs (user {u:.0f}, kernel {k:.0f}), "
        f"setup p50/p95 {(res['setup_ms'] or {}).get('p50')}/"
        f"{(res['setup_ms'] or {}).get('p95')} ms"
        f"{'' if res['clean'] else '  ' + res.get('invalid', 'NOT CLEAN')}")
    return res


def memory_phase(side, workdir, live, hold_ms, rate, tsx_s):
    """--live calls held hold_ms each; memory while they are all up: once
    just after the last call was set up (its SIP transactions still kept),
    and tsx_s later if the calls are still up then (the transactions gone:
    what a long call holds)."""
    wait_quiet(10)
    before = side.mem()
    samples = {}
    up_at = live / rate + 2.0  # every call set up (rate-limited), none ended yet

    def during(t0):
        for name, at in (("early", up_at), ("steady", up_at + tsx_s)):
            if at > hold_ms / 1000.0 - 1.0:
                break
            while time.time() < t0 + at:
                time.sleep(0.2)
            samples[name] = side.mem()
    uac, uac_stat, uas, uas_stat, _ = run_calls(side, workdir, f"{side.name}_mem", rate,
                                                live, hold_ms, during)
    st = stat_or_empty(uac_stat)
    time.sleep(side.settle_s)
    after = side.mem()
    per = {}
    for name, sample in samples.items():
        for k in before:
            if before.get(k) is not None and sample.get(k) is not None:
                d = sample[k] - before[k]
                # per call in bytes: a _kib figure loses its suffix
                per[f"{name} {k.removesuffix('_kib')}"] = (
                    d * (1024 if k.endswith("_kib") else 1) / live)
    res = {"server": side.name, "phase": "memory", "live": live, "hold_ms": hold_ms,
           "tsx_s": tsx_s, "ok": st.get("ok", 0), "failed": st.get("failed", 0),
           "before": before, "samples": samples, "after": after, "per_call": per}
    log(f"  {side.name} memory with {live} live calls: " +
        ", ".join(f"{k} {v:.0f}" for k, v in per.items()) + " per call")
    return res


def start_sides(args, workdir):
    sides = []
    for name in args.servers.split(","):
        d = os.path.join(workdir, name)
        os.makedirs(d, exist_ok=True)
        try:
            if name == "kamailio":
                k = Kamailio(KAM_CFG, args.kam_port, d, children=2, shm_mb=512,
                             mem_mgr="tlsf", ctl=True)
                k.cmd += ["-A", f'UAS_URI="sip:127.0.0.1:{args.kam_port + 2}"']
                k.start()
                side = Side(name, k, args.kam_port + 1, args.kam_port + 2, 2.0)
                log(f"kamailio: {k.desc}, pids {k.pids()}")
            elif name in ("imsd", "imsd-b"):
                b = name == "imsd-b"
                port = args.imsd_b_port if b else args.imsd_port
                span = args.relay_max - args.relay_min
                relay = ((args.relay_max + 2, args.relay_max + 2 + span) if b
                         else (args.relay_min, args.relay_max))
                sip = [p + i for p in (args.kam_port, args.imsd_port, args.imsd_b_port)
                       for i in range(3)]
                if any(relay[0] <= p <= relay[1] for p in sip):
                    raise BenchError(f"{name}'s relay ports {relay[0]}-{relay[1]} hold SIP "
                                     f"ports of the run ({sip}): pick --relay-min/--relay-max "
                                     "apart from them")
                binary = args.imsd_b if b else args.imsd_bin
                cfg = os.path.join(d, "ims.cfg")
                imsd_cfg(cfg, port, relay)
                s = Imsd(binary, cfg, port, d)
                s.start()
                side = Side(name, s, port + 1, port + 2, 34.0)
                register(side, d, CALLER, side.uac_port)
                register(side, d, CALLEE, side.uas_port)
                log(f"{name}: {binary} pid {s.p.pid}, relay ports {relay[0]}-{relay[1]}, "
                    f"caller and callee registered")
            else:
                raise BenchError(f"unknown server {name}")
        except BenchError as e:
            log(f"{name}: not measured: {e}")
            if name == "kamailio" and "k" in locals():
                k.stop()
            if name in ("imsd", "imsd-b") and "s" in locals():
                s.stop()
            continue
        side.workdir = d
        sides.append(side)
    return sides


def fmt_step_rows(rows):
    out = ["| server | round | offered /s | achieved /s | failures | INVITE→200 p50 / p95 ms | "
           "CPU µs/call user + kernel (load + settle) | load window only | SIPp CPU s | clean |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        u, k = r["us_per_call"]
        lu, lk = r["us_per_call_load"]
        sm = r["setup_ms"] or {}
        out.append(f"| {r['server']} | {r['round']} | {r['rate']} | {r['achieved']:.0f} | "
                   f"{r['failed']} / {r['count']} | {sm.get('p50', '-')} / {sm.get('p95', '-')} | "
                   f"**{u + k:.0f}** ({u:.0f} + {k:.0f}) | {lu + lk:.0f} ({lu:.0f} + {lk:.0f}) | "
                   f"{r['sipp_cpu_s']} | "
                   f"{'yes' if r['clean'] else r.get('invalid') or 'no'} |")
    return out


def paired(rows, num, den):
    """Ratios of CPU per call (total, user, kernel) of two servers' clean
    steps at the same rate in the same round."""
    out = []
    for r in rows:
        if r["server"] != num or not r["clean"]:
            continue
        for k in rows:
            if (k["server"] == den and k["clean"] and k["rate"] == r["rate"]
                    and k["round"] == r["round"] and sum(k["us_per_call"])):
                (u, kk), (du, dk) = r["us_per_call"], k["us_per_call"]
                out.append(f"{r['rate']}/s r{r['round']}: "
                           f"{(u + kk) / (du + dk):.2f} (user {u / du if du else 0:.2f}, "
                           f"kernel {kk / dk if dk else 0:.2f})")
    return ", ".join(out) if out else "no step clean on both"


def report(args, rows, mems, sides):
    md = [f"### {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} — commit "
          f"{git_commit(ROOT)}, {args.secs_per_step:g} s per step, {args.rounds} round(s)", ""]
    for s in sides:
        desc = (s.server.desc if hasattr(s.server, "desc") else
                f"imsd {args.imsd_b if s.name == 'imsd-b' else args.imsd_bin}")
        md.append(f"- {s.name}: {desc}")
    md += [""] + fmt_step_rows(rows) + [""]
    for s in sides:
        clean = sorted({r["rate"] for r in rows if r["server"] == s.name and r["clean"]})
        dirty = {r["rate"] for r in rows if r["server"] == s.name and r["clean"] is False}
        ok = [x for x in clean if x not in dirty]
        best = max(ok) if ok else None
        cpu = [sum(r["us_per_call"]) for r in rows if r["server"] == s.name and r["clean"]]
        md.append(f"- **{s.name}**: highest rate clean in every round "
                  f"(< 0.1 % failures, ≥ 97 % achieved): "
                  f"{best if best else 'none'}{' /s' if best else ''}; CPU per call over the "
                  f"clean steps {min(cpu):.0f}–{max(cpu):.0f} µs" if cpu else
                  f"- **{s.name}**: no clean step")
    for m in mems:
        per = ", ".join(f"{k} {v:,.0f}" for k, v in m["per_call"].items())
        md.append(f"- {m['server']}, memory per live call ({m['live']} calls held "
                  f"{m['hold_ms'] / 1000:g} s, {m['ok']} ok / {m['failed']} failed; early: "
                  f"just after the last set-up, steady: {m['tsx_s']:g} s later): {per} "
                  f"(bytes; fds: descriptors)")
    names = [s.name for s in sides]
    for num, den in (("imsd", "kamailio"), ("imsd-b", "imsd"), ("imsd-b", "kamailio")):
        if num in names and den in names:
            md.append(f"- paired ratio {num} / {den} of CPU per call, per round and rate: " +
                      paired(rows, num, den))
    md.append("- target (issue #15): imsd ≤ 100 µs per call as a B2BUA including media port "
              "set-up, and a highest clean rate above Kamailio's.")
    return "\n".join(md) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--servers", default=None,
                    help="default kamailio,imsd; with --imsd-b: imsd,imsd-b")
    ap.add_argument("--imsd-b", default=None, metavar="PATH",
                    help="A/B run: a second imsd binary, server imsd-b")
    ap.add_argument("--imsd-b-port", type=int, default=15180)
    ap.add_argument("--imsd-bin", default=os.path.join(ROOT, "build-rel", "imsd"))
    ap.add_argument("--kam-port", type=int, default=15160)
    ap.add_argument("--imsd-port", type=int, default=15170)
    # imsd's relay ports: as many as the default 10000-20000 (5,000 pairs), but
    # above the SIP ports of the run, which the relay would otherwise take for
    # its pool between two steps (a SIPp then cannot bind its port)
    ap.add_argument("--relay-min", type=int, default=16000)
    ap.add_argument("--relay-max", type=int, default=26000)
    ap.add_argument("--rates", default="500,1000,2000,3000,4000")
    ap.add_argument("--secs-per-step", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--live", type=int, default=1000, help="calls held in the memory phase")
    ap.add_argument("--hold-ms", type=int, default=45000)
    ap.add_argument("--mem-tsx-s", type=float, default=34.0,
                    help="second memory sample this long after the first (imsd's "
                    "transactions gone: 64*T1 + 2 s)")
    ap.add_argument("--mem-rate", type=int, default=200)
    ap.add_argument("--quiet-wait", type=float, default=10.0)
    ap.add_argument("--quick", action="store_true", help="200 and 500/s, 2 s steps")
    ap.add_argument("--results-md", help="append the report to this markdown file")
    args = ap.parse_args()
    if not args.servers:
        args.servers = "imsd,imsd-b" if args.imsd_b else "kamailio,imsd"
    if "imsd-b" in args.servers.split(",") and not args.imsd_b:
        ap.error("imsd-b needs --imsd-b PATH")
    if args.quick:
        args.rates, args.secs_per_step, args.live, args.hold_ms = "200,500", 2.0, 200, 5000
        args.mem_tsx_s = 1.0
    workdir = os.path.abspath(args.workdir)
    os.makedirs(workdir, exist_ok=True)
    rates = [int(x) for x in args.rates.split(",") if x]
    sides = start_sides(args, workdir)
    rows, mems = [], []
    results = open(os.path.join(workdir, "results.jsonl"), "a")
    try:
        if not sides:
            raise BenchError("no server could be measured")
        for side in sides if args.live > 0 else []:
            m = memory_phase(side, side.workdir, args.live, args.hold_ms, args.mem_rate,
                             args.mem_tsx_s)
            mems.append(m)
            results.write(json.dumps(m) + "\n")
        for rnd in range(1, args.rounds + 1):
            order = sides if rnd % 2 else list(reversed(sides))
            for rate in rates:
                for side in order:
                    if not side.server.alive():
                        raise BenchError(f"{side.name} exited: see {side.workdir}")
                    r = run_step(side, side.workdir, rate, args.secs_per_step, rnd,
                                 args.quiet_wait)
                    rows.append(r)
                    results.write(json.dumps(r) + "\n")
                    results.flush()
    finally:
        results.close()
        for s in sides:
            s.server.stop()
    md = report(args, rows, mems, sides)
    with open(os.path.join(workdir, "report.md"), "w") as f:
        f.write(md)
    print(md)
    if args.results_md:
        append_section(args.results_md, SECTION, md)
    measured = {s.name for s in sides}
    return 0 if measured == set(args.servers.split(",")) else 3


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        log(f"error: {e}")
        sys.exit(3)
