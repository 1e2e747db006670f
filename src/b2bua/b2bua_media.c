/*
 * b2bua_media — a call's SDP through the in-process media relay
 * (src/media, docs/media.md): every SDP a UE sends (RFC 3264 offer or
 * answer, in an INVITE, a 1xx/2xx, an ACK, a re-INVITE or an UPDATE and
 * their answers) goes through the call's media session, and the other UE
 * gets it with every c=/m= pointing at the relay's ports on its side. The
 * session's legs carry the IMPUs' media settings (manual §5.2.1 `audio`,
 * `video`, `text`, `rtp`, `rtcp`, `media_delay`) and, for the echo service,
 * the echo mode. Without a relay (b2bua_prm.relay NULL) SDP passes through
 * unchanged.
 *
 * Forking to bindings of both address families (an IPv4 and an IPv6
 * sip_addr): the branches of the second family get their own session (its
 * pairs on imsd's address of their family, RFC 4566 §5.7), so each branch
 * is one callee leg; the SDP of a branch goes through its own session, and
 * the loser family's session is released when a branch answers.
 *
 * SDP errors are answered (issue "bad input gets an answer"): SDP that does
 * not parse 400, SDP that cannot be relayed or an answer that does not
 * match its offer 488, no free port pair 503 (the relay logs it).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "b2bua/b2bua_int.h"
#include "core/log.h"
#include "core/mem.h"
#include "media/media.h"
#include "sip/sip_hdr.h"

bool b2b_is_sdp(const struct sip_msg *m)
{
	const struct sip_hdr *ct = sip_msg_hdr(m, SIP_HDR_CONTENT_TYPE);
	struct sip_ctype t;

	return m->body.l && ct && !sip_ctype_decode(&t, ct->val) &&
	       pl_caseeq_str(t.type, "application") && pl_caseeq_str(t.subtype, "sdp");
}

void b2b_media_leg_prm(const struct b2bua *b, struct media_leg_prm *lp,
		       const struct hss_user *u, uint32_t impu, const struct net_flow *flow)
{
	const struct ims_cfg_impu_opts *o = hss_impu_opts(u, impu);

	memset(lp, 0, sizeof(*lp));
	b2b_our_addr(b, flow, &lp->local);
	lp->sig_peer = flow->peer;
	lp->audio = o->audio;
	lp->video = o->video;
	lp->text = o->text;
	lp->rtp = o->rtp;
	lp->rtcp = o->rtcp;
	lp->delay_ms = o->media_delay > 0 ? (uint32_t)(o->media_delay * 1000.0) : 0;
	if (lp->delay_ms > MEDIA_DELAY_MAX_MS)
		lp->delay_ms = MEDIA_DELAY_MAX_MS;
}

int b2b_media_start(struct b2b_call *c)
{
	struct media_session_prm sp = {0};

	if (!c->b->prm.relay)
		return 0;
	sp.id = c->callid_a;
	b2b_media_leg_prm(c->b, &sp.leg[MEDIA_LEG_A], c->orig, c->orig_impu, &c->a_flow);
	sp.leg[MEDIA_LEG_A].echo = c->type == B2BUA_ECHO;
	/* leg B is the caller's side until the callee's binding is known */
	sp.leg[MEDIA_LEG_B] = sp.leg[MEDIA_LEG_A];
	sp.leg[MEDIA_LEG_B].echo = false;
	return media_session_alloc(&c->ms, c->b->prm.relay, &sp);
}

/* ---- forking to both address families ---- */

static uint8_t leg_af(const struct b2b_call *c, const struct b2b_leg *leg)
{
	struct net_addr a;

	b2b_our_addr(c->b, &leg->flow, &a);
	return (uint8_t)net_addr_af(&a);
}

static void ms_swap(struct b2b_call *c)
{
	struct media_session *ms = c->ms;
	struct mbuf sb = c->sdp_b;
	uint8_t af = c->ms_af;

	c->ms = c->ms2;
	c->sdp_b = c->sdp_b2;
	c->ms_af = c->ms2_af;
	c->ms2 = ms;
	c->sdp_b2 = sb;
	c->ms2_af = af;
}

void b2b_media_pick(struct b2b_call *c, const struct b2b_leg *leg)
{
	if (c->ms2 && leg_af(c, leg) == c->ms2_af)
		ms_swap(c);
}

/* The session of the first branch of the other family: its own pairs on
 * both legs (the caller gets the A side's of the branch that answers). */
static int ms2_new(struct b2b_call *c, const struct b2b_leg *leg, uint8_t af)
{
	struct media_session_prm sp = {0};
	struct b2b_sdp_err e;
	int err;

	sp.id = c->callid_a;
	b2b_media_leg_prm(c->b, &sp.leg[MEDIA_LEG_A], c->orig, c->orig_impu, &c->a_flow);
	b2b_media_leg_prm(c->b, &sp.leg[MEDIA_LEG_B], leg->user, leg->impu, &leg->flow);
	err = media_session_alloc(&c->ms2, c->b->prm.relay, &sp);
	if (err)
		return err;
	c->ms2_af = af;
	ms_swap(c);
	mbuf_clear(&c->sdp_b);
	err = c->a_offer ? b2b_media_sdp(c, B2B_A, true, c->a_inv, &c->sdp_b, &e) : 0;
	if (err && err != ENOENT) {
		ms_swap(c);
		media_session_release(c->ms2);
		c->ms2 = mem_deref(c->ms2);
		return err;
	}
	return 0;
}

