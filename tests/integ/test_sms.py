"""SMS over IP over the wire (TS 24.341, docs/sms.md): phones registered
with +g.3gpp.smsip send each other SMS through imsd, SMS to a phone that is
off wait in the state file and are delivered when it registers, and the
operator sends SMS from the monitor.

The phones are scripted here (plain UDP sockets) and the PDUs are built and
read by this file's own small RP/TPDU code, written from TS 24.011 §7.3 and
TS 23.040 §9.2 apart from imsd's codec, so that each side checks the other.
The MO flow is also run by SIPp with an AKA registration (sipp/sms_mo.xml),
and tshark decodes every MESSAGE body (gsm_sms) of a delivery.
"""
import binascii
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from capture import Capture
from conftest import free_port, write_cfg
from sipstack import run_sipp, wait_log

SIPP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sipp")
AKA_K = binascii.hexlify(b"imsd-sipp-test-k").decode()
AKA_OP = binascii.hexlify(b"imsd-sipp-testop").decode()
AKA_AMF = binascii.hexlify(b"00").decode()
SC = "+33699999999"

# ---- PDUs (TS 24.011 §7.3, TS 23.040 §9.2), independent of imsd's codec ----

GSM7 = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
        "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")


def bcd(digits):
    d = digits + ("F" if len(digits) % 2 else "")
    return bytes(int(d[i + 1] + d[i], 16) for i in range(0, len(d), 2))


def unbcd(b):
    s = "".join(f"{x & 15:x}{x >> 4:x}" for x in b)
    return s.rstrip("f")


def pack7(text):
    bits, nbits, out = 0, 0, bytearray()
    for ch in text:
        bits |= GSM7.index(ch) << nbits
        nbits += 7
        while nbits >= 8:
            out.append(bits & 0xFF)
            bits >>= 8
            nbits -= 8
    if nbits:
        out.append(bits)
    return bytes(out)


def unpack7(data, n, fill=0):
    bits = int.from_bytes(data, "little") >> fill
    return "".join(GSM7[(bits >> (7 * i)) & 0x7F] for i in range(n))


def submit(dest, text, mr=1, srr=False, vp=None):
    """SMS-SUBMIT: GSM 7-bit text to an international number."""
    fo = 0x01 | (0x20 if srr else 0) | (0x10 if vp is not None else 0)
    da = dest.lstrip("+")
    t = bytes([fo, mr, len(da), 0x91]) + bcd(da) + bytes([0, 0])
    if vp is not None:
        t += bytes([vp])
    return t + bytes([len(text)]) + pack7(text)


