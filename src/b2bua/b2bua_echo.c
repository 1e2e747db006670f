/*
 * b2bua_echo — the echo service (manual §5.2 `echo`, §5.2.1 `answer_delay`,
 * `sdp_file`, `ring_only`): an INVITE to an echo IMPU is answered by imsd
 * itself, 180 then 200 after the caller IMPU's answer_delay; with ring_only
 * it stays at 180 until the caller gives up (CANCEL) or dialog_timeout;
 * with remote_control until dialog_set answer (b2bua_ctl.c) or that.
 *
 * With the media relay, imsd answers with the relay's ports (the caller
 * IMPU's sdp_file as the template when set) and the leg is in echo mode:
 * every RTP packet the phone sends comes back to it (video too). Without a
 * relay (b2bua_prm.relay NULL), the answer is sdp_file, else the caller's
 * own offer with its direction mirrored (RFC 3264 §6.1: sendonly answered
 * by recvonly), so a UE on a direct path hears itself.
 *
 * callflow_modifier (b2bua_cfm.c): the echo has no user, so the caller's
 * list applies to its 180 and 200 as to a callee's answers (dir rx): a
 * modifier's headers and content on them, or its code in their place.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b2bua/b2bua_int.h"
#include "core/log.h"
#include "core/mem.h"

#define B2B_SDP_FILE_MAX 16384u

/* The answer SDP for an offer: sdp_file, else the offer mirrored. */
static int echo_sdp(struct b2b_call *c, struct pl offer, struct mbuf *out)
{
	const struct ims_cfg_impu_opts *o = hss_impu_opts(c->orig, c->orig_impu);
	char buf[B2B_SDP_FILE_MAX];
	size_t n = 0;
	int err = 0;

	if (o->sdp_file && o->sdp_file[0]) {
		FILE *f = fopen(o->sdp_file, "re");

		if (!f)
			return errno;
		n = fread(buf, 1, sizeof(buf), f);
		if (ferror(f) || n == sizeof(buf))
			err = ferror(f) ? EIO : EFBIG;
		fclose(f);
		if (err)
			return err;
	}
	/* the relay answers with its own ports, the leg in echo mode */
	if (c->ms)
		return b2b_media_echo(c, offer, (struct pl){buf, n}, out);
	if (n)
		return mbuf_write(out, buf, n);
	for (size_t i = 0; i < offer.l && !err;) {
		const char *nl = memchr(offer.p + i, '\n', offer.l - i);
		size_t len = nl ? (size_t)(nl - (offer.p + i)) + 1 : offer.l - i;
		struct pl line = {offer.p + i, len};

		if (len >= 10 && !strncmp(line.p, "a=sendonly", 10))
			err = mbuf_printf(out, "a=recvonly%.*s", (int)(len - 10),
					  line.p + 10);
		else if (len >= 10 && !strncmp(line.p, "a=recvonly", 10))
			err = mbuf_printf(out, "a=sendonly%.*s", (int)(len - 10),
					  line.p + 10);
		else
			err = mbuf_write_pl(out, line);
		i += len;
	}
	return err;
}

