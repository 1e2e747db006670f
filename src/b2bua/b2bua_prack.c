/*
 * b2bua_prack — reliable provisional responses (RFC 3262) on the caller's
 * leg. imsd is the caller's UAS: it takes part in 100rel itself, as the
 * caller negotiates it, whatever the callee supports (per leg; towards the
 * callees 100rel is not offered, so a caller that requires it is served
 * even by a callee without it).
 *
 *   INVITE Require: 100rel, `100rel` on    every 1xx (not 100) to the
 *                       caller goes with Require: 100rel and RSeq (§3),
 *                       sent again from T1 doubling until PRACKed;
 *                       after 64*T1 without PRACK: 500 to the caller, the
 *                       branches CANCELled (§3 "SHOULD reject ... 5xx")
 *   INVITE Supported: 100rel, `100rel` on  the same for a 1xx with a body
 *                       (the 183 with SDP of early media and preconditions,
 *                       which must not be lost); a 1xx without one goes as
 *                       before (§3: the UAS MAY, not MUST, when only
 *                       Supported)
 *   Require: 100rel, `100rel` off (global or the caller IMPU's): 420 with
 *                       Unsupported: 100rel (RFC 3261 §8.2.2.3)
 *   one reliable 1xx at a time (§3): a later 1xx waits for the PRACK of
 *                       the one out (the newest waiting one is kept)
 *   PRACK matching RSeq, CSeq and method of the 1xx out   200 (§3)
 *   PRACK matching nothing unacknowledged                 481 (§3)
 *   a final answer      ends the retransmissions (a PRACK of the last
 *                       one still gets 200)
 *   a 2xx while the reliable 1xx out has a body (SDP)   kept, and sent
 *                       once that 1xx is PRACKed (§3: "MUST NOT send a
 *                       final response until those provisional responses
 *                       are acknowledged"); no PRACK within 64*T1: 500 to
 *                       the caller, BYE to the callee that answered
 *   a PRACK with SDP    the answer to the offer of the callee's reliable
 *                       1xx (the INVITE had none): it goes to the callee in
 *                       imsd's PRACK (b2bua_early.c, §5)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b2bua/b2bua_int.h"
#include "b2bua/b2bua_prack.h"
#include "core/log.h"
#include "sip/sip_hdr.h"

/* A reliable 1xx as answered (the transaction builds it again). */
struct b2b_rel1xx {
	bool on;
	uint16_t scode;
	char reason[64];
	struct mbuf h, ct, body;
};

struct b2b_prack {
	enum b2b_rel_mode mode;
	uint32_t rseq;		/* RSeq of the last reliable 1xx sent */
	struct b2b_rel1xx out;	/* sent, not PRACKed yet */
	struct b2b_rel1xx next; /* waiting for out's PRACK */
	uint32_t retx_ms, waited_ms;
	struct loop_timer *t;
	uint16_t held; /* a 2xx kept until out's PRACK (§3): its status */
};

/* ---- pure helpers ---- */

static bool has_100rel(const struct sip_msg *m, enum sip_hdr_id id)
{
	for (const struct sip_hdr *h = sip_msg_hdr(m, id); h; h = sip_msg_hdr_next(m, h))
		if (pl_caseeq_str(pl_trim(h->val), "100rel"))
			return true;
	return false;
}

enum b2b_rel_mode b2b_rel_mode(const struct sip_msg *inv, bool enabled)
{
	if (has_100rel(inv, SIP_HDR_REQUIRE))
		return enabled ? B2B_REL_REQUIRED : B2B_REL_REJECT;
	if (enabled && has_100rel(inv, SIP_HDR_SUPPORTED))
		return B2B_REL_SUPPORTED;
	return B2B_REL_NONE;
}

/* The next space-separated field of *v, moved past. */
static struct pl field(struct pl *v)
{
	struct pl f;

	while (v->l && (*v->p == ' ' || *v->p == '\t')) {
		v->p++;
		v->l--;
	}
	f.p = v->p;
	f.l = 0;
	while (f.l < v->l && f.p[f.l] != ' ' && f.p[f.l] != '\t')
		f.l++;
	v->p += f.l;
	v->l -= f.l;
	return f;
}

