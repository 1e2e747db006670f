"""ipsec: true where IPsec cannot run (docs/ipsec.md "Where IPsec cannot
run"): the shipped configuration's loopback sip_addr. imsd starts without
the datapath and says why; a phone without sec-agree registers; a phone that
offers sec-agree, even with Require: sec-agree, is answered without IPsec
(401 without Security-Server, then 200: TS 24.229 §5.2.2, a P-CSCF without
the means) and the log says why, once per registration."""
import hashlib
import re
import socket

from conftest import free_port, write_cfg
from sipstack import wait_log


def cfg(tmp_path, port):
    return write_cfg(tmp_path, f"""{{
  log_filename: "{tmp_path}/ims.log",
  log_options: "all.level=info",
  sip_addr: ["127.0.0.1:{port}"],
  domain: "ims.test",
  ipsec: true,
  ipsec_tun_setup_script_filename: "{tmp_path}/ipsec_tun_setup",
  ue_db: [ {{ imsi: "001010000000401", impi: "md5ue@ims.test", impu: ["sip:md5ue"],
             pwd: "md5ue-pw", authent_type: "MD5", authent_qop: "auth" }} ],
}}
""")


SEC = ["Security-Client: ipsec-3gpp;alg=hmac-sha-1-96;ealg=aes-cbc;spi-c=1111;spi-s=2222;"
       "port-c=6001;port-s=6002", "Require: sec-agree", "Proxy-Require: sec-agree",
       "Supported: path, sec-agree"]


def register(sock, port, extra, cseq, auth=None):
    me = sock.getsockname()[1]
    lines = ["REGISTER sip:ims.test SIP/2.0",
             f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKlo{me}x{cseq};rport",
             "Max-Forwards: 70", f"From: <sip:md5ue@ims.test>;tag=lo{me}",
             "To: <sip:md5ue@ims.test>", f"Call-ID: lo{me}@test", f"CSeq: {cseq} REGISTER",
             f"Contact: <sip:md5ue@127.0.0.1:{me}>;expires=600"] + extra
    if auth:
        lines.append(auth)
    sock.sendto(("\r\n".join(lines + ["Content-Length: 0", "", ""])).encode(),
                ("127.0.0.1", port))
    sock.settimeout(5.0)
    return sock.recv(65535).decode(errors="replace")


def digest(resp401):
    """RFC 2617 qop=auth answer for md5ue."""
    nonce = re.search(r'nonce="([^"]+)"', resp401).group(1)
    ha1 = hashlib.md5(b"md5ue@ims.test:ims.test:md5ue-pw").hexdigest()
    ha2 = hashlib.md5(b"REGISTER:sip:ims.test").hexdigest()
    r = hashlib.md5(f"{ha1}:{nonce}:00000001:0a4f113b:auth:{ha2}".encode()).hexdigest()
    return (f'Authorization: Digest username="md5ue@ims.test", realm="ims.test", '
            f'nonce="{nonce}", uri="sip:ims.test", response="{r}", algorithm=MD5, '
            f'qop=auth, cnonce="0a4f113b", nc=00000001')


def code(resp):
    return int(resp.split(" ", 2)[1])


def test_loopback_answers_without_ipsec(tmp_path, imsd_factory):
    port = free_port()
    d = imsd_factory(cfg(tmp_path, port))
    d.wait_ready()
    log = tmp_path / "ims.log"
    wait_log(log, lambda t: "ipsec is true, but no sip_addr names an IP that can carry SAs"
             in t)
    for extra in (SEC, ["Supported: path"]):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        try:
            r1 = register(s, port, extra, 1)
            assert code(r1) == 401 and "Security-Server" not in r1, r1
            r2 = register(s, port, extra, 2, digest(r1))
            assert code(r2) == 200, r2
        finally:
            s.close()
        # one line for the phone that offered sec-agree (at its challenge),
        # none for the one that did not
        text = log.read_text()
        lines = re.findall(r"REGISTER from 127\.0\.0\.1:\d+ offers sec-agree: answered "
                           r"without IPsec, since no sip_addr names an IP", text)
        assert len(lines) == 1, text[-2000:]
