/*
 * Unit tests: transaction matching (RFC 3261 §17.1.3, §17.2.3, §9.2):
 * branch + sent-by + method, CANCEL to its INVITE, the RFC 2543 fallback,
 * stray responses and ACKs, and 100,000 concurrent transactions.
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

static char mbuf_[2048];

/* A request with the given parts; via is the whole Via value. */
static const char *req(const char *method, const char *ruri, const char *via,
		       const char *ftag, const char *totag, const char *callid,
		       unsigned cseq, const char *cseq_method)
{
	snprintf(mbuf_, sizeof(mbuf_),
		 "%s %s SIP/2.0\r\n"
		 "Via: %s\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: <sip:alice@ims.test>;tag=%s\r\n"
		 "To: <sip:bob@ims.test>%s%s\r\n"
		 "Call-ID: %s\r\n"
		 "CSeq: %u %s\r\n"
		 "Content-Length: 0\r\n\r\n",
		 method, ruri, via, ftag, totag ? ";tag=" : "", totag ? totag : "",
		 callid, cseq, cseq_method ? cseq_method : method);
	return mbuf_;
}

#define VIA1 "SIP/2.0/UDP ue.ims.test:5060;branch=z9hG4bKm1"

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

/* §17.2.3: branch, sent-by and method all take part. */
static void test_match_3261_server(void **state)
{
	(void)state;
	assert_int_equal(
	    h_recv(req("OPTIONS", "sip:bob@ims.test", VIA1, "a", NULL, "c1", 1, NULL),
		   false),
	    0);
	assert_int_equal(h_ev_count(H_EV_REQ), 1);
	/* same: absorbed */
	assert_int_equal(
	    h_recv(req("OPTIONS", "sip:bob@ims.test", VIA1, "a", NULL, "c1", 1, NULL),
		   false),
	    0);
	assert_int_equal(h_ev_count(H_EV_REQ), 1);
	/* other fields differ but branch+sent-by+method match: still the same
	 * transaction (the 2543 fields do not count with the cookie) */
	assert_int_equal(
	    h_recv(req("OPTIONS", "sip:other@ims.test", VIA1, "zz", NULL, "c9", 5, NULL),
		   false),
	    0);
	assert_int_equal(h_ev_count(H_EV_REQ), 1);
	/* branch value compared case-insensitively (§7.3.1), host too */
	assert_int_equal(h_recv(req("OPTIONS", "sip:bob@ims.test",
				    "SIP/2.0/UDP UE.ims.TEST:5060;branch=z9hG4bKM1", "a",
				    NULL, "c1", 1, NULL),
				false),
			 0);
	assert_int_equal(h_ev_count(H_EV_REQ), 1);
	/* other sent-by port, other host, other method, other branch: new */
	assert_int_equal(h_recv(req("OPTIONS", "sip:bob@ims.test",
				    "SIP/2.0/UDP ue.ims.test:5070;branch=z9hG4bKm1", "a",
				    NULL, "c1", 1, NULL),
				false),
			 0);
	assert_int_equal(h_recv(req("OPTIONS", "sip:bob@ims.test",
				    "SIP/2.0/UDP ue2.ims.test:5060;branch=z9hG4bKm1", "a",
				    NULL, "c1", 1, NULL),
				false),
			 0);
	assert_int_equal(
	    h_recv(req("INFO", "sip:bob@ims.test", VIA1, "a", NULL, "c1", 1, NULL),
		   false),
	    0);
	assert_int_equal(h_recv(req("OPTIONS", "sip:bob@ims.test",
				    "SIP/2.0/UDP ue.ims.test:5060;branch=z9hG4bKm2", "a",
				    NULL, "c1", 1, NULL),
				false),
			 0);
	/* extension methods compare by name */
	assert_int_equal(
	    h_recv(req("FOO", "sip:bob@ims.test", VIA1, "a", NULL, "c1", 1, NULL), false),
	    0);
	assert_int_equal(
	    h_recv(req("BAR", "sip:bob@ims.test", VIA1, "a", NULL, "c1", 1, NULL), false),
	    0);
	assert_int_equal(
	    h_recv(req("FOO", "sip:bob@ims.test", VIA1, "a", NULL, "c1", 1, NULL), false),
	    0);
	assert_int_equal(h_ev_count(H_EV_REQ), 7);
	assert_int_equal(sip_tsx_stack_count(H.st), 7);
}

