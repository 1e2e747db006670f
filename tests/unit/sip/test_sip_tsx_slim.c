/*
 * Unit tests: what a transaction keeps once it has its final response.
 * Server transactions release the decoded request (and its buffer) when
 * they send a final (non-2xx for INVITE), client transactions when they
 * receive one; retransmissions in Completed still get the stored response
 * (or ACK), ACKs still match (RFC 3261 and RFC 2543 rules), CANCEL still
 * finds its INVITE, and the deadline queues end everything on time.
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

#define REGISTER                                                                         \
	"REGISTER sip:ims.test SIP/2.0\r\n"                                              \
	"Via: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bKslim1;rport\r\n"                  \
	"Max-Forwards: 70\r\n"                                                           \
	"From: <sip:alice@ims.test>;tag=a1\r\n"                                          \
	"To: <sip:alice@ims.test>\r\n"                                                   \
	"Call-ID: reg1@ims.test\r\n"                                                     \
	"CSeq: 1 REGISTER\r\n"                                                           \
	"Contact: <sip:alice@192.0.2.7>\r\n"                                             \
	"Content-Length: 0\r\n\r\n"

/* branch: NULL for an RFC 2543 peer (no branch parameter) */
static char ibuf[1024];
static const char *invite(const char *branch, const char *method, const char *totag)
{
	snprintf(ibuf, sizeof(ibuf),
		 "%s sip:bob@ims.test SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP ue.ims.test:5060%s%s\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: <sip:alice@ims.test>;tag=a1\r\n"
		 "To: <sip:bob@ims.test>%s%s\r\n"
		 "Call-ID: slim@ims.test\r\n"
		 "CSeq: 7 %s\r\n"
		 "Content-Length: 0\r\n\r\n",
		 method, branch ? ";branch=" : "", branch ? branch : "",
		 totag ? ";tag=" : "", totag ? totag : "", method);
	return ibuf;
}

#define NICT_REQ                                                                         \
	"SUBSCRIBE sip:bob@ims.test SIP/2.0\r\n"                                         \
	"Via: SIP/2.0/UDP pcscf.ims.test:5060;branch=z9hG4bKcs1\r\n"                     \
	"Max-Forwards: 70\r\n"                                                           \
	"From: <sip:alice@ims.test>;tag=a1\r\n"                                          \
	"To: <sip:bob@ims.test>\r\n"                                                     \
	"Call-ID: sub1@ims.test\r\n"                                                     \
	"CSeq: 1 SUBSCRIBE\r\n"                                                          \
	"Event: reg\r\n"                                                                 \
	"Content-Length: 0\r\n\r\n"

#define ICT_REQ                                                                          \
	"INVITE sip:bob@ims.test SIP/2.0\r\n"                                            \
	"Via: SIP/2.0/UDP pcscf.ims.test:5060;branch=z9hG4bKci1\r\n"                     \
	"Max-Forwards: 70\r\n"                                                           \
	"From: <sip:alice@ims.test>;tag=a1\r\n"                                          \
	"To: <sip:bob@ims.test>\r\n"                                                     \
	"Call-ID: inv1@ims.test\r\n"                                                     \
	"CSeq: 3 INVITE\r\n"                                                             \
	"Content-Length: 0\r\n\r\n"

