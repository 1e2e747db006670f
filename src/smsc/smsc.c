/*
 * smsc — the service's entry points (smsc.h): the instance, the users'
 * queues and the active list, the timer, operator SMS (smsc_send), the
 * status reports and the MESSAGE requests the service sends.
 *
 * Queue rules (docs/sms.md "Queue and retries"): an SMS waits in its
 * destination's queue, oldest first, and is delivered one at a time per
 * user (TS 23.040 §9.2.3.24.1: the parts of a concatenated SMS arrive in
 * order). The head goes out once it is saved, its sms_delay has passed and
 * the user has a binding that takes SMS; then nothing else goes to that user
 * until its RP-ACK, RP-ERROR, an error answer or SMSC_ACK_TIMEOUT_MS. A
 * failed attempt is tried again sms_retry_delay later, at the user's next
 * registration, on RP-SMMA and on sms_flush. An SMS past its expiry is
 * dropped (with a status report when TP-SRR asked for one).
 */
#include "smsc/smsc_int.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfm/cfm.h"
#include "core/log.h"
#include "core/mbuf.h"
#include "core/mem.h"
#include "registrar/registrar.h"

/* The timer runs every second while a queue is not empty. */
#define SMSC_TICK_MS 1000u
/* Parts of one operator SMS. */
#define SMSC_SEND_PARTS_MAX 64u

/* ---- defaults of the ops ---- */

static int ops_reply(struct sip_stack *stack, struct sip_tsx *tsx, uint16_t scode,
		     const char *reason, const struct sip_tsx_reply_prm *prm, void *arg)
{
	(void)arg;
	if (stack)
		return sip_stack_reply(stack, tsx, scode, reason, prm);
	return tsx ? sip_tsx_reply(tsx, scode, reason, prm) : EINVAL;
}

static int ops_request(struct sip_stack *stack, const struct sip_stack_req_prm *prm,
		       void *arg)
{
	(void)arg;
	return stack ? sip_stack_request(stack, prm, NULL) : ENOTCONN;
}

static struct sip_tsx *ops_tsx_find(struct sip_stack *stack, uint64_t id, void *arg)
{
	(void)arg;
	return stack ? sip_tsx_lookup(sip_stack_tsx(stack), id) : NULL;
}

uint64_t smsc_now(const struct smsc *s)
{
	return s->ops.now_ms ? s->ops.now_ms(s->ops.arg) : loop_now_ms();
}

int64_t smsc_wall(const struct smsc *s)
{
	return s->ops.wall_s ? s->ops.wall_s(s->ops.arg) : (int64_t)time(NULL);
}

/* ---- users ---- */

struct smsc_user *smsc_user_at(const struct smsc *s, uint32_t idx)
{
	return idx < s->nusers ? s->users[idx] : NULL;
}

struct smsc_user *smsc_user_get(struct smsc *s, const struct hss_user *u)
{
	uint32_t i = u ? hss_user_index(s->hss, u) : UINT32_MAX;
	struct smsc_user *su;

	if (i >= s->nusers) { /* a user added at run time (users_add) */
		uint32_t n = hss_user_count(s->hss);
		struct smsc_user **v = i < n ? realloc(s->users, ((size_t)n + 1) * sizeof(*v)) : NULL;

		if (!v)
			return NULL;
		memset(v + s->nusers, 0, ((size_t)n + 1 - s->nusers) * sizeof(*v));
		s->users = v;
		s->nusers = n;
	}
	if (s->users[i])
		return s->users[i];
	su = calloc(1, sizeof(*su));
	if (!su)
		return NULL;
	su->u = hss_user_at(s->hss, i);
	su->tail = &su->head;
	s->users[i] = su;
	return su;
}

/* On the active list while its queue is not empty. */
void smsc_active_set(struct smsc *s, struct smsc_user *su)
{
	bool want = su->head != NULL;

	if (want == su->active)
		return;
	if (want) {
		su->act_prev = NULL;
		su->act_next = s->act_head;
		if (s->act_head)
			s->act_head->act_prev = su;
		s->act_head = su;
	} else {
		if (su->act_prev)
			su->act_prev->act_next = su->act_next;
		else
			s->act_head = su->act_next;
		if (su->act_next)
			su->act_next->act_prev = su->act_prev;
		su->act_next = su->act_prev = NULL;
	}
	su->active = want;
	smsc_timer_arm(s);
}