/* §17.1.3: responses by branch and CSeq method. */
static void test_match_client_responses(void **state)
{
	struct sip_tsx *tsx;

	(void)state;
	tsx = h_request(req("MESSAGE", "sip:bob@ims.test",
			    "SIP/2.0/UDP pcscf.ims.test;branch=z9hG4bKcl1", "a", NULL,
			    "c1", 3, NULL),
			false);
	/* wrong method */
	assert_int_equal(
	    h_recv(
		"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP pcscf.ims.test;branch=z9hG4bKcl1\r\n"
		"From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: c1\r\n"
		"CSeq: 3 INVITE\r\nContent-Length: 0\r\n\r\n",
		false),
	    0);
	/* wrong branch, and a branch without cookie */
	assert_int_equal(
	    h_recv(
		"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP pcscf.ims.test;branch=z9hG4bKcl2\r\n"
		"From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: c1\r\n"
		"CSeq: 3 MESSAGE\r\nContent-Length: 0\r\n\r\n",
		false),
	    0);
	assert_int_equal(
	    h_recv("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP pcscf.ims.test;branch=cl1\r\n"
		   "From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: c1\r\n"
		   "CSeq: 3 MESSAGE\r\nContent-Length: 0\r\n\r\n",
		   false),
	    0);
	assert_int_equal(h_ev_count(H_EV_STRAY), 3);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_TRYING);
	/* match: the CSeq number and the rest are not compared */
	assert_int_equal(
	    h_recv(
		"SIP/2.0 202 OK\r\nVia: SIP/2.0/UDP pcscf.ims.test;branch=z9hG4bKcl1\r\n"
		"From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: c1\r\n"
		"CSeq: 3 MESSAGE\r\nContent-Length: 0\r\n\r\n",
		false),
	    0);
	assert_int_equal(h_ev_last(H_EV_RESP)->scode, 202);
	/* over UDP its Completed is a finished record (sip_tsx_done.c) */
	assert_null(sip_tsx_lookup(H.st, h_ev_last(H_EV_RESP)->tsx_id));
	assert_int_equal(sip_tsx_stack_count(H.st), 1);
}

/* §9.2: CANCEL is its own transaction, matched to the INVITE it cancels. */
static void test_cancel_match(void **state)
{
	struct sip_tsx *inv, *can;
	struct sip_msg *msg = NULL;
	const char *c;
	char ack[1024];

	(void)state;
	assert_int_equal(
	    h_recv(req("INVITE", "sip:bob@ims.test", VIA1, "a", NULL, "c1", 9, NULL),
		   false),
	    0);
	inv = H.last_tsx;
	assert_int_equal(sip_tsx_reply(inv, 180, NULL, NULL), 0);
	c = req("CANCEL", "sip:bob@ims.test", VIA1, "a", NULL, "c1", 9, NULL);
	assert_int_equal(sip_msg_decode_copy(&msg, c, strlen(c), NULL), 0);
	assert_ptr_equal(sip_tsx_cancel_match(H.st, msg), inv);
	mem_deref(msg);
	assert_int_equal(h_recv(c, false), 0);
	can = H.last_tsx;
	assert_ptr_not_equal(can, inv);
	assert_int_equal(sip_tsx_kind(can), SIP_TSX_NIST);
	assert_string_equal(h_ev_last(H_EV_REQ)->method, "CANCEL");
	assert_ptr_equal(sip_tsx_cancel_target(can), inv);
	assert_null(sip_tsx_cancel_target(inv));
	/* the usual TU answer: 200 to CANCEL, 487 to INVITE */
	assert_int_equal(sip_tsx_reply(can, 200, NULL, NULL), 0);
	assert_int_equal(sip_tsx_reply(inv, 487, NULL, NULL), 0);
	assert_int_equal(sip_tsx_state(inv), SIP_TSX_COMPLETED);
	/* a retransmitted CANCEL gets the 200 again, not the 487 */
	assert_int_equal(h_recv(c, false), 0);
	assert_true(strncmp(H.sent[H.nsent - 1].data, "SIP/2.0 200 ", 12) == 0);
	assert_true(strstr(H.sent[H.nsent - 1].data, "CSeq: 9 CANCEL") != NULL);
	snprintf(ack, sizeof(ack), "%s",
		 req("ACK", "sip:bob@ims.test", VIA1, "a", "t", "c1", 9, NULL));
	assert_int_equal(h_recv(ack, false), 0);
	assert_int_equal(sip_tsx_state(inv), SIP_TSX_CONFIRMED);
	/* a CANCEL for an unknown INVITE has no target */
	assert_int_equal(h_recv(req("CANCEL", "sip:bob@ims.test",
				    "SIP/2.0/UDP ue.ims.test:5060;branch=z9hG4bKnone",
				    "a", NULL, "c1", 9, NULL),
				false),
			 0);
	assert_null(sip_tsx_cancel_target(H.last_tsx));
	assert_null(sip_tsx_cancel_match(H.st, NULL));
}

