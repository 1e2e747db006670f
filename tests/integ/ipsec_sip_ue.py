"""A UE that registers with IMS-AKA and sec-agree and then speaks SIP over
its SAs (TS 33.203 §7, TS 24.229 §5.1.1.2), run inside the UE's network
namespace by test_ipsec_register.py (`ip netns exec NS python3 ...`).

Its ESP is scapy's (esp_ref.py), not imsd's; the AKA run (RES, CK, IK) is
`imsctl aka-response`. One command a line on stdin, one JSON answer a line
on stdout:

  {"cmd": "register", "alg": A, "ealg": E, "mode": M, ...}
     mode "ok":          REGISTER -> 401 (Security-Server) -> REGISTER over
                         the new SAs with Security-Verify -> 200 over the SA,
                         then OPTIONS over the SA, then de-REGISTER over it
     mode "unprotected": the second REGISTER sent in clear
     mode "badverify":   the second REGISTER over the SAs with a
                         Security-Verify that differs
     mode "nooffer":     Require: sec-agree with an offer imsd cannot take
     mode "plain":       a phone without sec-agree: both REGISTERs in clear
     mode "stay":        as "ok" without the de-REGISTER (stays registered)
     mode "tcp":         the second REGISTER over TCP through the SAs (a TCP
                         client written on scapy's segments: SYN, ACK, data)
     mode "subscribe":   as "stay", then SUBSCRIBE to its reg event over the
                         SA: the NOTIFY must come from our port-c to the
                         UE's port-s under the UE's spi-s (TS 33.203 §7.1)
  -> {"codes": [...], "server": "...", "supported": "...", ...}
"""
import json
import os
import re
import select
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import esp_ref  # noqa: E402
from scapy.layers.inet import IP, TCP, UDP  # noqa: E402
from scapy.layers.inet6 import IPv6  # noqa: E402
from scapy.packet import Raw  # noqa: E402

IPPROTO_ESP = 50


