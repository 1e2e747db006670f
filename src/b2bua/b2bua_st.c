/*
 * b2bua_st — session timers (RFC 4028) on both legs of a call, imsd being
 * the UAS of the caller's leg (A) and the UAC of the callee's (B). The 422
 * of a too small interval is b2bua_timer.c's.
 *
 * Settings: `session_expires` (manual §5.2, §5.2.1) of the caller IMPU for
 * calls between phones and echo calls, of the callee IMPU for mt calls;
 * `duration` 0: imsd takes no part and the phones' headers pass end to end.
 *
 *   leg A (§9, imsd the UAS)   the caller's Session-Expires (lowered to
 *          `duration` when above it, never below the caller's Min-SE); none
 *          and `force`: `duration`, imposed; none without `force`: no timer.
 *          Refresher: the caller's `refresher` parameter, else `refresher`
 *          (uac: the caller, uas: imsd), imsd when the caller does not
 *          support timer (§9: never uac then).
 *   leg B (§7, imsd the UAC)   the INVITE carries Session-Expires (leg A's
 *          interval, else `duration`), Min-SE (`min`, or the caller's when
 *          larger) and Supported: timer; with `force` the `refresher` value
 *          as its refresher parameter (uac: imsd refreshes leg B), without
 *          it none (the callee chooses, §9). Without `force` and no timer
 *          asked by the caller, no Session-Expires (the callee may still ask
 *          for one in its 2xx). The 2xx: its Session-Expires sets the
 *          interval of the call (both legs) and the refresher (uac: imsd);
 *          a 2xx without one: with `force` imsd refreshes leg B (§7.2), else
 *          no timer on leg B.
 *
 *   a branch's 422 to the INVITE (§7.4): the call's interval and Min-SE
 *          raised to its Min-SE, and the branch's INVITE sent again
 *          (b2bua_fsm.c), once per branch.
 *   imsd the refresher of a leg: at half the interval (§10) an UPDATE
 *          without body (`method` update) or a re-INVITE with the session
 *          as that phone has it (b2b_ctl_refresh_sdp: the SDP imsd last
 *          sent it, c->sdp_to; `method` invite; UPDATE while an INVITE is
 *          in progress); its 2xx starts the leg's timer again, a
 *          re-INVITE's answer goes to the relay (b2b_ctl_answer_media);
 *          408, 481 or 422 ends the call (BYE on both legs, RFC 4028 §10,
 *          RFC 5057 §5); another failure is tried again 4 s later, until
 *          the expiry.
 *   a refresh from a phone naming a refresher (§9): that leg's role moves.
 *   a phone the refresher of a leg: no refresh by Session-Expires minus
 *          min(32 s, a third of it) (§10): BYE on both legs.
 *   a refresh relayed from one phone to the other (a re-INVITE or UPDATE
 *          answered 2xx) starts the timers of both legs again; imsd writes
 *          the Session-Expires and Min-SE of each leg in what it relays, the
 *          refresher parameter as each leg's own roles say.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "b2bua/b2bua_int.h"
#include "core/log.h"
#include "core/mem.h"
#include "sip/sip_hdr.h"

#define ST_RETRY_MS 4000u

struct b2b_st_leg {
	struct b2b_call *c; /* borrowed: the call that owns st */
	uint8_t side;	    /* enum b2b_side */
	bool on;	    /* a session timer on this leg */
	bool we_refresh;    /* imsd is its refresher */
	bool peer_timer;    /* its phone supports timer */
	bool pending;	    /* imsd's refresh is out */
	bool use_invite;    /* imsd refreshes by re-INVITE */
	bool inv_out;	    /* imsd's re-INVITE on this leg is out */
	uint16_t failed;    /* the 408, 481 or 422 its refresh got */
	uint64_t deadline_ms; /* imsd refreshing: the expiry (§10) */
	struct loop_timer *t; /* owned */
};

struct b2b_st {
	struct ims_cfg_session_expires se; /* the settings that apply */
	uint32_t interval;		   /* seconds, the call's */
	uint32_t min_se;		   /* the Min-SE imsd sends */
	struct b2b_st_leg l[2];		   /* B2B_A, B2B_B */
};

/* ---- pure helpers ---- */

