/*
 * b2bua_ctx — a call's life as data: creation in the table (an index, two
 * session ids), its events and state changes (manual §6 dialog_get), its
 * client transactions, and its end: stopped, kept B2BUA_LINGER_MS for
 * readers, then freed (its transactions still live are terminated first,
 * so that none calls back into a freed call).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b2bua/b2bua_int.h"
#include "core/log.h"
#include "core/mem.h"
#include "media/media.h"
#include "sip/sip_hdr.h"

static void call_destroy(void *arg)
{
	struct b2b_call *c = arg;
	struct sip_tsx_stack *ts = c->b ? sip_stack_tsx(c->b->prm.stack) : NULL;

	for (size_t i = 0; ts && i < B2B_TX_MAX; i++) {
		struct sip_tsx *t =
		    c->tx[i].kind ? sip_tsx_lookup(ts, c->tx[i].id) : NULL;

		if (t)
			sip_tsx_terminate(t);
	}
	if (ts && c->a_tsx) {
		struct sip_tsx *t = sip_tsx_lookup(ts, c->a_tsx);

		if (t)
			sip_tsx_tu_data_set(t, NULL);
	}
	loop_timer_free(c->t_ring);
	loop_timer_free(c->t_ack);
	loop_timer_free(c->t_idle);
	loop_timer_free(c->t_linger);
	loop_timer_free(c->t_answer);
	loop_timer_free(c->t_retry);
	b2b_cfm_drop(c);
	b2b_prack_free(c);
	b2b_st_free(c);
	b2b_early_drop(c);
	sip_dialog_end(c->a);
	sip_dialog_end(c->bd);
	mem_deref(c->a);
	mem_deref(c->bd);
	for (size_t i = 0; i < c->nlegs; i++) {
		mem_deref(c->leg[i].inv);
		mem_deref(c->leg[i].sdp_last);
	}
	mem_deref(c->a_inv);
	mem_deref(c->ms);
	mem_deref(c->ms2);
	mbuf_reset(&c->sdp_b);
	mbuf_reset(&c->sdp_b2);
	mbuf_reset(&c->sdp_to[B2B_A]);
	mbuf_reset(&c->sdp_to[B2B_B]);
	mbuf_reset(&c->aw.ack);
	mbuf_reset(&c->aw.rh);
	mbuf_reset(&c->aw.rct);
	mbuf_reset(&c->aw.rbody);
	free(c->from);
	free(c->to);
	free(c->callid_a);
	free(c->callid_b);
	free(c->mt_contact);
	free(c->cancel_hdrs);
}

uint32_t b2b_t1(const struct b2b_call *c)
{
	uint32_t t1 = c->b->prm.cfg ? c->b->prm.cfg->timer_t1_ms : 0;

	return t1 ? t1 : 500;
}

static int table_slot(struct b2bua *b, uint32_t *idx)
{
	uint32_t cap = b->ncalls_cap;

	for (uint32_t n = 0; n < cap; n++) {
		uint32_t i = (b->next_index + n) % cap;

		if (i && !b->calls[i]) { /* index 0 is never used: "none" */
			*idx = i;
			b->next_index = i + 1;
			return 0;
		}
	}
	if (cap >= b->prm.calls_max + 1)
		return ENOSPC;
	cap = cap ? cap * 2 : 64;
	if (cap > b->prm.calls_max + 1)
		cap = b->prm.calls_max + 1;
	struct b2b_call **v = realloc(b->calls, cap * sizeof(*v));

	if (!v)
		return ENOMEM;
	memset(v + b->ncalls_cap, 0, (cap - b->ncalls_cap) * sizeof(*v));
	*idx = b->ncalls_cap ? b->ncalls_cap : 1;
	b->calls = v;
	b->ncalls_cap = cap;
	b->next_index = *idx + 1;
	return 0;
}

