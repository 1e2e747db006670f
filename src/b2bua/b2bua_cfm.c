/*
 * b2bua_cfm — callflow_modifier (manual §5.2.1, docs/callflow_modifier.md)
 * on the INVITE imsd sends each branch of the callee (a modifier without a
 * code: its custom_headers; the callee's list rx, then the caller's tx;
 * with multi_sim, each SIM's user its own list),
 * on the requests inside the call (REINVITE, UPDATE, PRACK, CANCEL: the
 * list of the dialog they came on, rx, then of the one they would go on,
 * tx; a code answers them in imsd's name and, with stop, ends the call;
 * without a code its custom_headers go on the REINVITE or UPDATE imsd
 * relays and on the CANCELs to the branches, a PRACK not being relayed),
 * and on the answers imsd sends the caller: INVITE.RINGING (180),
 * INVITE.SESSION_PROGRESS (183) and INVITE.OK (the final answer). Whose
 * list applies: the callee's (the MO dialog: the answer imsd sends, dir
 * tx; counterpart the caller), then the caller's (the MT dialog: the
 * callee's answer as imsd received it, dir rx; counterpart the callee).
 * The first modifier that applies adds its custom_headers to the answer,
 * replaces its body with its content (content null: removes a body of
 * content_type) and logs its `log`; one with a code met at a 180 or 183
 * answers the caller with that code in its place and ends the call (the
 * branches cancelled); its send_delay holds a provisional
 * (180, 183) that long (a final answer sent meanwhile drops it: a
 * provisional after the final would be late, RFC 3261 §13.3.1.1).
 *
 * Calls that are not between two phones, as if they were: an echo call
 * has no callee user, so the caller's list (the MT side) applies to the
 * 180 and 200 imsd sends as the echo (a code in their place ends the
 * call); a ring_only callee's list applies to imsd's 180 and the CANCEL
 * with no branch (c->callee); an mt_call has imsd as the caller: the
 * INVITE to the phone gets the callee's (then, when the API's caller IMPU
 * is a user, its) modifiers without a code, and a code met at the phone's
 * 180/183/final ends the call (a 2xx ACKed and ended with a BYE), the
 * answer going to no one.
 *
 * Each modifier found here is applied and counted (b2bua_stats.cfm; the
 * monitor's cscf.cfm adds it to the CSCF stage's and the SMSC's).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b2bua/b2bua_int.h"
#include "cfm/cfm.h"
#include "core/log.h"
#include "registrar/registrar.h"

/* The first modifier for m (cfm_find), counted as applied (b2bua_stats.cfm:
 * whoever finds one applies it). */
static const struct ims_cfg_cfm *find(const struct b2b_call *c, const struct cfm_match *m)
{
	const struct ims_cfg_cfm *cm = cfm_find(m);

	if (cm)
		c->b->st.cfm++;
	return cm;
}

/* The branch an answer comes from: the one given, the winner, else the
 * first. */
static const struct b2b_leg *answer_leg(const struct b2b_call *c, const struct b2b_leg *leg)
{
	if (leg)
		return leg;
	if (c->win >= 0)
		return &c->leg[c->win];
	return c->nlegs ? &c->leg[0] : NULL;
}

/* The callee's list: the branch's user, else a ring_only callee's; NULL
 * none (an echo call). */
static const struct ims_cfg_impu_opts *callee_opts(const struct b2b_call *c,
						   const struct b2b_leg *leg)
{
	if (leg && leg->user)
		return cfm_opts(leg->user, leg->impu);
	return c->callee ? cfm_opts(c->callee, c->callee_impu) : NULL;
}

