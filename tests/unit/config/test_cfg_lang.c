/* Unit tests: config/cfg_lang, the configuration language (manual §5.1, §5.1.1). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/cfg_lang.h"

static char tmpdir[64];

static json_t *parse_ok(const char *text)
{
	struct cfg_lang_err err;
	json_t *root = NULL;
	int rc = cfg_lang_load_buf(text, strlen(text), "t.cfg", tmpdir, &root, &err);

	if (rc) {
		cfg_lang_err_print(&err, stderr);
		fprintf(stderr, "input:\n%s\n", text);
	}
	assert_int_equal(rc, 0);
	assert_non_null(root);
	return root;
}

static void check_equal(json_t *got, const char *expected)
{
	json_error_t jerr;
	json_t *want = json_loads(expected, JSON_DECODE_ANY, &jerr);

	if (!want)
		fail_msg("bad expected JSON: %s", jerr.text);
	if (!json_equal(got, want)) {
		fprintf(stderr, "expected: %s\ngot:\n", expected);
		cfg_lang_dump(got, stderr);
		fail();
	}
	json_decref(want);
}

/* text must give the object in expected (plain JSON). */
static void expect_json(const char *text, const char *expected)
{
	json_t *root = parse_ok(text);

	check_equal(root, expected);
	json_decref(root);
}

/* text must fail at line:col with a message containing msg. */
static void expect_err_in(const char *text, const char *basedir, const char *file,
			  unsigned line, unsigned col, const char *msg)
{
	struct cfg_lang_err err;
	json_t *root = (json_t *)1;
	int rc = cfg_lang_load_buf(text, strlen(text), "t.cfg", basedir, &root, &err);

	if (rc == 0 || err.line != line || err.col != col || !strstr(err.msg, msg) ||
	    strcmp(err.file, file)) {
		fprintf(stderr, "input: %s\nwant %s:%u:%u: ...%s...\ngot  ", text, file,
			line, col, msg);
		cfg_lang_err_print(&err, stderr);
		fail();
	}
	assert_null(root);
}

static void expect_err(const char *text, unsigned line, unsigned col, const char *msg)
{
	expect_err_in(text, NULL, "t.cfg", line, col, msg);
}

static void write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_values(void **state)
{
	(void)state;
	expect_json("a: 13.4, b: 12, c: -7, d: \"str\", e: true, f: false, g: null",
		    "{\"a\":13.4,\"b\":12,\"c\":-7,\"d\":\"str\",\"e\":true,\"f\":false,"
		    "\"g\":null}");
	expect_json("a: 0x9001, b: 0XfF, c: 1e3, d: 2.5E-1, e: 007",
		    "{\"a\":36865,\"b\":255,\"c\":1000.0,\"d\":0.25,\"e\":7}");
	expect_json("a: 9223372036854775807, b: 9223372036854775808",
		    "{\"a\":9223372036854775807,\"b\":9223372036854775808.0}");
	expect_json("o: {x: {y: [1, [2, {}], []]}}",
		    "{\"o\":{\"x\":{\"y\":[1,[2,{}],[]]}}}");
	expect_json("", "{}");
	expect_json("  // nothing\n /* at all */ ", "{}");
	expect_json("{}", "{}");
}

static void test_syntax(void **state)
{
	(void)state;
	/* Optional braces, unquoted names, trailing commas, comments. */
	expect_json("{ a: 1, \"b c\": 2, _x9: 3, }", "{\"a\":1,\"b c\":2,\"_x9\":3}");
	expect_json("a: 1, b: [1, 2, ], c: {d: 1,},",
		    "{\"a\":1,\"b\":[1,2],\"c\":{\"d\":1}}");
	expect_json("\"5g\": 1, a: /* in */ 2 // end\n, b: 3",
		    "{\"5g\":1,\"a\":2,\"b\":3}");
	expect_json("a: 1 /* multi\nline */, b: 2", "{\"a\":1,\"b\":2}");
	expect_json("a: 1,\r\nb: 2\r\n", "{\"a\":1,\"b\":2}");
	expect_json("include: 5", "{\"include\":5}");
	expect_json("\xef\xbb\xbf"
		    "a: 1",
		    "{\"a\":1}");
	expect_json("true: 1, null: 2, I: 3", "{\"true\":1,\"null\":2,\"I\":3}");
}

