/*
 * cscf_cfm — callflow_modifier (manual §5.2.1, docs/callflow_modifier.md)
 * on the requests the CSCF stage receives, before their service sees
 * them. Whose list applies:
 *
 *   INVITE (new call)  the callee's (the MO dialog, dir rx; counterpart:
 *                      the caller) and then the caller's (the MT dialog:
 *                      the INVITE imsd would send the callee, dir tx;
 *                      counterpart: the callee);
 *   MESSAGE, SUBSCRIBE the sender's own (dir rx; imsd is their far end);
 *   REGISTER           the user its To names (dir rx); REGISTER.SOS only
 *                      for an emergency REGISTER (TS 24.229 §5.1.6.2: a
 *                      Contact with the "sos" parameter).
 *
 * A modifier that applies logs its `log`; with a provisional `code`
 * (101..199, INVITE only) that answer is sent and the flow goes on; with a
 * final `code` the request is answered with it (for INVITE only those with a code are looked at here:
 * the others act on the INVITE imsd sends the callee, b2bua_cfm.c) (with the modifier's custom_headers and content) and
 * goes no further: the normal call flow of that request stops
 * (RFC 3261 §8.2.6: one final response ends a server transaction).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfm/cfm.h"
#include "core/log.h"
#include "loop/loop.h"
#include "cscf/cscf_int.h"
#include "sip/sip_hdr.h"
#include "sip/sip_uri.h"

static const char *imei_of(const struct cscf *c, const struct hss_user *u,
			   const struct net_flow *flow, char out[16])
{
	return cfm_imei_of(c->reg, u, flow, out);
}

/* Whether a REGISTER asks for an emergency registration. */
static bool register_sos(const struct sip_msg *req)
{
	for (const struct sip_hdr *h = sip_msg_hdr(req, SIP_HDR_CONTACT); h;
	     h = sip_msg_hdr_next(req, h)) {
		struct sip_addr a;
		struct sip_uri u;
		struct pl it, n, v;

		if (sip_addr_decode(&a, h->val))
			continue;
		if (!sip_uri_decode(&u, a.uri) && !sip_uri_param_get(&u, "sos", &v))
			return true;
		it = a.params;
		while (sip_uri_param_next(&it, ';', &n, &v)) {
			if (pl_caseeq_str(n, "sos"))
				return true;
		}
	}
	return false;
}

/* The +sip.instance value of a Contact (RFC 5626 §4.1), quotes kept. */
static int instance_of(struct pl v, struct pl *inst)
{
	const char *p = memmem(v.p, v.l, "+sip.instance=", 14), *e = v.p + v.l, *q;

	if (!p)
		return ENOENT;
	p += 14;
	if (p < e && *p == '"') {
		q = memchr(p + 1, '"', (size_t)(e - p - 1));
		if (!q)
			return EBADMSG;
		*inst = (struct pl){p, (size_t)(q + 1 - p)};
		return 0;
	}
	for (q = p; q < e && *q != ';' && *q != ',' && *q != ' '; q++)
		;
	*inst = (struct pl){p, (size_t)(q - p)};
	return 0;
}

/* Whether the request requires reliable provisionals (a Require listing
 * 100rel, RFC 3262 §3): an unreliable one may then not be sent. */
static bool requires_100rel(const struct sip_msg *req)
{
	for (const struct sip_hdr *h = sip_msg_hdr(req, SIP_HDR_REQUIRE); h;
	     h = sip_msg_hdr_next(req, h)) {
		struct pl v = h->val;

		while (v.l) {
			const char *comma = memchr(v.p, ',', v.l);
			size_t n = comma ? (size_t)(comma - v.p) : v.l;

			if (pl_caseeq_str(pl_trim((struct pl){v.p, n}), "100rel"))
				return true;
			v = n < v.l ? (struct pl){v.p + n + 1, v.l - n - 1} : (struct pl){v.p, 0};
		}
	}
	return false;
}

/* A modifier's answer held its send_delay: what it sends, copied (the
 * configuration may change meanwhile); the transaction found again by id. */
struct cscf_cfm_held {
	struct cscf_cfm_held *next;
	struct cscf *c;
	struct loop_timer *t;
	uint64_t tsx_id;
	uint16_t code;
	struct mbuf h, body;
	char ctype[128];
};

