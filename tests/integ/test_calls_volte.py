"""VoLTE call flows over the wire (docs/calls.md "VoLTE"): reliable
provisionals (RFC 3262) on the caller's leg, with SIPp as both UEs
registered with AKA, as test_calls.py does.

imsd is the caller's UAS: a caller that requires 100rel gets every 1xx
reliably (Require: 100rel, RSeq) and PRACKs imsd, whatever the callee
supports; the callee's INVITE does not carry 100rel (imsd does not offer it
on that leg). A PRACK whose RAck matches no reliable 1xx gets 481; a caller
whose IMPU has `100rel` off gets 420 with Unsupported: 100rel.
"""
import re
import socket

import pytest

from conftest import Imsd, free_port
from test_calls import (HOST, SIPP, media_range, raw, recv_status, register, req, run,
                        sipp_cmd, start_uas, user, wait_uas)


NO_100REL = ', "100rel": false'


@pytest.fixture
def ims(tmp_path):
    assert SIPP, "sipp is not installed (make deps installs sip-tester)"
    port = free_port()
    media = media_range()
    log = tmp_path / "ims.log"
    cfg = tmp_path / "ims.cfg"
    cfg.write_text(f"""{{
  log_filename: "{log}",
  log_options: "all.level=debug",
  sip_addr: [{{ addr: "{HOST}:{port}", port_min: {media}, port_max: {media + 399} }}],
  domain: "ims.test",
  dialog_timeout: 5,
  ue_db: [
    {user("001010000000201", "alice")},
    {user("001010000000202", "bob")},
    {user("001010000000203", "erin", NO_100REL)},
  ],
}}
""")
    d = Imsd(str(cfg))
    try:
        d.wait_ready()
        yield d, port, str(log), tmp_path
    finally:
        d.stop()
    assert not d.sanitizer_report(), d.sanitizer_report()


def volte_call(ims, uac, uas, caller="alice", callee="bob"):
    d, port, log, tmp = ims
    a = free_port()
    register(ims, caller, a)
    callee_rc = None
    if uas:
        b = free_port()
        register(ims, callee, b)
        p = start_uas(ims, uas, b, callee)
    rc, out = run(sipp_cmd(tmp, uac, port, a, caller, service=callee), tmp)
    if uas:
        callee_rc = wait_uas(p)
    return rc, out, callee_rc


def sent_invites(log):
    """The INVITEs imsd sent towards a callee, as the SIP log shows them."""
    text = open(log, encoding="utf-8", errors="replace").read()
    sent = [m for m in re.split(r"\n(?=\S)", text)
            if re.match(r"\S+ \[SIP\]\s+TO .* INVITE sip:", m)]
    assert sent, "no INVITE towards the callee in the log"
    return sent


def test_prack_reliable_183(ims):
    """Caller requires 100rel, callee does not support it: the callee's 183
    with SDP reaches the caller reliably, its PRACK gets 200 from imsd, and
    the call is answered and ended."""
    d, port, log, tmp = ims
    rc, out, (brc, bout) = volte_call(ims, "prack_uac", "prack_uas")
    assert rc == 0, out
    assert brc == 0, bout
    text = open(log, encoding="utf-8", errors="replace").read()
    assert "RSeq:" in text
    # towards the callee, no 100rel in Require (RFC 3262 per leg)
    for inv in sent_invites(log):
        assert not re.search(r"^\s*Require:.*100rel", inv, re.M | re.I), inv


def test_prack_wrong_rack(ims):
    """A PRACK whose RAck names no reliable 1xx gets 481 (RFC 3262 §3);
    the right one then gets 200 and the call goes on."""
    rc, out, (brc, bout) = volte_call(ims, "prack_uac_rack", "prack_uas")
    assert rc == 0, out
    assert brc == 0, bout


def test_require_100rel_off_gets_420(ims):
    """erin's IMPU has 100rel false: her INVITE requiring it gets 420 with
    Unsupported: 100rel, and nobody is called."""
    rc, out, _ = volte_call(ims, "prack_uac_420", None, caller="erin")
    assert rc == 0, out


def test_prack_no_dialog_481(ims):
    """A PRACK in no dialog gets 481 (RFC 3261 §12.2.2)."""
    d, port, log, tmp = ims
    a = free_port()
    register(ims, "alice", a)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((HOST, a))
    try:
        raw(s, port, req("PRACK", a, to_tag="nosuch"))
        assert recv_status(s)[0] == 481
    finally:
        s.close()


def test_volte_precondition_flow(ims):
    """The VoLTE flow end to end (RFC 3312, RFC 3262, RFC 3311): INVITE
    with Require: precondition and a=des:qos mandatory / a=curr:qos none;
    the callee's reliable 183 + SDP is PRACKed by imsd and reaches the
    caller reliably with imsd's own RSeq; the caller's PRACK gets 200; its
    UPDATE (a=curr:qos local sendrecv) is relayed in the early dialogs and
    the 200 UPDATE comes back; 180, 200, ACK, BYE. Each SDP goes
    through the relay (c=/m= of imsd on both sides)."""
    d, port, log, tmp = ims
    rc, out, (brc, bout) = volte_call(ims, "volte_uac", "volte_uas")
    assert rc == 0, out
    assert brc == 0, bout
    text = open(log, encoding="utf-8", errors="replace").read()
    # imsd PRACKed the callee and relayed the caller's UPDATE
    assert re.search(r"\[SIP\]\s+TO .* PRACK sip:callee@", text), "no PRACK to the callee"
    assert re.search(r"\[SIP\]\s+TO .* UPDATE sip:callee@", text), "UPDATE not relayed"
