"""Calls over the wire (docs/calls.md): SIPp as both UEs, registered with
AKAv1-MD5 from the port they then call or are called on, through the real
imsd as B2BUA.

Each UE registers first (sipp/call_reg.xml, its own SIPp run), then a SIPp
UAS scenario (call_uas*.xml) waits on the callee's registered port and a UAC
scenario (call_uac*.xml) calls from the caller's: the CSCF stage knows the
caller by that flow, and imsd reaches the callee over its binding's flow.
A raw socket sharing a registered port checks the answers a SIPp scenario
cannot carry (481, 403). The SIP log shows one id (Call-ID) per dialog:
the caller's and a new one on each branch towards the callee.

SIPp 3.6.1 reads aka_K/aka_OP/aka_AMF as raw text, so the users are
provisioned with the hex of those ASCII strings (as test_register.py).
"""
import binascii
import os
import re
import shutil
import socket
import subprocess
import time

import pytest

from conftest import Imsd, free_port

HERE = os.path.dirname(os.path.abspath(__file__))
SIPP_DIR = os.path.join(HERE, "sipp")
SIPP = shutil.which("sipp")
TSHARK = shutil.which("tshark")

AKA_K = binascii.hexlify(b"imsd-sipp-test-k").decode()
AKA_OP = binascii.hexlify(b"imsd-sipp-testop").decode()
AKA_AMF = binascii.hexlify(b"00").decode()
AUTH = "[authentication username={u}@ims.test aka_K=imsd-sipp-test-k " \
       "aka_OP=imsd-sipp-testop aka_AMF=00]"
HOST = "127.0.0.1"


def user(imsi, name, extra=""):
    return (f'{{ imsi: "{imsi}", impi: "{name}@ims.test", '
            f'impu: [{{ impu: "sip:{name}", display_name: "{name.title()}" {extra} }}], '
            f'K: "{AKA_K}", op: "{AKA_OP}", amf: "{AKA_AMF}" }}')


@pytest.fixture
def ims(tmp_path):
    assert SIPP, "sipp is not installed (make deps installs sip-tester)"
    port = free_port()
    log = tmp_path / "ims.log"
    cfg = tmp_path / "ims.cfg"
    cfg.write_text(f"""{{
  log_filename: "{log}",
  log_options: "all.level=debug",
  sip_addr: ["{HOST}:{port}"],
  domain: "ims.test",
  user_agent: "imsd-test",
  p_called_party_id: true,
  dialog_timeout: 3,
  echo: ["sip:echo", "tel:+33600009999"],
  ue_db: [
    {user("001010000000201", "alice", ", answer_delay: 0.3")},
    {user("001010000000202", "bob")},
    {user("001010000000203", "carol")},
    {user("001010000000204", "dave", ", ring_only: true")},
  ],
}}
""")
    d = Imsd(str(cfg))
    try:
        d.wait_ready()
        yield d, port, str(log), tmp_path
    finally:
        d.stop()
    assert not d.sanitizer_report(), d.sanitizer_report()


def sipp_cmd(tmp, scenario, port, lport, name, service=None, imei="35000000-000001-0"):
    inf = tmp / f"{name}-{lport}.csv"
    inf.write_text(f"SEQUENTIAL\n{name};{AUTH.format(u=name)};{imei}\n")
    cmd = [SIPP, "-sf", os.path.join(SIPP_DIR, scenario + ".xml"), "-inf", str(inf),
           "-m", "1", "-i", HOST, "-p", str(lport), "-t", "u1", "-nostdin",
           "-timeout", "25s", "-timeout_error", "-max_retrans", "5",
           "-trace_err", "-error_file", str(tmp / f"{scenario}-{lport}.err")]
    if service:
        cmd += ["-s", service]
    return cmd + [f"{HOST}:{port}"]


def run(cmd, tmp, timeout=40):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, cwd=tmp)
    return p.returncode, (p.stdout + p.stderr).decode(errors="replace")[-3000:]


def register(ims, name, lport, imei="35000000-000001-0"):
    d, port, log, tmp = ims
    rc, out = run(sipp_cmd(tmp, "call_reg", port, lport, name, imei=imei), tmp)
    assert rc == 0, f"{name} did not register:\n{out}"


