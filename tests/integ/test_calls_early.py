"""Reliable provisionals across the two legs, over the wire (docs/calls.md
"VoLTE"), SIPp as both phones registered with AKA as test_calls_volte.py:

- a late offer: the caller's INVITE has no SDP, the callee offers in a
  reliable 183; imsd's PRACK to the callee waits for the caller's PRACK and
  carries its answer on imsd's relay port (RFC 3262 §5;
  sipp/prack_uac_late.xml, prack_uas_offer.xml check it);
- a callee answering 183 with SDP then 200 at once, to a caller requiring
  100rel: the caller gets the 200 only after its PRACK of the reliable 183
  (RFC 3262 §3), which tshark shows in the order of the packets.
tshark decodes each capture without a malformed packet.
"""
import subprocess

import pytest

from conftest import free_port
from test_calls import TSHARK, register, run, sipp_cmd, start_capture, start_uas, \
    stop_capture, wait_uas
from test_calls_volte import start_ims


@pytest.fixture
def ims(tmp_path):
    yield from start_ims(tmp_path)


def call_captured(ims, uac, uas):
    """Caller alice and callee bob, each a SIPp; returns (rc, out, callee
    (rc, out), caller port, tshark rows of SIP: frame, src, dst, method,
    status, CSeq method)."""
    assert TSHARK, "tshark is not installed (make deps installs it)"
    d, port, log, tmp = ims
    a, b = free_port(), free_port()
    register(ims, "alice", a)
    register(ims, "bob", b)
    pcap = tmp / "early.pcap"
    cap = start_capture(pcap, f"udp port {port}")
    try:
        p = start_uas(ims, uas, b, "bob")
        rc, out = run(sipp_cmd(tmp, uac, port, a, "alice", service="bob"), tmp)
        brc = wait_uas(p)
    finally:
        stop_capture(cap)
    t = subprocess.run([TSHARK, "-r", str(pcap), "-d", f"udp.port=={port},sip", "-Y",
                        "sip || _ws.malformed"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    text = t.stdout.decode(errors="replace")
    assert "Malformed" not in text, text
    t = subprocess.run([TSHARK, "-r", str(pcap), "-d", f"udp.port=={port},sip", "-Y", "sip",
                        "-T", "fields", "-e", "frame.number", "-e", "udp.srcport", "-e",
                        "udp.dstport", "-e", "sip.Method", "-e", "sip.Status-Code", "-e",
                        "sip.CSeq.method", "-e", "sdp.media"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    rows = [r.split("\t") for r in t.stdout.decode().splitlines() if r]
    return rc, out, brc, a, b, rows


def test_prack_carries_the_callers_answer(ims):
    rc, out, (brc, bout), a, b, rows = call_captured(ims, "prack_uac_late",
                                                     "prack_uas_offer")
    assert rc == 0, out
    assert brc == 0, bout
    pr_a = [r for r in rows if r[3] == "PRACK" and int(r[1]) == a]
    pr_b = [r for r in rows if r[3] == "PRACK" and int(r[2]) == b]
    assert len(pr_a) == 1 and len(pr_b) == 1, rows
    # imsd's PRACK goes after the caller's, with SDP (the answer)
    assert int(pr_b[0][0]) > int(pr_a[0][0]), rows
    assert pr_b[0][6].startswith("audio "), rows


def test_2xx_waits_for_the_prack(ims):
    rc, out, (brc, bout), a, b, rows = call_captured(ims, "prack_uac_slow", "prack_uas_fast")
    assert rc == 0, out
    assert brc == 0, bout
    ok_b = [r for r in rows if r[4] == "200" and r[5] == "INVITE" and int(r[1]) == b]
    ok_a = [r for r in rows if r[4] == "200" and r[5] == "INVITE" and int(r[2]) == a]
    pr_a = [r for r in rows if r[3] == "PRACK" and int(r[1]) == a]
    assert ok_b and ok_a and pr_a, rows
    # the callee's 200 came before the caller's PRACK; the caller's 200
    # only after it
    assert int(ok_b[0][0]) < int(pr_a[0][0]) < int(ok_a[0][0]), rows
