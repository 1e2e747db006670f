"""The remote API's events on calls and SMS over the wire (manual §6.7):
`dialog` at every state change of a call, as dialog_get lists it, and
`users_update` when a user's calls or pending SMS change (registration
changes: test_api.py). Python websockets on one side; SIPp UEs registered
with AKA that call each other (test_calls.py's scenarios), and a UE on UDP
that takes SMS (test_sms.Phone), on the other."""
import asyncio
import json
import socket

import pytest
import websockets

from conftest import free_port
from test_api_sms import _start
from test_calls import call, calls_ims, user
from test_sms import Phone, rp_ack_mo, rp_of


async def _recv(ws, timeout=10.0):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def _ask(ws, msg, timeout=10.0):
    await ws.send(json.dumps(msg))
    while True:  # events may come first
        r = await _recv(ws, timeout)
        if r.get("message") == msg["message"] and r.get("message_id") == msg.get("message_id"):
            return r


def _connect(port):
    return websockets.connect(f"ws://127.0.0.1:{port}/", origin="http://test", max_size=None)


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, 90))


@pytest.fixture
def ims_api(tmp_path):
    api = free_port(kind=socket.SOCK_STREAM)
    for ims in calls_ims(tmp_path, f"""com_addr: "127.0.0.1:{api}", com_name: "TESTIMS",
  dialog_timeout: 3,
  echo: ["sip:echo"],""", [user("001010000000201", "alice"), user("001010000000202", "bob")]):
        yield ims, api


async def _collect(ws, evs, done):
    """Every event into evs until done is set."""
    while not done.is_set():
        try:
            m = json.loads(await asyncio.wait_for(ws.recv(), 0.2))
        except asyncio.TimeoutError:
            continue
        evs.append(m)


def _states(evs, sid):
    return [e["dialog"]["state"] for e in evs
            if e["message"] == "dialog" and e["dialog"]["session_id"] == sid]


def test_dialog_and_users_update_events_of_a_call(ims_api):
    """alice (SIPp) calls bob (SIPp), bob answers, alice hangs up: the
    server dialog and its mt dialog each come as `dialog` events, one per
    state (init, ringing, start, stop for the server dialog), with the
    manual's fields, as dialog_get shows them; users_update events show the
    call in alice's and bob's dialogs, remote naming the other's IMPI."""
    ims, api = ims_api

    async def go():
        async with _connect(api) as ws:
            assert (await _recv(ws))["message"] == "ready"
            r = await _ask(ws, {"message": "register", "message_id": 1,
                                "register": ["dialog", "users_update"]})
            assert "error" not in r, r
            evs, done = [], asyncio.Event()
            task = asyncio.ensure_future(_collect(ws, evs, done))
            rc, out, uas = await asyncio.get_running_loop().run_in_executor(
                None, call, ims, "call_uac", "call_uas")
            assert rc == 0, out
            assert uas[0][0] == 0, uas[0][1]
            for _ in range(100):  # the stop of both dialogs
                if sum(1 for e in evs if e["message"] == "dialog"
                       and e["dialog"]["state"] == "stop") >= 2:
                    break
                await asyncio.sleep(0.1)
            done.set()
            await task
            dlg = [e["dialog"] for e in evs if e["message"] == "dialog"]
            srv = [d for d in dlg if d["type"] == "server"]
            assert srv, evs
            sid = srv[0]["session_id"]
            assert _states(evs, sid) == ["init", "ringing", "start", "stop"], dlg
            mt_sid = srv[-1]["mt_dialog"]
            mts = [d for d in dlg if d["session_id"] == mt_sid]
            assert mts and all(d["type"] == "mt" and d["mo_dialog"] == sid for d in mts), dlg
            assert _states(evs, mt_sid)[-2:] == ["start", "stop"], dlg
            for d in dlg:
                assert "alice" in d["from"] and "bob" in d["to"], d
                for k in ("date", "duration", "event_list", "medias"):
                    assert k in d, d
                assert isinstance(d["event_list"], list) and d["event_list"], d
                assert d["event_list"][-1]["state"] == d["state"], d
            start = next(d for d in srv if d["state"] == "start")
            assert start["duration"] >= 0 and isinstance(start["date"], int)
            # the same dialog as dialog_get lists it (kept stopped for 30 s)
            r = await _ask(ws, {"message": "dialog_get", "message_id": 2, "session_id": sid})
            got = r["dialogs"][0]
            assert got["state"] == "stop" and got["mt_dialog"] == mt_sid, r
            assert set(got) == set(srv[-1]), (got, srv[-1])
            # users_update: the call in each user's dialogs
            ups = [u for e in evs if e["message"] == "users_update" for u in e["users_update"]]
            seen = {}
            for u in ups:
                for dd in u["dialogs"]:
                    seen.setdefault(u["impi"], set()).add((dd["remote"], dd["state"]))
            assert ("bob@ims.test", "start") in seen.get("alice@ims.test", set()), ups
            assert ("alice@ims.test", "start") in seen.get("bob@ims.test", set()), ups
            assert ("bob@ims.test", "stop") in seen.get("alice@ims.test", set()), ups
            # users_get lists the stopped call too, as it is kept
            r = await _ask(ws, {"message": "users_get", "message_id": 3})
            alice = next(u for u in r["users"] if u["impi"] == "alice@ims.test")
            assert alice["dialogs"] == [{"remote": "bob@ims.test", "session_id": sid,
                                         "state": "stop"}], alice
            # unregistered from dialog: no more dialog events
            r = await _ask(ws, {"message": "register", "message_id": 4,
                                "unregister": "dialog"})
            assert "error" not in r, r

    _run(go())