static const struct ims_cfg_cfm *answer_find(const struct b2b_call *c,
					     const struct b2b_leg *leg, uint16_t scode,
					     const struct sip_msg *resp, int8_t code)
{
	struct cfm_match m = {.step = cfm_step_of_invite_resp(scode), .code = code};
	const struct ims_cfg_cfm *cm;
	char imei[16];

	if (m.step == IMS_CFG_STEP_ANY)
		return NULL;
	leg = answer_leg(c, leg);
	m.opts = callee_opts(c, leg);
	if (m.opts) { /* MO: the callee's list */
		m.dir = IMS_CFG_DIR_TX;
		m.peer_impu = c->from;
		m.peer_imei = cfm_imei_of(c->b->prm.reg, c->orig, &c->a_flow, imei);
		m.peer_rat = cfm_rat_of(c->a_inv);
		cm = find(c, &m);
		if (cm)
			return cm;
	}
	m.opts = cfm_opts(c->orig, c->orig_impu); /* MT: the caller's */
	if (!m.opts)
		return NULL;
	m.dir = IMS_CFG_DIR_RX;
	m.peer_impu = c->to;
	m.peer_imei = leg ? cfm_imei_of(c->b->prm.reg, leg->user, &leg->flow, imei)
		      : c->callee ? cfm_imei_of(c->b->prm.reg, c->callee, NULL, imei)
				  : NULL;
	m.peer_rat = cfm_rat_of(resp);
	return find(c, &m);
}

const struct ims_cfg_cfm *b2b_cfm_final(struct b2b_call *c, const struct b2b_leg *leg,
					uint16_t scode, const struct sip_msg *resp)
{
	const struct ims_cfg_cfm *cm = answer_find(c, leg, scode, resp, CFM_CODE_WITH);
	char what[64];

	if (cm) {
		snprintf(what, sizeof(what), "call %u: %d in place of the callee's %u", c->index,
			 cm->code, scode);
		cfm_log(cm, what);
	}
	return cm;
}

/* The modifier without a code for the INVITE to callee user t: its list
 * (MO, rx), then the caller's (MT, tx); logged. */
static const struct ims_cfg_cfm *invite_find(struct b2b_call *c,
					     const struct hss_impu_match *t)
{
	struct cfm_match m = {.step = IMS_CFG_STEP_INVITE, .code = CFM_CODE_WITHOUT};
	const struct ims_cfg_cfm *cm = NULL;
	char imei[16], what[48];

	m.opts = cfm_opts(t->user, t->impu); /* MO: the callee's */
	if (m.opts) {
		m.dir = IMS_CFG_DIR_RX;
		m.peer_impu = c->from;
		m.peer_imei = cfm_imei_of(c->b->prm.reg, c->orig, &c->a_flow, imei);
		m.peer_rat = cfm_rat_of(c->a_inv);
		cm = find(c, &m);
	}
	if (!cm && (m.opts = cfm_opts(c->orig, c->orig_impu))) { /* MT: the caller's */
		m.dir = IMS_CFG_DIR_TX;
		m.peer_impu = c->to;
		m.peer_imei = cfm_imei_of(c->b->prm.reg, t->user, NULL, imei);
		m.peer_rat = 0; /* the callee's answers carry it: not known yet */
		cm = find(c, &m);
	}
	if (cm) {
		snprintf(what, sizeof(what), "call %u: INVITE to the callee", c->index);
		cfm_log(cm, what);
	}
	return cm;
}

void b2b_cfm_invite(struct b2b_call *c, const struct hss_impu_match *term, size_t n,
		    const struct ims_cfg_cfm **out)
{
	for (size_t i = 0; i < n; i++) {
		/* with multi_sim, each SIM (user) its own list; only the
		 * registered are rung (b2b_fork), so only they are matched */
		out[i] = NULL;
		if (c->type != B2BUA_ECHO &&
		    registrar_is_registered(c->b->prm.reg, term[i].user))
			out[i] = invite_find(c, &term[i]);
	}
}

