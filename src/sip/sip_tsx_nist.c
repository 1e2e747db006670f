/*
 * sip/sip_tsx_nist — non-INVITE server transaction.
 *
 * States: Trying, Proceeding, Completed, Terminated.
 * Implements RFC 3261 §17.2.2 (retransmitted requests absorbed in Trying,
 * answered with the last provisional in Proceeding and with the final in
 * Completed; Timer J = 64*T1 unreliable / 0 reliable) and §17.2.4
 * (transport errors).
 *
 *   Trying --TU 1xx--> Proceeding --TU 1xx--> Proceeding
 *   Trying/Proceeding --TU 200-699--> Completed --J--> Terminated
 *   Proceeding/Completed --request--> resend the last response
 *   any --send error--> Terminated (server_err_h)
 */
#include <errno.h>

#include "sip/sip_tsx_int.h"

static void nist_timer_j(void *arg)
{
	sip_tsx_term(arg);
}

int sip_tsx_nist_send(struct sip_tsx *tsx, uint16_t scode, struct mbuf *mb)
{
	struct mbuf old = tsx->out;

	if (tsx->state != SIP_TSX_TRYING && tsx->state != SIP_TSX_PROCEEDING)
		return EPROTO;
	tsx->out = *mb;
	*mb = old;
	tsx->scode = scode;
	if (scode < 200) {
		if (tsx->state == SIP_TSX_TRYING)
			sip_tsx_state_set(tsx, SIP_TSX_PROCEEDING);
		sip_tsx_send(tsx, tsx->out.buf, tsx->out.end);
		return 0;
	}
	sip_tsx_state_set(tsx, SIP_TSX_COMPLETED);
	if (!tsx->dst.reliable)
		sip_tsx_timer_start(tsx, tsx->tm_end, sip_tsx_64t1(tsx), nist_timer_j);
	if (!sip_tsx_send(tsx, tsx->out.buf, tsx->out.end) && tsx->dst.reliable)
		sip_tsx_term(tsx); /* Timer J = 0 */
	return 0;
}

void sip_tsx_nist_recv(struct sip_tsx *tsx, const struct sip_msg *req)
{
	(void)req;
	if (tsx->state == SIP_TSX_PROCEEDING || tsx->state == SIP_TSX_COMPLETED)
		sip_tsx_send(tsx, tsx->out.buf, tsx->out.end);
}
