"""IMS-AKA registration driven by a scripted UE over the wire: the UE's side
(AUTN check, RES, AUTS) is computed by `imsctl aka-response`, the SIP is
plain sockets. Covers what SIPp cannot: SQN re-synchronisation (TS 33.102
§6.3.5), wrong AKA responses ending in 403, and an expired binding reported
to its reg-event subscriber (RFC 3680)."""
import base64
import re
import socket
import time
from pathlib import Path

import pytest

from conftest import IMSCTL_BIN, free_port, run_tool, write_cfg
from sipstack import recv_msg

K = "465b5ce8b199b49faa5f0a2ee238a6bc"
OPC = "cd63cb71954a9f4e48a5994e37a02baf"
IMPI = "001010000000201@ims.test"


def _cfg(tmp_path, port, sqn="000000000020", extra=""):
    """The scripted UE's configuration written out (test_state_file, test_stats)."""
    return write_cfg(tmp_path, _cfg_text(tmp_path, port, extra, sqn))


def _cfg_text(tmp_path, port, extra="", sqn="000000000020"):
    return (f"""{{
  log_filename: "{tmp_path}/ims.log",
  log_options: "all.level=debug",
  sip_addr: ["127.0.0.1:{port}"],
  domain: "ims.test",
  ipsec: false,
  {extra}
  ue_db: [ {{ imsi: "001010000000201", impi: "{IMPI}", impu: ["sip:ue201", "tel:+33600000201"],
             sim_algo: "milenage", K: "{K}", opc: "{OPC}", sqn: "{sqn}",
             authent_qop: "auth" }} ],
}}
""")


