/*
 * b2bua_fsm — a call's INVITE state machine across its two sides.
 *
 *   caller (A, server dialog)            imsd           callee bindings (B, mt)
 *   INVITE ─────────────────────────────► fork ─► INVITE to each binding (parallel)
 *                                         │  1xx (not 100) ─► relayed to A, with SDP
 *                                         │  first 2xx wins: CANCEL to the others
 *                                         │    (RFC 3261 §16.7 step 10) with
 *                                         │    Reason: SIP;cause=200;text="Call
 *                                         │    completed elsewhere" (RFC 3326 §2),
 *                                         │    200 to A
 *                                         │  6xx: CANCEL to the others, relayed
 *                                         │  all failed: the best final relayed
 *                                         │    (§16.7 step 6: a 6xx, else the
 *                                         │    lowest class), e.g. 486, 480
 *   ACK ─────────────────────────────────►│ ─► ACK to the winner (with A's body)
 *   no ACK within 64*T1 (Timer H) ──────► BYE on both sides
 *   CANCEL ──────────────────────────────► 200, 487 to A, CANCEL to the branches
 *                                            (with A's Reason lines, RFC 3326)
 *   nothing for Timer C (or dialog_timeout, the shorter) ► 408 to A, CANCEL
 *
 * States (manual §6): init ─1xx─► ringing ─2xx─► start ⇄ hold (re-INVITE) ─► stop.
 * A branch that never sent a provisional cannot be CANCELled (§9.1): it is
 * when its first provisional comes, and a late 2xx on any losing branch is
 * ACKed and ended with BYE (§16.7 step 10's race).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "b2bua/b2bua_int.h"
#include "cfm/cfm.h"
#include "core/log.h"
#include "core/mem.h"
#include "registrar/registrar.h"
#include "sip/sip_hdr.h"

/* ---- the fork ---- */

struct fork_ctx {
	struct b2b_call *c;
	struct hss_user *user;
	uint32_t impu;
	const char *imei; /* the IMPU's multi_sim imei filter, NULL none */
	int err;
	struct b2b_sdp_err sdp_err;
};

/* manual §5.2.1 multi_sim: a binding reaches the user whose IMPU names its
 * device's IMEI (TAC and SNR, 14 digits, compared as hss_user_pick_imei
 * does); a binding or an IMPU without one is not filtered. */
static bool imei_ok(const char *want, const char *have)
{
	char digits[15];

	if (!want || !want[0] || !have || !have[0] ||
	    hss_imei_parse(pl_from_str(want), digits))
		return true;
	return !strncmp(digits, have, 14);
}

static void fork_binding_h(const struct registrar_binding_info *bi, void *arg)
{
	struct fork_ctx *f = arg;
	struct b2b_call *c = f->c;
	struct b2b_leg *leg;
	struct sip_decode_prm dp = {.max_size = SIP_MSG_MAX_HARD};
	struct sip_stack_req_prm rp = {0};
	struct sip_tsx *tsx = NULL;
	char callid[128];
	const char *at;
	struct mbuf mb;
	int err;

	if (c->nlegs >= B2BUA_LEGS_MAX || !imei_ok(f->imei, bi->imei) ||
	    c->sdp_state < 0 || !b2b_mt_binding_ok(c, bi->uri))
		return;
	leg = &c->leg[c->nlegs];
	memset(leg, 0, sizeof(*leg));
	leg->user = f->user;
	leg->impu = f->impu;
	leg->flow = bi->flow;
	if (b2b_media_branch(c, leg, &f->sdp_err))
		return;
	at = strchr(c->callid_b, '@');
	snprintf(callid, sizeof(callid), "%.*s-%zu%s",
		 (int)(at ? at - c->callid_b : (long)strlen(c->callid_b)), c->callid_b,
		 c->nlegs, at ? at : "");
	mbuf_init(&mb, SIP_MSG_MAX_HARD);
	err = b2b_invite_build(c, leg, &mb, bi->uri, callid);
	err = err ? err : sip_msg_decode_copy(&leg->inv, mb.buf, mb.end, &dp);
	if (!err) {
		rp.req = (struct pl){(const char *)mb.buf, mb.end};
		rp.dst = &leg->flow;
		rp.resp_h = b2b_invite_resp_h;
		rp.arg = c;
		err = sip_stack_request(c->b->prm.stack, &rp, &tsx);
	}
	if (!err)
		err = b2b_tx_add(c, tsx, B2B_TX_INVITE, (uint8_t)c->nlegs, 0,
				 SIP_METHOD_INVITE);
	mbuf_reset(&mb);
	if (err) {
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "call %u: cannot send the INVITE to %.*s: %s", c->index,
			  (int)bi->uri.l, bi->uri.p, strerror(err));
		if (tsx)
			sip_tsx_terminate(tsx);
		mem_deref(leg->inv);
		leg->inv = NULL;
		f->err = err;
		return;
	}
	leg->ict_id = sip_tsx_id(tsx);
	b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_INVITE, 0);
	c->nlegs++;
}

