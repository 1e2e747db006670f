"""config_set over the wire (manual §6.5): each property it changes at run
time, seen where a user sees it — P-Called-Party-ID on the MESSAGE a phone
gets, the RP-ERROR cause of a refused SMS, the end of an unanswered call
after dialog_timeout, the 422 Min-SE of a call below session_expires.min —
read with the configuration file's checks (an error names the field and
changes nothing), and the properties it cannot change refused with why."""
from test_api_dialog import _reply, _wait_request
from test_api_sms import _ask, _connect, _recv, _run, _start
from test_sms import Phone, rp_ack_mo, rp_data_mo, rp_of, submit


SDP = (b"v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
       b"t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n")


def _provisional_of_call(alice, bob, cid):
    """alice's INVITE to bob (Require: 100rel), bob's 180; the 180 alice
    gets. bob then refuses (486) and alice acknowledges."""
    tag = f"alice{alice.me}"
    via = f"Via: SIP/2.0/UDP 127.0.0.1:{alice.me};branch=z9hG4bK{cid};rport"
    common = [via, "Max-Forwards: 70", f"From: <sip:alice@ims.test>;tag={tag}",
              "To: <sip:bob@ims.test>", f"Call-ID: {cid}"]
    alice.send(["INVITE sip:bob@ims.test SIP/2.0", *common, "CSeq: 1 INVITE",
                f"Contact: <sip:alice@127.0.0.1:{alice.me}>", "Require: 100rel",
                "Content-Type: application/sdp"], SDP)
    inv, _ = _wait_request(bob, "INVITE")
    _reply(bob, inv, 180, "Ringing")
    while True:
        head, _ = alice.recv()
        if f"Call-ID: {cid}" in head and head.startswith("SIP/2.0 180"):
            break
    _reply(bob, inv, 486, "Busy Here")
    while True:
        final, _ = alice.recv()
        if f"Call-ID: {cid}" in final and final.startswith("SIP/2.0 486"):
            break
    to = next(ln for ln in final.split("\r\n") if ln.lower().startswith("to:"))
    alice.send(["ACK sip:bob@ims.test SIP/2.0", via, "Max-Forwards: 70",
                f"From: <sip:alice@ims.test>;tag={tag}", to, f"Call-ID: {cid}",
                "CSeq: 1 ACK"])
    return head


def _ack(phone, final):
    """The ACK of a non-2xx final to phone's INVITE (RFC 3261 §17.1.1.3), so
    that it is not sent again."""
    keep = [ln for ln in final.split("\r\n")
            if ln.split(":", 1)[0].lower() in ("via", "from", "to", "call-id")]
    cseq = next(ln for ln in final.split("\r\n") if ln.lower().startswith("cseq:"))
    phone.send(["ACK sip:bob@ims.test SIP/2.0", *keep, "Max-Forwards: 70",
                cseq.replace("INVITE", "ACK")])


def _ok(r):
    assert "error" not in r, r
    return r


