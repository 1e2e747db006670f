"""callflow_modifier (manual §5.2.1, docs/callflow_modifier.md) over the
wire: phones on raw UDP sockets (users without authentication) register,
call and send MESSAGE through the real imsd, and see what the modifiers of
the callee (MO side) or of the caller (MT side) do to the answers:

* INVITE answered 486 by the callee's modifier, with its custom_headers and
  content, the callee never rung, the `log` line in the IMS log;
* impu filter: a modifier for another caller leaves the call alone;
* tts/ttl: a MESSAGE modifier that skips its first trigger and applies once;
* REGISTER refused with a code (and REGISTER.SOS only for an emergency one);
* the caller's own modifier with dir tx (the INVITE imsd would send the
  callee) answers the caller;
* INVITE.RINGING / INVITE.OK: headers added to the 180 and the 200 the
  caller gets, and a 180's body replaced by the modifier's content;
* a code in place of a 180; a 180 held (send_delay);
* INVITE without a code: headers on the INVITE to the callee;
* UPDATE and re-INVITE inside the call answered with a code (stop: the
  call ends with BYEs);
* INVITE.TRYING: headers on a 100 Trying sent at once;
* echo calls, ring_only callees and mt_call calls, and the counters of
  modifiers applied (monitor, API).
"""
import contextlib
import re
import socket

import pytest

from conftest import IMSD_BIN, run_tool, write_cfg
from test_calls import calls_ims, in_dialog, sdp
from test_sms import Phone, rp_data_mo, submit
from sipstack import wait_log

HOST = "127.0.0.1"


def ue(imsi, name, cfm=None):
    mod = f", callflow_modifier: {cfm}" if cfm else ""
    return (f'{{ imsi: "{imsi}", impi: "{name}@ims.test", authentication: false, '
            f'impu: [{{ impu: "sip:{name}" {mod} }}] }}')


def sms_ue(imsi, name, number, cfm):
    """A user with a number (SMS reach it by it) and a user-level list."""
    return (f'{{ imsi: "{imsi}", impi: "{name}@ims.test", authentication: false, '
            f'impu: ["sip:{name}", "tel:{number}"], callflow_modifier: {cfm} }}')


class Ue:
    """A phone on one UDP socket."""

    def __init__(self, port, name):
        self.port, self.name, self.n = port, name, 0
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((HOST, 0))
        self.me = self.s.getsockname()[1]

    def close(self):
        self.s.close()

    def send(self, text):
        self.s.sendto(text.encode(), (HOST, self.port))

    def recv(self, want, timeout=5.0):
        """The next message whose first line starts with want."""
        self.s.settimeout(timeout)
        while True:
            text = self.s.recv(65536).decode(errors="replace")
            if text.startswith(want):
                return text

    def final(self, timeout=5.0):
        self.s.settimeout(timeout)
        while True:
            text = self.s.recv(65536).decode(errors="replace")
            m = re.match(r"SIP/2\.0 (\d{3}) ", text)
            if m and int(m.group(1)) >= 200:
                return int(m.group(1)), text

    def request(self, method, ruri, extra="", body="", ctype="", to=None, hdrs=""):
        self.n += 1
        tag = f"{self.name}{self.me}"
        ct = f"Content-Type: {ctype}\r\n" if body else ""
        self.last = (f"{method} {ruri} SIP/2.0\r\n"
                     f"Via: SIP/2.0/UDP {HOST}:{self.me};branch=z9hG4bK{tag}x{self.n};rport\r\n"
                     f"Max-Forwards: 70\r\nFrom: <sip:{self.name}@ims.test>;tag={tag}\r\n"
                     f"To: <{to or ruri}>\r\nCall-ID: {tag}-{self.n}@test\r\n"
                     f"CSeq: {self.n} {method}\r\n"
                     f"Contact: <sip:{self.name}@{HOST}:{self.me}>{extra}\r\n{hdrs}"
                     f"{ct}Content-Length: {len(body)}\r\n\r\n{body}")
        self.send(self.last)

    def cancel(self):
        """CANCEL of the last request (RFC 3261 §9.1: its Request-URI, Via,
        From, To, Call-ID and CSeq number)."""
        keep = [ln for ln in self.last.split("\r\n")[1:]
                if re.match(r"(?i)(via|from|to|call-id|max-forwards):", ln)]
        cseq = re.search(r"(?m)^CSeq: (\d+) ", self.last).group(1)
        self.send(self.last.split("\r\n")[0].replace(self.last.split()[0], "CANCEL", 1) +
                  "\r\n" + "\r\n".join(keep) + f"\r\nCSeq: {cseq} CANCEL\r\n"
                  "Content-Length: 0\r\n\r\n")

    def final_of(self, method, timeout=5.0):
        """The next final response to a request of this method."""
        while True:
            code, text = self.final(timeout)
            if re.search(rf"(?m)^CSeq: \d+ {method}\r?$", text):
                return code, text

    def register(self, contact_params=""):
        self.request("REGISTER", "sip:ims.test", f";expires=600{contact_params}",
                     to=f"sip:{self.name}@ims.test")
        return self.final()

    def invite(self, callee, hdrs=""):
        self.request("INVITE", f"sip:{callee}@ims.test", body=sdp(self.me + 1),
                     ctype="application/sdp", hdrs=hdrs)

    def answer(self, req, code, reason, body="", ctype="application/sdp", tag="callee1"):
        keep = [ln for ln in req.split("\r\n")
                if re.match(r"(?i)(via|from|call-id|cseq):", ln)]
        to = re.search(r"(?im)^To:\s*(.*?)\r?$", req).group(1)
        if "tag=" not in to:
            to += f";tag={tag}"
        ct = f"Content-Type: {ctype}\r\n" if body else ""
        self.send(f"SIP/2.0 {code} {reason}\r\n" + "\r\n".join(keep) +
                  f"\r\nTo: {to}\r\nContact: <sip:{self.name}@{HOST}:{self.me}>\r\n"
                  f"{ct}Content-Length: {len(body)}\r\n\r\n{body}")


