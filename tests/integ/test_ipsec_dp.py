"""imsd's IPsec datapath over the wire (docs/ipsec.md): TUN device, network
namespace, raw ESP sockets, in both set-ups of manual §5.2.

Two network namespaces joined by a veth pair: "core" (10.201.x.1,
fd00:201::1) runs build-asan/tests/unit/ipsec/ipsec_dp_tool, the datapath
with a UDP/TCP echo on the protected server port standing in for imsd's
protected SIP sockets; "ue" runs ipsec_ue.py, a UE whose ESP is scapy's.
For every alg x ealg pair, IPv4 and IPv6: the UE sends a UDP datagram from
its port-c to our port-s through its SA, the echo answers, the reply comes
back through the SA to the UE's port-c and decrypts with scapy. A broken
ICV, a replay and an unknown SPI get no answer and are counted.

Needs root (namespaces, TUN, raw sockets): the test machine runs as root.
"""
import os
import subprocess
import select
import uuid

import pytest

from conftest import IMSD_BIN
import esp_ref
from capture import Capture

HERE = os.path.dirname(os.path.abspath(__file__))
DP_TOOL = os.path.join(os.path.dirname(IMSD_BIN), "tests", "unit", "ipsec", "ipsec_dp_tool")
CK = "b40ba9a3c58b2a05bbf0d987b21bf8cb"
IK = "f769bcd751044604127672711c6d3441"
PAIRS = [(a, e) for a in esp_ref.AALGS for e in esp_ref.EALGS if esp_ref.pair_valid(a, e)]
PORT_C, PORT_S = 5100, 5101


def sh(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Line:
    """A child process spoken to one line at a time."""

    def __init__(self, argv, env=None):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env)

    def readline(self, timeout=20):
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        assert r, "no answer from %s" % self.p.args[-1]
        return self.p.stdout.readline().split()

    def ask(self, line, timeout=20):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        return self.readline(timeout)

    def close(self):
        self.p.stdin.close()
        try:
            rc = self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        return rc, self.p.stderr.read()


@pytest.fixture(scope="module")
def nets():
    tag = uuid.uuid4().hex[:6]
    core, ue = "ipc" + tag, "ipu" + tag
    sh("ip", "netns", "add", core)
    sh("ip", "netns", "add", ue)
    try:
        sh("ip", "link", "add", "vc" + tag, "netns", core, "type", "veth",
           "peer", "name", "vu" + tag, "netns", ue)
        for ns, dev, v4, v6 in ((core, "vc" + tag, "10.201.0.1/24", "fd00:201::1/64"),
                                (ue, "vu" + tag, "10.201.0.2/24", "fd00:201::2/64")):
            sh("ip", "-n", ns, "addr", "add", v4, "dev", dev)
            sh("ip", "-n", ns, "-6", "addr", "add", v6, "dev", dev, "nodad")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", dev, "up")
        yield core, ue, tag
    finally:
        subprocess.run(["ip", "netns", "del", core])
        subprocess.run(["ip", "netns", "del", ue])


def start_dp(core, tmp_path, extra=()):
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1")
    dp = Line(["ip", "netns", "exec", core, DP_TOOL, *extra, "10.201.0.1,fd00:201::1",
               str(PORT_C), str(PORT_S), str(tmp_path / "ipsec_tun_setup")], env=env)
    first = dp.readline()
    assert first[0] == "ready", first
    return dp


@pytest.fixture(scope="module")
def dp(nets, tmp_path_factory):
    d = start_dp(nets[0], tmp_path_factory.mktemp("ipsec"))
    yield d
    rc, err = d.close()
    assert rc == 0, err
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err


@pytest.fixture(scope="module")
def ue(nets):
    u = Line(["ip", "netns", "exec", nets[1], "/usr/bin/python3",
              os.path.join(HERE, "ipsec_ue.py")])
    yield u
    u.close()


SPI = [7000]


def add_sa(dp, ue_ip, alg, ealg, ue_port_c=6000, ue_port_s=6001):
    SPI[0] += 2
    r = dp.ask("add %s %s %s %d %d %d %d %s %s" % (ue_ip, alg, ealg, SPI[0], SPI[0] + 1,
                                                    ue_port_c, ue_port_s, CK, IK))
    assert r[0] == "ok", r
    return int(r[1]), SPI[0], int(r[3])  # id, the UE's spi-c, our spi-s