#define VIA2543 "SIP/2.0/UDP old.example.com:5060"

/* §17.2.3 fallback for RFC 2543 peers (no magic cookie). */
static void test_rfc2543_fallback(void **state)
{
	struct sip_tsx *inv;
	struct sip_msg *msg = NULL;
	char ack[1024];
	const char *c;
	struct pl tag;

	(void)state;
	assert_int_equal(h_recv(req("INVITE", "sip:bob@ims.test", VIA2543, "f1", NULL,
				    "old1", 5, NULL),
				false),
			 0);
	inv = H.last_tsx;
	assert_int_equal(sip_tsx_reply(inv, 180, NULL, NULL), 0);
	/* identical retransmission: absorbed, 180 resent */
	assert_int_equal(h_recv(req("INVITE", "sip:bob@ims.test", VIA2543, "f1", NULL,
				    "old1", 5, NULL),
				false),
			 0);
	assert_int_equal(h_ev_count(H_EV_REQ), 1);
	assert_int_equal(h_sent_count("SIP/2.0 180 "), 2);
	/* equal Request-URI by RFC 3261 §19.1.4 rules (host case) */
	assert_int_equal(h_recv(req("INVITE", "sip:bob@IMS.test", VIA2543, "f1", NULL,
				    "old1", 5, NULL),
				false),
			 0);
	assert_int_equal(h_ev_count(H_EV_REQ), 1);
	/* each differing field makes a new transaction */
	assert_int_equal(h_recv(req("INVITE", "sip:carol@ims.test", VIA2543, "f1", NULL,
				    "old1", 5, NULL),
				false),
			 0);
	assert_int_equal(h_recv(req("INVITE", "sip:bob@ims.test", VIA2543, "f2", NULL,
				    "old1", 5, NULL),
				false),
			 0);
	assert_int_equal(h_recv(req("INVITE", "sip:bob@ims.test", VIA2543, "f1", "tt",
				    "old1", 5, NULL),
				false),
			 0);
	assert_int_equal(h_recv(req("INVITE", "sip:bob@ims.test", VIA2543, "f1", NULL,
				    "old2", 5, NULL),
				false),
			 0);
	assert_int_equal(h_recv(req("INVITE", "sip:bob@ims.test", VIA2543, "f1", NULL,
				    "old1", 6, NULL),
				false),
			 0);
	assert_int_equal(
	    h_recv(req("INVITE", "sip:bob@ims.test", "SIP/2.0/UDP old.example.com:5062",
		       "f1", NULL, "old1", 5, NULL),
		   false),
	    0);
	assert_int_equal(h_ev_count(H_EV_REQ), 7);
	/* a branch without the cookie is also matched the 2543 way */
	assert_int_equal(h_recv(req("OPTIONS", "sip:bob@ims.test", VIA2543 ";branch=1234",
				    "f1", NULL, "old3", 1, NULL),
				false),
			 0);
	assert_int_equal(h_recv(req("OPTIONS", "sip:bob@ims.test", VIA2543 ";branch=1234",
				    "f1", NULL, "old3", 1, NULL),
				false),
			 0);
	assert_int_equal(h_ev_count(H_EV_REQ), 8);
	/* CANCEL matches the INVITE by the same fields, CSeq number only */
	c = req("CANCEL", "sip:bob@ims.test", VIA2543, "f1", NULL, "old1", 5, NULL);
	assert_int_equal(sip_msg_decode_copy(&msg, c, strlen(c), NULL), 0);
	assert_ptr_equal(sip_tsx_cancel_match(H.st, msg), inv);
	mem_deref(msg);
	/* final response, then ACK matched on the To tag we sent */
	assert_int_equal(sip_tsx_reply(inv, 486, NULL, NULL), 0);
	tag = sip_tsx_to_tag(inv);
	snprintf(ack, sizeof(ack), "%s",
		 req("ACK", "sip:bob@ims.test", VIA2543, "f1", "wrong", "old1", 5, NULL));
	assert_int_equal(h_recv(ack, false), 0);
	assert_int_equal(sip_tsx_state(inv), SIP_TSX_COMPLETED);
	assert_int_equal(h_ev_count(H_EV_ACK), 1); /* stray: wrong To tag */
	assert_int_equal(h_ev_last(H_EV_ACK)->tsx_id, 0);
	{
		char t[64];

		snprintf(t, sizeof(t), "%.*s", (int)tag.l, tag.p);
		snprintf(
		    ack, sizeof(ack), "%s",
		    req("ACK", "sip:bob@ims.test", VIA2543, "f1", t, "old1", 5, NULL));
	}
	assert_int_equal(h_recv(ack, false), 0);
	assert_int_equal(sip_tsx_state(inv), SIP_TSX_CONFIRMED);
	assert_int_equal(h_ev_count(H_EV_ACK), 1);
}

