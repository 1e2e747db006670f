"""Flows named by value (issue 14 item 3, docs/registrar.md "State file",
docs/sip-stack.md): a stored registration and reg-event subscription keep
the local address they came in on, so after a restart with the sip_addr list
reordered their NOTIFYs still leave from that address; a version-1 state file
(sock_idx) is migrated; a local address that is no longer ours falls back to
the first socket of the family, logged; and a UE registered and subscribed
over TCP gets its NOTIFYs over its own connection. The UE side is the scripted
AKA UE of test_register_ue.py."""
import re
import socket
import sqlite3
import time

import pytest

from conftest import free_port, write_cfg
from test_register_ue import IMPI, Ue, _auth, _cfg_text, _challenge, _ok_for, _ue_side

A_HOST, B_HOST = "127.0.0.1", "127.0.0.2"


class UeAt(Ue):
    """The UDP UE of test_register_ue talking to one of imsd's addresses, and
    noting where each NOTIFY came from."""

    def __init__(self, host, port):
        super().__init__(port)
        self.host = host
        self.last_src = None
        self.notify_src = []

    def _send(self, data):
        self.s.sendto(data.encode(), (self.host, self.port))

    def recv(self, timeout=5.0):
        self.s.settimeout(timeout)
        data, self.last_src = self.s.recvfrom(65536)
        return data.decode(errors="replace")

    def answer(self, req):
        self.notifies.append(req)
        self.notify_src.append(self.last_src)
        self.s.sendto(_ok_for(req), self.last_src)


def _register(ue, sqn_ms=None):
    """AKA registration; returns the SQN the UE accepted."""
    code, resp = ue.register()
    assert code == 401, resp
    nonce = _challenge(resp)["nonce"]
    out = _ue_side(nonce, sqn_ms=sqn_ms)
    assert "auts" not in out, out
    code, resp = ue.register(auth=_auth(nonce, out["response"]))
    assert code == 200, resp
    return out["sqn"]


def _notify_from(ue, pattern):
    """Where the first NOTIFY matching pattern came from, and its text."""
    ue.wait_notify(pattern)
    i = next(i for i, n in enumerate(ue.notifies) if re.search(pattern, n))
    return ue.notify_src[i], ue.notifies[i]


def _log(tmp_path, pattern):
    deadline = time.monotonic() + 10
    while True:
        text = (tmp_path / "ims.log").read_text(errors="replace")
        if re.search(pattern, text):
            return text
        assert time.monotonic() < deadline, f"log has no {pattern!r}:\n{text[-3000:]}"
        time.sleep(0.05)


class _Site:
    """A server with a state file on two addresses A and B; start() takes the
    sip_addr list in the order wanted."""

    def __init__(self, tmp_path, factory):
        self.tmp_path = tmp_path
        self.factory = factory
        self.pa, self.pb = free_port(), free_port()
        self.a, self.b = f"{A_HOST}:{self.pa}", f"{B_HOST}:{self.pb}"

    def start(self, addrs):
        text = _cfg_text(self.tmp_path, self.pa, 'ue_db_filename: "ims.state",')
        old = f'sip_addr: ["{self.a}"]'
        assert old in text
        text = text.replace(old, "sip_addr: [" + ", ".join(f'"{x}"' for x in addrs) + "]")
        d = self.factory(write_cfg(self.tmp_path, text))
        d.wait_ready()
        return d

    def db(self):
        return sqlite3.connect(self.tmp_path / "ims.state")


@pytest.fixture
def site(tmp_path, imsd_factory):
    return _Site(tmp_path, imsd_factory)


def _registered_on_b(site):
    """imsd on [A, B]; a UE registered and subscribed through B, stopped.
    Returns the UE and the SQN it accepted."""
    d = site.start([site.a, site.b])
    ue = UeAt(B_HOST, site.pb)
    sqn = _register(ue)
    code, resp = ue.subscribe()
    assert code == 200, resp
    src, _ = _notify_from(ue, r'state="active"')
    assert src == (B_HOST, site.pb), src
    d.stop()
    db = site.db()
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
        for t in ("reg_binding", "reg_sub"):
            rows = db.execute(f"SELECT peer, local, tcp FROM {t}").fetchall()
            assert rows == [(f"127.0.0.1:{ue.me}", site.b, 0)], (t, rows)
    finally:
        db.close()
    return ue, sqn


