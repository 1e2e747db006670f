"""Reliable provisionals across the two legs, over the wire (docs/calls.md
"VoLTE"), SIPp as both phones registered with AKA as test_calls_volte.py:

- a late offer: the caller's INVITE has no SDP, the callee offers in a
  reliable 183; imsd's PRACK to the callee waits for the caller's PRACK and
  carries its answer on imsd's relay port (RFC 3262 §5;
  sipp/prack_uac_late.xml, prack_uas_offer.xml check it);
- a callee answering 183 with SDP then 200 at once, to a caller requiring
  100rel: the caller gets the 200 only after its PRACK of the reliable 183
  (RFC 3262 §3), which tshark shows in the order of the packets;
- forking with an early dialog per branch (raw sockets as the phones on
  the ports bob registered from with SIPp): an UPDATE from the branch that
  did not send the last 183 reaches the caller, and the caller's UPDATE then
  goes to that branch;
- the callee's UPDATE in the early dialog, then its 200 repeating that
  UPDATE's SDP (RFC 3261 §13.2.1: no new offer): the caller gets 200 with
  the SDP it has (the relay's port), not 488;
- forking to two bindings of one family, both sending 183 with SDP (the
  relay's callee side shared): the caller's RTP reaches the branch that
  spoke last; the other one answers 200 without SDP and the RTP goes to
  it from then on, both ways (tshark: the RTP on the ports of the SDP).
tshark decodes each capture without a malformed packet.
"""
import re
import subprocess

import pytest

from conftest import free_port
from sipstack import wait_log
from test_calls import HOST, TSHARK, hval, in_dialog, recv_msg, register, reply, rtp, run, \
    sdp, \
    sdp_port, sipp_cmd, start_capture, start_uas, stop_capture, udp, wait_uas
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


def callee_req(sock, port, inv, tag, method, cseq, body=""):
    """A request of a callee in the early dialog of the INVITE it got, its
    1xx having carried To tag `tag`."""
    target = re.search(r"<([^>]+)>", hval(inv, "Contact")).group(1)
    me = sock.getsockname()[1]
    ctype = "Content-Type: application/sdp\r\n" if body else ""
    sock.sendto((f"{method} {target} SIP/2.0\r\n"
                 f"Via: SIP/2.0/UDP {HOST}:{me};branch=z9hG4bK{method}{cseq}b{me};rport\r\n"
                 f"Max-Forwards: 70\r\nFrom: {hval(inv, 'To')};tag={tag}\r\n"
                 f"To: {hval(inv, 'From')}\r\nCall-ID: {hval(inv, 'Call-ID')}\r\n"
                 f"CSeq: {cseq} {method}\r\nContact: <sip:bob@{HOST}:{me}>\r\n{ctype}"
                 f"Content-Length: {len(body)}\r\n\r\n{body}").encode(), (HOST, port))