static void held_free(struct cscf *c, struct cscf_cfm_held *hd)
{
	for (struct cscf_cfm_held **pp = &c->cfm_held; *pp; pp = &(*pp)->next) {
		if (*pp == hd) {
			*pp = hd->next;
			break;
		}
	}
	loop_timer_free(hd->t);
	mbuf_reset(&hd->h);
	mbuf_reset(&hd->body);
	free(hd);
}

void cscf_cfm_held_free_all(struct cscf *c)
{
	while (c->cfm_held)
		held_free(c, c->cfm_held);
}

static void reply_prm(struct sip_tsx_reply_prm *rp, const struct mbuf *h,
		      const struct mbuf *body, const char *ctype)
{
	memset(rp, 0, sizeof(*rp));
	rp->hdrs = (struct pl){(const char *)h->buf, h->end};
	if (body->end) {
		rp->ctype = pl_from_str(ctype);
		rp->body = (struct pl){(const char *)body->buf, body->end};
	}
}

/* The delay is over: the answer, if its request still waits for one (a
 * CANCEL, or the caller giving up, may have ended it). */
static void held_h(void *arg)
{
	struct cscf_cfm_held *hd = arg;
	struct cscf *c = hd->c;
	struct sip_tsx *tsx = sip_tsx_lookup(sip_stack_tsx(c->stack), hd->tsx_id);
	struct sip_tsx_reply_prm rp;

	if (tsx) {
		reply_prm(&rp, &hd->h, &hd->body, hd->ctype);
		c->reply(c->stack, tsx, hd->code, NULL, &rp, c->reply_arg);
	}
	held_free(c, hd);
}

/* Holds the answer in h and body (taken) delay_ms; ENOMEM: not held. */
static int held_new(struct cscf *c, struct sip_tsx *tsx, const struct ims_cfg_cfm *cm,
		    struct mbuf *h, struct mbuf *body)
{
	struct cscf_cfm_held *hd = calloc(1, sizeof(*hd));

	if (!hd)
		return ENOMEM;
	hd->t = loop_timer_alloc();
	if (!hd->t) {
		free(hd);
		return ENOMEM;
	}
	hd->c = c;
	hd->tsx_id = sip_tsx_id(tsx);
	hd->code = (uint16_t)cm->code;
	hd->h = *h;
	hd->body = *body;
	mbuf_init(h, 0);
	mbuf_init(body, 0);
	snprintf(hd->ctype, sizeof(hd->ctype), "%s", cm->content_type ? cm->content_type : "");
	hd->next = c->cfm_held;
	c->cfm_held = hd;
	loop_timer_start(hd->t, (uint64_t)(cm->send_delay * 1000.0), held_h, hd);
	return 0;
}

/* Answers the request as the modifier says: now, or after its send_delay. */
static void cfm_answer(struct cscf *c, struct sip_stack *stack, struct sip_tsx *tsx,
		       const struct ims_cfg_cfm *cm)
{
	struct sip_tsx_reply_prm rp;
	struct mbuf h, body;
	int err;

	mbuf_init(&h, SIP_MSG_MAX_UDP);
	mbuf_init(&body, CFM_CONTENT_MAX);
	err = cfm_hdrs_apply(cm, &h);
	if (err)
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "callflow_modifier: custom_headers: %s", strerror(err));
	if (cm->content) {
		err = cfm_content_read(cm, &body);
		if (err)
			log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
				  "callflow_modifier: content %s: %s", cm->content,
				  strerror(err));
	}
	/* with a stack to find the transaction again (unit tests have none) */
	if (cm->send_delay > 0 && stack && tsx && c->stack == stack &&
	    !held_new(c, tsx, cm, &h, &body))
		return;
	reply_prm(&rp, &h, &body, cm->content_type);
	c->reply(stack, tsx, (uint16_t)cm->code, NULL, &rp, c->reply_arg);
	mbuf_reset(&h);
	mbuf_reset(&body);
}

/* The first modifier for m, logged; it answers when it has a code. */
static bool cfm_try(struct cscf *c, const struct cscf_req *r, const struct cfm_match *m,
		    const char *what)
{
	const struct ims_cfg_cfm *cm = cfm_find(m);

	if (!cm)
		return false;
	c->stats.cfm++;
	cfm_log(cm, what);
	if (cm->code > 100 && cm->code < 200) { /* sent, the flow goes on */
		if (requires_100rel(r->req))
			log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
				  "callflow_modifier: %d not sent: the caller requires "
				  "100rel (RFC 3262 §3)",
				  cm->code);
		else
			cfm_answer(c, r->stack, r->tsx, cm);
		return false;
	}
	/* a 2xx would open a session (INVITE) imsd does not keep: such a
	 * modifier (no method) applies to other requests only */
	if (!cm->code || (r->req->meth == SIP_METHOD_INVITE && cm->code < 300))
		return false;
	cfm_answer(c, r->stack, r->tsx, cm);
	return true;
}