void b2b_cfm_in_place(struct b2b_call *c, const struct ims_cfg_cfm *cm, uint16_t scode)
{
	char why[64];

	b2b_cancel_legs(c);
	loop_timer_cancel(c->t_ring);
	c->cfm_gen = cm;
	b2b_answer_a(c, (uint16_t)cm->code, NULL, NULL, NULL);
	c->cfm_gen = NULL;
	snprintf(why, sizeof(why), "callflow_modifier: %d in place of %u", cm->code, scode);
	b2b_stop(c, why);
}

void b2b_cfm_trying(struct b2b_call *c, const struct hss_impu_match *term, size_t n)
{
	struct cfm_match m = {.step = IMS_CFG_STEP_INVITE_TRYING, .code = CFM_CODE_WITHOUT};
	const struct ims_cfg_cfm *cm = NULL;
	struct sip_tsx *tsx = c->a_tsx ? sip_tsx_lookup(sip_stack_tsx(c->b->prm.stack),
							c->a_tsx)
				       : NULL;
	char imei[16], what[48];

	/* an answer already sent (the CSCF stage's provisional): no 100 after it */
	if (c->type == B2BUA_MT || !tsx || sip_tsx_scode(tsx))
		return;
	if (n && (m.opts = cfm_opts(term[0].user, term[0].impu))) {
		/* MO: the callee's list, the 100 imsd sends the caller */
		m.dir = IMS_CFG_DIR_TX;
		m.peer_impu = c->from;
		m.peer_imei = cfm_imei_of(c->b->prm.reg, c->orig, &c->a_flow, imei);
		m.peer_rat = cfm_rat_of(c->a_inv);
		cm = find(c, &m);
	}
	if (!cm && (m.opts = cfm_opts(c->orig, c->orig_impu))) {
		/* MT: the caller's, as an answer of the callee */
		m.dir = IMS_CFG_DIR_RX;
		m.peer_impu = c->to;
		m.peer_imei = n ? cfm_imei_of(c->b->prm.reg, term[0].user, NULL, imei) : NULL;
		m.peer_rat = 0;
		cm = find(c, &m);
	}
	if (!cm)
		return;
	snprintf(what, sizeof(what), "call %u: 100 to the caller", c->index);
	cfm_log(cm, what);
	c->cfm_gen = cm; /* its headers, sent now rather than by the stack */
	b2b_answer_a(c, 100, "Trying", NULL, NULL);
	c->cfm_gen = NULL;
}

bool b2b_cfm_provisional(struct b2b_call *c, const struct b2b_leg *leg,
			 const struct sip_msg *resp)
{
	const struct ims_cfg_cfm *cm;

	if (resp->scode != 180 && resp->scode != 183)
		return false;
	cm = b2b_cfm_final(c, leg, resp->scode, resp); /* a code in place of it */
	if (!cm)
		return false;
	b2b_cfm_in_place(c, cm, resp->scode);
	return true;
}

bool b2b_cfm_own(struct b2b_call *c, uint16_t scode)
{
	const struct ims_cfg_cfm *cm = b2b_cfm_final(c, NULL, scode, NULL);

	if (!cm)
		return false;
	b2b_cfm_in_place(c, cm, scode);
	return true;
}

uint32_t b2b_cfm_answer(struct b2b_call *c, uint16_t scode, const struct sip_msg *resp,
			struct mbuf *hdrs, struct mbuf *body, struct sip_tsx_reply_prm *rp)
{
	/* a modifier's own answer (b2b_cfm_provisional): its changes, not
	 * counted again; else the first modifier without a code */
	const struct ims_cfg_cfm *cm =
	    c->cfm_gen ? c->cfm_gen : answer_find(c, NULL, scode, resp, CFM_CODE_WITHOUT);
	uint32_t delay;
	char what[48];
	int err;