static void smsc_tick_h(void *arg)
{
	smsc_tick(arg);
}

void smsc_timer_arm(struct smsc *s)
{
	if (s->tick && s->act_head && !loop_timer_pending(s->tick))
		loop_timer_start(s->tick, SMSC_TICK_MS, smsc_tick_h, s);
}

void smsc_tick(struct smsc *s)
{
	uint64_t now;
	int64_t wall;

	if (!s)
		return;
	now = smsc_now(s);
	wall = smsc_wall(s);
	for (struct smsc_user *su = s->act_head, *next; su; su = next) {
		next = su->act_next; /* su may leave the list */
		smsc_mt_due(s, su, now, wall);
	}
	smsc_timer_arm(s);
}

/* ---- messages ---- */

struct smsc_msg *smsc_msg_new(struct smsc *s, const uint8_t *tpdu, size_t len)
{
	struct smsc_msg *m;

	if (len > SMS_TPDU_MAX)
		return NULL;
	m = calloc(1, sizeof(*m) + len);
	if (!m)
		return NULL;
	m->id = ++s->next_id;
	m->orig_impu = HSS_IMPU_NONE;
	m->tpdu_len = (uint16_t)len;
	memcpy(m->tpdu, tpdu, len);
	m->saved = s->ss == NULL;
	return m;
}

void smsc_msg_enqueue(struct smsc *s, struct smsc_user *su, struct smsc_msg *m)
{
	struct smsc_user *from = m->orig ? smsc_user_get(s, m->orig) : NULL;

	m->next = NULL;
	m->uidx = hss_user_index(s->hss, su->u);
	if (!su->head || m->expires < su->exp_min)
		su->exp_min = m->expires;
	*su->tail = m;
	su->tail = &m->next;
	su->npending++;
	if (from)
		from->nsent++;
	s->stats.pending++;
	smsc_active_set(s, su);
	if (s->watch)
		s->watch(su->u, s->watch_arg);
}

void smsc_msg_remove(struct smsc *s, struct smsc_user *su, struct smsc_msg *m)
{
	struct smsc_user *from = m->orig ? smsc_user_get(s, m->orig) : NULL;

	for (struct smsc_msg **pp = &su->head; *pp; pp = &(*pp)->next) {
		if (*pp != m)
			continue;
		*pp = m->next;
		if (su->tail == &m->next)
			su->tail = pp;
		break;
	}
	if (su->inflight == m)
		su->inflight = NULL;
	su->npending--;
	if (from && from->nsent)
		from->nsent--;
	s->stats.pending--;
	/* only a saved SMS is ever removed (smsc_mt.c): no batch being built
	 * still points at it */
	smsc_store_del(s, m->id);
	free(m);
	smsc_active_set(s, su);
	if (s->watch)
		s->watch(su->u, s->watch_arg);
}

void smsc_watch_set(struct smsc *s, smsc_change_h *h, void *arg)
{
	s->watch = h;
	s->watch_arg = h ? arg : NULL;
}

struct smsc_msg *smsc_msg_find(struct smsc *s, uint64_t id, struct smsc_user **sup)
{
	for (struct smsc_user *su = s->act_head; su; su = su->act_next) {
		for (struct smsc_msg *m = su->head; m; m = m->next) {
			if (m->id == id) {
				*sup = su;
				return m;
			}
		}
	}
	return NULL;
}

int64_t smsc_expiry(const struct smsc *s, const struct sms_tpdu *sub, int64_t now)
{
	int64_t t;

	/* manual §5.2 sms_expires: TP-VP when the submit has one */
	if (sub && !sms_vp_expiry(&sub->vp, now, &t))
		return t;
	return now + (int64_t)(s->cfg->sms_expires ? s->cfg->sms_expires : 86400);
}

int64_t smsc_delay_s(const struct hss_user *u, uint32_t impu)
{
	const struct ims_cfg_impu_opts *o = hss_impu_opts(u, impu);

	return o && o->sms_delay > 0 ? (int64_t)(o->sms_delay + 0.999) : 0;
}

