#!/usr/bin/env python3
"""Stand-in AKA registrar for checking the harness itself (regbench.py --self-test).

It is NOT imsd and its figures are never reported as imsd's. It exists to prove,
without imsd, that the SIPp side of the imsd benchmark is right: that SIPp 3.6
accepts an AUTN built from the K / OP / AMF that regbench.py writes into the
imsd configuration (hex of the ASCII text given to SIPp), and that its
AKAv1-MD5 response verifies with RES as the password (RFC 3310).

One authentication vector is made at start with `imsctl milenage` (our own
Milenage, the one the HSS uses): every user shares K and OP in the benchmark,
so one RAND / SQN serves all. UDP only, one socket, answers:
  REGISTER without a non-empty response  -> 401 Digest AKAv1-MD5, qop=auth
  REGISTER whose response verifies        -> 200 (Contact echoed)
  REGISTER whose response does not        -> 403
Every REGISTER must carry Authorization with username <IMSI>@realm and a To
user equal to that IMSI (how regbench.py provisions imsd), else 403.
Counters are printed on SIGTERM/SIGINT and at --max-seconds.
"""
import argparse
import base64
import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import time

PARAM_RE = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*("([^"]*)"|[^,\s]*)')


def milenage(imsctl, k, op, rand, sqn, amf):
    out = subprocess.run([imsctl, "milenage", "--k", k, "--op", op, "--rand", rand,
                          "--sqn", sqn, "--amf", amf], capture_output=True, text=True,
                         timeout=10, check=True).stdout
    return dict(line.split("=", 1) for line in out.split())


def make_vector(imsctl, k, op, amf):
    rand = os.urandom(16).hex()
    sqn = "000000000021"
    m = milenage(imsctl, k, op, rand, sqn, amf)
    sqn_ak = bytes(a ^ b for a, b in zip(bytes.fromhex(sqn), bytes.fromhex(m["f5"])))
    autn = sqn_ak + bytes.fromhex(amf) + bytes.fromhex(m["f1"])
    nonce = base64.b64encode(bytes.fromhex(rand) + autn).decode()
    return nonce, bytes.fromhex(m["f2"])


def md5hex(b):
    return hashlib.md5(b).hexdigest()


def parse(data):
    text = data.decode("utf-8", "replace")
    head = text.split("\r\n\r\n", 1)[0].split("\r\n")
    hdrs = []
    for line in head[1:]:
        if ":" in line:
            n, v = line.split(":", 1)
            hdrs.append((n.strip(), v.strip()))
    return head[0], hdrs


def hget(hdrs, name):
    for n, v in hdrs:
        if n.lower() == name.lower():
            return v
    return None


def verify(auth, realm, nonce, res):
    p = {m.group(1).lower(): (m.group(3) if m.group(3) is not None else m.group(2))
         for m in PARAM_RE.finditer(auth[len("Digest"):])}
    if p.get("nonce") != nonce or p.get("realm") != realm or not p.get("response"):
        return False
    ha1 = md5hex(p.get("username", "").encode() + b":" + realm.encode() + b":" + res)
    ha2 = md5hex(("REGISTER:" + p.get("uri", "")).encode())
    if p.get("qop"):
        want = md5hex(f"{ha1}:{nonce}:{p.get('nc', '')}:{p.get('cnonce', '')}:"
                      f"{p['qop']}:{ha2}".encode())
    else:
        want = md5hex(f"{ha1}:{nonce}:{ha2}".encode())
    return want == p["response"].lower()


def reply(sock, peer, hdrs, code, reason, extra=()):
    lines = [f"SIP/2.0 {code} {reason}"]
    for n, v in hdrs:
        ln = n.lower()
        if ln in ("via", "from", "call-id", "cseq"):
            lines.append(f"{n}: {v}")
        elif ln == "to":
            lines.append(f"{n}: {v}" + ("" if ";tag=" in v else ";tag=selftest"))
    lines.extend(extra)
    lines.append("Content-Length: 0")
    sock.sendto(("\r\n".join(lines) + "\r\n\r\n").encode(), peer)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--imsctl", required=True)
    ap.add_argument("--k", required=True, help="K, 32 hex digits")
    ap.add_argument("--op", required=True, help="OP, 32 hex digits")
    ap.add_argument("--amf", required=True, help="AMF, 4 hex digits")
    ap.add_argument("--realm", required=True)
    ap.add_argument("--max-seconds", type=float, default=600)
    a = ap.parse_args()

    nonce, res = make_vector(a.imsctl, a.k, a.op, a.amf)
    challenge = f'WWW-Authenticate: Digest realm="{a.realm}",nonce="{nonce}",' \
                f'algorithm=AKAv1-MD5,qop="auth"'
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((a.addr, a.port))
    sock.settimeout(0.5)
    stats = {"challenged": 0, "ok": 0, "bad_response": 0, "bad_identity": 0, "other": 0}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    print(f"selftest_aka: listening on udp {a.addr}:{a.port}", flush=True)
    end = time.time() + a.max_seconds
    while not stop and time.time() < end:
        try:
            data, peer = sock.recvfrom(65535)
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        first, hdrs = parse(data)
        if not first.startswith("REGISTER "):
            if not first.startswith("SIP/"):
                stats["other"] += 1
                reply(sock, peer, hdrs, 405, "Method Not Allowed", ["Allow: REGISTER"])
            continue
        auth = hget(hdrs, "Authorization") or ""
        # as imsd's configuration maps them: IMPI = <IMSI>@realm, IMPU user = IMSI
        m = re.search(r'username="([^"@]*)@([^"]*)"', auth)
        to = re.search(r"sip:([^@>;]*)@", hget(hdrs, "To") or "")
        if not m or not to or m.group(1) != to.group(1) or m.group(2) != a.realm:
            stats["bad_identity"] += 1
            reply(sock, peer, hdrs, 403, "Forbidden")
            continue
        if not re.search(r'response="[0-9a-fA-F]+"', auth):
            stats["challenged"] += 1
            reply(sock, peer, hdrs, 401, "Unauthorized", [challenge])
        elif verify(auth, a.realm, nonce, res):
            stats["ok"] += 1
            reply(sock, peer, hdrs, 200, "OK", [f"Contact: {hget(hdrs, 'Contact')};expires=3600"])
        else:
            stats["bad_response"] += 1
            reply(sock, peer, hdrs, 403, "Forbidden")
    print("selftest_aka: " + " ".join(f"{k}={v}" for k, v in stats.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
