/*
 * b2bua_early — the early dialog towards the callee (RFC 3261 §12.1.2,
 * RFC 3262 §4, RFC 3311 §5.1), for the VoLTE flow before the answer:
 *
 *   a 1xx with a To tag from a branch    the early UAC dialog of that branch
 *                       (one per branch, kept until it fails or another
 *                       wins) in the dialog table: UPDATE and INFO from a
 *                       branch are relayed to the caller's early dialog;
 *                       the caller's go to the newest branch, the one whose
 *                       tagged 1xx or request came last (whose SDP the
 *                       caller has), SDP rewritten (b2bua_dlg.c)
 *   that 1xx sent reliably by the callee (Require: 100rel, RSeq)   imsd
 *                       PRACKs it itself on that dialog (the caller's leg
 *                       has its own reliable 1xx, b2bua_prack.c); the same
 *                       RSeq again (a retransmission) is not PRACKed twice
 *   ... with an offer (the caller's INVITE had no SDP) and a caller that
 *                       PRACKs   imsd's PRACK waits for the caller's, whose
 *                       SDP is the answer it carries (RFC 3262 §5, RFC 3264)
 *   the 2xx of a branch   the confirmed dialog keeps that branch's early
 *                       local CSeq (the PRACKs and UPDATEs sent in it)
 *   `early_media` (manual §5.2.1) false for the caller or the callee IMPU
 *                       a 1xx's SDP is relayed, but the relay forwards
 *                       nothing either way until the 2xx (true, the
 *                       default: media flows from the 183 on, RFC 3960)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "b2bua/b2bua_int.h"
#include "b2bua/b2bua_prack.h"
#include "core/log.h"
#include "core/mem.h"
#include "media/media.h"
#include "sip/sip_hdr.h"

static void prack_resp_h(struct sip_tsx *tsx, const struct sip_msg *resp, uint16_t scode,
			 void *arg)
{
	(void)tsx;
	(void)resp;
	(void)arg;
	(void)scode; /* a PRACK's failure leaves the INVITE to its own answers */
}

/* c->be: the newest branch's early dialog. */
static void be_pick(struct b2b_call *c)
{
	uint32_t best = 0;

	c->be = NULL;
	c->be_leg = -1;
	for (size_t i = 0; i < c->nlegs; i++) {
		if (c->leg[i].ed && c->leg[i].ed_seq >= best) {
			best = c->leg[i].ed_seq;
			c->be = c->leg[i].ed;
			c->be_leg = (int)i;
		}
	}
}

static void ed_end(struct b2b_leg *leg)
{
	if (!leg->ed)
		return;
	sip_dialog_end(leg->ed);
	leg->ed = mem_deref(leg->ed);
	leg->ed_rseq = 0;
	leg->rack_rseq = 0;
}

void b2b_early_drop(struct b2b_call *c)
{
	for (size_t i = 0; i < c->nlegs; i++)
		ed_end(&c->leg[i]);
	be_pick(c);
}

void b2b_early_leg_end(struct b2b_call *c, size_t i)
{
	if (i >= c->nlegs)
		return;
	ed_end(&c->leg[i]);
	be_pick(c);
	if (c->be_leg >= 0) /* the caller's requests and SDP go there now */
		b2b_media_pick(c, &c->leg[c->be_leg]);
}

void b2b_early_current(struct b2b_call *c, const struct sip_dialog *d)
{
	for (size_t i = 0; i < c->nlegs; i++) {
		if (d && c->leg[i].ed == d) {
			c->leg[i].ed_seq = ++c->be_seq;
			be_pick(c);
			b2b_media_pick(c, &c->leg[i]);
			return;
		}
	}
}

static int early_new(struct b2b_call *c, size_t i, const struct sip_msg *resp)
{
	struct b2b_leg *leg = &c->leg[i];
	struct sip_dialog_uac_prm up = {
	    .req = leg->inv, .resp = resp, .flow = &leg->flow};
	struct sip_dialog_owner own = b2b_owner_tmpl;
	struct sip_dialog *d = NULL;
	int err;

	err = sip_dialog_uac_alloc(&d, &up);
	if (err)
		return err;
	own.arg = c->b;
	own.obj = c;
	err = sip_dialogs_add(sip_stack_dialogs(c->b->prm.stack), d, &own);
	if (err) {
		mem_deref(d);
		return err;
	}
	ed_end(leg); /* another To tag from the same branch: a fork behind it */
	leg->ed = d;
	leg->oa_done = false;
	return 0;
}

