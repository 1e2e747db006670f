/*
 * b2bua unit tests of the early dialogs and reliable provisionals across
 * the two legs (b2bua_early.c, b2bua_prack.c), over loopback with plain
 * UDP sockets as phones:
 * - a caller's INVITE without SDP, the callee's reliable 183 with the
 *   offer: imsd PRACKs it only when the caller PRACKs its own reliable
 *   183, with the caller's SDP answer in it (RFC 3262 §5, RFC 3264);
 * - the callee's 2xx while the caller's reliable 183 with SDP is not
 *   PRACKed: held until the PRACK (RFC 3262 §3), or 500 and BYE when it
 *   never comes;
 * - the callee's UPDATE in the early dialog, then its 2xx repeating that
 *   SDP: relayed with the SDP the caller has (no 488);
 * - forking with two early dialogs: an UPDATE from either branch relayed to
 *   the caller, the caller's UPDATE going to the branch that spoke last,
 *   a failed branch's early dialog ended, the winner's CSeq kept;
 * - forking to a binding on IPv4 and one on IPv6: each branch's offer on
 *   imsd's relay address of its family, and RTP between the IPv4 caller and
 *   the IPv6 branch that answered.
 * With and without the relay where SDP matters.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "b2bua/b2bua.h"
#include "b2bua_harness.h"
#include "core/mem.h"
#include "sip/sip_hdr.h"
#include "sip/sip_msg.h"

const char *CFG =
    "{'sip_addr': '127.0.0.1:5060', 'domain': 'ims.test', 'timer_t1': 0.05,"
    " 'timer_t2': 0.4, 'dialog_timeout': 30,"
    " 'ue_db': ["
    "{'imsi': '001010000000001', 'impi': 'alice@ims.test', 'authent_type': 'none',"
    " 'impu': ['sip:alice']},"
    "{'imsi': '001010000000002', 'impi': 'bob@ims.test', 'authent_type': 'none',"
    " 'impu': ['sip:bob']}]}";

static const char SDP_B[] = "v=0\r\no=b 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
			    "t=0 0\r\nm=audio 5000 RTP/AVP 0\r\n";

/* alice's INVITE to bob (extra header lines; body SDP or NULL). */
static void invite(struct ue *a, const char *extra, const char *body)
{
	char r[4096];

	snprintf(r, sizeof(r),
		 "INVITE sip:bob@ims.test SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKe%d;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:alice@ims.test>;tag=a1\r\n"
		 "To: <sip:bob@ims.test>\r\nCall-ID: early@t\r\nCSeq: 1 INVITE\r\n"
		 "Contact: <sip:alice@127.0.0.1:%u>\r\n%s%sContent-Length: %zu\r\n\r\n%s",
		 a->port, ++T.cseq, a->port, extra ? extra : "",
		 body ? "Content-Type: application/sdp\r\n" : "", body ? strlen(body) : 0,
		 body ? body : "");
	ue_send(a, r);
}

/* The next message u gets that is not a 183 (a reliable 183 is sent again
 * until its PRACK). */
static struct sip_msg *recv_no183(struct ue *u)
{
	struct sip_msg *m = ue_recv_skip(u);

	while (!m->req && m->scode == 183) {
		mem_deref(m);
		m = ue_recv_skip(u);
	}
	return m;
}

/* The RAck header value a PRACK of reliable 1xx m needs. */
static void rack_of(const struct sip_msg *m, char *buf, size_t size)
{
	snprintf(buf, size, "RAck: %s 1 INVITE\r\n", hdr(m, "RSeq"));
}

