"""A baresip softphone driven from Python, for call tests with a real peer.

Each Baresip runs `baresip -f DIR` with a configuration of its own in DIR:
no sound card (the `aufile` module plays a WAV file as the microphone, the
`aubridge` module is a player that plays nowhere), the `sndfile` filter
records what the phone hears (DIR/snd/dump-*-dec.wav) and what it sends
(…-enc.wav), G.711 only, and the `ctrl_tcp` module takes commands and reports
events as netstring-framed JSON on a loopback TCP port. Everything the test
waits for is an event of baresip's (REGISTER_OK, CALL_ESTABLISHED,
CALL_CLOSED…), never a sleep.

The module also makes and analyses the audio: tone() writes a sine WAV with
the `wave` module, dominant_hz() finds the strongest frequency of a window
with the Goertzel algorithm, tone_share() tells how much of a recording
carries a given tone.
"""
import glob
import json
import math
import os
import random
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import time
import wave

BARESIP = shutil.which("baresip")
MODULES = "/usr/lib/baresip/modules"
RATE = 8000  # G.711: the audio source and the recordings run at 8 kHz


def tone(path, hz, seconds=30.0, amplitude=0.4):
    """Writes a mono 16-bit 8 kHz WAV of one sine tone."""
    n = int(RATE * seconds)
    k = 2.0 * math.pi * hz / RATE
    amp = int(32767 * amplitude)
    frames = b"".join(struct.pack("<h", int(amp * math.sin(k * i))) for i in range(n))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(frames)


