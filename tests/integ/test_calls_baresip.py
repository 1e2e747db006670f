"""Calls with a real softphone on each side: two baresip processes
(tests/integ/baresip.py) play a tone each as their microphone and record what
they hear; the recordings show the other side's tone arrived.

A plays 700 Hz, B plays 1300 Hz, both over G.711 (PCMU/PCMA). A recording is
cut in 0.2 s windows; a loud window's dominant frequency must be the other
side's tone (the echo: A's own), and most of the call's windows must be loud,
so silence, one-way audio, a tone looped back to the wrong side or a codec
mismatch each fail it, while jitter and codec noise do not.

- test_direct_call: A calls B at B's own address, no server: proves the
  harness (baresip, the tone analysis) on its own, so that a failure of the
  other tests is imsd's.
- test_call_through_imsd: both register with MD5 digest to imsd on loopback
  and A calls B's IMPU (sip:bob@ims.test); B answers on its own; after a few
  seconds A hangs up and B sees the call closed. The media goes through
  imsd's relay (the RTP each phone received came from imsd's relay ports,
  as its log says: checked).
- test_echo_through_imsd: A calls the echo IMPU and hears its own tone.
- test_call_with_ports_held_by_another_program: another program holds the
  first 100 port pairs of imsd's relay range, 100 are free after them: the
  call still gets a pair (the relay's search moves past held ports).
- test_echo_with_no_port_free_is_refused: no relay port free: the echo call
  is refused with 503 (an offer is never taken without an answer).
- test_shipped_config_call: the shipped configuration (config/, ports
  moved) with the account lines README.md gives: alice dials `bob`, then
  `echo`, by the short names a user types.
"""
import os
import re
import shutil
import socket
import time

import pytest

import baresip as bs
from conftest import ROOT, Imsd, free_port

HOST = "127.0.0.1"
TONE_A = 700
TONE_B = 1300
TALK = 3.0  # seconds of conversation before the hang-up


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    d = tmp_path_factory.mktemp("tones")
    a, b = d / "a700.wav", d / "b1300.wav"
    bs.tone(a, TONE_A)
    bs.tone(b, TONE_B)
    return str(a), str(b)


@pytest.fixture
def phones(tmp_path):
    started = []

    def start(name, account, wav, sip_port=None, answer="auto"):
        p = bs.Baresip(tmp_path, name, sip_port or bs.free_sip_port(), account, wav,
                       bs.free_udp_range(), answer=answer)
        started.append(p)
        return p

    def stop_all():
        """Stops the phones (before their server: they unregister)."""
        for p in started:
            p.stop()
    start.stop_all = stop_all
    yield start
    stop_all()


def talk(seconds, *ps):
    """Lets the call run for `seconds`, reading the phones' events."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for p in ps:
            p.pump(0.05)


def assert_hears(phone, hz, seconds):
    """phone's recording of the last call carries tone hz: at least half
    the call's windows loud, and nine in ten of those on the tone."""
    rec = phone.recording("dec")
    total, loud, match = bs.tone_share(rec, hz)
    windows = int(seconds / 0.2)
    assert loud >= windows // 2, (
        f"{phone.name} heard {loud} loud windows of 0.2 s in {total} "
        f"(expected at least {windows // 2} in a {seconds} s call): {rec}")
    assert match >= 0.9 * loud, (
        f"{phone.name}: only {match} of {loud} loud windows carry {hz} Hz: {rec}")


def call_and_hang_up(a, b, uri):
    """A dials uri, B (if any) answers on its own, both see the call up;
    after TALK seconds A hangs up and both see it closed."""
    a.dial(uri)
    ia, ev = a.wait_event(("CALL_ESTABLISHED", "CALL_CLOSED"), timeout=20)
    assert ev.get("type") == "CALL_ESTABLISHED", f"{a.name}: the call to {uri} failed: {ev}"
    if b is not None:
        ib, _ = b.wait_event("CALL_ESTABLISHED", timeout=20)
    talk(TALK, *[p for p in (a, b) if p])
    a.hangup()
    a.wait_event("CALL_CLOSED", start=ia)
    if b is not None:
        b.wait_event("CALL_CLOSED", start=ib)