class Ue:
    """A UE on one UDP socket; reads what the server sends, answers NOTIFYs."""

    proto = "UDP"

    def __init__(self, port, me=0):
        self.port = port
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", me))
        self.me = self.s.getsockname()[1]
        self.cseq = 0
        self.call_id = f"ue-{self.me}@test"
        self.notifies = []

    def close(self):
        self.s.close()

    def _send(self, data):
        self.s.sendto(data.encode(), ("127.0.0.1", self.port))

    def recv(self, timeout=5.0):
        self.s.settimeout(timeout)
        data, _ = self.s.recvfrom(65536)
        return data.decode(errors="replace")

    def register(self, expires=600, auth=None, contact=None, extra=()):
        self.cseq += 1
        if contact is None:
            contact = f"<sip:ue201@127.0.0.1:{self.me}>;expires={expires}"
        h = ["REGISTER sip:ims.test SIP/2.0",
             f"Via: SIP/2.0/{self.proto} 127.0.0.1:{self.me};branch=z9hG4bKr{self.cseq}x{self.me};rport",
             "Max-Forwards: 70",
             f"From: <sip:ue201@ims.test>;tag=ue{self.me}",
             "To: <sip:ue201@ims.test>",
             f"Call-ID: {self.call_id}",
             f"CSeq: {self.cseq} REGISTER",
             f"Contact: {contact}",
             "Supported: path",
             "Require: sec-agree", "Proxy-Require: sec-agree", *extra,
             auth or (f'Authorization: Digest username="{IMPI}", realm="ims.test", '
                      'nonce="", uri="sip:ims.test", response=""'),
             "Content-Length: 0", "", ""]
        self._send("\r\n".join(h))
        return self.final()

    def final(self, timeout=5.0):
        """The next final response; NOTIFYs met on the way are answered."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self.recv(max(0.1, deadline - time.monotonic()))
            if msg.startswith("NOTIFY "):
                self.answer(msg)
                continue
            code = int(msg.split(" ", 2)[1])
            if code >= 200:
                return code, msg

    def answer(self, req):
        self.notifies.append(req)
        self._send(_ok_for(req).decode())

    def subscribe(self, expires=600, auth=None):
        self.cseq += 1
        h = ["SUBSCRIBE sip:ue201@ims.test SIP/2.0",
             f"Via: SIP/2.0/{self.proto} 127.0.0.1:{self.me};branch=z9hG4bKs{self.cseq}x{self.me};rport",
             "Max-Forwards: 70",
             f"From: <sip:ue201@ims.test>;tag=sub{self.me}",
             "To: <sip:ue201@ims.test>",
             f"Call-ID: sub-{self.call_id}",
             f"CSeq: {self.cseq} SUBSCRIBE",
             f"Contact: <sip:ue201@127.0.0.1:{self.me}>",
             "Event: reg", "Accept: application/reginfo+xml",
             f"Expires: {expires}", *([auth] if auth else []), "Content-Length: 0", "", ""]
        self._send("\r\n".join(h))
        return self.final()

    def wait_notify(self, pattern, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not any(re.search(pattern, n) for n in self.notifies):
            left = deadline - time.monotonic()
            assert left > 0, f"no NOTIFY matching {pattern!r}: {self.notifies}"
            try:
                msg = self.recv(left)
            except socket.timeout:
                continue
            if msg.startswith("NOTIFY "):
                self.answer(msg)


class TcpUe(Ue):
    """The same UE over one TCP connection, its registration flow: it sends
    and reads everything there (the CSCF stage knows a UE by that flow)."""

    proto = "TCP"

    def __init__(self, port):  # pylint: disable=super-init-not-called
        self.port = port
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.me = self.s.getsockname()[1]
        self.cseq = 0
        self.call_id = f"tcpue-{self.me}@test"
        self.notifies = []
        self.buf = b""

    def _send(self, data):
        self.s.sendall(data.encode())

    def recv(self, timeout=5.0):
        """The next message; several may share a segment (kept in buf)."""
        deadline = time.monotonic() + timeout
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                m = re.search(rb"(?im)^(?:Content-Length|l)[ \t]*:[ \t]*(\d+)", self.buf[:end])
                need = end + 4 + (int(m.group(1)) if m else 0)
                if len(self.buf) >= need:
                    msg, self.buf = self.buf[:need], self.buf[need:]
                    return msg.decode(errors="replace")
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no complete message")
            self.s.settimeout(left)
            data = self.s.recv(65536)
            if not data:
                raise ConnectionError("closed by the server")
            self.buf += data


def _challenge(resp):
    m = re.search(r"(?im)^WWW-Authenticate:\s*Digest ([^\r\n]*)", resp)
    assert m, resp
    params = dict(re.findall(r'(\w+)="?([^",]*)"?', m.group(1)))
    return params


def _ue_cmd(nonce, k=K):
    return run_tool([IMSCTL_BIN, "aka-response", "--nonce", nonce, "--k", k, "--opc", OPC,
                     "--username", IMPI, "--realm", "ims.test", "--uri", "sip:ims.test"],
                    capture_output=True, text=True, timeout=30)


def _ue_side(nonce, sqn_ms=None, cnonce="0a4f113b", nc="00000001", xor_k=None,
             realm="ims.test", method="REGISTER", uri="sip:ims.test", aka_version=1):
    sim = ["--algo", "xor", "--k", xor_k] if xor_k else ["--k", K, "--opc", OPC]
    cmd = [IMSCTL_BIN, "aka-response", "--nonce", nonce, *sim, "--method", method,
           "--username", IMPI, "--realm", realm, "--uri", uri,
           "--qop", "auth", "--cnonce", cnonce, "--nc", nc, "--aka-version", str(aka_version)]
    if sqn_ms:
        cmd += ["--sqn-ms", sqn_ms]
    r = run_tool(cmd, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return dict(l.split("=", 1) for l in r.stdout.split())


def _auth(nonce, response, cnonce="0a4f113b", nc="00000001", auts=None, realm="ims.test",
          uri="sip:ims.test"):
    a = (f'Authorization: Digest username="{IMPI}", realm="{realm}", nonce="{nonce}", '
         f'uri="{uri}", response="{response}", algorithm=AKAv1-MD5, '
         f'qop=auth, cnonce="{cnonce}", nc={nc}')
    if auts:  # imsctl prints hex; the header carries base64 (RFC 3310 §3.4)
        a += f', auts="{base64.b64encode(bytes.fromhex(auts)).decode()}"'
    return a


def _start(tmp_path, imsd_factory, edits=(), extra=""):
    """imsd on _cfg_text's configuration with (old, new) text edits; (imsd, port)."""
    port = free_port()
    text = _cfg_text(tmp_path, port, extra)
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    d = imsd_factory(write_cfg(tmp_path, text))
    d.wait_ready()
    return d, port


