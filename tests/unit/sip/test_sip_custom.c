/*
 * Unit tests: sip/sip_custom — custom_headers (manual §5.2) applied to
 * serialized messages: add to requests by method, to responses by code and
 * the CSeq method, replace (long and compact forms, continuation lines),
 * remove without a value, the body kept, and the checks that keep a rule
 * from injecting lines or touching the headers that frame a message.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sip/sip_custom.h"

static const char reg_req[] = "REGISTER sip:ims.test SIP/2.0\r\n"
			      "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n"
			      "From: <sip:a@ims.test>;tag=1\r\n"
			      "To: <sip:a@ims.test>\r\n"
			      "Call-ID: c1\r\n"
			      "CSeq: 1 REGISTER\r\n"
			      "User-Agent: ue\r\n"
			      "Content-Length: 0\r\n"
			      "\r\n";

static const char resp_401[] = "SIP/2.0 401 Unauthorized\r\n"
			       "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n"
			       "From: <sip:a@ims.test>;tag=1\r\n"
			       "To: <sip:a@ims.test>;tag=2\r\n"
			       "Call-ID: c1\r\n"
			       "CSeq: 1 REGISTER\r\n"
			       "Server: imsd\r\n"
			       "Content-Length: 0\r\n"
			       "\r\n";

static const char msg_req[] = "MESSAGE sip:a@ims.test SIP/2.0\r\n"
			      "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK2\r\n"
			      "Call-ID: c2\r\n"
			      "CSeq: 7 MESSAGE\r\n"
			      "Subject: one,\r\n"
			      " two\r\n"
			      "s: three\r\n"
			      "Content-Type: text/plain\r\n"
			      "Content-Length: 5\r\n"
			      "\r\n"
			      "hello";

static int apply(const struct sip_custom_hdr *v, size_t n, const char *msg, char *out,
		 size_t size)
{
	struct sip_custom *c = NULL;
	struct mbuf mb;
	int err;

	assert_int_equal(sip_custom_alloc(&c, v, n), 0);
	mbuf_init(&mb, 65535);
	err = sip_custom_apply(c, msg, strlen(msg), &mb);
	out[0] = '\0';
	if (!err) {
		assert_true(mb.end < size);
		memcpy(out, mb.buf, mb.end);
		out[mb.end] = '\0';
	}
	mbuf_reset(&mb);
	sip_custom_free(c);
	return err;
}

static void test_request_by_method(void **state)
{
	const char *const reg[] = {"REGISTER"}, *const all[] = {"*"};
	struct sip_custom_hdr h[2] = {
	    {.name = "X-Net", .value = "lab 1", .methods = reg, .method_count = 1},
	    {.name = "X-All", .value = "y", .methods = all, .method_count = 1},
	};
	char out[2048];

	(void)state;
	assert_int_equal(apply(h, 2, reg_req, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "Content-Length: 0\r\nX-Net: lab 1\r\nX-All: y\r\n\r\n"));
	assert_int_equal(strncmp(out, reg_req, strlen(reg_req) - 2), 0);
	/* a MESSAGE gets the "*" one only, the body stays */
	assert_int_equal(apply(h, 2, msg_req, out, sizeof(out)), 0);
	assert_null(strstr(out, "X-Net"));
	assert_non_null(strstr(out, "X-All: y\r\n\r\nhello"));
	/* rules without codes are for requests: the 401 is left */
	assert_int_equal(apply(h, 2, resp_401, out, sizeof(out)), ENOENT);
}

static void test_response_by_code(void **state)
{
	const char *const reg[] = {"REGISTER"}, *const inv[] = {"INVITE"};
	const uint16_t c401[] = {401}, call[] = {0}, c200[] = {200};
	struct sip_custom_hdr h[3] = {
	    {.name = "X-Chal", .value = "1", .methods = reg, .method_count = 1,
	     .codes = c401, .code_count = 1},
	    {.name = "X-Any", .value = "2", .codes = call, .code_count = 1},
	    {.name = "X-Inv", .value = "3", .methods = inv, .method_count = 1,
	     .codes = c200, .code_count = 1},
	};
	char out[2048];

	(void)state;
	assert_int_equal(apply(h, 3, resp_401, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "X-Chal: 1\r\nX-Any: 2\r\n\r\n"));
	assert_null(strstr(out, "X-Inv"));
	/* codes set: not for the request itself */
	assert_int_equal(apply(h, 3, reg_req, out, sizeof(out)), ENOENT);
}