bool b2b_st_has_tag(const struct sip_msg *m, enum sip_hdr_id id, const char *tag)
{
	for (const struct sip_hdr *h = sip_msg_hdr(m, id); h; h = sip_msg_hdr_next(m, h)) {
		struct pl v = h->val;

		while (v.l) { /* a comma list of option tags */
			const char *comma = memchr(v.p, ',', v.l);
			struct pl t = {v.p, comma ? (size_t)(comma - v.p) : v.l};

			if (pl_caseeq_str(pl_trim(t), tag))
				return true;
			v.p += t.l + (comma ? 1 : 0);
			v.l -= t.l + (comma ? 1 : 0);
		}
	}
	return false;
}

/* The Session-Expires of m: 0 and se, ENOENT none, EBADMSG malformed. */
static int sessexp(const struct sip_msg *m, enum sip_hdr_id id, struct sip_sessexp *se)
{
	const struct sip_hdr *h = sip_msg_hdr(m, id);

	if (!h)
		return ENOENT;
	return sip_sessexp_decode(se, h->val);
}

uint32_t b2b_st_expiry_ms(uint32_t interval)
{
	/* RFC 4028 §10: "the session expires ... minus the smaller of 32
	 * seconds and one third of the session interval" before it */
	uint32_t less = interval / 3 < 32 ? interval / 3 : 32;

	return (interval - less) * 1000u;
}

int b2b_st_leg_a(const struct ims_cfg_session_expires *se, const struct sip_msg *inv,
		 struct b2b_st_nego *n)
{
	struct sip_sessexp s, m;
	uint32_t floor;

	memset(n, 0, sizeof(*n));
	if (!se || !se->duration)
		return ENOENT;
	n->peer_timer = b2b_st_has_tag(inv, SIP_HDR_SUPPORTED, "timer") ||
			b2b_st_has_tag(inv, SIP_HDR_REQUIRE, "timer");
	floor = se->min;
	if (!sessexp(inv, SIP_HDR_MIN_SE, &m) && m.delta > floor && m.delta <= 86400)
		floor = m.delta;
	n->min_se = floor;
	if (!sessexp(inv, SIP_HDR_SESSION_EXPIRES, &s) && s.delta) {
		n->on = true;
		n->interval = s.delta;
		if (n->interval > se->duration) /* §9: the UAS may lower it */
			n->interval = se->duration > floor ? se->duration : floor;
		if (n->interval < floor) /* 422 before, unless the Min-SE says more */
			n->interval = floor;
		if (s.refresher != SIP_REFRESHER_NONE && n->peer_timer)
			n->peer_refreshes = s.refresher == SIP_REFRESHER_UAC;
		else
			n->peer_refreshes =
			    n->peer_timer && se->refresher == IMS_CFG_REFRESHER_UAC;
	} else if (se->force) {
		n->on = true;
		n->interval = se->duration > floor ? se->duration : floor;
		n->peer_refreshes = n->peer_timer && se->refresher == IMS_CFG_REFRESHER_UAC;
	}
	return 0;
}

int b2b_st_leg_b(const struct ims_cfg_session_expires *se, bool offered,
		 const struct sip_msg *resp, struct b2b_st_nego *n)
{
	struct sip_sessexp s;

	if (!se || !se->duration)
		return ENOENT;
	n->peer_timer = b2b_st_has_tag(resp, SIP_HDR_REQUIRE, "timer") ||
			b2b_st_has_tag(resp, SIP_HDR_SUPPORTED, "timer");
	if (!sessexp(resp, SIP_HDR_SESSION_EXPIRES, &s) && s.delta >= n->min_se &&
	    s.delta <= 604800) {
		n->on = true;
		n->interval = s.delta;
		/* §7.2: uac (imsd) unless the callee took it */
		n->peer_refreshes = s.refresher == SIP_REFRESHER_UAS;
		return 0;
	}
	/* §7.2: no Session-Expires in the 2xx; the UAC may still refresh */
	n->on = offered && se->force;
	n->peer_refreshes = false;
	return 0;
}

/* ---- state ---- */

static struct b2b_st_leg *leg_of(struct b2b_call *c, enum b2b_side s)
{
	return c->st ? &c->st->l[s] : NULL;
}

