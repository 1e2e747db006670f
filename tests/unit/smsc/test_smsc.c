/* Unit tests: the SMS service (smsc/): MO answers and causes, MT delivery
 * with its headers and PDUs, retries, RP-ACK timeout, expiry and status
 * reports, sms_delay, the queue bound, the filters and forced cause,
 * operator SMS, and the state file (answers held until the commit, the
 * queues restored, nothing delivered twice). The SIP side and the clocks
 * are replaced through struct smsc_ops. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "config/ims_cfg.h"
#include "core/mem.h"
#include "hss/hss.h"
#include "loop/loop.h"
#include "registrar/registrar.h"
#include "sip/sip_hdr.h"
#include "sms/sms_rp.h"
#include "sms/sms_tpdu.h"
#include "smsc/smsc.h"
#include "smsc/smsc_int.h" /* smsc_message_build, SMSC_RND_POOL */
#include "core/mbuf.h"
#include "store/store.h"

#define SENT_MAX 64
#define SMSC_DUP_WINDOW_S_TEST 60 /* smsc_int.h SMSC_DUP_WINDOW_S */

/* alice and bob take SMS; carol registers without +g.3gpp.smsip; dave's
 * IMPU has sms_delay 5. */
static const char *USERS =
    "'ue_db': ["
    "{'imsi': '001010000000001', 'impi': 'alice@ims.test', 'authent_type': 'none',"
    " 'impu': ['sip:alice', 'tel:+33600000001']},"
    "{'imsi': '001010000000002', 'impi': 'bob@ims.test', 'authent_type': 'none',"
    " 'impu': ['sip:bob', 'tel:+33600000002']},"
    "{'imsi': '001010000000003', 'impi': 'carol@ims.test', 'authent_type': 'none',"
    " 'impu': ['sip:carol', 'tel:+33600000003']},"
    "{'imsi': '001010000000004', 'impi': 'dave@ims.test', 'authent_type': 'none',"
    " 'impu': ['sip:dave', {'impu': 'tel:+33600000004', 'sms_delay': 5}]}]";

struct sent {
	char text[2048];
	uint8_t body[SMS_RP_MAX];
	size_t blen;
};

static struct {
	struct ims_cfg *cfg;
	struct hss *hss;
	struct registrar *reg;
	struct smsc *s;
	struct store *st;
	char path[256];
	uint16_t scode; /* the last answer */
	char reason[128];
	char hdrs[256];
	int nreplies;
	struct sent sent[SENT_MAX]; /* requests the service sent */
	int nsent;
	struct sip_tsx_resp_h_rec {
		sip_tsx_resp_h *h;
		void *arg;
	} resp[SENT_MAX];
	uint64_t now;
	int64_t wall;
	int regcode;
	int req_err; /* request_h refuses with it when set */
} T;

static struct sip_msg *decode(const char *text, size_t len)
{
	struct sip_decode_prm dp = {.max_size = 65535};
	struct sip_msg *m = NULL;

	if (sip_msg_decode_copy(&m, text, len, &dp))
		fail_msg("decode: %s", text);
	return m;
}

static int reg_reply_h(struct sip_tsx *tsx, uint16_t scode, const char *reason,
		       const struct sip_tsx_reply_prm *prm, void *arg)
{
	(void)tsx;
	(void)reason;
	(void)prm;
	(void)arg;
	T.regcode = scode;
	return 0;
}

static int reply_h(struct sip_stack *stack, struct sip_tsx *tsx, uint16_t scode,
		   const char *reason, const struct sip_tsx_reply_prm *prm, void *arg)
{
	(void)stack;
	(void)tsx;
	(void)arg;
	T.scode = scode;
	T.nreplies++;
	snprintf(T.reason, sizeof(T.reason), "%s", reason);
	snprintf(T.hdrs, sizeof(T.hdrs), "%.*s", prm ? (int)prm->hdrs.l : 0,
		 prm ? prm->hdrs.p : "");
	return 0;
}

static int request_h(struct sip_stack *stack, const struct sip_stack_req_prm *prm, void *arg)
{
	struct sent *x;
	struct sip_msg *m;

	(void)stack;
	(void)arg;
	if (T.req_err)
		return T.req_err;
	assert_true(T.nsent < SENT_MAX);
	x = &T.sent[T.nsent];
	m = decode(prm->req.p, prm->req.l);
	snprintf(x->text, sizeof(x->text), "%.*s", (int)m->hdrs.l, m->hdrs.p);
	snprintf(x->text, sizeof(x->text), "%.*s\r\n%.*s", (int)m->start.l, m->start.p,
		 (int)m->hdrs.l, m->hdrs.p);
	assert_true(m->body.l <= sizeof(x->body));
	memcpy(x->body, m->body.p, m->body.l);
	x->blen = m->body.l;
	mem_deref(m);
	T.resp[T.nsent].h = prm->resp_h;
	T.resp[T.nsent].arg = prm->arg;
	T.nsent++;
	return 0;
}

static struct sip_tsx *tsx_find_h(struct sip_stack *stack, uint64_t id, void *arg)
{
	(void)stack;
	(void)id;
	(void)arg;
	return (struct sip_tsx *)&T; /* never dereferenced by reply_h */
}

static uint64_t now_h(void *arg)
{
	(void)arg;
	return T.now;
}

static int64_t wall_h(void *arg)
{
	(void)arg;
	return T.wall;
}

static const struct smsc_ops OPS = {.reply = reply_h, .request = request_h,
				    .tsx_find = tsx_find_h, .now_ms = now_h,
				    .wall_s = wall_h};

static void smsc_new(void)
{
	struct smsc_prm p = {.cfg = T.cfg, .hss = T.hss, .reg = T.reg, .ops = &OPS,
			     .host = "127.0.0.1:5060"};
	char err[256];

	assert_int_equal(smsc_alloc(&T.s, &p), 0);
	if (T.st)
		assert_int_equal(smsc_store_attach(T.s, T.st, err, sizeof(err)), 0);
}

