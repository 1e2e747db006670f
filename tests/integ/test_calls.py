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
import json
import math
import os
import re
import shutil
import socket
import struct
import subprocess
import time
import wave

import pytest

from capture import Capture
from conftest import Imsd, free_port
from sipstack import wait_log

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


def media_range():
    """The first block of 400 ports whose first 32 are free on HOST: the
    relay's pool. The machine is shared: a media bench may hold whole ranges
    of the default 10000-20000."""
    for lo in range(21000, 32000, 400):
        ok = True
        for p in range(lo, lo + 32):
            t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                t.bind((HOST, p))
            except OSError:
                ok = False
            finally:
                t.close()
            if not ok:
                break
        if ok:
            return lo
    raise AssertionError("no free block of media ports")


def start_calls_ims(tmp_path, props, users):
    """imsd for a call test: a free SIP port, a free block of 400 relay ports,
    debug logs in tmp_path, domain ims.test, the config lines `props` and the
    ue_db entries `users` (a list of strings). Returns (imsd, port, log, tmp)."""
    assert SIPP, "sipp is not installed (make deps installs sip-tester)"
    port = free_port()
    media = media_range()
    log = tmp_path / "ims.log"
    cfg = tmp_path / "ims.cfg"
    entries = ",\n    ".join(users)
    cfg.write_text(f"""{{
  log_filename: "{log}",
  log_options: "all.level=debug",
  sip_addr: [{{ addr: "{HOST}:{port}", port_min: {media}, port_max: {media + 399} }}],
  domain: "ims.test",
  {props}
  ue_db: [
    {entries},
  ],
}}
""")
    d = Imsd(str(cfg))
    try:
        d.wait_ready()
    except BaseException:
        d.stop()
        raise
    return d, port, str(log), tmp_path


def calls_ims(tmp_path, props, users):
    """start_calls_ims as a fixture's body: yields its tuple, then stops imsd
    and checks that the sanitizers found nothing."""
    ims = start_calls_ims(tmp_path, props, users)
    d = ims[0]
    try:
        yield ims
    finally:
        d.stop()
    assert not d.sanitizer_report(), d.sanitizer_report()


@pytest.fixture
def ims(tmp_path):
    yield from calls_ims(tmp_path, """user_agent: "imsd-test",
  p_called_party_id: true,
  dialog_timeout: 3,
  echo: ["sip:echo", "tel:+33600009999"],""", [
        user("001010000000201", "alice", ", answer_delay: 0.3"),
        user("001010000000202", "bob"),
        user("001010000000203", "carol"),
        user("001010000000204", "dave", ", ring_only: true"),
        """{ imsi: "001010000000205", impi: "mdalice", impu: ["sip:mdalice"], pwd: "mdalice-pw",
       authent_type: "MD5", authent_qop: "auth" }""",
        """{ imsi: "001010000000206", impi: "mdbob", impu: ["sip:mdbob"], pwd: "mdbob-pw",
       authent_type: "MD5", authent_qop: "auth" }""",
    ])


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
    wait_bound(lport)
    return p