static void test_strings(void **state)
{
	(void)state;
	expect_json("a: \"q\\\"b\\\\s\\/n\\n\\t\\r\\b\\f\"",
		    "{\"a\":\"q\\\"b\\\\s/n\\n\\t\\r\\b\\f\"}");
	expect_json("a: \"\\u00e9\\u20ac\\ud83d\\ude00\"",
		    "{\"a\":\"\\u00e9\\u20ac\\ud83d\\ude00\"}");
	expect_json("a: \"caf\xc3\xa9\"", "{\"a\":\"caf\\u00e9\"}");
	expect_json("a: \"tab\there\"", "{\"a\":\"tab\\there\"}");
	expect_json("a: \"\"", "{\"a\":\"\"}");
}

static void test_complex(void **state)
{
	json_t *root;
	double re, im;

	(void)state;
	root = parse_ok("a: 1.2+3*I, b: 2*I, c: (1+I)*(1-I), d: (1+2*I)/I, e: -I, f: 5");
	assert_true(cfg_lang_complex_get(json_object_get(root, "a"), &re, &im));
	assert_true(re == 1.2 && im == 3);
	assert_true(cfg_lang_complex_get(json_object_get(root, "b"), &re, &im));
	assert_true(re == 0 && im == 2);
	assert_true(cfg_lang_complex_get(json_object_get(root, "c"), &re, &im));
	assert_true(re == 2 && im == 0);
	assert_true(cfg_lang_complex_get(json_object_get(root, "d"), &re, &im));
	assert_true(re == 2 && im == -1);
	assert_true(cfg_lang_is_complex(json_object_get(root, "e")));
	assert_false(cfg_lang_is_complex(json_object_get(root, "f")));
	assert_false(cfg_lang_is_complex(NULL));
	json_decref(root);
	expect_json("a: `${1.5-2*I}`, b: 2*I == 2*I, c: I == 1",
		    "{\"a\":\"1.5-2*I\",\"b\":true,\"c\":false}");
	/* A complex number is a scalar when merged. */
	expect_json("a: 1+I, a: 2", "{\"a\":2}");
	expect_json("a: {x: 1}, a: I", "{\"a\":{\"__complex__\":[0.0,1.0]}}");
	expect_err("a: I < 1", 1, 6,
		   "operator '<' cannot be applied to complex number and number");
}

static void test_expressions(void **state)
{
	(void)state;
	expect_json(
	    "a: 1+2*3, b: (1+2)*3, c: 10-4-3, d: 7/2, e: 6/3, f: -(2+3), g: 1.5*2",
	    "{\"a\":7,\"b\":9,\"c\":3,\"d\":3.5,\"e\":2,\"f\":-5,\"g\":3.0}");
	expect_json("a: \"ab\" + \"cd\", b: \"n\" + 1, c: 2 + \"x\", d: \"r\" + 0.5",
		    "{\"a\":\"abcd\",\"b\":\"n1\",\"c\":\"2x\",\"d\":\"r0.5\"}");
	expect_json(
	    "a: 1 < 2, b: 2 <= 1, c: 3 > 2.5, d: 3 >= 3, e: \"a\" < \"b\", f: \"b\" == "
	    "\"b\"",
	    "{\"a\":true,\"b\":false,\"c\":true,\"d\":true,\"e\":true,\"f\":true}");
	expect_json(
	    "a: !true, b: !0, c: true && false, d: false || 1, e: 1 != 2, f: null == "
	    "null",
	    "{\"a\":false,\"b\":true,\"c\":false,\"d\":true,\"e\":true,\"f\":true}");
	/* C precedence: relational over equality over && over ||. */
	expect_json(
	    "a: 1 + 1 == 2 && 3 > 2 || false, b: 1 || 0 && 0, c: true == 1, d: 2 == true",
	    "{\"a\":true,\"b\":true,\"c\":true,\"d\":false}");
	expect_json("a: [1+1, {b: 2*2}], c: -0x10, d: - -1, e: +3",
		    "{\"a\":[2,{\"b\":4}],\"c\":-16,\"d\":1,\"e\":3}");
	expect_json("a: 9223372036854775807 + 1, b: 4000000000 * 3000000000, c: "
		    "3000000000 * 3000000000",
		    "{\"a\":9223372036854775808.0,\"b\":12000000000000000000.0,\"c\":"
		    "9000000000000000000}");
	expect_json("a: {x:1} == {x:1}, b: [1] != [2], c: \"1\" == 1",
		    "{\"a\":true,\"b\":true,\"c\":false}");
	/* Short circuit: the other side is parsed but not evaluated. */
	expect_json("a: false && UNDEF > 1, b: true || 1/0, c: true && 2 > 1",
		    "{\"a\":false,\"b\":true,\"c\":true}");
}