@contextlib.contextmanager
def registered(port, *names):
    """A phone of each user, registered (200), all closed at the end."""
    ues = [Ue(port, n) for n in names]
    try:
        for u in ues:
            assert u.register()[0] == 200
        yield ues
    finally:
        for u in ues:
            u.close()


def lines(msg, name):
    return re.findall(rf"(?im)^{re.escape(name)}:[ \t]*(.*?)\r?$", msg)


@pytest.fixture
def ims(tmp_path):
    (tmp_path / "busy.txt").write_text("bob is busy (lab)")
    (tmp_path / "early.sdp").write_text(sdp(40000))
    yield from calls_ims(tmp_path, "", [
        ue("001010000000601", "alice"),
        ue("001010000000602", "bob", """[
          { method: "INVITE", code: 486, log: "bob busy for carol", impu: "sip:carol@ims.test",
            custom_headers: [{ name: "X-Lab", value: "carol" }] },
          { method: "INVITE.RINGING", log: "ring", content: "early.sdp",
            content_type: "application/sdp",
            custom_headers: [{ name: "X-Ring", value: "bob rings" }] },
          { method: "INVITE.OK", custom_headers: [{ name: "X-Ok", value: "bob answers" },
                                                  { name: "Allow-Events", replace: true }] },
        ]"""),
        ue("001010000000603", "carol"),
        ue("001010000000604", "dave", """[
          { method: "MESSAGE", code: 500, tts: 1, ttl: 1, log: "dave's second MESSAGE" },
          { method: "REGISTER.SOS", code: 380 },
        ]"""),
        ue("001010000000605", "erin", """{ method: "REGISTER", code: 403,
          custom_headers: [{ name: "Warning", value: "399 ims.test \\"barred (lab)\\"" }] }"""),
        ue("001010000000606", "frank", """{ method: "INVITE", dir: "tx", code: 480,
          content: "busy.txt", content_type: "text/plain", log: "frank calls nobody" }"""),
        ue("001010000000607", "ivan", """{ method: "INVITE.RINGING", send_delay: 1.5,
          log: "ivan rings late", custom_headers: [{ name: "X-Late", value: "1" }] }"""),
        ue("001010000000608", "judy", """{ method: "INVITE.RINGING", code: 480,
          log: "judy does not ring", custom_headers: [{ name: "X-Why", value: "no ring" }] }"""),
        ue("001010000000609", "kate", """{ method: "INVITE", log: "kate alert",
          custom_headers: [{ name: "Alert-Info", value: "<urn:alert:service:call-waiting>" }] }"""),
        ue("001010000000610", "leo", """{ method: "INVITE", dir: "tx",
          custom_headers: [{ name: "X-From-Leo", value: "1" }] }"""),
        ue("001010000000611", "mia", """[
          { method: "UPDATE", code: 500, stop: false, log: "mia refuses an UPDATE" },
          { method: "REINVITE", code: 488, log: "mia refuses a re-INVITE" },
          { method: "CANCEL", code: 481, stop: false, tts: 1, log: "mia's call goes on" },
        ]"""),
        ue("001010000000612", "nora", """{ method: "INVITE.OK", code: 500,
          custom_headers: [{ name: "X-Nora", value: "no" }], log: "nora's answer replaced" }"""),
        sms_ue("001010000000613", "olga", "+33600000613", """{ method: "MESSAGE", dir: "tx",
          log: "olga gets an SMS", custom_headers: [{ name: "X-Sms", value: "for olga" }] }"""),
        sms_ue("001010000000614", "pete", "+33600000614", """{ method: "MESSAGE",
          dir: "tx", code: 480, log: "pete's phone refuses" }"""),
        ue("001010000000615", "quinn", """[
          { method: "INVITE", code: 486, imei: "35000000-000099-0", log: "quinn: that phone" },
          { method: "INVITE", code: 488, access_network: "nr", log: "quinn: over NR" },
        ]"""),
        ue("001010000000616", "rita", """{ method: "INVITE", code: 183, transparent: true,
          content: "early.sdp", content_type: "application/sdp", log: "rita: early 183",
          custom_headers: [{ name: "X-Early", value: "1" }] }"""),
        ue("001010000000617", "sam", """{ method: "INVITE", code: 486, send_delay: 1.5,
          log: "sam: a slow busy" }"""),
        ue("001010000000618", "tina", """{ method: "INVITE.TRYING", log: "tina: trying",
          custom_headers: [{ name: "X-Trying", value: "tina" }] }"""),
        ue("001010000000619", "uma", """[
          { method: "REINVITE", dir: "rx", log: "uma: re-INVITE relayed",
            custom_headers: [{ name: "X-Reinvite", value: "to uma" }] },
          { method: "REINVITE", dir: "tx",
            custom_headers: [{ name: "X-Reinvite", value: "to the caller" }] },
          { method: "UPDATE", custom_headers: [{ name: "X-Update", value: "uma" }] },
          { method: "CANCEL", custom_headers: [{ name: "X-Cancel", value: "uma" }] },
        ]"""),
        ue("001010000000620", "vera", """{ method: "INVITE.OK", send_delay: 3,
          log: "vera answers late", custom_headers: [{ name: "X-Held", value: "1" }] }"""),
    ])


def test_invite_answered_by_callee_modifier(ims):
    d, port, log, tmp = ims
    with registered(port, "carol", "bob") as (carol, bob):
        carol.invite("bob")
        code, resp = carol.final()
        assert code == 486, resp
        assert lines(resp, "X-Lab") == ["carol"], resp
        wait_log(log, lambda t: "callflow_modifier: bob busy for carol (INVITE received)" in t)
        # bob was never rung
        bob.s.settimeout(0.5)
        with pytest.raises(socket.timeout):
            bob.recv("INVITE ", timeout=0.5)


