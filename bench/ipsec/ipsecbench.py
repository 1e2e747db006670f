#!/usr/bin/env python3
"""IPsec on Gm, side by side in one run (issue 18, docs/ipsec.md):
registrations and SMS per second with a UE over the SAs beside the same UE
without sec-agree, against one imsd (ipsec: true); imsd's CPU per operation
(user and kernel apart), and from the difference the CPU that ESP adds per
SIP packet. Targets: at most 2 us per SIP packet (aes-cbc + hmac-sha-1-96),
a registration with IPsec at most 1.3x one without.

Set-up: two network namespaces joined by a veth pair, imsd in one (its own
TUN device and protected namespace, as root), the UE in the other: by
default the C UE (bench/ipsec/ipsec_ue.c, `--ue c`: imsd's own AKA and ESP
codec, lockstep on both sides so that imsd is woken alike with and without
IPsec), or with `--ue python` the UE of the integration tests
(tests/integ/ipsec_sip_ue.py: scapy's ESP, imsctl's AKA), which is slower
over ESP than in clear and so paces the two sides differently. The rates
are what the UE reaches, not imsd's ceiling; the CPU per operation is
imsd's own (all its threads, /proc/PID/task/*/schedstat in ns; the
user/kernel split from /proc/PID/stat ticks).

Blocks alternate: plain, IPsec, plain, IPsec..., so that a busy neighbour
on the shared machine weighs on both sides alike.

  ipsecbench.py --imsd-bin B --imsctl-bin C [--ue c|python] [--ue-bin U]
                [--regs 400] [--sms 400] [--block 50]
                [--codec-bin bench_ipsec_esp] [--append RESULTS.md]
"""
import argparse
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import benchlib  # noqa: E402

UE_TOOL = os.path.join(ROOT, "tests", "integ", "ipsec_sip_ue.py")
K = "465b5ce8b199b49faa5f0a2ee238a6bc"
OPC = "cd63cb71954a9f4e48a5994e37a02baf"
SIP_PORT = 5060
UE_IP, PCSCF_IP = "10.203.0.2", "10.203.0.1"
ALG, EALG = "hmac-sha-1-96", "aes-cbc"
SIP_PER_SMS = 8  # MESSAGE 202 | MESSAGE(RP-ACK) 200 | MESSAGE(deliver) 200 | MESSAGE(RP-ACK) 200


def sh(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def ns_cpu_ns(pid, field=0):
    """On-CPU nanoseconds of all of pid's threads (field 2: how many times
    they were scheduled in, i.e. wake-ups)."""
    tot = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                tot += int(f.read().split()[field])
        except (OSError, ValueError, IndexError):
            pass
    return tot


class Meter:
    """imsd's CPU over a stretch: ns (precise) and ticks (user/kernel)."""

    def __init__(self, pid):
        self.pid = pid
        self.ns = 0
        self.ticks = benchlib.Cpu(0, 0)
        self.wall = 0.0
        self.n = 0
        self.wakes = 0

    def start(self):
        self._t = (ns_cpu_ns(self.pid), benchlib.proc_cpu(self.pid), time.monotonic(),
                   ns_cpu_ns(self.pid, 2))

    def stop(self, n):
        ns0, c0, w0, k0 = self._t
        self.ns += ns_cpu_ns(self.pid) - ns0
        self.wakes += ns_cpu_ns(self.pid, 2) - k0
        self.ticks += benchlib.proc_cpu(self.pid) - c0
        self.wall += time.monotonic() - w0
        self.n += n

    def us_per(self):
        return self.ns / 1e3 / self.n if self.n else float("nan")

    def split(self):
        """(user %, kernel %) of the ticks."""
        t = self.ticks.total
        return (100.0 * self.ticks.user / t, 100.0 * self.ticks.kernel / t) if t else (0, 0)

    def rate(self):
        return self.n / self.wall if self.wall else 0.0

    def wakes_per(self):
        return self.wakes / self.n if self.n else float("nan")


class Imsd:
    def __init__(self, ns, binary, cfg):
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, binary, cfg],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.out = b""
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for chunk in iter(lambda: self.proc.stdout.read1(65536), b""):
            with self.lock:
                self.out += chunk

    def wait_for(self, text, timeout, start=0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                i = self.out.find(text.encode(), start)
            if i >= 0:
                return i
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise benchlib.BenchError("imsd: no %r; output: %s" % (text, self.out[-2000:]))

    def command(self, line, expect):
        with self.lock:
            start = len(self.out)
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        end = self.wait_for(expect, 10, start)
        with self.lock:
            return self.out[start:end + 200].decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Ue:
    def __init__(self, ns):
        self.p = subprocess.Popen(["ip", "netns", "exec", ns, "/usr/bin/python3", UE_TOOL],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        # lines through a queue: two lines may arrive in one read, which
        # select() on the pipe would not see once the first is taken
        self.lines = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(x) for x in self.p.stdout],
                         daemon=True).start()

    def send(self, obj):
        self.p.stdin.write((obj if isinstance(obj, str) else json.dumps(obj)) + "\n")
        self.p.stdin.flush()

    def read(self, timeout=120):
        try:
            return json.loads(self.lines.get(timeout=timeout))
        except queue.Empty:
            raise benchlib.BenchError("the UE does not answer") from None

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)