def start_uas(ims, scenario, lport, name="bob"):
    d, port, log, tmp = ims
    p = subprocess.Popen(sipp_cmd(tmp, scenario, port, lport, name), cwd=tmp,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.3)  # SIPp binds its port before it reads the scenario's first recv
    return p


def wait_uas(p, timeout=40):
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate(timeout=5)
    return p.returncode, (out + err).decode(errors="replace")[-3000:]


def call(ims, uac, uas, callee="bob", caller="alice", callee_ports=None):
    """Registers caller and callee, runs the callee scenario(s) and the caller's.
    Returns (caller rc, out, [(callee rc, out)])."""
    d, port, log, tmp = ims
    a = free_port()
    register(ims, caller, a)
    ports = callee_ports or ([free_port()] if uas else [])
    for i, bp in enumerate(ports):
        register(ims, callee, bp, imei=f"35000000-00001{i}-0")
    uass = [start_uas(ims, s, bp, callee) for s, bp in zip(uas if isinstance(uas, list)
                                                          else [uas] * len(ports), ports)]
    rc, out = run(sipp_cmd(tmp, uac, port, a, caller, service=callee), tmp)
    return rc, out, [wait_uas(p) for p in uass]


def log_text(ims):
    with open(ims[2], errors="replace") as f:
        return f.read()


def test_call_bye_from_caller(ims):
    rc, out, uas = call(ims, "call_uac", "call_uas")
    assert rc == 0, out
    assert uas[0][0] == 0, uas[0][1]
    text = log_text(ims)
    # one id per dialog: the caller's Call-ID, and the branch's own on
    # every message of the callee's dialog
    a_id = re.search(r"\[SIP\]\s+FROM\s+(\S+) INVITE sip:bob@ims.test", text).group(1)
    b_id = re.search(r"\[SIP\]\s+TO\s+(\S+) INVITE sip:bob@127", text).group(1)
    assert a_id != b_id
    assert re.search(r"\[SIP\]\s+FROM\s+" + re.escape(a_id) + " BYE ", text), text[-3000:]
    assert re.search(r"\[SIP\]\s+TO\s+" + re.escape(b_id) + " BYE ", text), text[-3000:]
    assert re.search(r"\[SIP\]\s+FROM\s+" + re.escape(b_id) + " SIP/2.0 200 OK", text)
    assert re.search(r"call \d+ \(sip:alice@ims.test -> sip:bob@ims.test\): start", text), \
        text[-2000:]
    assert "BYE from the caller" in text


def test_call_bye_from_callee(ims):
    rc, out, uas = call(ims, "call_uac_recvbye", "call_uas_bye")
    assert rc == 0, out
    assert uas[0][0] == 0, uas[0][1]
    assert "BYE from the callee" in log_text(ims)


def test_busy_relayed(ims):
    rc, out, uas = call(ims, "call_uac_busy", "call_uas_busy")
    assert rc == 0, out
    assert uas[0][0] == 0, uas[0][1]


def test_cancel_from_caller(ims):
    rc, out, uas = call(ims, "call_uac_cancel", "call_uas_ring")
    assert rc == 0, out
    assert uas[0][0] == 0, uas[0][1]
    assert "CANCEL from the caller" in log_text(ims)


def test_no_answer_408_after_dialog_timeout(ims):
    # dialog_timeout: 3 s of no signalling while ringing ends the call:
    # 408 to the caller, CANCEL (then 487) to the callee
    rc, out, uas = call(ims, "call_uac_noanswer", "call_uas_ring")
    assert rc == 0, out
    assert uas[0][0] == 0, uas[0][1]


def test_fork_to_two_bindings(ims):
    # bob on two ports: the first answers, the other rings and is CANCELled
    ports = [free_port(), free_port()]
    rc, out, uas = call(ims, "call_uac", ["call_uas", "call_uas_ring"], callee_ports=ports)
    assert rc == 0, out
    assert uas[0][0] == 0, uas[0][1]
    assert uas[1][0] == 0, uas[1][1]


def test_hold_resume_reinvite(ims):
    rc, out, uas = call(ims, "call_uac_hold", "call_uas_hold")
    assert rc == 0, out
    assert uas[0][0] == 0, uas[0][1]
    text = log_text(ims)
    assert re.search(r"call \d+ .*: hold", text)