def test_answers_to_the_caller_modified(ims):
    """alice is not carol: the 486 modifier lets her call through; the 180
    and 200 she gets carry bob's INVITE.RINGING / INVITE.OK changes."""
    d, port, log, tmp = ims
    with registered(port, "alice", "bob") as (alice, bob):
        alice.invite("bob")
        inv = bob.recv("INVITE ")
        bob.answer(inv, 180, "Ringing")
        ring = alice.recv("SIP/2.0 180")
        assert lines(ring, "X-Ring") == ["bob rings"], ring
        assert lines(ring, "Content-Type") == ["application/sdp"], ring
        assert "m=audio 40000 " in ring, ring
        bob.answer(inv, 200, "OK", sdp(bob.me + 1))
        code, ok = alice.final()
        assert code == 200, ok
        assert lines(ok, "X-Ok") == ["bob answers"], ok
        assert not lines(ok, "X-Ring") and not lines(ok, "Allow-Events"), ok
        wait_log(log, lambda t: re.search(r"callflow_modifier: ring \(call \d+: 180", t))


def test_message_tts_ttl(ims):
    """dave's MESSAGE modifier: the first trigger does nothing (tts 1), the
    second answers 500 (ttl 1), the third goes on as usual."""
    d, port, log, tmp = ims
    with registered(port, "dave") as (dave,):
        codes = []
        for _ in range(3):
            dave.request("MESSAGE", "sip:alice@ims.test", body="hi", ctype="text/plain")
            codes.append(dave.final()[0])
        assert codes[1] == 500, codes
        assert codes[0] != 500 and codes[2] == codes[0], codes
        assert open(log).read().count("callflow_modifier: dave's second MESSAGE") == 1


def test_register_refused_and_sos(ims):
    d, port, log, tmp = ims
    erin, dave = Ue(port, "erin"), Ue(port, "dave")
    try:
        code, resp = erin.register()
        assert code == 403, resp
        assert lines(resp, "Warning") == ['399 ims.test "barred (lab)"'], resp
        # REGISTER.SOS: dave's ordinary REGISTER passes, an emergency one not
        assert dave.register()[0] == 200
        code, resp = dave.register(";sos")
        assert code == 380, resp
    finally:
        erin.close()
        dave.close()


def test_caller_modifier_dir_tx(ims):
    """frank's own INVITE modifier (dir tx: the INVITE imsd would send the
    callee, the MT dialog) answers frank 480 with its content; bob is not
    rung. A call to frank is not touched by it (dir tx only)."""
    d, port, log, tmp = ims
    with registered(port, "frank", "bob") as (frank, bob):
        frank.invite("bob")
        code, resp = frank.final()
        assert code == 480, resp
        assert lines(resp, "Content-Type") == ["text/plain"], resp
        assert resp.endswith("bob is busy (lab)"), resp
        wait_log(log, lambda t: "callflow_modifier: frank calls nobody (INVITE to send)" in t)
        with pytest.raises(socket.timeout):
            bob.recv("INVITE ", timeout=0.5)
        bob.invite("frank")
        inv = frank.recv("INVITE ")
        frank.answer(inv, 486, "Busy Here")
        assert bob.final()[0] == 486


def test_ringing_delayed(ims):
    """ivan's INVITE.RINGING send_delay: the 180 reaches the caller late,
    with the modifier's header; when the 200 comes first, the held 180 is
    dropped (a provisional after the final would be late). Shown by the
    order of what the caller gets, not by timing."""
    d, port, log, tmp = ims
    with registered(port, "alice", "ivan") as (alice, ivan):
        # 1: 180 held, then sent
        alice.invite("ivan")
        inv = ivan.recv("INVITE ")
        ivan.answer(inv, 180, "Ringing")
        ring = alice.recv("SIP/2.0 180", timeout=10)
        assert lines(ring, "X-Late") == ["1"], ring
        ivan.answer(inv, 486, "Busy Here")
        assert alice.final()[0] == 486
        # 2: the 200 comes while the 180 is held: the caller gets the 200 only
        alice.invite("ivan")
        inv = ivan.recv("INVITE ")
        ivan.answer(inv, 180, "Ringing", tag="callee2")
        wait_log(log, lambda t: t.count("callflow_modifier: ivan rings late") == 2)
        ivan.answer(inv, 200, "OK", sdp(ivan.me + 1), tag="callee2")
        alice.s.settimeout(5)
        first = alice.s.recv(65536).decode(errors="replace")
        while first.startswith("SIP/2.0 100"):
            first = alice.s.recv(65536).decode(errors="replace")
        assert first.startswith("SIP/2.0 200"), first
        # and no late 180 after it (the 200 again, until the ACK, at most)
        alice.s.settimeout(2.5)
        with pytest.raises(socket.timeout):
            while True:
                assert not alice.s.recv(65536).startswith(b"SIP/2.0 180")


def test_code_in_place_of_ringing(ims):
    """judy's INVITE.RINGING with code 480: when her phone rings, the caller
    gets 480 (with the modifier's header) instead of the 180, and judy's
    branch is cancelled."""
    d, port, log, tmp = ims
    with registered(port, "alice", "judy") as (alice, judy):
        alice.invite("judy")
        inv = judy.recv("INVITE ")
        judy.answer(inv, 180, "Ringing")
        code, resp = alice.final()
        assert code == 480, resp
        assert lines(resp, "X-Why") == ["no ring"], resp
        cancel = judy.recv("CANCEL ")
        judy.answer(cancel, 200, "OK")
        judy.answer(inv, 487, "Request Terminated")
        wait_log(log, lambda t: "callflow_modifier: judy does not ring" in t and
                 "callflow_modifier: 480 in place of 180" in t)
        with pytest.raises(socket.timeout):
            alice.recv("SIP/2.0 180", timeout=0.5)


