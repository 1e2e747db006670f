"""The remote API (manual §6) over the wire, and imsd running as a service
(no terminal): real clients (Python websockets, Node ws, imsctl api) against
the real binary on loopback ports picked here. docs/api.md."""
import os
import signal
import socket
import subprocess
import time

from conftest import IMSD_BIN, free_port, sanitizer_report, write_cfg
from sipstack import options, recv_msg, status_of, udp_sock


def _service_cfg(tmp_path, extra=""):
    port = free_port()
    log = tmp_path / "ims.log"
    cfg = write_cfg(tmp_path, f"""{{
  log_filename: "{log}",
  log_options: "all.level=info",
  sip_addr: ["127.0.0.1:{port}"],
  domain: "ims.test",
  {extra}
}}
""")
    return cfg, port, log


def _options_until_answered(port, timeout=20.0):
    """OPTIONS to the server until it answers (it has no banner to wait for
    without its console); returns the status code."""
    s = udp_sock()
    s.settimeout(0.5)
    deadline = time.monotonic() + timeout
    n = 0
    try:
        while time.monotonic() < deadline:
            n += 1
            ruri = f"sip:127.0.0.1:{port}"
            s.sendto(options(ruri, "127.0.0.1", s.getsockname()[1], f"z9hG4bKsvc{n}",
                             f"svc-{n}@test"), ("127.0.0.1", port))
            try:
                return status_of(recv_msg(s, 0.5))[0]
            except (socket.timeout, TimeoutError, AssertionError):
                continue
    finally:
        s.close()
    raise AssertionError("imsd never answered OPTIONS")


def _start_service(cfg, args=(), stdin=subprocess.DEVNULL):
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    return subprocess.Popen([IMSD_BIN, *args, cfg], stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)


def _stop_service(p):
    p.send_signal(signal.SIGTERM)
    try:
        out, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate(timeout=5)
        raise AssertionError("imsd did not stop on SIGTERM")
    return p.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def test_service_stdin_devnull(tmp_path):
    """`imsd ims.cfg </dev/null` (systemd, nohup): runs without its console,
    serves SIP, stops cleanly on SIGTERM."""
    cfg, port, log = _service_cfg(tmp_path)
    p = _start_service(cfg)
    try:
        assert _options_until_answered(port) == 200
        assert p.poll() is None
    finally:
        rc, out, err = _stop_service(p)
    assert rc == 0, err[-3000:]
    assert not sanitizer_report(err), err[-3000:]
    assert "Type 'help'" not in out
    text = log.read_text(errors="replace")
    assert "monitor console off: standard input cannot be read" in text
    assert "signal Terminated: stopping" in text


