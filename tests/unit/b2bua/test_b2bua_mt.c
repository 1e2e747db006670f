/*
 * b2bua unit tests of the calls the server makes (b2bua_mt.c, manual §7
 * mt_call) over loopback on the real event loop, with plain UDP sockets as
 * the phones: the INVITE imsd sends (From/P-Asserted-Identity of the
 * caller given, To the callee, imsd's offer), the states init, ringing,
 * start and stop, imsd's ACK, BYE after the duration, BYE from the phone,
 * the callee by IMPU, IMPI or contact URI (only that binding rung), the
 * lookup's errors, and with the relay: the offer on the relay's port and
 * the phone's RTP echoed back.
 */
#include <errno.h>
#include <fcntl.h>
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

/* imsd calls bob (by IMPU, IMPI or contact); alice names the caller, and
 * calls the echo service under remote_control; erin is never registered. */
const char *CFG =
    "{'sip_addr': '127.0.0.1:5060', 'domain': 'ims.test', 'timer_t1': 0.05,"
    " 'timer_t2': 0.4, 'p_called_party_id': true, 'echo': 'sip:echo', 'dialog_timeout': "
    "1,"
    " 'ue_db': ["
    "{'imsi': '001010000000001', 'impi': 'alice@ims.test', 'authent_type': 'none',"
    " 'impu': [{'impu': 'sip:alice', 'display_name': 'Alice A',"
    " 'remote_control': true}]},"
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



/* The dialog of the latest call, which is one mt dialog; *n how many
 * dialogs are listed in all. */
static void last_dialog(struct b2bua_dialog_info *di, size_t *n)
{
	struct b2bua_cursor c = {0};
	struct b2bua_dialog_info x;

	*n = 0;
	while (b2bua_dialog_next(T.b2b, &c, &x)) {
		*di = x;
		(*n)++;
	}
	assert_true(*n > 0);
	assert_int_equal(di->type, B2BUA_MT);
}

/* The one dialog listed (an mt call is one). */
static void only_dialog(struct b2bua_dialog_info *di)
{
	size_t n;

	last_dialog(di, &n);
	assert_int_equal(n, 1);
}

/* A request of the callee inside the dialog imsd's INVITE made. */
static void b_req(struct ue *b, const struct sip_msg *inv, const char *meth)
{
	char r[2048];

	snprintf(r, sizeof(r),
		 "%s sip:b2bua@127.0.0.1:%u SIP/2.0\r\nVia: SIP/2.0/UDP "
		 "127.0.0.1:%u;branch=z9hG4bKb%s%d;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: %s;tag=b1\r\nTo: %s\r\n"
		 "Call-ID: %s\r\nCSeq: 1 %s\r\nContent-Length: 0\r\n\r\n",
		 meth, T.port, b->port, meth, ++T.cseq, hdr(inv, "To"), hdr(inv, "From"),
		 hdr(inv, "Call-ID"), meth);
	ue_send(b, r);
}

/* What the watcher saw (b2bua_watch_set): the state at each call, read
 * from the call's index as the API reads it, and the callee it involved. */
static struct {
	enum b2bua_state st[16];
	size_t n;
	bool callee_bob;
} W;

static void watch_h(uint32_t index, void *arg)
{
	struct b2bua_cursor c = {.next = index};
	struct b2bua_dialog_info di;
	struct b2bua_call_users cu;

	assert_ptr_equal(arg, &W);
	assert_true(b2bua_dialog_next(T.b2b, &c, &di));
	assert_int_equal(di.index, index);
	if (W.n < 16)
		W.st[W.n++] = di.state;
	assert_int_equal(b2bua_call_users(T.b2b, index, &cu), 0);
	for (size_t i = 0; i < cu.ncallee; i++)
		W.callee_bob |= !strcmp(hss_user_impi(cu.callee[i]), "bob@ims.test");
}