int b2b_fork(struct b2b_call *c, const struct hss_impu_match *term, size_t nterm,
	     uint16_t *scode, const char **reason)
{
	bool registered = false;
	struct fork_ctx f = {.c = c};

	for (size_t i = 0; i < nterm; i++) {
		if (!registrar_is_registered(c->b->prm.reg, term[i].user))
			continue;
		registered = true;
		c->cfm_inv = c->cfm_invs ? c->cfm_invs[i] : NULL; /* callflow_modifier */
		f.user = term[i].user;
		f.impu = term[i].impu;
		f.imei = hss_user_impu(term[i].user, term[i].impu)->imei;
		registrar_bindings_foreach(c->b->prm.reg, term[i].user, fork_binding_h,
					   &f);
	}
	c->cfm_inv = NULL;
	*scode = 0;
	*reason = NULL;
	if (!registered) {
		*scode = 480; /* TS 24.229 §5.4.3.3: not registered */
		*reason = "Temporarily Unavailable";
	} else if (c->sdp_state < 0) {
		*scode = f.sdp_err.scode; /* 400, 488, 503: the caller's SDP */
		*reason = f.sdp_err.reason;
	} else if (!c->nlegs) {
		*scode = f.err ? 503 : 480;
		*reason = f.err ? "Service Unavailable" : "Temporarily Unavailable";
	}
	return 0;
}

/* ---- answers to the caller ---- */

static int confirm_a(struct b2b_call *c)
{
	static const char ok[] = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
	struct sip_msg *m = NULL;
	int err;

	err = sip_msg_decode_copy(&m, ok, sizeof(ok) - 1, NULL);
	if (!err)
		err = sip_dialog_confirm(c->a, m);
	mem_deref(m);
	return err;
}

/* The server dialog, from the caller's INVITE and the To tag our answers
 * carry (RFC 3261 §12.1.1), once a 1xx with a tag or a 2xx goes. */
static int a_dialog(struct b2b_call *c, struct sip_tsx *tsx, bool early)
{
	struct sip_dialog_uas_prm up = {0};
	struct sip_dialog_owner own = b2b_owner_tmpl;
	int err;

	if (c->a)
		return early ? 0 : confirm_a(c);
	up.req = c->a_inv;
	up.local_tag = sip_tsx_to_tag(tsx);
	up.flow = &c->a_flow;
	up.early = early;
	err = sip_dialog_uas_alloc(&c->a, &up);
	if (err)
		return err;
	own.arg = c->b;
	own.obj = c;
	err = sip_dialogs_add(sip_stack_dialogs(c->b->prm.stack), c->a, &own);
	if (err) {
		mem_deref(c->a);
		c->a = NULL;
	}
	return err;
}