def test_service_stdin_closed(tmp_path):
    """stdin closed altogether (EBADF): the same."""
    cfg, port, log = _service_cfg(tmp_path)
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    p = subprocess.Popen(["/bin/sh", "-c", 'exec "$0" "$1" <&-', IMSD_BIN, cfg],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        assert _options_until_answered(port) == 200
    finally:
        rc, out, err = _stop_service(p)
    assert rc == 0, err[-3000:]
    assert "monitor console off" in log.read_text(errors="replace")


def test_service_no_monitor_flag(tmp_path):
    """--no-monitor with a readable stdin (a pipe): commands are not read."""
    cfg, port, log = _service_cfg(tmp_path)
    p = _start_service(cfg, ["--no-monitor"], stdin=subprocess.PIPE)
    try:
        assert _options_until_answered(port) == 200
        p.stdin.write(b"quit\n")
        p.stdin.flush()
        # quit on a console would stop it; OPTIONS still answered shows it
        # was not read
        assert _options_until_answered(port) == 200
        assert p.poll() is None
    finally:
        rc, out, err = _stop_service(p)
    assert rc == 0, err[-3000:]
    assert "Type 'help'" not in out
    assert "monitor console off (--no-monitor)" in log.read_text(errors="replace")


# ---- the remote API ----

import asyncio  # noqa: E402
import base64  # noqa: E402
import hashlib  # noqa: E402
import hmac  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import struct  # noqa: E402

import pytest  # noqa: E402
import websockets  # noqa: E402

from sipstack import wait_log  # noqa: E402
from test_security import IMPI, Md5Ue, _challenge, _digest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_CLIENT = os.path.join(HERE, "api_client.js")


def _api_cfg(tmp_path, extra="", level="debug"):
    sip = free_port()
    api = free_port(kind=socket.SOCK_STREAM)
    while api == sip:  # both only probed, not held: they may coincide
        api = free_port(kind=socket.SOCK_STREAM)
    log = tmp_path / "ims.log"
    cfg = write_cfg(tmp_path, f"""{{
  log_filename: "{log}",
  log_options: "all.level={level}",
  sip_addr: ["127.0.0.1:{sip}"],
  domain: "ims.test",
  ipsec: false,
  com_addr: "127.0.0.1:{api}",
  com_name: "TESTIMS",
  {extra}
  ue_db: [ {{ imsi: "001010000000301", impi: "{IMPI}", impu: ["sip:alice"],
             pwd: "alice-secret", authent_type: "MD5", authent_qop: "auth" }} ],
}}
""")
    return cfg, sip, api, str(log)


@pytest.fixture
def api_server(tmp_path, imsd_factory):
    def start(extra="", level="debug"):
        cfg, sip, api, log = _api_cfg(tmp_path, extra, level)
        d = imsd_factory(cfg)
        d.wait_ready()
        wait_log(log, lambda t: "api: listening on" in t)
        return d, sip, api, log
    return start


def _res(password, name, challenge):
    """Manual §6.2, computed here apart from the server's code."""
    return hmac.new(f"IMS:{password}:{name}".encode(), challenge.encode(),
                    hashlib.sha256).hexdigest()


async def _recv(ws, timeout=10.0):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def _ask(ws, msg, timeout=10.0):
    await ws.send(json.dumps(msg))
    return await _recv(ws, timeout)


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def _connect(port, **kw):
    kw.setdefault("origin", "http://test")
    return websockets.connect(f"ws://127.0.0.1:{port}/", max_size=None, **kw)


def _stamped(r):
    assert isinstance(r.get("time"), (int, float)), r
    assert isinstance(r.get("utc"), (int, float)) and abs(r["utc"] - time.time()) < 60, r


def test_ready_and_manual_examples(api_server):
    """§6.2 ready; §6.8's examples (config_get with message_id foo, the
    error for an unknown message bar); help; an array of messages; time and
    utc in every answer; errors naming the field."""
    d, sip, port, log = api_server()

    async def go():
        async with _connect(port) as ws:
            ready = await _recv(ws)
            assert ready["message"] == "ready" and ready["type"] == "IMS"
            assert ready["name"] == "TESTIMS" and ready["version"]
            r = await _ask(ws, {"message": "config_get", "message_id": "foo"})
            assert r["message"] == "config_get" and r["message_id"] == "foo"
            assert r["type"] == "IMS" and r["name"] == "TESTIMS"
            assert r["logs"]["layers"]["sip"]["level"] == "debug"
            assert r["logs"]["locked"] is False
            _stamped(r)
            # a level is a level name: no other log_options ride in with it
            r = await _ask(ws, {"message": "config_set", "logs": {"layers": {"ims": {
                "level": "info,file.path=/tmp"}}}})
            assert r["error"] == "Field logs.layers.ims.level: level name expected"
            r = await _ask(ws, {"message": "bar", "message_id": "foo"})
            assert r["message_id"] == "foo" and r["message"] == "bar"
            assert r["error"] == "Unknown message: bar"
            _stamped(r)
            r = await _ask(ws, {"message": "help"})
            for m in ("config_get", "config_set", "log_get", "log_set", "log_reset", "stats",
                      "register", "users_get", "unregister", "license", "quit", "help"):
                assert m in r["messages"], m
            assert "users_update" in r["events"]
            await ws.send(json.dumps([{"message": "license", "message_id": 1},
                                      {"message": "users_get", "message_id": 2},
                                      {"message": "stats", "message_id": 3}]))
            got = [await _recv(ws) for _ in range(3)]
            assert [g["message_id"] for g in got] == [1, 2, 3]
            assert got[0]["products"] == "IMS" and "validity" in got[0]
            assert got[1]["users"][0]["impi"] == IMPI
            assert got[1]["users"][0]["registered"] is False
            assert "cpu" in got[2] and "instance_id" in got[2]
            assert got[2]["counters"]["messages"]["config_get"] == 1
            assert got[2]["counters"]["errors"]["Unknown message: bar"] == 1
            r = await _ask(ws, {"message": "stats"})  # reset by the last call
            assert r["counters"]["messages"] == {"stats": 1}, r
            assert r["instance_id"] == got[2]["instance_id"]
            for bad, field in (({"message": "users_get", "registered_only": 1},
                                "registered_only"),
                               ({"message": "unregister"}, "uri"),
                               ({"message_id": 4}, "message"),
                               ({"message": "log_get", "layers": {"sip": "loud"}}, "layers"),
                               ({"message": "help", "loop_count": 2}, "loop_delay")):
                r = await _ask(ws, bad)
                assert field in r.get("error", ""), (bad, r)
                _stamped(r)
            r = await _ask(ws, [1])
            assert "object" in r["error"]
            await ws.send("{not json")
            r = await _recv(ws)
            assert r["error"].startswith("Invalid JSON"), r
            await ws.send('{"message": "help", "message": "help"}')
            r = await _recv(ws)
            assert "duplicate" in r["error"], r
    _run(go())
    assert d.proc.poll() is None


def test_auth_challenge(api_server, tmp_path):
    """§6.2 com_auth: authenticate with a challenge; "Authentication not
    done" before; a wrong res fails with a new challenge; the res computed
    here opens the session."""
    d, sip, port, log = api_server('com_auth: { password: "s3cret" },')

    async def go():
        async with _connect(port) as ws:
            hello = await _recv(ws)
            assert hello["message"] == "authenticate" and hello["type"] == "IMS"
            assert hello["name"] == "TESTIMS"
            ch = hello["challenge"]
            assert len(ch) >= 16
            r = await _ask(ws, {"message": "config_get", "message_id": 7})
            assert r["error"] == "Authentication not done" and r["message_id"] == 7
            r = await _ask(ws, {"message": "authenticate", "res": _res("wrong", "TESTIMS", ch)})
            assert r["error"] == "Authentication failed"
            ch = r["challenge"]
            r = await _ask(ws, {"message": "authenticate", "password": "s3cret"})
            assert "unsecure" in r["error"], r  # plaintext not allowed
            r = await _ask(ws, {"message": "authenticate", "res": _res("s3cret", "TESTIMS", ch)})
            assert r.get("ready") is True, r
            r = await _ask(ws, {"message": "config_get"})
            assert "error" not in r and r["name"] == "TESTIMS"
    _run(go())
    text = open(log).read()
    assert "authentication failed (wrong res)" in text
    assert "authenticated" in text


def test_auth_passfile_unsecure_and_rate_limit(api_server, tmp_path):
    pf = tmp_path / "pass.txt"
    pf.write_text("from-file\n")
    d, sip, port, log = api_server(f'com_auth: {{ passfile: "{pf}", unsecure: true }},')

    async def go():
        async with _connect(port) as ws:
            await _recv(ws)
            r = await _ask(ws, {"message": "authenticate", "password": "from-file"})
            assert r.get("ready") is True, r
        async with _connect(port) as ws:
            ch = (await _recv(ws))["challenge"]
            for i in range(5):
                r = await _ask(ws, {"message": "authenticate", "res": "0" * 64})
                assert r["error"] == "Authentication failed", (i, r)
                ch = r["challenge"]
            # locked out now, even with the right answer
            r = await _ask(ws, {"message": "authenticate",
                                "res": _res("from-file", "TESTIMS", ch)})
            assert "Too many failed" in r["error"], r
    _run(go())
    assert "address locked out" in open(log).read()


def _raw_handshake(port, origin=True, extra=b""):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16))
    req = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key + b"\r\n"
           b"Sec-WebSocket-Version: 13\r\n" + (b"Origin: raw\r\n" if origin else b"") +
           b"\r\n" + extra)
    s.sendall(req)
    head = b""
    while b"\r\n\r\n" not in head:
        c = s.recv(4096)
        if not c:
            break
        head += c
    return s, head


