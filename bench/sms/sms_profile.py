#!/usr/bin/python3
"""bench/sms/sms_profile — instruction profile of imsd per delivered SMS:
imsd (default build-rel/imsd: release, its function names are in it) runs
under valgrind's callgrind with the configuration smsbench.py writes;
smsbench.py's phones register, bench/sms/smsload sends COUNT SMS at RATE/s.
Counting starts before the first SMS and stops after Timer J of the last
transactions (timer_t1 0.5 s -> 32 s), so it includes each transaction's
whole life. Instructions, not time: independent of the machine's load.

  bench/sms/sms_profile.py [--count 1000] [--rate 200] [--state] [--imsd BIN]

Prints Ir per delivered SMS and the top functions (inclusive and self);
the callgrind file stays in the printed work dir. Every process started
here is stopped by its PID.
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


def annotate(cg, inclusive):
    args = ["callgrind_annotate"] + (["--inclusive=yes"] if inclusive else []) + [cg]
    return subprocess.run(args, capture_output=True, text=True, timeout=300).stdout


def top(text, n):
    rows = [ln for ln in text.splitlines() if ln.strip()[:1].isdigit() and " (" in ln]
    total = next((ln.split()[0] for ln in text.splitlines() if "PROGRAM TOTALS" in ln), "0")
    return int(total.replace(",", "")), [ln.split(" [")[0] for ln in rows[1:n + 1]]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--imsd", default=os.path.join(smsbench.ROOT, "build-rel", "imsd"))
    ap.add_argument("--smsload",
                    default=os.path.join(smsbench.ROOT, "build-rel", "bench", "smsload"))
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--pairs", type=int, default=200)
    ap.add_argument("--state", action="store_true", help="with the state file")
    ap.add_argument("--top", type=int, default=30)
    args = ap.parse_args()
    w = tempfile.mkdtemp(prefix="sms-prof.")
    port = benchlib.free_udp_port()
    cfg = smsbench.config(w, port, args.pairs, 1, args.state)
    cg = os.path.join(w, "cg.out")
    out = open(os.path.join(w, "imsd.out"), "wb")
    vg = subprocess.Popen(["valgrind", "--tool=callgrind", "--instr-atstart=no",
                           f"--callgrind-out-file={cg}", args.imsd, cfg], cwd=w,
                          stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 180
        while not benchlib.udp_port_bound(port):
            if vg.poll() is not None or time.time() > deadline:
                raise benchlib.BenchError("imsd under callgrind did not start: " +
                                          benchlib.tail(os.path.join(w, "imsd.out")))
            time.sleep(0.5)
        ph = smsbench.Phones(port)
        smsbench.register_all(ph, args.pairs, settle=2.0)
        smsbench.drain(ph, lambda: ph.registered >= 2 * args.pairs, time.time() + 60)
        smsbench.drain(ph, lambda: False, time.time() + 36)  # their Timer J
        subprocess.run(["callgrind_control", "-i", "on", str(vg.pid)], capture_output=True,
                       timeout=60)
        fds = (ph.snd.fileno(), ph.rcv.fileno())
        p = subprocess.run([args.smsload, "--port", str(port), "--snd-fd", str(fds[0]),
                            "--rcv-fd", str(fds[1]), "--pairs", str(args.pairs),
                            "--rate", str(args.rate), "--secs", str(args.count / args.rate),
                            "--drain", "90", "--tag", "p"], pass_fds=fds,
                           capture_output=True, text=True, timeout=600)
        r = json.loads(p.stdout)
        smsbench.drain(ph, lambda: False, time.time() + 36)  # Timer J of the last ones
        subprocess.run(["callgrind_control", "-i", "off", str(vg.pid)], capture_output=True,
                       timeout=60)
    finally:
        if vg.poll() is None:
            vg.terminate()
            try:
                vg.wait(60)
            except subprocess.TimeoutExpired:
                vg.kill()
                vg.wait(10)
        out.close()
    total, incl = top(annotate(cg, True), args.top)
    _, self_ = top(annotate(cg, False), args.top)
    dlv = max(r["delivered"], 1)
    print(f"work dir: {w}")
    print(f"state file: {'on' if args.state else 'off'}; sent {r['sent']}, delivered "
          f"{r['delivered']}; Ir total {total}, **Ir per delivered SMS {total // dlv}**")
    print("inclusive:")
    print("\n".join(incl))
    print("self:")
    print("\n".join(self_))


if __name__ == "__main__":
    main()