static void st_destroy(void *arg)
{
	struct b2b_st *st = arg;

	for (size_t i = 0; i < 2; i++)
		loop_timer_free(st->l[i].t);
}

static const struct ims_cfg_session_expires *settings(const struct b2b_call *c,
						      const struct b2b_leg *leg)
{
	if (c->type == B2BUA_MT) /* manual §5.2.1: the callee's for MT calls */
		return leg ? hss_impu_opts(leg->user, leg->impu)->session_expires : NULL;
	return c->orig ? hss_impu_opts(c->orig, c->orig_impu)->session_expires : NULL;
}

static int st_alloc(struct b2b_call *c, const struct ims_cfg_session_expires *se)
{
	struct b2b_st *st = mem_zalloc(sizeof(*st), st_destroy);

	if (!st)
		return ENOMEM;
	st->se = *se;
	st->interval = se->duration;
	st->min_se = se->min;
	for (size_t i = 0; i < 2; i++) {
		st->l[i].c = c;
		st->l[i].side = (uint8_t)i;
		st->l[i].use_invite = se->method == IMS_CFG_SE_METHOD_INVITE;
		st->l[i].t = loop_timer_alloc();
		if (!st->l[i].t) {
			mem_deref(st);
			return ENOMEM;
		}
	}
	c->st = st;
	return 0;
}

int b2b_st_init(struct b2b_call *c)
{
	const struct ims_cfg_session_expires *se = settings(c, NULL);
	struct b2b_st_nego n;
	int err;

	if (c->type == B2BUA_MT || b2b_st_leg_a(se, c->a_inv, &n))
		return 0; /* mt: at the first branch (b2b_st_invite_hdrs) */
	err = st_alloc(c, se);
	if (err)
		return err;
	c->st->min_se = n.min_se;
	c->st->l[B2B_A].on = n.on;
	c->st->l[B2B_A].peer_timer = n.peer_timer;
	c->st->l[B2B_A].we_refresh = !n.peer_refreshes;
	if (n.on)
		c->st->interval = n.interval;
	return 0;
}

void b2b_st_free(struct b2b_call *c)
{
	c->st = mem_deref(c->st);
}

size_t b2b_st_mem(const struct b2b_call *c)
{
	if (!c->st)
		return 0;
	/* with its two timers */
	return sizeof(*c->st) + 2 * 64;
}

bool b2b_st_on(const struct b2b_call *c)
{
	return c->st != NULL;
}

/* ---- what imsd writes ---- */

/* "Supported: timer" unless m's Supported was copied: with timer in it
 * (b2b_hdrs_copy_se adds it to the first one). */
static const char *supported(const struct sip_msg *m)
{
	return m && sip_msg_hdr(m, SIP_HDR_SUPPORTED) ? "" : "Supported: timer\r\n";
}

/* Session-Expires and Min-SE of the INVITE to a branch (§7.1). */
static int se_lines(const struct b2b_st *st, struct mbuf *h)
{
	return mbuf_printf(h, "Session-Expires: %u%s\r\nMin-SE: %u\r\n", st->interval,
			   !st->se.force ? ""
			   : st->se.refresher == IMS_CFG_REFRESHER_UAS ? ";refresher=uas"
								       : ";refresher=uac",
			   st->min_se);
}

int b2b_st_invite_hdrs(struct b2b_call *c, const struct b2b_leg *leg, struct mbuf *h)
{
	const struct ims_cfg_session_expires *se;
	struct b2b_st *st;
	bool want;
	int err;

	if (!c->st && c->type == B2BUA_MT) {
		se = settings(c, leg);
		if (!se || !se->duration)
			return 0;
		err = st_alloc(c, se);
		if (err)
			return err;
	}
	st = c->st;
	if (!st)
		return 0;
	/* imsd's own call (mt) and an imposed one: always; else the caller's */
	want = c->type == B2BUA_MT || st->se.force || st->l[B2B_A].on;
	err = mbuf_printf(h, "%s", supported(c->a_inv));
	if (!err && want)
		err = se_lines(st, h);
	return err;
}

int b2b_st_se_lines(const struct b2b_call *c, struct mbuf *h)
{
	return c->st ? se_lines(c->st, h) : ENOENT;
}

