/*
 * b2bua unit tests of dialog_set on a call between two phones (b2bua_ctl.c,
 * manual §6 dialog_set) over loopback with plain UDP sockets as phones:
 * hold toggled by imsd's re-INVITEs to both phones (RFC 3264 §8.4: each
 * with the SDP imsd last sent it, a=sendonly, the o= version up), the hold
 * of one media type, reinvite and downgrade on both legs, the o= version
 * of SDP relayed afterwards kept above imsd's (§8), the answers' media
 * given to the relay (a phone that moves its port is followed), and the
 * errors (EBUSY, EALREADY, EINVAL).
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
#include <unistd.h>

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

/* An audio+video SDP with its streams on port (and port + 2), version v. */
static void av_sdp(char *buf, size_t size, const char *user, uint16_t port, int v)
{
	snprintf(buf, size,
		 "v=0\r\no=%s 1 %d IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
		 "m=audio %u RTP/AVP 0\r\nm=video %u RTP/AVP 96\r\n"
		 "a=rtpmap:96 H264/90000\r\n",
		 user, v, port, port + 2);
}

static void send_req(struct ue *u, const char *text)
{
	ue_send(u, text);
}

/* alice's INVITE to bob with body. */
static void invite(struct ue *a, const char *body)
{
	char r[4096];

	snprintf(r, sizeof(r),
		 "INVITE sip:bob@ims.test SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKctl%d;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:alice@ims.test>;tag=a1\r\n"
		 "To: <sip:bob@ims.test>\r\nCall-ID: ctl@t\r\nCSeq: 1 INVITE\r\n"
		 "Contact: <sip:alice@127.0.0.1:%u>\r\nContent-Type: application/sdp\r\n"
		 "Content-Length: %zu\r\n\r\n%s",
		 a->port, ++T.cseq, a->port, strlen(body), body);
	send_req(a, r);
}

/* A request of the callee inside its dialog with imsd (inv: the INVITE it
 * got, whose From is imsd's side). */
static void b_req(struct ue *b, const struct sip_msg *inv, const char *meth, int cseq,
		  const char *body)
{
	char r[4096];
	const char *ct = hdr(inv, "Contact");

	snprintf(r, sizeof(r),
		 "%s %.*s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKb%s%d;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: %s;tag=b1\r\nTo: %s\r\nCall-ID: %s\r\n"
		 "CSeq: %d %s\r\nContact: <sip:bob@127.0.0.1:%u>\r\n%sContent-Length: %zu\r\n"
		 "\r\n%s",
		 meth, (int)(strlen(ct) - 2), ct + 1, b->port, meth, ++T.cseq, hdr(inv, "To"),
		 hdr(inv, "From"), hdr(inv, "Call-ID"), cseq, meth, b->port,
		 body ? "Content-Type: application/sdp\r\n" : "", body ? strlen(body) : 0,
		 body ? body : "");
	send_req(b, r);
}

/* alice's ACK of imsd's 2xx (ok). */
static void a_ack(struct ue *a, const struct sip_msg *ok)
{
	char r[2048];
	const char *ct = hdr(ok, "Contact");

	snprintf(r, sizeof(r),
		 "ACK %.*s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKack%d;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:alice@ims.test>;tag=a1\r\nTo: %s\r\n"
		 "Call-ID: %s\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
		 (int)(strlen(ct) - 2), ct + 1, a->port, ++T.cseq, hdr(ok, "To"),
		 hdr(ok, "Call-ID"));
	send_req(a, r);
}

/* The newest call's server dialog. */
static struct b2bua_dialog_info the_call(void)
{
	struct b2bua_cursor c = {0};
	struct b2bua_dialog_info di, last;

	assert_true(b2bua_dialog_next(T.b2b, &c, &di));
	last = di;
	while (b2bua_dialog_next(T.b2b, &c, &di))
		if (di.index > last.index)
			last = di;
	return last;
}

/* The call up with audio+video: alice offers on pa, bob answers on pb. */
static uint32_t call_up(struct ue *a, struct ue *b, uint16_t pa, uint16_t pb,
			struct sip_msg **okp, struct sip_msg **invp)
{
	char sdp[512];
	struct sip_msg *inv, *m;