static void test_mt_call_duration(void **state)
{
	struct b2bua_mt_prm p = {.callee = "sip:bob@ims.test",
				 .caller = "sip:alice@ims.test",
				 .duration_s = 1};
	struct b2bua_dialog_info di;
	struct sip_msg *inv, *m;
	uint32_t idx = 0;
	uint16_t scode = 0;
	struct ue b;

	(void)state;
	memset(&W, 0, sizeof(W));
	b2bua_watch_set(T.b2b, watch_h, &W);
	ue_open(&b, "bob");
	ue_register(&b);
	assert_int_equal(b2bua_mt_call(T.b2b, &p, &idx, &scode), 0);
	assert_int_equal(idx, 1);
	inv = ue_recv(&b);
	assert_true(inv->req);
	assert_int_equal(inv->meth, SIP_METHOD_INVITE);
	assert_non_null(strstr(hdr(inv, "From"), "sip:alice@ims.test"));
	assert_non_null(strstr(hdr(inv, "P-Asserted-Identity"), "sip:alice@ims.test"));
	assert_non_null(strstr(hdr(inv, "To"), "sip:bob@ims.test"));
	assert_non_null(strstr(hdr(inv, "Record-Route"), "sip:127.0.0.1:"));
	assert_string_equal(hdr(inv, "Max-Forwards"), "70");
	/* no relay: the default offer as it is */
	assert_true(pl_casefind(inv->body, "m=audio ") >= 0);
	only_dialog(&di);
	assert_int_equal(di.state, B2BUA_INIT);
	assert_string_equal(di.from, "sip:alice@ims.test");
	assert_string_equal(di.to, "sip:bob@ims.test");
	assert_string_equal(di.assoc, "");
	answer(&b, inv, 180, "Ringing", "b1", NULL);
	run_once(20);
	only_dialog(&di);
	assert_int_equal(di.state, B2BUA_RINGING);
	answer(&b, inv, 200, "OK", "b1", SDP);
	m = ue_recv(&b);
	assert_true(m->req);
	assert_int_equal(m->meth, SIP_METHOD_ACK);
	mem_deref(m);
	only_dialog(&di);
	assert_int_equal(di.state, B2BUA_START);
	/* a re-INVITE without SDP and an INFO are answered by imsd */
	b_req(&b, inv, "INFO");
	ue_expect_scode(&b, 200);
	/* the duration: imsd hangs up */
	m = ue_recv_skip(&b);
	assert_true(m->req);
	assert_int_equal(m->meth, SIP_METHOD_BYE);
	assert_string_equal(hdr(m, "Call-ID"), hdr(inv, "Call-ID"));
	answer(&b, m, 200, "OK", NULL, NULL);
	mem_deref(m);
	run_once(20);
	only_dialog(&di);
	assert_int_equal(di.state, B2BUA_STOP);
	assert_int_equal(b2bua_dialog_stop(T.b2b, idx), EALREADY);
	/* the watcher: set up (init), then each state once */
	assert_int_equal(W.n, 4);
	assert_int_equal(W.st[0], B2BUA_INIT);
	assert_int_equal(W.st[1], B2BUA_RINGING);
	assert_int_equal(W.st[2], B2BUA_START);
	assert_int_equal(W.st[3], B2BUA_STOP);
	assert_true(W.callee_bob);
	assert_int_equal(b2bua_call_users(T.b2b, 99, &(struct b2bua_call_users){0}), ENOENT);
	b2bua_watch_set(T.b2b, NULL, NULL);
	mem_deref(inv);
	ue_close(&b);
}

static void test_mt_call_lookup(void **state)
{
	struct b2bua_mt_prm p = {.callee = "sip:nobody@ims.test"};
	struct b2bua_dialog_info di;
	struct sip_msg *inv, *m;
	char contact[128];
	size_t n;
	uint32_t idx = 0;
	uint16_t scode = 0;
	struct ue b1, b2;

	(void)state;
	assert_int_equal(b2bua_mt_call(T.b2b, &p, &idx, &scode), ENOENT);
	p.callee = "sip:erin@ims.test";
	assert_int_equal(b2bua_mt_call(T.b2b, &p, &idx, &scode), ENOTCONN);
	assert_int_equal(scode, 480);
	p.callee = "";
	assert_int_equal(b2bua_mt_call(T.b2b, &p, &idx, &scode), EINVAL);
	ue_open(&b1, "bob");
	ue_open(&b2, "bob");
	ue_register(&b1);
	ue_register(&b2);
	/* by contact URI: only that binding rings; To is the user's IMPU, the
	 * caller imsd itself (no P-Asserted-Identity) */
	snprintf(contact, sizeof(contact), "sip:bob@127.0.0.1:%u", b2.port);
	p.callee = contact;
	assert_int_equal(b2bua_mt_call(T.b2b, &p, &idx, &scode), 0);
	inv = ue_recv(&b2);
	assert_int_equal(inv->meth, SIP_METHOD_INVITE);
	assert_non_null(strstr(hdr(inv, "To"), "sip:bob@ims.test"));
	assert_non_null(strstr(hdr(inv, "From"), "sip:imsd@"));
	assert_null(hdr(inv, "P-Asserted-Identity"));
	ue_quiet(&b1, 100);
	answer(&b2, inv, 200, "OK", "b1", SDP);
	m = ue_recv(&b2);
	assert_int_equal(m->meth, SIP_METHOD_ACK);
	mem_deref(m);
	/* the phone hangs up */
	b_req(&b2, inv, "BYE");
	ue_expect_scode(&b2, 200);
	last_dialog(&di, &n); /* and erin's, not sent, for its linger */
	assert_int_equal(di.index, idx);
	assert_int_equal(di.state, B2BUA_STOP);
	assert_int_equal(di.state, B2BUA_STOP);
	mem_deref(inv);
	/* by IMPI: both bindings ring; a 486 on each ends the call */
	p.callee = "bob@ims.test";
	assert_int_equal(b2bua_mt_call(T.b2b, &p, &idx, &scode), 0);
	inv = ue_recv(&b1);
	answer(&b1, inv, 486, "Busy Here", "b1", NULL);
	mem_deref(inv);
	inv = ue_recv(&b2);
	answer(&b2, inv, 486, "Busy Here", "b2", NULL);
	mem_deref(inv);
	for (int i = 0; i < 2; i++) {
		m = ue_recv_skip(i ? &b2 : &b1);
		assert_int_equal(m->meth, SIP_METHOD_ACK);
		mem_deref(m);
	}
	assert_int_equal(b2bua_dialog_stop(T.b2b, idx), EALREADY);
	ue_close(&b1);
	ue_close(&b2);
}

