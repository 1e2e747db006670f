"""The remote API (manual §6) over the wire, and imsd running as a service
(no terminal): real clients (Python websockets, Node ws, imsctl api) against
the real binary on loopback ports picked here. docs/api.md."""
import os
import signal
import socket
import subprocess
import time

from conftest import IMSD_BIN, free_port, sanitizer_report, write_cfg
from sipstack import options, recv_msg, status_of, udp_sock


def _service_cfg(tmp_path, extra=""):
    port = free_port()
    log = tmp_path / "ims.log"
    cfg = write_cfg(tmp_path, f"""{{
  log_filename: "{log}",
  log_options: "all.level=info",
  sip_addr: ["127.0.0.1:{port}"],
  domain: "ims.test",
  {extra}
}}
""")
    return cfg, port, log


def _options_until_answered(port, timeout=20.0):
    """OPTIONS to the server until it answers (it has no banner to wait for
    without its console); returns the status code."""
    s = udp_sock()
    s.settimeout(0.5)
    deadline = time.monotonic() + timeout
    n = 0
    try:
        while time.monotonic() < deadline:
            n += 1
            ruri = f"sip:127.0.0.1:{port}"
            s.sendto(options(ruri, "127.0.0.1", s.getsockname()[1], f"z9hG4bKsvc{n}",
                             f"svc-{n}@test"), ("127.0.0.1", port))
            try:
                return status_of(recv_msg(s, 0.5))[0]
            except (socket.timeout, TimeoutError, AssertionError):
                continue
    finally:
        s.close()
    raise AssertionError("imsd never answered OPTIONS")


def _start_service(cfg, args=(), stdin=subprocess.DEVNULL):
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    return subprocess.Popen([IMSD_BIN, *args, cfg], stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)


def _stop_service(p):
    p.send_signal(signal.SIGTERM)
    try:
        out, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate(timeout=5)
        raise AssertionError("imsd did not stop on SIGTERM")
    return p.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def test_service_stdin_devnull(tmp_path):
    """`imsd ims.cfg </dev/null` (systemd, nohup): runs without its console,
    serves SIP, stops cleanly on SIGTERM."""
    cfg, port, log = _service_cfg(tmp_path)
    p = _start_service(cfg)
    try:
        assert _options_until_answered(port) == 200
        assert p.poll() is None
    finally:
        rc, out, err = _stop_service(p)
    assert rc == 0, err[-3000:]
    assert not sanitizer_report(err), err[-3000:]
    assert "Type 'help'" not in out
    text = log.read_text(errors="replace")
    assert "monitor console off: standard input cannot be read" in text
    assert "signal Terminated: stopping" in text


def test_service_stdin_closed(tmp_path):
    """stdin closed altogether (EBADF): the same."""
    cfg, port, log = _service_cfg(tmp_path)
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    p = subprocess.Popen(["/bin/sh", "-c", 'exec "$0" "$1" <&-', IMSD_BIN, cfg],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        assert _options_until_answered(port) == 200
    finally:
        rc, out, err = _stop_service(p)
    assert rc == 0, err[-3000:]
    assert "monitor console off" in log.read_text(errors="replace")


def test_service_no_monitor_flag(tmp_path):
    """--no-monitor with a readable stdin (a pipe): commands are not read."""
    cfg, port, log = _service_cfg(tmp_path)
    p = _start_service(cfg, ["--no-monitor"], stdin=subprocess.PIPE)
    try:
        assert _options_until_answered(port) == 200
        p.stdin.write(b"quit\n")
        p.stdin.flush()
        # quit on a console would stop it; OPTIONS still answered shows it
        # was not read
        assert _options_until_answered(port) == 200
        assert p.poll() is None
    finally:
        rc, out, err = _stop_service(p)
    assert rc == 0, err[-3000:]
    assert "Type 'help'" not in out
    assert "monitor console off (--no-monitor)" in log.read_text(errors="replace")
