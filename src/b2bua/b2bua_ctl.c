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
 *
 * `stop` is b2bua_dialog_stop (b2bua_info.c). Nothing here formats text.
 */
#include <errno.h>

#include "b2bua/b2bua_int.h"
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
