/*
 * Unit tests: server transactions (RFC 3261 §17.2, RFC 6026 §8.5-§8.7) with
 * the fake clock: every state transition over unreliable and reliable
 * transports, the 100 Trying, Timer G schedule, Timers H, I, J, L,
 * retransmitted requests absorbed with the last response resent, TU
 * replies refused in the wrong state, transport errors.
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

#define INVITE                                                                           \
	"INVITE sip:bob@ims.test SIP/2.0\r\n"                                            \
	"Via: SIP/2.0/UDP ue.ims.test:5060;branch=z9hG4bKs1\r\n"                         \
	"Max-Forwards: 70\r\n"                                                           \
	"From: <sip:alice@ims.test>;tag=a1\r\n"                                          \
	"To: <sip:bob@ims.test>\r\n"                                                     \
	"Call-ID: srv1@ims.test\r\n"                                                     \
	"CSeq: 7 INVITE\r\n"                                                             \
	"Timestamp: 54\r\n"                                                              \
	"Content-Length: 0\r\n\r\n"

#define ACK_OF(totag, branch)                                                            \
	"ACK sip:bob@ims.test SIP/2.0\r\n"                                               \
	"Via: SIP/2.0/UDP ue.ims.test:5060;branch=" branch "\r\n"                        \
	"Max-Forwards: 70\r\n"                                                           \
	"From: <sip:alice@ims.test>;tag=a1\r\n"                                          \
	"To: <sip:bob@ims.test>;tag=" totag "\r\n"                                       \
	"Call-ID: srv1@ims.test\r\n"                                                     \
	"CSeq: 7 ACK\r\n"                                                                \
	"Content-Length: 0\r\n\r\n"

#define REGISTER                                                                         \
	"REGISTER sip:ims.test SIP/2.0\r\n"                                              \
	"Via: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bKr1;rport\r\n"                     \
	"Max-Forwards: 70\r\n"                                                           \
	"From: <sip:alice@ims.test>;tag=a1\r\n"                                          \
	"To: <sip:alice@ims.test>\r\n"                                                   \
	"Call-ID: reg1@ims.test\r\n"                                                     \
	"CSeq: 1 REGISTER\r\n"                                                           \
	"Contact: <sip:alice@192.0.2.7>\r\n"                                             \
	"Content-Length: 0\r\n\r\n"

static int setup_rfc(void **state)
{
	(void)state;
	h_setup(500, 4000, 5000);
	return 0;
}

static int setup_manual(void **state)
{
	(void)state;
	h_setup(2000, 16000, 17000);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	h_teardown();
	return 0;
}

static struct sip_tsx *recv_new(const char *text, bool reliable)
{
	size_t before = h_ev_count(H_EV_REQ);

	assert_int_equal(h_recv(text, reliable), 0);
	assert_int_equal(h_ev_count(H_EV_REQ), before + 1);
	return H.last_tsx;
}

static void expect_times(const char *prefix, const uint64_t *rel, size_t n, uint64_t base)
{
	uint64_t got[H_MAX_EVENTS];
	size_t k = h_sent_times(prefix, got, H_MAX_EVENTS);

	assert_int_equal(k, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(got[i] - base, rel[i]);
}

/* ---- INVITE server ---- */

/* §17.2.1: a 100 after 200 ms of TU silence, retransmissions answered with
 * the last provisional. */
static void test_ist_trying_and_provisional(void **state)
{
	struct sip_tsx *tsx = recv_new(INVITE, false);
	char line[256];

	(void)state;
	assert_int_equal(sip_tsx_kind(tsx), SIP_TSX_IST);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_PROCEEDING);
	assert_string_equal(H.ev[0].method, "INVITE");
	/* retransmission before any response: absorbed, not passed up */
	assert_int_equal(h_recv(INVITE, false), 0);
	assert_int_equal(H.nsent, 0);
	assert_int_equal(h_ev_count(H_EV_REQ), 1);
	h_advance(199);
	assert_int_equal(H.nsent, 0);
	h_advance(1);
	assert_int_equal(h_sent_count("SIP/2.0 100 Trying\r\n"), 1);
	/* the 100 has no To tag and carries Timestamp (§8.2.6.1) */
	assert_string_equal(h_hdr_of(H.sent[0].data, "To", line, sizeof(line)),
			    "To: <sip:bob@ims.test>");
	assert_string_equal(h_hdr_of(H.sent[0].data, "Timestamp", line, sizeof(line)),
			    "Timestamp: 54");
	assert_int_equal(h_recv(INVITE, false), 0);
	assert_int_equal(h_sent_count("SIP/2.0 100 "), 2);
	assert_int_equal(sip_tsx_reply(tsx, 180, NULL, NULL), 0);
	assert_int_equal(h_sent_count("SIP/2.0 180 Ringing\r\n"), 1);
	assert_int_equal(h_recv(INVITE, false), 0);
	assert_int_equal(h_sent_count("SIP/2.0 180 "), 2);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_PROCEEDING);
	/* the 180 carries the transaction's To tag */
	snprintf(line, sizeof(line), "To: <sip:bob@ims.test>;tag=%.*s",
		 (int)sip_tsx_to_tag(tsx).l, sip_tsx_to_tag(tsx).p);
	{
		char got[256];

		assert_string_equal(
		    h_hdr_of(H.sent[H.nsent - 1].data, "To", got, sizeof(got)), line);
	}
	assert_int_equal(h_ev_count(H_EV_REQ), 1);
}

