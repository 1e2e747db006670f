/*
 * b2bua unit tests of the Reason header (RFC 3326) on the CANCELs imsd
 * sends to a call's branches, over loopback with plain UDP sockets as
 * phones (docs/calls.md "Reason on CANCEL"):
 *   - forking, one branch answers 2xx: the others' CANCEL carries
 *     `Reason: SIP;cause=200;text="Call completed elsewhere"` (§2), also
 *     a CANCEL deferred until a branch's first provisional (RFC 3261 §9.1);
 *   - the caller CANCELs: its Reason lines are forwarded as they came
 *     (several protocols), none when it sent none;
 *   - dialog_set stop with code/reason/protocol on a call still ringing:
 *     the CANCEL carries the operator's Reason, the caller gets 487;
 *   - Timer C and a 6xx: no Reason (nothing to say that RFC 3326 defines).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "b2bua/b2bua.h"
#include "b2bua_harness.h"
#include "core/mem.h"
#include "sip/sip_msg.h"

const char *CFG =
    "{'sip_addr': '127.0.0.1:5060', 'domain': 'ims.test', 'timer_t1': 0.05,"
    " 'timer_t2': 0.4, 'dialog_timeout': 30,"
    " 'ue_db': ["
    "{'imsi': '001010000000001', 'impi': 'alice@ims.test', 'authent_type': 'none',"
    " 'impu': ['sip:alice']},"
    "{'imsi': '001010000000002', 'impi': 'bob@ims.test', 'authent_type': 'none',"
    " 'impu': ['sip:bob']}]}";

#define ELSEWHERE "SIP;cause=200;text=\"Call completed elsewhere\""

/* alice's INVITE (or its CANCEL: same branch, RFC 3261 §9.1) to bob. */
static void a_send(struct ue *a, const char *meth, int n, const char *extra)
{
	char r[4096];
	bool inv = !strcmp(meth, "INVITE");

	snprintf(r, sizeof(r),
		 "%s sip:bob@ims.test SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKrsn%d;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:alice@ims.test>;tag=a1\r\n"
		 "To: <sip:bob@ims.test>\r\nCall-ID: rsn%d@t\r\nCSeq: 1 %s\r\n"
		 "Contact: <sip:alice@127.0.0.1:%u>\r\n%s%sContent-Length: %zu\r\n\r\n%s",
		 meth, a->port, n, n, meth, a->port, extra ? extra : "",
		 inv ? "Content-Type: application/sdp\r\n" : "", inv ? strlen(SDP) : 0,
		 inv ? SDP : "");
	ue_send(a, r);
}

/* The next request u gets. */
static struct sip_msg *req_of(struct ue *u)
{
	struct sip_msg *m = ue_recv_skip(u);

	while (!m->req) {
		mem_deref(m);
		m = ue_recv_skip(u);
	}
	return m;
}

/* The CANCEL b gets for inv: checked, answered (200, then 487 to the
 * INVITE, whose ACK is read); returns its Reason lines joined. */
static const char *cancel_take(struct ue *b, const struct sip_msg *inv, const char *tag,
			       char *buf, size_t size)
{
	struct sip_msg *c = req_of(b);
	const struct sip_hdr *h;
	size_t n = 0;

	assert_int_equal(c->meth, SIP_METHOD_CANCEL);
	assert_string_equal(hdr(c, "Call-ID"), hdr(inv, "Call-ID"));
	buf[0] = '\0';
	for (h = sip_msg_hdr(c, SIP_HDR_REASON); h && n < size; h = sip_msg_hdr_next(c, h))
		n += (size_t)snprintf(buf + n, size - n, "%s%.*s", n ? " | " : "",
				      (int)h->val.l, h->val.p);
	answer(b, c, 200, "OK", tag, NULL);
	answer(b, inv, 487, "Request Terminated", tag, NULL);
	mem_deref(c);
	c = ue_recv(b); /* the ACK of the 487 */
	assert_true(c->req && c->meth == SIP_METHOD_ACK);
	mem_deref(c);
	return buf;
}

