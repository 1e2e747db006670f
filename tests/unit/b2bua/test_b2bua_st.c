/*
 * b2bua unit tests of session timers (RFC 4028, b2bua_st.c) over loopback
 * on the real event loop, plain UDP sockets as the phones: the pure rules
 * (§9 leg A, §7.2 leg B, the §10 expiry), the headers on both legs of a
 * call (Session-Expires, Min-SE, Supported/Require timer, the refresher of
 * each leg), imsd's refreshes by UPDATE and by re-INVITE on both legs, a
 * 481 or 422 to a refresh ending the call, a missing refresh ending it
 * with BYE on both legs, a refresh relayed from one phone to the other
 * putting that off, and the echo and mt calls' timers. The config reader
 * takes `min` >= 90 s (RFC 4028 §4); the tests set a 4 s interval in the
 * read settings so that they run in seconds.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "b2bua/b2bua.h"
#include "b2bua/b2bua_int.h"
#include "b2bua_harness.h"
#include "config/ims_cfg.h"
#include "core/mem.h"
#include "sip/sip_hdr.h"

/* alice calls bob or the echo service; imsd calls bob (mt). */
const char *CFG =
    "{'sip_addr': '127.0.0.1:5060', 'domain': 'ims.test', 'timer_t1': 0.05,"
    " 'timer_t2': 0.4, 'echo': 'sip:echo', 'dialog_timeout': 30,"
    " 'ue_db': ["
    "{'imsi': '001010000000001', 'impi': 'alice@ims.test', 'authent_type': 'none',"
    " 'impu': ['sip:alice']},"
    "{'imsi': '001010000000002', 'impi': 'bob@ims.test', 'authent_type': 'none',"
    " 'impu': ['sip:bob']}]}";

/* 4 s: imsd refreshes at 2 s, a phone's refresh is missing at 3 s. */
static void short_timers(uint8_t method, uint8_t refresher)
{
	T.cfg->session_expires.duration = 4;
	T.cfg->session_expires.min = 2;
	T.cfg->session_expires.method = method;
	T.cfg->session_expires.refresher = refresher;
}

/* The loop runs ms of its own time (one timer: the phones' timers and
 * imsd's run on the same clock, so a loaded machine does not move one
 * against the other), then nothing has come to u. */
static void quiet_for(struct ue *u, unsigned ms)
{
	run_once(ms);
	assert_false(readable(u->fd));
}

static bool has_line(const struct sip_msg *m, const char *line)
{
	return pl_casefind(m->hdrs, line) >= 0;
}

static void invite_body(struct ue *a, const char *ruri, const char *cid, const char *extra,
			const char *body)
{
	char r[4096];

	snprintf(r, sizeof(r),
		 "INVITE %s SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKst%d;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:alice@ims.test>;tag=a1\r\n"
		 "To: <%s>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"
		 "Contact: <sip:alice@127.0.0.1:%u>\r\n%s"
		 "Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s",
		 ruri, a->port, ++T.cseq, ruri, cid, a->port, extra, strlen(body), body);
	ue_send(a, r);
}

static void invite(struct ue *a, const char *ruri, const char *cid, const char *extra)
{
	invite_body(a, ruri, cid, extra, SDP);
}

/* A request of the caller inside its dialog with imsd (after a 2xx). */
static void a_req(struct ue *a, const struct sip_msg *ok, const char *meth, int cseq,
		  const char *extra)
{
	char r[2048], target[256];
	const char *ct = hdr(ok, "Contact");

	snprintf(target, sizeof(target), "%.*s", (int)(strlen(ct) - 2), ct + 1);
	snprintf(r, sizeof(r),
		 "%s %s SIP/2.0\r\nVia: SIP/2.0/UDP "
		 "127.0.0.1:%u;branch=z9hG4bKst%s%d%d;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:alice@ims.test>;tag=a1\r\nTo: %s\r\n"
		 "Call-ID: %s\r\nCSeq: %d %s\r\nContact: <sip:alice@127.0.0.1:%u>\r\n"
		 "%sContent-Length: 0\r\n\r\n",
		 meth, target, a->port, meth, cseq, ++T.cseq, hdr(ok, "To"),
		 hdr(ok, "Call-ID"), cseq, meth, a->port, extra);
	ue_send(a, r);
}

