/*
 * smsc_mo — MESSAGE requests from the phones (TS 24.341 §5.3.1.2 is the
 * phone's side; imsd plays the IP-SM-GW and SC of §5.3.3; docs/sms.md "MO"):
 *
 *   RP-DATA (SMS-SUBMIT)  202 Accepted, then RP-ACK in a new MESSAGE once
 *                         the SMS is queued and committed; RP-ERROR with
 *                         its cause instead when it cannot be taken
 *                         (TS 24.011 §7.3.3, §7.3.4, §8.2.5.4):
 *                            1  no user has the TP-DA
 *                           21  sms_message_filter rp_data: reject
 *                           22  a queue bound (SMSC_USER_PENDING_MAX)
 *                           95/96 an RP or TPDU that does not decode
 *                                 (the codec's cause; logged with the hex)
 *                           97  an RP message type a phone does not send
 *                         sms_forced_rp_cause replaces the cause of every
 *                         RP-ERROR sent (manual §5.2).
 *   RP-ACK / RP-ERROR     the phone's answer to a delivery (smsc_mt.c):
 *                         200 OK; sms_message_filter rp_ack applies
 *                         (ignore: answered, not acted on; reject: 403).
 *   RP-SMMA               202, RP-ACK, and the phone's queue is tried.
 *
 * A MESSAGE that no registered UE sent gets 403 (the CSCF stage refuses
 * those before they come here); another content type 415 with Accept
 * (RFC 3261 §21.4.13); a body that holds no RP-MR (under 2 octets) 400,
 * since there is nothing to answer an RP-ERROR to (TS 24.011 §9.3.1).
 */
#include "smsc/smsc_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "registrar/registrar.h"
#include "sip/sip_hdr.h"

#define SMSC_CTYPE "application/vnd.3gpp.sms"
/* Octets of a bad message the log shows. */
#define SMSC_LOG_HEX_MAX 64
#define SMSC_500_HDRS "Retry-After: 1\r\n"
/* Users one TP-DA may name (multi_sim entries sharing an IMPU). */
#define SMSC_DEST_MAX 16

static void mo_reply(struct smsc *s, const struct smsc_req *r, uint16_t scode,
		     const char *reason, const struct sip_tsx_reply_prm *prm)
{
	s->ops.reply(r->stack, r->tsx, scode, reason, prm, s->ops.arg);
}

static void mo_log_bad(const char *what, const uint8_t *p, size_t len,
		       const struct sms_err *e)
{
	char hex[2 * SMSC_LOG_HEX_MAX + 1];
	size_t n = len < SMSC_LOG_HEX_MAX ? len : SMSC_LOG_HEX_MAX;

	if (sms_hex_encode(p, n, hex, sizeof(hex)))
		hex[0] = '\0';
	log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
		  "sms: bad %s (%s at octet %u, RP cause %u): %s%s", what,
		  e->what ? e->what : "?", e->off, e->rp_cause, hex, n < len ? "..." : "");
}

/* The RP answer (n->ms) in a new MESSAGE to the phone's binding over the
 * request's flow. */
static void mo_rp_send(struct smsc *s, struct smsc_user *su, const struct net_flow *flow,
		       const struct sms_rp *rp)
{
	uint8_t buf[SMS_RP_MAX];
	size_t len;
	int err = sms_rp_encode(rp, buf, sizeof(buf), &len);

	if (!err)
		err = smsc_rp_send(s, su, flow, buf, len);
	if (err)
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "sms: %s to a phone not sent: %s", sms_rp_mti_name(rp->mti),
			  strerror(err));
}

/* 202, then RP-ERROR with cause (or sms_forced_rp_cause). */
static void mo_error(struct smsc *s, const struct smsc_req *r, struct smsc_user *su,
		     uint8_t mr, uint8_t cause)
{
	struct sms_rp rp;

	if (s->cfg->sms_forced_rp_cause)
		cause = s->cfg->sms_forced_rp_cause;
	s->stats.mo_refused++;
	mo_reply(s, r, 202, "Accepted", NULL);
	sms_rp_error_init(&rp, SMS_DIR_MT, mr, cause, NULL, 0);
	mo_rp_send(s, su, r->flow, &rp);
}

