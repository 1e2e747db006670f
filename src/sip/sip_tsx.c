/*
 * sip/sip_tsx — the transaction stack: tables, dispatch of received
 * messages, the TU entry points, timers and sends shared by the four state
 * machines (sip_tsx_ict.c, sip_tsx_nict.c, sip_tsx_ist.c, sip_tsx_nist.c).
 * See sip_tsx.h and docs/sip-transactions.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/log.h"
#include "core/mem.h"
#include "loop/loop.h"
#include "sip/sip_build.h"
#include "sip/sip_hdr.h"
#include "sip/sip_tsx_int.h"

/* ---- production timers: the event loop ---- */

static void *loop_ops_alloc(void *ctx)
{
	(void)ctx;
	return loop_timer_alloc();
}

static void loop_ops_free(void *t, void *ctx)
{
	(void)ctx;
	loop_timer_free(t);
}

static void loop_ops_start(void *t, uint64_t ms, sip_tsx_timer_h *h, void *arg, void *ctx)
{
	(void)ctx;
	loop_timer_start(t, ms, h, arg);
}

static void loop_ops_cancel(void *t, void *ctx)
{
	(void)ctx;
	loop_timer_cancel(t);
}

static uint64_t loop_ops_now(void *ctx)
{
	(void)ctx;
	return loop_now_ms();
}

const struct sip_tsx_timer_ops sip_tsx_timer_loop = {
    .alloc = loop_ops_alloc,
    .free = loop_ops_free,
    .start = loop_ops_start,
    .cancel = loop_ops_cancel,
    .now = loop_ops_now,
};

/* ---- names and logging ---- */

