/*
 * b2bua_ctl — actions on a call from outside (manual §6 dialog_set, §7
 * `dialog_set dialog-index action`), for the monitor and the remote API:
 *
 *   answer   the final answer of an echo call whose caller IMPU has
 *            remote_control (b2bua_echo.c holds it at 180 until this, or
 *            until dialog_timeout): 200 with the echo SDP (code 0 or a
 *            2xx), or the status given (300-699) which ends the call
 *   media    rtp/rtcp forwarding of what each phone of the call sends
 *            (media_session_flags_set on both legs), as the IMPUs' `rtp`
 *            and `rtcp` options set them at the start
 *   hold     (mt and echo calls: imsd is the phone's peer) a re-INVITE to
 *            the phone with imsd's last SDP, every stream a=sendonly, the
 *            call `hold`; again: a=sendrecv, the call `start` (RFC 3264
 *            §8.4). The o= version goes up on each (§8).
 *   reinvite (mt and echo calls) the same re-INVITE without a change of
 *            direction
 *   downgrade (mt and echo calls) the same re-INVITE with the streams of
 *            one media type (video unless named) at port 0, and in every
 *            later one (RFC 3264 §8.2)
 *
 * `stop` is b2bua_dialog_stop (b2bua_info.c). Nothing here formats text.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "b2bua/b2bua_int.h"
#include "core/log.h"
#include "media/media.h"

int b2bua_dialog_answer(struct b2bua *b, uint32_t index, uint16_t code)
{
	struct b2b_call *c = b2b_call_get(b, index);

	if (!c)
		return ENOENT;
	if (c->state == B2BUA_STOP || c->a_answered)
		return EALREADY;
	if (c->type != B2BUA_ECHO || (code && (code < 200 || code > 699)))
		return EINVAL;
	if (!code || code < 300) {
		b2b_echo_answer(c);
		return 0;
	}
	loop_timer_cancel(c->t_ring);
	loop_timer_cancel(c->t_answer);
	b2b_answer_a(c, code, code == 486 ? "Busy Here" : "Rejected", NULL, NULL);
	b2b_stop(c, "dialog_set answer with a failure");
	return 0;
}

int b2bua_dialog_media(struct b2bua *b, uint32_t index, bool rtp, bool rtcp)
{
	struct b2b_call *c = b2b_call_get(b, index);

	if (!c)
		return ENOENT;
	if (c->state == B2BUA_STOP)
		return EALREADY;
	if (!c->ms)
		return ENOTSUP; /* no relay: the media does not pass imsd */
	media_session_flags_set(c->ms, MEDIA_LEG_A, rtp, rtcp);
	media_session_flags_set(c->ms, MEDIA_LEG_B, rtp, rtcp);
	return 0;
}

static bool is_dir_line(struct pl l)
{
	static const char *const d[] = {"a=sendrecv", "a=sendonly", "a=recvonly",
					"a=inactive"};

	for (size_t i = 0; i < 4; i++)
		if (l.l >= 10 && !strncmp(l.p, d[i], 10) && (l.l == 10 || l.p[10] == '\r'))
			return true;
	return false;
}

static const char *const media_names[] = {"audio", "video", "text"};

/* An m= line of a type in the dropped mask (bit i: media_names[i]) written
 * with port 0 (RFC 3264 §8.2: the stream is removed, the line stays). */
static bool m_dropped(struct pl l, uint8_t dropped, struct mbuf *out, int *err)
{
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(media_names[i]);
		const char *sp;

		if (!(dropped & (1u << i)) || l.l < n + 3 || strncmp(l.p + 2, media_names[i], n) ||
		    l.p[2 + n] != ' ')
			continue;
		sp = memchr(l.p + 3 + n, ' ', l.l - 3 - n);
		if (!sp)
			return false;
		*err = mbuf_printf(out, "m=%s 0%.*s", media_names[i], (int)(l.p + l.l - sp), sp);
		return true;
	}
	return false;
}

/* sdp with its o= version set to ver, every stream's direction dir (NULL:
 * kept; the direction line closes each media section) and the dropped
 * media types at port 0. */
static int sdp_redirect(struct pl sdp, const char *dir, uint32_t ver, uint8_t dropped,
			struct mbuf *out)
{
	bool in_media = false;
	int err = 0;

	for (size_t i = 0; i < sdp.l && !err;) {
		const char *nl = memchr(sdp.p + i, '\n', sdp.l - i);
		size_t len = nl ? (size_t)(nl - (sdp.p + i)) + 1 : sdp.l - i;
		struct pl l = {sdp.p + i, len};
		char u[64], id[32];

		i += len;
		if (dir && l.l >= 2 && !strncmp(l.p, "m=", 2)) {
			if (in_media)
				err = mbuf_printf(out, "a=%s\r\n", dir);
			in_media = true;
		}
		if (dir && is_dir_line(l))
			continue;
		if (l.l > 2 && !strncmp(l.p, "m=", 2) && m_dropped(l, dropped, out, &err))
			continue;
		if (l.l > 2 && !strncmp(l.p, "o=", 2) && len < 256 &&
		    sscanf(l.p, "o=%63s %31s %*s", u, id) == 2) {
			const char *rest = l.p + 2;

			for (int k = 0; k < 3 && rest; k++) { /* past user, id, version */
				rest = memchr(rest, ' ', (size_t)(l.p + l.l - rest));
				if (rest)
					rest++;
			}
			if (rest) {
				err = err ? err
					  : mbuf_printf(out, "o=%s %s %u %.*s", u, id, ver,
							(int)(l.p + l.l - rest), rest);
				continue;
			}
		}
		err = err ? err : mbuf_write_pl(out, l);
	}
	if (!err && dir && in_media)
		err = mbuf_printf(out, "a=%s\r\n", dir);
	return err;
}

