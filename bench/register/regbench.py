#!/usr/bin/env python3
"""Registration benchmark driver: imsd (IMS-AKA, built-in HSS) vs Kamailio (MD5).

Called by run.sh. Both servers run in the same run, on 127.0.0.1 only, on
different UDP ports, and stay up from start to end:

  1. start each server fresh (imsd with a generated configuration of N AKA
     users, Kamailio with kamailio.cfg: -x tlsf -n 2, in-memory usrloc);
  2. probe each: is it listening, does it answer REGISTER with a 401, does
     SIPp complete one registration (401 then 200)? If not, say why and
     go on without it;
  3. memory phase, one server after the other: sample memory, register the
     first half of the users, wait for transaction state to expire, sample,
     register the second half, wait, sample (every user registered once, one
     binding each);
  4. rate steps, interleaved: for each round (--rounds), for each step
     (offered rate, one or two SIPp UACs: -m, -r, -timeout bounded, plus a
     hard deadline here) the step on every server back to back, the order of
     the servers reversed every other round. The machine's speed drifts over
     minutes; a step's figures of both servers come from the same minute,
     and regreport.py takes medians over the rounds and the ratio within
     each round.

Per step: successful / failed registrations, achieved rate, SIPp response
times (rtd 1: whole registration, rtd 2: first transaction), server CPU from
/proc/PID/stat (utime + stime of every server process) over the load window
and over the load window plus the time the server's transaction state takes
to expire (imsd keeps UDP server transactions for Timer J = 64*T1, Kamailio
answers REGISTER statelessly), SIPp CPU per UAC, softirq and other processes.

Every process started here is stopped by its own PID. Results are JSON lines;
regreport.py turns them into markdown.
"""
import argparse
import hashlib
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time

import regreport

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib  # noqa: E402
from benchlib import (CLK, BenchError, Sipp, git_commit,  # noqa: E402
                      imsd_config, kamailio_version, latency_summary, log, parse_stat,
                      smaps_sum, sys_busy_ticks, tail, udp_port_bound, udp_rcvbuf_errors,
                      vm_status, wait_quiet)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

DOMAIN = "ims.test"
# SIPp 3.6 takes aka_K / aka_OP / aka_AMF as raw text bytes (first 16, 16 and
# 2 characters) and OP, not OPc; imsd gets the hex of the same bytes.
K_TEXT = "imsdRegBenchK016"
OP_TEXT = "imsdRegBenchOP16"
AMF_TEXT = "RB"
K_HEX = K_TEXT.encode().hex()
OP_HEX = OP_TEXT.encode().hex()
AMF_HEX = AMF_TEXT.encode().hex()

UAC_PORTS = [25161, 25162]
MEDIA_PORTS = [26361, 26461]
CTRL_PORTS = [28961, 28962]
SIPP_BUF = "4194304"
AKA_XML = os.path.join(HERE, "reg_aka_uac.xml")
MD5_XML = os.path.join(HERE, "reg_md5_uac.xml")
KAM_CFG = os.path.join(HERE, "kamailio.cfg")


def sipp_args(server, i, rate, count, users_csv, stat_file, timeout_s):
    limit = max(3 * int(rate), 1000)
    return [server.addr, "-sf", server.scenario, "-inf", users_csv,
            "-i", "127.0.0.1", "-p", str(UAC_PORTS[i]),
            "-mp", str(MEDIA_PORTS[i]), "-cp", str(CTRL_PORTS[i]),
            "-r", f"{rate:g}", "-rp", "1000", "-m", str(count), "-l", str(limit),
            "-auth_uri", DOMAIN,
            "-recv_timeout", "5000", "-timeout", f"{timeout_s}s",
            "-nostdin", "-buff_size", SIPP_BUF,
            "-max_recv_loops", "10000", "-max_sched_loops", "10000",
            "-watchdog_minor_maxtriggers", "1000000",
            "-watchdog_major_maxtriggers", "100000",
            "-trace_stat", "-stf", stat_file, "-fd", "5",
            "-trace_rtt", "-rtt_freq", "1000", "-trace_err"]


