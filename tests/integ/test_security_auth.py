"""Registration attacks of the security review (issue "Security hardening"):
password guessing, de-registration by a host sharing the UE's address,
challenge replacement and a user opened by one IMPU without authentication,
reproduced over loopback against the real binary and
shown to fail now; plus the checks that a real phone's behaviour is
unchanged. docs/security.md. The UE and the server set-up are
test_security.py's (an MD5 user with qop=auth)."""
import re
import socket
import subprocess
import threading
import time

from conftest import IMSD_BIN, free_port, run_tool, write_cfg
from test_security import IMPI, PWD, Md5Ue, _challenge, _digest, _start


def _answer(resp, pwd=PWD):
    return _digest(_challenge(resp), "ims.test", pwd=pwd)


def _log(tmp_path):
    p = tmp_path / "ims.log"
    return p.read_text(errors="replace") if p.exists() else ""


def test_password_guessing_is_counted_and_locked(tmp_path, imsd_factory):
    """The review's attack: wrong answers reusing the challenged REGISTER's
    Call-ID and CSeq were taken for retransmissions (the same 401 and nonce,
    nothing counted, nothing logged) and 3,000 guesses went through. Now each
    guess counts, is logged with the IMPI and the source, and five lock the
    user: even the right password from that socket is refused."""
    d, port = _start(tmp_path, imsd_factory, level="info")
    atk = Md5Ue(port)
    try:
        code, resp = atk.register(cseq=1)
        assert code == 401, resp
        locked_at = None
        for i in range(50):
            code, resp = atk.register(auth=_answer(resp, f"guess{i}"), cseq=2)
            if code == 403 and "too many failed" not in resp.split("\r\n")[0]:
                code, resp = atk.register(cseq=1)  # this challenge is spent: a new one
            if "too many failed" in resp.split("\r\n")[0]:
                locked_at = i
                break
            assert code == 401, resp
        assert locked_at is not None and locked_at <= 5, locked_at
        # locked: the right password gets no challenge from this socket
        code, resp = atk.register(cseq=3)
        assert code == 403 and "too many failed" in resp, resp
        assert not re.search(r"(?im)^WWW-Authenticate:", resp), resp
    finally:
        atk.close()
    deadline = time.monotonic() + 5
    while "locked for 300 s" not in _log(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.05)
    log = _log(tmp_path)
    assert re.search(rf"wrong Digest response from {re.escape(IMPI)} at udp:127\.0\.0\.1:\d+",
                     log), log
    assert f"{IMPI} locked for 300 s after 5 failed authentications" in log, log


def test_retransmission_is_not_a_guess_and_phone_registers(tmp_path, imsd_factory):
    """A real phone whose 401 was lost sends the same REGISTER again (the same
    bytes): the same challenge comes back and nothing is counted; its right
    answer then registers it."""
    d, port = _start(tmp_path, imsd_factory, level="info")
    ue = Md5Ue(port)
    try:
        code, first = ue.register()
        nonce = _challenge(first)["nonce"]
        for _ in range(8):
            code, resp = ue.register(again=True)
            assert code == 401 and _challenge(resp)["nonce"] == nonce, resp
        code, resp = ue.register(auth=_answer(first))
        assert code == 200, resp
    finally:
        ue.close()
    out = d.command("stats", "registrar.mem")
    assert re.search(r"(?m)^registrar\.locked: 0$", out), out


def _send_star(u, port, cseq, call_id):
    """`Contact: *`, `Expires: 0`, no credentials, from u's socket."""
    h = ["REGISTER sip:ims.test SIP/2.0",
         f"Via: SIP/2.0/UDP 127.0.0.1:{u.me};branch=z9hG4bKd{cseq}x{u.me};rport",
         "Max-Forwards: 70", f"From: <sip:alice@ims.test>;tag=d{u.me}",
         "To: <sip:alice@ims.test>", f"Call-ID: {call_id}", f"CSeq: {cseq} REGISTER",
         "Contact: *", "Expires: 0", "Content-Length: 0", "", ""]
    u.s.sendto("\r\n".join(h).encode(), ("127.0.0.1", port))
    return u.final()


