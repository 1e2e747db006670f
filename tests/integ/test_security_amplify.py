"""Issue 19, finding 2 (traffic amplification) over the wire: with a valid
account, a REGISTER and reg SUBSCRIBEs made "from" a victim's address bound
the victim and sent it NOTIFYs, each retransmitted until Timer F. Now an
address that never answered imsd (docs/security.md, "Traffic amplification")
gets each request once, within a byte budget per IP; a phone that answered
its challenge still gets retransmissions; and a REGISTER's 200 lists the
other bindings by URI only. The victim here is a socket of the test that
never answers: what imsd sees is the same as a forged source address."""
import re
import socket
import time

from test_security import IMPI, Md5Ue, _challenge, _digest, _start

BUDGET_BURST = 16384  # SIP_PEER_BUDGET_BURST, src/sip/sip_peer.h
BUDGET_RATE = 2048    # SIP_PEER_BUDGET_RATE


def _register_from(sock, me, port, auth, cseq, call_id, contact_tail=""):
    h = ["REGISTER sip:ims.test SIP/2.0",
         f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKf{cseq}x{me};rport",
         "Max-Forwards: 70", f"From: <sip:alice@ims.test>;tag=f{me}",
         "To: <sip:alice@ims.test>", f"Call-ID: {call_id}", f"CSeq: {cseq} REGISTER",
         f"Contact: <sip:alice@127.0.0.1:{me}>{contact_tail};expires=600",
         auth, "Content-Length: 0", "", ""]
    sock.sendto("\r\n".join(h).encode(), ("127.0.0.1", port))


def _subscribe_from(sock, me, port, i):
    h = ["SUBSCRIBE sip:alice@ims.test SIP/2.0",
         f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKsub{i}x{me};rport",
         "Max-Forwards: 70", f"From: <sip:alice@ims.test>;tag=s{i}",
         "To: <sip:alice@ims.test>", f"Call-ID: amp-sub-{i}@test", "CSeq: 1 SUBSCRIBE",
         f"Contact: <sip:alice@127.0.0.1:{me}>", "Event: reg",
         "Accept: application/reginfo+xml", "Expires: 600", "Content-Length: 0", "", ""]
    sock.sendto("\r\n".join(h).encode(), ("127.0.0.1", port))


def _drain(sock, seconds):
    """Everything sock receives for that long: (first line, branch, bytes)."""
    got = []
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return got
        sock.settimeout(left)
        try:
            data = sock.recvfrom(65536)[0]
        except socket.timeout:
            return got
        text = data.decode(errors="replace")
        m = re.search(r"(?im)^Via:[^\r\n]*branch=([^;\r\n]+)", text)
        got.append((text.split("\r\n", 1)[0], m.group(1) if m else "", len(data)))


def _notifies(got):
    return [g for g in got if g[0].startswith("NOTIFY ")]


def test_forged_source_gets_each_notify_once_within_a_budget(tmp_path, imsd_factory):
    """The review's attack: the attacker takes a challenge at its own
    address, then from the victim's address re-uses the nonce (nc=2) to bind
    the victim and subscribes 16 times; each later REGISTER made imsd send
    the victim 16 NOTIFYs, each retransmitted. Now nothing is retransmitted
    to the victim, its bytes stay within the budget, the subscriptions whose
    NOTIFY could not go are ended, and the counters show it."""
    d, port = _start(tmp_path, imsd_factory, extra="timer_t1: 0.1, timer_t2: 0.4,",
                     level="info")
    att = Md5Ue(port)
    vic = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    vic.bind(("127.0.0.1", 0))
    vme = vic.getsockname()[1]
    try:
        code, resp = att.register()
        ch = _challenge(resp)
        code, resp = att.register(auth=_digest(ch, "ims.test"))
        assert code == 200, resp
        # from the victim's address: the same nonce, nc=2, accepted
        _register_from(vic, vme, port, _digest(ch, "ims.test", nc="00000002"), 1,
                       "victim@test", ";" + "x" * 400)
        first = _drain(vic, 0.5)
        assert any(g[0].startswith("SIP/2.0 200") for g in first), first
        for i in range(16):
            _subscribe_from(vic, vme, port, i)
        # a later REGISTER of the attacker's own: another NOTIFY per subscription
        time.sleep(0.3)
        code, resp = att.register(auth=_digest(ch, "ims.test", nc="00000003"))
        assert code == 200, resp
        t0 = time.monotonic()
        got = first + _drain(vic, 8.0)  # Timer F = 64*T1 = 6.4 s
        elapsed = time.monotonic() - t0 + 1.0
    finally:
        att.close()
        vic.close()
    notes = _notifies(got)
    assert notes, got
    branches = [g[1] for g in notes]
    assert len(branches) == len(set(branches)), "a NOTIFY was retransmitted"
    sent = sum(g[2] for g in notes)
    assert sent <= BUDGET_BURST + BUDGET_RATE * elapsed, (sent, elapsed)
    out = d.command("stats", "registrar.mem")
    unproven = int(re.search(r"(?m)^counters\.sip\.tx_unproven: (\d+)$", out).group(1))
    refused = int(re.search(r"(?m)^counters\.sip\.tx_unproven_refused: (\d+)$",
                            out).group(1))
    assert unproven == len(notes), (out, len(notes))
    assert refused > 0, out
    # the subscriptions whose NOTIFY was refused or never answered are gone
    subs = int(re.search(r"(?m)^registrar\.subscriptions: (\d+)$", out).group(1))
    assert subs < 16, out


