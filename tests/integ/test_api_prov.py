"""Run-time provisioning over the wire (manual §6.6 users_add): a user added
through the remote API registers from a UE and is listed by users_get; bad
entries are refused as the configuration file refuses them, naming the
entry, and a refused call adds nothing. A user added so has an SMS queue
and is kept in the state file like a configured user."""
import sqlite3

from test_api_sms import _ask, _connect, _recv, _run, _start
from test_sms import SC, Phone, deliver_check

DAVE = {"imsi": "001010000000303", "impi": "dave@ims.test", "authentication": False,
        "impu": ["sip:dave", "tel:+33600000303"]}


def test_users_add_then_register(tmp_path, imsd_factory):
    _, port, api = _start(tmp_path, imsd_factory)
    dave = Phone(port, "dave")
    try:
        async def run():
            async with _connect(api) as ws:
                await _recv(ws)
                r = await _ask(ws, {"message": "users_get", "message_id": 0})
                before = len(r["users"])
                assert "dave@ims.test" not in [u["impi"] for u in r["users"]]
                # refused, each naming the field or entry; nothing added
                bad = [
                    ({}, "Missing field: users"),
                    ({"users": {}}, "Field users"),
                    ({"users": [{"impi": "x@ims.test", "authentication": False}]},
                     "users[0]: imsi or nai required"),
                    ({"users": [{"imsi": "12", "authentication": False}]}, "users[0].imsi"),
                    ({"users": [DAVE, {**DAVE, "imsi": "001010000000304",
                                       "impi": "eve@ims.test", "impu": ["tel:+33600000301"]}]},
                     "already used by ue_db[0]"),
                    ({"users": [{**DAVE, "colour": "red"}]}, "users[0].colour: unknown property"),
                    ({"users": [{"imsi": "001010000000304", "impi": "eve@ims.test",
                                 "authentication": False, "impu": ["tel:+33600000301"]}]},
                     'Field users: ue_db[3].impu[0]: IMPU "tel:+33600000301" already used by '
                     'ue_db[0]'),
                ]
                for i, (m, want) in enumerate(bad):
                    r = await _ask(ws, {"message": "users_add", "message_id": i, **m})
                    assert want in r.get("error", ""), (m, r)
                r = await _ask(ws, {"message": "users_get", "message_id": "b"})
                assert len(r["users"]) == before, r
                # added: registers, listed, a second add of it refused
                r = await _ask(ws, {"message": "users_add", "message_id": "a", "users": [DAVE]})
                assert "error" not in r and r["count"] == 1, r
                dave.register()
                r = await _ask(ws, {"message": "users_get", "message_id": "c",
                                    "registered_only": True})
                u = next(u for u in r["users"] if u["impi"] == "dave@ims.test")
                assert u["registered"] and u["imsi"] == "001010000000303", u
                assert u["impu"] == ["sip:dave@ims.test", "tel:+33600000303"], u
                assert u["bindings"][0]["uri"] == f"sip:dave@127.0.0.1:{dave.me}", u
                r = await _ask(ws, {"message": "users_add", "message_id": "d", "users": [DAVE]})
                assert "already used" in r.get("error", ""), r
                # an SMS queue: delivered to dave's phone
                r = await _ask(ws, {"message": "sms", "message_id": "s", "impi": "dave@ims.test",
                                    "text": "hi"})
                assert "error" not in r and r["pending"] == 1, r
                deliver_check(dave.wait_message(), "hi", oa=SC.lstrip("+"))
                r = await _ask(ws, {"message": "unregister", "message_id": "e",
                                    "uri": "sip:dave@ims.test"})
                assert "error" not in r, r
                r = await _ask(ws, {"message": "users_get", "message_id": "f",
                                    "registered_only": True})
                assert "dave@ims.test" not in [u["impi"] for u in r["users"]], r

        _run(run())
    finally:
        dave.close()


