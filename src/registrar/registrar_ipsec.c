/*
 * registrar_ipsec — security agreement on REGISTER (RFC 3329, TS 33.203 §7,
 * TS 24.229 §5.2.2), when the IPsec datapath runs (registrar_ipsec_set).
 *
 *   first REGISTER   Security-Client -> sec_agree_choose(); with the AKA
 *                    challenge a PENDING SA set made from its CK/IK, its id
 *                    kept in the challenge (a retransmission gets the same
 *                    Security-Server); Require: sec-agree without an
 *                    acceptable offer -> 494 (reg_ipsec_precheck)
 *   401              + Security-Server (reg_ipsec_server_hdr)
 *   second REGISTER  accepted only from the UE's port-c to our port-s of the
 *                    pending set, with a Security-Verify equal to what the
 *                    401 said, else 403; then the set is ACTIVE, the user's
 *                    older set retires (TS 33.203 §7.4)
 *   later REGISTERs  a user with an active set: an unprotected refresh
 *                    (a spent nonce reused) is treated as a new initial
 *                    registration: challenged; the answer to that challenge
 *                    registers
 *   end              the user's last binding gone -> its set retires
 *
 * A retired set lives REG_IPSEC_RETIRE_MS more (the 200 of a de-REGISTER and
 * answers to transactions still open go out over it), then is deleted.
 * Sets are owned through ids: c->ipsec_set (pending, deleted with the
 * challenge), ru->ipsec_set (active).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/hash.h"
#include "core/log.h"
#include "ipsec/ipsec.h" /* IPSEC_PORT_S, IPSEC_PORT_C */
#include "ipsec/ipsec_sa.h"
#include "ipsec/sec_agree.h"
#include "loop/loop.h"
#include "registrar/registrar_int.h"

#define REG_IPSEC_RETIRE_MS 5000
#define REG_IPSEC_RETIRE_MAX 256 /* queued; past this the oldest goes at once */
#define REG_IPSEC_OFF_LOG_MS 10000 /* "answered without IPsec": one line per */

struct reg_ipsec {
	struct ipsec_table *t; /* NULL: IPsec is off, off_why says why */
	char off_why[160];
	uint64_t off_log_ms; /* when off_log last wrote, 0 never */
	uint32_t off_quiet;  /* REGISTERs off_log left out since */
	struct loop_timer *tm;
	struct {
		uint64_t id, due;
	} q[REG_IPSEC_RETIRE_MAX];
	size_t head, n;
	/* The Security-Client of the REGISTER being challenged, parsed once:
	 * reg_ipsec_precheck forgets the last one and reg_ipsec_chal_made, in
	 * the same reg_challenge call (registrar_auth.c), reads it again from
	 * here (same in, same req) and forgets it. */
	struct {
		const struct reg_auth_in *in; /* NULL: nothing parsed */
		const struct sip_msg *req;
		int err;
		const struct sec_offer *o; /* in l */
		struct sec_list l;
	} oc;
};

static struct ipsec_table *reg_ipsec_table(const struct registrar *reg)
{
	return reg->ipsec ? reg->ipsec->t : NULL;
}

static void retire_run(void *arg);

static void retire_arm(struct reg_ipsec *ri)
{
	uint64_t now = loop_now_ms(), due;

	if (!ri->n)
		return;
	due = ri->q[ri->head].due;
	loop_timer_start(ri->tm, due > now ? due - now : 0, retire_run, ri);
}

static void retire_pop(struct reg_ipsec *ri)
{
	(void)ipsec_set_del(ri->t, ri->q[ri->head].id);
	ri->head = (ri->head + 1) % REG_IPSEC_RETIRE_MAX;
	ri->n--;
}

static void retire_run(void *arg)
{
	struct reg_ipsec *ri = arg;
	uint64_t now = loop_now_ms();

	while (ri->n && ri->q[ri->head].due <= now)
		retire_pop(ri);
	retire_arm(ri);
}

/* The set is deleted REG_IPSEC_RETIRE_MS from now. */
static void reg_ipsec_retire(struct registrar *reg, uint64_t id)
{
	struct reg_ipsec *ri = reg->ipsec;

	if (!ri || !id)
		return;
	if (ri->n == REG_IPSEC_RETIRE_MAX)
		retire_pop(ri);
	ri->q[(ri->head + ri->n) % REG_IPSEC_RETIRE_MAX].id = id;
	ri->q[(ri->head + ri->n) % REG_IPSEC_RETIRE_MAX].due = loop_now_ms() + REG_IPSEC_RETIRE_MS;
	ri->n++;
	if (!loop_timer_pending(ri->tm))
		retire_arm(ri);
}