def test_phone_that_answered_its_challenge_gets_retransmissions(tmp_path, imsd_factory):
    """A phone whose REGISTER answered a challenge sent to its own address
    has shown it receives: a NOTIFY it does not answer at once comes again
    (RFC 3261 Timer E), as before."""
    d, port = _start(tmp_path, imsd_factory, extra="timer_t1: 0.1, timer_t2: 0.4,")
    ue = Md5Ue(port)
    try:
        code, resp = ue.register()
        code, resp = ue.register(auth=_digest(_challenge(resp), "ims.test"))
        assert code == 200, resp
        _subscribe_from(ue.s, ue.me, port, 1)
        got = _drain(ue.s, 1.0)
    finally:
        ue.close()
    notes = _notifies(got)
    assert len(notes) >= 2, got
    assert len({g[1] for g in notes}) == 1, notes  # the same NOTIFY again
    out = d.command("stats", "registrar.mem")
    assert re.search(r"(?m)^counters\.sip\.tx_unproven: 0$", out), out


def test_ok_lists_other_bindings_by_uri(tmp_path, imsd_factory):
    """16 bindings with long Contact parameters: a REGISTER naming none of
    them (a fetch) gets a 200 listing their URIs, not their parameters, so
    the answer is not much larger than the request."""
    d, port = _start(tmp_path, imsd_factory, level="info")
    ue = Md5Ue(port)
    socks = []
    try:
        code, resp = ue.register()
        ch = _challenge(resp)
        code, resp = ue.register(auth=_digest(ch, "ims.test"))
        assert code == 200, resp
        pad = ";+g.3gpp.icsi-ref=\"" + "y" * 600 + "\""
        for i in range(15):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            _register_from(s, s.getsockname()[1], port,
                           _digest(ch, "ims.test", nc=f"{i + 2:08x}"), 1,
                           f"many-{i}@test", pad)
            text = s.recvfrom(65536)[0].decode(errors="replace")
            assert text.startswith("SIP/2.0 200"), text
            assert text.count("y" * 600) == 1, "only its own Contact whole"
        fetch = ["REGISTER sip:ims.test SIP/2.0",
                 f"Via: SIP/2.0/UDP 127.0.0.1:{ue.me};branch=z9hG4bKfetch;rport",
                 "Max-Forwards: 70", f"From: <sip:alice@ims.test>;tag=q{ue.me}",
                 "To: <sip:alice@ims.test>", "Call-ID: fetch@test", "CSeq: 1 REGISTER",
                 _digest(ch, "ims.test", nc=f"{17:08x}"), "Content-Length: 0", "", ""]
        req = "\r\n".join(fetch).encode()
        ue.s.sendto(req, ("127.0.0.1", port))
        code, resp = ue.final()
    finally:
        ue.close()
        for s in socks:
            s.close()
    assert code == 200, resp
    assert len(re.findall(r"(?im)^Contact:", resp)) == 16, resp
    assert "y" * 600 not in resp
    assert len(resp) < 4 * len(req), (len(resp), len(req))
    assert IMPI.split("@")[0] in resp
