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
from benchlib import CLK, descendants, log, parse_stat, proc_ticks  # noqa: E402

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


class BenchError(Exception):
    pass


# ----------------------------------------------------------------- /proc
def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return None


def sys_busy_ticks():
    """(busy ticks charged to processes, irq + softirq ticks) of the machine."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
    return user + nice + system + steal, irq + softirq


def udp_rcvbuf_errors():
    with open("/proc/net/snmp") as f:
        rows = [l.split() for l in f if l.startswith("Udp:")]
    return int(dict(zip(rows[0][1:], rows[1][1:])).get("RcvbufErrors", 0))


def vm_status(pid):
    """VmRSS and VmHWM in KiB (the whole process)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split(":")[0]] = int(line.split()[1])
    except OSError:
        pass
    return out


def smaps_sum(pids):
    rss = pss = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return rss, pss


def udp_port_bound(port):
    """True if some socket is bound to UDP port on 127.0.0.1 or any address."""
    want = f"{port:04X}"
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    local = line.split()[1]
                    addr, p = local.rsplit(":", 1)
                    if p == want and addr in ("0100007F", "00000000",
                                              "00000000000000000000000000000000",
                                              "0000000000000000FFFF00000100007F"):
                        return True
        except OSError:
            pass
    return False


def wait_quiet(max_wait, threshold=0.25):
    """Bounded wait for an idle machine; returns (waited_s, busy_cores)."""
    t0 = time.time()
    while True:
        b0 = sys_busy_ticks()[0]
        time.sleep(1.0)
        busy = (sys_busy_ticks()[0] - b0) / CLK
        waited = time.time() - t0
        if busy < threshold or waited >= max_wait:
            if busy >= threshold:
                log(f"  machine still busy ({busy:.2f} cores) after {waited:.0f}s, going on")
            return waited, busy
        log(f"  machine busy ({busy:.2f} cores used by other processes), waiting")
        time.sleep(2.0)


# ----------------------------------------------------------------- SIPp
class Sipp:
    def __init__(self, cwd, tag, args):
        self.cwd = cwd
        self.out = open(os.path.join(cwd, f"{tag}.out"), "wb")
        self.cmd = ["sipp", *args]
        self.p = subprocess.Popen(self.cmd, cwd=cwd, stdout=self.out,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.rc = None
        self.cpu_s = None

    def poll(self):
        if self.rc is not None:
            return True
        pid, status, ru = os.wait4(self.p.pid, os.WNOHANG)
        if pid == 0:
            return False
        self.rc = os.waitstatus_to_exitcode(status)
        self.p.returncode = self.rc
        self.cpu_s = ru.ru_utime + ru.ru_stime
        self.out.close()
        return True

    def wait(self, deadline):
        while time.time() < deadline:
            if self.poll():
                return True
            time.sleep(0.1)
        return self.poll()

    def kill(self):
        if not self.poll():
            try:
                self.p.send_signal(signal.SIGKILL)
            except OSError:
                pass
            while not self.poll():
                time.sleep(0.05)

    def errors(self, limit=5):
        """The first lines of SIPp's error log (-trace_err) for this process."""
        path = None
        for f in os.listdir(self.cwd):
            if f.endswith(f"_{self.p.pid}_errors.log"):
                path = os.path.join(self.cwd, f)
        if not path:
            return []
        lines = []
        with open(path, errors="replace") as f:
            for line in f:
                line = line.strip()
                # an event starts with its date; the message may span lines
                if line[:4].isdigit():
                    lines.append(" ".join(line.split("\t")[2:])[:240])
                if len(lines) >= limit:
                    break
        return lines


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


def parse_rtt(path):
    """-> {rtd name: [(date_ms, rt_ms)]}"""
    res = {}
    with open(path) as f:
        next(f, None)
        for line in f:
            parts = line.strip().split(";")
            if len(parts) != 3:
                continue
            try:
                res.setdefault(parts[2], []).append((float(parts[0]), float(parts[1])))
            except ValueError:
                pass
    return res


def pct(vals, q):
    k = min(len(vals) - 1, max(0, int(round(q / 100.0 * len(vals) + 0.5)) - 1))
    return vals[k]


def summarize_rtd(samples):
    rts = sorted(r for _, r in samples)
    if not rts:
        return None
    return {"n": len(rts), "p50": pct(rts, 50), "p95": pct(rts, 95), "p99": pct(rts, 99),
            "max": rts[-1]}


# ----------------------------------------------------------------- servers
class Server:
    name = "?"
    auth = "?"
    settle_s = 2.0

    def __init__(self, port, workdir):
        self.port = port
        self.addr = f"127.0.0.1:{port}"
        self.workdir = workdir
        self.p = None

    def pids(self):
        return [self.p.pid]

    def ticks(self, kernel_only=False):
        return sum(proc_ticks(p, kernel_only) for p in self.pids())

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def stop(self):
        if self.p is None:
            return
        pids = [(pid, cmdline(pid)) for pid in self.pids() if pid != self.p.pid]
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=5)
        for pid, cmd in pids:  # children of our own server still there, by PID
            if cmd and cmdline(pid) == cmd:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        self.p = None


