"""users_add survives a restart (docs/hss.md "Run-time provisioning"): with
ue_db_filename set, a user added through the API is written to the state
file before the answer leaves; after kill -9 and a restart it is there
again, with the binding it registered (over SIPp, AKA) and the SMS still
pending for it. A row that no longer passes (its user is now in ue_db) is
kept unrestored, and imsd starts."""
import os
import signal
import socket

from conftest import free_port, write_cfg
from sipstack import SIPP_DIR, run_sipp, wait_log
from test_api_sms import _ask, _connect, _recv, _run
from test_sms import AKA_AMF, AKA_K, AKA_OP, SC, Phone

SIPPAKA = {"imsi": "001010000000101", "impi": "sippaka@ims.test",
           "impu": ["sip:sippaka", "tel:+33600000101"], "K": AKA_K, "op": AKA_OP,
           "amf": AKA_AMF, "authent_qop": "auth"}
ERIN = {"imsi": "001010000000305", "impi": "erin@ims.test", "authentication": False,
        "impu": ["sip:erin"]}


def _cfg(tmp_path, port, api, extra=""):
    return write_cfg(tmp_path, f"""{{
  log_filename: "{tmp_path}/ims.log",
  log_options: "all.level=info",
  sip_addr: ["127.0.0.1:{port}"],
  domain: "ims.test",
  ipsec: false,
  com_addr: "127.0.0.1:{api}",
  ue_db_filename: "{tmp_path}/ims.state",
  sms_centre_address: {{ type_of_number: "international", number: "{SC}" }},
  ue_db: [
    {{ imsi: "001010000000301", impi: "alice@ims.test", authentication: false,
       impu: ["sip:alice", "tel:+33600000301"] }},
    {extra}
  ],
}}
""")


def _start(imsd_factory, cfg, tmp_path):
    d = imsd_factory(cfg)
    d.wait_ready()  # the log (not appended: append=0) is this run's by now
    wait_log(str(tmp_path / "ims.log"), lambda t: "api: listening on" in t)
    return d


def _kill(d):
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(10)


def _users(api):
    async def go():
        async with _connect(api) as ws:
            await _recv(ws)
            r = await _ask(ws, {"message": "users_get", "message_id": "u"})
            return {u["impi"]: u for u in r["users"]}
    return _run(go())


def test_users_add_restored_after_kill(tmp_path, imsd_factory):
    port, api = free_port(), free_port(kind=socket.SOCK_STREAM)
    cfg = _cfg(tmp_path, port, api)
    d = _start(imsd_factory, cfg, tmp_path)
    lport = free_port()

    async def add(users, mid):
        async with _connect(api) as ws:
            await _recv(ws)
            r = await _ask(ws, {"message": "users_add", "message_id": mid, "users": users})
            assert "error" not in r and r["count"] == len(users), r

    _run(add([SIPPAKA], "a"))
    r = run_sipp(["-sf", os.path.join(SIPP_DIR, "reg_aka.xml"), "-m", "1", "-i", "127.0.0.1",
                  "-p", str(lport), "-t", "u1", f"127.0.0.1:{port}"])
    assert r.returncode == 0, r.stdout.decode(errors="replace")[-2000:]

    async def sms():
        async with _connect(api) as ws:
            await _recv(ws)
            # SIPp is gone: the MESSAGE goes unanswered, the SMS stays pending
            r = await _ask(ws, {"message": "sms", "message_id": "s",
                                "impi": "sippaka@ims.test", "text": "after restart"})
            assert "error" not in r, r
    _run(sms())
    # a second call: its answer leaves after its commit, which the one
    # worker runs after the SMS's
    _run(add([ERIN], "b"))
    users = _users(api)
    assert users["sippaka@ims.test"]["registered"] and users["sippaka@ims.test"]["sms"] == 1
    _kill(d)

    d = _start(imsd_factory, cfg, tmp_path)
    users = _users(api)
    assert "erin@ims.test" in users, users.keys()
    u = users["sippaka@ims.test"]
    assert u["registered"] and u["impu"] == ["sip:sippaka@ims.test", "tel:+33600000101"], u
    assert any(f"127.0.0.1:{lport}" in b["uri"] for b in u["bindings"]), u
    assert u["sms"] == 1, u
    log = (tmp_path / "ims.log").read_text()
    assert "2 users_add call(s) restored, 0 kept unrestored" in log
    d.stop()

    # erin now in ue_db: her row no longer passes, is kept, sippaka's still does
    cfg = _cfg(tmp_path, port, api, extra='{ imsi: "001010000000305", impi: "erin@ims.test", '
                                          'authentication: false, impu: ["sip:erin"] },')
    d = _start(imsd_factory, cfg, tmp_path)
    users = _users(api)
    assert "sippaka@ims.test" in users and "erin@ims.test" in users
    log = (tmp_path / "ims.log").read_text()
    assert "1 users_add call(s) restored, 1 kept unrestored" in log
    assert "not restored (kept in the file)" in log


