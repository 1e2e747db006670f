/*
 * sip/sip_tsx_ict — INVITE client transaction.
 *
 * States: Calling, Proceeding, Accepted, Completed, Terminated.
 * Implements RFC 3261 §17.1.1 (§17.1.1.2 state machine: Timer A
 * retransmission from T1 doubling without cap on unreliable transports,
 * only to a destination that has answered before (sip_peer.h);
 * Timer B = 64*T1 in Calling, Timer D = 32 s unreliable / 0 reliable in
 * Completed; §17.1.1.3 the ACK for a non-2xx final response), §17.1.4
 * (transport errors), §9.1 (building the CANCEL), and RFC 6026 §8.4
 * (Accepted: 2xx and its retransmissions go to the TU until Timer M =
 * 64*T1; the TU sends the ACK for a 2xx).
 *
 *   Calling --1xx--> Proceeding --1xx--> Proceeding
 *   Calling/Proceeding --2xx--> Accepted --2xx (to TU)--> Accepted --M--> Terminated
 *   Calling/Proceeding --300-699 (ACK)--> Completed --300-699 (ACK)--> Completed --D-->
 * Terminated Calling --B--> Terminated (408 to the TU); any --send error--> Terminated
 * (503)
 */
#include <errno.h>
#include <stdint.h>

#include "core/mem.h"
#include "sip/sip_build.h"
#include "sip/sip_hdr.h"
#include "sip/sip_tsx_int.h"

/* A request sharing the INVITE's Request-URI, top Via, From, Call-ID, CSeq
 * number and Route set (§9.1 CANCEL, §17.1.1.3 ACK), with the given To. */
static int ict_sibling_build(struct mbuf *mb, const struct sip_msg *inv, struct pl method,
			     struct pl to)
{
	const struct sip_hdr *from = sip_msg_hdr(inv, SIP_HDR_FROM);
	const struct sip_hdr *via = sip_msg_hdr(inv, SIP_HDR_VIA);
	const struct sip_hdr *cid = sip_msg_hdr(inv, SIP_HDR_CALL_ID);
	const struct sip_cseq *cseq = sip_msg_cseq(inv);
	struct sip_req_prm prm = {.method = method, .ruri = inv->ruri};
	struct mbuf routes;
	int last = -1;
	int err = 0;

	if (!from || !via || !cid || !cseq)
		return EBADMSG;
	mbuf_init(&routes, SIP_MSG_MAX_HARD);
	for (const struct sip_hdr *h = sip_msg_hdr(inv, SIP_HDR_ROUTE); h && !err;
	     h = sip_msg_hdr_next(inv, h)) {
		if (h->line_no == last)
			continue;
		last = h->line_no;
		err = mbuf_write_pl(&routes, h->line);
	}
	prm.via = via->val;
	prm.from = from->val;
	prm.to = to;
	prm.call_id = cid->val;
	prm.cseq = cseq->num;
	prm.hdrs = (struct pl){(const char *)routes.buf, routes.end};
	if (!err)
		err = sip_req_build(mb, &prm);
	mbuf_reset(&routes);
	return err;
}

int sip_tsx_cancel_build(struct mbuf *mb, const struct sip_tsx *ict)
{
	const struct sip_hdr *to;

	if (!mb || !ict || ict->kind != SIP_TSX_ICT)
		return EINVAL;
	if (!ict->req)
		return EPROTO; /* a final arrived: nothing left to cancel */
	to = sip_msg_hdr(ict->req, SIP_HDR_TO);
	if (!to)
		return EBADMSG;
	return ict_sibling_build(mb, ict->req, PL("CANCEL"), to->val);
}

static void ict_timer_a(void *arg)
{
	struct sip_tsx *tsx = arg;

	if (tsx->state != SIP_TSX_CALLING)
		return;
	mem_ref(tsx);
	if (!sip_tsx_send(tsx, tsx->req->raw.p, tsx->req->raw.l)) {
		/* no T2 cap for INVITE (§17.1.1.2) */
		tsx->retx_ms =
		    tsx->retx_ms <= UINT32_MAX / 2 ? tsx->retx_ms * 2 : UINT32_MAX;
		sip_tsx_retx_start(tsx, tsx->retx_ms, ict_timer_a);
	}
	mem_deref(tsx);
}