def test_headers_on_the_invite_to_the_callee(ims):
    """Without a code, an INVITE modifier's custom_headers go on the INVITE
    imsd sends the callee: kate's own (MO side, rx) on calls to her, leo's
    (MT side, dir tx) on the calls he places."""
    d, port, log, tmp = ims
    alice, kate, leo, bob = (Ue(port, n) for n in ("alice", "kate", "leo", "bob"))
    try:
        for u in (alice, kate, leo, bob):
            assert u.register()[0] == 200
        alice.invite("kate")
        inv = kate.recv("INVITE ")
        assert lines(inv, "Alert-Info") == ["<urn:alert:service:call-waiting>"], inv
        assert not lines(inv, "X-From-Leo"), inv
        kate.answer(inv, 486, "Busy Here")
        assert alice.final()[0] == 486
        wait_log(log, lambda t: re.search(r"callflow_modifier: kate alert \(call \d+: "
                                          r"INVITE to the callee\)", t))
        leo.invite("bob")
        inv = bob.recv("INVITE ")
        assert lines(inv, "X-From-Leo") == ["1"], inv
        assert not lines(inv, "Alert-Info"), inv
        bob.answer(inv, 486, "Busy Here")
        assert leo.final()[0] == 486
        # a call to leo: his dir tx modifier is not for it
        alice.invite("leo")
        inv = leo.recv("INVITE ")
        assert not lines(inv, "X-From-Leo"), inv
        leo.answer(inv, 486, "Busy Here")
        assert alice.final()[0] == 486
    finally:
        for u in (alice, kate, leo, bob):
            u.close()


def test_in_dialog_requests(ims):
    """mia's UPDATE modifier (stop: false) answers the caller's UPDATE 500
    and the call goes on; her REINVITE one (stop: true, the default)
    answers the re-INVITE 488 and ends the call: BYE to both phones."""
    d, port, log, tmp = ims
    with registered(port, "alice", "mia") as (alice, mia):
        alice.invite("mia")
        inv = mia.recv("INVITE ")
        mia.answer(inv, 200, "OK", sdp(mia.me + 1))
        code, ok = alice.final()
        assert code == 200, ok
        cseq = int(ok.split("CSeq:")[1].split()[0])
        in_dialog(alice.s, port, ok, "ACK", cseq)
        mia.recv("ACK ")
        in_dialog(alice.s, port, ok, "UPDATE", cseq + 1)
        code, resp = alice.final()
        assert code == 500, resp
        wait_log(log, lambda t: re.search(r"callflow_modifier: mia refuses an UPDATE "
                                          r"\(call \d+: UPDATE from the caller\)", t))
        in_dialog(alice.s, port, ok, "INVITE", cseq + 2, sdp(alice.me + 1, "sendonly"))
        code, resp = alice.final()
        assert code == 488, resp
        # stop: imsd ends the call with a BYE to each phone
        bye_a = alice.recv("BYE ")
        bye_b = mia.recv("BYE ")
        alice.answer(bye_a, 200, "OK")
        mia.answer(bye_b, 200, "OK")
        wait_log(log, lambda t: "ends: callflow_modifier: 488 to the caller's INVITE" in t)


def callee_request(ue, inv, method, cseq, body=""):
    """A request of the callee ue in the dialog of imsd's INVITE inv (its
    From and To swapped, to imsd's Contact)."""
    def hval(name):
        return lines(inv, name)[0]
    target = re.search(r"<([^>]+)>", hval("Contact")).group(1)
    ct = "Content-Type: application/sdp\r\n" if body else ""
    ue.send(f"{method} {target} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {HOST}:{ue.me};branch=z9hG4bKu{method}{cseq};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: {hval('To')};tag=callee1\r\n"
            f"To: {hval('From')}\r\nCall-ID: {hval('Call-ID')}\r\n"
            f"CSeq: {cseq} {method}\r\nContact: <sip:{ue.name}@{HOST}:{ue.me}>\r\n"
            f"{ct}Content-Length: {len(body)}\r\n\r\n{body}")


def test_in_dialog_requests_relayed_with_headers(ims):
    """uma's modifiers without a code on the requests inside the call: the
    caller's re-INVITE reaches uma with her rx header (the MO dialog's list,
    as received), uma's own re-INVITE reaches the caller with her tx header
    (the MO dialog's list, as imsd sends it), the UPDATE and the CANCEL imsd
    relays to uma carry their headers (docs/callflow_modifier.md)."""
    d, port, log, tmp = ims
    with registered(port, "alice", "uma") as (alice, uma):
        alice.invite("uma")
        inv = uma.recv("INVITE ")
        uma.answer(inv, 200, "OK", sdp(uma.me + 1))
        code, ok = alice.final()
        assert code == 200, ok
        cseq = int(ok.split("CSeq:")[1].split()[0])
        in_dialog(alice.s, port, ok, "ACK", cseq)
        uma.recv("ACK ")
        # the caller's re-INVITE: rx
        in_dialog(alice.s, port, ok, "INVITE", cseq + 1, sdp(alice.me + 1, "sendonly"))
        re_inv = uma.recv("INVITE ")
        assert lines(re_inv, "X-Reinvite") == ["to uma"], re_inv
        uma.answer(re_inv, 200, "OK", sdp(uma.me + 1, "recvonly"))
        code, ok2 = alice.final()
        assert code == 200, ok2
        in_dialog(alice.s, port, ok, "ACK", cseq + 1)
        uma.recv("ACK ")
        wait_log(log, lambda t: re.search(r"callflow_modifier: uma: re-INVITE relayed "
                                          r"\(call \d+: INVITE from the caller\)", t))
        # the UPDATE (no dir: both) relayed to uma
        in_dialog(alice.s, port, ok, "UPDATE", cseq + 2)
        upd = uma.recv("UPDATE ")
        assert lines(upd, "X-Update") == ["uma"], upd
        uma.answer(upd, 200, "OK")
        assert alice.final_of("UPDATE")[0] == 200
        # uma's re-INVITE to the caller: tx
        callee_request(uma, inv, "INVITE", 1, sdp(uma.me + 1))
        re_a = alice.recv("INVITE ")
        assert lines(re_a, "X-Reinvite") == ["to the caller"], re_a
        alice.answer(re_a, 488, "Not Acceptable Here")
        assert uma.final()[0] == 488
        # a second call, cancelled: the CANCEL to uma carries the header
        alice.invite("uma")
        inv = uma.recv("INVITE ")
        uma.answer(inv, 180, "Ringing", tag="u2")
        alice.recv("SIP/2.0 180")
        alice.cancel()
        assert alice.final_of("CANCEL")[0] == 200
        cancel = uma.recv("CANCEL ")
        assert lines(cancel, "X-Cancel") == ["uma"], cancel
        assert alice.final_of("INVITE")[0] == 487