# ----------------------------------------------------------------- servers
class Kamailio(benchlib.Kamailio):
    """The anchor: kamailio.cfg (MD5 digest, in-memory usrloc), its ctl socket
    for the memory figures."""
    auth = "MD5"
    scenario = MD5_XML
    settle_s = 2.0

    def __init__(self, port, workdir, children=2, shm_mb=512, mem_mgr="tlsf"):
        super().__init__(KAM_CFG, port, workdir, children=children, shm_mb=shm_mb,
                         mem_mgr=mem_mgr, ctl=True, out="kamailio.log")
        self.children = children

    def _kv(self, out, sep):
        d = {}
        for line in (out or "").splitlines():
            if sep in line:
                k, v = line.strip().split(sep, 1)
                try:
                    d[k.strip()] = int(v.strip())
                except ValueError:
                    pass
        return d

    def mem_sample(self):
        pids = self.refresh_pids()
        rss, pss = smaps_sum(pids)
        shm = self._kv(self.rpc("core.shmmem"), ":")
        ul = self._kv(self.rpc("stats.get_statistics", "usrloc:"), "=")
        return {"shm_real_used": shm.get("real_used"), "pss_sum_kib": pss,
                "rss_sum_kib": rss, "rss_main_kib": vm_status(self.p.pid).get("VmRSS"),
                "registered": ul.get("usrloc:location_contacts"),
                "nprocs": len(pids)}