static uint32_t newest_call(void)
{
	struct b2bua_cursor cur = {0};
	struct b2bua_dialog_info di;
	uint32_t idx = 0;

	while (b2bua_dialog_next(T.b2b, &cur, &di))
		idx = di.index > idx ? di.index : idx;
	return idx;
}

/* The winner's 200 relayed; the caller ACKs and hangs up, bob answers
 * the BYE. */
static void won_end(struct ue *a, struct ue *b)
{
	struct sip_msg *ok, *m;
	char r[2048];
	const char *ct;

	ok = ue_recv_skip(a);
	while (ok->scode != 200) {
		mem_deref(ok);
		ok = ue_recv_skip(a);
	}
	ct = hdr(ok, "Contact");
	snprintf(r, sizeof(r),
		 "ACK %.*s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKrsnack;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:alice@ims.test>;tag=a1\r\nTo: %s\r\n"
		 "Call-ID: %s\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
		 (int)(strlen(ct) - 2), ct + 1, a->port, hdr(ok, "To"), hdr(ok, "Call-ID"));
	ue_send(a, r);
	snprintf(r, sizeof(r),
		 "BYE %.*s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKrsnbye;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:alice@ims.test>;tag=a1\r\nTo: %s\r\n"
		 "Call-ID: %s\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
		 (int)(strlen(ct) - 2), ct + 1, a->port, hdr(ok, "To"), hdr(ok, "Call-ID"));
	mem_deref(ok);
	ue_send(a, r);
	ue_expect_scode(a, 200); /* the BYE's */
	m = req_of(b);
	while (m->meth != SIP_METHOD_BYE) { /* the ACK of the 200 first */
		mem_deref(m);
		m = req_of(b);
	}
	answer(b, m, 200, "OK", NULL, NULL);
	mem_deref(m);
}

static void test_completed_elsewhere(void **state)
{
	struct ue a, b1, b2, b3;
	struct sip_msg *i1, *i2, *i3, *m;
	char buf[512];

	(void)state;
	ue_open(&a, "alice");
	ue_open(&b1, "bob");
	ue_open(&b2, "bob");
	ue_open(&b3, "bob");
	ue_register(&a);
	ue_register(&b1);
	ue_register(&b2);
	ue_register(&b3);
	a_send(&a, "INVITE", 1, NULL);
	i1 = ue_recv(&b1);
	i2 = ue_recv(&b2);
	i3 = ue_recv(&b3); /* silent until the call is answered */
	answer(&b1, i1, 180, "Ringing", "x1", NULL);
	ue_expect_scode(&a, 180);
	answer(&b2, i2, 200, "OK", "x2", SDP);
	assert_string_equal(cancel_take(&b1, i1, "x1", buf, sizeof(buf)), ELSEWHERE);
	/* §9.1: b3's CANCEL waits for its provisional, with the same Reason */
	answer(&b3, i3, 180, "Ringing", "x3", NULL);
	assert_string_equal(cancel_take(&b3, i3, "x3", buf, sizeof(buf)), ELSEWHERE);
	won_end(&a, &b2);
	mem_deref(i1);
	mem_deref(i2);
	mem_deref(i3);
	/* a 6xx ends the other branches without a Reason */
	a_send(&a, "INVITE", 2, NULL);
	i1 = ue_recv(&b1);
	i2 = ue_recv(&b2);
	i3 = ue_recv(&b3);
	answer(&b1, i1, 180, "Ringing", "y1", NULL);
	ue_expect_scode(&a, 180);
	answer(&b3, i3, 180, "Ringing", "y3", NULL);
	answer(&b2, i2, 603, "Decline", "y2", NULL);
	m = ue_recv(&b2); /* the ACK of the 603 */
	assert_true(m->req && m->meth == SIP_METHOD_ACK);
	mem_deref(m);
	assert_string_equal(cancel_take(&b1, i1, "y1", buf, sizeof(buf)), "");
	assert_string_equal(cancel_take(&b3, i3, "y3", buf, sizeof(buf)), "");
	mem_deref(i1);
	mem_deref(i2);
	mem_deref(i3);
	ue_close(&a);
	ue_close(&b1);
	ue_close(&b2);
	ue_close(&b3);
}

