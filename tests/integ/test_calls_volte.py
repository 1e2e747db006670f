"""VoLTE call flows over the wire (docs/calls.md "VoLTE"): reliable
provisionals (RFC 3262) on the caller's leg, with SIPp as both UEs
registered with AKA, as test_calls.py does.

imsd is the caller's UAS: a caller that requires 100rel gets every 1xx
reliably (Require: 100rel, RSeq) and PRACKs imsd, whatever the callee
supports; the callee's INVITE does not carry 100rel (imsd does not offer it
on that leg). A PRACK whose RAck matches no reliable 1xx gets 481; a caller
whose IMPU has `100rel` off gets 420 with Unsupported: 100rel.
"""
import re
import socket
import subprocess

import pytest

from conftest import free_port
from test_calls import (HOST, TSHARK, calls_ims, in_dialog, raw, recv_msg, recv_status,
                        register, reply, req, rtp, run, sdp, sdp_port, sipp_cmd,
                        start_capture, start_uas, stop_capture, udp, user, wait_uas)


NO_100REL = ', "100rel": false'


def start_ims(tmp_path, extra=""):
    yield from calls_ims(tmp_path, "dialog_timeout: 5," + extra, [
        user("001010000000201", "alice"),
        user("001010000000202", "bob"),
        user("001010000000203", "erin", NO_100REL),
        user("001010000000204", "frank", ", early_media: false"),
    ])


@pytest.fixture
def ims(tmp_path):
    yield from start_ims(tmp_path)


@pytest.fixture
def ims_t1(tmp_path):
    """T1 = 50 ms: 64*T1 is 3.2 s."""
    yield from start_ims(tmp_path, "\n  timer_t1: 0.05,")


def volte_call(ims, uac, uas, caller="alice", callee="bob"):
    d, port, log, tmp = ims
    a = free_port()
    register(ims, caller, a)
    callee_rc = None
    if uas:
        b = free_port()
        register(ims, callee, b)
        p = start_uas(ims, uas, b, callee)
    rc, out = run(sipp_cmd(tmp, uac, port, a, caller, service=callee), tmp)
    if uas:
        callee_rc = wait_uas(p)
    return rc, out, callee_rc


def sent_invites(log):
    """The INVITEs imsd sent towards a callee, as the SIP log shows them."""
    text = open(log, encoding="utf-8", errors="replace").read()
    sent = [m for m in re.split(r"\n(?=\S)", text)
            if re.match(r"\S+ \[SIP\]\s+TO .* INVITE sip:", m)]
    assert sent, "no INVITE towards the callee in the log"
    return sent


def test_prack_reliable_183(ims):
    """Caller requires 100rel, callee does not support it: the callee's 183
    with SDP reaches the caller reliably, its PRACK gets 200 from imsd, and
    the call is answered and ended."""
    d, port, log, tmp = ims
    rc, out, (brc, bout) = volte_call(ims, "prack_uac", "prack_uas")
    assert rc == 0, out
    assert brc == 0, bout
    text = open(log, encoding="utf-8", errors="replace").read()
    assert "RSeq:" in text
    # towards the callee, no 100rel in Require (RFC 3262 per leg)
    for inv in sent_invites(log):
        assert not re.search(r"^\s*Require:.*100rel", inv, re.M | re.I), inv


def test_prack_wrong_rack(ims):
    """A PRACK whose RAck names no reliable 1xx gets 481 (RFC 3262 §3);
    the right one then gets 200 and the call goes on."""
    rc, out, (brc, bout) = volte_call(ims, "prack_uac_rack", "prack_uas")
    assert rc == 0, out
    assert brc == 0, bout


def test_require_100rel_off_gets_420(ims):
    """erin's IMPU has 100rel false: her INVITE requiring it gets 420 with
    Unsupported: 100rel, and nobody is called."""
    rc, out, _ = volte_call(ims, "prack_uac_420", None, caller="erin")
    assert rc == 0, out


