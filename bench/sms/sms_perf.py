#!/usr/bin/python3
"""bench/sms/sms_perf — where imsd's time goes at a real SMS rate: imsd
(default build-rel/imsd, release, its symbols in it) runs as in smsbench.py,
its phones register and send one SMS through (smsbench.warm_up), then
bench/sms/smsload offers RATE SMS/s for SECS while `perf record` samples imsd
(cycles, every thread, call graphs) over the middle of the load. Time, not
instructions (sms_profile.py counts those under callgrind, at a low rate):
the kernel's share (sendmmsg/recvmmsg, loopback) is in it.

  bench/sms/sms_perf.py [--rate 10000] [--secs 10] [--state] [--imsd BIN]

Prints the share of samples per DSO (imsd, libc, the kernel...) and the
top symbols by self time; perf.data stays in the printed work dir. Every
process started here is stopped by its PID.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import smsbench  # noqa: E402
from smsbench import benchlib  # noqa: E402


def report(data, sort, limit):
    """perf report --stdio rows (percent, name) by self time."""
    r = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                        "--sort", sort, "--percent-limit", str(limit), "-g", "none"],
                       capture_output=True, text=True, timeout=600)
    rows = []
    for ln in r.stdout.splitlines():
        f = ln.split()
        if f and f[0].endswith("%") and not ln.lstrip().startswith("#"):
            rows.append((f[0], " ".join(f[1:])))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--imsd", default=os.path.join(smsbench.ROOT, "build-rel", "imsd"))
    ap.add_argument("--smsload",
                    default=os.path.join(smsbench.ROOT, "build-rel", "bench", "smsload"))
    ap.add_argument("--rate", type=int, default=10000)
    ap.add_argument("--secs", type=float, default=10)
    ap.add_argument("--pairs", type=int, default=2000)
    ap.add_argument("--state", action="store_true", help="with the state file")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    w = tempfile.mkdtemp(prefix="sms-perf.")
    port = benchlib.free_udp_port()
    cfg = smsbench.config(w, port, args.pairs, 1, args.state)
    srv = benchlib.Imsd(args.imsd, cfg, port, w, name="imsd")
    data = os.path.join(w, "perf.data")
    perf = None
    try:
        srv.start()
        ph = smsbench.Phones(port)
        smsbench.register_all(ph, args.pairs)
        smsbench.drain(ph, lambda: ph.registered >= 2 * args.pairs, time.time() + 30)
        smsbench.warm_up(ph)
        fds = (ph.snd.fileno(), ph.rcv.fileno())
        load = subprocess.Popen([args.smsload, "--port", str(port), "--snd-fd", str(fds[0]),
                                 "--rcv-fd", str(fds[1]), "--pairs", str(args.pairs),
                                 "--rate", str(args.rate), "--secs", str(args.secs),
                                 "--drain", "10", "--tag", "f"], pass_fds=fds,
                                stdout=subprocess.PIPE, text=True)
        time.sleep(1.0)
        c0 = srv.cpu()
        perf = subprocess.Popen(["perf", "record", "-q", "-F", "1999", "-g", "-o", data,
                                 "-p", str(srv.p.pid), "--", "sleep",
                                 str(max(args.secs - 2, 1))],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        perf.wait(args.secs + 60)
        cpu = srv.cpu() - c0
        out, _ = load.communicate(timeout=args.secs + 60)
        r = json.loads(out.strip().splitlines()[-1])
    finally:
        if perf and perf.poll() is None:
            perf.terminate()
            perf.wait(30)
        srv.stop()
    u, k = cpu.seconds()
    print(f"work dir: {w}")
    print(f"state file: {'on' if args.state else 'off'}; {args.rate} SMS/s offered, sent "
          f"{r['sent']}, delivered {r['delivered']}; imsd over the sampled "
          f"{max(args.secs - 2, 1):g} s: {u:.2f} s user + {k:.2f} s kernel")
    print("by DSO:")
    print("\n".join(f"  {p} {n}" for p, n in report(data, "dso", 0.5)))
    print("by symbol (self):")
    print("\n".join(f"  {p} {n}" for p, n in report(data, "dso,symbol", 0.5)[:args.top]))


if __name__ == "__main__":
    main()