static void prack_answer(bool relay)
{
	struct ue a, b;
	struct sip_msg *inv, *m, *r183, *pr;
	char rack[64];

	ue_open(&a, "alice");
	ue_open(&b, "bob");
	ue_register(&a);
	ue_register(&b);
	invite(&a, "Supported: 100rel\r\n", NULL);
	inv = ue_recv(&b);
	assert_true(inv->req && !inv->body.l);
	/* bob's reliable 183 with the offer */
	answer_x(&b, inv, 183, "Session Progress", "b1", "Require: 100rel\r\nRSeq: 7\r\n",
		 SDP_B);
	r183 = ue_recv_skip(&a);
	assert_int_equal(r183->scode, 183);
	assert_non_null(hdr(r183, "RSeq"));
	assert_true(pl_casefind(r183->body, "m=audio ") >= 0);
	/* imsd's PRACK waits for alice's answer */
	ue_quiet(&b, 150);
	rack_of(r183, rack, sizeof(rack));
	ue_req_caller(&a, r183, "PRACK", 2, rack, SDP);
	m = recv_no183(&a);
	assert_int_equal(m->scode, 200); /* the PRACK's */
	assert_non_null(strstr(hdr(m, "CSeq"), "PRACK"));
	mem_deref(m);
	pr = ue_recv(&b);
	assert_true(pr->req && pr->meth == SIP_METHOD_PRACK);
	assert_string_equal(hdr(pr, "RAck"), "7 1 INVITE");
	/* alice's answer, through the relay (its port) or as it came */
	assert_true(pl_casefind(pr->body, "m=audio ") >= 0);
	assert_true((pl_casefind(pr->body, "m=audio 4000 ") >= 0) == !relay);
	answer(&b, pr, 200, "OK", NULL, NULL);
	mem_deref(pr);
	/* retransmissions of bob's 183 are not PRACKed again */
	answer_x(&b, inv, 183, "Session Progress", "b1", "Require: 100rel\r\nRSeq: 7\r\n",
		 SDP_B);
	ue_quiet(&b, 100);
	answer(&b, inv, 200, "OK", "b1", NULL);
	m = recv_no183(&a);
	assert_int_equal(m->scode, 200);
	ue_req_caller(&a, m, "ACK", 1, NULL, NULL);
	mem_deref(m);
	ue_expect_req(&b, SIP_METHOD_ACK);
	assert_int_equal(b2bua_dialog_stop(T.b2b, 1), 0);
	mem_deref(r183);
	mem_deref(inv);
	ue_close(&a);
	ue_close(&b);
}

static void test_prack_answer(void **state)
{
	(void)state;
	prack_answer(false);
}

static void test_prack_answer_relay(void **state)
{
	(void)state;
	prack_answer(true);
}

enum held_end { HELD_PRACK, HELD_NO_PRACK, HELD_CANCEL };

/* RFC 3262 §3: bob (no 100rel) sends 183 with SDP then 200 at once; alice
 * (Supported: 100rel: a 183 with SDP goes reliably) gets the 200 only
 * after her PRACK; HELD_NO_PRACK: she never PRACKs: 500, and BYE to bob;
 * HELD_CANCEL: she cancels instead: 200 to the CANCEL, 487 to the INVITE
 * (RFC 3261 §9.2: no final answer was sent), and BYE to bob. */