def test_deregistration_needs_the_flow_not_the_ip(tmp_path, imsd_factory):
    """The review's attack: one `Contact: *` datagram from the same IP,
    another port, a new Call-ID and no credentials removed the user's
    binding (auth_on_register_only let the IP alone vouch for it). Now it is
    challenged and removes nothing; the phone itself, from its flow, still
    de-registers without a challenge."""
    d, port = _start(tmp_path, imsd_factory, level="info")
    ue, other = Md5Ue(port), Md5Ue(port)
    try:
        code, resp = ue.register()
        code, resp = ue.register(auth=_answer(resp))
        assert code == 200, resp
        code, resp = _send_star(other, port, 1, "attack@test")
        assert code == 401, resp
        out = d.command("users", "user(s)")
        assert re.search(rf"{re.escape(IMPI)}\s+imsi=\S+\s+registered", out), out
        # the phone, from its own flow: de-registered at once
        code, resp = _send_star(ue, port, ue.cseq + 1, ue.call_id)
        assert code == 200, resp
    finally:
        ue.close()
        other.close()
    out = d.command("users", "user(s)")
    assert "not registered" in out, out


def test_challenge_flood_does_not_keep_the_phone_out(tmp_path, imsd_factory):
    """The review's attack: ~500 credential-less REGISTERs a second naming the
    user from another socket replaced its one challenge each time, and the
    phone registered 0 times in 10. Now the flood from one address shares one
    challenge (the same nonce for a second), so the phone's answers, 50 ms
    after each challenge, land: 10 registrations of 10 (a stale nonce may
    cost it one more round)."""
    d, port = _start(tmp_path, imsd_factory, level="info")
    stop = threading.Event()
    fl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    fl.bind(("127.0.0.1", 0))
    me = fl.getsockname()[1]

    def flood():
        for i in range(4000):  # bounded: at most ~8 s at 500/s
            if stop.is_set():
                return
            fl.sendto("\r\n".join([
                "REGISTER sip:ims.test SIP/2.0",
                f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKfl{i}",
                "Max-Forwards: 70", f"From: <sip:alice@ims.test>;tag=fl{i}",
                "To: <sip:alice@ims.test>", f"Call-ID: flood-{i}@test", "CSeq: 1 REGISTER",
                f"Contact: <sip:alice@127.0.0.1:{me}>", "Content-Length: 0", "", ""]).encode(),
                ("127.0.0.1", port))
            time.sleep(0.002)

    t = threading.Thread(target=flood)
    t.start()
    ue = Md5Ue(port)
    ok = 0
    try:
        time.sleep(0.2)
        for _ in range(10):
            code, resp = ue.register()
            for _ in range(3):  # a stale nonce (replaced meanwhile): again
                time.sleep(0.05)  # a phone takes tens of ms (an ISIM's AKA run)
                code, resp = ue.register(auth=_answer(resp))
                if code != 401:
                    break
            ok += code == 200
    finally:
        stop.set()
        t.join()
        ue.close()
        fl.close()
    assert ok == 10, ok


def test_guest_impu_cannot_open_the_user(tmp_path):
    """The review's finding 5: `authentication: false` on one IMPU let a
    stranger register through it without credentials, get the user's whole
    implicit set and drop the real phone with `Contact: *`. Such a user no
    longer loads: imsd refuses to start and names both IMPUs; a user whose
    IMPUs all go without authentication still starts."""
    port = free_port()
    body = f"""{{
  log_filename: "{tmp_path}/ims.log",
  sip_addr: ["127.0.0.1:{port}"],
  domain: "ims.test",
  ue_db: [ {{ imsi: "001010000000401", impi: "mix@ims.test", pwd: "pw",
             impu: ["sip:mix", {{ impu: "sip:guest", authentication: false }}] }} ],
}}
"""
    cfg = write_cfg(tmp_path, body)
    for argv in ([IMSD_BIN, "--check-config", cfg], [IMSD_BIN, cfg]):
        r = run_tool(argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        assert r.returncode != 0, (argv, r.stdout, r.stderr)
        assert ("'sip:guest' has authentication: false, 'sip:mix' does not" in r.stderr), r.stderr
    ok = write_cfg(tmp_path, body.replace('impu: ["sip:mix", ', 'authentication: false, impu: ["sip:mix", '),
                   "ok.cfg")
    r = run_tool([IMSD_BIN, "--check-config", ok], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
