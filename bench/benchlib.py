"""The one library of the benchmark drivers (bench/options_bench.py,
bench/register/regbench.py, and the call, SMS and API benches to come).

A driver imports what it needs from here; nothing here prints a report or
knows one benchmark. Everything is bounded (timeouts, deadlines) and every
process started here is stopped by its own PID.

API
---
Processes and the machine (/proc):
  CLK                            clock ticks per second (/proc/PID/stat unit)
  log(*a)                        one timestamped line on stdout
  Cpu(user, kernel)              CPU ticks split into user time (utime) and
                                 kernel time (stime); .total, a - b, a + b,
                                 .us_per(n) -> (user µs, kernel µs) per item.
                                 The project reports the two apart, always.
  proc_cpu(pid) -> Cpu           one process, all its threads; Cpu(0, 0) when gone
  parse_proc_stat(text) -> dict  ppid, utime, stime of a /proc/PID/stat line
  cpu_of(pids) -> Cpu            the sum over processes
  descendants(pid), cmdline(pid), vm_status(pid), rss_kib(pids), smaps_sum(pids)
  sys_busy_ticks(), udp_rcvbuf_errors(), wait_quiet(max_wait)
  udp_port_bound(port), free_udp_port(), tail(path), git_commit(root),
  kamailio_version(), append_section(path, title, md)

Statistics:
  percentile(values, q)          the nearest-rank percentile: the smallest value
                                 with at least q % of the values at or below it
                                 (rank ceil(q/100 * n), 1-based; q = 0: the
                                 least). Every latency figure of the benches
                                 uses it; it never interpolates, so it is always
                                 a measured value.
  latency_summary(values)        {"n", "p50", "p95", "p99", "max"} or None

SIPp:
  Sipp(cwd, tag, args)           one SIPp process (stdout to cwd/tag.out): wait(deadline),
                                 kill(), rc, cpu_s (its own user + system time), errors()
  parse_stat(path)               the cumulative counters of a -trace_stat file
  parse_rtt(path)                a -trace_rtt file -> {rtd name: [(date_ms, rt_ms)]}
  rtt_file(dir, pid)             the -trace_rtt file of a SIPp pid in dir, or None

Servers (one launcher per server; each has start(), stop(), alive(), pids(), cpu()):
  imsd_config(settings, ue_db=())  imsd configuration text (docs/configuration.md)
  Imsd(binary, cfg, port, workdir, name="imsd", out="imsd.out")
                                 imsd on a configuration file; stdin stays a pipe
                                 for its monitor: monitor(line, last) -> {name: int}
  Kamailio(cfg, port, workdir, children=2, shm_mb=256, ...)
                                 kamailio -DD -E on a cfg listening on udp:127.0.0.1:port
  sip_options_ping(port, timeout)  True once 127.0.0.1:port answers OPTIONS with 200
"""
import collections
import os
import signal
import socket
import subprocess
import time

CLK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """A server or a tool could not be started or measured (the message says why)."""


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


# ----------------------------------------------------------------- CPU
class Cpu(collections.namedtuple("Cpu", "user kernel")):
    """CPU time in clock ticks: user (utime) and kernel (stime)."""
    __slots__ = ()

    @property
    def total(self):
        return self.user + self.kernel

    def __add__(self, o):
        return Cpu(self.user + o.user, self.kernel + o.kernel)

    def __sub__(self, o):
        return Cpu(self.user - o.user, self.kernel - o.kernel)

    def seconds(self):
        return self.user / CLK, self.kernel / CLK

    def us_per(self, n):
        """(user µs, kernel µs) per item, or (None, None) when n is 0."""
        if not n:
            return None, None
        return 1e6 * self.user / CLK / n, 1e6 * self.kernel / CLK / n


def parse_proc_stat(text):
    """ppid, utime and stime (ticks) of the text of /proc/PID/stat. The command
    name (2nd field) may hold spaces and ')': the fields after it are counted
    from its last ')'."""
    f = text[text.rindex(")") + 2:].split()
    return {"ppid": int(f[1]), "utime": int(f[11]), "stime": int(f[12])}


def proc_cpu(pid):
    """User and kernel time of a process, all its threads; Cpu(0, 0) when gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = parse_proc_stat(f.read())
    except (OSError, ValueError, IndexError):
        return Cpu(0, 0)
    return Cpu(st["utime"], st["stime"])


def cpu_of(pids):
    tot = Cpu(0, 0)
    for p in pids:
        tot += proc_cpu(p)
    return tot


def descendants(root):
    """root and every process below it, by the parent links in /proc."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = parse_proc_stat(f.read())["ppid"]
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return None


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


