"""IMS-AKA registration with sec-agree and SIP over the SAs, against imsd
itself (docs/ipsec.md, TS 33.203 §7, TS 24.229 §5.2.2).

Two network namespaces joined by a veth pair: "core" runs imsd (sip_addr
10.202.0.1 and fd00:202::1, ipsec: true: it builds its TUN device and its
own namespace for the protected ports, as root does), "ue" runs
ipsec_sip_ue.py, a UE whose ESP is scapy's and whose AKA is imsctl's. For
every alg x ealg pair of the manual: REGISTER -> 401 with Security-Server ->
REGISTER over the new SAs with Security-Verify -> 200 over the SA, OPTIONS
over the SA (Supported names sec-agree), de-REGISTER over the SA. Each pair
registers again over the previous one's registration (a new SA set; the old
one retires). Then the wrong ways: the second REGISTER in clear, a
Security-Verify that differs, Require: sec-agree with nothing acceptable.

Needs root (namespaces, TUN, raw sockets): the test machine runs as root.
"""
import json
import os
import re
import select
import subprocess
import time
import uuid

import pytest

from conftest import IMSCTL_BIN, IMSD_BIN, Imsd, write_cfg
import esp_ref
from test_register import AKA_AMF, AKA_K, AKA_OP, SIPP, SIPP_DIR

HERE = os.path.dirname(os.path.abspath(__file__))
K = "465b5ce8b199b49faa5f0a2ee238a6bc"
OPC = "cd63cb71954a9f4e48a5994e37a02baf"
IMPI = "001010000000201@ims.test"
PAIRS = [(a, e) for a in esp_ref.AALGS for e in esp_ref.EALGS if esp_ref.pair_valid(a, e)]
SIP_PORT = 5060


def sh(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class NsImsd(Imsd):
    """imsd started inside a network namespace (`ip netns exec` execs it,
    so the PID is imsd's own and SIGTERM stops it)."""

    def __init__(self, ns, cfg_path):  # pylint: disable=super-init-not-called
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        self.cfg_path = cfg_path
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, IMSD_BIN, cfg_path],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self.out = b""
        self.err = b""


@pytest.fixture(scope="module")
def nets():
    tag = uuid.uuid4().hex[:6]
    core, ue = "irc" + tag, "iru" + tag
    sh("ip", "netns", "add", core)
    sh("ip", "netns", "add", ue)
    try:
        sh("ip", "link", "add", "rc" + tag, "netns", core, "type", "veth",
           "peer", "name", "ru" + tag, "netns", ue)
        for ns, dev, v4, v6 in ((core, "rc" + tag, "10.202.0.1/24", "fd00:202::1/64"),
                                (ue, "ru" + tag, "10.202.0.2/24", "fd00:202::2/64")):
            sh("ip", "-n", ns, "addr", "add", v4, "dev", dev)
            sh("ip", "-n", ns, "-6", "addr", "add", v6, "dev", dev, "nodad")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", dev, "up")
        yield core, ue
    finally:
        subprocess.run(["ip", "netns", "del", core])
        subprocess.run(["ip", "netns", "del", ue])


def cfg_text(tmp, extra=""):
    aalgs = ", ".join('"%s"' % a for a in esp_ref.AALGS)
    ealgs = ", ".join('"%s"' % e for e in esp_ref.EALGS)
    return f"""{{
  log_filename: "{tmp}/ims.log",
  log_options: "all.level=info",
  sip_addr: ["10.202.0.1:{SIP_PORT}", "[fd00:202::1]:{SIP_PORT}"],
  domain: "ims.test",
  ipsec: true,
  ipsec_tun_setup_script_filename: "{tmp}/ipsec_tun_setup",
  ipsec_aalg_list: [{aalgs}],
  ipsec_ealg_list: [{ealgs}],
  {extra}
  ue_db: [ {{ imsi: "001010000000201", impi: "{IMPI}", impu: ["sip:ue201", "tel:+33600000201"],
             sim_algo: "milenage", K: "{K}", opc: "{OPC}", sqn: "000000000020",
             authent_qop: "auth" }},
           {{ imsi: "001010000000101", impi: "sippaka@ims.test",
              impu: ["sip:sippaka", "tel:+33600000101"],
              K: "{AKA_K}", op: "{AKA_OP}", amf: "{AKA_AMF}", authent_qop: "auth" }} ],
}}
"""