@pytest.fixture
def server(tmp_path, imsd_factory):
    d, port = _start(tmp_path, imsd_factory)
    ue = Ue(port)
    yield d, ue
    ue.close()


def test_resync_then_registered(server):
    d, ue = server
    code, resp = ue.register()
    assert code == 401
    ch = _challenge(resp)
    assert ch["algorithm"] == "AKAv1-MD5"
    # the SIM has already seen SQNs far above the HSS's (field note 004)
    ue_out = _ue_side(ch["nonce"], sqn_ms="000000100000")
    assert "auts" in ue_out
    code, resp = ue.register(auth=_auth(ch["nonce"], ue_out["response"], auts=ue_out["auts"]))
    assert code == 401, resp  # a fresh challenge with the corrected SQN
    ch2 = _challenge(resp)
    assert ch2["nonce"] != ch["nonce"]
    ue_out = _ue_side(ch2["nonce"], sqn_ms="000000100000")
    assert "auts" not in ue_out, ue_out
    assert int(ue_out["sqn"], 16) > 0x100000
    code, resp = ue.register(auth=_auth(ch2["nonce"], ue_out["response"]))
    assert code == 200, resp
    assert re.search(r"(?im)^P-Associated-URI:.*sip:ue201@ims.test", resp)
    out = d.command("users", "binding(s)")
    assert re.search(r"^001010000000201@ims.test\s+imsi=001010000000201\s+registered\s+auth=AKAv1-MD5",
                     out, re.M), out
    assert f"udp 127.0.0.1:{ue.me}" in out


def test_lost_401_retransmission_same_challenge(server):
    """The 401 is sent statelessly (RFC 3261 §8.2.7): when it is lost and the UE
    retransmits the REGISTER (same branch, Call-ID, CSeq), the same challenge comes
    back, so the SIM is not asked twice; the answer to it registers."""
    d, ue = server
    code, resp = ue.register()
    assert code == 401
    ch = _challenge(resp)
    ue.cseq -= 1  # the identical request again, as a UDP retransmission
    code, resp2 = ue.register()
    assert code == 401
    assert _challenge(resp2)["nonce"] == ch["nonce"]
    # the same response, To tag included, as a server transaction would resend
    tag = re.search(r"(?im)^To:.*;tag=([^;\s]+)", resp)
    assert tag and tag.group(1) == re.search(r"(?im)^To:.*;tag=([^;\s]+)", resp2).group(1)
    stats = d.command("stats", "registrar.mem")
    assert re.search(r"^sip\.tsx_server: 0$", stats, re.M), stats  # nothing kept
    res = _ue_side(ch["nonce"])
    code, resp = ue.register(auth=_auth(ch["nonce"], res["response"]))
    assert code == 200, resp


def test_wrong_aka_response_ends_in_403(server):
    d, ue = server
    code, resp = ue.register()
    assert code == 401
    nonce = _challenge(resp)["nonce"]
    code, resp = ue.register(auth=_auth(nonce, "0" * 32))
    assert code == 401, resp  # one fresh challenge first, no 401 loop after it
    nonce = _challenge(resp)["nonce"]
    code, resp = ue.register(auth=_auth(nonce, "0" * 32))
    assert code == 403, resp


def test_isim_with_other_keys_rejects_autn_then_403(server):
    """The ISIM's K differs from the HSS's: it finds AUTN's MAC wrong and answers
    the challenge with an empty response and no auts (TS 24.229 §5.1.1.5.1). The
    server gives up at once with 403, not a 401 loop."""
    d, ue = server
    code, resp = ue.register()
    assert code == 401
    nonce = _challenge(resp)["nonce"]
    r = _ue_cmd(nonce, k="00" * 16)
    assert r.returncode == 1 and "MAC" in r.stderr, (r.returncode, r.stderr)
    code, resp = ue.register(auth=_auth(nonce, ""))
    assert code == 403, resp
    assert "network authentication failed" in resp.split("\r\n", 1)[0]
    out = d.command("users", "binding(s)")
    assert re.search(r"^001010000000201@ims.test\s+imsi=001010000000201\s+not registered",
                     out, re.M), out
    assert "rejected the network's AUTN" in (Path(d.cfg_path).parent / "ims.log").read_text()