int b2b_rack_parse(struct pl v, uint32_t *rseq, uint32_t *cseq, struct pl *method)
{
	struct pl a = field(&v), b = field(&v), m = field(&v);

	/* RFC 3262 §7.1/§7.2: 1*DIGIT, at most 2**32-1; CSeq below 2**31 */
	if (!a.l || !b.l || !m.l || a.l > 10 || b.l > 10 || pl_trim(v).l)
		return EBADMSG;
	if (pl_u32(a, rseq) || pl_u32(b, cseq) || *rseq == 0)
		return EBADMSG;
	*method = m;
	return 0;
}

uint32_t b2b_rel_next_ms(uint32_t cur_ms, uint32_t waited_ms, uint32_t t1_ms)
{
	uint64_t next = cur_ms ? (uint64_t)cur_ms * 2 : t1_ms;

	if ((uint64_t)waited_ms + next > 64ull * t1_ms)
		return 0;
	return (uint32_t)next;
}

/* ---- the call's side ---- */

int b2b_prack_check(struct b2bua *b, const struct b2bua_invite *inv,
		    enum b2b_rel_mode *mode)
{
	const struct ims_cfg_impu_opts *o = hss_impu_opts(inv->orig, inv->orig_impu);
	struct sip_tsx_reply_prm rp = {.hdrs = PL("Unsupported: 100rel\r\n")};

	*mode = b2b_rel_mode(inv->req, o && o->rel100);
	if (*mode != B2B_REL_REJECT)
		return 0;
	(void)sip_stack_reply(b->prm.stack, inv->tsx, 420, "Bad Extension", &rp);
	return EPROTO;
}

static void rel_init(struct b2b_rel1xx *r)
{
	mbuf_init(&r->h, SIP_MSG_MAX_UDP);
	mbuf_init(&r->ct, 256);
	mbuf_init(&r->body, SIP_MSG_MAX_HARD);
}

static void rel_clear(struct b2b_rel1xx *r)
{
	r->on = false;
	mbuf_clear(&r->h);
	mbuf_clear(&r->ct);
	mbuf_clear(&r->body);
}

static void rel_reset(struct b2b_rel1xx *r)
{
	mbuf_reset(&r->h);
	mbuf_reset(&r->ct);
	mbuf_reset(&r->body);
}

int b2b_prack_init(struct b2b_call *c, enum b2b_rel_mode mode)
{
	struct b2b_prack *p;

	if (mode != B2B_REL_SUPPORTED && mode != B2B_REL_REQUIRED)
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	p->t = loop_timer_alloc();
	if (!p->t) {
		free(p);
		return ENOMEM;
	}
	p->mode = mode;
	rel_init(&p->out);
	rel_init(&p->next);
	c->prack = p;
	return 0;
}

void b2b_prack_free(struct b2b_call *c)
{
	struct b2b_prack *p = c->prack;

	if (!p)
		return;
	loop_timer_free(p->t);
	rel_reset(&p->out);
	rel_reset(&p->next);
	free(p);
	c->prack = NULL;
}

size_t b2b_prack_mem(const struct b2b_call *c)
{
	const struct b2b_prack *p = c->prack;

	if (!p)
		return 0;
	return sizeof(*p) + p->out.h.size + p->out.ct.size + p->out.body.size +
	       p->next.h.size + p->next.ct.size + p->next.body.size;
}

static int rel_keep(struct b2b_rel1xx *r, uint16_t scode, const char *reason,
		    const struct sip_tsx_reply_prm *rp)
{
	int err;

	rel_clear(r);
	r->scode = scode;
	snprintf(r->reason, sizeof(r->reason), "%s", reason ? reason : "");
	err = mbuf_write_pl(&r->h, rp->hdrs);
	err = err ? err : mbuf_write_pl(&r->ct, rp->ctype);
	err = err ? err : mbuf_write_pl(&r->body, rp->body);
	r->on = !err;
	return err;
}

static struct pl mb_pl(const struct mbuf *mb)
{
	return (struct pl){(const char *)mb->buf, mb->end};
}

/* (Re)sends p->out on the caller's INVITE transaction. */
static int rel_send(struct b2b_call *c, struct b2b_prack *p)
{
	struct sip_tsx *tsx =
	    c->a_tsx ? sip_tsx_lookup(sip_stack_tsx(c->b->prm.stack), c->a_tsx) : NULL;
	struct sip_tsx_reply_prm rp = {0};

	if (!tsx || sip_tsx_state(tsx) != SIP_TSX_PROCEEDING)
		return ENOENT;
	rp.hdrs = mb_pl(&p->out.h);
	rp.ctype = mb_pl(&p->out.ct);
	rp.body = mb_pl(&p->out.body);
	return sip_stack_reply(c->b->prm.stack, tsx, p->out.scode,
			       p->out.reason[0] ? p->out.reason : NULL, &rp);
}