def test_ok_delayed(ims):
    """vera's INVITE.OK send_delay: her 200 reaches the caller late, with the
    modifier's header; a CANCEL the caller sends meanwhile gets 200 and has
    no effect (imsd's final answer is decided), so the INVITE's final is
    that 200, not a 487; the caller's ACK reaches vera. Shown by the order
    of what the caller gets, not by timing."""
    d, port, log, tmp = ims
    with registered(port, "alice", "vera") as (alice, vera):
        alice.invite("vera")
        inv = vera.recv("INVITE ")
        vera.answer(inv, 200, "OK", sdp(vera.me + 1))
        wait_log(log, lambda t: re.search(r"callflow_modifier: vera answers late "
                                          r"\(call \d+: 200 to the caller\)", t))
        alice.cancel()
        code, resp = alice.final(timeout=10)
        assert code == 200 and "CANCEL" in lines(resp, "CSeq")[0], resp
        code, ok = alice.final_of("INVITE", timeout=10)
        assert code == 200, ok
        assert lines(ok, "X-Held") == ["1"], ok
        cseq = int(ok.split("CSeq:")[1].split()[0])
        in_dialog(alice.s, port, ok, "ACK", cseq)
        # the next request vera gets is the ACK: no CANCEL went to her
        vera.s.settimeout(5)
        nxt = vera.s.recv(65536).decode(errors="replace")
        while nxt.startswith("SIP/2.0"):
            nxt = vera.s.recv(65536).decode(errors="replace")
        assert nxt.startswith("ACK "), nxt


def test_cancel_refused(ims):
    """mia's CANCEL modifier (tts 1, stop: false): the first CANCEL works as
    usual; the second is answered 481 and cancels nothing: mia still rings
    and her answer reaches the caller."""
    d, port, log, tmp = ims
    with registered(port, "alice", "mia") as (alice, mia):
        for n in (1, 2):
            alice.invite("mia")
            inv = mia.recv("INVITE ")
            mia.answer(inv, 180, "Ringing", tag=f"m{n}")
            alice.recv("SIP/2.0 180")
            alice.cancel()
            code, resp = alice.final_of("CANCEL")
            if n == 1:
                assert code == 200, resp
                mia.recv("CANCEL ")
                assert alice.final_of("INVITE")[0] == 487
                continue
            assert code == 481, resp
            mia.answer(inv, 200, "OK", sdp(mia.me + 1), tag=f"m{n}")
            code, ok = alice.final_of("INVITE")
            assert code == 200, ok
        wait_log(log, lambda t: "callflow_modifier: mia's call goes on" in t)


def test_code_in_place_of_the_final(ims):
    """nora's INVITE.OK with code 500: her 200 is ACKed and ended with a
    BYE, the caller gets 500 (with the header); her 486 becomes 500 too."""
    d, port, log, tmp = ims
    with registered(port, "alice", "nora") as (alice, nora):
        alice.invite("nora")
        inv = nora.recv("INVITE ")
        nora.answer(inv, 200, "OK", sdp(nora.me + 1), tag="n1")
        code, resp = alice.final()
        assert code == 500, resp
        assert lines(resp, "X-Nora") == ["no"], resp
        nora.recv("ACK ")
        bye = nora.recv("BYE ")
        nora.answer(bye, 200, "OK")
        alice.invite("nora")
        inv = nora.recv("INVITE ")
        nora.answer(inv, 486, "Busy Here", tag="n2")
        code, resp = alice.final()
        assert code == 500 and lines(resp, "X-Nora") == ["no"], resp
        text = wait_log(log, lambda t: t.count("callflow_modifier: nora's answer replaced") == 2)
        assert re.search(r"call \d+: 500 in place of the callee's 200", text), text[-2000:]
        assert re.search(r"call \d+: 500 in place of the callee's 486", text), text[-2000:]


