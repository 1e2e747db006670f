/*
 * b2bua_cfm — callflow_modifier (manual §5.2.1, docs/callflow_modifier.md)
 * on the answers imsd sends the caller: INVITE.RINGING (180),
 * INVITE.SESSION_PROGRESS (183) and INVITE.OK (the final answer). Whose
 * list applies: the callee's (the MO dialog: the answer imsd sends, dir
 * tx; counterpart the caller), then the caller's (the MT dialog: the
 * callee's answer as imsd received it, dir rx; counterpart the callee).
 * The first modifier that applies adds its custom_headers to the answer,
 * replaces its body with its content (content null: removes a body of
 * content_type) and logs its `log`. Echo calls have no callee user: no
 * list applies.
 */
#include <stdio.h>
#include <string.h>

#include "b2bua/b2bua_int.h"
#include "cfm/cfm.h"
#include "core/log.h"

static const struct ims_cfg_cfm *answer_find(const struct b2b_call *c, uint16_t scode,
					     const struct sip_msg *resp)
{
	const struct b2b_leg *leg = c->win >= 0 ? &c->leg[c->win] : NULL;
	struct cfm_match m = {.step = cfm_step_of_invite_resp(scode)};
	const struct ims_cfg_cfm *cm;
	char imei[16];

	if (c->type == B2BUA_ECHO || m.step == IMS_CFG_STEP_ANY)
		return NULL;
	if (!leg && c->nlegs)
		leg = &c->leg[0];
	if (leg && leg->user) { /* MO: the callee's list */
		m.opts = hss_impu_opts(leg->user, leg->impu);
		m.dir = IMS_CFG_DIR_TX;
		m.peer_impu = c->from;
		m.peer_imei = cfm_imei_of(c->b->prm.reg, c->orig, &c->a_flow, imei);
		m.peer_rat = cfm_rat_of(c->a_inv);
		cm = cfm_find(&m);
		if (cm)
			return cm;
	}
	if (!c->orig)
		return NULL;
	m.opts = hss_impu_opts(c->orig, c->orig_impu); /* MT: the caller's */
	m.dir = IMS_CFG_DIR_RX;
	m.peer_impu = c->to;
	m.peer_imei = leg ? cfm_imei_of(c->b->prm.reg, leg->user, &leg->flow, imei) : NULL;
	m.peer_rat = cfm_rat_of(resp);
	return cfm_find(&m);
}

void b2b_cfm_answer(struct b2b_call *c, uint16_t scode, const struct sip_msg *resp,
		    struct mbuf *hdrs, struct mbuf *body, struct sip_tsx_reply_prm *rp)
{
	const struct ims_cfg_cfm *cm = answer_find(c, scode, resp);
	char what[48];
	int err;

	if (!cm)
		return;
	snprintf(what, sizeof(what), "call %u: %u to the caller", c->index, scode);
	cfm_log(cm, what);
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
			return;
		}
		rp->ctype = pl_from_str(cm->content_type);
		rp->body = (struct pl){(const char *)body->buf, body->end};
	} else if (cm->content_remove && pl_isset(rp->ctype) &&
		   pl_caseeq_str(rp->ctype, cm->content_type)) {
		rp->ctype = (struct pl)PL_INIT;
		rp->body = (struct pl)PL_INIT;
	}
}