def test_stored_flow_survives_reordered_sip_addr(tmp_path, site):
    ue, sqn = _registered_on_b(site)
    try:
        # B is now the first entry: an index stored for B (1) would name A
        d = site.start([site.b, site.a])
        _log(tmp_path, r"1 binding\(s\), 1 subscription\(s\) restored; .* 0 bad row")
        out = d.command("users", "binding(s)")
        assert re.search(rf"^{re.escape(IMPI)}\s+imsi=001010000000201\s+registered\s+"
                         r"auth=AKAv1-MD5\s+reg-subscriptions=1", out, re.M), out
        assert f"udp 127.0.0.1:{ue.me}" in out, out
        # the re-registration is told over the restored subscription's flow:
        # from B, with B in the Via
        _register(ue, sqn_ms=sqn)
        src, msg = _notify_from(ue, r'event="refreshed"')
        assert src == (B_HOST, site.pb), src
        assert re.search(rf"(?im)^Via: SIP/2.0/UDP {re.escape(site.b)};", msg), msg
        log = (tmp_path / "ims.log").read_text(errors="replace")
        assert "none of ours" not in log
        d.stop()
    finally:
        ue.close()


def test_flow_whose_address_went_falls_back_logged(tmp_path, site):
    ue, sqn = _registered_on_b(site)
    try:
        d = site.start([site.a])  # B is gone from the configuration
        out = d.command("users", "binding(s)")
        assert f"udp 127.0.0.1:{ue.me}" in out, out
        ue.host, ue.port = A_HOST, site.pa
        _register(ue, sqn_ms=sqn)
        src, msg = _notify_from(ue, r'event="refreshed"')
        assert src == (A_HOST, site.pa), src
        _log(tmp_path, rf"flow's local address {re.escape(site.b)} is none of ours "
                       rf"\(sip_addr changed\?\): using {re.escape(site.a)}")
        d.stop()
    finally:
        ue.close()


def _to_v1(site, idx):
    """Rewrites the stopped server's state file as imsd 1 wrote it: the flows'
    local address replaced by sock_idx = idx, user_version 1."""
    v1 = {"reg_binding": ("user, nth, bid, contact, callid, cseq, reg_id, expires, "
                          "expires_at, q1000, imei, event, peer", "PRIMARY KEY (user, nth, bid)"),
          "reg_sub": ("user, nth, callid, local_tag, remote_tag, remote_uri, local_uri, "
                      "target, routes, event_id, cseq, version, expires, expires_at, "
                      "remote_cseq, peer", "PRIMARY KEY (user, nth, callid)")}
    db = site.db()
    try:
        for t, (cols, pk) in v1.items():
            db.execute(f"CREATE TABLE {t}_1 ({cols}, sock_idx INTEGER, tcp INTEGER, {pk})"
                       " WITHOUT ROWID")
            db.execute(f"INSERT INTO {t}_1 SELECT {cols}, {idx}, tcp FROM {t}")
            db.execute(f"DROP TABLE {t}")
            db.execute(f"ALTER TABLE {t}_1 RENAME TO {t}")
        db.execute("PRAGMA user_version=1")
        db.commit()
    finally:
        db.close()


def test_version1_state_file_migrated(tmp_path, site):
    """A version-1 file stored the socket's index: migrated, index 1 becomes
    the address of today's second sip_addr entry, B."""
    ue, sqn = _registered_on_b(site)
    _to_v1(site, 1)
    try:
        d = site.start([site.a, site.b])
        _log(tmp_path, r"store: \S+ims.state: schema 1 migrated to 2: the flows of 2 row\(s\)"
                       r" now name the address of the sip_addr entry at their old index; "
                       r"0 had an index beyond the list")
        _log(tmp_path, r"1 binding\(s\), 1 subscription\(s\) restored; .* 0 bad row")
        _register(ue, sqn_ms=sqn)
        src, _ = _notify_from(ue, r'event="refreshed"')
        assert src == (B_HOST, site.pb), src
        d.stop()
    finally:
        ue.close()
    db = site.db()
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
        assert db.execute("SELECT local FROM reg_sub").fetchall() == [(site.b,)]
    finally:
        db.close()


# ---- TCP ----

