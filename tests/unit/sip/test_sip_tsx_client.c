/*
 * Unit tests: client transactions (RFC 3261 §17.1, RFC 6026 §8.4) with the
 * fake clock: every state transition over unreliable and reliable
 * transports, exact retransmission schedules, timeouts, ACK generation,
 * CANCEL building, transport errors.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/log.h"
#include "core/mem.h"
#include "loop/loop.h"
#include "sip/sip_msg.h"
#include "sip/sip_peer.h"
#include "test_sip_tsx_harness.h"

#define INVITE                                                                           \
	"INVITE sip:bob@ims.test SIP/2.0\r\n"                                            \
	"Via: SIP/2.0/UDP pcscf.ims.test:5060;branch=z9hG4bKc1;rport\r\n"                \
	"Route: <sip:scscf.ims.test;lr>\r\n"                                             \
	"Route: <sip:as1.ims.test;lr>, <sip:as2.ims.test;lr>\r\n"                        \
	"Max-Forwards: 70\r\n"                                                           \
	"From: \"Alice\" <sip:alice@ims.test>;tag=a1\r\n"                                \
	"To: <sip:bob@ims.test>\r\n"                                                     \
	"Call-ID: call1@ims.test\r\n"                                                    \
	"CSeq: 314 INVITE\r\n"                                                           \
	"Contact: <sip:alice@192.0.2.1>\r\n"                                             \
	"Content-Type: application/sdp\r\n"                                              \
	"Content-Length: 4\r\n\r\nv=0\n"

#define OPTIONS                                                                          \
	"OPTIONS sip:bob@ims.test SIP/2.0\r\n"                                           \
	"Via: SIP/2.0/UDP pcscf.ims.test:5060;branch=z9hG4bKn1\r\n"                      \
	"Max-Forwards: 70\r\n"                                                           \
	"From: <sip:alice@ims.test>;tag=a1\r\n"                                          \
	"To: <sip:bob@ims.test>\r\n"                                                     \
	"Call-ID: call2@ims.test\r\n"                                                    \
	"CSeq: 1 OPTIONS\r\n"                                                            \
	"Content-Length: 0\r\n\r\n"

static char rbuf[2048];

/* A response to INVITE/OPTIONS above. */
static const char *resp(unsigned code, const char *branch, const char *method,
			const char *totag)
{
	snprintf(rbuf, sizeof(rbuf),
		 "SIP/2.0 %u Whatever\r\n"
		 "Via: SIP/2.0/UDP pcscf.ims.test:5060;branch=%s;rport=5060\r\n"
		 "From: \"Alice\" <sip:alice@ims.test>;tag=a1\r\n"
		 "To: <sip:bob@ims.test>%s%s\r\n"
		 "Call-ID: call1@ims.test\r\n"
		 "CSeq: %s %s\r\n"
		 "Content-Length: 0\r\n\r\n",
		 code, branch, totag ? ";tag=" : "", totag ? totag : "",
		 strcmp(method, "OPTIONS") == 0 ? "1" : "314", method);
	return rbuf;
}

static int setup_rfc(void **state)
{
	(void)state;
	h_setup(500, 4000, 5000);
	return 0;
}

static int setup_manual(void **state)
{
	(void)state;
	h_setup(2000, 16000, 17000); /* manual §5 timer_t1/t2/t4 defaults */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	h_teardown();
	return 0;
}

static void expect_times(const char *prefix, const uint64_t *rel, size_t n)
{
	uint64_t got[H_MAX_EVENTS];
	size_t k = h_sent_times(prefix, got, H_MAX_EVENTS);

	assert_int_equal(k, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(got[i] - 1000, rel[i]);
}

/* ---- INVITE client ---- */

/* Timer A doubles without the T2 cap until Timer B = 64*T1 (§17.1.1.2). */
static void test_ict_timer_a_b_rfc(void **state)
{
	static const uint64_t rel[] = {0, 500, 1500, 3500, 7500, 15500, 31500};
	struct sip_tsx *tsx = h_request(INVITE, false);
	uint64_t id = sip_tsx_id(tsx);

	(void)state;
	assert_int_equal(sip_tsx_kind(tsx), SIP_TSX_ICT);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_CALLING);
	h_advance(31999);
	assert_int_equal(h_ev_count(H_EV_RESP), 0);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_CALLING);
	h_advance(1);
	expect_times("INVITE ", rel, 7);
	assert_int_equal(h_ev_count(H_EV_RESP), 1);
	assert_int_equal(h_ev_last(H_EV_RESP)->scode, 408);
	assert_false(h_ev_last(H_EV_RESP)->has_msg);
	assert_int_equal(h_ev_last(H_EV_RESP)->at, 1000 + 32000);
	assert_null(sip_tsx_lookup(H.st, id));
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
	assert_int_equal(h_timers_pending(), 0);
}

