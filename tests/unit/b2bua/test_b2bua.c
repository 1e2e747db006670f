/*
 * b2bua unit tests over loopback on the real event loop: the stack, the
 * registrar, the CSCF stage and the b2bua as imsd wires them, with plain
 * UDP sockets as the UEs (registered without authentication). A basic call
 * (headers on the callee's INVITE, the relay of 180/200/ACK/BYE, one
 * Call-ID per dialog), Timer C (shortened through the prm) with CANCEL to
 * the ringing branch, forking (the loser CANCELled), a 6xx ending every
 * branch, the answers of the lookup (404, 480, 403, 483, 481), 491 for a
 * re-INVITE during a re-INVITE, Timer H (no ACK: BYE to both), a leg's
 * binding removed (BYE to both) and the calls as data.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "b2bua/b2bua.h"
#include "b2bua_harness.h"
#include "config/ims_cfg.h"
#include "core/mem.h"
#include "cscf/cscf.h"
#include "hss/hss.h"
#include "loop/loop.h"
#include "media/media.h"
#include "registrar/registrar.h"
#include "sip/sip_hdr.h"
#include "sip/sip_stack.h"

/* alice calls; bob, carol are callees; erin is never registered; echo. */
const char *CFG =
    "{'sip_addr': '127.0.0.1:5060', 'domain': 'ims.test', 'timer_t1': 0.05,"
    " 'timer_t2': 0.4, 'p_called_party_id': true, 'echo': 'sip:echo', 'dialog_timeout': "
    "1,"
    " 'ue_db': ["
    "{'imsi': '001010000000001', 'impi': 'alice@ims.test', 'authent_type': 'none',"
    " 'impu': [{'impu': 'sip:alice', 'display_name': 'Alice A'}]},"
    "{'imsi': '001010000000002', 'impi': 'bob@ims.test', 'authent_type': 'none',"
    " 'impu': ['sip:bob', 'tel:+33100000002']},"
    "{'imsi': '001010000000003', 'impi': 'erin@ims.test', 'authent_type': 'none',"
    " 'impu': ['sip:erin']},"
    "{'imsi': '001010000000009', 'impi': 'sim@ims.test', 'authent_type': 'none',"
    " 'sim_algo': 'xor', 'K': '00112233445566778899aabbccddeeff', 'multi_sim': true,"
    " 'impu': [{'impu': 'sip:sim', 'imei': '35000000000001'}]},"
    "{'imsi': '001010000000009', 'impi': 'sim@ims.test', 'authent_type': 'none',"
    " 'sim_algo': 'xor', 'K': '00112233445566778899aabbccddeeff', 'multi_sim': true,"
    " 'impu': [{'impu': 'sip:sim', 'imei': '35000000000002'}]}]}";

/* The caller's INVITE to ruri (Call-ID cid). */
static void invite_body(struct ue *a, const char *ruri, const char *cid,
			const char *extra, const char *body)
{
	char r[8192];

	snprintf(
	    r, sizeof(r),
	    "INVITE %s SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKinv%d;rport\r\n"
	    "%sFrom: <sip:alice@ims.test>;tag=a1\r\n"
	    "To: <%s>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"
	    "Contact: <sip:alice@127.0.0.1:%u>\r\n"
	    "P-Access-Network-Info: 3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=001010001\r\n"
	    "%sContent-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s",
	    ruri, a->port, ++T.cseq,
	    extra && strstr(extra, "Max-Forwards") ? "" : "Max-Forwards: 70\r\n", ruri,
	    cid, a->port, extra ? extra : "", strlen(body), body);
	ue_send(a, r);
}

static void invite(struct ue *a, const char *ruri, const char *cid, const char *extra)
{
	invite_body(a, ruri, cid, extra, SDP);
}