/* The 2xx held for the caller's PRACK never goes: the caller gets scode
 * instead (500 when it never PRACKed, 487 when it cancelled), the callee's
 * 2xx is ACKed and its dialog ended, the call stops for why. */
static void held_end(struct b2b_call *c, uint16_t scode, const char *reason, const char *why)
{
	struct sip_tsx *tsx =
	    c->a_tsx ? sip_tsx_lookup(sip_stack_tsx(c->b->prm.stack), c->a_tsx) : NULL;

	c->prack->held = 0;
	c->aw.on = false;
	if (tsx && !sip_stack_reply(c->b->prm.stack, tsx, scode, reason, NULL))
		b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_OTHER, scode);
	if (c->bd) { /* its 2xx ACKed (RFC 3261 §13.2.2.4), then BYE */
		struct sip_dialog_req_prm rq = {.method = PL("ACK")};
		struct mbuf mb;

		mbuf_init(&mb, SIP_MSG_MAX_UDP);
		if (!sip_dialog_req_build(c->bd, &mb, &rq) &&
		    !sip_stack_ack(c->b->prm.stack, mb_pl(&mb), sip_dialog_flow(c->bd)))
			b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_ACK, 0);
		mbuf_reset(&mb);
		(void)b2b_bye(c, B2B_B);
	}
	b2b_stop(c, why);
}

bool b2b_prack_cancel_held(struct b2b_call *c)
{
	if (!c->prack || !c->prack->held)
		return false;
	/* RFC 3261 §9.2: no final answer sent yet, so the INVITE gets 487 */
	held_end(c, 487, "Request Terminated", "CANCEL from the caller");
	return true;
}

/* The 2xx held for out's PRACK goes now, and waits for its ACK. */
static void held_send(struct b2b_call *c, struct b2b_prack *p)
{
	struct sip_tsx *tsx =
	    c->a_tsx ? sip_tsx_lookup(sip_stack_tsx(c->b->prm.stack), c->a_tsx) : NULL;
	struct sip_tsx_reply_prm rp = {.hdrs = mb_pl(&c->aw.rh),
				       .ctype = mb_pl(&c->aw.rct),
				       .body = mb_pl(&c->aw.rbody)};
	uint16_t scode = p->held;

	p->held = 0;
	b2b_prack_final(c);
	if (!tsx || sip_stack_reply(c->b->prm.stack, tsx, scode, "OK", &rp))
		return;
	b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_OTHER, scode);
	b2b_ack_wait_start(c, B2B_A, c->a_tsx);
}

bool b2b_prack_hold_2xx(struct b2b_call *c, uint16_t scode)
{
	struct b2b_prack *p = c->prack;

	if (!p || !p->out.on || !p->out.body.end)
		return false;
	p->held = scode;
	rel_clear(&p->next); /* §3: no 1xx after the final answer */
	return true;
}

bool b2b_prack_2xx_held(const struct b2b_call *c)
{
	return c->prack && c->prack->held;
}

static void retx_h(void *arg)
{
	struct b2b_call *c = arg;
	struct b2b_prack *p = c->prack;
	uint32_t next;

	if (!p || !p->out.on || c->state == B2BUA_STOP || (c->a_answered && !p->held))
		return;
	p->waited_ms += p->retx_ms;
	next = b2b_rel_next_ms(p->retx_ms, p->waited_ms, b2b_t1(c));
	if (!next) {
		log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
			  "call %u: no PRACK for the reliable %u (RSeq %u)", c->index,
			  p->out.scode, p->rseq);
		rel_clear(&p->out);
		rel_clear(&p->next);
		if (p->held) { /* the callee answered: its dialog ends too */
			held_end(c, 500, "Server Internal Error - no PRACK",
				 "no PRACK from the caller");
			return;
		}
		b2b_cancel_legs(c);
		loop_timer_cancel(c->t_ring);
		b2b_answer_a(c, 500, "Server Internal Error - no PRACK", NULL, NULL);
		b2b_stop(c, "no PRACK from the caller");
		return;
	}
	if (rel_send(c, p) == 0)
		b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_OTHER, p->out.scode);
	p->retx_ms = next;
	loop_timer_start(p->t, next, retx_h, c);
}

