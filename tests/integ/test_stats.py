"""The monitor command `stats` (docs/monitor.md) against the real binary:
every line present, sane values at idle, the registrar's counts and the SIP
counters after a scripted IMS-AKA registration and a reg-event
subscription, `stats trim`, `help stats`, and a bad argument."""
import os
import re

from conftest import free_port, minimal_cfg
from test_register_ue import Ue, _auth, _cfg, _challenge, _ue_side

LAST = "registrar.mem"  # the last line of the output (docs/monitor.md)

INTS = ["instance_id", "rss", "heap_in_use", "heap_free", "heap_arena", "heap_trims",
        "heap_trim_released", "sip.tsx_server", "sip.tsx_client", "registrar.users",
        "registrar.bindings", "registrar.subscriptions", "registrar.challenges",
        "registrar.mem", "counters.sip.rx_req", "counters.sip.rx_resp",
        "counters.sip.rx_undecodable", "counters.sip.rx_rejected",
        "counters.sip.rx_dropped", "counters.sip.tx_msgs", "counters.sip.tx_err",
        "counters.sip.overload_503", "counters.sip.rx_oversize"]
FLOATS = ["uptime", "interval", "cpu.user", "cpu.system", "cpu.total", "cpu_time.user",
          "cpu_time.system"]
ORDER = ["instance_id", "uptime", "interval", "cpu.user", "cpu.system", "cpu.total",
         "cpu_time.user", "cpu_time.system", "counters.sip.rx_req", "counters.sip.rx_resp",
         "counters.sip.rx_undecodable", "counters.sip.rx_rejected", "counters.sip.rx_dropped",
         "counters.sip.tx_msgs", "counters.sip.tx_err", "counters.sip.overload_503",
         "counters.sip.rx_oversize", "allocator", "rss", "heap_in_use", "heap_free", "heap_arena", "heap_trims",
         "heap_trim_released", "sip.tsx_server", "sip.tsx_client", "registrar.users",
         "registrar.bindings", "registrar.subscriptions", "registrar.challenges",
         "registrar.mem"]


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


def test_stats_trim(tmp_path, imsd_factory):
    d = imsd_factory(minimal_cfg(tmp_path))
    d.wait_ready()
    names, v = run_cmd(d, "stats trim", "trim_time")
    assert names == ["rss_before", "rss_after", "rss_released", "heap_free_before",
                     "heap_free_after", "trim_time"], names
    assert v["rss_before"] > 0 and v["rss_after"] > 0
    assert v["rss_released"] == v["rss_before"] - v["rss_after"]
    assert v["heap_free_after"] <= v["heap_free_before"] + 4096
    assert 0 <= v["trim_time"] < 10
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