int b2b_call_new(struct b2bua *b, struct b2b_call **callp)
{
	struct b2b_call *c;
	uint32_t idx;
	int err;

	err = table_slot(b, &idx);
	if (err)
		return err;
	c = mem_zalloc(sizeof(*c), call_destroy);
	if (!c)
		return ENOMEM;
	c->b = b;
	c->index = idx;
	c->win = -1;
	c->o_b_leg = -1;
	mbuf_init(&c->aw.ack, SIP_MSG_MAX_UDP);
	mbuf_init(&c->sdp_b, SIP_MSG_MAX_HARD);
	mbuf_init(&c->sdp_b2, SIP_MSG_MAX_HARD);
	mbuf_init(&c->sdp_to[B2B_A], SIP_MSG_MAX_HARD);
	mbuf_init(&c->sdp_to[B2B_B], SIP_MSG_MAX_HARD);
	mbuf_init(&c->aw.rh, SIP_MSG_MAX_UDP);
	mbuf_init(&c->aw.rct, 1024);
	mbuf_init(&c->aw.rbody, SIP_MSG_MAX_HARD);
	c->t_ring = loop_timer_alloc();
	c->t_ack = loop_timer_alloc();
	c->t_idle = loop_timer_alloc();
	c->t_linger = loop_timer_alloc();
	c->t_answer = loop_timer_alloc();
	c->t_retry = loop_timer_alloc();
	if (!c->t_ring || !c->t_ack || !c->t_idle || !c->t_linger || !c->t_answer ||
	    !c->t_retry) {
		mem_deref(c);
		return ENOMEM;
	}
	b->sid_seq++;
	snprintf(c->sid_a, sizeof(c->sid_a), "%08llx",
		 (unsigned long long)b->sid_seq * 2);
	snprintf(c->sid_b, sizeof(c->sid_b), "%08llx",
		 (unsigned long long)b->sid_seq * 2 + 1);
	c->date = time(NULL);
	c->t0_ms = loop_now_ms();
	c->last_ms = c->t0_ms;
	b->calls[idx] = c;
	b->st.calls++;
	b->st.live++;
	b2b_event(c, B2BUA_EV_STATE, SIP_METHOD_OTHER, 0);
	*callp = c;
	return 0;
}

struct b2b_call *b2b_call_get(const struct b2bua *b, uint32_t index)
{
	return index < b->ncalls_cap ? b->calls[index] : NULL;
}

void b2b_event(struct b2b_call *c, enum b2bua_event_type t, enum sip_method meth,
	       uint16_t scode)
{
	struct b2bua_event *e;

	if (c->nev == B2BUA_EVENTS_MAX) { /* the oldest goes */
		memmove(c->ev, c->ev + 1, (B2BUA_EVENTS_MAX - 1) * sizeof(c->ev[0]));
		c->nev--;
	}
	e = &c->ev[c->nev++];
	e->type = (uint8_t)t;
	e->state = (uint8_t)c->state;
	e->meth = (uint8_t)meth;
	e->scode = scode;
	e->ms = (uint32_t)(loop_now_ms() - c->t0_ms);
}

void b2b_state(struct b2b_call *c, enum b2bua_state s)
{
	if (c->state == s || c->state == B2BUA_STOP)
		return;
	if (s == B2BUA_START && !c->start_ms) {
		c->start_ms = loop_now_ms();
		c->b->st.answered++;
		b2b_idle_start(c);
		b2b_st_start(c); /* RFC 4028: both legs' session timers */
	}
	c->state = s;
	b2b_event(c, B2BUA_EV_STATE, SIP_METHOD_OTHER, 0);
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL, "call %u (%s -> %s): %s",
		  c->index, c->from ? c->from : "", c->to ? c->to : "",
		  b2bua_state_name(s));
	b2b_notify(c);
}

void b2b_notify(const struct b2b_call *c)
{
	if (c->b->watch && c->b->calls[c->index] == c)
		c->b->watch(c->index, c->b->watch_arg);
}

void b2bua_watch_set(struct b2bua *b, b2bua_watch_h *h, void *arg)
{
	b->watch = h;
	b->watch_arg = h ? arg : NULL;
}

static void linger_h(void *arg)
{
	struct b2b_call *c = arg;
	struct b2bua *b = c->b;

	if (b->calls[c->index] == c)
		b->calls[c->index] = NULL;
	b->st.kept--;
	mem_deref(c);
}