def test_no_prack_500(ims_t1):
    """A caller that requires 100rel and never PRACKs: imsd sends its
    reliable 180 again (T1 doubling) and after 64*T1 answers 500 and
    CANCELs the callee (RFC 3262 §3)."""
    d, port, log, tmp = ims_t1
    rc, out, (brc, bout) = volte_call(ims_t1, "prack_uac_noprack", "call_uas_ring")
    assert rc == 0, out
    assert brc == 0, bout
    text = open(log, encoding="utf-8", errors="replace").read()
    sent = re.findall(r"\[SIP\]\s+TO\s+\S+ SIP/2.0 180 ", text)
    assert len(sent) >= 2, "the reliable 180 was not sent again"
    assert "no PRACK for the reliable 180" in text


def test_prack_no_dialog_481(ims):
    """A PRACK in no dialog gets 481 (RFC 3261 §12.2.2)."""
    d, port, log, tmp = ims
    a = free_port()
    register(ims, "alice", a)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((HOST, a))
    try:
        raw(s, port, req("PRACK", a, to_tag="nosuch"))
        assert recv_status(s)[0] == 481
    finally:
        s.close()


def test_volte_precondition_flow(ims):
    """The VoLTE flow end to end (RFC 3312, RFC 3262, RFC 3311): INVITE
    with Require: precondition and a=des:qos mandatory / a=curr:qos none;
    the callee's reliable 183 + SDP is PRACKed by imsd and reaches the
    caller reliably with imsd's own RSeq; the caller's PRACK gets 200; its
    UPDATE (a=curr:qos local sendrecv) is relayed in the early dialogs and
    the 200 UPDATE comes back; 180, 200, ACK, BYE. Each SDP goes
    through the relay (c=/m= of imsd on both sides)."""
    assert TSHARK, "tshark is not installed (make deps installs it)"
    d, port, log, tmp = ims
    pcap = tmp / "volte.pcap"
    cap = start_capture(pcap, f"udp port {port}")
    try:
        rc, out, (brc, bout) = volte_call(ims, "volte_uac", "volte_uas")
    finally:
        stop_capture(cap)
    assert rc == 0, out
    assert brc == 0, bout
    # tshark decodes every SIP message and SDP of the flow, none malformed
    p = subprocess.run([TSHARK, "-r", str(pcap), "-d", f"udp.port=={port},sip", "-Y",
                        "sip || _ws.malformed", "-T", "fields", "-e", "sip.Method",
                        "-e", "sip.Status-Code", "-e", "_ws.malformed"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    rows = [r.split("\t") for r in p.stdout.decode(errors="replace").splitlines()]
    assert not any(len(r) > 2 and r[2] for r in rows), rows
    methods = [r[0] for r in rows if r and r[0]]
    for m in ("INVITE", "PRACK", "UPDATE", "ACK", "BYE"):
        assert methods.count(m) >= 2, (m, methods)  # on both legs
    text = open(log, encoding="utf-8", errors="replace").read()
    # imsd PRACKed the callee and relayed the caller's UPDATE
    assert re.search(r"\[SIP\]\s+TO .* PRACK sip:callee@", text), "no PRACK to the callee"
    assert re.search(r"\[SIP\]\s+TO .* UPDATE sip:callee@", text), "UPDATE not relayed"


def early_call(ims, callee):
    """alice calls callee with raw sockets as both phones; the callee
    answers 183 with SDP. Returns the sockets, the relay's ports on each
    side and the 183/INVITE to go on with."""
    d, port, log, tmp = ims
    a, b = free_port(), free_port()
    register(ims, "alice", a)
    register(ims, callee, b)
    sa, sb, ra, rb = udp(a), udp(b), udp(), udp()
    body = sdp(ra.getsockname()[1])
    sa.sendto((f"INVITE sip:{callee}@ims.test SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP {HOST}:{a};branch=z9hG4bKearly1;rport\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:alice@ims.test>;tag=caller1\r\n"
               f"To: <sip:{callee}@ims.test>\r\nCall-ID: early-{a}@test\r\n"
               f"CSeq: 1 INVITE\r\nContact: <sip:alice@{HOST}:{a}>\r\n"
               f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n"
               f"{body}").encode(), (HOST, port))
    inv = recv_msg(sb, "INVITE ")
    pb = sdp_port(inv)
    reply(sb, port, inv, 183, "Session Progress", sdp(rb.getsockname()[1]))
    p183 = recv_msg(sa, "SIP/2.0 183")
    pa = sdp_port(p183)
    return (sa, sb, ra, rb), (pa, pb), inv


def answer_and_end(ims, socks, inv):
    d, port, log, tmp = ims
    sa, sb, ra, rb = socks
    reply(sb, port, inv, 200, "OK", sdp(rb.getsockname()[1]))
    ok = recv_msg(sa, "SIP/2.0 200")
    in_dialog(sa, port, ok, "ACK", 1)
    recv_msg(sb, "ACK ")
    return ok


def bye(ims, socks, ok):
    d, port, log, tmp = ims
    sa, sb, ra, rb = socks
    in_dialog(sa, port, ok, "BYE", 2)
    b = recv_msg(sb, "BYE ")
    reply(sb, port, b, 200, "OK")
    recv_msg(sa, "SIP/2.0 200")


def test_early_media_flows_before_the_answer(ims):
    """early_media true (the default): from the 183 with SDP on, RTP goes
    both ways through the relay before the 200 (RFC 3960)."""
    d, port, log, tmp = ims
    socks, (pa, pb), inv = early_call(ims, "bob")
    sa, sb, ra, rb = socks
    try:
        for i in range(3):
            ra.sendto(rtp(i, b"\x11" * 160), (HOST, pa))
            data, src = rb.recvfrom(2048)
            assert data == rtp(i, b"\x11" * 160) and src == (HOST, pb)
            rb.sendto(rtp(50 + i, b"\x22" * 160), (HOST, pb))
            data, src = ra.recvfrom(2048)
            assert data == rtp(50 + i, b"\x22" * 160) and src == (HOST, pa)
        # still ringing: the monitor counts the early packets
        text = d.command("dialog", "dialog(s)")
        assert re.search(r"ringing\s+server\s+\S+\s+\S+\s+\S+\s+[\d.]+\s+3/3\s", text), text
        ok = answer_and_end(ims, socks, inv)
        bye(ims, socks, ok)
    finally:
        for s in socks:
            s.close()


def test_early_media_off_holds_media_until_the_answer(ims):
    """frank's IMPU has early_media false: his 183's SDP reaches the caller
    (through the relay), but RTP is forwarded neither way before the 200,
    and flows once answered."""
    d, port, log, tmp = ims
    socks, (pa, pb), inv = early_call(ims, "frank")
    sa, sb, ra, rb = socks
    try:
        ra.settimeout(0.5)
        rb.settimeout(0.5)
        ra.sendto(rtp(1, b"\x11" * 160), (HOST, pa))
        rb.sendto(rtp(2, b"\x22" * 160), (HOST, pb))
        for s in (ra, rb):
            with pytest.raises(socket.timeout):
                s.recvfrom(2048)
        ok = answer_and_end(ims, socks, inv)
        ra.settimeout(3.0)
        rb.settimeout(3.0)
        ra.sendto(rtp(3, b"\x33" * 160), (HOST, pa))
        data, src = rb.recvfrom(2048)
        assert data == rtp(3, b"\x33" * 160) and src == (HOST, pb)
        rb.sendto(rtp(4, b"\x44" * 160), (HOST, pb))
        data, src = ra.recvfrom(2048)
        assert data == rtp(4, b"\x44" * 160) and src == (HOST, pa)
        bye(ims, socks, ok)
    finally:
        for s in socks:
            s.close()