uint32_t smsc_pending_count(const struct smsc *s, const struct hss_user *u)
{
	const struct smsc_user *su =
	    s && u ? smsc_user_at(s, hss_user_index(s->hss, u)) : NULL;

	return su ? su->npending : 0;
}

void smsc_user_kick(struct smsc *s, const struct hss_user *u)
{
	struct smsc_user *su =
	    s && u ? smsc_user_at(s, hss_user_index(s->hss, u)) : NULL;

	if (!su || !su->head)
		return;
	su->retry_at = 0;
	su->waiting = false;
	smsc_mt_try(s, su);
}

static void smsc_kick_h(void *arg)
{
	struct smsc *s = arg;

	for (struct smsc_user *su = s->act_head, *next; su; su = next) {
		next = su->act_next;
		if (su->kicked) {
			su->kicked = false;
			smsc_user_kick(s, su->u);
		}
	}
}

void smsc_binding_up(struct smsc *s, const struct hss_user *u)
{
	struct smsc_user *su =
	    s && u ? smsc_user_at(s, hss_user_index(s->hss, u)) : NULL;

	if (!su || !su->head)
		return;
	/* after the REGISTER's 200 (registrar.h: a watcher defers) */
	su->kicked = true;
	if (s->kick && !loop_timer_pending(s->kick))
		loop_timer_start(s->kick, 0, smsc_kick_h, s);
}

/* The registrar's change watch: a binding added or refreshed is a phone
 * that can take its pending SMS now (TS 24.341 §5.3.2.1: delivery when
 * the UE registers). */
static void smsc_watch_h(const struct registrar_change_info *c, void *arg)
{
	if (c->change != REGISTRAR_BINDING_REMOVED)
		smsc_binding_up(arg, c->user);
}

int smsc_flush(struct smsc *s, const struct hss_user *u, uint32_t *n)
{
	uint32_t k = smsc_pending_count(s, u);

	if (n)
		*n = k;
	if (!k)
		return ENOENT;
	smsc_user_kick(s, u);
	return 0;
}

void smsc_hook_set(struct smsc *s, smsc_recv_h *h, void *arg)
{
	if (!s)
		return;
	s->hook = h;
	s->hook_arg = arg;
}

void smsc_stats_get(const struct smsc *s, struct smsc_stats *out)
{
	if (!out)
		return;
	if (s)
		*out = s->stats;
	else
		memset(out, 0, sizeof(*out));
}

/* ---- MESSAGE requests ---- */

/* nbytes random bytes as hex from the instance's pool (refilled whole:
 * a draw costs the same for 16 bytes or 1 KiB). */
static void rand_hex(struct smsc *s, char *buf, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t r[16];

	if (nbytes > sizeof(r))
		nbytes = sizeof(r);
	if (s->rnd_left < nbytes)
		s->rnd_left = RAND_bytes(s->rnd, (int)sizeof(s->rnd)) == 1 ? sizeof(s->rnd) : 0;
	if (s->rnd_left >= nbytes) {
		s->rnd_left -= nbytes;
		memcpy(r, s->rnd + s->rnd_left, nbytes);
	} else {
		memset(r, 0x5a, nbytes); /* uniqueness only, not secrecy */
	}
	for (size_t i = 0; i < nbytes; i++) {
		buf[2 * i] = hex[r[i] >> 4];
		buf[2 * i + 1] = hex[r[i] & 15];
	}
	buf[2 * nbytes] = '\0';
}

/* TS 24.341 §5.3.2.4 (the SC's MESSAGE to the phone) and TS 24.229
 * §5.4.3.3: Request-URI the contact, To and P-Called-Party-ID the served
 * IMPU, From and P-Asserted-Identity the SC. */
