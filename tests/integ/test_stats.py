"""The monitor command `stats` (docs/monitor.md) against the real binary:
every line present, sane values at idle, the registrar's counts and the SIP
counters after a scripted IMS-AKA registration and a reg-event
subscription, `stats trim`, `help stats`, and a bad argument."""
import os
import re
import socket
import threading
import time

from conftest import free_port, minimal_cfg
from sipstack import options, start_sip_imsd, status_of, udp_sock
from test_register_ue import Ue, _auth, _cfg, _challenge, _ue_side

LAST = "registrar.mem"  # the last line of the output (docs/monitor.md)

INTS = ["instance_id", "rss", "heap_in_use", "heap_free", "heap_arena", "heap_trims",
        "heap_trim_released", "sip.tsx_server", "sip.tsx_client", "registrar.users",
        "registrar.bindings", "registrar.subscriptions", "registrar.challenges",
        "registrar.locked", "registrar.mem", "cscf.dispatched", "cscf.orig",
        "cscf.not_found", "cscf.not_orig", "cscf.bad_event", "cscf.cfm", "counters.sip.rx_req", "counters.sip.rx_resp",
        "counters.sip.rx_undecodable", "counters.sip.rx_rejected",
        "counters.sip.rx_dropped", "counters.sip.tx_msgs", "counters.sip.tx_err",
        "counters.sip.overload_503", "counters.sip.rx_oversize", "counters.sip.tx_over_tcp",
        "counters.sip.tx_udp_fallback", "counters.sip.tx_unproven",
        "counters.sip.tx_unproven_refused", "counters.sip.tsx_key_503", "counters.loop.wakeups",
        "counters.loop.naps"]
FLOATS = ["uptime", "interval", "heap_age", "cpu.user", "cpu.system", "cpu.total", "cpu_time.user",
          "cpu_time.system"]
ORDER = ["instance_id", "uptime", "interval", "cpu.user", "cpu.system", "cpu.total",
         "cpu_time.user", "cpu_time.system", "counters.sip.rx_req", "counters.sip.rx_resp",
         "counters.sip.rx_undecodable", "counters.sip.rx_rejected", "counters.sip.rx_dropped",
         "counters.sip.tx_msgs", "counters.sip.tx_err", "counters.sip.overload_503",
         "counters.sip.rx_oversize", "counters.sip.tx_over_tcp", "counters.sip.tx_udp_fallback",
         "counters.sip.tx_unproven", "counters.sip.tx_unproven_refused", "counters.sip.tsx_key_503", "counters.loop.wakeups", "counters.loop.naps", "allocator", "rss", "heap_in_use", "heap_free", "heap_arena", "heap_age",
         "heap_trims", "heap_trim_released", "sip.tsx_server", "sip.tsx_client", "cscf.dispatched",
         "cscf.orig", "cscf.not_found", "cscf.not_orig", "cscf.bad_event", "cscf.cfm", "registrar.users",
         "registrar.bindings", "registrar.subscriptions", "registrar.challenges",
         "registrar.locked", "registrar.mem"]


def parse(text):
    """`name: value` lines -> dict of numbers (allocator stays a string)."""
    names, vals = [], {}
    for line in text.splitlines():
        m = re.match(r"^([a-z_.0-9]+): (\S+)$", line)
        if not m:
            continue
        k, v = m.groups()
        names.append(k)
        if k in INTS or k.startswith("rss_") or k.startswith("heap_free_"):
            assert re.fullmatch(r"-?\d+", v), line
            vals[k] = int(v)
        elif k in FLOATS or k == "trim_time":
            assert re.fullmatch(r"\d+\.\d+", v), line
            vals[k] = float(v)
        else:
            vals[k] = v
    return names, vals


def run_cmd(d, line, last):
    """Output of a monitor command up to the end of its line `last: ...`."""
    start = len(d.out)
    d.proc.stdin.write(line.encode() + b"\n")
    d.proc.stdin.flush()
    end = d.wait_out(f"\n{last}: ", start=start)
    end = d.wait_out("\n", start=end)
    return parse(d.out[start:end].decode())


def run_stats(d):
    names, vals = run_cmd(d, "stats", LAST)
    assert names == ORDER, names
    return vals


