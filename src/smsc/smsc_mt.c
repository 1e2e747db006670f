/*
 * smsc_mt — delivery of the pending SMS to the phones (TS 24.341 §5.3.2,
 * the SC side of §5.3.3; docs/sms.md "MT"):
 *
 *   idle --head saved, delay over, a binding takes SMS--> in flight
 *        (RP-DATA n->ms in a MESSAGE to each binding whose Contact has
 *        +g.3gpp.smsip, RP-MR the user's next; TS 24.011 §7.3.1.1)
 *   in flight --RP-ACK with that RP-MR--> delivered: the SMS goes, a
 *        status report when TP-SRR asked (TS 23.040 §9.2.2.3), next head
 *   in flight --RP-ERROR, every MESSAGE answered with an error, or no
 *        RP-ACK in SMSC_ACK_TIMEOUT_MS--> failed: tried again after
 *        sms_retry_delay (none: at the next registration, RP-SMMA or
 *        sms_flush)
 *   in flight --refused here (no MESSAGE could be sent, or each failed
 *        with imsd's own 503: transaction bound, unproven address's
 *        budget, send error)--> tried again after SMSC_LOCAL_RETRY_MS,
 *        doubling to SMSC_LOCAL_RETRY_MAX_MS, or sms_retry_delay if
 *        sooner: the phone is registered, only imsd was short
 *   any --past its expiry--> dropped (status report TP-ST 0x46)
 *
 * RP-DA is empty: phones that find their own number there take the SMS
 * and never show it (field note 002). multi_sim: when the destination
 * IMPU has an imei, only bindings registered with that IMEI get it
 * (manual §5.2.1 `imei`).
 */
#include "smsc/smsc_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cfm/cfm.h"
#include "core/log.h"
#include "core/mbuf.h"
#include "registrar/registrar.h"

struct mt_target {
	char uri[512];
	struct net_flow flow;
};

struct mt_walk {
	char imei[15]; /* 14 digits the binding must have, "" any */
	struct mt_target t[REGISTRAR_BINDINGS_MAX];
	size_t n;
};

/* A binding that takes SMS (TS 24.341 §5.3.1.1: the UE registers with the
 * +g.3gpp.smsip feature tag, RFC 3840). */
static void mt_binding_h(const struct registrar_binding_info *b, void *arg)
{
	struct mt_walk *w = arg;
	struct pl params = b->contact;
	const char *gt = memchr(params.p, '>', params.l);

	if (w->n == REGISTRAR_BINDINGS_MAX)
		return;
	if (gt) /* the feature tags are Contact parameters, after the URI */
		params = (struct pl){gt, params.l - (size_t)(gt - params.p)};
	if (pl_casefind(params, "+g.3gpp.smsip") < 0)
		return;
	if (w->imei[0] && strcmp(w->imei, b->imei))
		return;
	if (pl_strcpy(b->uri, w->t[w->n].uri, sizeof(w->t[w->n].uri)))
		return;
	w->t[w->n].flow = b->flow;
	w->n++;
}

static void mt_walk_init(const struct smsc *s, const struct smsc_user *su,
			 const struct smsc_msg *m, struct mt_walk *w)
{
	const struct ims_cfg_impu *ci = hss_user_impu(su->u, m->dst_impu);

	memset(w, 0, sizeof(*w));
	(void)s;
	if (hss_user_cfg(su->u)->multi_sim && ci && ci->imei &&
	    hss_imei_parse(pl_from_str(ci->imei), w->imei))
		w->imei[0] = '\0';
}

/* The wait after the n-th refusal in a row by imsd itself. */
static uint64_t local_backoff(uint8_t n)
{
	uint64_t ms = (uint64_t)SMSC_LOCAL_RETRY_MS << (n < 16 ? n : 16);

	return ms < SMSC_LOCAL_RETRY_MAX_MS ? ms : SMSC_LOCAL_RETRY_MAX_MS;
}

/* local: no MESSAGE of the attempt left imsd (refused here), as opposed
 * to the phone's RP-ERROR, error answer or silence. */
