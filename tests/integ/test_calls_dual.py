"""Forking to bindings of both address families, over the wire
(docs/calls.md "Forking to both address families"): imsd listens on
127.0.0.1 and [::1], its relay has a pool on each; bob registers with AKA
(SIPp) once over IPv4 and once over IPv6, then raw sockets on those ports
are his two phones. alice (IPv4) calls: the IPv4 branch's INVITE offers the
relay's IPv4 address, the IPv6 branch's the relay's IPv6 address (each
phone gets a c= it can reach), the IPv6 phone answers and the IPv4 one is
CANCELled, and RTP goes both ways between the IPv4 caller and the IPv6
callee through the relay; tshark decodes every SIP and RTP packet without a
malformed one.
"""
import re
import socket
import subprocess

import pytest

import test_calls as tc
from conftest import Imsd, free_port

HOST = tc.HOST
HOST6 = "::1"


@pytest.fixture
def ims(tmp_path):
    assert tc.SIPP, "sipp is not installed (make deps installs sip-tester)"
    port = free_port()
    port6 = free_port(socket.AF_INET6)
    media = tc.media_range()
    log = tmp_path / "ims.log"
    cfg = tmp_path / "ims.cfg"
    cfg.write_text(f"""{{
  log_filename: "{log}",
  log_options: "all.level=debug",
  sip_addr: [{{ addr: "{HOST}:{port}", port_min: {media}, port_max: {media + 399} }},
             {{ addr: "[{HOST6}]:{port6}", port_min: {media}, port_max: {media + 399} }}],
  domain: "ims.test",
  dialog_timeout: 10,
  ue_db: [
    {tc.user("001010000000201", "alice")},
    {tc.user("001010000000202", "bob")},
  ],
}}
""")
    d = Imsd(str(cfg))
    try:
        d.wait_ready()
        yield d, port, str(log), tmp_path, port6
    finally:
        d.stop()
    assert not d.sanitizer_report(), d.sanitizer_report()


def register6(ims, name, lport, imei):
    d, port, log, tmp, port6 = ims
    cmd = tc.sipp_cmd(tmp, "call_reg", port, lport, name, imei=imei)
    cmd[cmd.index("-i") + 1] = HOST6
    cmd[-1] = f"[{HOST6}]:{port6}"
    rc, out = tc.run(cmd, tmp)
    assert rc == 0, f"{name} did not register over IPv6:\n{out}"


def udp6(port=0):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind((HOST6, port))
    s.settimeout(3.0)
    return s


def reply6(sock, port6, req, code, reason, body="", tag="six"):
    """tc.reply for a phone on [::1]."""
    vias = "".join(f"Via: {v}\r\n" for v in re.findall(r"^Via:\s*(.*?)\r$", req, re.M))
    to = tc.hval(req, "To")
    if "tag=" not in to:
        to += f";tag={tag}"
    ctype = "Content-Type: application/sdp\r\n" if body else ""
    sock.sendto((f"SIP/2.0 {code} {reason}\r\n{vias}From: {tc.hval(req, 'From')}\r\n"
                 f"To: {to}\r\nCall-ID: {tc.hval(req, 'Call-ID')}\r\n"
                 f"CSeq: {tc.hval(req, 'CSeq')}\r\n"
                 f"Contact: <sip:bob@[{HOST6}]:{sock.getsockname()[1]}>\r\n{ctype}"
                 f"Content-Length: {len(body)}\r\n\r\n{body}").encode(), (HOST6, port6))


def sdp6(port):
    return (f"v=0\r\no=ue 1 1 IN IP6 {HOST6}\r\ns=-\r\nc=IN IP6 {HOST6}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n")


def media_of(msg, family):
    c = re.search(r"\r\nc=IN (IP[46]) (\S+)", msg)
    m = re.search(r"\r\nm=audio (\d+) ", msg)
    assert c and m, msg
    assert c.group(1) == family, msg
    return c.group(2), int(m.group(1))


