/*
 * Unit tests of b2bua_prack's state helpers (RFC 3262): how an INVITE asks
 * for reliable provisionals against the `100rel` setting, RAck parsing, and
 * the retransmission schedule of a reliable 1xx. The call flow itself is
 * tested over the wire (tests/integ/test_calls_volte.py).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "b2bua/b2bua_prack.h"
#include "core/mem.h"
#include "sip/sip_msg.h"

static struct sip_msg *invite(const char *extra)
{
	char buf[1024];
	struct sip_msg *m = NULL;
	int n = snprintf(buf, sizeof(buf),
			 "INVITE sip:bob@ims.test SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n"
			 "From: <sip:alice@ims.test>;tag=a\r\n"
			 "To: <sip:bob@ims.test>\r\n"
			 "Call-ID: c1@test\r\n"
			 "CSeq: 1 INVITE\r\n"
			 "Max-Forwards: 70\r\n"
			 "%s"
			 "Content-Length: 0\r\n\r\n",
			 extra);

	assert_true(n > 0 && (size_t)n < sizeof(buf));
	assert_int_equal(sip_msg_decode_copy(&m, buf, (size_t)n, NULL), 0);
	return m;
}

static void rel_mode(const char *hdrs, bool enabled, enum b2b_rel_mode want)
{
	struct sip_msg *m = invite(hdrs);

	assert_int_equal(b2b_rel_mode(m, enabled), want);
	mem_deref(m);
}

static void test_rel_mode(void **state)
{
	(void)state;
	rel_mode("", true, B2B_REL_NONE);
	rel_mode("", false, B2B_REL_NONE);
	rel_mode("Supported: timer, 100rel\r\n", true, B2B_REL_SUPPORTED);
	rel_mode("Supported: timer\r\nSupported: 100REL\r\n", true, B2B_REL_SUPPORTED);
	/* only Supported and off: as if it were not there, no 420 */
	rel_mode("Supported: 100rel\r\n", false, B2B_REL_NONE);
	rel_mode("Require: 100rel\r\nSupported: timer\r\n", true, B2B_REL_REQUIRED);
	rel_mode("Require: precondition, 100rel\r\n", true, B2B_REL_REQUIRED);
	rel_mode("Require: 100rel\r\n", false, B2B_REL_REJECT);
	/* a tag that merely contains the name is not it */
	rel_mode("Require: x100rel\r\nSupported: 100relx\r\n", true, B2B_REL_NONE);
}

static void test_rack_parse(void **state)
{
	uint32_t rseq = 0, cseq = 0;
	struct pl m;

	(void)state;
	assert_int_equal(b2b_rack_parse(pl_from_str("776656 1 INVITE"), &rseq, &cseq, &m),
			 0);
	assert_int_equal(rseq, 776656);
	assert_int_equal(cseq, 1);
	assert_true(pl_eq_str(m, "INVITE"));
	assert_int_equal(b2b_rack_parse(pl_from_str("  4294967295\t2147483647  INVITE "),
					&rseq, &cseq, &m),
			 0);
	assert_int_equal(rseq, 4294967295u);
	assert_int_equal(cseq, 2147483647u);
	/* malformed: missing fields, extra ones, not numbers, zero, too big */
	static const char *const bad[] = {
	    "",
	    "1",
	    "1 1",
	    "1 1 INVITE extra",
	    "a 1 INVITE",
	    "1 b INVITE",
	    "0 1 INVITE",
	    "1 -1 INVITE",
	    "99999999999 1 INVITE",
	    "1 4294967296 INVITE",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(b2b_rack_parse(pl_from_str(bad[i]), &rseq, &cseq, &m),
				 EBADMSG);
}

static void test_retx_schedule(void **state)
{
	uint32_t t1 = 500, cur = 0, waited = 0, sends = 0;

	(void)state;
	/* T1, 2T1, 4T1... until the waited time would pass 64*T1 (§3) */
	assert_int_equal(b2b_rel_next_ms(0, 0, t1), 500);
	assert_int_equal(b2b_rel_next_ms(500, 500, t1), 1000);
	assert_int_equal(b2b_rel_next_ms(1000, 1500, t1), 2000);
	for (cur = b2b_rel_next_ms(0, 0, t1); cur && sends < 100; sends++) {
		waited += cur;
		cur = b2b_rel_next_ms(cur, waited, t1);
	}
	/* 0.5+1+2+4+8+16 = 31.5 s, the next (32 s) would pass 32 s */
	assert_int_equal(sends, 6);
	assert_int_equal(waited, 31500);
	assert_true(waited <= 64u * t1);
	/* no overflow with a large T1 */
	assert_int_equal(b2b_rel_next_ms(0, 0, 60000), 60000);
	assert_int_equal(b2b_rel_next_ms(2147483648u, 0, 60000), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rel_mode),
	    cmocka_unit_test(test_rack_parse),
	    cmocka_unit_test(test_retx_schedule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