def _frame(opcode, payload, fin=True):
    """A masked client frame (RFC 6455 §5.2)."""
    mask = os.urandom(4)
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        hdr = struct.pack("!BB", b0, 0x80 | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, 0x80 | 127, n)
    return hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _read_frames(s, head=b"", timeout=10.0):
    """Frames from the server until it closes: [(opcode, payload)]; head:
    what _raw_handshake read, whose bytes after the HTTP head are frames."""
    s.settimeout(timeout)
    i = head.find(b"\r\n\r\n")
    buf = head[i + 4:] if i >= 0 else b""
    try:
        while True:
            c = s.recv(65536)
            if not c:
                break
            buf += c
    except (socket.timeout, ConnectionResetError):
        pass
    out = []
    while len(buf) >= 2:
        op, n = buf[0] & 0x0F, buf[1] & 0x7F
        i = 2
        if n == 126:
            n, i = struct.unpack("!H", buf[2:4])[0], 4
        elif n == 127:
            n, i = struct.unpack("!Q", buf[2:10])[0], 10
        out.append((op, buf[i:i + n]))
        buf = buf[i + n:]
    return out


def test_handshake_origin_required_and_bad_frames(api_server):
    """Origin is mandatory (manual §6); invalid UTF-8 closes with 1007, a
    binary message with 1003, a message over 1 MiB with 1009; fragmented
    text with a ping in between is one message; the server goes on."""
    d, sip, port, log = api_server()
    s, head = _raw_handshake(port, origin=False)
    assert head.startswith(b"HTTP/1.1 403"), head
    s.close()
    cases = ((_frame(1, b'{"message": "\xc0\x80"}'), 1007),
             (_frame(2, b"\x00\x01"), 1003),
             # the header announces 1 MiB + 1: refused before the payload
             (_frame(1, b" " * ((1 << 20) + 1))[:64], 1009))
    for data, code in cases:
        s, head = _raw_handshake(port)
        assert head.startswith(b"HTTP/1.1 101"), head
        s.sendall(data)
        frames = _read_frames(s, head)
        s.close()
        closes = [p for op, p in frames if op == 8]
        assert closes and struct.unpack("!H", closes[0][:2])[0] == code, frames
    # fragments and an interleaved ping (RFC 6455 §5.4, §5.5)
    s, head = _raw_handshake(port, extra=_frame(1, b'{"message": "he', fin=False) +
                             _frame(9, b"hi") + _frame(0, b'lp", "message_id": 5}') +
                             _frame(8, struct.pack("!H", 1000)))
    assert head.startswith(b"HTTP/1.1 101"), head
    frames = _read_frames(s, head)
    s.close()
    texts = [json.loads(p) for op, p in frames if op == 1]
    assert any(op == 10 and p == b"hi" for op, p in frames), frames  # pong
    assert any(t.get("message_id") == 5 and "messages" in t for t in texts), texts
    assert d.proc.poll() is None