def binary_id(path):
    """The first 12 hex digits of the SHA-256 of a binary: which build it was."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


class Imsd(benchlib.Imsd):
    """imsd with a generated configuration of `users` Milenage AKA users.
    name: "imsd" (the binary A, in the workdir) or "imsd-b" (the binary B of
    an A/B run); with state (ue_db_filename, docs/registrar.md) the name gets
    "-state": every change of a user is written to SQLite before the loop
    sleeps, to a fresh file (ims.state) in the server's folder. Every server
    but "imsd" has its own folder <workdir>/<name>/ (configuration, output,
    log, state file)."""
    auth = "AKAv1-MD5"
    scenario = AKA_XML

    def __init__(self, port, workdir, binary, users, t1_s, name="imsd", state=False):
        name = name + ("-state" if state else "")
        if name != "imsd":
            workdir = os.path.join(workdir, name)
            os.makedirs(workdir, exist_ok=True)
            for f in os.listdir(workdir):
                if f.startswith("ims.state"):
                    os.unlink(os.path.join(workdir, f))
        super().__init__(binary, os.path.join(workdir, "imsd.cfg"), port, workdir, name=name)
        self.users = users
        self.t1_s = t1_s
        self.state = state
        # UDP server transactions stay for Timer J = 64*T1 after the final
        self.settle_s = 64 * t1_s + 2.0
        default_bin = os.path.join(ROOT, "build-rel", "imsd")
        what = (f"{git_commit(ROOT)} (release build)" if os.path.realpath(binary) ==
                os.path.realpath(default_bin) else f"{binary} (sha256 {binary_id(binary)})")
        self.desc = f"imsd {what}, timer_t1 {t1_s:g} s"
        if state:
            self.desc += ", ue_db_filename (SQLite state file)"

    def write_config(self):
        settings = [("log_filename", "imsd.log"), ("log_options", "all.level=error"),
                    ("sip_addr", [self.addr]), ("domain", DOMAIN), ("ipsec", False)]
        if self.state:
            settings.append(("ue_db_filename", "ims.state"))
        settings += [("timer_t1", self.t1_s), ("binding_expires", 3600)]
        rows = ({"sim_algo": "milenage", "authent_type": "AKAv1", "imsi": imsi, "impi": impi,
                 "impu": [imsi], "K": K_HEX, "op": OP_HEX, "amf": AMF_HEX,
                 "sqn": "000000000000"} for imsi, impi in user_ids(self.users))
        with open(self.cfg, "w") as f:
            f.write(imsd_config(settings, rows, comment="Generated by bench/register/"
                                f"regbench.py: {self.users} Milenage users, AKAv1-MD5."))

    def check_config(self):
        r = subprocess.run([self.binary, "--check-config", self.cfg], capture_output=True,
                           text=True, timeout=300)
        if r.returncode != 0:
            raise BenchError(f"imsd --check-config {self.cfg} failed: "
                             f"{(r.stderr or r.stdout).strip()[:500]}")
        return (r.stderr or "").strip()

    # the figures of imsd's `stats` kept in a memory sample (docs/monitor.md)
    STATS_KEYS = {"rss": "stats_rss", "heap_in_use": "heap_in_use", "heap_free": "heap_free",
                  "heap_arena": "heap_arena", "sip.tsx_server": "tsx_server",
                  "sip.tsx_client": "tsx_client", "registrar.users": "registered",
                  "registrar.bindings": "bindings", "registrar.mem": "registrar_mem"}
    STATS_LAST = "registrar.mem"

    def mem_sample(self, trim=False):
        """VmRSS from /proc, and imsd's own figures from its monitor `stats`:
        heap_in_use (mallinfo2: allocated bytes, with the allocator's chunk
        overhead, without the free memory malloc keeps after the burst of
        transactions), the live transactions and the registrar's counts.
        trim: then `stats trim`, and the RSS after it."""
        st = vm_status(self.p.pid)
        r = {"rss_kib": st.get("VmRSS"), "hwm_kib": st.get("VmHWM")}
        if self.p.stdin:
            s = self.monitor("stats", self.STATS_LAST)
            r.update({v: s.get(k) for k, v in self.STATS_KEYS.items()})
            if trim:
                t = self.monitor("stats trim", "trim_time")
                r["rss_trimmed"] = t.get("rss_after")
                r["trim_time_s"] = t.get("trim_time")
        return r


class SelfTestAka(Imsd):
    """Harness self-test only: the imsd side of the pipeline (generated
    configuration checked by imsd --check-config, users, AKA scenario, probe,
    steps) against selftest_aka.py instead of imsd. Never reported as imsd."""

    def __init__(self, port, workdir, binary, users, imsctl):
        super().__init__(port, workdir, binary, users, 0.5)
        self.name = "selftest-aka"
        self.imsctl = imsctl
        self.settle_s = 1.0
        self.desc = "selftest_aka.py (stand-in AKA registrar, NOT imsd)"

    def mem_sample(self, trim=False):
        st = vm_status(self.p.pid)
        return {"rss_kib": st.get("VmRSS"), "hwm_kib": st.get("VmHWM")}

    def start(self, ready_timeout=20):
        self.out_path = os.path.join(self.workdir, "selftest_aka.out")
        self.outf = open(self.out_path, "ab")
        self.p = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "selftest_aka.py"), "--port", str(self.port),
             "--imsctl", self.imsctl, "--k", K_HEX, "--op", OP_HEX, "--amf", AMF_HEX,
             "--realm", DOMAIN, "--max-seconds", "3600"],
            stdin=subprocess.DEVNULL, stdout=self.outf, stderr=subprocess.STDOUT)
        deadline = time.time() + ready_timeout
        while time.time() < deadline:
            if self.p.poll() is not None:
                raise BenchError("selftest_aka.py exited at start: " + tail(self.out_path))
            if udp_port_bound(self.port):
                return
            time.sleep(0.1)
        raise BenchError("selftest_aka.py did not open its port")


# ----------------------------------------------------------------- users
def user_ids(n):
    for i in range(1, n + 1):
        imsi = f"00101{i:010d}"
        yield imsi, f"{imsi}@{DOMAIN}"


def write_users(workdir, server, n):
    """users_<name>_all.csv, _0 (first half), _1 (second half)."""
    if server.auth.startswith("AKA"):
        rows = [f"{imsi};{impi};{DOMAIN};[authentication username={impi} aka_K={K_TEXT} "
                f"aka_OP={OP_TEXT} aka_AMF={AMF_TEXT}];" for imsi, impi in user_ids(n)]
    else:
        # kamailio.cfg accepts users 100000..199999, password "pw" + user
        rows = [f"{u};{u};{DOMAIN};[authentication username={u} password=pw{u}];"
                for u in range(100000, 100000 + n)]
    half = n // 2
    paths = {}
    for key, part in (("all", rows), ("0", rows[:half]), ("1", rows[half:])):
        paths[key] = os.path.join(workdir, f"users_{server.name}_{key}.csv")
        with open(paths[key], "w") as f:
            f.write("SEQUENTIAL\n" + "\n".join(part) + "\n")
    return paths


# ----------------------------------------------------------------- probe
def raw_register(server, timeout_s=4.0):
    """One REGISTER of the first user by hand; -> (code, reason, headers) or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    lport = s.getsockname()[1]
    aka = server.auth.startswith("AKA")
    if aka:
        user, _ = next(user_ids(1))
        auth = (f'Authorization: Digest username="{user}@{DOMAIN}",realm="{DOMAIN}",'
                f'uri="sip:{DOMAIN}",nonce="",response=""\r\n')
    else:
        user, auth = "100000", ""
    branch = f"z9hG4bK-regbench-probe-{os.getpid()}"
    msg = (f"REGISTER sip:{DOMAIN} SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch={branch}\r\n"
           f"From: <sip:{user}@{DOMAIN}>;tag=probe{os.getpid()}\r\n"
           f"To: <sip:{user}@{DOMAIN}>\r\nCall-ID: regbench-probe-{os.getpid()}@127.0.0.1\r\n"
           f"CSeq: 1 REGISTER\r\nContact: <sip:{user}@127.0.0.1:{lport}>\r\n{auth}"
           f"Max-Forwards: 70\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n").encode()
    host, port = server.addr.split(":")
    end = time.time() + timeout_s
    wait = 0.5
    try:
        while time.time() < end:
            s.sendto(msg, (host, int(port)))
            s.settimeout(min(wait, max(0.05, end - time.time())))
            try:
                while True:
                    data = s.recv(65535).decode("utf-8", "replace")
                    first, _, rest = data.partition("\r\n")
                    parts = first.split(" ", 2)
                    if len(parts) < 2 or not parts[0].startswith("SIP/2.0"):
                        continue
                    code = int(parts[1])
                    if code >= 200:
                        return code, parts[2] if len(parts) > 2 else "", rest
            except (socket.timeout, ValueError):
                wait *= 2
    finally:
        s.close()
    return None