/* No 100 when the TU answers within 200 ms. */
static void test_ist_no_trying_when_tu_answers(void **state)
{
	(void)state;
	H.auto_reply = 183;
	recv_new(INVITE, false);
	h_advance(1000);
	assert_int_equal(h_sent_count("SIP/2.0 100 "), 0);
	assert_int_equal(h_sent_count("SIP/2.0 183 "), 1);
}

/* Completed: Timer G from T1 doubling up to T2; Timer H = 64*T1 without
 * ACK fails the transaction; retransmitted INVITE gets the final. */
static void test_ist_completed_timer_g_h(void **state)
{
	static const uint64_t rel[] = {0,     500,   1500,  3500,  7500, 11500,
				       15500, 19500, 23500, 27500, 31500};
	struct sip_tsx *tsx;
	uint64_t id, base;

	(void)state;
	H.auto_reply = 486;
	tsx = recv_new(INVITE, false);
	id = sip_tsx_id(tsx);
	base = H.now;
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_COMPLETED);
	assert_int_equal(sip_tsx_scode(tsx), 486);
	assert_int_equal(sip_tsx_reply(tsx, 200, NULL, NULL), EPROTO);
	assert_int_equal(sip_tsx_reply(tsx, 180, NULL, NULL), EPROTO);
	h_advance(31999);
	assert_int_equal(h_ev_count(H_EV_SERR), 0);
	assert_int_equal(h_recv(INVITE, false), 0); /* answered with the 486 */
	h_advance(1);
	assert_int_equal(h_ev_count(H_EV_SERR), 1);
	assert_int_equal(h_ev_last(H_EV_SERR)->err, ETIMEDOUT);
	assert_int_equal(h_ev_last(H_EV_SERR)->tsx_id, id);
	assert_null(sip_tsx_lookup(H.st, id));
	/* 11 timed sends + the one answering the retransmission at 31999 */
	assert_int_equal(h_sent_count("SIP/2.0 486 "), 12);
	{
		uint64_t got[H_MAX_EVENTS];
		size_t k = h_sent_times("SIP/2.0 486 ", got, H_MAX_EVENTS), j = 0;

		for (size_t i = 0; i < k; i++)
			if (got[i] - base != 31999)
				assert_int_equal(got[i] - base, rel[j++]);
		assert_int_equal(j, 11);
	}
	assert_int_equal(h_timers_pending(), 0);
}

static void test_ist_timer_g_manual(void **state)
{
	static const uint64_t rel[] = {0,     2000,  6000,  14000,  30000, 46000,
				       62000, 78000, 94000, 110000, 126000};

	(void)state;
	H.auto_reply = 503;
	recv_new(INVITE, false);
	h_advance(128000);
	expect_times("SIP/2.0 503 ", rel, 11, 1000);
	assert_int_equal(h_ev_last(H_EV_SERR)->at, 1000 + 128000);
}