static void held_2xx(enum held_end how)
{
	struct ue a, b;
	struct sip_msg *inv, *m, *r183;
	char rack[64];
	int n183 = 0;

	ue_open(&a, "alice");
	ue_open(&b, "bob");
	ue_register(&a);
	ue_register(&b);
	invite(&a, "Supported: 100rel\r\n", SDP);
	inv = ue_recv(&b);
	answer(&b, inv, 183, "Session Progress", "b1", SDP_B);
	r183 = ue_recv_skip(&a);
	assert_int_equal(r183->scode, 183);
	answer(&b, inv, 200, "OK", "b1", SDP_B);
	/* only the 183 again (T1 50 ms, doubling), no 200 yet */
	for (int i = 0; i < 3; i++) {
		m = ue_recv(&a);
		assert_int_equal(m->scode, 183);
		mem_deref(m);
		n183++;
	}
	assert_true(n183 == 3);
	if (how == HELD_CANCEL) {
		char r[1024];

		snprintf(r, sizeof(r),
			 "CANCEL sip:bob@ims.test SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKe%d;rport\r\n"
			 "Max-Forwards: 70\r\nFrom: <sip:alice@ims.test>;tag=a1\r\n"
			 "To: <sip:bob@ims.test>\r\nCall-ID: early@t\r\nCSeq: 1 CANCEL\r\n"
			 "Content-Length: 0\r\n\r\n",
			 a.port, T.cseq);
		ue_send(&a, r);
		m = recv_no183(&a);
		assert_int_equal(m->scode, 200);
		assert_int_equal(sip_msg_cseq(m)->meth, SIP_METHOD_CANCEL);
		mem_deref(m);
	}
	if (how != HELD_PRACK) {
		for (;;) {
			m = ue_recv(&a);
			if (m->scode != 183)
				break;
			mem_deref(m);
		}
		assert_int_equal(m->scode, how == HELD_CANCEL ? 487 : 500);
		assert_int_equal(sip_msg_cseq(m)->meth, SIP_METHOD_INVITE);
		mem_deref(m);
		m = ue_recv_skip(&b); /* bob's 200 ACKed, then BYE */
		assert_true(m->req && m->meth == SIP_METHOD_ACK);
		mem_deref(m);
		m = ue_recv_skip(&b);
		assert_true(m->req && m->meth == SIP_METHOD_BYE);
		mem_deref(m);
		goto out;
	}
	rack_of(r183, rack, sizeof(rack));
	ue_req_caller(&a, r183, "PRACK", 2, rack, NULL);
	for (;;) { /* the PRACK's 200, then the INVITE's */
		m = ue_recv_skip(&a);
		if (m->scode == 200 && strstr(hdr(m, "CSeq"), "INVITE"))
			break;
		mem_deref(m);
	}
	assert_true(pl_casefind(m->body, "m=audio ") >= 0);
	ue_req_caller(&a, m, "ACK", 1, NULL, NULL);
	mem_deref(m);
	m = ue_recv_skip(&b); /* alice's ACK goes on to bob */
	assert_true(m->req && m->meth == SIP_METHOD_ACK);
	mem_deref(m);
	assert_int_equal(b2bua_dialog_stop(T.b2b, 1), 0);
out:
	mem_deref(r183);
	mem_deref(inv);
	ue_close(&a);
	ue_close(&b);
}

static void test_2xx_held_until_prack(void **state)
{
	(void)state;
	held_2xx(HELD_PRACK);
}

static void test_2xx_held_no_prack(void **state)
{
	(void)state;
	held_2xx(HELD_NO_PRACK);
}

static void test_2xx_held_cancelled(void **state)
{
	(void)state;
	held_2xx(HELD_CANCEL);
}

/* An UPDATE with SDP from u (the callee whose INVITE is inv, To tag tag)
 * reaches alice, who answers 200; u gets the 200. */
static void callee_update(struct ue *u, struct ue *a, const struct sip_msg *inv,
			  const char *tag, int cseq)
{
	struct sip_msg *m;

	ue_req_callee(u, inv, tag, "UPDATE", cseq, NULL, SDP_B);
	m = ue_recv_skip(a);
	assert_true(m->req && m->meth == SIP_METHOD_UPDATE);
	answer(a, m, 200, "OK", NULL, SDP);
	mem_deref(m);
	m = ue_recv_skip(u);
	assert_int_equal(m->scode, 200);
	assert_non_null(strstr(hdr(m, "CSeq"), "UPDATE"));
	mem_deref(m);
}

/* alice's UPDATE (in the early dialog of 1xx r) reaches `to`, which
 * answers 200; returns the UPDATE's CSeq number as `to` saw it. */
static uint32_t caller_update(struct ue *a, const struct sip_msg *r, struct ue *to,
			      int cseq)
{
	struct sip_msg *m;
	uint32_t n;

	ue_req_caller(a, r, "UPDATE", cseq, NULL, SDP);
	m = ue_recv_skip(to);
	assert_true(m->req && m->meth == SIP_METHOD_UPDATE);
	n = sip_msg_cseq(m)->num;
	answer(to, m, 200, "OK", NULL, SDP_B);
	mem_deref(m);
	ue_expect_scode(a, 200);
	return n;
}

/* The callee's UPDATE in the early dialog (offer from the callee, the
 * caller's answer), then the callee's 200 repeating the SDP of that
 * UPDATE: no new offer (RFC 3261 §13.2.1, RFC 3264 §8, the same o=
 * version), so the caller gets a 200 with the SDP it already has, not 488. */