	av_sdp(sdp, sizeof(sdp), "alice", pa, 1);
	invite(a, sdp);
	inv = ue_recv(b);
	assert_true(inv->req && inv->meth == SIP_METHOD_INVITE);
	av_sdp(sdp, sizeof(sdp), "bob", pb, 1);
	answer(b, inv, 200, "OK", "b1", sdp);
	m = ue_recv_skip(a);
	assert_int_equal(m->scode, 200);
	a_ack(a, m);
	*okp = m;
	*invp = inv;
	m = ue_recv(b);
	assert_true(m->req && m->meth == SIP_METHOD_ACK);
	mem_deref(m);
	assert_int_equal(the_call().state, B2BUA_START);
	return the_call().index;
}

/* The n-th m= section of body (0 first) holds line. */
static bool in_section(struct pl body, int n, const char *line)
{
	char buf[4096];
	char *s, *next;

	snprintf(buf, sizeof(buf), "%.*s", (int)body.l, body.p);
	s = strstr(buf, "\nm=");
	for (int i = 0; s && i < n; i++)
		s = strstr(s + 1, "\nm=");
	if (!s)
		return false;
	s++;
	next = strstr(s + 2, "\nm=");
	if (next)
		*next = '\0';
	return strstr(s, line) != NULL;
}

/* imsd's re-INVITE to u: o= version ver of user, the audio and video
 * directions; answered 200 with body, then imsd's ACK. */
static void own_reinvite_m(struct ue *u, struct sip_msg *m, const char *user, int ver,
			   const char *audio, const char *video, const char *body)
{
	char want[64];

	assert_true(m->req);
	assert_int_equal(m->meth, SIP_METHOD_INVITE);
	assert_non_null(strstr(hdr(m, "Contact"), "sip:b2bua@"));
	snprintf(want, sizeof(want), "o=%s 1 %d ", user, ver);
	assert_true(pl_casefind(m->body, want) >= 0);
	assert_true(in_section(m->body, 0, audio));
	assert_true(in_section(m->body, 1, video));
	answer(u, m, 200, "OK", NULL, body);
	mem_deref(m);
	ue_expect_req(u, SIP_METHOD_ACK);
}

static void own_reinvite(struct ue *u, const char *user, int ver, const char *audio,
			 const char *video, const char *body)
{
	own_reinvite_m(u, ue_recv_skip(u), user, ver, audio, video, body);
}