/* Completed --ACK--> Confirmed --I = T4--> Terminated. */
static void test_ist_confirmed_udp(void **state)
{
	struct sip_tsx *tsx;
	char ack[1024];
	uint64_t id;

	(void)state;
	tsx = recv_new(INVITE, false);
	id = sip_tsx_id(tsx);
	assert_int_equal(sip_tsx_reply(tsx, 404, "Nobody", NULL), 0);
	assert_int_equal(h_sent_count("SIP/2.0 404 Nobody\r\n"), 1);
	h_advance(600); /* one G retransmission at +500 */
	snprintf(ack, sizeof(ack), ACK_OF("%.*s", "z9hG4bKs1"),
		 (int)sip_tsx_to_tag(tsx).l, sip_tsx_to_tag(tsx).p);
	assert_int_equal(h_recv(ack, false), 0);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_CONFIRMED);
	assert_int_equal(h_ev_count(H_EV_ACK), 0); /* absorbed, not passed up */
	/* retransmitted ACK absorbed; INVITE retransmissions too */
	assert_int_equal(h_recv(ack, false), 0);
	assert_int_equal(h_recv(INVITE, false), 0);
	assert_int_equal(h_ev_count(H_EV_ACK), 0);
	assert_int_equal(h_ev_count(H_EV_REQ), 1);
	h_advance(4999);
	assert_int_equal(h_sent_count("SIP/2.0 404 "), 2); /* G stopped */
	assert_non_null(sip_tsx_lookup(H.st, id));
	h_advance(1);
	assert_null(sip_tsx_lookup(H.st, id));
	assert_int_equal(h_ev_count(H_EV_SERR), 0);
	assert_int_equal(h_timers_pending(), 0);
}

static void test_ist_confirmed_reliable(void **state)
{
	struct sip_tsx *tsx;
	char ack[1024];
	uint64_t id;

	(void)state;
	tsx = recv_new(INVITE, true);
	id = sip_tsx_id(tsx);
	assert_int_equal(sip_tsx_reply(tsx, 480, NULL, NULL), 0);
	h_advance(20000);
	assert_int_equal(h_sent_count("SIP/2.0 480 "), 1); /* no Timer G */
	snprintf(ack, sizeof(ack), ACK_OF("%.*s", "z9hG4bKs1"),
		 (int)sip_tsx_to_tag(tsx).l, sip_tsx_to_tag(tsx).p);
	assert_int_equal(h_recv(ack, true), 0);
	assert_null(sip_tsx_lookup(H.st, id)); /* Timer I = 0 */
	assert_int_equal(h_timers_pending(), 0);
}

static void test_ist_timer_h_reliable(void **state)
{
	(void)state;
	H.auto_reply = 486;
	recv_new(INVITE, true);
	h_advance(31999);
	assert_int_equal(h_ev_count(H_EV_SERR), 0);
	h_advance(1);
	assert_int_equal(h_ev_last(H_EV_SERR)->err, ETIMEDOUT);
	assert_int_equal(h_sent_count("SIP/2.0 486 "), 1);
}

/* RFC 6026 §8.5-§8.7: Accepted. */
static void test_ist_accepted(void **state)
{
	struct sip_tsx *tsx;
	uint64_t id;

	(void)state;
	tsx = recv_new(INVITE, false);
	id = sip_tsx_id(tsx);
	assert_int_equal(sip_tsx_reply(tsx, 200, NULL, NULL), 0);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_ACCEPTED);
	assert_int_equal(h_sent_count("SIP/2.0 200 OK\r\n"), 1);
	/* INVITE retransmissions absorbed silently; no automatic 2xx resend */
	h_advance(1000);
	assert_int_equal(h_recv(INVITE, false), 0);
	assert_int_equal(h_sent_count("SIP/2.0 200 "), 1);
	assert_int_equal(h_ev_count(H_EV_REQ), 1);
	/* the TU retransmits its 2xx through the transaction */
	assert_int_equal(sip_tsx_reply(tsx, 200, NULL, NULL), 0);
	assert_int_equal(h_sent_count("SIP/2.0 200 "), 2);
	assert_int_equal(sip_tsx_reply(tsx, 486, NULL, NULL), EPROTO);
	assert_int_equal(sip_tsx_reply(tsx, 180, NULL, NULL), EPROTO);
	/* an ACK matching the transaction is passed to the TU with it */
	assert_int_equal(h_recv(ACK_OF("x", "z9hG4bKs1"), false), 0);
	assert_int_equal(h_ev_last(H_EV_ACK)->tsx_id, id);
	/* the 2xx ACK of RFC 3261 has its own branch: stray ACK */
	assert_int_equal(h_recv(ACK_OF("x", "z9hG4bKother"), false), 0);
	assert_int_equal(h_ev_count(H_EV_ACK), 2);
	assert_int_equal(h_ev_last(H_EV_ACK)->tsx_id, 0);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_ACCEPTED);
	/* Timer L = 64*T1 */
	h_advance(32000 - 1000 - 1);
	assert_non_null(sip_tsx_lookup(H.st, id));
	h_advance(1);
	assert_null(sip_tsx_lookup(H.st, id));
	assert_int_equal(h_ev_count(H_EV_SERR), 0);
}