	if (!cm)
		return 0;
	/* 0..60 s, checked when read; a generated final is never held */
	delay = c->cfm_gen ? 0 : (uint32_t)(cm->send_delay * 1000.0);
	if (!c->cfm_gen) { /* a generated one was logged where it was met */
		snprintf(what, sizeof(what), "call %u: %u to the caller", c->index, scode);
		cfm_log(cm, what);
	}
	err = cfm_hdrs_apply(cm, hdrs);
	if (err)
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "call %u: callflow_modifier custom_headers: %s", c->index,
			  strerror(err));
	rp->hdrs = (struct pl){(const char *)hdrs->buf, hdrs->end};
	if (cm->content) {
		err = cfm_content_read(cm, body);
		if (err) {
			log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
				  "call %u: callflow_modifier content %s: %s", c->index,
				  cm->content, strerror(err));
			return delay;
		}
		rp->ctype = pl_from_str(cm->content_type);
		rp->body = (struct pl){(const char *)body->buf, body->end};
	} else if (cm->content_remove && pl_isset(rp->ctype) &&
		   pl_caseeq_str(rp->ctype, cm->content_type)) {
		rp->ctype = (struct pl)PL_INIT;
		rp->body = (struct pl)PL_INIT;
	}
	return delay;
}

/* ---- send_delay: a provisional held ---- */

struct b2b_cfm_held {
	struct loop_timer *t;
	uint16_t scode;
	char reason[64];
	struct mbuf hdrs, ctype, body;
};

bool b2b_cfm_2xx_held(const struct b2b_call *c)
{
	return c->cfm_held && c->cfm_held->scode >= 200;
}

void b2b_cfm_drop(struct b2b_call *c)
{
	struct b2b_cfm_held *hd = c->cfm_held;
	struct sip_tsx *tsx;

	if (!hd)
		return;
	c->cfm_held = NULL;
	/* a 2xx not sent (the call ended first, a BYE from the callee): the
	 * caller's INVITE still needs its final answer (RFC 3261 §13.3.1) */
	tsx = hd->scode >= 200 && c->a_tsx
		  ? sip_tsx_lookup(sip_stack_tsx(c->b->prm.stack), c->a_tsx)
		  : NULL;
	if (tsx && sip_tsx_scode(tsx) < 200 &&
	    !sip_stack_reply(c->b->prm.stack, tsx, 487, "Request Terminated", NULL))
		b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_OTHER, 487);
	loop_timer_free(hd->t);
	mbuf_reset(&hd->hdrs);
	mbuf_reset(&hd->ctype);
	mbuf_reset(&hd->body);
	free(hd);
}

static struct pl mb_pl(const struct mbuf *mb)
{
	return mb->end ? (struct pl){(const char *)mb->buf, mb->end} : (struct pl)PL_INIT;
}

/* A held 2xx's delay is over: sent, then its ACK awaited (retransmitted
 * from c->aw, kept by b2b_answer_a). */
static void held_2xx(struct b2b_call *c, struct b2b_cfm_held *hd, struct sip_tsx *tsx)
{
	struct sip_tsx_reply_prm rp = {.hdrs = mb_pl(&hd->hdrs),
				       .ctype = mb_pl(&hd->ctype),
				       .body = mb_pl(&hd->body)};

	if (!tsx || c->state == B2BUA_STOP) {
		b2b_cfm_drop(c); /* 487 if the INVITE still waits */
		return;
	}
	if (!sip_stack_reply(c->b->prm.stack, tsx, hd->scode, hd->reason, &rp))
		b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_OTHER, hd->scode);
	b2b_cfm_drop(c); /* answered: nothing more */
	b2b_ack_wait_start(c, B2B_A, c->a_tsx);
}

/* Its delay is over: sent as b2b_answer_a would have, if the caller's
 * INVITE still waits for it. */