def send(ue, af, alg, ealg, spi_out, spi_in, seq, data, sport=6000, dport=PORT_S,
         tamper=False):
    ue_ip, p_ip = ("10.201.0.2", "10.201.0.1") if af == 4 else ("fd00:201::2", "fd00:201::1")
    return ue.ask("udp %d %s %s %s %s %d %d %s %s %d %d %d %s%s" % (
        af, ue_ip, p_ip, alg, ealg, spi_out, spi_in, CK, IK, sport, dport, seq,
        data.hex(), " tamper" if tamper else ""))


def stats(dp):
    r = dp.ask("stats")
    assert r[0] == "ok"
    return dict(zip(("rx", "tx", "no_sa", "auth", "replay", "policy"), map(int, r[1:])))


@pytest.mark.parametrize("af", [4, 6])
@pytest.mark.parametrize("alg,ealg", PAIRS)
def test_udp_through_sa(dp, ue, af, alg, ealg):
    ue_ip = "10.201.0.2" if af == 4 else "fd00:201::2"
    sid, ue_spi_c, our_spi_s = add_sa(dp, ue_ip, alg, ealg)
    msg = b"MESSAGE sip:alice@ims.example SIP/2.0\r\nContent-Length: 0\r\n\r\n"
    r = send(ue, af, alg, ealg, our_spi_s, ue_spi_c, 1, msg)
    assert r == ["ok", (b"echo:" + msg).hex()], (alg, ealg, r)
    r = send(ue, af, alg, ealg, our_spi_s, ue_spi_c, 2, b"x" * 1200)
    assert r == ["ok", (b"echo:" + b"x" * 1200).hex()], (alg, ealg, r)
    assert dp.ask("del %d" % sid) == ["ok"]


def test_refused_packets(dp, ue):
    alg, ealg = "hmac-sha-1-96", "aes-cbc"
    sid, ue_spi_c, our_spi_s = add_sa(dp, "10.201.0.2", alg, ealg)
    before = stats(dp)
    assert send(ue, 4, alg, ealg, our_spi_s, ue_spi_c, 5, b"ok")[0] == "ok"
    # broken ICV, replay of 5, an SPI nobody has: no answer, each counted
    assert send(ue, 4, alg, ealg, our_spi_s, ue_spi_c, 6, b"t", tamper=True) == \
        ["err", "timeout"]
    assert send(ue, 4, alg, ealg, our_spi_s, ue_spi_c, 5, b"again") == ["err", "timeout"]
    assert send(ue, 4, alg, ealg, our_spi_s ^ 0x10000, ue_spi_c, 7, b"who") == \
        ["err", "timeout"]
    # through the SA but to our client port: outside the SA's selectors
    assert send(ue, 4, alg, ealg, our_spi_s, ue_spi_c, 8, b"p", dport=PORT_C) == \
        ["err", "timeout"]
    after = stats(dp)
    assert after["auth"] - before["auth"] == 1
    assert after["replay"] - before["replay"] == 1
    assert after["no_sa"] - before["no_sa"] >= 1
    assert after["policy"] - before["policy"] == 1
    assert after["rx"] - before["rx"] == 1
    # the SA set is gone with its registration: nothing passes any more
    assert dp.ask("del %d" % sid) == ["ok"]
    assert send(ue, 4, alg, ealg, our_spi_s, ue_spi_c, 9, b"late") == ["err", "timeout"]


def test_non_root_setup(nets, ue, tmp_path):
    """ipsec_ifname + ipsec_netns: the operator prepares the TUN device in a
    namespace exactly as manual §5.2 lists, the datapath attaches to it."""
    core, _, tag = nets
    ns, ifname = "ipn" + tag, "ipt" + tag
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "-n", core, "tuntap", "add", "mode", "tun", ifname)
        sh("ip", "-n", core, "link", "set", "dev", ifname, "name", ifname, "netns", ns)
        sh("ip", "-n", ns, "addr", "add", "10.201.0.1/32", "dev", ifname)
        sh("ip", "-n", ns, "-6", "addr", "add", "fd00:201::1/128", "dev", ifname, "nodad")
        sh("ip", "-n", ns, "link", "set", ifname, "up", "mtu", "1400")
        sh("ip", "-n", ns, "route", "add", "default", "dev", ifname)
        sh("ip", "-n", ns, "-6", "route", "add", "default", "dev", ifname)
        d = start_dp(core, tmp_path, ("-i", ifname, "-n", ns))
        try:
            alg, ealg = "hmac-md5-96", "des-ede3-cbc"
            for af, ip in ((4, "10.201.0.2"), (6, "fd00:201::2")):
                _, ue_spi_c, our_spi_s = add_sa(d, ip, alg, ealg)
                assert send(ue, af, alg, ealg, our_spi_s, ue_spi_c, 1, b"nr") == \
                    ["ok", b"echo:nr".hex()]
        finally:
            rc, err = d.close()
        assert rc == 0, err
        assert not (tmp_path / "ipsec_tun_setup").exists()  # no script in this mode
    finally:
        subprocess.run(["ip", "netns", "del", ns])