def test_direct_call(phones, tones):
    """The harness alone: A calls B at B's address, each hears the other."""
    pb = bs.free_sip_port()
    a = phones("a", f"<sip:a@{HOST}>;regint=0", tones[0])
    b = phones("b", f"<sip:b@{HOST}:{pb}>;regint=0", tones[1], sip_port=pb)
    call_and_hang_up(a, b, f"sip:b@{HOST}:{pb}")
    assert_hears(b, TONE_A, TALK)
    assert_hears(a, TONE_B, TALK)


def ims_config(tmp_path, relay):
    port = free_port()
    log = tmp_path / "ims.log"
    cfg = tmp_path / "ims.cfg"
    cfg.write_text(f"""{{
  log_filename: "{log}",
  log_options: "all.level=debug",
  sip_addr: [ {{ addr: "{HOST}:{port}", port_min: {relay[0]}, port_max: {relay[1]} }} ],
  domain: "ims.test",
  echo: ["sip:echo"],
  ue_db: [
    {{ imsi: "001010000000301", impi: "alice@ims.test", impu: ["sip:alice"],
       authent_type: "MD5", pwd: "alice-secret" }},
    {{ imsi: "001010000000302", impi: "bob@ims.test", impu: ["sip:bob"],
       authent_type: "MD5", pwd: "bob-secret" }},
  ],
}}
""")
    return str(cfg), port, str(log)


@pytest.fixture
def ims(tmp_path):
    relay = bs.free_udp_range(count=100)
    cfg, port, log = ims_config(tmp_path, relay)
    d = Imsd(cfg)
    try:
        d.wait_ready()
        yield d, port, relay, log
    finally:
        d.stop()
    assert not d.sanitizer_report(), d.sanitizer_report()


def account(name, port):
    return (f"<sip:{name}@ims.test>;auth_user={name}@ims.test;auth_pass={name}-secret;"
            f"outbound=\"sip:{HOST}:{port}\";regint=600")


def registered(phone):
    phone.wait_registered()
    return phone


def rtp_sources(phone):
    """The ports the phone's RTP came from, as its log says
    ("incoming rtp for 'audio' established, receiving from IP:PORT")."""
    return {int(p) for p in re.findall(r"receiving from [0-9.]+:(\d+)", phone.tail(10 ** 6))}


def assert_relayed(phone, relay):
    """The audio the phone heard came from one of imsd's relay ports (the
    phones' own ranges are elsewhere), so the tone went through imsd."""
    ports = rtp_sources(phone)
    assert ports, f"{phone.name}: its log names no RTP source\n{phone.tail()}"
    assert all(relay[0] <= p <= relay[1] for p in ports), (
        f"{phone.name} received RTP from ports {ports}, not all in imsd's relay range {relay}")


def test_call_through_imsd(ims, phones, tones):
    d, port, relay, log = ims
    a = registered(phones("alice", account("alice", port), tones[0]))
    b = registered(phones("bob", account("bob", port), tones[1]))
    call_and_hang_up(a, b, "sip:bob@ims.test")
    assert_hears(b, TONE_A, TALK)
    assert_hears(a, TONE_B, TALK)
    assert_relayed(a, relay)
    assert_relayed(b, relay)


def test_echo_through_imsd(ims, phones, tones):
    d, port, relay, log = ims
    a = registered(phones("alice", account("alice", port), tones[0]))
    call_and_hang_up(a, None, "sip:echo@ims.test")
    assert_hears(a, TONE_A, TALK)
    assert_relayed(a, relay)


def hold_ports(first, last):
    """Binds UDP first..last on loopback, as another program would; returns
    the sockets (close them)."""
    held = []
    try:
        for p in range(first, last + 1):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            held.append(s)
            s.bind((HOST, p))
    except OSError:
        for s in held:
            s.close()
        raise
    return held