def test_stats_idle(tmp_path, imsd_factory):
    d = imsd_factory(minimal_cfg(tmp_path))
    d.wait_ready()
    s = run_stats(d)
    assert s["instance_id"] > 0
    assert s["rss"] > 1 << 20
    assert s["heap_in_use"] > 0 and s["heap_arena"] > 0
    assert s["allocator"] in ("glibc", "sanitizer")
    assert s["sip.tsx_server"] == 0 and s["sip.tsx_client"] == 0
    for k in ("users", "bindings", "subscriptions", "challenges"):
        assert s["registrar." + k] == 0, k
    assert s["registrar.mem"] > 0
    assert s["counters.sip.rx_req"] == 0
    # the first interval starts with the process
    assert 0 < s["interval"] <= s["uptime"] + 0.001
    assert s["cpu_time.user"] + s["cpu_time.system"] > 0  # start-up work
    t = run_stats(d)
    assert t["instance_id"] == s["instance_id"]
    assert t["uptime"] >= s["uptime"]
    assert t["interval"] <= t["uptime"] - s["uptime"] + 0.002
    # % of one core is the CPU seconds over the interval
    for k in ("user", "system"):
        if t["interval"] >= 0.01:
            want = 100.0 * t["cpu_time." + k] / t["interval"]
            assert abs(t["cpu." + k] - want) <= 0.02 + want * 0.01, (k, t)
    assert abs(t["cpu.total"] - t["cpu.user"] - t["cpu.system"]) <= 0.011
    # each command woke the loop after a long wait: no nap
    assert t["counters.loop.wakeups"] >= 1 and t["counters.loop.naps"] == 0
    assert t["cpu.total"] <= 100.0 * (os.cpu_count() or 1) + 1


def test_stats_counts_registration(tmp_path, imsd_factory):
    port = free_port()
    d = imsd_factory(_cfg(tmp_path, port))
    d.wait_ready()
    run_stats(d)  # starts a fresh interval
    ue = Ue(port)
    try:
        code, resp = ue.register()
        assert code == 401
        s = run_stats(d)
        assert s["registrar.challenges"] == 1
        assert s["registrar.users"] == 0 and s["registrar.bindings"] == 0
        assert s["sip.tsx_server"] == 0  # the 401 goes out statelessly
        assert s["counters.sip.rx_req"] == 1 and s["counters.sip.tx_msgs"] == 1
        ch = _challenge(resp)
        res = _ue_side(ch["nonce"])
        code, resp = ue.register(auth=_auth(ch["nonce"], res["response"]))
        assert code == 200, resp
        s = run_stats(d)
        assert s["registrar.users"] == 1 and s["registrar.bindings"] == 1
        assert s["sip.tsx_server"] == 1  # the 200's, Completed for Timer J (UDP)
        assert s["counters.sip.rx_req"] == 1  # the interval restarted
        code, _ = ue.subscribe()
        assert code == 200
        ue.wait_notify(r"state=\"full\"")
        s = run_stats(d)
        assert s["registrar.subscriptions"] == 1
        assert s["sip.tsx_client"] == 1  # the NOTIFY, Completed for T4
        assert s["counters.sip.rx_resp"] == 1  # the UE's 200 to it
        # unregistering (expires 0) counts down again
        ue.register(expires=0, auth=_auth(ch["nonce"], _ue_side(
            ch["nonce"], nc="00000002")["response"], nc="00000002"))
        s = run_stats(d)
        assert s["registrar.bindings"] == 0 and s["registrar.users"] == 0
    finally:
        ue.close()