static void mo_ack(struct smsc *s, const struct smsc_req *r, struct smsc_user *su,
		   uint8_t mr)
{
	struct sms_rp rp;

	mo_reply(s, r, 202, "Accepted", NULL);
	sms_rp_ack_init(&rp, SMS_DIR_MT, mr, NULL, 0);
	mo_rp_send(s, su, r->flow, &rp);
}

/* TP-OA: the sender's MSISDN, from its tel IMPU (TS 23.040 §9.2.3.7),
 * else the user part of its asserted IMPU (alphanumeric when not digits). */
static void mo_sender(const struct smsc *s, const struct hss_user *u, uint32_t impu,
		      struct sms_addr *oa)
{
	char uri[HSS_URI_MAX], user[16];
	const char *p;
	size_t n;

	for (uint32_t i = 0; i < hss_user_impu_count(u); i++) {
		if (!hss_impu_uri(s->hss, u, i, uri, sizeof(uri)) && !strncmp(uri, "tel:", 4)) {
			uri[strcspn(uri, ";")] = '\0';
			if (!sms_addr_set(oa, uri + 4))
				return;
		}
	}
	if (impu == HSS_IMPU_NONE || hss_impu_uri(s->hss, u, impu, uri, sizeof(uri)))
		snprintf(uri, sizeof(uri), "sip:unknown");
	p = strchr(uri, ':') ? strchr(uri, ':') + 1 : uri;
	n = strcspn(p, "@;");
	if (n > 11) /* an alphanumeric TP-OA holds 11 characters */
		n = 11;
	snprintf(user, sizeof(user), "%.*s", (int)n, p);
	if (sms_addr_set(oa, user))
		*oa = s->sc;
}

/* The user and IMPU the TP-DA names: a registered one first (multi_sim). */
static size_t mo_dest_lookup(const struct smsc *s, const char *fmt, const char *num,
			     struct hss_impu_match *m)
{
	char uri[SMS_ADDR_VAL_MAX + 8];
	size_t n;

	snprintf(uri, sizeof(uri), fmt, num);
	n = hss_users_by_impu(s->hss, pl_from_str(uri), m, SMSC_DEST_MAX);
	return n > SMSC_DEST_MAX ? SMSC_DEST_MAX : n;
}

/* The user and IMPU the TP-DA names, as a tel URI (docs/hss.md: compared
 * by number); digits without an international type of number are tried as
 * they are, then as an international number (phones often send the
 * country code with TON unknown). A registered user first (multi_sim). */
static bool mo_dest(const struct smsc *s, const struct sms_addr *da,
		    struct hss_impu_match *out)
{
	struct hss_impu_match m[SMSC_DEST_MAX];
	char num[SMS_ADDR_VAL_MAX + 2];
	size_t n;

	if (sms_addr_ton(da) == SMS_TON_ALPHANUMERIC || !da->val[0])
		return false;
	sms_addr_format(da, num, sizeof(num));
	n = mo_dest_lookup(s, "tel:%s", num, m);
	if (!n && num[0] != '+')
		n = mo_dest_lookup(s, "tel:+%s", num, m);
	for (size_t i = 0; i < n; i++) {
		if (registrar_is_registered(s->reg, m[i].user)) {
			*out = m[i];
			return true;
		}
	}
	if (n)
		*out = m[0];
	return n > 0;
}

/* The same SMS-SUBMIT again: a phone that got no RP-ACK sends its RP-DATA
 * anew (TS 24.011 §5.3.2.1, TR1M) with the same TP-MR and TP-DA; it was
 * queued already, so it is acknowledged and not queued twice (TS 23.040
 * §9.2.3.25: the SC's duplicate check on TP-MR, TP-DA and the sender). */