class Ue:
    def __init__(self, p):
        self.p = p
        self.af = socket.AF_INET6 if ":" in p["ue_ip"] else socket.AF_INET
        self.raw = socket.socket(self.af, socket.SOCK_RAW, IPPROTO_ESP)
        self.udp = socket.socket(self.af, socket.SOCK_DGRAM)
        self.udp.bind((p["ue_ip"], p["plain_port"]))
        self.cseq = 0
        self.seq = 0
        self.call_id = "ipsec-%d@ue" % p["spi_c"]

    def close(self):
        self.raw.close()
        self.udp.close()

    # --- SIP text ---
    def request(self, method, sport, ruri, extra, dport):
        self.cseq += 1
        ip = self.p["ue_ip"]
        host = "[%s]" % ip if self.af == socket.AF_INET6 else ip
        h = ["%s %s SIP/2.0" % (method, ruri),
             "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s%dx%d;rport" % (
                 host, sport, method[:3], self.p["spi_c"], self.cseq),
             "Max-Forwards: 70",
             "From: <sip:ue201@ims.test>;tag=t%d" % self.p["spi_c"],
             "To: <sip:ue201@ims.test>" if method == "REGISTER" else "To: <%s>" % ruri,
             "Call-ID: %s" % self.call_id,
             "CSeq: %d %s" % (self.cseq, method)] + extra + ["Content-Length: 0", "", ""]
        return "\r\n".join(h).encode()

    # --- transport ---
    def send_plain(self, data):
        self.udp.sendto(data, (self.p["pcscf_ip"], self.p["pcscf_port"]))

    def recv_plain(self, timeout=5.0):
        r, _, _ = select.select([self.udp], [], [], timeout)
        return self.udp.recv(65535).decode(errors="replace") if r else None

    def udp_seg(self, src, dst, sport, dport, data):
        ipk = IP(src=src, dst=dst) if self.af == socket.AF_INET else IPv6(src=src, dst=dst)
        return bytes((ipk / UDP(sport=sport, dport=dport) / Raw(data))[UDP])

    def send_esp(self, sa, sport, dport, data):
        self.seq += 1
        seg = self.udp_seg(self.p["ue_ip"], self.p["pcscf_ip"], sport, dport, data)
        self.raw.sendto(bytes(sa.encrypt_esp(17, seg, self.seq)), (self.p["pcscf_ip"], 0))

    def recv_esp(self, sa, spi, timeout=5.0):
        """The UDP payload of the next ESP packet under spi (decrypted)."""
        got = self.recv_any({spi: sa}, timeout)
        return got[3] if got else None

    def tcp_seg(self, sport, dport, seq, ack, flags, data=b""):
        src, dst = self.p["ue_ip"], self.p["pcscf_ip"]
        ipk = IP(src=src, dst=dst) if self.af == socket.AF_INET else IPv6(src=src, dst=dst)
        pkt = ipk / TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags,
                        window=65535) / Raw(data)
        return bytes(pkt[TCP])

    def send_tcp(self, sa, sport, dport, seq, ack, flags, data=b""):
        self.seq += 1
        seg = self.tcp_seg(sport, dport, seq, ack, flags, data)
        self.raw.sendto(bytes(sa.encrypt_esp(6, seg, self.seq)), (self.p["pcscf_ip"], 0))

    def recv_tcp(self, sa, spi, timeout=5.0):
        """The next TCP segment under spi, as scapy's TCP; None on timeout."""
        left = timeout
        while left > 0:
            r, _, _ = select.select([self.raw], [], [], left)
            if not r:
                return None
            data = self.raw.recv(65535)
            if self.af == socket.AF_INET:
                data = data[(data[0] & 0x0F) * 4:]
            left -= 0.01
            if int.from_bytes(data[0:4], "big") != spi:
                continue
            nh, seg = sa.decrypt_esp(data)
            if nh == 6:
                return TCP(seg)
        return None

    def recv_any(self, sas, timeout=5.0):
        """(spi, sport, dport, UDP payload) of the next ESP packet under one
        of the SPIs of sas {spi: RefSA}, decrypted; None on timeout."""
        left = timeout
        while left > 0:
            r, _, _ = select.select([self.raw], [], [], left)
            if not r:
                return None
            data = self.raw.recv(65535)
            if self.af == socket.AF_INET:
                data = data[(data[0] & 0x0F) * 4:]
            left -= 0.01
            spi = int.from_bytes(data[0:4], "big")
            if spi not in sas:
                continue
            nh, seg = sas[spi].decrypt_esp(data)
            if nh != 17:
                continue
            return (spi, int.from_bytes(seg[0:2], "big"), int.from_bytes(seg[2:4], "big"),
                    seg[8:].decode(errors="replace"))
        return None


def hdr(msg, name):
    m = re.search(r"(?im)^%s[ \t]*:[ \t]*([^\r\n]*)" % re.escape(name), msg or "")
    return m.group(1).strip() if m else None


def code(msg):
    return int(msg.split(" ", 2)[1]) if msg else 0


def aka(p, nonce, method, nc):
    r = subprocess.run([p["imsctl"], "aka-response", "--nonce", nonce, "--k", p["k"],
                        "--opc", p["opc"], "--username", p["impi"], "--realm", "ims.test",
                        "--uri", "sip:ims.test", "--method", method, "--qop", "auth",
                        "--cnonce", "0a4f113b", "--nc", nc],
                       capture_output=True, text=True, timeout=30, check=True)
    return dict(kv.split("=", 1) for kv in r.stdout.split())


def auth_hdr(p, nonce, resp, nc):
    return ('Authorization: Digest username="%s", realm="ims.test", nonce="%s", '
            'uri="sip:ims.test", response="%s", algorithm=AKAv1-MD5, qop=auth, '
            'cnonce="0a4f113b", nc=%s' % (p["impi"], nonce, resp, nc))


def sec_params(v):
    return dict(re.findall(r";\s*([\w-]+)=([^;,\s]+)", v))


def register(p):
    ue = Ue(p)
    try:
        return run(ue, p)
    finally:
        ue.close()


