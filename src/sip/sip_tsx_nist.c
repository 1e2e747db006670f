/*
 * sip/sip_tsx_nist — non-INVITE server transaction.
 *
 * States: Trying, Proceeding, Completed, Terminated.
 * Implements RFC 3261 §17.2.2 (retransmitted requests absorbed in Trying,
 * answered with the last provisional in Proceeding and with the final in
 * Completed; Timer J = 64*T1 unreliable / 0 reliable) and §17.2.4
 * (transport errors). A final too large to keep (SIP_TSX_KEEP_MAX) or
 * over the stack's byte bound is handled as over a reliable transport:
 * Timer J = 0. Over UDP with an RFC 3261 key, Completed is a slim record
 * (sip_tsx_done.c) and the transaction object itself is Terminated.
 *
 *   Trying --TU 1xx--> Proceeding --TU 1xx--> Proceeding
 *   Trying/Proceeding --TU 200-699--> Completed --J--> Terminated
 *   Proceeding/Completed --request--> resend the last response
 *   any --send error--> Terminated (server_err_h)
 */
#include <errno.h>
#include <stdlib.h>

#include "sip/sip_tsx_int.h"

int sip_tsx_nist_send(struct sip_tsx *tsx, uint16_t scode, struct mbuf *mb)
{
	bool keep, slim;
	int err;

	if (tsx->state != SIP_TSX_TRYING && tsx->state != SIP_TSX_PROCEEDING)
		return EPROTO;
	err = sip_tsx_out_take(tsx, mb, (struct pl)PL_INIT);
	if (err)
		return err;
	tsx->scode = scode;
	if (scode < 200) {
		if (tsx->state == SIP_TSX_TRYING)
			sip_tsx_state_set(tsx, SIP_TSX_PROCEEDING);
		sip_tsx_send(tsx, tsx->out, tsx->out_len);
		return 0;
	}
	/* Completed needs only the key and the response bytes: over UDP with
	 * an RFC 3261 key a slim record (sip_tsx_done.c) takes over and the
	 * transaction ends; a response too large to keep (or over the byte
	 * bound) is sent once, as over a reliable transport. */
	keep = !tsx->reliable && !tsx->stateless && sip_tsx_keep_final(tsx);
	slim = keep && sip_tsx_done_fits(tsx);
	sip_tsx_req_release(tsx);
	sip_tsx_state_set(tsx, SIP_TSX_COMPLETED);
	if (keep && !slim)
		sip_tsx_end_start(tsx, SIP_TSX_Q_64T1); /* Timer J */
	if (sip_tsx_send(tsx, tsx->out, tsx->out_len))
		return 0; /* Terminated, the TU told (server_err_h) */
	if (slim && sip_tsx_done_take(tsx))
		sip_tsx_end_start(tsx, SIP_TSX_Q_64T1); /* no memory: in full */
	else if (!keep || slim)
		sip_tsx_term(tsx); /* Timer J = 0, or the record's */
	return 0;
}

void sip_tsx_nist_recv(struct sip_tsx *tsx, const struct sip_msg *req)
{
	(void)req;
	if (tsx->state == SIP_TSX_PROCEEDING || tsx->state == SIP_TSX_COMPLETED)
		sip_tsx_send(tsx, tsx->out, tsx->out_len);
}
