/*
 * api: the WebSocket opening handshake parser (RFC 6455 §4.2.1, the
 * manual's required Origin, bounds), Sec-WebSocket-Accept (the RFC's own
 * example), UTF-8 validation of text frames (RFC 3629), the common fields
 * of a request (manual §6.1) with errors naming the field, and the §6.2
 * authentication response against a vector computed independently (Python
 * hmac). The server itself is tested over the wire (tests/integ/test_api.py).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "api/api_http.h"
#include "api/api_int.h"

#define GOOD_HEAD                                                                        \
	"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"       \
	"Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" \
	"Origin: http://example.com\r\nSec-WebSocket-Version: 13\r\n\r\n"

static int parse(const char *s, struct api_http_req *req)
{
	return api_http_req_parse(s, strlen(s), req);
}

static void test_http_good(void **state)
{
	struct api_http_req req;
	char ans[256];
	size_t n;

	(void)state;
	assert_int_equal(parse(GOOD_HEAD "\x81\x85", &req), 0);
	assert_int_equal(req.len, strlen(GOOD_HEAD));
	assert_true(pl_eq_str(req.path, "/chat"));
	assert_true(pl_eq_str(req.origin, "http://example.com"));
	assert_int_equal(api_http_101(&req, ans, sizeof(ans), &n), 0);
	/* RFC 6455 §1.3's example */
	assert_non_null(strstr(ans, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
	assert_int_equal(n, strlen(ans));
}

static void test_http_partial(void **state)
{
	struct api_http_req req;
	const char *h = GOOD_HEAD;

	(void)state;
	for (size_t i = 0; i < strlen(h); i++)
		assert_int_equal(api_http_req_parse(h, i, &req), ENODATA);
}

static void expect_refused(const char *head, uint16_t status)
{
	struct api_http_req req;
	char ans[512];
	size_t n;

	assert_int_equal(parse(head, &req), EBADMSG);
	assert_int_equal(req.status, status);
	assert_non_null(req.why);
	assert_int_equal(api_http_refusal(&req, ans, sizeof(ans), &n), 0);
	assert_non_null(strstr(ans, "Connection: close"));
}

static void test_http_refused(void **state)
{
	(void)state;
	/* the manual: Origin is mandatory */
	expect_refused("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		       "Sec-WebSocket-Version: 13\r\n\r\n",
		       403);
	expect_refused("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: x\r\n"
		       "Sec-WebSocket-Version: 8\r\n\r\n",
		       426);
	expect_refused("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		       "Sec-WebSocket-Key: short==\r\nOrigin: x\r\n"
		       "Sec-WebSocket-Version: 13\r\n\r\n",
		       400);
	expect_refused("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
		       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: x\r\n"
		       "Sec-WebSocket-Version: 13\r\n\r\n",
		       400);
	expect_refused("POST / HTTP/1.1\r\nHost: a\r\n\r\n", 405);
	expect_refused("GET / HTTP/1.0\r\nHost: a\r\n\r\n", 400);
	expect_refused("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400);
	expect_refused("GET / HTTP/1.1\nHost: a\r\n\r\n", 400);
	expect_refused("GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n", 400);
	/* two Host headers */
	expect_refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nUpgrade: websocket\r\n"
		       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		       "Origin: x\r\nSec-WebSocket-Version: 13\r\n\r\n",
		       400);
}

static void test_http_bounds(void **state)
{
	static char big[API_HTTP_MAX + 64];
	struct api_http_req req;
	size_t n;

	(void)state;
	/* a head that never ends within the bound */
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	assert_int_equal(api_http_req_parse(big, sizeof(big), &req), EBADMSG);
	assert_int_equal(req.status, 431);
	/* too many header lines */
	n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\n");
	for (unsigned i = 0; i <= API_HTTP_HDRS_MAX; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "X%u: y\r\n", i);
	n += (size_t)snprintf(big + n, sizeof(big) - n, "\r\n");
	assert_int_equal(api_http_req_parse(big, n, &req), EBADMSG);
	assert_int_equal(req.status, 431);
}

static void test_utf8(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} v[] = {
	    {"plain", true},
	    {"\xc3\xa9t\xc3\xa9", true},
	    {"\xe2\x82\xac", true},
	    {"\xf0\x9f\x98\x80", true},
	    {"\xc0\x80", false},	 /* overlong NUL */
	    {"\xe0\x80\xaf", false},	 /* overlong */
	    {"\xed\xa0\x80", false},	 /* surrogate */
	    {"\xf4\x90\x80\x80", false}, /* past U+10FFFF */
	    {"\xf5\x80\x80\x80", false},
	    {"\xe2\x82", false}, /* cut */
	    {"\x80", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_int_equal(api_utf8_valid((const uint8_t *)v[i].s, strlen(v[i].s)), v[i].ok);
}

static int common(const char *json, struct api_msg_common *c, char *err)
{
	json_error_t je;
	json_t *m = json_loads(json, 0, &je);
	int e;

	assert_non_null(m);
	err[0] = '\0';
	e = api_msg_common_parse(m, c, err, 256);
	json_decref(m);
	return e;
}

static void expect_common_err(const char *json, const char *field)
{
	struct api_msg_common c;
	char err[256];

	assert_int_equal(common(json, &c, err), EINVAL);
	if (!strstr(err, field))
		fail_msg("%s: error '%s' does not name %s", json, err, field);
}

static void test_common_fields(void **state)
{
	struct api_msg_common c;
	char err[256];
	json_t *m = json_loads("{\"message\": \"help\"}", 0, NULL);

	assert_int_equal(api_msg_common_parse(m, &c, err, sizeof(err)), 0);
	assert_string_equal(c.message, "help"); /* a view into m */
	assert_false(c.has_start);
	json_decref(m);
	(void)state;
	assert_int_equal(common("{\"message\": \"help\", \"start_time\": 1.5, \"absolute_time\": "
				"true, \"loop_count\": 3, \"loop_delay\": 0.5, \"standalone\": true}",
				&c, err),
			 0);
	assert_true(c.has_start && c.absolute_time && c.standalone);
	assert_int_equal(c.loop_count, 3);
	assert_true(c.loop_delay == 0.5);
	expect_common_err("{}", "message");
	expect_common_err("{\"message\": 3}", "message");
	expect_common_err("[1]", "object");
	expect_common_err("{\"message\": \"help\", \"loop_count\": 2}", "loop_delay");
	expect_common_err("{\"message\": \"help\", \"loop_count\": 2, \"loop_delay\": 0.05}",
			  "loop_delay");
	expect_common_err("{\"message\": \"help\", \"loop_count\": 1000001, \"loop_delay\": 1}",
			  "loop_count");
	expect_common_err("{\"message\": \"help\", \"loop_count\": 1.5, \"loop_delay\": 1}",
			  "loop_count");
	expect_common_err("{\"message\": \"help\", \"start_time\": -1}", "start_time");
	expect_common_err("{\"message\": \"help\", \"start_time\": \"1\"}", "start_time");
	expect_common_err("{\"message\": \"help\", \"standalone\": 1}", "standalone");
	expect_common_err("{\"message\": \"help\", \"absolute_time\": true}", "start_time");
}

static void test_auth_res(void **state)
{
	char res[65];

	(void)state;
	/* python3: hmac.new(b'IMS:secret:TESTIMS', b'00112233',
	 * hashlib.sha256).hexdigest() */
	assert_int_equal(api_auth_res("IMS", "secret", "TESTIMS", "00112233", res), 0);
	assert_string_equal(res,
			    "6ebb42e2bb96b547cd64fd26e1b120fb63030bc8f6811f76d00f47edff316e48");
}

static void test_cmd_table(void **state)
{
	(void)state;
	assert_non_null(api_cmd_find("config_get"));
	assert_non_null(api_cmd_find("authenticate"));
	assert_null(api_cmd_find("bar"));
	assert_null(api_cmd_find(""));
	/* sorted, no duplicates: help lists it as is */
	for (const struct api_cmd *c = api_cmds; c->name && c[1].name; c++)
		assert_true(strcmp(c->name, c[1].name) < 0);
}

/* An `sms` message read (manual §6.6): *r filled (pointing into the message,
 * kept until the next call), or an error naming want. */
static json_t *sms_msg;

static int sms_parse(const char *txt, struct api_sms_req *r, const char *want)
{
	json_t *m, *resp = json_object();
	const char *err;
	int e;

	json_decref(sms_msg);
	sms_msg = m = txt ? json_loads(txt, 0, NULL) : NULL;
	if (!txt) {
		json_decref(resp);
		return 0;
	}
	assert_non_null(m);
	e = api_sms_parse(m, r, resp);
	err = json_string_value(json_object_get(resp, "error"));
	if (want) {
		assert_int_equal(e, EINVAL);
		assert_non_null(err);
		assert_non_null(strstr(err, want));
	} else {
		assert_int_equal(e, 0);
		assert_null(err);
	}
	json_decref(resp);
	return e;
}

static void test_sms_parse(void **state)
{
	struct api_sms_req r;

	(void)state;
	/* text: the service chooses dcs, no tp_udl, one day of validity */
	sms_parse("{\"impi\": \"a@b\", \"text\": \"hi\"}", &r, NULL);
	assert_string_equal(r.impi, "a@b");
	assert_null(r.impu);
	assert_string_equal(r.prm.text, "hi");
	assert_int_equal(r.prm.dcs, -1);
	assert_int_equal(r.prm.tp_udl, -1);
	assert_int_equal(r.prm.validity, 86400);
	assert_false(r.prm.udhi);
	/* binary (base64): dcs 4 by default, the rest as given */
	sms_parse("{\"impu\": \"tel:+331\", \"binary\": \"AAEC/w==\", \"tp_udhi_present\": true,"
		  " \"pid\": 65, \"sender\": \"+3312\", \"validity\": 60, \"tp_udl\": 4}",
		  &r, NULL);
	assert_null(r.prm.text);
	assert_int_equal(r.prm.ud_len, 4);
	assert_memory_equal(r.prm.ud, "\x00\x01\x02\xff", 4);
	assert_int_equal(r.prm.dcs, 4);
	assert_int_equal(r.prm.pid, 65);
	assert_int_equal(r.prm.tp_udl, 4);
	assert_true(r.prm.udhi);
	assert_string_equal(r.prm.sender, "+3312");
	assert_int_equal(r.prm.validity, 60);
	/* binary_hex and a 7-bit dcs */
	sms_parse("{\"impi\": \"a\", \"binary_hex\": \"C834\", \"dcs\": 0, \"tp_udl\": 2}", &r,
		  NULL);
	assert_int_equal(r.prm.ud_len, 2);
	assert_int_equal(r.prm.dcs, 0);
	/* errors name the field */
	sms_parse("{\"text\": \"x\"}", &r, "impi");
	sms_parse("{\"impi\": \"a\"}", &r, "text");
	sms_parse("{\"impi\": 1, \"text\": \"x\"}", &r, "impi");
	sms_parse("{\"impi\": \"a\", \"text\": 3}", &r, "text");
	sms_parse("{\"impi\": \"a\", \"binary\": \"@@@\"}", &r, "binary");
	sms_parse("{\"impi\": \"a\", \"binary_hex\": \"abc\"}", &r, "binary_hex");
	sms_parse("{\"impi\": \"a\", \"text\": \"x\", \"dcs\": 256}", &r, "dcs");
	sms_parse("{\"impi\": \"a\", \"text\": \"x\", \"pid\": -1}", &r, "pid");
	sms_parse("{\"impi\": \"a\", \"text\": \"x\", \"tp_udl\": 161}", &r, "tp_udl");
	sms_parse("{\"impi\": \"a\", \"text\": \"x\", \"validity\": 0}", &r, "validity");
	sms_parse("{\"impi\": \"a\", \"text\": \"x\", \"sender\": \"\"}", &r, "sender");
	sms_parse("{\"impi\": \"a\", \"text\": \"x\", \"tp_udhi_present\": 1}", &r,
		  "tp_udhi_present");
	sms_parse("{\"impi\": \"a\", \"text\": \"x\", \"sos\": true}", &r, "sos");
	/* 141 octets: one more than a TP-UD holds */
	{
		char txt[400] = "{\"impi\": \"a\", \"binary_hex\": \"";
		size_t n = strlen(txt);

		for (int i = 0; i < 141; i++)
			n += (size_t)snprintf(txt + n, sizeof(txt) - n, "00");
		snprintf(txt + n, sizeof(txt) - n, "\"}");
		sms_parse(txt, &r, "binary_hex");
	}
	sms_parse(NULL, &r, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_http_good),	  cmocka_unit_test(test_http_partial),
	    cmocka_unit_test(test_http_refused),  cmocka_unit_test(test_http_bounds),
	    cmocka_unit_test(test_utf8),	  cmocka_unit_test(test_common_fields),
	    cmocka_unit_test(test_auth_res),	  cmocka_unit_test(test_cmd_table),
	    cmocka_unit_test(test_sms_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