int smsc_message_build(struct smsc *s, struct mbuf *mb, const struct smsc_hdrs *h,
		       const uint8_t *body, size_t len)
{
	char tag[17], cid[33];
	int err;

	rand_hex(s, tag, 8);
	rand_hex(s, cid, 16);
	err = mbuf_printf(mb,
			  "MESSAGE %.*s SIP/2.0\r\n"
			  "Max-Forwards: 70\r\n"
			  "From: <%s>;tag=%s\r\n"
			  "To: <%s>\r\n"
			  "Call-ID: %s@%s\r\n"
			  "CSeq: 1 MESSAGE\r\n"
			  "P-Asserted-Identity: <%s>\r\n",
			  (int)h->ruri.l, h->ruri.p, s->sc_uri, tag, h->to, cid, s->host,
			  s->sc_uri);
	if (!err && h->pcpi)
		err = mbuf_printf(mb, "P-Called-Party-ID: <%s>\r\n", h->pcpi);
	if (!err && h->cfm) /* no framing header can be named (sip_custom_hdr_ok) */
		err = cfm_hdrs_apply(h->cfm, mb);
	if (!err)
		err = mbuf_printf(mb,
				  "Content-Type: application/vnd.3gpp.sms\r\n"
				  "Content-Length: %zu\r\n\r\n",
				  len);
	if (!err)
		err = mbuf_write(mb, body, len);
	return err;
}

struct smsc_try *smsc_try_new(struct smsc *s, uint32_t uidx, uint64_t msg_id, uint32_t gen)
{
	struct smsc_try *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->s = s;
	t->uidx = uidx;
	t->msg_id = msg_id;
	t->gen = gen;
	t->next = s->tries;
	if (s->tries)
		s->tries->prev = t;
	s->tries = t;
	return t;
}

void smsc_try_free(struct smsc *s, struct smsc_try *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		s->tries = t->next;
	if (t->next)
		t->next->prev = t->prev;
	free(t);
}

/* The contact URI of u's binding over flow (found by its peer: the flow
 * the UE's requests arrive on) and where imsd's requests go: that same flow,
 * or for a protected UE from our port-c to its port-s (TS 33.203 §7.1). */
struct contact_find {
	const struct net_flow *flow;
	char uri[512];
	struct net_flow dst;
	bool found;
};

static void contact_find_h(const struct registrar_binding_info *b, void *arg)
{
	struct contact_find *cf = arg;
	bool mapped;

	/* a protected UE sends over either SA pair: from its port-c (src) or
	 * its port-s (flow, where imsd's requests go), TS 24.229 §5.2.2.1 */
	if (cf->found || b->src.reliable != cf->flow->reliable ||
	    (!net_addr_eq(&b->src.peer, &cf->flow->peer) &&
	     !net_addr_eq(&b->flow.peer, &cf->flow->peer)))
		return;
	cf->found = !pl_strcpy(b->uri, cf->uri, sizeof(cf->uri));
	mapped = !net_addr_eq(&b->flow.peer, &b->src.peer) ||
		 !net_addr_eq(&b->flow.local, &b->src.local);
	cf->dst = mapped ? b->flow : *cf->flow;
}

static void rp_answer_resp_h(struct sip_tsx *tsx, const struct sip_msg *resp,
			     uint16_t scode, void *arg)
{
	struct smsc_try *t = arg;

	(void)tsx;
	(void)resp;
	if (scode < 200)
		return;
	if (scode >= 300)
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "sms: the RP answer to a phone got %u", scode);
	smsc_try_free(t->s, t);
}

int smsc_rp_send(struct smsc *s, struct smsc_user *su, const struct net_flow *flow,
		 const uint8_t *rp, size_t len)
{
	struct contact_find cf = {.flow = flow};
	struct sip_stack_req_prm prm = {0};
	char to[HSS_URI_MAX];
	struct smsc_hdrs h = {0};
	struct smsc_try *t;
	struct mbuf mb;
	int err;

	registrar_bindings_foreach(s->reg, su->u, contact_find_h, &cf);
	if (!cf.found)
		return ENOENT; /* de-registered meanwhile */
	err = hss_impu_uri(s->hss, su->u, hss_user_asserted(su->u), to, sizeof(to));
	if (err)
		return err;
	h.ruri = pl_from_str(cf.uri);
	h.to = to;
	mbuf_init(&mb, 8192);
	err = smsc_message_build(s, &mb, &h, rp, len);
	t = err ? NULL : smsc_try_new(s, hss_user_index(s->hss, su->u), 0, 0);
	if (!err && !t)
		err = ENOMEM;
	if (!err) {
		prm.req = (struct pl){(const char *)mb.buf, mb.end};
		prm.dst = &cf.dst;
		prm.resp_h = rp_answer_resp_h;
		prm.arg = t;
		err = s->ops.request(s->stack, &prm, s->ops.arg);
		if (err)
			smsc_try_free(s, t);
	}
	mbuf_reset(&mb);
	return err;
}

