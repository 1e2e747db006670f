"""dialog_set's hold with `media` and reinvite with `sdp_file` through the
remote API (manual §6 dialog_set), over the wire: Python websockets on one
side, a registered UE on UDP (test_sms's Phone) called by imsd (mt_call) on
the other. hold with media "audio" sends the UE a re-INVITE with that
stream a=sendonly; reinvite with an sdp_file sends the file's SDP (on a
relay port); a bad media and an sdp_file that cannot be read get errors
that say so; an sdp_file on a call between two phones is refused; stop
with code, reason and reason_protocol sends a BYE with
`Reason: Q.850;cause=16;text="..."` (RFC 3326), a protocol that is not a
token is refused.
"""
import time

from test_api_sms import _ask, _connect, _recv, _run, _start
from test_sms import Phone

SDP_UE = ("v=0\r\no=bob 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
          "m=audio 4000 RTP/AVP 96\r\na=rtpmap:96 AMR-WB/16000\r\n")


def _wait_request(phone, method, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        head, body = phone.recv(max(0.1, deadline - time.monotonic()))
        if head.startswith(method + " "):
            return head, body.decode()


def _reply(phone, head, code, reason, body=""):
    lines = head.split("\r\n")
    keep = [ln for ln in lines[1:] if ln.split(":", 1)[0].lower() in (
        "via", "from", "call-id", "cseq")]
    to = next(ln for ln in lines if ln.lower().startswith("to:"))
    if "tag=" not in to:
        to += f";tag=bob{phone.me}"
    ctype = ["Content-Type: application/sdp"] if body else []
    phone.send([f"SIP/2.0 {code} {reason}", *keep, to,
                f"Contact: <sip:bob@127.0.0.1:{phone.me}>", *ctype], body.encode())


def test_api_hold_media_and_reinvite_sdp_file(tmp_path, imsd_factory):
    _, port, api = _start(tmp_path, imsd_factory)
    sdp_file = tmp_path / "new.sdp"
    sdp_file.write_text("v=0\r\no=imsd 7 7 IN IP4 127.0.0.1\r\ns=from-file\r\n"
                        "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 8\r\n"
                        "a=rtpmap:8 PCMA/8000\r\n")
    bob = Phone(port, "bob")
    try:
        bob.register()

        async def run():
            async with _connect(api) as ws:
                assert (await _recv(ws))["message"] == "ready"
                r = await _ask(ws, {"message": "mt_call", "message_id": 1,
                                    "impi": "bob@ims.test"})
                assert "error" not in r, r
                sid = r["session_id"]
                head, body = _wait_request(bob, "INVITE")
                _reply(bob, head, 200, "OK", SDP_UE)
                _wait_request(bob, "ACK")
                r = await _ask(ws, {"message": "dialog_set", "message_id": 2,
                                    "session_id": sid, "action": "hold", "media": "fax"})
                assert "Field media" in r.get("error", ""), r
                r = await _ask(ws, {"message": "dialog_set", "message_id": 3,
                                    "session_id": sid, "action": "hold",
                                    "media": "audio"})
                assert "error" not in r, r
                head, body = _wait_request(bob, "INVITE")
                assert "a=sendonly" in body, body
                _reply(bob, head, 200, "OK", SDP_UE.replace("AMR-WB/16000",
                                                            "AMR-WB/16000\r\na=recvonly"))
                _wait_request(bob, "ACK")
                r = await _ask(ws, {"message": "dialog_get", "message_id": 4,
                                    "session_id": sid})
                assert r["dialogs"][0]["state"] == "hold", r
                r = await _ask(ws, {"message": "dialog_set", "message_id": 5,
                                    "session_id": sid, "action": "reinvite",
                                    "sdp_file": str(tmp_path / "none.sdp")})
                assert "cannot read the SDP file" in r.get("error", ""), r
                r = await _ask(ws, {"message": "dialog_set", "message_id": 6,
                                    "session_id": sid, "action": "reinvite",
                                    "sdp_file": str(sdp_file)})
                assert "error" not in r, r
                head, body = _wait_request(bob, "INVITE")
                # the file's SDP, on a relay port, still held
                assert "s=from-file" in body and "PCMA/8000" in body, body
                assert "m=audio 9 " not in body and "a=sendonly" in body, body
                _reply(bob, head, 200, "OK", SDP_UE)
                _wait_request(bob, "ACK")
                r = await _ask(ws, {"message": "dialog_set", "message_id": 7,
                                    "session_id": sid, "action": "stop",
                                    "reason_protocol": "Q 850"})
                assert "reason_protocol" in r.get("error", ""), r
                r = await _ask(ws, {"message": "dialog_set", "message_id": 8,
                                    "session_id": sid, "action": "stop", "code": 16,
                                    "reason": "Normal call clearing",
                                    "reason_protocol": "Q.850"})
                assert "error" not in r, r
                head, _ = _wait_request(bob, "BYE")
                # RFC 3326: the Reason header the fields make
                assert 'Reason: Q.850;cause=16;text="Normal call clearing"' in head, head
                _reply(bob, head, 200, "OK")

        _run(run())
    finally:
        bob.close()