def test_unknown_proxy_require_option_420(server):
    """imsd is the UE's P-CSCF: an option tag it does not support in Proxy-Require
    gets 420 with Unsupported (RFC 3261 §16.3 step 5), as in Require."""
    d, ue = server
    code, resp = ue.register(extra=("Proxy-Require: x-unknown-ext",))
    assert code == 420, resp
    assert re.search(r"(?im)^Unsupported:\s*x-unknown-ext\s*$", resp), resp
    code, resp = ue.register(extra=("Require: x-other",))
    assert code == 420, resp
    assert re.search(r"(?im)^Unsupported:\s*x-other\s*$", resp), resp
    code, resp = ue.register()  # sec-agree in both is fine
    assert code == 401, resp


def test_star_deregistration_with_older_cseq_is_aborted(server):
    """RFC 3261 §10.3 step 6: Contact: * in the bindings' Call-ID removes them only
    with a higher CSeq; an older one aborts the request and keeps them."""
    d, ue = server
    ue.cseq = 100
    _register(ue)
    ue.cseq -= 5
    # from the binding's own address a de-registration is not challenged
    # (auth_on_register_only, default true), but still checked
    code, resp = ue.register(contact="*", extra=("Expires: 0",))
    assert code == 500 and "out of order" in resp.split("\r\n", 1)[0], resp
    out = d.command("users", "binding(s)")
    assert re.search(r"^001010000000201@ims.test\s+imsi=001010000000201\s+registered", out,
                     re.M), out
    ue.cseq += 10
    code, resp = ue.register(contact="*", extra=("Expires: 0",))
    assert code == 200, resp
    out = d.command("users", "binding(s)")
    assert re.search(r"^001010000000201@ims.test\s+imsi=001010000000201\s+not registered",
                     out, re.M), out


def test_multi_sim_phones_subscribe_and_deregister_apart(tmp_path, imsd_factory):
    """Two phones with the same test SIM (multi_sim entries told apart by IMEI).
    Requests without +sip.instance reach the phone that made the bindings: its
    SUBSCRIBE watches its own entry, its Contact: * leaves the other registered."""
    port = free_port()
    # multi_sim is only allowed with the XOR test algorithm (manual §5.2.1)
    ent = (f'imsi: "001010000000201", impi: "{IMPI}", multi_sim: true, sim_algo: "xor", '
           f'K: "{K}", authent_qop: "auth"')
    cfg = write_cfg(tmp_path, f"""{{
  log_filename: "{tmp_path}/ims.log",
  sip_addr: ["127.0.0.1:{port}"],
  domain: "ims.test",
  ipsec: false,
  ue_db: [ {{ {ent}, impu: [{{ impu: "sip:ue201", imei: "35000000-000001-0" }}] }},
           {{ {ent}, impu: [{{ impu: "sip:ue201", imei: "35000000-000002-0" }}] }} ],
}}
""")
    d = imsd_factory(cfg)
    d.wait_ready()
    ues = [Ue(port), Ue(port)]
    try:
        for i, ue in enumerate(ues):
            inst = f'<sip:ue201@127.0.0.1:{ue.me}>;+sip.instance="<urn:gsma:imei:35000000-00000{i + 1}-0>"'
            code, resp = ue.register(contact=inst)
            assert code == 401, resp
            nonce = _challenge(resp)["nonce"]
            code, resp = ue.register(contact=inst,
                                     auth=_auth(nonce, _ue_side(nonce, xor_k=K)["response"]))
            assert code == 200, resp
        out = d.command("users", "binding(s)")
        assert len(re.findall(r"^001010000000201@ims.test\s.*\sregistered", out, re.M)) == 2, out
        code, resp = ues[1].subscribe()
        assert code == 200, resp
        ues[1].wait_notify(r'state="active"')
        body = ues[1].notifies[0]
        assert f"127.0.0.1:{ues[1].me}" in body and f"127.0.0.1:{ues[0].me}" not in body, body
        # the second phone de-registers all its bindings
        code, resp = ues[1].register(contact="*", extra=("Expires: 0",))
        assert code == 200, resp
        ues[1].wait_notify(r'state="terminated"')
        out = d.command("users", "binding(s)")
        assert f"udp 127.0.0.1:{ues[0].me}" in out and f"udp 127.0.0.1:{ues[1].me}" not in out, out
    finally:
        for ue in ues:
            ue.close()


