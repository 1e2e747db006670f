"""The command line monitor (manual §7) and process life cycle, over a pipe and
over a pseudo-terminal, against the real binary."""
import os
import re
import pty
import select
import signal
import socket
import time

from conftest import IMSD_BIN, free_port, minimal_cfg, write_cfg


def test_help_lists_commands(tmp_path, imsd_factory):
    d = imsd_factory(minimal_cfg(tmp_path))
    d.wait_ready()
    out = d.command("help", "details about a command")
    for cmd in ("help", "log", "quit"):
        assert f"  {cmd} " in out
    out = d.command("help log", "configuration property")
    assert "log [log_options]" in out


def test_unknown_command_keeps_running(tmp_path, imsd_factory):
    d = imsd_factory(minimal_cfg(tmp_path))
    d.wait_ready()
    out = d.command("frobnicate 1 2", "(type 'help'")
    assert "Unknown command: frobnicate" in out
    out = d.command("help nosuch", "Unknown command")
    d.command("help", "Available commands")


def _level(out, layer):
    m = re.search(r"^%s\s+(\w+)\s" % layer, out, re.M)
    assert m, out
    return m.group(1)


def test_log_shows_and_changes_state(tmp_path, imsd_factory):
    d = imsd_factory(minimal_cfg(tmp_path))
    d.wait_ready()
    out = d.command("log", "Options:")
    assert _level(out, "sip") == "info"
    out = d.command("log sip.level=debug,ims.level=error", "Options:")
    assert _level(out, "sip") == "debug" and _level(out, "ims") == "error"
    out = d.command("log sip.level=loud", "loud")
    assert "loud" in out
    out = d.command("log", "Options:")
    assert _level(out, "sip") == "debug"  # a bad option changed nothing
    assert _level(out, "ims") == "error"


def test_quit_exits_zero(tmp_path, imsd_factory):
    d = imsd_factory(minimal_cfg(tmp_path))
    d.wait_ready()
    d.proc.stdin.write(b"quit\n")
    d.proc.stdin.flush()
    assert d.wait_exit() == 0


def test_sigterm_exits_zero_and_flushes_log(tmp_path, imsd_factory):
    cfg = minimal_cfg(tmp_path)
    d = imsd_factory(cfg)
    d.wait_ready()
    d.proc.send_signal(signal.SIGTERM)
    assert d.wait_exit() == 0
    log = (tmp_path / "ims.log").read_text()
    assert "started" in log and "stopped" in log


def test_eof_on_stdin_does_not_stop(tmp_path, imsd_factory):
    d = imsd_factory(minimal_cfg(tmp_path))
    d.wait_ready()
    d.close_stdin()
    time.sleep(0.5)  # give a wrongly exiting server the chance to exit
    assert d.proc.poll() is None
    d.proc.send_signal(signal.SIGINT)
    assert d.wait_exit() == 0


def test_overlong_line_rejected(tmp_path, imsd_factory):
    d = imsd_factory(minimal_cfg(tmp_path))
    d.wait_ready()
    d.command("x" * 10000, "too long")
    d.command("help", "Available commands")


def _pty_read_until(fd, needle, timeout=10.0):
    buf = b""
    deadline = time.monotonic() + timeout
    while needle not in buf:
        left = deadline - time.monotonic()
        assert left > 0, f"timeout waiting for {needle!r} in {buf!r}"
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                buf += os.read(fd, 4096)
            except OSError:
                break
    return buf


def test_terminal_prompt_editing_and_history(tmp_path):
    cfg = minimal_cfg(tmp_path)
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(IMSD_BIN, [IMSD_BIN, cfg])
    try:
        _pty_read_until(fd, b"(ims) ")
        # line editing: type "hxlp", fix it with backspaces, run it
        os.write(fd, b"hxlp\x7f\x7f\x7felp\r")
        out = _pty_read_until(fd, b"details about a command.\r\n(ims) ")
        assert b"Available commands" in out
        # history: up arrow recalls the last command
        os.write(fd, b"\x1b[A\r")
        out = _pty_read_until(fd, b"details about a command")
        assert b"Available commands" in out
        os.write(fd, b"quit\r")
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        pid = 0
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)