def test_start_time_and_loops(api_server):
    """start_time (relative and absolute), loop_count with loop_delay and
    loop_index; a message that is not standalone dies with its socket."""
    d, sip, port, log = api_server()

    async def go():
        async with _connect(port) as ws:
            ready = await _recv(ws)
            t0 = ready["time"]
            await ws.send(json.dumps({"message": "help", "message_id": "loop",
                                      "loop_count": 3, "loop_delay": 0.2}))
            await ws.send(json.dumps({"message": "license", "message_id": "later",
                                      "start_time": 0.5}))
            got = [await _recv(ws) for _ in range(4)]
            loops = [g for g in got if g["message_id"] == "loop"]
            assert [g["loop_index"] for g in loops] == [0, 1, 2]
            assert loops[2]["time"] - loops[0]["time"] >= 0.35
            later = [g for g in got if g["message_id"] == "later"][0]
            assert later["time"] - t0 >= 0.45
            r = await _ask(ws, {"message": "help", "message_id": "abs",
                                "start_time": later["time"] + 0.3, "absolute_time": True})
            assert r["message_id"] == "abs" and r["time"] >= later["time"] + 0.25
            # this one would log in 1 s; the socket closes first
            await ws.send(json.dumps({"message": "log_set", "log": "never-logged",
                                      "layer": "ims", "level": "error", "start_time": 1}))
            await ws.send(json.dumps({"message": "log_set", "log": "standalone-logged",
                                      "layer": "ims", "level": "error", "start_time": 1,
                                      "standalone": True}))
    _run(go())
    wait_log(log, lambda t: "standalone-logged" in t)
    assert "never-logged" not in open(log).read()


def _options(port, n):
    s = udp_sock()
    try:
        s.sendto(options(f"sip:127.0.0.1:{port}", "127.0.0.1", s.getsockname()[1],
                         f"z9hG4bKlog{n}", f"logget-{n}@test"), ("127.0.0.1", port))
        return status_of(recv_msg(s, 5.0))[0]
    finally:
        s.close()


def test_log_get_sip_lines(api_server):
    """log_get returns the SIP log lines (cursor per connection, layers,
    short), allow_empty answers after timeout, a new request answers the
    waiting one; log_set adds, log_reset clears."""
    d, sip, port, log = api_server()

    async def go():
        async with _connect(port) as ws:
            await _recv(ws)
            assert _options(sip, 1) == 200
            r = await _ask(ws, {"message": "log_get", "layers": {"sip": "debug"}, "min": 2,
                                "timeout": 1})
            lines = [ln for e in r["logs"] for ln in e["data"]]
            assert any("OPTIONS sip:127.0.0.1" in ln for ln in lines), lines
            assert {e["layer"] for e in r["logs"]} == {"sip"}
            assert all(isinstance(e["timestamp"], int) and e["src"] == "TESTIMS"
                       for e in r["logs"])
            idx = [e["idx"] for e in r["logs"]]
            assert idx == sorted(idx)
            # the cursor moved: nothing new, allow_empty answers empty
            r = await _ask(ws, {"message": "log_get", "layers": {"sip": "debug"},
                                "allow_empty": True, "timeout": 0.3})
            assert r["logs"] == [], r
            # short: the first line of each entry only
            assert _options(sip, 2) == 200
            r = await _ask(ws, {"message": "log_get", "layers": {"sip": "debug"},
                                "short": True, "min": 2, "timeout": 1})
            assert r["logs"] and all(len(e["data"]) == 1 for e in r["logs"]), r
            assert min(e["idx"] for e in r["logs"]) > max(idx)
            # a waiting log_get is answered when the next one comes; what
            # its layers leave out is passed over too (the cursor moved)
            await ws.send(json.dumps({"message": "log_get", "message_id": "wait",
                                      "layers": {"cx": "debug"}}))
            await ws.send(json.dumps({"message": "log_get", "message_id": "next",
                                      "layers": {"ims": "warn"}}))
            first = await _recv(ws)
            assert first["message_id"] == "wait" and first["logs"] == []
            await ws.send(json.dumps({"message": "log_set", "log": "hello from the API",
                                      "layer": "ims", "level": "warn", "message_id": "set"}))
            got = {}
            while len(got) < 2:
                m = await _recv(ws)
                got[m["message_id"]] = m
            assert "error" not in got["set"]
            assert any("hello from the API" in e["data"][0] for e in got["next"]["logs"]), got
            assert all(e["level"] in ("warn", "error") for e in got["next"]["logs"])
            # an answer over several parts (256 entries per loop iteration)
            await ws.send(json.dumps([{"message": "log_set", "log": f"bulk {i}",
                                       "layer": "ims", "level": "warn"} for i in range(700)]))
            for _ in range(700):
                assert "error" not in await _recv(ws)
            r = await _ask(ws, {"message": "log_get", "layers": {"ims": "warn"},
                                "min": 700, "timeout": 5})
            bulk = [e["data"][0] for e in r["logs"] if e["data"][0].startswith("bulk ")]
            assert bulk == [f"bulk {i}" for i in range(700)], bulk[:5]
            idx = [e["idx"] for e in r["logs"]]
            assert idx == sorted(idx) and len(set(idx)) == len(idx)
            r = await _ask(ws, {"message": "log_reset"})
            assert "error" not in r
    _run(go())
    assert "hello from the API" in open(log).read()