static void test_ict_timer_a_b_manual(void **state)
{
	static const uint64_t rel[] = {0, 2000, 6000, 14000, 30000, 62000, 126000};

	(void)state;
	h_request(INVITE, false);
	h_advance(200000);
	expect_times("INVITE ", rel, 7);
	assert_int_equal(h_ev_last(H_EV_RESP)->scode, 408);
	assert_int_equal(h_ev_last(H_EV_RESP)->at, 1000 + 128000);
}

static void test_ict_reliable_no_retransmit(void **state)
{
	(void)state;
	h_request(INVITE, true);
	h_advance(31999);
	assert_int_equal(h_sent_count("INVITE "), 1);
	assert_int_equal(h_ev_count(H_EV_RESP), 0);
	h_advance(1);
	assert_int_equal(h_ev_last(H_EV_RESP)->scode, 408);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
}

/* Calling -> Proceeding -> Completed -> Terminated, UDP. */
static void test_ict_proceeding_completed_udp(void **state)
{
	struct sip_tsx *tsx = h_request(INVITE, false);
	uint64_t id = sip_tsx_id(tsx);

	(void)state;
	h_advance(700); /* one retransmission at +500 */
	assert_int_equal(h_recv(resp(180, "z9hG4bKc1", "INVITE", "b1"), false), 0);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_PROCEEDING);
	assert_int_equal(h_ev_last(H_EV_RESP)->scode, 180);
	assert_true(h_ev_last(H_EV_RESP)->has_msg);
	/* no retransmission, no Timer B in Proceeding */
	h_advance(100000);
	assert_int_equal(h_sent_count("INVITE "), 2);
	assert_int_equal(h_ev_count(H_EV_RESP), 1);
	assert_int_equal(h_recv(resp(183, "z9hG4bKc1", "INVITE", "b1"), false), 0);
	assert_int_equal(h_ev_last(H_EV_RESP)->scode, 183);
	assert_int_equal(h_recv(resp(486, "z9hG4bKc1", "INVITE", "b1"), false), 0);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_COMPLETED);
	assert_int_equal(h_ev_last(H_EV_RESP)->scode, 486);
	assert_int_equal(h_sent_count("ACK "), 1);
	/* retransmitted final: ACK again, TU not told */
	assert_int_equal(h_recv(resp(486, "z9hG4bKc1", "INVITE", "b1"), false), 0);
	assert_int_equal(h_sent_count("ACK "), 2);
	assert_int_equal(h_ev_count(H_EV_RESP), 3);
	/* Timer D = 32 s */
	h_advance(31999);
	assert_non_null(sip_tsx_lookup(H.st, id));
	h_advance(1);
	assert_null(sip_tsx_lookup(H.st, id));
	assert_int_equal(h_timers_pending(), 0);
	/* a late retransmission is now a stray */
	assert_int_equal(h_recv(resp(486, "z9hG4bKc1", "INVITE", "b1"), false), 0);
	assert_int_equal(h_ev_count(H_EV_STRAY), 1);
}

/* §17.1.1.3: the ACK for a non-2xx final response. */
static void test_ict_ack_headers(void **state)
{
	char line[512];
	const char *ack;

	(void)state;
	h_request(INVITE, false);
	assert_int_equal(h_recv(resp(603, "z9hG4bKc1", "INVITE", "xyz9"), false), 0);
	assert_int_equal(h_sent_count("ACK "), 1);
	ack = H.sent[H.nsent - 1].data;
	assert_true(strncmp(ack, "ACK sip:bob@ims.test SIP/2.0\r\n", 30) == 0);
	assert_string_equal(
	    h_hdr_of(ack, "Via", line, sizeof(line)),
	    "Via: SIP/2.0/UDP pcscf.ims.test:5060;branch=z9hG4bKc1;rport");
	assert_string_equal(h_hdr_of(ack, "From", line, sizeof(line)),
			    "From: \"Alice\" <sip:alice@ims.test>;tag=a1");
	assert_string_equal(h_hdr_of(ack, "To", line, sizeof(line)),
			    "To: <sip:bob@ims.test>;tag=xyz9");
	assert_string_equal(h_hdr_of(ack, "Call-ID", line, sizeof(line)),
			    "Call-ID: call1@ims.test");
	assert_string_equal(h_hdr_of(ack, "CSeq", line, sizeof(line)), "CSeq: 314 ACK");
	assert_non_null(
	    strstr(ack, "\r\nRoute: <sip:scscf.ims.test;lr>\r\n"
			"Route: <sip:as1.ims.test;lr>, <sip:as2.ims.test;lr>\r\n"));
	assert_string_equal(h_hdr_of(ack, "Content-Length", line, sizeof(line)),
			    "Content-Length: 0");
	assert_null(strstr(ack, "Contact"));
	assert_null(strstr(ack, "Content-Type"));
	/* exactly one Via */
	assert_null(strstr(strstr(ack, "Via:") + 4, "Via:"));
}