static char rbuf[1024];
static const char *resp(unsigned code, const char *branch, const char *cseq)
{
	snprintf(rbuf, sizeof(rbuf),
		 "SIP/2.0 %u Whatever\r\n"
		 "Via: SIP/2.0/UDP pcscf.ims.test:5060;branch=%s\r\n"
		 "From: <sip:alice@ims.test>;tag=a1\r\n"
		 "To: <sip:bob@ims.test>;tag=b9\r\n"
		 "Call-ID: x@ims.test\r\n"
		 "CSeq: %s\r\n"
		 "Content-Length: 0\r\n\r\n",
		 code, branch, cseq);
	return rbuf;
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

/* NIST: the request goes with the final; the live objects that remain are
 * the transaction alone; a retransmission gets the same bytes; Timer J. */
static void test_nist_releases_request(void **state)
{
	size_t live0 = mem_live_count();
	struct sip_tsx *tsx;
	char *first;

	(void)state;
	assert_int_equal(h_recv(REGISTER, false), 0);
	tsx = H.last_tsx;
	/* Trying: the transaction holds the request (one object: the
	 * message with its private copy of the bytes) */
	assert_non_null(sip_tsx_req(tsx));
	assert_int_equal(mem_live_count(), live0 + 2);
	mem_ref(tsx); /* a TU's reference */
	assert_int_equal(sip_tsx_reply(tsx, 200, NULL, NULL), 0);
	/* Completed is a slim record (sip_tsx_done.c): the TU's object is
	 * Terminated, holding nothing but itself */
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_TERMINATED);
	assert_null(sip_tsx_req(tsx));
	assert_int_equal(mem_live_count(), live0 + 1);
	assert_int_equal(sip_tsx_method(tsx), SIP_METHOD_REGISTER);
	assert_true(pl_eq_str(sip_tsx_method_name(tsx), "REGISTER"));
	assert_int_equal(sip_tsx_reply(tsx, 200, NULL, NULL), EPROTO);
	mem_deref(tsx);
	assert_int_equal(mem_live_count(), live0);
	assert_int_equal(sip_tsx_stack_count(H.st), 1);
	assert_int_equal(H.nsent, 1);
	first = H.sent[0].data;
	/* retransmissions in Completed: the stored response, byte for byte */
	h_advance(10000);
	assert_int_equal(h_recv(REGISTER, false), 0);
	assert_int_equal(h_recv(REGISTER, false), 0);
	assert_int_equal(H.nsent, 3);
	assert_int_equal(H.sent[1].len, H.sent[0].len);
	assert_memory_equal(H.sent[1].data, first, H.sent[0].len);
	assert_memory_equal(H.sent[2].data, first, H.sent[0].len);
	assert_int_equal(h_ev_count(H_EV_REQ), 1);
	/* Timer J = 64*T1 from the final */
	h_advance(32000 - 10000 - 1);
	assert_int_equal(sip_tsx_stack_count(H.st), 1);
	h_advance(1);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
	assert_int_equal(mem_live_count(), live0);
	assert_int_equal(h_timers_pending(), 0);
}

/* A provisional keeps the request (the final is built from it). */
static void test_nist_provisional_keeps_request(void **state)
{
	struct sip_tsx *tsx;

	(void)state;
	assert_int_equal(h_recv(REGISTER, false), 0);
	tsx = H.last_tsx;
	assert_int_equal(sip_tsx_reply(tsx, 100, NULL, NULL), 0);
	assert_non_null(sip_tsx_req(tsx));
	assert_int_equal(h_recv(REGISTER, false), 0);
	assert_int_equal(h_sent_count("SIP/2.0 100 "), 2);
	mem_ref(tsx);
	assert_int_equal(sip_tsx_reply(tsx, 403, NULL, NULL), 0);
	assert_null(sip_tsx_req(tsx));
	mem_deref(tsx);
	assert_int_equal(h_recv(REGISTER, false), 0);
	assert_int_equal(h_sent_count("SIP/2.0 403 "), 2);
}

/* IST, RFC 3261 peer: after a 486 the request is gone; a retransmitted
 * INVITE gets the 486 again; the ACK (same branch) matches, Confirmed. */