def probe(server, workdir, users_csv):
    """-> (ok, message). Says precisely how far REGISTER handling goes."""
    r = raw_register(server)
    if r is None:
        return False, (f"{server.name} does not answer REGISTER on udp {server.addr} "
                       "(no final response in 4 s)")
    code, reason, hdrs = r
    if code in (405, 501):
        return False, (f"{server.name} does not handle REGISTER yet: it answered "
                       f"{code} {reason} (no registrar on the SIP stack)")
    if code != 401:
        return False, f"{server.name} answered the first REGISTER with {code} {reason}, not 401"
    www = [l for l in hdrs.split("\r\n") if l.lower().startswith("www-authenticate:")]
    want = "akav1-md5" if server.auth.startswith("AKA") else "digest"
    if not www or want not in www[0].lower():
        return False, (f"{server.name} challenged without {want}: "
                       f"{www[0] if www else 'no WWW-Authenticate'}")
    d = os.path.join(workdir, f"probe_{server.name}")
    os.makedirs(d, exist_ok=True)
    stat = os.path.join(d, "stat.csv")
    # from UAC 0's port: the binding is the one the memory phase replaces
    sp = Sipp(d, "probe", sipp_args(server, 0, 1, 1, users_csv, stat, 15))
    if not sp.wait(time.time() + 25):
        sp.kill()
    try:
        st = parse_stat(stat)
    except (OSError, IndexError):
        st = {}
    if st.get("ok") == 1:
        return True, f"{server.name}: one SIPp registration completed (401, then 200)"
    errs = sp.errors()
    return False, (f"{server.name}: SIPp could not complete one registration "
                   f"(sipp exit {sp.rc}): " + (" | ".join(errs) or tail(sp.out.name)))


