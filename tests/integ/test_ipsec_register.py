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
from capture import Capture
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
            # a known link-local address too (test_register_link_local)
            sh("ip", "-n", ns, "-6", "addr", "add",
               "fe80::202:%d/64" % (1 if ns == core else 2), "dev", dev, "nodad")
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
  log_options: "all.level=info,ipsec.key=1",
  sip_addr: ["10.202.0.1:{SIP_PORT}", "[fd00:202::1]:{SIP_PORT}"],
  domain: "ims.test",
  ipsec: true,
  ipsec_tun_setup_script_filename: "{tmp}/ipsec_tun_setup",
  ipsec_aalg_list: [{aalgs}],
  ipsec_ealg_list: [{ealgs}],
  sms_centre_address: {{ type_of_number: "international", number: "+33699999999" }},
  echo: ["sip:echo"],
  {extra}
  ue_db: [ {{ imsi: "001010000000201", impi: "{IMPI}", impu: ["sip:ue201", "tel:+33600000201"],
             sim_algo: "milenage", K: "{K}", opc: "{OPC}", sqn: "000000000020",
             authent_qop: "auth" }},
           {{ imsi: "001010000000202", impi: "001010000000202@ims.test",
             impu: ["sip:ue202", "tel:+33600000202"],
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


def req(alg, ealg, mode="ok", v6=False, after=(), tcp=False, user="ue201"):
    SPI[0] += 2
    n = SPI[0] % 1000
    return {"after": list(after), "tcp": tcp, "user": user, "alg": alg, "ealg": ealg, "mode": mode, "spi_c": SPI[0], "spi_s": SPI[0] + 1,
            "port_c": 31000 + 2 * n, "port_s": 31001 + 2 * n, "plain_port": 5062,
            "ue_ip": "fd00:202::2" if v6 else "10.202.0.2",
            "pcscf_ip": "fd00:202::1" if v6 else "10.202.0.1", "pcscf_port": SIP_PORT,
            "imsctl": IMSCTL_BIN, "k": K, "opc": OPC,
            "impi": IMPI if user == "ue201" else "001010000000202@ims.test",
            "msisdn": "+33600000201" if user == "ue201" else "+33600000202"}


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


@pytest.mark.parametrize("mode", ["ok", "tcp"])
def test_register_link_local(core, nets, ue, mode):
    """A UE whose address is link-local (fe80::202:2 on its veth, imsd's
    sip_addr global on the same link): its SAs carry the zone of the
    interface the REGISTER came in on, ESP from it matches them, and what
    imsd sends over them reaches it (UDP: the direct path; TCP: the TUN
    device, whose packets name the UE without a zone)."""
    dev = "ru" + nets[1][len("iru"):]
    r = ue.ask(dict(req("hmac-sha-1-96", "aes-cbc", mode, v6=True),
                    ue_ip="fe80::202:2%" + dev))
    want = [401, 200, 200, 200] if mode == "ok" else [401, 200]
    assert r.get("codes") == want, r


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


@pytest.mark.parametrize("mode", ["badclient", "noclient"])
def test_security_client_differs(core, ue, mode):
    """TS 33.203 §7.2: the protected REGISTER repeats the first one's
    Security-Client; another list (here another alg) or none at all is
    what an edited first REGISTER leaves: 403, and the UE is not
    registered over those SAs."""
    r = ue.ask(req("hmac-sha-1-96", "aes-cbc", mode))
    assert r.get("codes") == [401, 403], r
    assert "Security-Client differs" in r["last"], r
    r = ue.ask(req("hmac-sha-1-96", "aes-cbc"))  # and the UE's next try works
    assert r.get("codes") == [401, 200, 200, 200], r


def test_sec_agree_required_nothing_acceptable(core, ue):
    """RFC 3329 §2.3.1, TS 24.229 §5.2.2: 494, with Security-Server listing
    our mechanisms (every algorithm of the lists, each offer a valid pair,
    no SPIs or ports)."""
    r = ue.ask(req("hmac-sha-1-96", "aes-cbc", "nooffer"))
    assert r.get("codes") == [494], r
    server = re.search(r"(?im)^Security-Server:[ \t]*([^\r\n]*)", r["last"]).group(1)
    offers = [o.strip() for o in server.split(",")]
    for a in esp_ref.AALGS:
        assert any(";alg=%s" % a in o for o in offers), server
    for e in esp_ref.EALGS:
        assert any(";ealg=%s;" % e in o for o in offers), server
    for o in offers:
        assert o.startswith("ipsec-3gpp;prot=esp;mod=trans;") and "spi-" not in o, server
        prm = dict(kv.split("=") for kv in o.split(";")[1:])
        assert esp_ref.pair_valid(prm["alg"], prm["ealg"]), o


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


# ---- MESSAGE and INVITE over the SAs (TS 33.203 §7.1, TS 24.229 §5.2.2) ----

def check_message(m, tcp=False):
    """MO SMS over the SA got 202; imsd's MESSAGEs (RP-ACK, then our SMS
    delivered back) came from our port-c to the UE's port-s: over UDP under
    the UE's spi-s, over TCP on a connection imsd opened from port-c."""
    assert m.get("code") == 202 and m.get("ack_code") in (200, 202), m
    assert sorted(x["mti"] for x in m["mt"]) == [1, 3], m
    n = SPI[0] % 1000
    for x in m["mt"]:
        if tcp:
            assert x["passive"] and x["rport"] == 6100 and x["lport"] == 31001 + 2 * n, m
        else:
            assert x["spi"] == SPI[0] + 1 and x["sport"] == 6100, m
            assert x["dport"] == 31001 + 2 * n, m


@pytest.mark.parametrize("alg,ealg", PAIRS)
def test_message_over_sa(core, ue, alg, ealg):
    r = ue.ask(req(alg, ealg, after=["message"]))
    assert r.get("codes") == [401, 200, 200, 200], r
    check_message(r["message"])


@pytest.mark.parametrize("alg,ealg", PAIRS)
def test_message_over_sa_tcp(core, ue, alg, ealg):
    """SIP over TCP through the SAs: the UE registers and sends its MESSAGE on
    its connection from port-c to our port-s; imsd's MESSAGEs to it go on a
    connection imsd opens from our port-c (bound there) to the UE's port-s."""
    r = ue.ask(req(alg, ealg, after=["message"], tcp=True))
    assert r.get("codes") == [401, 200, 200], r  # the last: de-REGISTER
    check_message(r["message"], tcp=True)
    assert len(r["opened"]) == 1 and r["opened"][0]["spi"] == SPI[0] + 1, r


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_message_over_sa_ipv6(core, ue, tcp):
    r = ue.ask(req("hmac-sha-1-96", "aes-cbc", v6=True, after=["message"], tcp=tcp))
    assert r["codes"][:2] == [401, 200] and r["codes"][-1] == 200, r
    check_message(r["message"], tcp=tcp)


@pytest.mark.parametrize("tcp,v6", [(False, False), (True, False), (False, True), (True, True)],
                         ids=["udp", "tcp", "udp-ipv6", "tcp-ipv6"])
def test_invite_over_sa(core, ue, tcp, v6):
    """INVITE over the SA to the echo service (200, ACK, BYE, 200), then to
    the UE itself: imsd's INVITE to the callee leaves from our port-c to its
    port-s (over TCP on the connection imsd opened from port-c); the UE's
    486 is ACKed there and reaches the caller, which ACKs it."""
    r = ue.ask(req("hmac-sha-1-96", "aes-cbc", after=["echo", "invite_self"], tcp=tcp,
                   user="ue202", v6=v6))
    assert r["codes"][:2] == [401, 200] and r["codes"][-1] == 200, r
    e = r["echo"]
    assert e["codes"][-1] == 200 and e["bye"] == 200, r
    i = r["invite_self"]
    assert i["incoming"] and i["ack"] and i["codes"][-1] == 486, r
    n = SPI[0] % 1000
    for w in (i["incoming"], i["ack"]):
        if tcp:
            assert w["passive"] and w["rport"] == 6100 and w["lport"] == 31001 + 2 * n, r
        else:
            assert w["spi"] == SPI[0] + 1 and w["sport"] == 6100, r
            assert w["dport"] == 31001 + 2 * n, r


def test_request_in_clear_refused(core, ue):
    """A registered, protected UE's MESSAGE in clear (not over its SAs) is
    refused (TS 24.229 §5.2.2: only an initial REGISTER may come
    unprotected); over the SA the same UE's MESSAGE is taken."""
    r = ue.ask(req("hmac-sha-1-96", "aes-cbc", after=["clear", "message"]))
    assert r["codes"] == [401, 200, 200, 200], r
    assert r["clear"]["code"] == 403, r
    check_message(r["message"])


# ---- tshark decrypts a whole registration and SMS with the logged keys ----

def ws_sa_args(log, spis):
    """tshark's esp_sa entries for the SAs imsd logged (ipsec.key=1) whose
    SPI is in spis."""
    from test_ipsec_dp import WS_AUTH, WS_ENC, host, sa_lines
    args = []
    for spi, kv in sa_lines(log).items():
        if spi not in spis:
            continue
        ws_auth = "NULL" if kv["ealg"] == "aes-gcm" else WS_AUTH[kv["alg"]]
        proto = "IPv6" if kv["src"].startswith("[") else "IPv4"
        args += ["-o", 'uat:esp_sa:"%s","%s","%s","0x%08x","%s","0x%s","%s","0x%s"' % (
            proto, host(kv["src"]), host(kv["dst"]), spi, WS_ENC[kv["ealg"]], kv["ekey"],
            ws_auth, kv["akey"])]
    return args


@pytest.mark.parametrize("alg,ealg,v6", [("hmac-sha-1-96", "aes-cbc", False),
                                         ("hmac-md5-96", "des-ede3-cbc", False),
                                         ("null", "aes-gcm", False),
                                         ("hmac-sha-1-96", "aes-ctr", True)])
def test_tshark_decrypts_registration_and_sms(core, nets, ue, tmp_path, alg, ealg, v6):
    """A capture of REGISTER, 401, and then over the SAs the second REGISTER,
    200, OPTIONS, 200, MESSAGE (SMS), 202, imsd's two MESSAGEs (RP-ACK, the
    SMS delivered) and their 200s, the delivery's RP-ACK and its 200, the
    de-REGISTER and its 200: tshark decrypts each of the 14 ESP packets
    with the keys of imsd's log and finds SIP inside, none malformed."""
    d, tmp = core
    pcap = tmp_path / "gm.pcap"
    dev = [l for l in subprocess.run(["ip", "-n", nets[1], "-o", "link"], capture_output=True,
                                     text=True, check=True).stdout.splitlines() if "ru" in l]
    ifname = dev[0].split(":")[1].strip().split("@")[0]
    with Capture(pcap, "esp", ifname, nets[1], "10.202.0.1"):
        r = ue.ask(req(alg, ealg, v6=v6, after=["message"]))
    assert r.get("codes") == [401, 200, 200, 200], r
    check_message(r["message"])
    spi_c = SPI[0]
    log = wait_log(tmp, "spi=0x%08x" % (spi_c + 1))
    server = re.findall(r"spi-[cs]=(\d+)", r["server"])
    spis = {spi_c, spi_c + 1} | {int(x) for x in server}
    out = subprocess.run(["tshark", "-n", "-r", str(pcap), "-o",
                          "esp.enable_encryption_decode:TRUE"] + ws_sa_args(log, spis) +
                         ["-T", "fields", "-e", "esp.spi", "-e", "_ws.malformed",
                          "-e", "sip.Method", "-e", "sip.Status-Code", "-e", "gsm_a.rp.msg_type",
                          "-Y", "esp"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    rows = [x.split("\t") for x in out.stdout.splitlines() if x.strip()]
    assert len(rows) == 14, out.stdout
    seen = []
    for spi, malformed, method, status, rp in rows:
        assert not malformed, out.stdout
        assert method or status, out.stdout  # SIP decoded inside the decrypted ESP
        seen.append(method or status)
        if rp:
            seen.append("rp" + rp)
    for want in ("REGISTER", "OPTIONS", "MESSAGE", "200", "202"):
        assert want in seen, seen
    # the SMS bodies decode too (TS 24.011 RP: two RP-DATA, two RP-ACK)
    assert len([x for x in seen if x.startswith("rp")]) == 4, seen


def test_phone_without_sec_agree_sms(core, ue):
    """ipsec: true, a phone that offers no sec-agree: registers in clear and
    its SMS goes in clear both ways (202, RP-ACK, the delivery), three
    times on one registration (bench/ipsec drives this path)."""
    r = ue.ask(req("hmac-sha-1-96", "aes-cbc", "plain", after=["message"], user="ue202")
               | {"repeat": 3})
    assert r.get("codes") == [401, 200] and r["server"] is None, r
    assert r["failed"] == 0, r
    m = r["message"]
    assert m.get("code") == 202 and sorted(x["mti"] for x in m["mt"]) == [1, 3], r


# ---- the direct UDP path: decrypted UDP to the SIP stack without the TUN ----

def esp_counters(d):
    text = d.command("stats", "counters.ipsec.drop_io")
    return {k: int(re.search(r"counters.ipsec.%s: (\d+)" % k, text).group(1))
            for k in ("esp_rx", "esp_tx", "udp_direct_rx", "udp_direct_tx")}


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_udp_bypasses_tun(core, ue, tcp):
    """SIP over UDP through the SAs goes from the raw socket straight to the
    SIP stack and back (docs/ipsec.md "Direct UDP path"): over UDP every
    ESP packet of a registration and an SMS round, both ways, takes the
    direct path; over TCP (the kernel's TCP in the datapath's namespace)
    none does, they go through the TUN device."""
    d, _ = core
    before = esp_counters(d)
    r = ue.ask(req("hmac-sha-1-96", "aes-cbc", after=["message"], tcp=tcp))
    assert r["codes"][:2] == [401, 200] and r["codes"][-1] == 200, r
    check_message(r["message"], tcp=tcp)
    after = esp_counters(d)
    grew = {k: after[k] - before[k] for k in after}
    assert grew["esp_rx"] >= 4 and grew["esp_tx"] >= 4, grew
    if tcp:
        assert grew["udp_direct_rx"] == 0 and grew["udp_direct_tx"] == 0, grew
    else:
        assert grew["udp_direct_rx"] == grew["esp_rx"], grew
        assert grew["udp_direct_tx"] == grew["esp_tx"], grew


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
def test_request_on_our_connection_to_port_s(core, ue, v6):
    """Over TCP a UE may send its requests on either SA pair's connection
    (TS 33.203 §7.1, TS 24.229 §5.2.2.1): an MO SMS on the connection imsd
    opened from our port-c to the UE's port-s is taken (202 on that
    connection, not 403 from the CSCF's flow check) and delivered."""
    r = ue.ask(req("hmac-sha-1-96", "aes-cbc", v6=v6, after=["message", "message_on_s"],
                   tcp=True))
    assert r["codes"][:2] == [401, 200] and r["codes"][-1] == 200, r
    check_message(r["message"], tcp=True)
    m = r["message_on_s"]
    assert m.get("code") == 202, r
    assert m["code_where"]["passive"] and m["code_where"]["rport"] == 6100, r
    assert m.get("ack_code") in (200, 202) and sorted(x["mti"] for x in m["mt"]) == [1, 3], r


def test_port_c_reopened_after_close(core, ue):
    """imsd closes its connection from our port-c to the UE's port-s first
    (the UE sent bytes that are not SIP on it), which would leave that
    address pair in TIME_WAIT on imsd's side for a minute; the next request
    to the UE still goes out at once on a new connection between the same
    ports (SO_LINGER 0 on those connections: RST, no TIME_WAIT)."""
    r = ue.ask(req("hmac-sha-1-96", "aes-cbc", after=["message", "reopen_c"], tcp=True))
    assert r["codes"][:2] == [401, 200] and r["codes"][-1] == 200, r
    check_message(r["message"], tcp=True)
    m = r["reopen_c"]
    assert m["closed"], r
    check_message(m, tcp=True)
    assert len(r["opened"]) == 2, r
    assert r["opened"][0]["rport"] == r["opened"][1]["rport"] == 6100, r