/* Makes p->next (already kept, without RSeq) the reliable one out. */
static int rel_start(struct b2b_call *c, struct b2b_prack *p, uint16_t scode,
		     const char *reason, const struct sip_tsx_reply_prm *rp)
{
	int err;

	err = rel_keep(&p->out, scode, reason, rp);
	if (p->rseq == UINT32_MAX / 2) /* §7.1: below 2**31 at first, +1 each */
		return ERANGE;
	p->rseq++;
	err = err ? err
		  : mbuf_printf(&p->out.h, "Require: 100rel\r\nRSeq: %u\r\n", p->rseq);
	if (err) {
		rel_clear(&p->out);
		return err;
	}
	err = rel_send(c, p);
	p->waited_ms = 0;
	p->retx_ms = b2b_t1(c);
	loop_timer_start(p->t, p->retx_ms, retx_h, c);
	return err;
}

/* §7.1: the first RSeq between 1 and 2**31 - 1, unpredictable; here
 * below 2**28 (rel_start adds one before each send). */
static uint32_t rseq_first(const struct b2b_call *c)
{
	char hex[8];
	uint32_t v = 0;

	b2b_rand_hex(c->b, hex, 7);
	for (size_t i = 0; i < 7; i++)
		v = v * 16 +
		    (uint32_t)(hex[i] <= '9' ? hex[i] - '0' : (hex[i] | 0x20) - 'a' + 10);
	return v & 0x0fffffffu;
}

int b2b_prack_1xx(struct b2b_call *c, struct sip_tsx *tsx, uint16_t scode,
		  const char *reason, const struct sip_tsx_reply_prm *rp)
{
	struct b2b_prack *p = c->prack;

	if (p->mode == B2B_REL_SUPPORTED && !rp->body.l)
		return sip_stack_reply(c->b->prm.stack, tsx, scode, reason, rp);
	if (!p->rseq)
		p->rseq = rseq_first(c);
	if (p->out.on) /* §3: not before the PRACK of the one out */
		return rel_keep(&p->next, scode, reason, rp);
	return rel_start(c, p, scode, reason, rp);
}

void b2b_prack_final(struct b2b_call *c)
{
	struct b2b_prack *p = c->prack;

	if (!p)
		return;
	/* the one out stays matchable: a PRACK that crossed the final gets
	 * its 200 (§3 matches on RAck, not on the transaction's state) */
	loop_timer_cancel(p->t);
	rel_clear(&p->next);
}

/* Does the PRACK acknowledge the reliable 1xx out? (§3, §7.2) */
static bool rack_matches(const struct b2b_call *c, const struct sip_msg *req)
{
	const struct b2b_prack *p = c->prack;
	const struct sip_hdr *h = sip_msg_hdr(req, SIP_HDR_RACK);
	const struct sip_cseq *cs = sip_msg_cseq(c->a_inv);
	uint32_t rseq, cseq;
	struct pl m;

	if (!p || !p->out.on || !h || !cs || b2b_rack_parse(h->val, &rseq, &cseq, &m))
		return false;
	return rseq == p->rseq && cseq == cs->num && pl_eq_str(m, "INVITE");
}

void b2b_prack_request(struct b2b_call *c, bool from_a, struct sip_tsx *tsx,
		       const struct sip_msg *req)
{
	struct sip_stack *stack = c->b->prm.stack;
	struct b2b_prack *p = c->prack;

	if (!from_a || !rack_matches(c, req)) {
		(void)sip_stack_reply(stack, tsx, 481, "Call/Transaction Does Not Exist",
				      NULL);
		b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_OTHER, 481);
		return;
	}
	loop_timer_cancel(p->t);
	rel_clear(&p->out);
	(void)sip_stack_reply(stack, tsx, 200, "OK", NULL);
	b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_OTHER, 200);
	b2b_early_prack_answer(c, req);
	if (p->held) {
		held_send(c, p);
		return;
	}
	if (p->next.on) {
		struct sip_tsx_reply_prm rp = {.hdrs = mb_pl(&p->next.h),
					       .ctype = mb_pl(&p->next.ct),
					       .body = mb_pl(&p->next.body)};

		/* the waiting one goes out now (out's own storage) */
		if (rel_start(c, p, p->next.scode,
			      p->next.reason[0] ? p->next.reason : NULL, &rp) == 0)
			b2b_event(c, B2BUA_EV_SEND, SIP_METHOD_OTHER, p->out.scode);
		rel_clear(&p->next);
	}
}
