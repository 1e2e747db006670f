"""OPTIONS over the wire: SIPp over UDP and TCP, IPv4 and IPv6; tshark as an
independent decoder of what imsd sent; the "addressed to us" rule."""
import os
import shutil
import signal
import subprocess
import time

import pytest

from sipstack import (SIPP_DIR, UA, header, options, run_sipp, start_sip_imsd, status_of,
                      udp_sock)

UAC = os.path.join(SIPP_DIR, "options_uac.xml")


@pytest.mark.parametrize("transport", ["u1", "t1"])
@pytest.mark.parametrize("family", ["v4", "v6"])
def test_options_sipp(imsd_factory, tmp_path, transport, family):
    d, port, _ = start_sip_imsd(imsd_factory, tmp_path)
    local = "127.0.0.1" if family == "v4" else "::1"
    remote = f"127.0.0.1:{port}" if family == "v4" else f"[::1]:{port}"
    r = run_sipp(["-sf", UAC, "-t", transport, "-i", local, remote, "-m", "20", "-r", "50",
                  "-timeout", "15s", "-recv_timeout", "5s", "-trace_err",
                  "-error_file", str(tmp_path / "sipp_err.log")], timeout=30)
    err = (tmp_path / "sipp_err.log").read_text(errors="replace") \
        if (tmp_path / "sipp_err.log").exists() else ""
    assert r.returncode == 0, f"sipp failed ({r.returncode}): {err[-2000:]}"
    assert d.proc.poll() is None


def _tshark_try(prefix, pcap, port, errpath):
    """tshark capturing on lo for the port: (process, stderr file) once it is
    capturing, or (None, its error text)."""
    errf = open(errpath, "wb")
    try:
        p = subprocess.Popen([*prefix, "tshark", "-i", "lo", "-f", f"port {port}", "-w",
                              str(pcap), "-a", "duration:60"],
                             stdout=subprocess.DEVNULL, stderr=errf)
    except OSError as e:
        errf.close()
        return None, str(e)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        txt = errpath.read_text(errors="replace")
        if "Capturing on" in txt:
            return p, errf
        if p.poll() is not None:
            break
        time.sleep(0.1)
    if p.poll() is None:
        p.kill()
        p.wait(5)
    errf.close()
    return None, errpath.read_text(errors="replace")[-300:]


def _tshark_start(pcap, port, tmp_path):
    """tshark capturing on lo for the port; returns (process, stderr file,
    the prefix it runs with) once it is capturing. A capture that cannot
    start fails the test: tshark is part of the project's test tools."""
    if shutil.which("tshark") is None:
        pytest.fail("tshark is not installed: scripts/install-deps.sh installs it (make deps)")
    prefix = []  # root (CI), or dumpcap with the capture capabilities
    p, err = _tshark_try(prefix, pcap, port, tmp_path / "tshark.err")
    if p is None and os.geteuid() != 0:
        prefix = ["sudo", "-n"]
        p, err2 = _tshark_try(prefix, pcap, port, tmp_path / "tshark.err")
        err = f"{err} / with sudo -n: {err2}"
    if p is None:
        pytest.fail("tshark cannot capture on lo (run the tests as root, as CI does, or give "
                    "dumpcap cap_net_raw,cap_net_admin, or allow sudo -n): " + err)
    return p, err, prefix


