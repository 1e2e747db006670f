"""IMS registration over the wire: SIPp as the UE (AKAv1-MD5 and MD5 digest)
against the real imsd, over UDP and TCP, IPv4 and IPv6.

The scenarios are in tests/integ/sipp/reg_*.xml. Before them, a plain
REGISTER probes the server: no answer or a 405 fails every scenario at once
with that reason (SIPp, installed by scripts/install-deps.sh, is required).

SIPp 3.6.1 reads aka_K / aka_OP / aka_AMF as raw text (16, 16 and 2
characters) and takes OP, not OPc: the AKA users are provisioned with the hex
of those ASCII strings.
"""
import binascii
import os
import re
import shutil
import socket
import subprocess
import time

import pytest

from conftest import Imsd, free_port

SIPP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sipp")
SIPP = shutil.which("sipp")

AKA_K = binascii.hexlify(b"imsd-sipp-test-k").decode()
AKA_OP = binascii.hexlify(b"imsd-sipp-testop").decode()
AKA_AMF = binascii.hexlify(b"00").decode()

USERS = f"""
  ue_db: [
    {{ imsi: "001010000000101", impi: "sippaka@ims.test",
       impu: ["sip:sippaka", "tel:+33600000101"],
       K: "{AKA_K}", op: "{AKA_OP}", amf: "{AKA_AMF}", authent_qop: "auth" }},
    {{ imsi: "001010000000102", impi: "sippmd5@ims.test", impu: ["sip:sippmd5"],
       pwd: "sipp-md5-secret" }},
    {{ imsi: "001010000000103", impi: "sippsub@ims.test", impu: ["sip:sippsub"],
       K: "{AKA_K}", op: "{AKA_OP}", amf: "{AKA_AMF}" }},
  ],
"""

SCENARIOS = ["reg_aka", "reg_aka_reregister", "reg_aka_deregister", "reg_md5",
             "reg_wrong_key", "reg_subscribe"]


def probe_register(host, port, family, timeout=2.0):
    """Status code of the answer to a plain REGISTER over UDP, or None."""
    s = socket.socket(family, socket.SOCK_DGRAM)
    try:
        s.bind((host, 0))
        lport = s.getsockname()[1]
        hp = f"[{host}]" if family == socket.AF_INET6 else host
        msg = (f"REGISTER sip:ims.test SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP {hp}:{lport};branch=z9hG4bKprobe{lport};rport\r\n"
               f"Max-Forwards: 70\r\n"
               f"From: <sip:probe@ims.test>;tag=p1\r\n"
               f"To: <sip:probe@ims.test>\r\n"
               f"Call-ID: probe-{lport}@test\r\n"
               f"CSeq: 1 REGISTER\r\n"
               f"Content-Length: 0\r\n\r\n").encode()
        deadline = time.monotonic() + timeout
        s.sendto(msg, (host, port))
        while time.monotonic() < deadline:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data, _ = s.recvfrom(65536)
            except (socket.timeout, ConnectionRefusedError):
                return None
            m = re.match(rb"SIP/2\.0 (\d{3}) ", data)
            if m and int(m.group(1)) >= 200:
                return int(m.group(1))
        return None
    finally:
        s.close()


@pytest.fixture(scope="module", params=[("127.0.0.1", "u1"), ("127.0.0.1", "t1"),
                                        ("::1", "u1"), ("::1", "t1")],
                ids=["udp4", "tcp4", "udp6", "tcp6"])
def server(request, tmp_path_factory):
    """One imsd per transport and family, shared by the scenarios."""
    assert SIPP, "sipp is not installed (make deps installs sip-tester)"
    host, transport = request.param
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    port = free_port(family)
    hp = f"[{host}]" if family == socket.AF_INET6 else host
    tmp = tmp_path_factory.mktemp("reg")
    cfg = tmp / "ims.cfg"
    cfg.write_text(f"""{{
  log_filename: "{tmp / 'ims.log'}",
  log_options: "all.level=debug",
  sip_addr: ["{hp}:{port}"],
  domain: "ims.test",
  {USERS}
}}
""")
    d = Imsd(str(cfg))
    try:
        d.wait_ready()
        code = probe_register(host, port, family)
        assert code is not None, f"imsd does not answer REGISTER on {hp}:{port}"
        assert code != 405, "imsd answers REGISTER with 405: no registrar"
        yield d, host, port, transport, family
    finally:
        d.stop()
    assert not d.sanitizer_report(), d.sanitizer_report()


def run_sipp(scenario, host, port, transport, family, timeout=40):
    hp = f"[{host}]" if family == socket.AF_INET6 else host
    lport = free_port(family, socket.SOCK_STREAM if transport == "t1" else socket.SOCK_DGRAM)
    cmd = [SIPP, "-sf", os.path.join(SIPP_DIR, scenario + ".xml"), "-m", "1",
           "-i", host, "-p", str(lport), "-t", transport, "-nostdin",
           "-timeout", "30s", "-timeout_error", "-max_retrans", "5", f"{hp}:{port}"]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                       cwd=SIPP_DIR)
    return p.returncode, (p.stdout + p.stderr).decode(errors="replace")[-3000:]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_register_scenario(server, scenario):
    d, host, port, transport, family = server
    rc, out = run_sipp(scenario, host, port, transport, family)
    assert rc == 0, f"sipp {scenario} failed (rc {rc}):\n{out}"


def test_users_shows_registration(server):
    d, host, port, transport, family = server
    rc, out = run_sipp("reg_aka", host, port, transport, family)
    assert rc == 0, out
    text = d.command("users sippaka@ims.test", "expires=")
    assert "registered  auth=AKAv1-MD5" in text
    assert "impu: sip:sippaka@ims.test tel:+33600000101" in text
    assert ("tcp " if transport == "t1" else "udp ") in text
    text = d.command("users", "binding(s)")
    assert re.search(r"3 user\(s\), [1-3] registered", text), text
