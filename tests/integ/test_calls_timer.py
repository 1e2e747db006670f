"""Session timers over the wire (docs/calls.md "Session timers", RFC 4028),
with SIPp as both UEs registered with AKA, as test_calls.py does.

The config reader keeps `min` >= 90 s (RFC 4028 §4: Min-SE is never below
90 s), and there is no other knob that shortens a session interval, so the
calls run with the smallest interval the manual and the RFC allow, 90 s:
imsd refreshes at 45 s and a missing refresh ends the call at 60 s. To keep
the suite short the four calls run at the same time, each between its own
users whose IMPU settings pick the case:

- alice -> bob (global `session_expires: {duration: 90, min: 90}`): neither
  phone refreshes; imsd imposes the timer (`force`), its INVITE to bob
  carries Session-Expires: 90;refresher=uac, Min-SE and Supported: timer,
  alice's 200 Session-Expires: 90;refresher=uas; both phones get imsd's
  UPDATE at 45 s, answer it, and the call goes on until alice's BYE.
- carol -> dave: carol requires timer (Require: timer, accepted) for 90 s
  and to refresh (refresher=uac), dave
  takes the refresher role of his leg (refresher=uas); neither refreshes:
  imsd sends BYE to both (§10).
- erin -> frank (erin's IMPU `method: "invite"`): imsd's re-INVITE
  refreshes to both at 45 s with each leg's SDP, erin's 200 ACKed; frank's
  422 ends the call with BYE on both legs.
- gina -> the echo service: imsd is the only other side; it imposes the
  timer, refreshes gina by UPDATE at 45 s, and the call goes on to her BYE.
- hana -> ivan: ivan answers imsd's INVITE with 422 and Min-SE: 120; imsd
  ACKs it and sends the INVITE again (same Call-ID, CSeq 2,
  Session-Expires: 120;refresher=uac, Min-SE: 120, RFC 4028 §7.4), hana
  never sees the 422 and gets Session-Expires: 120;refresher=uas in her
  200 (sipp/st_uac_422_retry.xml, st_uas_422.xml).
- `mt_call sip:kim@ims.test -d 50` from the monitor: the callee IMPU's
  timer (the global one), imsd's INVITE with Session-Expires:
  90;refresher=uac, its UPDATE at 45 s answered, its BYE at 50 s.
tshark decodes the whole capture without a malformed packet and shows
ivan's two INVITEs with their Session-Expires and Min-SE, and imsd's
UPDATE to kim.

The 422 of a too small Session-Expires on a new INVITE is
test_calls_ops.py's.
"""
import os
import re
import subprocess

from conftest import free_port
from test_calls import (AUTH, HOST, SIPP, SIPP_DIR, TSHARK, register, start_calls_ims,
                        start_capture, stop_capture, user, wait_bound)

CALL_S = 100  # each scenario's bound: the 60 s expiry and some


def sipp_long(tmp, scenario, port, lport, name, service=None):
    """sipp_cmd of test_calls.py with a bound past the 60 s expiry."""
    inf = tmp / f"{name}-{lport}-st.csv"
    inf.write_text(f"SEQUENTIAL\n{name};{AUTH.format(u=name)};35000000-000001-0\n")
    cmd = [SIPP, "-sf", os.path.join(SIPP_DIR, scenario + ".xml"), "-inf", str(inf),
           "-m", "1", "-i", HOST, "-p", str(lport), "-t", "u1", "-nostdin",
           "-timeout", f"{CALL_S}s", "-timeout_error", "-max_retrans", "5",
           "-trace_err", "-error_file", str(tmp / f"{scenario}-{lport}.err")]
    if service:
        cmd += ["-s", service]
    return cmd + [f"{HOST}:{port}"]


def start(cmd, tmp):
    return subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(p):
    try:
        out, err = p.communicate(timeout=CALL_S + 20)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate(timeout=5)
    return p.returncode, (out + err).decode(errors="replace")[-3000:]


def ims_start(tmp_path):
    names = ["alice", "bob", "carol", "dave", "erin", "frank", "gina", "hana", "ivan", "kim"]
    users = [user(f"0010100000002{11 + i}", n,
                  ', session_expires: { method: "invite" }' if n == "erin" else "")
             for i, n in enumerate(names)]
    return start_calls_ims(tmp_path, """dialog_timeout: 120,
  echo: "sip:echo",
  session_expires: { duration: 90, min: 90 },""", users)