void b2b_answer_a(struct b2b_call *c, uint16_t scode, const char *reason,
		  const struct sip_msg *resp, const struct mbuf *sdp)
{
	struct sip_tsx *tsx =
	    c->a_tsx ? sip_tsx_lookup(sip_stack_tsx(c->b->prm.stack), c->a_tsx) : NULL;
	const struct b2b_leg *leg = c->win >= 0 ? &c->leg[c->win] : NULL;
	const struct sip_hdr *ct = resp ? sip_msg_hdr(resp, SIP_HDR_CONTENT_TYPE) : NULL;
	struct sip_tsx_reply_prm rp = {0};
	struct mbuf h, cbody;
	uint32_t delay;
	int err = 0;

	if (!tsx || c->a_answered)
		return;
	mbuf_init(&h, SIP_MSG_MAX_UDP);
	mbuf_init(&cbody, CFM_CONTENT_MAX);
	if (scode > 100 && scode < 300) {
		err = a_dialog(c, tsx, scode < 200);
		if (!leg && c->nlegs)
			leg = &c->leg[0];
		err =
		    err ? err
			: b2b_resp_hdrs(c, c->type == B2BUA_ECHO ? NULL : leg, resp, &h);
		if (!err && scode >= 200) /* RFC 4028 §9 (b2bua_st.c) */
			err = b2b_st_resp_hdrs(c, B2B_A, resp, &h);
	} else if (resp) {
		err = b2b_hdrs_copy(&h, resp, true);
	}
	if (err)
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "call %u: answer %u to the caller: %s", c->index, scode,
			  strerror(err));
	rp.hdrs = (struct pl){(const char *)h.buf, h.end};
	if (sdp && sdp->end) { /* imsd's (the relay's rewrite) */
		rp.ctype = ct && resp->body.l ? ct->val : PL("application/sdp");
		rp.body = (struct pl){(const char *)sdp->buf, sdp->end};
	} else if (ct && resp->body.l && !sdp) {
		rp.ctype = ct->val;
		rp.body = resp->body;
	}
	delay = b2b_cfm_answer(c, scode, resp, &h, &cbody, &rp); /* callflow_modifier */
	if (scode < 200 && delay && !b2b_cfm_hold(c, scode, reason, &rp, delay)) {
		mbuf_reset(&h);
		mbuf_reset(&cbody);
		return;
	}
	if (scode >= 200)
		b2b_cfm_drop(c); /* a provisional after the final would be late */
	if (scode >= 200 && scode < 300 && b2b_prack_hold_2xx(c, scode)) {
		c->a_answered = true; /* sent at the PRACK (b2bua_prack.c) */
		b2b_2xx_keep(c, &rp);
		mbuf_reset(&h);
		mbuf_reset(&cbody);
		return;
	}
	if (scode >= 200) {
		b2b_prack_final(c);
		c->a_answered = true;
		if (scode < 300) /* kept for the 2xx retransmissions */
			b2b_2xx_keep(c, &rp);
	}
	/* callflow_modifier INVITE.OK send_delay: the 2xx held (b2bua_cfm.c) */
	if (scode >= 200 && scode < 300 && delay && c->state != B2BUA_STOP &&
	    !b2b_cfm_hold(c, scode, reason, &rp, delay)) {
		mbuf_reset(&h);
		mbuf_reset(&cbody);
		return;
	}
	if (scode > 100 && scode < 200 && c->prack) /* RFC 3262 */
		err = b2b_prack_1xx(c, tsx, scode, reason, &rp);
	else
		err = sip_stack_reply(c->b->prm.stack, tsx, scode, reason, &rp);
	if (!err)
		b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_OTHER, scode);
	if (scode == 180 || scode == 183)
		b2b_state(c, B2BUA_RINGING);
	mbuf_reset(&h);
	mbuf_reset(&cbody);
}

/* ---- the branches ---- */

static void cancel_resp_h(struct sip_tsx *tsx, const struct sip_msg *resp, uint16_t scode,
			  void *arg)
{
	(void)tsx;
	(void)resp;
	(void)scode;
	(void)arg; /* the INVITE's 487 is what counts */
}

int b2b_cancel_hdrs_set(struct b2b_call *c, struct pl hdrs)
{
	if (c->cancel_hdrs)
		return EALREADY;
	if (!hdrs.l || hdrs.l > B2B_CANCEL_HDRS_MAX)
		return 0;
	c->cancel_hdrs = pl_strdup(hdrs);
	return c->cancel_hdrs ? 0 : ENOMEM;
}

/* The CANCEL of a branch's INVITE (RFC 3261 §9.1), with c->cancel_hdrs
 * before its empty line when set (the stack's CANCEL has no body). */