/* Timer B (Calling), Timer D (Completed), Timer M (Accepted) */
void sip_tsx_ict_end(struct sip_tsx *tsx)
{
	if (tsx->state == SIP_TSX_CALLING)
		sip_tsx_fail(tsx, ETIMEDOUT);
	else if (tsx->state == SIP_TSX_COMPLETED || tsx->state == SIP_TSX_ACCEPTED)
		sip_tsx_term(tsx);
}

void sip_tsx_ict_start(struct sip_tsx *tsx)
{
	mem_ref(tsx);
	if (sip_tsx_send(tsx, tsx->req->raw.p, tsx->req->raw.l))
		goto out;
	/* retransmissions only to a destination that has answered before */
	if (!tsx->reliable && sip_tsx_peer_proven(tsx)) {
		tsx->retx_ms = tsx->st->prm.t1_ms;
		sip_tsx_retx_start(tsx, tsx->retx_ms, ict_timer_a);
	}
	if (tsx->st)
		sip_tsx_end_start(tsx, SIP_TSX_Q_64T1); /* Timer B */
out:
	mem_deref(tsx);
}

static void ict_report(struct sip_tsx *tsx, const struct sip_msg *resp)
{
	tsx->scode = resp->scode;
	if (resp->scode >= 200)
		tsx->final_seen = true;
	tsx->resp_h(tsx, resp, resp->scode, tsx->resp_arg);
}

static void ict_final_error(struct sip_tsx *tsx, const struct sip_msg *resp)
{
	const struct sip_hdr *to = sip_msg_hdr(resp, SIP_HDR_TO);
	struct mbuf ack;
	int err;

	sip_tsx_retx_stop(tsx);
	sip_tsx_end_stop(tsx);
	mbuf_init(&ack, SIP_MSG_MAX_HARD);
	err = to ? ict_sibling_build(&ack, tsx->req, PL("ACK"), to->val) : EBADMSG;
	err = err ? err : sip_tsx_out_take(tsx, &ack, (struct pl)PL_INIT);
	mbuf_reset(&ack);
	/* Completed needs the key and the ACK. */
	sip_tsx_req_release(tsx);
	sip_tsx_state_set(tsx, SIP_TSX_COMPLETED);
	/* The TU learns the final first: a failing ACK must not hide it
	 * (sip_tsx_fail then ends the transaction without a second report). */
	ict_report(tsx, resp);
	if (!tsx->st)
		return; /* the TU terminated it */
	if (err) {
		sip_tsx_fail(tsx, err);
		return;
	}
	if (sip_tsx_send(tsx, tsx->out, tsx->out_len))
		return;
	if (tsx->reliable)
		sip_tsx_term(tsx); /* Timer D = 0 */
	else
		sip_tsx_end_start(tsx, SIP_TSX_Q_D);
}

void sip_tsx_ict_recv(struct sip_tsx *tsx, const struct sip_msg *resp)
{
	uint16_t sc = resp->scode;

	switch (tsx->state) {
	case SIP_TSX_CALLING:
	case SIP_TSX_PROCEEDING:
		if (sc < 200) {
			if (tsx->state == SIP_TSX_CALLING) {
				sip_tsx_retx_stop(tsx);
				sip_tsx_end_stop(tsx);
				sip_tsx_state_set(tsx, SIP_TSX_PROCEEDING);
			}
			ict_report(tsx, resp);
		} else if (sc < 300) {
			sip_tsx_retx_stop(tsx);
			/* Accepted passes 2xx up by key; the TU sends the ACK */
			sip_tsx_req_release(tsx);
			sip_tsx_state_set(tsx, SIP_TSX_ACCEPTED);
			sip_tsx_end_start(tsx, SIP_TSX_Q_64T1); /* Timer M */
			ict_report(tsx, resp);
		} else {
			ict_final_error(tsx, resp);
		}
		break;
	case SIP_TSX_ACCEPTED:
		if (sc >= 200 && sc < 300)
			ict_report(tsx, resp);
		break;
	case SIP_TSX_COMPLETED:
		if (sc >= 300)
			sip_tsx_send(tsx, tsx->out, tsx->out_len);
		break;
	default:
		break;
	}
}
