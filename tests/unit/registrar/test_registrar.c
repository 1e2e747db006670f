/* Unit tests: registrar (REGISTER, Digest AKA/MD5, bindings, reg event). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "auth/aka.h"
#include "auth/auth_codec.h"
#include "auth/digest.h"
#include "auth/sqn.h"
#include "config/ims_cfg.h"
#include "core/mbuf.h"
#include "core/mem.h"
#include "hss/hss.h"
#include "ipsec/ipsec.h"
#include "ipsec/ipsec_sa.h"
#include "ipsec/sec_agree.h"
#include "loop/loop.h"
#include "monitor/monitor.h"
#include "registrar/registrar.h"
#include "registrar/registrar_int.h"
#include "sip/sip_build.h"
#include "sip/sip_hdr.h"
#include "store/store.h"

#define MIL_K "465b5ce8b199b49faa5f0a2ee238a6bc"
#define MIL_OPC "cd63cb71954a9f4e48a5994e37a02baf"
#define XOR_K "000102030405060708090a0b0c0d0e0f"

static const char *USERS =
    "'domain': 'ims.test', 'binding_expires': 3600, 'path': 'sip:pcscf.ims.test',"
    "'ue_db': ["
    /* 0 */ "{'imsi': '001010000000001', 'impi': 'alice@ims.test', 'K': '" MIL_K
    "', 'opc': '" MIL_OPC "', 'authent_qop': 'auth',"
    " 'impu': ['sip:alice', {'impu': 'tel:+33100000001', 'preferred': true}, "
    "{'impu': 'sip:hidden', 'associated': false}]},"
    /* 1 */ "{'imsi': '001010000000002', 'impi': 'bob@ims.test', 'K': '" MIL_K
    "', 'opc': '" MIL_OPC "', 'authent_type': 'AKAv2', 'impu': ['sip:bob']},"
    /* 2 */ "{'imsi': '001010000000003', 'impi': 'carol@ims.test', 'pwd': 'secret',"
    " 'authent_qop': 'auth', 'impu': ['sip:carol']},"
    /* 3 */ "{'imsi': '001010000000004', 'impi': 'dave@ims.test', 'authent_type': 'none',"
    " 'impu': ['sip:dave']},"
    /* 4, 5 */ "{'imsi': '001010000000005', 'multi_sim': true, 'sim_algo': 'xor', 'K': "
    "'" XOR_K "', 'impu': [{'impu': 'sip:sim', 'imei': '35000000-000001-0'}]},"
    "{'imsi': '001010000000005', 'multi_sim': true, 'sim_algo': 'xor', 'K': '" XOR_K
    "', 'impu': [{'impu': 'sip:sim', 'imei': '35000000-000002-0'}]},"
    /* 6 */ "{'imsi': '001010000000007', 'impi': 'erin@ims.test', 'pwd': 'pw', "
    "'domain': 'erin.example', 'impu': ['sip:erin']}"
    "]";

/* ---- fixture ---- */

struct sent {
	uint16_t scode;
	unsigned order;	     /* of replies and requests together, from 1 */
	bool stateless;	     /* sip_tsx_reply_prm.stateless */
	struct sip_msg *msg; /* the response or request as it would go out */
};

static struct {
	struct ims_cfg *cfg;
	struct hss *hss;
	struct registrar *reg;
	/* request being handled, or the last one handled: an answer held
	 * until its state is committed is built from it later */
	struct sip_msg *cur;
	bool tsx_gone;	/* fake_tsx_find: the transactions have ended */
	unsigned order; /* replies and requests sent so far */
	struct sent replies[64];
	size_t nreplies;
	struct sent reqs[64];
	size_t nreqs;
	struct net_flow req_dst; /* the flow of the last request sent */
	uint64_t now;
	bool fake_clock;
	uint16_t fail_notify; /* fake_request's NOTIFYs fail with it, told later */
	size_t nfail_from;    /* reqs[nfail_from..] failed and not told yet */
	bool no_slots; /* the hss_user slots taken first: the registrar's hash path */
	uint32_t guard_user_fails; /* registrar_prm.guard_user_fails, 0 default */
	struct net_flow proven[8]; /* registrar_ops.peer_prove's flows */
	size_t nproven;
	char err[512];
} T;

static struct sip_msg *decode(const void *p, size_t len)
{
	struct sip_decode_prm dp = {.max_size = 65535};
	struct sip_msg *m = NULL;
	int e = sip_msg_decode_copy(&m, p, len, &dp);

	if (e)
		fail_msg("decode %d: %.*s", e, (int)len, (const char *)p);
	return m;
}

static int fake_reply(struct sip_tsx *tsx, uint16_t scode, const char *reason,
		      const struct sip_tsx_reply_prm *prm, void *arg)
{
	struct sip_resp_prm rp = {.scode = scode, .reason = pl_from_str(reason)};
	struct mbuf mb;

	(void)tsx;
	(void)arg;
	if (prm) {
		rp.hdrs = prm->hdrs;
		rp.to_tag = prm->to_tag;
		rp.ctype = prm->ctype;
		rp.body = prm->body;
	}
	if (!pl_isset(rp.to_tag))
		rp.to_tag = PL("t0");
	mbuf_init(&mb, 0);
	assert_int_equal(sip_resp_build(&mb, T.cur, &rp), 0);
	assert_true(T.nreplies < 64);
	T.replies[T.nreplies].scode = scode;
	T.replies[T.nreplies].order = ++T.order;
	T.replies[T.nreplies].stateless = prm && prm->stateless;
	T.replies[T.nreplies++].msg = decode(mb.buf, mb.end);
	mbuf_reset(&mb);
	return 0;
}

static int fake_request(struct sip_stack *stack, const struct sip_stack_req_prm *prm,
			void *arg)
{
	char buf[65536];
	int n;

	(void)stack;
	(void)arg;
	assert_non_null(prm->dst);
	T.req_dst = *prm->dst;
	assert_ptr_equal(prm->resp_h, registrar_notify_resp_h);
	/* the stack adds the Via: add one so that the message decodes */
	n = snprintf(buf, sizeof(buf), "%.*s", (int)prm->req.l, prm->req.p);
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	assert_true(T.nreqs < 64);
	T.reqs[T.nreqs].scode = 0;
	T.reqs[T.nreqs].order = ++T.order;
	T.reqs[T.nreqs++].msg = decode(buf, (size_t)n);
	return 0;
}

/* What the loop does after a NOTIFY whose send failed at once (TCP connect
 * refused): tells the answer handler, after the request call returned. */
static void notify_failures_tell(void)
{
	for (; T.fail_notify && T.nfail_from < T.nreqs; T.nfail_from++)
		registrar_notify_resp_h(NULL, T.reqs[T.nfail_from].msg, T.fail_notify, T.reg);
	T.nfail_from = T.nreqs;
}

static uint64_t fake_now(void *arg)
{
	(void)arg;
	return T.fake_clock ? T.now : loop_now_ms();
}

/* The handlers get no transaction (NULL) here, so its id is 0: any
 * non-NULL pointer stands for it, fake_reply does not look at it. */
static struct sip_tsx *fake_tsx_find(struct sip_stack *stack, uint64_t id, void *arg)
{
	(void)stack;
	(void)id;
	(void)arg;
	return T.tsx_gone ? NULL : (struct sip_tsx *)&T;
}

/* registrar_ops.peer_prove: the flows proven, in T.proven. */
static void fake_peer_prove(struct sip_stack *stack, const struct net_flow *flow,
			    void *arg)
{
	(void)stack;
	(void)arg;
	if (T.nproven < sizeof(T.proven) / sizeof(T.proven[0]))
		T.proven[T.nproven++] = *flow;
}

static const struct registrar_ops ops = {.reply = fake_reply,
					 .request = fake_request,
					 .now_ms = fake_now,
					 .tsx_find = fake_tsx_find,
					 .peer_prove = fake_peer_prove};

static void sent_clear(void)
{
	for (size_t i = 0; i < T.nreplies; i++)
		mem_deref(T.replies[i].msg);
	for (size_t i = 0; i < T.nreqs; i++)
		mem_deref(T.reqs[i].msg);
	T.nreplies = T.nreqs = 0;
}

static struct ims_cfg *cfg_load(const char *extra)
{
	size_t size = strlen(extra) + 64;
	char *text = malloc(size);
	struct cfg_diag d = {T.err, sizeof(T.err), NULL, NULL};
	struct ims_cfg *cfg = NULL;
	json_error_t je;
	json_t *root;

	assert_non_null(text);
	snprintf(text, size, "{'sip_addr': '127.0.0.1:5060', %s}", extra);
	for (char *p = text; *p; p++) {
		if (*p == '\'')
			*p = '"';
	}
	root = json_loads(text, 0, &je);
	if (!root)
		fail_msg("bad test JSON: %s (%.200s)", je.text, text);
	free(text);
	if (ims_cfg_from_json(root, NULL, &cfg, &d))
		fail_msg("config error: %s", T.err);
	json_decref(root);
	return cfg;
}

static void reg_start(const char *extra, uint32_t min_expires)
{
	struct registrar_prm prm = {0};

	T.cfg = cfg_load(extra);
	if (hss_alloc(&T.hss, T.cfg, T.err, sizeof(T.err)))
		fail_msg("hss: %s", T.err);
	prm.cfg = T.cfg;
	prm.hss = T.hss;
	prm.ops = &ops;
	prm.host = "127.0.0.1:5060";
	prm.min_expires = min_expires;
	prm.guard_user_fails = T.guard_user_fails;
	T.now = 1000000;
	T.fake_clock = true;
	if (T.no_slots)
		assert_true(hss_user_slots_claim(T.hss));
	assert_int_equal(registrar_alloc(&T.reg, &prm), 0);
}

static int setup(void **state)
{
	(void)state;
	memset(&T, 0, sizeof(T));
	reg_start(USERS, 0);
	return 0;
}

/* Users never locked before their address is (test_guessing_locks_source). */
static int setup_many_fails(void **state)
{
	(void)state;
	memset(&T, 0, sizeof(T));
	T.guard_user_fails = 1000;
	reg_start(USERS, 0);
	return 0;
}

/* The same, with the per-user slots claimed by someone else first: the
 * registrar then finds users and challenges through its own hash tables. */