def test_user_domain_is_realm_and_names_impus(tmp_path, imsd_factory):
    """A user's own `domain` overrides the global one for authentication (the
    realm) and for the IMPUs imsd writes; it is not used to find the user, so the
    To may name another host (the ISIM's home domain, here the global one)."""
    d, port = _start(tmp_path, imsd_factory, [('authent_qop: "auth" }',
                                               'authent_qop: "auth", domain: "home.example" }')])
    ue = Ue(port)
    try:
        code, resp = ue.register(auth=(f'Authorization: Digest username="{IMPI}", '
                                       'realm="home.example", nonce="", uri="sip:ims.test", '
                                       'response=""'))
        assert code == 401, resp
        ch = _challenge(resp)
        assert ch["realm"] == "home.example", resp
        r = _ue_side(ch["nonce"], realm="home.example")
        code, resp = ue.register(auth=_auth(ch["nonce"], r["response"], realm="home.example"))
        assert code == 200, resp
        assert re.search(r"(?im)^P-Associated-URI:.*<sip:ue201@home\.example>", resp), resp
    finally:
        ue.close()


def test_auth_on_register_only(tmp_path, imsd_factory):
    """auth_on_register_only (manual §5.2, default true): "don't try to authenticate
    other request than register (unless expires is set to 0)". True: a
    de-registration from the bindings' address is not challenged, from another
    address it is; SUBSCRIBE is not challenged. False: both are."""
    d, port = _start(tmp_path, imsd_factory)
    ue, other = Ue(port), None
    try:
        _register(ue)
        code, resp = ue.subscribe()
        assert code == 200, resp
        # another address (127.0.0.2, same machine) may not de-register it unchallenged
        other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        other.bind(("127.0.0.2", 0))
        ue.s, saved = other, ue.s
        code, resp = ue.register(contact="*", extra=("Expires: 0",))
        ue.s = saved
        assert code == 401, resp
        code, resp = ue.register(contact="*", extra=("Expires: 0",))
        assert code == 200, resp
        ue.wait_notify(r'state="terminated"')
    finally:
        ue.close()
        if other:
            other.close()
    d.stop()

    d, port = _start(tmp_path, imsd_factory, extra="auth_on_register_only: false,")
    ue = Ue(port)
    try:
        _register(ue)
        code, resp = ue.subscribe()
        assert code == 401, resp
        nonce = _challenge(resp)["nonce"]
        r = _ue_side(nonce, method="SUBSCRIBE", uri="sip:ue201@ims.test")
        code, resp = ue.subscribe(auth=_auth(nonce, r["response"], uri="sip:ue201@ims.test"))
        assert code == 200, resp
        ue.wait_notify(r'state="active"')
        code, resp = ue.register(contact="*", extra=("Expires: 0",))
        assert code == 401, resp
        nonce = _challenge(resp)["nonce"]
        code, resp = ue.register(contact="*", extra=("Expires: 0",),
                                 auth=_auth(nonce, _ue_side(nonce)["response"]))
        assert code == 200, resp
    finally:
        ue.close()


def _hdrs(resp, name):
    return re.findall(rf"(?im)^{name}:\s*(.*?)\s*$", resp)