const char *sip_tsx_state_name(enum sip_tsx_state s)
{
	static const char *const names[] = {
	    [SIP_TSX_CALLING] = "Calling",	 [SIP_TSX_TRYING] = "Trying",
	    [SIP_TSX_PROCEEDING] = "Proceeding", [SIP_TSX_COMPLETED] = "Completed",
	    [SIP_TSX_CONFIRMED] = "Confirmed",	 [SIP_TSX_ACCEPTED] = "Accepted",
	    [SIP_TSX_TERMINATED] = "Terminated",
	};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

const char *sip_tsx_kind_name(enum sip_tsx_kind k)
{
	static const char *const names[] = {
	    [SIP_TSX_ICT] = "ict",
	    [SIP_TSX_NICT] = "nict",
	    [SIP_TSX_IST] = "ist",
	    [SIP_TSX_NIST] = "nist",
	};

	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

void sip_tsx_state_set(struct sip_tsx *tsx, enum sip_tsx_state s)
{
	if (log_on(LOG_SIP, LOG_LVL_DEBUG)) {
		struct pl m = sip_tsx_kf(tsx, SIP_TSX_KF_METHOD);
		struct pl b = sip_tsx_kf(tsx, SIP_TSX_KF_BRANCH);

		log_write(LOG_SIP, LOG_LVL_DEBUG, LOG_DIR_NONE, NULL,
			  "tsx %" PRIu64 " %s %.*s %.*s: %s -> %s", tsx->id,
			  sip_tsx_kind_name(tsx->kind), (int)m.l, m.p,
			  (int)(b.l > 64 ? 64 : b.l), b.p, sip_tsx_state_name(tsx->state),
			  sip_tsx_state_name(s));
	}
	tsx->state = (uint8_t)s;
}

struct pl sip_tsx_kf(const struct sip_tsx *tsx, enum sip_tsx_kf f)
{
	size_t off = 0;

	for (int i = 0; i < (int)f; i++)
		off += tsx->klen[i];
	return (struct pl){tsx->kbuf + off, tsx->klen[f]};
}

/* ---- timers, sends, termination ---- */

void sip_tsx_retx_start(struct sip_tsx *tsx, uint64_t ms, sip_tsx_timer_h *h)
{
	const struct sip_tsx_env *env = tsx->st->env;

	if (!tsx->tm) {
		tsx->tm = env->timer->alloc(env->timer_ctx);
		if (!tsx->tm) {
			sip_tsx_fail(tsx, ENOMEM);
			return;
		}
	}
	env->timer->start(tsx->tm, ms, h, tsx, env->timer_ctx);
}

void sip_tsx_retx_stop(struct sip_tsx *tsx)
{
	const struct sip_tsx_env *env = tsx->st->env;

	if (tsx->tm)
		env->timer->cancel(tsx->tm, env->timer_ctx);
}

static void q_unlink(struct sip_tsx_q *q, struct sip_tsx *tsx)
{
	if (tsx->q_prev)
		tsx->q_prev->q_next = tsx->q_next;
	else
		q->head = tsx->q_next;
	if (tsx->q_next)
		tsx->q_next->q_prev = tsx->q_prev;
	else
		q->tail = tsx->q_prev;
	tsx->q_prev = tsx->q_next = NULL;
	tsx->q = -1;
}

void sip_tsx_end_stop(struct sip_tsx *tsx)
{
	struct sip_tsx_q *q;

	if (tsx->q < 0 || !tsx->st)
		return;
	q = &tsx->st->q[tsx->q];
	q_unlink(q, tsx);
	/* An empty queue leaves nothing pending on the loop; a queue whose
	 * head went keeps its timer, which fires early and re-arms. */
	if (!q->head)
		tsx->st->env->timer->cancel(q->timer, tsx->st->env->timer_ctx);
}

/* How late a queue may fire: the end of a transaction's life (Timer J =
 * 64*T1, K = T4, ...) needs no millisecond precision, and re-arming for
 * each millisecond's few transactions made the loop wake up 1,000 times a
 * second under load. Added when the queue re-arms for its next head (the
 * first head of an empty queue ends on time). Same rule as loop.h's slack
 * for long delays. */
static uint64_t q_slack(const struct sip_tsx_q *q)
{
	if (q->dur_ms < LOOP_TIMER_SLACK_MIN_DELAY)
		return 0;
	return q->dur_ms / 64 < LOOP_TIMER_SLACK_MAX ? q->dur_ms / 64 : LOOP_TIMER_SLACK_MAX;
}

static void q_fire(void *arg)
{
	struct sip_tsx_q *q = arg;
	const struct sip_tsx_env *env = q->st->env;
	uint64_t now = env->timer->now(env->timer_ctx);

	while (q->head && q->head->end_at <= now) {
		struct sip_tsx *tsx = q->head;

		q_unlink(q, tsx);
		mem_ref(tsx);
		switch (tsx->kind) {
		case SIP_TSX_ICT:
			sip_tsx_ict_end(tsx);
			break;
		case SIP_TSX_NICT:
			sip_tsx_nict_end(tsx);
			break;
		case SIP_TSX_IST:
			sip_tsx_ist_end(tsx);
			break;
		default:
			sip_tsx_term(tsx); /* Timer J */
			break;
		}
		mem_deref(tsx);
	}
	if (q->head)
		env->timer->start(q->timer, q->head->end_at - now + q_slack(q), q_fire, q,
				  env->timer_ctx);
}

void sip_tsx_end_start(struct sip_tsx *tsx, enum sip_tsx_qid qid)
{
	const struct sip_tsx_env *env = tsx->st->env;
	struct sip_tsx_q *q = &tsx->st->q[qid];

	sip_tsx_end_stop(tsx);
	tsx->end_at = env->timer->now(env->timer_ctx) + q->dur_ms;
	tsx->q = (int8_t)qid;
	tsx->q_prev = q->tail;
	if (q->tail)
		q->tail->q_next = tsx;
	else
		q->head = tsx;
	q->tail = tsx;
	if (q->head == tsx)
		env->timer->start(q->timer, q->dur_ms, q_fire, q, env->timer_ctx);
}

void sip_tsx_env_rewrite(const struct sip_tsx_env *env, struct mbuf *mb)
{
	struct mbuf nb;

	if (!env || !env->rewrite)
		return;
	mbuf_init(&nb, SIP_MSG_MAX_HARD);
	if (env->rewrite(mb->buf, mb->end, &nb, env->send_arg)) {
		mbuf_reset(&nb);
		return;
	}
	mbuf_reset(mb);
	*mb = nb;
}

int sip_tsx_out_take(struct sip_tsx *tsx, struct mbuf *mb, struct pl tag)
{
	size_t tl = tag.l <= 64 ? tag.l : 0;
	uint8_t *b;

	sip_tsx_env_rewrite(tsx->st ? tsx->st->env : NULL, mb);
	if (mb->end > UINT32_MAX - tl)
		return ENOMEM;
	/* Trim the built buffer to its size (a shrinking realloc stays in
	 * place) instead of keeping mbuf's power-of-two capacity. */
	b = realloc(mb->buf, mb->end + tl ? mb->end + tl : 1);
	if (!b)
		return ENOMEM;
	if (tl)
		memcpy(b + mb->end, tag.p, tl);
	free(tsx->out);
	tsx->out = b;
	tsx->out_len = (uint32_t)mb->end;
	tsx->resp_tag_len = (uint8_t)tl;
	mb->buf = NULL;
	mb->size = mb->end = 0;
	sip_tsx_cost_update(tsx);
	return 0;
}

void sip_tsx_req_release(struct sip_tsx *tsx)
{
	tsx->req = mem_deref(tsx->req);
	free(tsx->via_top);
	tsx->via_top = NULL;
	tsx->via_top_len = 0;
	sip_tsx_cost_update(tsx);
}

/* ---- byte accounting (SIP_TSX_BYTES_DEFAULT) ---- */

/* What one heap block costs beyond its size (glibc: 8-16 B of header and
 * rounding), and the transaction's share of the hash tables' buckets. */
#define TSX_BLOCK_OVH 16u
#define TSX_TABLE_OVH 48u

static size_t key_len(const struct sip_tsx *tsx)
{
	size_t n = 0;

	for (int i = 0; i < SIP_TSX_KF_COUNT; i++)
		n += tsx->klen[i];
	return n;
}

static size_t tsx_cost(const struct sip_tsx *tsx)
{
	size_t n = sizeof(*tsx) + key_len(tsx) + TSX_BLOCK_OVH + TSX_TABLE_OVH;

	if (tsx->out)
		n += tsx->out_len + tsx->resp_tag_len + TSX_BLOCK_OVH;
	if (tsx->via_top)
		n += tsx->via_top_len + TSX_BLOCK_OVH;
	/* The request is shared with the stack while it is handled, but a
	 * transaction that holds it (an INVITE waiting for its answer) is
	 * what keeps it alive. */
	if (tsx->req)
		n += sizeof(*tsx->req) + tsx->req->raw.l + 2 * TSX_BLOCK_OVH;
	return n;
}

void sip_tsx_cost_update(struct sip_tsx *tsx)
{
	struct sip_tsx_stack *st = tsx->st;
	size_t c;

	if (!st)
		return;
	c = tsx_cost(tsx);
	st->bytes -= tsx->cost;
	tsx->cost = c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
	st->bytes += tsx->cost;
}

/* A non-INVITE client transaction keeps the bytes it sends, not its
 * decoded request (a struct sip_msg is 3.5 KB): when the peer's answers
 * are dropped it waits seconds for its final response, and thousands so
 * waiting filled the byte bound (bench/RESULTS.md, sms). sip_tsx_req()
 * decodes them again for a TU that asks. */
static int nict_keep_bytes(struct sip_tsx *tsx)
{
	size_t len = tsx->req->raw.l;
	uint8_t *b = malloc(len ? len : 1);

	if (!b)
		return ENOMEM;
	memcpy(b, tsx->req->raw.p, len);
	tsx->out = b;
	tsx->out_len = (uint32_t)len;
	tsx->req = mem_deref(tsx->req);
	sip_tsx_cost_update(tsx);
	return 0;
}

/* The request of a non-INVITE client transaction from its bytes (kept
 * until the transaction is destroyed, counted while it is live). */
static void nict_req_decode(struct sip_tsx *tsx)
{
	struct sip_decode_prm dprm = {.max_size = SIP_MSG_MAX_HARD};

	if (tsx->req || tsx->kind != SIP_TSX_NICT || !tsx->out)
		return;
	if (sip_msg_decode_copy(&tsx->req, tsx->out, tsx->out_len, &dprm))
		tsx->req = NULL; /* it was decoded once: only ENOMEM */
	else
		sip_tsx_cost_update(tsx);
}

bool sip_tsx_keep_final(const struct sip_tsx *tsx)
{
	const struct sip_tsx_stack *st = tsx->st;
	size_t keep = (size_t)tsx->out_len + tsx->resp_tag_len + key_len(tsx);

	/* tsx->out and the request are both counted at this point: the
	 * request goes once the final is kept. */
	return st && keep <= SIP_TSX_KEEP_MAX && st->bytes <= st->prm.bytes_max;
}

size_t sip_tsx_stack_bytes(const struct sip_tsx_stack *st)
{
	return st ? st->bytes : 0;
}

size_t sip_tsx_stack_bytes_max(const struct sip_tsx_stack *st)
{
	return st ? st->prm.bytes_max : 0;
}

void sip_tsx_term(struct sip_tsx *tsx)
{
	struct sip_tsx_stack *st = tsx->st;
	const struct sip_tsx_env *env;

	if (!st)
		return;
	env = st->env;
	sip_tsx_state_set(tsx, SIP_TSX_TERMINATED);
	sip_tsx_end_stop(tsx);
	hash_remove(st->by_id, &tsx->he_id);
	hash_remove(tsx->kind <= SIP_TSX_NICT ? st->clients : st->servers, &tsx->he_key);
	if (tsx->tm)
		env->timer->free(tsx->tm, env->timer_ctx);
	tsx->tm = NULL;
	free(tsx->out);
	tsx->out = NULL;
	tsx->out_len = 0;
	tsx->resp_tag_len = 0;
	/* What a Terminated transaction still holds (a request kept for an
	 * accessor, a TU's reference) is the TU's, no longer the table's. */
	st->bytes -= tsx->cost;
	tsx->cost = 0;
	tsx->st = NULL;
	mem_deref(tsx);
}

/* Timer B/F/H is routine (DEBUG); the peer's network refusing, resetting
 * or being out of reach is its fault, not ours (WARN); anything else,
 * such as ENOMEM, is the server's (ERROR). */
static enum log_level fail_level(int err)
{
	switch (err) {
	case ETIMEDOUT:
		return LOG_LVL_DEBUG;
	case ENOBUFS: /* an unproven destination's budget spent (sip_peer.h):
		       * what a forged source gets, counted in the stats */
		return LOG_LVL_INFO;
	case ECONNREFUSED:
	case ECONNRESET:
	case ECONNABORTED:
	case EPIPE:
	case ENOTCONN:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
	case EMSGSIZE:
		return LOG_LVL_WARN;
	default:
		return LOG_LVL_ERROR;
	}
}

void sip_tsx_fail(struct sip_tsx *tsx, int err)
{
	struct sip_tsx_stack *st = tsx->st;
	struct sip_tsx_tu tu;

	if (!st)
		return;
	tu = st->prm.tu;
	mem_ref(tsx);
	/* the TU told of the failure may read the request (a NOTIFY's
	 * subscription): decoded now, the bytes go with Terminated */
	if (tsx->kind == SIP_TSX_NICT && tsx->resp_h && !tsx->final_seen)
		nict_req_decode(tsx);
	if (log_on(LOG_SIP, fail_level(err))) {
		struct pl m = sip_tsx_kf(tsx, SIP_TSX_KF_METHOD);

		log_write(LOG_SIP, fail_level(err),
			  LOG_DIR_NONE, NULL, "tsx %" PRIu64 " %s %.*s failed in %s: %s",
			  tsx->id, sip_tsx_kind_name(tsx->kind), (int)m.l, m.p,
			  sip_tsx_state_name(tsx->state), strerror(err));
	}
	sip_tsx_term(tsx);
	if (tsx->kind <= SIP_TSX_NICT) {
		/* §17.1.1.2, §17.1.2.2: timeout is 408; §17.1.4: 503 */
		if (!tsx->final_seen)
			tsx->scode = err == ETIMEDOUT ? 408 : 503;
		/* one final outcome per transaction: after a final response
		 * (a failing ACK), the TU is not told again */
		if (tsx->resp_h && !tsx->final_seen)
			tsx->resp_h(tsx, NULL, tsx->scode, tsx->resp_arg);
	} else if (tu.server_err_h) {
		tu.server_err_h(tsx, err, tu.arg);
	}
	mem_deref(tsx);
}

static void start_fail_h(void *arg)
{
	struct sip_tsx *tsx = arg;

	sip_tsx_fail(tsx, tsx->start_err);
}

int sip_tsx_send(struct sip_tsx *tsx, const void *data, size_t len)
{
	const struct sip_tsx_env *env;
	struct sip_tsx_dst dst;
	int err;

	if (!tsx->st)
		return ESHUTDOWN;
	env = tsx->st->env;
	dst = sip_tsx_dst(tsx);
	/* a new request to a destination that never answered: within its
	 * IP's budget, or not at all (sip_peer.h) */
	if (tsx->starting && !tsx->reliable && !sip_tsx_peer_budget(tsx, len))
		err = ENOBUFS;
	else
		err = env->send(&dst, data, len, env->send_arg);
	if (err && tsx->starting) {
		/* The TU hears of it from the loop, never inside its own
		 * sip_tsx_request call (it may be walking what its answer
		 * handler frees). The timer was allocated before the send. */
		tsx->start_err = (uint8_t)(err > 0 && err <= UINT8_MAX ? err : EIO);
		env->timer->start(tsx->tm, 0, start_fail_h, tsx, env->timer_ctx);
	} else if (err) {
		sip_tsx_fail(tsx, err);
	}
	return err;
}

/* ---- stack ---- */

static void stack_destroy(void *data)
{
	struct sip_tsx_stack *st = data;

	if (st->done)
		sip_tsx_done_free_all(st);
	if (st->dq_timer)
		st->env->timer->free(st->dq_timer, st->env->timer_ctx);
	if (st->cq_timer)
		st->env->timer->free(st->cq_timer, st->env->timer_ctx);
	for (int i = 0; i < SIP_TSX_Q_COUNT; i++) {
		if (st->q[i].timer)
			st->env->timer->free(st->q[i].timer, st->env->timer_ctx);
	}
	mem_deref(st->by_id);
	mem_deref(st->clients);
	mem_deref(st->servers);
	mem_deref(st->done);
	mem_deref(st->cdone);
	sip_peers_free(st->peers);
}

int sip_tsx_stack_alloc(struct sip_tsx_stack **stp, const struct sip_tsx_env *env,
			const struct sip_tsx_prm *prm)
{
	struct sip_tsx_stack *st;
	int err;

	if (!stp || !env || !prm || !env->send || !env->timer || !env->timer->alloc ||
	    !env->timer->free || !env->timer->start || !env->timer->cancel ||
	    !env->timer->now || !prm->tu.request_h || !prm->t1_ms || !prm->t2_ms ||
	    !prm->t4_ms || prm->t2_ms < prm->t1_ms)
		return EINVAL;
	st = mem_zalloc(sizeof(*st), stack_destroy);
	if (!st)
		return ENOMEM;
	st->env = env;
	st->prm = *prm;
	if (!st->prm.max)
		st->prm.max = SIP_TSX_MAX_DEFAULT;
	if (!st->prm.bytes_max)
		st->prm.bytes_max = SIP_TSX_BYTES_DEFAULT;
	if (!st->prm.timer_d_ms)
		st->prm.timer_d_ms = 32000; /* RFC 3261 §17.1.1.2 */
	st->q[SIP_TSX_Q_64T1].dur_ms = 64u * (uint64_t)prm->t1_ms;
	st->q[SIP_TSX_Q_T4].dur_ms = prm->t4_ms;
	st->q[SIP_TSX_Q_D].dur_ms = st->prm.timer_d_ms;
	err = hash_alloc(&st->by_id, prm->hint);
	err = err ? err : sip_peers_alloc(&st->peers);
	err = err ? err : hash_alloc(&st->clients, prm->hint / 2);
	err = err ? err : hash_alloc(&st->servers, prm->hint / 2);
	err = err ? err : hash_alloc(&st->done, prm->hint / 2);
	err = err ? err : hash_alloc(&st->cdone, prm->hint / 4);
	if (!err) {
		st->dq_timer = env->timer->alloc(env->timer_ctx);
		st->cq_timer = env->timer->alloc(env->timer_ctx);
		err = st->dq_timer && st->cq_timer ? 0 : ENOMEM;
	}
	for (int i = 0; i < SIP_TSX_Q_COUNT && !err; i++) {
		st->q[i].st = st;
		st->q[i].timer = env->timer->alloc(env->timer_ctx);
		if (!st->q[i].timer)
			err = ENOMEM;
	}
	if (err) {
		mem_deref(st);
		return err;
	}
	st->next_id = 1;
	*stp = st;
	return 0;
}

void sip_tsx_stack_free(struct sip_tsx_stack *st)
{
	struct hash_iter it;
	struct hash_entry *e;

	if (!st)
		return;
	hash_iter_init(&it, st->by_id);
	while ((e = hash_iter_next(&it)))
		sip_tsx_term(HASH_OBJ(e, struct sip_tsx, he_id));
	mem_deref(st);
}

size_t sip_tsx_stack_count(const struct sip_tsx_stack *st)
{
	/* finished records are live transactions (Completed) */
	return st ? hash_count(st->by_id) + st->ndone + st->ncdone : 0;
}

uint64_t sip_tsx_stack_key_refused(const struct sip_tsx_stack *st)
{
	return st ? st->key_refused : 0;
}

size_t sip_tsx_stack_max(const struct sip_tsx_stack *st)
{
	return st ? st->prm.max : 0;
}

/* Ids are our own counter, not input: a multiplication by an odd constant
 * spreads consecutive ids over the buckets without a keyed hash. */
/* Ids are consecutive and never chosen by a peer: the identity puts
 * transactions created (and, by Timer J, ended) one after the other in
 * neighbouring buckets, which the cache keeps warm. */
static uint64_t id_hash(uint64_t id)
{
	return id;
}

static bool id_match(const struct hash_entry *e, const void *key)
{
	return HASH_OBJ(e, struct sip_tsx, he_id)->id == *(const uint64_t *)key;
}

struct sip_tsx *sip_tsx_lookup(struct sip_tsx_stack *st, uint64_t id)
{
	struct hash_entry *e;

	if (!st)
		return NULL;
	e = hash_lookup(st->by_id, id_hash(id), id_match, &id);
	return e ? HASH_OBJ(e, struct sip_tsx, he_id) : NULL;
}

int sip_tsx_branch_gen(struct sip_tsx_stack *st, char *buf, size_t size)
{
	int n;

	if (!st || !buf || size < 24)
		return EINVAL;
	/* The hash key is random per process: unpredictable and unique. */
	n = snprintf(buf, size, "z9hG4bK%016" PRIx64,
		     hash_u64(++st->tag_seq ^ ((uint64_t)(uintptr_t)st << 20)));
	return n > 0 && (size_t)n < size ? 0 : ENOSPC;
}

/* ---- transactions ---- */

static void tsx_destroy(void *data)
{
	struct sip_tsx *tsx = data;

	free(tsx->out);
	free(tsx->via_top);
	mem_deref(tsx->req);
}

/* The key fields a transaction keeps (see enum sip_tsx_kf). */
static void key_fields(const struct sip_tsx_key *key, struct pl f[SIP_TSX_KF_COUNT])
{
	memset(f, 0, SIP_TSX_KF_COUNT * sizeof(f[0]));
	f[SIP_TSX_KF_METHOD] = key->method;
	f[SIP_TSX_KF_BRANCH] = key->branch;
	if (key->rfc3261) {
		f[SIP_TSX_KF_HOST] = key->host;
		return;
	}
	f[SIP_TSX_KF_RURI] = key->ruri;
	f[SIP_TSX_KF_FTAG] = key->ftag;
	f[SIP_TSX_KF_TTAG] = key->ttag;
	f[SIP_TSX_KF_CALLID] = key->callid;
	f[SIP_TSX_KF_VIA] = key->via;
}

static int tsx_alloc(struct sip_tsx **tsxp, struct sip_tsx_stack *st,
		     enum sip_tsx_kind kind, struct sip_msg *req,
		     const struct sip_tsx_key *key, uint64_t hv,
		     const struct sip_tsx_dst *dst)
{
	struct pl f[SIP_TSX_KF_COUNT];
	struct sip_tsx *tsx;
	size_t klen = 0;

	if (dst->addrlen > sizeof(tsx->addr))
		return EINVAL;
	key_fields(key, f);
	for (int i = 0; i < SIP_TSX_KF_COUNT; i++)
		klen += f[i].l; /* each within one message: no overflow */
	tsx = mem_zalloc(sizeof(*tsx) + klen, tsx_destroy);
	if (!tsx)
		return ENOMEM;
	klen = 0;
	for (int i = 0; i < SIP_TSX_KF_COUNT; i++) {
		if (f[i].l)
			memcpy(tsx->kbuf + klen, f[i].p, f[i].l);
		tsx->klen[i] = (uint32_t)f[i].l;
		klen += f[i].l;
	}
	tsx->req = mem_ref(req);
	tsx->st = st;
	tsx->id = st->next_id++;
	tsx->kind = (uint8_t)kind;
	tsx->state = kind == SIP_TSX_ICT   ? SIP_TSX_CALLING
		     : kind == SIP_TSX_IST ? SIP_TSX_PROCEEDING
					   : SIP_TSX_TRYING;
	tsx->q = -1;
	tsx->rfc3261 = key->rfc3261;
	tsx->meth = (uint8_t)key->meth;
	tsx->port = key->port;
	tsx->cseq = key->cseq;
	memcpy(&tsx->addr, &dst->addr, dst->addrlen);
	tsx->addrlen = (uint8_t)dst->addrlen;
	tsx->conn = dst->conn;
	tsx->reliable = dst->reliable;
	hash_insert(st->by_id, &tsx->he_id, id_hash(tsx->id));
	hash_insert(kind <= SIP_TSX_NICT ? st->clients : st->servers, &tsx->he_key, hv);
	if (sip_tsx_stack_count(st) > st->peak)
		st->peak = sip_tsx_stack_count(st);
	sip_tsx_cost_update(tsx);
	*tsxp = tsx;
	return 0;
}

/* Room for one more transaction: the count and the byte bound. */
static bool tsx_room(const struct sip_tsx_stack *st)
{
	return sip_tsx_stack_count(st) < st->prm.max && st->bytes < st->prm.bytes_max;
}

int sip_tsx_request(struct sip_tsx **tsxp, struct sip_tsx_stack *st,
		    const struct sip_tsx_req_prm *prm)
{
	struct sip_decode_prm dprm = {.max_size = SIP_MSG_MAX_HARD};
	struct sip_msg *msg = NULL;
	struct sip_tsx_key key;
	struct sip_tsx *tsx;
	struct mbuf mb;
	struct pl req;
	uint64_t hv;
	int err;

	if (!tsxp || !st || !prm || !prm->req.p || !prm->resp_h)
		return EINVAL;
	/* the bytes kept and retransmitted are the rewritten ones */
	mbuf_init(&mb, SIP_MSG_MAX_HARD);
	req = prm->req;
	if (st->env->rewrite && !st->env->rewrite(req.p, req.l, &mb, st->env->send_arg))
		req = (struct pl){(const char *)mb.buf, mb.end};
	err = sip_msg_decode_copy(&msg, req.p, req.l, &dprm);
	if (err)
		goto out;
	if (!msg->req || msg->meth == SIP_METHOD_ACK) {
		err = EINVAL;
		goto out;
	}
	err = sip_tsx_key_req(&key, msg);
	if (err || !key.rfc3261) {
		err = EINVAL;
		goto out;
	}
	hv = sip_tsx_key_hash_client(&key);
	if (sip_tsx_find_client(st, &key, hv)) {
		err = EEXIST;
		goto out;
	}
	if (!tsx_room(st)) {
		err = ENOSPC;
		goto out;
	}
	err = tsx_alloc(&tsx, st,
			msg->meth == SIP_METHOD_INVITE ? SIP_TSX_ICT : SIP_TSX_NICT, msg,
			&key, hv, &prm->dst);
	if (err)
		goto out;
	tsx->resp_h = prm->resp_h;
	tsx->resp_arg = prm->arg;
	/* the timer that tells a failed first send later (and Timer A/E) */
	tsx->tm = st->env->timer->alloc(st->env->timer_ctx);
	if (!tsx->tm || (tsx->kind == SIP_TSX_NICT && nict_keep_bytes(tsx))) {
		sip_tsx_term(tsx); /* nothing sent, the TU not told: an error */
		err = ENOMEM;
		goto out;
	}
	tsx->starting = true;
	if (tsx->kind == SIP_TSX_ICT)
		sip_tsx_ict_start(tsx);
	else
		sip_tsx_nict_start(tsx);
	tsx->starting = false;
	*tsxp = tsx; /* live: a failed send is told from the timer */
out:
	mbuf_reset(&mb);
	mem_deref(msg);
	return err;
}

/* 16 hex digits (snprintf costs more than the rest of the set-up). */
static void tag_hex(char out[16], uint64_t v)
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 15; i >= 0; i--, v >>= 4)
		out[i] = hex[v & 15];
}