def test_call_with_ports_held_by_another_program(tmp_path, phones, tones):
    relay = bs.free_udp_range(count=400)
    held = hold_ports(relay[0], relay[0] + 199)  # the first 100 pairs of 200
    try:
        cfg, port, log = ims_config(tmp_path, relay)
        d = Imsd(cfg)
        try:
            d.wait_ready()
            a = registered(phones("alice", account("alice", port), tones[0]))
            b = registered(phones("bob", account("bob", port), tones[1]))
            call_and_hang_up(a, b, "sip:bob@ims.test")
            assert_hears(b, TONE_A, TALK)
            assert_hears(a, TONE_B, TALK)
        finally:
            phones.stop_all()
            d.stop()
        assert not d.sanitizer_report(), d.sanitizer_report()
    finally:
        for s in held:
            s.close()


def test_echo_with_no_port_free_is_refused(tmp_path, phones, tones):
    relay = bs.free_udp_range(count=4)
    held = hold_ports(relay[0], relay[1])  # every port of the relay's range
    try:
        cfg, port, log = ims_config(tmp_path, relay)
        d = Imsd(cfg)
        try:
            d.wait_ready()
            a = registered(phones("alice", account("alice", port), tones[0]))
            a.dial("sip:echo@ims.test")
            i, ev = a.wait_event(("CALL_CLOSED", "CALL_ESTABLISHED"), timeout=20)
            assert ev.get("type") == "CALL_CLOSED", (
                f"the echo call was answered with no media port: {a.events[:i]}")
            assert "503" in str(ev.get("param", "")) or "503" in a.tail(), a.tail()
        finally:
            phones.stop_all()
            d.stop()
        assert not d.sanitizer_report(), d.sanitizer_report()
    finally:
        for s in held:
            s.close()


SHIPPED_DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"


@pytest.fixture
def shipped(tmp_path):
    """imsd on a copy of config/ (as test_default_config.py: the ports moved,
    the IPv6 socket dropped, the log beside the copy; the relay's ports from
    a block found free, as the machine is shared with benches that hold
    thousands of ports)."""
    src = os.path.join(ROOT, "config")
    for name in os.listdir(src):
        if name.endswith(".cfg"):
            shutil.copy(os.path.join(src, name), tmp_path / name)
    cfg = tmp_path / "ims.cfg"
    text = cfg.read_text()
    port = free_port()
    relay = bs.free_udp_range(count=100)
    sock = f'{{ addr: "{HOST}:{port}", port_min: {relay[0]}, port_max: {relay[1]} }}'
    for old, new in (('"127.0.0.1:5060"', sock), ('"[::1]:5060",', ""),
                     ('"127.0.0.1:9003"', f'"{HOST}:{free_port()}"')):
        assert old in text, f"config/ims.cfg no longer has {old}: update this test"
        text = text.replace(old, new)
    cfg.write_text(text)
    d = Imsd(str(cfg))
    try:
        d.wait_ready()
        yield d, port
    finally:
        d.stop()
    assert not d.sanitizer_report(), d.sanitizer_report()


def test_shipped_config_call(shipped, phones, tones):
    """README.md's account lines against the shipped users alice and bob."""
    d, port = shipped

    def readme_account(u):
        return (f"<sip:{u}@{SHIPPED_DOMAIN};transport=udp>;auth_pass={u}-secret;"
                f"outbound=\"sip:{HOST}:{port}\"")
    a = registered(phones("alice", readme_account("alice"), tones[0]))
    b = registered(phones("bob", readme_account("bob"), tones[1]))
    call_and_hang_up(a, b, "bob")
    assert_hears(b, TONE_A, TALK)
    assert_hears(a, TONE_B, TALK)
    call_and_hang_up(a, None, "echo")
    assert_hears(a, TONE_A, TALK)