def test_fork_to_ipv4_and_ipv6_bindings(ims):
    assert tc.TSHARK, "tshark is not installed (make deps installs it)"
    d, port, log, tmp, port6 = ims
    a, b4, b6 = free_port(), free_port(), free_port(socket.AF_INET6)
    tc.register(ims[:4], "alice", a)
    tc.register(ims[:4], "bob", b4, imei="35000000-000010-0")
    register6(ims, "bob", b6, imei="35000000-000011-0")
    sa, s4, ra = tc.udp(a), tc.udp(b4), tc.udp()
    s6, r6 = udp6(b6), udp6()
    pcap = tmp / "dual.pcap"
    cap = tc.start_capture(pcap, "udp")
    try:
        body = tc.sdp(ra.getsockname()[1])
        sa.sendto((f"INVITE sip:bob@ims.test SIP/2.0\r\n"
                   f"Via: SIP/2.0/UDP {HOST}:{a};branch=z9hG4bKdual1;rport\r\n"
                   f"Max-Forwards: 70\r\nFrom: <sip:alice@ims.test>;tag=caller1\r\n"
                   f"To: <sip:bob@ims.test>\r\nCall-ID: dual-{a}@test\r\n"
                   f"CSeq: 1 INVITE\r\nContact: <sip:alice@{HOST}:{a}>\r\n"
                   f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n"
                   f"{body}").encode(), (HOST, port))
        i4 = tc.recv_msg(s4, "INVITE ")
        i6 = tc.recv_msg(s6, "INVITE ")
        assert media_of(i4, "IP4")[0] == HOST
        addr6, relay6 = media_of(i6, "IP6")
        assert addr6 == HOST6
        tc.reply(s4, port, i4, 180, "Ringing", tag="four")
        tc.recv_msg(sa, "SIP/2.0 180")
        reply6(s6, port6, i6, 200, "OK", sdp6(r6.getsockname()[1]))
        ok = tc.recv_msg(sa, "SIP/2.0 200")
        relay4 = media_of(ok, "IP4")[1]
        tc.in_dialog(sa, port, ok, "ACK", 1)
        tc.recv_msg(s6, "ACK ")
        assert tc.recv_msg(s4, "CANCEL ")
        for i in range(3):
            ra.sendto(tc.rtp(i, b"\x11" * 160), (HOST, relay4))
            data, src = r6.recvfrom(2048)
            assert data == tc.rtp(i, b"\x11" * 160) and src[:2] == (HOST6, relay6)
            r6.sendto(tc.rtp(50 + i, b"\x22" * 160), (HOST6, relay6))
            data, src = ra.recvfrom(2048)
            assert data == tc.rtp(50 + i, b"\x22" * 160) and src == (HOST, relay4)
        tc.in_dialog(sa, port, ok, "BYE", 2)
        bye = tc.recv_msg(s6, "BYE ")
        reply6(s6, port6, bye, 200, "OK")
        tc.recv_msg(sa, "SIP/2.0 200")
    finally:
        tc.stop_capture(cap)
        for s in (sa, s4, ra, s6, r6):
            s.close()
    t = subprocess.run([tc.TSHARK, "-r", str(pcap), "-d", f"udp.port=={port},sip", "-d",
                        f"udp.port=={port6},sip", "-d", f"udp.port=={relay4},rtp", "-d",
                        f"udp.port=={relay6},rtp", "-Y", "sip || rtp || _ws.malformed",
                        "-T", "fields", "-e", "ipv6.dst", "-e", "ip.dst", "-e", "rtp.seq",
                        "-e", "_ws.malformed"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    rows = [r.split("\t") for r in t.stdout.decode().splitlines() if r]
    assert not [r for r in rows if r[3]], rows  # no malformed packet
    # the relay's packets to the IPv6 phone and to the IPv4 caller
    assert len([r for r in rows if r[0] == HOST6 and r[2]]) >= 3, rows
    assert len([r for r in rows if r[1] == HOST and r[2]]) >= 3, rows