def test_ok_contents_and_reginfo_versions(tmp_path, imsd_factory):
    """What a phone reads in the 200 and in its reg-event NOTIFYs: P-Associated-URI
    (preferred first, associated: false left out), Service-Route, Path (ours after
    the UE's, only with Supported: path), Date, the Contact with its +sip.instance,
    reg-id, q and the granted expires; subscribe_expires; reginfo versions 0, 1, 2."""
    d, port = _start(tmp_path, imsd_factory, [
        ('impu: ["sip:ue201", "tel:+33600000201"]',
         'impu: ["sip:ue201", { impu: "sip:hidden201", associated: false }, '
         '{ impu: "tel:+33600000201", preferred: true }]')],
        extra='path: "sip:pcscf.ims.test", subscribe_expires: 1200, binding_expires: 7200,')
    ue = Ue(port)
    try:
        contact = (f'<sip:ue201@127.0.0.1:{ue.me}>;+sip.instance="<urn:gsma:imei:35000000-000001-0>"'
                   ';reg-id=1;q=0.7;expires=600')
        code, resp = ue.register(contact=contact, extra=("Path: <sip:edge.example;lr>",))
        assert code == 401
        nonce = _challenge(resp)["nonce"]
        code, resp = ue.register(contact=contact, extra=("Path: <sip:edge.example;lr>",),
                                 auth=_auth(nonce, _ue_side(nonce)["response"]))
        assert code == 200, resp
        pau = ", ".join(_hdrs(resp, "P-Associated-URI"))
        uris = re.findall(r"<([^>]+)>", pau)
        assert uris == ["tel:+33600000201", "sip:ue201@ims.test"], pau  # preferred first
        assert _hdrs(resp, "Service-Route") == [f"<sip:orig@127.0.0.1:{port};lr>"], resp
        path = ", ".join(_hdrs(resp, "Path"))
        assert re.fullmatch(r"<sip:edge\.example;lr>,\s*<sip:pcscf\.ims\.test;lr>", path), path
        date = _hdrs(resp, "Date")
        assert len(date) == 1 and re.fullmatch(
            r"\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT", date[0]), date
        (c,) = _hdrs(resp, "Contact")
        for part in (f"<sip:ue201@127.0.0.1:{ue.me}>", '+sip.instance="<urn:gsma:imei:35000000-000001-0>"',
                     "reg-id=1", "q=0.7", "expires=600"):
            assert part in c, c
        # subscribe_expires wins over the UE's 600; versions count from 0
        code, resp = ue.subscribe(expires=600)
        assert code == 200, resp
        assert _hdrs(resp, "Expires") == ["1200"], resp
        ue.wait_notify(r'version="0"')
        n0 = ue.notifies[0]
        assert 'aor="sip:hidden201' not in n0 and 'aor="tel:+33600000201"' in n0, n0
        assert re.search(r"(?im)^Subscription-State:\s*active;expires=1\d\d\d", n0), n0
        code, resp = ue.register(contact=contact.replace("expires=600", "expires=300"),
                                 auth=_auth(nonce, _ue_side(nonce, nc="00000002")["response"],
                                            nc="00000002"))
        assert code == 200, resp  # the nonce reused with nc 2, within its 30 s
        ue.wait_notify(r'version="1"[^>]*>[\s\S]*event="shortened"')
        code, resp = ue.register(expires=0, contact=contact.replace("expires=600", "expires=0"))
        assert code == 200, resp
        ue.wait_notify(r'version="2"[\s\S]*event="unregistered"')
    finally:
        ue.close()


def test_nonce_rules_over_the_wire(server):
    """A superseded AKA nonce gets stale=TRUE and a fresh one; an answer replayed
    with the same nc is challenged again, never accepted (RFC 2617, RFC 3310)."""
    d, ue = server
    code, resp = ue.register()
    old = _challenge(resp)["nonce"]
    code, resp = ue.register()  # at once: the same challenge (a flood spends no vector)
    assert _challenge(resp)["nonce"] == old
    time.sleep(1.1)  # REG_CHAL_REUSE_MS (1 s) later, a new REGISTER supersedes it
    code, resp = ue.register()
    new = _challenge(resp)["nonce"]
    assert new != old
    code, resp = ue.register(auth=_auth(old, _ue_side(old)["response"]))
    assert code == 401, resp
    ch = _challenge(resp)
    assert ch.get("stale", "").upper() == "TRUE", resp
    auth = _auth(ch["nonce"], _ue_side(ch["nonce"])["response"])
    code, resp = ue.register(auth=auth)
    assert code == 200, resp
    code, resp = ue.register(auth=auth)  # the same nc=00000001 again
    assert code == 401, resp
    assert _challenge(resp).get("stale", "").upper() != "TRUE"


