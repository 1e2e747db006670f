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
        sock_ip = p.get("ue_sock_ip", p["ue_ip"])
        if sock_ip != p["ue_ip"]:  # link-local: (address, port, 0, zone)
            self.udp.bind(socket.getaddrinfo(sock_ip, p["plain_port"], self.af)[0][4])
            self.raw.bind(socket.getaddrinfo(sock_ip, 0, self.af)[0][4])  # ESP from it too
        else:
            self.udp.bind((sock_ip, p["plain_port"]))
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
             "From: <sip:%s@ims.test>;tag=t%d" % (self.p["user"], self.p["spi_c"]),
             "To: <sip:%s@ims.test>" % self.p["user"] if method == "REGISTER"
             else "To: <%s>" % ruri,
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
    # a link-local UE ("fe80::...%dev"): the zone names the interface for
    # the sockets; the SIP text and the IP header carry the bare address
    if "%" in p["ue_ip"]:
        p = dict(p, ue_sock_ip=p["ue_ip"], ue_ip=p["ue_ip"].split("%")[0])
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
    tp = ";transport=tcp" if p.get("tcp") else ""
    # only a UE that tests SMS takes them (stale bindings of other modes
    # would get the deliveries too)
    sms = ";+g.3gpp.smsip" if "message" in p.get("after", ()) else ""
    contact = "Contact: <sip:%s@%s:%d%s>;expires=600%s" % (p["user"], host, ps, tp, sms)
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
        if code(r2) == 200 and p.get("after"):
            run_after(PlainLink(ue, p), p, out)
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
    # badclient: the protected REGISTER names another alg than the first
    # (what a man in the middle who edited the first leaves); noclient: none
    offer2 = {"badclient": offer.replace(";alg=%s" % alg, ";alg=%s" % (
        "hmac-md5-96" if alg != "hmac-md5-96" else "hmac-sha-1-96")),
              "noclient": None}.get(p["mode"], offer)
    r2req = ue.request("REGISTER", pc, "sip:ims.test",
                       [contact] + common + [x for x in (offer2, verify, auth_hdr(
                           p, nonce, a["response"], "00000001")) if x], p_port_s)
    if p.get("tcp"):
        bye = ue.request("REGISTER", pc, "sip:ims.test", ["Contact: *", "Expires: 0"] + common + [
            auth_hdr(p, nonce, aka(p, nonce, "REGISTER", "00000002")["response"], "00000002")],
            p_port_s)
        return tcp_session(ue, p, out, to_s, from_s, ck, ik, int(sp["spi-c"]), p_port_s,
                           [r2req.replace(b"SIP/2.0/UDP", b"SIP/2.0/TCP"),
                            bye.replace(b"SIP/2.0/UDP", b"SIP/2.0/TCP")])
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
    if p.get("bare"):  # registered: nothing more (bench/ipsec)
        return out
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
    if p.get("after"):
        sas = {p["spi_c"]: from_s, p["spi_s"]: esp_ref.RefSA(p["alg"], p["ealg"], p["spi_s"],
                                                             ck, ik)}
        to_c = esp_ref.RefSA(p["alg"], p["ealg"], int(sp["spi-c"]), ck, ik)
        run_after(UdpLink(ue, p, to_s, to_c, sas, p_port_s), p, out)
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


# --- SIP over the SAs after the registration (MESSAGE, INVITE) ---

SC = "sip:+33699999999@ims.test;user=phone"
ME = "+33600000201"


def bcd(digits):
    d = digits + ("F" if len(digits) % 2 else "")
    return bytes(int(d[i + 1] + d[i], 16) for i in range(0, len(d), 2))


