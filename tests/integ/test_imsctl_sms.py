"""imsctl sms decode/encode: the real binary on the GSM 03.40 PDU examples and
on messages built by hand from the TS 23.040 / TS 24.011 layouts, compared
field by field; malformed input; and tshark's gsm_a.rp / gsm_sms dissectors
reading what `encode` produced inside a SIP MESSAGE (an independent decoder).
"""
import json
import os
import shutil
import struct
import subprocess

import pytest

from conftest import run_tool

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMSCTL = os.environ.get("IMSCTL_BIN", os.path.join(ROOT, "build-asan", "imsctl"))

SUBMIT = "11000b916407281553f80000aa0ae8329bfd4697d9ec37"
DELIVER = "040bc87238880900f10000993092516195800ae8329bfd4697d9ec37"
SMSC = "3368900000"
RP_MO = "002a000691" + "3386090000" + "17" + SUBMIT


def run(*args, stdin=None):
    p = run_tool([IMSCTL, *args], capture_output=True, text=True, timeout=30, input=stdin)
    return p.returncode, p.stdout, p.stderr


def decode(*args):
    rc, out, err = run("sms", "decode", *args)
    assert rc == 0, err
    return json.loads(out)


def encode(*args, stdin=None):
    rc, out, err = run("sms", "encode", *args, stdin=stdin)
    assert rc == 0, err
    return out.split()


def test_decode_rp_data_mo():
    d = decode(RP_MO)
    assert d["layer"] == "rp"
    rp = d["rp"]
    assert (rp["type"], rp["mti"], rp["direction"], rp["mr"]) == ("RP-DATA", 0, "ms->n", 42)
    assert rp["originator"] is None
    assert rp["destination"]["number"] == "+3368900000"
    assert rp["destination"]["ton_name"] == "international"
    assert rp["user_data_hex"] == SUBMIT
    t = d["tpdu"]
    assert (t["type"], t["first_octet"], t["mti"]) == ("SMS-SUBMIT", "11", 1)
    assert t["destination"]["digits"] == "46708251358"
    assert t["destination"]["length"] == 11
    assert t["validity"] == {"format": "relative", "value": 170, "seconds": 4 * 86400}
    assert t["dcs"]["alphabet"] == "gsm7"
    assert t["user_data"]["text"] == "hellohello"
    assert t["user_data"]["udl"] == 10


def test_decode_bare_tpdu_direction():
    # auto: MO (DELIVER-REPORT) does not decode, MT (DELIVER) does
    d = decode(DELIVER)
    assert (d["layer"], d["direction"]) == ("tpdu", "mt")
    t = d["tpdu"]
    assert t["type"] == "SMS-DELIVER"
    assert t["originator"]["toa"] == "c8"
    assert t["originator"]["ton_name"] == "subscriber"
    assert t["originator"]["digits"] == "27838890001"
    assert t["scts"]["time"] == "2099-03-29T15:16:59+02:00"
    assert t["scts"]["tz_quarters"] == 8
    assert t["more_messages"] is False
    # forcing the other direction reads the octets as a DELIVER-REPORT, which they are not
    rc, out, err = run("sms", "decode", "--dir", "mo", DELIVER)
    assert rc == 1 and "malformed TPDU" in err
    # 00 00 is a DELIVER-REPORT from the phone
    d = decode("0000")
    assert (d["direction"], d["tpdu"]["type"]) == ("mo", "SMS-DELIVER-REPORT")
    d = decode("--dir", "mo", "--rp-error", "00d000")
    assert d["tpdu"]["fcs"] == 0xd0 and d["tpdu"]["rp_error"] is True


def test_decode_rp_ack_error_smma():
    d = decode("032a41090100993092516195" "80")
    assert d["rp"]["type"] == "RP-ACK" and d["rp"]["direction"] == "n->ms"
    assert d["tpdu"]["type"] == "SMS-SUBMIT-REPORT"
    assert d["tpdu"]["rp_error"] is False
    d = decode("052a0216" "05" "410a01d00099309251619580")
    assert d["rp"]["cause"] == {"value": 22, "name": "memory capacity exceeded",
                                "diagnostic": "05"}
    assert d["tpdu"]["fcs"] == 0xd0
    d = decode("062c")
    assert d["rp"]["type"] == "RP-SMMA" and d["tpdu"] is None


