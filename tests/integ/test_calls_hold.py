"""dialog_set on a call between two phones (docs/calls.md "The monitor"),
over the wire: SIPp as both phones, registered with AKA as in test_calls.py,
call each other through imsd; the operator holds the call from the monitor
(`dialog_set N hold audio`, the API's `media`), and imsd sends both phones a
re-INVITE with a=sendonly (sipp/call_uac_held.xml, call_uas_held.xml check
it and imsd's Contact), the call is listed `hold`; again, a=sendrecv and
`start`, the callee answering on another media port, which the relay
follows (its log line names the new port). tshark decodes every SIP and SDP
packet without a malformed one and sees exactly imsd's two a=sendonly
offers.
"""
import re
import subprocess

import pytest

import test_calls as tc
from conftest import free_port
from test_calls_ops import wait_state

HOST = tc.HOST


@pytest.fixture
def ims(tmp_path):
    yield from tc.calls_ims(tmp_path, "dialog_timeout: 10,", [
        tc.user("001010000000201", "alice"), tc.user("001010000000202", "bob")])


def test_hold_and_resume_both_phones_from_monitor(ims):
    assert tc.TSHARK, "tshark is not installed (make deps installs it)"
    d, port, log, tmp = ims
    a, bp = free_port(), free_port()
    tc.register(ims, "alice", a)
    tc.register(ims, "bob", bp)
    pcap = tmp / "hold.pcap"
    cap = tc.start_capture(pcap, f"udp port {port}")
    try:
        uas = tc.start_uas(ims, "call_uas_held", bp, "bob")
        uac = subprocess.Popen(tc.sipp_cmd(tmp, "call_uac_held", port, a, "alice",
                                           service="bob"), cwd=tmp,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            text = wait_state(d, "start")
            m = re.search(r"^\s*(\d+)\s+\S+\s+start\s+server\s+sip:alice@ims.test", text,
                          re.M)
            assert m, text
            idx = m.group(1)
            d.command(f"dialog_set {idx} hold fax", "not for this kind of call")
            d.command(f"dialog_set {idx} reinvite /x.sdp", "not for this kind of call")
            d.command(f"dialog_set {idx} hold audio", "re-INVITE sent (hold toggled)")
            text = wait_state(d, "hold")
            # both dialogs of the call: the server one and its mt one
            assert len(re.findall(r"hold\s+(server|mt)\s+sip:alice@ims.test", text)) == 2, \
                text
            d.command(f"dialog_set {idx} hold audio", "re-INVITE sent (hold toggled)")
        finally:
            rc_a, out_a = tc.wait_uas(uac)
            rc_b, out_b = tc.wait_uas(uas)
    finally:
        tc.stop_capture(cap)
    assert rc_a == 0, out_a
    assert rc_b == 0, out_b
    text = tc.log_text(ims)
    assert re.search(r"call \d+ .*: hold", text), text[-3000:]
    assert re.search(r"call \d+ .*: hold\n(.*\n)*.*call \d+ .*: start", text), text[-3000:]
    # the callee's media port as it answered the call, then as it answered
    # imsd's last re-INVITE: the relay follows it
    ports = [int(p) for p in re.findall(r"RTP/audio leg B UE at 127\.0\.0\.1:(\d+)", text)]
    assert len(ports) >= 2 and ports[-1] == ports[0] + 2, ports
    p = subprocess.run([tc.TSHARK, "-r", str(pcap), "-d", f"udp.port=={port},sip", "-Y",
                        "sip || _ws.malformed"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    out = p.stdout.decode(errors="replace")
    assert "Malformed" not in out, out
    p = subprocess.run([tc.TSHARK, "-r", str(pcap), "-d", f"udp.port=={port},sip", "-Y",
                        'sip.Method == "INVITE"', "-T", "fields", "-e", "udp.srcport",
                        "-e", "udp.dstport", "-e", "sdp.media_attr"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    rows = [r.split("\t") for r in p.stdout.decode().splitlines() if r]
    # the caller's INVITE, the branch's, and imsd's four re-INVITEs
    assert len(rows) == 6, rows
    held = [r for r in rows if "sendonly" in r[2]]
    assert sorted(int(r[1]) for r in held) == sorted([a, bp]), rows
    assert all(int(r[0]) == port for r in held), rows


def test_stop_with_reason_from_monitor(ims):
    """`dialog_set N stop CODE REASON PROTOCOL` (manual §6 dialog_set stop's
    code, reason, reason_protocol): imsd's BYE to each phone carries
    `Reason: Q.850;cause=16;text="Normal call clearing"` (RFC 3326), which
    tshark decodes (sipp/call_uac_recvbye.xml, call_uas_mt.xml take the
    BYEs); a protocol that is not a token is refused and the call goes on."""
    assert tc.TSHARK, "tshark is not installed (make deps installs it)"
    d, port, log, tmp = ims
    a, bp = free_port(), free_port()
    tc.register(ims, "alice", a)
    tc.register(ims, "bob", bp)
    pcap = tmp / "reason.pcap"
    cap = tc.start_capture(pcap, f"udp port {port}")
    try:
        uas = tc.start_uas(ims, "call_uas_mt", bp, "bob")
        uac = subprocess.Popen(tc.sipp_cmd(tmp, "call_uac_recvbye", port, a, "alice",
                                           service="bob"), cwd=tmp,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            text = wait_state(d, "start")
            m = re.search(r"^\s*(\d+)\s+\S+\s+start\s+server\s+sip:alice@ims.test", text,
                          re.M)
            assert m, text
            idx = m.group(1)
            d.command(f'dialog_set {idx} stop 16 "Normal call clearing" "Q 850"',
                      "not for this kind of call")
            d.command(f'dialog_set {idx} stop 16 "Normal call clearing" Q.850', "stopped")
        finally:
            rc_a, out_a = tc.wait_uas(uac)
            rc_b, out_b = tc.wait_uas(uas)
    finally:
        tc.stop_capture(cap)
    assert rc_a == 0, out_a
    assert rc_b == 0, out_b
    p = subprocess.run([tc.TSHARK, "-r", str(pcap), "-d", f"udp.port=={port},sip", "-Y",
                        "sip || _ws.malformed"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    out = p.stdout.decode(errors="replace")
    assert "Malformed" not in out, out
    p = subprocess.run([tc.TSHARK, "-r", str(pcap), "-d", f"udp.port=={port},sip", "-Y",
                        'sip.Method == "BYE"', "-T", "fields", "-e", "udp.srcport",
                        "-e", "udp.dstport", "-e", "sip.reason_protocols", "-e",
                        "sip.reason_cause_q850", "-e", "sip.reason_text"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    rows = [r.split("\t") for r in p.stdout.decode().splitlines() if r]
    assert sorted(int(r[1]) for r in rows) == sorted([a, bp]), rows
    for r in rows:
        assert int(r[0]) == port and r[2] == "Q.850" and r[3] == "16", rows
        assert "Normal call clearing" in r[4], rows