/* A request matching no transaction: a new server transaction, or a stray
 * ACK for the TU. */
static int recv_new_request(struct sip_tsx_stack *st, struct sip_msg *msg,
			    const struct sip_tsx_key *key, uint64_t hv,
			    const struct sip_tsx_dst *src, struct pl via_top,
			    const void *ctx)
{
	const struct sip_tsx_tu *tu = &st->prm.tu;
	struct sip_tsx *tsx;
	int err;

	if (key->ack) {
		if (tu->ack_h)
			tu->ack_h(NULL, msg, src, ctx, tu->arg);
		return 0;
	}
	if (!tsx_room(st)) {
		log_write(LOG_SIP, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
			  "tsx: %zu transactions live holding %zu bytes (max %zu, %zu "
			  "bytes), %.*s refused",
			  sip_tsx_stack_count(st), st->bytes, st->prm.max, st->prm.bytes_max,
			  (int)msg->method.l, msg->method.p);
		return ENOSPC;
	}
	err = tsx_alloc(&tsx, st,
			msg->meth == SIP_METHOD_INVITE ? SIP_TSX_IST : SIP_TSX_NIST, msg,
			key, hv, src);
	if (err)
		return err;
	tag_hex(tsx->tag, hash_u64(++st->tag_seq));
	if (via_top.l) {
		tsx->via_top = malloc(via_top.l);
		if (!tsx->via_top) {
			sip_tsx_term(tsx);
			return ENOMEM;
		}
		memcpy(tsx->via_top, via_top.p, via_top.l);
		tsx->via_top_len = (uint32_t)via_top.l;
		sip_tsx_cost_update(tsx);
	}
	mem_ref(tsx);
	if (tsx->kind == SIP_TSX_IST)
		sip_tsx_ist_start(tsx);
	tu->request_h(tsx, msg, ctx, tu->arg);
	mem_deref(tsx);
	return 0;
}

