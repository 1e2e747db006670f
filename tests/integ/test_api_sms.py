"""The remote API's SMS messages over the wire (manual §6.6 `sms`,
`sms_flush`, users_get's pending count; §6.7 the `sms` event with and without
sms_hook_only): Python websockets on one side, UEs on UDP that answer SMS
(test_sms.Phone) on the other, the PDUs decoded by test_sms's own codec."""
import asyncio
import base64
import json
import socket
import time

import websockets

from conftest import free_port
from sipstack import wait_log
from test_sms import SC, Phone, deliver_check, rp_ack_mo, rp_data_mo, rp_of, start, \
    submit, tpdu_decode


def _start(tmp_path, imsd_factory, extra=""):
    api = free_port(kind=socket.SOCK_STREAM)
    d, port = start(tmp_path, imsd_factory,
                    extra=f'com_addr: "127.0.0.1:{api}", com_name: "TESTIMS", {extra}')
    wait_log(str(tmp_path / "ims.log"), lambda t: "api: listening on" in t)
    return d, port, api


async def _recv(ws, timeout=10.0):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def _ask(ws, msg, timeout=10.0):
    await ws.send(json.dumps(msg))
    while True:  # events may come first
        r = await _recv(ws, timeout)
        if r.get("message") == msg["message"] and r.get("message_id") == msg.get("message_id"):
            return r


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def _connect(port):
    return websockets.connect(f"ws://127.0.0.1:{port}/", origin="http://test", max_size=None)


async def _pending(ws, impi):
    r = await _ask(ws, {"message": "users_get", "message_id": "u"})
    return next(u["sms"] for u in r["users"] if u["impi"] == impi)


def test_api_sms_text_and_binary_delivered(tmp_path, imsd_factory):
    """sms with text reaches the UE as an SMS-DELIVER from the SC address;
    with binary_hex, the TP-UD, UDHI, PID, DCS and sender are as sent;
    users_get counts the SMS pending until the UE's RP-ACK; sms_flush."""
    _, port, api = _start(tmp_path, imsd_factory)
    bob = Phone(port, "bob")
    try:
        bob.register()

        async def run():
            async with _connect(api) as ws:
                assert (await _recv(ws))["message"] == "ready"
                r = await _ask(ws, {"message": "sms", "message_id": 1, "impi": "bob@ims.test",
                                    "text": "hello from the api"})
                assert "error" not in r and r["parts"] == 1 and r["pending"] >= 0, r
                rp, _ = deliver_check(bob.wait_message(), "hello from the api",
                                      oa=SC.lstrip("+"))
                assert await _pending(ws, "bob@ims.test") == 1
                assert bob.sms(rp_ack_mo(rp["mr"])) == 200
                assert await _pending(ws, "bob@ims.test") == 0

                # binary: a UDH (concatenation 8-bit ref: 05 00 03 2a 01 01) then data
                ud = bytes.fromhex("0500032a0101") + b"\x01\x02\xfe"
                r = await _ask(ws, {"message": "sms", "message_id": 2,
                                    "impu": "tel:+33600000302", "binary_hex": ud.hex(),
                                    "tp_udhi_present": True, "pid": 0x41, "dcs": 0xF6,
                                    "sender": "+33611112222", "validity": 3600})
                assert "error" not in r and r["parts"] == 1, r
                rp = rp_of(bob.wait_message(n=2))
                t = tpdu_decode(rp["ud"])
                assert t["oa"] == "33611112222" and t["oa_toa"] == 0x91, t
                assert t["udhi"] and t["pid"] == 0x41 and t["dcs"] == 0xF6, t
                assert t["udl"] == len(ud) and t["ud"] == ud, t
                assert bob.sms(rp_ack_mo(rp["mr"])) == 200  # one in flight at a time
                # base64 with the default dcs (4, 8-bit data)
                r = await _ask(ws, {"message": "sms", "message_id": 3, "impi": "bob@ims.test",
                                    "binary": base64.b64encode(b"\x00raw").decode()})
                assert "error" not in r, r
                t = tpdu_decode(rp_of(bob.wait_message(n=3))["ud"])
                assert t["dcs"] == 4 and t["ud"] == b"\x00raw" and not t["udhi"], t
                # one still pending (not acknowledged): sms_flush tries it now
                r = await _ask(ws, {"message": "sms_flush", "message_id": 4,
                                    "impi": "bob@ims.test"})
                assert r.get("pending") == 1, r
                assert await _pending(ws, "bob@ims.test") == 1

        _run(run())
    finally:
        bob.close()