static uint32_t mo_da_hash(const struct sms_tpdu *sub)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *p = sub->addr.val; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h;
}

static bool mo_duplicate(const struct smsc_user *su, const struct sms_tpdu *sub, int64_t now)
{
	return su->last_at && now - su->last_at <= SMSC_DUP_WINDOW_S &&
	       su->last_mr == sub->mr && su->last_da == mo_da_hash(sub);
}

/* Remembered once queued: a refused SMS sent again is not a duplicate. */
static void mo_queued(struct smsc_user *su, const struct sms_tpdu *sub, int64_t now)
{
	su->last_at = now;
	su->last_mr = sub->mr;
	su->last_da = mo_da_hash(sub);
}

/* The "SMS received" hook (manual §6 `sms` event); true: taken by it. */
static bool mo_hook(struct smsc *s, const struct sms_tpdu *sub, const struct sms_addr *oa,
		    int64_t now)
{
	char from[SMS_ADDR_VAL_MAX + 2], to[SMS_ADDR_VAL_MAX + 2];
	char text[4 * SMS_UD_SEPTETS_MAX + 1];
	struct smsc_event ev = {.sender = from, .destination = to, .dcs = sub->dcs,
				.date = now};
	size_t len;

	if (!s->hook)
		return false;
	sms_addr_format(oa, from, sizeof(from));
	sms_addr_format(&sub->addr, to, sizeof(to));
	if (!sms_tpdu_text(sub, text, sizeof(text), &len)) {
		ev.text = text;
	} else {
		ev.binary = sub->ud.data;
		ev.binary_len = sub->ud.data_len;
	}
	return s->hook(&ev, s->hook_arg);
}

/* The SMS-DELIVER for the submit, queued for the destination. */
static int mo_queue(struct smsc *s, const struct smsc_req *r, const struct sms_tpdu *sub,
		    const struct sms_addr *oa, const struct hss_impu_match *dst,
		    struct smsc_msg **mp)
{
	struct sms_deliver_prm dp = {.oa = oa, .scts = smsc_wall(s)};
	struct smsc_user *su = smsc_user_get(s, dst->user);
	uint8_t buf[SMS_TPDU_MAX];
	struct sms_tpdu dlv;
	struct smsc_msg *m;
	size_t len;
	int err;

	if (!su)
		return ENOMEM;
	err = sms_tpdu_deliver_from_submit(&dlv, sub, &dp);
	if (!err)
		err = sms_tpdu_encode(&dlv, buf, sizeof(buf), &len);
	if (err)
		return err;
	m = smsc_msg_new(s, buf, len);
	if (!m)
		return ENOMEM;
	m->dst_impu = dst->impu;
	m->created = dp.scts;
	m->expires = smsc_expiry(s, sub, dp.scts);
	m->not_before = dp.scts + smsc_delay_s(dst->user, dst->impu);
	m->orig = r->orig;
	m->orig_impu = r->orig_impu;
	m->submit_mr = sub->mr;
	m->srr = sub->srr;
	sms_addr_format(&sub->addr, m->ra, sizeof(m->ra));
	smsc_msg_enqueue(s, su, m);
	smsc_store_put(s, m);
	*mp = m;
	return 0;
}