/* Answers tsx (the caller's INVITE or re-INVITE) with 200 and the SDP. */
static void echo_200(struct b2b_call *c, struct sip_tsx *tsx, struct pl offer,
		     bool initial)
{
	struct sip_msg *resp = NULL;
	struct mbuf sdp, m;
	int err;

	mbuf_init(&sdp, B2B_SDP_FILE_MAX);
	mbuf_init(&m, B2B_SDP_FILE_MAX + 256);
	err = echo_sdp(c, offer, &sdp);
	if (err && offer.l) {
		/* an offer must be answered in the 2xx (RFC 3264 §5, RFC 3261
		 * §13.2.1): without an answer (no port free, an SDP the relay
		 * cannot take) the INVITE is refused, not taken without media */
		const char *reason = NULL;
		uint16_t sc = b2b_media_err_scode(err, &reason);

		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "call %u: echo SDP: %s (answered %u)", c->index, strerror(err), sc);
		if (initial) {
			b2b_answer_a(c, sc, reason, NULL, NULL);
			b2b_stop(c, reason);
		} else {
			(void)sip_stack_reply(c->b->prm.stack, tsx, sc, reason, NULL);
		}
		goto out;
	}
	if (err)
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "call %u: echo SDP: %s (answered without a body)", c->index,
			  strerror(err));
	if (!err && sdp.end)
		err = mbuf_printf(&m,
				  "SIP/2.0 200 OK\r\nContent-Type: application/sdp\r\n"
				  "Content-Length: %zu\r\n\r\n%.*s",
				  sdp.end, (int)sdp.end, (const char *)sdp.buf);
	else
		err = mbuf_printf(&m, "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n");
	if (!err)
		err = sip_msg_decode_copy(&resp, m.buf, m.end, NULL);
	if (initial && !err) {
		b2b_answer_a(c, 200, "OK", resp, NULL);
		b2b_state(c, B2BUA_START);
		b2b_ack_wait_start(c, B2B_A, c->a_tsx);
	} else if (!err) {
		const struct sip_hdr *ct = sip_msg_hdr(resp, SIP_HDR_CONTENT_TYPE);
		char contact[NET_ADDR_STRLEN + 64];
		struct sip_tsx_reply_prm rp = {0};
		struct mbuf h;

		mbuf_init(&h, SIP_MSG_MAX_UDP);
		if (!b2b_contact(c->b, &c->a_flow, contact, sizeof(contact)))
			(void)mbuf_printf(&h, "Contact: %s\r\n", contact);
		(void)b2b_st_resp_hdrs(c, B2B_A, NULL, &h); /* RFC 4028 §9 */
		rp.hdrs = (struct pl){(const char *)h.buf, h.end};
		if (ct && resp->body.l) {
			rp.ctype = ct->val;
			rp.body = resp->body;
			b2b_ctl_sdp_keep(c, B2B_A, rp.body); /* imsd's base */
		}
		b2b_2xx_keep(c, &rp);
		if (!sip_stack_reply(c->b->prm.stack, tsx, 200, "OK", &rp)) {
			b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_OTHER, 200);
			b2b_ack_wait_start(c, B2B_A, sip_tsx_id(tsx));
			b2b_st_refreshed(c); /* RFC 4028 §10 */
		}
		mbuf_reset(&h);
	}
out:
	mem_deref(resp);
	mbuf_reset(&m);
	mbuf_reset(&sdp);
}

void b2b_echo_answer(struct b2b_call *c)
{
	if (c->a_answered || c->state == B2BUA_STOP)
		return;
	loop_timer_cancel(c->t_ring);
	if (b2b_cfm_own(c, 200)) /* callflow_modifier: a code in its place */
		return;
	echo_200(c, NULL, c->a_inv->body, true);
}

static void answer_h(void *arg)
{
	b2b_echo_answer(arg);
}

void b2b_echo_start(struct b2b_call *c)
{
	const struct ims_cfg_impu_opts *o = hss_impu_opts(c->orig, c->orig_impu);
	double delay = o->answer_delay > 0 ? o->answer_delay : 0;

	if (b2b_cfm_own(c, 180)) /* callflow_modifier: a code in its place */
		return;
	b2b_answer_a(c, 180, "Ringing", NULL, NULL);
	b2b_ring_timer_start(c);
	if (o->ring_only)
		return; /* manual: up to ringing and no further */
	if (o->remote_control)
		return; /* dialog_set answer (b2bua_ctl.c), or dialog_timeout */
	loop_timer_start(c->t_answer, (uint64_t)(delay * 1000.0), answer_h, c);
}

void b2b_echo_request(struct b2b_call *c, struct sip_tsx *tsx, const struct sip_msg *req)
{
	if (req->meth == SIP_METHOD_INVITE) {
		if (c->aw.on) {
			struct sip_tsx_reply_prm rp = {.hdrs = PL("Retry-After: 1\r\n")};

			(void)sip_stack_reply(c->b->prm.stack, tsx, 491,
					      "Request Pending", &rp);
			return;
		}
		echo_200(c, tsx, req->body, false);
		return;
	}
	/* UPDATE, INFO...: taken; an UPDATE is a session refresh (RFC 4028) */
	b2b_st_taken(c, B2B_A, tsx, req);
}