static int setup_no_slots(void **state)
{
	(void)state;
	memset(&T, 0, sizeof(T));
	T.no_slots = true;
	reg_start(USERS, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sent_clear();
	T.reg = mem_deref(T.reg);
	T.hss = mem_deref(T.hss);
	T.cur = mem_deref(T.cur);
	ims_cfg_free(T.cfg);
	return 0;
}

/* ---- driving requests ---- */

static struct net_flow src_v4(uint16_t port, bool tcp)
{
	struct net_flow s;

	memset(&s, 0, sizeof(s));
	assert_int_equal(net_addr_parse_str(&s.peer, "127.0.0.1", port), 0);
	/* our second sip_addr entry: kept by value, whatever its index */
	assert_int_equal(net_addr_parse_str(&s.local, "127.0.0.2", 5062), 0);
	s.reliable = tcp;
	s.conn_id = tcp ? 7 : 0;
	return s;
}

/* The subscriber as the CSCF stage names it: the user From names, when it
 * holds a binding made over src. */
static struct hss_user *sub_sender(const struct registrar *reg, const struct hss *hss,
				   const struct sip_msg *m, const struct net_flow *src)
{
	const struct sip_addr *from = sip_msg_from(m);
	struct hss_impu_match mt[16];
	size_t n = from ? hss_users_by_impu(hss, from->uri, mt, 16) : 0;

	for (size_t i = 0; i < n && i < 16; i++) {
		if (registrar_user_on_flow(reg, mt[i].user, src))
			return mt[i].user;
	}
	return NULL;
}

static uint32_t cseq_next = 1;

/* Sends "REGISTER" with the given extra header lines; returns the reply. */
#define SUB_HDRS                                                                         \
	"Event: reg\r\nAccept: application/reginfo+xml\r\nExpires: 600000\r\n"           \
	"Contact: <sip:alice@127.0.0.1:5070>\r\n"                                        \
	"Record-Route: <sip:p1.ims.test;lr>\r\n"

static const char *callid_cur = "call-1@ue"; /* the Call-ID do_req sends */

/* Hands the request to the registrar; its answer may be held (state
 * file) until the next commit. */
static void req_send(const char *method, const char *to, const char *hdrs,
		     const struct net_flow *src)
{
	char buf[8192];
	int n;

	n = snprintf(buf, sizeof(buf),
		     "%s sip:ims.test SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK%u\r\n"
		     "From: <%s>;tag=f1\r\n"
		     "To: <%s>\r\n"
		     "Call-ID: %s\r\n"
		     "CSeq: %u %s\r\n"
		     "Max-Forwards: 70\r\n"
		     "%s"
		     "Content-Length: 0\r\n\r\n",
		     method, cseq_next, to, to, callid_cur, cseq_next, method, hdrs);
	cseq_next++;
	mem_deref(T.cur);
	T.cur = decode(buf, (size_t)n);
	if (!strcmp(method, "REGISTER"))
		registrar_register_h(NULL, NULL, T.cur, src, T.reg);
	else
		registrar_subscribe(T.reg, NULL, T.cur, src, sub_sender(T.reg, T.hss, T.cur, src));
}

/* The same, and its answer: with a state file, the one the commit of its
 * state releases (registrar_store_flush commits now). */
static struct sent *do_req(const char *method, const char *to, const char *hdrs,
			   const struct net_flow *src)
{
	struct registrar_store_stats ss;
	size_t before = T.nreplies;

	req_send(method, to, hdrs, src);
	if (T.nreplies == before && registrar_store_stats(T.reg, &ss))
		registrar_store_flush(T.reg);
	assert_int_equal(T.nreplies, before + 1);
	return &T.replies[T.nreplies - 1];
}

static struct sent *do_register(const char *to, const char *hdrs)
{
	struct net_flow s = src_v4(5070, false);

	return do_req("REGISTER", to, hdrs, &s);
}

static bool body_has(const struct sip_msg *m, const char *text)
{
	return pl_casefind(m->body, text) >= 0;
}

static struct sip_auth chal_get(const struct sent *r)
{
	const struct sip_hdr *h = sip_msg_hdr(r->msg, SIP_HDR_WWW_AUTHENTICATE);
	struct sip_auth a;

	assert_non_null(h);
	assert_int_equal(sip_auth_decode(&a, h->val), 0);
	return a;
}

static bool hdr_has(const struct sip_msg *m, enum sip_hdr_id id, const char *text)
{
	for (const struct sip_hdr *h = sip_msg_hdr(m, id); h;
	     h = sip_msg_hdr_next(m, h)) {
		if (pl_casefind(h->val, text) >= 0)
			return true;
	}
	return false;
}

/* UE side: the Authorization line answering challenge a. */
struct ue {
	struct aka_cred cred;
	const char *impi;
	const char *pwd; /* MD5 */
	bool wrong;	 /* answer with a wrong RES/password */
	const char *method; /* NULL: REGISTER */
	uint32_t nc;
	uint8_t res[32], ck[32], ik[32];
	size_t res_len, ck_len, ik_len;
};

static void ue_milenage(struct ue *ue, const char *impi)
{
	memset(ue, 0, sizeof(*ue));
	aka_cred_init(&ue->cred, AKA_ALGO_MILENAGE);
	assert_int_equal(ims_cfg_hex_decode(MIL_K, ue->cred.k, 16), 0);
	ue->cred.k_len = 16;
	assert_int_equal(ims_cfg_hex_decode(MIL_OPC, ue->cred.opc, 16), 0);
	ue->cred.amf[0] = 0x80;
	ue->impi = impi;
}

/* Returns the AKA result of the USIM (0, EACCES on MAC failure). */
static int ue_answer(struct ue *ue, const struct sip_auth *a, char *out, size_t size,
		     const char *extra)
{
	enum digest_algo algo = DIGEST_ALGO_MD5;
	struct digest_prm p;
	char resp[DIGEST_HEX_SIZE], nc[9];
	uint8_t pw[DIGEST_PW_MAX];
	size_t pwlen = 0;
	bool qop = pl_isset(a->qop);
	int rc = 0;

	if (pl_isset(a->algorithm))
		assert_int_equal(digest_algo_from_pl(a->algorithm, &algo), 0);
	memset(&p, 0, sizeof(p));
	if (digest_algo_is_aka(algo)) {
		uint8_t rand[16], autn[16], sd[64];
		size_t sdlen;
		struct aka_vector v;

		assert_int_equal(digest_aka_nonce_decode(a->nonce, 16, rand, autn, sd,
							 sizeof(sd), &sdlen),
				 0);
		rc = aka_autn_check(&ue->cred, rand, autn, 16, &v);
		if (rc)
			return rc;
		memcpy(ue->res, v.xres, v.xres_len);
		ue->res_len = v.xres_len;
		memcpy(ue->ck, v.ck, v.ck_len);
		ue->ck_len = v.ck_len;
		memcpy(ue->ik, v.ik, v.ik_len);
		ue->ik_len = v.ik_len;
		if (ue->wrong)
			ue->res[0] ^= 1;
		assert_int_equal(digest_aka_password(algo, ue->res, ue->res_len, ue->ik,
						     ue->ik_len, ue->ck, ue->ck_len, pw,
						     &pwlen),
				 0);
		p.password = (struct pl){(const char *)pw, pwlen};
		aka_vector_wipe(&v);
	} else {
		p.password = pl_from_str(ue->wrong ? "nope" : ue->pwd);
	}
	ue->nc++;
	snprintf(nc, sizeof(nc), "%08x", ue->nc);
	p.algo = algo;
	p.qop = qop ? DIGEST_QOP_AUTH : DIGEST_QOP_NONE;
	p.username = pl_from_str(ue->impi);
	p.realm = a->realm;
	p.method = pl_from_str(ue->method ? ue->method : "REGISTER");
	p.uri = PL("sip:ims.test");
	p.nonce = a->nonce;
	p.cnonce = PL("c0ffee");
	p.nc = pl_from_str(nc);
	assert_int_equal(digest_response_calc(&p, resp), 0);
	snprintf(out, size,
		 "Authorization: Digest username=\"%s\", realm=\"%.*s\", nonce=\"%.*s\", "
		 "uri=\"sip:ims.test\", response=\"%s\", algorithm=%.*s%s%s%s%s\r\n%s",
		 ue->impi, (int)a->realm.l, a->realm.p, (int)a->nonce.l, a->nonce.p, resp,
		 (int)a->algorithm.l, a->algorithm.p, qop ? ", qop=auth, nc=" : "",
		 qop ? nc : "", qop ? ", cnonce=\"c0ffee\"" : "", "", extra ? extra : "");
	return 0;
}

#define CONTACT_A "Contact: <sip:alice@127.0.0.1:5070>\r\n"

/* Full AKA registration of alice; returns the 200. */
static struct sent *alice_register(struct ue *ue, const char *contact_hdrs)
{
	char hdrs[4096], auth[2048];
	struct sip_auth a;
	struct sent *r;

	snprintf(hdrs, sizeof(hdrs),
		 "Authorization: Digest username=\"alice@ims.test\", realm=\"ims.test\", "
		 "nonce=\"\", uri=\"sip:ims.test\", response=\"\"\r\n%s",
		 contact_hdrs);
	r = do_register("sip:alice@ims.test", hdrs);
	assert_int_equal(r->scode, 401);
	a = chal_get(r);
	assert_int_equal(ue_answer(ue, &a, auth, sizeof(auth), contact_hdrs), 0);
	return do_register("sip:alice@ims.test", auth);
}

/* ---- tests ---- */

/* The 401 goes out statelessly; a retransmission of the request (same
 * Call-ID and CSeq) gets the same challenge back, a new request a new one
 * (RFC 3261 §8.2.7: a stateless UAS answers identical requests alike). */
static void test_challenge_retransmission(void **state)
{
	static const char hdrs[] =
	    "Authorization: Digest username=\"alice@ims.test\", realm=\"ims.test\", "
	    "nonce=\"\", uri=\"sip:ims.test\", response=\"\"\r\n" CONTACT_A;
	struct sip_auth a1, a2, a3;
	struct pl t1, t2, t3;
	struct sent *r;

	(void)state;
	r = do_register("sip:alice@ims.test", hdrs);
	assert_int_equal(r->scode, 401);
	assert_true(r->stateless);
	a1 = chal_get(r);
	t1 = sip_msg_to(r->msg)->tag;
	assert_int_equal(t1.l, 16);
	cseq_next--; /* the same request again */
	r = do_register("sip:alice@ims.test", hdrs);
	assert_int_equal(r->scode, 401);
	a2 = chal_get(r);
	t2 = sip_msg_to(r->msg)->tag;
	assert_true(pl_eq(a1.nonce, a2.nonce));
	assert_true(pl_eq(t1, t2)); /* the same response, To tag included */
	assert_int_equal(registrar_challenge_count(T.reg), 1);
	/* next CSeq at once: a new request, but from the same address within
	 * REG_CHAL_REUSE_MS: the same challenge (a flood spends no vector) */
	r = do_register("sip:alice@ims.test", hdrs);
	assert_int_equal(r->scode, 401);
	assert_true(pl_eq(a1.nonce, chal_get(r).nonce));
	T.now += REG_CHAL_REUSE_MS;
	r = do_register("sip:alice@ims.test", hdrs); /* later: a new challenge */
	assert_int_equal(r->scode, 401);
	a3 = chal_get(r);
	t3 = sip_msg_to(r->msg)->tag;
	assert_false(pl_eq(a1.nonce, a3.nonce));
	assert_false(pl_eq(t1, t3));
	assert_int_equal(registrar_challenge_count(T.reg), 1);
}

static void test_aka_v1_flow(void **state)
{
	struct ue ue;
	struct sip_auth a;
	struct sent *r;
	uint8_t ck[32], ik[32];
	size_t ckl, ikl;
	char hdrs[512];

	(void)state;
	ue_milenage(&ue, "alice@ims.test");
	snprintf(hdrs, sizeof(hdrs),
		 "Authorization: Digest username=\"alice@ims.test\", realm=\"ims.test\", "
		 "nonce=\"\", uri=\"sip:ims.test\", response=\"\"\r\n" CONTACT_A);
	r = do_register("sip:alice@ims.test", hdrs);
	assert_int_equal(r->scode, 401);
	a = chal_get(r);
	assert_true(pl_eq_str(a.realm, "ims.test"));
	assert_true(pl_eq_str(a.algorithm, "AKAv1-MD5"));
	assert_true(pl_eq_str(a.qop, "auth"));
	assert_false(pl_isset(a.stale));
	{
		/* the whole line: Digest realm="..", nonce="..", algorithm=.., qop="auth"
		 */
		struct pl v = sip_msg_hdr(r->msg, SIP_HDR_WWW_AUTHENTICATE)->val;
		static const char head[] = "Digest realm=\"ims.test\", nonce=\"";
		static const char tail[] = "\", algorithm=AKAv1-MD5, qop=\"auth\"";

		assert_true(v.l > sizeof(head) + sizeof(tail));
		assert_memory_equal(v.p, head, sizeof(head) - 1);
		assert_memory_equal(v.p + v.l - (sizeof(tail) - 1), tail,
				    sizeof(tail) - 1);
		assert_true(pl_eq(
		    a.nonce, (struct pl){v.p + sizeof(head) - 1,
					 v.l - (sizeof(head) - 1) - (sizeof(tail) - 1)}));
	}
	assert_int_equal(registrar_challenge_count(T.reg), 1);

	r = alice_register(&ue, "Supported: path\r\n" CONTACT_A);
	assert_int_equal(r->scode, 200);
	assert_true(registrar_is_registered(T.reg, hss_user_at(T.hss, 0)));
	assert_true(
	    hdr_has(r->msg, SIP_HDR_CONTACT, "<sip:alice@127.0.0.1:5070>;expires=3600"));
	/* P-Associated-URI: preferred first, associated:false left out */
	assert_int_equal(sip_msg_hdr_count(r->msg, SIP_HDR_P_ASSOCIATED_URI), 2);
	assert_true(pl_eq_str(sip_msg_hdr(r->msg, SIP_HDR_P_ASSOCIATED_URI)->val,
			      "<tel:+33100000001>"));
	assert_false(hdr_has(r->msg, SIP_HDR_P_ASSOCIATED_URI, "hidden"));
	assert_true(
	    hdr_has(r->msg, SIP_HDR_SERVICE_ROUTE, "<sip:orig@127.0.0.1:5060;lr>"));
	assert_true(hdr_has(r->msg, SIP_HDR_PATH, "<sip:pcscf.ims.test;lr>"));
	assert_non_null(sip_msg_hdr(r->msg, SIP_HDR_DATE));
	/* RFC 1123 form, "Sun, 06 Nov 1994 08:49:37 GMT" (the cached text) */
	assert_int_equal(sip_msg_hdr(r->msg, SIP_HDR_DATE)->val.l, 29);
	assert_true(hdr_has(r->msg, SIP_HDR_DATE, " GMT"));
	assert_int_equal(registrar_user_algo(T.reg, hss_user_at(T.hss, 0)),
			 DIGEST_ALGO_AKAV1_MD5);
	/* CK/IK kept with the registration, same as the USIM's */
	assert_int_equal(
	    registrar_user_keys(T.reg, hss_user_at(T.hss, 0), ck, &ckl, ik, &ikl), 0);
	assert_int_equal(ckl, 16);
	assert_memory_equal(ck, ue.ck, 16);
	assert_memory_equal(ik, ue.ik, 16);
	aka_cred_wipe(&ue.cred);
}

static void test_path_only_if_supported(void **state)
{
	struct ue ue;
	struct sent *r;

	(void)state;
	ue_milenage(&ue, "alice@ims.test");
	r = alice_register(&ue, CONTACT_A);
	assert_int_equal(r->scode, 200);
	assert_null(sip_msg_hdr(r->msg, SIP_HDR_PATH));
	/* RFC 3327 §5.3: the received Path values in order, then ours */
	r = alice_register(&ue, "Supported: path\r\nPath: <sip:p1.test;lr>\r\n"
				"Path: <sip:p2.test;lr>\r\n" CONTACT_A);
	assert_int_equal(r->scode, 200);
	assert_int_equal(sip_msg_hdr_count(r->msg, SIP_HDR_PATH), 3);
	assert_true(
	    pl_eq_str(sip_msg_hdr(r->msg, SIP_HDR_PATH)->val, "<sip:p1.test;lr>"));
	assert_true(hdr_has(r->msg, SIP_HDR_PATH, "<sip:p2.test;lr>"));
	assert_true(hdr_has(r->msg, SIP_HDR_PATH, "<sip:pcscf.ims.test;lr>"));
	aka_cred_wipe(&ue.cred);
}

static void test_aka_v2_and_weak_offer(void **state)
{
	char hdrs[2048], auth[2048];
	struct sip_auth a;
	struct sent *r;
	struct ue ue;

	(void)state;
	ue_milenage(&ue, "bob@ims.test");
	/* bob requires AKAv2: an MD5 offer is refused */
	r = do_register(
	    "sip:bob@ims.test",
	    "Authorization: Digest username=\"bob@ims.test\", realm=\"ims.test\", "
	    "nonce=\"\", uri=\"sip:ims.test\", response=\"\", algorithm=MD5\r\n"
	    "Contact: <sip:bob@127.0.0.1:5071>\r\n");
	assert_int_equal(r->scode, 403);
	/* AKAv2-SHA-256 offered: accepted since it is above AKAv2 */
	snprintf(
	    hdrs, sizeof(hdrs),
	    "Authorization: Digest username=\"bob@ims.test\", realm=\"ims.test\", "
	    "nonce=\"\", uri=\"sip:ims.test\", response=\"\", algorithm=AKAv2-SHA-256\r\n"
	    "Contact: <sip:bob@127.0.0.1:5071>\r\n");
	r = do_register("sip:bob@ims.test", hdrs);
	assert_int_equal(r->scode, 401);
	a = chal_get(r);
	assert_true(pl_eq_str(a.algorithm, "AKAv2-SHA-256"));
	assert_false(pl_isset(a.qop));
	assert_int_equal(ue_answer(&ue, &a, auth, sizeof(auth),
				   "Contact: <sip:bob@127.0.0.1:5071>\r\n"),
			 0);
	r = do_register("sip:bob@ims.test", auth);
	assert_int_equal(r->scode, 200);
	/* no offer: authent_type AKAv2 (MD5 hash) */
	r = do_register("sip:bob@ims.test", "Contact: <sip:bob@127.0.0.1:5071>\r\n");
	assert_int_equal(r->scode, 401);
	a = chal_get(r);
	assert_true(pl_eq_str(a.algorithm, "AKAv2-MD5"));
	assert_int_equal(ue_answer(&ue, &a, auth, sizeof(auth),
				   "Contact: <sip:bob@127.0.0.1:5071>\r\n"),
			 0);
	r = do_register("sip:bob@ims.test", auth);
	assert_int_equal(r->scode, 200);
	assert_int_equal(registrar_user_algo(T.reg, hss_user_at(T.hss, 1)),
			 DIGEST_ALGO_AKAV2_MD5);
}

static void test_md5_flow_and_wrong_password(void **state)
{
	char auth[2048];
	struct sip_auth a;
	struct sent *r;
	struct ue ue = {.impi = "carol@ims.test", .pwd = "secret"};

	(void)state;
	/* identified by To (no Authorization) */
	r = do_register("sip:carol@ims.test", "Contact: <sip:carol@127.0.0.1:5072>\r\n");
	assert_int_equal(r->scode, 401);
	a = chal_get(r);
	assert_true(pl_eq_str(a.algorithm, "MD5"));
	/* wrong password: a new challenge first... */
	ue.wrong = true;
	ue_answer(&ue, &a, auth, sizeof(auth), "Contact: <sip:carol@127.0.0.1:5072>\r\n");
	r = do_register("sip:carol@ims.test", auth);
	assert_int_equal(r->scode, 401);
	a = chal_get(r);
	/* ...then 403 */
	ue_answer(&ue, &a, auth, sizeof(auth), "Contact: <sip:carol@127.0.0.1:5072>\r\n");
	r = do_register("sip:carol@ims.test", auth);
	assert_int_equal(r->scode, 403);
	assert_int_equal(registrar_challenge_count(T.reg), 0);
	assert_false(registrar_is_registered(T.reg, hss_user_at(T.hss, 2)));
	/* starting over with the right password works */
	ue.wrong = false;
	r = do_register("sip:carol@ims.test", "Contact: <sip:carol@127.0.0.1:5072>\r\n");
	assert_int_equal(r->scode, 401);
	a = chal_get(r);
	ue_answer(&ue, &a, auth, sizeof(auth), "Contact: <sip:carol@127.0.0.1:5072>\r\n");
	r = do_register("sip:carol@ims.test", auth);
	assert_int_equal(r->scode, 200);
	assert_int_equal(registrar_user_algo(T.reg, hss_user_at(T.hss, 2)),
			 DIGEST_ALGO_MD5);
}

/* Password guessing (docs/security.md): a guess under the challenged
 * request's Call-ID and CSeq is an attempt, not a retransmission (only the
 * same Authorization is); five wrong answers lock the user for 300 s, except
 * on the flow its phone registered over; the lock ends with its time. */
static void test_guessing_locks_user(void **state)
{
	static const char *const guesses[] = {"a1", "b2", "c3", "d4", "e5", "f6"};
	const char *contact = "Contact: <sip:carol@127.0.0.1:5072>\r\n";
	struct net_flow phone = src_v4(5072, false), atk = src_v4(6000, false);
	struct ue ue = {.impi = "carol@ims.test", .pwd = "secret"};
	char auth[2048];
	struct sip_auth a;
	struct sent *r;
	uint32_t cs;
	size_t g = 0;

	(void)state;
	r = do_req("REGISTER", "sip:carol@ims.test", contact, &phone);
	a = chal_get(r);
	ue_answer(&ue, &a, auth, sizeof(auth), contact);
	assert_int_equal(do_req("REGISTER", "sip:carol@ims.test", auth, &phone)->scode, 200);
	/* the same Authorization again (a retransmission whose 401 was lost)
	 * is not a guess: the same challenge, nothing counted */
	r = do_req("REGISTER", "sip:carol@ims.test", contact, &atk);
	a = chal_get(r);
	cs = cseq_next;
	ue.pwd = "wrong";
	ue_answer(&ue, &a, auth, sizeof(auth), contact);
	for (int i = 0; i < 6; i++) {
		cseq_next = cs;
		r = do_req("REGISTER", "sip:carol@ims.test", auth, &atk);
		assert_int_equal(r->scode, 401);
	}
	assert_int_equal(registrar_locked_count(T.reg), 0);
	/* new guesses under the same Call-ID and CSeq: each one counts */
	while (registrar_locked_count(T.reg) == 0) {
		assert_true(g < 6);
		a = chal_get(r);
		ue.pwd = guesses[g++];
		ue_answer(&ue, &a, auth, sizeof(auth), contact);
		cseq_next = cs;
		r = do_req("REGISTER", "sip:carol@ims.test", auth, &atk);
		if (r->scode == 403)
			r = do_req("REGISTER", "sip:carol@ims.test", contact, &atk);
	}
	assert_int_equal(g, 4); /* the retransmitted wrong answer counted once */
	/* locked: no challenge at all, even for the right password */
	r = do_req("REGISTER", "sip:carol@ims.test", contact, &atk);
	assert_int_equal(r->scode, 403);
	assert_null(sip_msg_hdr(r->msg, SIP_HDR_WWW_AUTHENTICATE));
	assert_true(pl_casefind(r->msg->start, "too many failed") >= 0);
	/* the phone on its own flow goes on refreshing */
	ue.pwd = "secret";
	r = do_req("REGISTER", "sip:carol@ims.test", contact, &phone);
	assert_int_equal(r->scode, 401);
	a = chal_get(r);
	ue_answer(&ue, &a, auth, sizeof(auth), contact);
	assert_int_equal(do_req("REGISTER", "sip:carol@ims.test", auth, &phone)->scode, 200);
	/* the lock ends */
	T.now += (REG_GUARD_LOCK_S + 1) * 1000ull;
	registrar_expire_run(T.reg);
	assert_int_equal(registrar_locked_count(T.reg), 0);
	r = do_req("REGISTER", "sip:carol@ims.test", contact, &atk);
	assert_int_equal(r->scode, 401);
	a = chal_get(r);
	ue_answer(&ue, &a, auth, sizeof(auth), contact);
	assert_int_equal(do_req("REGISTER", "sip:carol@ims.test", auth, &atk)->scode, 200);
}

/* One address guessing across users is locked as a whole after 20. */
static void test_guessing_locks_source(void **state)
{
	struct net_flow atk = src_v4(6001, false);
	static const char *const users[] = {"carol", "erin"};
	char to[64], auth[2048], contact[128];
	struct sent *r = NULL;
	struct sip_auth a;
	int fails = 0;

	(void)state;
	for (int i = 0; registrar_locked_count(T.reg) == 0; i++) {
		const char *u = users[i % 2];
		struct ue ue = {.pwd = "guess"};
		char impi[64];

		assert_true(i < 200);
		snprintf(to, sizeof(to), "sip:%s@ims.test", u);
		snprintf(impi, sizeof(impi), "%s@ims.test", u);
		ue.impi = impi;
		snprintf(contact, sizeof(contact), "Contact: <sip:%s@127.0.0.1:6001>\r\n", u);
		r = do_req("REGISTER", to, contact, &atk);
		if (r->scode == 403)
			continue; /* this user is locked: the other one goes on */
		a = chal_get(r);
		ue_answer(&ue, &a, auth, sizeof(auth), contact);
		r = do_req("REGISTER", to, auth, &atk);
		fails++;
	}
	assert_int_equal(fails, REG_GUARD_SRC_FAILS);
	r = do_req("REGISTER", "sip:alice@ims.test", CONTACT_A, &atk);
	assert_int_equal(r->scode, 403);
	assert_true(pl_casefind(r->msg->start, "from this address") >= 0);
}

/* Issue 19, finding 9: credentials without a realm (hashed over "") or
 * with an empty one are not for us: a new challenge, and an answer to the
 * open challenge counted as a failure (the second ends in 403). */
static void test_md5_realm_required(void **state)
{
	static const char *const ct = "Contact: <sip:carol@127.0.0.1:5072>\r\n";
	char auth[2048], *at;
	struct sip_auth a;
	struct sent *r;
	struct ue ue = {.impi = "carol@ims.test", .pwd = "secret"};

	(void)state;
	r = do_register("sip:carol@ims.test", ct);
	assert_int_equal(r->scode, 401);
	a = chal_get(r);
	a.realm = PL("");
	ue_answer(&ue, &a, auth, sizeof(auth), ct); /* right password, realm "" */
	at = strstr(auth, "realm=\"\", ");
	assert_non_null(at);
	memmove(at, at + 10, strlen(at + 10) + 1); /* no realm at all */
	r = do_register("sip:carol@ims.test", auth);
	assert_int_equal(r->scode, 401);
	a = chal_get(r);
	assert_true(pl_eq_str(a.realm, "ims.test"));
	a.realm = PL("");
	ue_answer(&ue, &a, auth, sizeof(auth), ct); /* realm="" */
	r = do_register("sip:carol@ims.test", auth);
	assert_int_equal(r->scode, 403);
	assert_false(registrar_is_registered(T.reg, hss_user_at(T.hss, 2)));
	/* the realm named: registered */
	r = do_register("sip:carol@ims.test", ct);
	a = chal_get(r);
	ue_answer(&ue, &a, auth, sizeof(auth), ct);
	r = do_register("sip:carol@ims.test", auth);
	assert_int_equal(r->scode, 200);
}

static struct net_flow src_ip(const char *ip, uint16_t port)
{
	struct net_flow s = src_v4(port, false);

	assert_int_equal(net_addr_parse_str(&s.peer, ip, port), 0);
	return s;
}

/* Challenge replacement (security review finding 4): REGISTERs naming a
 * user without credentials no longer replace the challenge its phone is
 * answering. A flood from one address gets one challenge (the same nonce
 * within a second: one AKA vector, SQN_HE moves once); other addresses take
 * free places but not a challenge under 5 s old; the phone registered on
 * its flow can always refresh. */
static void test_challenge_flood(void **state)
{
	struct net_flow phone = src_v4(5070, false);
	struct hss_user *alice = hss_user_by_impi(T.hss, PL("alice@ims.test"));
	char hdrs[2048], auth[2048];
	struct sip_auth a;
	struct sent *r;
	struct ue ue;
	uint64_t sqn;

	(void)state;
	ue_milenage(&ue, "alice@ims.test");
	snprintf(hdrs, sizeof(hdrs),
		 "Authorization: Digest username=\"alice@ims.test\", realm=\"ims.test\", "
		 "nonce=\"\", uri=\"sip:ims.test\", response=\"\"\r\n%s", CONTACT_A);
	r = do_req("REGISTER", "sip:alice@ims.test", hdrs, &phone);
	a = chal_get(r);
	/* the phone's answer, made now (the 401 goes with sent_clear below) */
	assert_int_equal(ue_answer(&ue, &a, auth, sizeof(auth), CONTACT_A), 0);
	sqn = hss_user_sqn_he(alice);
	/* 100 REGISTERs from one address (new Call-IDs, ports): one vector */
	for (int i = 0; i < 100; i++) {
		struct net_flow f = src_ip("192.0.2.66", (uint16_t)(7000 + i));

		callid_cur = i & 1 ? "flood-a@x" : "flood-b@x";
		assert_int_equal(do_req("REGISTER", "sip:alice@ims.test", hdrs, &f)->scode, 401);
		sent_clear();
	}
	callid_cur = "call-1@ue";
	assert_int_equal(registrar_challenge_count(T.reg), 2);
	assert_true(hss_user_sqn_he(alice) - sqn <= 32); /* one SQN step */
	/* three more addresses take the free places, a fifth gets 503 */
	for (int i = 0; i < 3; i++) {
		char ip[32];
		struct net_flow f;

		snprintf(ip, sizeof(ip), "192.0.2.%d", 70 + i);
		f = src_ip(ip, 7000);
		assert_int_equal(do_req("REGISTER", "sip:alice@ims.test", hdrs, &f)->scode,
				 i < 2 ? 401 : 503);
	}
	/* the phone's challenge is still there: its answer registers it */
	assert_int_equal(do_req("REGISTER", "sip:alice@ims.test", auth, &phone)->scode, 200);
	/* every place still taken (a success keeps its challenge usable with
	 * a higher nc): the phone refreshing from its registered flow still
	 * gets a new challenge at once */
	T.now += REG_CHAL_REUSE_MS;
	r = do_req("REGISTER", "sip:alice@ims.test", hdrs, &phone);
	assert_int_equal(r->scode, 401);
	a = chal_get(r);
	assert_int_equal(ue_answer(&ue, &a, auth, sizeof(auth), CONTACT_A), 0);
	assert_int_equal(do_req("REGISTER", "sip:alice@ims.test", auth, &phone)->scode, 200);
	/* after REG_CHAL_KEEP_MS an abandoned place goes to a new address */
	T.now += REG_CHAL_KEEP_MS;
	{
		struct net_flow f = src_ip("192.0.2.99", 7000);

		assert_int_equal(do_req("REGISTER", "sip:alice@ims.test", hdrs, &f)->scode, 401);
	}
}

static void test_aka_wrong_res(void **state)
{
	char auth[2048];
	struct sip_auth a;
	struct sent *r;
	struct ue ue;

	(void)state;
	ue_milenage(&ue, "alice@ims.test");
	ue.wrong = true;
	r = do_register("sip:alice@ims.test", CONTACT_A);
	a = chal_get(r);
	assert_int_equal(ue_answer(&ue, &a, auth, sizeof(auth), CONTACT_A), 0);
	r = do_register("sip:alice@ims.test", auth);
	assert_int_equal(r->scode, 401);
	a = chal_get(r);
	assert_int_equal(ue_answer(&ue, &a, auth, sizeof(auth), CONTACT_A), 0);
	r = do_register("sip:alice@ims.test", auth);
	assert_int_equal(r->scode, 403);
}

static void test_stale_nonce(void **state)
{
	char auth[2048], auth2[2048];
	struct sip_auth a;
	struct sent *r;
	struct ue ue = {.impi = "carol@ims.test", .pwd = "secret"};

	(void)state;
	r = do_register("sip:carol@ims.test", "Contact: <sip:carol@127.0.0.1:5072>\r\n");
	a = chal_get(r);
	ue_answer(&ue, &a, auth, sizeof(auth), "Contact: <sip:carol@127.0.0.1:5072>\r\n");
	T.now += (REGISTRAR_CHALLENGE_TTL + 1) * 1000;
	r = do_register("sip:carol@ims.test", auth);
	assert_int_equal(r->scode, 401);
	a = chal_get(r);
	assert_true(pl_caseeq_str(a.stale, "true"));
	/* the challenge the UE answered has gone (expiry run): still stale */
	ue_answer(&ue, &a, auth2, sizeof(auth2),
		  "Contact: <sip:carol@127.0.0.1:5072>\r\n");
	T.now += (REGISTRAR_CHALLENGE_TTL + 1) * 1000;
	registrar_expire_run(T.reg);
	assert_int_equal(registrar_challenge_count(T.reg), 0);
	r = do_register("sip:carol@ims.test", auth2);
	assert_int_equal(r->scode, 401);
	a = chal_get(r);
	assert_true(pl_caseeq_str(a.stale, "true"));
	/* a nonce we never made: a plain challenge */
	r = do_register(
	    "sip:carol@ims.test",
	    "Authorization: Digest username=\"carol@ims.test\", realm=\"ims.test\", "
	    "nonce=\"Zm9yZ2VkIG5vbmNlIGZvcmdlZCBub25jZQ==\", uri=\"sip:ims.test\", "
	    "response=\"00000000000000000000000000000000\", algorithm=MD5\r\n"
	    "Contact: <sip:carol@127.0.0.1:5072>\r\n");
	assert_int_equal(r->scode, 401);
	a = chal_get(r);
	assert_false(pl_isset(a.stale));
}

/* The ISIM's keys differ from the HSS's: it finds AUTN's MAC wrong and
 * answers the held nonce with an empty response and no auts (TS 24.229
 * §5.1.1.5.1): 403 at once, not another challenge. */
static void test_aka_network_auth_failure(void **state)
{
	char hdrs[2048];
	struct sip_auth a;
	struct sent *r;
	struct ue ue;

	(void)state;
	ue_milenage(&ue, "alice@ims.test");
	ue.cred.k[0] ^= 1; /* the ISIM's K is not the HSS's */
	r = do_register("sip:alice@ims.test", CONTACT_A);
	assert_int_equal(r->scode, 401);
	a = chal_get(r);
	assert_int_equal(ue_answer(&ue, &a, hdrs, sizeof(hdrs), CONTACT_A), EACCES);
	snprintf(hdrs, sizeof(hdrs),
		 "Authorization: Digest username=\"alice@ims.test\", realm=\"ims.test\", "
		 "nonce=\"%.*s\", uri=\"sip:ims.test\", response=\"\", "
		 "algorithm=AKAv1-MD5\r\n" CONTACT_A,
		 (int)a.nonce.l, a.nonce.p);
	r = do_register("sip:alice@ims.test", hdrs);
	assert_int_equal(r->scode, 403);
	assert_true(pl_casefind(r->msg->reason, "network authentication failed") >= 0);
	assert_int_equal(registrar_challenge_count(T.reg), 0);
	/* the same answer again (the nonce is gone): a plain new challenge */
	r = do_register("sip:alice@ims.test", hdrs);
	assert_int_equal(r->scode, 401);
	a = chal_get(r);
	assert_false(pl_isset(a.stale));
}

/* RFC 2617 §3.2.1: stale=TRUE only for a valid digest on an old nonce. A
 * wrong MD5 password on a superseded nonce counts as a failure; so does an
 * answer without the qop directives the challenge asked for. Neither loops. */
static void test_md5_old_nonce_and_directives(void **state)
{
	char auth[2048], old[2048];
	struct sip_auth a;
	struct sent *r;
	struct ue ue = {.impi = "carol@ims.test", .pwd = "secret"};
	const char *ct = "Contact: <sip:carol@127.0.0.1:5072>\r\n";

	(void)state;
	r = do_register("sip:carol@ims.test", ct);
	a = chal_get(r);
	ue.wrong = true;
	ue_answer(&ue, &a, old, sizeof(old), ct);
	/* a new REGISTER (a second later) supersedes that challenge */
	T.now += REG_CHAL_REUSE_MS;
	r = do_register("sip:carol@ims.test", ct);
	assert_int_equal(r->scode, 401);
	/* wrong password on the superseded nonce: not stale, counted... */
	r = do_register("sip:carol@ims.test", old);
	assert_int_equal(r->scode, 401);
	a = chal_get(r);
	assert_false(pl_isset(a.stale));
	/* ...once: its retransmission (401 lost) gets the same challenge */
	cseq_next--;
	r = do_register("sip:carol@ims.test", old);
	assert_int_equal(r->scode, 401);
	assert_true(pl_eq(chal_get(r).nonce, a.nonce));
	/* ...and the next one is the last */
	r = do_register("sip:carol@ims.test", old);
	assert_int_equal(r->scode, 403);
	/* the right password on a superseded nonce: stale=TRUE */
	ue.wrong = false;
	r = do_register("sip:carol@ims.test", ct);
	a = chal_get(r);
	ue_answer(&ue, &a, old, sizeof(old), ct);
	T.now += REG_CHAL_REUSE_MS;
	r = do_register("sip:carol@ims.test", ct);
	r = do_register("sip:carol@ims.test", old);
	assert_int_equal(r->scode, 401);
	a = chal_get(r);
	assert_true(pl_caseeq_str(a.stale, "true"));
	/* qop=auth offered, answered without cnonce and nc: a failure, twice
	 * is a 403 (it used to be challenged for ever) */
	for (int i = 0; i < 2; i++) {
		snprintf(auth, sizeof(auth),
			 "Authorization: Digest username=\"carol@ims.test\", "
			 "realm=\"ims.test\", nonce=\"%.*s\", uri=\"sip:ims.test\", "
			 "response=\"00000000000000000000000000000000\", "
			 "algorithm=MD5\r\n%s",
			 (int)a.nonce.l, a.nonce.p, ct);
		r = do_register("sip:carol@ims.test", auth);
		if (i == 0) {
			assert_int_equal(r->scode, 401);
			a = chal_get(r);
		}
	}
	assert_int_equal(r->scode, 403);
	/* an empty response on the held MD5 nonce is a wrong one */
	r = do_register("sip:carol@ims.test", ct);
	for (int i = 0; i < 2; i++) {
		a = chal_get(r);
		snprintf(auth, sizeof(auth),
			 "Authorization: Digest username=\"carol@ims.test\", "
			 "realm=\"ims.test\", nonce=\"%.*s\", uri=\"sip:ims.test\", "
			 "response=\"\", algorithm=MD5\r\n%s",
			 (int)a.nonce.l, a.nonce.p, ct);
		r = do_register("sip:carol@ims.test", auth);
		assert_int_equal(r->scode, i ? 403 : 401);
	}
}

/* A user's own domain is its realm (manual §5.2 `domain`: "used for IMPU
 * and authentication. May be overriden at user level"), and names its
 * IMPUs in the 200; the To may carry another host (the domain does not
 * recover IMPUs). Credentials for the global realm are not this user's. */
static void test_user_domain_realm(void **state)
{
	char auth[2048];
	struct sip_auth a;
	struct sent *r;
	struct ue ue = {.impi = "erin@ims.test", .pwd = "pw"};
	const char *ct = "Contact: <sip:erin@127.0.0.1:5076>\r\n";

	(void)state;
	r = do_register("sip:erin@ims.test", ct);
	assert_int_equal(r->scode, 401);
	a = chal_get(r);
	assert_true(pl_eq_str(a.realm, "erin.example"));
	ue_answer(&ue, &a, auth, sizeof(auth), ct);
	r = do_register("sip:erin@ims.test", auth);
	assert_int_equal(r->scode, 200);
	assert_true(hdr_has(r->msg, SIP_HDR_P_ASSOCIATED_URI, "sip:erin@erin.example"));
	/* an answer for the global realm is not a credential for erin */
	a.realm = PL("ims.test");
	ue_answer(&ue, &a, auth, sizeof(auth), ct);
	r = do_register("sip:erin@ims.test", auth);
	assert_int_equal(r->scode, 401);
	a = chal_get(r);
	assert_true(pl_eq_str(a.realm, "erin.example"));
}

/* auth_on_register_only (default true): a de-registration over the flow of
 * the bindings it removes is not challenged; from elsewhere (another port of
 * the same IP included), or with the option false, it is. */
static void test_dereg_auth_on_register_only(void **state)
{
	struct net_flow other = src_v4(5070, false);
	struct sent *r;
	struct ue ue;

	(void)state;
	other.peer.u.in.sin_addr.s_addr = htonl(0x7f000002);
	ue_milenage(&ue, "alice@ims.test");
	assert_int_equal(alice_register(&ue, CONTACT_A)->scode, 200);
	/* another address: challenged, nothing removed */
	r = do_req("REGISTER", "sip:alice@ims.test", "Contact: *\r\nExpires: 0\r\n",
		   &other);
	assert_int_equal(r->scode, 401);
	assert_true(registrar_is_registered(T.reg, hss_user_at(T.hss, 0)));
	/* the same address from another port or over TCP: another host behind
	 * the same NAT, challenged too */
	other = src_v4(5071, false);
	r = do_req("REGISTER", "sip:alice@ims.test", "Contact: *\r\nExpires: 0\r\n",
		   &other);
	assert_int_equal(r->scode, 401);
	other = src_v4(5070, true);
	r = do_req("REGISTER", "sip:alice@ims.test", "Contact: *\r\nExpires: 0\r\n",
		   &other);
	assert_int_equal(r->scode, 401);
	assert_true(registrar_is_registered(T.reg, hss_user_at(T.hss, 0)));
	/* a refresh is always authenticated */
	r = do_register("sip:alice@ims.test", CONTACT_A);
	assert_int_equal(r->scode, 401);
	/* the binding's own address: removed at once */
	r = do_register("sip:alice@ims.test", "Contact: *\r\nExpires: 0\r\n");
	assert_int_equal(r->scode, 200);
	assert_false(registrar_is_registered(T.reg, hss_user_at(T.hss, 0)));
	/* nothing left to remove: challenged like any REGISTER */
	r = do_register("sip:alice@ims.test", "Contact: *\r\nExpires: 0\r\n");
	assert_int_equal(r->scode, 401);
}

static int setup_auth_all(void **state)
{
	char extra[4096];

	(void)state;
	memset(&T, 0, sizeof(T));
	snprintf(extra, sizeof(extra), "'auth_on_register_only': false, %s", USERS);
	reg_start(extra, 0);
	return 0;
}

static void test_dereg_auth_all(void **state)
{
	struct ue ue;

	(void)state;
	ue_milenage(&ue, "alice@ims.test");
	assert_int_equal(alice_register(&ue, CONTACT_A)->scode, 200);
	assert_int_equal(
	    do_register("sip:alice@ims.test", "Contact: *\r\nExpires: 0\r\n")->scode,
	    401);
	assert_true(registrar_is_registered(T.reg, hss_user_at(T.hss, 0)));
	/* a SUBSCRIBE is challenged too; the answer on the challenge gets 200,
	 * and a later one may reuse the nonce with a higher nc */
	{
		struct net_flow s = src_v4(5070, false);
		char auth[2048], hdrs[4096];
		struct sip_auth a;
		struct sent *r;

		r = do_req("SUBSCRIBE", "sip:alice@ims.test", SUB_HDRS, &s);
		assert_int_equal(r->scode, 401);
		a = chal_get(r);
		ue.method = "SUBSCRIBE";
		assert_int_equal(ue_answer(&ue, &a, auth, sizeof(auth), SUB_HDRS), 0);
		assert_int_equal(
		    do_req("SUBSCRIBE", "sip:alice@ims.test", auth, &s)->scode, 200);
		assert_int_equal(registrar_sub_count(T.reg), 1);
		assert_int_equal(ue_answer(&ue, &a, auth, sizeof(auth), SUB_HDRS), 0);
		assert_int_equal(
		    do_req("SUBSCRIBE", "sip:alice@ims.test", auth, &s)->scode, 200);
		assert_int_equal(registrar_sub_count(T.reg), 2);
		/* a wrong answer is refused like a REGISTER's */
		ue.wrong = true;
		snprintf(hdrs, sizeof(hdrs), "%s", SUB_HDRS);
		r = do_req("SUBSCRIBE", "sip:alice@ims.test", hdrs, &s);
		assert_int_equal(r->scode, 401);
		a = chal_get(r);
		assert_int_equal(ue_answer(&ue, &a, auth, sizeof(auth), SUB_HDRS), 0);
		assert_int_equal(
		    do_req("SUBSCRIBE", "sip:alice@ims.test", auth, &s)->scode, 401);
		ue.wrong = false;
		ue.method = NULL;
	}
	assert_int_equal(alice_register(&ue, "Contact: *\r\nExpires: 0\r\n")->scode, 200);
	assert_false(registrar_is_registered(T.reg, hss_user_at(T.hss, 0)));
}

static void test_nc_replay(void **state)
{
	char auth[2048];
	struct sip_auth a;
	struct sent *r;
	struct ue ue = {.impi = "carol@ims.test", .pwd = "secret"};

	(void)state;
	r = do_register("sip:carol@ims.test", "Contact: <sip:carol@127.0.0.1:5072>\r\n");
	a = chal_get(r);
	ue_answer(&ue, &a, auth, sizeof(auth), "Contact: <sip:carol@127.0.0.1:5072>\r\n");
	r = do_register("sip:carol@ims.test", auth);
	assert_int_equal(r->scode, 200);
	/* the same Authorization (nc=1) again is a replay */
	r = do_register("sip:carol@ims.test", auth);
	assert_int_equal(r->scode, 401);
	/* the UE's next request on its nonce with nc=2 is fine: take a fresh
	 * challenge, answer with nc 1 then 2 */
	a = chal_get(r);
	ue.nc = 0;
	ue_answer(&ue, &a, auth, sizeof(auth), "Contact: <sip:carol@127.0.0.1:5072>\r\n");
	assert_int_equal(do_register("sip:carol@ims.test", auth)->scode, 200);
	ue_answer(&ue, &a, auth, sizeof(auth), "Contact: <sip:carol@127.0.0.1:5072>\r\n");
	assert_int_equal(do_register("sip:carol@ims.test", auth)->scode, 200);
}

/* A source is proven (its NOTIFYs retransmitted, sip/sip_peer.h) by the
 * first answer to a challenge made for its address; not by a nonce reused
 * with a higher nc, nor by an answer from another address. */
static void test_peer_proof(void **state)
{
	char auth[2048];
	struct sip_auth a;
	struct sent *r;
	struct ue ue = {.impi = "carol@ims.test", .pwd = "secret"};
	struct net_flow other = src_v4(5070, false);

	(void)state;
	assert_int_equal(net_addr_parse_str(&other.peer, "127.0.0.9", 5099), 0);
	r = do_register("sip:carol@ims.test", "Contact: <sip:carol@127.0.0.1:5072>\r\n");
	assert_int_equal(T.nproven, 0);
	a = chal_get(r);
	ue_answer(&ue, &a, auth, sizeof(auth), "Contact: <sip:carol@127.0.0.1:5072>\r\n");
	assert_int_equal(do_register("sip:carol@ims.test", auth)->scode, 200);
	assert_int_equal(T.nproven, 1);
	assert_int_equal(net_addr_port(&T.proven[0].peer), 5070);
	/* the same nonce, nc=2, from a forged source: accepted, not proof */
	ue_answer(&ue, &a, auth, sizeof(auth), "Contact: <sip:carol@127.0.0.9:5099>\r\n");
	assert_int_equal(do_req("REGISTER", "sip:carol@ims.test", auth, &other)->scode, 200);
	assert_int_equal(T.nproven, 1);
	/* a challenge sent to 127.0.0.9, answered from 127.0.0.1 */
	r = do_req("REGISTER", "sip:carol@ims.test", "Contact: <sip:carol@127.0.0.9:5099>\r\n",
		   &other);
	assert_int_equal(r->scode, 401);
	a = chal_get(r);
	ue.nc = 0;
	ue_answer(&ue, &a, auth, sizeof(auth), "Contact: <sip:carol@127.0.0.1:5072>\r\n");
	r = do_register("sip:carol@ims.test", auth);
	assert_int_equal(T.nproven, 1);
}

/* The USIM is ahead of the HSS (field note "SQN Sync in IMS Auth"): it
 * rejects the first challenge with AUTS, the next one is accepted. */
static void test_resync(void **state)
{
	char hdrs[1024], auth[2048];
	uint8_t rand[16], autn[16], sd[64], auts[AKA_AUTS_MAX];
	char auts64[AUTH_B64_SIZE(AKA_AUTS_MAX)];
	size_t sdlen, autslen;
	uint64_t ahead = sqn_make(5000, 0);
	struct aka_vector v;
	struct sip_auth a;
	struct sent *r;
	struct ue ue;

	(void)state;
	ue_milenage(&ue, "alice@ims.test");
	r = do_register("sip:alice@ims.test", CONTACT_A);
	assert_int_equal(r->scode, 401);
	a = chal_get(r);
	assert_int_equal(
	    digest_aka_nonce_decode(a.nonce, 16, rand, autn, sd, sizeof(sd), &sdlen), 0);
	assert_int_equal(aka_autn_check(&ue.cred, rand, autn, 16, &v), 0);
	assert_true(v.sqn < ahead); /* stale for this USIM */
	assert_int_equal(aka_auts_build(&ue.cred, rand, ahead, auts, &autslen), 0);
	auth_b64_encode(auts, autslen, auts64);
	snprintf(
	    hdrs, sizeof(hdrs),
	    "Authorization: Digest username=\"alice@ims.test\", realm=\"ims.test\", "
	    "nonce=\"%.*s\", uri=\"sip:ims.test\", response=\"\", algorithm=AKAv1-MD5, "
	    "auts=\"%s\"\r\n" CONTACT_A,
	    (int)a.nonce.l, a.nonce.p, auts64);
	r = do_register("sip:alice@ims.test", hdrs);
	assert_int_equal(r->scode, 401);
	assert_int_equal(hss_user_sqn_he(hss_user_at(T.hss, 0)) >= ahead, 1);
	a = chal_get(r);
	assert_int_equal(
	    digest_aka_nonce_decode(a.nonce, 16, rand, autn, sd, sizeof(sd), &sdlen), 0);
	assert_int_equal(aka_autn_check(&ue.cred, rand, autn, 16, &v), 0);
	assert_true(sqn_seq(v.sqn) > sqn_seq(ahead)); /* now fresh */
	assert_int_equal(ue_answer(&ue, &a, auth, sizeof(auth), CONTACT_A), 0);
	r = do_register("sip:alice@ims.test", auth);
	assert_int_equal(r->scode, 200);
	/* a forged AUTS is a 403 and leaves SQN_HE alone */
	r = do_register("sip:alice@ims.test", CONTACT_A);
	a = chal_get(r);
	{
		uint64_t before = hss_user_sqn_he(hss_user_at(T.hss, 0));

		snprintf(
		    hdrs, sizeof(hdrs),
		    "Authorization: Digest username=\"alice@ims.test\", "
		    "realm=\"ims.test\", "
		    "nonce=\"%.*s\", uri=\"sip:ims.test\", response=\"\", "
		    "algorithm=AKAv1-MD5, auts=\"AAAAAAAAAAAAAAAAAAAA\"\r\n" CONTACT_A,
		    (int)a.nonce.l, a.nonce.p);
		r = do_register("sip:alice@ims.test", hdrs);
		assert_int_equal(r->scode, 403);
		assert_int_equal(hss_user_sqn_he(hss_user_at(T.hss, 0)), before);
	}
	aka_vector_wipe(&v);
}

static void test_no_auth_and_expires_rules(void **state)
{
	struct sent *r;

	(void)state;
	/* authent_type none: 200 at once; Expires header honoured, clamped */
	r = do_register("sip:dave@ims.test", "Contact: <sip:dave@127.0.0.1:5073>\r\n"
					     "Expires: 600\r\n");
	assert_int_equal(r->scode, 200);
	assert_true(hdr_has(r->msg, SIP_HDR_CONTACT, "expires=600"));
	r = do_register(
	    "sip:dave@ims.test",
	    "Contact: <sip:dave@127.0.0.1:5073>;expires=99999999\r\nExpires: 10\r\n");
	assert_int_equal(r->scode, 200);
	assert_true(hdr_has(r->msg, SIP_HDR_CONTACT, "expires=3600"));
	assert_int_equal(registrar_user_algo(T.reg, hss_user_at(T.hss, 3)), -1);
	/* fetch: no Contact, nothing changes */
	r = do_register("sip:dave@ims.test", "");
	assert_int_equal(r->scode, 200);
	assert_int_equal(sip_msg_hdr_count(r->msg, SIP_HDR_CONTACT), 1);
	/* a second contact, then Contact: * needs Expires: 0 and to be alone */
	r = do_register("sip:dave@ims.test",
			"Contact: <sip:dave@127.0.0.1:5074>;q=0.5\r\n");
	assert_int_equal(r->scode, 200);
	assert_int_equal(sip_msg_hdr_count(r->msg, SIP_HDR_CONTACT), 2);
	assert_true(hdr_has(r->msg, SIP_HDR_CONTACT, "q=0.5"));
	assert_int_equal(do_register("sip:dave@ims.test", "Contact: *\r\n")->scode, 400);
	assert_int_equal(
	    do_register("sip:dave@ims.test",
			"Contact: *\r\nContact: <sip:x@127.0.0.1>\r\nExpires: 0\r\n")
		->scode,
	    400);
	/* one contact removed by expires=0 */
	r = do_register("sip:dave@ims.test",
			"Contact: <sip:dave@127.0.0.1:5074>;expires=0\r\n");
	assert_int_equal(r->scode, 200);
	assert_int_equal(sip_msg_hdr_count(r->msg, SIP_HDR_CONTACT), 1);
	assert_int_equal(registrar_binding_count(T.reg), 1);
	/* Contact: * in the bindings' Call-ID with an older CSeq: aborted */
	cseq_next -= 10;
	r = do_register("sip:dave@ims.test", "Contact: *\r\nExpires: 0\r\n");
	assert_int_equal(r->scode, 500);
	assert_int_equal(registrar_binding_count(T.reg), 1);
	cseq_next += 10;
	r = do_register("sip:dave@ims.test", "Contact: *\r\nExpires: 0\r\n");
	assert_int_equal(r->scode, 200);
	assert_int_equal(sip_msg_hdr_count(r->msg, SIP_HDR_CONTACT), 0);
	assert_false(registrar_is_registered(T.reg, hss_user_at(T.hss, 3)));
	assert_int_equal(registrar_binding_count(T.reg), 0);
	/* unknown users */
	assert_int_equal(do_register("sip:nobody@ims.test", CONTACT_A)->scode, 404);
	assert_int_equal(
	    do_register(
		"sip:alice@ims.test",
		"Authorization: Digest username=\"x@ims.test\", realm=\"ims.test\", "
		"nonce=\"\", uri=\"sip:ims.test\", response=\"\"\r\n" CONTACT_A)
		->scode,
	    403);
	/* IMPI and IMPU of different users */
	assert_int_equal(
	    do_register(
		"sip:dave@ims.test",
		"Authorization: Digest username=\"alice@ims.test\", realm=\"ims.test\", "
		"nonce=\"\", uri=\"sip:ims.test\", response=\"\"\r\n" CONTACT_A)
		->scode,
	    403);
}

/* The 200 shows the Contacts its REGISTER named whole, the others as URI,
 * +sip.instance and reg-id only: a fetch costs no more than the URIs. */
static void test_ok_contacts_short(void **state)
{
	static const char long_a[] =
	    "Contact: <sip:dave@127.0.0.1:5073>;+sip.instance=\"<urn:gsma:imei:35000000-"
	    "000000-0>\";reg-id=1;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi."
	    "mmtel\";+g.3gpp.smsip;audio;video\r\n";
	struct sent *r;
	const struct sip_hdr *h;
	size_t n = 0;

	(void)state;
	r = do_register("sip:dave@ims.test", long_a);
	assert_int_equal(r->scode, 200);
	assert_true(hdr_has(r->msg, SIP_HDR_CONTACT, "+g.3gpp.smsip"));
	r = do_register("sip:dave@ims.test", "Contact: <sip:dave@127.0.0.1:5074>;audio\r\n");
	assert_int_equal(r->scode, 200);
	assert_int_equal(sip_msg_hdr_count(r->msg, SIP_HDR_CONTACT), 2);
	assert_false(hdr_has(r->msg, SIP_HDR_CONTACT, "+g.3gpp.smsip"));
	for (h = sip_msg_hdr(r->msg, SIP_HDR_CONTACT); h; h = sip_msg_hdr_next(r->msg, h)) {
		if (pl_casefind(h->val, "5073") >= 0) {
			assert_true(pl_casefind(h->val, "<sip:dave@127.0.0.1:5073>;+sip.instance="
							"\"<urn:gsma:imei:35000000-000000-0>\";"
							"reg-id=1;expires=") == 0);
			n++;
		} else {
			assert_true(pl_casefind(h->val, "<sip:dave@127.0.0.1:5074>;audio;expires=") ==
				    0);
			n++;
		}
	}
	assert_int_equal(n, 2);
	/* a fetch: every Contact short */
	r = do_register("sip:dave@ims.test", "");
	assert_int_equal(sip_msg_hdr_count(r->msg, SIP_HDR_CONTACT), 2);
	assert_false(hdr_has(r->msg, SIP_HDR_CONTACT, "audio"));
	assert_true(hdr_has(r->msg, SIP_HDR_CONTACT, "reg-id=1"));
}

static int setup_min60(void **state)
{
	(void)state;
	memset(&T, 0, sizeof(T));
	reg_start(USERS, 60);
	return 0;
}

static void test_min_expires(void **state)
{
	struct sent *r;

	(void)state;
	r = do_register("sip:dave@ims.test",
			"Contact: <sip:dave@127.0.0.1:5073>;expires=30\r\n");
	assert_int_equal(r->scode, 423);
	assert_true(pl_eq_str(sip_msg_hdr(r->msg, SIP_HDR_MIN_EXPIRES)->val, "60"));
	assert_int_equal(registrar_binding_count(T.reg), 0);
	/* 0 is not "too brief" */
	r = do_register("sip:dave@ims.test",
			"Contact: <sip:dave@127.0.0.1:5073>;expires=0\r\n");
	assert_int_equal(r->scode, 200);
	r = do_register("sip:dave@ims.test",
			"Contact: <sip:dave@127.0.0.1:5073>;expires=60\r\n");
	assert_int_equal(r->scode, 200);
}

static void test_sec_agree_tolerated(void **state)
{
	struct sent *r;

	(void)state;
	assert_int_equal(registrar_option_tag_count, 2);
	assert_string_equal(registrar_option_tags[1], "sec-agree");
	r = do_register(
	    "sip:dave@ims.test",
	    "Require: sec-agree\r\nProxy-Require: sec-agree\r\nSupported: path, "
	    "sec-agree\r\nSecurity-Client: ipsec-3gpp; alg=hmac-sha-1-96; "
	    "spi-c=1111; spi-s=2222; port-c=5062; port-s=5064\r\n"
	    "Contact: <sip:dave@127.0.0.1:5073>\r\n");
	assert_int_equal(r->scode, 200);
	assert_null(sip_msg_hdr(r->msg, SIP_HDR_SECURITY_SERVER));
}

static void test_multi_sim_imei(void **state)
{
	struct sip_auth a;
	struct sent *r;
	uint8_t rand[16], autn[16], sd[64];
	size_t sdlen;
	struct aka_vector v;
	struct aka_cred c;
	char auth[2048];
	struct ue ue;

	(void)state;
	aka_cred_init(&c, AKA_ALGO_XOR);
	assert_int_equal(ims_cfg_hex_decode(XOR_K, c.k, 16), 0);
	c.k_len = 16;
	c.amf[0] = 0x80;
	memset(&ue, 0, sizeof(ue));
	ue.cred = c;
	ue.impi = "001010000000005@ims.mnc001.mcc001.3gppnetwork.org";
	/* the second phone (IMEI ...000002) is the second entry */
	r = do_register("sip:sim@ims.test",
			"Contact: <sip:sim@127.0.0.1:5080>;+sip.instance="
			"\"<urn:gsma:imei:35000000-000002-0>\"\r\n");
	assert_int_equal(r->scode, 401);
	a = chal_get(r);
	assert_int_equal(
	    digest_aka_nonce_decode(a.nonce, 16, rand, autn, sd, sizeof(sd), &sdlen), 0);
	assert_int_equal(aka_autn_check(&c, rand, autn, 16, &v), 0);
	assert_int_equal(ue_answer(&ue, &a, auth, sizeof(auth),
				   "Contact: <sip:sim@127.0.0.1:5080>;+sip.instance="
				   "\"<urn:gsma:imei:35000000-000002-0>\"\r\n"),
			 0);
	r = do_register("sip:sim@ims.test", auth);
	assert_int_equal(r->scode, 200);
	assert_false(registrar_is_registered(T.reg, hss_user_at(T.hss, 4)));
	assert_true(registrar_is_registered(T.reg, hss_user_at(T.hss, 5)));
	/* an unknown IMEI matches neither */
	r = do_register("sip:sim@ims.test",
			"Contact: <sip:sim@127.0.0.1:5081>;+sip.instance="
			"\"<urn:gsma:imei:35000000-000009-0>\"\r\n");
	assert_int_equal(r->scode, 403);
	aka_vector_wipe(&v);
}

static uint32_t sim_src_ip = 0x7f000001; /* sim_register's source address */

/* Registers the multi_sim phone with IMEI serial `serial` from port, in
 * Call-ID callid; returns the final answer. */
static struct sent *sim_register(int serial, uint16_t port, const char *callid,
				 const char *contact)
{
	struct net_flow src = src_v4(port, false);
	char hdrs[512], auth[2048];
	struct sip_auth a;
	struct sent *r;
	struct ue ue;

	src.peer.u.in.sin_addr.s_addr = htonl(sim_src_ip);
	memset(&ue, 0, sizeof(ue));
	aka_cred_init(&ue.cred, AKA_ALGO_XOR);
	assert_int_equal(ims_cfg_hex_decode(XOR_K, ue.cred.k, 16), 0);
	ue.cred.k_len = 16;
	ue.cred.amf[0] = 0x80;
	ue.impi = "001010000000005@ims.mnc001.mcc001.3gppnetwork.org";
	if (!contact) {
		snprintf(hdrs, sizeof(hdrs),
			 "Contact: <sip:sim@127.0.0.1:%u>;+sip.instance="
			 "\"<urn:gsma:imei:35000000-00000%d-0>\"\r\n",
			 port, serial);
		contact = hdrs;
	}
	callid_cur = callid;
	r = do_req("REGISTER", "sip:sim@ims.test", contact, &src);
	if (r->scode == 401) {
		a = chal_get(r);
		assert_int_equal(ue_answer(&ue, &a, auth, sizeof(auth), contact), 0);
		r = do_req("REGISTER", "sip:sim@ims.test", auth, &src);
	}
	callid_cur = "call-1@ue";
	return r;
}

/* Requests that carry no +sip.instance (SUBSCRIBE, a fetch, Contact: *)
 * reach the multi_sim phone that made the bindings: by Call-ID, else by
 * flow. They used to be refused (403), or to reach the first entry. */
static void test_multi_sim_without_instance(void **state)
{
	struct net_flow p2 = src_v4(5082, false);
	struct sent *r;

	(void)state;
	assert_int_equal(sim_register(1, 5081, "sim-1@ue", NULL)->scode, 200);
	assert_int_equal(sim_register(2, 5082, "sim-2@ue", NULL)->scode, 200);
	assert_true(registrar_is_registered(T.reg, hss_user_at(T.hss, 4)));
	assert_true(registrar_is_registered(T.reg, hss_user_at(T.hss, 5)));
	/* the second phone subscribes: it watches its own entry */
	sent_clear();
	r = do_req("SUBSCRIBE", "sip:sim@ims.test",
		   "Event: reg\r\nContact: <sip:sim@127.0.0.1:5082>\r\n", &p2);
	assert_int_equal(r->scode, 200);
	assert_int_equal(T.nreqs, 1); /* the first NOTIFY */
	assert_true(body_has(T.reqs[0].msg, "127.0.0.1:5082"));
	assert_false(body_has(T.reqs[0].msg, "127.0.0.1:5081"));
	/* a fetch in its Call-ID lists its binding only */
	r = sim_register(0, 5082, "sim-2@ue", "");
	assert_int_equal(r->scode, 200);
	assert_int_equal(sip_msg_hdr_count(r->msg, SIP_HDR_CONTACT), 1);
	assert_true(hdr_has(r->msg, SIP_HDR_CONTACT, "127.0.0.1:5082"));
	/* Contact: * de-registers that phone alone */
	r = sim_register(0, 5082, "sim-2@ue", "Contact: *\r\nExpires: 0\r\n");
	assert_int_equal(r->scode, 200);
	assert_true(registrar_is_registered(T.reg, hss_user_at(T.hss, 4)));
	assert_false(registrar_is_registered(T.reg, hss_user_at(T.hss, 5)));
	/* an unknown Call-ID from another address finds no phone */
	sim_src_ip = 0x7f000009;
	r = sim_register(0, 5089, "sim-9@ue", "Contact: *\r\nExpires: 0\r\n");
	sim_src_ip = 0x7f000001;
	assert_int_equal(r->scode, 403);
	assert_true(registrar_is_registered(T.reg, hss_user_at(T.hss, 4)));
}

/* ---- reg event ---- */

static void test_reg_event(void **state)
{
	struct net_flow s = src_v4(5070, false), other = src_v4(5090, false);
	const struct sip_msg *n;
	struct sent *r;
	struct ue ue;
	char to_tag[64], hdrs[512];

	(void)state;
	other.peer.u.in.sin_addr.s_addr = htonl(0x7f000002);
	ue_milenage(&ue, "alice@ims.test");
	/* not registered yet: 403 */
	assert_int_equal(do_req("SUBSCRIBE", "sip:alice@ims.test", SUB_HDRS, &s)->scode,
			 403);
	assert_int_equal(alice_register(&ue, CONTACT_A)->scode, 200);
	/* wrong event package */
	assert_int_equal(do_req("SUBSCRIBE", "sip:alice@ims.test",
				"Event: presence\r\nContact: <sip:a@127.0.0.1:5070>\r\n",
				&s)
			     ->scode,
			 489);
	/* another user watching alice: 403 (From is dave) -- use do_req with From=To,
	 * so test "other source address" instead */
	assert_int_equal(
	    do_req("SUBSCRIBE", "sip:alice@ims.test", SUB_HDRS, &other)->scode, 403);
	sent_clear();
	r = do_req("SUBSCRIBE", "sip:alice@ims.test", SUB_HDRS, &s);
	assert_int_equal(r->scode, 200);
	assert_true(pl_eq_str(sip_msg_hdr(r->msg, SIP_HDR_EXPIRES)->val, "600000"));
	{
		struct sip_addr to;

		assert_int_equal(
		    sip_addr_decode(&to, sip_msg_hdr(r->msg, SIP_HDR_TO)->val), 0);
		assert_true(to.tag.l > 0 && to.tag.l < sizeof(to_tag));
		snprintf(to_tag, sizeof(to_tag), "%.*s", (int)to.tag.l, to.tag.p);
	}
	assert_int_equal(registrar_sub_count(T.reg), 1);
	/* the first NOTIFY: full state, version 0 */
	assert_int_equal(T.nreqs, 1);
	n = T.reqs[0].msg;
	assert_true(pl_eq_str(n->ruri, "sip:alice@127.0.0.1:5070"));
	assert_true(hdr_has(n, SIP_HDR_ROUTE, "<sip:p1.ims.test;lr>"));
	assert_true(hdr_has(n, SIP_HDR_SUBSCRIPTION_STATE, "active;expires=600000"));
	assert_true(hdr_has(n, SIP_HDR_EVENT, "reg"));
	assert_true(hdr_has(n, SIP_HDR_CONTENT_TYPE, "application/reginfo+xml"));
	assert_true(hdr_has(n, SIP_HDR_FROM, to_tag));
	assert_true(hdr_has(n, SIP_HDR_TO, "tag=f1"));
	assert_true(hdr_has(n, SIP_HDR_CSEQ, "1 NOTIFY"));
	assert_true(body_has(n, "version=\"0\" state=\"full\""));
	assert_true(body_has(n, "aor=\"sip:alice@ims.test\""));
	assert_true(body_has(n, "aor=\"tel:+33100000001\""));
	assert_true(
	    body_has(n, "state=\"active\" event=\"registered\" expires=\"3600\""));
	assert_true(body_has(n, "<uri>sip:alice@127.0.0.1:5070</uri>"));
	/* a re-registration: NOTIFY version 1, event refreshed, CSeq 2 */
	T.now += 10000;
	assert_int_equal(alice_register(&ue, CONTACT_A)->scode, 200);
	assert_int_equal(T.nreqs, 2);
	n = T.reqs[1].msg;
	assert_true(body_has(n, "version=\"1\""));
	assert_true(body_has(n, "event=\"refreshed\""));
	assert_true(hdr_has(n, SIP_HDR_CSEQ, "2 NOTIFY"));
	/* shortened */
	assert_int_equal(
	    alice_register(&ue, "Contact: <sip:alice@127.0.0.1:5070>;expires=100\r\n")
		->scode,
	    200);
	assert_true(body_has(T.reqs[2].msg, "event=\"shortened\" expires=\"100\""));
	/* a refresh of the subscription in its dialog: 200 + NOTIFY */
	snprintf(hdrs, sizeof(hdrs), "%s", SUB_HDRS);
	{
		char buf[2048];
		struct sip_msg *m;
		int len =
		    snprintf(buf, sizeof(buf),
			     "SUBSCRIBE sip:alice@ims.test SIP/2.0\r\n"
			     "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKsub2\r\n"
			     "From: <sip:alice@ims.test>;tag=f1\r\n"
			     "To: <sip:alice@ims.test>;tag=%s\r\n"
			     "Call-ID: call-1@ue\r\nCSeq: 99999 SUBSCRIBE\r\n%s"
			     "Content-Length: 0\r\n\r\n",
			     to_tag, hdrs);

		uint16_t sc = 1;
		size_t before = T.nreplies;

		m = decode(buf, (size_t)len);
		mem_deref(T.cur);
		T.cur = m;
		/* in its dialog: the dialog layer hands it to the registrar */
		assert_int_equal(
		    sip_dialogs_request(registrar_dialogs(T.reg), NULL, m, &s, &sc), 0);
		assert_int_equal(sc, 0);
		assert_int_equal(T.nreplies, before + 1);
		assert_int_equal(T.replies[T.nreplies - 1].scode, 200);
		assert_true(body_has(T.reqs[T.nreqs - 1].msg, "version=\"3\""));
		/* the NOTIFY's CSeq goes on from the dialog's */
		assert_true(hdr_has(T.reqs[T.nreqs - 1].msg, SIP_HDR_CSEQ, "4 NOTIFY"));
		/* the same again with a lower CSeq: out of order (RFC 3261
		 * §12.2.2), the caller answers 500, the owner sees nothing */
		mem_deref(m);
		len = snprintf(buf, sizeof(buf),
			       "SUBSCRIBE sip:alice@ims.test SIP/2.0\r\n"
			       "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKsub3\r\n"
			       "From: <sip:alice@ims.test>;tag=f1\r\n"
			       "To: <sip:alice@ims.test>;tag=%s\r\n"
			       "Call-ID: call-1@ue\r\nCSeq: 99998 SUBSCRIBE\r\n%s"
			       "Content-Length: 0\r\n\r\n",
			       to_tag, hdrs);
		m = decode(buf, (size_t)len);
		assert_int_equal(
		    sip_dialogs_request(registrar_dialogs(T.reg), NULL, m, &s, &sc), 0);
		assert_int_equal(sc, 500);
		assert_int_equal(T.nreplies, before + 1);
		/* a To tag of no dialog reaches the method handler: 481 */
		mem_deref(m);
		len = snprintf(buf, sizeof(buf),
			       "SUBSCRIBE sip:alice@ims.test SIP/2.0\r\n"
			       "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKsub4\r\n"
			       "From: <sip:alice@ims.test>;tag=f1\r\n"
			       "To: <sip:alice@ims.test>;tag=nosuchtag\r\n"
			       "Call-ID: call-1@ue\r\nCSeq: 100000 SUBSCRIBE\r\n%s"
			       "Content-Length: 0\r\n\r\n",
			       hdrs);
		m = decode(buf, (size_t)len);
		assert_int_equal(
		    sip_dialogs_request(registrar_dialogs(T.reg), NULL, m, &s, &sc), ENOENT);
		T.cur = m;
		registrar_subscribe(T.reg, NULL, m, &s, sub_sender(T.reg, T.hss, m, &s));
		T.cur = NULL;
		mem_deref(m);
		assert_int_equal(T.replies[T.nreplies - 1].scode, 481);
	}
	/* de-registration (from the binding's address: not challenged, as
	 * auth_on_register_only says): one NOTIFY terminated, the subscription
	 * ends */
	assert_int_equal(do_register("sip:alice@ims.test",
				     "Contact: <sip:alice@127.0.0.1:5070>;expires=0\r\n")
			     ->scode,
			 200);
	n = T.reqs[T.nreqs - 1].msg;
	assert_true(
	    hdr_has(n, SIP_HDR_SUBSCRIPTION_STATE, "terminated;reason=noresource"));
	assert_true(body_has(n, "state=\"terminated\" event=\"unregistered\""));
	assert_true(body_has(n, "version=\"4\""));
	assert_int_equal(registrar_sub_count(T.reg), 0);
	assert_false(registrar_is_registered(T.reg, hss_user_at(T.hss, 0)));
}

static void test_binding_expiry_fake_clock(void **state)
{
	struct net_flow s = src_v4(5070, false);
	struct ue ue;

	(void)state;
	ue_milenage(&ue, "alice@ims.test");
	assert_int_equal(
	    alice_register(&ue, "Contact: <sip:alice@127.0.0.1:5070>;expires=20\r\n")
		->scode,
	    200);
	assert_int_equal(do_req("SUBSCRIBE", "sip:alice@ims.test", SUB_HDRS, &s)->scode,
			 200);
	T.now += 19000;
	registrar_expire_run(T.reg);
	assert_true(registrar_is_registered(T.reg, hss_user_at(T.hss, 0)));
	T.now += 1000;
	registrar_expire_run(T.reg);
	assert_false(registrar_is_registered(T.reg, hss_user_at(T.hss, 0)));
	assert_true(body_has(T.reqs[T.nreqs - 1].msg, "event=\"expired\""));
	assert_true(
	    hdr_has(T.reqs[T.nreqs - 1].msg, SIP_HDR_SUBSCRIPTION_STATE, "terminated"));
	assert_int_equal(registrar_sub_count(T.reg), 0);
}

/* What registrar_watch_add's watchers saw, in order. */
struct watch_seen {
	unsigned n;
	enum registrar_change change[16];
	char reason[16][16];
	char uri[16][64];
	uint32_t expires[16];
	const struct hss_user *user[16];
};

static void watch_h(const struct registrar_change_info *c, void *arg)
{
	struct watch_seen *w = arg;

	if (w->n == 16)
		return;
	w->change[w->n] = c->change;
	snprintf(w->reason[w->n], sizeof(w->reason[0]), "%s", c->reason);
	snprintf(w->uri[w->n], sizeof(w->uri[0]), "%.*s", (int)c->binding->uri.l,
		 c->binding->uri.p);
	w->expires[w->n] = c->binding->expires;
	w->user[w->n] = c->user;
	w->n++;
}

/* A watcher that takes itself out on the first change it sees. */
static void watch_once_h(const struct registrar_change_info *c, void *arg)
{
	struct watch_seen *w = arg;

	(void)c;
	w->n++;
	registrar_watch_del(T.reg, watch_once_h, arg);
}

static void test_watch(void **state)
{
	const struct hss_user *dave = hss_user_at(T.hss, 3);
	struct watch_seen w, once, w2;

	(void)state;
	memset(&w, 0, sizeof(w));
	memset(&once, 0, sizeof(once));
	memset(&w2, 0, sizeof(w2));
	assert_int_equal(registrar_watch_add(T.reg, NULL, &w), EINVAL);
	assert_int_equal(registrar_watch_add(T.reg, watch_once_h, &once), 0);
	assert_int_equal(registrar_watch_add(T.reg, watch_h, &w), 0);
	assert_int_equal(registrar_watch_add(T.reg, watch_h, &w), EALREADY);
	assert_int_equal(registrar_watch_add(T.reg, watch_h, &w2), 0);
	for (int i = 3; i < REGISTRAR_WATCH_MAX; i++)
		assert_int_equal(registrar_watch_add(T.reg, watch_h, &w2 + i), 0);
	assert_int_equal(registrar_watch_add(T.reg, watch_h, &once), ENOSPC);
	for (int i = 3; i < REGISTRAR_WATCH_MAX; i++)
		registrar_watch_del(T.reg, watch_h, &w2 + i);

	assert_int_equal(do_register("sip:dave@ims.test",
				     "Contact: <sip:dave@127.0.0.1:5073>;expires=600\r\n")
			     ->scode,
			 200);
	/* the first watcher went while being told; the next two still heard */
	assert_int_equal(once.n, 1);
	assert_int_equal(w.n, 1);
	assert_int_equal(w2.n, 1);
	assert_int_equal(w.change[0], REGISTRAR_BINDING_ADDED);
	assert_string_equal(w.reason[0], "registered");
	assert_string_equal(w.uri[0], "sip:dave@127.0.0.1:5073");
	assert_int_equal(w.expires[0], 600);
	assert_ptr_equal(w.user[0], dave);
	/* a shorter refresh, a second contact, a fetch (no change) */
	assert_int_equal(do_register("sip:dave@ims.test",
				     "Contact: <sip:dave@127.0.0.1:5073>;expires=300\r\n")
			     ->scode,
			 200);
	assert_int_equal(
	    do_register("sip:dave@ims.test", "Contact: <sip:dave@127.0.0.1:5074>\r\n")->scode,
	    200);
	assert_int_equal(do_register("sip:dave@ims.test", "")->scode, 200);
	assert_int_equal(w.n, 3);
	assert_int_equal(w.change[1], REGISTRAR_BINDING_REFRESHED);
	assert_string_equal(w.reason[1], "shortened");
	assert_int_equal(w.change[2], REGISTRAR_BINDING_ADDED);
	assert_string_equal(w.uri[2], "sip:dave@127.0.0.1:5074");
	/* one removed by expires=0, the other by expiry */
	assert_int_equal(do_register("sip:dave@ims.test",
				     "Contact: <sip:dave@127.0.0.1:5074>;expires=0\r\n")
			     ->scode,
			 200);
	assert_int_equal(w.n, 4);
	assert_int_equal(w.change[3], REGISTRAR_BINDING_REMOVED);
	assert_string_equal(w.reason[3], "unregistered");
	assert_string_equal(w.uri[3], "sip:dave@127.0.0.1:5074");
	assert_int_equal(w.expires[3], 0);
	registrar_watch_del(T.reg, watch_h, &w2);
	T.now += 301000;
	registrar_expire_run(T.reg);
	assert_false(registrar_is_registered(T.reg, dave));
	assert_int_equal(w.n, 5);
	assert_int_equal(w.change[4], REGISTRAR_BINDING_REMOVED);
	assert_string_equal(w.reason[4], "expired");
	assert_int_equal(w2.n, 4); /* out before the expiry */
	/* network de-registration */
	assert_int_equal(do_register("sip:dave@ims.test",
				     "Contact: <sip:dave@127.0.0.1:5073>\r\n")
			     ->scode,
			 200);
	assert_int_equal(registrar_unregister(T.reg, "sip:dave@ims.test",
					      REGISTRAR_DEACTIVATED),
			 0);
	assert_int_equal(w.n, 7);
	assert_int_equal(w.change[6], REGISTRAR_BINDING_REMOVED);
	assert_string_equal(w.reason[6], "deactivated");
	registrar_watch_del(T.reg, watch_h, &w);
}

static void stop_h(void *arg)
{
	(void)arg;
	loop_stop();
}

/* The real loop: a 1 s binding expires through the loop timer. */
static void test_binding_expiry_loop(void **state)
{
	struct loop_timer *t = loop_timer_alloc();
	struct sent *r;

	(void)state;
	T.fake_clock = false;
	r = do_register("sip:dave@ims.test",
			"Contact: <sip:dave@127.0.0.1:5073>;expires=1\r\n");
	assert_int_equal(r->scode, 200);
	assert_true(registrar_is_registered(T.reg, hss_user_at(T.hss, 3)));
	loop_timer_start(t, 1500, stop_h, NULL);
	assert_int_equal(loop_run(), 0);
	assert_false(registrar_is_registered(T.reg, hss_user_at(T.hss, 3)));
	loop_timer_free(t);
}

static void test_unregister_and_notify_481(void **state)
{
	struct net_flow s = src_v4(5070, false);
	struct ue ue;
	char buf[1024];
	struct sip_msg *resp;
	const struct sip_msg *n;
	int len;

	(void)state;
	ue_milenage(&ue, "alice@ims.test");
	assert_int_equal(alice_register(&ue, CONTACT_A)->scode, 200);
	assert_int_equal(do_req("SUBSCRIBE", "sip:alice@ims.test", SUB_HDRS, &s)->scode,
			 200);
	/* a 481 to the NOTIFY removes the subscription */
	n = T.reqs[T.nreqs - 1].msg;
	len = snprintf(
	    buf, sizeof(buf),
	    "SIP/2.0 481 Call/Transaction Does Not Exist\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKn\r\n"
	    "From: %.*s\r\nTo: %.*s\r\nCall-ID: call-1@ue\r\nCSeq: 1 NOTIFY\r\n"
	    "Content-Length: 0\r\n\r\n",
	    (int)sip_msg_hdr(n, SIP_HDR_FROM)->val.l, sip_msg_hdr(n, SIP_HDR_FROM)->val.p,
	    (int)sip_msg_hdr(n, SIP_HDR_TO)->val.l, sip_msg_hdr(n, SIP_HDR_TO)->val.p);
	resp = decode(buf, (size_t)len);
	registrar_notify_resp_h(NULL, resp, 481, T.reg);
	mem_deref(resp);
	assert_int_equal(registrar_sub_count(T.reg), 0);
	/* network de-registration */
	assert_int_equal(do_req("SUBSCRIBE", "sip:alice@ims.test", SUB_HDRS, &s)->scode,
			 200);
	assert_int_equal(
	    registrar_unregister(T.reg, "tel:+33100000001", REGISTRAR_DEACTIVATED), 0);
	n = T.reqs[T.nreqs - 1].msg;
	assert_true(body_has(n, "event=\"deactivated\""));
	assert_true(
	    hdr_has(n, SIP_HDR_SUBSCRIPTION_STATE, "terminated;reason=deactivated"));
	assert_false(registrar_is_registered(T.reg, hss_user_at(T.hss, 0)));
	assert_int_equal(
	    registrar_unregister(T.reg, "alice@ims.test", REGISTRAR_REJECTED), ENOENT);
	assert_int_equal(
	    registrar_unregister(T.reg, "sip:nobody@ims.test", REGISTRAR_REJECTED),
	    ENOENT);
}

/* NOTIFYs whose send fails at once (the stack tells their 503 from the
 * loop, after the request call), with two subscriptions: on a refresh (a
 * walk over the subscriptions) and on a de-registration (each freed after
 * its NOTIFY). The handler frees them then; nothing is used after free. */
static void test_notify_failing_at_once(void **state)
{
	struct net_flow s = src_v4(5070, false);
	struct ue ue;
	size_t before;

	(void)state;
	ue_milenage(&ue, "alice@ims.test");
	assert_int_equal(alice_register(&ue, CONTACT_A)->scode, 200);
	assert_int_equal(do_req("SUBSCRIBE", "sip:alice@ims.test", SUB_HDRS, &s)->scode,
			 200);
	assert_int_equal(do_req("SUBSCRIBE", "sip:alice@ims.test", SUB_HDRS, &s)->scode,
			 200);
	T.fail_notify = 503;
	T.nfail_from = T.nreqs;
	before = T.nreqs;
	assert_int_equal(alice_register(&ue, CONTACT_A)->scode, 200); /* refresh */
	assert_int_equal(T.nreqs, before + 2);
	assert_int_equal(registrar_sub_count(T.reg), 2);
	notify_failures_tell();
	assert_int_equal(registrar_sub_count(T.reg), 0);
	before = T.nreqs;
	assert_int_equal(alice_register(&ue, CONTACT_A)->scode, 200);
	assert_int_equal(T.nreqs, before); /* no NOTIFY to a removed one */
	assert_true(registrar_is_registered(T.reg, hss_user_at(T.hss, 0)));

	/* the final NOTIFYs of a de-registration fail: told after the subs
	 * are gone, the handler finds nothing */
	T.fail_notify = 0;
	assert_int_equal(do_req("SUBSCRIBE", "sip:alice@ims.test", SUB_HDRS, &s)->scode,
			 200);
	assert_int_equal(do_req("SUBSCRIBE", "sip:alice@ims.test", SUB_HDRS, &s)->scode,
			 200);
	T.fail_notify = 408;
	T.nfail_from = T.nreqs;
	before = T.nreqs;
	assert_int_equal(do_register("sip:alice@ims.test",
				     "Contact: <sip:alice@127.0.0.1:5070>;expires=0\r\n")
			     ->scode,
			 200);
	assert_int_equal(T.nreqs, before + 2);
	assert_int_equal(registrar_sub_count(T.reg), 0);
	notify_failures_tell();
	assert_false(registrar_is_registered(T.reg, hss_user_at(T.hss, 0)));
	T.fail_notify = 0;
}

static void test_users_output(void **state)
{
	struct monitor_prm mprm = {.reg = T.reg, .hss = T.hss};
	struct monitor *mon = NULL;
	struct registrar_user_cursor cur = {0};
	struct registrar_user_info ui;
	uint32_t n;
	struct mbuf mb;
	struct ue ue;
	const char *out;

	(void)state;
	ue_milenage(&ue, "alice@ims.test");
	assert_int_equal(
	    alice_register(&ue, "Contact: <sip:alice@127.0.0.1:5070>;+sip.instance="
				"\"<urn:gsma:imei:35000000-000001-0>\";reg-id=1\r\n")
		->scode,
	    200);
	/* the users as data, in ue_db order, from a cursor */
	assert_true(registrar_user_next(T.reg, &cur, &ui));
	assert_ptr_equal(ui.user, hss_user_at(T.hss, 0));
	assert_true(ui.registered);
	assert_int_equal(ui.algo, registrar_user_algo(T.reg, ui.user));
	assert_int_equal(ui.nsub, 0);
	assert_true(registrar_user_next(T.reg, &cur, &ui));
	assert_ptr_equal(ui.user, hss_user_at(T.hss, 1));
	assert_false(ui.registered);
	assert_int_equal(ui.algo, -1);
	for (n = 2; registrar_user_next(T.reg, &cur, &ui); n++)
		;
	assert_int_equal(n, hss_user_count(T.hss));
	/* what the registrar exposes, as the monitor shows it */
	assert_int_equal(monitor_alloc(&mon, &mprm), 0);
	mbuf_init(&mb, 0);
	assert_int_equal(monitor_exec(mon, "users", &mb), 0);
	out = mbuf_str(&mb);
	assert_non_null(
	    strstr(out, "alice@ims.test  imsi=001010000000001  registered  "
			"auth=AKAv1-MD5\n  impu: sip:alice@ims.test tel:+33100000001 "
			"sip:hidden@ims.test\n  contact c1: sip:alice@127.0.0.1:5070  "
			"udp 127.0.0.1:5070  expires=3600s  q=1.000  imei=35000000000001"
			"  reg-id=1\n"));
	assert_non_null(
	    strstr(out, "bob@ims.test  imsi=001010000000002  not registered\n"));
	assert_non_null(strstr(out, "7 user(s), 1 registered, 1 binding(s)\n"));
	mbuf_clear(&mb);
	assert_int_equal(monitor_exec(mon, "users sip:bob@ims.test", &mb), 0);
	assert_null(strstr(mbuf_str(&mb), "alice"));
	assert_int_equal(monitor_exec(mon, "users nobody@x", &mb), ENOENT);
	mbuf_clear(&mb);
	assert_int_equal(monitor_exec(mon, "users alice@ims.test", &mb), 0);
	assert_non_null(strstr(mbuf_str(&mb), "contact c1: sip:alice@127.0.0.1:5070"));
	monitor_free(mon);
	mbuf_reset(&mb);
}

/* Memory per registered user with one binding (a reported figure). */
static void test_memory_per_user(void **state)
{
	enum { N = 2000 };
	char *db, hdrs[256], to[64];
	size_t off = 0, cap = N * 160 + 256;
	struct net_flow s = src_v4(5070, false);
	size_t per, hss;

	(void)state;
	teardown(NULL);
	db = malloc(cap);
	assert_non_null(db);
	off += (size_t)snprintf(db + off, cap - off, "'domain': 'ims.test', 'ue_db': [");
	for (int i = 0; i < N; i++)
		off +=
		    (size_t)snprintf(db + off, cap - off,
				     "%s{'imsi': '0010100%08d', 'authent_type': 'none', "
				     "'impu': ['sip:u%d']}",
				     i ? "," : "", i, i);
	snprintf(db + off, cap - off, "]");
	memset(&T, 0, sizeof(T));
	reg_start(db, 0);
	free(db);
	for (int i = 0; i < N; i++) {
		snprintf(to, sizeof(to), "sip:u%d@ims.test", i);
		snprintf(hdrs, sizeof(hdrs),
			 "Contact: <sip:u%d@[2001:db8::%x]:5060>;+sip.instance="
			 "\"<urn:gsma:imei:35000000-%06d-0>\"\r\n",
			 i, i + 1, i);
		assert_int_equal(do_req("REGISTER", to, hdrs, &s)->scode, 200);
		sent_clear();
	}
	assert_int_equal(registrar_user_count(T.reg), N);
	per = registrar_mem_usage(T.reg) / N;
	hss = hss_mem_usage(T.hss) / N;
	print_message("registrar memory: %zu bytes per registered user with one binding "
		      "+ %zu bytes of HSS = %zu\n",
		      per, hss, per + hss);
	/* a figure, not a timing: but it must stay in the 512-byte budget */
	assert_true(per + hss <= 512);
}

/* The nonce MAC is SipHash-2-4 with the tag little-endian: the reference
 * vector of the SipHash paper (key 00..0f, message 00..0e ->
 * 0xa129ca6149be45e5), and one changed message byte changes the tag. */
static void test_nonce_mac(void **state)
{
	static const uint8_t want[8] = {0xe5, 0x45, 0xbe, 0x49, 0x61, 0xca, 0x29, 0xa1};
	uint8_t key[16], msg[15], mac[8], mac2[8];

	(void)state;
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	reg_nonce_mac(key, msg, sizeof(msg), mac);
	assert_memory_equal(mac, want, 8);
	msg[3] ^= 1;
	reg_nonce_mac(key, msg, sizeof(msg), mac2);
	assert_memory_not_equal(mac, mac2, 8);
}

/* ---- state file (ue_db_filename) ---- */

static struct store *store_tmp(char dir[64])
{
	char path[128], note[256], err[256];
	struct store *st = NULL;

	snprintf(dir, 64, "/tmp/imsd-regstore-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ims.state", dir);
	assert_int_equal(store_open(&st, path, note, sizeof(note), err, sizeof(err)), 0);
	assert_string_equal(note, "");
	return st;
}

static void store_tmp_remove(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* A new HSS and registrar on the same configuration, restored from st. */
static void reg_restart(struct store *st)
{
	struct registrar_prm prm = {.cfg = T.cfg, .ops = &ops, .host = "127.0.0.1:5060"};
	char err[256];

	T.reg = mem_deref(T.reg); /* writes what is marked */
	T.hss = mem_deref(T.hss);
	assert_int_equal(hss_alloc(&T.hss, T.cfg, T.err, sizeof(T.err)), 0);
	prm.hss = T.hss;
	assert_int_equal(registrar_alloc(&T.reg, &prm), 0);
	assert_int_equal(registrar_store_attach(T.reg, st, err, sizeof(err)), 0);
}

static void binding_get_h(const struct registrar_binding_info *b, void *arg)
{
	*(struct registrar_binding_info *)arg = *b;
}

static void test_state_file_round_trip(void **state)
{
	struct net_flow tcp = src_v4(5073, true), udp = src_v4(5070, false);
	struct registrar_binding_info bi;
	char addr[NET_ADDR_STRLEN];
	uint8_t ck[32], ik[32], ck2[32], ik2[32];
	size_t ckl, ikl, ckl2, ikl2;
	struct hss_user *alice, *dave;
	struct registrar_store_stats ss;
	uint64_t sqn;
	struct store *st;
	struct ue ue;
	char dir[64], sub_tag[64];
	uint32_t sub_cseq;

	(void)state;
	st = store_tmp(dir);
	assert_int_equal(registrar_store_attach(T.reg, st, T.err, sizeof(T.err)), 0);
	ue_milenage(&ue, "alice@ims.test");
	assert_int_equal(alice_register(&ue, CONTACT_A)->scode, 200);
	/* from alice's own flow: the subscriber is the user registered over it */
	{
		struct sent *r = do_req("SUBSCRIBE", "sip:alice@ims.test", SUB_HDRS, &udp);
		const struct sip_addr *to = sip_msg_to(r->msg);

		assert_int_equal(r->scode, 200);
		assert_true(to && to->tag.l > 0 && to->tag.l < sizeof(sub_tag));
		snprintf(sub_tag, sizeof(sub_tag), "%.*s", (int)to->tag.l, to->tag.p);
		sub_cseq = cseq_next - 1;
	}
	assert_int_equal(
	    do_req("REGISTER", "sip:dave@ims.test",
		   "Contact: <sip:dave@127.0.0.1:5073;transport=tcp>;q=0.5;"
		   "+sip.instance=\"<urn:gsma:imei:35000000-000009-0>\";reg-id=2\r\n",
		   &tcp)
		->scode,
	    200);
	alice = hss_user_by_impi(T.hss, PL("alice@ims.test"));
	sqn = hss_user_sqn_he(alice);
	assert_true(sqn > hss_user_cfg(alice)->isim.sqn);
	assert_int_equal(registrar_user_keys(T.reg, alice, ck, &ckl, ik, &ikl), 0);
	/* each 200 came once its commit was done (do_req flushed for it):
	 * alice's, the SUBSCRIBE's (its NOTIFY then marked alice again) and
	 * dave's with that */
	assert_true(registrar_store_stats(T.reg, &ss));
	assert_int_equal(ss.pending, 0);
	assert_int_equal(registrar_store_flush(T.reg), 0);
	assert_true(registrar_store_stats(T.reg, &ss));
	assert_true(ss.users_written >= 4 && ss.commits == 3 && !ss.failures &&
		    !ss.pending);

	reg_restart(st);
	alice = hss_user_by_impi(T.hss, PL("alice@ims.test"));
	dave = hss_user_by_impi(T.hss, PL("dave@ims.test"));
	assert_int_equal(hss_user_sqn_he(alice), sqn);
	assert_int_equal(registrar_binding_count(T.reg), 2);
	assert_int_equal(registrar_sub_count(T.reg), 1);
	assert_int_equal(registrar_user_algo(T.reg, alice), DIGEST_ALGO_AKAV1_MD5);
	assert_int_equal(registrar_user_keys(T.reg, alice, ck2, &ckl2, ik2, &ikl2), 0);
	assert_int_equal(ckl2, ckl);
	assert_memory_equal(ck2, ck, ckl);
	assert_memory_equal(ik2, ik, ikl);
	assert_int_equal(registrar_bindings_foreach(T.reg, dave, binding_get_h, &bi), 1);
	assert_true(pl_eq_str(bi.uri, "sip:dave@127.0.0.1:5073;transport=tcp"));
	assert_int_equal(bi.q1000, 500);
	assert_int_equal(bi.reg_id, 2);
	assert_string_equal(bi.imei, "35000000000009");
	assert_true(bi.flow.reliable && bi.flow.conn_id == 0); /* reconnects */
	assert_int_equal(net_addr_port(&bi.flow.peer), 5073);
	assert_string_equal(net_addr_print(&bi.flow.local, addr, sizeof(addr)),
			    "127.0.0.2:5062");
	assert_true(bi.expires > 3590 && bi.expires <= 3600);

	/* a re-registration goes on with the stored SQN, version and CSeq */
	sent_clear();
	assert_int_equal(alice_register(&ue, CONTACT_A)->scode, 200);
	assert_true(hss_user_sqn_he(alice) > sqn);
	assert_int_equal(T.nreqs, 1);
	assert_true(body_has(T.reqs[0].msg, "version=\"1\""));
	assert_true(hdr_has(T.reqs[0].msg, SIP_HDR_CSEQ, "2 NOTIFY"));
	/* over the subscription's restored flow, its local address kept */
	assert_string_equal(net_addr_print(&T.req_dst.local, addr, sizeof(addr)),
			    "127.0.0.2:5062");
	assert_int_equal(net_addr_port(&T.req_dst.peer), 5070); /* alice's own flow */
	assert_true(!T.req_dst.reliable && T.req_dst.conn_id == 0);
	/* the restored dialog takes in-dialog requests: its remote CSeq came
	 * back (lower: 500), a refresh gets 200 and a NOTIFY through its
	 * restored route set */
	{
		char buf[2048];
		struct sip_msg *m;
		uint16_t sc = 0;

		for (int k = 0; k < 2; k++) {
			int len = snprintf(
			    buf, sizeof(buf),
			    "SUBSCRIBE sip:alice@ims.test SIP/2.0\r\n"
			    "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKrs%d\r\n"
			    "From: <sip:alice@ims.test>;tag=f1\r\n"
			    "To: <sip:alice@ims.test>;tag=%s\r\n"
			    "Call-ID: call-1@ue\r\nCSeq: %u SUBSCRIBE\r\n%s"
			    "Content-Length: 0\r\n\r\n",
			    k, sub_tag, k ? sub_cseq + 100 : sub_cseq - 1, SUB_HDRS);

			/* kept as T.cur: its answer is built when its commit
			 * releases it */
			m = decode(buf, (size_t)len);
			mem_deref(T.cur);
			T.cur = m;
			assert_int_equal(sip_dialogs_request(registrar_dialogs(T.reg), NULL, m,
							     &udp, &sc),
					 0);
			assert_int_equal(sc, k ? 0 : 500);
		}
		/* the refresh's 200 waits for its commit, then its NOTIFY */
		assert_int_equal(registrar_store_flush(T.reg), 0);
		assert_int_equal(T.replies[T.nreplies - 1].scode, 200);
		assert_int_equal(T.nreqs, 2);
		assert_true(hdr_has(T.reqs[1].msg, SIP_HDR_CSEQ, "3 NOTIFY"));
		assert_true(hdr_has(T.reqs[1].msg, SIP_HDR_ROUTE, "<sip:p1.ims.test;lr>"));
	}

	/* everything expires: the rows go, SQN_HE stays */
	T.now += 3601 * 1000;
	registrar_expire_run(T.reg);
	assert_int_equal(registrar_binding_count(T.reg), 0);
	sqn = hss_user_sqn_he(alice);
	reg_restart(st);
	assert_int_equal(registrar_binding_count(T.reg), 0);
	assert_int_equal(registrar_sub_count(T.reg), 0);
	assert_int_equal(hss_user_sqn_he(hss_user_by_impi(T.hss, PL("alice@ims.test"))),
			 sqn);
	mem_deref(st);
	store_tmp_remove(dir);
}

/* What goes (a de-registered binding, an expired subscription) goes from
 * the file too, while refreshes replace their rows in place. */
static void test_state_file_removals(void **state)
{
	struct net_flow src = src_v4(5070, false);
	struct ue ue;
	struct store *st;
	char dir[64];

	(void)state;
	st = store_tmp(dir);
	assert_int_equal(registrar_store_attach(T.reg, st, T.err, sizeof(T.err)), 0);
	assert_int_equal(do_register("sip:dave@ims.test",
				     "Contact: <sip:dave@127.0.0.1:5073>, "
				     "<sip:dave@127.0.0.1:5074>\r\n")
			     ->scode,
			 200);
	ue_milenage(&ue, "alice@ims.test");
	assert_int_equal(alice_register(&ue, CONTACT_A)->scode, 200);
	assert_int_equal(do_req("SUBSCRIBE", "sip:alice@ims.test",
				"Event: reg\r\nExpires: 60\r\n"
				"Contact: <sip:alice@127.0.0.1:5070>\r\n",
				&src)
			     ->scode,
			 200);
	assert_int_equal(registrar_store_flush(T.reg), 0);
	reg_restart(st);
	assert_int_equal(registrar_binding_count(T.reg), 3);
	assert_int_equal(registrar_sub_count(T.reg), 1);
	/* a refresh of one, the removal of the other */
	assert_int_equal(do_register("sip:dave@ims.test",
				     "Contact: <sip:dave@127.0.0.1:5073>\r\n"
				     "Contact: <sip:dave@127.0.0.1:5074>;expires=0\r\n")
			     ->scode,
			 200);
	T.now += 61 * 1000; /* the subscription expires, alice stays */
	registrar_expire_run(T.reg);
	assert_int_equal(registrar_sub_count(T.reg), 0);
	reg_restart(st);
	assert_int_equal(registrar_binding_count(T.reg), 2);
	assert_int_equal(registrar_sub_count(T.reg), 0);
	assert_true(
	    registrar_is_registered(T.reg, hss_user_by_impi(T.hss, PL("dave@ims.test"))));
	/* refreshed again and again: still one row per binding */
	for (int i = 0; i < 3; i++)
		assert_int_equal(do_register("sip:dave@ims.test",
					     "Contact: <sip:dave@127.0.0.1:5073>\r\n")
				     ->scode,
				 200);
	reg_restart(st);
	assert_int_equal(registrar_binding_count(T.reg), 2);
	mem_deref(st);
	store_tmp_remove(dir);
}

/* In imsd the transactions run on a worker thread. Registrations come in
 * through the real loop; some registrars are freed while their last
 * transaction may still be running (they wait for it). */
static void reg_in_loop_h(void *arg)
{
	struct net_flow src = src_v4(5070, false);
	char hdrs[128];

	snprintf(hdrs, sizeof(hdrs), "Contact: <sip:dave@127.0.0.1:%u>\r\n",
		 5100 + (unsigned)(uintptr_t)arg);
	sent_clear();
	req_send("REGISTER", "sip:dave@ims.test", hdrs, &src);
	/* held until the worker has committed it (or the registrar is freed) */
	assert_int_equal(T.nreplies, 0);
}

/* The one answer of reg_in_loop_h's REGISTER came, a 200. */
static void reg_in_loop_answered(void)
{
	assert_int_equal(T.nreplies, 1);
	assert_int_equal(T.replies[0].scode, 200);
}

static void free_reg_h(void *arg)
{
	(void)arg;
	T.reg = mem_deref(T.reg);
	loop_stop();
}

static void test_state_file_worker(void **state)
{
	struct loop_timer *t1 = loop_timer_alloc(), *t2 = loop_timer_alloc();
	struct registrar_store_stats ss;
	struct store *st;
	char dir[64];
	int e = loop_work_start(1);

	(void)state;
	assert_true(e == 0 || e == EALREADY);
	T.fake_clock = false;
	st = store_tmp(dir);
	assert_int_equal(registrar_store_attach(T.reg, st, T.err, sizeof(T.err)), 0);
	loop_now_update(); /* timers from now, not from the last test's loop */
	loop_timer_start(t1, 0, reg_in_loop_h, (void *)0);
	loop_timer_start(t2, 100, stop_h, NULL);
	assert_int_equal(loop_run(), 0);
	reg_in_loop_answered();
	assert_true(registrar_store_stats(T.reg, &ss));
	assert_true(ss.commits >= 1 && ss.users_written >= 1 && !ss.pending &&
		    !ss.failures);
	for (uintptr_t i = 1; i <= 8; i++) {
		reg_restart(st); /* frees the registrar, a new one restores */
		assert_int_equal(registrar_binding_count(T.reg), i);
		loop_now_update();
		loop_timer_start(t1, 0, reg_in_loop_h, (void *)i);
		loop_timer_start(t2, i % 3, free_reg_h, NULL);
		assert_int_equal(loop_run(), 0);
		assert_null(T.reg);
		reg_in_loop_answered(); /* by the worker, or when freed */
		T.reg = NULL;
		assert_int_equal(
		    registrar_alloc(&T.reg,
				    &(struct registrar_prm){.cfg = T.cfg,
							    .hss = T.hss,
							    .ops = &ops,
							    .host = "127.0.0.1:5060"}),
		    0);
	}
	reg_restart(st);
	assert_int_equal(registrar_binding_count(T.reg), 9);
	loop_timer_free(t1);
	loop_timer_free(t2);
	mem_deref(st);
	store_tmp_remove(dir);
}

/* Answered means committed: with a state file a 200 leaves only once the
 * state it acknowledges is committed; a failed commit answers 500; an
 * answer whose transaction went meanwhile is dropped. */
static void test_state_file_held_answers(void **state)
{
	struct net_flow src = src_v4(5070, false);
	struct registrar_store_stats ss;
	const struct sip_hdr *h;
	struct store *st;
	char dir[64];

	(void)state;
	st = store_tmp(dir);
	assert_int_equal(registrar_store_attach(T.reg, st, T.err, sizeof(T.err)), 0);
	/* two registrations: no answer before their rows are committed */
	req_send("REGISTER", "sip:dave@ims.test",
		 "Contact: <sip:dave@127.0.0.1:5073>\r\n", &src);
	req_send("REGISTER", "sip:dave@ims.test",
		 "Contact: <sip:dave@127.0.0.1:5074>\r\n", &src);
	assert_int_equal(T.nreplies, 0);
	assert_true(registrar_store_stats(T.reg, &ss));
	assert_true(ss.pending == 1 && ss.commits == 0);
	/* one commit releases both, in order */
	assert_int_equal(registrar_store_flush(T.reg), 0);
	assert_true(registrar_store_stats(T.reg, &ss));
	assert_true(ss.commits == 1 && !ss.pending);
	assert_int_equal(T.nreplies, 2);
	assert_int_equal(T.replies[0].scode, 200);
	assert_int_equal(T.replies[1].scode, 200);
	assert_true(hdr_has(T.replies[1].msg, SIP_HDR_CONTACT, "5074"));
	assert_null(sip_msg_hdr(T.replies[0].msg, SIP_HDR_RETRY_AFTER));

	/* a reg SUBSCRIBE: its 200 after the commit, its NOTIFY after the 200 */
	sent_clear();
	req_send("SUBSCRIBE", "sip:dave@ims.test", SUB_HDRS, &src);
	assert_int_equal(T.nreplies + T.nreqs, 0);
	assert_int_equal(registrar_store_flush(T.reg), 0);
	assert_int_equal(T.nreplies, 1);
	assert_int_equal(T.replies[0].scode, 200);
	assert_int_equal(T.nreqs, 1);
	assert_true(T.reqs[0].order > T.replies[0].order);
	assert_true(body_has(T.reqs[0].msg, "state=\"active\""));

	/* the commit fails (disk full): 500 with Retry-After, not 200; the
	 * binding stays in memory and the next commit writes it */
	sent_clear();
	assert_int_equal(store_exec(st,
				    "CREATE TEMP TRIGGER full BEFORE INSERT ON "
				    "reg_binding BEGIN SELECT RAISE(ABORT, 'full'); END"),
			 0);
	req_send("REGISTER", "sip:dave@ims.test",
		 "Contact: <sip:dave@127.0.0.1:5075>\r\n", &src);
	assert_int_equal(T.nreplies, 0);
	assert_int_not_equal(registrar_store_flush(T.reg), 0);
	assert_int_equal(T.nreplies, 1);
	assert_int_equal(T.replies[0].scode, 500);
	h = sip_msg_hdr(T.replies[0].msg, SIP_HDR_RETRY_AFTER);
	assert_non_null(h);
	assert_true(pl_eq_str(h->val, "1"));
	assert_true(registrar_store_stats(T.reg, &ss));
	assert_true(ss.failures == 1 && ss.pending == 1);
	assert_int_equal(registrar_binding_count(T.reg), 3);
	assert_int_equal(store_exec(st, "DROP TRIGGER full"), 0);
	assert_int_equal(registrar_store_flush(T.reg), 0);
	assert_int_equal(T.nreplies, 1); /* the retry has no answer to give */
	reg_restart(st);
	assert_int_equal(registrar_binding_count(T.reg), 3);
	assert_int_equal(registrar_sub_count(T.reg), 1);

	/* the transaction went before the commit: nothing sent, nothing
	 * lost, the change written all the same */
	sent_clear();
	T.tsx_gone = true;
	req_send("REGISTER", "sip:dave@ims.test",
		 "Contact: <sip:dave@127.0.0.1:5075>;expires=0\r\n", &src);
	assert_int_equal(registrar_store_flush(T.reg), 0);
	assert_int_equal(T.nreplies, 0);
	T.tsx_gone = false;
	reg_restart(st);
	assert_int_equal(registrar_binding_count(T.reg), 2);

	/* held when the registrar is freed: written, then answered */
	sent_clear();
	req_send("REGISTER", "sip:dave@ims.test",
		 "Contact: <sip:dave@127.0.0.1:5076>\r\n", &src);
	assert_int_equal(T.nreplies, 0);
	T.reg = mem_deref(T.reg);
	assert_int_equal(T.nreplies, 1);
	assert_int_equal(T.replies[0].scode, 200);
	reg_restart(st);
	assert_int_equal(registrar_binding_count(T.reg), 3);
	mem_deref(st);
	store_tmp_remove(dir);
}


/* ---- security agreement (registrar_ipsec.c, TS 33.203 §7) ---- */

#define SEC_CLIENT                                                                       \
	"Security-Client: ipsec-3gpp;alg=hmac-sha-1-96;ealg=aes-cbc;spi-c=1111;"        \
	"spi-s=2222;port-c=6001;port-s=6002\r\nRequire: sec-agree\r\n"                    \
	"Proxy-Require: sec-agree\r\nSupported: path, sec-agree\r\n"

static struct sec_list sec_server_of(const struct sent *r, char *keep, size_t size)
{
	const struct sip_hdr *h = sip_msg_hdr(r->msg, SIP_HDR_SECURITY_SERVER);
	struct sec_list l = {.n = 0};

	assert_non_null(h);
	assert_true(h->val.l < size);
	memcpy(keep, h->val.p, h->val.l);
	keep[h->val.l] = '\0';
	assert_int_equal(sec_agree_parse(pl_from_str(keep), &l), 0);
	assert_int_equal(l.n, 1);
	return l;
}

static void flow_keep_h(const struct registrar_binding_info *b, void *arg)
{
	struct net_flow *f = arg;

	f[0] = b->flow;
	f[1] = b->src;
}

static void test_ipsec_sec_agree(void **state)
{
	struct ipsec_table *t = NULL;
	struct net_flow plain = src_v4(5070, false), prot;
	char hdrs[4096], auth[2048], v1[256], v2[256];
	struct sec_list s1, s2;
	struct ipsec_table_stats ts;
	struct sip_auth a;
	struct sent *r;
	struct ue ue;

	(void)state;
	assert_int_equal(ipsec_table_alloc(&t, 0), 0);
	assert_int_equal(registrar_ipsec_set(T.reg, t), 0);
	ue_milenage(&ue, "alice@ims.test");
	snprintf(hdrs, sizeof(hdrs),
		 "Authorization: Digest username=\"alice@ims.test\", realm=\"ims.test\", "
		 "nonce=\"\", uri=\"sip:ims.test\", response=\"\"\r\n" SEC_CLIENT CONTACT_A);
	/* nothing acceptable offered while sec-agree is required: 494 */
	{
		char bad[4096];

		snprintf(bad, sizeof(bad), "%s",
			 "Security-Client: ipsec-3gpp;alg=hmac-sha-2-256;spi-c=1;spi-s=2;"
			 "port-c=3;port-s=4\r\nRequire: sec-agree\r\n" CONTACT_A);
		r = do_req("REGISTER", "sip:alice@ims.test", bad, &plain);
		assert_int_equal(r->scode, 494);
		/* RFC 3329 §2.3.1: with Security-Server listing what we take */
		{
			const struct sip_hdr *h = sip_msg_hdr(r->msg, SIP_HDR_SECURITY_SERVER);
			struct sec_list l = {.n = 0};
			char v[1536];

			assert_non_null(h);
			assert_true(h->val.l < sizeof(v));
			memcpy(v, h->val.p, h->val.l);
			v[h->val.l] = '\0';
			assert_int_equal(sec_agree_parse(pl_from_str(v), &l), 0);
			assert_true(l.n >= 1 && l.v[0].ipsec && l.v[0].alg_known);
		}
		/* the tag in a list, in Proxy-Require only */
		snprintf(bad, sizeof(bad), "%s",
			 "Proxy-Require: path ,\tsec-agree \r\n" CONTACT_A);
		r = do_req("REGISTER", "sip:alice@ims.test", bad, &plain);
		assert_int_equal(r->scode, 494);
		/* offers nothing and requires nothing: challenged, no IPsec */
		snprintf(bad, sizeof(bad), "%s", "Proxy-Require: path\r\n" CONTACT_A);
		r = do_req("REGISTER", "sip:alice@ims.test", bad, &plain);
		assert_int_equal(r->scode, 401);
		assert_null(sip_msg_hdr(r->msg, SIP_HDR_SECURITY_SERVER));
		T.now += REG_CHAL_REUSE_MS; /* the next challenge a fresh one */
	}
	r = do_req("REGISTER", "sip:alice@ims.test", hdrs, &plain);
	assert_int_equal(r->scode, 401);
	s1 = sec_server_of(r, v1, sizeof(v1));
	assert_true(s1.v[0].ipsec && s1.v[0].aalg == ESP_AALG_HMAC_SHA1_96 &&
		    s1.v[0].ealg == ESP_EALG_AES_CBC);
	assert_int_equal(s1.v[0].port_s, IPSEC_PORT_S);
	assert_int_equal(s1.v[0].port_c, IPSEC_PORT_C);
	/* a retransmission gets the same Security-Server, and no new set */
	cseq_next--;
	r = do_req("REGISTER", "sip:alice@ims.test", hdrs, &plain);
	s2 = sec_server_of(r, v2, sizeof(v2));
	assert_int_equal(sec_agree_verify(&s2, &s1), 0);
	ipsec_table_stats(t, &ts);
	assert_int_equal(ts.sets, 1);
	a = chal_get(r);

	/* the second REGISTER in clear: 403 */
	snprintf(hdrs, sizeof(hdrs), "Security-Verify: %s\r\n" SEC_CLIENT CONTACT_A, v1);
	assert_int_equal(ue_answer(&ue, &a, auth, sizeof(auth), hdrs), 0);
	r = do_req("REGISTER", "sip:alice@ims.test", auth, &plain);
	assert_int_equal(r->scode, 403);
	/* over the SAs (UE port-c -> our port-s) with a Security-Verify that
	 * differs: 403 */
	prot = plain;
	net_addr_set_port(&prot.peer, 6001);
	net_addr_set_port(&prot.local, IPSEC_PORT_S);
	snprintf(hdrs, sizeof(hdrs),
		 "Security-Verify: ipsec-3gpp;q=0.1;alg=hmac-sha-1-96;spi-c=1;spi-s=2;"
		 "port-c=1;port-s=2\r\n" SEC_CLIENT CONTACT_A);
	assert_int_equal(ue_answer(&ue, &a, auth, sizeof(auth), hdrs), 0);
	r = do_req("REGISTER", "sip:alice@ims.test", auth, &prot);
	assert_int_equal(r->scode, 403);
	assert_false(registrar_user_protected(T.reg, hss_user_at(T.hss, 0)));
	/* the right Security-Verify, but a Security-Client that is not the
	 * first one's (TS 33.203 §7.2: another alg here; then none): 403 */
	snprintf(hdrs, sizeof(hdrs),
		 "Security-Verify: %s\r\nSecurity-Client: ipsec-3gpp;alg=hmac-md5-96;"
		 "ealg=aes-cbc;spi-c=1111;spi-s=2222;port-c=6001;port-s=6002\r\n"
		 "Require: sec-agree\r\nProxy-Require: sec-agree\r\n" CONTACT_A,
		 v1);
	assert_int_equal(ue_answer(&ue, &a, auth, sizeof(auth), hdrs), 0);
	r = do_req("REGISTER", "sip:alice@ims.test", auth, &prot);
	assert_int_equal(r->scode, 403);
	assert_true(pl_eq_str(r->msg->reason, "Forbidden - Security-Client differs"));
	snprintf(hdrs, sizeof(hdrs), "Security-Verify: %s\r\n" CONTACT_A, v1);
	assert_int_equal(ue_answer(&ue, &a, auth, sizeof(auth), hdrs), 0);
	r = do_req("REGISTER", "sip:alice@ims.test", auth, &prot);
	assert_int_equal(r->scode, 403);
	assert_false(registrar_user_protected(T.reg, hss_user_at(T.hss, 0)));
	/* the same list written otherwise (case, spacing) is the same list */
	snprintf(hdrs, sizeof(hdrs),
		 "Security-Verify: %s\r\nSecurity-Client: IPSEC-3GPP; alg=HMAC-SHA-1-96; "
		 "ealg=aes-cbc ;spi-c=1111;spi-s=2222;port-c=6001;port-s=6002\r\n"
		 "Require: sec-agree\r\nProxy-Require: sec-agree\r\n" CONTACT_A,
		 v1);
	assert_int_equal(ue_answer(&ue, &a, auth, sizeof(auth), hdrs), 0);
	r = do_req("REGISTER", "sip:alice@ims.test", auth, &prot);
	assert_int_equal(r->scode, 200);
	/* over the SAs with the right Security-Verify: 200, the set active */
	snprintf(hdrs, sizeof(hdrs), "Security-Verify: %s\r\n" SEC_CLIENT CONTACT_A, v1);
	assert_int_equal(ue_answer(&ue, &a, auth, sizeof(auth), hdrs), 0);
	r = do_req("REGISTER", "sip:alice@ims.test", auth, &prot);
	assert_int_equal(r->scode, 200);
	assert_true(registrar_user_protected(T.reg, hss_user_at(T.hss, 0)));
	/* requests to the UE go from our port-c to its port-s (TS 33.203 §7.1) */
	{
		struct net_flow fl[2], to;
		bool proven = false;

		assert_int_equal(
		    registrar_bindings_foreach(T.reg, hss_user_at(T.hss, 0), flow_keep_h, fl),
		    1);
		to = fl[0];
		assert_int_equal(net_addr_port(&to.peer), 6002);
		assert_int_equal(net_addr_port(&to.local), IPSEC_PORT_C);
		/* where its requests arrive: its port-c to our port-s */
		assert_int_equal(net_addr_port(&fl[1].peer), 6001);
		assert_int_equal(net_addr_port(&fl[1].local), IPSEC_PORT_S);
		/* port-s is a proven destination (sip/sip_peer.h): the SA's
		 * REGISTER came from the challenged IP under the challenge's IK */
		for (size_t i = 0; i < T.nproven; i++)
			proven |= net_addr_port(&T.proven[i].peer) == 6002 &&
				  net_addr_eq_ip(&T.proven[i].peer, &prot.peer);
		assert_true(proven);
		/* the CSCF stage still knows the UE by the flow it sends on */
		assert_true(registrar_user_on_flow(T.reg, hss_user_at(T.hss, 0), &prot));
		assert_false(registrar_user_on_flow(T.reg, hss_user_at(T.hss, 0), &plain));
	}
	/* re-authentication again and again on the same ports (TS 33.203
	 * §7.4): the user holds at most a pending, an active and a retiring
	 * set (the retirement timer does not run here) */
	for (int i = 0; i < 4; i++) {
		T.now += REG_CHAL_REUSE_MS;
		snprintf(hdrs, sizeof(hdrs),
			 "Authorization: Digest username=\"alice@ims.test\", realm=\"ims.test\", "
			 "nonce=\"\", uri=\"sip:ims.test\", response=\"\"\r\n" SEC_CLIENT CONTACT_A);
		r = do_req("REGISTER", "sip:alice@ims.test", hdrs, &plain);
		assert_int_equal(r->scode, 401);
		s2 = sec_server_of(r, v2, sizeof(v2));
		a = chal_get(r);
		snprintf(hdrs, sizeof(hdrs), "Security-Verify: %s\r\n" SEC_CLIENT CONTACT_A, v2);
		assert_int_equal(ue_answer(&ue, &a, auth, sizeof(auth), hdrs), 0);
		r = do_req("REGISTER", "sip:alice@ims.test", auth, &prot);
		assert_int_equal(r->scode, 200);
		ipsec_table_stats(t, &ts);
		assert_true(ts.sets >= 2 && ts.sets <= 3);
	}
	/* a refresh over the SAs passes; the same answer in clear is taken as
	 * a new initial registration: challenged */
	assert_int_equal(ue_answer(&ue, &a, auth, sizeof(auth), CONTACT_A), 0);
	r = do_req("REGISTER", "sip:alice@ims.test", auth, &prot);
	assert_int_equal(r->scode, 200);
	assert_int_equal(ue_answer(&ue, &a, auth, sizeof(auth), CONTACT_A), 0);
	r = do_req("REGISTER", "sip:alice@ims.test", auth, &plain);
	assert_int_equal(r->scode, 401);
	assert_null(sip_msg_hdr(r->msg, SIP_HDR_SECURITY_SERVER)); /* none offered */
	/* the answer to that fresh challenge registers (without IPsec) */
	a = chal_get(r);
	assert_int_equal(ue_answer(&ue, &a, auth, sizeof(auth), CONTACT_A), 0);
	r = do_req("REGISTER", "sip:alice@ims.test", auth, &plain);
	assert_int_equal(r->scode, 200);
	/* the registration ends: its set retires (deleted at teardown at the
	 * latest, with the registrar) */
	T.reg = mem_deref(T.reg);
	ipsec_table_stats(t, &ts);
	assert_int_equal(ts.sets, 0);
	ipsec_table_free(t);
	aka_cred_wipe(&ue.cred);
}

/* ipsec true where it cannot run (docs/ipsec.md): a phone offering
 * sec-agree, even requiring it, is challenged without Security-Server (no
 * 494) and registers; the same when IPsec runs but the REGISTER reached an
 * address without SAs. */
static void test_ipsec_cannot_run(void **state)
{
	struct ipsec_table *t = NULL;
	struct net_flow plain = src_v4(5070, false);
	struct ipsec_table_stats ts;
	struct net_addr elsewhere;
	char hdrs[4096];
	struct sent *r;

	(void)state;
	snprintf(hdrs, sizeof(hdrs),
		 "Authorization: Digest username=\"alice@ims.test\", realm=\"ims.test\", "
		 "nonce=\"\", uri=\"sip:ims.test\", response=\"\"\r\n" SEC_CLIENT CONTACT_A);
	assert_int_equal(registrar_ipsec_off(T.reg, "the IPsec datapath cannot start (test)"), 0);
	assert_int_equal(registrar_ipsec_off(T.reg, "twice"), EINVAL);
	r = do_req("REGISTER", "sip:alice@ims.test", hdrs, &plain);
	assert_int_equal(r->scode, 401);
	assert_null(sip_msg_hdr(r->msg, SIP_HDR_SECURITY_SERVER));
	assert_false(registrar_user_protected(T.reg, hss_user_at(T.hss, 0)));

	/* IPsec runs, for 10.9.0.1 only; the REGISTER reached 127.0.0.2 */
	T.reg = mem_deref(T.reg);
	assert_int_equal(registrar_alloc(&T.reg, &(struct registrar_prm){.cfg = T.cfg,
									.hss = T.hss,
									.ops = &ops,
									.host = "127.0.0.1:5060"}),
			 0);
	assert_int_equal(ipsec_table_alloc(&t, 0), 0);
	assert_int_equal(net_addr_parse_str(&elsewhere, "10.9.0.1", 0), 0);
	assert_int_equal(ipsec_table_locals_set(t, &elsewhere, 1), 0);
	assert_int_equal(registrar_ipsec_set(T.reg, t), 0);
	T.now += REG_CHAL_REUSE_MS;
	r = do_req("REGISTER", "sip:alice@ims.test", hdrs, &plain);
	assert_int_equal(r->scode, 401);
	assert_null(sip_msg_hdr(r->msg, SIP_HDR_SECURITY_SERVER));
	ipsec_table_stats(t, &ts);
	assert_int_equal(ts.sets, 0);
	T.reg = mem_deref(T.reg);
	ipsec_table_free(t);
}

/* More offers than SEC_AGREE_OFFER_MAX (docs/ipsec.md "Odd Security-Client
 * headers"): the first ones count, the rest is not read; a good first
 * offer gets its SA set, a good one only past the bound a 494. */
static void test_ipsec_many_offers(void **state)
{
	struct ipsec_table *t = NULL;
	struct net_flow plain = src_v4(5070, false);
	char hdrs[8192], v[256];
	size_t n;
	struct sent *r;

	(void)state;
	assert_int_equal(ipsec_table_alloc(&t, 0), 0);
	assert_int_equal(registrar_ipsec_set(T.reg, t), 0);
	for (int good_first = 1; good_first >= 0; good_first--) {
		n = (size_t)snprintf(hdrs, sizeof(hdrs),
				     "Authorization: Digest username=\"alice@ims.test\", "
				     "realm=\"ims.test\", nonce=\"\", uri=\"sip:ims.test\", "
				     "response=\"\"\r\nRequire: sec-agree\r\n" CONTACT_A
				     "Security-Client: %s",
				     good_first ? "ipsec-3gpp;alg=hmac-sha-1-96;spi-c=1;spi-s=2;"
						  "port-c=3;port-s=4, "
						: "");
		for (int k = 0; k < SEC_AGREE_OFFER_MAX + 4; k++)
			n += (size_t)snprintf(hdrs + n, sizeof(hdrs) - n, "tls;q=0.%d, ", k % 10);
		snprintf(hdrs + n, sizeof(hdrs) - n,
			 "ipsec-3gpp;alg=hmac-md5-96;spi-c=5;spi-s=6;port-c=7;port-s=8\r\n");
		T.now += REG_CHAL_REUSE_MS;
		r = do_req("REGISTER", "sip:alice@ims.test", hdrs, &plain);
		if (good_first) {
			struct sec_list l = sec_server_of(r, v, sizeof(v));

			assert_int_equal(r->scode, 401);
			assert_int_equal(l.v[0].aalg, ESP_AALG_HMAC_SHA1_96);
		} else {
			assert_int_equal(r->scode, 494);
		}
	}
	T.reg = mem_deref(T.reg);
	ipsec_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nonce_mac),
	    cmocka_unit_test_setup_teardown(test_aka_v1_flow, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ipsec_sec_agree, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ipsec_cannot_run, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ipsec_many_offers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_challenge_retransmission, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_aka_v1_flow, setup_no_slots, teardown),
	    cmocka_unit_test_setup_teardown(test_path_only_if_supported, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_aka_v2_and_weak_offer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_guessing_locks_user, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_challenge_flood, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_guessing_locks_source, setup_many_fails,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_md5_flow_and_wrong_password,
					    setup_no_slots, teardown),
	    cmocka_unit_test_setup_teardown(test_md5_flow_and_wrong_password, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_md5_realm_required, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_aka_wrong_res, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_nonce, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dereg_auth_on_register_only, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_dereg_auth_all, setup_auth_all,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_user_domain_realm, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_aka_network_auth_failure, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_md5_old_nonce_and_directives, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_nc_replay, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resync, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_auth_and_expires_rules, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_min_expires, setup_min60, teardown),
	    cmocka_unit_test_setup_teardown(test_sec_agree_tolerated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_multi_sim_imei, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_multi_sim_without_instance, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_reg_event, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_watch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ok_contacts_short, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_peer_proof, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_binding_expiry_fake_clock, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_binding_expiry_loop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unregister_and_notify_481, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_notify_failing_at_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_users_output, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_memory_per_user, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_state_file_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_state_file_removals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_state_file_worker, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_state_file_held_answers, setup,
					    teardown),
	};
	int rc;

	if (loop_init())
		return 1;
	rc = cmocka_run_group_tests_name("registrar", tests, NULL, NULL);
	loop_close();
	return rc;
}