static void test_backquote(void **state)
{
	(void)state;
	expect_json("a: `abc${1+2}d`", "{\"a\":\"abc3d\"}");
	expect_json(
	    "a: `line1\nline2 ${\"x\" + `in${2*2}`} \\` \\${x} ${true}${null} ${1.25}`",
	    "{\"a\":\"line1\\nline2 xin4 ` ${x} truenull 1.25\"}");
	expect_json("#define V 5\n#define S \"s\"\na: `v=${V} s=${S}`",
		    "{\"a\":\"v=5 s=s\"}");
	expect_json("a: ``, b: `${1}${2}`", "{\"a\":\"\",\"b\":\"12\"}");
	expect_err("a: `x${[1]}`", 1, 8, "cannot insert array in a backquote string");
	expect_err("a: `x${1 2}`", 1, 10, "expected '}' to close '${'");
	expect_err("a: 1,\nb: `abc\n\ndef", 2, 4, "unterminated backquote string");
}

static void test_preprocessor(void **state)
{
	(void)state;
	expect_json("#define N 4\n#define M N*2\na: M, b: N+1", "{\"a\":8,\"b\":5}");
	expect_json("#define X 1\n#undef X\n#ifdef X\na: 1,\n#else\na: 2,\n#endif\n",
		    "{\"a\":2}");
	expect_json("#define F\na: F", "{\"a\":1}");
	expect_json("#define O {x: 1, y: [1]}\na: O, b: O, a: {z: 2}",
		    "{\"a\":{\"x\":1,\"y\":[1],\"z\":2},\"b\":{\"x\":1,\"y\":[1]}}");
	expect_json("#define N 3\n"
		    "#if N == 1\na: 1,\n#elif N == 3\na: 3,\n#elif N == 3\na: "
		    "33,\n#else\na: 0,\n#endif\n",
		    "{\"a\":3}");
	expect_json("#if 0\n#if 1\na: 1,\n#else\na: 2,\n#endif\nb: "
		    "\"unterminated\n#else\nc: 3\n#endif",
		    "{\"c\":3}");
	expect_json("#ifndef Y\n  #define Y 7 // comment\n#endif\n# if defined(Y) && "
		    "!defined Z\ny: Y\n#endif",
		    "{\"y\":7}");
	expect_json("#if 0\n#elif 0\n#elif 1\na: 1\n#endif", "{\"a\":1}");
	expect_json("#if 1\n#if 0\n#else\na: 1\n#endif\n#endif", "{\"a\":1}");
	expect_json("#define A \\\n  2\na: A", "{\"a\":2}");
	/* Not replaced inside strings; replaced as property names when a string. */
	expect_json("#define K \"key\"\nK: \"K\"", "{\"key\":\"K\"}");
	expect_json("#define V 1\nv: V", "{\"v\":1}");
	expect_json("#if defined(NOPE) && NOPE > 2\na: 1\n#endif\nb: 2", "{\"b\":2}");
}

static void test_duplicates(void **state)
{
	(void)state;
	/* Manual §5.1 item 6, verbatim. */
	expect_json("{\n    value: \"foo\",\n    value: \"bar\",\n    sub: {\n        "
		    "value: \"foo\"\n"
		    "    },\n    sub: {\n        value: \"bar\"\n    }\n}",
		    "{\"value\":\"bar\",\"sub\":{\"value\":\"bar\"}}");
	/* Manual §5.1.1 array example, verbatim. */
	expect_json("{\n    array: [0, 1, 2, { foo: \"bar\" } ],\n    array: [3, 4],\n"
		    "    array: [5, 6, 7, { bar: \"foo\" }, 8 ]\n}",
		    "{\"array\":[5,6,7,{\"foo\":\"bar\",\"bar\":\"foo\"},8]}");
	expect_json("a: [1, {x: 1}, 3], a: [2, {y: 2}]",
		    "{\"a\":[2,{\"x\":1,\"y\":2},3]}");
	expect_json("a: {x: 1}, a: 5, a: {y: 2}", "{\"a\":{\"y\":2}}");
	expect_json("a: 1, b: 2, a: 3", "{\"a\":3,\"b\":2}");
}