static void update_then_repeat(bool relay)
{
	static const char SDP_B2[] = "v=0\r\no=b 1 2 IN IP4 127.0.0.1\r\ns=-\r\n"
				     "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5002 RTP/AVP 0\r\n";
	struct ue a, b;
	struct sip_msg *inv, *r183, *m, *up;
	uint16_t port;

	ue_open(&a, "alice");
	ue_open(&b, "bob");
	ue_register(&a);
	ue_register(&b);
	invite(&a, NULL, SDP);
	inv = ue_recv(&b);
	answer(&b, inv, 183, "Session Progress", "r1", SDP_B);
	r183 = ue_recv_skip(&a);
	assert_int_equal(r183->scode, 183);
	ue_req_callee(&b, inv, "r1", "UPDATE", 1, NULL, SDP_B2);
	up = ue_recv_skip(&a);
	assert_true(up->req && up->meth == SIP_METHOD_UPDATE);
	port = body_port(up);
	assert_true((port == 5002) == !relay);
	answer(&a, up, 200, "OK", NULL, SDP);
	mem_deref(up);
	ue_expect_scode(&b, 200);
	/* bob's 200 repeats the SDP of his UPDATE */
	answer(&b, inv, 200, "OK", "r1", SDP_B2);
	m = ue_recv_skip(&a);
	assert_int_equal(m->scode, 200);
	assert_non_null(strstr(hdr(m, "CSeq"), "INVITE"));
	assert_int_equal(body_port(m), port);
	assert_true(pl_casefind(m->body, "o=b 1 2 ") >= 0);
	ue_req_caller(&a, m, "ACK", 1, NULL, NULL);
	mem_deref(m);
	ue_expect_req(&b, SIP_METHOD_ACK);
	assert_int_equal(b2bua_dialog_stop(T.b2b, 1), 0);
	ue_expect_req(&b, SIP_METHOD_BYE);
	mem_deref(r183);
	mem_deref(inv);
	ue_close(&a);
	ue_close(&b);
}

static void test_update_repeat(void **state)
{
	(void)state;
	update_then_repeat(false);
}

static void test_update_repeat_relay(void **state)
{
	(void)state;
	update_then_repeat(true);
}

static void test_fork_early_dialogs(void **state)
{
	struct ue a, b1, b2;
	struct sip_msg *i1, *i2, *r1, *r2, *m;
	uint32_t n;

	(void)state;
	ue_open(&a, "alice");
	ue_open(&b1, "bob");
	ue_open(&b2, "bob");
	ue_register(&a);
	ue_register(&b1);
	ue_register(&b2);
	invite(&a, NULL, SDP);
	i1 = ue_recv(&b1);
	i2 = ue_recv(&b2);
	answer(&b1, i1, 183, "Session Progress", "x1", SDP_B);
	r1 = ue_recv_skip(&a);
	assert_int_equal(r1->scode, 183);
	answer(&b2, i2, 183, "Session Progress", "x2", SDP_B);
	r2 = ue_recv_skip(&a);
	assert_int_equal(r2->scode, 183);
	/* alice's UPDATE: to the branch that spoke last (b2) */
	caller_update(&a, r2, &b2, 2);
	/* b1's early dialog is still there: its UPDATE reaches alice... */
	callee_update(&b1, &a, i1, "x1", 1);
	/* ...and alice's next UPDATE goes to b1 (whose SDP she has now) */
	n = caller_update(&a, r2, &b1, 3);
	assert_int_equal(n, 2); /* b1's early dialog's own CSeq: 1 INVITE, 2 */
	/* b2 fails: its early dialog ends, b1's stays */
	answer(&b2, i2, 486, "Busy Here", "x2", NULL);
	m = ue_recv_skip(&b2); /* ACK of the 486 */
	assert_true(m->req && m->meth == SIP_METHOD_ACK);
	mem_deref(m);
	callee_update(&b1, &a, i1, "x1", 2);
	/* b1 answers (the offer/answer done in the early dialog: no SDP); the
	 * confirmed dialog keeps the early one's CSeq */
	answer(&b1, i1, 200, "OK", "x1", NULL);
	m = ue_recv_skip(&a);
	assert_int_equal(m->scode, 200);
	ue_req_caller(&a, m, "ACK", 1, NULL, NULL);
	mem_deref(m);
	ue_expect_req(&b1, SIP_METHOD_ACK);
	assert_int_equal(b2bua_dialog_stop(T.b2b, 1), 0);
	m = ue_recv_skip(&b1);
	assert_true(m->req && m->meth == SIP_METHOD_BYE);
	assert_int_equal(sip_msg_cseq(m)->num, 3);
	mem_deref(m);
	mem_deref(r1);
	mem_deref(r2);
	mem_deref(i1);
	mem_deref(i2);
	ue_close(&a);
	ue_close(&b1);
	ue_close(&b2);
}