int registrar_ipsec_set(struct registrar *reg, struct ipsec_table *t)
{
	struct reg_ipsec *ri;

	if (!reg || reg->ipsec)
		return EINVAL;
	if (!t)
		return 0;
	ri = calloc(1, sizeof(*ri));
	if (!ri)
		return ENOMEM;
	ri->tm = loop_timer_alloc();
	if (!ri->tm) {
		free(ri);
		return ENOMEM;
	}
	ri->t = t;
	reg->ipsec = ri;
	return 0;
}

int registrar_ipsec_off(struct registrar *reg, const char *why)
{
	struct reg_ipsec *ri;

	if (!reg || reg->ipsec || !why)
		return EINVAL;
	ri = calloc(1, sizeof(*ri));
	if (!ri)
		return ENOMEM;
	snprintf(ri->off_why, sizeof(ri->off_why), "%s", why);
	reg->ipsec = ri;
	return 0;
}

/* Whether a REGISTER that came over src can get SAs; else *why says why
 * (NULL: IPsec is off and nobody said why, e.g. ipsec: false). */
static bool reg_ipsec_can(const struct registrar *reg, const struct net_flow *src,
			  const char **why)
{
	struct ipsec_table *t = reg_ipsec_table(reg);

	*why = reg->ipsec && !t ? reg->ipsec->off_why : NULL;
	if (!t)
		return false;
	if (src && ipsec_table_local(t, &src->local))
		return true;
	*why = "it reached an address without SAs (a loopback or wildcard sip_addr: only a "
	       "sip_addr naming another IP carries them, docs/ipsec.md)";
	return false;
}

void reg_ipsec_free(struct registrar *reg)
{
	struct reg_ipsec *ri = reg->ipsec;

	if (!ri)
		return;
	while (ri->n)
		retire_pop(ri);
	if (ri->tm)
		loop_timer_free(ri->tm);
	free(ri);
	reg->ipsec = NULL;
}

/* Whether the comma-separated list v names option tag sec-agree. */
static bool tag_listed(struct pl v)
{
	while (v.l) {
		size_t i = 0;
		struct pl tok;

		while (i < v.l && v.p[i] != ',')
			i++;
		tok = (struct pl){v.p, i};
		while (tok.l && (tok.p[0] == ' ' || tok.p[0] == '\t')) {
			tok.p++;
			tok.l--;
		}
		while (tok.l && (tok.p[tok.l - 1] == ' ' || tok.p[tok.l - 1] == '\t'))
			tok.l--;
		if (pl_caseeq_str(tok, "sec-agree"))
			return true;
		i += i < v.l; /* the comma */
		v.p += i;
		v.l -= i;
	}
	return false;
}

/* Whether option tag sec-agree is in Require or Proxy-Require. */
static bool sec_agree_required(const struct sip_msg *req)
{
	static const enum sip_hdr_id ids[] = {SIP_HDR_REQUIRE, SIP_HDR_PROXY_REQUIRE};

	for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
		for (const struct sip_hdr *h = sip_msg_hdr(req, ids[k]); h;
		     h = sip_msg_hdr_next(req, h)) {
			if (tag_listed(h->val))
				return true;
		}
	}
	return false;
}

/* The offers of every line of header id; EBADMSG/EOVERFLOW as parsed. */
static int sec_list_read(const struct sip_msg *req, enum sip_hdr_id id, struct sec_list *l)
{
	int err = 0;

	l->n = 0;
	for (const struct sip_hdr *h = sip_msg_hdr(req, id); h && !err;
	     h = sip_msg_hdr_next(req, h))
		err = sec_agree_parse(h->val, l);
	return err;
}

/* A keyed digest (core/hash.h: the process's random key) of a parsed
 * Security-Client, offer by offer in order: every field the choice and the
 * SAs rest on, the names as written for what imsd does not know. Equal
 * lists give equal digests; a forger cannot make a different list match
 * without the key. */
