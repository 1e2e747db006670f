"""imsd --dump-config: the configuration language (manual §5.1, §5.1.1) end to end.

Runs the real binary on files written to a temporary directory. Good files
must print the expected JSON on stdout and exit 0; bad files must exit 1
with `FILE:LINE:COL: message` on stderr, without crashing or hanging.
Self-contained on purpose (no conftest fixtures; only the run_tool helper,
which fails a run whose stderr holds a sanitizer report) so it runs on its own.
"""
import json
import os
import re

import pytest

from conftest import run_tool

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMSD_BIN = os.environ.get("IMSD_BIN", os.path.join(ROOT, "build-asan", "imsd"))
TIMEOUT = 30


def run_dump(path):
    return run_tool([IMSD_BIN, "--dump-config", str(path)], capture_output=True,
                          text=True, timeout=TIMEOUT, cwd="/")


def write(tmp_path, name, text):
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


def dump_ok(tmp_path, text, name="main.cfg"):
    p = write(tmp_path, name, text)
    r = run_dump(p)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    return r.stdout


def dump_err(tmp_path, text, name="main.cfg"):
    p = write(tmp_path, name, text)
    r = run_dump(p)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    assert "AddressSanitizer" not in r.stderr and "runtime error" not in r.stderr
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1, r.stderr
    m = re.match(r"^(.+):(\d+):(\d+): (.+)$", line)
    assert m, line
    return m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)


def test_manual_duplicates(tmp_path):
    out = dump_ok(tmp_path, """{
    value: "foo",
    value: "bar",
    sub: {
        value: "foo"
    },
    sub: {
        value: "bar"
    }
}
""")
    assert json.loads(out) == {"value": "bar", "sub": {"value": "bar"}}
    # Strict JSON, 2-space indent, insertion order.
    assert out == '{\n  "value": "bar",\n  "sub": {\n    "value": "bar"\n  }\n}\n'


def test_manual_include(tmp_path):
    write(tmp_path, "file2.cfg", '    value: "bar",\n    foo: "bar"\n')
    out = dump_ok(tmp_path, 'value: "foo",\ninclude "file2.cfg",\nfoo: "foo"\n', "file1.cfg")
    assert json.loads(out) == {"value": "bar", "foo": "foo"}


def test_manual_arrays(tmp_path):
    out = dump_ok(tmp_path, """{
    array: [0, 1, 2, { foo: "bar" } ],
    array: [3, 4],
    array: [5, 6, 7, { bar: "foo" }, 8 ]
}
""")
    assert json.loads(out) == {"array": [5, 6, 7, {"foo": "bar", "bar": "foo"}, 8]}


def test_full_language(tmp_path):
    write(tmp_path, "inc/defs.cfg", '#define MCC "001"\n#define MNC "01"\n')
    write(tmp_path, "inc/users.cfg", '{ ue_db: [ { imsi: MCC + MNC + "0123456789", amf: 0x9001 } ] }\n')
    text = """/* a realistic file */
#define N_USERS 2
#include "inc/defs.cfg"
ims: {
  domain: `ims.mnc0${MNC}.mcc${MCC}.3gppnetwork.org`,
  port: 5060, // trailing comment
  ratio: 7/2,
  gain: 1.2+3*I,
#if N_USERS > 1 && defined(MCC)
  multi: true,
#else
  multi: false,
#endif
},
include "inc/users.cfg",
"5g": [1, 2, 3,],
check: !(1 == 2) || false,
"""
    out = dump_ok(tmp_path, text)
    assert json.loads(out) == {
        "ims": {"domain": "ims.mnc001.mcc001.3gppnetwork.org", "port": 5060, "ratio": 3.5,
                "gain": {"__complex__": [1.2, 3]}, "multi": True},
        "ue_db": [{"imsi": "001010123456789", "amf": 36865}],
        "5g": [1, 2, 3],
        "check": True,
    }


def test_reals_full_precision(tmp_path):
    out = dump_ok(tmp_path, "a: 0.1, b: 1/3, c: 2.0, d: 1e300, e: -0.5")
    assert '"a": 0.1,' in out and '"c": 2,' in out
    v = json.loads(out)
    assert v["b"] == 1 / 3 and v["d"] == 1e300 and v["e"] == -0.5


