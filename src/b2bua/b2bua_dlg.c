/*
 * b2bua_dlg — requests inside a call's dialogs (RFC 3261 §12.2, §14, §15):
 * the dialog layer hands them to the call (its owner) and they are relayed
 * to the other side through that side's dialog, with its own CSeq, Contact
 * and route set; the answer comes back on the server transaction it
 * answers.
 *
 *   BYE from either side      200 at once, BYE to the other, the call stops
 *                             (§15.1.2: the BYE's answer does not matter)
 *   re-INVITE                 relayed; its 2xx waits for the ACK of the side
 *                             that asked, which goes on to the other side
 *                             (§14.1); a second one meanwhile: 491 (§14.2)
 *   UPDATE, INFO, others      relayed, answers relayed (RFC 3311, RFC 6086)
 *   408 or 481 to a relayed request ends the call on both sides (RFC 5057 §5)
 *
 * An echo call has no other side: imsd answers the caller itself
 * (b2bua_echo.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "b2bua/b2bua_int.h"
#include "core/log.h"
#include "core/mem.h"
#include "sip/sip_hdr.h"

const struct sip_dialog_owner b2b_owner_tmpl = {
    .req_h = b2b_dlg_req_h,
    .ack_h = b2b_dlg_ack_h,
};

static void ignore_resp_h(struct sip_tsx *tsx, const struct sip_msg *resp, uint16_t scode,
			  void *arg)
{
	(void)tsx;
	(void)resp;
	(void)scode;
	(void)arg;
}

static struct sip_dialog *side_dlg(const struct b2b_call *c, enum b2b_side s)
{
	if (s == B2B_A)
		return c->a;
	return c->bd ? c->bd : c->be; /* before the answer: the early one */
}

int b2b_bye(struct b2b_call *c, enum b2b_side side)
{
	struct sip_dialog *d = side_dlg(c, side);
	struct sip_dialog_req_prm rq = {.method = PL("BYE")};
	struct sip_stack_req_prm rp = {0};
	struct sip_tsx *tsx = NULL;
	struct mbuf mb;
	int err;

	if (!d)
		return ENOENT;
	mbuf_init(&mb, SIP_MSG_MAX_UDP);
	if (c->bye_hdrs)
		rq.hdrs = pl_from_str(c->bye_hdrs);
	err = sip_dialog_req_build(d, &mb, &rq);
	if (!err) {
		rp.req = (struct pl){(const char *)mb.buf, mb.end};
		rp.dst = sip_dialog_flow(d);
		rp.resp_h = ignore_resp_h;
		err = sip_stack_request(c->b->prm.stack, &rp, &tsx);
	}
	if (!err)
		b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_BYE, 0);
	mbuf_reset(&mb);
	return err;
}

/* hold: the offer puts every stream on a=sendonly or a=inactive (RFC 3264
 * §8.4); a plain text test, enough for the state the monitor shows. A
 * phone's own offer goes as it is and ends imsd's hold (dialog_set). */
static void hold_track(struct b2b_call *c, const struct sip_msg *req)
{
	struct pl b = req->body;
	bool hold;

	if (!b.l)
		return;
	c->ctl_held = 0;
	hold = pl_casefind(b, "a=sendonly") >= 0 || pl_casefind(b, "a=inactive") >= 0;
	if (hold && c->state == B2BUA_START)
		b2b_state(c, B2BUA_HOLD);
	else if (!hold && c->state == B2BUA_HOLD)
		b2b_state(c, B2BUA_START);
}