# ----------------------------------------------------------------- a load step
def run_step(server, a, rate, count, csvs, tag, kind, peers=(), rnd=None):
    """One bounded load step; returns a result dict. peers: the other servers,
    running idle meanwhile (their CPU is reported apart, not as "other");
    rnd: the round of an interleaved rate step (None in the memory phase)."""
    d = os.path.join(a.workdir, "steps",
                     f"{server.name}_{tag}" + (f"_round{rnd}" if rnd else ""))
    os.makedirs(d, exist_ok=True)
    waited, busy_before = wait_quiet(a.quiet_wait)
    inst = len(csvs)
    per_rate = rate / inst
    per_count = count // inst
    timeout_s = int(per_count / per_rate * 3) + 20
    c0 = server.cpu()
    p0 = sum(p.cpu().total for p in peers)
    b0, si0 = sys_busy_ticks()
    u0 = udp_rcvbuf_errors()
    t0 = time.time()
    sipps = []
    try:
        for i, csv in enumerate(csvs):
            stat = os.path.join(d, f"uac{i}_stat.csv")
            sipps.append((Sipp(d, f"uac{i}", sipp_args(server, i, per_rate, per_count, csv,
                                                      stat, timeout_s)), stat))
        deadline = t0 + timeout_s + 15
        for s, _ in sipps:
            if not s.wait(deadline):
                log(f"  {tag}: sipp past its deadline, killing pid {s.p.pid}")
                s.kill()
    except BaseException:
        for s, _ in sipps:
            s.kill()
        raise
    t1 = time.time()
    c1 = server.cpu()
    p1 = sum(p.cpu().total for p in peers)
    b1, si1 = sys_busy_ticks()
    u1 = udp_rcvbuf_errors()
    # the server's leftover work (transaction expiry) belongs to this step
    time.sleep(server.settle_s)
    c2 = server.cpu()
    t2 = time.time()

    wall = t1 - t0
    srv_load = (c1 - c0).total / CLK
    srv_total = (c2 - c0).total / CLK
    sipp_cpu = [s.cpu_s or 0.0 for s, _ in sipps]
    peer_cpu = (p1 - p0) / CLK
    foreign = max(0.0, (b1 - b0) / CLK - srv_load - sum(sipp_cpu) - peer_cpu)
    tot = {}
    rtds = {}
    rates = []
    errors = []
    for s, stat in sipps:
        try:
            st = parse_stat(stat)
        except (OSError, IndexError):
            st = {}
        for k, v in st.items():
            tot[k] = tot.get(k, 0) + v
        r = s.rtt()
        for name, samples in r.items():
            rtds.setdefault(name, []).extend(samples)
        final = r.get("1", [])
        if len(final) > 1:
            span = (max(x for x, _ in final) - min(x for x, _ in final)) / 1000.0
            if span > 0:
                rates.append((len(final) - 1) / span)
        if st.get("failed"):
            errors.extend(s.errors(3))
    ok, failed = tot.get("ok", 0), tot.get("failed", 0)
    achieved = sum(rates) if rates else ok / max(wall, 1e-6)
    us_user, us_kernel = (c2 - c0).us_per(ok)
    return {
        "kind": kind, "server": server.name, "auth": server.auth, "tag": tag,
        **({"round": rnd} if rnd else {}),
        "sipp_instances": inst, "offered_rate": rate, "count": count,
        "ok": ok, "failed": failed, "created": tot.get("created", 0),
        "fail_pct": round(100.0 * failed / max(1, ok + failed), 4),
        "retrans": tot.get("retrans", 0), "timeouts": tot.get("timeouts", 0),
        "unexpected": tot.get("unexpected", 0), "auth_failed": tot.get("auth_failed", 0),
        "achieved_rate": round(achieved, 1), "wall_s": round(wall, 2),
        "settle_s": round(t2 - t1, 2),
        "server_cpu_load_s": round(srv_load, 3), "server_cpu_total_s": round(srv_total, 3),
        "server_cores": round(srv_load / wall, 3),
        "us_per_reg": round(1e6 * srv_total / ok, 1) if ok else None,
        "us_per_reg_load_only": round(1e6 * srv_load / ok, 1) if ok else None,
        # us_per_reg split into the server's user time and its kernel time
        # (system time: the UDP stack, loopback delivery to SIPp, epoll,
        # page faults), from utime and stime of /proc/PID/stat
        "us_per_reg_user": round(us_user, 1) if ok else None,
        "us_per_reg_kernel": round(us_kernel, 1) if ok else None,
        "sipp_cores": [round(c / wall, 3) for c in sipp_cpu],
        "softirq_cores": round((si1 - si0) / CLK / wall, 3),
        "foreign_cores": round(foreign / wall, 3),
        "peer_server_cores": round(peer_cpu / wall, 3),
        "udp_rcvbuf_drops": u1 - u0,
        "busy_before_cores": round(busy_before, 3), "quiet_wait_s": round(waited, 1),
        "rt_ms": {k: latency_summary(r for _, r in v) for k, v in sorted(rtds.items())},
        "sipp_rc": [s.rc for s, _ in sipps], "sipp_errors": errors[:6],
    }