/* 202 and RP-ACK once m is committed (at once without a state file). */
static void mo_ack_saved(struct smsc *s, const struct smsc_req *r, struct smsc_user *from,
			 uint8_t mr, struct smsc_msg *m)
{
	struct smsc_user *dst = NULL;
	struct smsc_held *h = calloc(1, sizeof(*h));
	struct sms_rp rp;
	size_t len;

	if (h)
		h->ids = malloc(sizeof(*h->ids));
	sms_rp_ack_init(&rp, SMS_DIR_MT, mr, NULL, 0);
	if (!h || !h->ids || sms_rp_encode(&rp, h->rp, sizeof(h->rp), &len)) {
		if (h)
			free(h->ids);
		free(h);
		/* cannot tie the answer to the commit: the SMS stays queued
		 * and the phone is not told it is saved */
		mo_reply(s, r, 500, "Server Internal Error",
			 &(struct sip_tsx_reply_prm){.hdrs = PL(SMSC_500_HDRS)});
		return;
	}
	h->rp_len = (uint8_t)len;
	h->tsx_id = r->tsx ? sip_tsx_id(r->tsx) : 0;
	h->uidx = hss_user_index(s->hss, from->u);
	h->flow = *r->flow;
	h->ids[0] = m->id;
	h->nids = 1;
	if (smsc_store_hold(s, h))
		return;
	/* no state file: the transaction is at hand */
	mo_reply(s, r, 202, "Accepted", NULL);
	if (smsc_rp_send(s, from, r->flow, h->rp, h->rp_len))
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "sms: RP-ACK to a phone not sent");
	free(h->ids);
	free(h);
	dst = smsc_user_at(s, m->uidx);
	if (dst)
		smsc_mt_try(s, dst);
}

static void mo_data(struct smsc *s, const struct smsc_req *r, struct smsc_user *su,
		    const struct sms_rp *rp)
{
	struct sms_tpdu_dec_prm dprm = {.dir = SMS_DIR_MO};
	struct smsc_user *dsu;
	struct hss_impu_match dst;
	struct smsc_msg *m = NULL;
	struct sms_err e = {0};
	struct sms_tpdu sub;
	struct sms_addr oa;
	int64_t now = smsc_wall(s);

	s->stats.mo++;
	switch (s->cfg->sms_message_filter[IMS_CFG_SMS_RP_DATA]) {
	case IMS_CFG_SMS_IGNORE:
		mo_reply(s, r, 202, "Accepted", NULL);
		return;
	case IMS_CFG_SMS_REJECT:
		mo_error(s, r, su, rp->mr, SMS_RP_CAUSE_SM_REJECTED);
		return;
	default:
		break;
	}
	if (sms_tpdu_decode(&sub, rp->ud, rp->ud_len, &dprm, &e)) {
		mo_log_bad("TPDU", rp->ud, rp->ud_len, &e);
		mo_error(s, r, su, rp->mr, e.rp_cause ? e.rp_cause : SMS_RP_CAUSE_SEMANTIC);
		return;
	}
	if (sub.type == SMS_TP_COMMAND) { /* nothing is kept to act on */
		mo_ack(s, r, su, rp->mr);
		return;
	}
	if (sub.type != SMS_TP_SUBMIT) {
		mo_error(s, r, su, rp->mr, SMS_RP_CAUSE_SEMANTIC);
		return;
	}
	mo_sender(s, r->orig, r->orig_impu, &oa);
	if (mo_hook(s, &sub, &oa, now) && s->cfg->sms_hook_only) {
		mo_ack(s, r, su, rp->mr);
		return;
	}
	if (mo_duplicate(su, &sub, now)) {
		log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
			  "sms: RP-DATA %u repeats TP-MR %u to %s: acknowledged, not queued again",
			  rp->mr, sub.mr, sub.addr.val);
		mo_ack(s, r, su, rp->mr);
		return;
	}
	if (!mo_dest(s, &sub.addr, &dst)) {
		mo_error(s, r, su, rp->mr, SMS_RP_CAUSE_UNASSIGNED_NUMBER);
		return;
	}
	dsu = smsc_user_get(s, dst.user);
	if (!dsu || dsu->npending >= SMSC_USER_PENDING_MAX ||
	    su->nsent >= SMSC_USER_PENDING_MAX) {
		mo_error(s, r, su, rp->mr, SMS_RP_CAUSE_MEMORY_EXCEEDED);
		return;
	}
	if (mo_queue(s, r, &sub, &oa, &dst, &m)) {
		mo_error(s, r, su, rp->mr, SMS_RP_CAUSE_RESOURCES_UNAVAILABLE);
		return;
	}
	mo_queued(su, &sub, now);
	mo_ack_saved(s, r, su, rp->mr, m);
}