@pytest.fixture(scope="module")
def core(nets, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ipsec_reg")
    d = NsImsd(nets[0], write_cfg(tmp, cfg_text(tmp)))
    try:
        d.wait_ready()
        yield d, tmp
    finally:
        d.stop()
        assert not d.sanitizer_report(), d.sanitizer_report()


class UeProc:
    def __init__(self, ns):
        self.p = subprocess.Popen(["ip", "netns", "exec", ns, "/usr/bin/python3",
                                   os.path.join(HERE, "ipsec_sip_ue.py")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)

    def ask(self, req, timeout=60):
        self.p.stdin.write(json.dumps(req) + "\n")
        self.p.stdin.flush()
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        assert r, "no answer from the UE"
        return json.loads(self.p.stdout.readline())

    def close(self):
        self.p.stdin.close()
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


@pytest.fixture(scope="module")
def ue(nets):
    u = UeProc(nets[1])
    yield u
    u.close()


SPI = [20000]


def wait_log(tmp, text, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        log = (tmp / "ims.log").read_text()
        if text in log or time.monotonic() > deadline:
            return log
        time.sleep(0.05)


def req(alg, ealg, mode="ok", v6=False):
    SPI[0] += 2
    n = SPI[0] % 1000
    return {"alg": alg, "ealg": ealg, "mode": mode, "spi_c": SPI[0], "spi_s": SPI[0] + 1,
            "port_c": 31000 + 2 * n, "port_s": 31001 + 2 * n, "plain_port": 5062,
            "ue_ip": "fd00:202::2" if v6 else "10.202.0.2",
            "pcscf_ip": "fd00:202::1" if v6 else "10.202.0.1", "pcscf_port": SIP_PORT,
            "imsctl": IMSCTL_BIN, "k": K, "opc": OPC, "impi": IMPI}


def test_datapath_started(core):
    """imsd started the datapath (its protected sockets are what the
    registrations below reach: port-s from the UE's port-c, through ESP)."""
    d, tmp = core
    log = wait_log(tmp, "IPsec on imsd-ipsec")
    assert re.search(r"IPsec on \S+ in namespace imsd-ipsec-\d+", log), log[-2000:]


@pytest.mark.parametrize("alg,ealg", PAIRS)
def test_register_over_sa(core, ue, alg, ealg):
    r = ue.ask(req(alg, ealg))
    assert r.get("codes") == [401, 200, 200, 200], r
    assert "ipsec-3gpp" in r["server"] and "alg=" + alg in r["server"], r
    assert "sec-agree" in r["supported"], r


@pytest.mark.parametrize("alg,ealg", [("hmac-sha-1-96", "aes-cbc"), ("aes-gmac", "aes-gcm")])
def test_register_over_sa_ipv6(core, ue, alg, ealg):
    r = ue.ask(req(alg, ealg, v6=True))
    assert r.get("codes") == [401, 200, 200, 200], r


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
def test_register_over_sa_tcp(core, ue, v6):
    """The second REGISTER over TCP through the SAs: the UE's connection from
    its port-c to our port-s (imsd's kernel TCP in the datapath's namespace);
    the 200 comes back on it, over the SA."""
    r = ue.ask(req("hmac-sha-1-96", "aes-cbc", "tcp", v6=v6))
    assert r.get("codes") == [401, 200], r
    assert "SIP/2.0/TCP" in r["last"], r


def test_second_register_unprotected(core, ue):
    """TS 33.203 §7.2: the second REGISTER must come over the new SAs."""
    r = ue.ask(req("hmac-sha-1-96", "aes-cbc", "unprotected"))
    assert r.get("codes") == [401, 403], r
    assert "not over the security associations" in r["last"], r


def test_security_verify_differs(core, ue):
    r = ue.ask(req("hmac-sha-1-96", "aes-cbc", "badverify"))
    assert r.get("codes") == [401, 403], r
    assert "Security-Verify" in r["last"], r


def test_sec_agree_required_nothing_acceptable(core, ue):
    """RFC 3329 §2.3.1, TS 24.229 §5.2.2: 494."""
    r = ue.ask(req("hmac-sha-1-96", "aes-cbc", "nooffer"))
    assert r.get("codes") == [494], r


def test_phone_without_sec_agree(core, ue):
    """ipsec: true, a phone that offers no sec-agree: registers in clear,
    the 401 carries no Security-Server."""
    r = ue.ask(req("hmac-sha-1-96", "aes-cbc", "plain"))
    assert r.get("codes") == [401, 200], r
    assert r["server"] is None, r


def test_sets_removed_with_registrations(core, ue):
    """A registration ended (de-REGISTER over the SA): its SA set retires and
    is deleted (REG_IPSEC_RETIRE_MS later), logged SA by SA."""
    d, tmp = core
    r = ue.ask(req("hmac-md5-96", "null"))
    assert r.get("codes") == [401, 200, 200, 200], r
    log = (tmp / "ims.log").read_text()
    sets = re.findall(r"sa add set=(\d+) spi=0x([0-9a-f]+) dir=in src=10.202.0.2:(\d+)", log)
    last = sets[-1][0]
    assert len([x for x in sets if x[0] == last]) == 2, sets[-4:]  # in_s and in_c
    deadline = time.monotonic() + 30
    while True:  # one line per SA of the set, all four
        log = wait_log(tmp, "sa del set=%s " % last, timeout=1)
        if len(re.findall(r"sa del set=%s " % last, log)) == 4 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(re.findall(r"sa del set=%s " % last, log)) == 4, log[-3000:]


def test_monitor_shows_sas(core, ue):
    """`ipsec` lists the four SAs of a registered UE, `ipsec keys` their
    keys, `users` marks the registration protected, `stats` counts ESP."""
    d, tmp = core
    r = ue.ask(req("hmac-sha-1-96", "aes-cbc", "stay"))
    assert r.get("codes") == [401, 200, 200], r
    spi_c = SPI[0]
    text = d.command("ipsec", "counters.ipsec.drop_io")
    mine = [l for l in text.splitlines() if "10.202.0.2:%d " % (31000 + 2 * (spi_c % 1000)) in l
            or "10.202.0.2:%d " % (31001 + 2 * (spi_c % 1000)) in l]
    assert len(mine) == 4, text
    for l in mine:
        assert " IPv4 active " in l and "ue=%s" % IMPI in l and "mode=transport" in l, l
        assert "alg=hmac-sha-1-96 ealg=aes-cbc" in l and "cipher_key" not in l, l
    assert sum("dir=in" in l for l in mine) == 2
    assert "spi=0x%08x" % spi_c in text  # out_c: the UE's spi-c
    text = d.command("ipsec keys", "counters.ipsec.drop_io")
    assert "cipher_key=" in text and "authent_key=" in text
    text = d.command("users %s" % IMPI, "expires=")
    assert "registered  auth=AKAv1-MD5  ipsec" in text, text
    text = d.command("stats", "counters.ipsec.drop_io")
    esp_rx = int(re.search(r"counters.ipsec.esp_rx: (\d+)", text).group(1))
    assert esp_rx >= 2 and re.search(r"ipsec.sets: [1-9]", text), text


def test_notify_to_port_s(core, ue):
    """TS 33.203 §7.1: requests to a protected UE (here the NOTIFY of its reg
    event) leave from our port-c to its port-s, under the UE's spi-s."""
    r = ue.ask(req("hmac-sha-1-96", "aes-cbc", "subscribe"))
    assert r.get("codes") == [401, 200, 200, 200], r
    n = r.get("notify")
    assert n, r
    assert n["spi"] == SPI[0] + 1 and n["sport"] == 6100, r
    assert n["dport"] == 31001 + 2 * (SPI[0] % 1000), r


@pytest.mark.parametrize("transport", ["u1", "t1"])
def test_sipp_without_sec_agree(core, nets, transport):
    """SIPp's AKA registration (no sec-agree) with IPsec running: as without."""
    assert SIPP, "sipp is not installed (make deps installs sip-tester)"
    cmd = ["ip", "netns", "exec", nets[1], SIPP, "-sf", os.path.join(SIPP_DIR, "reg_aka.xml"),
           "-m", "1", "-i", "10.202.0.2", "-p", "5070" if transport == "u1" else "5071",
           "-t", transport, "-nostdin", "-timeout", "30s", "-timeout_error",
           "-max_retrans", "5", "10.202.0.1:%d" % SIP_PORT]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
                       cwd=SIPP_DIR)
    assert p.returncode == 0, (p.stdout + p.stderr).decode(errors="replace")[-3000:]