CALLS = [  # caller, callee, caller's scenario, callee's
    ("alice", "bob", "st_uac_update", "st_uas_update"),
    ("carol", "dave", "st_uac_expire", "st_uas_expire"),
    ("erin", "frank", "st_uac_reinvite", "st_uas_reinvite_422"),
    ("gina", "echo", "st_uac_update", None),
    ("hana", "ivan", "st_uac_422_retry", "st_uas_422"),
]


def sip_rows(pcap, port, fields, flt="sip"):
    t = subprocess.run([TSHARK, "-r", str(pcap), "-d", f"udp.port=={port},sip", "-Y", flt,
                        "-T", "fields"] + [a for f in fields for a in ("-e", f)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    return [r.split("\t") for r in t.stdout.decode().splitlines() if r]


def test_session_timers(tmp_path):
    assert TSHARK, "tshark is not installed (make deps installs it)"
    ims = ims_start(tmp_path)
    d, port, log, tmp = ims
    pcap = tmp / "st.pcap"
    cap = None
    try:
        procs = []
        for caller, callee, uac, uas in CALLS:
            a, b = free_port(), free_port()
            register(ims, caller, a)
            pb = None
            if uas:
                register(ims, callee, b)
                pb = start(sipp_long(tmp, uas, port, b, callee), tmp)
                wait_bound(b)
            procs.append((caller, callee, pb, a, b, uac))
        k = free_port()
        register(ims, "kim", k)
        pk = start(sipp_long(tmp, "st_uas_update", port, k, "kim"), tmp)
        wait_bound(k)
        cap = start_capture(pcap, f"udp port {port}")
        started = [(caller, callee, pb,
                    start(sipp_long(tmp, uac, port, a, caller, service=callee), tmp))
                   for caller, callee, pb, a, b, uac in procs]
        d.command("mt_call sip:kim@ims.test -d 50", "mt_call sip:kim@ims.test: dialog ")
        results = [(caller, callee, finish(pa), finish(pb) if pb else (0, ""))
                   for caller, callee, pb, pa in started]
        results.append(("imsd", "kim", (0, ""), finish(pk)))
    finally:
        if cap:
            stop_capture(cap)
        d.stop()
    assert not d.sanitizer_report(), d.sanitizer_report()
    for caller, callee, (arc, aout), (brc, bout) in results:
        assert arc == 0, f"{caller}:\n{aout}"
        assert brc == 0, f"{callee}:\n{bout}"
    text = open(log, encoding="utf-8", errors="replace").read()
    # why each call ended, as imsd logs it
    assert re.search(r"call \d+ \(sip:carol\S* -> \S*dave\S*\) ends: no session refresh",
                     text), "carol's call did not end by its session timer"
    assert re.search(r"call \d+ \(sip:erin\S* -> \S*frank\S*\) ends: session refresh "
                     r"refused \(422\)", text), "erin's call did not end on the 422"
    for caller in ("alice", "gina", "hana"):
        assert re.search(rf"call \d+ \(sip:{caller}\S* -> \S*\) ends: BYE from the caller",
                         text), f"{caller}'s call did not go on to her BYE"
    assert "mt_call duration elapsed" in text, "kim's call did not last its duration"
    # tshark: every packet decodes; ivan's two INVITEs; imsd's UPDATE to kim
    bad = sip_rows(pcap, port, ["frame.number"], "_ws.malformed")
    assert not bad, bad
    ivan = [p for _, _, _, _, p, _ in procs][-1]
    rows = sip_rows(pcap, port, ["udp.dstport", "sip.CSeq.seq", "sip.Session-Expires",
                                 "sip.Min-SE"], 'sip.Method == "INVITE"')
    to_ivan = [r[1:] for r in rows if r[0] == str(ivan)]
    assert to_ivan[:2] == [["1", "90;refresher=uac", "90"], ["2", "120;refresher=uac", "120"]], \
        rows
    rows = sip_rows(pcap, port, ["udp.dstport", "sip.Session-Expires"], 'sip.Method == "UPDATE"')
    assert [str(k), "90;refresher=uac"] in rows, rows
