/*
 * Unit tests: the transaction table bounded in bytes, not only in count
 * (issue 19, finding 7). A final response too large to keep
 * (SIP_TSX_KEEP_MAX) is sent once and its transaction ends, as over a
 * reliable transport; ordinary answers are still kept and absorb
 * retransmissions; above prm.bytes_max new requests are refused (ENOSPC:
 * the stack answers 503) and finals are no longer kept; what the table
 * counts goes back to zero.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/mem.h"
#include "test_sip_tsx_harness.h"

/* A REGISTER (or INVITE) with pad bytes of extra Via headers below the top
 * one: every response echoes them (RFC 3261 §8.2.6.2). */
static char *req_padded(const char *method, unsigned n, size_t pad)
{
	size_t size = 1024 + pad * 2;
	char *b = malloc(size), *p;
	size_t at;

	assert_non_null(b);
	at = (size_t)snprintf(b, size,
			      "%s sip:ims.test SIP/2.0\r\n"
			      "Via: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bKby%u;rport\r\n",
			      method, n);
	while (pad) {
		size_t chunk = pad > 4000 ? 4000 : pad;

		p = b + at;
		memcpy(p, "Via: SIP/2.0/UDP 192.0.2.8;x=", 29);
		memset(p + 29, 'a', chunk);
		memcpy(p + 29 + chunk, "\r\n", 2);
		at += 31 + chunk;
		pad -= chunk;
	}
	snprintf(b + at, size - at,
		 "Max-Forwards: 70\r\n"
		 "From: <sip:alice@ims.test>;tag=a%u\r\n"
		 "To: <sip:alice@ims.test>\r\n"
		 "Call-ID: by%u@ims.test\r\n"
		 "CSeq: 1 %s\r\n"
		 "Content-Length: 0\r\n\r\n",
		 n, n, method);
	return b;
}

static int setup(void **state)
{
	(void)state;
	h_setup(500, 4000, 5000);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	h_teardown();
	return 0;
}

/* The review's attack: REGISTERs with 3 x 15 KB of Via answered 403 over
 * UDP. Each answer is sent, and nothing stays (was: ~47 KB each for 64*T1). */
static void test_large_final_not_kept(void **state)
{
	char *r = req_padded("REGISTER", 1, 45000);

	(void)state;
	H.auto_reply = 403;
	assert_int_equal(h_recv(r, false), 0);
	assert_int_equal(h_sent_count("SIP/2.0 403"), 1);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
	assert_int_equal(sip_tsx_stack_bytes(H.st), 0);
	/* its retransmission is a new request for the TU, answered again */
	assert_int_equal(h_recv(r, false), 0);
	assert_int_equal(h_ev_count(H_EV_REQ), 2);
	assert_int_equal(h_sent_count("SIP/2.0 403"), 2);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
	free(r);
}

/* An ordinary answer is kept as before: the retransmission is absorbed. */
static void test_small_final_kept(void **state)
{
	char *r = req_padded("REGISTER", 2, 0);
	size_t b;

	(void)state;
	H.auto_reply = 403;
	assert_int_equal(h_recv(r, false), 0);
	assert_int_equal(sip_tsx_stack_count(H.st), 1);
	b = sip_tsx_stack_bytes(H.st);
	assert_true(b > 0 && b < 2048);
	assert_int_equal(h_recv(r, false), 0);
	assert_int_equal(h_ev_count(H_EV_REQ), 1);
	assert_int_equal(h_sent_count("SIP/2.0 403"), 2);
	h_advance(64 * 500);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
	assert_int_equal(sip_tsx_stack_bytes(H.st), 0);
	free(r);
}

/* An INVITE's large error answer: sent once, no Timer G, no wait for ACK. */
static void test_ist_large_final_not_kept(void **state)
{
	char *r = req_padded("INVITE", 3, 20000);

	(void)state;
	H.auto_reply = 486;
	assert_int_equal(h_recv(r, false), 0);
	assert_int_equal(h_sent_count("SIP/2.0 486"), 1);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
	h_advance(64 * 500);
	assert_int_equal(h_sent_count("SIP/2.0 486"), 1);
	assert_int_equal(h_timers_pending(), 0);
	assert_int_equal(h_ev_count(H_EV_SERR), 0);
	free(r);
}

/* The byte bound: pending requests fill it, the next is refused (ENOSPC);
 * finals sent while over it are not kept; once they are gone, room again. */
static void test_byte_bound(void **state)
{
	enum { PAD = 3000, N = 64 };
	struct sip_tsx *t[N];
	size_t n = 0, before;
	char *r;
	int err = 0;

	(void)state;
	h_teardown();
	h_setup_bytes(500, 4000, 5000, 40000);
	H.auto_reply = 0; /* the TU answers later */
	H.keep_sent = false;
	while (n < N) {
		r = req_padded("REGISTER", 100 + (unsigned)n, PAD);
		err = h_recv(r, false);
		free(r);
		if (err)
			break;
		t[n++] = H.last_tsx;
	}
	assert_int_equal(err, ENOSPC);
	assert_true(n > 3 && n < N);
	/* admitted while under the bound: over it by one transaction at most */
	assert_true(sip_tsx_stack_bytes(H.st) >= 40000);
	assert_true(sip_tsx_stack_bytes(H.st) < 40000 + 2 * PAD + 8192);
	assert_int_equal(sip_tsx_stack_count(H.st), n);
	/* answered while over the bound: sent, not kept */
	before = H.nsent_total;
	assert_int_equal(sip_tsx_reply(t[0], 404, NULL, NULL), 0);
	assert_int_equal(H.nsent_total, before + 1);
	assert_int_equal(sip_tsx_stack_count(H.st), n - 1);
	for (size_t i = 1; i < n; i++)
		assert_int_equal(sip_tsx_reply(t[i], 404, NULL, NULL), 0);
	/* under the bound again: the last answers were kept */
	assert_true(sip_tsx_stack_count(H.st) > 0);
	assert_true(sip_tsx_stack_bytes(H.st) < 40000);
	h_advance(64 * 500);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
	assert_int_equal(sip_tsx_stack_bytes(H.st), 0);
	r = req_padded("REGISTER", 999, PAD);
	assert_int_equal(h_recv(r, false), 0);
	free(r);
}

/* Defaults: the documented constants. */
static void test_defaults(void **state)
{
	(void)state;
	assert_int_equal(sip_tsx_stack_bytes_max(H.st), SIP_TSX_BYTES_DEFAULT);
	assert_int_equal(SIP_TSX_KEEP_MAX, 8192);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_large_final_not_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_small_final_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ist_large_final_not_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_byte_bound, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