/* alice calls bob; extra: the INVITE's, b_extra: bob's 200's. *okp: the
 * caller's 200, *invp: the callee's INVITE; the ACK reached bob. */
static void call_up(struct ue *a, struct ue *b, const char *extra, const char *b_extra,
		    struct sip_msg **okp, struct sip_msg **invp)
{
	struct sip_msg *inv, *m;

	invite(a, "sip:bob@ims.test", "st1@t", extra);
	inv = ue_recv(b);
	assert_true(inv->req);
	answer_x(b, inv, 200, "OK", "b1", b_extra, SDP);
	m = ue_recv_skip(a);
	assert_int_equal(m->scode, 200);
	a_req(a, m, "ACK", 1, "");
	*okp = m;
	*invp = inv;
	m = ue_recv(b);
	assert_true(m->req && m->meth == SIP_METHOD_ACK);
	mem_deref(m);
}

/* The next request u gets (an imsd's 200 retransmission skipped). */
static struct sip_msg *next_req(struct ue *u)
{
	for (;;) {
		struct sip_msg *m = ue_recv(u);

		if (m->req)
			return m;
		mem_deref(m);
	}
}

/* The next request u gets is of method meth: checked and freed. */
static void expect_req(struct ue *u, enum sip_method meth)
{
	struct sip_msg *m = next_req(u);

	assert_int_equal(m->meth, meth);
	mem_deref(m);
}

static void test_rules(void **state)
{
	struct ims_cfg_session_expires se = {.duration = 1800, .min = 90, .force = true};
	struct b2b_st_nego n;
	struct sip_msg *m = NULL;
	static const char inv[] =
	    "INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
	    "From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: r@t\r\nCSeq: 1 INVITE\r\n"
	    "Supported: 100rel, timer\r\nSession-Expires: 3600;refresher=uas\r\n"
	    "Min-SE: 1900\r\nContent-Length: 0\r\n\r\n";
	static const char bare[] =
	    "INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
	    "From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: r@t\r\nCSeq: 1 INVITE\r\n"
	    "Content-Length: 0\r\n\r\n";
	static const char ok[] = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
				 "From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\n"
				 "Call-ID: r@t\r\nCSeq: 1 INVITE\r\nRequire: timer\r\n"
				 "Session-Expires: 600;refresher=uas\r\nContent-Length: 0\r\n\r\n";

	(void)state;
	/* §10: minus min(32 s, a third) */
	assert_int_equal(b2b_st_expiry_ms(90), 60000);
	assert_int_equal(b2b_st_expiry_ms(1800), 1768000);
	assert_int_equal(b2b_st_expiry_ms(4), 3000);
	/* §9: lowered to duration but not below the caller's Min-SE; the
	 * caller's refresher parameter kept */
	assert_int_equal(sip_msg_decode_copy(&m, inv, sizeof(inv) - 1, NULL), 0);
	assert_int_equal(b2b_st_leg_a(&se, m, &n), 0);
	assert_true(n.on && n.peer_timer && !n.peer_refreshes);
	assert_int_equal(n.interval, 1900);
	assert_int_equal(n.min_se, 1900);
	assert_true(b2b_st_has_tag(m, SIP_HDR_SUPPORTED, "timer"));
	assert_false(b2b_st_has_tag(m, SIP_HDR_SUPPORTED, "precondition"));
	se.duration = 0;
	assert_int_equal(b2b_st_leg_a(&se, m, &n), ENOENT);
	mem_deref(m);
	m = NULL;
	/* no Session-Expires, no support: imposed with force, imsd the
	 * refresher (§9: never uac then); nothing without force */
	se.duration = 1800;
	assert_int_equal(sip_msg_decode_copy(&m, bare, sizeof(bare) - 1, NULL), 0);
	assert_int_equal(b2b_st_leg_a(&se, m, &n), 0);
	assert_true(n.on && !n.peer_timer && !n.peer_refreshes);
	assert_int_equal(n.interval, 1800);
	se.force = false;
	assert_int_equal(b2b_st_leg_a(&se, m, &n), 0);
	assert_false(n.on);
	/* §7.2: no Session-Expires in the 2xx: imsd refreshes with force */
	n.min_se = 90;
	assert_int_equal(b2b_st_leg_b(&se, true, m, &n), 0);
	assert_false(n.on);
	se.force = true;
	assert_int_equal(b2b_st_leg_b(&se, true, m, &n), 0);
	assert_true(n.on && !n.peer_refreshes);
	mem_deref(m);
	m = NULL;
	/* the callee's interval and refresher */
	assert_int_equal(sip_msg_decode_copy(&m, ok, sizeof(ok) - 1, NULL), 0);
	assert_int_equal(b2b_st_leg_b(&se, true, m, &n), 0);
	assert_true(n.on && n.peer_refreshes && n.peer_timer);
	assert_int_equal(n.interval, 600);
	mem_deref(m);
}