static void test_merge_api(void **state)
{
	json_t *first, *second, *want;
	json_error_t jerr;

	(void)state;
	/* Manual §5.1.1, "assuming first object overrides second one". */
	first =
	    parse_ok("{\n   foo: { value: \"bar\" },\n   same: \"one\",\n   one: 1\n}");
	second = parse_ok(
	    "{\n   foo: { value: \"none\", second: true },\nsame: \"two\",\n  two: 1\n}");
	assert_int_equal(cfg_lang_merge(second, first), 0);
	want = json_loads(
	    "{\"foo\":{\"value\":\"bar\",\"second\":true},\"same\":\"one\",\"two\":1,"
	    "\"one\":1}",
	    0, &jerr);
	assert_true(json_equal(second, want));
	/* src untouched and not shared. */
	json_object_set_new(json_object_get(second, "foo"), "new", json_true());
	assert_null(json_object_get(json_object_get(first, "foo"), "new"));
	assert_int_equal(cfg_lang_merge(second, json_object_get(first, "one")), EINVAL);
	json_decref(want);
	json_decref(first);
	json_decref(second);
}

static void test_include(void **state)
{
	char path[256];
	struct cfg_lang_err err;
	json_t *root;

	(void)state;
	/* Manual §5.1 item 7, verbatim. */
	write_file("file1.cfg",
		   "value: \"foo\",\ninclude \"file2.cfg\",\nfoo: \"foo\"\n");
	write_file("file2.cfg", "    value: \"bar\",\n    foo: \"bar\"\n");
	snprintf(path, sizeof(path), "%s/file1.cfg", tmpdir);
	assert_int_equal(cfg_lang_load_file(path, &root, &err), 0);
	check_equal(root, "{\"value\":\"bar\",\"foo\":\"foo\"}");
	json_decref(root);

	write_file("sub.cfg", "{ s: { b: 2 }, l: [9] }");
	expect_json("s: {a: 1}, include \"sub.cfg\", l: [1, 2]",
		    "{\"s\":{\"a\":1,\"b\":2},\"l\":[1,2]}");
	expect_json("o: { include \"sub.cfg\" }", "{\"o\":{\"s\":{\"b\":2},\"l\":[9]}}");
	expect_json("#define F \"sub\"\ninclude F + \".cfg\",",
		    "{\"s\":{\"b\":2},\"l\":[9]}");
	/* Textual #include; variables flow both ways. */
	write_file("defs.cfg", "#define D 40\nd0: D,\n");
	write_file("use.cfg", "u: D + 2,\n");
	expect_json("#include \"defs.cfg\"\nd: D,\ninclude \"use.cfg\",",
		    "{\"d0\":40,\"d\":40,\"u\":42}");
	write_file("part.cfg", "2, 3");
	expect_json("a: [1,\n#include \"part.cfg\"\n]", "{\"a\":[1,2,3]}");
	/* Relative to the including file. */
	write_file("d1/inner.cfg", "include \"leaf.cfg\",\n#include \"leaf2.cfg\"\n");
	write_file("d1/leaf.cfg", "leaf: 1");
	write_file("d1/leaf2.cfg", "leaf2: 2");
	expect_json("include \"d1/inner.cfg\",", "{\"leaf\":1,\"leaf2\":2}");
}

static void test_include_errors(void **state)
{
	char f[300];

	(void)state;
	write_file("bad.cfg", "ok: 1,\n  x: 1/0,\n");
	write_file("cyc1.cfg", "a: 1,\ninclude \"cyc2.cfg\",");
	write_file("cyc2.cfg", "\n\ninclude \"cyc1.cfg\",");
	write_file("ppcyc.cfg", "#include \"ppcyc.cfg\"\n");
	write_file("unterm.cfg", "a: 1,\n#ifdef A\n");
	write_file("arr.cfg", "[1, 2]");
	snprintf(f, sizeof(f), "%s/bad.cfg", tmpdir);
	expect_err_in("a: 1,\ninclude \"bad.cfg\",", tmpdir, f, 2, 7, "division by zero");
	expect_err_in("a: 1,\n#include \"bad.cfg\"\n", tmpdir, f, 2, 7,
		      "division by zero");
	snprintf(f, sizeof(f), "%s/cyc2.cfg", tmpdir);
	expect_err_in("include \"cyc1.cfg\",", tmpdir, f, 3, 9, "include cycle");
	snprintf(f, sizeof(f), "%s/ppcyc.cfg", tmpdir);
	expect_err_in("#include \"ppcyc.cfg\"", tmpdir, f, 1, 10, "include cycle");
	snprintf(f, sizeof(f), "%s/unterm.cfg", tmpdir);
	expect_err_in("include \"unterm.cfg\",", tmpdir, f, 2, 1, "unterminated #if");
	snprintf(f, sizeof(f), "%s/arr.cfg", tmpdir);
	expect_err_in("include \"arr.cfg\",", tmpdir, f, 1, 1,
		      "expected a property name, found '['");
	expect_err_in("a: 1,\n  include \"missing.cfg\",", tmpdir, "t.cfg", 2, 11,
		      "cannot open");
	expect_err_in("include \"sub.cfg\" b: 1", tmpdir, "t.cfg", 1, 19,
		      "expected ',' after include file name");
	expect_err_in("include 5,", tmpdir, "t.cfg", 1, 9, "must be a string");
	expect_err_in("a: [include \"sub.cfg\"]", tmpdir, "t.cfg", 1, 5,
		      "'include' is only allowed");
	expect_err_in("include \"\",", tmpdir, "t.cfg", 1, 9, "empty include file name");
	expect_err_in("include \".\",", tmpdir, "t.cfg", 1, 9, "not a regular file");
	/* Includes are forbidden without a base directory. */
	expect_err("include \"sub.cfg\",", 1, 9, "include is not allowed");
	expect_err("#include \"sub.cfg\"", 1, 10, "include is not allowed");
}