static uint64_t sec_list_digest(const struct sec_list *l)
{
	struct hash_acc a;

	hash_acc_init(&a);
	hash_acc_word(&a, l->n);
	for (size_t i = 0; i < l->n; i++) {
		const struct sec_offer *o = &l->v[i];

		hash_acc_word(&a, (uint64_t)o->ipsec | (uint64_t)o->bad << 1 |
				      (uint64_t)o->alg_known << 2 | (uint64_t)o->ealg_known << 3 |
				      (uint64_t)o->has << 8);
		hash_acc_word(&a, (uint64_t)o->aalg | (uint64_t)o->ealg << 16 |
				      (uint64_t)o->prot << 32 | (uint64_t)o->mod << 48);
		hash_acc_word(&a, (uint64_t)o->spi_c | (uint64_t)o->spi_s << 32);
		hash_acc_word(&a, (uint64_t)o->port_c | (uint64_t)o->port_s << 16 |
				      (uint64_t)o->q << 32);
		hash_acc_word(&a, o->mech.l);
		hash_acc_data(&a, o->mech.p, o->mech.l, true);
		hash_acc_word(&a, o->alg_name.l);
		hash_acc_data(&a, o->alg_name.p, o->alg_name.l, true);
		hash_acc_word(&a, o->ealg_name.l);
		hash_acc_data(&a, o->ealg_name.p, o->ealg_name.l, true);
	}
	return hash_acc_end(&a);
}

/* The UE's acceptable offer in *o; ENOENT none (or unreadable). Past
 * SEC_AGREE_OFFER_MAX offers (or an offer of too many parameters) the rest
 * is not read: the offers before it count (docs/ipsec.md). */
static int ue_offer(const struct registrar *reg, const struct sip_msg *req,
		    struct sec_list *l, const struct sec_offer **o)
{
	int err = sec_list_read(req, SIP_HDR_SECURITY_CLIENT, l);
	size_t idx;

	if ((err && err != EOVERFLOW) || !l->n ||
	    sec_agree_choose(l, reg->cfg->ipsec_aalg_mask, reg->cfg->ipsec_ealg_mask, &idx))
		return ENOENT;
	*o = &l->v[idx];
	return 0;
}

/* ue_offer of in->req, parsed once per challenge (struct reg_ipsec oc). */
static int ue_offer_once(struct registrar *reg, const struct reg_auth_in *in,
			 const struct sec_offer **o)
{
	struct reg_ipsec *ri = reg->ipsec;

	if (ri->oc.in != in || ri->oc.req != in->req) {
		ri->oc.in = in;
		ri->oc.req = in->req;
		ri->oc.o = NULL;
		ri->oc.err = ue_offer(reg, in->req, &ri->oc.l, &ri->oc.o);
	}
	*o = ri->oc.o;
	return ri->oc.err;
}

static void reg_ipsec_oc_forget(struct registrar *reg)
{
	if (reg->ipsec) {
		reg->ipsec->oc.in = NULL;
		reg->ipsec->oc.req = NULL;
	}
}

static void reg_reply_494(struct registrar *reg, struct sip_tsx *tsx)
{
	char v[1536], hdr[1600];
	struct sip_tsx_reply_prm prm = {0};
	int n;

	if (!sec_agree_print_ours(reg->cfg->ipsec_aalg_mask, reg->cfg->ipsec_ealg_mask, v,
				  sizeof(v))) {
		n = snprintf(hdr, sizeof(hdr), "Security-Server: %s\r\n", v);
		if (n > 0 && (size_t)n < sizeof(hdr))
			prm.hdrs = (struct pl){hdr, (size_t)n};
	}
	reg_reply(reg, tsx, 494, "Security Agreement Required", &prm);
}

/* A REGISTER offering sec-agree answered without IPsec: why, logged at
 * most once per REG_IPSEC_OFF_LOG_MS with the count of those not logged
 * (the UEs set the pace, so not one line each). */
static void off_log(struct registrar *reg, const struct reg_auth_in *in, const char *why)
{
	struct reg_ipsec *ri = reg->ipsec;
	uint64_t now = loop_now_ms();
	char a[NET_ADDR_STRLEN];

	if (!ri)
		return;
	if (ri->off_log_ms && now - ri->off_log_ms < REG_IPSEC_OFF_LOG_MS) {
		ri->off_quiet++;
		return;
	}
	log_write(LOG_IPSEC, LOG_LVL_INFO, LOG_DIR_NONE, "-",
		  "REGISTER from %s offers sec-agree: answered without IPsec, since %s "
		  "(%u more such REGISTERs not logged)",
		  in->src ? net_addr_print(&in->src->peer, a, sizeof(a)) : "?", why,
		  ri->off_quiet);
	ri->off_log_ms = now ? now : 1;
	ri->off_quiet = 0;
}