static int cancel_send(struct b2b_call *c, struct sip_tsx *ict)
{
	struct sip_tsx_req_prm tp = {0};
	struct sip_tsx *tsx = NULL;
	struct mbuf mb, out;
	int err;

	if (!c->cancel_hdrs)
		return sip_stack_cancel(c->b->prm.stack, ict, cancel_resp_h, c);
	mbuf_init(&mb, SIP_MSG_MAX_HARD);
	mbuf_init(&out, SIP_MSG_MAX_HARD);
	err = sip_tsx_cancel_build(&mb, ict);
	if (!err && (mb.end < 4 || memcmp(mb.buf + mb.end - 4, "\r\n\r\n", 4)))
		err = EBADMSG;
	err = err ? err : mbuf_write(&out, mb.buf, mb.end - 2);
	err = err ? err : mbuf_write(&out, c->cancel_hdrs, strlen(c->cancel_hdrs));
	err = err ? err : mbuf_write(&out, "\r\n", 2);
	if (!err) {
		tp.req = (struct pl){(const char *)out.buf, out.end};
		tp.dst = sip_tsx_dst(ict);
		tp.resp_h = cancel_resp_h;
		tp.arg = c;
		err = sip_tsx_request(&tsx, sip_stack_tsx(c->b->prm.stack), &tp);
	}
	mbuf_reset(&mb);
	mbuf_reset(&out);
	return err;
}

static void leg_cancel(struct b2b_call *c, size_t i)
{
	struct b2b_leg *leg = &c->leg[i];
	struct sip_tsx *ict;

	if (leg->done || leg->cancelled || (int)i == c->win)
		return;
	leg->cancel = true;
	if (leg->scode < 101) /* §9.1: not before a provisional */
		return;
	ict = sip_tsx_lookup(sip_stack_tsx(c->b->prm.stack), leg->ict_id);
	if (!ict)
		return;
	leg->cancelled = true;
	if (cancel_send(c, ict) == 0)
		b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_CANCEL, 0);
}

void b2b_cancel_legs(struct b2b_call *c)
{
	for (size_t i = 0; i < c->nlegs; i++)
		leg_cancel(c, i);
}

/* §16.7 step 6: a 6xx, else the lowest class (503 counts as 500). */
static void best_note(struct b2b_call *c, uint16_t scode, const struct sip_msg *resp)
{
	bool better =
	    !c->best || scode >= 600 || (c->best < 600 && scode / 100 < c->best / 100);

	if (!better)
		return;
	c->best = scode;
	if (resp)
		pl_strcpy(resp->reason, c->best_reason, sizeof(c->best_reason));
	else
		snprintf(c->best_reason, sizeof(c->best_reason), "%s",
			 scode == 408	? "Request Timeout"
			 : scode == 422 ? "Session Interval Too Small"
					: "Service Unavailable");
}

/* A 2xx on a branch that lost (or after the call ended): ACK it and end
 * that dialog with BYE (§16.7 step 10's race, §13.2.2.4). */
static void late_2xx(struct b2b_call *c, struct b2b_leg *leg, const struct sip_msg *resp)
{
	struct sip_dialog_uac_prm up = {
	    .req = leg->inv, .resp = resp, .flow = &leg->flow};
	struct sip_dialog_req_prm rq = {0};
	struct sip_stack_req_prm rp = {0};
	struct sip_dialog *d = NULL;
	struct mbuf mb;

	if (!leg->inv || sip_dialog_uac_alloc(&d, &up))
		return;
	mbuf_init(&mb, SIP_MSG_MAX_UDP);
	rq.method = PL("ACK");
	if (!sip_dialog_req_build(d, &mb, &rq))
		(void)sip_stack_ack(c->b->prm.stack,
				    (struct pl){(const char *)mb.buf, mb.end},
				    &leg->flow);
	mbuf_clear(&mb);
	rq.method = PL("BYE");
	if (!sip_dialog_req_build(d, &mb, &rq)) {
		rp.req = (struct pl){(const char *)mb.buf, mb.end};
		rp.dst = &leg->flow;
		rp.resp_h = cancel_resp_h;
		(void)sip_stack_request(c->b->prm.stack, &rp, NULL);
	}
	mbuf_reset(&mb);
	mem_deref(d);
}

/* A relayed final failure (leg_final), or the modifier's code. */
static void fail_a(struct b2b_call *c, struct b2b_leg *leg, const char *reason,
		   const struct sip_msg *resp)
{
	const struct ims_cfg_cfm *cm = b2b_cfm_final(c, leg, c->best, resp);

	if (cm) {
		b2b_cfm_in_place(c, cm, c->best);
		return;
	}
	b2b_answer_a(c, c->best, reason, resp, NULL);
}

