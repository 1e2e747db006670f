"""Shared fixtures for the integration tests: they start the real imsd binary
on loopback with a configuration they write, drive it, and stop it by PID.

Binaries come from IMSD_BIN / IMSCTL_BIN (set by `make test`), else build-asan/.
"""
import os
import select
import signal
import socket
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMSD_BIN = os.environ.get("IMSD_BIN", os.path.join(ROOT, "build-asan", "imsd"))
IMSCTL_BIN = os.environ.get("IMSCTL_BIN", os.path.join(ROOT, "build-asan", "imsctl"))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")


def free_port(family=socket.AF_INET, kind=socket.SOCK_DGRAM):
    """A port free for both UDP and TCP on loopback (best effort)."""
    host = "127.0.0.1" if family == socket.AF_INET else "::1"
    for _ in range(50):
        s = socket.socket(family, kind)
        s.bind((host, 0))
        port = s.getsockname()[1]
        s.close()
        other = socket.SOCK_STREAM if kind == socket.SOCK_DGRAM else socket.SOCK_DGRAM
        t = socket.socket(family, other)
        try:
            t.bind((host, port))
        except OSError:
            continue
        finally:
            t.close()
        return port
    raise RuntimeError("no free port")


class Imsd:
    """A running imsd with its monitor on a pipe."""

    def __init__(self, cfg_path, args=(), env=None):
        self.cfg_path = cfg_path
        e = dict(os.environ)
        e.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        if env:
            e.update(env)
        self.proc = subprocess.Popen(
            [IMSD_BIN, *args, cfg_path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=e)
        self.out = b""
        self.err = b""

    def _read(self, timeout):
        fds = [f for f in (self.proc.stdout, self.proc.stderr) if f and not f.closed]
        if not fds:
            time.sleep(min(timeout, 0.05))
            return False
        r, _, _ = select.select(fds, [], [], timeout)
        got = False
        for f in r:
            data = os.read(f.fileno(), 65536)
            if not data:  # end of file: stop watching it
                f.close()
                continue
            got = True
            if f is self.proc.stdout:
                self.out += data
            else:
                self.err += data
        return got

    def wait_out(self, text, timeout=10.0, start=0):
        """Waits until stdout (from offset start) contains text; returns its end offset."""
        deadline = time.monotonic() + timeout
        needle = text.encode() if isinstance(text, str) else text
        while True:
            i = self.out.find(needle, start)
            if i >= 0:
                return i + len(needle)
            left = deadline - time.monotonic()
            if left <= 0 or (self.proc.poll() is not None and not self._read(0)):
                raise AssertionError(
                    f"timeout waiting for {text!r}\nstdout: {self.out.decode(errors='replace')}"
                    f"\nstderr: {self.err.decode(errors='replace')[-4000:]}")
            self._read(min(left, 0.2))

    def wait_ready(self, timeout=20.0):
        return self.wait_out("Type 'help'", timeout)

    def command(self, line, expect, timeout=10.0):
        """Sends a monitor command and waits for text in its output."""
        start = len(self.out)
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        end = self.wait_out(expect, timeout, start)
        return self.out[start:end].decode(errors="replace")

    def close_stdin(self):
        self.proc.stdin.close()

    def wait_exit(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.1)
        if self.proc.poll() is None:
            raise AssertionError("imsd did not exit")
        while self._read(0):
            pass
        return self.proc.returncode

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.wait_exit(20)
            except AssertionError:
                self.proc.kill()
                self.proc.wait(5)
        while self._read(0):  # what it wrote before it exited
            pass
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except Exception:
                pass

    def sanitizer_report(self):
        """The sanitizers' findings in what the server wrote to stderr
        (memory errors, leaks at exit, undefined behaviour), or ''."""
        return sanitizer_report(self.err)


SANITIZER_MARKS = (b"ERROR: AddressSanitizer", b"ERROR: LeakSanitizer", b"runtime error:")


def sanitizer_report(err):
    """The sanitizer reports found in a process's stderr (bytes or str), or ''."""
    if isinstance(err, str):
        err = err.encode(errors="replace")
    if not any(m in err for m in SANITIZER_MARKS):
        return ""
    return err.decode(errors="replace")[-6000:]


def run_tool(argv, **kw):
    """subprocess.run for a one-shot imsd or imsctl command (--check-config,
    --dump-config, imsctl ...); fails the test when the sanitizers reported
    anything on its stderr, whatever its exit code."""
    r = subprocess.run(argv, **kw)
    rep = sanitizer_report(r.stderr or b"")
    assert not rep, f"sanitizer findings in {argv[0]}'s stderr:\n{rep}"
    return r


def write_cfg(tmp_path, body, name="ims.cfg"):
    p = tmp_path / name
    p.write_text(body)
    return str(p)


def minimal_cfg(tmp_path, extra=""):
    port = free_port()
    log = tmp_path / "ims.log"
    return write_cfg(tmp_path, f"""{{
  log_filename: "{log}",
  log_options: "all.level=info",
  sip_addr: ["127.0.0.1:{port}"],
  domain: "ims.test",
  {extra}
}}
""")


@pytest.fixture
def imsd_factory():
    started = []

    def start(cfg_path, args=(), env=None):
        d = Imsd(cfg_path, args, env)
        started.append(d)
        return d

    yield start
    reports = []
    for d in started:
        d.stop()
        r = d.sanitizer_report()
        if r:
            reports.append(r)
    # A leak at exit or a memory error anywhere in the server's life fails
    # the test that ran it, even when everything it checked went well.
    assert not reports, "sanitizer findings in imsd's stderr:\n" + "\n----\n".join(reports)