# Wireshark 4.0's names; hmac-sha-1-160 (no 160-bit entry) and aes-gmac
# (no ENCR_NULL_AUTH_AES_GMAC) have none, so tshark cannot take those pairs.
WS_AUTH = {"null": "NULL", "hmac-md5-96": "HMAC-MD5-96 [RFC2403]",
           "hmac-sha-1-96": "HMAC-SHA-1-96 [RFC2404]",
           "hmac-md5-128": "ANY 128 bit authentication [no checking]",
           "aes-cmac-96": "ANY 96 bit authentication [no checking]"}
WS_ENC = {"null": "NULL", "aes-cbc": "AES-CBC [RFC3602]", "des-cbc": "DES-CBC [RFC2405]",
          "des-ede3-cbc": "TripleDES-CBC [RFC2451]", "blowfish": "BLOWFISH-CBC [RFC2451]",
          "aes-ctr": "AES-CTR [RFC3686]", "aes-gcm": "AES-GCM with 16 octet ICV [RFC4106]"}


def sa_lines(log):
    """The SAs imsd logged at ipsec.key=1: spi -> fields."""
    out = {}
    for line in log.splitlines():
        if " sa add " not in line or " ekey=" not in line:
            continue
        kv = dict(w.split("=", 1) for w in line.split() if "=" in w)
        out[int(kv["spi"], 16)] = kv
    return out


def host(addr):
    return addr.rsplit(":", 1)[0].strip("[]")


def test_tshark_decrypts_with_logged_keys(nets, ue, tmp_path):
    core, ue_ns, tag = nets
    pcap = tmp_path / "gm.pcap"
    pairs = [(a, e) for (a, e) in PAIRS if a in WS_AUTH and e in WS_ENC]
    d = start_dp(core, tmp_path)
    msg = b"MESSAGE sip:bob@ims.example SIP/2.0\r\nContent-Length: 0\r\n\r\n"
    try:
        with Capture(pcap, "esp", "vu" + tag, ue_ns, "10.201.0.1"):
            for alg, ealg in pairs:
                _, ue_spi_c, our_spi_s = add_sa(d, "10.201.0.2", alg, ealg)
                assert send(ue, 4, alg, ealg, our_spi_s, ue_spi_c, 1, msg)[0] == "ok"
    finally:
        rc, log = d.close()
    assert rc == 0, log
    sas = sa_lines(log)
    args = ["tshark", "-n", "-r", str(pcap), "-o", "esp.enable_encryption_decode:TRUE"]
    for spi, kv in sas.items():
        ws_auth = "NULL" if kv["ealg"] == "aes-gcm" else WS_AUTH.get(kv["alg"])
        if not ws_auth or kv["ealg"] not in WS_ENC:
            continue
        args += ["-o", 'uat:esp_sa:"IPv4","%s","%s","0x%08x","%s","0x%s","%s","0x%s"' % (
            host(kv["src"]), host(kv["dst"]), spi, WS_ENC[kv["ealg"]], kv["ekey"],
            ws_auth, kv["akey"])]
    out = subprocess.run(args + ["-T", "fields", "-e", "esp.spi", "-e", "udp.srcport",
                                 "-e", "udp.dstport", "-e", "_ws.malformed",
                                 "-e", "udp.payload", "-e", "sip.Method",
                                 "-Y", "esp"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = [r.split("\t") for r in out.stdout.splitlines() if r.strip()]
    assert len(rows) == 2 * len(pairs), out.stdout
    for spi, sport, dport, malformed, data, method in rows:
        assert not malformed, out.stdout
        assert {sport, dport} == {"6000", str(PORT_S)}, out.stdout
        payload = bytes.fromhex(data.replace(":", ""))
        assert payload in (msg, b"echo:" + msg), (spi, payload)
        if payload == msg:  # the request decodes as SIP inside the decrypted ESP
            assert method == "MESSAGE", (spi, method)