int b2b_st_retry_422(struct b2b_call *c, const struct sip_msg *resp)
{
	struct b2b_st *st = c->st;
	struct sip_sessexp m;

	/* §7.4: "the UAC MAY retry the request ... with a Session-Expires
	 * ... larger than the Min-SE of the 422"; only an INVITE that had
	 * one, once per branch (the caller), and within §4's bound */
	if (!st || !(c->type == B2BUA_MT || st->se.force || st->l[B2B_A].on) || !resp ||
	    sessexp(resp, SIP_HDR_MIN_SE, &m) || m.delta <= st->min_se || m.delta > 86400)
		return ENOENT;
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
		  "call %u: the callee wants Min-SE %u (422): INVITE again with it", c->index,
		  m.delta);
	st->min_se = m.delta;
	if (st->interval < m.delta)
		st->interval = m.delta; /* the call's: the caller's 2xx says it too */
	return 0;
}

void b2b_st_answered(struct b2b_call *c, const struct sip_msg *resp)
{
	struct b2b_st *st = c->st;
	struct b2b_st_nego n = {0};
	bool offered;

	if (!st || !resp)
		return;
	offered = c->type == B2BUA_MT || st->se.force || st->l[B2B_A].on;
	n.min_se = st->min_se;
	if (b2b_st_leg_b(&st->se, offered, resp, &n))
		return;
	st->l[B2B_B].on = n.on;
	st->l[B2B_B].peer_timer = n.peer_timer;
	st->l[B2B_B].we_refresh = !n.peer_refreshes;
	if (n.on && n.interval)
		st->interval = n.interval; /* the callee's, for both legs */
}

/* Session timers are of the confirmed dialog (RFC 4028 §7.4, §9): an
 * UPDATE of the early one carries none. */
static bool confirmed(const struct b2b_call *c, enum b2b_side s)
{
	if (s == B2B_A)
		return c->a && !sip_dialog_is_early(c->a);
	return c->bd != NULL;
}

void b2b_st_named(struct b2b_call *c, enum b2b_side s, const struct sip_msg *m)
{
	struct b2b_st_leg *l = leg_of(c, s);
	struct sip_sessexp se;
	bool phone;

	if (!l || !l->on || !m || !confirmed(c, s) ||
	    sessexp(m, SIP_HDR_SESSION_EXPIRES, &se) || se.refresher == SIP_REFRESHER_NONE)
		return;
	phone = se.refresher == SIP_REFRESHER_UAC; /* the phone is the UAC */
	/* §9: a UAC that does not support timer cannot be the refresher */
	if (phone && !b2b_st_has_tag(m, SIP_HDR_SUPPORTED, "timer") &&
	    !b2b_st_has_tag(m, SIP_HDR_REQUIRE, "timer"))
		return;
	if (phone == !l->we_refresh)
		return;
	l->we_refresh = !phone;
	l->peer_timer = l->peer_timer || phone;
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
		  "call %u: the %s's leg is refreshed by %s now (RFC 4028 §10)", c->index,
		  s == B2B_A ? "caller" : "callee", phone ? "the phone" : "imsd");
}

int b2b_st_resp_hdrs(struct b2b_call *c, enum b2b_side s, const struct sip_msg *copied,
		     struct mbuf *h)
{
	const struct b2b_st_leg *l = leg_of(c, s);

	if (!l || !confirmed(c, s))
		return 0;
	if (!l->on)
		return mbuf_printf(h, "%s", supported(copied));
	/* the asker is the UAC of the transaction answered */
	return mbuf_printf(h, "%s%sSession-Expires: %u;refresher=%s\r\n", supported(copied),
			   l->peer_timer ? "Require: timer\r\n" : "", c->st->interval,
			   l->we_refresh ? "uas" : "uac");
}

int b2b_st_req_hdrs(struct b2b_call *c, enum b2b_side to, const struct sip_msg *req,
		    struct mbuf *h)
{
	const struct b2b_st_leg *l = leg_of(c, to);

	if (!l || !confirmed(c, to) ||
	    (req->meth != SIP_METHOD_INVITE && req->meth != SIP_METHOD_UPDATE))
		return 0;
	if (!l->on)
		return mbuf_printf(h, "%s", supported(req));
	/* imsd is the UAC of what it sends */
	return mbuf_printf(h, "%sSession-Expires: %u;refresher=%s\r\nMin-SE: %u\r\n",
			   supported(req), c->st->interval, l->we_refresh ? "uac" : "uas",
			   c->st->min_se);
}

