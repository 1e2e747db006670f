"""Packet captures whose start and end are proven by packets, not guessed
(the tests that decode imsd's traffic with tshark).

dumpcap prints "Capturing on" (and tshark "Capture started") before the
capture is really set up, so the first packets after that line can be
lost: seen in CI, an ESP capture missing the first 7 packets of a
registration. Here a capture counts as started only once a probe datagram
sent after it is in the file, and as complete only once an end probe sent
after the test's traffic is in the file: the kernel hands packets to
dumpcap in order, so everything sent before the end probe has been
written by then. Probes are UDP datagrams to the discard port (9) with a
marker of their own; the capture filter takes them beside the test's own
filter, and they are taken out of the file the test reads when the
capture ends (dumpcap writes PCAP.raw, tshark copies it to PCAP without
the probes).
"""
import os
import signal
import socket
import subprocess
import time
import uuid

PROBE_PORT = 9
NO_PROBES = "!(udp.dstport == %d)" % PROBE_PORT

_SEND = """
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
socket.socket(fam, socket.SOCK_DGRAM).sendto(sys.argv[2].encode(), (sys.argv[1], %d))
""" % PROBE_PORT


class Capture:
    """with Capture(pcap, bpf): traffic -- on leaving the block every packet
    sent before it and matching bpf is in pcap. ns: the network namespace
    to capture in (iface is in it); dst: where probes go, over iface."""

    def __init__(self, pcap, bpf, iface="lo", ns=None, dst="127.0.0.1", timeout=20.0):
        self.pcap, self.bpf, self.iface, self.ns, self.dst = str(pcap), bpf, iface, ns, dst
        self.raw = self.pcap + ".raw"
        self.timeout = timeout
        self.tag = uuid.uuid4().hex
        self.cap = None

    def _probe(self, text):
        if self.ns is None:
            fam = socket.AF_INET6 if ":" in self.dst else socket.AF_INET
            with socket.socket(fam, socket.SOCK_DGRAM) as s:
                s.sendto(text.encode(), (self.dst, PROBE_PORT))
            return
        subprocess.run(["ip", "netns", "exec", self.ns, "/usr/bin/python3", "-c", _SEND,
                        self.dst, text], check=True, timeout=10)

    def _seen(self, text):
        try:
            with open(self.raw, "rb") as f:
                return text.encode() in f.read()
        except FileNotFoundError:
            return False

    def _until_seen(self, what):
        text = "imsd-capture-probe-%s-%s" % (what, self.tag)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.cap.poll() is not None:
                raise AssertionError("dumpcap ended: " + self.cap.stderr.read())
            self._probe(text)
            for _ in range(5):
                time.sleep(0.1)
                if self._seen(text):
                    return
        raise AssertionError("the capture on %s never saw its %s probe" % (self.iface, what))

    def start(self):
        for f in (self.pcap, self.raw):
            if os.path.exists(f):
                os.unlink(f)
        pre = ["ip", "netns", "exec", self.ns] if self.ns else []
        bpf = "(%s) or (udp dst port %d)" % (self.bpf, PROBE_PORT)
        self.cap = subprocess.Popen(pre + ["dumpcap", "-q", "-i", self.iface, "-f", bpf,
                                           "-w", self.raw],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            self._until_seen("start")
        except BaseException:
            self._stop()
            raise
        return self

    def stop(self):
        """The end probe seen, dumpcap ended, PCAP written without the probes."""
        try:
            self._until_seen("end")
        finally:
            self._stop()
        r = subprocess.run(["tshark", "-r", self.raw, "-Y", NO_PROBES, "-F", "pcapng", "-w",
                            self.pcap], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, "tshark could not copy the capture: " + r.stderr

    def _stop(self):
        if self.cap.poll() is None:
            self.cap.send_signal(signal.SIGINT)
            try:
                self.cap.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.cap.kill()
                self.cap.wait()
        self.cap.stderr.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if exc[0] is None:
            self.stop()
        else:
            self._stop()
        return False