/* An RTP packet from src to port of imsd's address of src's family; true
 * when dst gets it. */
static bool rtp_through(struct ue *src, uint16_t port, struct ue *dst)
{
	struct sockaddr_in to = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons(port)};
	struct sockaddr_in6 to6 = {.sin6_family = AF_INET6,
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT,
				   .sin6_port = htons(port)};
	unsigned char pkt[172] = {0x80, 0x00, 0x00, 0x01}, back[2048];
	ssize_t n = src->v6 ? sendto(src->fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&to6,
				     sizeof(to6))
			    : sendto(src->fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&to,
				     sizeof(to));

	assert_true(n == (ssize_t)sizeof(pkt));
	for (int i = 0; i < 500 && !readable(dst->fd); i++)
		run_once(1);
	return readable(dst->fd) && recv(dst->fd, back, sizeof(back), 0) == (ssize_t)sizeof(pkt);
}

static void test_fork_two_families(void **state)
{
	struct ue a, b4, b6, ra, r6;
	struct sip_msg *i4, *i6, *m;
	char sa[256], s6[256];

	(void)state;
	ue_open(&a, "alice");
	ue_open(&b4, "bob");
	ue_open6(&b6, "bob");
	ue_open(&ra, "rtpa");
	ue_open6(&r6, "rtp6");
	ue_register(&a);
	ue_register(&b4);
	ue_register(&b6);
	snprintf(sa, sizeof(sa),
		 "v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
		 "t=0 0\r\nm=audio %u RTP/AVP 0\r\n",
		 ra.port);
	invite(&a, NULL, sa);
	i4 = ue_recv(&b4);
	i6 = ue_recv(&b6);
	/* each branch gets the relay's address of its own family */
	assert_true(pl_casefind(i4->body, "c=IN IP4 127.0.0.1") >= 0);
	assert_true(pl_casefind(i6->body, "c=IN IP6 ::1") >= 0);
	assert_true(body_port(i4) >= T_port_lo && body_port(i6) >= T_port_lo);
	answer(&b4, i4, 180, "Ringing", "f4", NULL);
	ue_expect_scode(&a, 180);
	snprintf(s6, sizeof(s6),
		 "v=0\r\no=b 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\n"
		 "t=0 0\r\nm=audio %u RTP/AVP 0\r\n",
		 r6.port);
	answer(&b6, i6, 200, "OK", "f6", s6);
	m = ue_recv_skip(&a);
	assert_int_equal(m->scode, 200);
	assert_true(pl_casefind(m->body, "c=IN IP4 127.0.0.1") >= 0);
	ue_req_caller(&a, m, "ACK", 1, NULL, NULL);
	/* RTP: the IPv4 caller and the IPv6 callee through the relay */
	assert_true(rtp_through(&ra, body_port(m), &r6));
	assert_true(rtp_through(&r6, body_port(i6), &ra));
	mem_deref(m);
	m = ue_recv_skip(&b4); /* the IPv4 branch: CANCEL */
	assert_true(m->req && m->meth == SIP_METHOD_CANCEL);
	mem_deref(m);
	assert_int_equal(b2bua_dialog_stop(T.b2b, 1), 0);
	mem_deref(i4);
	mem_deref(i6);
	ue_close(&a);
	ue_close(&b4);
	ue_close(&b6);
	ue_close(&ra);
	ue_close(&r6);
}

/* An audio SDP of user on port. */
static void port_sdp(char *buf, size_t size, const char *user, uint16_t port)
{
	snprintf(buf, size,
		 "v=0\r\no=%s 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
		 "t=0 0\r\nm=audio %u RTP/AVP 0\r\n",
		 user, port);
}

/* Forking to two bindings of one family (the relay's callee side shared):
 * both send 183 with SDP, the caller's RTP reaches the branch that spoke
 * last (its early media); the other branch answers 200 without SDP: the
 * relay's callee side is its again (the caller's 200 carries its SDP on
 * the same relay port), the caller's RTP reaches it and its RTP the
 * caller; then the same with the answer's SDP repeating the branch's 183
 * after the other branch's UPDATE (no 488). */