class Kamailio(Server):
    name = "kamailio"
    auth = "MD5"
    scenario = MD5_XML

    def __init__(self, port, workdir, children=2, shm_mb=512, mem_mgr="tlsf"):
        super().__init__(port, workdir)
        self.children = children
        self.ctl = f"unix:{workdir}/kamailio_ctl"
        self.cmd = ["kamailio", "-f", KAM_CFG, "-DD", "-E", "-n", str(children),
                    "-m", str(shm_mb), "-M", "32", "-x", mem_mgr,
                    "-A", f'CTL_SOCK="{self.ctl}"', "-A", f"LISTEN=udp:{self.addr}"]
        self.desc = f"Kamailio {kamailio_version()} -x {mem_mgr} -n {children} -m {shm_mb}"
        self._pids = []

    def start(self):
        self.logf = open(os.path.join(self.workdir, "kamailio.log"), "ab")
        self.p = subprocess.Popen(self.cmd, stdout=self.logf, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.p.poll() is not None:
                raise BenchError("kamailio exited at start, see kamailio.log in the work dir")
            if self.rpc("core.uptime") is not None:
                break
            time.sleep(0.3)
        else:
            self.stop()
            raise BenchError("kamailio did not answer on its ctl socket within 20 s")
        time.sleep(0.5)
        self._pids = descendants(self.p.pid)

    def pids(self):
        return self._pids or [self.p.pid]

    def rpc(self, *args):
        try:
            r = subprocess.run(["kamcmd", "-s", self.ctl, *args], capture_output=True,
                               text=True, timeout=15)
        except subprocess.TimeoutExpired:
            return None
        return r.stdout if r.returncode == 0 else None

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
        self._pids = descendants(self.p.pid)
        rss, pss = smaps_sum(self._pids)
        shm = self._kv(self.rpc("core.shmmem"), ":")
        ul = self._kv(self.rpc("stats.get_statistics", "usrloc:"), "=")
        return {"shm_real_used": shm.get("real_used"), "pss_sum_kib": pss,
                "rss_sum_kib": rss, "rss_main_kib": vm_status(self.p.pid).get("VmRSS"),
                "registered": ul.get("usrloc:location_contacts"),
                "nprocs": len(self._pids)}

    def stop(self):
        super().stop()
        if getattr(self, "logf", None):
            self.logf.close()
            self.logf = None


class Imsd(Server):
    name = "imsd"
    auth = "AKAv1-MD5"
    scenario = AKA_XML

    def __init__(self, port, workdir, binary, users, t1_s):
        super().__init__(port, workdir)
        self.binary = binary
        self.users = users
        self.t1_s = t1_s
        # UDP server transactions stay for Timer J = 64*T1 after the final
        self.settle_s = 64 * t1_s + 2.0
        self.cfg = os.path.join(workdir, "imsd.cfg")
        default_bin = os.path.join(ROOT, "build-rel", "imsd")
        what = (f"{git_commit()} (release build)" if os.path.realpath(binary) ==
                os.path.realpath(default_bin) else binary)
        self.desc = f"imsd {what}, timer_t1 {t1_s:g} s"

    def write_config(self):
        with open(self.cfg, "w") as f:
            f.write("/* Generated by bench/register/regbench.py: "
                    f"{self.users} Milenage users, AKAv1-MD5. */\n{{\n")
            f.write('  log_filename: "imsd.log",\n  log_options: "all.level=error",\n')
            f.write(f'  sip_addr: ["{self.addr}"],\n  domain: "{DOMAIN}",\n')
            f.write(f"  ipsec: false,\n  timer_t1: {self.t1_s:g},\n  binding_expires: 3600,\n")
            f.write("  ue_db: [\n")
            for imsi, impi in user_ids(self.users):
                f.write(f'    {{ sim_algo: "milenage", authent_type: "AKAv1", imsi: "{imsi}", '
                        f'impi: "{impi}", impu: ["{imsi}"], K: "{K_HEX}", op: "{OP_HEX}", '
                        f'amf: "{AMF_HEX}", sqn: "000000000000" }},\n')
            f.write("  ],\n}\n")

    def check_config(self):
        r = subprocess.run([self.binary, "--check-config", self.cfg], capture_output=True,
                           text=True, timeout=300)
        if r.returncode != 0:
            raise BenchError(f"imsd --check-config {self.cfg} failed: "
                             f"{(r.stderr or r.stdout).strip()[:500]}")
        return (r.stderr or "").strip()

    def start(self, ready_timeout=120):
        self.outf = open(os.path.join(self.workdir, "imsd.out"), "ab")
        # stdin is a pipe that stays open: imsd's monitor reads commands there
        self.p = subprocess.Popen([self.binary, self.cfg], cwd=self.workdir,
                                  stdin=subprocess.PIPE, stdout=self.outf,
                                  stderr=subprocess.STDOUT)
        # imsd prints its banner once the configuration is loaded and the
        # loop (and, with the SIP stack wired, the sip_addr sockets) is up
        out = os.path.join(self.workdir, "imsd.out")
        deadline = time.time() + ready_timeout
        banner_at = None
        while time.time() < deadline:
            if self.p.poll() is not None:
                raise BenchError(f"imsd exited at start (status {self.p.returncode}): "
                                 + tail(out))
            if udp_port_bound(self.port):
                time.sleep(0.5)
                return
            if banner_at is None and "Type 'help'" in tail(out, 20):
                banner_at = time.time()
            if banner_at is not None and time.time() - banner_at > 3:
                break
            time.sleep(0.2)
        why = ("it started (banner printed) but opened no socket on sip_addr: the SIP stack "
               "is not wired into imsd in this build" if banner_at else
               f"not within {ready_timeout} s of start")
        raise BenchError(f"imsd does not listen on udp {self.addr}: {why}")

    # the figures of imsd's `stats` kept in a memory sample (docs/monitor.md)
    STATS_KEYS = {"rss": "stats_rss", "heap_in_use": "heap_in_use", "heap_free": "heap_free",
                  "heap_arena": "heap_arena", "sip.tsx_server": "tsx_server",
                  "sip.tsx_client": "tsx_client", "registrar.users": "registered",
                  "registrar.bindings": "bindings", "registrar.mem": "registrar_mem"}
    STATS_LAST = "registrar.mem"

    def monitor(self, line, last, timeout=30.0):
        """Sends a monitor command on imsd's stdin and returns its `name: value`
        lines (up to the line `last`) from imsd's stdout, as a dict of ints."""
        out = os.path.join(self.workdir, "imsd.out")
        self.outf.flush()
        start = os.path.getsize(out)
        self.p.stdin.write(line.encode() + b"\n")
        self.p.stdin.flush()
        deadline = time.time() + timeout
        while True:
            with open(out, "rb") as f:
                f.seek(start)
                text = f.read().decode(errors="replace")
            t = "\n" + text
            i = t.find(f"\n{last}: ")
            if i >= 0 and t.find("\n", i + 1) >= 0:  # the whole last line
                break
            if time.time() > deadline or self.p.poll() is not None:
                raise BenchError(f"imsd did not answer '{line}' on its monitor: " + text[-300:])
            time.sleep(0.05)
        vals = {}
        for ln in text.splitlines():
            k, sep, v = ln.partition(": ")
            if sep and v.lstrip("-").isdigit():
                vals[k] = int(v)
        return vals

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
        return r

    def stop(self):
        if self.p is not None and self.p.stdin:
            try:
                self.p.stdin.close()
            except OSError:
                pass
        super().stop()
        if getattr(self, "outf", None):
            self.outf.close()
            self.outf = None


class ImsdState(Imsd):
    """imsd with the state file on (ue_db_filename, docs/registrar.md): every
    change of a user is written to SQLite before the loop sleeps. Its own
    folder under the workdir, a fresh file at each start of the run."""
    name = "imsd-state"

    def __init__(self, port, workdir, binary, users, t1_s):
        sub = os.path.join(workdir, "imsd-state")
        os.makedirs(sub, exist_ok=True)
        for f in os.listdir(sub):
            if f.startswith("ims.state"):
                os.unlink(os.path.join(sub, f))
        super().__init__(port, sub, binary, users, t1_s)
        self.desc += ", ue_db_filename (SQLite state file)"

    def write_config(self):
        super().write_config()
        with open(self.cfg) as f:
            text = f.read()
        with open(self.cfg, "w") as f:
            f.write(text.replace("  ipsec: false,\n",
                                 '  ipsec: false,\n  ue_db_filename: "ims.state",\n', 1))


class SelfTestAka(Imsd):
    """Harness self-test only: the imsd side of the pipeline (generated
    configuration checked by imsd --check-config, users, AKA scenario, probe,
    steps) against selftest_aka.py instead of imsd. Never reported as imsd."""
    name = "selftest-aka"

    def __init__(self, port, workdir, binary, users, imsctl):
        super().__init__(port, workdir, binary, users, 0.5)
        self.imsctl = imsctl
        self.settle_s = 1.0
        self.desc = "selftest_aka.py (stand-in AKA registrar, NOT imsd)"

    def mem_sample(self, trim=False):
        st = vm_status(self.p.pid)
        return {"rss_kib": st.get("VmRSS"), "hwm_kib": st.get("VmHWM")}

    def start(self, ready_timeout=20):
        self.outf = open(os.path.join(self.workdir, "selftest_aka.out"), "ab")
        self.p = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "selftest_aka.py"), "--port", str(self.port),
             "--imsctl", self.imsctl, "--k", K_HEX, "--op", OP_HEX, "--amf", AMF_HEX,
             "--realm", DOMAIN, "--max-seconds", "3600"],
            stdin=subprocess.DEVNULL, stdout=self.outf, stderr=subprocess.STDOUT)
        deadline = time.time() + ready_timeout
        while time.time() < deadline:
            if self.p.poll() is not None:
                raise BenchError("selftest_aka.py exited at start: "
                                 + tail(os.path.join(self.workdir, "selftest_aka.out")))
            if udp_port_bound(self.port):
                return
            time.sleep(0.1)
        raise BenchError("selftest_aka.py did not open its port")


