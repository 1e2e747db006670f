"""Helpers shared by the benchmark drivers (bench/options_bench.py,
bench/register/regbench.py): timestamped log lines, process CPU and the
process tree from /proc, a free loopback UDP port, SIPp's statistics file."""
import os
import socket
import time

CLK = os.sysconf("SC_CLK_TCK")


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def proc_ticks(pid, kernel_only=False):
    """utime + stime of a process in clock ticks, all threads (stime alone:
    kernel_only); 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return 0
    fields = s[s.rindex(")") + 2:].split()
    if kernel_only:
        return int(fields[12])
    return int(fields[11]) + int(fields[12])


def descendants(root):
    """root and every process below it, by the parent links in /proc."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
            ppid = int(s[s.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def free_udp_port():
    """A free loopback UDP port: SIPp 3.6.1 takes `-p 0` as its default 5060."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def parse_stat(path):
    """The cumulative counters of the last line of a SIPp -trace_stat file."""
    with open(path) as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
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