def run(ue, p):
    out = {"codes": []}
    pc, ps = p["port_c"], p["port_s"]
    ealg = "" if p["ealg"] == "null" else ";ealg=" + p["ealg"]
    alg = p["alg"] if p["mode"] != "nooffer" else "hmac-sha-2-256"
    offer = ("Security-Client: ipsec-3gpp;alg=%s%s;spi-c=%d;spi-s=%d;port-c=%d;port-s=%d"
             % (alg, ealg, p["spi_c"], p["spi_s"], pc, ps))
    host = "[%s]" % p["ue_ip"] if ue.af == socket.AF_INET6 else p["ue_ip"]
    contact = "Contact: <sip:ue201@%s:%d>;expires=600" % (host, ps)
    common = ["Supported: path, sec-agree", "Require: sec-agree", "Proxy-Require: sec-agree"]
    if p["mode"] == "plain":
        common, offer = ["Supported: path"], "Accept: application/sdp"
    empty = ('Authorization: Digest username="%s", realm="ims.test", nonce="", '
             'uri="sip:ims.test", response=""' % p["impi"])
    ue.send_plain(ue.request("REGISTER", p["plain_port"], "sip:ims.test",
                             [contact] + common + [offer, empty], p["pcscf_port"]))
    r1 = ue.recv_plain()
    out["codes"].append(code(r1))
    if code(r1) != 401:
        out["last"] = r1
        return out
    server = hdr(r1, "Security-Server")
    out["server"] = server
    nonce = re.search(r'nonce="([^"]+)"', hdr(r1, "WWW-Authenticate")).group(1)
    a = aka(p, nonce, "REGISTER", "00000001")
    if p["mode"] == "plain":
        ue.send_plain(ue.request(
            "REGISTER", p["plain_port"], "sip:ims.test",
            [contact] + common + [auth_hdr(p, nonce, a["response"], "00000001")],
            p["pcscf_port"]))
        r2 = ue.recv_plain()
        out["codes"].append(code(r2))
        out["last"] = r2
        return out
    sp = sec_params(server)
    ck, ik = bytes.fromhex(a["ck"]), bytes.fromhex(a["ik"])
    p_spi_s, p_port_s = int(sp["spi-s"]), int(sp["port-s"])
    # UE port-c -> P-CSCF port-s under the P-CSCF's spi-s; answers come back
    # to our port-c under our spi-c (TS 33.203 §7.1)
    to_s = esp_ref.RefSA(p["alg"], p["ealg"], p_spi_s, ck, ik)
    from_s = esp_ref.RefSA(p["alg"], p["ealg"], p["spi_c"], ck, ik)
    verify = "Security-Verify: " + (server if p["mode"] != "badverify"
                                    else server.replace("spi-c=", "spi-c=1"))
    r2req = ue.request("REGISTER", pc, "sip:ims.test",
                       [contact] + common + [offer, verify,
                                             auth_hdr(p, nonce, a["response"], "00000001")],
                       p_port_s)
    if p["mode"] == "tcp":
        r2 = tcp_exchange(ue, p, to_s, from_s, p_port_s, r2req.replace(b"SIP/2.0/UDP",
                                                                       b"SIP/2.0/TCP"))
        out["codes"].append(code(r2))
        out["last"] = r2
        return out
    if p["mode"] == "unprotected":
        ue.send_plain(r2req)
        r2 = ue.recv_plain()
        out["codes"].append(code(r2))
        out["last"] = r2
        return out
    ue.send_esp(to_s, pc, p_port_s, r2req)
    r2 = ue.recv_esp(from_s, p["spi_c"])
    out["codes"].append(code(r2))
    if code(r2) != 200:
        out["last"] = r2
        return out
    out["service_route"] = hdr(r2, "Service-Route")
    ruri = "sip:%s:%d" % ("[%s]" % p["pcscf_ip"] if ue.af == socket.AF_INET6
                          else p["pcscf_ip"], p_port_s)
    ue.send_esp(to_s, pc, p_port_s, ue.request("OPTIONS", pc, ruri, [], p_port_s))
    r3 = ue.recv_esp(from_s, p["spi_c"])
    out["codes"].append(code(r3))
    out["supported"] = hdr(r3, "Supported")
    if p["mode"] == "stay":
        return out
    if p["mode"] == "subscribe":
        return subscribe(ue, p, out, to_s, from_s, ck, ik, int(sp["spi-c"]), p_port_s)
    a2 = aka(p, nonce, "REGISTER", "00000002")
    ue.send_esp(to_s, pc, p_port_s, ue.request(
        "REGISTER", pc, "sip:ims.test",
        ["Contact: *", "Expires: 0"] + common + [auth_hdr(p, nonce, a2["response"], "00000002")],
        p_port_s))
    r4 = ue.recv_esp(from_s, p["spi_c"])
    out["codes"].append(code(r4))
    if code(r4) != 200:
        out["last"] = r4
    return out