def tail(path, n=5):
    try:
        with open(path, errors="replace") as f:
            return " | ".join(l.strip() for l in f.readlines()[-n:] if l.strip())
    except OSError:
        return ""


def git_commit():
    try:
        c = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                           capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "src"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return c + ("+dirty" if dirty else "")
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def kamailio_version():
    try:
        out = subprocess.run(["kamailio", "-v"], capture_output=True, text=True,
                             timeout=10).stdout
        return out.split()[2] if out.startswith("version:") else "?"
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return "?"


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
    k0 = server.ticks()
    ks0 = server.ticks(kernel_only=True)
    p0 = sum(p.ticks() for p in peers)
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
    k1 = server.ticks()
    p1 = sum(p.ticks() for p in peers)
    b1, si1 = sys_busy_ticks()
    u1 = udp_rcvbuf_errors()
    # the server's leftover work (transaction expiry) belongs to this step
    time.sleep(server.settle_s)
    k2 = server.ticks()
    ks2 = server.ticks(kernel_only=True)
    t2 = time.time()

    wall = t1 - t0
    srv_load = (k1 - k0) / CLK
    srv_total = (k2 - k0) / CLK
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
        rf = [f for f in os.listdir(d) if f.endswith(f"_{s.p.pid}_rtt.csv")]
        if rf:
            r = parse_rtt(os.path.join(d, rf[0]))
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
        # the part of us_per_reg spent in the kernel (system time: the
        # UDP stack, loopback delivery to SIPp, epoll, page faults)
        "us_per_reg_kernel": round(1e6 * (ks2 - ks0) / CLK / ok, 1) if ok else None,
        "sipp_cores": [round(c / wall, 3) for c in sipp_cpu],
        "softirq_cores": round((si1 - si0) / CLK / wall, 3),
        "foreign_cores": round(foreign / wall, 3),
        "peer_server_cores": round(peer_cpu / wall, 3),
        "udp_rcvbuf_drops": u1 - u0,
        "busy_before_cores": round(busy_before, 3), "quiet_wait_s": round(waited, 1),
        "rt_ms": {k: summarize_rtd(v) for k, v in sorted(rtds.items())},
        "sipp_rc": [s.rc for s, _ in sipps], "sipp_errors": errors[:6],
    }


