"""Answered means committed (src/store/store.h, docs/registrar.md "State
file"): with `ue_db_filename` set, the 200 of a REGISTER leaves only once the
change it acknowledges is committed to the state file. Tried as a user
would: an MD5 REGISTER is answered 200, imsd is killed with SIGKILL the moment
the 200 is read, and restarted on the same file; the binding must be there
(monitor `users`), in every try. The same for a de-registration: the binding
must stay gone. Before the 200 waited for the commit, the binding was lost
in 10 tries out of 10."""
import hashlib
import re
import signal
import socket

from conftest import free_port, write_cfg

REALM = "ims.test"
IMPI = "killmd5@ims.test"
PWD = "kill-secret"
TRIES = 10


def _cfg(tmp_path, port):
    return write_cfg(tmp_path, f"""{{
  log_filename: "{tmp_path}/ims.log",
  log_options: "all.level=info",
  sip_addr: ["127.0.0.1:{port}"],
  domain: "{REALM}",
  ipsec: false,
  ue_db_filename: "ims.state",
  ue_db: [
    {{ imsi: "001010000000401", impi: "{IMPI}", impu: ["sip:killmd5"],
       pwd: "{PWD}", authent_type: "MD5", authent_qop: "auth" }},
  ],
}}
""")


def _md5(s):
    return hashlib.md5(s.encode()).hexdigest()


class _Ue:
    """An MD5 UE on its own UDP port (so each try's binding is told apart)."""

    def __init__(self, port, call_id):
        self.port = port
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.me = self.s.getsockname()[1]
        self.call_id = call_id

    def close(self):
        self.s.close()

    def request(self, cseq, expires, auth=None):
        """Sends a REGISTER, returns (status, response) of its final answer."""
        msg = "\r\n".join([
            f"REGISTER sip:{REALM} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.me};branch=z9hG4bKk{cseq}x{self.me};rport",
            "Max-Forwards: 70",
            f"From: <sip:killmd5@{REALM}>;tag=k{self.me}",
            f"To: <sip:killmd5@{REALM}>",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} REGISTER",
            f"Contact: <sip:killmd5@127.0.0.1:{self.me}>;expires={expires}",
            *([auth] if auth else []),
            "Content-Length: 0", "", ""])
        self.s.sendto(msg.encode(), ("127.0.0.1", self.port))
        self.s.settimeout(10)
        while True:
            data = self.s.recv(65536).decode(errors="replace")
            code = int(data.split(" ", 2)[1])
            if code >= 200:
                return code, data

    def register(self, cseq):
        """Registers with MD5 (challenge, answer); the 200 is returned as
        soon as it is read."""
        code, resp = self.request(cseq, 600)
        assert code == 401, resp
        m = re.search(r'(?im)^WWW-Authenticate:.*nonce="([^"]+)"', resp)
        assert m, resp
        nonce = m.group(1)
        ha1 = _md5(f"{IMPI}:{REALM}:{PWD}")
        ha2 = _md5(f"REGISTER:sip:{REALM}")
        digest = _md5(f"{ha1}:{nonce}:00000001:c0ffee:auth:{ha2}")
        auth = (f'Authorization: Digest username="{IMPI}", realm="{REALM}", '
                f'nonce="{nonce}", uri="sip:{REALM}", response="{digest}", '
                f'algorithm=MD5, qop=auth, nc=00000001, cnonce="c0ffee"')
        return self.request(cseq + 1, 600, auth)


def _kill(d):
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(10)


def _users(d):
    return d.command("users", "binding(s)")


def test_kill_right_after_200_loses_no_binding(tmp_path, imsd_factory):
    port = free_port()
    cfg = _cfg(tmp_path, port)
    d = imsd_factory(cfg)
    d.wait_ready()
    ues = []
    try:
        for i in range(TRIES):
            ue = _Ue(port, f"kill-{i}@test")
            ues.append(ue)
            # a registration: killed the moment its 200 is read
            code, resp = ue.register(1)
            _kill(d)
            assert code == 200 and f"127.0.0.1:{ue.me}" in resp, resp
            d = imsd_factory(cfg)
            d.wait_ready()
            out = _users(d)
            assert f"udp 127.0.0.1:{ue.me}" in out, f"try {i}: binding lost\n{out}"
            # its de-registration (from the binding's address: not
            # challenged), killed the same way: the binding stays gone
            code, resp = ue.request(3, 0)
            _kill(d)
            assert code == 200, resp
            d = imsd_factory(cfg)
            d.wait_ready()
            out = _users(d)
            assert f"127.0.0.1:{ue.me}" not in out, f"try {i}: binding back\n{out}"
    finally:
        for ue in ues:
            ue.close()


def test_kill_right_after_subscribe_200_keeps_subscription(tmp_path, imsd_factory):
    """A reg SUBSCRIBE's 200 waits for its subscription's commit too, and
    its first NOTIFY still comes after it."""
    port = free_port()
    cfg = _cfg(tmp_path, port)
    d = imsd_factory(cfg)
    d.wait_ready()
    ue = _Ue(port, "kill-sub@test")
    try:
        code, resp = ue.register(1)
        assert code == 200, resp
        for i in range(TRIES):
            msg = "\r\n".join([
                "SUBSCRIBE sip:killmd5@ims.test SIP/2.0",
                f"Via: SIP/2.0/UDP 127.0.0.1:{ue.me};branch=z9hG4bKsub{i}x{ue.me};rport",
                "Max-Forwards: 70",
                f"From: <sip:killmd5@{REALM}>;tag=s{i}",
                f"To: <sip:killmd5@{REALM}>",
                f"Call-ID: sub-{i}-{ue.me}@test",
                "CSeq: 1 SUBSCRIBE",
                f"Contact: <sip:killmd5@127.0.0.1:{ue.me}>",
                "Event: reg", "Accept: application/reginfo+xml", "Expires: 600",
                "Content-Length: 0", "", ""])
            ue.s.sendto(msg.encode(), ("127.0.0.1", port))
            ue.s.settimeout(10)
            while True:  # the last try's NOTIFY may still be waiting
                first = ue.s.recv(65536).decode(errors="replace")
                if f"sub-{i}-{ue.me}@test" in first:
                    break
            _kill(d)
            assert first.startswith("SIP/2.0 200"), f"try {i}: not the 200 first:\n{first}"
            d = imsd_factory(cfg)
            d.wait_ready()
            out = _users(d)
            assert re.search(rf"reg-subscriptions={i + 1}\b", out), \
                f"try {i}: subscription lost\n{out}"
    finally:
        ue.close()