static void test_ict_completed_reliable(void **state)
{
	struct sip_tsx *tsx = h_request(INVITE, true);
	uint64_t id = sip_tsx_id(tsx);

	(void)state;
	assert_int_equal(h_recv(resp(404, "z9hG4bKc1", "INVITE", "b1"), true), 0);
	assert_int_equal(h_sent_count("ACK "), 1);
	assert_int_equal(h_ev_last(H_EV_RESP)->scode, 404);
	/* Timer D = 0 on reliable transports */
	assert_null(sip_tsx_lookup(H.st, id));
	assert_int_equal(h_timers_pending(), 0);
}

/* RFC 6026 §8.4: Accepted passes 2xx retransmissions to the TU; no ACK. */
static void test_ict_accepted(void **state)
{
	struct sip_tsx *tsx = h_request(INVITE, false);
	uint64_t id = sip_tsx_id(tsx);

	(void)state;
	assert_int_equal(h_recv(resp(200, "z9hG4bKc1", "INVITE", "b1"), false), 0);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_ACCEPTED);
	assert_int_equal(h_ev_last(H_EV_RESP)->scode, 200);
	h_advance(10000);
	assert_int_equal(h_sent_count("INVITE "), 1);
	assert_int_equal(h_recv(resp(200, "z9hG4bKc1", "INVITE", "b1"), false), 0);
	assert_int_equal(h_ev_count(H_EV_RESP), 2);
	/* a forked 2xx with another tag also goes up */
	assert_int_equal(h_recv(resp(200, "z9hG4bKc1", "INVITE", "b2"), false), 0);
	assert_int_equal(h_ev_count(H_EV_RESP), 3);
	/* non-2xx ignored in Accepted */
	assert_int_equal(h_recv(resp(500, "z9hG4bKc1", "INVITE", "b1"), false), 0);
	assert_int_equal(h_ev_count(H_EV_RESP), 3);
	assert_int_equal(h_sent_count("ACK "), 0);
	/* Timer M = 64*T1 from the first 2xx */
	h_advance(32000 - 10000 - 1);
	assert_non_null(sip_tsx_lookup(H.st, id));
	h_advance(1);
	assert_null(sip_tsx_lookup(H.st, id));
}

static void test_ict_accepted_reliable(void **state)
{
	struct sip_tsx *tsx = h_request(INVITE, true);

	(void)state;
	assert_int_equal(h_recv(resp(100, "z9hG4bKc1", "INVITE", NULL), true), 0);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_PROCEEDING);
	assert_int_equal(h_recv(resp(200, "z9hG4bKc1", "INVITE", "b1"), true), 0);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_ACCEPTED);
	/* Timer M is not zero on reliable transports (RFC 6026 §8.4) */
	h_advance(31999);
	assert_int_equal(sip_tsx_stack_count(H.st), 1);
	h_advance(1);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
}

/* §17.1.4: a send error is a 503 to the TU. */
static void test_ict_transport_error(void **state)
{
	struct sip_tsx_req_prm prm = {.req = PL(INVITE), .dst = h_dst(false)};
	struct sip_tsx *tsx = (struct sip_tsx *)1;
	struct sip_tsx *t2;

	(void)state;
	prm.resp_h = NULL;
	assert_int_equal(sip_tsx_request(&tsx, H.st, &prm), EINVAL);
	/* failure at the first send: told from the loop, not inside the call
	 * (the TU may be walking what its handler frees); for an INVITE over
	 * UDP, and for a non-INVITE over TCP (no Timer E of its own) */
	H.send_err = ECONNREFUSED;
	for (size_t k = 0; k < 2; k++) {
		t2 = h_request(k ? OPTIONS : INVITE, k == 1);
		assert_non_null(t2);
		assert_int_equal(h_ev_count(H_EV_RESP), k);
		h_advance(0);
		assert_int_equal(h_ev_count(H_EV_RESP), k + 1);
		assert_int_equal(h_ev_last(H_EV_RESP)->scode, 503);
		assert_int_equal(sip_tsx_stack_count(H.st), 0);
		assert_int_equal(h_timers_pending(), 0);
	}
	/* failure at a retransmission (Timer A) */
	H.send_err = 0;
	t2 = h_request(INVITE, false);
	assert_non_null(t2);
	H.send_err = EHOSTUNREACH;
	h_advance(500);
	assert_int_equal(h_ev_count(H_EV_RESP), 3);
	assert_int_equal(h_ev_last(H_EV_RESP)->scode, 503);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
	assert_int_equal(h_timers_pending(), 0);
	/* reported later by the transport, by id */
	H.send_err = 0;
	t2 = h_request(INVITE, true);
	assert_int_equal(sip_tsx_transport_error(H.st, sip_tsx_id(t2), ECONNRESET), 0);
	assert_int_equal(h_ev_last(H_EV_RESP)->scode, 503);
	assert_int_equal(sip_tsx_transport_error(H.st, 999999, ECONNRESET), ENOENT);
}