static void test_caller_reason_forwarded(void **state)
{
	struct ue a, b;
	struct sip_msg *inv;
	char buf[512];

	(void)state;
	ue_open(&a, "alice");
	ue_open(&b, "bob");
	ue_register(&a);
	ue_register(&b);
	a_send(&a, "INVITE", 3, NULL);
	inv = ue_recv(&b);
	answer(&b, inv, 180, "Ringing", "z1", NULL);
	ue_expect_scode(&a, 180);
	a_send(&a, "CANCEL", 3,
	       "Reason: SIP;cause=487;text=\"Gave up\"\r\n"
	       "Reason: Q.850;cause=16;text=\"Normal call clearing\"\r\n");
	assert_string_equal(cancel_take(&b, inv, "z1", buf, sizeof(buf)),
			    "SIP;cause=487;text=\"Gave up\" | "
			    "Q.850;cause=16;text=\"Normal call clearing\"");
	ue_expect_scode(&a, 200); /* the CANCEL's */
	ue_expect_scode(&a, 487);
	mem_deref(inv);
	/* none from the caller: none forwarded */
	a_send(&a, "INVITE", 4, NULL);
	inv = ue_recv(&b);
	answer(&b, inv, 180, "Ringing", "z2", NULL);
	ue_expect_scode(&a, 180);
	a_send(&a, "CANCEL", 4, NULL);
	assert_string_equal(cancel_take(&b, inv, "z2", buf, sizeof(buf)), "");
	mem_deref(inv);
	ue_close(&a);
	ue_close(&b);
}

static void test_stop_reason_ringing(void **state)
{
	struct b2bua_stop_prm p = {.code = 16, .reason = "Operator \"stop\"",
				   .protocol = "Q.850"};
	struct ue a, b;
	struct sip_msg *inv;
	char buf[512];

	(void)state;
	ue_open(&a, "alice");
	ue_open(&b, "bob");
	ue_register(&a);
	ue_register(&b);
	a_send(&a, "INVITE", 5, NULL);
	inv = ue_recv(&b);
	answer(&b, inv, 180, "Ringing", "s1", NULL);
	ue_expect_scode(&a, 180);
	assert_int_equal(b2bua_dialog_stop_reason(T.b2b, newest_call(), &p), 0);
	ue_expect_scode(&a, 487);
	assert_string_equal(cancel_take(&b, inv, "s1", buf, sizeof(buf)),
			    "Q.850;cause=16;text=\"Operator \\\"stop\\\"\"");
	mem_deref(inv);
	/* stopped before bob's first provisional: its deferred CANCEL too */
	a_send(&a, "INVITE", 6, NULL);
	inv = ue_recv(&b);
	p = (struct b2bua_stop_prm){.code = 480, .reason = "Not now"};
	assert_int_equal(b2bua_dialog_stop_reason(T.b2b, newest_call(), &p), 0);
	ue_expect_scode(&a, 487);
	answer(&b, inv, 180, "Ringing", "s2", NULL);
	assert_string_equal(cancel_take(&b, inv, "s2", buf, sizeof(buf)),
			    "SIP;cause=480;text=\"Not now\"");
	mem_deref(inv);
	ue_close(&a);
	ue_close(&b);
}

static int setup_short_c(void **state)
{
	(void)state;
	return setup_prm(400, false);
}

static void test_timer_c_no_reason(void **state)
{
	struct ue a, b;
	struct sip_msg *inv;
	char buf[512];

	(void)state;
	ue_open(&a, "alice");
	ue_open(&b, "bob");
	ue_register(&a);
	ue_register(&b);
	a_send(&a, "INVITE", 7, NULL);
	inv = ue_recv(&b);
	answer(&b, inv, 180, "Ringing", "t1", NULL);
	ue_expect_scode(&a, 180);
	ue_expect_scode(&a, 408); /* Timer C, 400 ms here */
	assert_string_equal(cancel_take(&b, inv, "t1", buf, sizeof(buf)), "");
	mem_deref(inv);
	ue_close(&a);
	ue_close(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_completed_elsewhere, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_caller_reason_forwarded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_reason_ringing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_c_no_reason, setup_short_c, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