static void test_ist_3261_ack_after_release(void **state)
{
	size_t live0 = mem_live_count();
	struct sip_tsx *tsx;
	uint64_t id;

	(void)state;
	assert_int_equal(h_recv(invite("z9hG4bKi1", "INVITE", NULL), false), 0);
	tsx = H.last_tsx;
	id = sip_tsx_id(tsx);
	assert_int_equal(sip_tsx_reply(tsx, 486, NULL, NULL), 0);
	assert_null(sip_tsx_req(tsx));
	assert_int_equal(mem_live_count(), live0 + 1);
	assert_int_equal(h_recv(invite("z9hG4bKi1", "INVITE", NULL), false), 0);
	assert_int_equal(h_sent_count("SIP/2.0 486 "), 2);
	/* an ACK with another branch is not ours (it would be a 2xx's) */
	assert_int_equal(h_recv(invite("z9hG4bKother", "ACK", "x"), false), 0);
	assert_int_equal(h_ev_count(H_EV_ACK), 1);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_COMPLETED);
	assert_int_equal(h_recv(invite("z9hG4bKi1", "ACK", "x"), false), 0);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_CONFIRMED);
	assert_int_equal(h_ev_count(H_EV_ACK), 1);
	/* Timer I = T4 */
	h_advance(5000);
	assert_null(sip_tsx_lookup(H.st, id));
	assert_int_equal(mem_live_count(), live0);
}

/* IST, RFC 2543 peer: the ACK matches by the To tag of the final sent,
 * kept after the response bytes; another tag does not match. */
static void test_ist_2543_ack_after_release(void **state)
{
	struct sip_tsx_reply_prm rp = {.to_tag = PL("tu77")};
	struct sip_tsx *tsx;

	(void)state;
	assert_int_equal(h_recv(invite(NULL, "INVITE", NULL), false), 0);
	tsx = H.last_tsx;
	assert_int_equal(sip_tsx_reply(tsx, 603, NULL, &rp), 0);
	assert_null(sip_tsx_req(tsx));
	assert_int_equal(h_recv(invite(NULL, "INVITE", NULL), false), 0);
	assert_int_equal(h_sent_count("SIP/2.0 603 "), 2);
	assert_int_equal(h_recv(invite(NULL, "ACK", "wrong"), false), 0);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_COMPLETED);
	assert_int_equal(h_ev_count(H_EV_ACK), 1); /* the stray one */
	assert_int_equal(h_recv(invite(NULL, "ACK", "tu77"), false), 0);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_CONFIRMED);
	assert_int_equal(h_ev_count(H_EV_ACK), 1);
}

/* A CANCEL answered (its request released) still names its INVITE. */
static void test_cancel_target_after_release(void **state)
{
	struct sip_tsx *inv, *cancel;

	(void)state;
	assert_int_equal(h_recv(invite("z9hG4bKc7", "INVITE", NULL), false), 0);
	inv = H.last_tsx;
	assert_int_equal(h_recv(invite("z9hG4bKc7", "CANCEL", NULL), false), 0);
	cancel = H.last_tsx;
	assert_ptr_not_equal(cancel, inv);
	assert_int_equal(sip_tsx_reply(cancel, 200, NULL, NULL), 0);
	assert_null(sip_tsx_req(cancel));
	assert_ptr_equal(sip_tsx_cancel_target(cancel), inv);
}

/* IST Accepted keeps the request: the TU sends its 2xx again. */
static void test_ist_accepted_keeps_request(void **state)
{
	struct sip_tsx *tsx;

	(void)state;
	assert_int_equal(h_recv(invite("z9hG4bKa1", "INVITE", NULL), false), 0);
	tsx = H.last_tsx;
	assert_int_equal(sip_tsx_reply(tsx, 200, NULL, NULL), 0);
	assert_non_null(sip_tsx_req(tsx));
	assert_int_equal(sip_tsx_reply(tsx, 200, NULL, NULL), 0);
	assert_int_equal(h_sent_count("SIP/2.0 200 "), 2);
}

/* NICT: the request goes with the final; retransmitted finals are absorbed
 * (by its finished record over UDP, sip_tsx_done.c); the method stays
 * known to a TU holding a reference; Timer K. */
