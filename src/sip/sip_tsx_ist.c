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
	if (!sip_tsx_send(tsx, tsx->out.buf, tsx->out.end)) {
		tsx->retx_ms = tsx->retx_ms * 2 < t2 ? tsx->retx_ms * 2 : t2;
		sip_tsx_timer_start(tsx, tsx->tm_retx, tsx->retx_ms, ist_timer_g);
	}
	mem_deref(tsx);
}

static void ist_timer_h(void *arg)
{
	struct sip_tsx *tsx = arg;

	if (tsx->state == SIP_TSX_COMPLETED)
		sip_tsx_fail(tsx, ETIMEDOUT);
}

/* Timer I (Confirmed) and Timer L (Accepted) */
static void ist_timer_end(void *arg)
{
	sip_tsx_term(arg);
}

static void ist_timer_trying(void *arg)
{
	struct sip_tsx *tsx = arg;
	struct sip_resp_prm prm = {.scode = 100, .reason = PL("Trying")};
	struct mbuf mb;

	if (tsx->state != SIP_TSX_PROCEEDING || tsx->sent_1xx)
		return;
	mbuf_init(&mb, SIP_MSG_MAX_HARD);
	if (!sip_resp_build(&mb, tsx->req, &prm))
		sip_tsx_ist_send(tsx, 100, &mb, (struct pl)PL_INIT);
	mbuf_reset(&mb);
}

void sip_tsx_ist_start(struct sip_tsx *tsx)
{
	sip_tsx_timer_start(tsx, tsx->tm_retx, SIP_TSX_TRYING_MS, ist_timer_trying);
}

static void out_take(struct sip_tsx *tsx, struct mbuf *mb, uint16_t scode)
{
	struct mbuf old = tsx->out;

	tsx->out = *mb;
	*mb = old;
	tsx->scode = scode;
}

static void ist_final_error(struct sip_tsx *tsx, struct pl tag)
{
	if (!tsx->key.rfc3261 && tag.l < sizeof(tsx->resp_tag)) {
		/* RFC 2543 ACK matching compares the To tag we sent (§17.2.3) */
		for (size_t i = 0; i < tag.l; i++)
			tsx->resp_tag[i] = tag.p[i];
		tsx->resp_tag_len = tag.l;
	}
	sip_tsx_state_set(tsx, SIP_TSX_COMPLETED);
	if (!tsx->dst.reliable) {
		tsx->retx_ms = tsx->st->prm.t1_ms;
		sip_tsx_timer_start(tsx, tsx->tm_retx, tsx->retx_ms, ist_timer_g);
	}
	sip_tsx_timer_start(tsx, tsx->tm_end, sip_tsx_64t1(tsx), ist_timer_h);
}

int sip_tsx_ist_send(struct sip_tsx *tsx, uint16_t scode, struct mbuf *mb, struct pl tag)
{
	if (tsx->state == SIP_TSX_ACCEPTED && scode >= 200 && scode < 300) {
		out_take(tsx, mb, scode); /* the TU retransmits its 2xx */
		sip_tsx_send(tsx, tsx->out.buf, tsx->out.end);
		return 0;
	}
	if (tsx->state != SIP_TSX_PROCEEDING)
		return EPROTO;
	out_take(tsx, mb, scode);
	sip_tsx_timer_stop(tsx, tsx->tm_retx);
	if (scode < 200) {
		tsx->sent_1xx = true;
	} else if (scode < 300) {
		sip_tsx_state_set(tsx, SIP_TSX_ACCEPTED);
		sip_tsx_timer_start(tsx, tsx->tm_end, sip_tsx_64t1(tsx), ist_timer_end);
	} else {
		ist_final_error(tsx, tag);
	}
	sip_tsx_send(tsx, tsx->out.buf, tsx->out.end);
	return 0;
}

static void ist_ack(struct sip_tsx *tsx, const struct sip_msg *ack,
		    const struct sip_tsx_dst *src)
{
	const struct sip_tsx_tu *tu = &tsx->st->prm.tu;

	if (tsx->state == SIP_TSX_ACCEPTED) {
		if (tu->ack_h)
			tu->ack_h(tsx, ack, src, tu->arg);
		return;
	}
	if (tsx->state != SIP_TSX_COMPLETED)
		return; /* Confirmed absorbs; before a final there is nothing to ACK */
	sip_tsx_timer_stop(tsx, tsx->tm_retx);
	sip_tsx_timer_stop(tsx, tsx->tm_end);
	sip_tsx_state_set(tsx, SIP_TSX_CONFIRMED);
	if (tsx->dst.reliable)
		sip_tsx_term(tsx); /* Timer I = 0 */
	else
		sip_tsx_timer_start(tsx, tsx->tm_end, tsx->st->prm.t4_ms, ist_timer_end);
}

void sip_tsx_ist_recv(struct sip_tsx *tsx, const struct sip_msg *req,
		      const struct sip_tsx_dst *src)
{
	if (req->meth == SIP_METHOD_ACK) {
		ist_ack(tsx, req, src);
		return;
	}
	/* A retransmitted INVITE */
	if ((tsx->state == SIP_TSX_PROCEEDING && tsx->sent_1xx) ||
	    tsx->state == SIP_TSX_COMPLETED)
		sip_tsx_send(tsx, tsx->out.buf, tsx->out.end);
}