/* 2543 ACK for a final whose To tag the TU chose (prebuilt response). */
static void test_rfc2543_ack_tu_tag(void **state)
{
	struct sip_tsx *inv;
	char resp[1024];

	(void)state;
	assert_int_equal(h_recv(req("INVITE", "sip:bob@ims.test", VIA2543, "f1", NULL,
				    "old9", 5, NULL),
				false),
			 0);
	inv = H.last_tsx;
	snprintf(
	    resp, sizeof(resp),
	    "SIP/2.0 404 Not Found\r\nVia: %s\r\nFrom: <sip:alice@ims.test>;tag=f1\r\n"
	    "To: <sip:bob@ims.test>;tag=tu77\r\nCall-ID: old9\r\nCSeq: 5 INVITE\r\n"
	    "Content-Length: 0\r\n\r\n",
	    VIA2543);
	assert_int_equal(sip_tsx_reply_buf(inv, resp, strlen(resp)), 0);
	assert_int_equal(
	    h_recv(req("ACK", "sip:bob@ims.test", VIA2543, "f1", "tu77", "old9", 5, NULL),
		   false),
	    0);
	assert_int_equal(sip_tsx_state(inv), SIP_TSX_CONFIRMED);
}

/* ACK for an unknown transaction, and an ACK before any final. */
static void test_stray_ack(void **state)
{
	(void)state;
	assert_int_equal(
	    h_recv(req("ACK", "sip:bob@ims.test", VIA1, "a", "t", "c1", 9, NULL), false),
	    0);
	assert_int_equal(h_ev_count(H_EV_ACK), 1);
	assert_int_equal(sip_tsx_stack_count(H.st), 0); /* no transaction for ACK */
	assert_int_equal(
	    h_recv(req("INVITE", "sip:bob@ims.test", VIA1, "a", NULL, "c1", 9, NULL),
		   false),
	    0);
	assert_int_equal(
	    h_recv(req("ACK", "sip:bob@ims.test", VIA1, "a", "t", "c1", 9, NULL), false),
	    0);
	assert_int_equal(sip_tsx_state(H.last_tsx), SIP_TSX_PROCEEDING);
	assert_int_equal(h_ev_count(H_EV_ACK), 1);
}

enum { NTSX = 100000 };

/* 100,000 concurrent server and client transactions, created, matched and
 * completed. Correctness only; no timing. */