static void leg_won(struct b2b_call *c, size_t i, const struct sip_msg *resp)
{
	struct b2b_leg *leg = &c->leg[i];
	struct sip_dialog_uac_prm up = {
	    .req = leg->inv, .resp = resp, .flow = &leg->flow};
	struct sip_dialog_owner own = b2b_owner_tmpl;
	const struct sip_hdr *cid = sip_msg_hdr(leg->inv, SIP_HDR_CALL_ID);
	struct b2b_sdp_err e;
	struct mbuf sdp;
	int err;

	/* callflow_modifier: a code in place of the 2xx (mt_call too) */
	const struct ims_cfg_cfm *cm = b2b_cfm_final(c, leg, resp->scode, resp);

	if (cm) { /* the callee's dialog ends at once (ACK, BYE) */
		leg->done = true;
		late_2xx(c, leg, resp);
		b2b_cfm_in_place(c, cm, resp->scode);
		return;
	}
	mbuf_init(&sdp, SIP_MSG_MAX_HARD);
	c->win = (int)i;
	leg->done = true;
	err = sip_dialog_uac_alloc(&c->bd, &up);
	if (!err)
		b2b_early_won(c, i); /* before the table takes bd */
	own.arg = c->b;
	own.obj = c;
	err =
	    err ? err : sip_dialogs_add(sip_stack_dialogs(c->b->prm.stack), c->bd, &own);
	if (err) {
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "call %u: the callee's 2xx makes no dialog: %s", c->index,
			  strerror(err));
		mem_deref(c->bd);
		c->bd = NULL;
		late_2xx(c, leg, resp);
		b2b_cancel_legs(c);
		b2b_answer_a(c, 500, "Server Internal Error", NULL, NULL);
		b2b_stop(c, "the callee's 2xx made no dialog");
		mbuf_reset(&sdp);
		return;
	}
	if (cid) {
		free(c->callid_b);
		c->callid_b = pl_strdup(cid->val);
	}
	(void)b2b_cancel_hdrs_set(c, PL(B2B_REASON_ELSEWHERE));
	b2b_cancel_legs(c);
	loop_timer_cancel(c->t_ring);
	b2b_media_leg_b(c, leg);
	b2b_st_answered(c, resp); /* RFC 4028 §7.2 (b2bua_st.c) */
	if (c->type == B2BUA_MT) { /* no caller to answer: b2bua_mt.c */
		b2b_mt_won(c, resp);
		mbuf_reset(&sdp);
		return;
	}
	b2b_early_media_open(c, leg);
	mbuf_clear(&sdp);
	if (b2b_media_won(c, i, resp, &sdp) || b2b_media_repeat(c, i, resp, &sdp)) {
		/* the session the early dialog's offer/answer set, repeated
		 * (RFC 3261 §13.2.1): the caller gets again what it has, or,
		 * forking, the answering branch's (the relay's callee side
		 * moved back to it) */
		b2b_answer_a(c, resp->scode, "OK", resp, &sdp);
		mbuf_reset(&sdp);
		b2b_state(c, B2BUA_START);
		b2b_ack_wait_start(c, B2B_A, c->a_tsx);
		return;
	}
	err = b2b_media_sdp(c, B2B_B, !c->a_offer, resp, &sdp, &e);
	if (err && err != ENOENT) {
		/* an answer the relay cannot take: the callee's dialog ends, the
		 * caller gets the status */
		late_2xx(c, leg, resp);
		b2b_answer_a(c, e.scode, e.reason, NULL, NULL);
		b2b_stop(c, "the callee's SDP cannot be relayed");
		mbuf_reset(&sdp);
		return;
	}
	b2b_answer_a(c, resp->scode, "OK", resp, err ? NULL : &sdp);
	mbuf_reset(&sdp);
	b2b_state(c, B2BUA_START);
	b2b_ack_wait_start(c, B2B_A, c->a_tsx);
}

static void leg_final(struct b2b_call *c, size_t i, uint16_t scode,
		      const struct sip_msg *resp)
{
	struct b2b_leg *leg = &c->leg[i];

	leg->done = true;
	leg->scode = scode;
	b2b_early_leg_end(c, i);
	if (c->state == B2BUA_STOP || c->win >= 0 || c->a_answered)
		return;
	best_note(c, scode, resp);
	if (scode >= 600) { /* §16.7 step 5: a 6xx ends every branch */
		b2b_cancel_legs(c);
		loop_timer_cancel(c->t_ring);
		fail_a(c, leg, c->best_reason, resp);
		b2b_stop(c, "6xx from the callee");
		return;
	}
	/* the answer relayed keeps the callee's headers (Retry-After...) */
	for (size_t j = 0; j < c->nlegs; j++)
		if (!c->leg[j].done)
			return;
	loop_timer_cancel(c->t_ring);
	fail_a(c, leg, c->best_reason, c->best == scode ? resp : NULL);
	b2b_stop(c, "no branch answered");
}