def test_stats_loop_naps_under_load(tmp_path, imsd_factory):
    """2,000 OPTIONS, one every 100 us: the loop, woken by nearly every
    request, finds itself busy and naps (docs/loop.md), so that a wake-up
    takes several requests; every request is still answered. (Without naps
    an idle machine wakes about once per request.)"""
    d, port, _ = start_sip_imsd(imsd_factory, tmp_path, level="error")
    s = udp_sock()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    n, codes = 2000, []

    def reader():
        while len(codes) < n:
            try:
                codes.append(status_of(s.recv(65536))[0])
            except OSError:  # timeout: the assertion below says what is missing
                return

    try:
        run_stats(d)  # a fresh interval
        t = threading.Thread(target=reader)
        t.start()
        msgs = [options(f"sip:imsd@127.0.0.1:{port}", "127.0.0.1", s.getsockname()[1],
                        f"z9hG4bKnap{i}", f"nap{i}@test") for i in range(n)]
        start = time.perf_counter()
        for i, m in enumerate(msgs):
            while time.perf_counter() < start + i * 0.0001:
                pass
            s.sendto(m, ("127.0.0.1", port))
        t.join(30)
        assert codes == [200] * n, (len(codes), set(codes))
        st = run_stats(d)
        assert st["counters.sip.rx_req"] == n and st["counters.sip.tx_msgs"] == n, st
        # a wake-up takes several requests: thanks to naps, or, on a machine
        # so loaded that the requests came in bursts anyway, without them
        assert st["counters.loop.wakeups"] * 2 < n, st
        assert st["counters.loop.naps"] >= 1 or st["counters.loop.wakeups"] * 20 < n, st
    finally:
        s.close()


def test_heap_trimmed_after_a_burst(tmp_path, imsd_factory):
    """The housekeeping timer (every 10 s, docs/monitor.md) gives the heap
    back after a burst: 100,000 OPTIONS whose transactions all expire (Timer
    J = 64 x 0.1 s) between two of its looks, so it sees the burst only by
    the stack's high-water mark. Takes 10-20 s."""
    d, port, log = start_sip_imsd(imsd_factory, tmp_path, level="error,ims.level=debug",
                                  extra="timer_t1: 0.1, timer_t2: 0.4,")
    s = udp_sock()
    try:
        me = s.getsockname()[1]
        for i in range(100000):
            s.sendto(options(f"sip:imsd@127.0.0.1:{port}", "127.0.0.1", me,
                             f"z9hG4bKtrim{i}", f"trim{i}@test"), ("127.0.0.1", port))
            if i % 500 == 499:
                time.sleep(0.01)  # the server reads as fast as it can; drops are fine
        deadline = time.monotonic() + 45
        while True:
            st = run_stats(d)
            if st["heap_trims"] >= 1:
                break
            assert time.monotonic() < deadline, st
            time.sleep(0.5)
        text = open(log, errors="replace").read()
        m = re.search(r"heap trim: rss (\d+) -> (\d+) bytes, free heap (\d+) -> \d+ of arena", text)
        assert m, text[-2000:]
        assert int(m.group(3)) > 64 << 20, m.group(0)
        if st["allocator"] == "glibc":  # ASan's allocator keeps its pages
            assert st["heap_trim_released"] > 32 << 20, st
    finally:
        s.close()


def test_stats_trim(tmp_path, imsd_factory):
    d = imsd_factory(minimal_cfg(tmp_path))
    d.wait_ready()
    names, v = run_cmd(d, "stats trim", "trim_time")
    assert names == ["rss_before", "rss_after", "rss_released", "heap_free_before",
                     "heap_free_after", "trim_time"], names
    assert v["rss_before"] > 0 and v["rss_after"] > 0
    assert v["rss_released"] == v["rss_before"] - v["rss_after"]
    assert v["heap_free_after"] <= v["heap_free_before"] + 4096
    # a non-negative number of seconds (parse: digits.digits); how long a
    # trim takes is a figure of bench/register (its memory table), not a test
    assert isinstance(v["trim_time"], float) and v["trim_time"] >= 0
    assert run_stats(d)["rss"] > 0


def test_help_stats_and_bad_argument(tmp_path, imsd_factory):
    d = imsd_factory(minimal_cfg(tmp_path))
    d.wait_ready()
    out = d.command("help", "details about a command")
    assert re.search(r"^  stats +process statistics", out, re.M), out
    out = d.command("help stats", "rss_released")
    assert "stats [trim]" in out and "heap_in_use" in out
    out = d.command("stats nope", "[trim]\n")
    assert out.startswith("Error: usage: stats [trim]\n"), out
    out = d.command("stats trim now", "[trim]\n")
    assert out.startswith("Error: usage: stats [trim]\n"), out
    s = run_stats(d)  # still working
    assert s["rss"] > 0
    assert d.proc.poll() is None