class CUe:
    """bench/ipsec/ipsec_ue.c: line commands (see its header)."""

    def __init__(self, ns, binary):
        self.p = subprocess.Popen(["ip", "netns", "exec", ns, binary, UE_IP, PCSCF_IP,
                                   str(SIP_PORT), K, OPC],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(x) for x in self.p.stdout],
                         daemon=True).start()

    def send(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def read(self, timeout=120):
        try:
            return self.lines.get(timeout=timeout).strip()
        except queue.Empty:
            raise benchlib.BenchError("the C UE does not answer") from None

    def expect(self, prefix):
        got = self.read()
        if not got.startswith(prefix):
            raise benchlib.BenchError("C UE: %r (expected %r)" % (got, prefix))
        return got

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)


def cfg_text(tmp):
    users = []
    for n, user in ((201, "ue201"), (202, "ue202")):
        users.append(f'{{ imsi: "001010000000{n}", impi: "001010000000{n}@ims.test", '
                     f'impu: ["sip:{user}", "tel:+33600000{n}"], sim_algo: "milenage", '
                     f'K: "{K}", opc: "{OPC}", sqn: "000000000020", authent_qop: "auth" }}')
    return f"""{{
  log_filename: "{tmp}/ims.log",
  log_options: "all.level=error",
  sip_addr: ["10.203.0.1:{SIP_PORT}"],
  domain: "ims.test",
  ipsec: true,
  ipsec_tun_setup_script_filename: "{tmp}/ipsec_tun_setup",
  ipsec_aalg_list: ["{ALG}"],
  ipsec_ealg_list: ["{EALG}"],
  sms_centre_address: {{ type_of_number: "international", number: "+33699999999" }},
  ue_db: [ {", ".join(users)} ],
}}
"""