def log_step(r):
    rt = (r["rt_ms"] or {}).get("1") or {}
    log(f"  ok={r['ok']} failed={r['failed']} achieved={r['achieved_rate']}/s "
        f"server={r['server_cores']} cores, {r['us_per_reg']} us/reg, "
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
            "sipp": sipp_v, "kamailio": kamailio_version(), "commit": git_commit()}


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
    ap.add_argument("--servers", default="kamailio,imsd")
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
                 "self_test": a.self_test,
                 "users": a.users, "imsd_t1": a.imsd_t1, "secs_per_step": a.secs_per_step,
                 "rounds": a.rounds, "budget_s": a.budget_s, "started": time.time()})
    emit(info)
    t_start = time.time()
    servers = []
    for name in [s.strip() for s in a.servers.split(",") if s.strip()]:
        if name == "kamailio":
            server = Kamailio(a.kam_port, a.workdir)
        elif name == "imsd":
            if not os.access(a.imsd_bin, os.X_OK):
                raise SystemExit(f"no imsd binary at {a.imsd_bin}")
            if a.self_test:
                server = SelfTestAka(a.imsd_port, a.workdir, a.imsd_bin, a.users,
                                     os.path.join(os.path.dirname(a.imsd_bin), "imsctl"))
            else:
                server = Imsd(a.imsd_port, a.workdir, a.imsd_bin, a.users, a.imsd_t1)
        elif name == "imsd-state":
            server = ImsdState(a.imsd_state_port, a.workdir, a.imsd_bin, a.users, a.imsd_t1)
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