int sip_tsx_recv(struct sip_tsx_stack *st, struct sip_msg *msg,
		 const struct sip_tsx_dst *src)
{
	return sip_tsx_recv_fixed(st, msg, src, (struct pl)PL_INIT);
}

int sip_tsx_recv_fixed(struct sip_tsx_stack *st, struct sip_msg *msg,
		       const struct sip_tsx_dst *src, struct pl via_top)
{
	struct sip_tsx_rx rx = {.via_top = via_top};

	return sip_tsx_recv_rx(st, msg, src, &rx);
}

int sip_tsx_recv_rx(struct sip_tsx_stack *st, struct sip_msg *msg,
		    const struct sip_tsx_dst *src, const struct sip_tsx_rx *rx)
{
	struct pl via_top = rx ? rx->via_top : (struct pl)PL_INIT;
	struct sip_tsx_key key;
	struct sip_tsx *tsx;
	size_t same;
	uint64_t hv;
	int err;

	if (!st || !msg || !src)
		return EINVAL;
	err = msg->req ? sip_tsx_key_req_via(&key, msg, rx ? rx->via : NULL)
		       : sip_tsx_key_resp(&key, msg);
	if (err)
		return err;
	if (!msg->req) {
		hv = sip_tsx_key_hash_client(&key);
		tsx = sip_tsx_find_client(st, &key, hv);
		if (!tsx && sip_tsx_cdone_recv(st, &key, hv))
			return 0; /* a final again, after its transaction's */
		if (!tsx) {
			if (st->prm.tu.stray_h)
				st->prm.tu.stray_h(msg, src, st->prm.tu.arg);
			return 0;
		}
		mem_ref(tsx);
		sip_tsx_peer_answered(tsx);
		if (tsx->kind == SIP_TSX_ICT)
			sip_tsx_ict_recv(tsx, msg);
		else
			sip_tsx_nict_recv(tsx, msg);
		mem_deref(tsx);
		return 0;
	}
	hv = sip_tsx_key_hash_server(&key);
	tsx = sip_tsx_find_server_same(st, &key, hv, &same);
	if (!tsx && sip_tsx_done_recv(st, &key, hv))
		return 0; /* a retransmission answered from a slim record */
	if (!tsx && same >= SIP_TSX_SAME_KEY_MAX && !key.ack) {
		sip_tsx_key_refused(st, &key, same);
		return EMLINK;
	}
	if (!tsx)
		return recv_new_request(st, msg, &key, hv, src, via_top, rx ? rx->ctx : NULL);
	mem_ref(tsx);
	if (tsx->kind == SIP_TSX_IST)
		sip_tsx_ist_recv(tsx, msg, src, rx ? rx->ctx : NULL);
	else
		sip_tsx_nist_recv(tsx, msg);
	mem_deref(tsx);
	return 0;
}