def test_options_tshark_decodes_200(imsd_factory, tmp_path):
    d, port, _ = start_sip_imsd(imsd_factory, tmp_path)
    pcap = tmp_path / "opt.pcap"
    cap, errf, prefix = _tshark_start(pcap, port, tmp_path)
    try:
        r = run_sipp(["-sf", UAC, "-t", "u1", "-i", "127.0.0.1", f"127.0.0.1:{port}",
                      "-m", "5", "-r", "20", "-timeout", "10s"], timeout=20)
        assert r.returncode == 0
        time.sleep(0.5)  # let the last packets reach the capture buffer
    finally:
        cap.send_signal(signal.SIGINT)
        try:
            cap.wait(15)
        except subprocess.TimeoutExpired:
            cap.kill()
            cap.wait(5)
        errf.close()
    out = subprocess.run(
        [*prefix, "tshark", "-r", str(pcap), "-d", f"udp.port=={port},sip", "-Y", "sip.Status-Code == 200",
         "-T", "fields", "-E", "separator=|", "-e", "sip.Status-Code", "-e", "sip.CSeq.method",
         "-e", "sip.Allow", "-e", "sip.Supported", "-e", "sip.Server", "-e", "sip.Accept-Encoding",
         "-e", "sip.to.tag"],
        capture_output=True, text=True, timeout=30)
    rows = [line.split("|") for line in out.stdout.splitlines() if line.strip()]
    assert len(rows) == 5, f"tshark saw {len(rows)} 200 OK: {out.stdout} {out.stderr}"
    for code, meth, allow, supported, server, acc_enc, totag in rows:
        assert code == "200" and meth == "OPTIONS"
        assert "OPTIONS" in allow and "ACK" in allow and "CANCEL" in allow
        # ipsec is on by default (manual §5), but loopback addresses cannot
        # carry SAs: sec-agree is not claimed (test_options_no_sec_agree_without_ipsec);
        # 100rel, precondition, timer: the calls act on them (global defaults on)
        assert [t.strip() for t in supported.split(",")] == ["path", "100rel",
                                                             "precondition", "timer"], supported
        assert server == UA
        assert acc_enc == "identity"
        assert totag


def test_options_rule(imsd_factory, tmp_path):
    """200 for the server (no user part, or our address), 404 for a user."""
    d, port, _ = start_sip_imsd(imsd_factory, tmp_path)
    s = udp_sock()
    me = s.getsockname()[1]
    cases = [(f"sip:127.0.0.1:{port}", 200), ("sip:ims.test", 200),
             (f"sip:ping@127.0.0.1:{port}", 200), ("sip:alice@ims.test", 404),
             ("sip:bob@192.0.2.7", 404), ("tel:+33612345678", 404)]
    for i, (ruri, want) in enumerate(cases):
        s.sendto(options(ruri, "127.0.0.1", me, f"z9hG4bKrule{i}", f"rule{i}@t"),
                 ("127.0.0.1", port))
        resp, _ = s.recvfrom(65536)
        code, _ = status_of(resp)
        assert code == want, f"{ruri}: {code}"
        if code == 200:
            assert "OPTIONS" in header(resp, "Allow")
            assert header(resp, "Accept") is not None
            assert header(resp, "Accept-Language") == "en"
        assert header(resp, "Server") == UA
    s.close()


@pytest.mark.parametrize("ipsec", ["false", "true"])
def test_options_no_sec_agree_without_ipsec(imsd_factory, tmp_path, ipsec):
    """Supported lists what the server acts on: not sec-agree when IPsec does not
    run (ipsec false, or true on loopback addresses, which cannot carry SAs: the
    log says so at start). With IPsec running: test_ipsec_register.py."""
    d, port, _ = start_sip_imsd(imsd_factory, tmp_path, extra=f"ipsec: {ipsec},")
    s = udp_sock()
    s.sendto(options(f"sip:127.0.0.1:{port}", "127.0.0.1", s.getsockname()[1], "z9hG4bKsa1",
                     "sa1@t"), ("127.0.0.1", port))
    resp, _ = s.recvfrom(65536)
    assert status_of(resp)[0] == 200
    assert header(resp, "Supported") == "path, 100rel, precondition, timer"
    s.close()
    log = (tmp_path / "ims.log").read_text()
    assert ("ipsec is true, but no sip_addr names an IP that can carry SAs" in log) == (
        ipsec == "true"), log[-2000:]


def test_options_supported_follows_100rel_and_precondition(imsd_factory, tmp_path):
    """With the global 100rel false, precondition off and session_expires 0 the
    calls neither send reliable provisionals nor take preconditions nor session
    timers: OPTIONS does not claim them."""
    d, port, _ = start_sip_imsd(imsd_factory, tmp_path,
                                extra='ipsec: false, "100rel": false, precondition: "off", '
                                      'session_expires: 0,')
    s = udp_sock()
    s.sendto(options(f"sip:127.0.0.1:{port}", "127.0.0.1", s.getsockname()[1], "z9hG4bKsp1",
                     "sp1@t"), ("127.0.0.1", port))
    resp, _ = s.recvfrom(65536)
    assert status_of(resp)[0] == 200
    assert header(resp, "Supported") == "path"
    s.close()