def test_akav2_registration(tmp_path, imsd_factory):
    """authent_type AKAv2: the challenge says AKAv2-MD5 and the UE's AKAv2 answer
    (password from RES, IK and CK, RFC 4169) registers."""
    d, port = _start(tmp_path, imsd_factory, [('authent_qop: "auth"',
                                               'authent_qop: "auth", authent_type: "AKAv2"')])
    ue = Ue(port)
    try:
        code, resp = ue.register()
        ch = _challenge(resp)
        assert ch["algorithm"] == "AKAv2-MD5", resp
        resp_v = _ue_side(ch["nonce"], aka_version=2)["response"]
        code, resp = ue.register(auth=_auth(ch["nonce"], resp_v).replace("AKAv1-MD5", "AKAv2-MD5"))
        assert code == 200, resp
        out = d.command("users", "binding(s)")
        assert "auth=AKAv2-MD5" in out, out
    finally:
        ue.close()


def test_expired_binding_notifies_subscriber(server):
    d, ue = server
    code, resp = ue.register(expires=3)
    assert code == 401
    nonce = _challenge(resp)["nonce"]
    r = _ue_side(nonce)
    code, resp = ue.register(expires=3, auth=_auth(nonce, r["response"]))
    assert code == 200, resp
    assert re.search(r"(?im)^Contact:.*expires=3", resp)
    code, resp = ue.subscribe()
    assert code == 200, resp
    ue.wait_notify(r'state="active"')
    ue.wait_notify(r'event="expired"', timeout=15)
    out = d.command("users", "binding(s)")
    assert re.search(r"^001010000000201@ims.test\s+imsi=001010000000201\s+not registered", out,
                     re.M), out


def _register(ue):
    code, resp = ue.register()
    assert code == 401
    nonce = _challenge(resp)["nonce"]
    code, resp = ue.register(auth=_auth(nonce, _ue_side(nonce)["response"]))
    assert code == 200, resp


def _tcp_read_msg(conn, timeout=10.0):
    return recv_msg(conn, timeout).decode()


def _ok_for(req):
    """A 200 to the request, from its Via/From/To/Call-ID/CSeq lines."""
    keep = [l for l in req.split("\r\n")
            if re.match(r"(?i)(via|from|to|call-id|cseq):", l)]
    return "\r\n".join(["SIP/2.0 200 OK", *keep, "Content-Length: 0", "", ""]).encode()


def test_request_over_tcp_threshold_leaves_over_tcp(tmp_path, imsd_factory):
    """RFC 3261 §18.1.1 with the manual's tcp_threshold: the reg-event NOTIFY
    (a full reginfo document) is larger than the threshold, so it reaches the
    UDP-registered UE over TCP, at the same address and port."""
    d, port = _start(tmp_path, imsd_factory, extra="tcp_threshold: 400,")
    me = free_port()
    lsn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsn.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsn.bind(("127.0.0.1", me))
    lsn.listen(4)
    ue = Ue(port, me)
    try:
        _register(ue)
        code, resp = ue.subscribe()
        assert code == 200, resp
        lsn.settimeout(10)
        conn, _ = lsn.accept()
        msg = _tcp_read_msg(conn)
        assert msg.startswith("NOTIFY "), msg
        assert len(msg) > 400
        assert re.search(r"(?im)^Via: SIP/2.0/TCP ", msg), msg
        assert 'state="active"' in msg
        conn.sendall(_ok_for(msg))
        conn.close()
    finally:
        ue.close()
        lsn.close()