def test_decode_concat_ucs2_status():
    d = decode("--dir", "mo", "41000b916407281553f800000c0500032a0201d06536fb0d")
    ud = d["tpdu"]["user_data"]
    assert ud["header"]["concat"] == {"ref": 42, "ref_bits": 8, "total": 2, "seq": 1}
    assert ud["header"]["ies"] == [{"iei": 0, "name": "concatenation-8bit-ref",
                                    "hex": "2a0201"}]
    assert ud["text"] == "hello" and ud["udl"] == 12
    d = decode("01070b916407281553f80018060048006920ac")
    assert d["tpdu"]["dcs"]["alphabet"] == "ucs2" and d["tpdu"]["dcs"]["class"] == 0
    assert d["tpdu"]["user_data"]["text"] == "Hi\u20ac"
    d = decode("--dir", "mt", "062a0b916407281553f899309251619580993092517195804600")
    t = d["tpdu"]
    assert t["type"] == "SMS-STATUS-REPORT" and t["status"] == 0x46 and t["mr"] == 42
    assert t["recipient"]["number"] == "+46708251358"
    assert t["discharge_time"]["time"] == "2099-03-29T15:17:59+02:00"


def test_decode_malformed():
    # RP-DATA whose RP-DA is cut: RP cause 96 to answer
    rc, out, err = run("sms", "decode", "--layer", "rp", "002a00069133860900")
    assert rc == 1
    assert "RP cause 96" in err and "RP-Destination Address" in err
    # TP-UDL beyond 160 septets: 95
    rc, out, err = run("sms", "decode", "--layer", "tpdu", "11000b916407281553f80000aaa1")
    assert rc == 1 and "RP cause 95" in err and "TP-UDL" in err
    # RP fine, TPDU inside truncated: the RP part is printed, the TPDU error named
    rc, out, err = run("sms", "decode", "--layer", "rp", "002a0006913386090000" "03110000")
    assert rc == 1
    d = json.loads(out)
    assert d["tpdu_error"]["rp_cause"] == 96 and d["tpdu_error"]["field"] == "TP-DA"
    for bad in (["zz"], ["123"], [], ["--dir", "up", "00"], ["--layer", "x", "00"]):
        rc, out, err = run("sms", "decode", *bad)
        assert rc == 2, bad
        assert err.startswith("imsctl sms decode: ")
    rc, out, err = run("sms", "frobnicate")
    assert rc == 2


def test_encode_submit_published():
    assert encode("--to", "+46708251358", "--text", "hellohello", "--vp", "170") == [SUBMIT]
    assert encode("--to", "+46708251358", "--text", "hellohello", "--vp", "170",
                  "--rp", "mo", "--smsc", "+" + SMSC, "--rp-mr", "42") == [RP_MO]