static void held_h(void *arg)
{
	struct b2b_call *c = arg;
	struct b2b_cfm_held *hd = c->cfm_held;
	struct sip_tsx *tsx = c->a_tsx ? sip_tsx_lookup(sip_stack_tsx(c->b->prm.stack),
							c->a_tsx)
				       : NULL;
	struct sip_tsx_reply_prm rp = {0};
	int err;

	if (!hd)
		return;
	if (hd->scode >= 200) { /* a 2xx (a_answered already) */
		held_2xx(c, hd, tsx);
		return;
	}
	if (!tsx || c->a_answered || c->state == B2BUA_STOP) {
		b2b_cfm_drop(c);
		return;
	}
	rp.hdrs = mb_pl(&hd->hdrs);
	rp.ctype = mb_pl(&hd->ctype);
	rp.body = mb_pl(&hd->body);
	if (c->prack) /* RFC 3262 */
		err = b2b_prack_1xx(c, tsx, hd->scode, hd->reason, &rp);
	else
		err = sip_stack_reply(c->b->prm.stack, tsx, hd->scode, hd->reason, &rp);
	if (!err)
		b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_OTHER, hd->scode);
	if (hd->scode == 180 || hd->scode == 183)
		b2b_state(c, B2BUA_RINGING);
	b2b_cfm_drop(c);
}

int b2b_cfm_hold(struct b2b_call *c, uint16_t scode, const char *reason,
		 const struct sip_tsx_reply_prm *rp, uint32_t delay_ms)
{
	struct b2b_cfm_held *hd;
	int err;

	b2b_cfm_drop(c); /* one held at a time: the newer replaces it */
	hd = calloc(1, sizeof(*hd));
	if (!hd)
		return ENOMEM;
	hd->t = loop_timer_alloc();
	hd->scode = scode;
	snprintf(hd->reason, sizeof(hd->reason), "%s", reason ? reason : "");
	mbuf_init(&hd->hdrs, SIP_MSG_MAX_UDP);
	mbuf_init(&hd->ctype, SIP_MSG_MAX_UDP);
	mbuf_init(&hd->body, SIP_MSG_MAX_HARD);
	err = hd->t ? 0 : ENOMEM;
	err = err ? err : mbuf_write(&hd->hdrs, rp->hdrs.p, rp->hdrs.l);
	err = err ? err : mbuf_write(&hd->ctype, rp->ctype.p, rp->ctype.l);
	err = err ? err : mbuf_write(&hd->body, rp->body.p, rp->body.l);
	c->cfm_held = hd;
	if (err) {
		b2b_cfm_drop(c);
		return err;
	}
	loop_timer_start(hd->t, delay_ms, held_h, c);
	return 0;
}

/* ---- requests inside the call: REINVITE, UPDATE, PRACK, CANCEL ---- */

/* The list of the side's dialog for a request received on it (rx) or
 * sent on it (tx): the MO dialog (side A) takes the callee's, the MT
 * dialog (side B) the caller's; the counterpart is the other party. */
static void side_match(const struct b2b_call *c, enum b2b_side dlg_side, bool rx,
		       const struct sip_msg *req, struct cfm_match *m, char imei[16])
{
	const struct b2b_leg *leg = c->win >= 0 ? &c->leg[c->win] : NULL;

	if (!leg && c->be_leg >= 0 && (size_t)c->be_leg < c->nlegs)
		leg = &c->leg[c->be_leg];
	m->dir = rx ? IMS_CFG_DIR_RX : IMS_CFG_DIR_TX;
	m->opts = dlg_side == B2B_A ? callee_opts(c, leg) : cfm_opts(c->orig, c->orig_impu);
	if (!m->opts)
		return;
	if (dlg_side == B2B_A) {
		m->peer_impu = c->from;
		m->peer_imei = cfm_imei_of(c->b->prm.reg, c->orig, &c->a_flow, imei);
		m->peer_rat = cfm_rat_of(rx ? req : c->a_inv);
	} else {
		m->peer_impu = c->to;
		m->peer_imei =
		    leg ? cfm_imei_of(c->b->prm.reg, leg->user, &leg->flow, imei) : NULL;
		m->peer_rat = rx ? cfm_rat_of(req) : 0;
	}
}