int b2b_media_branch(struct b2b_call *c, const struct b2b_leg *leg, struct b2b_sdp_err *e)
{
	uint8_t af;
	int err;

	if (!c->sdp_state) {
		/* the caller's offer through the relay, towards the callee's side
		 * (the first binding's socket; every branch of its family gets
		 * the same) */
		b2b_media_leg_b(c, leg);
		err = c->type == B2BUA_MT
			  ? b2b_mt_offer(c, leg, e) /* imsd's own offer */
			  : b2b_media_sdp(c, B2B_A, true, c->a_inv, &c->sdp_b, e);
		c->sdp_state = err && err != ENOENT ? -1 : 1;
		c->ms_af = leg_af(c, leg);
		return c->sdp_state < 0 ? err : 0;
	}
	if (!c->ms || c->type != B2BUA_SERVER)
		return 0; /* one offer for all (no relay; mt: imsd's own) */
	af = leg_af(c, leg);
	if (af == c->ms_af)
		return 0;
	if (!c->ms2) {
		err = ms2_new(c, leg, af);
		if (err) {
			log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, c->callid_a,
				  "call %u: no media for a branch of the other address "
				  "family: %s", c->index, strerror(err));
			return err;
		}
		return 0;
	}
	ms_swap(c);
	return 0;
}

void b2b_media_leg_b(struct b2b_call *c, const struct b2b_leg *leg)
{
	struct media_leg_prm lp;
	int err;

	b2b_media_pick(c, leg);
	if (c->ms2 && c->win >= 0) { /* the winner's session stays */
		media_session_release(c->ms2);
		c->ms2 = mem_deref(c->ms2);
	}
	if (!c->ms)
		return;
	b2b_media_leg_prm(c->b, &lp, leg->user, leg->impu, &leg->flow);
	err = media_session_leg_set(c->ms, MEDIA_LEG_B, &lp);
	if (err && err != EBUSY)
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, c->callid_a,
			  "call %u: media leg of the callee: %s", c->index,
			  strerror(err));
}

uint16_t b2b_media_err_scode(int err, const char **reason)
{
	switch (err) {
	case ENOSPC:
		*reason = "Service Unavailable - no media port free";
		return 503;
	case EBADMSG:
		*reason = "Bad Request - malformed SDP";
		return 400;
	default:
		*reason = "Not Acceptable Here";
		return 488;
	}
}

uint64_t b2b_sdp_origin(struct pl body)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	size_t i = 0;

	while (i + 2 <= body.l && strncmp(body.p + i, "o=", 2)) {
		const char *nl = memchr(body.p + i, '\n', body.l - i);

		if (!nl)
			return 0;
		i = (size_t)(nl - body.p) + 1;
	}
	if (i + 2 > body.l)
		return 0;
	for (; i < body.l && body.p[i] != '\r' && body.p[i] != '\n'; i++)
		h = (h ^ (uint8_t)body.p[i]) * 1099511628211ull;
	return h ? h : 1;
}

/* The callee's SDP that reached the caller: which branch's, and its o=;
 * with several branches and the relay, kept in that branch. */
static void origin_note(struct b2b_call *c, enum b2b_side from, const struct sip_msg *m)
{
	struct b2b_leg *leg;

	if (from != B2B_B)
		return;
	c->o_b = b2b_sdp_origin(m->body);
	c->o_b_leg = c->win >= 0 ? c->win : c->be ? c->be_leg : -1;
	if (c->win >= 0 || c->o_b_leg < 0 || c->nlegs < 2 || !c->ms)
		return;
	leg = &c->leg[c->o_b_leg];
	leg->sdp_last = mem_deref(leg->sdp_last);
	leg->sdp_last_len = 0;
	leg->sdp_o = c->o_b;
	leg->sdp_last = mem_alloc(m->body.l, NULL);
	if (!leg->sdp_last)
		return; /* then the 2xx's own SDP only */
	memcpy(leg->sdp_last, m->body.p, m->body.l);
	leg->sdp_last_len = m->body.l;
}

bool b2b_media_won(struct b2b_call *c, size_t i, const struct sip_msg *resp,
		   struct mbuf *out)
{
	const struct b2b_leg *leg = &c->leg[i];
	struct media_sdp_prm mp = {0};
	struct pl sdp = {leg->sdp_last, leg->sdp_last_len};
	char reason[128] = "";
	int err;

