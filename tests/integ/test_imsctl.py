"""Integration tests for imsctl: the real binary against published vectors
(TS 35.208 MILENAGE, TS 35.233 TUAK, TS 34.108 XOR) and bad input.

The Digest AKA expectations are computed here, independently, with Python's
hashlib/hmac from the RES/CK/IK the spec gives for MILENAGE test set 1.
"""
import base64
import hashlib
import hmac
import os
import pytest

from conftest import run_tool

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMSCTL = os.environ.get("IMSCTL_BIN", os.path.join(ROOT, "build-asan", "imsctl"))


def run(*args):
    p = run_tool([IMSCTL, *args], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def kv(out):
    d = {}
    for line in out.splitlines():
        name, _, value = line.partition("=")
        assert name and value, line
        assert name not in d
        d[name] = value
    return d


# TS 35.208 §4.3 test sets 1, 2, 6 and 19 (K, RAND, SQN, AMF, OP -> outputs)
MILENAGE = [
    dict(k="465b5ce8b199b49faa5f0a2ee238a6bc", rand="23553cbe9637a89d218ae64dae47bf35",
         sqn="ff9bb4d0b607", amf="b9b9", op="cdc202d5123e20f62b6d676ac72cb318",
         opc="cd63cb71954a9f4e48a5994e37a02baf", f1="4a9ffac354dfafb3",
         f1star="01cfaf9ec4e871e9", f2="a54211d5e3ba50bf",
         f3="b40ba9a3c58b2a05bbf0d987b21bf8cb", f4="f769bcd751044604127672711c6d3441",
         f5="aa689c648370", f5star="451e8beca43b"),
    dict(k="fec86ba6eb707ed08905757b1bb44b8f", rand="9f7c8d021accf4db213ccff0c7f71a6a",
         sqn="9d0277595ffc", amf="725c", op="dbc59adcb6f9a0ef735477b7fadf8374",
         opc="1006020f0a478bf6b699f15c062e42b3", f1="9cabc3e99baf7281",
         f1star="95814ba2b3044324", f2="8011c48c0c214ed2",
         f3="5dbdbb2954e8f3cde665b046179a5098", f4="59a92d3b476a0443487055cf88b2307b",
         f5="33484dc2136b", f5star="deacdd848cc6"),
    dict(k="2d609d4db0ac5bf0d2c0de267014de0d", rand="194aa756013896b74b4a2a3b0af4539e",
         sqn="6bf69438c2e4", amf="5f67", op="460a48385427aa39264aac8efc9e73e8",
         opc="c35a0ab0bcbfc9252caff15f24efbde0", f1="bd07d3003b9e5cc3",
         f1star="bcb6c2fcad152250", f2="8c25a16cd918a1df",
         f3="4cd0846020f8fa0731dd47cbdc6be411", f4="88ab80a415f15c73711254a1d388f696",
         f5="7e6455f34cf3", f5star="dc6dd01e8f15"),
    dict(k="90dca4eda45b53cf0f12d7c9c3bc6a89", rand="9fddc72092c6ad036b6e464789315b78",
         sqn="20f813bd4141", amf="61df", op="3ffcfe5b7b1111589920d3528e84e655",
         opc="cb9cccc4b9258e6dca4760379fb82581", f1="09db94eab4f8149e",
         f1star="a29468aa9775b527", f2="a95100e2760952cd",
         f3="b5f2da03883b69f96bf52e029ed9ac45", f4="b4721368bc16ea67875c5598688bb0ef",
         f5="83cfd54db913", f5star="4f2039392ddc"),
]
OUTS = ["f1", "f1star", "f2", "f3", "f4", "f5", "f5star"]


@pytest.mark.parametrize("tv", MILENAGE, ids=lambda t: t["k"][:8])
def test_milenage_op_and_opc(tv):
    rc, out, err = run("milenage", "--k", tv["k"], "--op", tv["op"], "--rand", tv["rand"],
                       "--sqn", tv["sqn"], "--amf", tv["amf"])
    assert rc == 0, err
    got = kv(out)
    assert list(got) == ["opc"] + OUTS
    for n in ["opc"] + OUTS:
        assert got[n] == tv[n], n
    # the same with OPc given directly, upper-case hex accepted
    rc, out, err = run("milenage", "--k", tv["k"].upper(), "--opc", tv["opc"],
                       "--rand", tv["rand"], "--sqn", tv["sqn"], "--amf=" + tv["amf"])
    assert rc == 0, err
    assert kv(out) == got


# TS 35.233 test sets 1, 3 (256-bit K, 256-bit MAC, 256-bit IK) and 6 (2 iterations)
TUAK = [
    (["--k", "abababababababababababababababab",
      "--top", "5555555555555555555555555555555555555555555555555555555555555555",
      "--rand", "42424242424242424242424242424242", "--sqn", "111111111111", "--amf", "ffff"],
     dict(topc="bd04d9530e87513c5d837ac2ad954623a8e2330c115305a73eb45d1f40cccbff",
          f1="f9a54e6aeaa8618d", f1star="e94b4dc6c7297df3", f2="657acd64",
          f3="d71a1e5c6caffe986a26f783e5c78be1", f4="be849fa2564f869aecee6f62d4337e72",
          f5="719f1e9b9054", f5star="e7af6b3d0e38")),
    (["--k", "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0efeeedecebeae9e8e7e6e5e4e3e2e1e0",
      "--top", "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
      "--rand", "0123456789abcdef0123456789abcdef", "--sqn", "0123456789ab", "--amf", "abcd",
      "--mac-len", "256", "--res-len", "64", "--ik-len", "256"],
     dict(topc="305425427e18c503c8a4b294ea72c95d0c36c6c6b29d0c65de5974d5977f8524",
          f1="d97b75a1776065271b1e212bc3b1bf173f438b21e6c64a55a96c372e085e5cc5",
          f1star="427bbf07c6e3a86c54f8c5216499f3909a6fd4a164c9fe235b1550258111b821",
          f2="07021c73e7635c7d", f3="4d59ac796834eb85d11fa148a5058c3c",
          f4="126d47500136fdc5ddfd14f19ebf16749ce4b6435323fbb5715a3a796a6082bd",
          f5="1d6622c4e59a", f5star="f84eb338848c")),
    (["--k", "1574ca56881d05c189c82880f789c9cd4244955f4426aa2b69c29f15770e5aa5",
      "--top", "e59f6eb10ea406813f4991b0b9e02f181edf4c7e17b480f66d34da35ee88c95e",
      "--rand", "c570aac68cde651fb1e3088322498bef", "--sqn", "c89bb71f3a41", "--amf", "297d",
      "--keccak", "2", "--mac-len", "256", "--res-len", "256", "--ck-len", "256",
      "--ik-len", "256"],
     dict(topc="b04a66f26c62fcd6c82de22a179ab65506ecf47f56245cd149966cfa9cec7a51",
          f1="90d2289ed1ca1c3dbc2247bb480d431ac71d2e4a7677f6e997cfddb0cbad88b7",
          f1star="427355dbac30e825063aba61b556e87583abac638e3ab01c4c884ad9d458dc2f",
          f2="d67e6e64590d22eecba7324afa4af4460c93f01b24506d6e12047d789a94c867",
          f3="ede57edfc57cdffe1aae75066a1b7479bbc3837438e88d37a801cccc9f972b89",
          f4="48ed9299126e5057402fe01f9201cf25249f9c5c0ed2afcf084755daff1d3999",
          f5="6aae8d18c448", f5star="8c5f33b61f4e")),
]


@pytest.mark.parametrize("args,want", TUAK, ids=["set1", "set3", "set6"])
def test_tuak(args, want):
    rc, out, err = run("tuak", *args)
    assert rc == 0, err
    got = kv(out)
    assert list(got) == ["topc"] + OUTS
    assert got == want
    # TOPc given directly gives the same functions
    i = args.index("--top")
    args2 = args[:i] + ["--topc", want["topc"]] + args[i + 2:]
    rc, out, err = run("tuak", *args2)
    assert rc == 0, err
    assert kv(out) == want


def test_xor():
    rc, out, err = run("xor", "--k", "000102030405060708090a0b0c0d0e0f",
                       "--rand", "34" * 16, "--sqn", "000000000001", "--amf", "8000")
    assert rc == 0, err
    assert kv(out) == dict(f1="343536373030b233", f1star="343536373030b233",
                           f2="3435363730313233", f3="353637303132333c3d3e3f38393a3b34",
                           f4="3637303132333c3d3e3f38393a3b3435", f5="37303132333c",
                           f5star="37303132333c")
    rc, out, err = run("xor", "--k", "000102030405060708090a0b0c0d0e0f", "--rand", "34" * 16,
                       "--sqn", "000000000001", "--amf", "8000", "--res-len", "128")
    assert rc == 0, err
    assert kv(out)["f2"] == "34353637303132333c3d3e3f38393a3b"


# --- aka-response -----------------------------------------------------------

S1 = MILENAGE[0]
RAND = bytes.fromhex(S1["rand"])
AK = bytes.fromhex(S1["f5"])
SQN = bytes.fromhex(S1["sqn"])
AUTN = bytes(a ^ b for a, b in zip(SQN, AK)) + bytes.fromhex(S1["amf"]) + bytes.fromhex(S1["f1"])
NONCE = base64.b64encode(RAND + AUTN).decode()
RES, CK, IK = (bytes.fromhex(S1[n]) for n in ("f2", "f3", "f4"))
USER, REALM, URI = "user@ims.example", "ims.example", "sip:ims.example"


def py_digest(alg, pw, nonce, qop="auth", nc="00000001", cnonce="0a4f113b",
              method="REGISTER", body=b""):
    def h(b):
        return hashlib.new(alg, b).hexdigest().encode()
    ha1 = h(USER.encode() + b":" + REALM.encode() + b":" + pw)
    a2 = method.encode() + b":" + URI.encode()
    if qop == "auth-int":
        a2 += b":" + h(body)
    ha2 = h(a2)
    if qop:
        s = b":".join([ha1, nonce.encode(), nc.encode(), cnonce.encode(), qop.encode(), ha2])
    else:
        s = b":".join([ha1, nonce.encode(), ha2])
    return h(s).decode()


def aka_args(*extra, nonce=NONCE):
    return ["aka-response", "--k", S1["k"], "--op", S1["op"], "--nonce", nonce,
            "--username", USER, "--realm", REALM, "--uri", URI, *extra]


@pytest.mark.parametrize("version,sha", [(1, False), (2, False), (1, True), (2, True)])
def test_aka_response_versions(version, sha):
    extra = ["--qop", "auth", "--cnonce", "0a4f113b", "--aka-version", str(version)]
    if sha:
        extra.append("--sha256")
    rc, out, err = run(*aka_args(*extra))
    assert rc == 0, err
    got = kv(out)
    assert got["sqn"] == S1["sqn"]
    assert (got["res"], got["ck"], got["ik"]) == (S1["f2"], S1["f3"], S1["f4"])
    alg = "sha256" if sha else "md5"
    if version == 1:
        pw = RES
    else:
        pw = base64.b64encode(hmac.new(RES + IK + CK, b"http-digest-akav2-password",
                                       getattr(hashlib, alg)).digest())
    assert got["response"] == py_digest(alg, pw, NONCE)


def test_aka_response_qop_variants():
    rc, out, err = run(*aka_args())
    assert rc == 0, err
    assert kv(out)["response"] == py_digest("md5", RES, NONCE, qop="")
    rc, out, err = run(*aka_args("--qop", "auth-int", "--cnonce", "xyz", "--nc", "0000000a",
                                 "--body", "v=0", "--method", "INVITE"))
    assert rc == 0, err
    assert kv(out)["response"] == py_digest("md5", RES, NONCE, qop="auth-int", nc="0000000a",
                                            cnonce="xyz", method="INVITE", body=b"v=0")


def test_aka_response_server_data_in_nonce():
    nonce = base64.b64encode(RAND + AUTN + b"opaque-server-data").decode()
    rc, out, err = run(*aka_args(nonce=nonce))
    assert rc == 0, err
    assert kv(out)["response"] == py_digest("md5", RES, nonce, qop="")


def test_aka_response_bad_mac():
    bad = bytearray(AUTN)
    bad[-1] ^= 1
    rc, out, err = run(*aka_args(nonce=base64.b64encode(RAND + bytes(bad)).decode()))
    assert rc == 1
    assert out == ""
    assert "MAC" in err
    # the wrong OP is the same failure
    args = aka_args()
    args[args.index("--op") + 1] = "00" * 16
    rc, out, err = run(*args)
    assert rc == 1 and "MAC" in err


def test_aka_response_resync():
    # The SIM has already seen a higher SQN: it refuses and sends AUTS.
    sqn_ms = "fffffffffe40"
    rc, out, err = run(*aka_args("--sqn-ms", sqn_ms))
    assert rc == 0, err
    got = kv(out)
    assert set(got) == {"sqn", "auts", "response"}
    auts = bytes.fromhex(got["auts"])
    assert len(auts) == 14
    # SQN_MS xor AK* (f5star of set 1) is the first 6 bytes
    aks = bytes.fromhex(S1["f5star"])
    assert bytes(a ^ b for a, b in zip(auts[:6], aks)).hex() == sqn_ms
    # RFC 3310 §3.4: empty password
    assert got["response"] == py_digest("md5", b"", NONCE, qop="")
    # A SIM behind the network accepts (fresh SQN), within the window.
    rc, out, err = run(*aka_args("--sqn-ms", "ff9bb4d0a000"))
    assert rc == 0 and "res" in kv(out)
    # ... but not if the jump is larger than --delta SEQ steps
    rc, out, err = run(*aka_args("--sqn-ms", "ff9bb4d0a000", "--delta", "4"))
    assert rc == 0 and "auts" in kv(out)


def test_aka_response_tuak_and_xor():
    # XOR: build a challenge by hand from TS 34.108 §8.1.2
    k = bytes(range(16))
    rand = bytes([0x34]) * 16
    xd = bytes(a ^ b for a, b in zip(k, rand))
    sqn, amf = bytes.fromhex("000000000021"), bytes.fromhex("8000")
    mac = bytes(a ^ b for a, b in zip(xd[:8], sqn + amf))
    autn = bytes(a ^ b for a, b in zip(sqn, xd[3:9])) + amf + mac
    nonce = base64.b64encode(rand + autn).decode()
    rc, out, err = run("aka-response", "--algo", "xor", "--k", k.hex(), "--nonce", nonce,
                       "--username", USER, "--realm", REALM, "--uri", URI)
    assert rc == 0, err
    got = kv(out)
    assert got["sqn"] == sqn.hex() and got["res"] == xd[:8].hex()
    assert got["response"] == py_digest("md5", xd[:8], nonce, qop="")
    # TUAK (TS 35.233 set 1): AUTN = SQN xor AK || AMF || MAC-A
    t = TUAK[0][1]
    sqn = bytes.fromhex("111111111111")
    autn = bytes(a ^ b for a, b in zip(sqn, bytes.fromhex(t["f5"]))) + b"\xff\xff" + \
        bytes.fromhex(t["f1"])
    nonce = base64.b64encode(bytes([0x42]) * 16 + autn).decode()
    rc, out, err = run("aka-response", "--algo", "tuak", "--k", "ab" * 16, "--topc", t["topc"],
                       "--nonce", nonce, "--username", USER, "--realm", REALM, "--uri", URI)
    assert rc == 0, err
    assert kv(out)["res"] == t["f2"]


# --- bad input ----------------------------------------------------------------

GOOD = ["--k", S1["k"], "--op", S1["op"], "--rand", S1["rand"], "--sqn", S1["sqn"],
        "--amf", S1["amf"]]


def with_opt(name, value):
    a = list(GOOD)
    a[a.index(name) + 1] = value
    return a


@pytest.mark.parametrize("args,msg", [
    (with_opt("--k", S1["k"][:-1]), "odd number of hex digits"),
    (with_opt("--k", S1["k"][:-2]), "expected 32 hex digits"),
    (with_opt("--op", "zz" * 16), "not a hex string"),
    (with_opt("--sqn", "1234"), "expected 12 hex digits"),
    (with_opt("--amf", "8000aa"), "expected 4 hex digits"),
    (with_opt("--rand", ""), "expected 32 hex digits"),
    (GOOD[:-2], "missing --amf"),
    (GOOD + ["--opc", S1["opc"]], "exactly one of --op and --opc"),
    (GOOD + ["--bogus", "1"], "unknown option --bogus"),
    (GOOD + ["--k", S1["k"]], "given twice"),
    (GOOD + ["stray"], "unexpected argument"),
    (GOOD[:-1], "--amf needs a value"),
])
def test_milenage_bad_input(args, msg):
    rc, out, err = run("milenage", *args)
    assert rc == 2
    assert out == ""
    assert msg in err


@pytest.mark.parametrize("extra,msg", [
    (["--mac-len", "32"], "--mac-len"),
    (["--res-len", "16"], "--res-len"),
    (["--ck-len", "64"], "--ck-len"),
    (["--keccak", "0"], "--keccak"),
    (["--keccak", "-1"], "--keccak"),
    (["--keccak", "abc"], "--keccak"),
    (["--keccak", " 2"], "--keccak"),
    (["--keccak", "256"], "from 1 to 255"),
])
def test_tuak_bad_input(extra, msg):
    rc, out, err = run("tuak", *TUAK[0][0], *extra)
    assert rc == 2 and out == "" and msg in err
    args = list(TUAK[0][0])
    args[args.index("--k") + 1] = "ab" * 24  # 192 bits
    rc, out, err = run("tuak", *args)
    assert rc == 2 and "expected 32 or 64 hex digits" in err


@pytest.mark.parametrize("extra,msg", [
    (["--res-len", "44"], "multiple of 8"),
    (["--res-len", "256"], "--res-len"),
    (["--op", "00" * 16], "unknown option --op"),
])
def test_xor_bad_input(extra, msg):
    rc, out, err = run("xor", "--k", "00" * 16, "--rand", "00" * 16, "--sqn", "00" * 6,
                       "--amf", "0000", *extra)
    assert rc == 2 and msg in err


@pytest.mark.parametrize("extra,nonce,msg", [
    ([], "not-base64!", "--nonce"),
    ([], base64.b64encode(b"x" * 20).decode(), "--nonce"),
    ([], "A" * 2000, "--nonce"),
    (["--qop", "auth"], NONCE, "needs --cnonce"),
    (["--qop", "auth-conf"], NONCE, "--qop"),
    (["--qop", "auth", "--cnonce", "c", "--nc", "1"], NONCE, "--nc"),
    (["--cnonce", "c"], NONCE, "need --qop"),
    (["--aka-version", "3"], NONCE, "--aka-version"),
    (["--algo", "comp128"], NONCE, "--algo"),
    (["--sqn-ms", "12"], NONCE, "--sqn-ms"),
    (["--delta", "5"], NONCE, "--delta needs --sqn-ms"),
    # options of another algorithm are refused, not ignored
    (["--top", "00" * 32], NONCE, "--top is not used by Milenage"),
    (["--mac-len", "128"], NONCE, "--mac-len is not used by Milenage"),
    (["--algo", "xor", "--res-len", "64"], NONCE, "--op is not used by the XOR algorithm"),
])
def test_aka_response_bad_input(extra, nonce, msg):
    rc, out, err = run(*aka_args(*extra, nonce=nonce))
    assert rc == 2 and out == "" and msg in err, err


def test_help_and_unknown_command():
    rc, out, err = run("--help")
    assert rc == 0
    for c in ("milenage", "tuak", "xor", "aka-response"):
        assert c in out
        rc, out2, err = run(c, "--help")
        assert rc == 0 and "usage: imsctl " + c in out2 and "example" in out2
    rc, out, err = run("frobnicate")
    assert rc == 2 and "unknown command" in err
    rc, out, err = run()
    assert rc == 2 and "usage" in err