/* §9.1: the CANCEL is built from the INVITE and is its own transaction. */
static void test_ict_cancel(void **state)
{
	struct sip_tsx *inv = h_request(INVITE, false), *can;
	struct mbuf mb;
	char line[512];
	const char *c;

	(void)state;
	assert_int_equal(h_recv(resp(180, "z9hG4bKc1", "INVITE", "b1"), false), 0);
	mbuf_init(&mb, 0);
	assert_int_equal(sip_tsx_cancel_build(&mb, inv), 0);
	c = mbuf_str(&mb);
	assert_true(strncmp(c, "CANCEL sip:bob@ims.test SIP/2.0\r\n", 33) == 0);
	assert_string_equal(
	    h_hdr_of(c, "Via", line, sizeof(line)),
	    "Via: SIP/2.0/UDP pcscf.ims.test:5060;branch=z9hG4bKc1;rport");
	assert_string_equal(h_hdr_of(c, "To", line, sizeof(line)),
			    "To: <sip:bob@ims.test>");
	assert_string_equal(h_hdr_of(c, "CSeq", line, sizeof(line)), "CSeq: 314 CANCEL");
	assert_non_null(strstr(c, "Route: <sip:scscf.ims.test;lr>\r\n"));
	can = h_request(c, false);
	assert_non_null(can);
	assert_int_equal(sip_tsx_kind(can), SIP_TSX_NICT);
	/* same branch as a live CANCEL: refused */
	{
		struct sip_tsx_req_prm prm = {.req = pl_from_str(c), .dst = h_dst(false)};
		struct sip_tsx *dup;

		prm.resp_h = (sip_tsx_resp_h *)1;
		assert_int_equal(sip_tsx_request(&dup, H.st, &prm), EEXIST);
	}
	assert_int_equal(sip_tsx_cancel_build(&mb, can), EINVAL);
	mbuf_reset(&mb);
	/* 200 to the CANCEL goes to the CANCEL, 487 to the INVITE */
	mem_ref(can);
	assert_int_equal(h_recv(resp(200, "z9hG4bKc1", "CANCEL", "b1"), false), 0);
	/* Completed over UDP is the CANCEL's finished record (sip_tsx_done.c) */
	assert_int_equal(sip_tsx_state(can), SIP_TSX_TERMINATED);
	assert_int_equal(sip_tsx_state(inv), SIP_TSX_PROCEEDING);
	assert_int_equal(h_ev_last(H_EV_RESP)->tsx_id, sip_tsx_id(can));
	mem_deref(can);
	assert_int_equal(h_recv(resp(487, "z9hG4bKc1", "INVITE", "b1"), false), 0);
	assert_int_equal(sip_tsx_state(inv), SIP_TSX_COMPLETED);
	assert_int_equal(h_ev_last(H_EV_RESP)->tsx_id, sip_tsx_id(inv));
}