/* The defaults (1800 s, Min-SE 90, refresher uac, force): what each leg
 * gets, and the phones' own headers not passed on. */
static void test_negotiation(void **state)
{
	struct sip_msg *inv, *ok;
	struct ue a, b;

	(void)state;
	ue_open(&a, "alice");
	ue_open(&b, "bob");
	ue_register(&a);
	ue_register(&b);
	call_up(&a, &b, "Supported: timer\r\nSession-Expires: 1800\r\nMin-SE: 120\r\n",
		"Require: timer\r\nSession-Expires: 1200;refresher=uas\r\n", &ok, &inv);
	/* leg B: imsd the UAC, force puts `refresher` (uac: imsd) */
	assert_string_equal(hdr(inv, "Session-Expires"), "1800;refresher=uac");
	assert_string_equal(hdr(inv, "Min-SE"), "120"); /* the caller's, larger */
	assert_true(has_line(inv, "Supported: timer"));
	/* leg A: the callee's interval, the caller refreshes (no parameter in
	 * its INVITE: `refresher` uac), Require: timer as it supports it */
	assert_string_equal(hdr(ok, "Session-Expires"), "1200;refresher=uac");
	assert_true(has_line(ok, "Require: timer"));
	assert_null(hdr(ok, "Min-SE"));
	mem_deref(inv);
	mem_deref(ok);
	assert_int_equal(b2bua_dialog_stop(T.b2b, 1), 0);
	inv = next_req(&a);
	assert_int_equal(inv->meth, SIP_METHOD_BYE);
	mem_deref(inv);
	inv = next_req(&b);
	assert_int_equal(inv->meth, SIP_METHOD_BYE);
	mem_deref(inv);
	/* a caller that knows nothing of timers: imposed, imsd refreshes */
	call_up(&a, &b, "", "", &ok, &inv);
	assert_string_equal(hdr(inv, "Session-Expires"), "1800;refresher=uac");
	assert_string_equal(hdr(inv, "Min-SE"), "90");
	assert_string_equal(hdr(ok, "Session-Expires"), "1800;refresher=uas");
	assert_false(has_line(ok, "Require: timer"));
	mem_deref(inv);
	mem_deref(ok);
	ue_close(&a);
	ue_close(&b);
}

/* imsd refreshes both legs by UPDATE at half the interval; the leg starts
 * again on the 2xx; a 481 ends the call with BYE on both legs. */