void b2b_stop(struct b2b_call *c, const char *why)
{
	struct sip_tsx_stack *ts = sip_stack_tsx(c->b->prm.stack);

	if (c->state == B2BUA_STOP)
		return;
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
		  "call %u (%s -> %s) ends: %s", c->index, c->from ? c->from : "",
		  c->to ? c->to : "", why);
	b2b_state(c, B2BUA_STOP);
	c->stop_ms = loop_now_ms();
	loop_timer_cancel(c->t_ring);
	loop_timer_cancel(c->t_ack);
	loop_timer_cancel(c->t_idle);
	loop_timer_cancel(c->t_answer);
	loop_timer_cancel(c->t_retry);
	b2b_cfm_drop(c);
	b2b_st_stop(c);
	sip_dialog_end(c->a);
	sip_dialog_end(c->bd);
	b2b_early_drop(c);
	if (c->ms)
		media_session_release(c->ms);
	if (c->ms2)
		media_session_release(c->ms2);
	if (c->a_tsx) {
		struct sip_tsx *t = sip_tsx_lookup(ts, c->a_tsx);

		if (t)
			sip_tsx_tu_data_set(t, NULL);
	}
	c->b->st.live--;
	c->b->st.kept++;
	loop_timer_start(c->t_linger, c->b->prm.linger_ms, linger_h, c);
}

int b2b_tx_add(struct b2b_call *c, const struct sip_tsx *tsx, enum b2b_tx_kind kind,
	       uint8_t leg_or_side, uint64_t srv_id, enum sip_method meth)
{
	struct sip_tsx_stack *ts = sip_stack_tsx(c->b->prm.stack);

	for (size_t i = 0; i < B2B_TX_MAX; i++) {
		struct b2b_tx *x = &c->tx[i];

		/* a slot is free when its transaction has ended */
		if (x->kind && sip_tsx_lookup(ts, x->id))
			continue;
		x->id = sip_tsx_id(tsx);
		x->kind = (uint8_t)kind;
		x->srv_id = srv_id;
		x->leg = leg_or_side;
		x->to = leg_or_side;
		x->meth = (uint8_t)meth;
		x->offer_in_req = false;
		x->final = false;
		return 0;
	}
	return ENOSPC;
}

struct b2b_tx *b2b_tx_find(struct b2b_call *c, const struct sip_tsx *tsx)
{
	uint64_t id = sip_tsx_id(tsx);

	for (size_t i = 0; i < B2B_TX_MAX; i++)
		if (c->tx[i].kind && c->tx[i].id == id)
			return &c->tx[i];
	return NULL;
}

/* A request the stack moved to TCP by its size and sent again over UDP
 * when the connection was refused (RFC 3261 §18.1.1) lives on in a new
 * client transaction, whose answers come with the same arguments: the
 * entry whose transaction is gone, of the same kind and method, with the
 * answer's Call-ID, takes the new one. */
struct b2b_tx *b2b_tx_adopt(struct b2b_call *c, const struct sip_tsx *tsx,
			    const struct sip_msg *resp, enum b2b_tx_kind kind)
{
	struct sip_tsx_stack *ts = sip_stack_tsx(c->b->prm.stack);
	const struct sip_hdr *cid = resp ? sip_msg_hdr(resp, SIP_HDR_CALL_ID) : NULL;
	const struct sip_cseq *cs = resp ? sip_msg_cseq(resp) : NULL;

	if (!cid || !cs)
		return NULL;
	for (size_t i = 0; i < B2B_TX_MAX; i++) {
		struct b2b_tx *x = &c->tx[i];
		const char *want = NULL;

		if (x->kind != kind || sip_tsx_lookup(ts, x->id))
			continue;
		if (kind == B2B_TX_INVITE && x->leg < c->nlegs && c->leg[x->leg].inv) {
			const struct sip_hdr *h =
			    sip_msg_hdr(c->leg[x->leg].inv, SIP_HDR_CALL_ID);

			if (!h || !pl_eq(h->val, cid->val) || cs->meth != SIP_METHOD_INVITE)
				continue;
			x->id = sip_tsx_id(tsx);
			c->leg[x->leg].ict_id = x->id;
			return x;
		}
		if (kind == B2B_TX_RELAY && cs->meth == (enum sip_method)x->meth) {
			const struct sip_dialog *d = x->to == B2B_A ? c->a : c->bd;

			want = d ? sip_dialog_callid(d) : NULL;
			if (want && pl_eq_str(cid->val, want)) {
				x->id = sip_tsx_id(tsx);
				return x;
			}
		}
	}
	return NULL;
}

const char *b2bua_state_name(enum b2bua_state s)
{
	static const char *const n[] = {"init", "ringing", "start", "hold", "stop"};

	return (size_t)s < sizeof(n) / sizeof(n[0]) ? n[s] : "?";
}

const char *b2bua_type_name(enum b2bua_type t)
{
	static const char *const n[] = {"server", "echo", "mt"};

	return (size_t)t < sizeof(n) / sizeof(n[0]) ? n[t] : "?";
}