static void hold_both_legs(bool relay)
{
	static const struct b2bua_reinvite_prm hold = {.hold = true},
					       hold_video = {.hold = true, .media = "video"},
					       bad = {.hold = true, .media = "fax"},
					       file = {.sdp_file = "/nonexistent"};
	struct ue a, b;
	struct sip_msg *inv, *ok, *m, *m2;
	char sa[512], sb[512];
	uint32_t idx;

	ue_open(&a, "alice");
	ue_open(&b, "bob");
	ue_register(&a);
	ue_register(&b);
	idx = call_up(&a, &b, 4000, 5000, &ok, &inv);
	av_sdp(sa, sizeof(sa), "alice", 4000, 1);
	av_sdp(sb, sizeof(sb), "bob", 5000, 1);
	assert_int_equal(b2bua_dialog_reinvite(T.b2b, idx, &bad), EINVAL);
	assert_int_equal(b2bua_dialog_reinvite(T.b2b, idx, &file), EINVAL); /* mt only */
	/* hold: both phones, each with what it last got (alice bob's answer,
	 * bob alice's offer), every stream a=sendonly, o= version 2 */
	assert_int_equal(b2bua_dialog_reinvite(T.b2b, idx, &hold), 0);
	assert_int_equal(b2bua_dialog_reinvite(T.b2b, idx, &hold), EBUSY);
	own_reinvite(&a, "bob", 2, "a=sendonly", "a=sendonly", sa);
	assert_int_equal(the_call().state, B2BUA_START); /* bob has not answered */
	/* bob offers meanwhile: 491 (RFC 3311 §5.2), an INVITE too (§14.2) */
	b_req(&b, inv, "UPDATE", 2, sb);
	m = ue_recv_skip(&b); /* imsd's re-INVITE, sent before */
	assert_true(m->req && m->meth == SIP_METHOD_INVITE);
	m2 = ue_recv_skip(&b);
	assert_int_equal(m2->scode, 491);
	assert_non_null(strstr(hdr(m2, "CSeq"), "UPDATE"));
	mem_deref(m2);
	own_reinvite_m(&b, m, "alice", 2, "a=sendonly", "a=sendonly", sb);
	assert_int_equal(the_call().state, B2BUA_HOLD);
	/* again: resumed */
	assert_int_equal(b2bua_dialog_reinvite(T.b2b, idx, &hold), 0);
	own_reinvite(&a, "bob", 3, "a=sendrecv", "a=sendrecv", sa);
	own_reinvite(&b, "alice", 3, "a=sendrecv", "a=sendrecv", sb);
	assert_int_equal(the_call().state, B2BUA_START);
	/* video only on hold */
	assert_int_equal(b2bua_dialog_reinvite(T.b2b, idx, &hold_video), 0);
	own_reinvite(&a, "bob", 4, "a=sendrecv", "a=sendonly", sa);
	own_reinvite(&b, "alice", 4, "a=sendrecv", "a=sendonly", sb);
	assert_int_equal(the_call().state, B2BUA_HOLD);
	/* downgrade: video at port 0 on both legs, still held */
	assert_int_equal(b2bua_dialog_downgrade(T.b2b, idx, "video"), 0);
	own_reinvite(&a, "bob", 5, "a=sendrecv", "m=video 0 ", sa);
	own_reinvite(&b, "alice", 5, "a=sendrecv", "m=video 0 ", sb);
	/* a re-INVITE of bob's, relayed: alice sees its o= version above
	 * imsd's last (2 + 4 of imsd's: 6 > 5), never below (RFC 3264 §8),
	 * through the relay or without it */
	av_sdp(sb, sizeof(sb), "bob", 5000, 2);
	b_req(&b, inv, "INVITE", 3, sb);
	m = ue_recv_skip(&a);
	assert_true(m->req && m->meth == SIP_METHOD_INVITE);
	assert_true(pl_casefind(m->body, "o=bob 1 6 ") >= 0);
	assert_true((pl_casefind(m->body, "m=audio 5000 ") >= 0) == !relay);
	answer(&a, m, 200, "OK", NULL, sa);
	mem_deref(m);
	m = ue_recv_skip(&b);
	assert_int_equal(m->scode, 200);
	/* alice's answer, the same way (1 + 4) */
	assert_true(pl_casefind(m->body, "o=alice 1 5 ") >= 0);
	mem_deref(m);
	b_req(&b, inv, "ACK", 3, NULL);
	ue_expect_req(&a, SIP_METHOD_ACK);
	assert_int_equal(b2bua_dialog_stop(T.b2b, idx), 0);
	ue_expect_req(&a, SIP_METHOD_BYE);
	ue_expect_req(&b, SIP_METHOD_BYE);
	assert_int_equal(b2bua_dialog_reinvite(T.b2b, idx, &hold), EALREADY);
	mem_deref(ok);
	mem_deref(inv);
	ue_close(&a);
	ue_close(&b);
}

static void test_hold_both_legs(void **state)
{
	(void)state;
	hold_both_legs(false);
}

static void test_hold_both_legs_relay(void **state)
{
	(void)state;
	hold_both_legs(true);
}

/* An RTP packet from src to the relay's port; true when dst gets it. */
static bool rtp_through(struct ue *src, uint16_t port, struct ue *dst)
{
	struct sockaddr_in to = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons(port)};
	unsigned char pkt[172] = {0x80, 0x00, 0x00, 0x01}, back[2048];

	assert_true(sendto(src->fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&to,
			   sizeof(to)) == (ssize_t)sizeof(pkt));
	for (int i = 0; i < 500 && !readable(dst->fd); i++)
		run_once(1);
	if (!readable(dst->fd))
		return false;
	return recv(dst->fd, back, sizeof(back), 0) == (ssize_t)sizeof(pkt);
}

/* dialog_set reinvite, and bob answers with another media port: the relay
 * sends to the new one (the answer to imsd's offer is the relay's too). */
static void test_reinvite_port_moves(void **state)
{
	struct ue a, b, ra, rb, rb2;
	struct sip_msg *inv, *ok;
	char sa[512], sb[512];
	uint16_t relay_a;
	uint32_t idx;

	(void)state;
	ue_open(&a, "alice");
	ue_open(&b, "bob");
	ue_open(&ra, "rtpa");
	ue_open(&rb, "rtpb");
	ue_open(&rb2, "rtpb2");
	ue_register(&a);
	ue_register(&b);
	idx = call_up(&a, &b, ra.port, rb.port, &ok, &inv);
	relay_a = body_port(ok); /* where alice sends */
	assert_true(rtp_through(&ra, relay_a, &rb));
	assert_int_equal(b2bua_dialog_reinvite(T.b2b, idx, NULL), 0);
	av_sdp(sa, sizeof(sa), "alice", ra.port, 1);
	av_sdp(sb, sizeof(sb), "bob", rb2.port, 2);
	own_reinvite(&a, "bob", 2, "a=sendrecv", "a=sendrecv", sa);
	own_reinvite(&b, "alice", 2, "a=sendrecv", "a=sendrecv", sb);
	assert_true(rtp_through(&ra, relay_a, &rb2));
	assert_int_equal(b2bua_dialog_stop(T.b2b, idx), 0);
	mem_deref(ok);
	mem_deref(inv);
	ue_close(&a);
	ue_close(&b);
	ue_close(&ra);
	ue_close(&rb);
	ue_close(&rb2);
}

