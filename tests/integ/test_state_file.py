"""The state file (manual §5.2 `ue_db_filename`): registrations, reg-event
subscriptions and SQN_HE survive a restart and a crash; bindings that expired
while imsd was down are reported to their subscribers; a file that is not
imsd's is set aside, bad rows are skipped, and two servers cannot share one
file. The UE side is the scripted AKA UE of test_register_ue.py."""
import os
import re
import signal
import sqlite3
import time

import pytest

from conftest import free_port
from test_register_ue import Ue, _auth, _cfg, _challenge, _ue_side


def _state_cfg(tmp_path, port):
    return _cfg(tmp_path, port, extra='ue_db_filename: "ims.state",')


def _register(ue, expires=600, sqn_ms=None):
    """Registers; returns the SQN of the challenge the UE accepted."""
    code, resp = ue.register(expires=expires)
    assert code == 401, resp
    nonce = _challenge(resp)["nonce"]
    out = _ue_side(nonce, sqn_ms=sqn_ms)
    assert "auts" not in out, out  # the HSS's SQN is fresh for this SIM
    code, resp = ue.register(expires=expires, auth=_auth(nonce, out["response"]))
    assert code == 200, resp
    return out["sqn"]


def _versions(notifies):
    return [int(v) for n in notifies for v in re.findall(r'<reginfo[^>]*version="(\d+)"', n)]


def _written(d):
    """Waits until the state file holds every change (group commit: a few ms)."""
    deadline = time.monotonic() + 10
    while True:
        stats = d.command("stats", "registrar.mem")
        if re.search(r"^store\.pending: 0$", stats, re.M):
            return
        assert time.monotonic() < deadline, stats
        time.sleep(0.02)


def _start(factory, cfg):
    d = factory(cfg)
    d.wait_ready()
    return d


class _Site:
    """One test's server configuration with a state file, and its UEs."""

    def __init__(self, tmp_path, factory):
        self.tmp_path = tmp_path
        self.port = free_port()
        self.cfg = _state_cfg(tmp_path, self.port)
        self._factory = factory
        self._ues = []

    def start(self):
        return _start(self._factory, self.cfg)

    def ue(self):
        """A new UE (another UDP port), closed at the end of the test."""
        u = Ue(self.port)
        self._ues.append(u)
        return u

    def close(self):
        for u in self._ues:
            u.close()


@pytest.fixture
def site(tmp_path, imsd_factory):
    s = _Site(tmp_path, imsd_factory)
    yield s
    s.close()


def _log(tmp_path, pattern):
    """Waits until the log file (written before the loop sleeps) matches."""
    deadline = time.monotonic() + 10
    while True:
        text = (tmp_path / "ims.log").read_text(errors="replace")
        if re.search(pattern, text):
            return text
        assert time.monotonic() < deadline, f"log has no {pattern!r}:\n{text[-3000:]}"
        time.sleep(0.05)


def test_registration_subscription_and_sqn_survive_restart(tmp_path, site):
    d = site.start()
    ue = site.ue()
    sqn = _register(ue)
    code, resp = ue.subscribe()
    assert code == 200, resp
    ue.wait_notify(r'state="active"')
    for f in os.listdir(tmp_path):  # it holds CK/IK
        if f.startswith("ims.state"):
            assert os.stat(tmp_path / f).st_mode & 0o777 == 0o600, f
    d.stop()
    assert os.path.exists(tmp_path / "ims.state")

    d = site.start()
    _log(tmp_path, r"store: \S+ims.state: 1 user\(s\), 1 binding\(s\), "
                   r"1 subscription\(s\) restored")
    out = d.command("users", "binding(s)")
    assert re.search(r"^001010000000201@ims.test\s+imsi=001010000000201\s+registered\s+"
                     r"auth=AKAv1-MD5\s+reg-subscriptions=1", out, re.M), out
    m = re.search(rf"udp 127.0.0.1:{ue.me}\s+expires=(\d+)s", out)
    assert m and 500 < int(m.group(1)) <= 600, out

    # SQN_HE went on from where it was: the SIM (SQN_MS = the last SQN it
    # accepted) takes the next challenge without a resync
    before = _versions(ue.notifies)
    sqn2 = _register(ue, sqn_ms=sqn)
    assert int(sqn2, 16) > int(sqn, 16)
    stats = d.command("stats", "registrar.mem")
    assert re.search(r"^store\.users_written: [1-9]", stats, re.M), stats
    assert re.search(r"^store\.failures: 0$", stats, re.M), stats
    # the restored subscription is told, its version going on
    ue.wait_notify(r'event="refreshed"')
    after = _versions(ue.notifies)
    assert after[-1] > max(before), (before, after)


