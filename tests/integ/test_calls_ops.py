"""Calls the operator drives from the monitor (docs/calls.md "MT calls",
"The monitor"):
`mt_call` with SIPp as the called phone, registered with AKA as in
test_calls.py: imsd's INVITE (the caller named on the command line in From
and P-Asserted-Identity, imsd's offer on a relay port), the dialog listed
with type mt, and imsd's BYE when the duration is over; the command's
answers for a callee that does not exist or is not registered; an echo
call of a caller with remote_control held at 180 until `dialog_set N answer`;
an mt call put on hold by `dialog_set N hold` (imsd's re-INVITE, a=sendonly);
an INVITE whose Session-Expires is below Min-SE answered 422 (RFC 4028).
"""
import re
import subprocess
import time

import pytest

import test_calls as tc
from conftest import free_port
from sipstack import wait_log

HOST = tc.HOST


@pytest.fixture
def ims(tmp_path):
    yield from tc.calls_ims(tmp_path, """dialog_timeout: 5,
  echo: ["sip:echo"],""", [
        tc.user("001010000000201", "alice"),
        tc.user("001010000000202", "bob"),
        tc.user("001010000000203", "carol"),
        tc.user("001010000000204", "dora", ", remote_control: true"),
    ])


def test_mt_call_with_duration(ims):
    d, port, log, tmp = ims
    bp = free_port()
    tc.register(ims, "bob", bp)
    p = tc.start_uas(ims, "call_uas_mt", bp, "bob")
    try:
        text = d.command("mt_call sip:bob@ims.test -d 1 - sip:alice@ims.test",
                         "mt_call sip:bob@ims.test: dialog ")
        time.sleep(0.2)
        m = re.search(r"mt_call sip:bob@ims.test: dialog (\d+)", text + d.out.decode())
        assert m, text
        deadline = time.monotonic() + 10
        while True:  # until bob answered
            text = d.command("dialog", "dialog(s)")
            if " start " in text or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert re.search(r"^\s*%s\s+\S+\s+start\s+mt\s+sip:alice@ims.test\s+"
                         r"sip:bob@ims.test\s+-" % m.group(1), text, re.M), text
        assert "1 dialog(s)" in text, text
    finally:
        rc, out = tc.wait_uas(p, timeout=30)
    assert rc == 0, out
    text = d.command("dialog", "dialog(s)")
    assert re.search(r"stop\s+mt", text), text
    wait_log(log, lambda t: "mt_call duration elapsed" in t)


def test_mt_call_errors(ims):
    d = ims[0]
    text = d.command("mt_call sip:nobody@ims.test", "no such user or contact")
    assert "no such user or contact" in text, text
    text = d.command("mt_call carol@ims.test", "not registered")
    assert "not registered" in text, text
    d.command("mt_call", "usage: mt_call CALLEE [-d DURATION] [SDP_FILE] [CALLER]")
    d.command("dialog_set 99 downgrade", "dialog 99: no such dialog")
    d.command("dialog_set 99 fly", "usage: dialog_set INDEX stop [CODE [REASON [PROTOCOL]]]|answer")
    text = d.command("mt_call sip:bob@ims.test -d x", "not a duration")
    assert "not a duration" in text, text
    # an sdp_file that cannot be read: nothing sent
    bp = free_port()
    tc.register(ims, "bob", bp)
    d.command("mt_call sip:bob@ims.test /nonexistent.sdp", "cannot read the SDP file")
    wait_log(ims[2], lambda t: "SDP file /nonexistent.sdp: No such file" in t)


def test_echo_remote_control_answered_from_monitor(ims):
    d, port, log, tmp = ims
    a = free_port()
    tc.register(ims, "dora", a)
    p = subprocess.Popen(tc.sipp_cmd(tmp, "call_uac_echo", port, a, "dora",
                                     service="echo"), cwd=tmp,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:  # until the INVITE has come
            text = d.command("dialog", "dialog(s)")
            if "ringing" in text or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        m = re.search(r"^\s*(\d+)\s+\S+\s+ringing\s+echo\s+sip:dora@ims.test", text, re.M)
        assert m, text
        time.sleep(0.5)  # held: still ringing
        assert re.search(r"ringing\s+echo", d.command("dialog", "dialog(s)"))
        d.command("dialog_set %s media off off" % m.group(1), "media forwarding set")
        d.command("dialog_set %s answer" % m.group(1), "answered")
        d.command("dialog_set %s answer" % m.group(1), "not in this state")
    finally:
        rc, out = tc.wait_uas(p, timeout=30)
    assert rc == 0, out


def wait_state(d, state, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        text = d.command("dialog", "dialog(s)")
        if f" {state} " in text or time.monotonic() > deadline:
            return text
        time.sleep(0.1)


def test_mt_call_hold_from_monitor(ims):
    d, port, log, tmp = ims
    bp = free_port()
    tc.register(ims, "bob", bp)
    p = tc.start_uas(ims, "call_uas_mt_hold", bp, "bob")
    try:
        d.command("mt_call sip:bob@ims.test -d 3 - sip:alice@ims.test",
                  "mt_call sip:bob@ims.test: dialog ")
        text = wait_state(d, "start")
        m = re.search(r"^\s*(\d+)\s+\S+\s+start\s+mt", text, re.M)
        assert m, text
        d.command("dialog_set %s hold" % m.group(1), "re-INVITE sent (hold toggled)")
        text = wait_state(d, "hold")
        assert re.search(r"hold\s+mt\s+sip:alice@ims.test", text), text
    finally:
        rc, out = tc.wait_uas(p, timeout=30)
    assert rc == 0, out


def test_session_expires_too_small_422(ims):
    d, port, log, tmp = ims
    a = free_port()
    tc.register(ims, "alice", a)
    rc, out = tc.run(tc.sipp_cmd(tmp, "call_uac_timer_422", port, a, "alice",
                                 service="bob"), tmp)
    assert rc == 0, out