static void test_hundred_thousand(void **state)
{
	static const char fmt_req[] =
	    "REGISTER sip:ims.test SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 10.%u.%u.%u:5060;branch=z9hG4bKbulk%u\r\n"
	    "From: <sip:u%u@ims.test>;tag=f%u\r\nTo: <sip:u%u@ims.test>\r\n"
	    "Call-ID: bulk%u\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n";
	static const char fmt_resp[] =
	    "SIP/2.0 200 OK\r\n"
	    "Via: SIP/2.0/UDP pcscf.ims.test;branch=z9hG4bKcli%u\r\n"
	    "From: <sip:p@ims.test>;tag=1\r\nTo: <sip:u%u@ims.test>;tag=2\r\n"
	    "Call-ID: cli%u\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
	static const char fmt_opt[] =
	    "OPTIONS sip:u%u@ims.test SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP pcscf.ims.test;branch=z9hG4bKcli%u\r\n"
	    "From: <sip:p@ims.test>;tag=1\r\nTo: <sip:u%u@ims.test>\r\n"
	    "Call-ID: cli%u\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
	uint64_t *ids = calloc(NTSX, sizeof(*ids));
	char buf[512];

	(void)state;
	assert_non_null(ids);
	H.keep_sent = false;
	for (unsigned i = 0; i < NTSX; i++) {
		snprintf(buf, sizeof(buf), fmt_req, i >> 16, (i >> 8) & 255, i & 255, i,
			 i, i, i, i);
		assert_int_equal(h_recv(buf, false), 0);
		ids[i] = sip_tsx_id(H.last_tsx);
		snprintf(buf, sizeof(buf), fmt_opt, i, i, i, i);
		h_request(buf, false);
	}
	assert_int_equal(sip_tsx_stack_count(H.st), 2 * NTSX);
	assert_int_equal(H.nev_total, NTSX);
	/* every server transaction answered through its id */
	for (unsigned i = 0; i < NTSX; i++) {
		struct sip_tsx *tsx = sip_tsx_lookup(H.st, ids[i]);

		assert_non_null(tsx);
		assert_int_equal(sip_tsx_state(tsx), SIP_TSX_TRYING);
		assert_int_equal(sip_tsx_reply(tsx, 200, NULL, NULL), 0);
	}
	/* retransmissions of every request absorbed by its own transaction */
	H.nsent_total = 0;
	for (unsigned i = 0; i < NTSX; i++) {
		snprintf(buf, sizeof(buf), fmt_req, i >> 16, (i >> 8) & 255, i & 255, i,
			 i, i, i, i);
		assert_int_equal(h_recv(buf, false), 0);
	}
	assert_int_equal(H.nev_total, NTSX);
	assert_int_equal(H.nsent_total, NTSX);
	/* every client transaction gets its response */
	for (unsigned i = 0; i < NTSX; i++) {
		snprintf(buf, sizeof(buf), fmt_resp, i, i, i);
		assert_int_equal(h_recv(buf, false), 0);
	}
	assert_int_equal(H.nev_total, 2 * NTSX);
	for (size_t i = 0; i < H.nev; i++)
		assert_true(H.ev[i].kind == H_EV_REQ ||
			    (H.ev[i].kind == H_EV_RESP && H.ev[i].scode == 200));
	/* K (T4) ends the clients, J (64*T1) the servers */
	h_advance(5000);
	assert_int_equal(sip_tsx_stack_count(H.st), NTSX);
	h_advance(32000);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
	assert_int_equal(h_timers_pending(), 0);
	for (unsigned i = 0; i < NTSX; i += 997)
		assert_null(sip_tsx_lookup(H.st, ids[i]));
	free(ids);
}

/* Stack parameters are checked. */
static void test_stack_prm(void **state)
{
	struct sip_tsx_prm prm = {.t1_ms = 500, .t2_ms = 4000, .t4_ms = 5000};
	struct sip_tsx_stack *st = NULL;

	(void)state;
	assert_int_equal(sip_tsx_stack_alloc(&st, &H.env, &prm),
			 EINVAL); /* no request_h */
	prm.tu.request_h = (void (*)(struct sip_tsx *, const struct sip_msg *, const void *, void *))1;
	prm.t2_ms = 400;
	assert_int_equal(sip_tsx_stack_alloc(&st, &H.env, &prm), EINVAL);
	prm.t2_ms = 4000;
	prm.t4_ms = 0;
	assert_int_equal(sip_tsx_stack_alloc(&st, &H.env, &prm), EINVAL);
	prm.t4_ms = 5000;
	assert_int_equal(sip_tsx_stack_alloc(&st, &H.env, &prm), 0);
	sip_tsx_stack_free(st);
	assert_string_equal(sip_tsx_state_name(SIP_TSX_CONFIRMED), "Confirmed");
	assert_string_equal(sip_tsx_kind_name(SIP_TSX_NIST), "nist");
}