static void test_ist_accepted_reliable(void **state)
{
	(void)state;
	H.auto_reply = 200;
	recv_new(INVITE, true);
	h_advance(31999);
	assert_int_equal(sip_tsx_stack_count(H.st), 1);
	h_advance(1);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
}

/* §17.2.4: a send error ends the transaction and tells the TU. */
static void test_ist_transport_error(void **state)
{
	struct sip_tsx *tsx;

	(void)state;
	tsx = recv_new(INVITE, false);
	mem_ref(tsx);
	H.send_err = ENETUNREACH;
	assert_int_equal(sip_tsx_reply(tsx, 486, NULL, NULL), 0);
	assert_int_equal(h_ev_last(H_EV_SERR)->err, ENETUNREACH);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_TERMINATED);
	assert_int_equal(sip_tsx_reply(tsx, 486, NULL, NULL), EPROTO);
	mem_deref(tsx);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
	assert_int_equal(h_timers_pending(), 0);
	/* failing 100 Trying */
	H.send_err = 0;
	recv_new(INVITE, false);
	H.send_err = EPIPE;
	h_advance(200);
	assert_int_equal(h_ev_last(H_EV_SERR)->err, EPIPE);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
}

/* ---- non-INVITE server ---- */

static void test_nist_udp(void **state)
{
	struct sip_tsx *tsx;
	uint64_t id;

	(void)state;
	tsx = recv_new(REGISTER, false);
	id = sip_tsx_id(tsx);
	assert_int_equal(sip_tsx_kind(tsx), SIP_TSX_NIST);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_TRYING);
	/* Trying: retransmission absorbed, nothing to resend */
	h_advance(5000);
	assert_int_equal(h_recv(REGISTER, false), 0);
	assert_int_equal(H.nsent, 0);
	assert_int_equal(h_ev_count(H_EV_REQ), 1);
	/* Proceeding: the last provisional is resent */
	assert_int_equal(sip_tsx_reply(tsx, 100, NULL, NULL), 0);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_PROCEEDING);
	assert_int_equal(h_recv(REGISTER, false), 0);
	assert_int_equal(h_sent_count("SIP/2.0 100 "), 2);
	/* Completed: a slim record resends the final; the TU's transaction
	 * object is Terminated, further replies refused */
	mem_ref(tsx);
	assert_int_equal(sip_tsx_reply(tsx, 401, "Unauthorized", NULL), 0);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_TERMINATED);
	assert_int_equal(sip_tsx_reply(tsx, 200, NULL, NULL), EPROTO);
	mem_deref(tsx);
	assert_null(sip_tsx_lookup(H.st, id));
	assert_int_equal(h_recv(REGISTER, false), 0);
	assert_int_equal(h_sent_count("SIP/2.0 401 Unauthorized\r\n"), 2);
	assert_int_equal(h_ev_count(H_EV_REQ), 1);
	/* no retransmission by timer for non-INVITE finals */
	h_advance(31999);
	assert_int_equal(h_sent_count("SIP/2.0 401 "), 2);
	assert_int_equal(sip_tsx_stack_count(H.st), 1);
	/* Timer J = 64*T1 */
	h_advance(1);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
	/* after J a retransmission is a new request */
	assert_int_equal(h_recv(REGISTER, false), 0);
	assert_int_equal(h_ev_count(H_EV_REQ), 2);
}

/* sip_tsx_reply_prm.stateless: the final goes out and the transaction
 * ends at once (nothing kept for Timer J, no timer pending); the
 * retransmitted request is a new one for the TU. INVITE ignores it. */
static void test_nist_stateless_final(void **state)
{
	struct sip_tsx_reply_prm rp = {.stateless = true};
	struct sip_tsx *tsx;
	uint64_t id;

	(void)state;
	tsx = recv_new(REGISTER, false);
	id = sip_tsx_id(tsx);
	assert_int_equal(sip_tsx_reply(tsx, 100, NULL, &rp), 0); /* provisional: kept */
	assert_non_null(sip_tsx_lookup(H.st, id));
	assert_int_equal(sip_tsx_reply(tsx, 401, "Unauthorized", &rp), 0);
	assert_int_equal(h_sent_count("SIP/2.0 401 Unauthorized\r\n"), 1);
	assert_null(sip_tsx_lookup(H.st, id));
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
	assert_int_equal(h_recv(REGISTER, false), 0);
	assert_int_equal(h_ev_count(H_EV_REQ), 2);
	/* an INVITE final keeps its transaction (the ACK needs it) */
	tsx = recv_new(INVITE, false);
	id = sip_tsx_id(tsx);
	assert_int_equal(sip_tsx_reply(tsx, 486, NULL, &rp), 0);
	assert_non_null(sip_tsx_lookup(H.st, id));
}