/* A request of the caller inside its dialog with imsd (after a 2xx). */
static void a_req(struct ue *a, const struct sip_msg *ok, const char *meth, int cseq,
		  const char *body)
{
	char r[2048], target[256];
	const char *ct = hdr(ok, "Contact");

	snprintf(target, sizeof(target), "%.*s", (int)(strlen(ct) - 2), ct + 1);
	snprintf(r, sizeof(r),
		 "%s %s SIP/2.0\r\nVia: SIP/2.0/UDP "
		 "127.0.0.1:%u;branch=z9hG4bK%s%d%d;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:alice@ims.test>;tag=a1\r\nTo: %s\r\n"
		 "Call-ID: %s\r\nCSeq: %d %s\r\nContact: <sip:alice@127.0.0.1:%u>\r\n"
		 "%sContent-Length: %zu\r\n\r\n%s",
		 meth, target, a->port, meth, cseq, ++T.cseq, hdr(ok, "To"),
		 hdr(ok, "Call-ID"), !strcmp(meth, "ACK") ? 1 : cseq, meth, a->port,
		 body ? "Content-Type: application/sdp\r\n" : "", body ? strlen(body) : 0,
		 body ? body : "");
	ue_send(a, r);
}

/* The caller's ACK of a non-2xx final (RFC 3261 §17.1.1.3: the INVITE's
 * branch, the response's To). */
static void a_ack_err(struct ue *a, const struct sip_msg *resp)
{
	char r[1024];

	snprintf(r, sizeof(r),
		 "ACK sip:x@ims.test SIP/2.0\r\nVia: %s\r\nMax-Forwards: 70\r\n"
		 "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %u ACK\r\n"
		 "Content-Length: 0\r\n\r\n",
		 hdr(resp, "Via"), hdr(resp, "From"), hdr(resp, "To"),
		 hdr(resp, "Call-ID"), sip_msg_cseq(resp)->num);
	ue_send(a, r);
}

static int setup_short_c(void **state)
{
	(void)state;
	return setup_prm(400, false);
}

/* The state of the call of index 1 (the first one), as dialog_get shows. */
static enum b2bua_state call_state(void)
{
	struct b2bua_cursor c = {0};
	struct b2bua_dialog_info di;

	assert_true(b2bua_dialog_next(T.b2b, &c, &di));
	return di.state;
}

/* A call up to the ACK; *okp the caller's 200, *invp the callee's INVITE. */
static void call_up(struct ue *a, struct ue *b, struct sip_msg **okp,
		    struct sip_msg **invp)
{
	struct sip_msg *inv, *m;

	invite(a, "sip:bob@ims.test", "call1@t", NULL);
	inv = ue_recv(b);
	assert_true(inv->req);
	answer(b, inv, 180, "Ringing", "b1", NULL);
	ue_expect_scode(a, 180);
	answer(b, inv, 200, "OK", "b1", SDP);
	m = ue_recv_skip(a);
	assert_int_equal(m->scode, 200);
	assert_non_null(strstr(hdr(m, "Contact"), "sip:b2bua@127.0.0.1:"));
	assert_true(m->body.l > 0);
	if (!T.relay) /* passed through as it came */
		assert_int_equal(m->body.l, strlen(SDP));
	a_req(a, m, "ACK", 1, NULL);
	*okp = m;
	*invp = inv;
}