def test_users_add_kept_in_the_state_file(tmp_path, imsd_factory):
    """A user added with users_add: its binding and its pending SMS are
    written to the state file (ue_db_filename) as a configured user's are."""
    state = tmp_path / "ims.state"
    d, port, api = _start(tmp_path, imsd_factory, extra=f'ue_db_filename: "{state}",')
    dave = Phone(port, "dave")
    try:
        async def run():
            async with _connect(api) as ws:
                await _recv(ws)
                r = await _ask(ws, {"message": "users_add", "message_id": "a", "users": [DAVE]})
                assert "error" not in r, r
                dave.register()  # its 200 leaves once the binding is written
                r = await _ask(ws, {"message": "sms", "message_id": "s", "impi": "dave@ims.test",
                                    "text": "keep me"})
                assert "error" not in r, r
                deliver_check(dave.wait_message(), "keep me", oa=SC.lstrip("+"))

        _run(run())
    finally:
        dave.close()
    d.stop()  # the file is imsd's (locked) while it runs; stop commits the rest
    db = sqlite3.connect(state)
    try:
        rows = db.execute("SELECT user, contact FROM reg_binding").fetchall()
        assert len(rows) == 1 and "dave" in rows[0][0], rows
        assert f"127.0.0.1:{dave.me}" in rows[0][1], rows
        rows = db.execute("SELECT dst FROM sms_msg").fetchall()
        assert len(rows) == 1 and "dave" in rows[0][0], rows  # not acknowledged
    finally:
        db.close()


async def _user(ws, impi):
    r = await _ask(ws, {"message": "users_get", "message_id": "u"})
    return next(u for u in r["users"] if u["impi"] == impi)


def test_user_set_impu_add_impu_del(tmp_path, imsd_factory):
    """user_set changes force_sms_over_sg; impu_add / impu_del change a
    user's IMPUs (read as the configuration file reads them, another user's
    refused), the registered user is de-registered by the network and its
    next registration carries the new set."""
    _, port, api = _start(tmp_path, imsd_factory)
    alice = Phone(port, "alice")
    try:
        async def run():
            async with _connect(api) as ws:
                await _recv(ws)
                r = await _ask(ws, {"message": "user_set", "message_id": 1,
                                    "impi": "alice@ims.test", "force_sms_over_sg": True})
                assert "error" not in r, r
                assert (await _user(ws, "alice@ims.test"))["force_sms_over_sg"] is True
                alice.register()
                r = await _ask(ws, {"message": "impu_add", "message_id": 2,
                                    "impi": "alice@ims.test", "impu": "sip:alice2"})
                assert "error" not in r, r
                u = await _user(ws, "alice@ims.test")
                assert u["impu"] == ["sip:alice@ims.test", "tel:+33600000301",
                                     "sip:alice2@ims.test"], u
                assert u["registered"] is False and u["force_sms_over_sg"] is True, u
                code, head = alice.request("REGISTER", [
                    f"Contact: <sip:alice@127.0.0.1:{alice.me}>;expires=600"])
                assert code == 200 and "sip:alice2@ims.test" in head, head
                bad = [
                    ({"impi": "alice@ims.test", "impu": "sip:bob"},
                     'Field impu: ue_db[0].impu[3]: IMPU "sip:bob" already used by ue_db[1]'),
                    ({"impi": "alice@ims.test", "impu": {"impu": "sip:alice3",
                                                         "authentication": True}},
                     "authentication true differs"),
                    ({"impi": "alice@ims.test", "impu": {"impu": "sip:alice3", "imei": "12"}},
                     "impu[0].imei"),
                    ({"impi": "alice@ims.test", "impu": 3}, "Field impu"),
                    ({"impi": "nobody@ims.test", "impu": "sip:x"}, "unknown user"),
                ]
                for i, (m, want) in enumerate(bad):
                    r = await _ask(ws, {"message": "impu_add", "message_id": f"b{i}", **m})
                    assert want in r.get("error", ""), (m, r)
                assert len((await _user(ws, "alice@ims.test"))["impu"]) == 3
                r = await _ask(ws, {"message": "impu_del", "message_id": 3,
                                    "impi": "alice@ims.test", "impu": "sip:bob"})
                assert "not an IMPU of this user" in r.get("error", ""), r
                r = await _ask(ws, {"message": "impu_del", "message_id": 4,
                                    "impi": "alice@ims.test", "impu": {"impu": "sip:alice2"}})
                assert "error" not in r, r
                u = await _user(ws, "alice@ims.test")
                assert u["impu"] == ["sip:alice@ims.test", "tel:+33600000301"], u
                assert u["registered"] is False, u
                r = await _ask(ws, {"message": "users_get", "message_id": 5})
                assert [x["impi"] for x in r["users"]].count("alice@ims.test") == 1
                code, head = alice.request("REGISTER", [
                    f"Contact: <sip:alice@127.0.0.1:{alice.me}>;expires=600"])
                assert code == 200 and "alice2" not in head, head

        _run(run())
    finally:
        alice.close()


