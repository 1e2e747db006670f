/*
 * b2bua_timer — session timers (RFC 4028), the check of a new INVITE: one
 * whose Session-Expires is below the Min-SE imsd requires gets 422 Session
 * Interval Too Small with imsd's Min-SE (RFC 4028 §8.1, as a proxy and as
 * the UAS of the caller's dialog). The settings are the caller IMPU's
 * `session_expires` (manual: "if IMS is the server (MO call and echo call),
 * caller configuration will be used"); `duration` 0 turns session timers
 * off and nothing is checked. The timers of the legs once the call goes
 * on (negotiation, refreshes, expiry) are b2bua_st.c's.
 */
#include <stdio.h>

#include "b2bua/b2bua_int.h"
#include "sip/sip_hdr.h"

uint16_t b2b_se_check(const struct ims_cfg_session_expires *se, const struct sip_msg *req,
		      char *hdr, size_t size)
{
	const struct sip_hdr *h = sip_msg_hdr(req, SIP_HDR_SESSION_EXPIRES);
	struct pl v;
	uint32_t secs;
	size_t i;

	if (!se || !se->duration || !h)
		return 0;
	/* delta-seconds *(;se-params) */
	v = h->val;
	for (i = 0; i < v.l && v.p[i] != ';'; i++)
		;
	v.l = i;
	if (sip_uint_decode(pl_trim(v), UINT32_MAX, &secs))
		return 0; /* not ours to judge: passed on as it is */
	if (secs >= se->min)
		return 0;
	snprintf(hdr, size, "Min-SE: %u\r\n", se->min);
	return 422;
}

bool b2b_se_reject(struct b2bua *b, const struct b2bua_invite *inv)
{
	const struct ims_cfg_session_expires *se =
	    hss_impu_opts(inv->orig, inv->orig_impu)->session_expires;
	struct sip_tsx_reply_prm rp = {0};
	char h[48];

	if (b2b_se_check(se, inv->req, h, sizeof(h)) != 422)
		return false;
	rp.hdrs = pl_from_str(h);
	(void)sip_stack_reply(b->prm.stack, inv->tsx, 422, "Session Interval Too Small", &rp);
	return true;
}