bool b2b_cfm_dlg_request(struct b2b_call *c, enum b2b_side from, struct sip_tsx *tsx,
			 const struct sip_msg *req, const struct ims_cfg_cfm **relay)
{
	enum b2b_side other = from == B2B_A ? B2B_B : B2B_A;
	struct cfm_match m = {0};
	const struct ims_cfg_cfm *cm;
	struct sip_tsx_reply_prm rp = {0};
	struct mbuf h, body;
	char imei[16], what[64];

	*relay = NULL;
	if (c->type != B2BUA_SERVER || c->state == B2BUA_STOP)
		return false;
	m.step = req->meth == SIP_METHOD_INVITE	  ? IMS_CFG_STEP_REINVITE
		 : req->meth == SIP_METHOD_UPDATE ? IMS_CFG_STEP_UPDATE
		 : req->meth == SIP_METHOD_PRACK  ? IMS_CFG_STEP_PRACK
		 : req->meth == SIP_METHOD_CANCEL ? IMS_CFG_STEP_CANCEL
						  : IMS_CFG_STEP_ANY;
	if (m.step == IMS_CFG_STEP_ANY)
		return false;
	/* received on its side's dialog, then to be sent on the other's */
	side_match(c, from, true, req, &m, imei);
	cm = find(c, &m);
	if (!cm) {
		side_match(c, other, false, req, &m, imei);
		cm = find(c, &m);
	}
	if (!cm)
		return false;
	snprintf(what, sizeof(what), "call %u: %.*s from the %s", c->index,
		 (int)req->method.l, req->method.p, from == B2B_A ? "caller" : "callee");
	cfm_log(cm, what);
	if (!cm->code) { /* its headers on the request imsd relays */
		*relay = cm;
		return false;
	}
	mbuf_init(&h, SIP_MSG_MAX_UDP);
	mbuf_init(&body, CFM_CONTENT_MAX);
	(void)cfm_hdrs_apply(cm, &h);
	rp.hdrs = (struct pl){(const char *)h.buf, h.end};
	if (cm->content && !cfm_content_read(cm, &body)) {
		rp.ctype = pl_from_str(cm->content_type);
		rp.body = (struct pl){(const char *)body.buf, body.end};
	}
	if (!sip_stack_reply(c->b->prm.stack, tsx, (uint16_t)cm->code, NULL, &rp))
		b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_OTHER, (uint16_t)cm->code);
	mbuf_reset(&h);
	mbuf_reset(&body);
	if (cm->stop) { /* the dialog stopped: BYE (or CANCEL before the answer) */
		snprintf(what, sizeof(what), "callflow_modifier: %d to the %s's %.*s",
			 cm->code, from == B2B_A ? "caller" : "callee", (int)req->method.l,
			 req->method.p);
		b2b_end_both(c, what);
	}
	return true;
}

void b2b_cfm_req_hdrs(const struct b2b_call *c, const struct ims_cfg_cfm *cm,
		      struct mbuf *hdrs)
{
	int err = cfm_hdrs_apply(cm, hdrs);

	if (err)
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "call %u: callflow_modifier custom_headers: %s", c->index,
			  strerror(err));
}

void b2b_cfm_cancel_hdrs(struct b2b_call *c, const struct ims_cfg_cfm *cm)
{
	struct mbuf h;
	int err;

	mbuf_init(&h, B2B_CANCEL_HDRS_MAX);
	err = c->cancel_hdrs ? mbuf_write(&h, c->cancel_hdrs, strlen(c->cancel_hdrs)) : 0;
	err = err ? err : cfm_hdrs_apply(cm, &h);
	err = err ? err : b2b_cancel_hdrs_set(c, (struct pl){(const char *)h.buf, h.end});
	if (err)
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "call %u: callflow_modifier custom_headers on the CANCEL: %s",
			  c->index, strerror(err));
	mbuf_reset(&h);
}