static void test_basic_call(void **state)
{
	struct ue a, b;
	struct sip_msg *inv, *ok, *m;
	char want[64];

	(void)state;
	ue_open(&a, "alice");
	ue_open(&b, "bob");
	ue_register(&a);
	ue_register(&b);
	call_up(&a, &b, &ok, &inv);
	/* the callee's INVITE as a core builds it */
	snprintf(want, sizeof(want), "sip:bob@127.0.0.1:%u", b.port);
	assert_true(pl_eq_str(inv->ruri, want));
	assert_string_equal(hdr(inv, "P-Asserted-Identity"),
			    "\"Alice A\" <sip:alice@ims.test>");
	assert_string_equal(hdr(inv, "P-Called-Party-ID"), "<sip:bob@ims.test>");
	assert_non_null(strstr(hdr(inv, "P-Charging-Vector"), "icid-value="));
	assert_non_null(strstr(hdr(inv, "Record-Route"), ";lr>"));
	assert_string_equal(hdr(inv, "Max-Forwards"), "69");
	assert_non_null(strstr(hdr(inv, "P-Access-Network-Info"), "utran-cell-id-3gpp"));
	assert_true(pl_casefind(inv->hdrs, "BYE, INFO, INVITE") >= 0); /* Allow */
	assert_string_equal(hdr(inv, "User-Agent"), "imsd-unit");
	assert_string_not_equal(hdr(inv, "Call-ID"), "call1@t"); /* one id per dialog */
	assert_int_equal(inv->body.l, strlen(SDP));
	/* the caller's ACK goes on to the callee */
	m = ue_recv(&b);
	assert_true(m->req && m->meth == SIP_METHOD_ACK);
	assert_string_equal(hdr(m, "Call-ID"), hdr(inv, "Call-ID"));
	mem_deref(m);
	{
		struct b2bua_stats st;

		b2bua_stats_get(T.b2b, &st);
		assert_int_equal(st.live, 1);
		assert_int_equal(st.answered, 1);
		/* the call with its dialogs and the INVITEs it holds */
		assert_true(st.mem_bytes > 2000 && st.mem_bytes < 64 * 1024);
	}
	assert_int_equal(call_state(), B2BUA_START);
	/* BYE from the caller: 200 to it, BYE to the callee */
	a_req(&a, ok, "BYE", 2, NULL);
	ue_expect_scode(&a, 200);
	m = ue_recv(&b);
	assert_true(m->req && m->meth == SIP_METHOD_BYE);
	answer(&b, m, 200, "OK", NULL, NULL);
	mem_deref(m);
	assert_int_equal(call_state(), B2BUA_STOP);
	/* the stopped call stays listed for the linger, then goes */
	run_once(300);
	{
		struct b2bua_cursor c = {0};
		struct b2bua_dialog_info di;

		struct b2bua_stats st;

		assert_false(b2bua_dialog_next(T.b2b, &c, &di));
		b2bua_stats_get(T.b2b, &st);
		assert_int_equal(st.live + st.kept, 0);
		assert_int_equal(st.calls, 1);
	}
	mem_deref(ok);
	mem_deref(inv);
	ue_close(&a);
	ue_close(&b);
}

static void test_lookup_answers(void **state)
{
	struct ue a, x;
	struct sip_msg *m;
	char r[1024];

	(void)state;
	ue_open(&a, "alice");
	ue_open(&x, "alice");
	ue_register(&a);
	invite(&a, "sip:nobody@ims.test", "l1@t", NULL);
	ue_expect_scode(&a, 404);
	invite(&a, "tel:+33199999999", "l2@t", NULL); /* no user, no trunk */
	ue_expect_scode(&a, 404);
	invite(&a, "sip:erin@ims.test", "l3@t", NULL);
	ue_expect_scode(&a, 480);
	invite(&a, "sip:+33100000002@ims.test;user=phone", "l4@t", NULL);
	m = ue_recv_skip(&a);
	assert_int_equal(m->scode, 480); /* bob, by number, not registered */
	mem_deref(m);
	invite(&a, "sip:bob@ims.test", "l5@t", "Max-Forwards: 0\r\n");
	m = ue_recv_skip(&a);
	assert_int_equal(m->scode, 483); /* RFC 3261 §16.3 step 3 */
	mem_deref(m);
	/* from a port that never registered */
	invite(&x, "sip:bob@ims.test", "l6@t", NULL);
	ue_expect_scode(&x, 403);
	/* BYE in no dialog */
	snprintf(
	    r, sizeof(r),
	    "BYE sip:bob@ims.test SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKbye;rport\r\n"
	    "Max-Forwards: 70\r\nFrom: <sip:alice@ims.test>;tag=a1\r\n"
	    "To: <sip:bob@ims.test>;tag=nosuch\r\nCall-ID: nodlg@t\r\nCSeq: 2 BYE\r\n"
	    "Content-Length: 0\r\n\r\n",
	    a.port);
	ue_send(&a, r);
	ue_expect_scode(&a, 481);
	ue_close(&a);
	ue_close(&x);
}