/* RFC 3262 §4, §7.2: PRACK with RAck "RSeq CSeq-num INVITE" on leg i's
 * early dialog; sdp: the answer it carries (§5), or none. */
static void prack_out(struct b2b_call *c, size_t i, uint32_t rseq, uint32_t cseq,
		      const struct sip_hdr *ct, struct pl sdp)
{
	struct b2b_leg *leg = &c->leg[i];
	struct sip_dialog_req_prm rq = {.method = PL("PRACK")};
	struct sip_stack_req_prm rp = {0};
	char rack[64];
	struct mbuf mb;
	int err;

	snprintf(rack, sizeof(rack), "RAck: %u %u INVITE\r\n", rseq, cseq);
	rq.hdrs = pl_from_str(rack);
	if (ct && sdp.l) {
		rq.ctype = ct->val;
		rq.body = sdp;
	}
	mbuf_init(&mb, SIP_MSG_MAX_HARD);
	err = sip_dialog_req_build(leg->ed, &mb, &rq);
	if (!err) {
		rp.req = (struct pl){(const char *)mb.buf, mb.end};
		rp.dst = sip_dialog_flow(leg->ed);
		rp.resp_h = prack_resp_h;
		rp.arg = c;
		err = sip_stack_request(c->b->prm.stack, &rp, NULL);
	}
	if (err)
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "call %u: cannot PRACK the callee's RSeq %u: %s", c->index, rseq,
			  strerror(err));
	else
		b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_PRACK, 0);
	mbuf_reset(&mb);
}

/* A reliable 1xx of leg i: PRACKed once per RSeq, now, or when the caller
 * answers the offer it carries (RFC 3262 §5: the answer goes in the
 * PRACK; the caller got this 1xx reliably, b2bua_prack.c, and answers in
 * its own PRACK). */
static bool prack_send(struct b2b_call *c, size_t i, const struct sip_msg *resp)
{
	struct b2b_leg *leg = &c->leg[i];
	const struct sip_hdr *rs = sip_msg_hdr(resp, SIP_HDR_RSEQ);
	const struct sip_cseq *cs = sip_msg_cseq(resp);
	uint32_t rseq;

	if (!rs || !cs || pl_u32(pl_trim(rs->val), &rseq) || rseq == 0)
		return false; /* §7.1: no valid RSeq, not a reliable 1xx */
	if (leg->ed_rseq && rseq <= leg->ed_rseq)
		return true; /* a retransmission, or out of order (§4) */
	leg->ed_rseq = rseq;
	if (!c->a_offer && !leg->oa_done && c->prack && b2b_is_sdp(resp)) {
		leg->rack_rseq = rseq;
		leg->rack_cseq = cs->num;
		return false;
	}
	prack_out(c, i, rseq, cs->num, NULL, (struct pl){NULL, 0});
	return false;
}

static bool requires_100rel(const struct sip_msg *m)
{
	for (const struct sip_hdr *h = sip_msg_hdr(m, SIP_HDR_REQUIRE); h;
	     h = sip_msg_hdr_next(m, h))
		if (pl_caseeq_str(pl_trim(h->val), "100rel"))
			return true;
	return false;
}

bool b2b_early_1xx(struct b2b_call *c, size_t i, const struct sip_msg *resp)
{
	const struct sip_addr *to = sip_msg_to(resp);
	struct b2b_leg *leg = &c->leg[i];
	int err;

	if (!to || !to->tag.l)
		return false; /* no dialog without a To tag (§12.1) */
	if (!leg->ed || !pl_eq_str(to->tag, sip_dialog_remote_tag(leg->ed))) {
		err = early_new(c, i, resp);
		if (err) {
			log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
				  "call %u: no early dialog with the callee: %s",
				  c->index, strerror(err));
			return false;
		}
	}
	if (requires_100rel(resp) && prack_send(c, i, resp))
		return true;
	leg->ed_seq = ++c->be_seq; /* the newest: its SDP is the caller's */
	be_pick(c);
	return false;
}