static void test_mt_call_relay_echo(void **state)
{
	struct b2bua_mt_prm p = {.callee = "tel:+33100000002"};
	struct sockaddr_in to = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_in me;
	socklen_t l = sizeof(me);
	unsigned char pkt[172] = {0x80, 0x00, 0x00, 0x07}, back[2048];
	char sdp[256];
	struct sip_msg *inv, *m;
	uint32_t idx = 0;
	uint16_t scode = 0;
	struct ue b, rtp;

	(void)state;
	ue_open(&b, "bob");
	ue_open(&rtp, "rtp");
	ue_register(&b);
	assert_int_equal(getsockname(rtp.fd, (struct sockaddr *)&me, &l), 0);
	assert_int_equal(b2bua_mt_call(T.b2b, &p, &idx, &scode), 0);
	inv = ue_recv(&b);
	assert_non_null(strstr(hdr(inv, "To"), "tel:+33100000002"));
	/* imsd's offer on the relay's port */
	to.sin_port = htons(body_port(inv));
	assert_true(ntohs(to.sin_port) >= T_port_lo && ntohs(to.sin_port) < T_port_lo + 200);
	snprintf(sdp, sizeof(sdp),
		 "v=0\r\no=b 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
		 "t=0 0\r\nm=audio %u RTP/AVP 96\r\na=rtpmap:96 AMR-WB/16000\r\n",
		 ntohs(me.sin_port));
	answer(&b, inv, 200, "OK", "b1", sdp);
	m = ue_recv(&b);
	assert_int_equal(m->meth, SIP_METHOD_ACK);
	mem_deref(m);
	assert_true(sendto(rtp.fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&to,
			   sizeof(to)) == (ssize_t)sizeof(pkt));
	for (int i = 0; i < 2000 && !readable(rtp.fd); i++)
		run_once(1);
	assert_true(readable(rtp.fd));
	assert_int_equal(recv(rtp.fd, back, sizeof(back), 0), (ssize_t)sizeof(pkt));
	assert_memory_equal(back, pkt, sizeof(pkt));
	/* dialog_set media: RTP blocked, then let through again */
	assert_int_equal(b2bua_dialog_media(T.b2b, idx + 1, false, true), ENOENT);
	assert_int_equal(b2bua_dialog_media(T.b2b, idx, false, true), 0);
	assert_true(sendto(rtp.fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&to,
			   sizeof(to)) == (ssize_t)sizeof(pkt));
	ue_quiet(&rtp, 100);
	assert_int_equal(b2bua_dialog_media(T.b2b, idx, true, true), 0);
	pkt[3]++;
	assert_true(sendto(rtp.fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&to,
			   sizeof(to)) == (ssize_t)sizeof(pkt));
	for (int i = 0; i < 2000 && !readable(rtp.fd); i++)
		run_once(1);
	assert_true(readable(rtp.fd));
	assert_int_equal(recv(rtp.fd, back, sizeof(back), 0), (ssize_t)sizeof(pkt));
	assert_memory_equal(back, pkt, sizeof(pkt));
	assert_int_equal(b2bua_dialog_stop(T.b2b, idx), 0);
	m = ue_recv_skip(&b);
	assert_int_equal(m->meth, SIP_METHOD_BYE);
	answer(&b, m, 200, "OK", NULL, NULL);
	mem_deref(m);
	mem_deref(inv);
	ue_close(&b);
	ue_close(&rtp);
}

