/*
 * Unit tests: the transaction layer's rewrite hook (sip_tsx_env.rewrite),
 * the way custom_headers reach what imsd sends (sip/sip_custom.h): called
 * once per message built, before its first send; retransmissions (Timer
 * A/E of a client, Timer G of an INVITE server, a final resent for a
 * retransmitted request) resend the rewritten bytes without calling it
 * again; the ACK of a non-2xx is rewritten once too.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/mbuf.h"
#include "sip/sip_custom.h"
#include "test_sip_tsx_harness.h"

#define INVITE_IN                                                                        \
	"INVITE sip:bob@ims.test SIP/2.0\r\n"                                            \
	"Via: SIP/2.0/UDP ue.ims.test:5060;branch=z9hG4bKw1\r\n"                         \
	"Max-Forwards: 70\r\n"                                                           \
	"From: <sip:alice@ims.test>;tag=a1\r\n"                                          \
	"To: <sip:bob@ims.test>\r\n"                                                     \
	"Call-ID: rw1@ims.test\r\n"                                                      \
	"CSeq: 7 INVITE\r\n"                                                             \
	"Content-Length: 0\r\n\r\n"

#define MESSAGE_OUT                                                                      \
	"MESSAGE sip:bob@ims.test SIP/2.0\r\n"                                           \
	"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKw2\r\n"                           \
	"Max-Forwards: 70\r\n"                                                           \
	"From: <sip:alice@ims.test>;tag=a2\r\n"                                          \
	"To: <sip:bob@ims.test>\r\n"                                                     \
	"Call-ID: rw2@ims.test\r\n"                                                      \
	"CSeq: 1 MESSAGE\r\n"                                                            \
	"Content-Length: 0\r\n\r\n"

#define INVITE_OUT                                                                       \
	"INVITE sip:bob@ims.test SIP/2.0\r\n"                                            \
	"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKw3\r\n"                           \
	"Max-Forwards: 70\r\n"                                                           \
	"From: <sip:alice@ims.test>;tag=a3\r\n"                                          \
	"To: <sip:bob@ims.test>\r\n"                                                     \
	"Call-ID: rw3@ims.test\r\n"                                                      \
	"CSeq: 1 INVITE\r\n"                                                             \
	"Content-Length: 0\r\n\r\n"

#define RESP_486_OUT                                                                     \
	"SIP/2.0 486 Busy Here\r\n"                                                      \
	"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKw3\r\n"                           \
	"From: <sip:alice@ims.test>;tag=a3\r\n"                                          \
	"To: <sip:bob@ims.test>;tag=b3\r\n"                                              \
	"Call-ID: rw3@ims.test\r\n"                                                      \
	"CSeq: 1 INVITE\r\n"                                                             \
	"Content-Length: 0\r\n\r\n"

static struct sip_custom *rules;
static size_t calls;

/* Adds "X-Once" to every request and every response. */
static int rewrite_h(const void *data, size_t len, struct mbuf *out, void *arg)
{
	(void)arg;
	calls++;
	return sip_custom_apply(rules, data, len, out);
}

static int setup(void **state)
{
	static const uint16_t all[] = {0};
	const struct sip_custom_hdr h[2] = {
	    {.name = "X-Once", .value = "req"},
	    {.name = "X-Once", .value = "resp", .codes = all, .code_count = 1},
	};

	(void)state;
	h_setup(500, 4000, 5000);
	assert_int_equal(sip_custom_alloc(&rules, h, 2), 0);
	H.env.rewrite = rewrite_h;
	calls = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	h_teardown();
	sip_custom_free(rules);
	rules = NULL;
	return 0;
}

/* Every kept send of messages starting with prefix carries hdr once. */
static void expect_all_with(const char *prefix, const char *hdr, size_t n)
{
	size_t seen = 0;

	for (size_t i = 0; i < H.nsent; i++) {
		const char *s = H.sent[i].data, *p;

		if (strncmp(s, prefix, strlen(prefix)))
			continue;
		seen++;
		p = strstr(s, hdr);
		assert_non_null(p);
		assert_null(strstr(p + 1, hdr));
	}
	assert_int_equal(seen, n);
}

static void test_ist_final_once(void **state)
{
	(void)state;
	H.auto_reply = 486;
	assert_int_equal(h_recv(INVITE_IN, false), 0);
	assert_int_equal(calls, 1);
	h_advance(1500);			       /* Timer G: at 500 and 1500 */
	assert_int_equal(h_recv(INVITE_IN, false), 0); /* resent for the request */
	assert_int_equal(calls, 1);
	expect_all_with("SIP/2.0 486 ", "X-Once: resp\r\n", 4);
}

static void test_nict_request_once(void **state)
{
	(void)state;
	h_request(MESSAGE_OUT, false);
	assert_int_equal(calls, 1);
	h_advance(1500); /* Timer E: 500, 1500 */
	assert_int_equal(calls, 1);
	expect_all_with("MESSAGE ", "X-Once: req\r\n", 3);
}

static void test_ict_request_and_ack_once(void **state)
{
	(void)state;
	h_request(INVITE_OUT, false);
	h_advance(500); /* Timer A */
	assert_int_equal(calls, 1);
	expect_all_with("INVITE ", "X-Once: req\r\n", 2);
	assert_int_equal(h_recv(RESP_486_OUT, false), 0);
	assert_int_equal(calls, 2); /* the ACK, built once */
	assert_int_equal(h_recv(RESP_486_OUT, false), 0);
	assert_int_equal(calls, 2);
	expect_all_with("ACK ", "X-Once: req\r\n", 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_ist_final_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nict_request_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ict_request_and_ack_once, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