/* ---- timers ---- */

static void refresh_h(void *arg);

static void expire_h(void *arg)
{
	struct b2b_st_leg *l = arg;
	struct b2b_call *c = l->c;

	if (c->state == B2BUA_STOP)
		return;
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
		  "call %u: session timer of the %s's leg expired (%u s)", c->index,
		  l->side == B2B_A ? "caller" : "callee", c->st->interval);
	b2b_end_both(c, "no session refresh (RFC 4028 §10)");
}

static void failed_h(void *arg)
{
	struct b2b_st_leg *l = arg;

	b2b_end_both(l->c, l->failed == 422	? "session refresh refused (422)"
			   : l->failed == 408 ? "session refresh timed out"
					      : "session refresh: the phone lost the dialog");
}

static void leg_arm(struct b2b_st_leg *l, uint32_t interval)
{
	uint64_t now = loop_now_ms();

	if (!l->on)
		return;
	l->pending = false;
	if (!l->we_refresh) {
		loop_timer_start(l->t, b2b_st_expiry_ms(interval), expire_h, l);
		return;
	}
	l->deadline_ms = now + b2b_st_expiry_ms(interval);
	loop_timer_start(l->t, (uint64_t)interval * 500u, refresh_h, l);
}

void b2b_st_start(struct b2b_call *c)
{
	if (!c->st)
		return;
	for (size_t i = 0; i < 2; i++)
		leg_arm(&c->st->l[i], c->st->interval);
}

void b2b_st_refreshed(struct b2b_call *c)
{
	if (c->start_ms) /* not an UPDATE of the early dialogs */
		b2b_st_start(c);
}

void b2b_st_stop(struct b2b_call *c)
{
	if (!c->st)
		return;
	for (size_t i = 0; i < 2; i++)
		loop_timer_cancel(c->st->l[i].t);
}

/* The rest of the way to the expiry: a retry, or the expiry itself. */
static void leg_wait(struct b2b_st_leg *l, uint64_t retry_ms)
{
	uint64_t now = loop_now_ms();
	uint64_t left = l->deadline_ms > now ? l->deadline_ms - now : 0;

	if (retry_ms && left > retry_ms)
		loop_timer_start(l->t, retry_ms, refresh_h, l);
	else
		loop_timer_start(l->t, left, expire_h, l);
}

static struct sip_dialog *leg_dlg(const struct b2b_call *c, enum b2b_side s)
{
	return s == B2B_A ? c->a : c->bd;
}

static void refresh_resp_h(struct sip_tsx *tsx, const struct sip_msg *resp, uint16_t scode,
			   void *arg)
{
	struct b2b_call *c = arg;
	struct b2b_tx *x = b2b_tx_find(c, tsx);
	struct b2b_st_leg *l;
	struct sip_sessexp s;
	uint32_t interval;

	if (!x || x->kind != B2B_TX_ST || scode < 200 || !c->st)
		return;
	l = &c->st->l[x->to];
	x->final = true;
	b2b_event(c, B2BUA_EV_RECV, SIP_METHOD_OTHER, scode);
	if (x->meth == SIP_METHOD_INVITE) {
		l->inv_out = false;
		/* the other leg's own refresh may still be out */
		c->reinvite = c->st->l[!x->to].inv_out;
	}
	if (c->state == B2BUA_STOP)
		return;
	if (scode < 300 && resp) {
		if (x->meth == SIP_METHOD_INVITE && leg_dlg(c, (enum b2b_side)x->to)) {
			b2b_dlg_own_ack(c, leg_dlg(c, (enum b2b_side)x->to));
			/* the phone's answer: where it wants media now */
			b2b_ctl_answer_media(c, (enum b2b_side)x->to, resp);
		}
		b2b_touch(c);
		interval = c->st->interval;
		if (!sessexp(resp, SIP_HDR_SESSION_EXPIRES, &s) && s.delta >= c->st->min_se &&
		    s.delta <= 604800)
			interval = s.delta;
		leg_arm(l, interval);
		return;
	}
	l->pending = false;
	if (scode == 408 || scode == 481 || scode == 422) {
		/* the BYEs once the transaction has ACKed this final (the stack
		 * sends that ACK when we return) */
		l->failed = scode;
		loop_timer_start(l->t, 0, failed_h, l);
		return;
	}
	/* RFC 3311: an UPDATE the phone does not take; a re-INVITE then */
	if (scode == 405 || scode == 501)
		l->use_invite = true;
	leg_wait(l, scode == 405 || scode == 501 ? 1 : ST_RETRY_MS);
}