static void test_errors_lexical(void **state)
{
	(void)state;
	expect_err("a: \"abc", 1, 4, "unterminated string");
	expect_err("a: \"abc\ndef\"", 1, 4, "unterminated string");
	expect_err("a: 1,\n/* abc", 2, 1, "unterminated comment");
	expect_err("a: \"\\q\"", 1, 5, "invalid escape sequence '\\q'");
	expect_err("a: \"\\u12\"", 1, 5, "invalid \\u escape");
	expect_err("a: \"\\ud800\"", 1, 5, "lone surrogate");
	expect_err("a: \"\\u0000\"", 1, 5, "\\u0000 is not allowed");
	expect_err("a: \"\xff\"", 1, 5, "invalid UTF-8");
	expect_err("a: \"\xc0\x80\"", 1, 5, "invalid UTF-8");
	expect_err("a: \"\x01\"", 1, 5, "control character");
	expect_err("a: 1.", 1, 4, "invalid number");
	expect_err("a: 12ab", 1, 4, "invalid number");
	expect_err("a: 0x", 1, 4, "invalid number");
	expect_err("a: 0x8000000000000000", 1, 4, "hexadecimal number too large");
	expect_err("a: 1e999", 1, 4, "number out of range");
	expect_err("a: 1e", 1, 4, "invalid number");
	expect_err("a: 1 = 2", 1, 6, "unexpected '='");
	expect_err("a: 1 | 2", 1, 6, "unexpected '|'");
	expect_err("a: @", 1, 4, "unexpected character '@'");
	expect_err("\xc3\xa9: 1", 1, 1, "unexpected character 0xc3");
	expect_err("a: 1, # define X", 1, 7, "directive must begin a line");
}

static void test_errors_syntax(void **state)
{
	(void)state;
	expect_err("a 1", 1, 3, "expected ':' after 'a', found number");
	expect_err("a: 1 b: 2", 1, 6, "expected ',' or end of file, found 'b'");
	expect_err("a: {b: 1 c: 2}", 1, 10, "expected ',' or '}', found 'c'");
	expect_err("a: [1 2]", 1, 7, "expected ',' or ']', found number");
	expect_err("a: [1,\n2", 2, 2, "expected ',' or ']', found end of file");
	expect_err("a: {b: 1", 1, 9, "expected ',' or '}', found end of file");
	expect_err("a: ,", 1, 4, "expected a value, found ','");
	expect_err("a:", 1, 3, "expected a value, found end of file");
	expect_err("1: 2", 1, 1, "expected a property name, found number");
	expect_err("[1]", 1, 1, "expected a property name, found '['");
	expect_err("{a: 1}, b: 2", 1, 7, "expected end of file after the closing '}'");
	expect_err("{a: 1", 1, 6, "expected ',' or '}', found end of file");
	expect_err("a: (1 + 2", 1, 10, "expected ')'");
	expect_err("a: b", 1, 4, "undefined variable 'b'");
	expect_err("a: [1, include]", 1, 8, "'include' is only allowed");
	expect_err("a: 1,,", 1, 6, "expected a property name, found ','");
}