/* The phone's RP-ACK / RP-ERROR for a delivery. */
static void mo_report(struct smsc *s, const struct smsc_req *r, struct smsc_user *su,
		      const struct sms_rp *rp)
{
	switch (s->cfg->sms_message_filter[IMS_CFG_SMS_RP_ACK]) {
	case IMS_CFG_SMS_IGNORE:
		mo_reply(s, r, 200, "OK", NULL);
		return;
	case IMS_CFG_SMS_REJECT:
		mo_reply(s, r, 403, "Forbidden - rejected by sms_message_filter", NULL);
		return;
	default:
		break;
	}
	mo_reply(s, r, 200, "OK", NULL);
	smsc_mt_ack(s, su, rp->mr, rp->mti == SMS_RP_ACK_MO, rp->cause);
}

static bool mo_ctype_ok(const struct sip_msg *req)
{
	const struct sip_hdr *h = sip_msg_hdr(req, SIP_HDR_CONTENT_TYPE);
	struct pl v;
	const char *semi;

	if (!h)
		return false;
	v = h->val;
	semi = memchr(v.p, ';', v.l);
	if (semi)
		v.l = (size_t)(semi - v.p);
	return pl_caseeq_str(pl_trim(v), SMSC_CTYPE);
}

void smsc_message(struct smsc *s, const struct smsc_req *r)
{
	const uint8_t *body;
	struct smsc_user *su;
	struct sms_err e = {0};
	struct sms_rp rp;

	if (!s || !r || !r->req)
		return;
	if (!r->orig || !r->flow) {
		mo_reply(s, r, 403, "Forbidden - not from a registered flow", NULL);
		return;
	}
	if (!mo_ctype_ok(r->req)) {
		mo_reply(s, r, 415, "Unsupported Media Type",
			 &(struct sip_tsx_reply_prm){.hdrs = PL("Accept: " SMSC_CTYPE "\r\n")});
		return;
	}
	su = smsc_user_get(s, r->orig);
	if (!su) {
		mo_reply(s, r, 500, "Server Internal Error", NULL);
		return;
	}
	body = (const uint8_t *)r->req->body.p;
	if (sms_rp_decode(&rp, body, r->req->body.l, &e)) {
		mo_log_bad("RP message", body, r->req->body.l, &e);
		if (e.mr_valid)
			mo_error(s, r, su, e.mr, e.rp_cause);
		else
			mo_reply(s, r, 400, "Bad Request - no RP message", NULL);
		return;
	}
	switch (rp.mti) {
	case SMS_RP_DATA_MO:
		mo_data(s, r, su, &rp);
		break;
	case SMS_RP_ACK_MO:
	case SMS_RP_ERROR_MO:
		mo_report(s, r, su, &rp);
		break;
	case SMS_RP_SMMA: /* TS 24.011 §7.3.2: memory available again */
		mo_ack(s, r, su, rp.mr);
		smsc_user_kick(s, su->u);
		break;
	default: /* a network-to-phone type */
		mo_error(s, r, su, rp.mr, SMS_RP_CAUSE_MTI_UNKNOWN);
		break;
	}
}

void smsc_held_release(struct smsc *s, struct smsc_held *h, int result)
{
	struct sip_tsx *tsx = s->ops.tsx_find(s->stack, h->tsx_id, s->ops.arg);
	struct smsc_user *su = smsc_user_at(s, h->uidx);
	struct sip_tsx_reply_prm busy = {.hdrs = PL(SMSC_500_HDRS)};
	int err = 0;

	if (result) {
		if (tsx)
			s->ops.reply(s->stack, tsx, 500, "Server Internal Error", &busy,
				     s->ops.arg);
	} else {
		if (tsx)
			s->ops.reply(s->stack, tsx, 202, "Accepted", NULL, s->ops.arg);
		err = su ? smsc_rp_send(s, su, &h->flow, h->rp, h->rp_len) : ENOENT;
	}
	if (err)
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "sms: RP-ACK to a phone not sent: %s", strerror(err));
	free(h->ids);
	free(h);
}