static void test_refresh_update(void **state)
{
	struct sip_msg *inv, *ok, *ua, *ub;
	struct ue a, b;

	(void)state;
	short_timers(IMS_CFG_SE_METHOD_UPDATE, IMS_CFG_REFRESHER_UAC);
	ue_open(&a, "alice");
	ue_open(&b, "bob");
	ue_register(&a);
	ue_register(&b);
	call_up(&a, &b, "", "", &ok, &inv);
	assert_string_equal(hdr(inv, "Session-Expires"), "4;refresher=uac");
	for (int round = 0; round < 2; round++) {
		ua = next_req(&a);
		ub = next_req(&b);
		assert_int_equal(ua->meth, SIP_METHOD_UPDATE);
		assert_int_equal(ub->meth, SIP_METHOD_UPDATE);
		assert_string_equal(hdr(ua, "Session-Expires"), "4;refresher=uac");
		assert_string_equal(hdr(ub, "Session-Expires"), "4;refresher=uac");
		assert_string_equal(hdr(ub, "Call-ID"), hdr(inv, "Call-ID"));
		assert_string_equal(hdr(ua, "Call-ID"), "st1@t");
		assert_int_equal(ua->body.l, 0);
		answer_x(&a, ua, 200, "OK", NULL, "Session-Expires: 4;refresher=uas\r\n",
			 NULL);
		if (round == 0)
			answer(&b, ub, 200, "OK", NULL, NULL);
		else /* the callee lost the dialog: BYE on both legs */
			answer(&b, ub, 481, "Call/Transaction Does Not Exist", NULL, NULL);
		mem_deref(ua);
		mem_deref(ub);
	}
	expect_req(&a, SIP_METHOD_BYE);
	expect_req(&b, SIP_METHOD_BYE);
	mem_deref(inv);
	mem_deref(ok);
	ue_close(&a);
	ue_close(&b);
}

/* `method` invite: a re-INVITE with the SDP that leg last got (through the
 * relay or not), ACKed; a 422 to it ends the call. */
static void test_refresh_invite(void **state)
{
	struct sip_msg *inv, *ok, *ra, *rb;
	struct ue a, b;

	(void)state;
	short_timers(IMS_CFG_SE_METHOD_INVITE, IMS_CFG_REFRESHER_UAS);
	ue_open(&a, "alice");
	ue_open(&b, "bob");
	ue_register(&a);
	ue_register(&b);
	call_up(&a, &b, "", "", &ok, &inv);
	assert_string_equal(hdr(inv, "Session-Expires"), "4;refresher=uas");
	ra = next_req(&a);
	rb = next_req(&b);
	assert_int_equal(ra->meth, SIP_METHOD_INVITE);
	assert_int_equal(rb->meth, SIP_METHOD_INVITE);
	/* the session as each side has it: the caller's 200, bob's INVITE */
	assert_true(pl_eq(ra->body, ok->body));
	assert_true(pl_eq(rb->body, inv->body));
	answer(&a, ra, 200, "OK", NULL, SDP);
	expect_req(&a, SIP_METHOD_ACK);
	answer(&b, rb, 422, "Session Interval Too Small", NULL, NULL);
	expect_req(&b, SIP_METHOD_ACK); /* the transaction's ACK of the 422 first */
	expect_req(&b, SIP_METHOD_BYE);
	expect_req(&a, SIP_METHOD_BYE);
	mem_deref(ra);
	mem_deref(rb);
	mem_deref(inv);
	mem_deref(ok);
	ue_close(&a);
	ue_close(&b);
}

/* Both phones refresh: none does, BYE on both legs; an UPDATE relayed from
 * the caller to the callee puts the expiry off on both legs. */
