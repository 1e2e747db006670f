"""The transaction tables against a peer that reuses one Via branch
(docs/security.md, "Transactions"), over the wire on the real imsd.

The server table hashes the whole RFC 3261 §17.2.3 key (branch, sent-by host
and port, method) under the process's SipHash key, so thousands of requests
with one branch and different sent-by are each their own transaction in
their own bucket, and a normal OPTIONS afterwards is answered as usual. RFC
2543 keys that differ only in the To tag share a hash value: past
SIP_TSX_SAME_KEY_MAX the next gets 503, counted in
counters.sip.tsx_key_503, with a log line. No timing assertions: answers and
counters only."""
import re
import socket

from sipstack import options, start_sip_imsd, status_of, udp_sock, wait_log

SAME_KEY_MAX = 8  # SIP_TSX_SAME_KEY_MAX, src/sip/sip_tsx.h
N = 3000


def stats(d):
    """counters.* and sip.* of a monitor `stats` (counters: since the
    previous call)."""
    out = d.command("stats", "\nregistrar.mem: ")
    return {k: int(v) for k, v in re.findall(r"(?m)^((?:counters\.)?sip\.[a-z_0-9.]+): (\d+)$",
                                              out)}


def recv_all(sock, n, timeout=10.0):
    """Up to n datagrams, each within timeout of the previous."""
    got = []
    sock.settimeout(timeout)
    try:
        while len(got) < n:
            got.append(sock.recv(65536))
    except socket.timeout:
        pass
    return got


def flood_req(i):
    # received/rport bring the answer back to this socket whatever the
    # sent-by says (RFC 3581)
    return options("sip:ims.test", f"10.7.{i >> 8 & 255}.{i & 255}", 5060 + i % 5,
                   "z9hG4bKone-branch", f"flood-{i}", rport=True)


def test_one_branch_many_sentby(imsd_factory, tmp_path):
    d, port, _ = start_sip_imsd(imsd_factory, tmp_path)
    s = udp_sock()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    me = s.getsockname()[1]
    try:
        stats(d)  # a fresh interval
        answers = []
        # in rounds, so that no socket buffer overflows
        for base in range(0, N, 50):
            for i in range(base, min(base + 50, N)):
                s.sendto(flood_req(i), ("127.0.0.1", port))
            answers += recv_all(s, min(50, N - base))
        assert len(answers) == N
        assert all(status_of(a)[0] == 200 for a in answers)
        # each was its own transaction: its own Call-ID answered
        cids = {re.search(rb"\r\nCall-ID: ([^\r]*)", a).group(1) for a in answers}
        assert len(cids) == N
        # a retransmission is absorbed by its own (finished) transaction:
        # the same bytes again
        first = {re.search(rb"\r\nCall-ID: ([^\r]*)", a).group(1): a for a in answers}
        for i in (0, 1234, N - 1):
            s.sendto(flood_req(i), ("127.0.0.1", port))
            again = recv_all(s, 1)
            assert again and again[0] == first[f"flood-{i}".encode()]
        # a normal OPTIONS is answered as always
        s.sendto(options("sip:ims.test", "127.0.0.1", me, "z9hG4bKnormal1", "normal-1"),
                 ("127.0.0.1", port))
        r = recv_all(s, 1)
        assert r, "no answer to a normal OPTIONS"
        assert status_of(r[0])[0] == 200
        assert b"branch=z9hG4bKnormal1" in r[0] and b"Call-ID: normal-1" in r[0]
        st = stats(d)
        assert st["counters.sip.rx_req"] == N + 4
        assert st["counters.sip.tsx_key_503"] == 0
        assert st["counters.sip.overload_503"] == 0
        # all of them still live (Completed until Timer J, 64*T1)
        assert st["sip.tsx_server"] >= N + 1
    finally:
        s.close()
        d.stop()
    assert not d.sanitizer_report()


def rfc2543_req(me, totag, branchless_via):
    return (f"OPTIONS sip:ims.test SIP/2.0\r\n"
            f"Via: {branchless_via}\r\n"
            f"From: <sip:old@ims.test>;tag=f2543\r\n"
            f"To: <sip:ims.test>;tag={totag}\r\n"
            f"Call-ID: old-2543\r\nCSeq: 7 OPTIONS\r\nMax-Forwards: 70\r\n"
            f"Content-Length: 0\r\n\r\n").encode()


def test_same_key_bound_503(imsd_factory, tmp_path):
    d, port, log = start_sip_imsd(imsd_factory, tmp_path)
    s = udp_sock()
    me = s.getsockname()[1]
    via = f"SIP/2.0/UDP 127.0.0.1:{me}"  # no branch: the RFC 2543 key
    try:
        stats(d)
        codes = []
        for i in range(SAME_KEY_MAX + 40):
            s.sendto(rfc2543_req(me, f"t{i}", via), ("127.0.0.1", port))
            r = recv_all(s, 1)
            assert r, f"no answer to request {i}"
            codes.append(status_of(r[0])[0])
        assert all(c != 503 for c in codes[:SAME_KEY_MAX]), codes
        assert codes[SAME_KEY_MAX:] == [503] * 40, codes
        wait_log(log, lambda t: "share the key of OPTIONS" in t)
        # the server is still there for everyone else
        s.sendto(options("sip:ims.test", "127.0.0.1", me, "z9hG4bKnormal2", "normal-2"),
                 ("127.0.0.1", port))
        r = recv_all(s, 1)
        assert r and status_of(r[0])[0] == 200
        st = stats(d)
        assert st["counters.sip.tsx_key_503"] == 40
        assert st["counters.sip.overload_503"] == 0
    finally:
        s.close()
        d.stop()
    assert not d.sanitizer_report()