static void test_replace_and_remove(void **state)
{
	const char *const all[] = {"*"};
	struct sip_custom_hdr h[3] = {
	    /* replace: the long and the compact form, folded lines too */
	    {.name = "Subject", .value = "new", .methods = all, .method_count = 1,
	     .replace = true},
	    /* no value: removed only */
	    {.name = "user-agent", .methods = all, .method_count = 1},
	    /* replace of a header the message lacks: added once */
	    {.name = "X-One", .value = "1", .replace = true},
	};
	char out[2048];

	(void)state;
	assert_int_equal(apply(h, 3, msg_req, out, sizeof(out)), 0);
	assert_null(strstr(out, "one,"));
	assert_null(strstr(out, " two"));
	assert_null(strstr(out, "s: three"));
	assert_non_null(strstr(out, "Content-Length: 5\r\nSubject: new\r\nX-One: 1\r\n\r\nhello"));
	assert_int_equal(apply(h, 3, reg_req, out, sizeof(out)), 0);
	assert_null(strstr(out, "User-Agent"));
	assert_non_null(strstr(out, "Call-ID: c1\r\n"));
}

static void test_checks(void **state)
{
	const char *const bad_meth[] = {"REG ISTER"};
	const uint16_t bad_code[] = {42};
	const struct sip_custom_hdr bad[] = {
	    {.name = "X-A", .value = "1\r\nVia: evil"},
	    {.name = "X-A", .value = "a\nb"},
	    {.name = "X-A", .value = "a\001b"},
	    {.name = "X A", .value = "1"},
	    {.name = "", .value = "1"},
	    {.name = "Via", .value = "1"},
	    {.name = "v", .value = "1"},
	    {.name = "call-id"},
	    {.name = "l", .value = "0"},
	    {.name = "CSeq", .value = "1 X"},
	    {.name = "X-A", .value = "1", .methods = bad_meth, .method_count = 1},
	    {.name = "X-A", .value = "1", .codes = bad_code, .code_count = 1},
	};
	struct sip_custom_hdr ok = {.name = "X-A", .value = "tab\tok"};
	struct sip_custom *c = NULL;
	char big[SIP_CUSTOM_VALUE_MAX + 2];
	const char *why = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(sip_custom_hdr_ok(&bad[i], &why));
		assert_non_null(why);
		assert_int_equal(sip_custom_alloc(&c, &bad[i], 1), EINVAL);
		assert_null(c);
	}
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ok.value = big;
	assert_false(sip_custom_hdr_ok(&ok, &why));
	big[SIP_CUSTOM_VALUE_MAX] = '\0';
	assert_true(sip_custom_hdr_ok(&ok, &why));
	assert_int_equal(sip_custom_alloc(&c, &ok, 1), 0);
	assert_int_equal(sip_custom_added_max(c), 3 + 2 + SIP_CUSTOM_VALUE_MAX + 2);
	sip_custom_free(c);
	assert_int_equal(sip_custom_alloc(&c, NULL, 0), 0);
	assert_null(c);
	assert_int_equal(sip_custom_alloc(&c, &ok, SIP_CUSTOM_MAX + 1), EINVAL);
}