static int relay(struct b2b_call *c, enum b2b_side to, struct sip_tsx *srv,
		 const struct sip_msg *req, const struct ims_cfg_cfm *cm, struct b2b_sdp_err *e)
{
	struct sip_dialog *d = side_dlg(c, to);
	const struct sip_hdr *ct = sip_msg_hdr(req, SIP_HDR_CONTENT_TYPE);
	struct sip_dialog_req_prm rq = {0};
	struct sip_stack_req_prm rp = {0};
	char contact[NET_ADDR_STRLEN + 64];
	struct sip_tsx *tsx = NULL;
	/* INVITE and UPDATE carry offers (RFC 3264, RFC 3311), PRACK answers */
	bool offer = req->meth == SIP_METHOD_INVITE || req->meth == SIP_METHOD_UPDATE;
	struct mbuf mb, h, sdp;
	int err, serr;

	if (!d)
		return ENOENT;
	mbuf_init(&mb, SIP_MSG_MAX_HARD);
	mbuf_init(&h, SIP_MSG_MAX_UDP);
	mbuf_init(&sdp, SIP_MSG_MAX_HARD);
	serr = b2b_media_sdp(c, to == B2B_A ? B2B_B : B2B_A, offer, req, &sdp, e);
	if (serr && serr != ENOENT) {
		err = EPROTO; /* e says how to answer */
		goto out;
	}
	err = b2b_contact(c->b, sip_dialog_flow(d), contact, sizeof(contact));
	err = err ? err : b2b_hdrs_copy_se(&h, req, false, b2b_st_on(c));
	err = err ? err : b2b_st_req_hdrs(c, to, req, &h); /* RFC 4028 */
	if (!err && (req->meth == SIP_METHOD_INVITE || req->meth == SIP_METHOD_UPDATE))
		b2b_st_named(c, to == B2B_A ? B2B_B : B2B_A, req);
	if (!err && req->meth == SIP_METHOD_INVITE)
		err = mbuf_printf(&h, "Allow: %s\r\n", sip_stack_allow(c->b->prm.stack));
	if (err)
		goto out;
	if (cm) /* callflow_modifier (b2bua_cfm.c) */
		b2b_cfm_req_hdrs(c, cm, &h);
	rq.method = req->method;
	rq.contact = pl_from_str(contact);
	rq.hdrs = (struct pl){(const char *)h.buf, h.end};
	if (ct && req->body.l) {
		rq.ctype = ct->val;
		rq.body = serr ? req->body : (struct pl){(const char *)sdp.buf, sdp.end};
	}
	err = sip_dialog_req_build(d, &mb, &rq);
	if (!err) {
		rp.req = (struct pl){(const char *)mb.buf, mb.end};
		rp.dst = sip_dialog_flow(d);
		rp.resp_h = b2b_relay_resp_h;
		rp.arg = c;
		err = sip_stack_request(c->b->prm.stack, &rp, &tsx);
	}
	if (!err) {
		err = b2b_tx_add(c, tsx, B2B_TX_RELAY, (uint8_t)to, sip_tsx_id(srv),
				 req->meth);
		if (err)
			sip_tsx_terminate(tsx);
		else
			b2b_tx_find(c, tsx)->offer_in_req = offer && b2b_is_sdp(req);
	}
	if (!err)
		b2b_event(c, B2BUA_EV_SEND, req->meth, 0);
out:
	mbuf_reset(&sdp);
	mbuf_reset(&h);
	mbuf_reset(&mb);
	return err;
}

static void relay_answer(struct b2b_call *c, struct sip_tsx *srv, const struct b2b_tx *x,
			 const struct sip_msg *resp, uint16_t scode)
{
	const struct sip_hdr *ct = resp ? sip_msg_hdr(resp, SIP_HDR_CONTENT_TYPE) : NULL;
	enum b2b_side asker = x->to == B2B_A ? B2B_B : B2B_A;
	struct sip_tsx_reply_prm rp = {0};
	char contact[NET_ADDR_STRLEN + 64], reason[64] = "";
	struct sip_dialog *d = side_dlg(c, asker);
	struct b2b_sdp_err e;
	struct mbuf h, sdp;
	int err = 0, serr = ENOENT;

	mbuf_init(&h, SIP_MSG_MAX_UDP);
	mbuf_init(&sdp, SIP_MSG_MAX_HARD);
	/* the answer to the offer the request carried, or the offer of a
	 * request that had none; one the relay refuses goes on as it came
	 * (logged) so that the transaction completes */
	if (resp && scode < 300)
		serr = b2b_media_sdp(c, (enum b2b_side)x->to, !x->offer_in_req, resp,
				     &sdp, &e);
	if (resp) {
		pl_strcpy(resp->reason, reason, sizeof(reason));
		err = b2b_hdrs_copy_se(&h, resp, true, b2b_st_on(c));
	}
	if (!err && scode >= 200 && scode < 300 &&
	    (x->meth == SIP_METHOD_INVITE || x->meth == SIP_METHOD_UPDATE))
		err = b2b_st_resp_hdrs(c, asker, resp, &h); /* RFC 4028 §9 */
	if (!err && d && scode > 100 && scode < 300 &&
	    !b2b_contact(c->b, sip_dialog_flow(d), contact, sizeof(contact)))
		err = mbuf_printf(&h, "Contact: %s\r\n", contact);
	if (!err && x->meth == SIP_METHOD_INVITE && scode >= 200 && scode < 300)
		err = mbuf_printf(&h, "Allow: %s\r\n", sip_stack_allow(c->b->prm.stack));
	rp.hdrs = (struct pl){(const char *)h.buf, h.end};
	if (ct && resp->body.l) {
		rp.ctype = ct->val;
		rp.body = serr ? resp->body : (struct pl){(const char *)sdp.buf, sdp.end};
	}
	if (!err && x->meth == SIP_METHOD_INVITE && scode >= 200 && scode < 300)
		b2b_2xx_keep(c, &rp);
	if (!err &&
	    !sip_stack_reply(c->b->prm.stack, srv, scode, reason[0] ? reason : NULL, &rp))
		b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_OTHER, scode);
	mbuf_reset(&sdp);
	mbuf_reset(&h);
}

