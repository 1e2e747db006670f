"""Typed configuration errors and warnings as a user sees them: at start-up
and with --check-config, a wrong type or range names the property path and
the server does not start; an unknown property is a warning."""
import subprocess

from conftest import IMSD_BIN, run_tool, write_cfg


def _check(tmp_path, body):
    cfg = write_cfg(tmp_path, body)
    return run_tool([IMSD_BIN, "--check-config", cfg], capture_output=True,
                          text=True, timeout=60)


def test_wrong_type_names_path(tmp_path):
    r = _check(tmp_path, """sip_addr: "127.0.0.1", ue_db: [ { imsi: "001010000000001",
      impi: "a", impu: [ { impu: "a", display_name: 5 } ], pwd: "x" } ]""")
    assert r.returncode != 0
    assert "ue_db[0].impu[0].display_name: expected string" in r.stderr


def test_out_of_range_names_path(tmp_path):
    r = _check(tmp_path, 'sip_addr: "127.0.0.1", binding_expires: 900000')
    assert r.returncode != 0
    assert "binding_expires" in r.stderr and "out of range" in r.stderr


def test_complex_value_rejected(tmp_path):
    r = _check(tmp_path, 'sip_addr: "127.0.0.1", timer_t1: 1+2*I')
    assert r.returncode != 0
    assert "timer_t1" in r.stderr and "complex" in r.stderr


def test_unknown_property_is_a_warning(tmp_path):
    r = _check(tmp_path, 'sip_addr: "127.0.0.1", frobnicate: 1, tcp_threshold: 0x800')
    assert r.returncode == 0, r.stderr
    assert "warning" in r.stderr and "frobnicate" in r.stderr


def test_boolean_synonyms_and_hex(tmp_path):
    r = _check(tmp_path, """sip_addr: "127.0.0.1", ipsec: 0, log_sync: 1,
      ue_db: [ { imsi: "001010000000001", impi: "u1", impu: ["u1"], sim_algo: "milenage",
                 K: "000102030405060708090a0b0c0d0e0f", opc: "000102030405060708090a0b0c0d0e0f",
                 amf: 0x9001 } ]""")
    assert r.returncode == 0, r.stderr


def test_server_refuses_to_start_on_error(tmp_path):
    cfg = write_cfg(tmp_path, 'sip_addr: "127.0.0.1", com_log_count: 10')
    r = run_tool([IMSD_BIN, cfg], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert r.returncode != 0
    assert "com_log_count" in r.stderr
