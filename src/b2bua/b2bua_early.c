/*
 * b2bua_early — the early dialog towards the callee (RFC 3261 §12.1.2,
 * RFC 3262 §4, RFC 3311 §5.1), for the VoLTE flow before the answer:
 *
 *   a 1xx with a To tag from a branch    the early UAC dialog of that branch
 *                       (the newest such branch's; an earlier one is dropped)
 *                       in the dialog table, so that UPDATE and INFO from
 *                       either side are relayed through it and the caller's
 *                       early dialog (b2bua_dlg.c), SDP rewritten
 *   that 1xx sent reliably by the callee (Require: 100rel, RSeq)   imsd
 *                       PRACKs it itself on that dialog (the caller's leg
 *                       has its own reliable 1xx, b2bua_prack.c); the same
 *                       RSeq again (a retransmission) is not PRACKed twice
 *   the 2xx of that branch   the confirmed dialog keeps the early one's
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

void b2b_early_drop(struct b2b_call *c)
{
	if (!c->be)
		return;
	sip_dialog_end(c->be);
	c->be = mem_deref(c->be);
	c->be_leg = -1;
	c->be_rseq = 0;
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
	b2b_early_drop(c);
	c->be = d;
	c->be_leg = (int)i;
	return 0;
}

/* RFC 3262 §4: PRACK with RAck "RSeq CSeq-num INVITE", once per RSeq. */
static void prack_send(struct b2b_call *c, const struct sip_msg *resp)
{
	const struct sip_hdr *rs = sip_msg_hdr(resp, SIP_HDR_RSEQ);
	const struct sip_cseq *cs = sip_msg_cseq(resp);
	struct sip_dialog_req_prm rq = {.method = PL("PRACK")};
	struct sip_stack_req_prm rp = {0};
	char rack[64];
	uint32_t rseq;
	struct mbuf mb;
	int err;

	if (!rs || !cs || pl_u32(pl_trim(rs->val), &rseq) || rseq == 0)
		return; /* §7.1: no valid RSeq, not a reliable 1xx */
	if (c->be_rseq && rseq <= c->be_rseq)
		return; /* a retransmission, or out of order (§4) */
	c->be_rseq = rseq;
	snprintf(rack, sizeof(rack), "RAck: %u %u INVITE\r\n", rseq, cs->num);
	rq.hdrs = pl_from_str(rack);
	mbuf_init(&mb, SIP_MSG_MAX_UDP);
	err = sip_dialog_req_build(c->be, &mb, &rq);
	if (!err) {
		rp.req = (struct pl){(const char *)mb.buf, mb.end};
		rp.dst = sip_dialog_flow(c->be);
		rp.resp_h = prack_resp_h;
		rp.arg = c;
		err = sip_stack_request(c->b->prm.stack, &rp, NULL);
	}
	if (err)
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "call %u: cannot PRACK the callee's %u: %s", c->index,
			  resp->scode, strerror(err));
	else
		b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_PRACK, 0);
	mbuf_reset(&mb);
}

static bool requires_100rel(const struct sip_msg *m)
{
	for (const struct sip_hdr *h = sip_msg_hdr(m, SIP_HDR_REQUIRE); h;
	     h = sip_msg_hdr_next(m, h))
		if (pl_caseeq_str(pl_trim(h->val), "100rel"))
			return true;
	return false;
}

void b2b_early_1xx(struct b2b_call *c, size_t i, const struct sip_msg *resp)
{
	const struct sip_addr *to = sip_msg_to(resp);
	int err;

	if (!to || !to->tag.l)
		return; /* no dialog without a To tag (§12.1) */
	if (!c->be || c->be_leg != (int)i ||
	    !pl_eq_str(to->tag, sip_dialog_remote_tag(c->be))) {
		err = early_new(c, i, resp);
		if (err) {
			log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
				  "call %u: no early dialog with the callee: %s",
				  c->index, strerror(err));
			return;
		}
	}
	if (requires_100rel(resp))
		prack_send(c, resp);
}

void b2b_early_won(struct b2b_call *c, size_t i)
{
	if (c->be && c->be_leg == (int)i && c->bd)
		sip_dialog_cseq_set(c->bd, sip_dialog_local_cseq(c->be),
				    sip_dialog_remote_cseq(c->be));
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