def rss_kib(pids):
    return sum(vm_status(p).get("VmRSS", 0) for p in pids)


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


def sys_busy_ticks():
    """(busy ticks charged to processes, irq + softirq ticks) of the machine."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
    return user + nice + system + steal, irq + softirq


def udp_rcvbuf_errors():
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    return int(dict(zip(rows[0][1:], rows[1][1:])).get("RcvbufErrors", 0))


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


def udp_port_bound(port):
    """True if some socket is bound to UDP port on 127.0.0.1 or any address."""
    want = f"{port:04X}"
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    addr, p = line.split()[1].rsplit(":", 1)
                    if p == want and addr in ("0100007F", "00000000",
                                              "00000000000000000000000000000000",
                                              "0000000000000000FFFF00000100007F"):
                        return True
        except OSError:
            pass
    return False


def free_udp_port():
    """A loopback port free for UDP and for TCP (imsd listens on both at its
    sip_addr port; SIPp 3.6.1 takes `-p 0` as its default 5060)."""
    for _ in range(50):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            t.close()
        return port
    raise BenchError("no loopback port free for both UDP and TCP")


def tail(path, n=5):
    try:
        with open(path, errors="replace") as f:
            return " | ".join(line.strip() for line in f.readlines()[-n:] if line.strip())
    except OSError:
        return ""


def git_commit(root):
    """Short commit of the tree at root, '+dirty' when src/ has changes."""
    try:
        c = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                           capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", "src"],
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


def append_section(path, title, md):
    """Insert md at the end of the section whose heading line is title in the
    markdown file at path (the section is created at the end if absent)."""
    with open(path) as f:
        lines = f.read().split("\n")
    try:
        start = lines.index(title)
    except ValueError:
        if lines and lines[-1] == "":
            lines.pop()
        lines += ["", title, ""]
        start = len(lines) - 2
    end = len(lines)
    for i in range(start + 1, len(lines)):
        if lines[i].startswith("## "):
            end = i
            break
    while end > start + 1 and lines[end - 1] == "":
        end -= 1
    block = [""] + md.rstrip("\n").split("\n")
    if end < len(lines) and lines[end] != "":
        block.append("")
    lines[end:end] = block
    text = "\n".join(lines)
    with open(path, "w") as f:
        f.write(text if text.endswith("\n") else text + "\n")


# ----------------------------------------------------------------- statistics
def percentile(values, q):
    """Nearest-rank percentile: the value of rank ceil(q/100 * n) (1-based) in
    the sorted values, the least one for q = 0. values need not be sorted.
    Raises ValueError on no values or q outside 0..100."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0..100")
    vals = sorted(values)
    if not vals:
        raise ValueError("percentile of no values")
    # q/100 * n in exact decimal arithmetic: 95 % of 200 is rank 190, not 191
    num = int(round(q * 1000000)) * len(vals)
    rank = max(1, -(-num // 100000000))
    return vals[rank - 1]


def latency_summary(values):
    """{"n", "p50", "p95", "p99", "max"} (nearest rank) of values, None if none."""
    vals = sorted(values)
    if not vals:
        return None
    return {"n": len(vals), "p50": percentile(vals, 50), "p95": percentile(vals, 95),
            "p99": percentile(vals, 99), "max": vals[-1]}


# ----------------------------------------------------------------- SIPp
def parse_stat(path):
    """The cumulative counters of the last line of a SIPp -trace_stat file."""
    with open(path) as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    d = dict(zip(lines[0].split(";"), lines[-1].split(";")))

    def num(k):
        try:
            return int(d.get(k, "0"))
        except ValueError:
            return 0
    return {"ok": num("SuccessfulCall(C)"), "failed": num("FailedCall(C)"),
            "created": num("OutgoingCall(C)"), "retrans": num("Retransmissions(C)"),
            "timeouts": num("FailedTimeoutOnRecv(C)") + num("FailedMaxUDPRetrans(C)"),
            "unexpected": num("FailedUnexpectedMessage(C)"),
            "auth_failed": num("FailedAuthentication(C)"),
            "watchdog_major": num("WatchdogMajor(C)"), "dead_msgs": num("DeadCallMsgs(C)")}


def parse_rtt(path):
    """A SIPp -trace_rtt file (a header line, then `date_ms;rt_ms;rtd`) ->
    {rtd name: [(date_ms, rt_ms)]}; malformed lines are skipped."""
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


def rtt_file(d, pid):
    """SIPp names its -trace_rtt file <scenario>_<pid>_rtt.csv in its cwd."""
    for f in os.listdir(d):
        if f.endswith(f"_{pid}_rtt.csv"):
            return os.path.join(d, f)
    return None


class Sipp:
    """One SIPp process, output to cwd/tag.out; its CPU from wait4."""

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
        """Until it exits or time.time() passes deadline; True if it exited."""
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

    def rtt(self):
        """Its -trace_rtt samples ({rtd: [(date_ms, rt_ms)]}; {} without the file)."""
        path = rtt_file(self.cwd, self.p.pid)
        return parse_rtt(path) if path else {}

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


# ----------------------------------------------------------------- servers
def sip_options_ping(port, timeout=15):
    """Until 127.0.0.1:port answers an OPTIONS with 200 (bounded); True if it did."""
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
    """A server process. Subclasses set self.p (Popen) in start()."""
    name = "?"

    def __init__(self, port, workdir):
        self.port = port
        self.addr = f"127.0.0.1:{port}"
        self.workdir = workdir
        self.p = None

    def pids(self):
        return [self.p.pid] if self.p else []

    def cpu(self):
        """User and kernel time of every process of the server (Cpu, ticks)."""
        return cpu_of(self.pids())

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def stop(self):
        """SIGTERM (SIGKILL after 10 s), then the children of this server
        still there, each by PID and only if it still runs the same command."""
        if self.p is None:
            return
        kids = [(pid, cmdline(pid)) for pid in self.pids() if pid != self.p.pid]
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=5)
        for pid, cmd in kids:
            if cmd and cmdline(pid) == cmd:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        self.p = None


def _cfg_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_cfg_value(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def imsd_config(settings, ue_db=(), comment=None):
    """The text of an imsd configuration: settings is a list of (name, value)
    (str, bool, int, float, or a list of them) in the order written; ue_db
    rows are dicts of the same kinds (docs/configuration.md, docs/hss.md)."""
    out = [f"/* {comment} */"] if comment else []
    out.append("{")
    out += [f"  {k}: {_cfg_value(v)}," for k, v in settings]
    rows = [row for row in ue_db]
    if rows:
        out.append("  ue_db: [")
        out += ["    { " + ", ".join(f"{k}: {_cfg_value(v)}" for k, v in r.items()) + " },"
                for r in rows]
        out.append("  ],")
    out.append("}")
    return "\n".join(out) + "\n"


class Imsd(Server):
    """imsd on a configuration file, in workdir (relative paths of the
    configuration are there), its stdout and stderr to workdir/out; its
    stdin stays a pipe: the monitor reads commands there (docs/monitor.md)."""

    def __init__(self, binary, cfg, port, workdir, name="imsd", out="imsd.out"):
        super().__init__(port, workdir)
        self.binary = os.path.abspath(binary)  # it runs in workdir
        self.cfg = os.path.abspath(cfg)
        self.name = name
        self.out_path = os.path.join(workdir, out)
        self.outf = None

    def start(self, ready_timeout=120):
        """Until imsd has a socket on its port; BenchError if the port is
        taken before, if imsd exits, or if it prints its banner but opens
        no socket there."""
        if udp_port_bound(self.port):
            raise BenchError(f"UDP port {self.port} is already in use, {self.name} not started")
        self.outf = open(self.out_path, "ab")
        self.p = subprocess.Popen([self.binary, self.cfg], cwd=self.workdir,
                                  stdin=subprocess.PIPE, stdout=self.outf,
                                  stderr=subprocess.STDOUT)
        deadline = time.time() + ready_timeout
        banner_at = None
        while time.time() < deadline:
            if self.p.poll() is not None:
                raise BenchError(f"{self.name} exited at start (status {self.p.returncode}): "
                                 + tail(self.out_path))
            if udp_port_bound(self.port):
                time.sleep(0.5)
                return
            if banner_at is None and "Type 'help'" in tail(self.out_path, 20):
                banner_at = time.time()
            if banner_at is not None and time.time() - banner_at > 3:
                break
            time.sleep(0.2)
        why = ("it started (banner printed) but opened no socket on sip_addr" if banner_at
               else f"not within {ready_timeout} s of start")
        raise BenchError(f"{self.name} does not listen on udp {self.addr}: {why}")

    def monitor(self, line, last, timeout=30.0):
        """Sends a monitor command on imsd's stdin and returns its `name: value`
        lines with a number as value (up to the line `last`) as a dict of int
        (digits only) or float."""
        self.outf.flush()
        start = os.path.getsize(self.out_path)
        self.p.stdin.write(line.encode() + b"\n")
        self.p.stdin.flush()
        deadline = time.time() + timeout
        while True:
            with open(self.out_path, "rb") as f:
                f.seek(start)
                text = f.read().decode(errors="replace")
            t = "\n" + text
            i = t.find(f"\n{last}: ")
            if i >= 0 and t.find("\n", i + 1) >= 0:  # the whole last line
                break
            if time.time() > deadline or self.p.poll() is not None:
                raise BenchError(f"{self.name} did not answer '{line}' on its monitor: "
                                 + text[-300:])
            time.sleep(0.05)
        vals = {}
        for ln in text.splitlines():
            k, sep, v = ln.partition(": ")
            if not sep:
                continue
            if v.lstrip("-").isdigit():
                vals[k] = int(v)
            else:
                try:
                    vals[k] = float(v)
                except ValueError:
                    pass
        return vals

    def stop(self):
        if self.p is not None and self.p.stdin:
            try:
                self.p.stdin.close()
            except OSError:
                pass
        super().stop()
        if self.outf:
            self.outf.close()
            self.outf = None


class Kamailio(Server):
    """kamailio -DD -E on cfg, listening on udp:127.0.0.1:port (the cfg takes
    it as -A LISTEN=...), its output to workdir/out. ctl: a ctl socket in
    workdir (-A CTL_SOCK=..., the cfg must load ctl) for rpc(); without it,
    ready once it answers OPTIONS. runtime_dir: -Y and -P there."""
    name = "kamailio"

    def __init__(self, cfg, port, workdir, children=2, shm_mb=256, pkg_mb=32,
                 mem_mgr=None, ctl=False, runtime_dir=None, out="kamailio.out"):
        super().__init__(port, workdir)
        self.ctl = f"unix:{workdir}/kamailio_ctl" if ctl else None
        self.cmd = ["kamailio", "-f", cfg, "-DD", "-E", "-n", str(children),
                    "-m", str(shm_mb), "-M", str(pkg_mb)]
        if mem_mgr:
            self.cmd += ["-x", mem_mgr]
        if self.ctl:
            self.cmd += ["-A", f'CTL_SOCK="{self.ctl}"']
        self.cmd += ["-A", f"LISTEN=udp:{self.addr}"]
        if runtime_dir:
            self.cmd += ["-Y", runtime_dir, "-P", os.path.join(runtime_dir, "kam.pid")]
        self.desc = (f"Kamailio {kamailio_version()}" + (f" -x {mem_mgr}" if mem_mgr else "")
                     + f" -n {children} -m {shm_mb}")
        self.out_path = os.path.join(workdir, out)
        self.logf = None
        self._pids = []

    def start(self, ready_timeout=20):
        if udp_port_bound(self.port):
            raise BenchError(f"UDP port {self.port} is already in use, kamailio not started")
        self.logf = open(self.out_path, "ab")
        self.p = subprocess.Popen(self.cmd, stdout=self.logf, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)
        deadline = time.time() + ready_timeout
        while time.time() < deadline:
            if self.p.poll() is not None:
                raise BenchError(f"kamailio exited at start, see {self.out_path}")
            if self.ctl and self.rpc("core.uptime") is not None:
                break
            if not self.ctl and sip_options_ping(self.port, timeout=1):
                break
            time.sleep(0.3)
        else:
            self.stop()
            raise BenchError(f"kamailio was not ready within {ready_timeout} s")
        time.sleep(0.5)
        self._pids = descendants(self.p.pid)

    def pids(self):
        return self._pids or super().pids()

    def refresh_pids(self):
        self._pids = descendants(self.p.pid)
        return self._pids

    def rpc(self, *args):
        """kamcmd on the ctl socket: its stdout, None on failure."""
        try:
            r = subprocess.run(["kamcmd", "-s", self.ctl, *args], capture_output=True,
                               text=True, timeout=15)
        except subprocess.TimeoutExpired:
            return None
        return r.stdout if r.returncode == 0 else None

    def stop(self):
        super().stop()
        if self.logf:
            self.logf.close()
            self.logf = None