/* ---- status reports (TS 23.040 §9.2.2.3) ---- */

void smsc_report(struct smsc *s, const struct smsc_msg *m, uint8_t st)
{
	struct sms_status_prm sp = {0};
	struct smsc_user *to = m->orig ? smsc_user_get(s, m->orig) : NULL;
	uint8_t buf[SMS_TPDU_MAX];
	struct sms_tpdu t;
	struct sms_addr ra;
	struct smsc_msg *r;
	size_t len;

	if (!m->srr || m->kind != SMSC_KIND_DELIVER || !to)
		return;
	if (sms_addr_set(&ra, m->ra))
		memset(&ra, 0, sizeof(ra));
	sp.mr = m->submit_mr;
	sp.ra = &ra;
	sp.scts = m->created;
	sp.dt = smsc_wall(s);
	sp.st = st;
	sms_tpdu_status_report(&t, &sp);
	r = sms_tpdu_encode(&t, buf, sizeof(buf), &len) ? NULL : smsc_msg_new(s, buf, len);
	if (!r) {
		log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
			  "sms: status report for message %llu not made",
			  (unsigned long long)m->id);
		return;
	}
	r->kind = SMSC_KIND_REPORT;
	r->dst_impu = m->orig_impu;
	r->created = sp.dt;
	r->expires = smsc_expiry(s, NULL, sp.dt);
	r->not_before = sp.dt;
	smsc_msg_enqueue(s, to, r);
	smsc_store_put(s, r);
	s->stats.reports++;
	if (r->saved) /* else once its commit is applied */
		smsc_mt_try(s, to);
}

/* ---- operator SMS ---- */

static int send_part(struct smsc *s, struct smsc_user *su, uint32_t impu,
		     const struct sms_tpdu *t, int64_t now, uint32_t validity)
{
	uint8_t buf[SMS_TPDU_MAX];
	struct smsc_msg *m;
	size_t len;
	int err = sms_tpdu_encode(t, buf, sizeof(buf), &len);

	if (err)
		return err;
	m = smsc_msg_new(s, buf, len);
	if (!m)
		return ENOMEM;
	m->dst_impu = impu;
	m->created = now;
	m->expires = now + (int64_t)validity;
	m->not_before = now + smsc_delay_s(su->u, impu);
	smsc_msg_enqueue(s, su, m);
	smsc_store_put(s, m);
	return 0;
}

/* The SMS-DELIVER every part shares: TP-OA, PID, DCS, SCTS. */
static int send_tpdu_init(struct smsc *s, struct sms_tpdu *t, const struct smsc_send_prm *p,
			  int64_t now)
{
	struct sms_addr oa;
	struct sms_deliver_prm dp = {.oa = &oa, .scts = now};
	struct sms_tpdu sub;

	if (p->sender && *p->sender) {
		if (sms_addr_set(&oa, p->sender))
			return EINVAL;
	} else {
		oa = s->sc;
	}
	memset(&sub, 0, sizeof(sub));
	sub.type = SMS_TP_SUBMIT;
	sub.pid = p->pid;
	sub.has_pid = sub.has_dcs = sub.has_ud = true;
	return sms_tpdu_deliver_from_submit(t, &sub, &dp);
}

/* Packed GSM 7-bit TP-UD (manual §6 `sms` binary with a 7-bit `dcs`):
 * tp_udl counts septets, the header's included (TS 23.040 §9.2.3.16). */