static void test_timer_c_cancels(void **state)
{
	struct ue a, b;
	struct sip_msg *inv, *m, *c;

	(void)state;
	ue_open(&a, "alice");
	ue_open(&b, "bob");
	ue_register(&a);
	ue_register(&b);
	invite(&a, "sip:bob@ims.test", "tc@t", NULL);
	inv = ue_recv(&b);
	answer(&b, inv, 180, "Ringing", "b1", NULL);
	ue_expect_scode(&a, 180);
	assert_int_equal(call_state(), B2BUA_RINGING);
	/* Timer C (400 ms here): 408 to the caller, CANCEL to the callee */
	ue_expect_scode(&a, 408);
	c = ue_recv(&b);
	assert_true(c->req && c->meth == SIP_METHOD_CANCEL);
	assert_string_equal(hdr(c, "Call-ID"), hdr(inv, "Call-ID"));
	answer(&b, c, 200, "OK", "b1", NULL);
	answer(&b, inv, 487, "Request Terminated", "b1", NULL);
	m = ue_recv(&b); /* the ACK of the 487, from the transaction */
	assert_true(m->req && m->meth == SIP_METHOD_ACK);
	mem_deref(m);
	mem_deref(c);
	mem_deref(inv);
	assert_int_equal(call_state(), B2BUA_STOP);
	ue_close(&a);
	ue_close(&b);
}

static void test_fork_and_6xx(void **state)
{
	struct ue a, b1, b2;
	struct sip_msg *i1, *i2, *m, *c;

	(void)state;
	ue_open(&a, "alice");
	ue_open(&b1, "bob");
	ue_open(&b2, "bob");
	ue_register(&a);
	ue_register(&b1);
	ue_register(&b2);
	/* first 2xx wins, the ringing branch gets CANCEL */
	invite(&a, "sip:bob@ims.test", "f1@t", NULL);
	i1 = ue_recv(&b1);
	i2 = ue_recv(&b2);
	assert_string_not_equal(hdr(i1, "Call-ID"), hdr(i2, "Call-ID"));
	answer(&b1, i1, 180, "Ringing", "x1", NULL);
	answer(&b2, i2, 200, "OK", "x2", SDP);
	m = ue_recv_skip(&a);
	if (m->scode == 180) {
		mem_deref(m);
		m = ue_recv_skip(&a);
	}
	assert_int_equal(m->scode, 200);
	c = ue_recv(&b1);
	assert_true(c->req && c->meth == SIP_METHOD_CANCEL);
	answer(&b1, c, 200, "OK", "x1", NULL);
	answer(&b1, i1, 487, "Request Terminated", "x1", NULL);
	mem_deref(c);
	c = ue_recv(&b1); /* the ACK of the 487 */
	assert_true(c->req && c->meth == SIP_METHOD_ACK);
	mem_deref(c);
	a_req(&a, m, "ACK", 1, NULL);
	c = ue_recv(&b2);
	assert_true(c->req && c->meth == SIP_METHOD_ACK);
	mem_deref(c);
	a_req(&a, m, "BYE", 2, NULL);
	mem_deref(m);
	ue_expect_scode(&a, 200);
	m = ue_recv(&b2);
	assert_true(m->meth == SIP_METHOD_BYE);
	answer(&b2, m, 200, "OK", NULL, NULL);
	mem_deref(m);
	mem_deref(i1);
	mem_deref(i2);
	/* a 6xx ends every branch */
	invite(&a, "sip:bob@ims.test", "f2@t", NULL);
	i1 = ue_recv(&b1);
	i2 = ue_recv(&b2);
	answer(&b1, i1, 180, "Ringing", "y1", NULL);
	ue_expect_scode(&a, 180);
	answer(&b2, i2, 603, "Decline", "y2", NULL);
	ue_expect_scode(&a, 603);
	c = ue_recv(&b2); /* the ACK of the 603 */
	assert_true(c->meth == SIP_METHOD_ACK);
	mem_deref(c);
	c = ue_recv(&b1);
	assert_true(c->req && c->meth == SIP_METHOD_CANCEL);
	mem_deref(c);
	mem_deref(i1);
	mem_deref(i2);
	ue_close(&a);
	ue_close(&b1);
	ue_close(&b2);
}