/* The service on USERS with extra properties (ending in a comma), or on
 * the ue_db extra names (last, no comma). */
static void start(const char *extra)
{
	static const struct registrar_ops rops = {.reply = reg_reply_h};
	struct registrar_prm rp = {0};
	char err[512], text[4096];
	struct cfg_diag d = {err, sizeof(err), NULL, NULL};
	json_error_t je;
	json_t *root;

	snprintf(text, sizeof(text),
		 "{'sip_addr': '127.0.0.1:5060', 'domain': 'ims.test', "
		 "'sms_centre_address': {'type_of_number': 'international', 'number': "
		 "'+33699999999'}, 'sms_retry_delay': 10, %s %s}",
		 extra, strstr(extra, "'ue_db'") ? "" : USERS);
	for (char *p = text; *p; p++)
		*p = *p == '\'' ? '"' : *p;
	root = json_loads(text, 0, &je);
	if (!root)
		fail_msg("json: %s: %s", je.text, text);
	if (ims_cfg_from_json(root, NULL, &T.cfg, &d))
		fail_msg("cfg: %s", err);
	json_decref(root);
	assert_int_equal(hss_alloc(&T.hss, T.cfg, err, sizeof(err)), 0);
	rp.cfg = T.cfg;
	rp.hss = T.hss;
	rp.ops = &rops;
	rp.host = "127.0.0.1:5060";
	assert_int_equal(registrar_alloc(&T.reg, &rp), 0);
	T.now = 1000;
	T.wall = 1800000000;
	smsc_new();
}

static int setup(void **state)
{
	(void)state;
	memset(&T, 0, sizeof(T));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	mem_deref(T.s);
	mem_deref(T.reg);
	mem_deref(T.st);
	mem_deref(T.hss);
	ims_cfg_free(T.cfg);
	if (T.path[0]) {
		char p[300];

		unlink(T.path);
		snprintf(p, sizeof(p), "%s-wal", T.path);
		unlink(p);
		snprintf(p, sizeof(p), "%s-shm", T.path);
		unlink(p);
	}
	return 0;
}

static struct net_flow flow_of(uint16_t port)
{
	struct net_flow f;

	memset(&f, 0, sizeof(f));
	assert_int_equal(net_addr_parse_str(&f.peer, "127.0.0.1", port), 0);
	return f;
}

/* user registers from port (feature tag +g.3gpp.smsip when smsip). */
static void ue_bind(const char *user, uint16_t port, bool smsip)
{
	struct net_flow f = flow_of(port);
	char buf[1024];
	struct sip_msg *m;

	snprintf(buf, sizeof(buf),
		 "REGISTER sip:ims.test SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKr%s\r\n"
		 "From: <sip:%s@ims.test>;tag=f\r\nTo: <sip:%s@ims.test>\r\n"
		 "Call-ID: reg-%s\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\n"
		 "Contact: <sip:%s@127.0.0.1:%u>%s\r\nContent-Length: 0\r\n\r\n",
		 port, user, user, user, user, user, port, smsip ? ";+g.3gpp.smsip" : "");
	m = decode(buf, strlen(buf));
	registrar_register_h(NULL, NULL, m, &f, T.reg);
	mem_deref(m);
	assert_int_equal(T.regcode, 200);
}

/* A MESSAGE from user (registered from port) with body; orig NULL when
 * unregistered. */
static void mo(const char *user, uint16_t port, const char *ctype, const uint8_t *body,
	       size_t len)
{
	struct net_flow f = flow_of(port);
	char buf[2048];
	struct sip_msg *m;
	struct smsc_req r = {0};
	uint32_t impu = HSS_IMPU_NONE;
	int n;

	n = snprintf(buf, sizeof(buf),
		     "MESSAGE sip:+33699999999@ims.test;user=phone SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKm\r\n"
		     "From: <sip:%s@ims.test>;tag=f\r\nTo: <sip:smsc@ims.test>\r\n"
		     "Call-ID: mo@x\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n"
		     "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
		     port, user, ctype, len);
	memcpy(buf + n, body, len);
	m = decode(buf, (size_t)n + len);
	r.req = m;
	r.flow = &f;
	r.orig = user ? hss_user_by_impi(T.hss, pl_from_str(user)) : NULL;
	if (r.orig && !registrar_user_on_flow(T.reg, r.orig, &f))
		r.orig = NULL;
	if (r.orig)
		impu = hss_user_asserted(r.orig);
	r.orig_impu = impu;
	T.scode = 0;
	smsc_message(T.s, &r);
	mem_deref(m);
}

/* An SMS-SUBMIT in RP-DATA (ms->n) to dest. */
/* TP-VP of the next rp_submit (relative format), -1: none. */
static int next_vp = -1;

static size_t rp_submit(uint8_t *buf, uint8_t rp_mr, uint8_t tp_mr, const char *dest,
			const char *text, bool srr)
{
	struct sms_tpdu t;
	struct sms_rp rp;
	uint8_t tp[SMS_TPDU_MAX];
	size_t tl, len, n = 0;
	uint8_t dcs;

	memset(&t, 0, sizeof(t));
	t.type = SMS_TP_SUBMIT;
	t.mr = tp_mr;
	t.srr = srr;
	t.has_pid = t.has_dcs = t.has_ud = true;
	assert_int_equal(sms_addr_set(&t.addr, dest), 0);
	assert_int_equal(sms_text_split(text, strlen(text),
					&(struct sms_split_prm){.max_parts = 1}, &t.ud, &n,
					&dcs),
			 0);
	t.dcs = dcs;
	if (next_vp >= 0) {
		t.vp.vpf = SMS_VPF_RELATIVE;
		t.vp.rel = (uint8_t)next_vp;
		next_vp = -1;
	}
	assert_int_equal(sms_tpdu_encode(&t, tp, sizeof(tp), &tl), 0);
	sms_rp_data_init(&rp, SMS_DIR_MO, rp_mr, tp, tl);
	assert_int_equal(sms_addr_set(&rp.da, "+33699999999"), 0);
	rp.da.present = true;
	assert_int_equal(sms_rp_encode(&rp, buf, SMS_RP_MAX, &len), 0);
	return len;
}