class TcpUe:
    """A UE on one TCP connection to imsd: REGISTER and SUBSCRIBE go over it,
    and whatever imsd sends it arrives on it (read with a kept buffer)."""

    def __init__(self, port, contact_port):
        self.c = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.me = self.c.getsockname()[1]
        self.contact_port = contact_port
        self.buf = b""
        self.cseq = 0
        self.notifies = []

    def close(self):
        self.c.close()

    def _msg(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                m = re.search(rb"(?i)\r\nContent-Length[ \t]*:[ \t]*(\d+)", self.buf[:end + 2])
                need = end + 4 + (int(m.group(1)) if m else 0)
                if len(self.buf) >= need:
                    msg, self.buf = self.buf[:need], self.buf[need:]
                    return msg.decode(errors="replace")
            left = deadline - time.monotonic()
            assert left > 0, f"nothing complete within {timeout}s: {self.buf[:200]!r}"
            self.c.settimeout(left)
            data = self.c.recv(65536)
            assert data, "connection closed by imsd"
            self.buf += data

    def _answer(self, req):
        self.notifies.append(req)
        self.c.sendall(_ok_for(req))

    def final(self, timeout=10.0):
        while True:
            msg = self._msg(timeout)
            if msg.startswith("NOTIFY "):
                self._answer(msg)
            elif int(msg.split(" ", 2)[1]) >= 200:
                return int(msg.split(" ", 2)[1]), msg

    def wait_notify(self, pattern, timeout=10.0):
        while not any(re.search(pattern, n) for n in self.notifies):
            msg = self._msg(timeout)
            if msg.startswith("NOTIFY "):
                self._answer(msg)

    def _send(self, lines):
        self.c.sendall("\r\n".join([*lines, "Content-Length: 0", "", ""]).encode())

    def register(self, auth=None):
        self.cseq += 1
        self._send(["REGISTER sip:ims.test SIP/2.0",
                    f"Via: SIP/2.0/TCP 127.0.0.1:{self.me};branch=z9hG4bKtr{self.cseq}",
                    "Max-Forwards: 70", f"From: <sip:ue201@ims.test>;tag=t{self.me}",
                    "To: <sip:ue201@ims.test>", f"Call-ID: tcp-{self.me}@test",
                    f"CSeq: {self.cseq} REGISTER",
                    f"Contact: <sip:ue201@127.0.0.1:{self.contact_port};transport=tcp>;expires=600",
                    auth or (f'Authorization: Digest username="{IMPI}", realm="ims.test", '
                             'nonce="", uri="sip:ims.test", response=""')])
        return self.final()

    def subscribe(self):
        self.cseq += 1
        self._send(["SUBSCRIBE sip:ue201@ims.test SIP/2.0",
                    f"Via: SIP/2.0/TCP 127.0.0.1:{self.me};branch=z9hG4bKts{self.cseq}",
                    "Max-Forwards: 70", f"From: <sip:ue201@ims.test>;tag=s{self.me}",
                    "To: <sip:ue201@ims.test>", f"Call-ID: tcpsub-{self.me}@test",
                    f"CSeq: {self.cseq} SUBSCRIBE",
                    f"Contact: <sip:ue201@127.0.0.1:{self.contact_port};transport=tcp>",
                    "Event: reg", "Accept: application/reginfo+xml", "Expires: 600"])
        return self.final()


def test_tcp_ue_notify_over_its_own_connection(tmp_path, imsd_factory):
    """A UE registered and subscribed over TCP gets its NOTIFYs back over that
    connection (RFC 5626 §5.3, TS 24.229 §5.2.2), not over a new one: the
    first and the one a re-registration causes. A listener on the UE's
    Contact port would see a new connection; none comes."""
    port = free_port()
    d = imsd_factory(write_cfg(tmp_path, _cfg_text(tmp_path, port)))
    d.wait_ready()
    # the Contact's port: where a NOTIFY on a new connection would go
    lsn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsn.bind(("127.0.0.1", 0))
    lsn.listen(4)
    ue = TcpUe(port, lsn.getsockname()[1])
    try:
        for _ in range(2):  # a registration, then a refresh
            code, resp = ue.register()
            assert code == 401, resp
            nonce = _challenge(resp)["nonce"]
            code, resp = ue.register(auth=_auth(nonce, _ue_side(nonce)["response"]))
            assert code == 200, resp
            if not ue.notifies:
                code, resp = ue.subscribe()
                assert code == 200, resp
                ue.wait_notify(r'state="active"')
        ue.wait_notify(r'event="refreshed"')
        assert len(ue.notifies) >= 2
        for n in ue.notifies:
            assert n.startswith(f"NOTIFY sip:ue201@127.0.0.1:{ue.contact_port};"), n
            assert re.search(rf"(?im)^Via: SIP/2.0/TCP 127.0.0.1:{port};", n), n
        out = d.command("users", "binding(s)")
        assert f"tcp 127.0.0.1:{ue.me}" in out, out
        lsn.settimeout(0.5)
        with pytest.raises(socket.timeout):
            lsn.accept()
    finally:
        ue.close()
        lsn.close()
        d.stop()