static void test_reinvite_491_and_no_ack(void **state)
{
	struct ue a, b;
	struct sip_msg *inv, *ok, *m, *re;

	(void)state;
	ue_open(&a, "alice");
	ue_open(&b, "bob");
	ue_register(&a);
	ue_register(&b);
	call_up(&a, &b, &ok, &inv);
	m = ue_recv(&b); /* ACK */
	mem_deref(m);
	/* hold: a re-INVITE relayed; a second one meanwhile gets 491 */
	a_req(&a, ok, "INVITE", 2,
	      "v=0\r\no=a 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
	      "m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n");
	re = ue_recv(&b);
	assert_true(re->req && re->meth == SIP_METHOD_INVITE);
	assert_non_null(strstr(hdr(re, "Contact"), "sip:b2bua@"));
	assert_int_equal(call_state(), B2BUA_HOLD);
	a_req(&a, ok, "INVITE", 3, NULL);
	m = ue_recv_skip(&a);
	assert_int_equal(m->scode, 491);
	a_ack_err(&a, m);
	mem_deref(m);
	answer(&b, re, 200, "OK", NULL, SDP);
	mem_deref(re);
	ue_expect_scode(&a, 200);
	/* the caller never ACKs: the 2xx again (T1 doubling), then after
	 * 64*T1 (3.2 s here) BYE to both sides */
	ue_expect_scode(&a, 200);
	for (;;) {
		m = ue_recv_skip(&a);
		if (m->req)
			break;
		assert_int_equal(m->scode, 200);
		mem_deref(m);
	}
	assert_true(m->meth == SIP_METHOD_BYE);
	mem_deref(m);
	m = ue_recv(&b);
	assert_true(m->req && m->meth == SIP_METHOD_BYE);
	mem_deref(m);
	assert_int_equal(call_state(), B2BUA_STOP);
	mem_deref(ok);
	mem_deref(inv);
	ue_close(&a);
	ue_close(&b);
}

static void test_reinvite_2xx_retransmitted(void **state)
{
	struct ue a, b;
	struct sip_msg *inv, *ok, *m, *re;

	(void)state;
	ue_open(&a, "alice");
	ue_open(&b, "bob");
	ue_register(&a);
	ue_register(&b);
	call_up(&a, &b, &ok, &inv);
	m = ue_recv(&b); /* ACK */
	mem_deref(m);
	a_req(&a, ok, "INVITE", 2, SDP);
	re = ue_recv(&b);
	answer(&b, re, 200, "OK", NULL, SDP);
	m = ue_recv_skip(&a);
	assert_int_equal(m->scode, 200);
	a_req(&a, m, "ACK", 2, NULL);
	mem_deref(m);
	m = ue_recv(&b);
	assert_true(m->req && m->meth == SIP_METHOD_ACK);
	mem_deref(m);
	/* the callee did not get our ACK and sends its 2xx again: the same
	 * ACK again, and the call goes on (no second wait for the caller's) */
	answer(&b, re, 200, "OK", NULL, SDP);
	m = ue_recv(&b);
	assert_true(m->req && m->meth == SIP_METHOD_ACK);
	mem_deref(m);
	ue_quiet(&a, 3500); /* past 64*T1: no BYE */
	assert_int_equal(call_state(), B2BUA_START);
	mem_deref(re);
	mem_deref(ok);
	mem_deref(inv);
	ue_close(&a);
	ue_close(&b);
}

static void test_multi_sim(void **state)
{
	struct ue a, s1, s2;
	struct sip_msg *i1, *i2, *m;

	(void)state;
	ue_open(&a, "alice");
	ue_open(&s1, "sim");
	ue_open(&s2, "sim");
	ue_register(&a);
	/* two devices of one multi_sim subscriber, told apart by IMEI */
	ue_register_imei(&s1, "35000000-000001-0");
	ue_register_imei(&s2, "35000000-000002-0");
	invite(&a, "sip:sim@ims.test", "ms@t", NULL);
	i1 = ue_recv(&s1);
	i2 = ue_recv(&s2);
	assert_true(i1->req && i1->meth == SIP_METHOD_INVITE);
	assert_true(i2->req && i2->meth == SIP_METHOD_INVITE);
	answer(&s1, i1, 486, "Busy Here", "m1", NULL);
	answer(&s2, i2, 480, "Temporarily Unavailable", "m2", NULL);
	m = ue_recv_skip(&a);
	assert_int_equal(m->scode, 486); /* §16.7 step 6: the lowest class, the first */
	mem_deref(m);
	mem_deref(i1);
	mem_deref(i2);
	ue_close(&a);
	ue_close(&s1);
	ue_close(&s2);
}