def test_unread_answer_does_not_stall_sip(tmp_path, imsd_factory):
    """A long answer (`users` over 20,000 users, about 2 MB) to a console that does
    not read it no longer blocks the loop: SIP is answered meanwhile. The answer
    waits and comes whole, and the next command's answer comes after it."""
    from conftest import free_port, write_cfg
    from sipstack import options, status_of, udp_sock

    port = free_port()
    users = ",\n".join(
        f'{{ imsi: "00101{i:010d}", impu: ["u{i}"], pwd: "p", authent_type: "MD5" }}'
        for i in range(20000))
    cfg = write_cfg(tmp_path, f"""{{
  log_filename: "{tmp_path}/ims.log",
  sip_addr: ["127.0.0.1:{port}"],
  domain: "ims.test",
  ipsec: false,
  ue_db: [ {users} ],
}}
""")
    d = imsd_factory(cfg)
    d.wait_ready(60)
    start = len(d.out)
    # two commands in one write: the second waits for the first's answer
    d.proc.stdin.write(b"users\nhelp quit\n")
    d.proc.stdin.flush()
    s = udp_sock()
    try:
        for i in range(20):  # stdout is not read meanwhile
            s.sendto(options(f"sip:127.0.0.1:{port}", "127.0.0.1", s.getsockname()[1],
                             f"z9hG4bKmon{i}", f"mon{i}@t"), ("127.0.0.1", port))
            s.settimeout(2.0)
            resp, _ = s.recvfrom(65536)
            assert status_of(resp)[0] == 200
    finally:
        s.close()
    end = d.wait_out("Stop the program and exit", 30, start)
    out = d.out[start:end].decode(errors="replace")
    listed = re.findall(r"^\S+\s+imsi=00101\d{10}\s", out, re.M)
    assert len(listed) == 20000, len(listed)
    summary = out.index("20000 user(s), 0 registered, 0 binding(s)")
    assert out.index("Stop the program and exit") > summary  # in order
    # stopped in the middle of a listing nobody reads: exits cleanly, nothing
    # leaked (the factory checks the sanitizer report)
    d.proc.stdin.write(b"users\n")
    d.proc.stdin.flush()
    time.sleep(0.5)
    d.proc.send_signal(signal.SIGTERM)
    assert d.wait_exit(20) == 0


def test_users_text_whole(tmp_path, imsd_factory):
    """The whole `users` text, line by line, after a registration over UDP: what the
    registrar exposes as data (users, bindings) as the monitor writes it (docs/registrar.md);
    scripts read it, so it does not change with the code that makes it."""
    port = free_port()
    cfg = write_cfg(tmp_path, f"""{{
  log_filename: "{tmp_path / 'ims.log'}",
  sip_addr: ["127.0.0.1:{port}"],
  domain: "ims.test",
  ue_db: [
    {{ imsi: "001010000000001", impi: "dave@ims.test", authent_type: "none",
       impu: ["sip:dave", "tel:+33100000004"] }},
    {{ imsi: "001010000000002", impi: "erin@ims.test", pwd: "p", impu: ["sip:erin"] }},
  ],
}}
""")
    d = imsd_factory(cfg)
    d.wait_ready()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    me = s.getsockname()[1]
    s.sendto((f"REGISTER sip:ims.test SIP/2.0\r\n"
              f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKu1;rport\r\n"
              f"Max-Forwards: 70\r\n"
              f"From: <sip:dave@ims.test>;tag=u1\r\n"
              f"To: <sip:dave@ims.test>\r\n"
              f"Call-ID: users-text@test\r\n"
              f"CSeq: 1 REGISTER\r\n"
              f"Contact: <sip:dave@127.0.0.1:{me}>;expires=600;reg-id=1;"
              f"+sip.instance=\"<urn:gsma:imei:35000000-000001-0>\"\r\n"
              f"Content-Length: 0\r\n\r\n").encode(), ("127.0.0.1", port))
    s.settimeout(5)
    resp = s.recv(65536)
    s.close()
    assert resp.startswith(b"SIP/2.0 200 "), resp
    out = d.command("users", "binding(s)\n")
    expect = (r"dave@ims\.test  imsi=001010000000001  registered  auth=none\n"
              r"  impu: sip:dave@ims\.test tel:\+33100000004\n"
              rf"  contact c1: sip:dave@127\.0\.0\.1:{me}  udp 127\.0\.0\.1:{me}  "
              r"expires=(\d+)s  q=1\.000  imei=35000000000001  reg-id=1\n"
              r"erin@ims\.test  imsi=001010000000002  not registered\n"
              r"  impu: sip:erin@ims\.test\n"
              r"2 user\(s\), 1 registered, 1 binding\(s\)\n")
    m = re.fullmatch(expect, out)
    assert m, out
    assert 590 <= int(m.group(1)) <= 600
    assert d.command("users tel:+33100000004", "reg-id=1\n") == out.split("erin@")[0]


def test_no_service_includes_the_monitor():
    """Services expose data and the monitor formats it (docs/monitor.md): only the
    monitor itself and the wiring (src/app) include monitor/ headers, so that a console
    or the remote API can be added or changed without touching a service."""
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src")
    found = []
    for top, _dirs, files in os.walk(src):
        module = os.path.relpath(top, src).split(os.sep)[0]
        if module in ("monitor", "app"):
            continue
        for f in files:
            if not f.endswith((".c", ".h")):
                continue
            with open(os.path.join(top, f), encoding="utf-8", errors="replace") as fh:
                for n, line in enumerate(fh, 1):
                    if re.match(r'\s*#\s*include\s+"monitor/', line):
                        found.append(f"{module}/{f}:{n}: {line.strip()}")
    assert os.path.isdir(os.path.join(src, "registrar")), src
    assert not found, "\n".join(found)