static void test_missing_refresh(void **state)
{
	struct sip_msg *inv, *ok, *m;
	struct ue a, b;

	(void)state;
	short_timers(IMS_CFG_SE_METHOD_UPDATE, IMS_CFG_REFRESHER_UAC);
	ue_open(&a, "alice");
	ue_open(&b, "bob");
	ue_register(&a);
	ue_register(&b);
	call_up(&a, &b, "Supported: timer\r\nSession-Expires: 4;refresher=uac\r\n",
		"Require: timer\r\nSession-Expires: 4;refresher=uas\r\n", &ok, &inv);
	assert_string_equal(hdr(ok, "Session-Expires"), "4;refresher=uac");
	/* the caller's refresh at 1.5 s, relayed with leg B's own header */
	quiet_for(&a, 1500);
	a_req(&a, ok, "UPDATE", 2, "Session-Expires: 4;refresher=uac\r\n");
	m = next_req(&b);
	assert_int_equal(m->meth, SIP_METHOD_UPDATE);
	assert_string_equal(hdr(m, "Session-Expires"), "4;refresher=uas");
	answer_x(&b, m, 200, "OK", NULL, "Session-Expires: 4;refresher=uas\r\n", NULL);
	mem_deref(m);
	m = ue_recv_skip(&a);
	assert_int_equal(m->scode, 200);
	assert_string_equal(hdr(m, "Session-Expires"), "4;refresher=uac");
	mem_deref(m);
	/* past the first expiry (3 s after the answer), before the new one
	 * (3 s after the refresh): nothing */
	quiet_for(&a, 2000);
	assert_false(readable(b.fd));
	/* no more refreshes: BYE on both legs */
	expect_req(&a, SIP_METHOD_BYE);
	expect_req(&b, SIP_METHOD_BYE);
	mem_deref(inv);
	mem_deref(ok);
	ue_close(&a);
	ue_close(&b);
}

/* A refresh naming another refresher moves the role (RFC 4028 §9, §10):
 * imsd refreshes both legs (refresher uas), then the caller's UPDATE says
 * refresher=uac: its 200 says so, imsd refreshes only bob's leg from then
 * on, and the caller's missing refresh ends the call. */
static void test_refresher_moves(void **state)
{
	struct sip_msg *inv, *ok, *m;
	struct ue a, b;

	(void)state;
	short_timers(IMS_CFG_SE_METHOD_UPDATE, IMS_CFG_REFRESHER_UAS);
	ue_open(&a, "alice");
	ue_open(&b, "bob");
	ue_register(&a);
	ue_register(&b);
	call_up(&a, &b, "Supported: timer\r\n", "", &ok, &inv);
	assert_string_equal(hdr(ok, "Session-Expires"), "4;refresher=uas");
	a_req(&a, ok, "UPDATE", 2, "Supported: timer\r\nSession-Expires: 4;refresher=uac\r\n");
	m = next_req(&b);
	assert_int_equal(m->meth, SIP_METHOD_UPDATE);
	answer(&b, m, 200, "OK", NULL, NULL);
	mem_deref(m);
	m = ue_recv_skip(&a);
	assert_int_equal(m->scode, 200);
	assert_string_equal(hdr(m, "Session-Expires"), "4;refresher=uac");
	mem_deref(m);
	/* at 2 s imsd refreshes bob's leg only */
	m = next_req(&b);
	assert_int_equal(m->meth, SIP_METHOD_UPDATE);
	assert_string_equal(hdr(m, "Session-Expires"), "4;refresher=uac");
	answer(&b, m, 200, "OK", NULL, NULL);
	mem_deref(m);
	/* alice never refreshes: BYE (not imsd's UPDATE) at 3 s */
	expect_req(&a, SIP_METHOD_BYE);
	expect_req(&b, SIP_METHOD_BYE);
	mem_deref(inv);
	mem_deref(ok);
	ue_close(&a);
	ue_close(&b);
}

/* An UPDATE of the early dialogs (preconditions) is no refresh: it goes
 * on without Session-Expires, its 200 comes back without one (§9). */
static void test_early_update(void **state)
{
	struct sip_msg *inv, *p183, *m;
	struct ue a, b;

	(void)state;
	ue_open(&a, "alice");
	ue_open(&b, "bob");
	ue_register(&a);
	ue_register(&b);
	invite(&a, "sip:bob@ims.test", "ste1@t",
	       "Supported: timer\r\nSession-Expires: 1800;refresher=uac\r\n");
	inv = ue_recv(&b);
	assert_string_equal(hdr(inv, "Session-Expires"), "1800;refresher=uac");
	answer(&b, inv, 183, "Session Progress", "b1", SDP);
	p183 = ue_recv_skip(&a);
	assert_int_equal(p183->scode, 183);
	assert_null(hdr(p183, "Session-Expires"));
	a_req(&a, p183, "UPDATE", 2, "Session-Expires: 1800;refresher=uac\r\n");
	m = next_req(&b);
	assert_int_equal(m->meth, SIP_METHOD_UPDATE);
	assert_null(hdr(m, "Session-Expires"));
	answer_x(&b, m, 200, "OK", NULL, "Session-Expires: 1800;refresher=uas\r\n", NULL);
	mem_deref(m);
	m = ue_recv_skip(&a);
	assert_int_equal(m->scode, 200);
	assert_null(hdr(m, "Session-Expires"));
	mem_deref(m);
	mem_deref(p183);
	mem_deref(inv);
	assert_int_equal(b2bua_dialog_stop(T.b2b, 1), 0);
	ue_close(&a);
	ue_close(&b);
}