def test_config_set_properties_take_effect(tmp_path, imsd_factory):
    _, port, api = _start(tmp_path, imsd_factory)  # p_called_party_id: true
    alice, bob = Phone(port, "alice"), Phone(port, "bob")
    try:
        alice.register()
        bob.register()

        async def go():
            async with _connect(api) as ws:
                await _recv(ws)
                r = await _ask(ws, {"message": "config_get", "message_id": 0})
                assert r["p_called_party_id"] is True and r["dialog_timeout"] == 30, r
                assert r["precondition"] == "on" and r["100rel"] is True, r
                assert r["session_expires"] == {"duration": 1800, "min": 90}, r

                # errors name the field; nothing of the message changes
                for i, (m, want) in enumerate([
                        ({"binding_expires": 50, "dialog_timeout": 0}, "dialog_timeout"),
                        ({"session_expires": {"min": "x"}}, "session_expires.min"),
                        ({"precondition": "maybe"}, "precondition"),
                        ({"100rel": 1}, "Field 100rel: boolean expected"),
                        ({"dialog_timeout": "5"}, "Field dialog_timeout: integer expected"),
                        ({"sms_message_filter": {"rp_data": "drop"}}, "sms_message_filter"),
                        ({"tcp_threshold": "100"}, "Field tcp_threshold: integer expected"),
                        ({"auth_on_register_only": 0}, "auth_on_register_only: boolean"),
                        ({"custom_headers": [{"name": "Via", "value": "x"}]},
                         "custom_headers[0]: Via, From, To, Call-ID, CSeq"),
                        ({"mms_expires": 10}, "mms_expires: cannot be changed at run time")]):
                    r = await _ask(ws, {"message": "config_set", "message_id": i, **m})
                    assert want in r.get("error", ""), (m, r)
                r = await _ask(ws, {"message": "config_get", "message_id": "g"})
                assert r["binding_expires"] != 50 and r["dialog_timeout"] == 30, r

                # p_called_party_id: on the MESSAGE bob gets, then not
                _ok(await _ask(ws, {"message": "sms", "message_id": 1, "impi": "bob@ims.test",
                                    "text": "one"}))
                head, body = bob.wait_message()
                assert "\r\nP-Called-Party-ID:" in head, head
                assert bob.sms(rp_ack_mo(rp_of((head, body))["mr"])) == 200
                _ok(await _ask(ws, {"message": "config_set", "message_id": 2,
                                    "p_called_party_id": False}))
                _ok(await _ask(ws, {"message": "sms", "message_id": 3, "impi": "bob@ims.test",
                                    "text": "two"}))
                head, body = bob.wait_message(n=2)
                assert "P-Called-Party-ID:" not in head, head
                assert bob.sms(rp_ack_mo(rp_of((head, body))["mr"])) == 200

                # sms_message_filter and sms_forced_rp_cause: alice's SMS refused
                # with cause 42, then taken again
                _ok(await _ask(ws, {"message": "config_set", "message_id": 4,
                                    "sms_message_filter": {"rp_data": "reject"},
                                    "sms_forced_rp_cause": 42}))
                assert alice.sms(rp_data_mo(submit("+33600000302", "no", mr=1), mr=7)) == 202
                err = rp_of(alice.wait_message())
                assert err["mti"] == 5 and err["cause"] == 42, err
                _ok(await _ask(ws, {"message": "config_set", "message_id": 5,
                                    "sms_message_filter": {"rp_data": "treat"},
                                    "sms_forced_rp_cause": 0}))
                assert alice.sms(rp_data_mo(submit("+33600000302", "yes", mr=2), mr=8)) == 202
                ack = rp_of(alice.wait_message(n=2))
                assert ack == {"mti": 3, "mr": 8}, ack
                head, body = bob.wait_message(n=3)
                assert bob.sms(rp_ack_mo(rp_of((head, body))["mr"])) == 200

                # session_expires: alice's INVITE below the new min gets 422
                _ok(await _ask(ws, {"message": "config_set", "message_id": 6,
                                    "session_expires": {"min": 1000, "duration": 1800}}))
                code, head = alice.request("INVITE", [
                    f"Contact: <sip:alice@127.0.0.1:{alice.me}>", "Supported: timer",
                    "Session-Expires: 900", "Content-Type: application/sdp"],
                    b"v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
                    b"t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", ruri="sip:bob@ims.test")
                assert code == 422 and "Min-SE: 1000" in head, head
                _ack(alice, head)
                r = await _ask(ws, {"message": "config_get", "message_id": 7})
                assert r["session_expires"] == {"duration": 1800, "min": 1000}, r

                # dialog_timeout: imsd's call to bob, ringing, ends after 1 s
                # (the configured 30 s would outlast the wait below)
                _ok(await _ask(ws, {"message": "config_set", "message_id": 8,
                                    "dialog_timeout": 1}))
                r = _ok(await _ask(ws, {"message": "mt_call", "message_id": 9,
                                        "impi": "bob@ims.test"}))
                inv, _ = _wait_request(bob, "INVITE")
                _reply(bob, inv, 180, "Ringing")
                cancel, _ = _wait_request(bob, "CANCEL", timeout=10)
                _reply(bob, cancel, 200, "OK")

                # 100rel: alice's INVITE requiring it rings bob and gets a
                # reliable 180 (RSeq), then 420 Bad Extension; precondition's
                # global default changes with it
                _ok(await _ask(ws, {"message": "config_set", "message_id": 10,
                                    "session_expires": {"min": 90}}))
                head = _provisional_of_call(alice, bob, "rel-on")
                assert "Require: 100rel" in head and "RSeq:" in head, head
                _ok(await _ask(ws, {"message": "config_set", "message_id": 11,
                                    "precondition": "off", "100rel": False}))
                code, head = alice.request("INVITE", [
                    f"Contact: <sip:alice@127.0.0.1:{alice.me}>", "Require: 100rel",
                    "Content-Type: application/sdp"], SDP, ruri="sip:bob@ims.test")
                assert code == 420 and "Unsupported: 100rel" in head, head
                _ack(alice, head)
                r = await _ask(ws, {"message": "config_get", "message_id": 12})
                assert r["precondition"] == "off" and r["100rel"] is False, r

        _run(go())
    finally:
        alice.close()
        bob.close()