static void mt_fail(struct smsc *s, struct smsc_user *su, const char *why, bool local)
{
	uint64_t delay = (uint64_t)s->cfg->sms_retry_delay * 1000u;
	const struct smsc_msg *m = su->inflight;

	if (!m)
		return;
	su->inflight = NULL;
	su->gen++; /* what the attempt's MESSAGEs still get is stale */
	s->stats.failed++;
	if (local) {
		uint64_t b = local_backoff(su->local_fails);

		if (su->local_fails < UINT8_MAX)
			su->local_fails++;
		delay = delay && delay < b ? delay : b;
	} else {
		su->local_fails = 0;
	}
	su->retry_at = delay ? smsc_now(s) + delay : UINT64_MAX;
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
		  "sms: message %llu to %s not delivered (%s): %s",
		  (unsigned long long)m->id, hss_user_impi(su->u) ? hss_user_impi(su->u) : "?",
		  why, delay ? "retried later" : "kept until the phone registers");
}

static void mt_resp_h(struct sip_tsx *tsx, const struct sip_msg *resp, uint16_t scode,
		      void *arg)
{
	struct smsc_try *t = arg;
	struct smsc *s = t->s;
	struct smsc_user *su = smsc_user_at(s, t->uidx);
	char why[48];

	(void)tsx;
	if (scode < 200)
		return;
	if (su && su->inflight && t->gen == su->gen && su->inflight->id == t->msg_id) {
		if (su->tries_live)
			su->tries_live--;
		if (scode < 300)
			su->tries_ok = true;
		/* a 503 without a response is the transaction layer's: the
		 * request never left, or its send failed (sip_tsx.h) */
		if (scode >= 300 && (resp || scode != 503))
			su->tries_remote = true;
		if (!su->tries_live && !su->tries_ok) {
			snprintf(why, sizeof(why), "MESSAGE answered %u%s", scode,
				 su->tries_remote ? "" : " here");
			mt_fail(s, su, why, !su->tries_remote);
		}
	}
	smsc_try_free(s, t);
}

/* The RP-DATA n->ms of m with RP-MR mr into buf. */
static int mt_rp_build(const struct smsc *s, const struct smsc_msg *m, uint8_t mr,
		       uint8_t *buf, size_t size, size_t *len)
{
	struct sms_rp rp;

	sms_rp_data_init(&rp, SMS_DIR_MT, mr, m->tpdu, m->tpdu_len);
	rp.oa = s->sc;
	rp.oa.present = true;
	memset(&rp.da, 0, sizeof(rp.da)); /* empty: field note 002 */
	return sms_rp_encode(&rp, buf, size, len);
}

/* callflow_modifier on the MESSAGE imsd sends the phone (MESSAGE, dir
 * tx): the recipient's own list (docs/callflow_modifier.md), logged. */
static const struct ims_cfg_cfm *mt_cfm(struct smsc *s, const struct smsc_user *su)
{
	const struct smsc_msg *m = su->inflight;
	struct cfm_match cm = {.step = IMS_CFG_STEP_MESSAGE, .dir = IMS_CFG_DIR_TX};
	const struct ims_cfg_cfm *mod;
	char to[HSS_URI_MAX], imei[16], what[64];

	cm.opts = hss_impu_opts(su->u, m->dst_impu);
	if (!cm.opts || !cm.opts->cfm_count || hss_impu_uri(s->hss, su->u, m->dst_impu, to,
							   sizeof(to)))
		return NULL;
	cm.peer_impu = to;
	cm.peer_imei = cfm_imei_of(s->reg, su->u, NULL, imei);
	mod = cfm_find(&cm);
	if (mod) {
		s->stats.cfm++;
		snprintf(what, sizeof(what), "MESSAGE %llu to send", (unsigned long long)m->id);
		cfm_log(mod, what);
	}
	return mod;
}

/* One MESSAGE of the attempt to binding t. */
static int mt_send_one(struct smsc *s, struct smsc_user *su, const struct mt_target *tg,
		       const uint8_t *rp, size_t len, const struct ims_cfg_cfm *cfm)
{
	const struct smsc_msg *m = su->inflight;
	const struct ims_cfg_impu_opts *o = hss_impu_opts(su->u, m->dst_impu);
	struct sip_stack_req_prm prm = {0};
	struct smsc_hdrs h = {0};
	char to[HSS_URI_MAX];
	struct smsc_try *t;
	struct mbuf mb;
	int err;

	err = hss_impu_uri(s->hss, su->u, m->dst_impu, to, sizeof(to));
	if (err)
		return err;
	h.ruri = pl_from_str(tg->uri);
	h.to = to;
	h.cfm = cfm;
	/* manual §5.2 p_called_party_id, §5.2.1 per IMPU (which forces it) */
	if (o && o->p_called_party_id)
		h.pcpi = o->p_called_party_id;
	else if (s->cfg->p_called_party_id)
		h.pcpi = to;
	mbuf_init(&mb, 8192);
	err = smsc_message_build(s, &mb, &h, rp, len);
	t = err ? NULL : smsc_try_new(s, hss_user_index(s->hss, su->u), m->id, su->gen);
	if (!err && !t)
		err = ENOMEM;
	if (!err) {
		prm.req = (struct pl){(const char *)mb.buf, mb.end};
		prm.dst = &tg->flow;
		prm.resp_h = mt_resp_h;
		prm.arg = t;
		err = s->ops.request(s->stack, &prm, s->ops.arg);
		if (err)
			smsc_try_free(s, t);
	}
	mbuf_reset(&mb);
	return err;
}