/* ---- TU responses ---- */

static const char *reason_default(uint16_t scode)
{
	static const struct {
		uint16_t scode;
		const char *reason;
	} tab[] = {
	    {100, "Trying"},
	    {180, "Ringing"},
	    {181, "Call Is Being Forwarded"},
	    {182, "Queued"},
	    {183, "Session Progress"},
	    {200, "OK"},
	    {202, "Accepted"},
	    {400, "Bad Request"},
	    {401, "Unauthorized"},
	    {403, "Forbidden"},
	    {404, "Not Found"},
	    {405, "Method Not Allowed"},
	    {407, "Proxy Authentication Required"},
	    {408, "Request Timeout"},
	    {423, "Interval Too Brief"},
	    {480, "Temporarily Unavailable"},
	    {481, "Call/Transaction Does Not Exist"},
	    {486, "Busy Here"},
	    {487, "Request Terminated"},
	    {488, "Not Acceptable Here"},
	    {500, "Server Internal Error"},
	    {503, "Service Unavailable"},
	    {504, "Server Time-out"},
	    {600, "Busy Everywhere"},
	    {603, "Decline"},
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (tab[i].scode == scode)
			return tab[i].reason;
	return scode < 200 ? "Session Progress" : scode < 300 ? "OK" : "Error";
}

/* Hands a built response to the machine; mb is taken on success. */
static int reply_send(struct sip_tsx *tsx, uint16_t scode, struct mbuf *mb, struct pl tag)
{
	int err;

	mem_ref(tsx);
	if (tsx->kind == SIP_TSX_IST)
		err = sip_tsx_ist_send(tsx, scode, mb, tag);
	else
		err = sip_tsx_nist_send(tsx, scode, mb);
	mem_deref(tsx);
	return err;
}

int sip_tsx_reply(struct sip_tsx *tsx, uint16_t scode, const char *reason,
		  const struct sip_tsx_reply_prm *prm)
{
	struct sip_resp_prm rprm = {.scode = scode};
	struct mbuf mb;
	bool stateless;
	int err;

	if (!tsx || tsx->kind < SIP_TSX_IST || scode < 100 || scode > 699)
		return EINVAL;
	if (!tsx->st || !tsx->req)
		return EPROTO;
	rprm.reason = pl_from_str(reason ? reason : reason_default(scode));
	if (prm) {
		rprm.to_tag = prm->to_tag;
		rprm.hdrs = prm->hdrs;
		rprm.ctype = prm->ctype;
		rprm.body = prm->body;
	}
	if (!pl_isset(rprm.to_tag))
		rprm.to_tag = (struct pl){tsx->tag, sizeof(tsx->tag)};
	rprm.via_top = (struct pl){tsx->via_top, tsx->via_top_len};
	/* stateless: the NIST sends its final once and ends (nist_send) */
	stateless = prm && prm->stateless && scode >= 200 && tsx->kind == SIP_TSX_NIST;
	if (stateless)
		tsx->stateless = true;
	mbuf_init(&mb, SIP_MSG_MAX_HARD);
	err = sip_resp_build(&mb, tsx->req, &rprm);
	if (!err)
		err = reply_send(tsx, scode, &mb,
				 tsx->klen[SIP_TSX_KF_TTAG]
				     ? sip_tsx_kf(tsx, SIP_TSX_KF_TTAG)
				     : rprm.to_tag);
	mbuf_reset(&mb);
	/* not sent (no memory, too big): the NIST is as it was (sip_tsx_nist_send
	 * fails before any state change), its next final a normal one */
	if (err && stateless)
		tsx->stateless = false;
	return err;
}

int sip_tsx_reply_buf(struct sip_tsx *tsx, const void *data, size_t len)
{
	struct sip_decode_prm dprm = {.max_size = SIP_MSG_MAX_HARD};
	struct sip_msg *msg = NULL;
	struct pl tag = PL_INIT;
	const struct sip_addr *to;
	struct mbuf mb;
	int err;

	if (!tsx || tsx->kind < SIP_TSX_IST || !data)
		return EINVAL;
	if (!tsx->st)
		return EPROTO;
	err = sip_msg_decode_copy(&msg, data, len, &dprm);
	if (err || msg->req) {
		err = EBADMSG;
		goto out;
	}
	to = sip_msg_to(msg);
	if (to)
		tag = to->tag;
	mbuf_init(&mb, SIP_MSG_MAX_HARD);
	err = mbuf_write(&mb, data, len);
	if (!err)
		err = reply_send(tsx, msg->scode, &mb, tag);
	mbuf_reset(&mb);
out:
	mem_deref(msg);
	return err;
}

/* ---- accessors ---- */

int sip_tsx_transport_error(struct sip_tsx_stack *st, uint64_t id, int err)
{
	struct sip_tsx *tsx = sip_tsx_lookup(st, id);

	if (!tsx)
		return ENOENT;
	sip_tsx_fail(tsx, err ? err : EIO);
	return 0;
}

void sip_tsx_terminate(struct sip_tsx *tsx)
{
	if (tsx)
		sip_tsx_term(tsx);
}

uint64_t sip_tsx_id(const struct sip_tsx *tsx)
{
	return tsx->id;
}

enum sip_tsx_kind sip_tsx_kind(const struct sip_tsx *tsx)
{
	return (enum sip_tsx_kind)tsx->kind;
}

enum sip_tsx_state sip_tsx_state(const struct sip_tsx *tsx)
{
	return (enum sip_tsx_state)tsx->state;
}

const struct sip_msg *sip_tsx_req(const struct sip_tsx *tsx)
{
	/* a cache of what the transaction holds as bytes: not a change
	 * the caller can see */
	nict_req_decode((struct sip_tsx *)(uintptr_t)tsx);
	return tsx->req;
}

enum sip_method sip_tsx_method(const struct sip_tsx *tsx)
{
	/* key.meth is INVITE for an ACK, but no transaction is an ACK's */
	return (enum sip_method)tsx->meth;
}

struct pl sip_tsx_method_name(const struct sip_tsx *tsx)
{
	return sip_tsx_kf(tsx, SIP_TSX_KF_METHOD);
}

struct sip_tsx_dst sip_tsx_dst(const struct sip_tsx *tsx)
{
	struct sip_tsx_dst d;

	memset(&d, 0, sizeof(d));
	memcpy(&d.addr, &tsx->addr, tsx->addrlen);
	d.addrlen = tsx->addrlen;
	d.conn = tsx->conn;
	d.reliable = tsx->reliable;
	return d;
}

struct pl sip_tsx_to_tag(const struct sip_tsx *tsx)
{
	return (struct pl){tsx->tag, tsx->kind >= SIP_TSX_IST ? sizeof(tsx->tag) : 0};
}

uint16_t sip_tsx_scode(const struct sip_tsx *tsx)
{
	return tsx->scode;
}

void sip_tsx_tu_data_set(struct sip_tsx *tsx, void *data)
{
	tsx->tu_data = data;
}

void *sip_tsx_tu_data(const struct sip_tsx *tsx)
{
	return tsx->tu_data;
}