def sms_submit_to_self(mr, me=ME):
    """RP-DATA (MO) with an SMS-SUBMIT of 8-bit data to our own number
    (TS 24.011 §7.3.1.2, TS 23.040 §9.2.2.2): imsd answers 202, RP-ACK, then
    delivers it back to us."""
    da = me.lstrip("+")
    tpdu = bytes([0x01, mr, len(da), 0x91]) + bcd(da) + bytes([0, 4, 5]) + b"hello"
    sc = "33699999999"
    return bytes([0x00, mr, 0, len(sc) // 2 + 1 + 1, 0x91]) + bcd(sc) + bytes([len(tpdu)]) + tpdu


def split_sip(data):
    """(text of the head, body bytes, rest) of the first whole message in
    data, or None."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return None
    m = re.search(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\d+)", head)
    n = int(m.group(1)) if m else 0
    if len(rest) < n:
        return None
    return head.decode(errors="replace"), rest[:n], data[len(head) + 4 + n:]


class Link:
    """SIP to and from the P-CSCF over the SAs: requests from our port-c to
    its port-s, its requests to our port-s from its port-c (TS 33.203 §7.1).
    Subclasses move bytes (UDP or TCP through ESP)."""
    transport = "UDP"

    def __init__(self, ue, p):
        self.ue, self.p = ue, p
        self.n = 0
        self.via_port = p["port_c"]
        self.ip = "[%s]" % p["ue_ip"] if ue.af == socket.AF_INET6 else p["ue_ip"]

    def build(self, method, ruri, cid, cseq, ftag, to, extra, body=b"", branch=None):
        self.n += 1
        branch = branch or "z9hG4bKa%d%s%d" % (self.p["spi_c"], method[:2], self.n)
        h = ["%s %s SIP/2.0" % (method, ruri),
             "Via: SIP/2.0/%s %s:%d;branch=%s;rport" % (self.transport, self.ip,
                                                       self.via_port, branch),
             "Max-Forwards: 70", "From: <sip:%s@ims.test>;tag=%s" % (self.p["user"], ftag), "To: %s" % to,
             "Call-ID: %s" % cid, "CSeq: %d %s" % (cseq, method)] + extra + [
             "Content-Length: %d" % len(body), "", ""]
        return "\r\n".join(h).encode() + body

    def answer(self, where, req, code, reason, totag=None):
        keep = [l for l in req.split("\r\n") if re.match(r"(?i)(via|from|call-id|cseq)\s*:", l)]
        to = [l for l in req.split("\r\n") if re.match(r"(?i)to\s*:", l)][0]
        if totag and ";tag=" not in to:
            to += ";tag=" + totag
        text = "\r\n".join(["SIP/2.0 %d %s" % (code, reason)] + keep + [to] +
                           ["Content-Length: 0", "", ""])
        self.reply(where, text.encode())


def run_after(link, p, out):
    """The actions of p["after"], p["repeat"] times (the last answers kept;
    "failed" counts the rounds whose answer was not the expected one). With
    p["pause"] (bench/ipsec, which meters only these actions): a line
    {"ready": 1} first, then a line on stdin before starting, and a line
    {"failed": N} when done, before the final answer."""
    out["failed"] = 0
    if p.get("pause"):
        print(json.dumps({"ready": 1}), flush=True)
        sys.stdin.readline()
    for _ in range(p.get("repeat", 1)):
        for act in p["after"]:
            out[act] = AFTER[act](link, p)
            out["failed"] += act == "message" and (
                out[act].get("ack_code") not in (200, 202) or len(out[act]["mt"]) != 2)
    if p.get("pause"):
        print(json.dumps({"failed": out["failed"]}), flush=True)


class PlainLink(Link):
    """SIP in clear from the UE's plain port (a phone without sec-agree)."""

    def __init__(self, ue, p):
        super().__init__(ue, p)
        self.via_port = p["plain_port"]

    def send(self, data):
        self.ue.send_plain(data)

    def reply(self, where, data):
        self.ue.udp.sendto(data, where["addr"])

    def next(self, timeout=5.0):
        r, _, _ = select.select([self.ue.udp], [], [], timeout)
        if not r:
            return None
        data, addr = self.ue.udp.recvfrom(65535)
        got = split_sip(data)
        return ({"addr": addr}, got[0], got[1]) if got else None


class UdpLink(Link):
    def __init__(self, ue, p, to_s, to_c, sas, p_port_s):
        super().__init__(ue, p)
        self.to_s, self.to_c, self.sas, self.p_port_s = to_s, to_c, sas, p_port_s

    def send(self, data):
        self.ue.send_esp(self.to_s, self.p["port_c"], self.p_port_s, data)

    def reply(self, where, data):
        """A response to a request that came to our port-s: back to where it
        came from, under the P-CSCF's spi-c."""
        self.ue.send_esp(self.to_c, where["dport"], where["sport"], data)

    def next(self, timeout=5.0):
        """(where, head, body) of the next SIP message under our SPIs."""
        left = timeout
        while left > 0:
            r, _, _ = select.select([self.ue.raw], [], [], left)
            if not r:
                return None
            data = self.ue.raw.recv(65535)
            if self.ue.af == socket.AF_INET:
                data = data[(data[0] & 0x0F) * 4:]
            left -= 0.01
            spi = int.from_bytes(data[0:4], "big")
            if spi not in self.sas:
                continue
            nh, seg = self.sas[spi].decrypt_esp(data)
            got = split_sip(seg[8:]) if nh == 17 else None
            if got:
                return ({"spi": spi, "sport": int.from_bytes(seg[0:2], "big"),
                         "dport": int.from_bytes(seg[2:4], "big")}, got[0], got[1])
        return None


def cseq_of(head):
    m = re.search(r"(?im)^cseq[ \t]*:[ \t]*(\d+)[ \t]+(\w+)", head)
    return (int(m.group(1)), m.group(2)) if m else (0, "")


class TcpLink(Link):
    """SIP over TCP through the SAs, on scapy's segments: our connection
    from port-c to the P-CSCF's port-s (its segments come under our spi-c),
    and the ones imsd opens to our port-s (under our spi-s; we answer with
    the P-CSCF's spi-c). No loss on a veth: no retransmission timers."""
    transport = "TCP"

    def __init__(self, ue, p, to_s, to_c, sas, p_port_s):
        super().__init__(ue, p)
        self.to_s, self.to_c, self.sas, self.p_port_s = to_s, to_c, sas, p_port_s
        self.conns = {}  # (our port, their port) -> dict
        self.opened = []  # where of each connection imsd opened to us

    def seg(self, c, flags, data=b""):
        self.ue.send_tcp(c["sa"], c["lport"], c["rport"], c["snd"], c["rcv"], flags, data)
        c["snd"] += len(data) + (1 if ("S" in flags or "F" in flags) else 0)

    def connect(self):
        c = {"sa": self.to_s, "lport": self.p["port_c"], "rport": self.p_port_s, "snd": 1000,
             "rcv": 0, "buf": b"", "up": False}
        self.conns[(c["lport"], c["rport"])] = c
        self.seg(c, "S")
        while not c["up"]:
            if not self.pump(5.0):
                return False
        return True

    def send(self, data):
        self.write(self.conns[(self.p["port_c"], self.p_port_s)], data)

    def write(self, c, data):
        for i in range(0, len(data), 1200):
            self.seg(c, "PA", data[i:i + 1200])

    def reply(self, where, data):
        self.write(self.conns[(where["lport"], where["rport"])], data)

    def pump(self, timeout):
        """Takes one TCP segment under our SPIs; False on timeout."""
        left = timeout
        while left > 0:
            r, _, _ = select.select([self.ue.raw], [], [], left)
            if not r:
                return False
            data = self.ue.raw.recv(65535)
            if self.ue.af == socket.AF_INET:
                data = data[(data[0] & 0x0F) * 4:]
            left -= 0.01
            spi = int.from_bytes(data[0:4], "big")
            if spi not in self.sas:
                continue
            nh, raw = self.sas[spi].decrypt_esp(data)
            if nh == 6:
                self.take(spi, TCP(raw))
                return True
        return False

    def take(self, spi, t):
        key = (t.dport, t.sport)
        c = self.conns.get(key)
        if (t.flags & 0x12) == 0x02 and c is None and t.dport == self.p["port_s"]:
            c = {"sa": self.to_c, "lport": t.dport, "rport": t.sport, "snd": 5000,
                 "rcv": t.seq + 1, "buf": b"", "up": True}
            self.conns[key] = c
            self.opened.append({"spi": spi, "lport": t.dport, "rport": t.sport})
            self.seg(c, "SA")
            return
        if c is None:
            return
        if t.flags & 0x04:  # RST: gone
            del self.conns[key]
            return
        if (t.flags & 0x12) == 0x12 and not c["up"]:
            c["rcv"], c["up"] = t.seq + 1, True
            self.seg(c, "A")
            return
        payload = bytes(t.payload)
        if payload and t.seq == c["rcv"]:
            c["buf"] += payload
            c["rcv"] += len(payload)
            self.seg(c, "A")
        elif payload:
            self.seg(c, "A")
        if t.flags & 0x01:  # FIN: ours with the ACK, the peer's ACK ends it
            c["rcv"] += 1
            self.seg(c, "FA")
            del self.conns[key]

    def next(self, timeout=5.0):
        left = timeout
        while True:
            for c in self.conns.values():
                got = split_sip(c["buf"])
                if got:
                    c["buf"] = got[2]
                    where = {"lport": c["lport"], "rport": c["rport"],
                             "passive": c["sa"] is self.to_c}
                    return where, got[0], got[1]
            if left <= 0 or not self.pump(min(left, 1.0)):
                left -= 1.0
                if left <= 0:
                    return None

    def close(self):
        for c in self.conns.values():
            self.seg(c, "R")


def tcp_session(ue, p, out, to_s, from_s, ck, ik, p_spi_c, p_port_s, regs):
    """The second REGISTER (regs[0]) over our TCP connection through the SAs,
    kept open; then the actions of p["after"] over TCP; then the
    de-REGISTER (regs[1]) on it."""
    sas = {p["spi_c"]: from_s, p["spi_s"]: esp_ref.RefSA(p["alg"], p["ealg"], p["spi_s"],
                                                         ck, ik)}
    link = TcpLink(ue, p, to_s, esp_ref.RefSA(p["alg"], p["ealg"], p_spi_c, ck, ik), sas,
                   p_port_s)
    try:
        if not link.connect():
            return out
        link.send(regs[0])
        got = link.next()
        out["codes"].append(code(got[1]) if got else 0)
        out["last"] = got[1] if got else None
        if got and code(got[1]) == 200:
            run_after(link, p, out)
            link.send(regs[1])
            got = link.next()
            while got and not (got[1].startswith("SIP/2.0") and "REGISTER" in hdr(got[1], "CSeq")):
                got = link.next()
            out["codes"].append(code(got[1]) if got else 0)
        out["opened"] = link.opened
    finally:
        link.close()
    return out


MR = [0]  # the last TP-MR sent, for the process


def act_message(link, p, send=None, via_port=None):
    """MO SMS to ourselves over the SA: 202, then imsd's MESSAGEs (RP-ACK and
    the SMS-DELIVER) arrive from its port-c at our port-s; we answer 200 and
    send the delivery's RP-ACK. send/via_port: where the MO MESSAGE goes
    (default: our connection or flow from port-c)."""
    out = {"mt": []}
    cid = "sms%d-%d@ue" % (p["spi_c"], link.n)
    ct = ["Content-Type: application/vnd.3gpp.sms"]
    # a new TP-MR each time (TS 23.040 §9.2.3.6): imsd takes the same TP-MR
    # and TP-DA within a minute as the same SMS again
    MR[0] = (MR[0] + 1) % 256
    mr = MR[0]
    keep = link.via_port
    link.via_port = via_port or keep
    first = link.build("MESSAGE", SC, cid, 1, "m%d" % p["spi_c"], "<%s>" % SC, ct,
                       sms_submit_to_self(mr, p.get("msisdn", ME)))
    link.via_port = keep
    (send or link.send)(first)
    for _ in range(12):
        got = link.next()
        if got is None:
            break
        where, head, body = got
        if head.startswith("SIP/2.0"):
            n, _ = cseq_of(head)
            out["code" if n == 1 else "ack_code"] = code(head)
            if n == 1:
                out["code_where"] = where
        elif head.startswith("MESSAGE"):
            link.answer(where, head, 200, "OK")
            mti = body[0] & 7 if body else -1
            out["mt"].append(dict(where, mti=mti))
            if mti == 1:  # RP-DATA: our SMS back, acknowledged (RP-ACK MO)
                link.send(link.build("MESSAGE", SC, cid, 2, "m%d" % p["spi_c"], "<%s>" % SC,
                                     ct, bytes([0x02, body[1]])))
        if "code" in out and "ack_code" in out and len(out["mt"]) >= 2:
            break
    return out


def act_message_on_s(link, p):
    """(TCP, after "message") An MO SMS on the connection imsd opened to our
    port-s, i.e. from our port-s to its port-c over the other SA pair: a UE
    may send requests on either (TS 33.203 §7.1, TS 24.229 §5.1.1.2.1 /
    §5.2.2.1); the answer comes back on that connection."""
    c = next((c for c in link.conns.values() if c["sa"] is link.to_c), None)
    if c is None:
        return {"error": "no connection from imsd to our port-s"}
    return act_message(link, p, send=lambda data: link.write(c, data), via_port=p["port_s"])


def act_invite_self(link, p):
    """INVITE to our own IMPU: imsd (the caller's and the callee's P-CSCF)
    sends the INVITE to our port-s from its port-c over the SA; we answer
    486, imsd ACKs it, and our own INVITE gets a final answer that we ACK."""
    out = {"codes": [], "incoming": None}
    cid, ftag = "inv%d@ue" % p["spi_c"], "i%d" % p["spi_c"]
    branch = "z9hG4bKinv%d" % p["spi_c"]
    me = "sip:%s@ims.test" % p["user"]
    inv = link.build("INVITE", me, cid, 1, ftag, "<%s>" % me,
                     ["Contact: <sip:%s@%s:%d>" % (p["user"], link.ip, p["port_s"]),
                      "Content-Type: application/sdp"], sdp(link), branch=branch)
    link.send(inv)
    for _ in range(16):
        got = link.next()
        if got is None:
            break
        where, head, _ = got
        if head.startswith("SIP/2.0"):
            c = code(head)
            out["codes"].append(c)
            if c >= 300:  # ACK of a non-2xx: same branch (RFC 3261 §17.1.1.3)
                tot = hdr(head, "To")
                link.send(link.build("ACK", me, cid, 1, ftag, tot, [],
                                     branch=branch))
        elif head.startswith("INVITE"):
            out["incoming"] = where
            link.answer(where, head, 486, "Busy Here", totag="busy%d" % p["spi_c"])
        elif head.startswith("ACK"):
            out["ack"] = where
        if out["codes"] and out["codes"][-1] >= 300 and "ack" in out:
            break
    return out


def sdp(link):
    v = "IP6" if link.ue.af == socket.AF_INET6 else "IP4"
    return ("v=0\r\no=ue 1 1 IN %s %s\r\ns=-\r\nc=IN %s %s\r\nt=0 0\r\n"
            "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n" % (
                v, link.p["ue_ip"], v, link.p["ue_ip"])).encode()


def act_echo(link, p):
    """INVITE to the echo service over the SA: 200, ACK, BYE, 200."""
    out = {"codes": []}
    cid, ftag = "echo%d@ue" % p["spi_c"], "e%d" % p["spi_c"]
    link.send(link.build("INVITE", "sip:echo@ims.test", cid, 1, ftag, "<sip:echo@ims.test>",
                         ["Contact: <sip:%s@%s:%d>" % (p["user"], link.ip, p["port_s"]),
                          "Content-Type: application/sdp"], sdp(link)))
    ok = None
    while ok is None:
        got = link.next()
        if got is None:
            return out
        head = got[1]
        if head.startswith("SIP/2.0") and cseq_of(head)[1] == "INVITE":
            out["codes"].append(code(head))
            if code(head) >= 200:
                ok = head
    if code(ok) != 200:
        return out
    rr = re.findall(r"(?im)^record-route[ \t]*:[ \t]*([^\r\n]*)", ok)
    route = ["Route: " + ", ".join(reversed(rr))] if rr else []
    ruri = re.search(r"<([^>]+)>", hdr(ok, "Contact")).group(1)
    tot = hdr(ok, "To")
    link.send(link.build("ACK", ruri, cid, 1, ftag, tot, route))
    link.send(link.build("BYE", ruri, cid, 2, ftag, tot, route))
    got = link.next()
    while got and not (got[1].startswith("SIP/2.0") and cseq_of(got[1])[1] == "BYE"):
        got = link.next()
    out["bye"] = code(got[1]) if got else 0
    return out


def act_clear(link, p):
    """A MESSAGE in clear from the registered, protected UE (its plain port):
    refused (TS 24.229 §5.2.2: only an initial REGISTER may come
    unprotected)."""
    ue = link.ue
    ue.send_plain(link.build("MESSAGE", SC, "clear%d@ue" % p["spi_c"], 1, "c", "<%s>" % SC,
                             ["Content-Type: application/vnd.3gpp.sms"],
                             sms_submit_to_self(1)).replace(
                                 b":%d;branch" % p["port_c"], b":%d;branch" % p["plain_port"]))
    r = ue.recv_plain()
    return {"code": code(r), "last": r}


def act_reopen_c(link, p):
    """(TCP, after "message") Makes imsd close its connection from port-c to
    our port-s (bytes that are not SIP: it closes first, so its side would
    stay in TIME_WAIT), then an SMS round again: imsd must open a new
    connection from the same port-c to the same port-s at once."""
    c = next((c for c in link.conns.values() if c["sa"] is link.to_c), None)
    if c is None:
        return {"error": "no connection from imsd to our port-s"}
    key = (c["lport"], c["rport"])
    link.write(c, b"\x01\x02 not SIP at all\r\n\r\n")
    for _ in range(50):
        if key not in link.conns:
            break
        link.pump(0.2)
    out = {"closed": key not in link.conns}
    out.update(act_message(link, p))
    return out


AFTER = {"message": act_message, "reopen_c": act_reopen_c, "message_on_s": act_message_on_s,
         "invite_self": act_invite_self, "echo": act_echo, "clear": act_clear}


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