def _swapped(v):
    return "%x%x" % (v % 10, v // 10)


def test_encode_deliver_layout():
    # TS 23.040 §9.2.2.1 by hand: FO 04 (MMS: no more), OA 0b 91 + swapped digits,
    # PID 00, DCS 08 (UCS2), SCTS 2026-12-06 11:00:00 +01:00, UDL, UCS2 text.
    # TS 24.011 §7.3.1.1 around it: 01 MR, RP-OA 06 91 <SC>, RP-DA 00, length.
    text = "\u041f\u0440\u0438\u0432\u0435\u0442"
    oa = "0b91" + "3316325476f8"
    scts = "".join(_swapped(v) for v in (26, 12, 6, 11, 0, 0)) + "40"
    ud = text.encode("utf-16-be").hex()
    tpdu = "04" + oa + "0008" + scts + "%02x" % (len(ud) // 2) + ud
    rp = "0107" + "0691" + "3386090000" + "00" + "%02x" % (len(tpdu) // 2) + tpdu
    got = encode("--type", "deliver", "--from", "+33612345678", "--text", text,
                 "--scts", "1796551200", "--tz", "4", "--rp", "mt", "--smsc", "+" + SMSC,
                 "--rp-mr", "7")
    assert got == [rp]
    d = decode(rp)
    assert d["rp"]["destination"] is None  # RP-DA empty in MT (field note 002)
    assert d["tpdu"]["user_data"]["text"] == text
    assert d["tpdu"]["scts"]["time"] == "2026-12-06T11:00:00+01:00"


def test_encode_long_text_parts():
    text = ("Service notice: your plan renews tomorrow {ref 12} " * 6).strip()
    parts = encode("--type", "deliver", "--from", "imsd", "--text", text, "--ref", "77",
                   "--scts", "0")
    assert len(parts) == 3
    whole = ""
    for i, h in enumerate(parts, 1):
        t = decode("--dir", "mt", h)["tpdu"]
        assert t["originator"]["text"] == "imsd"
        assert t["originator"]["ton_name"] == "alphanumeric"
        assert t["udhi"] is True
        assert t["user_data"]["header"]["concat"] == {"ref": 77, "ref_bits": 8,
                                                      "total": 3, "seq": i}
        assert t["user_data"]["udl"] <= 160
        whole += t["user_data"]["text"]
    assert whole == text
    # UCS2 with a 16-bit reference: 66 characters a part
    parts = encode("--to", "+1", "--text", "\u0416" * 140, "--ref", "4660", "--ref16")
    assert len(parts) == 3
    t = decode("--dir", "mo", parts[0])["tpdu"]
    assert t["user_data"]["header"]["concat"]["ref"] == 4660
    assert t["user_data"]["data_hex"] == "0416" * 66


def test_encode_json_document():
    doc = {"type": "deliver", "from": "+33612345678", "text": "hi", "scts": 1796551200,
           "tz": -14, "sri": True, "rp": "mt", "smsc": "+" + SMSC, "rp-mr": 9}
    got = encode("--json", "-", stdin=json.dumps(doc))
    want = encode("--type", "deliver", "--from", "+33612345678", "--text", "hi",
                  "--scts", "1796551200", "--tz", "-14", "--sri", "--rp", "mt",
                  "--smsc", "+" + SMSC, "--rp-mr", "9")
    assert got == want
    t = decode(got[0])["tpdu"]
    assert t["sri"] is True and t["scts"]["time"] == "2026-12-06T06:30:00-03:30"
    bin_ = encode("--json", "-", stdin='{"to": "+4670", "ud-hex": "0102", "dcs": 4, '
                  '"udh-hex": "050400000000"}')
    t = decode("--dir", "mo", bin_[0])["tpdu"]
    assert t["user_data"]["data_hex"] == "0102"
    assert t["user_data"]["header"]["ies"][0]["name"] == "application-port"
    for bad in ('{"to": 1.5, "text": "x"}', '{"bogus": 1}', '[1]', '{"to": "+1", "srr": 1}'):
        rc, out, err = run("sms", "encode", "--json", "-", stdin=bad)
        assert rc == 2, bad


def test_encode_errors():
    for bad in (["--text", "x"],                                  # no --to
                ["--to", "+1"],                                   # no text
                ["--to", "+1", "--text", "x", "--ud-hex", "00"],
                ["--to", "+1", "--ud-hex", "00", "--dcs", "0"],  # GSM 7-bit DCS
                ["--to", "+1234567890123456789012", "--text", "x"],
                ["--to", "+1", "--text", "x", "--vp", "256"],
                ["--to", "+1", "--text", "x", "--rp", "mt"],
                ["--to", "+1", "--text", "x", "--rp", "mo"],      # no --smsc
                ["--type", "deliver", "--from", "A very long name", "--text", "x"],
                ["--to", "+1", "--text", "x" * 6000]):
        rc, out, err = run("sms", "encode", *bad)
        assert rc == 2, bad
        assert err.startswith("imsctl sms encode: "), err


def test_help():
    rc, out, err = run("sms", "--help")
    assert rc == 0 and "imsctl sms decode" in out
    rc, out, err = run("sms", "decode", "--help")
    assert rc == 0 and "examples:" in out and "--dir mo|mt" in out
    rc, out, err = run("sms", "encode", "--help")
    assert rc == 0 and "examples:" in out and "--json" in out
    rc, out, err = run("--help")
    assert "sms" in out


# ---- tshark reads what encode produced ----

def _csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def _sip_message(body, n):
    head = ("MESSAGE sip:+46708251358@ims.example SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-sms-%d\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:ims.example>;tag=%d\r\n"
            "To: <sip:+46708251358@ims.example>\r\n"
            "Call-ID: sms-%d@127.0.0.1\r\n"
            "CSeq: 1 MESSAGE\r\n"
            "Content-Type: application/vnd.3gpp.sms\r\n"
            "Content-Length: %d\r\n\r\n" % (n, n, n, len(body))).encode()
    return head + body


def _pcap(path, payloads):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, pl in enumerate(payloads):
            udp = struct.pack("!HHHH", 5060, 5060, 8 + len(pl), 0) + pl
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0,
                             bytes([127, 0, 0, 1]), bytes([127, 0, 0, 2]))
            ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
            frame = b"\x00" * 12 + b"\x08\x00" + ip + udp
            f.write(struct.pack("<IIII", 1796551200, i, len(frame), len(frame)) + frame)


def test_tshark_decodes_encode_output(tmp_path):
    if not shutil.which("tshark"):
        pytest.fail("tshark is part of the test dependencies (scripts/install-deps.sh)")
    texts = ["hellohello", "\u041f\u0440\u0438\u0432\u0435\u0442 \U0001F600",
             "Long notice {with} escapes \u20ac " * 11]
    bodies = []
    for t in texts:
        bodies += encode("--type", "deliver", "--from", "+33612345678", "--text", t,
                         "--scts", "1796551200", "--tz", "4", "--rp", "mt",
                         "--smsc", "+" + SMSC, "--ref", "5")
    bodies += encode("--to", "+46708251358", "--text", "hellohello", "--vp", "170",
                     "--srr", "--rp", "mo", "--smsc", "+" + SMSC)
    assert len(bodies) == 6  # the third text takes three parts
    pcap = tmp_path / "sms.pcap"
    _pcap(pcap, [_sip_message(bytes.fromhex(b), i) for i, b in enumerate(bodies)])
    r = subprocess.run(["tshark", "-r", str(pcap), "-d", "udp.port==5060,sip",
                        "-T", "fields", "-E", "separator=|", "-e", "frame.number",
                        "-e", "gsm_a.rp.msg_type", "-e", "gsm_sms.tp-mti",
                        "-e", "gsm_sms.tp-oa", "-e", "gsm_sms.tp-da",
                        "-e", "gsm_sms.sms_text", "-e", "_ws.malformed",
                        "-e", "_ws.expert.severity"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rows = [line.split("|") for line in r.stdout.splitlines()]
    assert len(rows) == 6, r.stdout
    for row in rows:
        num, rp_type, mti, oa, da, text, malformed, severity = row
        assert malformed == "", row
        # expert severity 'error' is 0x800000 (8388608). Wireshark 4.0's SIP
        # dissector adds a warning ("trailing stray characters") to the header
        # of any MESSAGE whose binary body holds certain NUL patterns, whatever
        # its Content-Type: a warning, not an error, and not about the SMS.
        assert all(int(s) < 0x800000 for s in severity.split(",") if s), row
    assert [r_[1] for r_ in rows] == ["0x01"] * 5 + ["0x00"]
    assert rows[0][3] == "33612345678" and rows[0][5] == "hellohello"
    assert rows[1][5] == texts[1]
    # concatenated parts: tshark shows each part's text (reassembly aside)
    assert "".join(row[5] for row in rows[2:5]).startswith("Long notice {with}")
    assert rows[5][4] == "46708251358" and rows[5][5] == "hellohello"
