"""The CSCF stage over the wire (docs/cscf.md): a new request that asks for
an originating user is served only from the flow a UE registered over
(transport, address and port), an Event package no service takes gets 489
with Allow-Events, and a Request-URI that is none of our IMPUs gets 404."""
import re
import socket

from test_register_ue import Ue, TcpUe, _register, _start


def _subscribe_from(sock, port, me, ruri="sip:ue201@ims.test", event="reg",
                    call_id="cscf-sub@test", proto="UDP"):
    msg = "\r\n".join([
        f"SUBSCRIBE {ruri} SIP/2.0",
        f"Via: SIP/2.0/{proto} 127.0.0.1:{me};branch=z9hG4bK{call_id.split('@')[0]};rport",
        "Max-Forwards: 70",
        "From: <sip:ue201@ims.test>;tag=cs1",
        f"To: <{ruri}>",
        f"Call-ID: {call_id}",
        "CSeq: 1 SUBSCRIBE",
        f"Contact: <sip:ue201@127.0.0.1:{me}>",
        f"Event: {event}", "Accept: application/reginfo+xml",
        "Expires: 600", "Content-Length: 0", "", ""]).encode()
    if proto == "UDP":
        sock.sendto(msg, ("127.0.0.1", port))
    else:
        sock.sendall(msg)


def _final(ue, timeout=5.0):
    code, resp = ue.final(timeout)
    return code, resp


def test_subscribe_only_from_the_registered_flow(tmp_path, imsd_factory):
    """Another socket of the same host (same IP, another port) cannot read
    the user's registration state, though From names the user: the stage
    knows a UE by its flow, not by its IP address or its From."""
    d, port = _start(tmp_path, imsd_factory)
    ue = Ue(port)
    other = Ue(port)  # same IP, another port, never registered
    try:
        _register(ue)
        _subscribe_from(other.s, port, other.me, call_id="stranger@test")
        code, resp = _final(other)
        assert code == 403, resp
        assert "not from a registered flow" in resp.split("\r\n")[0], resp
        # the UE itself, from its flow: 200 and its NOTIFY
        _subscribe_from(ue.s, port, ue.me, call_id="self@test")
        code, resp = _final(ue)
        assert code == 200, resp
        ue.wait_notify(r"(?m)^Subscription-State: active")
    finally:
        ue.close()
        other.close()
    out = d.command("stats", "registrar.mem")
    assert re.search(r"(?m)^registrar\.subscriptions: 1$", out), out
    assert re.search(r"(?m)^cscf\.not_orig: 1$", out), out
    assert re.search(r"(?m)^cscf\.orig: 1$", out), out


def test_tcp_registered_ue_subscribes_over_its_connection(tmp_path, imsd_factory):
    """A UE registered over TCP is served on that connection, and its NOTIFY
    comes back over it; a UDP socket of the same host is another sender."""
    d, port = _start(tmp_path, imsd_factory)
    tue = TcpUe(port)
    udp = Ue(port)
    try:
        _register(tue)
        _subscribe_from(udp.s, port, udp.me, call_id="udp-other@test")
        assert _final(udp)[0] == 403
        _subscribe_from(tue.s, port, tue.me, call_id="tcp-self@test", proto="TCP")
        code, resp = tue.final()
        assert code == 200, resp
        tue.wait_notify(r"(?m)^Subscription-State: active")
        assert re.search(r"(?m)^Via: SIP/2.0/TCP ", tue.notifies[-1]), tue.notifies[-1]
    finally:
        tue.close()
        udp.close()


def test_unknown_event_and_unknown_user(tmp_path, imsd_factory):
    d, port = _start(tmp_path, imsd_factory)
    ue = Ue(port)
    try:
        _register(ue)
        _subscribe_from(ue.s, port, ue.me, event="presence", call_id="pres@test")
        code, resp = _final(ue)
        assert code == 489, resp
        assert re.search(r"(?im)^Allow-Events: reg\r$", resp), resp
        _subscribe_from(ue.s, port, ue.me, ruri="sip:nobody@ims.test", call_id="nob@test")
        code, resp = _final(ue)
        assert code == 404, resp
    finally:
        ue.close()


def test_options_still_answered_through_the_stage(tmp_path, imsd_factory):
    """OPTIONS is one of the stage's services: anyone may ping the server."""
    d, port = _start(tmp_path, imsd_factory)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    me = s.getsockname()[1]
    try:
        s.sendto("\r\n".join([
            f"OPTIONS sip:127.0.0.1:{port} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKopt1",
            "Max-Forwards: 70", "From: <sip:ping@test>;tag=o1", f"To: <sip:127.0.0.1:{port}>",
            "Call-ID: opt@test", "CSeq: 1 OPTIONS", "Content-Length: 0", "", ""]).encode(),
            ("127.0.0.1", port))
        s.settimeout(5)
        resp = s.recv(65536).decode()
        assert resp.startswith("SIP/2.0 200 "), resp
        assert re.search(r"(?im)^Allow: .*REGISTER.*SUBSCRIBE", resp), resp
    finally:
        s.close()