/* A new INVITE: the callee's list (MO, rx), then the caller's (MT, tx). */
static bool cfm_invite(struct cscf *c, const struct cscf_req *r)
{
	struct hss_impu_match term[CSCF_TERM_MAX];
	/* those without a code act on the INVITE to the callee (b2bua_cfm.c) */
	struct cfm_match m = {.step = IMS_CFG_STEP_INVITE, .code = CFM_CODE_WITH};
	char f[16];
	char ruri[HSS_URI_MAX];
	size_t n = hss_users_by_impu(c->hss, r->req->ruri, term, CSCF_TERM_MAX);

	if (n && (m.opts = cfm_opts(term[0].user, term[0].impu))) {
		m.dir = IMS_CFG_DIR_RX;
		m.peer_impu = r->asserted[0] ? r->asserted : NULL;
		m.peer_imei = imei_of(c, r->orig, r->flow, f);
		m.peer_rat = cfm_rat_of(r->req);
		if (cfm_try(c, r, &m, "INVITE received"))
			return true;
	}
	m.opts = cfm_opts(r->orig, r->orig_impu);
	if (!m.opts)
		return false;
	m.dir = IMS_CFG_DIR_TX;
	(void)pl_strcpy(r->req->ruri, ruri, sizeof(ruri));
	m.peer_impu = ruri;
	m.peer_imei = n ? imei_of(c, term[0].user, NULL, f) : NULL;
	m.peer_rat = 0; /* the callee's answers carry it: not known yet */
	return cfm_try(c, r, &m, "INVITE to send");
}

/* A REGISTER: the list of the user its To names. */
static bool cfm_register(struct cscf *c, const struct cscf_req *r)
{
	const struct sip_addr *to = sip_msg_to(r->req);
	struct hss_impu_match u[1];
	struct cfm_match m = {.step = IMS_CFG_STEP_REGISTER, .dir = IMS_CFG_DIR_RX};
	char uri[HSS_URI_MAX];
	char digits[15];
	struct pl inst;
	const struct sip_hdr *ct = sip_msg_hdr(r->req, SIP_HDR_CONTACT);

	if (!to || !hss_users_by_impu(c->hss, to->uri, u, 1))
		return false;
	m.opts = cfm_opts(u[0].user, u[0].impu);
	if (!m.opts)
		return false;
	m.sos = register_sos(r->req);
	(void)pl_strcpy(to->uri, uri, sizeof(uri));
	m.peer_impu = uri;
	/* the IMEI the REGISTER gives (+sip.instance), TS 24.229 §5.1.1.2.1 */
	for (; ct && !m.peer_imei; ct = sip_msg_hdr_next(r->req, ct)) {
		if (!instance_of(ct->val, &inst) && !hss_imei_parse(inst, digits))
			m.peer_imei = digits;
	}
	m.peer_rat = cfm_rat_of(r->req);
	return cfm_try(c, r, &m, m.sos ? "emergency REGISTER received" : "REGISTER received");
}

bool cscf_cfm_request(struct cscf *c, const struct cscf_req *r)
{
	struct cfm_match m = {.dir = IMS_CFG_DIR_RX};
	char f[16];

	if (r->in_dialog)
		return false;
	switch (r->req->meth) {
	case SIP_METHOD_INVITE:
		return cfm_invite(c, r);
	case SIP_METHOD_REGISTER:
		return cfm_register(c, r);
	case SIP_METHOD_MESSAGE:
		m.step = IMS_CFG_STEP_MESSAGE;
		break;
	case SIP_METHOD_SUBSCRIBE:
		m.step = IMS_CFG_STEP_SUBSCRIBE;
		break;
	default:
		return false;
	}
	m.opts = cfm_opts(r->orig, r->orig_impu);
	if (!m.opts)
		return false;
	m.peer_impu = r->asserted[0] ? r->asserted : NULL;
	m.peer_imei = imei_of(c, r->orig, r->flow, f);
	m.peer_rat = cfm_rat_of(r->req);
	return cfm_try(c, r, &m,
		       m.step == IMS_CFG_STEP_MESSAGE ? "MESSAGE received" : "SUBSCRIBE received");
}
