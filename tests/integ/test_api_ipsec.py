"""The remote API's `ipsec` message (manual §6.5): the SAs of the
user-space IPsec datapath. Without IPsec the list is empty; with a UE
registered over sec-agree (test_ipsec_register.py's namespaces: imsd in
"core", the scapy UE in "ue") it lists the UE's four SAs with the manual's
fields, the same as the monitor's `ipsec keys` shows. The API listens on
the core namespace's loopback; imsctl api, run in that namespace, asks it.

Needs root (namespaces, TUN, raw sockets): the test machine runs as root.
"""
import json
import re
import subprocess

import pytest

import test_api
import test_ipsec_register
from conftest import IMSCTL_BIN, write_cfg
from test_api import _ask, _connect, _recv, _run
from test_ipsec_register import IMPI, SPI, NsImsd, UeProc, cfg_text, req

# the fixtures these tests share with theirs
api_server = test_api.api_server
nets = test_ipsec_register.nets

API_PORT = 9003  # the core namespace is the test's own


def test_ipsec_without_ipsec_lists_nothing(api_server):
    """IPsec off (sip_addr on loopback): an empty SAs list, no error."""
    d, sip, port, log = api_server()

    async def go():
        async with _connect(port) as ws:
            await _recv(ws)
            r = await _ask(ws, {"message": "ipsec", "message_id": 1})
            assert r["SAs"] == [] and "error" not in r, r
            r = await _ask(ws, {"message": "help", "message_id": 2})
            assert "ipsec" in r["messages"], r
    _run(go())


@pytest.fixture(scope="module")
def core_api(nets, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ipsec_api")
    d = NsImsd(nets[0], write_cfg(tmp, cfg_text(
        tmp, f'com_addr: "127.0.0.1:{API_PORT}", com_name: "TESTIMS",')))
    try:
        d.wait_ready()
        yield d, tmp
    finally:
        d.stop()
        assert not d.sanitizer_report(), d.sanitizer_report()


@pytest.fixture(scope="module")
def ue_api(nets):
    u = UeProc(nets[1])
    yield u
    u.close()


def _api(ns, msg):
    r = subprocess.run(["ip", "netns", "exec", ns, IMSCTL_BIN, "api",
                        f"127.0.0.1:{API_PORT}", json.dumps(msg)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return [json.loads(ln) for ln in r.stdout.splitlines() if ln.strip()][-1]


def test_ipsec_lists_the_sas_of_a_protected_registration(nets, core_api, ue_api):
    d, tmp = core_api
    r = _api(nets[0], {"message": "ipsec"})
    assert r["SAs"] == [], r  # nobody registered yet
    r = ue_api.ask(req("hmac-sha-1-96", "aes-cbc", "stay"))
    assert r.get("codes") == [401, 200, 200], r
    spi_c = SPI[0]
    port_c, port_s = 31000 + 2 * (spi_c % 1000), 31001 + 2 * (spi_c % 1000)
    r = _api(nets[0], {"message": "ipsec", "message_id": "sa"})
    assert r["message_id"] == "sa", r
    mine = [s for s in r["SAs"] if s["dst_port"] in (port_c, port_s)
            or s["src_port"] in (port_c, port_s)]
    assert len(mine) == 4, r
    for s in mine:
        assert s["type"] == "IPv4" and s["mode"] == "transport", s
        assert s["impi"] == IMPI and s["state"] == "active", s
        assert s["src_prefix"] == 32 and s["dst_prefix"] == 32, s
        assert isinstance(s["ue_id"], int) and s["ue_id"] == mine[0]["ue_id"], s
        assert s["authent_alg"] == "hmac-sha-1-96" and s["cipher_alg"] == "aes-cbc", s
        assert re.fullmatch(r"[0-9a-f]{40}", s["authent_key"]), s  # HMAC-SHA-1: 20 bytes
        assert re.fullmatch(r"[0-9a-f]{32}", s["cipher_key"]), s  # AES-128
        ue_side = "src" if s["dir"] == "in" else "dst"
        assert s[ue_side] == "10.202.0.2", s
        assert s["dst" if ue_side == "src" else "src"] == "10.202.0.1", s
    assert sorted(s["dir"] for s in mine) == ["in", "in", "out", "out"]
    assert spi_c in [s["spi"] for s in mine if s["dir"] == "out"], mine  # the UE's spi-c
    # the same SAs as the monitor shows them, keys included
    text = d.command("ipsec keys", "counters.ipsec.drop_io")
    for s in mine:
        line = next(ln for ln in text.splitlines() if "spi=0x%08x " % s["spi"] in ln)
        assert "dir=%s " % s["dir"] in line and "set=%d " % s["ue_id"] in line, line
        assert "cipher_key=%s" % s["cipher_key"] in line, line
        assert "authent_key=%s" % s["authent_key"] in line, line
