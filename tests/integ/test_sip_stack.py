"""The SIP stack over the wire with raw sockets: retransmissions absorbed,
large messages over TCP, many connections, bad input, the RFC 4475 corpus,
received/rport, 405/501, keep-alives."""
import os
import re
import selectors
import socket
import time


from conftest import free_port, write_cfg
from sipstack import (UA, header, options, recv_msg, start_sip_imsd, status_of, tcp_conn,
                      udp_sock, wait_log)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "unit", "sip", "data", "rfc4475")


def test_retransmission_absorbed(imsd_factory, tmp_path):
    d, port, log = start_sip_imsd(imsd_factory, tmp_path, level="debug")
    s = udp_sock()
    me = s.getsockname()[1]
    req = options(f"sip:127.0.0.1:{port}", "127.0.0.1", me, "z9hG4bKretx1", "retx1@test")
    s.sendto(req, ("127.0.0.1", port))
    r1, _ = s.recvfrom(65536)
    s.sendto(req, ("127.0.0.1", port))
    r2, _ = s.recvfrom(65536)
    assert status_of(r1)[0] == 200
    # the same response re-sent by the one transaction: same To tag, same bytes
    assert r1 == r2
    text = wait_log(log, lambda t: t.count("TO   retx1@test SIP/2.0 200") == 2)
    assert text.count("FROM retx1@test OPTIONS") == 2
    # one non-INVITE server transaction for both copies
    assert len(re.findall(r"nist OPTIONS z9hG4bKretx1: Trying -> Completed", text)) == 1
    s.close()


def test_received_rport(imsd_factory, tmp_path):
    """RFC 3581: the response goes to the source port and the top Via gets
    received= and rport=; without rport, to the Via's port (RFC 3261 §18.2.2)."""
    d, port, _ = start_sip_imsd(imsd_factory, tmp_path)
    s = udp_sock()
    me = s.getsockname()[1]
    # sent-by names another host and port: only rport brings the answer back
    s.sendto(options(f"sip:127.0.0.1:{port}", "192.0.2.9", 5099, "z9hG4bKrp1", "rp1@t",
                     rport=True), ("127.0.0.1", port))
    resp, _ = s.recvfrom(65536)
    via = header(resp, "Via")
    assert via == f"SIP/2.0/UDP 192.0.2.9:5099;branch=z9hG4bKrp1;received=127.0.0.1;rport={me}"
    # without rport the response goes to the sent-by port on the source IP
    other = udp_sock()
    s.sendto(options(f"sip:127.0.0.1:{port}", "127.0.0.1", other.getsockname()[1],
                     "z9hG4bKrp2", "rp2@t"), ("127.0.0.1", port))
    resp, _ = other.recvfrom(65536)
    assert status_of(resp)[0] == 200
    assert header(resp, "Via").endswith("branch=z9hG4bKrp2")  # nothing added: same host
    s.close()
    other.close()


def test_405_and_501(imsd_factory, tmp_path):
    d, port, _ = start_sip_imsd(imsd_factory, tmp_path)
    s = udp_sock()
    me = s.getsockname()[1]
    for meth, want in (("PUBLISH", 405), ("FOOBAR", 501)):
        req = options(f"sip:127.0.0.1:{port}", "127.0.0.1", me, f"z9hG4bK{meth}", f"{meth}@t")
        req = req.replace(b"OPTIONS", meth.encode())
        s.sendto(req, ("127.0.0.1", port))
        resp, _ = s.recvfrom(65536)
        assert status_of(resp)[0] == want
        if want == 405:
            assert header(resp, "Allow") == ("ACK, CANCEL, BYE, INFO, INVITE, MESSAGE, OPTIONS, "
                                             "PRACK, REGISTER, SUBSCRIBE, UPDATE")
        assert header(resp, "Server") == UA
    s.close()