/* A provisional relayed to the caller: its SDP (early media) through the
 * relay; one the relay cannot take goes without its body. */
static void provisional_a(struct b2b_call *c, struct b2b_leg *leg,
			  const struct sip_msg *resp)
{
	struct b2b_sdp_err e;
	struct mbuf sdp;
	int err;

	if (b2b_cfm_provisional(c, leg, resp)) /* callflow_modifier's code */
		return;
	if (c->type == B2BUA_MT) { /* nothing to relay: imsd is the caller */
		b2b_state(c, B2BUA_RINGING);
		return;
	}
	mbuf_init(&sdp, SIP_MSG_MAX_HARD);
	b2b_media_leg_b(c, leg);
	err = b2b_media_sdp(c, B2B_B, !c->a_offer, resp, &sdp, &e);
	if (err == ENOENT)
		b2b_answer_a(c, resp->scode, NULL, resp, NULL);
	else
		b2b_answer_a(c, resp->scode, NULL, resp, &sdp); /* empty on error */
	mbuf_reset(&sdp);
}

/* The branch's INVITE again after its 422 (RFC 4028 §7.4): the same
 * request (RFC 3261 §8.1.3.5: Call-ID, From, To), CSeq one more, the new
 * Session-Expires and Min-SE lines in se instead of the old ones. */
static int leg_resend(struct b2b_call *c, size_t i, const struct mbuf *se)
{
	struct b2b_leg *leg = &c->leg[i];
	struct sip_decode_prm dp = {.max_size = SIP_MSG_MAX_HARD};
	const struct sip_cseq *cs = sip_msg_cseq(leg->inv);
	struct sip_stack_req_prm rp = {0};
	struct sip_msg *inv = NULL;
	struct sip_tsx *tsx = NULL;
	struct pl raw = leg->inv->raw;
	size_t hend = raw.l - leg->inv->body.l;
	struct mbuf mb;
	int err = cs ? 0 : EBADMSG;

	mbuf_init(&mb, SIP_MSG_MAX_HARD);
	for (size_t k = 0; k < hend && !err;) {
		const char *nl = memchr(raw.p + k, '\n', hend - k);
		struct pl l = {raw.p + k, nl ? (size_t)(nl - raw.p) + 1 - k : hend - k};

		k += l.l;
		if (l.l > 5 && !strncasecmp(l.p, "CSeq:", 5))
			err = mbuf_printf(&mb, "CSeq: %u INVITE\r\n", cs->num + 1);
		else if ((l.l > 16 && !strncasecmp(l.p, "Session-Expires:", 16)) ||
			 (l.l > 7 && !strncasecmp(l.p, "Min-SE:", 7)))
			continue;
		else if (l.l <= 2 && k == hend) /* the empty line: ours before it */
			err = mbuf_write(&mb, se->buf, se->end) ? ENOMEM
							       : mbuf_write_pl(&mb, l);
		else
			err = mbuf_write_pl(&mb, l);
	}
	err = err ? err : mbuf_write_pl(&mb, leg->inv->body);
	err = err ? err : sip_msg_decode_copy(&inv, mb.buf, mb.end, &dp);
	if (!err) {
		rp.req = (struct pl){(const char *)mb.buf, mb.end};
		rp.dst = &leg->flow;
		rp.resp_h = b2b_invite_resp_h;
		rp.arg = c;
		err = sip_stack_request(c->b->prm.stack, &rp, &tsx);
	}
	if (!err && tsx)
		err = b2b_tx_add(c, tsx, B2B_TX_INVITE, (uint8_t)i, 0, SIP_METHOD_INVITE);
	else if (!err)
		err = EIO;
	if (err || !tsx) {
		if (tsx)
			sip_tsx_terminate(tsx);
		mem_deref(inv);
	} else {
		mem_deref(leg->inv);
		leg->inv = inv;
		leg->ict_id = sip_tsx_id(tsx);
		b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_INVITE, 0);
	}
	mbuf_reset(&mb);
	return err;
}

