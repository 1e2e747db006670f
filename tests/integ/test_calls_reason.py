"""The Reason header (RFC 3326) on the CANCELs imsd sends to a call's
branches, over the wire (docs/calls.md "Reason on CANCEL"): the phones are
registered with AKA by SIPp (test_calls.py), then raw sockets on their
registered ports play the calls.

- bob on two ports: one rings, the other answers 200: the ringing one's
  CANCEL carries `Reason: SIP;cause=200;text="Call completed elsewhere"`
  (§2; written without the optional spaces around `;` of the RFC's
  example, which Wireshark's decoder does not take), and tshark decodes it
  as a SIP Reason with cause 200;
- alice CANCELs with her own Reason lines: bob's CANCEL carries them;
- `dialog_set N stop 480 "Not now"` from the monitor on a call still
  ringing: bob's CANCEL carries `Reason: SIP;cause=480;text="Not now"`.
"""
import re
import subprocess

import pytest

import test_calls as tc
from conftest import free_port

HOST = tc.HOST
ELSEWHERE = 'SIP;cause=200;text="Call completed elsewhere"'


@pytest.fixture
def ims(tmp_path):
    yield from tc.calls_ims(tmp_path, "dialog_timeout: 30,", [
        tc.user("001010000000201", "alice"),
        tc.user("001010000000202", "bob"),
    ])


def invite(sa, port, a, n, method="INVITE", extra=""):
    """alice's INVITE to bob, or its CANCEL (same branch, RFC 3261 §9.1)."""
    body = tc.sdp(a + 1) if method == "INVITE" else ""
    ctype = "Content-Type: application/sdp\r\n" if body else ""
    sa.sendto((f"{method} sip:bob@ims.test SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP {HOST}:{a};branch=z9hG4bKrsn{n};rport\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:alice@ims.test>;tag=caller{n}\r\n"
               f"To: <sip:bob@ims.test>\r\nCall-ID: reason-{n}-{a}@test\r\n"
               f"CSeq: 1 {method}\r\nContact: <sip:alice@{HOST}:{a}>\r\n{extra}{ctype}"
               f"Content-Length: {len(body)}\r\n\r\n{body}").encode(), (HOST, port))


def reasons(msg):
    return re.findall(r"^Reason:\s*(.*?)\r$", msg, re.M | re.I)


def cancel_take(sb, port, inv, tag):
    """The CANCEL bob gets for inv, answered (200, 487 to the INVITE, whose
    ACK is read); returns it."""
    c = tc.recv_msg(sb, "CANCEL ")
    assert tc.hval(c, "Call-ID") == tc.hval(inv, "Call-ID"), c
    tc.reply(sb, port, c, 200, "OK", tag=tag)
    tc.reply(sb, port, inv, 487, "Request Terminated", tag=tag)
    tc.recv_msg(sb, "ACK ")
    return c


def test_cancel_reason_call_completed_elsewhere(ims):
    assert tc.TSHARK, "tshark is not installed (make deps installs it)"
    d, port, log, tmp = ims
    a, b1, b2 = free_port(), free_port(), free_port()
    tc.register(ims, "alice", a)
    tc.register(ims, "bob", b1, imei="35000000-000010-0")
    tc.register(ims, "bob", b2, imei="35000000-000011-0")
    sa, s1, s2 = tc.udp(a), tc.udp(b1), tc.udp(b2)
    pcap = tmp / "cancel.pcap"
    cap = tc.start_capture(pcap, f"udp port {port}")
    try:
        invite(sa, port, a, 1)
        i1 = tc.recv_msg(s1, "INVITE ")
        i2 = tc.recv_msg(s2, "INVITE ")
        tc.reply(s1, port, i1, 180, "Ringing", tag="b1")
        tc.recv_msg(sa, "SIP/2.0 180")
        tc.reply(s2, port, i2, 200, "OK", tc.sdp(b2 + 1), tag="b2")
        c = cancel_take(s1, port, i1, "b1")
        assert reasons(c) == [ELSEWHERE], c
        ok = tc.recv_msg(sa, "SIP/2.0 200")
        tc.in_dialog(sa, port, ok, "ACK", 1)
        tc.recv_msg(s2, "ACK ")
        tc.in_dialog(sa, port, ok, "BYE", 2)
        bye = tc.recv_msg(s2, "BYE ")
        tc.reply(s2, port, bye, 200, "OK", tag="b2")
        tc.recv_msg(sa, "SIP/2.0 200")
    finally:
        for s in (sa, s1, s2):
            s.close()
        tc.stop_capture(cap)
    p = subprocess.run([tc.TSHARK, "-r", str(pcap), "-d", f"udp.port=={port},sip",
                        "-Y", "sip.Method == \"CANCEL\"", "-T", "fields",
                        "-e", "sip.reason_cause_sip", "-e", "sip.reason_text",
                        "-e", "_ws.malformed"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    rows = [r.split("\t") for r in p.stdout.decode().splitlines() if r.strip()]
    assert rows and all(r[0] == "200" and "Call completed elsewhere" in r[1] for r in rows), \
        rows
    assert not any(len(r) > 2 and r[2] for r in rows), rows


def test_cancel_reason_from_the_caller(ims):
    d, port, log, tmp = ims
    a, b = free_port(), free_port()
    tc.register(ims, "alice", a)
    tc.register(ims, "bob", b)
    sa, sb = tc.udp(a), tc.udp(b)
    try:
        invite(sa, port, a, 2)
        inv = tc.recv_msg(sb, "INVITE ")
        tc.reply(sb, port, inv, 180, "Ringing", tag="b1")
        tc.recv_msg(sa, "SIP/2.0 180")
        invite(sa, port, a, 2, "CANCEL", 'Reason: SIP;cause=487;text="Gave up"\r\n'
                                         'Reason: Q.850;cause=16\r\n')
        c = cancel_take(sb, port, inv, "b1")
        assert reasons(c) == ['SIP;cause=487;text="Gave up"', "Q.850;cause=16"], c
        tc.recv_msg(sa, "SIP/2.0 487")
    finally:
        sa.close()
        sb.close()


def test_cancel_reason_of_dialog_set_stop(ims):
    d, port, log, tmp = ims
    a, b = free_port(), free_port()
    tc.register(ims, "alice", a)
    tc.register(ims, "bob", b)
    sa, sb = tc.udp(a), tc.udp(b)
    try:
        invite(sa, port, a, 3)
        inv = tc.recv_msg(sb, "INVITE ")
        tc.reply(sb, port, inv, 180, "Ringing", tag="b1")
        tc.recv_msg(sa, "SIP/2.0 180")
        text = d.command("dialog", "dialog(s)")
        m = re.search(r"^\s*(\d+)\s+\S+\s+ringing\s+server", text, re.M)
        assert m, text
        d.command(f'dialog_set {m.group(1)} stop 480 "Not now"', "stopped")
        c = cancel_take(sb, port, inv, "b1")
        assert reasons(c) == ['SIP;cause=480;text="Not now"'], c
        tc.recv_msg(sa, "SIP/2.0 487")
    finally:
        sa.close()
        sb.close()