def test_large_message_over_tcp(imsd_factory, tmp_path):
    d, port, _ = start_sip_imsd(imsd_factory, tmp_path)
    c = tcp_conn(port)
    me = c.getsockname()[1]
    body = b"x" * 60000
    c.sendall(options(f"sip:127.0.0.1:{port}", "127.0.0.1", me, "z9hG4bKbig1", "big1@t",
                      transport="TCP", body=body))
    assert status_of(recv_msg(c))[0] == 200
    # over max_size (65535) but within the TCP bound: 513, connection kept
    c.sendall(options(f"sip:127.0.0.1:{port}", "127.0.0.1", me, "z9hG4bKbig2", "big2@t",
                      transport="TCP", body=b"y" * 70000))
    assert status_of(recv_msg(c)) == (513, "Message Too Large")
    c.sendall(options(f"sip:127.0.0.1:{port}", "127.0.0.1", me, "z9hG4bKbig3", "big3@t",
                      transport="TCP"))
    assert status_of(recv_msg(c))[0] == 200
    c.close()


def test_message_over_tcp_bound_513_connection_kept(imsd_factory, tmp_path):
    """A request over the TCP receive bound (128 KiB): 513 from its header
    section as soon as that is complete, the body skipped as it comes (never
    buffered), and the connection keeps serving."""
    d, port, log = start_sip_imsd(imsd_factory, tmp_path)
    c = tcp_conn(port)
    me = c.getsockname()[1]
    big = options(f"sip:127.0.0.1:{port}", "127.0.0.1", me, "z9hG4bKhuge1", "huge1@t",
                  transport="TCP", body=b"z" * 400000)
    c.sendall(big)
    assert status_of(recv_msg(c)) == (513, "Message Too Large")
    c.sendall(options(f"sip:127.0.0.1:{port}", "127.0.0.1", me, "z9hG4bKhuge2", "huge2@t",
                      transport="TCP"))
    resp = recv_msg(c)
    assert status_of(resp)[0] == 200
    assert header(resp, "Call-ID") == "huge2@t"
    out = d.command("stats", "registrar.mem")
    assert re.search(r"^counters\.sip\.rx_oversize: 1$", out, re.M), out
    # the header section alone was over the bound: nothing to answer, closed
    c2 = tcp_conn(port)
    c2.sendall(b"OPTIONS sip:x SIP/2.0\r\nX: " + b"a" * 140000)
    c2.settimeout(5.0)
    try:
        rest = c2.recv(65536)
    except ConnectionResetError:
        rest = b""
    assert rest == b""
    c2.close()
    c.close()


def test_tcp_keepalive_ping(imsd_factory, tmp_path):
    d, port, _ = start_sip_imsd(imsd_factory, tmp_path)
    c = tcp_conn(port)
    c.sendall(b"\r\n\r\n")
    assert c.recv(16) == b"\r\n"
    # UDP CRLF keep-alives are taken silently; the socket keeps serving
    s = udp_sock()
    s.sendto(b"\r\n\r\n", ("127.0.0.1", port))
    s.sendto(options(f"sip:127.0.0.1:{port}", "127.0.0.1", s.getsockname()[1], "z9hG4bKka",
                     "ka@t"), ("127.0.0.1", port))
    resp, _ = s.recvfrom(65536)
    assert status_of(resp)[0] == 200
    c.close()
    s.close()


def test_1000_tcp_connections(imsd_factory, tmp_path):
    d, port, _ = start_sip_imsd(imsd_factory, tmp_path)
    n = 1000
    sel = selectors.DefaultSelector()
    conns = []
    try:
        for i in range(n):
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.settimeout(10)
            c.connect(("127.0.0.1", port))
            conns.append(c)
        for i, c in enumerate(conns):
            c.sendall(options(f"sip:127.0.0.1:{port}", "127.0.0.1", c.getsockname()[1],
                              f"z9hG4bKc{i}", f"conn{i}@t", transport="TCP"))
            c.setblocking(False)
            sel.register(c, selectors.EVENT_READ, [i, b""])
        done = {}
        deadline = time.monotonic() + 60
        while len(done) < n and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1.0):
                data = key.fileobj.recv(65536)
                assert data, f"connection {key.data[0]} closed without an answer"
                key.data[1] += data
                if b"\r\n\r\n" in key.data[1]:
                    done[key.data[0]] = key.data[1]
                    sel.unregister(key.fileobj)
        assert len(done) == n, f"{len(done)} of {n} answered"
        for i, resp in done.items():
            assert status_of(resp)[0] == 200
            assert header(resp, "Call-ID") == f"conn{i}@t"
        assert d.command("help", "help") is not None  # still responsive
    finally:
        sel.close()
        for c in conns:
            c.close()