static void test_nict_releases_request(void **state)
{
	size_t live0 = mem_live_count();
	struct sip_tsx *tsx = h_request(NICT_REQ, false);
	uint64_t id = sip_tsx_id(tsx);

	(void)state;
	assert_non_null(sip_tsx_req(tsx));
	mem_ref(tsx);
	assert_int_equal(h_recv(resp(202, "z9hG4bKcs1", "1 SUBSCRIBE"), false), 0);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_TERMINATED);
	assert_null(sip_tsx_req(tsx));
	assert_int_equal(sip_tsx_method(tsx), SIP_METHOD_SUBSCRIBE);
	mem_deref(tsx);
	assert_null(sip_tsx_lookup(H.st, id));
	assert_int_equal(sip_tsx_stack_count(H.st), 1); /* the record */
	assert_int_equal(mem_live_count(), live0);	/* not a mem object */
	assert_int_equal(h_recv(resp(202, "z9hG4bKcs1", "1 SUBSCRIBE"), false), 0);
	assert_int_equal(h_ev_count(H_EV_RESP), 1);
	assert_int_equal(h_ev_count(H_EV_STRAY), 0);
	h_advance(4999);
	assert_int_equal(sip_tsx_stack_count(H.st), 1);
	h_advance(1);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
	assert_int_equal(sip_tsx_stack_bytes(H.st), 0);
	/* once gone, the same final is a stray */
	assert_int_equal(h_recv(resp(202, "z9hG4bKcs1", "1 SUBSCRIBE"), false), 0);
	assert_int_equal(h_ev_count(H_EV_STRAY), 1);
}

/* ICT: after a 486 the request is gone, the stored ACK is sent again for a
 * retransmitted 486, identical; a 2xx (Accepted) releases it too. */
static void test_ict_ack_after_release(void **state)
{
	struct sip_tsx *tsx = h_request(ICT_REQ, false);
	struct mbuf mb;
	size_t a1;

	(void)state;
	assert_int_equal(h_recv(resp(486, "z9hG4bKci1", "3 INVITE"), false), 0);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_COMPLETED);
	assert_null(sip_tsx_req(tsx));
	assert_int_equal(h_sent_count("ACK "), 1);
	a1 = H.nsent - 1;
	assert_int_equal(h_recv(resp(486, "z9hG4bKci1", "3 INVITE"), false), 0);
	assert_int_equal(h_sent_count("ACK "), 2);
	assert_int_equal(H.sent[H.nsent - 1].len, H.sent[a1].len);
	assert_memory_equal(H.sent[H.nsent - 1].data, H.sent[a1].data, H.sent[a1].len);
	assert_int_equal(h_ev_count(H_EV_RESP), 1);
	/* nothing left to cancel */
	mbuf_init(&mb, 0);
	assert_int_equal(sip_tsx_cancel_build(&mb, tsx), EPROTO);
	mbuf_reset(&mb);
	h_advance(32000); /* Timer D */
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
	assert_int_equal(h_timers_pending(), 0);
}

static void test_ict_accepted_releases(void **state)
{
	struct sip_tsx *tsx = h_request(ICT_REQ, false);

	(void)state;
	assert_int_equal(h_recv(resp(200, "z9hG4bKci1", "3 INVITE"), false), 0);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_ACCEPTED);
	assert_null(sip_tsx_req(tsx));
	assert_int_equal(h_recv(resp(200, "z9hG4bKci1", "3 INVITE"), false), 0);
	assert_int_equal(h_ev_count(H_EV_RESP), 2); /* RFC 6026: both to the TU */
	h_advance(32000);			    /* Timer M */
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
}

/* Many transactions started at different times in one deadline queue end
 * each at its own 64*T1 (up to the queue's 50 ms slack late, never early),
 * and stopping some (TCP, terminate) leaves the others on time. */