static void mo_sms(const char *user, uint16_t port, uint8_t rp_mr, const char *dest,
		   const char *text, bool srr)
{
	uint8_t b[SMS_RP_MAX];
	size_t n = rp_submit(b, rp_mr, rp_mr, dest, text, srr);

	mo(user, port, "application/vnd.3gpp.sms", b, n);
}

static void mo_rp(const char *user, uint16_t port, uint8_t mti, uint8_t mr, uint8_t cause)
{
	uint8_t b[4] = {mti, mr, 1, cause};

	mo(user, port, "application/vnd.3gpp.sms", b, mti == SMS_RP_ERROR_MO ? 4 : 2);
}

/* The RP message of request i. */
static struct sms_rp sent_rp(int i)
{
	struct sms_rp rp;

	assert_true(i < T.nsent);
	assert_int_equal(sms_rp_decode(&rp, T.sent[i].body, T.sent[i].blen, NULL), 0);
	return rp;
}

/* The TPDU of request i (an RP-DATA n->ms). */
static struct sms_tpdu sent_tpdu(int i)
{
	struct sms_rp rp = sent_rp(i);
	struct sms_tpdu_dec_prm dp = {.dir = SMS_DIR_MT};
	struct sms_tpdu t;

	assert_int_equal(rp.mti, SMS_RP_DATA_MT);
	assert_int_equal(sms_tpdu_decode(&t, rp.ud, rp.ud_len, &dp, NULL), 0);
	return t;
}

/* The answer a phone gives to request i (200 or error). */
static void answer(int i, uint16_t scode)
{
	T.resp[i].h(NULL, NULL, scode, T.resp[i].arg);
}

static void text_of(const struct sms_tpdu *t, const char *want)
{
	char out[512];
	size_t len;

	assert_int_equal(sms_tpdu_text(t, out, sizeof(out), &len), 0);
	assert_string_equal(out, want);
}

static struct smsc_stats stats(void)
{
	struct smsc_stats st;

	smsc_stats_get(T.s, &st);
	return st;
}

/* ---- tests ---- */

static void test_mo_mt_delivered(void **state)
{
	struct sms_tpdu t;
	struct sms_rp rp;

	(void)state;
	start("");
	ue_bind("alice", 5001, true);
	ue_bind("bob", 5002, true);
	mo_sms("alice@ims.test", 5001, 9, "+33600000002", "hello", false);
	assert_int_equal(T.scode, 202);
	assert_int_equal(T.nsent, 2);
	/* the RP-ACK to alice, in a MESSAGE to her contact */
	rp = sent_rp(0);
	assert_int_equal(rp.mti, SMS_RP_ACK_MT);
	assert_int_equal(rp.mr, 9);
	assert_non_null(strstr(T.sent[0].text, "MESSAGE sip:alice@127.0.0.1:5001 SIP/2.0"));
	/* the SMS-DELIVER to bob: RP-OA the SC, RP-DA empty, TP-OA alice's tel */
	assert_non_null(strstr(T.sent[1].text, "MESSAGE sip:bob@127.0.0.1:5002 SIP/2.0"));
	assert_non_null(strstr(T.sent[1].text, "To: <tel:+33600000002>"));
	assert_non_null(strstr(T.sent[1].text, "Content-Type: application/vnd.3gpp.sms"));
	assert_non_null(
	    strstr(T.sent[1].text, "P-Asserted-Identity: <sip:+33699999999@ims.test;user=phone>"));
	rp = sent_rp(1);
	assert_true(rp.oa.present);
	assert_string_equal(rp.oa.val, "33699999999");
	assert_false(rp.da.present);
	t = sent_tpdu(1);
	assert_int_equal(t.type, SMS_TP_DELIVER);
	assert_string_equal(t.addr.val, "33600000001");
	assert_int_equal(t.addr.toa, SMS_TOA_INTERNATIONAL);
	text_of(&t, "hello");
	assert_int_equal(smsc_pending_count(T.s, hss_user_by_impi(T.hss, PL("bob@ims.test"))),
			 1);
	/* bob's phone: 200 to the MESSAGE, then its RP-ACK */
	answer(1, 200);
	mo_rp("bob@ims.test", 5002, SMS_RP_ACK_MO, rp.mr, 0);
	assert_int_equal(T.scode, 200);
	assert_int_equal(stats().delivered, 1);
	assert_int_equal(stats().pending, 0);
	/* an RP-ACK for nothing in flight is answered and ignored */
	mo_rp("bob@ims.test", 5002, SMS_RP_ACK_MO, rp.mr, 0);
	assert_int_equal(T.scode, 200);
	assert_int_equal(stats().delivered, 1);
}

static void test_mo_refused(void **state)
{
	uint8_t b[SMS_RP_MAX];
	size_t n;
	struct sms_rp rp;

	(void)state;
	start("");
	ue_bind("alice", 5001, true);
	/* not from a registered flow */
	mo_sms("alice@ims.test", 5009, 1, "+33600000002", "x", false);
	assert_int_equal(T.scode, 403);
	/* another content type */
	mo("alice@ims.test", 5001, "text/plain", (const uint8_t *)"hi", 2);
	assert_int_equal(T.scode, 415);
	assert_string_equal(T.hdrs, "Accept: application/vnd.3gpp.sms\r\n");
	/* no RP-MR to answer */
	mo("alice@ims.test", 5001, "application/vnd.3gpp.sms", (const uint8_t *)"\0", 1);
	assert_int_equal(T.scode, 400);
	assert_int_equal(T.nsent, 0);
	/* nobody has that number: cause 1 */
	mo_sms("alice@ims.test", 5001, 4, "+33612345678", "x", false);
	assert_int_equal(T.scode, 202);
	rp = sent_rp(0);
	assert_int_equal(rp.mti, SMS_RP_ERROR_MT);
	assert_int_equal(rp.mr, 4);
	assert_int_equal(rp.cause, SMS_RP_CAUSE_UNASSIGNED_NUMBER);
	/* a TPDU cut short: the codec's cause (95 or 96) */
	n = rp_submit(b, 5, 5, "+33600000002", "cut short", false);
	b[n - 10 - 1] -= 3; /* RP-User-Data length: the TPDU loses 3 octets */
	mo("alice@ims.test", 5001, "application/vnd.3gpp.sms", b, n - 3);
	rp = sent_rp(1);
	assert_int_equal(rp.mti, SMS_RP_ERROR_MT);
	assert_int_equal(rp.mr, 5);
	assert_true(rp.cause == 95 || rp.cause == 96);
	/* a network-to-phone type from a phone: 97 */
	mo_rp("alice@ims.test", 5001, SMS_RP_ACK_MT, 6, 0);
	rp = sent_rp(2);
	assert_int_equal(rp.cause, SMS_RP_CAUSE_MTI_UNKNOWN);
	assert_int_equal(stats().pending, 0);
}