static void test_client_bad_requests(void **state)
{
	struct sip_tsx_req_prm prm = {.dst = h_dst(false)};
	struct sip_tsx *tsx;

	(void)state;
	prm.resp_h = (sip_tsx_resp_h *)1;
	prm.req = PL("ACK sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
		     "From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\n"
		     "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(sip_tsx_request(&tsx, H.st, &prm), EINVAL);
	prm.req = PL("OPTIONS sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=abc\r\n"
		     "From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\n"
		     "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(sip_tsx_request(&tsx, H.st, &prm), EINVAL);
	prm.req = PL("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
		     "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(sip_tsx_request(&tsx, H.st, &prm), EINVAL);
	prm.req = PL("garbage");
	assert_int_equal(sip_tsx_request(&tsx, H.st, &prm), EBADMSG);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
}

/* ---- non-INVITE client ---- */

/* Timer E: T1 doubling up to T2, until Timer F = 64*T1 (§17.1.2.2). */
static void test_nict_timer_e_f_rfc(void **state)
{
	static const uint64_t rel[] = {0,     500,   1500,  3500,  7500, 11500,
				       15500, 19500, 23500, 27500, 31500};
	struct sip_tsx *tsx = h_request(OPTIONS, false);

	(void)state;
	assert_int_equal(sip_tsx_kind(tsx), SIP_TSX_NICT);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_TRYING);
	h_advance(31999);
	assert_int_equal(h_ev_count(H_EV_RESP), 0);
	h_advance(1);
	expect_times("OPTIONS ", rel, 11);
	assert_int_equal(h_ev_last(H_EV_RESP)->scode, 408);
	assert_false(h_ev_last(H_EV_RESP)->has_msg);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
	assert_int_equal(h_timers_pending(), 0);
}

static void test_nict_timer_e_f_manual(void **state)
{
	static const uint64_t rel[] = {0,     2000,  6000,  14000,  30000, 46000,
				       62000, 78000, 94000, 110000, 126000};

	(void)state;
	h_request(OPTIONS, false);
	h_advance(128000);
	expect_times("OPTIONS ", rel, 11);
	assert_int_equal(h_ev_last(H_EV_RESP)->scode, 408);
	assert_int_equal(h_ev_last(H_EV_RESP)->at, 1000 + 128000);
}

/* In Proceeding, Timer E fires at T2 intervals. */
static void test_nict_proceeding(void **state)
{
	static const uint64_t rel[] = {0, 500, 1500, 5500, 9500};
	struct sip_tsx *tsx = h_request(OPTIONS, false);

	(void)state;
	h_advance(600);
	assert_int_equal(h_recv(resp(100, "z9hG4bKn1", "OPTIONS", NULL), false), 0);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_PROCEEDING);
	assert_int_equal(h_ev_last(H_EV_RESP)->scode, 100);
	h_advance(9000);
	expect_times("OPTIONS ", rel, 5);
	/* Timer F still runs in Proceeding */
	h_advance(32000 - 9600 - 1);
	assert_int_equal(h_ev_count(H_EV_RESP), 1);
	h_advance(1);
	assert_int_equal(h_ev_last(H_EV_RESP)->scode, 408);
}

/* Trying -> Completed -> (K = T4) Terminated, UDP: Completed is a finished
 * record (sip_tsx_done.c): the transaction ends for the TU once it has the
 * final, and the record absorbs retransmitted finals until Timer K. */
static void test_nict_completed_udp(void **state)
{
	struct sip_tsx *tsx = h_request(OPTIONS, false);
	uint64_t id = sip_tsx_id(tsx);

	(void)state;
	mem_ref(tsx);
	assert_int_equal(h_recv(resp(200, "z9hG4bKn1", "OPTIONS", "b1"), false), 0);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_TERMINATED);
	assert_int_equal(sip_tsx_scode(tsx), 200);
	mem_deref(tsx);
	assert_int_equal(h_ev_last(H_EV_RESP)->scode, 200);
	assert_null(sip_tsx_lookup(H.st, id));
	assert_int_equal(sip_tsx_stack_count(H.st), 1);
	/* retransmitted final absorbed, no more retransmissions */
	assert_int_equal(h_recv(resp(200, "z9hG4bKn1", "OPTIONS", "b1"), false), 0);
	assert_int_equal(h_ev_count(H_EV_RESP), 1);
	assert_int_equal(h_ev_count(H_EV_STRAY), 0);
	h_advance(4999);
	assert_int_equal(h_sent_count("OPTIONS "), 1);
	assert_int_equal(sip_tsx_stack_count(H.st), 1);
	assert_int_equal(h_recv(resp(200, "z9hG4bKn1", "OPTIONS", "b1"), false), 0);
	assert_int_equal(h_ev_count(H_EV_STRAY), 0);
	h_advance(1);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
	assert_int_equal(sip_tsx_stack_bytes(H.st), 0);
	assert_int_equal(h_timers_pending(), 0);
	/* Timer K has run: the same final is a stray now */
	assert_int_equal(h_recv(resp(200, "z9hG4bKn1", "OPTIONS", "b1"), false), 0);
	assert_int_equal(h_ev_count(H_EV_STRAY), 1);
}

static void test_nict_proceeding_completed_reliable(void **state)
{
	struct sip_tsx *tsx = h_request(OPTIONS, true);
	uint64_t id = sip_tsx_id(tsx);

	(void)state;
	h_advance(10000);
	assert_int_equal(h_sent_count("OPTIONS "), 1);
	assert_int_equal(h_recv(resp(180, "z9hG4bKn1", "OPTIONS", NULL), true), 0);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_PROCEEDING);
	assert_int_equal(h_recv(resp(404, "z9hG4bKn1", "OPTIONS", "b"), true), 0);
	assert_int_equal(h_ev_last(H_EV_RESP)->scode, 404);
	/* Timer K = 0 */
	assert_null(sip_tsx_lookup(H.st, id));
	assert_int_equal(h_timers_pending(), 0);
}

static void test_nict_timeout_reliable(void **state)
{
	(void)state;
	h_request(OPTIONS, true);
	h_advance(31999);
	assert_int_equal(h_ev_count(H_EV_RESP), 0);
	h_advance(1);
	assert_int_equal(h_ev_last(H_EV_RESP)->scode, 408);
	assert_int_equal(h_sent_count("OPTIONS "), 1);
}