/* The echo service: imsd the only other side, refreshing the caller. */
static void test_echo(void **state)
{
	struct sip_msg *m, *ok;
	struct ue a;

	(void)state;
	short_timers(IMS_CFG_SE_METHOD_UPDATE, IMS_CFG_REFRESHER_UAS);
	ue_open(&a, "alice");
	ue_register(&a);
	invite(&a, "sip:echo@ims.test", "ste@t", "Supported: timer\r\n");
	ue_expect_scode(&a, 180);
	ok = ue_recv_skip(&a);
	assert_int_equal(ok->scode, 200);
	/* `refresher` uas: imsd */
	assert_string_equal(hdr(ok, "Session-Expires"), "4;refresher=uas");
	assert_true(has_line(ok, "Require: timer"));
	a_req(&a, ok, "ACK", 1, "");
	m = next_req(&a);
	assert_int_equal(m->meth, SIP_METHOD_UPDATE);
	answer(&a, m, 408, "Request Timeout", NULL, NULL);
	mem_deref(m);
	expect_req(&a, SIP_METHOD_BYE);
	mem_deref(ok);
	ue_close(&a);
}

/* mt_call: the callee IMPU's settings; the phone refreshes; its UPDATE
 * (taken by imsd) puts the expiry off, then BYE when none comes. */
static void test_mt(void **state)
{
	struct b2bua_mt_prm p = {.callee = "sip:bob@ims.test"};
	struct sip_msg *inv, *m;
	uint32_t idx = 0;
	uint16_t scode = 0;
	char r[1024], target[128];
	struct ue b;

	(void)state;
	short_timers(IMS_CFG_SE_METHOD_UPDATE, IMS_CFG_REFRESHER_UAS);
	ue_open(&b, "bob");
	ue_register(&b);
	assert_int_equal(b2bua_mt_call(T.b2b, &p, &idx, &scode), 0);
	inv = next_req(&b);
	assert_int_equal(inv->meth, SIP_METHOD_INVITE);
	assert_string_equal(hdr(inv, "Session-Expires"), "4;refresher=uas");
	assert_string_equal(hdr(inv, "Min-SE"), "2");
	answer_x(&b, inv, 200, "OK", "b9", "Require: timer\r\nSession-Expires: 4;refresher=uas\r\n",
		 SDP);
	expect_req(&b, SIP_METHOD_ACK);
	quiet_for(&b, 1500);
	/* bob's refresh: an UPDATE to imsd's Contact in imsd's dialog */
	snprintf(target, sizeof(target), "%.*s", (int)(strlen(hdr(inv, "Contact")) - 2),
		 hdr(inv, "Contact") + 1);
	snprintf(r, sizeof(r),
		 "UPDATE %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKmtu1;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: %s;tag=b9\r\nTo: %s\r\nCall-ID: %s\r\n"
		 "CSeq: 1 UPDATE\r\nContact: <sip:bob@127.0.0.1:%u>\r\n"
		 "Session-Expires: 4;refresher=uac\r\nContent-Length: 0\r\n\r\n",
		 target, b.port, hdr(inv, "To"), hdr(inv, "From"), hdr(inv, "Call-ID"), b.port);
	ue_send(&b, r);
	m = ue_recv_skip(&b);
	assert_int_equal(m->scode, 200);
	assert_string_equal(hdr(m, "Session-Expires"), "4;refresher=uac");
	mem_deref(m);
	quiet_for(&b, 2000); /* past the first expiry, before the new one */
	expect_req(&b, SIP_METHOD_BYE);
	mem_deref(inv);
	ue_close(&b);
}

