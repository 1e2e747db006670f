"""bench/sms, the SMS benchmark's own parts: the per-socket drop counter it
reads from /proc/net/udp, the RP-DATA/SMS-SUBMIT its phones send (decoded
by imsctl), and bench/sms/smsload, the C phones, over the wire against the
real imsd at a low rate: every SMS goes MO -> 202 -> RP-ACK to the sender
-> SMS-DELIVER to the receiver -> its RP-ACK, and is counted delivered
once. No timing is asserted (performance is bench/RESULTS.md's)."""
import json
import os
import re
import subprocess
import sys
import time


from conftest import IMSCTL_BIN, IMSD_BIN, ROOT, run_tool

sys.path.insert(0, os.path.join(ROOT, "bench", "sms"))
import smsbench  # noqa: E402

SMSLOAD = os.path.join(os.path.dirname(IMSD_BIN), "bench", "smsload")

PROC_NET_UDP = """\
   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 0100007F:B3B0 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 17
  101: 0100007F:B3B1 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 0
  102: 00000000:B3B0 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 5
"""


def test_udp_drops_per_loopback_port():
    # 0xB3B0 = 46000 on 127.0.0.1 only (the wildcard socket of the same
    # port is not the bench's); a port without a socket reads 0
    assert smsbench.udp_drops([46000, 46001, 46002], PROC_NET_UDP) == \
        {46000: 17, 46001: 0, 46002: 0}


def test_rp_submit_is_what_imsctl_decodes():
    hexa = smsbench.rp_submit(smsbench.receiver_of(7)[1], 42).hex()
    r = run_tool([IMSCTL_BIN, "sms", "decode", hexa], capture_output=True, text=True,
                 timeout=30)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "RP-DATA" in out and "SMS-SUBMIT" in out, out
    assert smsbench.TEXT in out and "33620000007" in out and "33699999999" in out, out
    # a byte less: imsctl refuses it, the check can fail
    bad = run_tool([IMSCTL_BIN, "sms", "decode", hexa[:-2]], capture_output=True, text=True,
                   timeout=30)
    assert bad.returncode != 0


def test_smsload_carries_the_round_trip(tmp_path, imsd_factory):
    # built beside imsd by the same ninja run (bench/meson.build): missing is a failure
    assert os.path.exists(SMSLOAD), f"{SMSLOAD} not built (ninja -C {os.path.dirname(IMSD_BIN)})"
    pairs = 5
    port = smsbench.benchlib.free_udp_port()
    cfg = smsbench.config(str(tmp_path), port, pairs, 1, state=False)
    d = imsd_factory(cfg)
    d.wait_ready(60)
    ph = smsbench.Phones(port)
    smsbench.register_all(ph, pairs, settle=0.5)
    smsbench.drain(ph, lambda: ph.registered >= 2 * pairs, time.time() + 20)
    assert ph.registered == 2 * pairs
    fds = (ph.snd.fileno(), ph.rcv.fileno())
    p = subprocess.run([SMSLOAD, "--port", str(port), "--snd-fd", str(fds[0]),
                        "--rcv-fd", str(fds[1]), "--pairs", str(pairs), "--rate", "20",
                        "--secs", "1", "--drain", "20", "--tag", "t"],
                       pass_fds=fds, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["sent"] >= 15
    assert r["accepted"] == r["sent"] and r["rpack_in"] == r["sent"]
    assert r["mt_in"] == r["sent"] and r["delivered"] == r["sent"]
    assert r["errors"] == 0 and r["other"] == 0 and r["mt_dup"] == 0
    # bad arguments: refused with the usage line
    p = subprocess.run([SMSLOAD, "--port", str(port), "--pairs", "0"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 2 and "usage" in p.stderr


def _unproven_refused(d):
    """counters.sip.tx_unproven_refused since the previous `stats`."""
    out = d.command("stats", "counters.loop.wakeups")
    m = re.search(r"counters\.sip\.tx_unproven_refused: (\d+)", out)
    assert m, out
    return int(m.group(1))


def _burst(tmp_path, imsd_factory, warm):
    """40 SMS sent at once by phones registered without a challenge, which
    read nothing until imsd has refused something (warm: after one SMS went
    through first). imsd's RP-ACK and SMS-DELIVER MESSAGEs go to the two
    sockets of the phones, one IP. Returns (refused, sent, delivered)."""
    pairs = 40
    port = smsbench.benchlib.free_udp_port()
    work = tmp_path / f"burst{int(warm)}"
    work.mkdir()
    cfg = smsbench.config(str(work), port, pairs, 1, state=False)
    d = imsd_factory(cfg)
    d.wait_ready(60)
    ph = smsbench.Phones(port)
    try:
        smsbench.register_all(ph, pairs, settle=0.5)
        smsbench.drain(ph, lambda: ph.registered >= 2 * pairs, time.time() + 20)
        assert ph.registered == 2 * pairs
        if warm:
            smsbench.warm_up(ph)
        _unproven_refused(d)  # counters from here
        s0, d0 = ph.sent, ph.delivered
        for i in range(pairs):
            ph.sms(i, smsbench.receiver_of(i)[1])
        refused = 0
        deadline = time.time() + 20
        # unanswered, 80 MESSAGEs of some 500 B are past the 16 KiB an
        # unproven IP gets at once: imsd must refuse some before the
        # phones read (a proven address is never refused)
        while not warm and not refused and time.time() < deadline:
            time.sleep(0.1)
            refused += _unproven_refused(d)
        smsbench.drain(ph, lambda: ph.delivered - d0 >= pairs, time.time() + 10)
        refused += _unproven_refused(d)
        return refused, ph.sent - s0, ph.delivered - d0
    finally:
        ph.snd.close()
        ph.rcv.close()


def test_burst_to_unproven_phones_and_warm_up(tmp_path, imsd_factory):
    """Why bench/sms warms up (smsbench.warm_up): phones registered without
    a challenge have proven nothing, so a burst of SMS makes imsd send them
    more than an unproven IP's budget (sip/sip_peer.h) before they answer;
    the MESSAGEs over it fail 503 and, with sms_retry_delay 0, those SMS
    wait for the next registration (the 1.05 % loss of an earlier 10,000/s
    step). After one SMS has gone through, the same burst loses nothing."""
    refused, sent, delivered = _burst(tmp_path, imsd_factory, warm=False)
    assert sent == 40 and refused > 0 and delivered < sent, (refused, delivered)
    refused, sent, delivered = _burst(tmp_path, imsd_factory, warm=True)
    assert sent == 40 and refused == 0 and delivered == sent, (refused, delivered)