class Bench:
    def __init__(self, a, ue, imsd):
        self.a, self.ue, self.imsd = a, ue, imsd
        self.spi = 20000
        pid = imsd.proc.pid
        self.m = {k: Meter(pid) for k in ("reg_plain", "reg_ipsec", "sms_plain", "sms_ipsec")}
        self.load0 = loadavg()
        self.rtx = "-"  # the C UE's retransmissions so far

    def req(self, ipsec, **kw):
        self.spi += 2
        user = "ue201" if ipsec else "ue202"
        n = 201 if ipsec else 202
        r = {"alg": ALG, "ealg": EALG, "mode": "ok" if ipsec else "plain", "spi_c": self.spi,
             "spi_s": self.spi + 1, "port_c": 31000, "port_s": 31001,
             "plain_port": 5062 if ipsec else 5064, "ue_ip": UE_IP,
             "pcscf_ip": "10.203.0.1", "pcscf_port": SIP_PORT, "imsctl": self.a.imsctl_bin,
             "k": K, "opc": OPC, "impi": f"001010000000{n}@ims.test", "user": user,
             "msisdn": f"+33600000{n}", "after": [], "tcp": False}
        r.update(kw)
        return r

    def regs(self, ipsec, n):
        """n registrations (each a new AKA run; with IPsec a new SA set that
        retires the last one, TS 33.203 §7.4)."""
        m = self.m["reg_ipsec" if ipsec else "reg_plain"]
        if isinstance(self.ue, CUe):
            m.start()
            self.ue.send("reg %s %d" % ("ipsec" if ipsec else "plain", n))
            self.rtx = self.ue.expect("ok").split("rtx=")[-1]
            m.stop(n)
            return
        want = [401, 200]
        reqs = [self.req(ipsec, bare=True) for _ in range(n)]
        m.start()
        for r in reqs:
            self.ue.send(r)
            got = self.ue.read()
            if got.get("codes") != want:
                raise benchlib.BenchError("registration: %s" % got)
        m.stop(n)

    def sms(self, ipsec, n):
        """One registration, then n SMS to itself; only the SMS are metered
        (the UE pauses before and after them)."""
        m = self.m["sms_ipsec" if ipsec else "sms_plain"]
        if isinstance(self.ue, CUe):
            self.ue.send("sms %s %d" % ("ipsec" if ipsec else "plain", n))
            self.ue.expect("ready")
            m.start()
            self.ue.send("go")
            done = self.ue.expect("done")
            m.stop(n)
            self.rtx = self.ue.expect("ok").split("rtx=")[-1]
            if done != "done 0":
                raise benchlib.BenchError("SMS: C UE %s (failed rounds)" % done)
            return
        self.ue.send(self.req(ipsec, after=["message"], repeat=n, pause=True))
        if not self.ue.read().get("ready"):
            raise benchlib.BenchError("SMS: the UE did not register")
        m.start()
        self.ue.send("go")
        done = self.ue.read()
        m.stop(n)
        end = self.ue.read()
        if done.get("failed") or end.get("failed"):
            raise benchlib.BenchError("SMS: %s %s" % (done, end))

    def esp_counters(self):
        text = self.imsd.command("stats", "counters.ipsec.drop_io")
        vals = {}
        for line in text.splitlines():
            for k in ("esp_rx", "esp_tx"):
                if "counters.ipsec.%s:" % k in line:
                    vals[k] = int(line.split(":")[1])
        return vals

    def run(self):
        a = self.a
        # warm-up: the first registrations load OpenSSL's ciphers, fill caches
        self.regs(False, 5)
        self.regs(True, 5)
        for m in self.m.values():
            m.__init__(m.pid)
        done = 0
        while done < a.regs:
            k = min(a.block, a.regs - done)
            self.regs(False, k)
            self.regs(True, k)
            done += k
            benchlib.log("registrations %d/%d" % (done, a.regs))
        esp0 = self.esp_counters()
        done = 0
        while done < a.sms:
            k = min(a.block, a.sms - done)
            self.sms(False, k)
            self.sms(True, k)
            done += k
            benchlib.log("SMS %d/%d" % (done, a.sms))
        esp1 = self.esp_counters()
        return {k: esp1.get(k, 0) - esp0.get(k, 0) for k in ("esp_rx", "esp_tx")}


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def codec_line(binary):
    """encap, decap and SA make+free ns of aes-cbc + hmac-sha-1-96 from
    bench_ipsec_esp."""
    if not binary or not os.access(binary, os.X_OK):
        return None
    out = subprocess.run([binary, "200000"], capture_output=True, text=True,
                         timeout=600).stdout
    for line in out.splitlines():
        f = line.split()
        if f[:2] == [ALG, EALG]:
            return float(f[2]), float(f[3]), float(f[4])
    return None