def test_log_get_ue_id_and_rnti(api_server):
    """log_get's ue_id keeps the entries of that UE (log_set's ue_id); rnti
    (a radio id, which no IMS entry has) keeps none; both are checked."""
    d, sip, port, log = api_server()

    async def go():
        async with _connect(port) as ws:
            await _recv(ws)
            for i, ue in enumerate((7, 8, 7)):
                r = await _ask(ws, {"message": "log_set", "message_id": i, "log": f"ue {ue} #{i}",
                                    "layer": "ims", "level": "warn", "ue_id": ue})
                assert "error" not in r, r
            r = await _ask(ws, {"message": "log_get", "message_id": "a", "ue_id": 7,
                                "layers": {"ims": "warn"}, "min": 2, "timeout": 1})
            assert [e["data"][0] for e in r["logs"]] == ["ue 7 #0", "ue 7 #2"], r
            assert all(e["ue_id"] == 7 for e in r["logs"]), r
            await _ask(ws, {"message": "log_set", "message_id": 4, "log": "ue 7 again",
                            "layer": "ims", "level": "warn", "ue_id": 7})
            r = await _ask(ws, {"message": "log_get", "message_id": "b", "rnti": 17,
                                "allow_empty": True, "timeout": 0.3})
            assert r["logs"] == [], r
            for m, f in (({"ue_id": "7"}, "ue_id"), ({"rnti": -1}, "rnti")):
                r = await _ask(ws, {"message": "log_get", "message_id": f, **m})
                assert f in r.get("error", ""), r
    _run(go())


def test_config_set_binding_expires_and_logs(api_server):
    """config_set of binding_expires changes the next 200's expiry; logs
    with layer all; an unknown layer names the field."""
    d, sip, port, log = api_server()

    async def go():
        async with _connect(port) as ws:
            await _recv(ws)
            r = await _ask(ws, {"message": "config_set", "binding_expires": 120,
                                "logs": {"layers": {"all": {"level": "info"},
                                                    "sip": {"level": "debug",
                                                            "max_size": 100}}}})
            assert "error" not in r, r
            r = await _ask(ws, {"message": "config_get"})
            assert r["binding_expires"] == 120
            assert r["logs"]["layers"]["ims"]["level"] == "info"
            assert r["logs"]["layers"]["sip"]["max_size"] == 100
            r = await _ask(ws, {"message": "config_set", "logs": {"layers": {"nope": {}}}})
            assert "nope" in r["error"]
            r = await _ask(ws, {"message": "config_set", "binding_expires": -1})
            assert "binding_expires" in r["error"]
    _run(go())
    ue = Md5Ue(sip)
    try:
        code, resp = ue.register()
        assert code == 401, resp
        code, resp = ue.register(auth=_digest(_challenge(resp), "ims.test"))
        assert code == 200, resp
        assert re.search(r"(?im)^Contact:.*expires=120", resp), resp  # asked for 600
    finally:
        ue.close()


def test_log_lock(api_server):
    d, sip, port, log = api_server("com_log_lock: true,")

    async def go():
        async with _connect(port) as ws:
            await _recv(ws)
            r = await _ask(ws, {"message": "config_set",
                                "logs": {"layers": {"all": {"level": "error"}}}})
            assert r["logs"] == "locked", r
            r = await _ask(ws, {"message": "config_get"})
            assert r["logs"]["locked"] is True
            assert r["logs"]["layers"]["sip"]["level"] == "debug"
    _run(go())


def _subscribe(ue):
    ue.n += 1
    h = ["SUBSCRIBE sip:alice@ims.test SIP/2.0",
         f"Via: SIP/2.0/UDP 127.0.0.1:{ue.me};branch=z9hG4bKsub{ue.n}x{ue.me};rport",
         "Max-Forwards: 70",
         f"From: <sip:alice@ims.test>;tag=sub{ue.me}",
         "To: <sip:alice@ims.test>",
         f"Call-ID: sub-{ue.me}@test",
         "CSeq: 1 SUBSCRIBE",
         f"Contact: <sip:alice@127.0.0.1:{ue.me}>",
         "Event: reg", "Accept: application/reginfo+xml", "Expires: 600",
         "Content-Length: 0", "", ""]
    ue.s.sendto("\r\n".join(h).encode(), ("127.0.0.1", ue.port))