bool reg_ipsec_precheck(struct registrar *reg, struct sip_tsx *tsx,
			const struct reg_auth_in *in)
{
	const struct sec_offer *o;
	const char *why;

	reg_ipsec_oc_forget(reg);
	if (!in->req || in->other_method)
		return false;
	if (!reg_ipsec_can(reg, in->src, &why)) {
		/* TS 24.229 §5.2.2: a P-CSCF without the means answers without
		 * sec-agree; the operator learns why (docs/ipsec.md) */
		if (why && sip_msg_hdr(in->req, SIP_HDR_SECURITY_CLIENT))
			off_log(reg, in, why);
		return false;
	}
	/* parsed here even when not required: reg_ipsec_chal_made reads it */
	if (!ue_offer_once(reg, in, &o) || !sec_agree_required(in->req))
		return false;
	/* RFC 3329 §2.3.1, TS 24.229 §5.2.2: the UE requires a security
	 * agreement and offers nothing we can do: 494 with Security-Server
	 * listing what we take (sec_agree_print_ours). */
	reg_reply_494(reg, tsx);
	return true;
}

void reg_ipsec_chal_drop(struct registrar *reg, struct reg_chal *c)
{
	struct ipsec_table *t = reg_ipsec_table(reg);

	if (t && c->ipsec_set)
		(void)ipsec_set_del(t, c->ipsec_set);
	c->ipsec_set = 0;
}

void reg_ipsec_chal_made(struct registrar *reg, struct reg_chal *c,
			 const struct reg_auth_in *in)
{
	struct ipsec_table *t = reg_ipsec_table(reg);
	struct ipsec_set_prm p = {0};
	const struct sec_offer *o;
	int err;

	reg_ipsec_chal_drop(reg, c);
	if (!t || !in->req || !in->src || !ipsec_table_local(t, &in->src->local) ||
	    c->ck_len < 16 || c->ik_len < 16 ||
	    !net_addr_isset(&in->src->local) || net_addr_is_any(&in->src->local))
		return;
	err = ue_offer_once(reg, in, &o);
	reg_ipsec_oc_forget(reg);
	if (err)
		return;
	c->ipsec_sc = sec_list_digest(&reg->ipsec->oc.l);
	p.ue = in->src->peer;
	p.local = in->src->local;
	p.ue_offer = o;
	p.port_c = IPSEC_PORT_C;
	p.port_s = IPSEC_PORT_S;
	p.ck = c->ck;
	p.ik = c->ik;
	p.owner = (uint64_t)(uintptr_t)c->u;
	p.deadline_ms = loop_now_ms() + (uint64_t)reg->chal_ttl * 1000 + REG_IPSEC_RETIRE_MS;
	err = ipsec_set_add(t, &p, &c->ipsec_set);
	if (err) {
		c->ipsec_set = 0;
		log_write(LOG_IPSEC, LOG_LVL_WARN, LOG_DIR_NONE, "-",
			  "registrar: no SA set for a challenge: %s", strerror(err));
	}
}

bool reg_ipsec_chal_fits(const struct registrar *reg, const struct reg_chal *c,
			 const struct reg_auth_in *in)
{
	struct ipsec_table *t = reg_ipsec_table(reg);
	const struct ipsec_set *s = t && c->ipsec_set ? ipsec_set_get(t, c->ipsec_set) : NULL;
	const struct sec_offer *o;
	struct ipsec_sa_info info;
	struct sec_list l;
	bool same;

	if (!t || !in->req || !in->src)
		return true;
	if (ue_offer(reg, in->req, &l, &o))
		return !s;
	if (!s || ipsec_set_sa_info(s, IPSEC_OUT_C, &info))
		return false;
	esp_keys_wipe(&info.keys);
	/* the same offer: the same SPIs, ports and algorithms */
	same = info.spi == o->spi_c && info.aalg == o->aalg && info.ealg == o->ealg &&
	       ipsec_set_ue_port(s, false) == o->port_c && ipsec_set_ue_port(s, true) == o->port_s &&
	       ipsec_addr_eq(ipsec_set_ue(s), &in->src->peer, false);
	return same;
}

int reg_ipsec_server_hdr(const struct registrar *reg, const struct reg_chal *c, char *buf,
			 size_t size)
{
	struct ipsec_table *t = reg_ipsec_table(reg);
	const struct ipsec_set *s = t && c->ipsec_set ? ipsec_set_get(t, c->ipsec_set) : NULL;
	struct pl v;
	int n;

	if (!s)
		return 0;
	v = ipsec_set_server_text(s); /* printed once, when the set was made */
	if (!v.l)
		return -1;
	n = snprintf(buf, size, "Security-Server: %.*s\r\n", (int)v.l, v.p);
	return n < 0 || (size_t)n >= size ? -1 : n;
}