/* The TU may terminate from inside its handler. */
static void term_h(struct sip_tsx *tsx, const struct sip_msg *resp, uint16_t scode,
		   void *arg)
{
	(void)resp;
	*(uint16_t *)arg = scode;
	sip_tsx_terminate(tsx);
}

static void test_client_terminate_in_handler(void **state)
{
	uint16_t got = 0;
	struct sip_tsx_req_prm prm = {
	    .req = PL(INVITE), .dst = h_dst(false), .resp_h = term_h, .arg = &got};
	struct sip_tsx *tsx;
	size_t live = mem_live_count();

	(void)state;
	assert_int_equal(sip_tsx_request(&tsx, H.st, &prm), 0);
	assert_int_equal(h_recv(resp(486, "z9hG4bKc1", "INVITE", "b1"), false), 0);
	assert_int_equal(got, 486);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
	assert_int_equal(h_timers_pending(), 0);
	assert_int_equal(mem_live_count(), live);
}

/* Transitions are logged at debug on the sip layer, failures at error. */
struct log_scan {
	const char *needle;
	enum log_level level;
	bool found;
};

static int log_scan_h(const struct log_entry *e, void *arg)
{
	struct log_scan *ls = arg;

	if (e->layer == LOG_SIP && e->level == ls->level && strstr(e->text, ls->needle))
		ls->found = true;
	return 0;
}

static bool log_has(const char *needle, enum log_level level)
{
	struct log_scan ls = {.needle = needle, .level = level};
	struct log_ring_pos pos;
	uint64_t first, next;

	log_ring_bounds(&first, &next);
	assert_int_equal(log_ring_read(first, SIZE_MAX, log_scan_h, &ls, &pos), 0);
	return ls.found;
}

static void test_transitions_logged(void **state)
{
	struct log_prm prm = {.options = "sip.level=debug"};
	char err[256];

	(void)state;
	assert_int_equal(log_init(&prm, err, sizeof(err)), 0);
	h_request(INVITE, false);
	assert_int_equal(h_recv(resp(180, "z9hG4bKc1", "INVITE", "b1"), false), 0);
	assert_true(
	    log_has("ict INVITE z9hG4bKc1: Calling -> Proceeding", LOG_LVL_DEBUG));
	H.send_err = EPIPE; /* the peer's doing: a warning */
	assert_int_equal(h_recv(resp(486, "z9hG4bKc1", "INVITE", "b1"), false), 0);
	assert_true(log_has("failed in Completed: Broken pipe", LOG_LVL_WARN));
	/* the failing ACK did not hide the final, and no 503 followed it */
	assert_int_equal(h_ev_count(H_EV_RESP), 2);
	assert_int_equal(h_ev_last(H_EV_RESP)->scode, 486);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
	assert_true(log_has("Completed -> Terminated", LOG_LVL_DEBUG));
	log_close();
}

/* Production timers: the stack on the real event loop. */
static void loop_resp_h(struct sip_tsx *tsx, const struct sip_msg *resp, uint16_t scode,
			void *arg)
{
	(void)tsx;
	(void)resp;
	*(uint16_t *)arg = scode;
	loop_stop();
}

static int loop_send_h(const struct sip_tsx_dst *dst, const void *data, size_t len,
		       void *arg)
{
	(void)dst;
	(void)data;
	(void)len;
	++*(unsigned *)arg;
	return 0;
}

static void loop_req_h(struct sip_tsx *tsx, const struct sip_msg *req, const void *ctx,
		       void *arg)
{
	(void)tsx;
	(void)req;
	(void)arg;
}

static void test_loop_timers(void **state)
{
	unsigned nsent = 0;
	uint16_t scode = 0;
	struct sip_tsx_env env = {
	    .send = loop_send_h, .send_arg = &nsent, .timer = &sip_tsx_timer_loop};
	struct sip_tsx_prm prm = {.t1_ms = 5, .t2_ms = 40, .t4_ms = 50};
	struct sip_tsx_req_prm rp = {.req = PL(OPTIONS),
				     .dst = h_dst(false),
				     .resp_h = loop_resp_h,
				     .arg = &scode};
	struct sip_tsx_stack *st;
	struct sip_tsx *tsx;
	uint64_t t0;

	(void)state;
	prm.tu.request_h = loop_req_h;
	assert_int_equal(loop_init(), 0);
	assert_int_equal(sip_tsx_stack_alloc(&st, &env, &prm), 0);
	sip_tsx_peer_prove(st, &rp.dst); /* retransmissions are this test's */
	t0 = loop_now_ms();
	assert_int_equal(sip_tsx_request(&tsx, st, &rp), 0);
	assert_int_equal(loop_run(), 0);
	/* Timer F = 64*T1 = 320 ms; E at 5, 15, 35, 75, 115, ... 315: 11 sends
	 * on time. On the real loop a late E (a loaded machine) shifts the
	 * later ones, so fewer may go before F, never more, and F is never
	 * early; the exact schedule is test_nict_timer_e_f_rfc's (fake clock). */
	assert_int_equal(scode, 408);
	assert_true(loop_now_ms() - t0 >= 320);
	assert_in_range(nsent, 2, 11);
	assert_int_equal(loop_timer_count(), 0);
	sip_tsx_stack_free(st);
	loop_close();
}