@pytest.mark.parametrize("text,line,col,msg", [
    ('a: "abc', 1, 4, "unterminated string"),
    ("a: 1,\n/* never closed", 2, 1, "unterminated comment"),
    ("#if 1\na: 1\n", 1, 1, "unterminated #if"),
    ("a: 1,\nb: 2 / 0\n", 2, 6, "division by zero"),
    ('a: "x" - 1', 1, 8, "operator '-' cannot be applied to string and number"),
    ("a: {b: 1 c: 2}", 1, 10, "expected ',' or '}'"),
    ("a: [1, 2", 1, 9, "expected ',' or ']'"),
    ("a: UNDEFINED", 1, 4, "undefined variable 'UNDEFINED'"),
    ("#frobnicate", 1, 1, "unknown directive"),
    ("a: `x${1 +}`", 1, 11, "expected a value"),
    ("a: [include \"x.cfg\"]", 1, 5, "'include' is only allowed"),
    ('include "missing.cfg",', 1, 9, "cannot open"),
    ("a: 1,\n  b: 0x", 2, 6, "invalid number"),
])
def test_errors(tmp_path, text, line, col, msg):
    f, ln, cl, m = dump_err(tmp_path, text)
    assert f == str(tmp_path / "main.cfg")
    assert (ln, cl) == (line, col), m
    assert msg in m


def test_error_in_included_file_names_that_file(tmp_path):
    write(tmp_path, "sub/inc.cfg", "x: 1,\n  y: [1,\n  2 +\n],\n")
    f, ln, cl, m = dump_err(tmp_path, 'a: 1,\ninclude "sub/inc.cfg",\n')
    assert f == str(tmp_path / "sub" / "inc.cfg")
    assert (ln, cl) == (4, 1) and "expected a value" in m
    f, ln, cl, m = dump_err(tmp_path, 'a: 1,\n#include "sub/inc.cfg"\n', "main2.cfg")
    assert f == str(tmp_path / "sub" / "inc.cfg") and (ln, cl) == (4, 1)


def test_include_cycle(tmp_path):
    write(tmp_path, "b.cfg", 'b: 1,\ninclude "a.cfg",\n')
    f, ln, cl, m = dump_err(tmp_path, 'a: 1,\ninclude "b.cfg",\n', "a.cfg")
    assert f == str(tmp_path / "b.cfg") and (ln, cl) == (2, 9) and "include cycle" in m
    write(tmp_path, "self.cfg", '#include "self.cfg"\n')
    f, ln, cl, m = dump_err(tmp_path, '#include "self.cfg"\n', "top.cfg")
    assert f == str(tmp_path / "self.cfg") and "include cycle" in m


def test_missing_and_unreadable_top_file(tmp_path):
    r = run_dump(tmp_path / "nope.cfg")
    assert r.returncode == 1
    assert re.match(r"^.*nope\.cfg:1:1: cannot open .*No such file", r.stderr)
    r = run_dump(tmp_path)
    assert r.returncode == 1 and "not a regular file" in r.stderr


@pytest.mark.parametrize("blob", [
    b"\x00\x01\x02\xff" * 64,
    b"[" * 100000,
    b"a: " + b"(" * 100000,
    b"a: " + b"-" * 100000 + b"1",
    b"#if 1\n" * 1000,
    b'a: "' + b"\\u" * 1000,
    b"a: `${`${`${`${`${" * 200,
    b"/*" * 1000,
    b"#define A \"xxxxxxxx\"\n" + b"".join(b"#define %c %c+%c+%c+%c+%c+%c+%c+%c\n" % ((66 + i,) + (65 + i,) * 8) for i in range(12)),
])
def test_garbage_never_crashes(tmp_path, blob):
    p = write(tmp_path, "g.cfg", blob)
    r = run_tool([IMSD_BIN, "--dump-config", str(p)], capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 1, r.stderr
    assert re.match(rb"^.+:\d+:\d+: .+\n$", r.stderr), r.stderr[:500]


def test_usage(tmp_path):
    r = run_tool([IMSD_BIN, "--dump-config"], capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 2