def test_mt_message(ims):
    """The MESSAGE imsd sends a phone (an SMS from alice): olga's list (dir
    tx) adds its header to it; pete's answers it 480 in his phone's place,
    so nothing reaches pete and the SMS waits for a retry."""
    d, port, log, tmp = ims
    alice, olga, pete = Phone(port, "alice"), Phone(port, "olga"), Phone(port, "pete")
    try:
        for p in (alice, olga, pete):
            p.register()
        assert alice.sms(rp_data_mo(submit("+33600000613", "hi olga"), mr=1)) == 202
        head, _ = olga.wait_message()
        assert re.search(r"(?im)^X-Sms: for olga\r?$", head), head
        wait_log(log, lambda t: re.search(r"callflow_modifier: olga gets an SMS "
                                          r"\(MESSAGE \d+ to send\)", t))
        assert alice.sms(rp_data_mo(submit("+33600000614", "hi pete"), mr=2)) == 202
        wait_log(log, lambda t: re.search(r"sms: message \d+ to pete@ims.test not "
                                          r"delivered \(callflow_modifier: answered 480\)",
                                          t))
        pete.s.settimeout(0.5)
        with pytest.raises(socket.timeout):
            while True:
                assert not pete.s.recv(65536).startswith(b"MESSAGE ")
    finally:
        for p in (alice, olga, pete):
            p.close()


def test_imei_and_access_network_filters(ims):
    """quinn's modifiers name the caller's phone (the IMEI it registered
    with) and its access network (P-Access-Network-Info): a call from that
    phone gets 486, one over NR 488, one over LTE from another phone rings."""
    d, port, log, tmp = ims
    alice, carol, bob, quinn = (Ue(port, n) for n in ("alice", "carol", "bob", "quinn"))
    nr = "P-Access-Network-Info: 3GPP-NR-FDD; nrcgi=001010000000001\r\n"
    lte = "P-Access-Network-Info: 3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=0010100010000001\r\n"
    try:
        assert alice.register(';+sip.instance="<urn:gsma:imei:35000000-000099-0>"')[0] == 200
        assert carol.register(';+sip.instance="<urn:gsma:imei:35000000-000011-0>"')[0] == 200
        assert bob.register()[0] == 200
        assert quinn.register()[0] == 200
        alice.invite("quinn", lte)
        assert alice.final()[0] == 486
        carol.invite("quinn", nr)
        assert carol.final()[0] == 488
        bob.invite("quinn", lte)
        inv = quinn.recv("INVITE ")
        quinn.answer(inv, 480, "Temporarily Unavailable")
        assert bob.final()[0] == 480
        text = open(log).read()
        assert text.count("callflow_modifier: quinn: that phone") == 1, text[-2000:]
        assert text.count("callflow_modifier: quinn: over NR") == 1, text[-2000:]
    finally:
        for u in (alice, carol, bob, quinn):
            u.close()


def test_provisional_code_and_the_call_goes_on(ims):
    """rita's INVITE modifier with code 183: the caller gets a 183 with the
    modifier's SDP and header at once, and the call goes on to rita."""
    d, port, log, tmp = ims
    with registered(port, "alice", "rita") as (alice, rita):
        alice.invite("rita")
        early = alice.recv("SIP/2.0 183")
        assert lines(early, "X-Early") == ["1"], early
        assert "m=audio 40000 " in early, early
        inv = rita.recv("INVITE ")
        rita.answer(inv, 180, "Ringing")
        ring = alice.recv("SIP/2.0 180")
        # one early dialog: the 183 and the relayed 180 carry the same To tag
        tag = re.search(r"(?im)^To:.*;tag=([^;\s]+)", early).group(1)
        assert re.search(r"(?im)^To:.*;tag=" + re.escape(tag), ring), (early, ring)
        rita.answer(inv, 486, "Busy Here")
        assert alice.final()[0] == 486
        wait_log(log, lambda t: "callflow_modifier: rita: early 183 (INVITE received)" in t)


def test_answer_delayed(ims):
    """sam's INVITE modifier with send_delay: the caller's INVITE gets the
    transaction's 100 Trying first (imsd said nothing for 200 ms), then the
    486. A CANCEL while it is held ends the INVITE with 487 and the held 486
    is not sent. Shown by the order of what the caller gets."""
    d, port, log, tmp = ims
    with registered(port, "alice") as (alice,):
        alice.invite("sam")
        first = alice.recv("SIP/2.0 ", timeout=10)
        assert first.startswith("SIP/2.0 100 "), first
        assert alice.final(timeout=10)[0] == 486
        alice.invite("sam")
        second = f"CSeq: {alice.n} INVITE".encode()
        while not alice.recv("SIP/2.0 ").startswith("SIP/2.0 100 "):
            pass  # the first INVITE's 486 again (not ACKed here)
        alice.cancel()
        assert alice.final_of("CANCEL")[0] == 200
        code, resp = alice.final_of("INVITE")
        while second.decode() not in resp:
            code, resp = alice.final_of("INVITE")
        assert code == 487, resp
        alice.s.settimeout(2.5)
        with pytest.raises(socket.timeout):
            while True:
                m = alice.s.recv(65536)
                assert not (m.startswith(b"SIP/2.0 486") and second in m), m
        text = open(log).read()
        assert text.count("callflow_modifier: sam: a slow busy") == 2, text[-2000:]


def test_trying_with_headers(ims):
    """tina's INVITE.TRYING modifier: the caller gets a 100 Trying with its
    header at once (before imsd's INVITE reaches tina), and the call goes on."""
    d, port, log, tmp = ims
    with registered(port, "alice", "tina") as (alice, tina):
        alice.invite("tina")
        first = alice.recv("SIP/2.0 ")
        assert first.startswith("SIP/2.0 100 "), first
        assert lines(first, "X-Trying") == ["tina"], first
        inv = tina.recv("INVITE ")
        assert not lines(inv, "X-Trying"), inv
        tina.answer(inv, 486, "Busy Here")
        assert alice.final()[0] == 486
        wait_log(log, lambda t: re.search(r"callflow_modifier: tina: trying \(call \d+: "
                                          r"100 to the caller\)", t))


