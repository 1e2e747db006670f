"""Helpers for the SIP stack integration tests: an imsd with SIP on 127.0.0.1
and ::1, raw-socket SIP peers, log polling. Every wait is bounded."""
import os
import re
import socket
import subprocess
import time
import zlib

from conftest import free_port, write_cfg

HERE = os.path.dirname(os.path.abspath(__file__))
SIPP_DIR = os.path.join(HERE, "sipp")
UA = "imsd-test/1.0"


def start_sip_imsd(imsd_factory, tmp_path, level="info", extra=""):
    """imsd with sip_addr on 127.0.0.1:P and [::1]:P. Returns (imsd, port, log path)."""
    for _ in range(20):
        port = free_port()
        try:  # the same port must be free on ::1 too
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                s = socket.socket(socket.AF_INET6, kind)
                s.bind(("::1", port))
                s.close()
            break
        except OSError:
            continue
    log = tmp_path / "ims.log"
    cfg = write_cfg(tmp_path, f"""{{
  log_filename: "{log}",
  log_options: "all.level={level}",
  sip_addr: ["127.0.0.1:{port}", "[::1]:{port}"],
  domain: "ims.test",
  user_agent: "{UA}",
  {extra}
}}
""")
    d = imsd_factory(cfg)
    d.wait_ready()
    return d, port, str(log)


def options(ruri, via_host, via_port, branch, call_id, transport="UDP", rport=False,
            body=b"", ctype="text/plain", extra=""):
    via = f"SIP/2.0/{transport} {via_host}:{via_port};branch={branch}"
    if rport:
        via += ";rport"
    hdrs = (f"OPTIONS {ruri} SIP/2.0\r\n"
            f"Via: {via}\r\n"
            f"From: <sip:tester@ims.test>;tag=t{zlib.crc32(call_id.encode()):08x}\r\n"
            f"To: <{ruri}>\r\n"
            f"Call-ID: {call_id}\r\n"
            f"CSeq: 1 OPTIONS\r\n"
            f"Max-Forwards: 70\r\n"
            f"{extra}")
    if body:
        hdrs += f"Content-Type: {ctype}\r\n"
    hdrs += f"Content-Length: {len(body)}\r\n\r\n"
    return hdrs.encode() + body


def status_of(resp):
    m = re.match(rb"SIP/2\.0 (\d{3}) ([^\r]*)\r\n", resp)
    assert m, f"not a response: {resp[:200]!r}"
    return int(m.group(1)), m.group(2).decode(errors="replace")


def header(resp, name):
    """First value of a header (full name), or None."""
    m = re.search(rb"\r\n" + name.encode() + rb"[ \t]*:[ \t]*([^\r]*)\r\n", resp, re.I)
    return m.group(1).decode(errors="replace") if m else None


def udp_sock(family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1" if family == socket.AF_INET else "::1", 0))
    s.settimeout(5.0)
    return s


def recv_msgs(sock, n=1, timeout=5.0):
    """The next n SIP messages from a TCP stream (headers + Content-Length
    body each); several may arrive in one segment."""
    deadline = time.monotonic() + timeout
    buf, msgs = b"", []
    while len(msgs) < n:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            m = re.search(rb"\r\n(?:Content-Length|l)[ \t]*:[ \t]*(\d+)", buf[:end + 2], re.I)
            need = end + 4 + (int(m.group(1)) if m else 0)
            if len(buf) >= need:
                msgs.append(buf[:need])
                buf = buf[need:]
                continue
        left = deadline - time.monotonic()
        assert left > 0, f"no complete message within {timeout}s: {buf[:200]!r}"
        sock.settimeout(left)
        data = sock.recv(65536)
        if not data:
            raise ConnectionError(f"closed by the server after {len(buf)} bytes")
        buf += data
    return msgs


def recv_msg(sock, timeout=5.0):
    """One SIP message from a TCP stream (headers + Content-Length body)."""
    return recv_msgs(sock, 1, timeout)[0]


def tcp_conn(port, family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(5.0)
    s.connect(("127.0.0.1" if family == socket.AF_INET else "::1", port))
    return s


def wait_log(path, pred, timeout=10.0):
    """Waits until pred(text of the log) is true; returns the text."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        try:
            with open(path, errors="replace") as f:
                text = f.read()
        except OSError:
            text = ""
        if pred(text):
            return text
        time.sleep(0.05)
    raise AssertionError(f"log condition not met within {timeout}s; log tail:\n{text[-3000:]}")


def run_sipp(args, timeout=30):
    """Runs SIPp in the foreground (bounded); returns the CompletedProcess."""
    if "-p" not in args:
        # SIPp's own default local port is 5060: never collide with a real
        # server (or `make run`) on this machine.
        fam = socket.AF_INET6 if "::1" in args else socket.AF_INET
        kind = socket.SOCK_STREAM if "t1" in args else socket.SOCK_DGRAM
        args = [*args, "-p", str(free_port(fam, kind))]
    p = subprocess.Popen(["sipp", *args, "-nostdin"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate(timeout=5)
        raise AssertionError("sipp did not finish in time")
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)