/* ---- destinations that never answered (sip_peer.h) ---- */

static int setup_unproven(void **state)
{
	(void)state;
	H.unproven = true;
	h_setup(500, 4000, 5000);
	H.unproven = false;
	return 0;
}

/* Sent once, no Timer E; Timer F still ends it. A provisional proves the
 * destination: Timer E runs (every T2, Proceeding), and so does the next
 * request's from its first send. */
static void test_nict_unproven(void **state)
{
	static const uint64_t rel[] = {0, 1600 + 4000, 1600 + 8000};
	struct sip_peers_stats ps;
	struct sip_tsx *tsx = h_request(OPTIONS, false);

	(void)state;
	h_advance(31999);
	assert_int_equal(h_sent_count("OPTIONS "), 1);
	h_advance(1);
	assert_int_equal(h_ev_last(H_EV_RESP)->scode, 408);
	/* the same again (a new branch), answered 100 after 1.6 s */
	h_sent_clear();
	rbuf[0] = 0;
	{
		char req[sizeof(OPTIONS) + 8];
		char *b;

		memcpy(req, OPTIONS, sizeof(OPTIONS));
		b = strstr(req, "z9hG4bKn1");
		b[8] = '2';
		tsx = h_request(req, false);
	}
	h_advance(1600);
	assert_int_equal(h_sent_count("OPTIONS "), 1);
	assert_int_equal(h_recv(resp(100, "z9hG4bKn2", "OPTIONS", NULL), false), 0);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_PROCEEDING);
	h_advance(8000);
	{
		uint64_t got[4];

		assert_int_equal(h_sent_times("OPTIONS ", got, 4), 3);
		for (size_t i = 0; i < 3; i++)
			assert_int_equal(got[i] - got[0], rel[i]);
	}
	assert_int_equal(h_recv(resp(200, "z9hG4bKn2", "OPTIONS", NULL), false), 0);
	h_advance(5000);
	/* proven now: a new request retransmits from T1 on */
	h_sent_clear();
	h_request(INVITE, false);
	h_advance(1600);
	assert_int_equal(h_sent_count("INVITE "), 3); /* 0, 500, 1500 */
	sip_tsx_peer_stats(H.st, &ps);
	assert_int_equal(ps.unproven, 2);
	assert_int_equal(ps.refused, 0);
	assert_true(ps.proofs >= 2);
}

/* An INVITE to an unproven destination: one send, Timer B ends it. */
static void test_ict_unproven(void **state)
{
	(void)state;
	h_request(INVITE, false);
	h_advance(32000);
	assert_int_equal(h_sent_count("INVITE "), 1);
	assert_int_equal(h_ev_last(H_EV_RESP)->scode, 408);
}

/* The bytes of new requests to an unproven IP: SIP_PEER_BUDGET_BURST at
 * once, then SIP_PEER_BUDGET_RATE a second; a request over it is not sent
 * and its transaction fails with 503 from the loop. Reliable transports
 * are not bounded. */
/* OPTIONS above with the branch z9hG4bK<c><i, 4 digits> into buf. */
static const char *options_branch(char *buf, size_t size, char c, size_t i)
{
	const char *at = strstr(OPTIONS, "z9hG4bKn1");
	size_t head = (size_t)(at - OPTIONS);

	memcpy(buf, OPTIONS, head);
	snprintf(buf + head, size - head, "z9hG4bK%c%04zu%s", c, i, at + 9);
	return buf;
}

static void test_unproven_budget(void **state)
{
	/* each request below: OPTIONS with a branch 3 characters longer */
	size_t len = strlen(OPTIONS) + 3, n = SIP_PEER_BUDGET_BURST / len, sent;
	struct sip_peers_stats ps;
	char req[sizeof(OPTIONS) + 16];

	(void)state;
	for (size_t i = 0; i <= n; i++)
		assert_non_null(h_request(options_branch(req, sizeof(req), 'b', i), false));
	sent = H.nsent_total; /* h_sent_count sees the first H_MAX_EVENTS */
	assert_true(sent >= n - 1 && sent <= n);
	h_advance(0);
	assert_int_equal(h_ev_count(H_EV_RESP), n + 1 - sent);
	assert_int_equal(h_ev_last(H_EV_RESP)->scode, 503);
	sip_tsx_peer_stats(H.st, &ps);
	assert_int_equal(ps.unproven, sent);
	assert_int_equal(ps.refused, n + 1 - sent);
	/* over TCP: no budget */
	memcpy(req, OPTIONS, sizeof(OPTIONS));
	assert_non_null(h_request(req, true));
	assert_int_equal(H.nsent_total, sent + 1);
	/* a second later, about SIP_PEER_BUDGET_RATE bytes more */
	h_advance(1000);
	h_sent_clear();
	for (size_t i = 0; i < 2 * SIP_PEER_BUDGET_RATE / len + 2; i++)
		assert_non_null(h_request(options_branch(req, sizeof(req), 'c', i), false));
	assert_int_equal(h_sent_count("OPTIONS "),
			 (SIP_PEER_BUDGET_BURST - sent * len + SIP_PEER_BUDGET_RATE) / len);
	h_advance(40000);
}