/* TS 33.203 §7.2, TS 24.229 §5.2.2.4: the protected REGISTER repeats the
 * Security-Client of the first one; a list that differs (or is gone) is
 * what a man in the middle who edited the first, unprotected one leaves
 * behind (offers removed to force a weaker choice). */
static bool client_same(const struct reg_chal *c, const struct sip_msg *req)
{
	struct sec_list l;
	int err = sec_list_read(req, SIP_HDR_SECURITY_CLIENT, &l);

	/* read as ue_offer reads the first: past SEC_AGREE_OFFER_MAX offers
	 * the ones before count */
	return (!err || err == EOVERFLOW) && l.n && sec_list_digest(&l) == c->ipsec_sc;
}

/* Whether the request came over set s: from the UE's port-c to our port-s. */
static bool over_set(const struct ipsec_set *s, const struct net_flow *src)
{
	return src && net_addr_port(&src->local) == IPSEC_PORT_S &&
	       ipsec_addr_eq(&src->peer, ipsec_set_ue(s), true) &&
	       net_addr_port(&src->peer) == ipsec_set_ue_port(s, false);
}

/* Our requests to the UE go to its port-s over set s (TS 33.203 §7.1).
 * That destination receives (sip/sip_peer.h): its IP is the one the
 * challenge was sent to (over_set), and the REGISTER that came over s had
 * an ICV keyed with the IK of that challenge. Without this, each new
 * port-s would be an unproven destination and a few MESSAGEs to a UE's
 * IP would spend its budget. */
static void prove_port_s(struct registrar *reg, const struct ipsec_set *s,
			 const struct net_flow *src)
{
	struct net_flow to = *src;

	net_addr_set_port(&to.peer, ipsec_set_ue_port(s, true));
	net_addr_set_port(&to.local, IPSEC_PORT_C);
	to.conn_id = 0;
	reg->ops.peer_prove(reg->stack, &to, reg->ops.arg);
}

/* Security-Verify == the Security-Server of s (TS 33.203 §7.2). A UE
 * echoes the value the 401 carried: one line equal byte for byte to the
 * set's printed Security-Server is equal without parsing; anything else
 * (other case, spacing, order of parameters, several lines) is parsed and
 * compared offer by offer. */
static bool verify_ok(const struct ipsec_set *s, const struct sip_msg *req)
{
	const struct sip_hdr *h = sip_msg_hdr(req, SIP_HDR_SECURITY_VERIFY);
	struct pl txt = ipsec_set_server_text(s);
	struct sec_list v, sent = {.n = 1};

	if (h && !sip_msg_hdr_next(req, h) && txt.l && h->val.l == txt.l &&
	    !memcmp(h->val.p, txt.p, txt.l))
		return true;
	ipsec_set_server_offer(s, &sent.v[0]);
	return !sec_list_read(req, SIP_HDR_SECURITY_VERIFY, &v) && !sec_agree_verify(&v, &sent);
}

enum reg_ipsec_res reg_ipsec_verify(struct registrar *reg, struct sip_tsx *tsx,
				    struct reg_chal *c, const struct reg_auth_in *in,
				    struct reg_user *ru)
{
	struct ipsec_table *t = reg_ipsec_table(reg);
	struct ipsec_set *s;