/* A stateless final that cannot be built (over SIP_MSG_MAX_HARD) leaves
 * the NIST as it was: the TU's next final is kept for retransmissions. */
static void test_nist_stateless_final_not_built(void **state)
{
	struct sip_tsx_reply_prm rp = {.stateless = true};
	size_t n = SIP_MSG_MAX_HARD + 1000;
	char *big = malloc(n);
	struct sip_tsx *tsx;

	(void)state;
	assert_non_null(big);
	for (size_t i = 0; i + 10 <= n; i += 10)
		memcpy(big + i, "X-Big: 1\r\n", 10);
	rp.hdrs = (struct pl){big, n - n % 10};
	tsx = recv_new(REGISTER, false);
	assert_int_not_equal(sip_tsx_reply(tsx, 401, "Unauthorized", &rp), 0);
	free(big);
	assert_int_equal(h_sent_count("SIP/2.0 401 Unauthorized\r\n"), 0);
	assert_int_equal(sip_tsx_reply(tsx, 403, "Forbidden", NULL), 0);
	assert_int_equal(h_sent_count("SIP/2.0 403 Forbidden\r\n"), 1);
	/* the retransmitted request gets the 403 again, not the TU */
	assert_int_equal(h_recv(REGISTER, false), 0);
	assert_int_equal(h_sent_count("SIP/2.0 403 Forbidden\r\n"), 2);
	assert_int_equal(h_ev_count(H_EV_REQ), 1);
}

static void test_nist_timer_j_manual(void **state)
{
	(void)state;
	H.auto_reply = 200;
	recv_new(REGISTER, false);
	h_advance(127999);
	assert_int_equal(sip_tsx_stack_count(H.st), 1);
	h_advance(1);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
}

static void test_nist_reliable(void **state)
{
	struct sip_tsx *tsx;
	uint64_t id;

	(void)state;
	tsx = recv_new(REGISTER, true);
	id = sip_tsx_id(tsx);
	assert_int_equal(sip_tsx_reply(tsx, 183, NULL, NULL), 0);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_PROCEEDING);
	assert_int_equal(sip_tsx_reply(tsx, 200, NULL, NULL), 0);
	/* Timer J = 0 */
	assert_null(sip_tsx_lookup(H.st, id));
	assert_int_equal(h_timers_pending(), 0);
	assert_int_equal(h_sent_count("SIP/2.0 200 OK\r\n"), 1);
}

/* Replies with parameters and prebuilt buffers; responses go to the source. */
static void test_nist_reply_prm_and_buf(void **state)
{
	struct sip_tsx_reply_prm prm = {.to_tag = PL("mytag"),
					.hdrs = PL("Expires: 600\r\n"),
					.ctype = PL("text/plain"),
					.body = PL("hi")};
	struct sip_tsx *tsx;
	char line[256];
	const char *buf = "SIP/2.0 202 Taken\r\n"
			  "Via: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bKr1;rport\r\n"
			  "To: <sip:alice@ims.test>;tag=t\r\nContent-Length: 0\r\n\r\n";

	(void)state;
	tsx = recv_new(REGISTER, false);
	assert_int_equal(sip_tsx_reply(tsx, 99, NULL, NULL), EINVAL);
	assert_int_equal(sip_tsx_reply(tsx, 700, NULL, NULL), EINVAL);
	assert_int_equal(sip_tsx_reply_buf(tsx, "junk", 4), EBADMSG);
	assert_int_equal(sip_tsx_reply_buf(tsx, REGISTER, strlen(REGISTER)), EBADMSG);
	assert_int_equal(sip_tsx_reply(tsx, 183, NULL, &prm), 0);
	assert_string_equal(h_hdr_of(H.sent[0].data, "To", line, sizeof(line)),
			    "To: <sip:alice@ims.test>;tag=mytag");
	assert_string_equal(h_hdr_of(H.sent[0].data, "Expires", line, sizeof(line)),
			    "Expires: 600");
	assert_non_null(strstr(H.sent[0].data, "\r\n\r\nhi"));
	assert_int_equal(H.sent[0].conn, 3); /* the receiving transport handle */
	mem_ref(tsx);
	assert_int_equal(sip_tsx_reply_buf(tsx, buf, strlen(buf)), 0);
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_TERMINATED); /* slim record */
	assert_int_equal(sip_tsx_scode(tsx), 202);
	mem_deref(tsx);
	assert_string_equal(H.sent[1].data, buf);
	/* a client transaction takes no reply */
	{
		struct sip_tsx *c;
		struct sip_tsx_req_prm rp = {.dst = h_dst(true)};

		rp.req =
		    PL("OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKq\r\n"
		       "From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\n"
		       "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
		rp.resp_h = (sip_tsx_resp_h *)1;
		assert_int_equal(sip_tsx_request(&c, H.st, &rp), 0);
		assert_int_equal(sip_tsx_reply(c, 200, NULL, NULL), EINVAL);
		assert_int_equal(sip_tsx_reply_buf(c, buf, strlen(buf)), EINVAL);
	}
}