/* Freeing the stack with live transactions frees them and their timers;
 * a TU reference keeps the object, not the transaction. */
static void test_stack_free_live(void **state)
{
	struct sip_tsx *held;
	char branch[32];

	(void)state;
	assert_int_equal(sip_tsx_branch_gen(H.st, branch, sizeof(branch)), 0);
	assert_int_equal(strlen(branch), 23);
	assert_true(strncmp(branch, "z9hG4bK", 7) == 0);
	{
		char b2[32];

		assert_int_equal(sip_tsx_branch_gen(H.st, b2, sizeof(b2)), 0);
		assert_string_not_equal(branch, b2);
		assert_int_equal(sip_tsx_branch_gen(H.st, b2, 8), EINVAL);
	}
	assert_int_equal(
	    h_recv(req("INVITE", "sip:bob@ims.test", VIA1, "a", NULL, "c1", 9, NULL),
		   false),
	    0);
	held = mem_ref(H.last_tsx);
	assert_int_equal(
	    h_recv(req("OPTIONS", "sip:bob@ims.test", VIA1, "a", NULL, "c1", 9, NULL),
		   false),
	    0);
	h_request(req("OPTIONS", "sip:bob@ims.test", "SIP/2.0/UDP p;branch=z9hG4bKx", "a",
		      NULL, "c1", 9, NULL),
		  false);
	sip_tsx_stack_free(H.st);
	H.st = NULL;
	assert_int_equal(h_timers_pending(), 0);
	assert_int_equal(sip_tsx_state(held), SIP_TSX_TERMINATED);
	assert_int_equal(sip_tsx_reply(held, 200, NULL, NULL), EPROTO);
	mem_deref(held);
}

/* The bound on live transactions. */
static void test_stack_max(void **state)
{
	struct sip_tsx_prm prm = {.t1_ms = 500, .t2_ms = 4000, .t4_ms = 5000, .max = 2};
	struct sip_tsx_stack *st;
	struct sip_tsx_req_prm rp = {.dst = h_dst(false)};
	struct sip_tsx *c;
	struct sip_msg *m = NULL;
	const char *r;
	struct sip_tsx_dst src = h_dst(false);

	(void)state;
	prm.tu.request_h =
	    (void (*)(struct sip_tsx *, const struct sip_msg *, const void *, void *))abort;
	assert_int_equal(sip_tsx_stack_alloc(&st, &H.env, &prm), 0);
	rp.resp_h = (sip_tsx_resp_h *)abort;
	rp.req = pl_from_str(req("OPTIONS", "sip:b@x", "SIP/2.0/UDP p;branch=z9hG4bK1",
				 "a", NULL, "c1", 1, NULL));
	assert_int_equal(sip_tsx_request(&c, st, &rp), 0);
	rp.req = pl_from_str(req("OPTIONS", "sip:b@x", "SIP/2.0/UDP p;branch=z9hG4bK2",
				 "a", NULL, "c1", 1, NULL));
	assert_int_equal(sip_tsx_request(&c, st, &rp), 0);
	rp.req = pl_from_str(req("OPTIONS", "sip:b@x", "SIP/2.0/UDP p;branch=z9hG4bK3",
				 "a", NULL, "c1", 1, NULL));
	assert_int_equal(sip_tsx_request(&c, st, &rp), ENOSPC);
	r = req("OPTIONS", "sip:b@x", "SIP/2.0/UDP q;branch=z9hG4bK4", "a", NULL, "c1", 1,
		NULL);
	assert_int_equal(sip_msg_decode_copy(&m, r, strlen(r), NULL), 0);
	assert_int_equal(sip_tsx_recv(st, m, &src), ENOSPC);
	mem_deref(m);
	assert_int_equal(sip_tsx_stack_count(st), 2);
	sip_tsx_stack_free(st);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_match_3261_server),	T(test_match_client_responses),
	    T(test_cancel_match),	T(test_rfc2543_fallback),
	    T(test_rfc2543_ack_tu_tag), T(test_stray_ack),
	    T(test_hundred_thousand),	T(test_stack_prm),
	    T(test_stack_free_live),	T(test_stack_max),
	};

	return cmocka_run_group_tests_name("sip_tsx_match", tests, NULL, NULL);
}
