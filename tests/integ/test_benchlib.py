"""bench/benchlib.py, the library of the benchmark drivers: its pure functions
(nearest-rank percentile, the /proc/PID/stat, SIPp statistics and RTT
parsers, the CPU split) and the imsd configuration it generates, checked by
the real binary (--check-config)."""
import os
import subprocess
import sys

import pytest

from conftest import IMSD_BIN, ROOT

sys.path.insert(0, os.path.join(ROOT, "bench"))
import benchlib  # noqa: E402


def test_percentile_nearest_rank():
    v = list(range(1, 101))  # 1..100
    assert benchlib.percentile(v, 50) == 50
    assert benchlib.percentile(v, 51) == 51
    assert benchlib.percentile(v, 95) == 95
    assert benchlib.percentile(v, 99) == 99
    assert benchlib.percentile(v, 99.5) == 100
    assert benchlib.percentile(v, 100) == 100
    assert benchlib.percentile(v, 0) == 1
    # unsorted input, and a rank that is not a whole number: ceil
    assert benchlib.percentile([5, 1, 4, 2, 3], 50) == 3      # rank ceil(2.5) = 3
    assert benchlib.percentile([5, 1, 4, 2, 3], 20) == 1      # rank 1
    assert benchlib.percentile([5, 1, 4, 2, 3], 21) == 2      # rank ceil(1.05) = 2
    # exact decimal arithmetic: 95 % of 200 is rank 190, 99.9 % of 1000 rank 999
    assert benchlib.percentile(list(range(200)), 95) == 189
    assert benchlib.percentile(list(range(1000)), 99.9) == 998
    assert benchlib.percentile([7.0], 99) == 7.0
    for bad in (-1, 100.01):
        with pytest.raises(ValueError):
            benchlib.percentile(v, bad)
    with pytest.raises(ValueError):
        benchlib.percentile([], 50)


def test_latency_summary():
    assert benchlib.latency_summary([]) is None
    s = benchlib.latency_summary(iter([4.0, 0.0, 0.0, 8.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]))
    assert s == {"n": 10, "p50": 0.0, "p95": 8.0, "p99": 8.0, "max": 8.0}
    s = benchlib.latency_summary(range(1, 21))
    assert (s["p50"], s["p95"], s["p99"], s["max"]) == (10, 19, 20, 20)


def test_parse_proc_stat_and_cpu_split():
    # a command name with spaces and ')' in it: fields are counted from the last ')'
    line = ("4242 (a) b (c)) S 17 4242 4242 0 -1 4194560 100 0 0 0 "
            "1234 567 0 0 20 0 3 0 99 1000000 200\n")
    assert benchlib.parse_proc_stat(line) == {"ppid": 17, "utime": 1234, "stime": 567}
    with pytest.raises(ValueError):
        benchlib.parse_proc_stat("no parenthesis here")
    a, b = benchlib.Cpu(10, 4), benchlib.Cpu(3, 1)
    assert a - b == benchlib.Cpu(7, 3) and (a - b).total == 10
    assert a + b == benchlib.Cpu(13, 5)
    u, k = benchlib.Cpu(benchlib.CLK, 2 * benchlib.CLK).us_per(1000)
    assert (round(u, 6), round(k, 6)) == (1000.0, 2000.0)
    assert benchlib.Cpu(5, 5).us_per(0) == (None, None)
    # this process, read from /proc: it exists and has run
    me = benchlib.proc_cpu(os.getpid())
    assert me.user >= 0 and me.kernel >= 0 and me.total > 0
    assert benchlib.proc_cpu(2 ** 22 + 1) == benchlib.Cpu(0, 0)  # above pid_max: gone


def test_parse_rtt(tmp_path):
    f = tmp_path / "x_123_rtt.csv"
    f.write_text("Date_ms;response_time_ms;rtd_no\n"
                 "1000.5;0.000000;1\n1001.0;4.000000;2\ngarbage\n"
                 "1002.0;x;1\n1003.0;12.0;1\n")
    assert benchlib.parse_rtt(str(f)) == {"1": [(1000.5, 0.0), (1003.0, 12.0)],
                                          "2": [(1001.0, 4.0)]}
    assert benchlib.rtt_file(str(tmp_path), 123) == str(f)
    assert benchlib.rtt_file(str(tmp_path), 12) is None


def test_parse_stat(tmp_path):
    f = tmp_path / "stat.csv"
    head = ("StartTime;OutgoingCall(C);SuccessfulCall(C);FailedCall(C);Retransmissions(C);"
            "FailedTimeoutOnRecv(C);FailedMaxUDPRetrans(C);FailedUnexpectedMessage(C);"
            "FailedAuthentication(C);WatchdogMajor(C);DeadCallMsgs(C)")
    f.write_text(head + "\n" + "t0;5;4;1;2;0;0;0;0;0;0\n" + "t1;10;8;2;3;1;1;0;1;0;;\n\n")
    st = benchlib.parse_stat(str(f))
    assert st == {"ok": 8, "failed": 2, "created": 10, "retrans": 3, "timeouts": 2,
                  "unexpected": 0, "auth_failed": 1, "watchdog_major": 0, "dead_msgs": 0}


def test_append_section(tmp_path):
    f = tmp_path / "R.md"
    f.write_text("# R\n\n## a\n\nold a\n\n## b\n\nold b\n")
    benchlib.append_section(str(f), "## a", "| new |")
    benchlib.append_section(str(f), "## c", "new c")
    assert f.read_text() == ("# R\n\n## a\n\nold a\n\n| new |\n\n## b\n\nold b\n\n"
                             "## c\n\nnew c\n")


def test_imsd_config_accepted_by_imsd(tmp_path):
    """The configuration the register bench generates (users, state file) is
    one imsd accepts, and a broken one is refused: the check can fail."""
    rows = [{"sim_algo": "milenage", "authent_type": "AKAv1", "imsi": "001010000000001",
             "impi": "001010000000001@ims.test", "impu": ["001010000000001"],
             "K": "00" * 16, "op": "11" * 16, "amf": "8000", "sqn": "000000000000"}]
    settings = [("log_filename", "imsd.log"), ("sip_addr", ["127.0.0.1:15999"]),
                ("domain", "ims.test"), ("ipsec", False),
                ("ue_db_filename", str(tmp_path / "ims.state")), ("timer_t1", 0.5),
                ("binding_expires", 3600)]
    text = benchlib.imsd_config(settings, rows, comment="test")
    assert text.startswith("/* test */\n{\n") and '  ipsec: false,\n' in text
    assert '    { sim_algo: "milenage", ' in text and 'impu: ["001010000000001"]' in text
    good = tmp_path / "good.cfg"
    good.write_text(text)
    r = subprocess.run([IMSD_BIN, "--check-config", str(good)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    bad = tmp_path / "bad.cfg"
    bad.write_text(benchlib.imsd_config([(k, "soon" if k == "timer_t1" else v)
                                         for k, v in settings], rows))
    r = subprocess.run([IMSD_BIN, "--check-config", str(bad)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode != 0