def _ue_wait(ue, pred, timeout=10.0):
    """Messages to the UE until pred(msg); NOTIFYs are answered 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ue.s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            msg = ue.s.recvfrom(65536)[0].decode(errors="replace")
        except socket.timeout:
            break
        if msg.startswith("NOTIFY "):
            hdrs = msg.split("\r\n\r\n", 1)[0].split("\r\n")
            keep = [h for h in hdrs[1:] if h.split(":", 1)[0].lower() in
                    ("via", "from", "to", "call-id", "cseq")]
            ue.s.sendto(("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) +
                         "\r\nContent-Length: 0\r\n\r\n").encode(), ("127.0.0.1", ue.port))
        if pred(msg):
            return msg
    raise AssertionError("the UE did not get what it waited for")


def test_users_update_users_get_and_unregister(api_server):
    """users_update events follow a registration; users_get shows the
    binding; unregister (network-initiated) makes the UE's reg-event
    subscription see deactivated, and another users_update follows."""
    d, sip, port, log = api_server()
    ue = Md5Ue(sip)

    async def go():
        async with _connect(port) as ws:
            await _recv(ws)
            r = await _ask(ws, {"message": "register", "register": "users_update"})
            assert "error" not in r, r
            code, resp = ue.register()
            assert code == 401
            code, resp = await asyncio.get_running_loop().run_in_executor(
                None, lambda: ue.register(auth=_digest(_challenge(resp), "ims.test")))
            assert code == 200, resp
            ev = await _recv(ws)
            assert ev["message"] == "users_update", ev
            u = ev["users_update"][0]
            assert u["impi"] == IMPI and u["registered"] is True
            b = u["bindings"][0]
            assert f"127.0.0.1:{ue.me}" in b["uri"] and 0 < b["expires"] <= 600
            assert "sip:alice@ims.test" in b["impu"]
            r = await _ask(ws, {"message": "users_get", "registered_only": True})
            assert [x["impi"] for x in r["users"]] == [IMPI]
            assert r["users"][0]["bindings"][0]["uri"] == b["uri"]
            await asyncio.get_running_loop().run_in_executor(None, lambda: (
                _subscribe(ue),
                _ue_wait(ue, lambda m: m.startswith("NOTIFY ") and 'state="active"' in m)))
            r = await _ask(ws, {"message": "unregister", "uri": "sip:alice@ims.test"})
            assert "error" not in r, r
            note = await asyncio.get_running_loop().run_in_executor(
                None, lambda: _ue_wait(ue, lambda m: m.startswith("NOTIFY ") and
                                       "deactivated" in m))
            assert 'event="deactivated"' in note, note
            ev = await _recv(ws)
            while ev["message"] != "users_update" or ev["users_update"][0]["registered"]:
                ev = await _recv(ws)
            assert ev["users_update"][0]["bindings"] == []
            r = await _ask(ws, {"message": "unregister", "uri": "sip:alice@ims.test"})
            assert "not registered" in r["error"]
            r = await _ask(ws, {"message": "register", "unregister": ["users_update"]})
            assert "error" not in r
    try:
        _run(go())
    finally:
        ue.close()


def test_many_clients_and_a_client_that_never_reads(api_server):
    """200 clients at once each get ready; one that never reads while its
    answers pile up is disconnected with a log line, and SIP goes on."""
    d, sip, port, log = api_server()

    async def go():
        conns = [await _connect(port).__aenter__() for _ in range(200)]
        try:
            for ws in conns:
                assert (await _recv(ws))["message"] == "ready"
        finally:
            for ws in conns:
                await ws.close()
    _run(go())
    s, head = _raw_handshake(port)
    assert head.startswith(b"HTTP/1.1 101")
    # (no SO_RCVBUF shrinking here: shrunk after connect, loopback TCP can
    # stall both ways in retransmission backoff, the server idle)
    batch = _frame(1, json.dumps([{"message": "config_get"}] * 1000).encode())
    # whole frames only (a send cut by a timeout would break the framing):
    # the server reads on until it drops us, then the send fails (186
    # frames, 6 s on an idle machine under ASan; far more on a loaded one)
    s.settimeout(300)
    with pytest.raises((BrokenPipeError, ConnectionResetError)):
        for _ in range(2000):
            s.sendall(batch)
    s.close()
    wait_log(log, lambda t: "does not read" in t and "disconnected" in t)
    assert _options(sip, 9) == 200
    assert d.proc.poll() is None


def test_quit(api_server):
    d, sip, port, log = api_server()

    async def go():
        async with _connect(port) as ws:
            await _recv(ws)
            await ws.send(json.dumps({"message": "quit"}))
            try:
                await _recv(ws, 10)
            except websockets.ConnectionClosed:
                pass
    _run(go())
    assert d.wait_exit(20) == 0
    assert "quit requested from the remote API" in open(log).read()


def test_sim_events(api_server):
    """sim_events run as if a client sent them, with their loop count."""
    d, sip, port, log = api_server(
        'sim_events: [ { event: "log_set", log: "sim-event-ran", layer: "ims", '
        'level: "warn", start_time: 0.2 } ], sim_events_loop_count: 2, '
        'sim_events_loop_delay: 0.2,')
    wait_log(log, lambda t: t.count("sim-event-ran") >= 2)


def test_node_ws_client(api_server):
    """Node's ws (Debian node-ws) runs the manual's examples with com_auth,
    computing res with Node's crypto."""
    d, sip, port, log = api_server('com_auth: { password: "node-pw" },')
    env = dict(os.environ, NODE_PATH="/usr/share/nodejs")
    r = subprocess.run(["node", NODE_CLIENT, f"127.0.0.1:{port}", "node-pw"],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    got = [json.loads(ln) for ln in r.stdout.splitlines() if ln.startswith("{")]
    by = {g.get("message_id"): g for g in got}
    assert by["auth"]["ready"] is True
    assert by["foo"]["message"] == "config_get" and by["foo"]["name"] == "TESTIMS"
    assert by["bar"]["error"] == "Unknown message: bar"
    assert "users_get" in by["help"]["messages"]
    assert by["users"]["users"][0]["impi"] == IMPI


def _imsctl(args, timeout=60, env=None):
    from conftest import IMSCTL_BIN, run_tool
    e = dict(os.environ)
    if env:
        e.update(env)
    r = run_tool([IMSCTL_BIN, "api", *args], capture_output=True, text=True,
                 timeout=timeout, env=e)
    return r.returncode, [json.loads(ln) for ln in r.stdout.splitlines() if ln.strip()], \
        r.stderr


def test_imsctl_api(api_server):
    """imsctl api: answers the challenge with --password (or the
    environment), prints every message, exits 1 on an error answer, waits
    for start_time / loop answers with --wait, 2 for a bad command line."""
    d, sip, port, log = api_server('com_auth: { password: "ctl-pw" },')
    addr = f"127.0.0.1:{port}"
    rc, msgs, err = _imsctl(["--password", "ctl-pw", addr,
                             '{"message": "config_get", "message_id": "foo"}'])
    assert rc == 0, err
    assert msgs[0]["message"] == "authenticate" and msgs[1]["ready"] is True
    assert msgs[2]["message_id"] == "foo" and msgs[2]["name"] == "TESTIMS"
    rc, msgs, err = _imsctl([addr, '[{"message": "bar"}, {"message": "license"}]'],
                            env={"IMSCTL_API_PASSWORD": "ctl-pw"})
    assert rc == 1
    assert msgs[-2]["error"] == "Unknown message: bar" and msgs[-1]["products"] == "IMS"
    rc, msgs, err = _imsctl(["--password", "nope", addr, '{"message": "help"}'])
    assert rc == 1 and "authentication failed" in err
    rc, msgs, err = _imsctl([addr, '{"message": "help"}'])
    assert rc == 1 and "--password" in err
    rc, msgs, err = _imsctl(["--password", "ctl-pw", "--wait", addr,
                             '{"message": "license", "loop_count": 3, "loop_delay": 0.1}'])
    assert rc == 0, err
    assert [m["loop_index"] for m in msgs if m["message"] == "license"] == [0, 1, 2]
    assert _imsctl([addr])[0] == 2
    assert _imsctl([addr, "{nope"])[0] == 2
    rc, msgs, err = _imsctl(["--password", "ctl-pw", f"127.0.0.1:{free_port(kind=socket.SOCK_STREAM)}",
                             '{"message": "help"}'])
    assert rc == 1 and "cannot connect" in err


def test_imsctl_api_events(api_server):
    """imsctl api --events follows users_update while a UE registers."""
    d, sip, port, log = api_server()
    from conftest import IMSCTL_BIN
    p = subprocess.Popen([IMSCTL_BIN, "api", "--events", "--timeout", "30",
                          f"127.0.0.1:{port}",
                          '{"message": "register", "register": "users_update"}'],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ue = Md5Ue(sip)
    try:
        # registered for the event once its answer is out
        line = p.stdout.readline()
        assert json.loads(line)["message"] == "ready"
        assert json.loads(p.stdout.readline())["message"] == "register"
        code, resp = ue.register()
        code, resp = ue.register(auth=_digest(_challenge(resp), "ims.test"))
        assert code == 200, resp
        ev = json.loads(p.stdout.readline())
        assert ev["message"] == "users_update"
        assert ev["users_update"][0]["impi"] == IMPI
        assert ev["users_update"][0]["registered"] is True
    finally:
        ue.close()
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=10)


def _selfsigned(tmp_path, name):
    """A self-signed certificate for 127.0.0.1 and its key (openssl CLI)."""
    crt, key = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", f"/CN={name}", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(crt)], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return str(crt), str(key)


def test_tls_with_peer_verification(api_server, tmp_path):
    """com_ssl_certificate / com_ssl_key: wss:// with Python's ssl verifying
    the self-signed server certificate; com_ssl_peer_verify with com_ssl_ca
    (the client's own self-signed certificate, as the manual says): a
    client without a certificate is refused, one with it is served; imsctl
    api --tls the same."""
    import ssl
    scrt, skey = _selfsigned(tmp_path, "server")
    ccrt, ckey = _selfsigned(tmp_path, "client")
    d, sip, port, log = api_server(
        f'com_ssl_certificate: "{scrt}", com_ssl_key: "{skey}", '
        f'com_ssl_peer_verify: true, com_ssl_ca: "{ccrt}",')

    def ctx(with_cert):
        c = ssl.create_default_context(cafile=scrt)
        if with_cert:
            c.load_cert_chain(ccrt, ckey)
        return c

    async def go():
        async with websockets.connect(f"wss://127.0.0.1:{port}/", ssl=ctx(True),
                                      origin="http://tls") as ws:
            assert (await _recv(ws))["message"] == "ready"
            r = await _ask(ws, {"message": "config_get", "message_id": "tls"})
            assert r["message_id"] == "tls" and r["name"] == "TESTIMS"
        with pytest.raises((ssl.SSLError, ConnectionError, websockets.WebSocketException,
                            OSError, asyncio.TimeoutError)):
            async with websockets.connect(f"wss://127.0.0.1:{port}/", ssl=ctx(False),
                                          origin="http://tls") as ws:
                await _recv(ws, 5)
        # plain WebSocket on a TLS port: not served
        with pytest.raises((ConnectionError, websockets.WebSocketException, OSError,
                            asyncio.TimeoutError)):
            async with _connect(port, open_timeout=5) as ws:
                await _recv(ws, 5)
    _run(go())
    rc, msgs, err = _imsctl(["--tls", "--ca", scrt, "--cert", ccrt, "--key", ckey,
                             f"127.0.0.1:{port}", '{"message": "help"}'])
    assert rc == 0, err
    assert "config_get" in msgs[-1]["messages"]
    rc, msgs, err = _imsctl(["--tls", f"127.0.0.1:{port}", '{"message": "help"}'])
    assert rc == 1 and "TLS" in err  # the self-signed server is not trusted
    assert "TLS handshake failed" in open(log).read()
    assert d.proc.poll() is None


def test_users_get_in_parts(tmp_path, imsd_factory):
    """users_get over more users than one part (API_USERS_PART, 2,000) is one
    answer listing each user once, in ue_db order; registered_only keeps the
    registered one wherever it is; a client that leaves mid-listing is
    forgotten."""
    n = 4500
    sip = free_port()
    api = free_port(kind=socket.SOCK_STREAM)
    while api == sip:
        api = free_port(kind=socket.SOCK_STREAM)
    users = ",\n".join(
        f'{{ imsi: "00102{i:010d}", impi: "u{i}@ims.test", impu: ["sip:u{i}"], pwd: "p{i}", '
        f'authent_type: "MD5" }}'
        for i in range(n - 1))
    log = tmp_path / "ims.log"
    cfg = write_cfg(tmp_path, f"""{{
  log_filename: "{log}", log_options: "all.level=info",
  sip_addr: ["127.0.0.1:{sip}"], domain: "ims.test", ipsec: false,
  com_addr: "127.0.0.1:{api}",
  ue_db: [ {users},
    {{ imsi: "001010000000301", impi: "{IMPI}", impu: ["sip:alice"],
       pwd: "alice-secret", authent_type: "MD5", authent_qop: "auth" }} ],
}}
""")
    d = imsd_factory(cfg)
    d.wait_ready(60)
    wait_log(str(log), lambda t: "api: listening on" in t)
    ue = Md5Ue(sip)
    try:
        code, resp = ue.register()
        code, resp = ue.register(auth=_digest(_challenge(resp), "ims.test"))
        assert code == 200, resp
    finally:
        ue.close()

    async def go():
        async with _connect(api) as ws:
            await _recv(ws)
            await ws.send(json.dumps({"message": "users_get", "message_id": "gone"}))
        async with _connect(api) as ws:
            await _recv(ws)
            r = await _ask(ws, {"message": "users_get", "message_id": "all"}, 60)
            assert r["message_id"] == "all" and "error" not in r
            _stamped(r)
            impis = [u["impi"] for u in r["users"]]
            assert impis == [f"u{i}@ims.test" for i in range(n - 1)] + [IMPI]
            r = await _ask(ws, {"message": "users_get", "registered_only": True}, 60)
            assert [u["impi"] for u in r["users"]] == [IMPI]
            assert r["users"][0]["bindings"][0]["expires"] > 0
    _run(go())
    assert d.proc.poll() is None