def read_wav(path):
    """(rate, samples) of a mono 16-bit WAV."""
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1, path
        rate = w.getframerate()
        data = w.readframes(w.getnframes())
    return rate, struct.unpack("<%dh" % (len(data) // 2), data)


def goertzel_power(samples, rate, hz):
    """Power of one frequency in samples (Goertzel)."""
    coeff = 2.0 * math.cos(2.0 * math.pi * hz / rate)
    s1 = s2 = 0.0
    for x in samples:
        s0 = x + coeff * s1 - s2
        s2 = s1
        s1 = s0
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


def rms(samples):
    if not samples:
        return 0.0
    return math.sqrt(sum(x * x for x in samples) / len(samples))


def dominant_hz(samples, rate, lo=200, hi=3400, step=50):
    """The strongest frequency of samples, scanned from lo to hi in steps."""
    best, best_p = None, -1.0
    for hz in range(lo, hi + 1, step):
        p = goertzel_power(samples, rate, hz)
        if p > best_p:
            best, best_p = hz, p
    return best


def tone_share(path, hz, window=0.2, min_rms=300.0, tol=60):
    """Analyses a recording in windows of `window` seconds: returns
    (windows, loud windows, loud windows whose dominant frequency is within
    tol Hz of hz). Quiet windows (call set-up, jitter buffer filling, the
    end) are counted but not judged, so codec noise and timing do not
    matter; a wrong or missing tone does."""
    rate, s = read_wav(path)
    n = int(rate * window)
    total = loud = match = 0
    for i in range(0, len(s) - n + 1, n):
        w = s[i:i + n]
        total += 1
        if rms(w) < min_rms:
            continue
        loud += 1
        if abs(dominant_hz(w, rate) - hz) <= tol:
            match += 1
    return total, loud, match


def free_tcp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def free_udp_range(count=40, lo=61000, hi=65500):
    """(first, last) of `count` consecutive UDP ports free on loopback now,
    starting at an even port between lo and hi (above the kernel's ephemeral
    range, 32768-60999 by default, and imsd's default relay range, where
    other processes take ports at random): the media ports of one phone
    or of imsd's relay in a test, so that nothing else on the machine (a
    benchmark holding thousands of ports) is in the way."""
    rnd = random.Random(os.getpid() ^ int(time.time() * 1000))
    for _ in range(200):
        first = rnd.randrange(lo, hi - count) & ~1
        socks = []
        try:
            for port in range(first, first + count):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return first, first + count - 1
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free UDP port range")


def free_sip_port():
    """A port p with UDP p, TCP p and TCP p+1 free on loopback: baresip
    listens on all three (p+1 for SIP over TLS)."""
    for _ in range(100):
        p = free_tcp_port()
        if p >= 65535:
            continue
        socks = []
        try:
            for kind, port in ((socket.SOCK_DGRAM, p), (socket.SOCK_STREAM, p),
                               (socket.SOCK_STREAM, p + 1)):
                s = socket.socket(socket.AF_INET, kind)
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return p
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free SIP port for baresip")


class Baresip:
    """One baresip process listening on 127.0.0.1:sip_port (free_sip_port()).
    account: the accounts-file line (without answermode, added here);
    source_wav: the microphone; rtp_ports: a (lo, hi) range of its own so
    two instances never share one."""

    def __init__(self, workdir, name, sip_port, account, source_wav,
                 rtp_ports, answer="auto"):
        assert BARESIP, "baresip is not installed (make deps installs it)"
        self.name = name
        self.dir = os.path.join(str(workdir), name)
        self.snd = os.path.join(self.dir, "snd")
        os.makedirs(self.snd, exist_ok=True)
        self.ctrl_port = free_tcp_port()
        self.sip_port = sip_port
        self.events = []
        self.buf = b""
        self.token = 0
        self._write_config(source_wav, rtp_ports)
        with open(os.path.join(self.dir, "accounts"), "w") as f:
            f.write(f"{account};answermode={answer}\n")
        self.log_path = os.path.join(self.dir, "baresip.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([BARESIP, "-f", self.dir, "-v"], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.sock = self._connect()

    def _write_config(self, source_wav, rtp_ports):
        lines = [
            "poll_method epoll",
            f"sip_listen 127.0.0.1:{self.sip_port}",
            "call_local_timeout 30",
            "call_max_calls 2",
            f"audio_source aufile,{source_wav}",
            "audio_player aubridge,nowhere",
            "audio_alert aubridge,nowhere",
            "audio_level no",
            "ausrc_format s16",
            "auplay_format s16",
            "auenc_format s16",
            "audec_format s16",
            "audio_buffer 20-160",
            f"rtp_ports {rtp_ports[0]}-{rtp_ports[1]}",
            "rtcp_mux no",
            "jitter_buffer_delay 5-10",
            "net_interface 127.0.0.1",
            f"module_path {MODULES}",
            "module g711.so",
            "module aufile.so",
            "module aubridge.so",
            "module sndfile.so",
            "module_tmp account.so",
            "module_app menu.so",
            "module_app ctrl_tcp.so",
            f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
            f"snd_path {self.snd}",
        ]
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write("\n".join(lines) + "\n")
        open(os.path.join(self.dir, "contacts"), "w").close()

    def _connect(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                return socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1.0)
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"{self.name}: ctrl_tcp did not open\n{self.tail()}")
                time.sleep(0.05)

    def tail(self, n=4000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-n:]
        except OSError:
            return ""

    def _read(self, timeout):
        """Reads what is there and parses whole netstrings into
        self.events (events) or returns them (responses)."""
        r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if r:
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError(f"{self.name}: ctrl_tcp closed\n{self.tail()}")
            self.buf += data
        out = []
        while True:
            colon = self.buf.find(b":")
            if colon < 0:
                break
            n = int(self.buf[:colon])
            if len(self.buf) < colon + 1 + n + 1:
                break
            msg = json.loads(self.buf[colon + 1:colon + 1 + n])
            self.buf = self.buf[colon + 1 + n + 1:]
            if msg.get("event"):
                self.events.append(msg)
            else:
                out.append(msg)
        return out

    def pump(self, timeout):
        """Reads the events that come within timeout seconds (a call in
        progress: keeps the control connection drained)."""
        self._read(timeout)

    def command(self, command, params="", timeout=10.0):
        """Sends a command, returns its response's data; fails on !ok."""
        self.token += 1
        tok = str(self.token)
        body = json.dumps({"command": command, "params": params, "token": tok}).encode()
        self.sock.sendall(b"%d:%s," % (len(body), body))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for r in self._read(deadline - time.monotonic()):
                if r.get("token") == tok:
                    assert r.get("ok"), f"{self.name}: {command} {params}: {r}\n{self.tail()}"
                    return r.get("data", "")
        raise AssertionError(f"{self.name}: no response to {command}\n{self.tail()}")

    def wait_event(self, etype, timeout=15.0, start=0):
        """Waits for an event of type etype, or of one of the types of a
        tuple etype (from index start of the events seen); returns (index
        after it, event)."""
        types = etype if isinstance(etype, tuple) else (etype,)
        deadline = time.monotonic() + timeout
        while True:
            for i in range(start, len(self.events)):
                if self.events[i].get("type") in types:
                    return i + 1, self.events[i]
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise AssertionError(f"{self.name}: no {etype} event; events: "
                                     f"{[e.get('type') for e in self.events]}\n{self.tail()}")
            self._read(min(left, 0.2))

    def wait_registered(self, timeout=15.0):
        """Waits until the account is registered: a REGISTER_OK event, or
        `reginfo` saying OK (the event may come before ctrl_tcp's client
        connected, so both are looked at)."""
        deadline = time.monotonic() + timeout
        while True:
            if any(e.get("type") == "REGISTER_OK" for e in self.events):
                return
            info = re.sub(r"\x1b\[[0-9;]*m", "", self.command("reginfo"))
            if re.search(r"\bOK\b", info):
                return
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise AssertionError(f"{self.name}: not registered: {info!r}; events: "
                                     f"{[e.get('type') for e in self.events]}\n{self.tail()}")
            self._read(min(left, 0.2))

    def dial(self, uri):
        return self.command("dial", uri)

    def hangup(self):
        return self.command("hangup")

    def recording(self, kind="dec"):
        """The WAV of what this phone heard (dec) or sent (enc) in its
        last call."""
        files = sorted(glob.glob(os.path.join(self.snd, f"dump-*-{kind}.wav")),
                       key=os.path.getmtime)
        assert files, f"{self.name}: no {kind} recording in {self.snd}\n{self.tail()}"
        return files[-1]

    def stop(self):
        """quit (it unregisters), else SIGTERM, else SIGKILL; twice is harmless."""
        if self.proc.poll() is None:
            try:
                self.command("quit", timeout=3.0)
            except (AssertionError, OSError):
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
        try:
            self.sock.close()
        except OSError:
            pass
        self.log.close()