static void leg_final(struct b2b_call *c, size_t i, uint16_t scode,
		      const struct sip_msg *resp);

/* The branches' INVITEs again, once the stack ACKed their 422s. */
static void retry_h(void *arg)
{
	struct b2b_call *c = arg;
	struct mbuf se;

	mbuf_init(&se, 256);
	for (size_t i = 0; i < c->nlegs; i++) {
		if (!(c->retry_legs & (1u << i)))
			continue;
		c->retry_legs &= (uint16_t)~(1u << i);
		if (c->state == B2BUA_STOP || c->leg[i].done)
			continue;
		mbuf_clear(&se);
		if (c->leg[i].cancel || c->win >= 0 || c->a_answered ||
		    b2b_st_se_lines(c, &se) || leg_resend(c, i, &se))
			leg_final(c, i, 422, NULL);
	}
	mbuf_reset(&se);
}

/* A 422 of branch i: true when its INVITE goes again with the larger
 * Min-SE (once per branch; the 422 is not the branch's final then), once
 * the stack has ACKed the 422 (when this handler returns). */
static bool leg_422(struct b2b_call *c, size_t i, const struct sip_msg *resp)
{
	struct b2b_leg *leg = &c->leg[i];

	if (leg->st_retried || !leg->inv || c->state == B2BUA_STOP || c->win >= 0 ||
	    c->a_answered || leg->cancel)
		return false;
	leg->st_retried = true;
	if (b2b_st_retry_422(c, resp))
		return false;
	c->retry_legs |= (uint16_t)(1u << i);
	loop_timer_start(c->t_retry, 0, retry_h, c);
	return true;
}

void b2b_invite_resp_h(struct sip_tsx *tsx, const struct sip_msg *resp, uint16_t scode,
		       void *arg)
{
	struct b2b_call *c = arg;
	struct b2b_tx *x = b2b_tx_find(c, tsx);
	struct b2b_leg *leg;
	size_t i;

	if (!x)
		x = b2b_tx_adopt(c, tsx, resp, B2B_TX_INVITE);

	if (!x || x->kind != B2B_TX_INVITE || x->leg >= c->nlegs)
		return;
	i = x->leg;
	leg = &c->leg[i];
	b2b_event(c, B2BUA_EV_RECV, SIP_METHOD_OTHER, scode);
	if (scode > 100 && scode < 200 && !leg->done) {
		leg->scode = scode;
		if (leg->cancel && !leg->cancelled) {
			leg_cancel(c, i);
			return;
		}
		if (c->state == B2BUA_STOP || c->win >= 0 || c->a_answered)
			return;
		b2b_touch(c);
		b2b_ring_timer_start(c); /* §16.7 step 2: Timer C again */
		if (b2b_early_1xx(c, i, resp))
			return; /* a reliable 1xx again (RFC 3262 §4): not relayed */
		provisional_a(c, leg, resp);
		b2b_early_media_gate(c, leg);
		return;
	}
	if (scode < 200)
		return;
	if (scode < 300 && resp) {
		if ((int)i == c->win) { /* a retransmission: our ACK again */
			if (c->aw.acked && c->aw.ack.end)
				(void)sip_stack_ack(
				    c->b->prm.stack,
				    (struct pl){(const char *)c->aw.ack.buf,
						c->aw.ack.end},
				    &leg->flow);
			return;
		}
		if (c->state == B2BUA_STOP || c->win >= 0 || c->a_answered) {
			leg->done = true;
			late_2xx(c, leg, resp);
			return;
		}
		b2b_touch(c);
		leg_won(c, i, resp);
		return;
	}
	if (x->final)
		return; /* a transaction of the branch sent again after its 422 */
	if (scode == 422 && !leg->done && leg_422(c, i, resp)) {
		x->final = true; /* RFC 4028 §7.4: tried again, larger Min-SE */
		return;
	}
	if (!leg->done)
		leg_final(c, i, scode, resp);
}

/* ---- timers ---- */

static void ring_h(void *arg)
{
	struct b2b_call *c = arg;

	if (c->a_answered || c->state == B2BUA_STOP)
		return;
	b2b_cancel_legs(c);
	b2b_answer_a(c, 408, "Request Timeout", NULL, NULL);
	b2b_stop(c, "no answer (Timer C / dialog_timeout)");
}