/* A non-INVITE client transaction waits for its final response with the
 * bytes it sends, not a decoded copy of its request (a struct sip_msg is
 * 3.5 KB; bench/RESULTS.md, sms: thousands waiting filled the byte bound):
 * it costs less than one struct sip_msg, Timer E sends the same bytes, and
 * the TU still reads the request, decoded when asked, also once Timer F
 * has ended the transaction (the registrar reads a failed NOTIFY's). */
static void test_nict_keeps_bytes_not_request(void **state)
{
	struct sip_tsx *tsx = h_request(OPTIONS, false);
	const struct sip_msg *m;

	(void)state;
	assert_non_null(tsx);
	mem_ref(tsx);
	assert_true(sip_tsx_stack_bytes(H.st) > strlen(OPTIONS));
	assert_true(sip_tsx_stack_bytes(H.st) < sizeof(struct sip_msg));
	h_advance(500); /* Timer E */
	assert_int_equal(h_sent_count("OPTIONS "), 2);
	assert_int_equal(H.sent[1].len, strlen(OPTIONS));
	assert_memory_equal(H.sent[1].data, OPTIONS, strlen(OPTIONS));
	h_advance(31500); /* Timer F */
	assert_int_equal(h_ev_last(H_EV_RESP)->scode, 408);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_TERMINATED);
	assert_int_equal(sip_tsx_stack_bytes(H.st), 0);
	m = sip_tsx_req(tsx);
	assert_non_null(m);
	assert_int_equal(m->meth, SIP_METHOD_OPTIONS);
	assert_int_equal(m->raw.l, strlen(OPTIONS));
	mem_deref(tsx);

	/* asked while live: decoded then, and counted while held */
	tsx = h_request(OPTIONS, false);
	assert_non_null(tsx);
	mem_ref(tsx);
	m = sip_tsx_req(tsx);
	assert_non_null(m);
	assert_int_equal(m->meth, SIP_METHOD_OPTIONS);
	assert_true(sip_tsx_stack_bytes(H.st) > sizeof(struct sip_msg));
	/* the final response drops both: Completed keeps the key only, in a
	 * finished record (sip_tsx_done.c) */
	assert_int_equal(h_recv(resp(200, "z9hG4bKn1", "OPTIONS", "b1"), false), 0);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_TERMINATED);
	assert_true(sip_tsx_stack_bytes(H.st) < 128);
	mem_deref(tsx);
}

#define T(f, s) cmocka_unit_test_setup_teardown(f, s, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_ict_timer_a_b_rfc, setup_rfc),
	    T(test_ict_timer_a_b_manual, setup_manual),
	    T(test_ict_reliable_no_retransmit, setup_rfc),
	    T(test_ict_proceeding_completed_udp, setup_rfc),
	    T(test_ict_ack_headers, setup_rfc),
	    T(test_ict_completed_reliable, setup_rfc),
	    T(test_ict_accepted, setup_rfc),
	    T(test_ict_accepted_reliable, setup_rfc),
	    T(test_ict_transport_error, setup_rfc),
	    T(test_ict_cancel, setup_rfc),
	    T(test_client_bad_requests, setup_rfc),
	    T(test_nict_timer_e_f_rfc, setup_rfc),
	    T(test_nict_timer_e_f_manual, setup_manual),
	    T(test_nict_keeps_bytes_not_request, setup_rfc),
	    T(test_nict_proceeding, setup_rfc),
	    T(test_nict_completed_udp, setup_rfc),
	    T(test_nict_proceeding_completed_reliable, setup_rfc),
	    T(test_nict_timeout_reliable, setup_rfc),
	    T(test_client_terminate_in_handler, setup_rfc),
	    T(test_transitions_logged, setup_rfc),
	    T(test_nict_unproven, setup_unproven),
	    T(test_ict_unproven, setup_unproven),
	    T(test_unproven_budget, setup_unproven),
	    cmocka_unit_test(test_loop_timers),
	};

	return cmocka_run_group_tests_name("sip_tsx_client", tests, NULL, NULL);
}