/* A phone that got no RP-ACK sends the same SMS-SUBMIT again (new RP-MR,
 * same TP-MR and TP-DA): acknowledged, not queued twice. The TP-DA given
 * with the country code but TON unknown still finds the user. */
static void test_duplicate_and_national_da(void **state)
{
	(void)state;
	start("");
	ue_bind("alice", 5001, true);
	mo_sms("alice@ims.test", 5001, 1, "33600000002", "once", false);
	assert_int_equal(sent_rp(0).mti, SMS_RP_ACK_MT);
	assert_int_equal(stats().pending, 1);
	mo_sms("alice@ims.test", 5001, 1, "33600000002", "once", false);
	assert_int_equal(T.scode, 202);
	assert_int_equal(sent_rp(1).mti, SMS_RP_ACK_MT);
	assert_int_equal(stats().pending, 1);
	/* a minute later the same TP-MR is a new SMS */
	T.wall += SMSC_DUP_WINDOW_S_TEST + 1;
	mo_sms("alice@ims.test", 5001, 1, "33600000002", "twice", false);
	assert_int_equal(stats().pending, 2);
}

static void test_filters_and_forced_cause(void **state)
{
	struct sms_rp rp;

	(void)state;
	start("'sms_message_filter': {'rp_data': 'reject'}, 'sms_forced_rp_cause': 41,");
	ue_bind("alice", 5001, true);
	mo_sms("alice@ims.test", 5001, 1, "+33600000002", "x", false);
	assert_int_equal(T.scode, 202);
	rp = sent_rp(0);
	assert_int_equal(rp.mti, SMS_RP_ERROR_MT);
	assert_int_equal(rp.cause, 41); /* the forced one, not 21 */
	teardown(NULL);
	setup(NULL);
	start("'sms_message_filter': {'rp_data': 'ignore', 'rp_ack': 'reject'},");
	ue_bind("alice", 5001, true);
	mo_sms("alice@ims.test", 5001, 1, "+33600000002", "x", false);
	assert_int_equal(T.scode, 202);
	assert_int_equal(T.nsent, 0); /* no RP answer at all */
	assert_int_equal(stats().pending, 0);
	mo_rp("alice@ims.test", 5001, SMS_RP_ACK_MO, 1, 0);
	assert_int_equal(T.scode, 403);
}

static void test_retry_after_rp_error(void **state)
{
	struct sms_tpdu t;
	struct sms_rp rp;

	(void)state;
	start("");
	ue_bind("alice", 5001, true);
	ue_bind("bob", 5002, true);
	mo_sms("alice@ims.test", 5001, 1, "+33600000002", "again", false);
	rp = sent_rp(1);
	answer(1, 200);
	mo_rp("bob@ims.test", 5002, SMS_RP_ERROR_MO, rp.mr, SMS_RP_CAUSE_MEMORY_EXCEEDED);
	assert_int_equal(stats().failed, 1);
	/* nothing before sms_retry_delay (10 s) */
	T.now += 9000;
	smsc_tick(T.s);
	assert_int_equal(T.nsent, 2);
	T.now += 1000;
	smsc_tick(T.s);
	assert_int_equal(T.nsent, 3);
	assert_int_not_equal(sent_rp(2).mr, rp.mr);
	t = sent_tpdu(2);
	text_of(&t, "again");
}

/* Without sms_retry_delay, a delivery imsd itself refused (its 503 with no
 * response: the transaction bound, an unproven address's budget; or no
 * MESSAGE could be sent at all) is tried again after 1 s, doubling while
 * it goes on, back to 1 s after a delivery; a phone's own error answer
 * waits for its next registration. */
static void test_local_refusal_retried(void **state)
{
	struct sms_rp rp;

	(void)state;
	start("'sms_retry_delay': 0,");
	ue_bind("alice", 5001, true);
	ue_bind("bob", 5002, true);
	mo_sms("alice@ims.test", 5001, 1, "+33600000002", "soon", false);
	assert_int_equal(T.nsent, 2);
	answer(1, 503); /* resp NULL: imsd's own */
	assert_int_equal(stats().failed, 1);
	T.now += SMSC_LOCAL_RETRY_MS - 1;
	smsc_tick(T.s);
	assert_int_equal(T.nsent, 2);
	T.now += 1;
	smsc_tick(T.s);
	assert_int_equal(T.nsent, 3);
	/* refused again, before any MESSAGE left: twice the wait */
	answer(2, 503);
	T.req_err = ENOSPC;
	T.now += 2 * SMSC_LOCAL_RETRY_MS - 1;
	smsc_tick(T.s);
	assert_int_equal(stats().failed, 2);
	T.now += 1;
	smsc_tick(T.s); /* tried: nothing could be sent */
	assert_int_equal(stats().failed, 3);
	T.req_err = 0;
	T.now += 4 * SMSC_LOCAL_RETRY_MS - 1;
	smsc_tick(T.s);
	assert_int_equal(T.nsent, 3);
	T.now += 1;
	smsc_tick(T.s);
	assert_int_equal(T.nsent, 4);
	/* delivered: the backoff starts over */
	rp = sent_rp(3);
	answer(3, 200);
	mo_rp("bob@ims.test", 5002, SMS_RP_ACK_MO, rp.mr, 0);
	assert_int_equal(stats().delivered, 1);
	mo_sms("alice@ims.test", 5001, 2, "+33600000002", "again", false);
	assert_int_equal(T.nsent, 6); /* the RP-ACK to alice, the MT */
	answer(5, 503);
	T.now += SMSC_LOCAL_RETRY_MS;
	smsc_tick(T.s);
	assert_int_equal(T.nsent, 7);
	/* the phone's own error: kept until it registers again */
	answer(6, 480);
	T.now += 10 * SMSC_LOCAL_RETRY_MAX_MS;
	smsc_tick(T.s);
	assert_int_equal(T.nsent, 7);
	assert_int_equal(stats().pending, 1);
}

