"""imsd's ESP codec against an independent ESP implementation (scapy, see
esp_ref.py), for every integrity x encryption pair the manual lists:
scapy encrypts and imsd decrypts, imsd encrypts and scapy decrypts, with
the keys each side expands on its own from the same CK/IK (TS 33.203
Annex I). A flipped ICV byte is refused by both.

imsd's side is build-asan/tests/unit/ipsec/esp_tool (the codec on a pipe).
"""
import os
import subprocess

import pytest

from conftest import IMSD_BIN
import esp_ref

ESP_TOOL = os.path.join(os.path.dirname(IMSD_BIN), "tests", "unit", "ipsec", "esp_tool")
CK = bytes.fromhex("b40ba9a3c58b2a05bbf0d987b21bf8cb")  # TS 35.208 set 1
IK = bytes.fromhex("f769bcd751044604127672711c6d3441")
PAIRS = [(a, e) for a in esp_ref.AALGS for e in esp_ref.EALGS if esp_ref.pair_valid(a, e)]
SIP = (b"MESSAGE sip:+15551234@ims.example SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060"
       b";branch=z9hG4bKesp\r\nContent-Length: 0\r\n\r\n")


class Tool:
    def __init__(self):
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = "detect_leaks=1"
        self.p = subprocess.Popen([ESP_TOOL], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, env=env)

    def ask(self, *words):
        self.p.stdin.write(" ".join(str(w) for w in words) + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().split()

    def close(self):
        self.p.stdin.close()
        assert self.p.wait(timeout=30) == 0


@pytest.fixture(scope="module")
def tool():
    t = Tool()
    yield t
    t.close()


def hx(b):
    return b.hex() if b else "-"


def test_all_pairs_listed():
    # 7 x 7 minus aes-gmac beside a cipher other than null/aes-gcm (RFC 4543)
    assert len(PAIRS) == 44


@pytest.mark.parametrize("aalg,ealg", PAIRS)
def test_key_expansion_matches(tool, aalg, ealg):
    ekey, akey = esp_ref.expand(aalg, ealg, CK, IK)
    r = tool.ask("keys", aalg, ealg, CK.hex(), IK.hex())
    assert r[0] == "ok"
    got_e, esalt, got_a, asalt = (bytes.fromhex(x) if x != "-" else b"" for x in r[1:])
    if ealg in ("aes-ctr", "aes-gcm"):
        got_e += esalt
    if aalg == "aes-gmac" and ealg == "null":
        got_a += asalt
    if ealg != "aes-gcm" and not (aalg == "aes-gmac" and ealg == "null"):
        assert got_a == akey
    if not (aalg == "aes-gmac" and ealg == "null"):
        assert got_e == ekey
    else:
        assert got_a == akey


@pytest.mark.parametrize("aalg,ealg", PAIRS)
def test_scapy_to_imsd(tool, aalg, ealg):
    for seq, payload in ((1, b""), (2, b"x"), (77, SIP), (2**32 - 1, SIP * 3)):
        esp = esp_ref.RefSA(aalg, ealg, 0x1001, CK, IK).encrypt_esp(17, payload, seq)
        r = tool.ask("decap", aalg, ealg, 0x1001, CK.hex(), IK.hex(), esp.hex())
        assert r[:2] == ["ok", "17"], (aalg, ealg, seq, r)
        assert r[2] == hx(payload)
        if aalg != "null" or ealg == "aes-gcm":
            bad = bytearray(esp)
            bad[-1] ^= 0x01
            r = tool.ask("decap", aalg, ealg, 0x1001, CK.hex(), IK.hex(), bad.hex())
            assert r == ["err", "13"], (aalg, ealg, r)  # EACCES: ICV mismatch


@pytest.mark.parametrize("aalg,ealg", PAIRS)
def test_imsd_to_scapy(tool, aalg, ealg):
    for seq, payload in ((1, b""), (3, b"ab"), (1000, SIP), (5, SIP * 3)):
        r = tool.ask("encap", aalg, ealg, 0x2002, seq, CK.hex(), IK.hex(), 6, hx(payload))
        assert r[0] == "ok", (aalg, ealg, r)
        esp = bytes.fromhex(r[1])
        assert int.from_bytes(esp[0:4], "big") == 0x2002
        assert int.from_bytes(esp[4:8], "big") == seq
        nh, got = esp_ref.RefSA(aalg, ealg, 0x2002, CK, IK).decrypt_esp(esp)
        assert nh == 6 and got == payload, (aalg, ealg)
        if aalg != "null" or ealg == "aes-gcm":
            bad = bytearray(esp)
            bad[len(bad) // 2] ^= 0x80
            with pytest.raises(Exception):
                esp_ref.RefSA(aalg, ealg, 0x2002, CK, IK).decrypt_esp(bytes(bad))