static void test_big_invite_udp_retry(void **state)
{
	struct ue a, b;
	struct sip_msg *inv;
	char big[4096];
	int n;

	(void)state;
	ue_open(&a, "alice");
	ue_open(&b, "bob");
	ue_register(&a);
	ue_register(&b);
	/* over tcp_threshold (1300): the stack tries TCP to bob, who has none,
	 * and sends it again over UDP in a new transaction (RFC 3261 §18.1.1);
	 * the call takes that one's answers */
	n = snprintf(big, sizeof(big), "%s", SDP);
	for (int i = 0; i < 30; i++)
		n += snprintf(big + n, sizeof(big) - (size_t)n, "a=x-pad:%02d%040d\r\n",
			      i, 0);
	invite_body(&a, "sip:bob@ims.test", "big@t", NULL, big);
	inv = ue_recv(&b);
	assert_true(inv->req && inv->meth == SIP_METHOD_INVITE);
	assert_true(inv->raw.l > 1300);
	answer(&b, inv, 180, "Ringing", "g1", NULL);
	ue_expect_scode(&a, 180);
	answer(&b, inv, 486, "Busy Here", "g1", NULL);
	ue_expect_scode(&a, 486);
	mem_deref(inv);
	ue_close(&a);
	ue_close(&b);
}

static void test_binding_removed_ends_call(void **state)
{
	struct ue a, b;
	struct sip_msg *inv, *ok, *m;

	(void)state;
	ue_open(&a, "alice");
	ue_open(&b, "bob");
	ue_register(&a);
	ue_register(&b);
	call_up(&a, &b, &ok, &inv);
	m = ue_recv(&b);
	mem_deref(m);
	/* the network de-registers bob: the call ends on both sides */
	assert_int_equal(
	    registrar_unregister(T.reg, "sip:bob@ims.test", REGISTRAR_DEACTIVATED), 0);
	ue_expect_req(&a, SIP_METHOD_BYE);
	m = ue_recv(&b);
	assert_true(m->req && m->meth == SIP_METHOD_BYE);
	mem_deref(m);
	assert_int_equal(call_state(), B2BUA_STOP);
	assert_int_equal(b2bua_dialog_stop(T.b2b, 1), EALREADY);
	assert_int_equal(b2bua_dialog_stop(T.b2b, 99), ENOENT);
	mem_deref(ok);
	mem_deref(inv);
	ue_close(&a);
	ue_close(&b);
}

static void test_echo(void **state)
{
	struct ue a;
	struct sip_msg *m;
	struct b2bua_cursor c = {0};
	struct b2bua_dialog_info di;

	(void)state;
	ue_open(&a, "alice");
	ue_register(&a);
	invite(&a, "sip:echo@ims.test;transport=udp", "e1@t",
	       NULL); /* params not shown */
	ue_expect_scode(&a, 180);
	m = ue_recv_skip(&a);
	assert_int_equal(m->scode, 200);
	assert_true(m->body.l > 0);
	a_req(&a, m, "ACK", 1, NULL);
	ue_quiet(&a, 100);
	assert_true(b2bua_dialog_next(T.b2b, &c, &di));
	assert_int_equal(di.type, B2BUA_ECHO);
	assert_int_equal(di.state, B2BUA_START);
	assert_string_equal(di.to, "sip:echo@ims.test");
	/* dialog_set stop: BYE to the caller */
	assert_int_equal(b2bua_dialog_stop(T.b2b, di.index), 0);
	mem_deref(m);
	ue_expect_req(&a, SIP_METHOD_BYE);
	ue_close(&a);
}

