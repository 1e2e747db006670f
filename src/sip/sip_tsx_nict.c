/*
 * sip/sip_tsx_nict — non-INVITE client transaction.
 *
 * States: Trying, Proceeding, Completed, Terminated.
 * Implements RFC 3261 §17.1.2 (§17.1.2.2 state machine: Timer E
 * retransmission on unreliable transports, starting at T1 and doubling up
 * to T2 in Trying, every T2 in Proceeding — only to a destination that has
 * answered before (sip_peer.h), else from its first provisional on; Timer F = 64*T1 in
 * Trying and Proceeding; Timer K = T4 unreliable / 0 reliable in Completed) and §17.1.4
 * (transport errors).
 *
 *   Trying --1xx--> Proceeding --1xx--> Proceeding
 *   Trying/Proceeding --200-699--> Completed --K--> Terminated
 *
 * Over UDP, Completed is spent as a slim record (sip_tsx_done.c) once the
 * TU has had the final: the transaction is Terminated for the TU, and the
 * record absorbs retransmitted finals until Timer K.
 *   Trying/Proceeding --F--> Terminated (408 to the TU)
 *   any --send error--> Terminated (503 to the TU)
 */
#include <errno.h>
#include <stdlib.h>

#include "core/mem.h"
#include "sip/sip_tsx_int.h"

static void nict_timer_e(void *arg)
{
	struct sip_tsx *tsx = arg;
	uint64_t t2 = tsx->st ? tsx->st->prm.t2_ms : 0;

	if (tsx->state != SIP_TSX_TRYING && tsx->state != SIP_TSX_PROCEEDING)
		return;
	mem_ref(tsx);
	if (!sip_tsx_send(tsx, tsx->out, tsx->out_len)) {
		if (tsx->state == SIP_TSX_PROCEEDING)
			tsx->retx_ms = (uint32_t)t2;
		else
			tsx->retx_ms =
			    (uint32_t)(tsx->retx_ms * 2ull < t2 ? tsx->retx_ms * 2ull
								: t2);
		sip_tsx_retx_start(tsx, tsx->retx_ms, nict_timer_e);
	}
	mem_deref(tsx);
}

/* Timer F (Trying, Proceeding), Timer K (Completed) */
void sip_tsx_nict_end(struct sip_tsx *tsx)
{
	if (tsx->state == SIP_TSX_TRYING || tsx->state == SIP_TSX_PROCEEDING)
		sip_tsx_fail(tsx, ETIMEDOUT);
	else
		sip_tsx_term(tsx);
}

void sip_tsx_nict_start(struct sip_tsx *tsx)
{
	mem_ref(tsx);
	if (sip_tsx_send(tsx, tsx->out, tsx->out_len))
		goto out;
	/* retransmissions only to a destination that has answered before */
	if (!tsx->reliable && sip_tsx_peer_proven(tsx)) {
		tsx->retx_ms = tsx->st->prm.t1_ms;
		sip_tsx_retx_start(tsx, tsx->retx_ms, nict_timer_e);
	}
	if (tsx->st)
		sip_tsx_end_start(tsx, SIP_TSX_Q_64T1); /* Timer F */
out:
	mem_deref(tsx);
}

void sip_tsx_nict_recv(struct sip_tsx *tsx, const struct sip_msg *resp)
{
	if (tsx->state != SIP_TSX_TRYING && tsx->state != SIP_TSX_PROCEEDING)
		return; /* Completed: retransmitted finals are absorbed */
	tsx->scode = resp->scode;
	if (resp->scode < 200) {
		if (tsx->state == SIP_TSX_TRYING)
			sip_tsx_state_set(tsx, SIP_TSX_PROCEEDING);
		/* sent once to an unproven destination, which has now answered:
		 * Timer E as in Proceeding (every T2) */
		if (!tsx->reliable && !tsx->retx_ms && tsx->st) {
			tsx->retx_ms = tsx->st->prm.t2_ms;
			sip_tsx_retx_start(tsx, tsx->retx_ms, nict_timer_e);
		}
		tsx->resp_h(tsx, resp, resp->scode, tsx->resp_arg);
		return;
	}
	sip_tsx_retx_stop(tsx);
	sip_tsx_end_stop(tsx);
	tsx->final_seen = true;
	/* Completed absorbs retransmitted finals by key only: neither the
	 * bytes sent nor a request decoded for the TU stay */
	free(tsx->out);
	tsx->out = NULL;
	tsx->out_len = 0;
	sip_tsx_req_release(tsx);
	sip_tsx_state_set(tsx, SIP_TSX_COMPLETED);
	if (!tsx->reliable)
		sip_tsx_end_start(tsx, SIP_TSX_Q_T4); /* Timer K */
	tsx->resp_h(tsx, resp, resp->scode, tsx->resp_arg);
	if (tsx->reliable)
		sip_tsx_term(tsx); /* Timer K = 0 */
	else if (tsx->st && !sip_tsx_cdone_take(tsx))
		sip_tsx_term(tsx); /* the record waits for Timer K */
}