static const struct b2bua_reinvite_prm HOLD = {.hold = true};

/* imsd's re-INVITE to b: its SDP has dir on its stream and o= version
 * ver; answered 200, then imsd's ACK. */
static void reinvite_answered(struct ue *b, const char *dir, const char *ver)
{
	struct sip_msg *m = ue_recv_skip(b);
	char want[64];

	assert_true(m->req);
	assert_int_equal(m->meth, SIP_METHOD_INVITE);
	assert_non_null(strstr(hdr(m, "CSeq"), "INVITE"));
	assert_true(pl_casefind(m->body, dir) >= 0);
	snprintf(want, sizeof(want), "o=imsd 1 %s ", ver);
	assert_true(pl_casefind(m->body, want) >= 0);
	answer(b, m, 200, "OK", NULL, SDP);
	mem_deref(m);
	m = ue_recv_skip(b);
	assert_true(m->req);
	assert_int_equal(m->meth, SIP_METHOD_ACK);
	mem_deref(m);
}

static const char AV_SDP[] =
    "v=0\r\no=imsd 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 0\r\nm=video 4002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";

static const char NEW_SDP[] =
    "v=0\r\no=imsd 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 4100 RTP/AVP 8\r\nm=video 4102 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";

static void test_mt_call_hold_reinvite(void **state)
{
	char file[] = "/tmp/imsd-mt-sdp-XXXXXX";
	int fd = mkstemp(file);
	struct b2bua_mt_prm p = {.callee = "sip:bob@ims.test", .sdp_file = file};
	struct b2bua_dialog_info di;
	struct sip_msg *inv, *m;
	const struct b2bua_reinvite_prm nofile = {.sdp_file = "/nonexistent/imsd.sdp"},
					newfile = {.sdp_file = file};
	uint32_t idx = 0;
	uint16_t scode = 0;
	struct ue b;

	(void)state;
	assert_true(fd >= 0);
	assert_true(write(fd, AV_SDP, strlen(AV_SDP)) == (ssize_t)strlen(AV_SDP));
	close(fd);
	ue_open(&b, "bob");
	ue_register(&b);
	assert_int_equal(b2bua_mt_call(T.b2b, &p, &idx, &scode), 0);
	inv = ue_recv(&b);
	/* the sdp_file as the offer (no relay: as it is) */
	assert_true(pl_casefind(inv->body, "m=video 4002 ") >= 0);
	assert_int_equal(b2bua_dialog_reinvite(T.b2b, idx, &HOLD), EALREADY);
	answer(&b, inv, 200, "OK", "b1", SDP);
	m = ue_recv(&b);
	assert_int_equal(m->meth, SIP_METHOD_ACK);
	mem_deref(m);
	/* hold: a=sendonly, the o= version up */
	assert_int_equal(b2bua_dialog_reinvite(T.b2b, idx, &HOLD), 0);
	assert_int_equal(b2bua_dialog_reinvite(T.b2b, idx, &HOLD), EBUSY);
	reinvite_answered(&b, "a=sendonly\r\n", "2");
	only_dialog(&di);
	assert_int_equal(di.state, B2BUA_HOLD);
	/* hold again: resumed */
	assert_int_equal(b2bua_dialog_reinvite(T.b2b, idx, &HOLD), 0);
	reinvite_answered(&b, "a=sendrecv\r\n", "3");
	only_dialog(&di);
	assert_int_equal(di.state, B2BUA_START);
	/* reinvite: the same offer, a new version */
	assert_int_equal(b2bua_dialog_reinvite(T.b2b, idx, NULL), 0);
	reinvite_answered(&b, "m=audio 4000 ", "4");
	/* downgrade: video at port 0, now and in the next offer */
	assert_int_equal(b2bua_dialog_downgrade(T.b2b, idx, "fax"), EINVAL);
	assert_int_equal(b2bua_dialog_downgrade(T.b2b, idx, NULL), 0);
	reinvite_answered(&b, "m=video 0 RTP/AVP 96\r\n", "5");
	assert_int_equal(b2bua_dialog_reinvite(T.b2b, idx, NULL), 0);
	reinvite_answered(&b, "m=video 0 RTP/AVP 96\r\n", "6");
	/* reinvite with a new sdp_file (manual §6): its SDP (no relay: as it
	 * is), the o= version still up, video still removed */
	assert_int_equal(b2bua_dialog_reinvite(T.b2b, idx, &nofile), EIO);
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_true(write(fd, NEW_SDP, strlen(NEW_SDP)) == (ssize_t)strlen(NEW_SDP));
	close(fd);
	assert_int_equal(b2bua_dialog_reinvite(T.b2b, idx, &newfile), 0);
	unlink(file);
	reinvite_answered(&b, "m=audio 4100 RTP/AVP 8\r\n", "7");
	assert_int_equal(b2bua_dialog_reinvite(T.b2b, idx, NULL), 0);
	reinvite_answered(&b, "m=video 0 RTP/AVP 96\r\n", "8");
	assert_int_equal(b2bua_dialog_stop(T.b2b, idx), 0);
	m = ue_recv_skip(&b);
	assert_int_equal(m->meth, SIP_METHOD_BYE);
	mem_deref(m);
	mem_deref(inv);
	ue_close(&b);
}

