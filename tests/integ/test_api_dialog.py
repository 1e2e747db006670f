"""The remote API's calls messages over the wire (manual §6.6 mt_call,
dialog_get, dialog_set): Python websockets on one side, a UE on UDP (the SMS
tests' Phone, registered) on the other. imsd calls the UE (mt_call), the call
is listed with the manual's fields, stopped with dialog_set (the UE gets the
CANCEL of the INVITE it never answered), and kept 30 s as stopped."""
import time

from test_api_sms import _ask, _connect, _recv, _run, _start
from test_sms import Phone


def _wait_request(phone, method, timeout=5.0):
    """The next request of that method the phone gets; 100/180 and others skipped."""
    deadline = time.monotonic() + timeout
    while True:
        head, body = phone.recv(max(0.1, deadline - time.monotonic()))
        if head.startswith(method + " "):
            return head, body


def _reply(phone, head, code, reason):
    """A response of the phone to the request whose head it got."""
    lines = head.split("\r\n")
    keep = [ln for ln in lines[1:] if ln.split(":", 1)[0].lower() in (
        "via", "from", "call-id", "cseq")]
    to = next(ln for ln in lines if ln.lower().startswith("to:"))
    phone.send([f"SIP/2.0 {code} {reason}", *keep, f"{to};tag=bob{phone.me}",
                f"Contact: <sip:bob@127.0.0.1:{phone.me}>"])


def test_api_mt_call_dialog_get_and_stop(tmp_path, imsd_factory):
    _, port, api = _start(tmp_path, imsd_factory)
    bob = Phone(port, "bob")
    try:
        bob.register()

        async def run():
            async with _connect(api) as ws:
                assert (await _recv(ws))["message"] == "ready"
                r = await _ask(ws, {"message": "mt_call", "message_id": 1,
                                    "impi": "bob@ims.test", "duration": 30})
                assert "error" not in r and r["session_id"], r
                sid = r["session_id"]
                head, body = _wait_request(bob, "INVITE")
                assert "m=audio" in body.decode(), body
                _reply(bob, head, 180, "Ringing")
                r = await _ask(ws, {"message": "dialog_get", "message_id": 2,
                                    "session_id": sid})
                assert len(r["dialogs"]) == 1, r
                d = r["dialogs"][0]
                assert d["session_id"] == sid and d["type"] == "mt", d
                assert d["state"] in ("init", "ringing"), d  # 180 may still be on its way
                assert "bob" in d["to"], d
                assert isinstance(d["date"], int) and d["date"] > 1700000000, d
                assert d["event_list"] and d["event_list"][0]["type"] in (
                    "state", "send"), d
                for m in d["medias"]:
                    assert m["type"] == "audio" and m["qos"] == "disabled", m
                # every dialog, unfiltered, includes it
                r = await _ask(ws, {"message": "dialog_get", "message_id": 3})
                assert sid in [x["session_id"] for x in r["dialogs"]], r
                # errors name what is wrong
                r = await _ask(ws, {"message": "dialog_set", "message_id": 4,
                                    "session_id": sid, "action": "dance"})
                assert "action" in r.get("error", ""), r
                r = await _ask(ws, {"message": "dialog_set", "message_id": 5,
                                    "session_id": "no-such", "action": "stop"})
                assert r.get("error") == "Dialog not found", r
                r = await _ask(ws, {"message": "mt_call", "message_id": 6,
                                    "impi": "nobody@ims.test"})
                assert "No such user" in r.get("error", ""), r
                # stop: the UE's INVITE is cancelled; the dialog is kept, stopped
                r = await _ask(ws, {"message": "dialog_set", "message_id": 7,
                                    "session_id": "*", "action": "stop"})
                assert "error" not in r, r
                cancel, _ = _wait_request(bob, "CANCEL")
                _reply(bob, cancel, 200, "OK")
                r = await _ask(ws, {"message": "dialog_get", "message_id": 8,
                                    "session_id": sid})
                assert r["dialogs"][0]["state"] == "stop", r
                r = await _ask(ws, {"message": "help", "message_id": 9})
                names = [m if isinstance(m, str) else m.get("message", m.get("name"))
                         for m in r["messages"]]
                assert {"mt_call", "dialog_get", "dialog_set"} <= set(names), r
        _run(run())
    finally:
        bob.close()