/* An audio SDP of user on port, o= version v. */
static void a_sdp(char *buf, size_t size, const char *user, uint16_t port, int v)
{
	snprintf(buf, size,
		 "v=0\r\no=%s 1 %d IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
		 "m=audio %u RTP/AVP 0\r\n",
		 user, v, port);
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

/* With the relay, imsd's re-INVITE refresh: bob answers it on another
 * media port, and the relay follows (his answer goes to the relay as
 * dialog_set's do); each refresh carries the SDP that phone has, the same
 * o= version (RFC 3264 §8: no change). */
static void test_refresh_invite_moves(void **state)
{
	struct sip_msg *inv, *ok, *ra, *rb, *m;
	struct ue a, b, pa, pb, pb2;
	char sa[512], sb[512], sb2[512];
	uint16_t relay_a;

	(void)state;
	short_timers(IMS_CFG_SE_METHOD_INVITE, IMS_CFG_REFRESHER_UAS);
	ue_open(&a, "alice");
	ue_open(&b, "bob");
	ue_open(&pa, "rtpa");
	ue_open(&pb, "rtpb");
	ue_open(&pb2, "rtpb2");
	ue_register(&a);
	ue_register(&b);
	a_sdp(sa, sizeof(sa), "alice", pa.port, 1);
	a_sdp(sb, sizeof(sb), "bob", pb.port, 1);
	a_sdp(sb2, sizeof(sb2), "bob", pb2.port, 2);
	invite_body(&a, "sip:bob@ims.test", "stm@t", "", sa);
	inv = ue_recv(&b);
	answer(&b, inv, 200, "OK", "b1", sb);
	ok = ue_recv_skip(&a);
	assert_int_equal(ok->scode, 200);
	a_req(&a, ok, "ACK", 1, "");
	m = ue_recv(&b);
	assert_true(m->req && m->meth == SIP_METHOD_ACK);
	mem_deref(m);
	relay_a = body_port(ok);
	assert_true(rtp_through(&pa, relay_a, &pb));
	ra = next_req(&a);
	rb = next_req(&b);
	assert_int_equal(ra->meth, SIP_METHOD_INVITE);
	assert_int_equal(rb->meth, SIP_METHOD_INVITE);
	assert_true(pl_eq(ra->body, ok->body));
	assert_true(pl_eq(rb->body, inv->body));
	answer(&a, ra, 200, "OK", NULL, sa);
	answer(&b, rb, 200, "OK", NULL, sb2);
	expect_req(&a, SIP_METHOD_ACK);
	expect_req(&b, SIP_METHOD_ACK);
	/* the relay sends to bob's new port */
	assert_true(rtp_through(&pa, relay_a, &pb2));
	assert_false(readable(pb.fd));
	assert_int_equal(b2bua_dialog_stop(T.b2b, 1), 0);
	mem_deref(ra);
	mem_deref(rb);
	mem_deref(inv);
	mem_deref(ok);
	ue_close(&a);
	ue_close(&b);
	ue_close(&pa);
	ue_close(&pb);
	ue_close(&pb2);
}

/* bob's 422 to imsd's INVITE (RFC 4028 §7.4): imsd sends the INVITE again
 * with his Min-SE (same Call-ID and From, CSeq 2), the caller never sees
 * the 422 and gets that interval; a second 422 of the same branch goes to
 * the caller. */
static void test_callee_422(void **state)
{
	struct sip_msg *inv, *inv2, *m;
	struct ue a, b;

	(void)state;
	ue_open(&a, "alice");
	ue_open(&b, "bob");
	ue_register(&a);
	ue_register(&b);
	invite(&a, "sip:bob@ims.test", "st422@t", "Supported: timer\r\n");
	inv = ue_recv(&b);
	assert_string_equal(hdr(inv, "Session-Expires"), "1800;refresher=uac");
	answer_x(&b, inv, 422, "Session Interval Too Small", "b1", "Min-SE: 2000\r\n", NULL);
	/* the 422's ACK, then the new INVITE */
	m = ue_recv_skip(&b);
	inv2 = ue_recv_skip(&b);
	assert_true(m->req && m->meth == SIP_METHOD_ACK);
	assert_string_equal(hdr(m, "CSeq"), "1 ACK");
	mem_deref(m);
	assert_true(inv2->req && inv2->meth == SIP_METHOD_INVITE);
	assert_string_equal(hdr(inv2, "Call-ID"), hdr(inv, "Call-ID"));
	assert_string_equal(hdr(inv2, "From"), hdr(inv, "From"));
	assert_string_equal(hdr(inv2, "CSeq"), "2 INVITE");
	assert_string_equal(hdr(inv2, "Session-Expires"), "2000;refresher=uac");
	assert_string_equal(hdr(inv2, "Min-SE"), "2000");
	assert_int_equal(sip_msg_hdr_count(inv2, SIP_HDR_SESSION_EXPIRES), 1);
	assert_true(pl_eq(inv2->body, inv->body));
	ue_quiet(&a, 100); /* no 422 to the caller */
	answer(&b, inv2, 200, "OK", "b2", SDP);
	m = ue_recv_skip(&a);
	assert_int_equal(m->scode, 200);
	assert_string_equal(hdr(m, "Session-Expires"), "2000;refresher=uac");
	a_req(&a, m, "ACK", 1, "");
	mem_deref(m);
	m = ue_recv_skip(&b);
	while (m->req && m->meth == SIP_METHOD_INVITE) { /* sent again meanwhile */
		mem_deref(m);
		m = ue_recv_skip(&b);
	}
	assert_true(m->req && m->meth == SIP_METHOD_ACK);
	assert_string_equal(hdr(m, "CSeq"), "2 ACK");
	mem_deref(m);
	assert_int_equal(b2bua_dialog_stop(T.b2b, 1), 0);
	m = next_req(&a);
	assert_int_equal(m->meth, SIP_METHOD_BYE);
	m = mem_deref(m);
	do {
		mem_deref(m);
		m = next_req(&b);
	} while (m->meth != SIP_METHOD_BYE);
	mem_deref(m);
	mem_deref(inv);
	mem_deref(inv2);
	/* twice: the second 422 is the caller's answer */
	invite(&a, "sip:bob@ims.test", "st422b@t", "");
	inv = ue_recv_skip(&b);
	while (!inv->req || inv->meth != SIP_METHOD_INVITE) {
		mem_deref(inv);
		inv = ue_recv_skip(&b);
	}
	answer_x(&b, inv, 422, "Session Interval Too Small", "b3", "Min-SE: 2000\r\n", NULL);
	inv2 = ue_recv_skip(&b);
	while (!inv2->req || inv2->meth != SIP_METHOD_INVITE) {
		mem_deref(inv2);
		inv2 = ue_recv_skip(&b);
	}
	answer_x(&b, inv2, 422, "Session Interval Too Small", "b4", "Min-SE: 3000\r\n",
		 NULL);
	m = ue_recv_skip(&a);
	assert_int_equal(m->scode, 422);
	assert_string_equal(hdr(m, "Min-SE"), "3000");
	mem_deref(m);
	mem_deref(inv);
	mem_deref(inv2);
	ue_close(&a);
	ue_close(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rules),
	    cmocka_unit_test_setup_teardown(test_negotiation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refresh_update, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refresh_invite, setup, teardown),
	    /* with the relay: each leg's SDP is the relay's rewrite */
	    cmocka_unit_test_setup_teardown(test_refresh_invite, setup_relay, teardown),
	    cmocka_unit_test_setup_teardown(test_refresh_invite_moves, setup_relay, teardown),
	    cmocka_unit_test_setup_teardown(test_callee_422, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_refresh, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refresher_moves, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_early_update, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_echo, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mt, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