static int refresh_send(struct b2b_call *c, struct b2b_st_leg *l)
{
	struct sip_dialog *d = leg_dlg(c, (enum b2b_side)l->side);
	/* RFC 3261 §14.1: one INVITE at a time in a dialog; a relayed one
	 * spans both, imsd's refresh of the other leg only that one */
	bool busy = c->aw.on || l->inv_out || (c->reinvite && !c->st->l[!l->side].inv_out);
	bool invite = l->use_invite && !busy;
	struct sip_dialog_req_prm rq = {0};
	char contact[NET_ADDR_STRLEN + 64];
	struct mbuf h, sdp;
	int err;

	if (!d)
		return ENOENT;
	mbuf_init(&h, SIP_MSG_MAX_UDP);
	mbuf_init(&sdp, SIP_MSG_MAX_HARD);
	err = b2b_contact(c->b, sip_dialog_flow(d), contact, sizeof(contact));
	/* §7.4, §9: the refresher (imsd, the UAC here) is uac */
	err = err ? err
		  : mbuf_printf(&h, "Supported: timer\r\nSession-Expires: %u;refresher=uac\r\n"
				    "Min-SE: %u\r\nAllow: %s\r\n",
				c->st->interval, c->st->min_se, sip_stack_allow(c->b->prm.stack));
	if (err)
		goto out;
	rq.method = invite ? PL("INVITE") : PL("UPDATE");
	rq.contact = pl_from_str(contact);
	rq.hdrs = (struct pl){(const char *)h.buf, h.end};
	/* the session as the phone has it: no change (RFC 3264 §8) */
	if (invite && !b2b_ctl_refresh_sdp(c, (enum b2b_side)l->side, &sdp) && sdp.end) {
		rq.ctype = PL("application/sdp");
		rq.body = (struct pl){(const char *)sdp.buf, sdp.end};
	}
	err = b2b_dlg_own_request(c, d, &rq, refresh_resp_h, B2B_TX_ST, l->side,
				  invite ? SIP_METHOD_INVITE : SIP_METHOD_UPDATE);
	if (!err) {
		l->pending = true;
		if (invite) {
			c->reinvite = true; /* RFC 3261 §14.1: 491 to the phones' */
			l->inv_out = true;
		}
	}
out:
	mbuf_reset(&sdp);
	mbuf_reset(&h);
	return err;
}

static void refresh_h(void *arg)
{
	struct b2b_st_leg *l = arg;
	struct b2b_call *c = l->c;
	int err;

	if (c->state == B2BUA_STOP)
		return;
	err = refresh_send(c, l);
	if (err)
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "call %u: cannot send the session refresh: %s", c->index,
			  strerror(err));
	/* its 2xx arms the leg again; no answer by the expiry ends the call */
	leg_wait(l, err ? ST_RETRY_MS : 0);
}

void b2b_st_taken(struct b2b_call *c, enum b2b_side s, struct sip_tsx *tsx,
		  const struct sip_msg *req)
{
	struct sip_tsx_reply_prm rp = {0};
	struct mbuf h;

	mbuf_init(&h, SIP_MSG_MAX_UDP);
	if (req->meth == SIP_METHOD_UPDATE) {
		b2b_st_named(c, s, req); /* §9: the refresher it names */
		(void)b2b_st_resp_hdrs(c, s, NULL, &h);
	}
	rp.hdrs = (struct pl){(const char *)h.buf, h.end};
	if (!sip_stack_reply(c->b->prm.stack, tsx, 200, "OK", &rp)) {
		b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_OTHER, 200);
		if (req->meth == SIP_METHOD_UPDATE)
			b2b_st_refreshed(c);
	}
	mbuf_reset(&h);
}