void smsc_mt_try(struct smsc *s, struct smsc_user *su)
{
	struct smsc_msg *m = su->head;
	const struct ims_cfg_cfm *cfm;
	uint8_t rp[SMS_RP_MAX];
	struct mt_walk w;
	char why[48];
	size_t len;

	if (su->inflight || !m || !m->saved || smsc_now(s) < su->retry_at ||
	    smsc_wall(s) < m->not_before)
		return;
	mt_walk_init(s, su, m, &w);
	registrar_bindings_foreach(s->reg, su->u, mt_binding_h, &w);
	su->waiting = w.n == 0;
	if (!w.n)
		return;
	if (mt_rp_build(s, m, su->rp_mr, rp, sizeof(rp), &len)) {
		log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
			  "sms: message %llu cannot be encoded: dropped",
			  (unsigned long long)m->id);
		smsc_msg_remove(s, su, m);
		return;
	}
	su->inflight = m;
	su->rp_mr_cur = su->rp_mr++;
	su->gen++;
	su->tries_live = 0;
	su->tries_ok = false;
	su->tries_remote = false;
	su->ack_due = smsc_now(s) + SMSC_ACK_TIMEOUT_MS;
	cfm = mt_cfm(s, su);
	if (cfm && cfm->code >= 300) { /* as if the phone had answered it */
		snprintf(why, sizeof(why), "callflow_modifier: answered %d", cfm->code);
		mt_fail(s, su, why, false);
		return;
	}
	for (size_t i = 0; i < w.n; i++) {
		if (!mt_send_one(s, su, &w.t[i], rp, len, cfm)) {
			su->tries_live++;
			s->stats.attempts++;
		}
	}
	if (!su->tries_live)
		mt_fail(s, su, "no MESSAGE could be sent", true);
}

void smsc_mt_ack(struct smsc *s, struct smsc_user *su, uint8_t mr, bool ok, uint8_t cause)
{
	struct smsc_msg *m = su->inflight;
	char why[64];

	if (!m || mr != su->rp_mr_cur) {
		log_write(LOG_IMS, LOG_LVL_DEBUG, LOG_DIR_NONE, NULL,
			  "sms: RP-%s with RP-MR %u matches no delivery in flight",
			  ok ? "ACK" : "ERROR", mr);
		return;
	}
	if (!ok) {
		snprintf(why, sizeof(why), "RP-ERROR cause %u", cause);
		mt_fail(s, su, why, false);
		return;
	}
	su->inflight = NULL;
	su->local_fails = 0;
	su->gen++;
	s->stats.delivered++;
	smsc_report(s, m, SMS_ST_DELIVERED);
	smsc_msg_remove(s, su, m);
	su->retry_at = 0;
	smsc_mt_try(s, su);
}

/* Drops what expired (saved ones only: an unsaved SMS is in a batch). */
static void mt_expire(struct smsc *s, struct smsc_user *su, int64_t wall)
{
	int64_t min = INT64_MAX;

	for (struct smsc_msg *m = su->head, *next; m; m = next) {
		next = m->next;
		if (m->expires > wall || !m->saved || m == su->inflight) {
			if (m->expires < min)
				min = m->expires;
			continue;
		}
		log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
			  "sms: message %llu expired undelivered",
			  (unsigned long long)m->id);
		s->stats.expired++;
		smsc_report(s, m, SMS_ST_PERM_VP_EXPIRED);
		smsc_msg_remove(s, su, m);
	}
	su->exp_min = min;
}

void smsc_mt_due(struct smsc *s, struct smsc_user *su, uint64_t now, int64_t wall)
{
	if (su->inflight && now >= su->ack_due)
		mt_fail(s, su, "no RP-ACK", false);
	if (wall >= su->exp_min)
		mt_expire(s, su, wall);
	if (!su->inflight && su->head)
		smsc_mt_try(s, su);
}