static void test_errors_eval(void **state)
{
	(void)state;
	expect_err("a: 1,\nb: 2 / 0", 2, 6, "division by zero");
	expect_err("a: 2.5 / (1 - 1)", 1, 8, "division by zero");
	expect_err("a: I / 0", 1, 6, "division by zero");
	expect_err("a: \"x\" - 1", 1, 8,
		   "operator '-' cannot be applied to string and number");
	expect_err("a: \"x\" + true", 1, 8,
		   "operator '+' cannot be applied to string and boolean");
	expect_err("a: [1] + 1", 1, 8,
		   "operator '+' cannot be applied to array and number");
	expect_err("a: {} * 2", 1, 7,
		   "operator '*' cannot be applied to object and number");
	expect_err("a: -\"x\"", 1, 4, "operator '-' cannot be applied to string");
	expect_err("a: !\"x\"", 1, 4, "operator '!' cannot be applied to string");
	expect_err("a: \"x\" && true", 1, 8, "operator '&&' cannot be applied to string");
	expect_err("a: false || \"x\"", 1, 10,
		   "operator '||' cannot be applied to string");
	expect_err("a: true < 1", 1, 9,
		   "operator '<' cannot be applied to boolean and number");
	expect_err("a: 1e300 * 1e300", 1, 10, "numeric overflow");
}

static void test_errors_pp(void **state)
{
	(void)state;
	expect_err("#if 1\na: 1", 1, 1, "unterminated #if");
	expect_err("a: 1,\n#if 0\na: 1", 2, 1, "unterminated #if");
	expect_err("#endif", 1, 1, "#endif without #if");
	expect_err("#else", 1, 1, "#else without #if");
	expect_err("#if 1\n#else\n#else\n#endif", 3, 1, "#else after #else");
	expect_err("#if 0\n#else\n#elif 1\n#endif", 3, 1, "#elif after #else");
	expect_err("#if 1\n#else\n#elif 1\n#endif", 3, 1, "#elif after #else");
	expect_err("#foo", 1, 1, "unknown directive '#foo'");
	expect_err("#", 1, 1, "missing directive name");
	expect_err("#define", 1, 8, "#define needs a variable name");
	expect_err("#define true 1", 1, 9, "reserved");
	expect_err("#define X 1 +", 1, 14, "expected a value, found end of line");
	expect_err("#define X 1 2", 1, 13, "unexpected number after #define");
	expect_err("#if\n#endif", 1, 4, "#if without an expression");
	expect_err("#if \"s\"\n#endif", 1, 5,
		   "#if expression must be a boolean or a number");
	expect_err("#if UNDEF\n#endif", 1, 5, "undefined variable 'UNDEF'");
	expect_err("#ifdef\n", 1, 7, "#ifdef needs a variable name");
	expect_err("#endif x", 1, 1, "#endif without #if");
	expect_err("#if 1\n#endif x\n", 2, 8, "unexpected 'x' after #endif");
	expect_err("#if 0\n#elif 1/0\n#endif", 2, 8, "division by zero");
	expect_err("#include", 1, 1, "#include needs a file name");
	expect_err("#define X 1/0", 1, 12, "division by zero");
}

static void test_limits(void **state)
{
	size_t n = 3 * 300 + 10;
	char *deep = malloc(n);
	const char *text;
	struct cfg_lang_err err;
	json_t *root;
	size_t i, k = 0;

	(void)state;
	assert_non_null(deep);
	k += (size_t)sprintf(deep, "a: ");
	for (i = 0; i < 300; i++)
		deep[k++] = '[';
	deep[k] = '\0';
	expect_err(deep, 1, 4 + CFG_LANG_MAX_NEST, "nested too deeply");
	k = (size_t)sprintf(deep, "a: ");
	for (i = 0; i < 300; i++)
		deep[k++] = '(';
	deep[k] = '\0';
	expect_err(deep, 1, 4 + CFG_LANG_MAX_EXPR_DEPTH, "nested too deeply");
	k = (size_t)sprintf(deep, "a: ");
	for (i = 0; i < 300; i++)
		deep[k++] = '-';
	sprintf(deep + k, "1");
	expect_err(deep, 1, 4 + CFG_LANG_MAX_EXPR_DEPTH, "nested too deeply");
	/* 127 levels are fine. */
	k = (size_t)sprintf(deep, "a: ");
	for (i = 0; i < CFG_LANG_MAX_NEST - 1; i++)
		deep[k++] = '[';
	for (i = 0; i < CFG_LANG_MAX_NEST - 1; i++)
		deep[k++] = ']';
	deep[k] = '\0';
	assert_int_equal(cfg_lang_load_buf(deep, k, "t", NULL, &root, &err), 0);
	json_decref(root);
	free(deep);
	/* Exponential growth through string variables is cut off. */
	text = "#define A \"xxxxxxxxxxxxxxxx\"\n#define B A+A+A+A+A+A+A+A\n"
	       "#define C B+B+B+B+B+B+B+B\n#define D C+C+C+C+C+C+C+C\n#define E "
	       "D+D+D+D+D+D+D+D\n"
	       "#define F E+E+E+E+E+E+E+E\n#define G F+F+F+F+F+F+F+F\n#define H "
	       "G+G+G+G+G+G+G+G\n"
	       "#define J H+H+H+H+H+H+H+H\n";
	root = NULL;
	assert_int_equal(cfg_lang_load_buf(text, strlen(text), "t", NULL, &root, &err),
			 E2BIG);
	assert_null(root);
	assert_true(err.line >= 8);
}