static void own_resp_h(struct sip_tsx *tsx, const struct sip_msg *resp, uint16_t scode,
		       void *arg)
{
	struct b2b_call *c = arg;
	struct b2b_tx *x = b2b_tx_find(c, tsx);
	struct sip_dialog *d = c->type == B2BUA_MT ? c->bd : c->a;
	struct sip_dialog_req_prm rq = {.method = PL("ACK")};
	struct mbuf mb;

	if (!x || x->kind != B2B_TX_OWN || scode < 200)
		return;
	b2b_event(c, B2BUA_EV_RECV, SIP_METHOD_OTHER, scode);
	c->reinvite = false;
	if (scode >= 300 || !resp || !d || c->state == B2BUA_STOP) {
		if (scode == 408 || scode == 481)
			b2b_end_both(c, "the phone lost the dialog (re-INVITE)");
		return;
	}
	mbuf_init(&mb, SIP_MSG_MAX_UDP);
	if (!sip_dialog_req_build(d, &mb, &rq) &&
	    !sip_stack_ack(c->b->prm.stack, (struct pl){(const char *)mb.buf, mb.end},
			   sip_dialog_flow(d)))
		b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_ACK, 0);
	mbuf_reset(&mb);
	b2b_state(c, c->ctl_hold ? B2BUA_HOLD : B2BUA_START);
	b2b_st_refreshed(c); /* a re-INVITE refreshes the session (RFC 4028) */
}

/* imsd's re-INVITE to the phone of an mt or echo call; hold: the
 * direction to offer changes. */
static int own_reinvite(struct b2b_call *c, bool hold)
{
	struct sip_dialog *d = c->type == B2BUA_MT ? c->bd : c->a;
	struct pl base = c->type == B2BUA_MT
			     ? (c->sdp_b.end ? (struct pl){(const char *)c->sdp_b.buf,
							   c->sdp_b.end}
					     : c->a_inv->body)
			     : (struct pl){(const char *)c->aw.rbody.buf, c->aw.rbody.end};
	struct sip_dialog_req_prm rq = {.method = PL("INVITE")};
	struct sip_stack_req_prm rp = {0};
	char contact[NET_ADDR_STRLEN + 64], allow[256];
	bool held = hold ? !c->ctl_hold : c->ctl_hold;
	struct sip_tsx *tsx = NULL;
	struct mbuf mb, sdp;
	int err;

	if (c->type == B2BUA_SERVER)
		return EINVAL;
	if (!d || (c->state != B2BUA_START && c->state != B2BUA_HOLD))
		return EALREADY;
	if (c->reinvite || c->aw.on)
		return EBUSY; /* RFC 3261 §14.1: one INVITE at a time */
	mbuf_init(&mb, SIP_MSG_MAX_HARD);
	mbuf_init(&sdp, SIP_MSG_MAX_HARD);
	err = sdp_redirect(base, hold ? (held ? "sendonly" : "sendrecv") : NULL,
			   ++c->ctl_ver + 1, c->ctl_dropped, &sdp);
	err = err ? err : b2b_contact(c->b, sip_dialog_flow(d), contact, sizeof(contact));
	if (!err) {
		snprintf(allow, sizeof(allow), "Allow: %s\r\n", sip_stack_allow(c->b->prm.stack));
		rq.contact = pl_from_str(contact);
		rq.hdrs = pl_from_str(allow);
		if (sdp.end) {
			rq.ctype = PL("application/sdp");
			rq.body = (struct pl){(const char *)sdp.buf, sdp.end};
		}
		err = sip_dialog_req_build(d, &mb, &rq);
	}
	if (!err) {
		rp.req = (struct pl){(const char *)mb.buf, mb.end};
		rp.dst = sip_dialog_flow(d);
		rp.resp_h = own_resp_h;
		rp.arg = c;
		err = sip_stack_request(c->b->prm.stack, &rp, &tsx);
	}
	if (!err) {
		err = b2b_tx_add(c, tsx, B2B_TX_OWN, 0, 0, SIP_METHOD_INVITE);
		if (err)
			sip_tsx_terminate(tsx);
	}
	if (!err) {
		c->reinvite = true;
		c->ctl_hold = held;
		b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_INVITE, 0);
	}
	mbuf_reset(&sdp);
	mbuf_reset(&mb);
	return err;
}

int b2bua_dialog_reinvite(struct b2bua *b, uint32_t index, bool hold)
{
	struct b2b_call *c = b2b_call_get(b, index);

	return c ? own_reinvite(c, hold) : ENOENT;
}

int b2bua_dialog_downgrade(struct b2bua *b, uint32_t index, const char *media)
{
	struct b2b_call *c = b2b_call_get(b, index);
	uint8_t was;
	size_t i;
	int err;

	if (!c)
		return ENOENT;
	for (i = 0; i < 3 && strcmp(media ? media : "video", media_names[i]); i++)
		;
	if (i == 3)
		return EINVAL;
	was = c->ctl_dropped;
	c->ctl_dropped |= (uint8_t)(1u << i);
	err = own_reinvite(c, false);
	if (err)
		c->ctl_dropped = was;
	return err;
}