def test_config_refuses_what_is_not_applied(tmp_path):
    """A modifier imsd would not apply stops the start with the field named
    (no configuration silently does nothing)."""
    for cfm, want in [
            ('{ method: "INVITE.TRYING", code: 486 }',
             'ue_db[0].impu[0].callflow_modifier.code: a code in place of the 100 Trying: '
             'write it on "INVITE"'),
            ('{ method: "UPDATE", log: "x", send_delay: 2 }',
             "ue_db[0].impu[0].callflow_modifier.send_delay: a delay on other steps than "
             "INVITE.RINGING, INVITE.SESSION_PROGRESS and INVITE.OK (not applied"),
            ('{ code: -2 }', "ue_db[0].impu[0].callflow_modifier.code: -2: the reference "
                             "product's special codes are not applied by imsd")]:
        cfg = write_cfg(tmp_path, 'sip_addr: "127.0.0.1", ue_db: [' +
                        ue("001010000000607", "gina", cfm) + "]")
        r = run_tool([IMSD_BIN, "--check-config", cfg], capture_output=True, text=True,
                     timeout=60)
        assert r.returncode != 0, (cfm, r.stderr)
        assert want in r.stderr, (cfm, r.stderr)


def test_applied_modifiers_counted(tmp_path):
    """The modifiers imsd applies are counted wherever they are applied: the
    CSCF stage's (a REGISTER refused), the b2bua's (headers on the 180 the
    caller gets) and the SMSC's (headers on the MESSAGE imsd sends): the
    monitor's `cscf.cfm` since the start, the API stats'
    counters.callflow_modifier since the previous API stats (docs/monitor.md,
    docs/api.md)."""
    import asyncio
    import json
    import socket as so

    import websockets
    from conftest import free_port
    from test_stats import run_stats

    api = free_port(kind=so.SOCK_STREAM)
    ims = calls_ims(tmp_path, f'com_addr: "127.0.0.1:{api}",', [
        ue("001010000000621", "erin", '{ method: "REGISTER", code: 403 }'),
        ue("001010000000622", "alice"),
        ue("001010000000623", "bob", """{ method: "INVITE.RINGING",
          custom_headers: [{ name: "X-Ring", value: "counted" }] }"""),
        sms_ue("001010000000624", "olga", "+33600000624", """{ method: "MESSAGE",
          dir: "tx", custom_headers: [{ name: "X-Sms", value: "counted" }] }""")])
    d, port, log, tmp = next(ims)
    erin, alice, bob = Ue(port, "erin"), Ue(port, "alice"), Ue(port, "bob")
    smser, olga = Phone(port, "alice"), Phone(port, "olga")

    async def api_stats():
        async with websockets.connect(f"ws://127.0.0.1:{api}/", origin="http://test") as ws:
            ready = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert ready["message"] == "ready", ready
            await ws.send(json.dumps({"message": "stats"}))
            return json.loads(await asyncio.wait_for(ws.recv(), 10))

    try:
        wait_log(log, lambda t: "api: listening on" in t)
        assert run_stats(d)["cscf.cfm"] == 0
        assert alice.register()[0] == 200  # no modifier: not counted
        assert erin.register()[0] == 403
        assert erin.register()[0] == 403
        assert run_stats(d)["cscf.cfm"] == 2
        r = asyncio.run(api_stats())
        assert r["counters"]["callflow_modifier"] == 2, r
        assert erin.register()[0] == 403
        r = asyncio.run(api_stats())
        assert r["counters"]["callflow_modifier"] == 1, r  # since the previous one
        assert run_stats(d)["cscf.cfm"] == 3
        # the b2bua's: bob's INVITE.RINGING on the 180 alice gets
        assert bob.register()[0] == 200
        alice.invite("bob")
        inv = bob.recv("INVITE ")
        bob.answer(inv, 180, "Ringing")
        ring = alice.recv("SIP/2.0 180")
        assert lines(ring, "X-Ring") == ["counted"], ring
        assert run_stats(d)["cscf.cfm"] == 4
        bob.answer(inv, 486, "Busy Here")
        assert alice.final()[0] == 486
        # the SMSC's: olga's MESSAGE tx on the MESSAGE imsd sends her
        for p in (smser, olga):
            p.register()
        assert smser.sms(rp_data_mo(submit("+33600000624", "hi olga"), mr=1)) == 202
        head, _ = olga.wait_message()
        assert re.search(r"(?im)^X-Sms: counted\r?$", head), head
        assert run_stats(d)["cscf.cfm"] == 5
        r = asyncio.run(api_stats())
        assert r["counters"]["callflow_modifier"] == 2, r
    finally:
        for u in (erin, alice, bob, smser, olga):
            u.close()
        for _ in ims:  # stops imsd, checks the sanitizers
            pass


def monitor(d, line, want):
    """A monitor command on imsd's console; waits for want in its answer."""
    start = len(d.out)
    d.proc.stdin.write(line.encode() + b"\n")
    d.proc.stdin.flush()
    d.wait_out(want, start=start)