static int send_binary_septets(struct sms_tpdu *t, const uint8_t *data, size_t len,
			       size_t hl, int tp_udl)
{
	size_t hsept = hl ? (hl * 8 + 6) / 7 : 0;
	unsigned fill = hl ? (unsigned)(hsept * 7 - hl * 8) : 0;
	size_t n = tp_udl >= 0 ? (size_t)tp_udl : (hl + len) * 8 / 7;

	if (n < hsept || n - hsept > SMS_UD_SEPTETS_MAX || n > SMS_UD_SEPTETS_MAX)
		return EINVAL;
	n -= hsept;
	t->ud.septets = true;
	t->ud.data_len = (uint16_t)n;
	return sms_septets_unpack(data, len, fill, n, t->ud.data) ? EINVAL : 0;
}

static int send_binary(struct smsc *s, struct smsc_user *su, uint32_t impu,
		       const struct smsc_send_prm *p, struct sms_tpdu *t, int64_t now,
		       uint32_t validity)
{
	struct sms_dcs d;
	size_t hl = 0;
	int err;

	if (p->ud_len > SMS_UD_OCTETS_MAX || (p->ud_len && !p->ud))
		return E2BIG;
	t->dcs = (uint8_t)(p->dcs >= 0 ? p->dcs : 4);
	t->udhi = p->udhi;
	memset(&t->ud, 0, sizeof(t->ud));
	if (p->udhi) {
		if (!p->ud_len || (size_t)p->ud[0] + 1 > p->ud_len)
			return EINVAL;
		hl = (size_t)p->ud[0] + 1;
		t->ud.udh_len = p->ud[0];
		memcpy(t->ud.udh, p->ud + 1, p->ud[0]);
	}
	sms_dcs_parse(t->dcs, &d);
	if (d.alphabet == SMS_ALPHA_GSM7 && !d.compressed) {
		err = send_binary_septets(t, p->ud + hl, p->ud_len - hl, hl, p->tp_udl);
		if (err)
			return err;
		return send_part(s, su, impu, t, now, validity);
	}
	/* octets: TP-UDL is their count; another tp_udl cannot be encoded
	 * truthfully and is refused */
	if (p->tp_udl >= 0 && (size_t)p->tp_udl != p->ud_len)
		return EINVAL;
	t->ud.septets = false;
	t->ud.data_len = (uint16_t)(p->ud_len - hl);
	if (p->ud_len > hl)
		memcpy(t->ud.data, p->ud + hl, p->ud_len - hl);
	return send_part(s, su, impu, t, now, validity);
}

int smsc_send(struct smsc *s, struct hss_user *u, uint32_t impu,
	      const struct smsc_send_prm *p, unsigned *parts)
{
	struct smsc_user *su = s ? smsc_user_get(s, u) : NULL;
	struct sms_split_prm sp = {.max_parts = SMSC_SEND_PARTS_MAX};
	uint32_t validity = p && p->validity ? p->validity : 86400;
	int64_t now = s ? smsc_wall(s) : 0;
	struct sms_ud *ud = NULL;
	struct sms_tpdu t;
	size_t n = 0;
	uint8_t dcs;
	int err;

	if (parts)
		*parts = 0;
	if (!su || !p || (!p->text && !p->ud && p->ud_len))
		return su ? EINVAL : ENOENT;
	if (impu == HSS_IMPU_NONE || impu >= hss_user_impu_count(u))
		impu = hss_user_asserted(u);
	err = send_tpdu_init(s, &t, p, now);
	if (err)
		return err;
	if (!p->text) {
		err = send_binary(s, su, impu, p, &t, now, validity);
		if (!err && parts)
			*parts = 1;
		if (!err)
			smsc_mt_try(s, su);
		return err;
	}
	ud = calloc(SMSC_SEND_PARTS_MAX, sizeof(*ud));
	if (!ud)
		return ENOMEM;
	sp.ref = ++s->concat_ref;
	err = sms_text_split(p->text, strlen(p->text), &sp, ud, &n, &dcs);
	if (!err && su->npending + n > SMSC_USER_PENDING_MAX)
		err = ENOSPC;
	for (size_t i = 0; i < n && !err; i++) {
		t.dcs = p->dcs >= 0 ? (uint8_t)p->dcs : dcs;
		t.udhi = ud[i].udh_len > 0;
		t.ud = ud[i];
		err = send_part(s, su, impu, &t, now, validity);
		if (!err && parts)
			(*parts)++;
	}
	free(ud);
	if (err == EMSGSIZE)
		err = E2BIG;
	if (!err)
		smsc_mt_try(s, su);
	return err;
}