static void test_nist_transport_error(void **state)
{
	(void)state;
	H.send_err = ECONNRESET;
	H.auto_reply = 200;
	recv_new(REGISTER, true);
	assert_int_equal(h_ev_last(H_EV_SERR)->err, ECONNRESET);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
}

/* A TU answering later finds the transaction by id. */
static void test_async_reply_by_id(void **state)
{
	uint64_t id;

	(void)state;
	id = sip_tsx_id(recv_new(REGISTER, false));
	h_advance(3000); /* e.g. waiting for the HSS */
	assert_non_null(sip_tsx_lookup(H.st, id));
	assert_int_equal(sip_tsx_reply(sip_tsx_lookup(H.st, id), 200, NULL, NULL), 0);
	assert_int_equal(h_sent_count("SIP/2.0 200 "), 1);
	/* Completed over UDP is a slim record, no longer found by id */
	assert_null(sip_tsx_lookup(H.st, id));
	assert_int_equal(sip_tsx_stack_count(H.st), 1);
	h_advance(32000); /* Timer J */
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
	assert_int_equal(h_timers_pending(), 0);
}

/* Malformed input is refused without a transaction. */
static void test_server_bad_input(void **state)
{
	(void)state;
	assert_int_equal(h_recv("OPTIONS sip:x SIP/2.0\r\nCSeq: 1 OPTIONS\r\n"
				"Content-Length: 0\r\n\r\n",
				false),
			 EBADMSG);
	assert_int_equal(
	    h_recv("OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
		   "CSeq: x OPTIONS\r\nContent-Length: 0\r\n\r\n",
		   false),
	    EBADMSG);
	/* 2543 request without Call-ID */
	assert_int_equal(h_recv("OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n"
				"From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\n"
				"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
				false),
			 EBADMSG);
	assert_int_equal(h_recv("SIP/2.0 200 OK\r\nCSeq: 1 OPTIONS\r\n"
				"Content-Length: 0\r\n\r\n",
				false),
			 EBADMSG);
	assert_int_equal(sip_tsx_stack_count(H.st), 0);
	assert_int_equal(h_ev_count(H_EV_REQ), 0);
}

#define T(f, s) cmocka_unit_test_setup_teardown(f, s, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_ist_trying_and_provisional, setup_rfc),
	    T(test_ist_no_trying_when_tu_answers, setup_rfc),
	    T(test_ist_completed_timer_g_h, setup_rfc),
	    T(test_ist_timer_g_manual, setup_manual),
	    T(test_ist_confirmed_udp, setup_rfc),
	    T(test_ist_confirmed_reliable, setup_rfc),
	    T(test_ist_timer_h_reliable, setup_rfc),
	    T(test_ist_accepted, setup_rfc),
	    T(test_ist_accepted_reliable, setup_rfc),
	    T(test_ist_transport_error, setup_rfc),
	    T(test_nist_udp, setup_rfc),
	    T(test_nist_stateless_final, setup_rfc),
	    T(test_nist_stateless_final_not_built, setup_rfc),
	    T(test_nist_timer_j_manual, setup_manual),
	    T(test_nist_reliable, setup_rfc),
	    T(test_nist_reply_prm_and_buf, setup_rfc),
	    T(test_nist_transport_error, setup_rfc),
	    T(test_async_reply_by_id, setup_rfc),
	    T(test_server_bad_input, setup_rfc),
	};

	return cmocka_run_group_tests_name("sip_tsx_server", tests, NULL, NULL);
}
