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
  imsd's relay (the SDP each phone receives names imsd's ports, checked).
- test_echo_through_imsd: A calls the echo IMPU and hears its own tone.
"""
import re
import time

import pytest

import baresip as bs
from conftest import Imsd, free_port

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

    yield start
    for p in started:
        p.stop()


def talk(seconds, *ps):
    """Lets the call run for `seconds`, reading the phones' events."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for p in ps:
            p._read(0.05)


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
    ia, _ = a.wait_event("CALL_ESTABLISHED", timeout=20)
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


@pytest.fixture
def ims(tmp_path):
    port = free_port()
    relay = bs.free_udp_range(count=100)
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
    d = Imsd(str(cfg))
    try:
        d.wait_ready()
        yield d, port, relay, str(log)
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