def test_echo_ring_only_and_mt_call(tmp_path):
    """Calls that are not between two phones get modifiers as if they were:
    the caller's list on the 180/200 imsd sends as the echo (headers; a
    code in place of the 200), a ring_only callee's list on imsd's 180
    (headers; a code in its place), and on an mt_call the callee's INVITE
    modifier on imsd's INVITE and its INVITE.OK code at the phone's 200
    (ACKed and ended with a BYE)."""
    (tmp_path / "early.sdp").write_text(sdp(40000))
    ims = calls_ims(tmp_path, 'echo: ["sip:echo"],', [
        ue("001010000000631", "alice"),
        ue("001010000000632", "eve", """[
          { method: "INVITE.RINGING", dir: "rx", impu: "sip:echo@ims.test",
            custom_headers: [{ name: "X-Echo", value: "ring" }] },
          { method: "INVITE.OK", dir: "rx", log: "eve's echo answers",
            custom_headers: [{ name: "X-Echo", value: "ok" }] }]"""),
        ue("001010000000633", "fay", """{ method: "INVITE.OK", code: 486,
          log: "fay's echo busy", custom_headers: [{ name: "X-Why", value: "echo busy" }] }"""),
        ("{ imsi: \"001010000000634\", impi: \"rob@ims.test\", authentication: false, "
         "impu: [{ impu: \"sip:rob\", ring_only: true, callflow_modifier: { "
         "method: \"INVITE.RINGING\", content: \"early.sdp\", content_type: \"application/sdp\", "
         "custom_headers: [{ name: \"X-Rob\", value: \"rings\" }] } }] }"),
        ("{ imsi: \"001010000000635\", impi: \"ron@ims.test\", authentication: false, "
         "impu: [{ impu: \"sip:ron\", ring_only: true, callflow_modifier: { "
         "method: \"INVITE.RINGING\", code: 480 } }] }"),
        ue("001010000000636", "bob", """{ method: "INVITE",
          custom_headers: [{ name: "Alert-Info", value: "<urn:alert:service:lab>" }] }"""),
        ue("001010000000637", "nina", """{ method: "INVITE.OK", code: 500,
          log: "nina's answer refused" }"""),
    ])
    d, port, log, tmp = next(ims)
    phones = {n: Ue(port, n) for n in ("alice", "eve", "fay", "rob", "ron", "bob", "nina")}
    try:
        for u in phones.values():
            assert u.register()[0] == 200
        eve, fay, alice = phones["eve"], phones["fay"], phones["alice"]
        # echo: eve's headers on the 180 and the 200 imsd sends as the echo
        eve.invite("echo")
        ring = eve.recv("SIP/2.0 180")
        assert lines(ring, "X-Echo") == ["ring"], ring
        code, ok = eve.final()
        assert code == 200 and lines(ok, "X-Echo") == ["ok"], ok
        assert "m=audio " in ok, ok
        in_dialog(eve.s, port, ok, "ACK", int(ok.split("CSeq:")[1].split()[0]))
        # echo: fay's code in place of the echo's 200
        fay.invite("echo")
        fay.recv("SIP/2.0 180")
        code, resp = fay.final()
        assert code == 486 and lines(resp, "X-Why") == ["echo busy"], resp
        wait_log(log, lambda t: re.search(r"callflow_modifier: fay's echo busy \(call \d+: "
                                          r"486 in place of the callee's 200\)", t))
        # ring_only: rob's headers and content on imsd's 180; ron's 480
        alice.invite("rob")
        ring = alice.recv("SIP/2.0 180")
        assert lines(ring, "X-Rob") == ["rings"], ring
        assert "m=audio 40000 " in ring, ring
        alice.cancel()
        assert alice.final_of("CANCEL")[0] == 200
        assert alice.final_of("INVITE")[0] == 487
        alice.invite("ron")
        assert alice.final_of("INVITE")[0] == 480
        for n in ("rob", "ron"):
            with pytest.raises(socket.timeout):
                phones[n].recv("INVITE ", timeout=0.3)
        # mt_call: bob's header on imsd's INVITE; nina's 200 refused
        monitor(d, "mt_call sip:bob@ims.test", "dialog ")
        inv = phones["bob"].recv("INVITE ")
        assert lines(inv, "Alert-Info") == ["<urn:alert:service:lab>"], inv
        phones["bob"].answer(inv, 486, "Busy Here")
        monitor(d, "mt_call sip:nina@ims.test", "dialog ")
        nina = phones["nina"]
        inv = nina.recv("INVITE ")
        assert not lines(inv, "Alert-Info"), inv
        nina.answer(inv, 200, "OK", sdp(nina.me + 1))
        nina.recv("ACK ")
        bye = nina.recv("BYE ")
        nina.answer(bye, 200, "OK")
        wait_log(log, lambda t: "callflow_modifier: nina's answer refused" in t and
                 "ends: callflow_modifier: 500 in place of 200" in t)
    finally:
        for u in phones.values():
            u.close()
        for _ in ims:  # stops imsd, checks the sanitizers
            pass


def test_multi_sim_each_sim_its_list(tmp_path):
    """With multi_sim, the INVITE to each SIM carries that SIM's own INVITE
    modifier (docs/callflow_modifier.md "Whose modifiers")."""
    def sim(n):
        return (f'{{ imsi: "001010000000649", impi: "sim@ims.test", authentication: false, '
                f'sim_algo: "xor", K: "00112233445566778899aabbccddeeff", multi_sim: true, '
                f'impu: [{{ impu: "sip:sim", imei: "3500000000000{n}", '
                f'callflow_modifier: {{ method: "INVITE", custom_headers: '
                f'[{{ name: "X-Sim", value: "{n}" }}] }} }}] }}')
    ims = calls_ims(tmp_path, "", [ue("001010000000640", "alice"), sim(1), sim(2)])
    d, port, log, tmp = next(ims)
    alice, s1, s2 = Ue(port, "alice"), Ue(port, "sim"), Ue(port, "sim")
    try:
        assert alice.register()[0] == 200
        for n, s in ((1, s1), (2, s2)):
            code, resp = s.register(f';+sip.instance="<urn:gsma:imei:35000000-00000{n}-0>"')
            assert code == 200, resp
        alice.invite("sim")
        i1, i2 = s1.recv("INVITE "), s2.recv("INVITE ")
        assert lines(i1, "X-Sim") == ["1"], i1
        assert lines(i2, "X-Sim") == ["2"], i2
        s1.answer(i1, 486, "Busy Here", tag="s1")
        s2.answer(i2, 486, "Busy Here", tag="s2")
        assert alice.final()[0] == 486
    finally:
        for u in (alice, s1, s2):
            u.close()
        for _ in ims:  # stops imsd, checks the sanitizers
            pass
