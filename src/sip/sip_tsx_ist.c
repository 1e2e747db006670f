/*
 * sip/sip_tsx_ist — INVITE server transaction.
 *
 * States: Proceeding, Accepted, Completed, Confirmed, Terminated.
 * Implements RFC 3261 §17.2.1 (the 100 Trying when the TU has not answered
 * within 200 ms; retransmitted INVITEs answered with the last provisional
 * in Proceeding and the final in Completed; Timer G retransmission of a
 * 300-699 final from T1 doubling up to T2 on unreliable transports; Timer
 * H = 64*T1 waiting for the ACK; Timer I = T4 unreliable / 0 reliable in
 * Confirmed), §17.2.4 (transport errors) and RFC 6026 §8.5-§8.7 (Accepted:
 * the TU sends and retransmits its 2xx through the transaction, INVITE
 * retransmissions are absorbed, ACKs are passed to the TU, Timer L =
 * 64*T1).
 *
 *   Proceeding --TU 1xx--> Proceeding; --INVITE--> resend last 1xx
 *   Proceeding --TU 2xx--> Accepted --TU 2xx--> Accepted --L--> Terminated
 *   Proceeding --TU 300-699--> Completed --INVITE--> resend final
 *   Completed --ACK--> Confirmed --I--> Terminated
 *   Completed --H--> Terminated (server_err_h ETIMEDOUT)
 *   any --send error--> Terminated (server_err_h)
 *   Proceeding --TU 300-699 too large to keep--> Terminated (sent once;
 *     SIP_TSX_KEEP_MAX or the stack's byte bound, docs/sip-transactions.md)
 */
#include <errno.h>

#include "core/mem.h"
#include "sip/sip_build.h"
#include "sip/sip_tsx_int.h"

static void ist_timer_g(void *arg)
{
	struct sip_tsx *tsx = arg;
	uint64_t t2;

	if (tsx->state != SIP_TSX_COMPLETED)
		return;
	t2 = tsx->st->prm.t2_ms;
	mem_ref(tsx);
	if (!sip_tsx_send(tsx, tsx->out, tsx->out_len)) {
		tsx->retx_ms =
		    (uint32_t)(tsx->retx_ms * 2ull < t2 ? tsx->retx_ms * 2ull : t2);
		sip_tsx_retx_start(tsx, tsx->retx_ms, ist_timer_g);
	}
	mem_deref(tsx);
}

/* Timer H (Completed), Timer I (Confirmed), Timer L (Accepted) */
void sip_tsx_ist_end(struct sip_tsx *tsx)
{
	if (tsx->state == SIP_TSX_COMPLETED)
		sip_tsx_fail(tsx, ETIMEDOUT);
	else
		sip_tsx_term(tsx);
}

static void ist_timer_trying(void *arg)
{
	struct sip_tsx *tsx = arg;
	struct sip_resp_prm prm = {.scode = 100, .reason = PL("Trying")};
	struct mbuf mb;

	if (tsx->state != SIP_TSX_PROCEEDING || tsx->sent_1xx || !tsx->req)
		return;
	prm.via_top = (struct pl){tsx->via_top, tsx->via_top_len};
	mbuf_init(&mb, SIP_MSG_MAX_HARD);
	if (!sip_resp_build(&mb, tsx->req, &prm))
		sip_tsx_ist_send(tsx, 100, &mb, (struct pl)PL_INIT);
	mbuf_reset(&mb);
}

void sip_tsx_ist_start(struct sip_tsx *tsx)
{
	sip_tsx_retx_start(tsx, SIP_TSX_TRYING_MS, ist_timer_trying);
}

static void ist_final_error(struct sip_tsx *tsx, bool keep)
{
	/* Completed needs the key, the response and (2543) its To tag. */
	sip_tsx_req_release(tsx);
	sip_tsx_state_set(tsx, SIP_TSX_COMPLETED);
	if (!keep)
		return; /* sent once, then Terminated: no G, no H */
	if (!tsx->reliable) {
		tsx->retx_ms = tsx->st->prm.t1_ms;
		sip_tsx_retx_start(tsx, tsx->retx_ms, ist_timer_g);
	}
	if (tsx->st)
		sip_tsx_end_start(tsx, SIP_TSX_Q_64T1); /* Timer H */
}

int sip_tsx_ist_send(struct sip_tsx *tsx, uint16_t scode, struct mbuf *mb, struct pl tag)
{
	bool keep = true;
	int err;

	if (tsx->state == SIP_TSX_ACCEPTED && scode >= 200 && scode < 300) {
		/* the TU retransmits its 2xx */
		err = sip_tsx_out_take(tsx, mb, (struct pl)PL_INIT);
		if (err)
			return err;
		tsx->scode = scode;
		sip_tsx_send(tsx, tsx->out, tsx->out_len);
		return 0;
	}
	if (tsx->state != SIP_TSX_PROCEEDING)
		return EPROTO;
	/* RFC 2543 ACK matching compares the To tag we sent (§17.2.3) */
	err = sip_tsx_out_take(tsx, mb,
			       scode >= 300 && !tsx->rfc3261 ? tag : (struct pl)PL_INIT);
	if (err)
		return err;
	tsx->scode = scode;
	sip_tsx_retx_stop(tsx);
	if (scode < 200) {
		tsx->sent_1xx = true;
	} else if (scode < 300) {
		sip_tsx_state_set(tsx, SIP_TSX_ACCEPTED);
		sip_tsx_end_start(tsx, SIP_TSX_Q_64T1); /* Timer L */
	} else {
		keep = sip_tsx_keep_final(tsx);
		ist_final_error(tsx, keep);
	}
	mem_ref(tsx);
	if (tsx->st)
		sip_tsx_send(tsx, tsx->out, tsx->out_len);
	if (!keep)
		sip_tsx_term(tsx); /* a final too large to keep: no ACK wait */
	mem_deref(tsx);
	return 0;
}

static void ist_ack(struct sip_tsx *tsx, const struct sip_msg *ack,
		    const struct sip_tsx_dst *src, const void *ctx)
{
	const struct sip_tsx_tu *tu = &tsx->st->prm.tu;

	if (tsx->state == SIP_TSX_ACCEPTED) {
		if (tu->ack_h)
			tu->ack_h(tsx, ack, src, ctx, tu->arg);
		return;
	}
	if (tsx->state != SIP_TSX_COMPLETED)
		return; /* Confirmed absorbs; before a final there is nothing to ACK */
	sip_tsx_retx_stop(tsx);
	sip_tsx_end_stop(tsx);
	sip_tsx_state_set(tsx, SIP_TSX_CONFIRMED);
	/* Confirmed only absorbs ACKs: the response need not be kept, but a
	 * 2543 ACK matches on the To tag stored after it, so keep both. */
	if (tsx->reliable)
		sip_tsx_term(tsx); /* Timer I = 0 */
	else
		sip_tsx_end_start(tsx, SIP_TSX_Q_T4); /* Timer I */
}

void sip_tsx_ist_recv(struct sip_tsx *tsx, const struct sip_msg *req,
		      const struct sip_tsx_dst *src, const void *ctx)
{
	if (req->meth == SIP_METHOD_ACK) {
		ist_ack(tsx, req, src, ctx);
		return;
	}
	/* A retransmitted INVITE */
	if ((tsx->state == SIP_TSX_PROCEEDING && tsx->sent_1xx) ||
	    tsx->state == SIP_TSX_COMPLETED)
		sip_tsx_send(tsx, tsx->out, tsx->out_len);
}
