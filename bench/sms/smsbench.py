#!/usr/bin/python3
"""bench/sms — SMS over IP through imsd: MO -> MT SMS per second between
pairs of phones, imsd's CPU per delivered SMS (user and kernel apart), and
memory per pending SMS. README.md says how to run it; results go to
bench/RESULTS.md, section "sms".

One delivered SMS is four transactions at imsd: the sender's MESSAGE
(RP-DATA, answered 202), imsd's MESSAGE with the RP-ACK to the sender,
imsd's MESSAGE with the SMS-DELIVER to the receiver, the receiver's MESSAGE
with its RP-ACK. The phones are this script: one UDP socket for every
sender, one for every receiver (users registered without authentication,
many on one flow as behind a P-CSCF), so that a Python process can play
thousands of phones. The offered rate is fixed per step; imsd's CPU is read
from /proc before and after the step (benchlib.Cpu), and an SMS counts as
delivered when imsd has answered the receiver's RP-ACK.

Memory per pending SMS: SMS for receivers that never register wait in
their queues; `stats` heap_in_use before and after, divided by their count
(the TPDU of each is in the figure: 50 octets for the text sent).
"""
import argparse
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SC = "33699999999"


def bcd(d):
    d = d + ("F" if len(d) % 2 else "")
    return bytes(int(d[i + 1] + d[i], 16) for i in range(0, len(d), 2))