def test_request_over_tcp_threshold_refused_falls_back_to_udp(tmp_path, imsd_factory):
    """RFC 3261 §18.1.1: a NOTIFY that goes over TCP only because of its size,
    to a UE that does not listen on TCP (SIPp, many softphones), is refused
    there and sent again over UDP; the subscription lives on, so the next
    change is NOTIFYed too."""
    d, port = _start(tmp_path, imsd_factory, extra="tcp_threshold: 400,")
    ue = Ue(port)  # UDP only: a connect to its port is refused
    try:
        _register(ue)
        code, resp = ue.subscribe()
        assert code == 200, resp
        ue.wait_notify(r'state="active"')
        first = ue.notifies[0]
        assert len(first) > 400
        assert re.search(r"(?im)^Via: SIP/2.0/UDP ", first), first
        assert re.search(r"(?im)^Subscription-State: active", first), first
        code, resp = ue.register(expires=0)  # de-registration, a new challenge first
        if code == 401:
            nonce = _challenge(resp)["nonce"]
            code, resp = ue.register(expires=0,
                                     auth=_auth(nonce, _ue_side(nonce)["response"]))
        assert code == 200, resp
        ue.wait_notify(r'Subscription-State: terminated')
        assert all(re.search(r"(?im)^Via: SIP/2.0/UDP ", n) for n in ue.notifies)
    finally:
        ue.close()
    out = d.command("stats", "registrar.mem")
    over = int(re.search(r"(?m)^counters\.sip\.tx_over_tcp: (\d+)$", out).group(1))
    back = int(re.search(r"(?m)^counters\.sip\.tx_udp_fallback: (\d+)$", out).group(1))
    assert over >= 2 and back == over, out
    log = (tmp_path / "ims.log").read_text()
    assert "TCP failed" in log and "sent again over UDP (RFC 3261 18.1.1)" in log, log[-3000:]


def test_notify_after_tcp_flow_closed_goes_to_contact(tmp_path, imsd_factory):
    """A subscriber whose TCP connection closed (the UE's doing, or imsd's idle
    timeout) gets its next NOTIFY over a new connection to its address and its
    Contact's port, where it listens, not at the closed connection's ephemeral
    port where nothing listens."""
    d, port = _start(tmp_path, imsd_factory)
    lsn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsn.bind(("127.0.0.1", 0))
    lsn.listen(4)
    listen_port = lsn.getsockname()[1]
    ue = Ue(port)
    tue = TcpUe(port)  # registers and subscribes over its TCP connection
    c = tue.s
    try:
        _register(tue)
        me = tue.me
        c.sendall("\r\n".join([
            "SUBSCRIBE sip:ue201@ims.test SIP/2.0",
            f"Via: SIP/2.0/TCP 127.0.0.1:{me};branch=z9hG4bKtcpsub1",
            "Max-Forwards: 70",
            "From: <sip:ue201@ims.test>;tag=tcpsub",
            "To: <sip:ue201@ims.test>",
            "Call-ID: tcpsub@test",
            "CSeq: 1 SUBSCRIBE",
            f"Contact: <sip:ue201@127.0.0.1:{listen_port};transport=tcp>",
            "Event: reg", "Accept: application/reginfo+xml",
            "Expires: 600", "Content-Length: 0", "", ""]).encode())
        first = [tue.recv(10.0), tue.recv(10.0)]  # the 200, the first NOTIFY
        resp = next(m for m in first if m.startswith("SIP/2.0 "))
        assert resp.startswith("SIP/2.0 200"), resp
        notify = next(m for m in first if m.startswith("NOTIFY "))
        c.sendall(_ok_for(notify))
        c.close()  # the flow is gone
        time.sleep(0.3)
        _register(ue)  # a new binding over UDP: the subscriber is told
        lsn.settimeout(10)
        conn, _ = lsn.accept()
        msg = _tcp_read_msg(conn)
        assert msg.startswith(f"NOTIFY sip:ue201@127.0.0.1:{listen_port};transport=tcp "), msg
        assert re.search(r"(?im)^Via: SIP/2.0/TCP ", msg), msg
        assert re.search(r"(?im)^Subscription-State: active", msg), msg
        conn.sendall(_ok_for(msg))
        conn.close()
    finally:
        ue.close()
        c.close()
        lsn.close()
    out = d.command("stats", "registrar.mem")
    assert re.search(r"(?m)^registrar\.subscriptions: 1$", out), out  # still alive