	if (!c->ms || !c->a_offer || !leg->sdp_last || c->o_b_leg == (int)i)
		return false;
	if (b2b_is_sdp(resp)) {
		if (b2b_sdp_origin(resp->body) != leg->sdp_o)
			return false; /* a new SDP: through the relay as it is */
		sdp = resp->body;
	}
	/* the branch's session again, as the answer to the caller's offer */
	mbuf_clear(out);
	mp.from = MEDIA_LEG_B;
	mp.own_offer = true;
	mp.sdp = sdp.p;
	mp.len = sdp.l;
	mp.out = out;
	mp.reason = reason;
	mp.reason_size = sizeof(reason);
	err = media_session_sdp(c->ms, &mp);
	if (err) {
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, c->callid_a,
			  "call %u: the answering branch's SDP: %s%s%s", c->index,
			  strerror(err), reason[0] ? ": " : "", reason);
		mbuf_clear(out);
		return false;
	}
	b2b_ctl_sdp_out(c, B2B_A, out);
	c->o_b = leg->sdp_o;
	c->o_b_leg = (int)i;
	return true;
}

bool b2b_media_repeat(struct b2b_call *c, size_t i, const struct sip_msg *resp,
		      struct mbuf *out)
{
	const struct mbuf *a = &c->sdp_to[B2B_A];

	if (!c->a_offer || !b2b_is_sdp(resp) || !c->o_b || c->o_b_leg != (int)i ||
	    b2b_sdp_origin(resp->body) != c->o_b)
		return false;
	mbuf_clear(out);
	if (a->end && mbuf_write(out, a->buf, a->end))
		mbuf_clear(out); /* then without a body: the caller has it */
	return true;
}

int b2b_media_sdp(struct b2b_call *c, enum b2b_side from, bool offer,
		  const struct sip_msg *m, struct mbuf *out, struct b2b_sdp_err *e)
{
	struct media_sdp_prm mp = {0};
	int err;

	if (!c->ms || !b2b_is_sdp(m)) {
		enum b2b_side to = from == B2B_A ? B2B_B : B2B_A;

		if (!b2b_is_sdp(m))
			return ENOENT;
		origin_note(c, from, m);
		mbuf_clear(out);
		/* no relay: it goes on as it came, with the o= version offset
		 * of imsd's re-INVITEs to that side (RFC 3264 §8) */
		if (c->ctl_ver[to] && !mbuf_write_pl(out, m->body)) {
			b2b_ctl_sdp_out(c, to, out);
			return 0;
		}
		b2b_ctl_sdp_keep(c, to, m->body);
		return ENOENT;
	}
	mbuf_clear(out);
	mp.from = from == B2B_A ? MEDIA_LEG_A : MEDIA_LEG_B;
	mp.offer = offer;
	mp.sdp = m->body.p;
	mp.len = m->body.l;
	mp.out = out;
	mp.reason = e->text;
	mp.reason_size = sizeof(e->text);
	e->text[0] = '\0';
	err = media_session_sdp(c->ms, &mp);
	if (!err)
		b2b_ctl_sdp_out(c, from == B2B_A ? B2B_B : B2B_A, out);
	if (!err)
		origin_note(c, from, m);
	if (err) {
		e->scode = b2b_media_err_scode(err, &e->reason);
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, c->callid_a,
			  "call %u: SDP %s from the %s: %s%s%s", c->index,
			  offer ? "offer" : "answer", from == B2B_A ? "caller" : "callee",
			  strerror(err), e->text[0] ? ": " : "", e->text);
	}
	return err;
}

int b2b_media_echo(struct b2b_call *c, struct pl offer, struct pl tmpl, struct mbuf *out)
{
	struct media_local_prm lp = {0};
	char reason[128] = "";
	int err;

	lp.leg = MEDIA_LEG_A;
	lp.sdp = offer.p;
	lp.len = offer.l;
	lp.tmpl = tmpl.l ? tmpl.p : NULL;
	lp.tmpl_len = tmpl.l;
	lp.out = out;
	lp.reason = reason;
	lp.reason_size = sizeof(reason);
	err = media_session_answer_local(c->ms, &lp);
	if (err)
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, c->callid_a,
			  "call %u: echo SDP: %s%s%s", c->index, strerror(err),
			  reason[0] ? ": " : "", reason);
	return err;
}

/* dialog_timeout once the call is up (manual §5.2): no signalling and no
 * media for that long ends it. Checked at most every dialog_timeout. */
static void idle_h(void *arg)
{
	struct b2b_call *c = arg;
	uint64_t dt = (uint64_t)c->b->prm.cfg->dialog_timeout * 1000;
	uint64_t last = c->last_ms, rx = c->ms ? media_session_last_rx_ms(c->ms) : 0;
	uint64_t now = loop_now_ms();

	if (c->state == B2BUA_STOP)
		return;
	if (rx > last)
		last = rx;
	if (now - last >= dt) {
		b2b_end_both(c, "no signalling and no media for dialog_timeout");
		return;
	}
	loop_timer_start(c->t_idle, dt - (now - last), idle_h, c);
}

void b2b_idle_start(struct b2b_call *c)
{
	/* without the relay imsd cannot see the media: docs/calls.md */
	if (!c->ms || !c->b->prm.cfg || !c->b->prm.cfg->dialog_timeout ||
	    loop_timer_pending(c->t_idle))
		return;
	loop_timer_start(c->t_idle, (uint64_t)c->b->prm.cfg->dialog_timeout * 1000,
			 idle_h, c);
}