def pack7(text):
    """ASCII letters and spaces (the same in GSM 7-bit) packed in septets."""
    bits = sum(ord(c) << (7 * i) for i, c in enumerate(text))
    return bits.to_bytes((7 * len(text) + 7) // 8, "little")


TEXT = "bench sms from one phone to another"


def rp_submit(dest, mr):
    """RP-DATA (ms->n) with an SMS-SUBMIT of TEXT in GSM 7-bit."""
    tp = bytes([0x01, mr, len(dest), 0x91]) + bcd(dest) + bytes([0, 0, len(TEXT)]) + \
        pack7(TEXT)
    return bytes([0x00, mr, 0, len(SC) // 2 + 1 + len(SC) % 2, 0x91]) + bcd(SC) + \
        bytes([len(tp)]) + tp


def sender_of(i):
    return f"s{i}", f"336100{i:05d}"


def receiver_of(i):
    return f"r{i}", f"336200{i:05d}"


def parked_of(i):
    return f"q{i}", f"336300{i:05d}"


class Phones:
    """Every sender on one socket, every receiver on another."""

    def __init__(self, port):
        self.port = port
        self.snd = self._sock()
        self.rcv = self._sock()
        self.n = 0
        self.sent = self.accepted = self.delivered = self.errors = self.registered = 0
        self.seen = set()  # Call-IDs of imsd's MT MESSAGEs already acknowledged

    @staticmethod
    def _sock():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # SO_RCVBUFFORCE (33) and SO_SNDBUFFORCE (32), which Python does not
        # name: as root past net.core.rmem_max, as imsd does (net_udp.c)
        for opt, force in ((socket.SO_RCVBUF, 33), (socket.SO_SNDBUF, 32)):
            try:
                s.setsockopt(socket.SOL_SOCKET, force, 8 << 20)
            except OSError:
                s.setsockopt(socket.SOL_SOCKET, opt, 8 << 20)
        s.bind(("127.0.0.1", 0))
        s.setblocking(False)
        return s

    def request(self, sock, user, method, extra, body=b"", ruri="sip:ims.test"):
        self.n += 1
        me = sock.getsockname()[1]
        head = "\r\n".join([
            f"{method} {ruri} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKb{self.n}",
            "Max-Forwards: 70", f"From: <sip:{user}@ims.test>;tag=t{self.n}",
            f"To: <sip:{user}@ims.test>", f"Call-ID: c{self.n}@bench",
            f"CSeq: 1 {method}", *extra, f"Content-Length: {len(body)}", "", ""])
        try:
            sock.sendto(head.encode() + body, ("127.0.0.1", self.port))
        except BlockingIOError:
            self.errors += 1

    def register(self, sock, user):
        me = sock.getsockname()[1]
        self.request(sock, user, "REGISTER",
                     [f"Contact: <sip:{user}@127.0.0.1:{me}>;expires=3600;+g.3gpp.smsip"])

    def sms(self, i, dest):
        self.request(self.snd, sender_of(i)[0], "MESSAGE",
                     ["Content-Type: application/vnd.3gpp.sms"],
                     rp_submit(dest, self.n & 0xFF), ruri=f"sip:+{SC}@ims.test;user=phone")
        self.sent += 1

    def _answer(self, sock, head):
        keep = [ln for ln in head.split("\r\n")
                if ln[:4].lower() in ("via:", "from", "to: ", "call", "cseq")]
        sock.sendto(("\r\n".join(["SIP/2.0 200 OK", *keep, "Content-Length: 0", "", ""])
                     ).encode(), ("127.0.0.1", self.port))

    def pump(self, timeout):
        """Reads what came; answers imsd's MESSAGEs (the receiver's also
        with its RP-ACK). Returns the number of datagrams read."""
        r, _, _ = select.select([self.snd, self.rcv], [], [], timeout)
        got = 0
        for sock in r:
            for _ in range(256):
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    break
                got += 1
                head, _, body = data.partition(b"\r\n\r\n")
                head = head.decode(errors="replace")
                if head.startswith("MESSAGE "):
                    self._answer(sock, head)
                    cid = head.split("\r\nCall-ID: ", 1)[-1][:64]
                    if sock is self.rcv and cid in self.seen:
                        continue  # a retransmission: its RP-ACK went already
                    if sock is self.rcv and len(body) > 1 and body[0] == 1:
                        self.seen.add(cid)
                        to = head.split("\r\nTo: <tel:+", 1)[1][:11]
                        user = "r" + str(int(to[6:]))
                        self.request(self.rcv, user, "MESSAGE",
                                     ["Content-Type: application/vnd.3gpp.sms"],
                                     bytes([0x02, body[1]]), ruri=f"sip:+{SC}@ims.test")
                elif head.startswith("SIP/2.0 202") and sock is self.snd:
                    self.accepted += 1
                elif head.startswith("SIP/2.0 200") and sock is self.rcv and \
                        "\r\nCSeq: 1 MESSAGE" in head:
                    self.delivered += 1
                elif head.startswith("SIP/2.0 200") and "\r\nCSeq: 1 REGISTER" in head:
                    self.registered += 1
                elif not head.startswith("SIP/2.0 2"):
                    self.errors += 1
        return got


def config(workdir, port, pairs, parked, state, log_level="error"):
    ue = []
    users = [sender_of(i) for i in range(pairs)] + [receiver_of(i) for i in range(pairs)] + \
        [parked_of(i) for i in range(parked)]
    for n, (u, tel) in enumerate(users):
        ue.append({"imsi": f"00101{n:010d}", "impi": f"{u}@ims.test", "authentication": False,
                   "impu": [f"sip:{u}", f"tel:+{tel}"]})
    settings = [("log_filename", os.path.join(workdir, "ims.log")),
                ("log_options", f"all.level={log_level}"), ("sip_addr", [f"127.0.0.1:{port}"]),
                ("domain", "ims.test"), ("ipsec", False), ("sms_retry_delay", 0),
                # Timer J/K of 64*T1 = 32 s: the memory phase waits for
                # the transactions to end before it reads the heap
                ("timer_t1", 0.5)]
    if state:
        settings.append(("ue_db_filename", os.path.join(workdir, "ims.state")))
    path = os.path.join(workdir, "ims.cfg")
    with open(path, "w") as f:
        f.write(benchlib.imsd_config(settings, ue, comment="bench/sms"))
    return path


def drain(ph, until, deadline):
    while not until() and time.time() < deadline:
        ph.pump(0.05)


REG_ROUNDS = 10


def register_all(ph, pairs, settle=2.0):
    for i in range(pairs):
        ph.register(ph.snd, sender_of(i)[0])
        ph.register(ph.rcv, receiver_of(i)[0])
        if i % 50 == 49:
            ph.pump(0.001)
    drain(ph, lambda: False, time.time() + settle)


def step(srv, ph, pairs, rate, secs):
    """rate SMS/s for secs, then until every accepted SMS is delivered (or
    10 s). Returns the step's figures."""
    s0, a0, d0, e0 = ph.sent, ph.accepted, ph.delivered, ph.errors
    ph.seen.clear()
    c0 = srv.cpu()
    t0 = time.time()
    i = 0
    while time.time() - t0 < secs:
        due = int((time.time() - t0) * rate)
        while ph.sent - s0 < due:
            ph.sms(i % pairs, receiver_of(i % pairs)[1])
            i += 1
        ph.pump(0.001)
    load_s = time.time() - t0
    drain(ph, lambda: ph.delivered - d0 >= ph.sent - s0, time.time() + 10)
    cpu = srv.cpu() - c0
    sent, dlv = ph.sent - s0, ph.delivered - d0
    u, k = cpu.us_per(max(dlv, 1))
    return {"rate": rate, "secs": round(load_s, 2), "sent": sent,
            "accepted": ph.accepted - a0, "delivered": dlv,
            "loss_pct": round(100.0 * (sent - dlv) / max(sent, 1), 3),
            "errors": ph.errors - e0, "achieved": round(dlv / load_s, 1),
            "cpu_us_user": round(u, 1), "cpu_us_kernel": round(k, 1),
            "cpu_us": round(u + k, 1)}


def udp_drops(ports, text=None):
    """{port: datagrams dropped at that loopback UDP socket} from the last
    column of /proc/net/udp (text: its content, for the tests)."""
    if text is None:
        with open("/proc/net/udp") as f:
            text = f.read()
    want = {f"0100007F:{p:04X}": p for p in ports}
    out = {p: 0 for p in ports}
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) >= 13 and f[1] in want and f[-1].isdigit():
            out[want[f[1]]] += int(f[-1])
    return out


def step_c(srv, ph, args, rate, tag, secs=None):
    """The same step played by bench/sms/smsload (C) on the phones' sockets
    (the Python phones saturate near 3,000 SMS/s on this machine), for secs
    (default args.secs)."""
    secs = secs or args.secs
    ph.pump(0.01)
    warm_up(ph)
    peak = {"tsx": 0, "imsd": [], "machine": [], "o503": 0, "unproven_refused": 0,
            "drops_s": []}
    stop = threading.Event()

    def counters(st):
        peak["tsx"] = max(peak["tsx"], st.get("sip.tsx_server", 0) +
                          st.get("sip.tsx_client", 0))
        # counters are since the previous `stats`
        peak["o503"] += st.get("counters.sip.overload_503", 0)
        peak["unproven_refused"] += st.get("counters.sip.tx_unproven_refused", 0)

    def stats():
        """imsd's `stats`; its own CPU is kept apart (not the SMS's)."""
        tm, c = time.time(), srv.cpu()
        st = srv.monitor("stats", "registrar.users", timeout=10)
        peak["stats_cpu"] = peak.get("stats_cpu", benchlib.Cpu(0, 0)) + (srv.cpu() - c)
        peak["stats_ms"] = max(peak.get("stats_ms", 0), 1000 * (time.time() - tm))
        return st

    def watch():
        """Every second of the step: the cores imsd used in that second and
        the cores the whole machine did (other processes included: the
        machine is shared); from /proc, imsd is not asked. Its `stats`
        (live transactions, counters) once, half a second after the load:
        it runs mallinfo2(), which walks every free chunk of the heap and
        held imsd's loop up to 300 ms with a million transactions live;
        read every second it made the drops of the sustained step. The live
        count then is the step's peak: nothing has ended yet in a 10 s
        step (Timer K is 17 s), and a sustained one is in its steady
        state."""
        c, b, t = srv.cpu(), benchlib.sys_busy_ticks()[0], time.time()
        dr = udp_drops([ph.port])[ph.port]
        read_at = t + secs + 0.5
        while not stop.wait(1.0):
            c1, b1, t1 = srv.cpu(), benchlib.sys_busy_ticks()[0], time.time()
            dr1 = udp_drops([ph.port])[ph.port]
            peak["imsd"].append((c1 - c).total / benchlib.CLK / (t1 - t))
            peak["machine"].append((b1 - b) / benchlib.CLK / (t1 - t))
            peak["drops_s"].append(dr1 - dr)  # at imsd's socket, that second
            c, b, t, dr = c1, b1, t1, dr1
            if read_at and t1 >= read_at:
                read_at = 0
                try:
                    counters(stats())
                except benchlib.BenchError:
                    pass
    counters(stats())  # counters from here
    peak["o503"] = peak["unproven_refused"] = 0
    peak["stats_cpu"] = benchlib.Cpu(0, 0)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    ports = {"imsd": ph.port, "senders": ph.snd.getsockname()[1],
             "receivers": ph.rcv.getsockname()[1]}
    d0 = udp_drops(ports.values())
    c0, rb0 = srv.cpu(), benchlib.udp_rcvbuf_errors()
    cmd = [args.smsload, "--port", str(ph.port), "--snd-fd", str(ph.snd.fileno()),
           "--rcv-fd", str(ph.rcv.fileno()), "--pairs", str(args.pairs), "--rate", str(rate),
           "--secs", str(secs), "--drain", "10", "--tag", tag, "--retx", str(args.retx)]
    p = subprocess.run(cmd, pass_fds=(ph.snd.fileno(), ph.rcv.fileno()), capture_output=True,
                       text=True, timeout=secs + 60)
    stop.set()
    watcher.join(10)
    cpu = srv.cpu() - c0 - peak["stats_cpu"]
    counters(stats())  # the rest of the counters
    d1 = udp_drops(ports.values())
    if p.returncode != 0:
        raise benchlib.BenchError(f"smsload failed ({p.returncode}): {p.stderr.strip()}")
    r = json.loads(p.stdout.strip().splitlines()[-1])
    sent, dlv = r["sent"], r["delivered"]
    u, k = cpu.us_per(max(dlv, 1))
    return {"rate": rate, "secs": round(r["load_s"], 2), "sent": sent,
            "accepted": r["accepted"], "delivered": dlv,
            "loss_pct": round(100.0 * (sent - dlv) / max(sent, 1), 3),
            "errors": r["errors"], "achieved": round(dlv / r["load_s"], 1),
            "cpu_us_user": round(u, 1), "cpu_us_kernel": round(k, 1),
            "cpu_us": round(u + k, 1), "rcvbuf_drops": benchlib.udp_rcvbuf_errors() - rb0,
            "drops": {k: d1[v] - d0[v] for k, v in ports.items()},
            "phones_cpu_us": round(1e6 * (r["cpu_user_s"] + r["cpu_sys_s"]) / max(sent, 1), 1),
            "tsx_peak": peak["tsx"], "overload_503": peak["o503"],
            "unproven_refused": peak["unproven_refused"],
            "stats_ms_max": round(peak.get("stats_ms", 0), 1),
            # per second of the step: imsd's cores, the machine's, drops at imsd
            "per_s": {"imsd": [round(x, 2) for x in peak["imsd"]],
                      "machine": [round(x, 2) for x in peak["machine"]],
                      "drops": peak["drops_s"]},
            # over the seconds of the load (not the drain)
            "imsd_cores_max": round(max(peak["imsd"][:int(secs)] or [0]), 2),
            "machine_cores": round(sum(peak["machine"][:int(secs)]) /
                                   max(len(peak["machine"][:int(secs)]), 1), 2),
            "server_cores": round(sum(peak["imsd"][:int(secs)]) /
                                  max(len(peak["imsd"][:int(secs)]), 1), 2),
            "load": {k: v for k, v in r.items() if k not in ("sent", "delivered", "accepted")}}


def warm_up(ph, timeout=10.0):
    """One SMS through before the step, and wait for it: the phones' two
    sockets then have answered imsd's requests (sip/sip_peer.h). Users
    registered without a challenge are not proven by their REGISTER, and
    imsd sends requests to an address that never answered only within a
    budget (16 KiB at once, then 2 KiB/s per IP). Without this, a fresh
    imsd that reads a backlog of SMS in its first loop turn (a busy
    machine) sends more than 16 KiB of MESSAGEs before any 200 is back;
    the rest fail 503 and, with sms_retry_delay 0, their receivers' SMS
    wait for the next registration: the 1.05 % loss of the 10,000/s step
    of an earlier run. Phones that registered with AKA are proven by it."""
    d0 = ph.delivered
    if ph.n & 0xFF == 0:
        # smsload's first SMS from sender 0 has TP-MR 0: the same TP-MR and
        # TP-DA would be that one again for imsd (a repeated SMS-SUBMIT)
        ph.n += 1
    ph.sms(0, receiver_of(0)[1])
    drain(ph, lambda: ph.delivered > d0, time.time() + timeout)
    if ph.delivered <= d0:
        raise benchlib.BenchError("the warm-up SMS was not delivered")
    drain(ph, lambda: False, time.time() + 0.2)  # the last 200s


def quiet_heap(srv, ph, deadline):
    """heap_in_use once no SIP transaction is left (Timer J/K over: their
    memory is not the queue's)."""
    while True:
        drain(ph, lambda: False, time.time() + 0.5)
        st = srv.monitor("stats", "registrar.users")
        if (st.get("sip.tsx_server", 1) == 0 and st.get("sip.tsx_client", 1) == 0) or \
                time.time() > deadline:
            return st["heap_in_use"], st.get("sip.tsx_server", -1) + st.get("sip.tsx_client", 0)


def pending_memory(srv, ph, args_pairs, parked, count):
    """Heap per pending SMS: count SMS to users that never register."""
    before, _ = quiet_heap(srv, ph, time.time() + 90)
    a0 = ph.accepted
    for i in range(count):
        ph.sms(i % args_pairs, parked_of(i % parked)[1])
        if i % 50 == 49:
            ph.pump(0.002)
    drain(ph, lambda: ph.accepted - a0 >= count, time.time() + 30)
    after, left = quiet_heap(srv, ph, time.time() + 90)
    return {"pending": ph.accepted - a0, "heap_delta": after - before, "tsx_left": left,
            "bytes_per_sms": round((after - before) / max(ph.accepted - a0, 1), 1)}


def start(args, name, workdir, parked, state):
    """imsd on a fresh configuration (and state file) and a free port."""
    for attempt in range(3):
        # a free UDP port may be a TCP port in use (imsd binds both): another
        port = benchlib.free_udp_port()
        cfg = config(workdir, port, args.pairs, parked, state, args.log_level)
        for f in ("ims.state", "ims.state-wal", "ims.state-shm"):
            if os.path.exists(os.path.join(workdir, f)):
                os.unlink(os.path.join(workdir, f))
        srv = benchlib.Imsd(args.imsd_bin, cfg, port, workdir, name=name)
        try:
            srv.start()
            return srv, port
        except benchlib.BenchError as e:
            srv.stop()
            if attempt == 2 or "already in use" not in str(e):
                raise
            benchlib.log(name, f"port {port} taken, another one: {e}")


def session(args, state, fn):
    """fn(srv, ph) on a fresh imsd whose users have registered: each C step
    starts from the same state (no transaction, queue or state file left by
    the step before: a non-INVITE server transaction lives 32 s after its
    answer here, a delivery whose RP-ACK was lost 30 s)."""
    name = "imsd-state" if state else "imsd"
    workdir = os.path.join(args.workdir, name)
    os.makedirs(workdir, exist_ok=True)
    parked = max(1, (args.pending + 1999) // 2000)
    srv, port = start(args, name, workdir, parked, state)
    ph = Phones(port)
    try:
        register_all(ph, args.pairs)
        drain(ph, lambda: ph.registered >= 2 * args.pairs, time.time() + 30)
        if ph.registered < 2 * args.pairs:
            raise benchlib.BenchError(f"{name}: {ph.registered} of {2 * args.pairs} "
                                      "users registered")
        return fn(srv, ph, parked)
    finally:
        srv.stop()
        ph.snd.close()
        ph.rcv.close()


def register_cost(srv, ph, pairs):
    """A registration's cost beside an SMS's: refreshes of every user,
    REG_ROUNDS times (CPU ticks are 10 ms: enough of them to count)."""
    c0, r0 = srv.cpu(), ph.registered
    for _ in range(REG_ROUNDS):
        register_all(ph, pairs, settle=0.3)
    u, k = (srv.cpu() - c0).us_per(max(ph.registered - r0, 1))
    return round(u + k, 1)


def run(args, state):
    name = "imsd-state" if state else "imsd"
    out = {"server": name, "pairs": args.pairs, "steps": []}

    def python_steps(srv, ph, parked):
        out["register_us"] = register_cost(srv, ph, args.pairs)
        for rate in args.rates:
            out["steps"].append(step(srv, ph, args.pairs, rate, args.secs))
            benchlib.log(name, json.dumps(out["steps"][-1]))
        return out

    def c_step(rate, tag, secs=None):
        def fn(srv, ph, parked):
            benchlib.wait_quiet(20, threshold=0.5)  # the machine is shared
            return step_c(srv, ph, args, rate, tag, secs)
        return fn

    if args.phones == "python":
        session(args, state, python_steps)
    else:
        out["register_us"] = session(args, state, lambda srv, ph, parked:
                                     register_cost(srv, ph, args.pairs))
        for n, rate in enumerate(args.rates):
            out["steps"].append(session(args, state, c_step(rate, f"{name[-1]}{n}")))
            benchlib.log(name, json.dumps(out["steps"][-1]))
        for n, (rate, secs) in enumerate(args.sustain or []):
            # rates held longer than a transaction lives (Timer J)
            out.setdefault("sustained", []).append(
                session(args, state, c_step(rate, f"{name[-1]}s{n}", secs)))
            benchlib.log(name, "sustained", json.dumps(out["sustained"][-1]))
    # with the state file the queue's structures are the same, and
    # SQLite's page cache moves the heap by more than they do
    if args.pending and not state:
        out["memory"] = session(args, state, lambda srv, ph, parked: pending_memory(
            srv, ph, args.pairs, parked, args.pending))
        benchlib.log(name, json.dumps(out["memory"]))
    return out


def best_rate(steps, max_loss=0.1):
    """The highest offered rate whose step lost less than max_loss % (None)."""
    ok = [s["rate"] for s in steps if s["loss_pct"] < max_loss]
    return max(ok) if ok else None


def report(results, commit, phones="c", pairs=0):
    day = time.strftime("%Y-%m-%d")
    who = ("bench/sms/smsload (C)" if phones == "c" else "smsbench.py (Python)")
    md = ["", f"Run {day}, commit {commit}, {os.cpu_count()} CPUs, phones {who}, "
          f"{pairs} pairs; rows per offered rate.", "",
          "| server | offered SMS/s | delivered SMS/s | loss % | CPU µs/SMS (user + kernel) "
          "| imsd cores (mean, busiest s) | machine cores busy | phones µs/SMS "
          "| drops imsd/phones | phones' retransmissions | live tsx peak "
          "| refused 503 (tsx bound/unproven budget) | registration refresh µs (no auth) |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        for s in r["steps"]:
            d = s.get("drops", {})
            drops = (f"{d['imsd']}/{d['senders'] + d['receivers']}" if d else "-")
            md.append(f"| {r['server']} | {s['rate']} | {s['achieved']} | {s['loss_pct']} | "
                      f"{s['cpu_us']} ({s['cpu_us_user']} + {s['cpu_us_kernel']}) | "
                      f"{s.get('server_cores', '-')}, {s.get('imsd_cores_max', '-')} | "
                      f"{s.get('machine_cores', '-')} | {s.get('phones_cpu_us', '-')} | "
                      f"{drops} | {s.get('load', {}).get('retx', '-')} | "
                      f"{s.get('tsx_peak', '-')} | "
                      f"{s.get('overload_503', '-')}/{s.get('unproven_refused', '-')} | "
                      f"{r['register_us']} |")
    sus = [(r["server"], s) for r in results for s in r.get("sustained", [])]
    if sus:
        md += ["", "Held longer than a transaction lives (Timer J 32 s):", "",
               "| server | offered SMS/s for | delivered SMS/s | loss % | refused (non-2xx) "
               "| CPU µs/SMS (user + kernel) | imsd cores (mean, busiest s) "
               "| machine cores busy | drops imsd/phones | phones' retransmissions "
               "| live tsx peak |",
               "|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, s in sus:
            d = s.get("drops", {})
            drops = (f"{d['imsd']}/{d['senders'] + d['receivers']}" if d else "-")
            md.append(f"| {name} | {s['rate']:g} for {s['secs']:g} s | {s['achieved']} | "
                      f"{s['loss_pct']} | {s['errors']} | {s['cpu_us']} ({s['cpu_us_user']} + "
                      f"{s['cpu_us_kernel']}) | {s.get('server_cores', '-')}, "
                      f"{s.get('imsd_cores_max', '-')} | {s.get('machine_cores', '-')} | "
                      f"{drops} | {s.get('load', {}).get('retx', '-')} | {s['tsx_peak']} |")
    md.append("")
    for r in results:
        best = best_rate(r["steps"])
        md.append(f"{r['server']}: highest offered rate with < 0.1 % loss: " +
                  (f"**{best} SMS/s**." if best else "none of the steps."))
    for r in results:
        if "memory" in r:
            m = r["memory"]
            md.append(f"\n{r['server']}: {m['pending']} pending SMS, heap +{m['heap_delta']} B, "
                      f"**{m['bytes_per_sms']} B per pending SMS** (TPDU included).")
    return "\n".join(md) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--imsd-bin", default=os.path.join(ROOT, "build-rel", "imsd"))
    ap.add_argument("--workdir", default="/tmp/smsbench")
    ap.add_argument("--pairs", type=int, default=2000)
    ap.add_argument("--rates", type=lambda v: [int(x) for x in v.split(",")],
                    default=[3000, 5000, 8000, 10000, 12000, 15000, 20000])
    ap.add_argument("--secs", type=float, default=10)
    ap.add_argument("--pending", type=int, default=20000)
    ap.add_argument("--servers", default="imsd,imsd-state")
    ap.add_argument("--sustain", default="10000:40,12000:40",
                    type=lambda v: [tuple(float(x) for x in r.split(":"))
                                    for r in v.split(",")] if v else None,
                    help="RATE:SECS[,RATE:SECS...], more steps held longer than Timer J "
                    "('' for none)")
    ap.add_argument("--phones", choices=("c", "python"), default="c",
                    help="c: bench/sms/smsload (built as build-rel/bench/smsload); "
                    "python: this script's phones (saturate near 3,000 SMS/s)")
    ap.add_argument("--smsload", default=os.path.join(ROOT, "build-rel", "bench", "smsload"))
    ap.add_argument("--retx", type=int, choices=(0, 1), default=1,
                    help="1: the C phones retransmit their MESSAGEs over UDP as a UE "
                    "does (RFC 3261 Timer E), 0: never (a dropped datagram is a lost SMS)")
    ap.add_argument("--log-level", default="error",
                    help="imsd's log level (ims.log in the workdir), e.g. info to see "
                    "why an SMS was not delivered")
    ap.add_argument("--append", help="bench/RESULTS.md to append the report to")
    args = ap.parse_args()
    results = [run(args, s == "imsd-state") for s in args.servers.split(",")]
    md = report(results, benchlib.git_commit(ROOT), args.phones, args.pairs)
    print(md)
    with open(os.path.join(args.workdir, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    if args.append:
        benchlib.append_section(args.append, "## sms — SMS over IP, MO to MT (bench/sms/)", md)


if __name__ == "__main__":
    main()