static void test_limits_budget(void **state)
{
	const char *text = "#define A [1,2,3,4,5,6,7,8]\n#define B [A,A,A,A,A,A,A,A]\n"
			   "#define C [B,B,B,B,B,B,B,B]\n#define D [C,C,C,C,C,C,C,C]\n"
			   "#define E [D,D,D,D,D,D,D,D]\n#define F [E,E,E,E,E,E,E,E]\n"
			   "#define G [F,F,F,F,F,F,F,F]\n#define H [G,G,G,G,G,G,G,G]\n";
	struct cfg_lang_err err;
	json_t *root = NULL;

	(void)state;
	assert_int_equal(cfg_lang_load_buf(text, strlen(text), "t", NULL, &root, &err),
			 E2BIG);
	assert_non_null(strstr(err.msg, "expansion too large"));
	assert_null(root);
}

static void test_nul_and_binary(void **state)
{
	static const char bin[] = "a: 1,\0b: 2";
	struct cfg_lang_err err;
	json_t *root = NULL;

	(void)state;
	assert_int_equal(cfg_lang_load_buf(bin, sizeof(bin) - 1, "t", NULL, &root, &err),
			 EBADMSG);
	assert_int_equal(err.line, 1);
	assert_int_equal(err.col, 6);
	assert_non_null(strstr(err.msg, "0x00"));
	assert_int_equal(cfg_lang_load_buf(NULL, 0, "t", NULL, &root, &err), 0);
	json_decref(root);
}

static void test_dump(void **state)
{
	json_t *root = parse_ok(
	    "b: 1, a: {x: [1, 2.5, 3.0], e: {}, l: []}, s: \"q\\\"\\n\\u0001\xc3\xa9\","
	    " r: 0.1, big: 1e20, neg: -2.0, c: 1+I");
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	(void)state;
	assert_non_null(f);
	assert_int_equal(cfg_lang_dump(root, f), 0);
	fclose(f);
	assert_string_equal(out, "{\n"
				 "  \"b\": 1,\n"
				 "  \"a\": {\n"
				 "    \"x\": [\n"
				 "      1,\n"
				 "      2.5,\n"
				 "      3\n"
				 "    ],\n"
				 "    \"e\": {},\n"
				 "    \"l\": []\n"
				 "  },\n"
				 "  \"s\": \"q\\\"\\n\\u0001\xc3\xa9\",\n"
				 "  \"r\": 0.1,\n"
				 "  \"big\": 1e+20,\n"
				 "  \"neg\": -2,\n"
				 "  \"c\": {\n"
				 "    \"__complex__\": [\n"
				 "      1,\n"
				 "      1\n"
				 "    ]\n"
				 "  }\n"
				 "}\n");
	free(out);
	json_decref(root);
}

static void test_err_print(void **state)
{
	struct cfg_lang_err err;
	json_t *root;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	(void)state;
	assert_int_equal(cfg_lang_load_buf("a:\n  1 +", 8, "my.cfg", NULL, &root, &err),
			 EBADMSG);
	cfg_lang_err_print(&err, f);
	fclose(f);
	assert_string_equal(out, "my.cfg:2:6: expected a value, found end of file\n");
	free(out);
	assert_int_equal(cfg_lang_load_file("/nonexistent/x.cfg", &root, &err), ENOENT);
	assert_string_equal(err.file, "/nonexistent/x.cfg");
	assert_int_equal(err.line, 1);
}