def test_impu_set(tmp_path, imsd_factory):
    """impu_set: the IMPU's options as an IMPU configuration object (here
    associated: false takes it out of P-Associated-URI), its other options
    kept; errors name the field."""
    _, port, api = _start(tmp_path, imsd_factory)
    alice = Phone(port, "alice")

    def assoc():
        code, head = alice.request("REGISTER", [
            f"Contact: <sip:alice@127.0.0.1:{alice.me}>;expires=600"])
        assert code == 200, head
        return [l for l in head.split("\r\n") if l.lower().startswith("p-associated-uri")]

    try:
        async def run():
            async with _connect(api) as ws:
                await _recv(ws)
                assert "tel:+33600000301" in " ".join(assoc())
                r = await _ask(ws, {"message": "impu_set", "message_id": 1,
                                    "impu": "tel:+33600000301", "associated": False})
                assert "error" not in r, r
                pau = " ".join(assoc())
                assert "tel:+33600000301" not in pau and "sip:alice@ims.test" in pau, pau
                for i, (m, want) in enumerate([
                        ({"impu": "tel:+33699999998"}, "unknown IMPU"),
                        ({}, "Missing field: impu"),
                        ({"impu": "tel:+33600000301", "associated": 3}, "impu[0].associated"),
                        ({"impu": "tel:+33600000301", "colour": 1},
                         "impu[0].colour: unknown property"),
                        ({"impu": "sip:alice", "authentication": True},
                         "authentication true differs")]):
                    r = await _ask(ws, {"message": "impu_set", "message_id": f"b{i}", **m})
                    assert want in r.get("error", ""), (m, r)
                r = await _ask(ws, {"message": "impu_set", "message_id": 2,
                                    "impu": "tel:+33600000301", "associated": True})
                assert "error" not in r, r
                assert "tel:+33600000301" in " ".join(assoc())
                u = await _user(ws, "alice@ims.test")
                assert u["impu"] == ["sip:alice@ims.test", "tel:+33600000301"], u

        _run(run())
    finally:
        alice.close()


def test_echo_list(tmp_path, imsd_factory):
    """impi "echo": the global echo list; its IMPUs and the users' exclude
    each other both ways, as in the configuration file."""
    _, _, api = _start(tmp_path, imsd_factory)

    async def run():
        async with _connect(api) as ws:
            await _recv(ws)
            steps = [
                ("impu_add", {"impi": "echo", "impu": "sip:echo1"}, None),
                ("impu_add", {"impi": "echo", "impu": {"impu": "sip:echo1"}},
                 'Field impu: IMPU "sip:echo1" already in the echo list'),
                ("impu_add", {"impi": "alice@ims.test", "impu": "sip:echo1"},
                 'Field impu: ue_db[0].impu[2]: IMPU "sip:echo1" already used by echo[0]'),
                ("impu_add", {"impi": "echo", "impu": "sip:bob"},
                 'Field impu: echo[1]: IMPU "sip:bob" already used by ue_db[1]'),
                ("impu_add", {"impi": "echo", "impu": "ftp:x"}, "invalid IMPU"),
                ("impu_add", {"impi": "echo"}, "Missing field: impu"),
                ("impu_del", {"impi": "echo", "impu": "sip:nope"},
                 "Field impu: sip:nope is not in the echo list"),
                ("impu_del", {"impi": "echo", "impu": "sip:echo1"}, None),
                ("impu_add", {"impi": "alice@ims.test", "impu": "sip:echo1"}, None),
            ]
            for i, (msg, m, want) in enumerate(steps):
                r = await _ask(ws, {"message": msg, "message_id": i, **m})
                if want is None:
                    assert "error" not in r, (m, r)
                else:
                    assert want in r.get("error", ""), (m, r)
            u = await _user(ws, "alice@ims.test")
            assert "sip:echo1@ims.test" in u["impu"], u

    _run(run())