def rp_data_mo(tpdu, mr=7, sc=SC):
    d = sc.lstrip("+")
    return bytes([0x00, mr, 0, len(d) // 2 + len(d) % 2 + 1, 0x91]) + bcd(d) + \
        bytes([len(tpdu)]) + tpdu


def rp_ack_mo(mr):
    return bytes([0x02, mr])


def rp_error_mo(mr, cause=22):
    return bytes([0x04, mr, 1, cause])


def rp_decode(b):
    """RP message network -> phone: dict of its fields."""
    r = {"mti": b[0] & 7, "mr": b[1]}
    if r["mti"] == 1:  # RP-DATA n->ms
        i = 2
        ol = b[i]
        r["oa"] = (b[i + 1], unbcd(b[i + 2:i + 1 + ol])) if ol else None
        i += 1 + ol
        dl = b[i]
        r["da_len"] = dl
        i += 1 + dl
        ul = b[i]
        r["ud"] = b[i + 1:i + 1 + ul]
        assert len(r["ud"]) == ul, b.hex()
    elif r["mti"] == 5:  # RP-ERROR n->ms
        r["cause"] = b[3] & 0x7F
    return r


def ts_decode(b):
    d = [int(f"{x & 15}{x >> 4}") for x in b[:6]]
    return time.mktime((2000 + d[0], d[1], d[2], d[3], d[4], d[5], 0, 0, 0)) - time.timezone


def tpdu_decode(t):
    """SMS-DELIVER or SMS-STATUS-REPORT: dict of its fields."""
    r = {"mti": t[0] & 3, "fo": t[0]}
    if r["mti"] == 0:  # DELIVER
        n = t[1]
        r["oa_toa"] = t[2]
        ol = (n + 1) // 2
        r["oa"] = unbcd(t[3:3 + ol]) if t[2] != 0xD0 else None
        i = 3 + ol
        r["pid"], r["dcs"] = t[i], t[i + 1]
        r["scts"] = ts_decode(t[i + 2:i + 9])
        udl = t[i + 9]
        ud = t[i + 10:]
        r["udhi"] = bool(t[0] & 0x40)
        if r["dcs"] == 0 and not r["udhi"]:
            r["text"] = unpack7(ud, udl)
        r["ud"] = ud
        r["udl"] = udl
    elif r["mti"] == 2:  # STATUS-REPORT
        r["mr"] = t[1]
        n = t[2]
        r["ra"] = unbcd(t[4:4 + (n + 1) // 2])
        i = 4 + (n + 1) // 2
        r["st"] = t[i + 14]
    return r


# ---- phones ----

def cfg_text(tmp_path, port, extra=""):
    return f"""{{
  log_filename: "{tmp_path}/ims.log",
  log_options: "all.level=debug",
  sip_addr: ["127.0.0.1:{port}"],
  domain: "ims.test",
  ipsec: false,
  p_called_party_id: true,
  sms_centre_address: {{ type_of_number: "international", number: "{SC}" }},
  {extra}
  ue_db: [
    {{ imsi: "001010000000301", impi: "alice@ims.test", authentication: false,
       impu: ["sip:alice", "tel:+33600000301"] }},
    {{ imsi: "001010000000302", impi: "bob@ims.test", authentication: false,
       impu: ["sip:bob", "tel:+33600000302"] }},
    {{ imsi: "001010000000101", impi: "sippaka@ims.test",
       impu: ["sip:sippaka", "tel:+33600000101"],
       K: "{AKA_K}", op: "{AKA_OP}", amf: "{AKA_AMF}", authent_qop: "auth" }},
  ],
}}
"""


def start(tmp_path, imsd_factory, extra="", port=None, name="ims.cfg"):
    port = port or free_port()
    d = imsd_factory(write_cfg(tmp_path, cfg_text(tmp_path, port, extra), name))
    d.wait_ready()
    return d, port


class Phone:
    """A UE on one UDP socket that registers with +g.3gpp.smsip, sends SMS
    and answers the MESSAGEs imsd sends it (200, then RP-ACK unless told)."""

    def __init__(self, port, user, me=0):
        self.port, self.user = port, user
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", me))
        self.me = self.s.getsockname()[1]
        self.n = 0
        self.inbox = []  # (headers text, body bytes) of the MESSAGEs imsd sent

    def close(self):
        self.s.close()

    def send(self, lines, body=b""):
        head = "\r\n".join(lines + [f"Content-Length: {len(body)}", "", ""])
        self.s.sendto(head.encode() + body, ("127.0.0.1", self.port))

    def recv(self, timeout=5.0):
        self.s.settimeout(timeout)
        data, _ = self.s.recvfrom(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        return head.decode(), body

    def request(self, method, extra, body=b"", ruri=None):
        self.n += 1
        tag = f"{self.user}{self.me}"
        self.send([f"{method} {ruri or 'sip:ims.test'} SIP/2.0",
                   f"Via: SIP/2.0/UDP 127.0.0.1:{self.me};branch=z9hG4bK{tag}x{self.n};rport",
                   "Max-Forwards: 70", f"From: <sip:{self.user}@ims.test>;tag={tag}",
                   f"To: <sip:{self.user}@ims.test>", f"Call-ID: {tag}-{self.n}@test",
                   f"CSeq: {self.n} {method}", *extra], body)
        return self.final()

    def final(self, timeout=5.0):
        """The next final response; MESSAGEs met on the way go to the inbox."""
        deadline = time.monotonic() + timeout
        while True:
            head, body = self.recv(max(0.1, deadline - time.monotonic()))
            if head.startswith("MESSAGE "):
                self._take(head, body)
                continue
            code = int(head.split(" ", 2)[1])
            if code >= 200:
                return code, head

    def register(self, expires=600, smsip=True):
        feat = ";+g.3gpp.smsip" if smsip else ""
        code, head = self.request("REGISTER", [
            f"Contact: <sip:{self.user}@127.0.0.1:{self.me}>;expires={expires}{feat}"])
        assert code == 200, head
        return code

    def _take(self, head, body):
        self.inbox.append((head, body))
        self.reply(head, 200, "OK")

    def reply(self, head, code, reason):
        keep = [l for l in head.split("\r\n") if re.match(r"(?i)(via|from|to|call-id|cseq):", l)]
        self.send([f"SIP/2.0 {code} {reason}", *keep])

    def wait_message(self, timeout=10.0, n=1):
        """The first MESSAGE not yet taken (its RP decoded)."""
        deadline = time.monotonic() + timeout
        while len(self.inbox) < n:
            left = deadline - time.monotonic()
            assert left > 0, f"{self.user}: no MESSAGE from imsd"
            try:
                head, body = self.recv(left)
            except socket.timeout:
                continue
            if head.startswith("MESSAGE "):
                self._take(head, body)
        return self.inbox[n - 1]

    def sms(self, rp):
        """An SMS MESSAGE to the SC; its final status."""
        return self.request("MESSAGE", ["Content-Type: application/vnd.3gpp.sms"], rp,
                            ruri=f"sip:{SC}@ims.test;user=phone")[0]


def rp_of(msg):
    head, body = msg
    assert re.search(r"(?im)^Content-Type: application/vnd\.3gpp\.sms\r?$", head), head
    return rp_decode(body)


@pytest.fixture
def two(tmp_path, imsd_factory):
    d, port = start(tmp_path, imsd_factory, extra="sms_retry_delay: 1,")
    a, b = Phone(port, "alice"), Phone(port, "bob")
    yield d, a, b
    a.close()
    b.close()


def deliver_check(msg, text, oa="33600000301"):
    """An MT MESSAGE: RP-DATA n->ms with RP-OA the SC, RP-DA empty (field note
    002), an SMS-DELIVER from oa with text. Returns (rp, tpdu)."""
    rp = rp_of(msg)
    assert rp["mti"] == 1, rp
    assert rp["oa"] == (0x91, SC.lstrip("+")), rp
    assert rp["da_len"] == 0, rp
    t = tpdu_decode(rp["ud"])
    assert t["mti"] == 0, t
    assert t["oa"] == oa and t["oa_toa"] == 0x91, t
    assert t.get("text") == text, t
    assert abs(t["scts"] - time.time()) < 120, t
    return rp, t


# ---- tests ----

def test_mo_then_mt_delivered(two):
    """Alice's SMS to Bob: 202 and RP-ACK to Alice, the SMS-DELIVER to Bob
    with the headers a core sets, Bob's RP-ACK ends the delivery."""
    d, a, b = two
    a.register()
    b.register()
    assert a.sms(rp_data_mo(submit("+33600000302", "hello bob", mr=5), mr=9)) == 202
    ack = rp_of(a.wait_message())
    assert ack == {"mti": 3, "mr": 9}, ack
    msg = b.wait_message()
    head = msg[0]
    assert head.startswith(f"MESSAGE sip:bob@127.0.0.1:{b.me} SIP/2.0"), head
    # the IMPU the TP-DA named
    assert re.search(r"(?im)^To: <tel:\+33600000302>\r?$", head), head
    assert re.search(r"(?im)^P-Called-Party-ID: <tel:\+33600000302>\r?$", head), head
    assert re.search(r"(?im)^P-Asserted-Identity: <sip:\+33699999999@ims\.test;user=phone>",
                     head), head
    rp, _ = deliver_check(msg, "hello bob")
    assert "sms-pending=1" in d.command("users bob@ims.test", "impu:")
    assert b.sms(rp_ack_mo(rp["mr"])) == 200
    out = d.command("users bob@ims.test", "impu:")
    assert "sms-pending" not in out, out


def test_sms_to_nobody_and_bad_input(two):
    """TS 24.011 §8.2.5.4 causes: 1 for a number nobody has, 95/96 for a TPDU
    that does not decode; 415 for another content type; 403 for a MESSAGE
    from a flow no UE registered."""
    d, a, _ = two
    a.register()
    assert a.sms(rp_data_mo(submit("+33612345678", "to nobody"), mr=3)) == 202
    err = rp_of(a.wait_message())
    assert (err["mti"], err["mr"], err["cause"]) == (5, 3, 1), err
    # TP-UDL says more text than the TPDU holds
    assert a.sms(rp_data_mo(submit("+33600000302", "cut short")[:-3], mr=4)) == 202
    err = rp_of(a.wait_message(n=2))
    assert (err["mti"], err["mr"]) == (5, 4) and err["cause"] in (95, 96), err
    code, head = a.request("MESSAGE", ["Content-Type: text/plain"], b"hi")
    assert code == 415 and re.search(r"(?im)^Accept: application/vnd\.3gpp\.sms", head), head
    stranger = Phone(a.port, "alice")
    try:
        assert stranger.sms(rp_data_mo(submit("+33600000302", "spoof"))) == 403
    finally:
        stranger.close()
    assert "bad TPDU" in open(d.cfg_path.replace("ims.cfg", "ims.log")).read()


def test_queue_bound_memory_capacity_exceeded(two):
    """A flood from one sender to a phone that is off: the queue takes 2,048
    (SMSC_USER_PENDING_MAX), the next gets RP-ERROR 22 and is not queued."""
    d, a, _ = two
    a.register()
    bound = 2048
    for i in range(bound):
        assert a.sms(rp_data_mo(submit("+33600000302", "flood", mr=i % 256),
                                mr=i % 256)) == 202
    a.wait_message(n=bound, timeout=60)
    assert all(rp_of(m)["mti"] == 3 for m in a.inbox)
    assert a.sms(rp_data_mo(submit("+33600000302", "one more", mr=200), mr=77)) == 202
    err = rp_of(a.wait_message(n=bound + 1))
    assert (err["mti"], err["mr"], err["cause"]) == (5, 77, 22), err
    out = d.command("users bob@ims.test", "impu:")
    assert f"sms-pending={bound}" in out, out


def test_offline_stored_then_delivered_at_registration(two):
    d, a, b = two
    a.register()
    assert a.sms(rp_data_mo(submit("+33600000302", "while you were out"), mr=1)) == 202
    assert rp_of(a.wait_message())["mti"] == 3
    out = d.command("users bob@ims.test", "impu:")
    assert "sms-pending=1" in out, out
    b.register()
    rp, _ = deliver_check(b.wait_message(), "while you were out")
    assert b.sms(rp_ack_mo(rp["mr"])) == 200
    assert "sms-pending" not in d.command("users bob@ims.test", "impu:")


def test_rp_error_from_phone_is_retried(two):
    """RP-ERROR (memory full) keeps the SMS; it comes again sms_retry_delay
    later and the RP-ACK then ends it."""
    d, a, b = two
    a.register()
    b.register()
    assert a.sms(rp_data_mo(submit("+33600000302", "try again"))) == 202
    first, _ = deliver_check(b.wait_message(), "try again")
    assert b.sms(rp_error_mo(first["mr"], 22)) == 200
    again, _ = deliver_check(b.wait_message(n=2, timeout=15), "try again")
    assert again["mr"] != first["mr"]
    assert b.sms(rp_ack_mo(again["mr"])) == 200
    assert "sms-pending" not in d.command("users bob@ims.test", "impu:")


def test_status_report_on_delivery(two):
    d, a, b = two
    a.register()
    b.register()
    assert a.sms(rp_data_mo(submit("+33600000302", "report me", mr=42, srr=True))) == 202
    assert rp_of(a.wait_message())["mti"] == 3
    rp, t = deliver_check(b.wait_message(), "report me")
    assert t["fo"] & 0x20, t  # TP-SRI
    assert b.sms(rp_ack_mo(rp["mr"])) == 200
    rep = rp_of(a.wait_message(n=2))
    sr = tpdu_decode(rep["ud"])
    assert (sr["mti"], sr["mr"], sr["ra"], sr["st"]) == (2, 42, "33600000302", 0), sr
    assert a.sms(rp_ack_mo(rep["mr"])) == 200


def test_expiry_with_status_report(tmp_path, imsd_factory):
    """An SMS whose destination stays off is dropped after sms_expires, and
    the sender asked for a report: TP-ST 0x46 (validity period expired)."""
    d, port = start(tmp_path, imsd_factory, extra="sms_expires: 2, sms_retry_delay: 1,")
    a = Phone(port, "alice")
    try:
        a.register()
        assert a.sms(rp_data_mo(submit("+33600000302", "too late", mr=8, srr=True))) == 202
        assert rp_of(a.wait_message())["mti"] == 3
        rep = rp_of(a.wait_message(n=2, timeout=15))
        sr = tpdu_decode(rep["ud"])
        assert (sr["mti"], sr["mr"], sr["st"]) == (2, 8, 0x46), sr
        assert "sms-pending" not in d.command("users bob@ims.test", "impu:")
        assert "expired undelivered" in open(tmp_path / "ims.log").read()
    finally:
        a.close()


def test_monitor_sms_and_flush(two):
    d, _, b = two
    b.register()
    out = d.command("sms tel:+33600000302 hello from the operator", "pending")
    assert "1 part(s)" in out, out
    deliver_check(b.wait_message(), "hello from the operator", oa=SC.lstrip("+"))
    assert "1 pending SMS" in d.command("sms_flush bob@ims.test", "bob@ims.test")
    out = d.command("sms nobody@ims.test hi", "unknown user")
    assert out.strip().startswith("Error"), out


def test_sipp_mo_aka(tmp_path, imsd_factory):
    """SIPp registers with AKA and sends an SMS (sipp/sms_mo.xml): 202, then
    a new MESSAGE with the RP-ACK; the destination gets the SMS-DELIVER with
    TP-OA the sender's tel IMPU."""
    if not shutil.which("sipp"):
        pytest.fail("sipp is required (scripts/install-deps.sh)")
    d, port = start(tmp_path, imsd_factory)
    b = Phone(port, "bob")
    try:
        b.register()
        body = tmp_path / "sms_mo.bin"
        body.write_bytes(rp_data_mo(submit("+33600000302", "from sipp", mr=1), mr=33))
        scen = tmp_path / "sms_mo.xml"
        with open(os.path.join(SIPP_DIR, "sms_mo.xml")) as f:
            scen.write_text(f.read().replace("@BODY@", str(body)))
        r = run_sipp(["-sf", str(scen), "-oocsf", os.path.join(SIPP_DIR, "sms_mo_ooc.xml"),
                      "-m", "1", "-timeout", "20", "-timeout_error",
                      f"127.0.0.1:{port}"], timeout=40)
        assert r.returncode == 0, r.stdout.decode(errors="replace")[-3000:] + \
            r.stderr.decode(errors="replace")[-2000:]
        rp, _ = deliver_check(b.wait_message(), "from sipp", oa="33600000101")
        assert b.sms(rp_ack_mo(rp["mr"])) == 200
        # SIPp answered the MESSAGE that carried its RP-ACK
        log = open(tmp_path / "ims.log").read()
        m = re.search(r"TO +(\S+) MESSAGE sip:sippaka@", log)
        assert m, log[-3000:]
        assert re.search(r"FROM +" + re.escape(m.group(1)) + r" SIP/2\.0 200 OK", log), \
            log[-3000:]
    finally:
        b.close()


def test_kill9_pending_each_delivered_once(tmp_path, imsd_factory):
    """kill -9 with pending SMS in the state file: after the restart each is
    delivered once, none lost, none twice."""
    port = free_port()
    extra = f'ue_db_filename: "{tmp_path}/state.db", sms_retry_delay: 1,'
    d, _ = start(tmp_path, imsd_factory, extra=extra, port=port)
    a = Phone(port, "alice")
    n = 1000
    try:
        a.register()
        for i in range(n):
            assert a.sms(rp_data_mo(submit("+33600000302", f"msg {i:04d}", mr=i % 256),
                                    mr=i % 256)) == 202
        a.wait_message(n=n, timeout=30)  # every RP-ACK: each SMS committed
        assert all(rp_of(m)["mti"] == 3 for m in a.inbox)
    finally:
        a.close()
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(timeout=10)
    d2, _ = start(tmp_path, imsd_factory, extra=extra, port=port, name="ims2.cfg")
    assert f"sms-pending={n}" in d2.command("users bob@ims.test", "impu:")
    b = Phone(port, "bob")
    got = []
    try:
        b.register()
        while len(got) < n:
            rp, t = deliver_check(b.wait_message(n=len(got) + 1, timeout=15),
                                  f"msg {len(got):04d}")
            got.append(t["text"])
            assert b.sms(rp_ack_mo(rp["mr"])) == 200
        assert got == [f"msg {i:04d}" for i in range(n)]
        out = d2.command("users bob@ims.test", "impu:")
        assert "sms-pending" not in out, out
    finally:
        b.close()
    d2.command("quit", "")
    d2.wait_exit()
    # nothing left in the file to deliver a second time
    d3, _ = start(tmp_path, imsd_factory, extra=extra, port=port, name="ims3.cfg")
    wait_log(tmp_path / "ims.log", lambda t: "0 pending SMS restored" in t)
    assert "sms-pending" not in d3.command("users bob@ims.test", "impu:")


def test_tshark_decodes_every_message(tmp_path, imsd_factory):
    """tshark (gsm_sms over the SIP MESSAGE body) reads the MO RP-DATA, the
    RP-ACK, the MT RP-DATA with its SMS-DELIVER and the phone's RP-ACK
    without a malformed packet."""
    tshark = shutil.which("tshark")
    if not tshark:
        pytest.fail("tshark is required (scripts/install-deps.sh)")
    port = free_port()
    pcap = tmp_path / "sms.pcap"
    cap = Capture(pcap, f"udp port {port}").start()
    try:
        d, _ = start(tmp_path, imsd_factory, port=port)
        a, b = Phone(port, "alice"), Phone(port, "bob")
        a.register()
        b.register()
        assert a.sms(rp_data_mo(submit("+33600000302", "seen by tshark"))) == 202
        a.wait_message()
        rp, _ = deliver_check(b.wait_message(), "seen by tshark")
        assert b.sms(rp_ack_mo(rp["mr"])) == 200
        a.close()
        b.close()
    finally:
        cap.stop()
    r = subprocess.run([tshark, "-r", str(pcap), "-d", f"udp.port=={port},sip", "-Y",
                        "sip.Method == \"MESSAGE\"", "-T", "fields", "-e", "gsm_a.rp.msg_type",
                        "-e", "gsm_sms.tp-mti", "-e", "gsm_sms.tp-oa", "-e", "_ws.malformed",
                        "-e", "_ws.expert.severity"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    rows = [l.split("\t") for l in r.stdout.splitlines() if l.strip()]
    assert len(rows) == 4, r.stdout
    assert not any(row[3] for row in rows), r.stdout
    assert any("33600000301" in row[2] for row in rows), r.stdout
