"""The SIP stack's properties over the wire: custom_headers (manual §5.2)
on what imsd sends — the 401 and the 200 of an MD5 REGISTER, an OPTIONS
answer, a MESSAGE imsd sends a phone — and config_set (§6.5) of
custom_headers, tcp_threshold, tcp_keepalive / tcp_keepcount and
auth_on_register_only taking effect at run time, each seen where a user sees
it: the headers of the next message, the transport of the next request,
the keepalive timer of an open connection (ss), the challenge of a
de-registration."""
import asyncio
import re
import socket
import subprocess

from conftest import free_port, write_cfg
from sipstack import options
from test_api_sms import _ask, _connect, _recv, _run
from test_sms import Phone, rp_ack_mo, rp_of
from test_state_file_kill import _md5
from sipstack import wait_log

REALM = "ims.test"
PWD = "hdr-secret"
HDRS = """custom_headers: [
    { name: "X-Chal", value: "401 seen", methods: "REGISTER", codes: 401 },
    { name: "X-Reg-Ok", value: "yes", methods: ["REGISTER"], codes: [200] },
    { name: "X-Opt", value: "o", methods: "OPTIONS", codes: 0 },
    { name: "X-Sms", value: "m", methods: "MESSAGE" },
    { name: "Server", value: "custom server", methods: "*", codes: 0, replace: true },
  ],"""


def _start(tmp_path, imsd_factory, extra=""):
    port, api = free_port(), free_port(kind=socket.SOCK_STREAM)
    cfg = write_cfg(tmp_path, f"""{{
  log_filename: "{tmp_path}/ims.log",
  log_options: "all.level=debug",
  sip_addr: ["127.0.0.1:{port}"],
  domain: "{REALM}",
  ipsec: false,
  com_addr: "127.0.0.1:{api}",
  {extra}
  ue_db: [
    {{ imsi: "001010000000501", impi: "md5a@{REALM}", impu: ["sip:md5a"],
       pwd: "{PWD}", authent_type: "MD5", authent_qop: "auth" }},
    {{ imsi: "001010000000502", impi: "md5b@{REALM}", impu: ["sip:md5b"],
       pwd: "{PWD}", authent_type: "MD5", authent_qop: "auth",
       auth_on_register_only: true }},
    {{ imsi: "001010000000302", impi: "bob@{REALM}", authentication: false,
       impu: ["sip:bob", "tel:+33600000302"] }},
  ],
}}
""")
    d = imsd_factory(cfg)
    d.wait_ready()
    wait_log(str(tmp_path / "ims.log"), lambda t: "api: listening on" in t)
    return d, port, api


class _Md5Ue:
    """An MD5 UE on its own UDP port: REGISTER with its challenge."""

    def __init__(self, port, user):
        self.port, self.user = port, user
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.me = self.s.getsockname()[1]
        self.cseq = 0

    def close(self):
        self.s.close()

    def request(self, expires, auth=None):
        self.cseq += 1
        msg = "\r\n".join([
            f"REGISTER sip:{REALM} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.me};branch=z9hG4bKh{self.cseq}x{self.me};rport",
            "Max-Forwards: 70",
            f"From: <sip:{self.user}@{REALM}>;tag=h{self.me}",
            f"To: <sip:{self.user}@{REALM}>",
            f"Call-ID: hdr-{self.user}-{self.me}",
            f"CSeq: {self.cseq} REGISTER",
            f"Contact: <sip:{self.user}@127.0.0.1:{self.me}>;expires={expires}",
            *([auth] if auth else []),
            "Content-Length: 0", "", ""])
        self.s.sendto(msg.encode(), ("127.0.0.1", self.port))
        self.s.settimeout(10)
        while True:
            data = self.s.recv(65536).decode(errors="replace")
            code = int(data.split(" ", 2)[1])
            if code >= 200:
                return code, data

    def register(self, expires=600):
        """(401 response, final code, final response)."""
        code, chal = self.request(expires)
        assert code == 401, chal
        nonce = re.search(r'(?im)^WWW-Authenticate:.*nonce="([^"]+)"', chal).group(1)
        impi = f"{self.user}@{REALM}"
        ha1 = _md5(f"{impi}:{REALM}:{PWD}")
        digest = _md5(f"{ha1}:{nonce}:00000001:c0ffee:auth:{_md5(f'REGISTER:sip:{REALM}')}")
        auth = (f'Authorization: Digest username="{impi}", realm="{REALM}", '
                f'nonce="{nonce}", uri="sip:{REALM}", response="{digest}", '
                f'algorithm=MD5, qop=auth, nc=00000001, cnonce="c0ffee"')
        code, resp = self.request(expires, auth)
        return chal, code, resp


