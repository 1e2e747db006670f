"""The reg-event subscription as a SIP dialog over the wire (RFC 3261 §12,
RFC 6665 §4.1.2, §4.2.1): a refresh and an unsubscribe (Expires: 0) sent inside
the subscription's dialog are delivered to the registrar by the dialog layer and
answered as before; the NOTIFYs follow the dialog (tags, Route from the
Record-Route, CSeq one up each time, the target refreshed by the SUBSCRIBE's
Contact); an out-of-order CSeq gets 500 and an unknown To tag 481."""
import re

from test_register_ue import Ue, _register, _start


def _subscribe(ue, cseq, to_tag=None, expires=600, contact_port=None, record_route=None):
    """A SUBSCRIBE in the Ue's subscription Call-ID (Ue.subscribe's), in the
    dialog when to_tag is given; the final response."""
    h = ["SUBSCRIBE sip:ue201@ims.test SIP/2.0",
         f"Via: SIP/2.0/UDP 127.0.0.1:{ue.me};branch=z9hG4bKdlg{cseq}x{ue.me};rport",
         "Max-Forwards: 70",
         f"From: <sip:ue201@ims.test>;tag=sub{ue.me}",
         "To: <sip:ue201@ims.test>" + (f";tag={to_tag}" if to_tag else ""),
         f"Call-ID: sub-{ue.call_id}",
         f"CSeq: {cseq} SUBSCRIBE",
         f"Contact: <sip:ue201@127.0.0.1:{contact_port or ue.me}>",
         *([f"Record-Route: {record_route}"] if record_route else []),
         "Event: reg", "Accept: application/reginfo+xml",
         f"Expires: {expires}", "Content-Length: 0", "", ""]
    ue._send("\r\n".join(h))
    return ue.final()


def _hdr(msg, name):
    m = re.search(rf"(?im)^{name}:\s*([^\r\n]*)", msg)
    assert m, msg
    return m.group(1)


def _to_tag(resp):
    m = re.search(r"(?im)^To:[^\r\n]*;tag=([^;\r\n]+)", resp)
    assert m, resp
    return m.group(1)


def _stats_subs(d):
    out = d.command("stats", "registrar.mem")
    m = re.search(r"(?m)^registrar\.subscriptions: (\d+)$", out)
    assert m, out
    return int(m.group(1))


def test_refresh_and_unsubscribe_in_dialog(tmp_path, imsd_factory):
    d, port = _start(tmp_path, imsd_factory)
    ue = Ue(port)
    rr = "<sip:p1.ims.test;lr>"
    try:
        _register(ue)
        code, resp = _subscribe(ue, 10, record_route=rr)
        assert code == 200, resp
        tag = _to_tag(resp)
        ue.wait_notify(r"Subscription-State: active")
        first = ue.notifies[-1]
        assert first.startswith("NOTIFY sip:ue201@127.0.0.1:%d SIP/2.0" % ue.me), first
        assert _hdr(first, "Route") == rr
        assert _hdr(first, "CSeq") == "1 NOTIFY"
        assert f"tag={tag}" in _hdr(first, "From")
        assert f"tag=sub{ue.me}" in _hdr(first, "To")
        assert _stats_subs(d) == 1

        # a refresh inside the dialog, from a new Contact (a target refresh)
        n = len(ue.notifies)
        code, resp = _subscribe(ue, 11, to_tag=tag, expires=300, contact_port=ue.me + 1)
        assert code == 200, resp
        assert _to_tag(resp) == tag
        ue.wait_notify(r"CSeq: 2 NOTIFY")
        refreshed = ue.notifies[n]
        assert re.search(r"(?im)^Subscription-State: active;expires=\d+", refreshed), refreshed
        assert refreshed.startswith(
            "NOTIFY sip:ue201@127.0.0.1:%d SIP/2.0" % (ue.me + 1)), refreshed
        assert _hdr(refreshed, "Route") == rr
        assert "version=\"1\"" in refreshed
        assert _stats_subs(d) == 1

        # out of order (RFC 3261 §12.2.2): 500, no NOTIFY
        code, resp = _subscribe(ue, 5, to_tag=tag)
        assert code == 500 and "out of order" in resp.split("\r\n", 1)[0], resp
        # a To tag that names no dialog: 481 (RFC 6665 §4.2.1.2)
        code, resp = _subscribe(ue, 12, to_tag="no-such-tag")
        assert code == 481, resp
        assert len(ue.notifies) == n + 1

        # unsubscribe inside the dialog: 200, the final NOTIFY, then gone
        code, resp = _subscribe(ue, 13, to_tag=tag, expires=0)
        assert code == 200, resp
        assert re.search(r"(?im)^Expires:\s*0\s*$", resp), resp
        ue.wait_notify(r"Subscription-State: terminated;reason=timeout")
        last = ue.notifies[-1]
        assert _hdr(last, "CSeq") == "3 NOTIFY"
        assert _stats_subs(d) == 0
        # the dialog ended with it
        code, resp = _subscribe(ue, 14, to_tag=tag)
        assert code == 481, resp
    finally:
        ue.close()
    log = (tmp_path / "ims.log").read_text()
    assert "SUBSCRIBE" in log
