"""The shipped configuration (config/ims.cfg) loads, checks clean and runs as
`make run` runs it. The test copies it to a temporary directory and moves the
ports there; the log file, relative to the configuration, follows it, so the
test never touches the machine's 5060 or the repository's config/ims.log."""
import os
import re
import shutil
import signal

from conftest import IMSD_BIN, ROOT, free_port, run_tool


def _copy_config(tmp_path):
    src = os.path.join(ROOT, "config")
    for name in os.listdir(src):
        if name.endswith(".cfg"):
            shutil.copy(os.path.join(src, name), tmp_path / name)
    cfg = tmp_path / "ims.cfg"
    text = cfg.read_text()
    p4, p6 = free_port(), free_port()
    text = text.replace('"127.0.0.1:5060"', f'"127.0.0.1:{p4}"')
    text = text.replace('"[::1]:5060"', f'"[::1]:{p6}"')
    text = text.replace('"127.0.0.1:9003"', f'"127.0.0.1:{free_port()}"')
    cfg.write_text(text)
    return str(cfg)


def test_shipped_config_checks_clean():
    r = run_tool([IMSD_BIN, "--check-config", os.path.join(ROOT, "config", "ims.cfg")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stderr, r.stderr


def test_shipped_config_dumps_users():
    r = run_tool([IMSD_BIN, "--dump-config", os.path.join(ROOT, "config", "ims.cfg")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert '"sim_algo": "milenage"' in r.stdout  # from the included ue_db file
    assert '"authent_type": "MD5"' in r.stdout


def test_shipped_log_path_is_private():
    """Issue 19 finding 8: the shipped log is not in a world-writable directory
    (it is relative to the configuration's own directory), and imsd creates it
    0600 (test_shipped_config_runs checks the mode)."""
    r = run_tool([IMSD_BIN, "--dump-config", os.path.join(ROOT, "config", "ims.cfg")],
                 capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    m = re.search(r'"log_filename": "([^"]+)"', r.stdout)
    assert m, r.stdout[:2000]
    # relative to the configuration's directory (manual §5, log_filename)
    assert not os.path.isabs(m.group(1)) and "/" not in m.group(1), m.group(1)
    d = os.path.join(ROOT, "config")
    assert not os.stat(d).st_mode & 0o002, d


def test_shipped_config_runs(tmp_path, imsd_factory):
    d = imsd_factory(_copy_config(tmp_path))
    d.wait_ready()
    out = d.command("help", "details about a command")
    assert "log" in out and "quit" in out
    out = d.command("log", "Options:")
    assert re.search(r"^sip\s+info\s", out, re.M)
    d.proc.send_signal(signal.SIGTERM)
    assert d.wait_exit() == 0
    assert "started" in (tmp_path / "ims.log").read_text()
    assert (tmp_path / "ims.log").stat().st_mode & 0o777 == 0o600
