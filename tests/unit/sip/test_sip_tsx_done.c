/*
 * Unit tests: the slim record of a finished non-INVITE server transaction
 * (sip_tsx_done.c, RFC 3261 §17.2.2). Over UDP with an RFC 3261 key the
 * final's transaction ends and a record of the key, the response bytes,
 * the flow and Timer J absorbs retransmissions: the same bytes to the same
 * flow, only for the same branch, sent-by and method, until 64*T1, each
 * record on its own deadline; it counts as a live transaction and costs
 * its size in the byte bound. TCP, RFC 2543 keys and CANCEL stay whole.
 *
 * The same for a non-INVITE client transaction (RFC 3261 §17.1.2.2): once
 * the TU has its final over UDP, a record of the branch and method absorbs
 * retransmitted finals until Timer K (T4), sending nothing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/mem.h"
#include "sip/sip_tsx_int.h"
#include "test_sip_tsx_harness.h"

static const char *req(char *b, size_t size, const char *method, const char *branch,
		       const char *sentby)
{
	snprintf(b, size,
		 "%s sip:ims.test SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP %s;branch=%s\r\n"
		 "From: <sip:a@ims.test>;tag=a\r\nTo: <sip:ims.test>\r\n"
		 "Call-ID: d-%s\r\nCSeq: 1 %s\r\nMax-Forwards: 70\r\n"
		 "Content-Length: 0\r\n\r\n",
		 method, sentby, branch, branch, method);
	return b;
}

/* A response to a request of ours with that branch and CSeq method. */
static const char *resp(char *b, size_t size, unsigned scode, const char *branch,
			const char *method)
{
	snprintf(b, size,
		 "SIP/2.0 %u Whatever\r\n"
		 "Via: SIP/2.0/UDP pcscf.ims.test;branch=%s\r\n"
		 "From: <sip:p@ims.test>;tag=1\r\nTo: <sip:ue@ims.test>;tag=2\r\n"
		 "Call-ID: c-%s\r\nCSeq: 1 %s\r\nContent-Length: 0\r\n\r\n",
		 scode, branch, branch, method);
	return b;
}

static struct sip_tsx *client(const char *method, const char *branch, bool reliable)
{
	char b[512];

	snprintf(b, sizeof(b),
		 "%s sip:ue@ims.test SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP pcscf.ims.test;branch=%s\r\n"
		 "From: <sip:p@ims.test>;tag=1\r\nTo: <sip:ue@ims.test>\r\n"
		 "Call-ID: c-%s\r\nCSeq: 1 %s\r\nMax-Forwards: 70\r\n"
		 "Content-Length: 0\r\n\r\n",
		 method, branch, branch, method);
	return h_request(b, reliable);
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

/* The record is what the comment says: ~90 B of header. */
static void test_record_size(void **state)
{
	(void)state;
	assert_true(sizeof(struct sip_tsx_done) <= 96);
	assert_true(sizeof(struct sip_tsx_done) < sizeof(struct sip_tsx) / 2);
}

/* A MESSAGE answered 202: the transaction ends, the stack counts one live
 * record costing its exact size; retransmissions get the same bytes on the
 * same flow; another branch, sent-by, port or method is a new request. */
static void test_absorbs(void **state)
{
	char b[512];
	struct sip_tsx *tsx;
	uint64_t id;
	size_t full, len;

	(void)state;
	assert_int_equal(h_recv(req(b, sizeof(b), "MESSAGE", "z9hG4bKd1", "192.0.2.7:5062"),
				false),
			 0);
	tsx = H.last_tsx;
	id = sip_tsx_id(tsx);
	full = sip_tsx_stack_bytes(H.st);
	assert_int_equal(sip_tsx_reply(tsx, 202, NULL, NULL), 0);
	assert_null(sip_tsx_lookup(H.st, id));
	assert_int_equal(sip_tsx_stack_count(H.st), 1);
	len = H.sent[0].len;
	assert_int_equal(sip_tsx_stack_bytes(H.st),
			 sip_tsx_done_cost(strlen("MESSAGE") + strlen("z9hG4bKd1") +
					       strlen("192.0.2.7"),
					   len));
	assert_true(sip_tsx_stack_bytes(H.st) < full);
	/* retransmissions: the same bytes, same transport handle */
	h_advance(20000);
	assert_int_equal(h_recv(b, false), 0);
	assert_int_equal(h_recv(b, false), 0);
	assert_int_equal(H.nsent, 3);
	for (int i = 1; i < 3; i++) {
		assert_int_equal(H.sent[i].len, len);
		assert_memory_equal(H.sent[i].data, H.sent[0].data, len);
		assert_int_equal(H.sent[i].conn, H.sent[0].conn);
	}
	assert_int_equal(h_ev_count(H_EV_REQ), 1);
	/* not the same key: new transactions for the TU */
	assert_int_equal(h_recv(req(b, sizeof(b), "MESSAGE", "z9hG4bKd2", "192.0.2.7:5062"),
				false),
			 0);
	assert_int_equal(h_recv(req(b, sizeof(b), "MESSAGE", "z9hG4bKd1", "192.0.2.8:5062"),
				false),
			 0);
	assert_int_equal(h_recv(req(b, sizeof(b), "MESSAGE", "z9hG4bKd1", "192.0.2.7:5063"),
				false),
			 0);
	assert_int_equal(h_recv(req(b, sizeof(b), "OPTIONS", "z9hG4bKd1", "192.0.2.7:5062"),
				false),
			 0);
	assert_int_equal(h_ev_count(H_EV_REQ), 5);
	/* a stray ACK with the branch is not absorbed */
	assert_int_equal(h_recv(req(b, sizeof(b), "ACK", "z9hG4bKd1", "192.0.2.7:5062"), false),
			 0);
	assert_int_equal(h_ev_count(H_EV_ACK), 1);
}

/* Each record ends at its own 64*T1 (within the queue's 50 ms slack,
 * never early); then the request is new again; nothing is left. */
static void test_timer_j_order(void **state)
{
	char b[512], br[32];

	(void)state;
	H.auto_reply = 200;
	for (int i = 0; i < 5; i++) {
		snprintf(br, sizeof(br), "z9hG4bKj%d", i);
		assert_int_equal(h_recv(req(b, sizeof(b), "MESSAGE", br, "192.0.2.7"), false), 0);
		h_advance(1000);
	}
	assert_int_equal(sip_tsx_stack_count(H.st), 5);
	h_advance(32000 - 5000 - 1); /* the first at 32000 */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(sip_tsx_stack_count(H.st), (size_t)(5 - i));
		h_advance(1 + 50);
		assert_int_equal(sip_tsx_stack_count(H.st), (size_t)(4 - i));
		h_advance(1000 - 51);
	}
	assert_int_equal(sip_tsx_stack_bytes(H.st), 0);
	assert_int_equal(h_timers_pending(), 0);
	assert_int_equal(h_recv(b, false), 0);
	assert_int_equal(h_ev_count(H_EV_REQ), 6);
}