void b2b_ring_timer_start(struct b2b_call *c)
{
	uint64_t ms = c->b->prm.timer_c_ms;
	const struct ims_cfg *cfg = c->b->prm.cfg;

	if (cfg && cfg->dialog_timeout && (uint64_t)cfg->dialog_timeout * 1000 < ms)
		ms = (uint64_t)cfg->dialog_timeout * 1000;
	loop_timer_start(c->t_ring, ms, ring_h, c);
}

static void ack_timer_h(void *arg)
{
	struct b2b_call *c = arg;
	uint32_t t1 = b2b_t1(c), t2 = c->b->prm.cfg ? c->b->prm.cfg->timer_t2_ms : 4 * t1;
	struct sip_tsx *tsx;

	if (!c->aw.on || c->state == B2BUA_STOP)
		return;
	c->aw.waited_ms += c->aw.retx_ms;
	if (c->aw.waited_ms >= 64 * t1) {
		c->aw.on = false;
		b2b_end_both(c, "no ACK for the 2xx (Timer H)");
		return;
	}
	tsx = sip_tsx_lookup(sip_stack_tsx(c->b->prm.stack), c->aw.srv_id);
	/* RFC 3261 §13.3.1.4: the same 2xx again */
	if (tsx) {
		struct sip_tsx_reply_prm rp = {0};

		rp.hdrs = (struct pl){(const char *)c->aw.rh.buf, c->aw.rh.end};
		rp.ctype = (struct pl){(const char *)c->aw.rct.buf, c->aw.rct.end};
		rp.body = (struct pl){(const char *)c->aw.rbody.buf, c->aw.rbody.end};
		(void)sip_stack_reply(c->b->prm.stack, tsx, sip_tsx_scode(tsx), "OK",
				      &rp);
	}
	c->aw.retx_ms = c->aw.retx_ms * 2 < t2 ? c->aw.retx_ms * 2 : t2;
	if (c->aw.waited_ms + c->aw.retx_ms > 64 * t1)
		c->aw.retx_ms = 64 * t1 - c->aw.waited_ms;
	loop_timer_start(c->t_ack, c->aw.retx_ms, ack_timer_h, c);
}

void b2b_2xx_keep(struct b2b_call *c, const struct sip_tsx_reply_prm *rp)
{
	mbuf_clear(&c->aw.ack);
	mbuf_clear(&c->aw.rh);
	mbuf_clear(&c->aw.rct);
	mbuf_clear(&c->aw.rbody);
	if (mbuf_write_pl(&c->aw.rh, rp->hdrs) || mbuf_write_pl(&c->aw.rct, rp->ctype) ||
	    mbuf_write_pl(&c->aw.rbody, rp->body))
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "call %u: cannot keep the 2xx for its retransmissions",
			  c->index);
}

void b2b_ack_wait_start(struct b2b_call *c, enum b2b_side from, uint64_t srv_id)
{
	const struct net_flow *f = from == B2B_A ? &c->a_flow
				   : c->bd	 ? sip_dialog_flow(c->bd)
						 : NULL;
	uint32_t t1 = b2b_t1(c);

	c->aw.on = true;
	c->aw.from = (uint8_t)from;
	c->aw.srv_id = srv_id;
	c->aw.acked = false;
	c->aw.waited_ms = 0;
	if (from == B2B_A && (b2b_prack_2xx_held(c) || b2b_cfm_2xx_held(c)))
		return; /* its timers start when it goes (b2bua_prack.c, b2bua_cfm.c) */
	/* reliable: no retransmission, only Timer H */
	c->aw.retx_ms = f && f->reliable ? 64 * t1 : t1;
	loop_timer_start(c->t_ack, c->aw.retx_ms, ack_timer_h, c);
}

void b2b_end_both(struct b2b_call *c, const char *why)
{
	if (c->state == B2BUA_STOP)
		return;
	if (!c->a_answered) {
		b2b_cancel_legs(c);
		b2b_answer_a(c, 487, "Request Terminated", NULL, NULL);
	} else if (c->a && !sip_dialog_is_early(c->a)) {
		(void)b2b_bye(c, B2B_A);
	}
	if (c->bd)
		(void)b2b_bye(c, B2B_B);
	b2b_stop(c, why);
}