def log_step(r):
    rt = (r["rt_ms"] or {}).get("1") or {}
    log(f"  ok={r['ok']} failed={r['failed']} achieved={r['achieved_rate']}/s "
        f"server={r['server_cores']} cores, {r['us_per_reg']} us/reg "
        f"(user {r['us_per_reg_user']}, kernel {r['us_per_reg_kernel']}), "
        f"sipp={r['sipp_cores']} p50/p95={rt.get('p50')}/{rt.get('p95')} ms")
    for e in r["sipp_errors"][:3]:
        log(f"  sipp: {e}")


# ----------------------------------------------------------------- the phases
def start_server(server, a, emit):
    """Users files, configuration, start, memory sample of the fresh process,
    probe. -> the users files, or None (server stopped) when the probe failed."""
    csvs = write_users(a.workdir, server, a.users)
    if isinstance(server, Imsd):
        server.write_config()
        warn = server.check_config()
        log(f"imsd --check-config OK ({a.users} users)" + (f"; {warn[:200]}" if warn else ""))
    log(f"starting {server.desc} on udp {server.addr}")
    try:
        server.start()
        base = server.mem_sample()
        ok, msg = probe(server, a.workdir, csvs["all"])
    except BaseException:
        server.stop()
        raise
    log(("probe OK: " if ok else "PROBE FAILED: ") + msg)
    log(f"{server.name} memory before any registration: {base}")
    emit({"kind": "probe", "server": server.name, "ok": ok, "message": msg,
          "desc": server.desc, "mem_base": base})
    if not ok:
        server.stop()
        return None
    server.mem_base = base
    return csvs


def memory_phase(server, a, emit, csvs, peers):
    """Every user once, in two halves, each followed by the server's settle
    (transaction state drained) and a memory sample."""
    samples = [("base", server.mem_base)]
    for half in ("0", "1"):
        n = a.users // 2 if half == "0" else a.users - a.users // 2
        log(f"{server.name} memory phase {half}: {n} new registrations at {a.mem_rate}/s")
        r = run_step(server, a, a.mem_rate, n, [csvs[half]], f"mem{half}", "mem_step", peers)
        emit(r)
        log_step(r)
        samples.append((f"after_half{half}", server.mem_sample(trim=half == "1")
                        if isinstance(server, Imsd) else server.mem_sample()))
        samples[-1][1]["ok"] = r["ok"]
    emit({"kind": "mem", "server": server.name, "auth": server.auth, "users": a.users,
          "samples": dict(samples), "settle_s": server.settle_s})


def rate_steps(live, a, emit, t_start, lost):
    """The rate steps, interleaved: round after round, each step on every
    server back to back (the order of the servers reversed every other round),
    so that both figures of a step come from the same minute of a machine
    whose speed drifts. live: [(server, users files)], shrinks when a server
    dies (its name and why go to lost)."""
    steps = [(r, 1) for r in a.rates] + [(r, 2) for r in a.dual_rates]
    todo = [(rnd, rate, inst) for rnd in range(1, a.rounds + 1) for rate, inst in steps]
    took = {}   # (rate, inst) -> seconds the last pair of this step took
    for i, (rnd, rate, inst) in enumerate(todo):
        for entry in list(live):
            if not entry[0].alive():
                name = entry[0].name
                lost[name] = f"{name} died during the run (round {rnd}, before {rate}/s×{inst})"
                log(f"{name}: NOT MEASURED further: it died")
                live.remove(entry)
        if not live:
            return
        order = live if rnd % 2 == 1 else live[::-1]
        est = took.get((rate, inst)) or sum(a.secs_per_step + s.settle_s + 3 for s, _ in live)
        elapsed = time.time() - t_start
        if elapsed + est > a.budget_s:
            msg = (f"time budget of {a.budget_s} s would be passed (elapsed {elapsed:.0f} s, "
                   f"next step about {est:.0f} s): {len(todo) - i} of {len(todo)} "
                   f"round steps skipped, from round {rnd} {rate}/s×{inst} on")
            log(msg)
            emit({"kind": "budget", "budget_s": a.budget_s, "elapsed_s": round(elapsed, 1),
                  "rounds": a.rounds, "message": msg,
                  "skipped": [list(x) for x in todo[i:]]})
            return
        t0 = time.time()
        count = min(a.secs_per_step * rate, a.max_count)
        tag = f"r{rate}_x{inst}"
        for pos, (server, csvs) in enumerate(order, 1):
            log(f"round {rnd}/{a.rounds} {server.name} {tag}: offering {rate}/s, "
                f"{count} registrations, {inst} sipp")
            files = [csvs["all"]] if inst == 1 else [csvs["0"], csvs["1"]]
            peers = [s for s, _ in live if s is not server]
            r = run_step(server, a, rate, count, files, tag, "step", peers, rnd)
            r["pair_pos"] = pos
            emit(r)
            log_step(r)
        took[(rate, inst)] = time.time() - t0