/* A failed resend ends the record (§17.2.4); the next copy is new. */
static void test_send_error(void **state)
{
	char b[512];
	size_t dead, live;

	(void)state;
	H.auto_reply = 200;
	assert_int_equal(h_recv(req(b, sizeof(b), "MESSAGE", "z9hG4bKe1", "192.0.2.7"), false),
			 0);
	assert_int_equal(sip_tsx_stack_count(H.st), 1);
	H.send_err = EHOSTUNREACH;
	assert_int_equal(h_recv(b, false), 0);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
	/* still allocated until its queue frees it: still counted */
	dead = sip_tsx_stack_bytes(H.st);
	assert_true(dead > 0);
	H.send_err = 0;
	H.auto_reply = 0;
	assert_int_equal(h_recv(b, false), 0);
	assert_int_equal(h_ev_count(H_EV_REQ), 2);
	live = sip_tsx_stack_bytes(H.st) - dead;
	h_advance(40000); /* the dead record is freed by its queue */
	assert_int_equal(h_timers_pending(), 0);
	assert_int_equal(sip_tsx_stack_bytes(H.st), live);
}

/* Stay whole: TCP (Timer J = 0, nothing kept), CANCEL (its TU asks for
 * its INVITE), RFC 2543 keys. */
static void test_stays_whole(void **state)
{
	char b[512];
	struct sip_tsx *tsx;

	(void)state;
	H.auto_reply = 200;
	assert_int_equal(h_recv(req(b, sizeof(b), "MESSAGE", "z9hG4bKt1", "192.0.2.7"), true),
			 0);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
	H.auto_reply = 0;
	assert_int_equal(h_recv(req(b, sizeof(b), "CANCEL", "z9hG4bKc1", "192.0.2.7"), false),
			 0);
	tsx = H.last_tsx;
	assert_int_equal(sip_tsx_reply(tsx, 200, NULL, NULL), 0);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_COMPLETED);
	assert_int_equal(h_recv(req(b, sizeof(b), "MESSAGE", "1234", "192.0.2.7"), false), 0);
	tsx = H.last_tsx;
	assert_int_equal(sip_tsx_reply(tsx, 200, NULL, NULL), 0);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_COMPLETED);
	assert_int_equal(h_recv(b, false), 0);
	assert_int_equal(h_sent_count("SIP/2.0 200 "), 4);
	assert_int_equal(sip_tsx_stack_count(H.st), 2);
}

/* The client record: ~40 B of header, and what it costs is exactly that,
 * its key text and the allowance, where the whole transaction cost several
 * times more. */