static void fork_shared(bool with_update)
{
	struct ue a, b1, b2, ra, r1, r2;
	struct sip_msg *i1, *i2, *p1, *p2, *m;
	char sa[256], s1[256], s2[256];
	uint16_t relay_a, relay_b;

	ue_open(&a, "alice");
	ue_open(&b1, "bob");
	ue_open(&b2, "bob");
	ue_open(&ra, "rtpa");
	ue_open(&r1, "rtp1");
	ue_open(&r2, "rtp2");
	ue_register(&a);
	ue_register(&b1);
	ue_register(&b2);
	port_sdp(sa, sizeof(sa), "alice", ra.port);
	port_sdp(s1, sizeof(s1), "b1", r1.port);
	port_sdp(s2, sizeof(s2), "b2", r2.port);
	invite(&a, NULL, sa);
	i1 = ue_recv(&b1);
	i2 = ue_recv(&b2);
	relay_b = body_port(i1);
	assert_int_equal(body_port(i2), relay_b); /* one callee side */
	answer(&b1, i1, 183, "Session Progress", "f1", s1);
	p1 = ue_recv_skip(&a);
	assert_int_equal(p1->scode, 183);
	answer(&b2, i2, 183, "Session Progress", "f2", s2);
	p2 = ue_recv_skip(&a);
	assert_int_equal(p2->scode, 183);
	relay_a = body_port(p2);
	/* early media: to the branch that spoke last */
	assert_true(rtp_through(&ra, relay_a, &r2));
	if (with_update) { /* b2's UPDATE: the relay's last exchange its */
		ue_req_callee(&b2, i2, "f2", "UPDATE", 1, NULL, s2);
		m = ue_recv_skip(&a);
		assert_true(m->req && m->meth == SIP_METHOD_UPDATE);
		answer(&a, m, 200, "OK", NULL, sa);
		mem_deref(m);
		m = ue_recv_skip(&b2);
		assert_int_equal(m->scode, 200);
		mem_deref(m);
	}
	/* b1 answers: without SDP, or repeating its 183's */
	answer(&b1, i1, 200, "OK", "f1", with_update ? s1 : NULL);
	m = ue_recv_skip(&a);
	assert_int_equal(m->scode, 200);
	assert_int_equal(body_port(m), relay_a);
	assert_true(pl_casefind(m->body, "o=b1 ") >= 0);
	ue_req_caller(&a, m, "ACK", 1, NULL, NULL);
	mem_deref(m);
	m = ue_recv_skip(&b2); /* the loser's CANCEL */
	assert_true(m->req && m->meth == SIP_METHOD_CANCEL);
	answer(&b2, m, 200, "OK", NULL, NULL);
	answer(&b2, i2, 487, "Request Terminated", "f2", NULL);
	mem_deref(m);
	assert_true(rtp_through(&ra, relay_a, &r1));
	assert_false(readable(r2.fd));
	assert_true(rtp_through(&r1, relay_b, &ra));
	assert_int_equal(b2bua_dialog_stop(T.b2b, 1), 0);
	mem_deref(p1);
	mem_deref(p2);
	mem_deref(i1);
	mem_deref(i2);
	ue_close(&a);
	ue_close(&b1);
	ue_close(&b2);
	ue_close(&ra);
	ue_close(&r1);
	ue_close(&r2);
}

static void test_fork_shared_side(void **state)
{
	(void)state;
	fork_shared(false);
}

static void test_fork_shared_side_update(void **state)
{
	(void)state;
	fork_shared(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_prack_answer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prack_answer_relay, setup_relay, teardown),
	    cmocka_unit_test_setup_teardown(test_2xx_held_until_prack, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_2xx_held_no_prack, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_2xx_held_cancelled, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_update_repeat, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_update_repeat_relay, setup_relay, teardown),
	    cmocka_unit_test_setup_teardown(test_fork_early_dialogs, setup_relay, teardown),
	    cmocka_unit_test_setup_teardown(test_fork_two_families, setup_dual, teardown),
	    cmocka_unit_test_setup_teardown(test_fork_shared_side, setup_relay, teardown),
	    cmocka_unit_test_setup_teardown(test_fork_shared_side_update, setup_relay, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