def test_echo(ims):
    # alice's answer_delay (0.3 s) delays the 200
    rc, out, _ = call(ims, "call_uac_echo", None, callee="echo")
    assert rc == 0, out
    text = log_text(ims)
    assert re.search(r"call \d+ \(sip:alice@ims.test -> sip:echo@ims.test\): start", text)


def test_unknown_callee_404(ims):
    rc, out, _ = call(ims, "call_uac_404", None, callee="nobody")
    assert rc == 0, out


def test_not_registered_480(ims):
    rc, out, _ = call(ims, "call_uac_480", None, callee="carol")
    assert rc == 0, out


def test_ring_only_stops_at_180(ims):
    # dave has ring_only: imsd rings (180) and goes no further; the caller
    # gives up with CANCEL
    rc, out, _ = call(ims, "call_uac_cancel", None, callee="dave")
    assert rc == 0, out


def raw(sock, port, msg):
    sock.sendto(msg.encode(), (HOST, port))


def recv_status(sock, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data, _ = sock.recvfrom(65536)
        except socket.timeout:
            break
        m = re.match(rb"SIP/2\.0 (\d{3}) ", data)
        if m and int(m.group(1)) >= 200:
            return int(m.group(1)), data.decode(errors="replace")
    return None, ""


def req(method, lport, to_tag="", ruri="sip:bob@ims.test", cseq=1):
    tag = f";tag={to_tag}" if to_tag else ""
    return (f"{method} {ruri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {HOST}:{lport};branch=z9hG4bK{method}{lport}{cseq};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:alice@ims.test>;tag=r1\r\n"
            f"To: <sip:bob@ims.test>{tag}\r\nCall-ID: raw-{method}-{lport}@test\r\n"
            f"CSeq: {cseq} {method}\r\nContact: <sip:alice@{HOST}:{lport}>\r\n"
            f"Content-Length: 0\r\n\r\n")


def test_no_dialog_481_and_unregistered_403(ims):
    d, port, log, tmp = ims
    a = free_port()
    register(ims, "alice", a)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((HOST, a))
    try:
        for m in ("BYE", "UPDATE", "INFO"):
            raw(s, port, req(m, a, to_tag="nosuch"))
            assert recv_status(s)[0] == 481, m
        raw(s, port, req("INVITE", a, to_tag="nosuch"))
        assert recv_status(s)[0] == 481
    finally:
        s.close()
    # a port that never registered cannot call
    o = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    o.bind((HOST, 0))
    try:
        raw(o, port, req("INVITE", o.getsockname()[1]))
        assert recv_status(o)[0] == 403
    finally:
        o.close()


def test_monitor_dialog_lists_and_stops(ims):
    d = ims[0]
    # a call that rings until stopped from the monitor: dave rings only
    a = free_port()
    register(ims, "alice", a)
    tmp = ims[3]
    p = subprocess.Popen(sipp_cmd(tmp, "call_uac_487", ims[1], a, "alice",
                                  service="dave"), cwd=tmp,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:  # until the INVITE has come
            text = d.command("dialog", "dialog(s)")
            if "ringing" in text or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        m = re.search(r"^\s*(\d+)\s+\S+\s+ringing\s+server\s+sip:alice@ims.test\s+sip:dave@ims.test",
                      text, re.M)
        assert m, text
        d.command(f"dialog_set {m.group(1)} stop", "stopped")
        text = d.command("dialog", "dialog(s)")
        assert re.search(r"stop\s+server", text), text
    finally:
        rc, out = wait_uas(p, timeout=30)
    assert rc == 0, out


def test_capture_decodes_without_malformed(ims):
    assert TSHARK, "tshark is not installed (make deps installs it)"
    d, port, log, tmp = ims
    pcap = tmp / "call.pcap"
    cap = subprocess.Popen([TSHARK, "-i", "lo", "-f", f"udp port {port}", "-w", str(pcap),
                            "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(1.0)
        rc, out, uas = call(ims, "call_uac", "call_uas")
        assert rc == 0, out
        time.sleep(0.5)
    finally:
        cap.terminate()
        cap.communicate(timeout=10)
    p = subprocess.run([TSHARK, "-r", str(pcap), "-d", f"udp.port=={port},sip", "-Y",
                        "sip || _ws.malformed"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    text = p.stdout.decode(errors="replace")
    assert "Malformed" not in text, text
    assert text.count("INVITE") >= 2, text  # the caller's and the branch's
    assert "Status: 200 OK" in text or " 200 OK" in text, text