def _options(port, n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        me = s.getsockname()[1]
        s.sendto(options(f"sip:{REALM}", "127.0.0.1", me, f"z9hG4bKopt{n}x{me}",
                         f"opt-{n}-{me}", rport=True), ("127.0.0.1", port))
        return s.recv(65536).decode(errors="replace")
    finally:
        s.close()


class _OptionsUe:
    """One OPTIONS that can be sent again as a retransmission (same
    branch): the server transaction answers it with the response it kept."""

    def __init__(self, port):
        self.port = port
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.s.settimeout(5)
        me = self.s.getsockname()[1]
        self.msg = options(f"sip:{REALM}", "127.0.0.1", me, f"z9hG4bKonce{me}",
                           f"opt-once-{me}", rport=True)

    def send(self):
        self.s.sendto(self.msg, ("127.0.0.1", self.port))
        return self.s.recv(65536).decode(errors="replace")

    def close(self):
        self.s.close()


def _lines(msg, name):
    return re.findall(rf"(?im)^{re.escape(name)}:[ \t]*(.*?)\r?$", msg)


def _ok(r):
    assert "error" not in r, r
    return r


def test_custom_headers_on_what_imsd_sends(tmp_path, imsd_factory):
    _, port, api = _start(tmp_path, imsd_factory, HDRS)
    ue, bob = _Md5Ue(port, "md5a"), Phone(port, "bob")
    try:
        # REGISTER: the 401 has the 401 rule's header, the 200 the 200's;
        # Server replaced (one line) on both
        chal, code, ok = ue.register()
        assert code == 200, ok
        assert _lines(chal, "X-Chal") == ["401 seen"] and not _lines(chal, "X-Reg-Ok"), chal
        assert _lines(ok, "X-Reg-Ok") == ["yes"] and not _lines(ok, "X-Chal"), ok
        for m in (chal, ok):
            assert _lines(m, "Server") == ["custom server"], m
            assert not _lines(m, "X-Sms") and not _lines(m, "X-Opt"), m
        # an OPTIONS answer: code 0 = every code
        r = _options(port, 1)
        assert r.startswith("SIP/2.0 200") and _lines(r, "X-Opt") == ["o"], r
        assert not _lines(r, "X-Chal"), r
        # a MESSAGE imsd sends (an SMS from the API): the request rule
        bob.register()

        async def go():
            async with _connect(api) as ws:
                await _recv(ws)
                r = await _ask(ws, {"message": "config_get", "message_id": 0})
                assert {"name": "X-Sms", "value": "m", "codes": [], "methods": ["MESSAGE"],
                        "replace": False} in r["custom_headers"], r
                _ok(await _ask(ws, {"message": "sms", "message_id": 1,
                                    "impi": f"bob@{REALM}", "text": "hdr"}))
                head, _ = bob.wait_message()
                assert _lines(head, "X-Sms") == ["m"], head
                assert not _lines(head, "X-Opt"), head

                # refused rules change nothing
                for i, (hdrs, want) in enumerate([
                        ([{"name": "Via", "value": "x"}], "cannot be changed"),
                        ([{"name": "X-Bad", "value": "a\r\nVia: evil"}], "line break"),
                        ([{"name": "X-Bad", "value": "a\u0001"}], "control character"),
                        ({"name": "X"}, "custom_headers: array expected")]):
                    r = await _ask(ws, {"message": "config_set", "message_id": f"b{i}",
                                        "custom_headers": hdrs})
                    assert want in r.get("error", ""), (hdrs, r)
                # a set over the size bound (1000 methods a rule): refused
                # with the field named, before anything changes
                big = [{"name": f"X-Big{i}", "value": "1", "methods": ["SUBSCRIBE"] * 1000}
                       for i in range(20)]
                r = await _ask(ws, {"message": "config_set", "message_id": "big",
                                    "custom_headers": big})
                assert re.search(r"custom_headers\[\d+\]: the rules up to this one take "
                                 r"more than 262144 bytes", r.get("error", "")), r
                r = _options(port, 2)
                assert _lines(r, "X-Opt") == ["o"], r
                # applied once, when the answer is built: kept for the
                # retransmission below, after the rules have changed
                once = _OptionsUe(port)
                first = once.send()
                assert _lines(first, "X-Opt") == ["o"], first

                # config_set: the new rules from the next message on
                _ok(await _ask(ws, {"message": "config_set", "message_id": 2, "custom_headers": [
                    {"name": "X-New", "value": "n", "methods": "OPTIONS", "codes": 200},
                    {"name": "Server", "methods": "*", "codes": 0}]}))
                r = _options(port, 3)
                assert _lines(r, "X-New") == ["n"] and not _lines(r, "X-Opt"), r
                assert not _lines(r, "Server"), r  # removed: no value
                # the retransmitted OPTIONS gets the same bytes as before
                again = once.send()
                once.close()
                assert again == first, (first, again)
                r = await _ask(ws, {"message": "config_get", "message_id": 3})
                assert [h["name"] for h in r["custom_headers"]] == ["X-New", "Server"], r
                assert "value" not in r["custom_headers"][1], r
                _ok(await _ask(ws, {"message": "config_set", "message_id": 4,
                                    "custom_headers": []}))
                r = _options(port, 4)
                assert not _lines(r, "X-New") and _lines(r, "Server"), r

        _run(go())
    finally:
        ue.close()
        bob.close()


def _tcp_listener(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(4)
    s.settimeout(10)
    return s


def _read_request(conn):
    data = b""
    conn.settimeout(10)
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, data
        data += chunk
    return data.decode(errors="replace")


def test_tcp_threshold_set_at_run_time(tmp_path, imsd_factory):
    """A MESSAGE imsd sends bob (registered over UDP) goes over UDP with the
    file's threshold (1300), over TCP to bob's address once config_set lowers
    it below the message's size."""
    _, port, api = _start(tmp_path, imsd_factory)
    bob = Phone(port, "bob")
    lst = _tcp_listener(bob.me)  # bob listens on TCP at its UDP port too
    try:
        bob.register()

        async def go():
            async with _connect(api) as ws:
                await _recv(ws)
                r = await _ask(ws, {"message": "config_get", "message_id": 0})
                assert r["tcp_threshold"] == 1300, r
                _ok(await _ask(ws, {"message": "sms", "message_id": 1,
                                    "impi": f"bob@{REALM}", "text": "over udp"}))
                head, body = bob.wait_message()
                assert "SIP/2.0/UDP" in head.split("\r\n")[1], head
                # its RP-ACK: the next SMS to bob may go
                assert bob.sms(rp_ack_mo(rp_of((head, body))["mr"])) == 200
                for i, bad in enumerate([-1, 70000, "200"]):
                    r = await _ask(ws, {"message": "config_set", "message_id": f"b{i}",
                                        "tcp_threshold": bad})
                    assert "tcp_threshold" in r.get("error", ""), r
                _ok(await _ask(ws, {"message": "config_set", "message_id": 2,
                                    "tcp_threshold": 200}))
                r = await _ask(ws, {"message": "config_get", "message_id": 3})
                assert r["tcp_threshold"] == 200, r
                _ok(await _ask(ws, {"message": "sms", "message_id": 4,
                                    "impi": f"bob@{REALM}", "text": "over tcp"}))
                conn, _ = await asyncio.get_running_loop().run_in_executor(None, lst.accept)
                try:
                    req = _read_request(conn)
                    assert req.startswith("MESSAGE ") and "SIP/2.0/TCP" in req, req
                finally:
                    conn.close()

        _run(go())
    finally:
        lst.close()
        bob.close()


def _keepalive(port, peer_port):
    """imsd's side of the connection from peer_port: its keepalive timer
    text (ss), '' when it has none."""
    out = subprocess.run(["ss", "-tnoH", "state", "established",
                          f"( sport = :{port} and dport = :{peer_port} )"],
                         capture_output=True, text=True, timeout=10).stdout
    m = re.search(r"timer:\((keepalive,[^)]*)\)", out)
    return m.group(1) if m else ""


def test_tcp_keepalive_set_at_run_time(tmp_path, imsd_factory):
    """tcp_keepalive from config_set reaches the connections open now (and
    0 turns keepalive off), as the kernel's timer of imsd's socket shows."""
    _, port, api = _start(tmp_path, imsd_factory)
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        me = c.getsockname()[1]
        c.sendall(options(f"sip:{REALM}", "127.0.0.1", me, "z9hG4bKka1", "ka-1",
                          transport="TCP"))
        assert _read_request(c).startswith("SIP/2.0 200")
        assert re.match(r"keepalive,1[45]min", _keepalive(port, me)), _keepalive(port, me)

        async def go():
            async with _connect(api) as ws:
                await _recv(ws)
                r = await _ask(ws, {"message": "config_get", "message_id": 0})
                assert r["tcp_keepalive"] == 900 and r["tcp_keepcount"] == 2, r
                _ok(await _ask(ws, {"message": "config_set", "message_id": 1,
                                    "tcp_keepalive": 7, "tcp_keepcount": 3}))
                t = _keepalive(port, me)
                assert t and "min" not in t and float(re.search(r"[\d.]+", t).group()) <= 7, t
                r = await _ask(ws, {"message": "config_get", "message_id": 2})
                assert r["tcp_keepalive"] == 7 and r["tcp_keepcount"] == 3, r
                _ok(await _ask(ws, {"message": "config_set", "message_id": 3,
                                    "tcp_keepalive": 0}))
                assert _keepalive(port, me) == "", _keepalive(port, me)

        _run(go())
    finally:
        c.close()


def test_auth_on_register_only_set_at_run_time(tmp_path, imsd_factory):
    """With the default (true) a de-registration from the binding's address
    is not challenged; config_set false challenges it (401) for the users
    that do not set the property themselves, and true stops it again."""
    _, port, api = _start(tmp_path, imsd_factory)
    a, b = _Md5Ue(port, "md5a"), _Md5Ue(port, "md5b")
    try:
        for ue in (a, b):
            assert ue.register()[1] == 200

        async def go():
            async with _connect(api) as ws:
                await _recv(ws)
                _ok(await _ask(ws, {"message": "config_set", "message_id": 1,
                                    "auth_on_register_only": False}))
                r = await _ask(ws, {"message": "config_get", "message_id": 2})
                assert r["auth_on_register_only"] is False, r
                code, resp = a.request(0)
                assert code == 401, resp
                code, resp = b.request(0)  # md5b sets it itself: kept
                assert code == 200, resp
                _ok(await _ask(ws, {"message": "config_set", "message_id": 3,
                                    "auth_on_register_only": True}))
                code, resp = a.request(0)
                assert code == 200, resp
                r = await _ask(ws, {"message": "config_set", "message_id": 4,
                                    "auth_on_register_only": 0})
                assert "boolean expected" in r.get("error", ""), r

        _run(go())
    finally:
        a.close()
        b.close()