static void test_variables_all_types(void **state)
{
	(void)state;
	expect_json(
	    "#define R 2.5\n#define B true\n#define Z null\n#define C 1+2*I\n#define S "
	    "\"s\"\n"
	    "#define A [1, \"x\"]\na: [R, B, Z, S, A], c: C * 2, t: !B, f: R > 2, s: S + "
	    "S",
	    "{\"a\":[2.5,true,null,\"s\",[1,\"x\"]],\"c\":{\"__complex__\":[2.0,4.0]},"
	    "\"t\":false,\"f\":true,\"s\":\"ss\"}");
	expect_json("#if 1.5\na: -9223372036854775807 - 1, b: -(-9223372036854775807 - "
		    "1)\n#endif",
		    "{\"a\":-9223372036854775808,\"b\":9223372036854775808.0}");
	expect_json(
	    "a: \"ab\" < \"abc\", b: \"b\" > \"abc\", c: true == false, d: 0.0 || 0.5, "
	    "e: false && -\"x\", f: 9223372036854775807 - -1, g: 1.0 / 4",
	    "{\"a\":true,\"b\":true,\"c\":false,\"d\":true,\"e\":false,"
	    "\"f\":9223372036854775808.0,\"g\":0.25}");
	expect_json("a: \"\xe2\x82\xac\xf0\x9f\x98\x80\"",
		    "{\"a\":\"\\u20ac\\ud83d\\ude00\"}");
	expect_err("#define N 5\nN: 1", 2, 1, "used as a property name is not a string");
	expect_err("a: defined(X", 1, 13, "expected ')' after defined(name");
	expect_err("a: defined 5", 1, 12, "defined needs a variable name");
	expect_err("a: \"x\" + {}", 1, 8,
		   "operator '+' cannot be applied to string and object");
	expect_err("a: I + \"x\" + null", 1, 12,
		   "operator '+' cannot be applied to string and null");
	expect_err("a: \"\xed\xa0\x80\"", 1, 5, "invalid UTF-8");
	expect_err("a: \"\xf4\x90\x80\x80\"", 1, 5, "invalid UTF-8");
}

static void test_include_limits(void **state)
{
	char name[32], text[64], path[300];
	struct cfg_lang_err err;
	json_t *root;
	int i;

	(void)state;
	for (i = 0; i < CFG_LANG_MAX_INCLUDE_DEPTH + 2; i++) {
		snprintf(name, sizeof(name), "chain%d.cfg", i);
		snprintf(text, sizeof(text), "l%d: 1,\ninclude \"chain%d.cfg\",", i,
			 i + 1);
		write_file(name, text);
	}
	snprintf(path, sizeof(path), "%s/chain0.cfg", tmpdir);
	assert_int_equal(cfg_lang_load_file(path, &root, &err), E2BIG);
	assert_non_null(strstr(err.msg, "includes nested too deeply"));
	snprintf(path, sizeof(path), "%s/chain%d.cfg", tmpdir,
		 CFG_LANG_MAX_INCLUDE_DEPTH - 1);
	assert_string_equal(err.file, path);
	assert_int_equal(err.line, 2);
	/* Absolute paths are taken as they are. */
	snprintf(path, sizeof(path), "include \"%s/sub.cfg\", x: 1", tmpdir);
	write_file("sub.cfg", "s: 2");
	expect_json(path, "{\"s\":2,\"x\":1}");
	memset(path, 'k', 256);
	path[256] = ':';
	path[257] = '1';
	path[258] = '\0';
	expect_err(path, 1, 1, "property name too long");
}

static void test_dump_scalars(void **state)
{
	json_t *root = parse_ok("t: true, f: false, n: null, s: \"\\\\\\t\\r\\b\\f\\/\"");
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	(void)state;
	assert_non_null(f);
	assert_int_equal(cfg_lang_dump(root, f), 0);
	fclose(f);
	assert_string_equal(out, "{\n  \"t\": true,\n  \"f\": false,\n  \"n\": null,\n"
				 "  \"s\": \"\\\\\\t\\r\\b\\f/\"\n}\n");
	free(out);
	json_decref(root);
}

static int setup(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_cfg_lang.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(cmd, sizeof(cmd), "%s/d1", tmpdir);
	return mkdir(cmd, 0700);
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	/* clang-format off */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_complex),
		cmocka_unit_test(test_expressions),
		cmocka_unit_test(test_backquote),
		cmocka_unit_test(test_preprocessor),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_merge_api),
		cmocka_unit_test(test_include),
		cmocka_unit_test(test_include_errors),
		cmocka_unit_test(test_errors_lexical),
		cmocka_unit_test(test_errors_syntax),
		cmocka_unit_test(test_errors_eval),
		cmocka_unit_test(test_errors_pp),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_limits_budget),
		cmocka_unit_test(test_nul_and_binary),
		cmocka_unit_test(test_dump),
		cmocka_unit_test(test_err_print),
		cmocka_unit_test(test_variables_all_types),
		cmocka_unit_test(test_include_limits),
		cmocka_unit_test(test_dump_scalars),
	};
	/* clang-format on */

	return cmocka_run_group_tests_name("cfg_lang", tests, setup, teardown);
}