static void test_relay_sdp_and_idle(void **state)
{
	struct ue a, b;
	struct sip_msg *inv, *ok, *m;
	uint16_t pa, pb;

	(void)state;
	ue_open(&a, "alice");
	ue_open(&b, "bob");
	ue_register(&a);
	ue_register(&b);
	call_up(&a, &b, &ok, &inv);
	/* each side sees the relay's ports, not the other phone's 4000 */
	pb = body_port(inv);
	pa = body_port(ok);
	assert_true(pb >= T_port_lo && pb < T_port_lo + 200);
	assert_true(pa >= T_port_lo && pa < T_port_lo + 200);
	assert_int_not_equal(pa, pb);
	m = ue_recv(&b); /* ACK */
	mem_deref(m);
	{
		struct b2bua_cursor c = {0};
		struct b2bua_dialog_info di;

		assert_true(b2bua_dialog_next(T.b2b, &c, &di));
		assert_non_null(di.media);
		assert_int_equal(media_session_stream_count(di.media), 1);
	}
	/* dialog_timeout (1 s): no signalling and no media end the call */
	ue_expect_req(&a, SIP_METHOD_BYE);
	m = ue_recv(&b);
	assert_true(m->req && m->meth == SIP_METHOD_BYE);
	mem_deref(m);
	assert_int_equal(call_state(), B2BUA_STOP);
	mem_deref(ok);
	mem_deref(inv);
	ue_close(&a);
	ue_close(&b);
}

static void test_relay_bad_sdp(void **state)
{
	struct ue a, b;
	struct sip_msg *m;
	char r[1024];
	static const char bad[] = "v=0\r\nthis is no SDP\r\n";

	(void)state;
	ue_open(&a, "alice");
	ue_open(&b, "bob");
	ue_register(&a);
	ue_register(&b);
	snprintf(r, sizeof(r),
		 "INVITE sip:bob@ims.test SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKbad;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:alice@ims.test>;tag=a1\r\n"
		 "To: <sip:bob@ims.test>\r\nCall-ID: bad@t\r\nCSeq: 1 INVITE\r\n"
		 "Contact: <sip:alice@127.0.0.1:%u>\r\nContent-Type: application/sdp\r\n"
		 "Content-Length: %zu\r\n\r\n%s",
		 a.port, a.port, strlen(bad), bad);
	ue_send(&a, r);
	m = ue_recv_skip(&a);
	assert_int_equal(m->scode, 400); /* the SDP does not parse */
	a_ack_err(&a, m);
	mem_deref(m);
	ue_quiet(&b, 100); /* nothing reached the callee */
	ue_close(&a);
	ue_close(&b);
}

static void test_relay_echo(void **state)
{
	struct sockaddr_in to = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	unsigned char pkt[172] = {0x80, 0x00, 0x00, 0x01}, back[2048];
	struct ue a, rtp;
	struct sip_msg *m;

	(void)state;
	ue_open(&a, "alice");
	ue_open(&rtp, "rtp");
	ue_register(&a);
	invite(&a, "sip:echo@ims.test", "re@t", NULL);
	ue_expect_scode(&a, 180);
	m = ue_recv_skip(&a);
	assert_int_equal(m->scode, 200);
	to.sin_port = htons(body_port(m));
	a_req(&a, m, "ACK", 1, NULL);
	/* the relay sends it back to where it came from (latched: the
	 * caller's signalling IP) */
	assert_true(sendto(rtp.fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&to,
			   sizeof(to)) == (ssize_t)sizeof(pkt));
	for (int i = 0; i < 2000 && !readable(rtp.fd); i++)
		run_once(1);
	assert_int_equal(recv(rtp.fd, back, sizeof(back), 0), (ssize_t)sizeof(pkt));
	assert_memory_equal(back, pkt, sizeof(pkt));
	a_req(&a, m, "BYE", 2, NULL);
	mem_deref(m);
	ue_expect_scode(&a, 200);
	ue_close(&a);
	ue_close(&rtp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_basic_call, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lookup_answers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_c_cancels, setup_short_c,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_fork_and_6xx, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reinvite_491_and_no_ack, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_reinvite_2xx_retransmitted, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_binding_removed_ends_call, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_echo, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_multi_sim, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_big_invite_udp_retry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_relay_sdp_and_idle, setup_relay,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_relay_bad_sdp, setup_relay, teardown),
	    cmocka_unit_test_setup_teardown(test_relay_echo, setup_relay, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