void b2b_early_prack_answer(struct b2b_call *c, const struct sip_msg *prack)
{
	const struct sip_hdr *ct = sip_msg_hdr(prack, SIP_HDR_CONTENT_TYPE);
	struct b2b_sdp_err e;
	struct mbuf sdp;
	size_t i;
	int serr;

	/* the leg whose offer went to the caller last: the newest one waiting */
	if (c->be_leg >= 0 && c->leg[c->be_leg].rack_rseq)
		i = (size_t)c->be_leg;
	else
		for (i = 0; i < c->nlegs && !c->leg[i].rack_rseq; i++)
			;
	if (i >= c->nlegs || !c->leg[i].ed)
		return;
	mbuf_init(&sdp, SIP_MSG_MAX_HARD);
	serr = b2b_media_sdp(c, B2B_A, false, prack, &sdp, &e);
	/* an answer the relay refuses goes as it came (logged), as for any
	 * relayed answer: the callee decides */
	prack_out(c, i, c->leg[i].rack_rseq, c->leg[i].rack_cseq, ct,
		  serr ? prack->body : (struct pl){(const char *)sdp.buf, sdp.end});
	c->leg[i].rack_rseq = 0;
	c->leg[i].oa_done = b2b_is_sdp(prack);
	mbuf_reset(&sdp);
}

void b2b_early_won(struct b2b_call *c, size_t i)
{
	struct sip_dialog *ed = i < c->nlegs ? c->leg[i].ed : NULL;

	if (ed && c->bd)
		sip_dialog_cseq_set(c->bd, sip_dialog_local_cseq(ed),
				    sip_dialog_remote_cseq(ed));
	b2b_early_drop(c);
}

int b2b_precond_check(struct b2bua *b, const struct b2bua_invite *inv)
{
	const struct ims_cfg_impu_opts *o = hss_impu_opts(inv->orig, inv->orig_impu);
	struct sip_tsx_reply_prm rp = {.hdrs = PL("Unsupported: precondition\r\n")};

	/* RFC 3312 §11: preconditions required while the caller IMPU's
	 * `precondition` is off (manual §5.2.1): 420 (RFC 3261 §8.2.2.3) */
	if (!o || o->precondition != IMS_CFG_PRECOND_OFF)
		return 0;
	for (const struct sip_hdr *h = sip_msg_hdr(inv->req, SIP_HDR_REQUIRE); h;
	     h = sip_msg_hdr_next(inv->req, h))
		if (pl_caseeq_str(pl_trim(h->val), "precondition")) {
			(void)sip_stack_reply(b->prm.stack, inv->tsx, 420,
					      "Bad Extension", &rp);
			return EPROTO;
		}
	return 0;
}

/* ---- early media (manual §5.2.1 `early_media`) ---- */

static bool early_media_on(const struct b2b_call *c, const struct b2b_leg *leg)
{
	const struct ims_cfg_impu_opts *a = hss_impu_opts(c->orig, c->orig_impu);
	const struct ims_cfg_impu_opts *b = hss_impu_opts(leg->user, leg->impu);

	return (!a || a->early_media) && (!b || b->early_media);
}

void b2b_early_media_gate(struct b2b_call *c, const struct b2b_leg *leg)
{
	if (!c->ms || c->a_answered || early_media_on(c, leg))
		return;
	/* off for the caller or the callee IMPU: the 183's SDP is relayed
	 * (the offer/answer needs it) but nothing is forwarded before the
	 * answer, either way */
	media_session_flags_set(c->ms, MEDIA_LEG_A, false, false);
	media_session_flags_set(c->ms, MEDIA_LEG_B, false, false);
	c->em_gated = true;
}

void b2b_early_media_open(struct b2b_call *c, const struct b2b_leg *leg)
{
	const struct ims_cfg_impu_opts *a = hss_impu_opts(c->orig, c->orig_impu);
	const struct ims_cfg_impu_opts *b = hss_impu_opts(leg->user, leg->impu);

	if (!c->ms || !c->em_gated)
		return;
	c->em_gated = false;
	/* back to the IMPUs' own rtp/rtcp (manual §5.2.1) */
	media_session_flags_set(c->ms, MEDIA_LEG_A, !a || a->rtp, !a || a->rtcp);
	media_session_flags_set(c->ms, MEDIA_LEG_B, !b || b->rtp, !b || b->rtcp);
}