def machine_info():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_gib = int(f.readline().split()[1]) / 1048576
    try:
        sipp_v = subprocess.run(["sipp", "-v"], capture_output=True, text=True,
                                timeout=10).stdout.strip().split()[1].rstrip(".")
    except (OSError, subprocess.TimeoutExpired, IndexError):
        sipp_v = "?"
    return {"cpu": model, "ncpu": os.cpu_count(), "mem_gib": round(mem_gib, 1),
            "kernel": platform.release(), "loadavg": os.getloadavg()[0],
            "sipp": sipp_v, "kamailio": kamailio_version(), "commit": git_commit(ROOT)}


def ints(s):
    return [int(x) for x in s.split(",") if x.strip()]


def _term(signum, frame):
    raise SystemExit(f"signal {signum}")


def main():
    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGINT, _term)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--imsd-bin", default=os.path.join(ROOT, "build-rel", "imsd"))
    ap.add_argument("--servers", default=None,
                    help="the servers measured, in order (ratios are of the 2nd over the "
                         "1st; Kamailio always first): kamailio, imsd (binary --imsd-bin), "
                         "imsd-b (binary --imsd-b), imsd-state and imsd-b-state (the same "
                         "with the state file on). Default kamailio,imsd; with --imsd-b: "
                         "imsd,imsd-b")
    ap.add_argument("--imsd-b", default=None, metavar="PATH",
                    help="A/B run: a second imsd binary, measured as server imsd-b at the "
                         "same steps in the same rounds as imsd (--imsd-bin), each step on "
                         "both back to back; the report gives B/A per step, user and "
                         "kernel time apart")
    ap.add_argument("--state-file", action="store_true",
                    help="run every imsd of --servers with its state file on "
                         "(ue_db_filename: a fresh file in the server's folder of the "
                         "workdir): imsd becomes imsd-state, imsd-b imsd-b-state")
    ap.add_argument("--users", type=int, default=100000)
    ap.add_argument("--rates", type=ints, default=ints("2000,5000,10000"),
                    help="rates offered by one SIPp UAC (default 2000,5000,10000; 20000 "
                         "is left out: one UAC saturates there, so it measures SIPp)")
    ap.add_argument("--dual-rates", type=ints, default=ints("10000,20000,30000"),
                    help="rates offered by two SIPp UACs")
    ap.add_argument("--rounds", type=int, default=None,
                    help="rounds of the rate steps, each step run on every server back to "
                         "back in each round (default 3; --quick: 2)")
    ap.add_argument("--mem-rate", type=int, default=5000)
    ap.add_argument("--secs-per-step", type=int, default=10)
    ap.add_argument("--max-count", type=int, default=200000)
    ap.add_argument("--kam-port", type=int, default=15060)
    ap.add_argument("--imsd-port", type=int, default=15070)
    ap.add_argument("--imsd-state-port", type=int, default=15080,
                    help="port of imsd-state (--servers ...,imsd-state: imsd with its "
                         "state file on)")
    ap.add_argument("--imsd-b-port", type=int, default=15090, help="port of imsd-b")
    ap.add_argument("--imsd-b-state-port", type=int, default=15100,
                    help="port of imsd-b-state")
    ap.add_argument("--imsd-t1", type=float, default=0.5, help="imsd timer_t1 in s")
    ap.add_argument("--settle", type=float, default=None,
                    help="override the wait after each step (default: kamailio 2 s, "
                         "imsd 64*T1 + 2 s)")
    ap.add_argument("--quiet-wait", type=int, default=60)
    ap.add_argument("--budget-s", type=int, default=1800,
                    help="time budget of the run in s: the rate steps that would end "
                         "past it are skipped (and the report says so)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--self-test", action="store_true",
                    help="check the harness: the AKA side against selftest_aka.py "
                         "(a stand-in registrar, not imsd) instead of imsd")
    ap.add_argument("--results-md", default=None,
                    help="append the run's tables to this RESULTS.md")
    a = ap.parse_args()
    if a.rounds is None:
        a.rounds = 2 if a.quick else 3
    if a.rounds < 1:
        ap.error("--rounds must be at least 1")
    if a.servers is None:
        a.servers = "imsd,imsd-b" if a.imsd_b else "kamailio,imsd"
    names = [x.strip() for x in a.servers.split(",") if x.strip()]
    if a.state_file:
        names = [x + "-state" if x in ("imsd", "imsd-b") else x for x in names]
    if len(set(names)) != len(names):
        ap.error(f"a server twice in --servers: {','.join(names)}")
    if any(x.startswith("imsd-b") for x in names) and not a.imsd_b:
        ap.error("imsd-b needs --imsd-b PATH")
    if a.self_test and any(x.startswith("imsd-") for x in names):
        ap.error("--self-test replaces imsd only; leave imsd-b and the state file out")
    if a.quick:
        a.users, a.rates, a.dual_rates = 2000, [1000], [1000]
        a.mem_rate, a.secs_per_step, a.quiet_wait = 1000, 2, 0
        if a.settle is None:
            a.settle = 1.0
    os.makedirs(a.workdir, exist_ok=True)
    jsonl = os.path.join(a.workdir, "results.jsonl")
    resf = open(jsonl, "a")

    def emit(r):
        resf.write(json.dumps(r) + "\n")
        resf.flush()

    info = machine_info()
    info.update({"kind": "run", "date": time.strftime("%Y-%m-%d"), "quick": a.quick,
                 "self_test": a.self_test, "servers": names,
                 "users": a.users, "imsd_t1": a.imsd_t1, "secs_per_step": a.secs_per_step,
                 "rounds": a.rounds, "budget_s": a.budget_s, "started": time.time()})
    emit(info)
    t_start = time.time()
    servers = []
    bins = {"imsd": a.imsd_bin, "imsd-b": a.imsd_b}
    ports = {"kamailio": a.kam_port, "imsd": a.imsd_port, "imsd-state": a.imsd_state_port,
             "imsd-b": a.imsd_b_port, "imsd-b-state": a.imsd_b_state_port}
    for name in names:
        base = name[:-len("-state")] if name.endswith("-state") else name
        if name == "kamailio":
            server = Kamailio(a.kam_port, a.workdir)
        elif base in bins:
            if not os.access(bins[base], os.X_OK):
                raise SystemExit(f"no imsd binary at {bins[base]} (server {name})")
            if a.self_test:
                server = SelfTestAka(a.imsd_port, a.workdir, a.imsd_bin, a.users,
                                     os.path.join(os.path.dirname(a.imsd_bin), "imsctl"))
            else:
                server = Imsd(ports[name], a.workdir, bins[base], a.users, a.imsd_t1,
                              name=base, state=name != base)
        else:
            raise SystemExit(f"unknown server {name}")
        if a.settle is not None:
            server.settle_s = a.settle
        servers.append(server)
    lost = {}   # server name -> why it was not (fully) measured; None: its probe said why
    live = []   # [(server, users files)] started and probed
    try:
        for server in servers:
            try:
                csvs = start_server(server, a, emit)
            except BenchError as e:
                csvs, lost[server.name] = None, str(e)
            if csvs is not None:
                live.append((server, csvs))
            elif server.name not in lost:
                lost[server.name] = None
        for entry in list(live):
            server = entry[0]
            try:
                memory_phase(server, a, emit, entry[1], [s for s, _ in live if s is not server])
            except BenchError as e:
                lost[server.name] = str(e)
                live.remove(entry)
                server.stop()
        rate_steps(live, a, emit, t_start, lost)
    finally:
        for server in servers:
            server.stop()
    for name, why in lost.items():
        if why is not None:
            log(f"{name}: NOT MEASURED: {why}")
            emit({"kind": "probe", "server": name, "ok": False, "message": why})
    resf.close()
    md = regreport.render(jsonl)
    with open(os.path.join(a.workdir, "report.md"), "w") as f:
        f.write(md)
    print()
    print(md)
    if a.results_md:
        regreport.append_results(a.results_md, md)
        log(f"appended to {a.results_md}")
    bad = list(lost)
    if bad:
        log("NOT MEASURED: " + ", ".join(bad) + " (see the probe lines above)")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