static void test_timeout_then_error_answer(void **state)
{
	(void)state;
	start("");
	ue_bind("alice", 5001, true);
	ue_bind("bob", 5002, true);
	mo_sms("alice@ims.test", 5001, 1, "+33600000002", "late", false);
	answer(1, 200);
	/* the phone never sends its RP-ACK */
	T.now += SMSC_ACK_TIMEOUT_MS;
	smsc_tick(T.s);
	assert_int_equal(stats().failed, 1);
	T.now += 10000;
	smsc_tick(T.s);
	assert_int_equal(T.nsent, 3);
	/* an error answer to the MESSAGE fails the attempt at once */
	answer(2, 480);
	assert_int_equal(stats().failed, 2);
	/* a late answer of the first attempt changes nothing */
	answer(0, 200);
	assert_int_equal(stats().pending, 1);
	/* a registration (or sms_flush) does not wait for the retry delay */
	smsc_user_kick(T.s, hss_user_by_impi(T.hss, PL("bob@ims.test")));
	assert_int_equal(T.nsent, 4);
}

static void test_offline_expiry_and_report(void **state)
{
	struct sms_tpdu_dec_prm dp = {.dir = SMS_DIR_MT};
	struct sms_tpdu t;
	struct sms_rp rp;
	uint32_t n;
	uint8_t first;

	(void)state;
	start("'sms_expires': 60,");
	ue_bind("alice", 5001, true);
	ue_bind("carol", 5003, false); /* does not take SMS */
	mo_sms("alice@ims.test", 5001, 1, "+33600000003", "lost", true);
	mo_sms("alice@ims.test", 5001, 2, "+33600000002", "bob is off", true);
	assert_int_equal(T.nsent, 2); /* the two RP-ACKs only */
	assert_int_equal(smsc_flush(T.s, hss_user_by_impi(T.hss, PL("carol@ims.test")), &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(T.nsent, 2);
	T.wall += 59;
	smsc_tick(T.s);
	assert_int_equal(stats().expired, 0);
	T.wall += 1;
	smsc_tick(T.s);
	assert_int_equal(stats().expired, 2);
	assert_int_equal(stats().reports, 2);
	/* the reports go to alice: TP-ST 0x46, her TP-MR, the TP-RA */
	assert_int_equal(T.nsent, 3); /* one at a time */
	rp = sent_rp(2);
	assert_int_equal(sms_tpdu_decode(&t, rp.ud, rp.ud_len, &dp, NULL), 0);
	assert_int_equal(t.type, SMS_TP_STATUS_REPORT);
	assert_int_equal(t.st, SMS_ST_PERM_VP_EXPIRED);
	/* TP-RA: the number each SMS was for (the order is the queues') */
	assert_string_equal(t.addr.val, t.mr == 1 ? "33600000003" : "33600000002");
	first = t.mr;
	answer(2, 200);
	mo_rp("alice@ims.test", 5001, SMS_RP_ACK_MO, rp.mr, 0);
	assert_int_equal(T.nsent, 4);
	assert_int_equal(sent_tpdu(3).mr, first == 1 ? 2 : 1);
}

/* TP-VP, when the SMS-SUBMIT has one, is the lifetime, not sms_expires
 * (manual §5.2): relative value 0 is 5 minutes (TS 23.040 §9.2.3.12.1). */
static void test_vp_expiry(void **state)
{
	(void)state;
	start("'sms_expires': 86400,");
	ue_bind("alice", 5001, true);
	next_vp = 0;
	mo_sms("alice@ims.test", 5001, 1, "+33600000002", "short-lived", false);
	mo_sms("alice@ims.test", 5001, 2, "+33600000002", "default life", false);
	T.wall += 299;
	smsc_tick(T.s);
	assert_int_equal(stats().expired, 0);
	T.wall += 1;
	smsc_tick(T.s);
	assert_int_equal(stats().expired, 1);
	assert_int_equal(stats().pending, 1);
	T.wall += 86400;
	smsc_tick(T.s);
	assert_int_equal(stats().expired, 2);
}

static void test_status_report_on_delivery(void **state)
{
	struct sms_tpdu t;
	struct sms_rp rp;

	(void)state;
	start("");
	ue_bind("alice", 5001, true);
	ue_bind("bob", 5002, true);
	mo_sms("alice@ims.test", 5001, 1, "+33600000002", "report", true);
	t = sent_tpdu(1);
	assert_true(t.sri);
	rp = sent_rp(1);
	mo_rp("bob@ims.test", 5002, SMS_RP_ACK_MO, rp.mr, 0);
	assert_int_equal(T.nsent, 3);
	t = sent_tpdu(2);
	assert_int_equal(t.type, SMS_TP_STATUS_REPORT);
	assert_int_equal(t.st, SMS_ST_DELIVERED);
	assert_non_null(strstr(T.sent[2].text, "MESSAGE sip:alice@127.0.0.1:5001"));
}

static void test_sms_delay(void **state)
{
	(void)state;
	start("");
	ue_bind("alice", 5001, true);
	ue_bind("dave", 5004, true);
	mo_sms("alice@ims.test", 5001, 1, "+33600000004", "later", false);
	assert_int_equal(T.nsent, 1);
	T.wall += 4;
	smsc_tick(T.s);
	assert_int_equal(T.nsent, 1);
	T.wall += 1;
	smsc_tick(T.s);
	assert_int_equal(T.nsent, 2);
}

static void test_queue_bound(void **state)
{
	struct smsc_send_prm p = {.ud = (const uint8_t *)"x", .ud_len = 1, .tp_udl = -1,
				  .dcs = -1};
	struct hss_user *bob;
	struct sms_rp rp;

	(void)state;
	start("");
	ue_bind("alice", 5001, true);
	bob = hss_user_by_impi(T.hss, PL("bob@ims.test"));
	for (unsigned i = 0; i < SMSC_USER_PENDING_MAX; i++)
		assert_int_equal(smsc_send(T.s, bob, HSS_IMPU_NONE, &p, NULL), 0);
	assert_int_equal(smsc_pending_count(T.s, bob), SMSC_USER_PENDING_MAX);
	mo_sms("alice@ims.test", 5001, 7, "+33600000002", "one too many", false);
	rp = sent_rp(0);
	assert_int_equal(rp.mti, SMS_RP_ERROR_MT);
	assert_int_equal(rp.cause, SMS_RP_CAUSE_MEMORY_EXCEEDED);
	assert_int_equal(smsc_pending_count(T.s, bob), SMSC_USER_PENDING_MAX);
}

static void test_operator_sms(void **state)
{
	struct smsc_send_prm p = {.tp_udl = -1, .dcs = -1};
	struct hss_user *bob;
	struct sms_concat c;
	struct sms_tpdu t;
	unsigned parts;
	char text[400];

	(void)state;
	start("");
	ue_bind("bob", 5002, true);
	bob = hss_user_by_impi(T.hss, PL("bob@ims.test"));
	memset(text, 'a', 200);
	text[200] = '\0';
	p.text = text;
	assert_int_equal(smsc_send(T.s, bob, HSS_IMPU_NONE, &p, &parts), 0);
	assert_int_equal(parts, 2);
	assert_int_equal(T.nsent, 1); /* one at a time, in order */
	t = sent_tpdu(0);
	assert_true(t.udhi);
	assert_int_equal(sms_udh_concat(&t.ud, &c), 0);
	assert_int_equal(c.total, 2);
	assert_int_equal(c.seq, 1);
	assert_string_equal(t.addr.val, "33699999999"); /* from the SC */
	mo_rp("bob@ims.test", 5002, SMS_RP_ACK_MO, sent_rp(0).mr, 0);
	t = sent_tpdu(1);
	assert_int_equal(sms_udh_concat(&t.ud, &c), 0);
	assert_int_equal(c.seq, 2);
	/* UCS2 when the text has no GSM 7-bit form, a sender given */
	p.text = "\xe4\xbd\xa0\xe5\xa5\xbd"; /* two CJK characters */
	p.sender = "Operator";
	mo_rp("bob@ims.test", 5002, SMS_RP_ACK_MO, sent_rp(1).mr, 0);
	assert_int_equal(smsc_send(T.s, bob, HSS_IMPU_NONE, &p, &parts), 0);
	t = sent_tpdu(2);
	assert_int_equal(t.dcs, 0x08);
	assert_int_equal(t.addr.toa, SMS_TOA_ALNUM);
	text_of(&t, "\xe4\xbd\xa0\xe5\xa5\xbd");
	assert_int_equal(smsc_send(T.s, NULL, HSS_IMPU_NONE, &p, &parts), ENOENT);
}

/* Binary TP-UD (manual §6 `sms`): octets with dcs 4; packed septets with
 * a 7-bit dcs and tp_udl counting septets; a tp_udl that octets cannot
 * carry is refused. */
static void test_operator_binary(void **state)
{
	/* "hello" packed in GSM 7-bit (TS 23.038 §6.1.2.1.1) */
	static const uint8_t hello7[] = {0xe8, 0x32, 0x9b, 0xfd, 0x06};
	struct smsc_send_prm p = {.ud = (const uint8_t *)"\x01\x02\x03", .ud_len = 3,
				  .tp_udl = -1, .dcs = -1, .pid = 0x40};
	struct hss_user *bob;
	struct sms_tpdu t;

	(void)state;
	start("");
	ue_bind("bob", 5002, true);
	bob = hss_user_by_impi(T.hss, PL("bob@ims.test"));
	assert_int_equal(smsc_send(T.s, bob, HSS_IMPU_NONE, &p, NULL), 0);
	t = sent_tpdu(0);
	assert_int_equal(t.dcs, 4);
	assert_int_equal(t.pid, 0x40);
	assert_int_equal(t.ud.data_len, 3);
	assert_memory_equal(t.ud.data, "\x01\x02\x03", 3);
	mo_rp("bob@ims.test", 5002, SMS_RP_ACK_MO, sent_rp(0).mr, 0);
	p.tp_udl = 5;
	assert_int_equal(smsc_send(T.s, bob, HSS_IMPU_NONE, &p, NULL), EINVAL);
	p.ud = hello7;
	p.ud_len = sizeof(hello7);
	p.dcs = 0;
	assert_int_equal(smsc_send(T.s, bob, HSS_IMPU_NONE, &p, NULL), 0);
	t = sent_tpdu(1);
	text_of(&t, "hello");
}

/* The "SMS received" hook sees each MO SMS (manual §6 `sms` event); with
 * sms_hook_only, an SMS it takes is acknowledged and not relayed. */
static struct smsc_event hook_ev;
static char hook_text[256], hook_from[64], hook_to[64];
static bool hook_take;
static int hook_calls;

static bool hook_h(const struct smsc_event *ev, void *arg)
{
	(void)arg;
	hook_calls++;
	hook_ev = *ev;
	snprintf(hook_text, sizeof(hook_text), "%s", ev->text ? ev->text : "");
	snprintf(hook_from, sizeof(hook_from), "%s", ev->sender);
	snprintf(hook_to, sizeof(hook_to), "%s", ev->destination);
	return hook_take;
}

/* The tags and Call-IDs of the MESSAGEs the service builds: hex of the
 * right length and all different, across several refills of the random
 * pool (24 bytes a MESSAGE, SMSC_RND_POOL a refill). */
#define IDS_N (3 * SMSC_RND_POOL / 24 + 5)

static void id_of(const char *text, const char *name, size_t want, char *out)
{
	const char *p = strstr(text, name);
	size_t n;

	assert_non_null(p);
	p += strlen(name);
	n = strspn(p, "0123456789abcdef");
	assert_int_equal(n, want);
	memcpy(out, p, n);
	out[n] = '\0';
}

static void test_message_ids_unique(void **state)
{
	static char tags[IDS_N][17], cids[IDS_N][33];
	struct smsc_hdrs h = {.ruri = pl_from_str("sip:alice@127.0.0.1:5001"),
			      .to = "sip:alice@ims.test"};
	const uint8_t body[2] = {0x03, 0x01};
	struct mbuf mb;

	(void)state;
	start("");
	for (size_t i = 0; i < IDS_N; i++) {
		char *text;

		mbuf_init(&mb, 2048);
		assert_int_equal(smsc_message_build(T.s, &mb, &h, body, sizeof(body)), 0);
		text = strndup((const char *)mb.buf, mb.end);
		assert_non_null(text);
		id_of(text, ";tag=", 16, tags[i]);
		id_of(text, "Call-ID: ", 32, cids[i]);
		free(text);
		mbuf_reset(&mb);
		for (size_t j = 0; j < i; j++) {
			assert_string_not_equal(tags[i], tags[j]);
			assert_string_not_equal(cids[i], cids[j]);
		}
	}
}

static void test_hook(void **state)
{
	(void)state;
	hook_calls = 0;
	start("'sms_hook_only': true,");
	smsc_hook_set(T.s, hook_h, NULL);
	ue_bind("alice", 5001, true);
	ue_bind("bob", 5002, true);
	hook_take = false; /* not taken: relayed as usual */
	mo_sms("alice@ims.test", 5001, 1, "+33600000002", "seen", false);
	assert_int_equal(hook_calls, 1);
	assert_string_equal(hook_text, "seen");
	assert_string_equal(hook_from, "+33600000001");
	assert_string_equal(hook_to, "+33600000002");
	assert_int_equal(hook_ev.date, T.wall);
	assert_int_equal(hook_ev.dcs, 0);
	assert_int_equal(T.nsent, 2);
	hook_take = true;
	mo_sms("alice@ims.test", 5001, 2, "+33600000002", "taken", false);
	assert_int_equal(hook_calls, 2);
	assert_int_equal(T.scode, 202);
	assert_int_equal(T.nsent, 3);
	assert_int_equal(sent_rp(2).mti, SMS_RP_ACK_MT);
	assert_int_equal(stats().pending, 1); /* the first only */
}

/* The pending-queue watcher (the API's users_update): told of each change
 * of a user's count, with the user. */
static const struct hss_user *watch_last[8];
static size_t watch_n;

static void watch_h(const struct hss_user *u, void *arg)
{
	(void)arg;
	if (watch_n < 8)
		watch_last[watch_n] = u;
	watch_n++;
}

/* A user added at run time (hss_users_add, the API's users_add) is beyond
 * the table sized at start: its queue is made all the same, and the
 * watcher sees its count go up and down. */
static void test_added_user_queue_and_watch(void **state)
{
	struct smsc_send_prm p = {.tp_udl = -1, .dcs = -1, .text = "hi erin"};
	char err[256];
	struct cfg_diag d = {err, sizeof(err), NULL, NULL};
	struct ims_cfg *set = NULL;
	struct hss_user *erin;
	struct sms_tpdu t;
	unsigned parts;
	json_t *v;

	(void)state;
	start("");
	v = json_loads("[{\"imsi\": \"001010000000009\", \"impi\": \"erin@ims.test\","
		       " \"authent_type\": \"none\", \"impu\": [\"sip:erin\"]}]",
		       0, NULL);
	assert_non_null(v);
	assert_int_equal(ims_cfg_ue_from_json(T.cfg, v, &set, &d), 0);
	json_decref(v);
	assert_int_equal(hss_users_add(T.hss, set, err, sizeof(err)), 0);
	erin = hss_user_by_impi(T.hss, PL("erin@ims.test"));
	assert_non_null(erin);
	watch_n = 0;
	smsc_watch_set(T.s, watch_h, NULL);
	ue_bind("erin", 5009, true);
	assert_int_equal(smsc_send(T.s, erin, HSS_IMPU_NONE, &p, &parts), 0);
	assert_int_equal(smsc_pending_count(T.s, erin), 1);
	assert_int_equal(watch_n, 1);
	assert_ptr_equal(watch_last[0], erin);
	assert_int_equal(T.nsent, 1);
	t = sent_tpdu(0);
	text_of(&t, "hi erin");
	mo_rp("erin@ims.test", 5009, SMS_RP_ACK_MO, sent_rp(0).mr, 0);
	assert_int_equal(smsc_pending_count(T.s, erin), 0);
	assert_int_equal(watch_n, 2);
	assert_ptr_equal(watch_last[1], erin);
	smsc_watch_set(T.s, NULL, NULL);
}

/* multi_sim: two entries share an IMSI and an IMPU, told apart by IMEI;
 * the SMS goes to the registered one, over its binding. */
static void test_multi_sim(void **state)
{
	struct net_flow f = flow_of(5007);
	struct sip_msg *m;
	char buf[1024];
	int n;

	(void)state;
	start("'ue_db': [{'imsi': '001010000000001', 'impi': 'alice@ims.test',"
	      " 'authent_type': 'none', 'impu': ['sip:alice', 'tel:+33600000001']},"
	      "{'imsi': '001010000000007', 'sim_algo': 'xor', 'multi_sim': true,"
	      " 'authent_type': 'none', 'K': '00112233445566778899aabbccddeeff',"
	      " 'impu': [{'impu': 'sip:sim', 'imei': '35000000000001'},"
	      " {'impu': 'tel:+33600000007', 'imei': '35000000000001'}]},"
	      "{'imsi': '001010000000007', 'sim_algo': 'xor', 'multi_sim': true,"
	      " 'authent_type': 'none', 'K': '00112233445566778899aabbccddeeff',"
	      " 'impu': [{'impu': 'sip:sim', 'imei': '35000000000002'},"
	      " {'impu': 'tel:+33600000007', 'imei': '35000000000002'}]}]");
	ue_bind("alice", 5001, true);
	n = snprintf(buf, sizeof(buf),
		     "REGISTER sip:ims.test SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 127.0.0.1:5007;branch=z9hG4bKsim\r\n"
		     "From: <sip:sim@ims.test>;tag=f\r\nTo: <sip:sim@ims.test>\r\n"
		     "Call-ID: reg-sim\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\n"
		     "Contact: <sip:sim@127.0.0.1:5007>;+g.3gpp.smsip;"
		     "+sip.instance=\"<urn:gsma:imei:35000000-000002-0>\"\r\n"
		     "Content-Length: 0\r\n\r\n");
	m = decode(buf, (size_t)n);
	registrar_register_h(NULL, NULL, m, &f, T.reg);
	mem_deref(m);
	assert_int_equal(T.regcode, 200);
	mo_sms("alice@ims.test", 5001, 1, "+33600000007", "which sim", false);
	assert_int_equal(T.nsent, 2);
	assert_non_null(strstr(T.sent[1].text, "MESSAGE sip:sim@127.0.0.1:5007 SIP/2.0"));
	assert_int_equal(smsc_pending_count(T.s, hss_user_at(T.hss, 2)), 1);
	assert_int_equal(smsc_pending_count(T.s, hss_user_at(T.hss, 1)), 0);
}

static void stop_h(void *arg)
{
	(void)arg;
	loop_stop();
}

/* A registration (the registrar's change watch) starts the delivery, right
 * after the REGISTER's 200: on a 0 ms timer. */
static void test_delivered_at_registration(void **state)
{
	struct loop_timer *t = loop_timer_alloc();
	struct sms_tpdu tp;

	(void)state;
	start("'sms_retry_delay': 0,");
	ue_bind("alice", 5001, true);
	mo_sms("alice@ims.test", 5001, 1, "+33600000002", "welcome back", false);
	assert_int_equal(T.nsent, 1);
	ue_bind("bob", 5002, true);
	assert_int_equal(T.nsent, 1); /* not inside the registrar's change */
	loop_timer_start(t, 100, stop_h, NULL);
	assert_int_equal(loop_run(), 0);
	loop_timer_free(t);
	assert_int_equal(T.nsent, 2);
	tp = sent_tpdu(1);
	text_of(&tp, "welcome back");
}

/* ---- state file ---- */

static void store_start(const char *extra)
{
	char note[256], err[256];

	snprintf(T.path, sizeof(T.path), "/tmp/test_smsc_%d.db", (int)getpid());
	unlink(T.path);
	assert_int_equal(store_open(&T.st, T.path, note, sizeof(note), err, sizeof(err)), 0);
	start(extra);
}

static void test_store_held_restored_once(void **state)
{
	struct sms_tpdu t;
	struct hss_user *bob;
	struct sms_rp rp;

	(void)state;
	store_start("");
	ue_bind("alice", 5001, true);
	mo_sms("alice@ims.test", 5001, 3, "+33600000002", "saved", false);
	mo_sms("alice@ims.test", 5001, 4, "+33600000002", "saved too", false);
	/* nothing answered before the commit */
	assert_int_equal(T.scode, 0);
	assert_int_equal(T.nsent, 0);
	assert_int_equal(smsc_store_flush(T.s), 0);
	assert_int_equal(T.scode, 202);
	assert_int_equal(T.nreplies, 2);
	assert_int_equal(T.nsent, 2);
	assert_int_equal(sent_rp(0).mti, SMS_RP_ACK_MT);
	assert_int_equal(sent_rp(1).mr, 4);
	/* a restart (the process gone, the file kept): both come back */
	mem_deref(T.s);
	T.s = NULL;
	smsc_new();
	bob = hss_user_by_impi(T.hss, PL("bob@ims.test"));
	assert_int_equal(smsc_pending_count(T.s, bob), 2);
	ue_bind("bob", 5002, true);
	smsc_user_kick(T.s, bob); /* the registration */
	rp = sent_rp(2);
	t = sent_tpdu(2);
	text_of(&t, "saved");
	mo_rp("bob@ims.test", 5002, SMS_RP_ACK_MO, rp.mr, 0);
	mo_rp("bob@ims.test", 5002, SMS_RP_ACK_MO, sent_rp(3).mr, 0);
	assert_int_equal(stats().delivered, 2);
	assert_int_equal(smsc_store_flush(T.s), 0);
	/* restarted again: nothing left to deliver twice */
	mem_deref(T.s);
	T.s = NULL;
	smsc_new();
	assert_int_equal(smsc_pending_count(T.s, bob), 0);
	assert_int_equal(stats().pending, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_mo_mt_delivered, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mo_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_filters_and_forced_cause, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_duplicate_and_national_da, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retry_after_rp_error, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_local_refusal_retried, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeout_then_error_answer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_offline_expiry_and_report, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_status_report_on_delivery, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_sms_delay, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vp_expiry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_bound, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_operator_sms, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_store_held_restored_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delivered_at_registration, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_operator_binary, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hook, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_message_ids_unique, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_multi_sim, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_added_user_queue_and_watch, setup, teardown),
	};
	int rc;

	if (loop_init())
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	loop_close();
	return rc;
}