static void test_bounds(void **state)
{
	struct sip_custom_hdr h = {.name = "X-Big", .value = NULL};
	char v[SIP_CUSTOM_VALUE_MAX + 1];
	struct sip_custom *c = NULL;
	struct mbuf mb;

	(void)state;
	memset(v, 'v', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	h.value = v;
	assert_int_equal(sip_custom_alloc(&c, &h, 1), 0);
	/* over the buffer's bound: ENOSPC, the caller sends the original */
	mbuf_init(&mb, strlen(reg_req) + 100);
	assert_int_equal(sip_custom_apply(c, reg_req, strlen(reg_req), &mb), ENOSPC);
	mbuf_reset(&mb);
	/* no end of the header section, no start line */
	mbuf_init(&mb, 65535);
	assert_int_equal(sip_custom_apply(c, reg_req, strlen(reg_req) - 2, &mb), EBADMSG);
	mbuf_clear(&mb);
	assert_int_equal(sip_custom_apply(c, "SIP/2.0 2x0 OK\r\n\r\n", 18, &mb), EBADMSG);
	mbuf_clear(&mb);
	assert_int_equal(sip_custom_apply(c, " x", 2, &mb), EBADMSG);
	mbuf_reset(&mb);
	/* no rules: nothing to do */
	assert_int_equal(sip_custom_apply(NULL, reg_req, strlen(reg_req), &mb), ENOENT);
	sip_custom_free(c);
}

/* More rules than one 64-bit word of the match set: the right ones apply,
 * in order, with no allocation per message. */
static void test_many_rules(void **state)
{
	static char names[SIP_CUSTOM_MAX][16];
	const char *const reg[] = {"REGISTER"}, *const inv[] = {"INVITE"};
	struct sip_custom_hdr h[130];
	char out[8192];

	(void)state;
	for (size_t i = 0; i < 130; i++) {
		snprintf(names[i], sizeof(names[i]), "X-R%zu", i);
		h[i] = (struct sip_custom_hdr){.name = names[i], .value = "v",
					       .methods = inv, .method_count = 1};
	}
	h[0].methods = reg;
	h[63].methods = reg;
	h[64].methods = reg;
	h[129].methods = reg;
	assert_int_equal(apply(h, 130, reg_req, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "Content-Length: 0\r\nX-R0: v\r\nX-R63: v\r\n"
				    "X-R64: v\r\nX-R129: v\r\n\r\n"));
	assert_null(strstr(out, "X-R1:"));
}

/* A response is matched on its code first: with no rule for responses, or
 * none for its code, its header section is not read at all (a response
 * with no end of headers is left as it is, not refused as EBADMSG). */
static void test_response_not_scanned(void **state)
{
	static const char broken[] = "SIP/2.0 200 OK\r\nCSeq: 1 REGISTER\r\n";
	const char *const reg[] = {"REGISTER"};
	const uint16_t c401[] = {401}, c200[] = {200};
	struct sip_custom_hdr req_only = {.name = "X-A", .value = "1"};
	struct sip_custom_hdr other_code = {.name = "X-A", .value = "1", .codes = c401,
					    .code_count = 1, .methods = reg,
					    .method_count = 1};
	struct sip_custom_hdr any_meth = {.name = "X-A", .value = "1", .codes = c200,
					  .code_count = 1};
	struct sip_custom_hdr no_cseq = {.name = "X-A", .value = "1", .codes = c401,
					 .code_count = 1, .methods = reg, .method_count = 1};
	char out[2048];

	(void)state;
	assert_int_equal(apply(&req_only, 1, broken, out, sizeof(out)), ENOENT);
	assert_int_equal(apply(&other_code, 1, broken, out, sizeof(out)), ENOENT);
	/* a rule for the code that lists no method: the CSeq is not needed */
	assert_int_equal(apply(&any_meth, 1, "SIP/2.0 200 OK\r\n\r\n", out, sizeof(out)), 0);
	assert_string_equal(out, "SIP/2.0 200 OK\r\nX-A: 1\r\n\r\n");
	/* methods listed and no CSeq to read them from: not applied */
	assert_int_equal(apply(&no_cseq, 1, "SIP/2.0 401 No\r\n\r\n", out, sizeof(out)),
			 ENOENT);
}

/* A rule written in compact form removes the long form too. */
static void test_compact_rule_name(void **state)
{
	struct sip_custom_hdr h = {.name = "s", .value = "short", .replace = true};
	char out[2048];

	(void)state;
	assert_int_equal(apply(&h, 1, msg_req, out, sizeof(out)), 0);
	assert_null(strstr(out, "Subject"));
	assert_null(strstr(out, "three"));
	assert_non_null(strstr(out, "s: short\r\n\r\nhello"));
}

/* The size of a set is bounded: 1000 rules of 1000 methods would be tens of
 * megabytes; a set over SIP_CUSTOM_BYTES_MAX is refused (E2BIG). */
static void test_set_size_bound(void **state)
{
	static const char *meths[SIP_CUSTOM_LIST_MAX];
	static struct sip_custom_hdr h[SIP_CUSTOM_MAX];
	struct sip_custom *c = NULL;
	size_t one, n = 0, total = 0;

	(void)state;
	for (size_t i = 0; i < SIP_CUSTOM_LIST_MAX; i++)
		meths[i] = "SUBSCRIBE";
	for (size_t i = 0; i < SIP_CUSTOM_MAX; i++)
		h[i] = (struct sip_custom_hdr){.name = "X-Big", .value = "1", .methods = meths,
					       .method_count = SIP_CUSTOM_LIST_MAX};
	one = sip_custom_hdr_size(&h[0]);
	assert_true(one > SIP_CUSTOM_LIST_MAX * 10);
	while (total + one <= SIP_CUSTOM_BYTES_MAX) {
		total += one;
		n++;
	}
	assert_int_equal(sip_custom_alloc(&c, h, n), 0);
	assert_non_null(c);
	sip_custom_free(c);
	c = NULL;
	assert_int_equal(sip_custom_alloc(&c, h, n + 1), E2BIG);
	assert_null(c);
	assert_int_equal(sip_custom_alloc(&c, h, SIP_CUSTOM_MAX), E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_by_method),
	    cmocka_unit_test(test_response_by_code),
	    cmocka_unit_test(test_replace_and_remove),
	    cmocka_unit_test(test_checks),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_many_rules),
	    cmocka_unit_test(test_response_not_scanned),
	    cmocka_unit_test(test_compact_rule_name),
	    cmocka_unit_test(test_set_size_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