def test_registration_survives_crash(site):
    d = site.start()
    ue = site.ue()
    _register(ue)
    _written(d)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(10)
    d = site.start()
    out = d.command("users", "binding(s)")
    assert re.search(r"\sregistered\s", out) and f"udp 127.0.0.1:{ue.me}" in out, out


def test_binding_expired_while_stopped_is_notified(tmp_path, site):
    d = site.start()
    ue = site.ue()
    _register(ue, expires=2)
    code, resp = ue.subscribe()
    assert code == 200, resp
    ue.wait_notify(r'state="active"')
    d.stop()
    time.sleep(2.5)
    d = site.start()
    ue.wait_notify(r'event="expired"')
    ue.wait_notify(r"(?im)^Subscription-State: terminated")
    out = d.command("users", "binding(s)")
    assert re.search(r"\snot registered", out), out
    d.stop()
    db = sqlite3.connect(tmp_path / "ims.state")
    assert db.execute("SELECT count(*) FROM reg_binding").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM reg_sub").fetchone()[0] == 0
    # SQN_HE stays, the binding is gone
    assert db.execute("SELECT count(*) FROM reg_user").fetchone()[0] == 1
    db.close()


def test_foreign_file_set_aside(tmp_path, site):
    garbage = b"this is not a database\n" * 100
    (tmp_path / "ims.state").write_bytes(garbage)
    d = site.start()
    aside = [p for p in os.listdir(tmp_path) if p.startswith("ims.state.bad-")]
    assert len(aside) == 1, os.listdir(tmp_path)
    assert (tmp_path / aside[0]).read_bytes() == garbage
    _log(tmp_path, "ims.state was not an SQLite database: kept as ")
    _register(site.ue())
    d.stop()
    db = sqlite3.connect(tmp_path / "ims.state")
    assert db.execute("SELECT count(*) FROM reg_binding").fetchone()[0] == 1
    db.close()


def test_bad_rows_skipped(tmp_path, site):
    d = site.start()
    _register(site.ue())
    d.stop()
    db = sqlite3.connect(tmp_path / "ims.state")
    row = list(db.execute("SELECT * FROM reg_binding").fetchone())
    # a header injected through the contact, an IMEI that is not one, a user not in ue_db
    bad1 = list(row)
    bad1[2], bad1[3] = 77, row[3] + "\r\nX-Evil: 1"
    bad2 = list(row)
    bad2[2], bad2[10] = 78, "12ab"
    gone = list(row)
    gone[0] = "impi:nobody@ims.test"
    for r in (bad1, bad2, gone):
        db.execute(f"INSERT INTO reg_binding VALUES ({','.join('?' * len(r))})", r)
    db.commit()
    db.close()
    d = site.start()
    _log(tmp_path, r"1 user\(s\), 1 binding\(s\), 0 subscription\(s\) restored; "
                   r"1 row\(s\) of users not in ue_db kept, 2 bad row\(s\) skipped")
    out = d.command("users", "binding(s)")
    assert out.count(" contact c") == 1, out
    assert "X-Evil" not in out
    # the user's next registration rewrites its rows: the bad ones go, the
    # unknown user's stay
    _register(site.ue(), sqn_ms=None)
    d.stop()
    db = sqlite3.connect(tmp_path / "ims.state")
    rows = sorted((r[0], r[1]) for r in db.execute("SELECT user, bid FROM reg_binding"))
    db.close()
    # the restored binding and the new one (another UE port) of the user, and nobody's
    assert len(rows) == 3 and not {77, 78} & {b for _, b in rows}, rows
    assert [u for u, _ in rows].count("impi:nobody@ims.test") == 1, rows


def test_one_server_per_file(tmp_path, imsd_factory):
    cfg1 = _state_cfg(tmp_path, free_port())
    d1 = _start(imsd_factory, cfg1)
    sub = tmp_path / "second"
    sub.mkdir()
    cfg2 = _cfg(sub, free_port(), extra=f'ue_db_filename: "{tmp_path}/ims.state",')
    d2 = imsd_factory(cfg2)
    assert d2.wait_exit(20) != 0
    assert "ims.state: in use by another process" in d2.err.decode(errors="replace")
    d1.command("users", "binding(s)")  # the first one is unharmed