def test_dialog_events_of_an_echo_call(ims_api):
    """An echo call is one dialog of type echo: init, ringing (its 180),
    start, stop."""
    ims, api = ims_api

    async def go():
        async with _connect(api) as ws:
            assert (await _recv(ws))["message"] == "ready"
            r = await _ask(ws, {"message": "register", "message_id": 1, "register": "dialog"})
            assert "error" not in r, r
            evs, done = [], asyncio.Event()
            task = asyncio.ensure_future(_collect(ws, evs, done))
            rc, out, _ = await asyncio.get_running_loop().run_in_executor(
                None, lambda: call(ims, "call_uac_echo", None, callee="echo"))
            assert rc == 0, out
            for _ in range(100):
                if any(e["message"] == "dialog" and e["dialog"]["state"] == "stop"
                       for e in evs):
                    break
                await asyncio.sleep(0.1)
            done.set()
            await task
            dlg = [e["dialog"] for e in evs if e["message"] == "dialog"]
            assert dlg and all(d["type"] == "echo" for d in dlg), dlg
            assert _states(evs, dlg[0]["session_id"]) == ["init", "ringing", "start", "stop"], dlg
            assert all(e["message"] == "dialog" for e in evs), evs  # nothing else registered

    _run(go())


def test_users_update_on_pending_sms(tmp_path, imsd_factory):
    """An SMS for bob: users_update shows sms 1 while it is pending, then 0
    once bob's phone acknowledged it (RP-ACK)."""
    _, port, api = _start(tmp_path, imsd_factory)
    bob = Phone(port, "bob")
    try:
        bob.register()

        async def go():
            async with _connect(api) as ws:
                assert (await _recv(ws))["message"] == "ready"
                r = await _ask(ws, {"message": "register", "message_id": 1,
                                    "register": "users_update"})
                assert "error" not in r, r
                r = await _ask(ws, {"message": "sms", "message_id": 2,
                                    "impi": "bob@ims.test", "text": "count me"})
                assert "error" not in r, r

                async def bob_sms():
                    while True:
                        m = await _recv(ws)
                        if m["message"] == "users_update":
                            u = m["users_update"][0]
                            if u["impi"] == "bob@ims.test":
                                return u["sms"]

                assert await bob_sms() == 1
                rp = rp_of(await asyncio.get_running_loop().run_in_executor(
                    None, bob.wait_message))
                assert await asyncio.get_running_loop().run_in_executor(
                    None, bob.sms, rp_ack_mo(rp["mr"])) == 200
                assert await bob_sms() == 0

        _run(go())
    finally:
        bob.close()