static void test_deadline_queue_order(void **state)
{
	char r[512];
	uint64_t ids[10];
	uint64_t base = H.now;

	(void)state;
	for (int i = 0; i < 10; i++) {
		snprintf(r, sizeof(r),
			 "INVITE sip:ims.test SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bKq%d\r\n"
			 "From: <sip:a@ims.test>;tag=a\r\nTo: <sip:ims.test>\r\n"
			 "Call-ID: q%d\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
			 "Content-Length: 0\r\n\r\n",
			 i, i);
		assert_int_equal(h_recv(r, false), 0);
		ids[i] = sip_tsx_id(H.last_tsx);
		assert_int_equal(sip_tsx_reply(H.last_tsx, 200, NULL, NULL), 0);
		h_advance(100);
	}
	/* the head and one in the middle leave early */
	sip_tsx_terminate(sip_tsx_lookup(H.st, ids[0]));
	sip_tsx_terminate(sip_tsx_lookup(H.st, ids[5]));
	/* transaction i accepted at base + 100*i: Timer L at + 32000 (a NIST's
	 * Completed is a slim record, test_sip_tsx_done.c) */
	for (int i = 1; i < 10; i++) {
		uint64_t due = base + 100 * (uint64_t)i + 32000;

		if (i == 5)
			continue;
		h_advance(due - 1 - H.now);
		assert_non_null(sip_tsx_lookup(H.st, ids[i]));
		/* ends within the queue's slack: min(32000 / 64, 50) ms */
		h_advance(1 + 50);
		assert_null(sip_tsx_lookup(H.st, ids[i]));
	}
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
	assert_int_equal(h_timers_pending(), 0);
}

/* sip_tsx_recv_fixed: responses carry the transport's top Via value
 * (received/rport) while the request stays as received; other Via entries
 * of the same line and later lines are kept. */
static void test_via_top(void **state)
{
	const char *text = "OPTIONS sip:ims.test SIP/2.0\r\n"
			   "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKv1;rport, "
			   "SIP/2.0/UDP p2;branch=z9hG4bKv0\r\n"
			   "Via: SIP/2.0/UDP p3;branch=z9hG4bKw\r\n"
			   "From: <sip:a@ims.test>;tag=a\r\nTo: <sip:ims.test>\r\n"
			   "Call-ID: v1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
			   "Content-Length: 0\r\n\r\n";
	struct pl top =
	    PL("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKv1;received=192.0.2.9;"
	       "rport=4444");
	struct sip_tsx_dst src = h_dst(false);
	struct sip_msg *m = NULL;
	char line[256];

	(void)state;
	assert_int_equal(sip_msg_decode_copy(&m, text, strlen(text), NULL), 0);
	assert_int_equal(sip_tsx_recv_fixed(H.st, m, &src, top), 0);
	assert_ptr_equal(sip_tsx_req(H.last_tsx), m);
	assert_int_equal(sip_tsx_reply(H.last_tsx, 200, NULL, NULL), 0);
	assert_int_equal(H.nsent, 1);
	assert_string_equal(
	    h_hdr_of(H.sent[0].data, "Via", line, sizeof(line)),
	    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKv1;received=192.0.2.9;"
	    "rport=4444, SIP/2.0/UDP p2;branch=z9hG4bKv0");
	assert_non_null(
	    strstr(H.sent[0].data, "\r\nVia: SIP/2.0/UDP p3;branch=z9hG4bKw\r\n"));
	/* the retransmission of the request, as received, matches */
	assert_int_equal(sip_tsx_recv(H.st, m, &src), 0);
	assert_int_equal(H.nsent, 2);
	assert_string_equal(H.sent[1].data, H.sent[0].data);
	mem_deref(m);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_nist_releases_request),
	    T(test_nist_provisional_keeps_request),
	    T(test_ist_3261_ack_after_release),
	    T(test_ist_2543_ack_after_release),
	    T(test_cancel_target_after_release),
	    T(test_ist_accepted_keeps_request),
	    T(test_nict_releases_request),
	    T(test_ict_ack_after_release),
	    T(test_ict_accepted_releases),
	    T(test_deadline_queue_order),
	    T(test_via_top),
	};

	return cmocka_run_group_tests_name("sip_tsx_slim", tests, NULL, NULL);
}