DAVE = {"imsi": "001010000000303", "impi": "dave@ims.test", "authentication": False,
        "impu": ["sip:dave", "tel:+33600000303"]}


def _pau(phone):
    code, head = phone.request("REGISTER", [
        f"Contact: <sip:{phone.user}@127.0.0.1:{phone.me}>;expires=600"])
    assert code == 200, head
    return " ".join(l for l in head.split("\r\n") if l.lower().startswith("p-associated-uri"))


def test_changes_of_added_user_restored_after_kill(tmp_path, imsd_factory):
    """user_set / impu_add / impu_del / impu_set of a user added with
    users_add, and an echo IMPU added with impu_add, are committed before
    their answer: after kill -9 and a restart users_get lists the changed
    user and it registers with its new IMPU set. A configured user's change
    is not kept: the configuration file stays its source of truth."""
    port, api = free_port(), free_port(kind=socket.SOCK_STREAM)
    cfg = _cfg(tmp_path, port, api)
    d = _start(imsd_factory, cfg, tmp_path)
    steps = [
        ("users_add", {"users": [DAVE]}),
        ("user_set", {"impi": "dave@ims.test", "force_sms_over_sg": True}),
        ("impu_add", {"impi": "dave@ims.test", "impu": "sip:dave2"}),
        ("impu_add", {"impi": "dave@ims.test",
                      "impu": {"impu": "sip:dave3", "display_name": "Dave Three"}}),
        ("impu_del", {"impi": "dave@ims.test", "impu": "tel:+33600000303"}),
        ("impu_set", {"impu": "sip:dave2", "associated": False}),
        ("impu_add", {"impi": "alice@ims.test", "impu": "sip:alice9"}),
        ("impu_add", {"impi": "echo", "impu": "sip:echo7"}),
        ("impu_add", {"impi": "echo", "impu": "sip:echo8"}),
        ("impu_del", {"impi": "echo", "impu": "sip:echo8"}),
    ]

    async def run():
        async with _connect(api) as ws:
            await _recv(ws)
            for i, (msg, m) in enumerate(steps):
                r = await _ask(ws, {"message": msg, "message_id": i, **m})
                assert "error" not in r, (msg, m, r)
    _run(run())
    dave = _users(api)["dave@ims.test"]
    want = ["sip:dave@ims.test", "sip:dave2@ims.test", "sip:dave3@ims.test"]
    assert dave["impu"] == want and dave["force_sms_over_sg"] is True, dave
    _kill(d)

    d = _start(imsd_factory, cfg, tmp_path)
    users = _users(api)
    assert users["dave@ims.test"]["impu"] == want, users["dave@ims.test"]
    assert users["dave@ims.test"]["force_sms_over_sg"] is True, users["dave@ims.test"]
    assert users["alice@ims.test"]["impu"] == ["sip:alice@ims.test", "tel:+33600000301"]
    phone = Phone(port, "dave")
    try:
        # sip:dave2 not associated (impu_set), tel: removed, sip:dave3 added
        pau = _pau(phone)
        assert "sip:dave@ims.test" in pau and "sip:dave3@ims.test" in pau, pau
        assert "dave2" not in pau and "+33600000303" not in pau, pau
    finally:
        phone.close()

    async def echo():
        async with _connect(api) as ws:
            await _recv(ws)
            r = await _ask(ws, {"message": "impu_add", "message_id": "e7",
                                "impi": "alice@ims.test", "impu": "sip:echo7"})
            assert "already used by echo" in r.get("error", ""), r
            r = await _ask(ws, {"message": "impu_add", "message_id": "e8",
                                "impi": "alice@ims.test", "impu": "sip:echo8"})
            assert "error" not in r, r
            # the tel: IMPU dave gave up is free for another user
            r = await _ask(ws, {"message": "impu_add", "message_id": "t",
                                "impi": "alice@ims.test", "impu": "tel:+33600000303"})
            assert "error" not in r, r
    _run(echo())
    d.stop()