static void test_client_record(void **state)
{
	char b[512];
	size_t full;

	(void)state;
	assert_true(sizeof(struct sip_tsx_cdone) <= 40);
	assert_non_null(client("MESSAGE", "z9hG4bKc1", false));
	assert_int_equal(h_recv(resp(b, sizeof(b), 100, "z9hG4bKc1", "MESSAGE"), false),
			 0);
	full = sip_tsx_stack_bytes(H.st);
	assert_int_equal(h_recv(resp(b, sizeof(b), 200, "z9hG4bKc1", "MESSAGE"), false),
			 0);
	assert_int_equal(h_ev_count(H_EV_RESP), 2);
	assert_int_equal(sip_tsx_stack_count(H.st), 1);
	assert_int_equal(sip_tsx_stack_bytes(H.st),
			 sip_tsx_cdone_cost(strlen("MESSAGE") + strlen("z9hG4bKc1")));
	assert_true(sip_tsx_stack_bytes(H.st) * 3 < full);
	/* retransmitted finals absorbed, the TU told once */
	for (int i = 0; i < 3; i++)
		assert_int_equal(
		    h_recv(resp(b, sizeof(b), 200, "z9hG4bKc1", "MESSAGE"), false), 0);
	assert_int_equal(h_ev_count(H_EV_RESP), 2);
	assert_int_equal(h_ev_count(H_EV_STRAY), 0);
	/* only the same branch and method: others are strays */
	assert_int_equal(h_recv(resp(b, sizeof(b), 200, "z9hG4bKc1", "CANCEL"), false),
			 0);
	assert_int_equal(h_recv(resp(b, sizeof(b), 200, "z9hG4bKc2", "MESSAGE"), false),
			 0);
	assert_int_equal(h_ev_count(H_EV_STRAY), 2);
	assert_int_equal(h_sent_count("MESSAGE "), 1); /* nothing sent from it */
}

/* Each record ends on its own Timer K, T4 after its final. */
static void test_client_timer_k_order(void **state)
{
	char b[512];

	(void)state;
	assert_non_null(client("MESSAGE", "z9hG4bKk1", false));
	assert_non_null(client("NOTIFY", "z9hG4bKk2", false));
	assert_int_equal(h_recv(resp(b, sizeof(b), 200, "z9hG4bKk1", "MESSAGE"), false),
			 0);
	h_advance(1000);
	assert_int_equal(h_recv(resp(b, sizeof(b), 200, "z9hG4bKk2", "NOTIFY"), false),
			 0);
	assert_int_equal(sip_tsx_stack_count(H.st), 2);
	h_advance(3999); /* 4,999 ms after the first */
	assert_int_equal(sip_tsx_stack_count(H.st), 2);
	h_advance(1);
	assert_int_equal(sip_tsx_stack_count(H.st), 1);
	assert_int_equal(h_recv(resp(b, sizeof(b), 200, "z9hG4bKk1", "MESSAGE"), false),
			 0);
	assert_int_equal(h_ev_count(H_EV_STRAY), 1);
	assert_int_equal(h_recv(resp(b, sizeof(b), 200, "z9hG4bKk2", "NOTIFY"), false),
			 0);
	assert_int_equal(h_ev_count(H_EV_STRAY), 1);
	h_advance(999);
	assert_int_equal(sip_tsx_stack_count(H.st), 1); /* never early */
	/* the queue re-armed for it with the deadline queues' slack,
	 * T4 / 64 = 78 ms at most */
	h_advance(1 + 78);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
	assert_int_equal(sip_tsx_stack_bytes(H.st), 0);
	assert_int_equal(h_timers_pending(), 0);
}

/* No record over TCP (Timer K = 0) nor for an INVITE client (it sends the
 * ACK again from Completed). Freeing the stack frees live records. */
static void test_client_no_record(void **state)
{
	char b[512];
	struct sip_tsx *inv;

	(void)state;
	assert_non_null(client("MESSAGE", "z9hG4bKt1", true));
	assert_int_equal(h_recv(resp(b, sizeof(b), 200, "z9hG4bKt1", "MESSAGE"), true),
			 0);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
	inv = client("INVITE", "z9hG4bKt2", false);
	assert_non_null(inv);
	assert_int_equal(h_recv(resp(b, sizeof(b), 486, "z9hG4bKt2", "INVITE"), false),
			 0);
	assert_int_equal(sip_tsx_state(inv), SIP_TSX_COMPLETED);
	assert_non_null(client("MESSAGE", "z9hG4bKt3", false));
	assert_int_equal(h_recv(resp(b, sizeof(b), 202, "z9hG4bKt3", "MESSAGE"), false),
			 0);
	assert_int_equal(sip_tsx_stack_count(H.st), 2); /* ICT whole + record */
	/* teardown frees the stack with the record in it (ASan: no leak) */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_record_size),
	    cmocka_unit_test_setup_teardown(test_absorbs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_j_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_send_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stays_whole, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_client_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_client_timer_k_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_client_no_record, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