void b2b_relay_resp_h(struct sip_tsx *tsx, const struct sip_msg *resp, uint16_t scode,
		      void *arg)
{
	struct b2b_call *c = arg;
	struct b2b_tx *x = b2b_tx_find(c, tsx);
	struct sip_tsx *srv;
	bool invite;

	if (!x)
		x = b2b_tx_adopt(c, tsx, resp, B2B_TX_RELAY);

	if (!x || x->kind != B2B_TX_RELAY || c->state == B2BUA_STOP)
		return;
	invite = x->meth == SIP_METHOD_INVITE;
	if (x->final) {
		/* a retransmitted 2xx (RFC 6026 §8.4): our ACK again once sent */
		if (invite && scode >= 200 && scode < 300 && c->aw.acked && c->aw.ack.end)
			(void)sip_stack_ack(
			    c->b->prm.stack,
			    (struct pl){(const char *)c->aw.ack.buf, c->aw.ack.end},
			    sip_dialog_flow(side_dlg(c, (enum b2b_side)x->to)));
		return;
	}
	srv = sip_tsx_lookup(sip_stack_tsx(c->b->prm.stack), x->srv_id);
	b2b_event(c, B2BUA_EV_RECV, SIP_METHOD_OTHER, scode);
	b2b_touch(c);
	if (scode <= 100)
		return;
	if (srv && (scode >= 200 || sip_tsx_state(srv) == SIP_TSX_PROCEEDING))
		relay_answer(c, srv, x, resp, scode);
	if (scode < 200)
		return;
	x->final = true;
	/* RFC 4028 §10: a refresh from one phone to the other, both legs */
	if (scode < 300 && (invite || x->meth == SIP_METHOD_UPDATE))
		b2b_st_refreshed(c);
	if (invite) {
		c->reinvite = false;
		if (scode < 300 && resp) {
			b2b_ack_wait_start(c, x->to == B2B_A ? B2B_B : B2B_A, x->srv_id);
		}
	}
	if ((scode == 408 || scode == 481) && x->meth != SIP_METHOD_BYE)
		b2b_end_both(c, scode == 408 ? "a relayed request timed out"
					     : "the other side lost the dialog (481)");
}

void b2b_dlg_ack_h(struct sip_dialog *dlg, const struct sip_msg *ack,
		   const struct net_flow *flow, void *arg)
{
	struct b2b_call *c = (struct b2b_call *)sip_dialog_owner(dlg)->obj;
	enum b2b_side side = dlg == c->a ? B2B_A : B2B_B;
	const struct sip_hdr *ct = sip_msg_hdr(ack, SIP_HDR_CONTENT_TYPE);
	struct sip_dialog *other = side_dlg(c, side == B2B_A ? B2B_B : B2B_A);
	struct sip_dialog_req_prm rq = {.method = PL("ACK")};
	struct b2b_sdp_err e;
	struct mbuf sdp;
	int err, serr;

	(void)flow;
	(void)arg;
	b2b_event(c, B2BUA_EV_RECV, SIP_METHOD_ACK, 0);
	b2b_touch(c);
	if (!c->aw.on || c->aw.from != side)
		return; /* a retransmitted ACK, or none awaited */
	c->aw.on = false;
	loop_timer_cancel(c->t_ack);
	if (c->type == B2BUA_ECHO || !other)
		return;
	/* §13.2.2.4: the ACK of the other side's 2xx, with this ACK's body
	 * (the answer of a late offer) */
	mbuf_init(&sdp, SIP_MSG_MAX_HARD);
	serr = b2b_media_sdp(c, side, false, ack, &sdp, &e);
	if (ct && ack->body.l) {
		rq.ctype = ct->val;
		rq.body = serr ? ack->body : (struct pl){(const char *)sdp.buf, sdp.end};
	}
	mbuf_clear(&c->aw.ack);
	err = sip_dialog_req_build(other, &c->aw.ack, &rq);
	mbuf_reset(&sdp);
	err = err ? err
		  : sip_stack_ack(c->b->prm.stack,
				  (struct pl){(const char *)c->aw.ack.buf, c->aw.ack.end},
				  sip_dialog_flow(other));
	if (err)
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "call %u: cannot send the ACK: %s", c->index, strerror(err));
	else
		b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_ACK, 0);
	c->aw.acked = !err;
}