/* The next request u gets (imsd's 200 retransmissions skipped). */
static struct sip_msg *req_of(struct ue *u)
{
	struct sip_msg *m = ue_recv_skip(u);

	while (!m->req) {
		mem_deref(m);
		m = ue_recv_skip(u);
	}
	return m;
}

/* dialog_set stop with code, reason and reason_protocol (manual §6): both
 * BYEs carry the Reason header (RFC 3326), the text quoted with its quote
 * escaped; a protocol that is not a token, a text with a control character
 * or over 128 bytes are refused (EINVAL) and the call goes on. */
static void test_stop_reason(void **state)
{
	struct b2bua_stop_prm bad_proto = {.code = 1, .protocol = "Q 850"};
	struct b2bua_stop_prm bad_text = {.reason = "a\r\nVia: x"};
	struct b2bua_stop_prm p = {.code = 16, .reason = "Normal \"clearing\"",
				   .protocol = "Q.850"};
	struct ue a, b, ra, rb;
	struct sip_msg *inv, *ok, *m;
	char long_text[200];
	uint32_t idx;

	(void)state;
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	ue_open(&a, "alice");
	ue_open(&b, "bob");
	ue_open(&ra, "rtpa");
	ue_open(&rb, "rtpb");
	ue_register(&a);
	ue_register(&b);
	idx = call_up(&a, &b, ra.port, rb.port, &ok, &inv);
	assert_int_equal(b2bua_dialog_stop_reason(T.b2b, idx, &bad_proto), EINVAL);
	assert_int_equal(b2bua_dialog_stop_reason(T.b2b, idx, &bad_text), EINVAL);
	bad_text.reason = long_text;
	assert_int_equal(b2bua_dialog_stop_reason(T.b2b, idx, &bad_text), EINVAL);
	assert_int_equal(the_call().state, B2BUA_START);
	assert_int_equal(b2bua_dialog_stop_reason(T.b2b, idx, &p), 0);
	m = req_of(&a);
	assert_int_equal(m->meth, SIP_METHOD_BYE);
	assert_string_equal(hdr(m, "Reason"), "Q.850;cause=16;text=\"Normal \\\"clearing\\\"\"");
	mem_deref(m);
	m = req_of(&b);
	assert_int_equal(m->meth, SIP_METHOD_BYE);
	assert_string_equal(hdr(m, "Reason"), "Q.850;cause=16;text=\"Normal \\\"clearing\\\"\"");
	mem_deref(m);
	assert_int_equal(b2bua_dialog_stop_reason(T.b2b, idx, &p), EALREADY);
	mem_deref(ok);
	mem_deref(inv);
	/* the protocol defaults to SIP; no field, no header */
	p = (struct b2bua_stop_prm){.code = 200, .reason = "Call completed elsewhere"};
	idx = call_up(&a, &b, ra.port, rb.port, &ok, &inv);
	assert_int_equal(b2bua_dialog_stop_reason(T.b2b, idx, &p), 0);
	m = req_of(&a);
	assert_string_equal(hdr(m, "Reason"), "SIP;cause=200;text=\"Call completed elsewhere\"");
	mem_deref(m);
	m = req_of(&b);
	assert_string_equal(hdr(m, "Reason"), "SIP;cause=200;text=\"Call completed elsewhere\"");
	mem_deref(m);
	mem_deref(ok);
	mem_deref(inv);
	idx = call_up(&a, &b, ra.port, rb.port, &ok, &inv);
	assert_int_equal(b2bua_dialog_stop(T.b2b, idx), 0);
	m = req_of(&a);
	assert_int_equal(m->meth, SIP_METHOD_BYE);
	assert_null(hdr(m, "Reason"));
	mem_deref(m);
	mem_deref(ok);
	mem_deref(inv);
	ue_close(&a);
	ue_close(&b);
	ue_close(&ra);
	ue_close(&rb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_hold_both_legs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hold_both_legs_relay, setup_relay, teardown),
	    cmocka_unit_test_setup_teardown(test_reinvite_port_moves, setup_relay, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_reason, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