/* ---- instance ---- */

static void smsc_destroy(void *arg)
{
	struct smsc *s = arg;

	smsc_store_detach(s);
	if (s->reg)
		registrar_watch_del(s->reg, smsc_watch_h, s);
	loop_timer_free(s->tick);
	loop_timer_free(s->kick);
	for (struct smsc_try *t = s->tries, *next; t; t = next) {
		next = t->next;
		free(t);
	}
	s->tries = NULL;
	for (uint32_t i = 0; i < s->nusers; i++) {
		struct smsc_user *su = s->users[i];

		while (su && su->head) {
			struct smsc_msg *m = su->head;

			su->head = m->next;
			free(m);
		}
		free(su);
	}
	free(s->users);
}

/* The SC address: sms_centre_address (manual §5.2), else "0" so that
 * RP-OA, which MT RP-DATA must carry (TS 24.011 §7.3.1.1), is never empty. */
static void smsc_sc_init(struct smsc *s)
{
	const struct ims_cfg_smsc_addr *a = &s->cfg->sms_centre_address;
	const char *dom = s->cfg->domain ? s->cfg->domain : s->host;
	const char *num = a->number ? a->number : "0";

	if (sms_addr_set(&s->sc, num))
		(void)sms_addr_set(&s->sc, "0");
	if (a->number && num[0] != '+')
		s->sc.toa = SMS_TOA(a->type_of_number, a->numbering_plan);
	if (a->number)
		snprintf(s->sc_uri, sizeof(s->sc_uri), "sip:%s@%s%s", num, dom,
			 num[0] == '+' ? ";user=phone" : "");
	else
		snprintf(s->sc_uri, sizeof(s->sc_uri), "sip:smsc@%s", dom);
}

int smsc_alloc(struct smsc **sp, const struct smsc_prm *prm)
{
	struct smsc *s;

	if (!sp || !prm || !prm->cfg || !prm->hss || !prm->reg)
		return EINVAL;
	s = mem_zalloc(sizeof(*s), smsc_destroy);
	if (!s)
		return ENOMEM;
	s->cfg = prm->cfg;
	s->hss = prm->hss;
	s->reg = prm->reg;
	s->stack = prm->stack;
	if (prm->ops)
		s->ops = *prm->ops;
	if (!s->ops.reply)
		s->ops.reply = ops_reply;
	if (!s->ops.request)
		s->ops.request = ops_request;
	if (!s->ops.tsx_find)
		s->ops.tsx_find = ops_tsx_find;
	snprintf(s->host, sizeof(s->host), "%s",
		 prm->host ? prm->host : (prm->cfg->domain ? prm->cfg->domain : "imsd"));
	smsc_sc_init(s);
	s->nusers = hss_user_count(prm->hss);
	s->users = calloc((size_t)s->nusers + 1, sizeof(*s->users));
	s->tick = loop_timer_alloc();
	s->kick = loop_timer_alloc();
	if (!s->users || !s->tick || !s->kick ||
	    registrar_watch_add(s->reg, smsc_watch_h, s)) {
		mem_deref(s);
		return ENOMEM;
	}
	*sp = s;
	return 0;
}

int smsc_app_start(struct sip_stack *stack, const struct ims_cfg *cfg, struct hss *hss,
		   struct registrar *reg, struct store *st, struct smsc **sp)
{
	struct smsc_prm prm = {.cfg = cfg, .hss = hss, .reg = reg, .stack = stack};
	struct smsc *s = NULL;
	char why[512];
	int err;

	if (stack && sip_stack_sock_count(stack))
		prm.host = sip_stack_local_uri_host(stack, 0);
	err = smsc_alloc(&s, &prm);
	if (!err && st) {
		err = smsc_store_attach(s, st, why, sizeof(why));
		if (err)
			log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL, "store: %s", why);
	}
	if (err) {
		mem_deref(s);
		return err;
	}
	*sp = s;
	return 0;
}