def test_bad_peers_do_not_block_others(imsd_factory, tmp_path):
    d, port, log = start_sip_imsd(imsd_factory, tmp_path)
    good = udp_sock()
    me = good.getsockname()[1]

    def served(tag):
        good.sendto(options(f"sip:127.0.0.1:{port}", "127.0.0.1", me, f"z9hG4bK{tag}",
                            f"{tag}@t"), ("127.0.0.1", port))
        resp, _ = good.recvfrom(65536)
        assert status_of(resp)[0] == 200

    # garbage over TCP: the connection is closed
    g = tcp_conn(port)
    g.sendall(b"\x00\x01\x02garbage that is no SIP at all\r\n\r\n")
    g.settimeout(5)
    assert g.recv(100) == b""
    g.close()
    # a header section that never ends, and a body that never comes: the
    # connections stay open (until the idle timeout), others are served
    slow1 = tcp_conn(port)
    slow1.sendall(b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;bra")
    slow2 = tcp_conn(port)
    slow2.sendall(options(f"sip:127.0.0.1:{port}", "127.0.0.1", 1, "z9hG4bKtr", "tr@t",
                          transport="TCP", body=b"z" * 100)[:-50])
    served("whileslow")
    # garbage and truncated datagrams over UDP are dropped; decodable but
    # faulty requests get a 400 naming the fault
    good.sendto(b"\xff\xfe garbage", ("127.0.0.1", port))
    good.sendto(b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0", ("127.0.0.1", port))
    nocid = options(f"sip:127.0.0.1:{port}", "127.0.0.1", me, "z9hG4bKnocid", "x@t")
    nocid = re.sub(rb"Call-ID: [^\r]*\r\n", b"", nocid)
    good.sendto(nocid, ("127.0.0.1", port))
    resp, _ = good.recvfrom(65536)
    assert status_of(resp) == (400, "Missing Call-ID")
    served("after")
    wait_log(log, lambda t: "undecodable message from udp:127.0.0.1" in t)
    for c in (slow1, slow2, good):
        c.close()


def _with_rport(msg):
    """Adds ;rport after the top Via's sent-by so that the answer comes back
    to our socket whatever port the corpus Via names (RFC 3581)."""
    return re.sub(rb"(?im)^((?:via|v)[ \t]*:[ \t]*SIP[ \t]*/[ \t]*\d\.\d[ \t]*/[ \t]*\w+[ \t]+"
                  rb"[^;\r\n, \t]+)", rb"\1;rport", msg, count=1)


RFC4475_BAD = [("badinv01", 400), ("clerr", 400), ("ncl", 400), ("scalar02", 400),
               ("quotbal", 400), ("ltgtruri", 400), ("lwsruri", 400), ("lwsstart", 400),
               ("trws", 400), ("escruri", 400), ("regbadct", 400), ("badaspec", 400),
               ("baddn", 400), ("badvers", 505), ("mismatch01", 400), ("mismatch02", 400),
               ("insuf", 400), ("unkscm", 416), ("novelsc", 416), ("bext01", 420),
               ("multi01", 400), ("mcl01", 400)]


def test_rfc4475_bad_messages_over_udp(imsd_factory, tmp_path):
    d, port, _ = start_sip_imsd(imsd_factory, tmp_path)
    s = udp_sock()
    got = {}
    for name, want in RFC4475_BAD:
        with open(os.path.join(CORPUS, name + ".dat"), "rb") as f:
            msg = _with_rport(f.read())
        s.sendto(msg, ("127.0.0.1", port))
        try:
            resp, _ = s.recvfrom(65536)
        except socket.timeout:
            got[name] = None
            continue
        got[name] = status_of(resp)[0]
        if name == "bext01":
            unsup = header(resp, "Unsupported")
            assert unsup and "nothingSupportsThis" in unsup and "nothingSupportsThisEither" in unsup
    want = dict(RFC4475_BAD)
    assert got == want
    s.close()


VALID = [("esc01", 403), ("intmeth", 501), ("lwsdisp", 404), ("semiuri", 404),
         ("transports", 404), ("longreq", 403)]


def test_valid_corpus_messages_not_rejected(imsd_factory, tmp_path):
    """Valid RFC 4475 requests pass the check: they get the dispatcher's
    answer (403 INVITE from no registered UE, 501 unknown method, 404 OPTIONS to a user), not 400."""
    d, port, _ = start_sip_imsd(imsd_factory, tmp_path)
    s = udp_sock()
    got = {}
    for name, _ in VALID:
        with open(os.path.join(CORPUS, name + ".dat"), "rb") as f:
            s.sendto(_with_rport(f.read()), ("127.0.0.1", port))
        resp, _ = s.recvfrom(65536)
        got[name] = status_of(resp)[0]
    assert got == dict(VALID)
    s.close()


def test_log_on_unread_stderr_never_stalls(imsd_factory, tmp_path):
    """Without log_filename the log goes to stderr. A reader that stops
    reading (a paused terminal, a stuck pipe) must not stop the server:
    every OPTIONS of a flood logged at debug level (about 12 MB of log,
    far more than the pipe and imsd's 4 MiB buffer hold) is answered while
    nobody reads stderr; once it is read again the log resumes, with a note
    counting the entries dropped meanwhile."""
    port = free_port()
    cfg = write_cfg(tmp_path, f"""{{
  log_options: "all.level=debug",
  sip_addr: ["127.0.0.1:{port}"],
  domain: "ims.test",
}}
""")
    d = imsd_factory(cfg)
    d.wait_ready()  # from here on the test reads stderr only inside d.command
    s = udp_sock()
    s.settimeout(5.0)
    me = s.getsockname()[1]
    pad = "X-Pad: " + "p" * 600 + "\r\n"
    n, batch = 8000, 50
    for b in range(0, n, batch):
        for i in range(b, b + batch):
            s.sendto(options(f"sip:127.0.0.1:{port}", "127.0.0.1", me, f"z9hG4bKlog{i}",
                             f"log{i}@test", extra=pad), ("127.0.0.1", port))
        for i in range(batch):
            try:
                r, _ = s.recvfrom(65536)
            except socket.timeout:
                raise AssertionError(f"no answer to OPTIONS {b + i}: the server stalled")
            assert status_of(r)[0] == 200
    d.command("stats", "registrar.mem")  # reads stderr: the buffered log drains
    deadline = time.monotonic() + 30
    quiet = time.monotonic() + 1.0
    while time.monotonic() < min(quiet, deadline):  # until a second passes with nothing
        if d._read(0.1):
            quiet = time.monotonic() + 1.0
    s.sendto(options(f"sip:127.0.0.1:{port}", "127.0.0.1", me, "z9hG4bKlogafter",
                     "logafter@test"), ("127.0.0.1", port))
    assert status_of(s.recvfrom(65536)[0])[0] == 200
    while b"logafter@test" not in d.err and time.monotonic() < deadline:
        d._read(0.2)
    err = d.err.decode(errors="replace")
    assert "logafter@test" in err, err[-2000:]
    m = re.search(r"imsd: (\d+) log entries dropped here: stderr was not writable\n", err)
    assert m and int(m.group(1)) > 0, err[-2000:]
    assert "log0@test" in err  # the start of the flood came out
    s.close()