def test_fork_update_in_each_early_dialog(ims):
    assert TSHARK, "tshark is not installed (make deps installs it)"
    d, port, log, tmp = ims
    a, b1, b2 = free_port(), free_port(), free_port()
    register(ims, "alice", a)
    register(ims, "bob", b1, imei="35000000-000010-0")
    register(ims, "bob", b2, imei="35000000-000011-0")
    sa, s1, s2 = udp(a), udp(b1), udp(b2)
    pcap = tmp / "fork.pcap"
    cap = start_capture(pcap, f"udp port {port}")
    try:
        body = sdp(40000)
        sa.sendto((f"INVITE sip:bob@ims.test SIP/2.0\r\n"
                   f"Via: SIP/2.0/UDP {HOST}:{a};branch=z9hG4bKfork1;rport\r\n"
                   f"Max-Forwards: 70\r\nFrom: <sip:alice@ims.test>;tag=caller1\r\n"
                   f"To: <sip:bob@ims.test>\r\nCall-ID: fork-{a}@test\r\n"
                   f"CSeq: 1 INVITE\r\nContact: <sip:alice@{HOST}:{a}>\r\n"
                   f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n"
                   f"{body}").encode(), (HOST, port))
        i1 = recv_msg(s1, "INVITE ")
        i2 = recv_msg(s2, "INVITE ")
        reply(s1, port, i1, 183, "Session Progress", sdp(40010), tag="one")
        p183 = recv_msg(sa, "SIP/2.0 183")
        reply(s2, port, i2, 183, "Session Progress", sdp(40020), tag="two")
        recv_msg(sa, "SIP/2.0 183")
        # branch one, which did not send the last 183, updates: relayed
        callee_req(s1, port, i1, "one", "UPDATE", 1, sdp(40012))
        up = recv_msg(sa, "UPDATE ")
        reply(sa, port, up, 200, "OK", sdp(40002))
        ok = recv_msg(s1, "SIP/2.0 200")
        assert "UPDATE" in hval(ok, "CSeq"), ok
        # the caller's UPDATE now goes to branch one
        in_dialog(sa, port, p183, "UPDATE", 2, sdp(40004))
        up = recv_msg(s1, "UPDATE ")
        assert hval(up, "Call-ID") == hval(i1, "Call-ID"), up
        reply(s1, port, up, 200, "OK", sdp(40014))
        assert "UPDATE" in hval(recv_msg(sa, "SIP/2.0 200"), "CSeq")
        reply(s2, port, i2, 486, "Busy Here", tag="two")
        recv_msg(s2, "ACK ")
        reply(s1, port, i1, 200, "OK", tag="one")
        ok = recv_msg(sa, "SIP/2.0 200")
        in_dialog(sa, port, ok, "ACK", 1)
        recv_msg(s1, "ACK ")
        in_dialog(sa, port, ok, "BYE", 3)
        bye = recv_msg(s1, "BYE ")
        reply(s1, port, bye, 200, "OK", tag="one")
        recv_msg(sa, "SIP/2.0 200")
    finally:
        stop_capture(cap)
        for s in (sa, s1, s2):
            s.close()
    t = subprocess.run([TSHARK, "-r", str(pcap), "-d", f"udp.port=={port},sip", "-Y",
                        "sip || _ws.malformed"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    text = t.stdout.decode(errors="replace")
    assert "Malformed" not in text, text
    t = subprocess.run([TSHARK, "-r", str(pcap), "-d", f"udp.port=={port},sip", "-Y",
                        'sip.Method == "UPDATE"', "-T", "fields", "-e", "udp.srcport",
                        "-e", "udp.dstport"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    rows = [tuple(int(x) for x in r.split("\t")) for r in t.stdout.decode().splitlines() if r]
    assert rows == [(b1, port), (port, a), (a, port), (port, b1)], rows


def test_2xx_repeating_the_callees_update(ims):
    assert TSHARK, "tshark is not installed (make deps installs it)"
    d, port, log, tmp = ims
    a, b = free_port(), free_port()
    register(ims, "alice", a)
    register(ims, "bob", b)
    sa, sb = udp(a), udp(b)
    pcap = tmp / "repeat.pcap"
    cap = start_capture(pcap, f"udp port {port}")
    try:
        body = sdp(40100)
        sa.sendto((f"INVITE sip:bob@ims.test SIP/2.0\r\n"
                   f"Via: SIP/2.0/UDP {HOST}:{a};branch=z9hG4bKrep1;rport\r\n"
                   f"Max-Forwards: 70\r\nFrom: <sip:alice@ims.test>;tag=caller2\r\n"
                   f"To: <sip:bob@ims.test>\r\nCall-ID: rep-{a}@test\r\n"
                   f"CSeq: 1 INVITE\r\nContact: <sip:alice@{HOST}:{a}>\r\n"
                   f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n"
                   f"{body}").encode(), (HOST, port))
        inv = recv_msg(sb, "INVITE ")
        reply(sb, port, inv, 183, "Session Progress", sdp(40110), tag="r")
        recv_msg(sa, "SIP/2.0 183")
        upd = sdp(40112).replace("o=ue 1 1 ", "o=ue 1 2 ")
        callee_req(sb, port, inv, "r", "UPDATE", 1, upd)
        up = recv_msg(sa, "UPDATE ")
        relay_port = sdp_port(up)
        reply(sa, port, up, 200, "OK", sdp(40102))
        assert "UPDATE" in hval(recv_msg(sb, "SIP/2.0 200"), "CSeq")
        # the 200 to the INVITE repeats the UPDATE's SDP (same o= version)
        reply(sb, port, inv, 200, "OK", upd, tag="r")
        ok = recv_msg(sa, "SIP/2.0 ")
        assert ok.startswith("SIP/2.0 200"), ok
        assert sdp_port(ok) == relay_port, ok
        assert "o=ue 1 2 " in ok, ok
        in_dialog(sa, port, ok, "ACK", 1)
        recv_msg(sb, "ACK ")
        in_dialog(sa, port, ok, "BYE", 2)
        bye = recv_msg(sb, "BYE ")
        reply(sb, port, bye, 200, "OK", tag="r")
        recv_msg(sa, "SIP/2.0 200")
    finally:
        stop_capture(cap)
        sa.close()
        sb.close()
    t = subprocess.run([TSHARK, "-r", str(pcap), "-d", f"udp.port=={port},sip", "-Y",
                        "sip || _ws.malformed"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    text = t.stdout.decode(errors="replace")
    assert "Malformed" not in text, text
    t = subprocess.run([TSHARK, "-r", str(pcap), "-d", f"udp.port=={port},sip", "-Y",
                        'sip.Status-Code == 200 && sip.CSeq.method == "INVITE"', "-T",
                        "fields", "-e", "udp.dstport", "-e", "sdp.media"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    rows = [r.split("\t") for r in t.stdout.decode().splitlines() if r]
    assert [r[0] for r in rows] == [str(port), str(a)], rows
    assert rows[1][1].startswith(f"audio {relay_port} "), rows


def test_fork_answer_takes_the_shared_callee_side(ims):
    assert TSHARK, "tshark is not installed (make deps installs it)"
    d, port, log, tmp = ims
    a, b1, b2 = free_port(), free_port(), free_port()
    register(ims, "alice", a)
    register(ims, "bob", b1, imei="35000000-000010-0")
    register(ims, "bob", b2, imei="35000000-000011-0")
    sa, s1, s2, ra, r1, r2 = udp(a), udp(b1), udp(b2), udp(), udp(), udp()
    rp = [s.getsockname()[1] for s in (ra, r1, r2)]
    pcap = tmp / "fork-rtp.pcap"
    cap = start_capture(pcap, " or ".join(f"udp port {p}" for p in rp))
    try:
        body = sdp(rp[0])
        sa.sendto((f"INVITE sip:bob@ims.test SIP/2.0\r\n"
                   f"Via: SIP/2.0/UDP {HOST}:{a};branch=z9hG4bKfork3;rport\r\n"
                   f"Max-Forwards: 70\r\nFrom: <sip:alice@ims.test>;tag=caller3\r\n"
                   f"To: <sip:bob@ims.test>\r\nCall-ID: fork3-{a}@test\r\n"
                   f"CSeq: 1 INVITE\r\nContact: <sip:alice@{HOST}:{a}>\r\n"
                   f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n"
                   f"{body}").encode(), (HOST, port))
        i1 = recv_msg(s1, "INVITE ")
        i2 = recv_msg(s2, "INVITE ")
        pb = sdp_port(i1)
        assert sdp_port(i2) == pb  # one callee side for the family
        reply(s1, port, i1, 183, "Session Progress", sdp(rp[1]), tag="one")
        recv_msg(sa, "SIP/2.0 183")
        reply(s2, port, i2, 183, "Session Progress", sdp(rp[2]), tag="two")
        pa = sdp_port(recv_msg(sa, "SIP/2.0 183"))
        # early media: to the branch that spoke last
        ra.sendto(rtp(1, b"\x01" * 160), (HOST, pa))
        data, src = r2.recvfrom(2048)
        assert data == rtp(1, b"\x01" * 160) and src == (HOST, pb)
        # branch one answers without SDP: the callee side is its now
        reply(s1, port, i1, 200, "OK", tag="one")
        ok = recv_msg(sa, "SIP/2.0 200")
        assert sdp_port(ok) == pa, ok
        in_dialog(sa, port, ok, "ACK", 1)
        recv_msg(s1, "ACK ")
        cancel = recv_msg(s2, "CANCEL ")
        reply(s2, port, cancel, 200, "OK", tag="two")
        reply(s2, port, i2, 487, "Request Terminated", tag="two")
        for i in range(2, 5):
            ra.sendto(rtp(i, bytes([i]) * 160), (HOST, pa))
            data, src = r1.recvfrom(2048)
            assert data == rtp(i, bytes([i]) * 160) and src == (HOST, pb)
            r1.sendto(rtp(100 + i, b"\x55" * 160), (HOST, pb))
            data, src = ra.recvfrom(2048)
            assert data == rtp(100 + i, b"\x55" * 160) and src == (HOST, pa)
        in_dialog(sa, port, ok, "BYE", 2)
        bye = recv_msg(s1, "BYE ")
        reply(s1, port, bye, 200, "OK", tag="one")
        recv_msg(sa, "SIP/2.0 200")
    finally:
        stop_capture(cap)
        for s in (sa, s1, s2, ra, r1, r2):
            s.close()
    t = subprocess.run([TSHARK, "-r", str(pcap)] +
                       [a for p in rp for a in ("-d", f"udp.port=={p},rtp")] +
                       ["-T", "fields", "-e", "udp.srcport", "-e", "udp.dstport", "-e",
                        "rtp.seq", "-e", "_ws.malformed"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    rows = [r.split("\t") for r in t.stdout.decode().splitlines() if r.strip()]
    assert not any(r[3] for r in rows if len(r) > 3), rows
    flows = [(int(r[0]), int(r[1]), int(r[2])) for r in rows]
    # imsd -> the branch that spoke last: only the early packet
    assert [f for f in flows if f[1] == rp[2]] == [(pb, rp[2], 1)], flows
    # imsd -> the branch that answered: the caller's 3 after the 200
    assert [f[2] for f in flows if f[0] == pb and f[1] == rp[1]] == [2, 3, 4], flows
    assert [f[2] for f in flows if f[0] == pa and f[1] == rp[0]] == [102, 103, 104], flows


def test_cancel_while_2xx_waits_for_prack(ims):
    """RFC 3262 §3 and RFC 3261 §9.2: alice supports 100rel, bob answers
    183 with SDP then 200 at once; imsd holds the 200 until alice PRACKs
    its reliable 183. alice CANCELs instead: 200 to the CANCEL and 487 to
    the INVITE (no final answer had been sent), and bob's 200 is ACKed and
    his dialog ended with a BYE."""
    d, port, log, tmp = ims
    a, b = free_port(), free_port()
    register(ims, "alice", a)
    register(ims, "bob", b)
    sa, sb = udp(a), udp(b)
    try:
        body = sdp(40100)
        head = (f"sip:bob@ims.test SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {HOST}:{a};branch=z9hG4bKheld1;rport\r\n"
                f"Max-Forwards: 70\r\nFrom: <sip:alice@ims.test>;tag=caller1\r\n"
                f"To: <sip:bob@ims.test>\r\nCall-ID: held-{a}@test\r\n")
        sa.sendto((f"INVITE {head}CSeq: 1 INVITE\r\nContact: <sip:alice@{HOST}:{a}>\r\n"
                   f"Supported: 100rel\r\nContent-Type: application/sdp\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n{body}").encode(), (HOST, port))
        inv = recv_msg(sb, "INVITE ")
        reply(sb, port, inv, 183, "Session Progress", sdp(40110), tag="bob1")
        r183 = recv_msg(sa, "SIP/2.0 183")
        assert "100rel" in hval(r183, "Require"), r183
        reply(sb, port, inv, 200, "OK", sdp(40110), tag="bob1")
        sa.sendto((f"CANCEL {head}CSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n").encode(),
                  (HOST, port))
        ok = recv_msg(sa, "SIP/2.0 200")
        assert "CANCEL" in hval(ok, "CSeq"), ok
        final = recv_msg(sa, "SIP/2.0 487")
        assert "INVITE" in hval(final, "CSeq"), final
        recv_msg(sb, "ACK ")
        bye = recv_msg(sb, "BYE ")
        reply(sb, port, bye, 200, "OK", tag="bob1")
    finally:
        sa.close()
        sb.close()
    wait_log(log, lambda t: "CANCEL from the caller" in t)