	if (!t || in->other_method)
		return REG_IPSEC_PASS;
	s = c->ipsec_set ? ipsec_set_get(t, c->ipsec_set) : NULL;
	if (s) {
		if (!over_set(s, in->src)) {
			/* TS 33.203 §7.2: the second REGISTER goes over the new SAs. */
			reg_reply(reg, tsx, 403, "Forbidden - not over the security associations",
				  NULL);
			return REG_IPSEC_REPLIED;
		}
		if (!in->req || !verify_ok(s, in->req)) {
			reg_reply(reg, tsx, 403, "Forbidden - Security-Verify differs", NULL);
			return REG_IPSEC_REPLIED;
		}
		if (!client_same(c, in->req)) {
			reg_reply(reg, tsx, 403, "Forbidden - Security-Client differs", NULL);
			return REG_IPSEC_REPLIED;
		}
		ipsec_set_activate(s);
		prove_port_s(reg, s, in->src);
		if (ru->ipsec_set && ru->ipsec_set != c->ipsec_set) {
			/* TS 33.203 §7.4: the old set lingers for what is in
			 * flight over it; only the last one: an older one still
			 * retiring goes now, so a UE re-authenticating fast
			 * holds at most three (pending, active, retiring) */
			if (ru->ipsec_old)
				(void)ipsec_set_del(t, ru->ipsec_old);
			reg_ipsec_retire(reg, ru->ipsec_set);
			ru->ipsec_old = ru->ipsec_set;
		}
		ru->ipsec_set = c->ipsec_set;
		c->ipsec_set = 0;
		/* sets of earlier registrations (retired at their de-REGISTER)
		 * on the same ports: superseded by this one */
		(void)ipsec_table_prune_flow(t, s, ru->ipsec_old);
		return REG_IPSEC_PASS;
	}
	/* A protected user's REGISTER in clear that reuses a spent nonce (a
	 * refresh without a new challenge) is taken as a new initial one:
	 * challenged. The answer to that fresh challenge then registers
	 * (without IPsec when the UE offered none), TS 24.229 §5.2.2. */
	s = ru->ipsec_set ? ipsec_set_get(t, ru->ipsec_set) : NULL;
	if (s && c->done && !over_set(s, in->src))
		return REG_IPSEC_RECHALLENGE;
	return REG_IPSEC_PASS;
}

void reg_ipsec_user_gone(struct registrar *reg, struct reg_user *ru)
{
	if (ru->ipsec_set)
		reg_ipsec_retire(reg, ru->ipsec_set);
	ru->ipsec_set = 0;
	ru->ipsec_old = 0; /* already retiring */
}

void reg_ipsec_dst_map(const struct registrar *reg, const struct reg_user *ru,
		       struct net_flow *f)
{
	struct ipsec_table *t = reg_ipsec_table(reg);
	const struct ipsec_set *s = t && ru && ru->ipsec_set ? ipsec_set_get(t, ru->ipsec_set)
							     : NULL;

	/* TS 33.203 §7.1: our requests go from port-c to the UE's port-s.
	 * Over TCP not on the UE's connection (from its port-c) but on one
	 * imsd opens from port-c (net_tcp_connect binds it there), TS 24.229
	 * §5.2.2.1; conn_id 0: the stack finds or opens it. */
	if (!s || !over_set(s, f))
		return;
	net_addr_set_port(&f->peer, ipsec_set_ue_port(s, true));
	net_addr_set_port(&f->local, IPSEC_PORT_C);
	f->conn_id = 0;
}

/*
 * TS 33.203 §7.1 sets up two SA pairs, and TS 24.229 §5.2.2.1 lets the UE
 * send requests over either (over TCP: on its connection from port-c to
 * our port-s, or on the one imsd opened from our port-c to its port-s).
 * The binding's flow is the first; this is the second. The protected ports
 * live in the datapath's namespace, which only ESP that passed the SA's
 * checks and selectors reaches, so the flow's addresses name the pair.
 */
bool reg_ipsec_flow_of_user(const struct registrar *reg, const struct reg_user *ru,
			    const struct net_flow *flow)
{
	struct ipsec_table *t = reg_ipsec_table(reg);
	const uint64_t ids[2] = {ru ? ru->ipsec_set : 0, ru ? ru->ipsec_old : 0};

	if (!t || !flow || net_addr_port(&flow->local) != IPSEC_PORT_C)
		return false;
	for (size_t i = 0; i < 2; i++) {
		const struct ipsec_set *s = ids[i] ? ipsec_set_get(t, ids[i]) : NULL;

		if (s && ipsec_addr_eq(&flow->peer, ipsec_set_ue(s), true) &&
		    net_addr_port(&flow->peer) == ipsec_set_ue_port(s, true))
			return true;
	}
	return false;
}

/* Owners are the hss_user of the set (HSS users live as long as the HSS,
 * which outlives the registrar and its sets). */
const struct hss_user *registrar_ipsec_owner(uint64_t owner)
{
	return (const struct hss_user *)(uintptr_t)owner;
}

bool registrar_user_protected(const struct registrar *reg, const struct hss_user *u)
{
	struct ipsec_table *t = reg_ipsec_table(reg);
	const struct reg_user *ru = t ? reg_user_find((struct registrar *)reg, u) : NULL;
	const struct ipsec_set *s = ru && ru->ipsec_set ? ipsec_set_get(t, ru->ipsec_set) : NULL;

	return s && ipsec_set_state(s) == IPSEC_SET_ACTIVE;
}