void b2b_dlg_req_h(struct sip_dialog *dlg, struct sip_tsx *tsx, const struct sip_msg *req,
		   const struct net_flow *flow, void *arg)
{
	struct b2b_call *c = (struct b2b_call *)sip_dialog_owner(dlg)->obj;
	enum b2b_side side = dlg == c->a ? B2B_A : B2B_B;
	enum b2b_side other = side == B2B_A ? B2B_B : B2B_A;
	struct sip_stack *stack = c->b->prm.stack;
	const struct ims_cfg_cfm *cm = NULL;
	struct b2b_sdp_err e;
	int err;

	(void)flow;
	(void)arg;
	b2b_event(c, B2BUA_EV_RECV, req->meth, 0);
	b2b_touch(c);
	if (side == B2B_B && !c->bd) /* a branch's early dialog: the caller's go there */
		b2b_early_current(c, dlg);
	if (req->meth == SIP_METHOD_BYE) {
		(void)sip_stack_reply(stack, tsx, 200, "OK", NULL);
		b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_OTHER, 200);
		if (c->type != B2BUA_ECHO)
			(void)b2b_bye(c, other);
		b2b_stop(c,
			 side == B2B_A ? "BYE from the caller" : "BYE from the callee");
		return;
	}
	if (b2b_cfm_dlg_request(c, side, tsx, req, &cm)) /* callflow_modifier's code */
		return;
	if (req->meth == SIP_METHOD_PRACK) { /* RFC 3262, per leg */
		b2b_prack_request(c, side == B2B_A, tsx, req);
		return;
	}
	if (c->type == B2BUA_ECHO) {
		b2b_echo_request(c, tsx, req);
		return;
	}
	if (c->type == B2BUA_MT) {
		b2b_mt_request(c, tsx, req);
		return;
	}
	if ((req->meth == SIP_METHOD_INVITE && (c->reinvite || c->aw.on)) ||
	    (req->meth == SIP_METHOD_UPDATE && c->ctl_pending && b2b_is_sdp(req))) {
		/* RFC 3261 §14.2: one INVITE at a time in a dialog; RFC 3311
		 * §5.2: an offer while imsd's own (dialog_set) is out */
		struct sip_tsx_reply_prm rp = {.hdrs = PL("Retry-After: 1\r\n")};

		(void)sip_stack_reply(stack, tsx, 491, "Request Pending", &rp);
		return;
	}
	if (req->meth == SIP_METHOD_INVITE)
		hold_track(c, req);
	err = relay(c, other, tsx, req, cm, &e);
	if (err == EPROTO) { /* its SDP: 400, 488 or 503 */
		(void)sip_stack_reply(stack, tsx, e.scode, e.reason, NULL);
		return;
	}
	if (err) {
		(void)sip_stack_reply(
		    stack, tsx, err == ENOENT ? 491 : 500,
		    err == ENOENT ? "Request Pending" : "Server Internal Error", NULL);
		return;
	}
	if (req->meth == SIP_METHOD_INVITE)
		c->reinvite = true;
}

/* ---- imsd's own requests in a call's dialogs (dialog_set, session timers) ---- */

int b2b_dlg_own_request(struct b2b_call *c, struct sip_dialog *d,
			const struct sip_dialog_req_prm *rq, sip_tsx_resp_h *resp_h,
			enum b2b_tx_kind kind, uint8_t side, enum sip_method meth)
{
	struct sip_stack_req_prm rp = {0};
	struct sip_tsx *tsx = NULL;
	struct mbuf mb;
	int err;

	mbuf_init(&mb, SIP_MSG_MAX_HARD);
	err = sip_dialog_req_build(d, &mb, rq);
	if (!err) {
		rp.req = (struct pl){(const char *)mb.buf, mb.end};
		rp.dst = sip_dialog_flow(d);
		rp.resp_h = resp_h;
		rp.arg = c;
		err = sip_stack_request(c->b->prm.stack, &rp, &tsx);
	}
	if (!err) {
		err = b2b_tx_add(c, tsx, kind, side, 0, meth);
		if (err)
			sip_tsx_terminate(tsx);
	}
	if (!err)
		b2b_event(c, B2BUA_EV_SEND, meth, 0);
	mbuf_reset(&mb);
	return err;
}

void b2b_dlg_own_ack(struct b2b_call *c, struct sip_dialog *d)
{
	struct sip_dialog_req_prm rq = {.method = PL("ACK")};
	struct mbuf mb;

	mbuf_init(&mb, SIP_MSG_MAX_UDP);
	if (!sip_dialog_req_build(d, &mb, &rq) &&
	    !sip_stack_ack(c->b->prm.stack, (struct pl){(const char *)mb.buf, mb.end},
			   sip_dialog_flow(d)))
		b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_ACK, 0);
	mbuf_reset(&mb);
}