def test_api_sms_errors(tmp_path, imsd_factory):
    """Each refusal is an error answer naming the field or the user."""
    _, _, api = _start(tmp_path, imsd_factory)

    async def run():
        async with _connect(api) as ws:
            await _recv(ws)
            cases = [
                ({"impi": "nobody@ims.test", "text": "x"}, "Unknown user"),
                ({"text": "x"}, "impi"),
                ({"impi": "bob@ims.test"}, "text"),
                ({"impi": "bob@ims.test", "binary": "!!"}, "binary"),
                ({"impi": "bob@ims.test", "binary_hex": "00" * 141}, "binary_hex"),
                ({"impi": "bob@ims.test", "text": "x", "dcs": 300}, "dcs"),
                ({"impi": "bob@ims.test", "text": "x", "sos": True}, "sos"),
                ({"impi": "bob@ims.test", "binary_hex": "0102", "tp_udl": 5}, "tp_udl"),
                ({"impi": "bob@ims.test", "text": "x" * 65 * 160}, "too long"),
            ]
            for i, (m, want) in enumerate(cases):
                r = await _ask(ws, {"message": "sms", "message_id": i, **m})
                assert want in r.get("error", ""), (m, r)
            r = await _ask(ws, {"message": "sms_flush", "message_id": "f"})
            assert "impi" in r.get("error", ""), r
            r = await _ask(ws, {"message": "sms_flush", "message_id": "g", "impi": "x@y"})
            assert "Unknown user" in r.get("error", ""), r
            r = await _ask(ws, {"message": "help", "message_id": "h"})
            assert "sms" in r["messages"] and "sms_flush" in r["messages"], r
            assert "sms" in r["events"], r

    _run(run())


async def _mo(alice, text, mr):
    """Alice's SMS to Bob; her RP-ACK (the SMS was taken)."""
    assert alice.sms(rp_data_mo(submit("+33600000302", text, mr=mr), mr=mr)) == 202
    ack = rp_of(alice.wait_message(n=len(alice.inbox) + 1))
    assert ack == {"mti": 3, "mr": mr}, ack


def _event_check(ev, text):
    assert ev["message"] == "sms", ev
    assert ev["sender"] == "+33600000301" and ev["destination"] == "+33600000302", ev
    assert ev["text"] == text and ev["dcs"] == 0, ev
    assert abs(ev["date"] - time.time()) < 120, ev


def test_api_sms_event(tmp_path, imsd_factory):
    """An MO SMS is told to the clients registered for `sms`, and still
    delivered (no sms_hook_only)."""
    _, port, api = _start(tmp_path, imsd_factory)
    alice, bob = Phone(port, "alice"), Phone(port, "bob")
    try:
        alice.register()
        bob.register()

        async def run():
            async with _connect(api) as ws, _connect(api) as other:
                await _recv(ws)
                await _recv(other)
                r = await _ask(ws, {"message": "register", "message_id": 1, "register": "sms"})
                assert "error" not in r, r
                await _mo(alice, "seen by the api", 11)
                _event_check(await _recv(ws), "seen by the api")
                deliver_check(bob.wait_message(), "seen by the api")
                # the other client did not register: its next message is its answer
                await other.send(json.dumps({"message": "help", "message_id": "o"}))
                assert (await _recv(other))["message"] == "help"
                # unregistered: no more events (the hook ran before Alice's RP-ACK,
                # so an event would come before the help answer)
                r = await _ask(ws, {"message": "register", "message_id": 2,
                                    "unregister": "sms"})
                assert "error" not in r, r
                await _mo(alice, "not seen", 12)
                await ws.send(json.dumps({"message": "help", "message_id": 3}))
                r = await _recv(ws)
                assert r["message"] == "help", r

        _run(run())
    finally:
        alice.close()
        bob.close()


def test_api_sms_hook_only(tmp_path, imsd_factory):
    """sms_hook_only (set here by config_set, read back by config_get): with a
    client registered for `sms`, the SMS goes to it only (the sender still
    gets its RP-ACK, nothing is queued for Bob); without one, imsd relays it
    as usual. config_set of sms_expires and sms_retry_delay are read back."""
    _, port, api = _start(tmp_path, imsd_factory)
    alice, bob = Phone(port, "alice"), Phone(port, "bob")
    try:
        alice.register()
        bob.register(smsip=False)  # nothing delivered: the queue shows what was kept

        async def run():
            async with _connect(api) as ws:
                await _recv(ws)
                r = await _ask(ws, {"message": "config_set", "sms_hook_only": 1})
                assert "sms_hook_only" in r.get("error", ""), r
                r = await _ask(ws, {"message": "config_set", "sms_hook_only": True,
                                    "sms_expires": 7200, "sms_retry_delay": 5})
                assert "error" not in r, r
                r = await _ask(ws, {"message": "config_get"})
                assert (r["sms_hook_only"], r["sms_expires"], r["sms_retry_delay"]) == \
                    (True, 7200, 5), r
                await _ask(ws, {"message": "register", "message_id": 1, "register": "sms"})
                await _mo(alice, "hook only", 21)
                _event_check(await _recv(ws), "hook only")
                assert await _pending(ws, "bob@ims.test") == 0
                await _ask(ws, {"message": "register", "message_id": 2, "unregister": "sms"})
                await _mo(alice, "relayed", 22)
                assert await _pending(ws, "bob@ims.test") == 1

        _run(run())
    finally:
        alice.close()
        bob.close()