def tcp_exchange(ue, p, to_s, from_s, p_port_s, data):
    """One request over a TCP connection from port-c to port-s through the
    SAs; returns the response text (or None)."""
    pc, isn = p["port_c"], 1000
    ue.send_tcp(to_s, pc, p_port_s, isn, 0, "S")
    syn = ue.recv_tcp(from_s, p["spi_c"])
    if syn is None or (syn.flags & 0x12) != 0x12 or syn.ack != isn + 1:
        return None
    rcv = syn.seq + 1
    ue.send_tcp(to_s, pc, p_port_s, isn + 1, rcv, "A")
    ue.send_tcp(to_s, pc, p_port_s, isn + 1, rcv, "PA", data)
    got = b""
    while b"\r\n\r\n" not in got:
        seg = ue.recv_tcp(from_s, p["spi_c"])
        if seg is None:
            break
        payload = bytes(seg.payload)
        if payload and seg.seq == rcv:
            got += payload
            rcv += len(payload)
            ue.send_tcp(to_s, pc, p_port_s, isn + 1 + len(data), rcv, "A")
    ue.send_tcp(to_s, pc, p_port_s, isn + 1 + len(data), rcv, "R")
    return got.decode(errors="replace") if got else None


def subscribe(ue, p, out, to_s, from_s, ck, ik, p_spi_c, p_port_s):
    """SUBSCRIBE reg over the SA; the 200 and the NOTIFY, answered."""
    pc, ps = p["port_c"], p["port_s"]
    host = "[%s]" % p["ue_ip"] if ue.af == socket.AF_INET6 else p["ue_ip"]
    ue.send_esp(to_s, pc, p_port_s, ue.request(
        "SUBSCRIBE", pc, "sip:ue201@ims.test",
        ["Event: reg", "Accept: application/reginfo+xml", "Expires: 600",
         "Contact: <sip:ue201@%s:%d>" % (host, ps)], p_port_s))
    at_s = esp_ref.RefSA(p["alg"], p["ealg"], p["spi_s"], ck, ik)
    to_c = esp_ref.RefSA(p["alg"], p["ealg"], p_spi_c, ck, ik)
    sas = {p["spi_c"]: from_s, p["spi_s"]: at_s}
    for _ in range(4):
        got = ue.recv_any(sas)
        if got is None:
            break
        spi, sport, dport, msg = got
        if msg.startswith("SIP/2.0"):
            out["codes"].append(code(msg))
        elif msg.startswith("NOTIFY"):
            out["notify"] = {"spi": spi, "sport": sport, "dport": dport}
            ok = re.sub(r"(?s)\r\n\r\n.*", "", msg).split("\r\n")
            resp = ["SIP/2.0 200 OK"] + [l for l in ok[1:] if re.match(
                r"(?i)(via|from|to|call-id|cseq)\s*:", l)] + ["Content-Length: 0", "", ""]
            ue.send_esp(to_c, dport, sport, "\r\n".join(resp).encode())
        if "notify" in out and len(out["codes"]) >= 4:
            break
    return out


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            p = json.loads(line)
            ans = register(p)
        except Exception as e:  # report, keep serving
            ans = {"error": repr(e)}
        print(json.dumps(ans), flush=True)


if __name__ == "__main__":
    main()