/* alice's INVITE to the echo service (Call-ID cid, extra header lines). */
static void echo_invite_x(struct ue *a, const char *cid, const char *extra)
{
	char r[2048];

	snprintf(r, sizeof(r),
		 "INVITE sip:echo@ims.test SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKe%d;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:alice@ims.test>;tag=a1\r\n"
		 "To: <sip:echo@ims.test>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"
		 "Contact: <sip:alice@127.0.0.1:%u>\r\n%s"
		 "Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s",
		 a->port, ++T.cseq, cid, a->port, extra, strlen(SDP), SDP);
	ue_send(a, r);
}

static void echo_invite(struct ue *a, const char *cid)
{
	echo_invite_x(a, cid, "");
}

/* RFC 4028 §8.1: Session-Expires below Min-SE (90 by default) gets 422
 * with imsd's Min-SE; at or above it the call goes on. */
static void test_session_expires_422(void **state)
{
	struct sip_msg *m;
	struct ue a;

	(void)state;
	ue_open(&a, "alice");
	ue_register(&a);
	echo_invite_x(&a, "se1@t", "Session-Expires: 60;refresher=uac\r\n");
	m = ue_recv_skip(&a);
	assert_int_equal(m->scode, 422);
	assert_string_equal(hdr(m, "Min-SE"), "90");
	mem_deref(m);
	echo_invite_x(&a, "se2@t", "Session-Expires: 90\r\n");
	ue_expect_scode(&a, 180);
	assert_int_equal(b2bua_dialog_stop(T.b2b, 1), 0);
	ue_close(&a);
}

static void test_echo_remote_control(void **state)
{
	struct b2bua_cursor cur = {0};
	struct b2bua_dialog_info di = {0};
	struct sip_msg *m;
	struct ue a;

	(void)state;
	ue_open(&a, "alice");
	ue_register(&a);
	echo_invite(&a, "rc1@t");
	ue_expect_scode(&a, 180);
	/* held at 180 until dialog_set answer */
	ue_quiet(&a, 200);
	assert_int_equal(b2bua_dialog_answer(T.b2b, 7, 0), ENOENT);
	assert_int_equal(b2bua_dialog_answer(T.b2b, 1, 150), EINVAL);
	assert_int_equal(b2bua_dialog_media(T.b2b, 1, false, false), ENOTSUP);
	assert_int_equal(b2bua_dialog_reinvite(T.b2b, 1, &HOLD), EALREADY);
	assert_int_equal(b2bua_dialog_answer(T.b2b, 1, 0), 0);
	m = ue_recv_skip(&a);
	assert_int_equal(m->scode, 200);
	assert_true(m->body.l > 0);
	mem_deref(m);
	assert_int_equal(b2bua_dialog_answer(T.b2b, 1, 0), EALREADY);
	assert_int_equal(b2bua_dialog_stop(T.b2b, 1), 0);
	/* a failure code ends the second call */
	echo_invite(&a, "rc2@t");
	m = ue_recv_skip(&a);
	while (m->req) { /* the first call's BYE (no answer needed) */
		mem_deref(m);
		m = ue_recv_skip(&a);
	}
	assert_int_equal(m->scode, 180);
	mem_deref(m);
	assert_int_equal(b2bua_dialog_answer(T.b2b, 2, 486), 0);
	m = ue_recv_skip(&a);
	while (m->req) {
		mem_deref(m);
		m = ue_recv_skip(&a);
	}
	assert_int_equal(m->scode, 486);
	mem_deref(m);
	while (b2bua_dialog_next(T.b2b, &cur, &di) && di.index != 2)
		;
	assert_int_equal(di.index, 2);
	assert_int_equal(di.type, B2BUA_ECHO);
	assert_int_equal(di.state, B2BUA_STOP);
	ue_close(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_mt_call_duration, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mt_call_lookup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mt_call_relay_echo, setup_relay,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_echo_remote_control, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mt_call_hold_reinvite, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_expires_422, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