def report(a, b, esp, codec):
    m = b.m
    rp, ri, sp, si = m["reg_plain"], m["reg_ipsec"], m["sms_plain"], m["sms_ipsec"]
    reg_ratio = ri.us_per() / rp.us_per()
    esp_sms = esp["esp_rx"] + esp["esp_tx"]
    # 8 per SMS, and per block around them over the SAs: REGISTER, 200,
    # (Python UE: OPTIONS, 200,) de-REGISTER, 200
    around = 4 if a.ue == "c" else 6
    esp_pkts = SIP_PER_SMS * si.n + around * -(-a.sms // a.block)
    per_pkt = (si.us_per() - sp.us_per()) / SIP_PER_SMS
    lines = [
        "### %s — IPsec beside no IPsec, one imsd (commit %s)" % (
            time.strftime("%Y-%m-%d %H:%M"), benchlib.git_commit(ROOT)),
        "",
        "`bench/ipsec/run.sh`: imsd (release build, `ipsec: true`, %s + %s) in a network "
        "namespace, %s in another; blocks of %d alternate plain / IPsec. CPU is imsd's, "
        "all threads (schedstat ns; user/kernel from /proc ticks). Rates are the UE's "
        "pace, not imsd's ceiling. Load average at the start / end: %s / %s." % (
            ALG, EALG, "the C UE (`bench/ipsec/ipsec_ue.c`, lockstep on both sides)"
            if a.ue == "c" else "the UE of `tests/integ/ipsec_sip_ue.py` (scapy ESP, "
            "Python)", a.block, b.load0, loadavg()),
        "",
        "| operation | n | imsd CPU µs/op | user % | kernel % | imsd wake-ups/op "
        "| ops/s (UE-bound) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, mm in (("registration, no sec-agree", rp), ("registration over SAs", ri),
                     ("SMS round (8 SIP msgs), clear", sp),
                     ("SMS round (8 SIP msgs), over SAs", si)):
        u, k = mm.split()
        lines.append("| %s | %d | %.1f | %.0f | %.0f | %.1f | %.0f |" % (
            name, mm.n, mm.us_per(), u, k, mm.wakes_per(), mm.rate()))
    lines += [
        "",
        "- registration with IPsec / without: **%.2fx** (target ≤ 1.3x: %s)" % (
            reg_ratio, "met" if reg_ratio <= 1.3 else "missed"),
        "- CPU ESP adds per SIP packet (SMS rounds, over SAs minus clear, / %d): "
        "**%.2f µs** (target ≤ 2 µs: %s); ESP packets counted by imsd during the SMS "
        "blocks: %d (expected %d)" % (SIP_PER_SMS, per_pkt,
                                      "met" if per_pkt <= 2 else "missed", esp_sms, esp_pkts),
    ]
    if a.ue == "c":
        lines.append("- registration requests the C UE sent again (a datagram lost, "
                     "RFC 3261 timer A): %s" % b.rtx)
    if codec:
        lines.append("- the codec alone (`bench_ipsec_esp`, 700-byte SIP message, same "
                     "run): encap %.0f ns, decap %.0f ns; one SA made and freed (a "
                     "registration's set is four): %.0f ns" % codec)
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--imsd-bin", required=True)
    ap.add_argument("--imsctl-bin", required=True)
    ap.add_argument("--regs", type=int, default=400)
    ap.add_argument("--sms", type=int, default=400)
    ap.add_argument("--block", type=int, default=50)
    ap.add_argument("--codec-bin")
    ap.add_argument("--ue", choices=("c", "python"), default="c",
                    help="the UE: bench/ipsec/ipsec_ue.c (default) or the scapy one")
    ap.add_argument("--ue-bin", help="bench_ipsec_ue (with --ue c)")
    ap.add_argument("--workdir", default="/tmp/ipsecbench")
    ap.add_argument("--append")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    tag = uuid.uuid4().hex[:6]
    core, uens = "ibc" + tag, "ibu" + tag
    sh("ip", "netns", "add", core)
    sh("ip", "netns", "add", uens)
    imsd = ue = None
    try:
        sh("ip", "link", "add", "bc" + tag, "netns", core, "type", "veth",
           "peer", "name", "bu" + tag, "netns", uens)
        for ns, dev, v4 in ((core, "bc" + tag, "10.203.0.1/24"), (uens, "bu" + tag,
                                                                  "10.203.0.2/24")):
            sh("ip", "-n", ns, "addr", "add", v4, "dev", dev)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", dev, "up")
        cfg = os.path.join(a.workdir, "ims.cfg")
        with open(cfg, "w") as f:
            f.write(cfg_text(a.workdir))
        imsd = Imsd(core, a.imsd_bin, cfg)
        imsd.wait_for("Type 'help'", 60)
        if a.ue == "c":
            if not a.ue_bin:
                raise benchlib.BenchError("--ue c needs --ue-bin")
            ue = CUe(uens, a.ue_bin)
        else:
            ue = Ue(uens)
        b = Bench(a, ue, imsd)
        esp = b.run()
        codec = codec_line(a.codec_bin)
        md = report(a, b, esp, codec)
        print(md)
        if a.append:
            benchlib.append_section(a.append, "## ipsec — IPsec on Gm, side by side "
                                    "(bench/ipsec)", md)
    finally:
        if ue:
            ue.close()
        if imsd:
            imsd.stop()
        subprocess.run(["ip", "netns", "del", core])
        subprocess.run(["ip", "netns", "del", uens])


if __name__ == "__main__":
    try:
        main()
    except benchlib.BenchError as e:
        print("ipsecbench:", e, file=sys.stderr)
        sys.exit(1)