def wait_bound(port, timeout=10.0):
    """Until something (SIPp) holds UDP port on HOST."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind((HOST, port))
        except OSError:
            return
        finally:
            s.close()
        time.sleep(0.05)
    raise AssertionError(f"nothing bound UDP port {port}")


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


def start_capture(pcap, bpf):
    """A capture on lo writing pcap, returned once a probe sent after it
    started is in the file (tests/integ/capture.py)."""
    return Capture(pcap, bpf).start()


def stop_capture(cap):
    """Returns once every packet sent before is in the file."""
    cap.stop()


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
        text = d.command("users alice@ims.test", "-> sip:dave@ims.test")
        assert re.search(r"dialog \d+: server ringing sip:alice@ims.test -> sip:dave@ims.test",
                         text), text
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
    cap = start_capture(pcap, f"udp port {port}")
    try:
        rc, out, uas = call(ims, "call_uac", "call_uas")
        assert rc == 0, out
    finally:
        stop_capture(cap)
    p = subprocess.run([TSHARK, "-r", str(pcap), "-d", f"udp.port=={port},sip", "-Y",
                        "sip || _ws.malformed"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    text = p.stdout.decode(errors="replace")
    assert "Malformed" not in text, text
    assert text.count("INVITE") >= 2, text  # the caller's and the branch's
    assert "Status: 200 OK" in text or " 200 OK" in text, text


# ---- media through the relay, with raw sockets as the phones ----

def sdp(port, direction="sendrecv"):
    return (f"v=0\r\no=ue 1 1 IN IP4 {HOST}\r\ns=-\r\nc=IN IP4 {HOST}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na={direction}\r\n")


def sdp_port(msg):
    m = re.search(r"\r\nm=audio (\d+) ", msg)
    assert m, msg
    c = re.search(r"\r\nc=IN IP4 (\S+)", msg)
    assert c and c.group(1) == HOST, msg
    return int(m.group(1))


def recv_msg(sock, want, timeout=5.0):
    """The next message whose first line starts with want (others skipped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data, _ = sock.recvfrom(65536)
        except socket.timeout:
            break
        text = data.decode(errors="replace")
        if text.startswith(want):
            return text
    raise AssertionError(f"no {want!r} within {timeout}s")


def hval(msg, name):
    m = re.search(rf"^{name}:\s*(.*?)\r$", msg, re.M | re.I)
    return m.group(1) if m else None


def reply(sock, port, req, code, reason, body="", tag="callee1"):
    vias = "".join(f"Via: {v}\r\n" for v in re.findall(r"^Via:\s*(.*?)\r$", req, re.M))
    to = hval(req, "To")
    if "tag=" not in to:
        to += f";tag={tag}"
    ctype = "Content-Type: application/sdp\r\n" if body else ""
    sock.sendto((f"SIP/2.0 {code} {reason}\r\n{vias}From: {hval(req, 'From')}\r\nTo: {to}\r\n"
                 f"Call-ID: {hval(req, 'Call-ID')}\r\nCSeq: {hval(req, 'CSeq')}\r\n"
                 f"Contact: <sip:bob@{HOST}:{sock.getsockname()[1]}>\r\n{ctype}"
                 f"Content-Length: {len(body)}\r\n\r\n{body}").encode(), (HOST, port))


def in_dialog(sock, port, ok, method, cseq, body=""):
    target = re.search(r"<([^>]+)>", hval(ok, "Contact")).group(1)
    me = sock.getsockname()[1]
    ctype = "Content-Type: application/sdp\r\n" if body else ""
    sock.sendto((f"{method} {target} SIP/2.0\r\n"
                 f"Via: SIP/2.0/UDP {HOST}:{me};branch=z9hG4bK{method}{cseq}x{me};rport\r\n"
                 f"Max-Forwards: 70\r\nFrom: {hval(ok, 'From')}\r\nTo: {hval(ok, 'To')}\r\n"
                 f"Call-ID: {hval(ok, 'Call-ID')}\r\nCSeq: {cseq} {method}\r\n"
                 f"Contact: <sip:alice@{HOST}:{me}>\r\n{ctype}Content-Length: {len(body)}"
                 f"\r\n\r\n{body}").encode(), (HOST, port))


def rtp(seq, payload):
    return bytes([0x80, 0x00]) + seq.to_bytes(2, "big") + (seq * 160).to_bytes(4, "big") + \
        (0x1234abcd).to_bytes(4, "big") + payload


def udp(port=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((HOST, port))
    s.settimeout(3.0)
    return s


def test_rtp_goes_through_the_relay(ims):
    d, port, log, tmp = ims
    a, b = free_port(), free_port()
    register(ims, "alice", a)
    register(ims, "bob", b)
    sa, sb, ra, rb = udp(a), udp(b), udp(), udp()
    pcap = tmp / "rtp.pcap"
    ports = (ra.getsockname()[1], rb.getsockname()[1])
    cap = start_capture(pcap, f"udp port {ports[0]} or udp port {ports[1]}")
    try:
        sa.sendto((f"INVITE sip:bob@ims.test SIP/2.0\r\n"
                   f"Via: SIP/2.0/UDP {HOST}:{a};branch=z9hG4bKmedia1;rport\r\n"
                   f"Max-Forwards: 70\r\nFrom: <sip:alice@ims.test>;tag=caller1\r\n"
                   f"To: <sip:bob@ims.test>\r\nCall-ID: media-{a}@test\r\nCSeq: 1 INVITE\r\n"
                   f"Contact: <sip:alice@{HOST}:{a}>\r\nContent-Type: application/sdp\r\n"
                   f"Content-Length: {len(sdp(ra.getsockname()[1]))}\r\n\r\n"
                   f"{sdp(ra.getsockname()[1])}").encode(), (HOST, port))
        inv = recv_msg(sb, "INVITE ")
        pb = sdp_port(inv)  # the relay's port on bob's side
        assert pb != ra.getsockname()[1]
        reply(sb, port, inv, 180, "Ringing")
        reply(sb, port, inv, 200, "OK", sdp(rb.getsockname()[1]))
        ok = recv_msg(sa, "SIP/2.0 200")
        pa = sdp_port(ok)  # the relay's port on alice's side
        assert pa not in (rb.getsockname()[1], pb)
        in_dialog(sa, port, ok, "ACK", 1)
        recv_msg(sb, "ACK ")
        # alice -> imsd -> bob, and back
        for i in range(5):
            ra.sendto(rtp(i, bytes([i]) * 160), (HOST, pa))
            data, src = rb.recvfrom(2048)
            assert data == rtp(i, bytes([i]) * 160) and src == (HOST, pb)
            rb.sendto(rtp(100 + i, b"\x55" * 160), (HOST, pb))
            data, src = ra.recvfrom(2048)
            assert data == rtp(100 + i, b"\x55" * 160) and src == (HOST, pa)
        text = d.command("dialog", "dialog(s)")
        # both dialogs, each phone's 5 packets sent and 5 received
        assert re.search(r"start\s+server\s+sip:alice@ims.test\s+sip:bob@ims.test\s+\S+\s+"
                         r"[\d.]+\s+5/5\s", text), text
        assert re.search(r"start\s+mt\s+sip:alice@ims.test\s+sip:bob@ims.test\s+\S+\s+"
                         r"[\d.]+\s+5/5\s", text), text
        in_dialog(sa, port, ok, "BYE", 2)
        bye = recv_msg(sb, "BYE ")
        reply(sb, port, bye, 200, "OK")
        recv_msg(sa, "SIP/2.0 200")
    finally:
        for s in (sa, sb, ra, rb):
            s.close()
        stop_capture(cap)
    text = log_text(ims)
    assert re.search(r"\[MEDIA\].*close leg A: RTP recv 5/", text), text[-3000:]
    # tshark: UE -> imsd -> UE on the ports of the SDP, each packet RTP
    p = subprocess.run([TSHARK, "-r", str(pcap), "-d", f"udp.port=={ports[0]},rtp",
                        "-d", f"udp.port=={ports[1]},rtp", "-T", "fields", "-e", "udp.srcport",
                        "-e", "udp.dstport", "-e", "rtp.seq", "-e", "_ws.malformed"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    rows = [r.split("\t") for r in p.stdout.decode().splitlines() if r.strip()]
    assert not any(r[3] for r in rows if len(r) > 3), rows
    flows = {(int(r[0]), int(r[1])) for r in rows}
    assert (ports[0], pa) in flows and (pb, ports[1]) in flows, flows  # alice -> imsd -> bob
    assert (ports[1], pb) in flows and (pa, ports[0]) in flows, flows  # bob -> imsd -> alice
    assert len(rows) == 20, rows


def test_echo_sends_rtp_back(ims):
    d, port, log, tmp = ims
    a = free_port()
    register(ims, "alice", a)
    sa, ra = udp(a), udp()
    try:
        body = sdp(ra.getsockname()[1])
        sa.sendto((f"INVITE sip:echo@ims.test SIP/2.0\r\n"
                   f"Via: SIP/2.0/UDP {HOST}:{a};branch=z9hG4bKecho1;rport\r\n"
                   f"Max-Forwards: 70\r\nFrom: <sip:alice@ims.test>;tag=caller2\r\n"
                   f"To: <sip:echo@ims.test>\r\nCall-ID: echo-{a}@test\r\nCSeq: 1 INVITE\r\n"
                   f"Contact: <sip:alice@{HOST}:{a}>\r\nContent-Type: application/sdp\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n{body}").encode(), (HOST, port))
        ok = recv_msg(sa, "SIP/2.0 200")
        pe = sdp_port(ok)
        assert pe != ra.getsockname()[1]
        in_dialog(sa, port, ok, "ACK", 1)
        for i in range(3):
            ra.sendto(rtp(i, b"\x11" * 160), (HOST, pe))
            data, src = ra.recvfrom(2048)
            assert data == rtp(i, b"\x11" * 160) and src == (HOST, pe)
        in_dialog(sa, port, ok, "BYE", 2)
        recv_msg(sa, "SIP/2.0 200")
    finally:
        sa.close()
        ra.close()


# ---- two real softphones (baresip, MD5) ----

BARESIP = shutil.which("baresip")


def free_block(n):
    """n consecutive ports free on HOST for UDP and TCP (baresip binds SIP on
    UDP, TCP and TLS on the next port, RTP/RTCP in pairs)."""
    for _ in range(200):
        base = free_port()
        ok = True
        for p in range(base, base + n):
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                t = socket.socket(socket.AF_INET, kind)
                try:
                    t.bind((HOST, p))
                except OSError:
                    ok = False
                finally:
                    t.close()
        if ok:
            return base
    raise AssertionError("no free block of ports")


def ctrl(port, command, params=""):
    """A baresip ctrl_tcp command (netstring JSON); its answer."""
    msg = json.dumps({"command": command, "params": params, "token": "t"}).encode()
    with socket.create_connection((HOST, port), timeout=5) as c:
        c.sendall(str(len(msg)).encode() + b":" + msg + b",")
        data = b""
        deadline = time.monotonic() + 5
        while b'"response":true' not in data and time.monotonic() < deadline:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
    assert b'"ok":true' in data, data
    return data


def softphone(tmp, name, port, wav, answer):
    base = free_block(8)  # SIP (and TLS on +1), RTP/RTCP x2, ctrl
    d = tmp / f"bs-{name}"
    d.mkdir()
    (d / "config").write_text(f"""poll_method epoll
sip_listen {HOST}:{base}
audio_player aufile,{d}/heard.wav
audio_source aufile,{wav}
audio_alert aufile,{d}/alert.wav
rtp_ports {base + 2}-{base + 5}
ctrl_tcp_listen {HOST}:{base + 6}
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module_app account.so
module_app menu.so
module_app ctrl_tcp.so
""")
    (d / "accounts").write_text(
        f"<sip:{name}@ims.test;transport=udp>;auth_user={name};auth_pass={name}-pw;"
        f'outbound="sip:{HOST}:{port}";regint=600{";answermode=auto" if answer else ""}\n')
    p = subprocess.Popen([BARESIP, "-f", str(d), "-t", "40"], cwd=d, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return p, base + 6


def test_two_baresip_softphones_call(ims):
    """Two baresip softphones registered with MD5 call each other through
    imsd: the callee answers, each sends its audio (a tone from a WAV file),
    and the relay carries it both ways; the caller hangs up."""
    assert BARESIP, "baresip is not installed (make deps installs it)"
    d, port, log, tmp = ims
    wav = tmp / "tone.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i
                                                                         / 8000)))
                               for i in range(8000 * 20)))
    phones = []
    try:
        phones.append(softphone(tmp, "mdbob", port, wav, answer=True))
        phones.append(softphone(tmp, "mdalice", port, wav, answer=False))
        for who in ("mdbob", "mdalice"):
            deadline = time.monotonic() + 20
            while True:  # until its REGISTER went through
                text = d.command(f"users {who}@ims.test", "impu:")
                if "registered  auth=MD5" in text or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert "registered  auth=MD5" in text, text
        ctrl(phones[1][1], "dial", "mdbob@ims.test")
        deadline = time.monotonic() + 20
        while True:  # answered, and audio has flowed a while
            text = d.command("dialog", "dialog(s)")
            m = re.search(r"start\s+server\s+sip:mdalice@ims.test\s+sip:mdbob@ims.test\s+\S+"
                          r"\s+[\d.]+\s+(\d+)/(\d+)", text)
            if (m and int(m.group(1)) >= 100 and int(m.group(2)) >= 100) or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert m and int(m.group(1)) >= 100 and int(m.group(2)) >= 100, text
        ctrl(phones[1][1], "hangup")
        wait_log(log, lambda t: "BYE from the caller" in t, timeout=10)
    finally:
        for p, _ in phones:
            p.terminate()
            try:
                p.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate(timeout=5)
    text = log_text(ims)
    legs = re.findall(r"close leg ([AB]): RTP recv (\d+)/\d+ B sent (\d+)/", text)
    assert len(legs) == 2, text[-3000:]
    for leg, recv, sent in legs:  # each phone's audio in, the other's out
        assert int(recv) >= 100 and int(sent) >= 100, legs
