/*
 * sip/sip_tsx_done — the slim record of a finished non-INVITE server
 * transaction (RFC 3261 §17.2.2, Completed).
 *
 * In Completed a NIST only absorbs retransmissions of its request: it
 * answers each with its final response until Timer J (64*T1). That needs
 * the matching key (§17.2.3: branch, sent-by host and port, method), the
 * final's bytes, the flow they go back on and the deadline; nothing of the
 * 256 B struct sip_tsx, its timer or its request. With the manual's T1 =
 * 2 s a NIST stays 128 s in Completed, so at 10,000 SMS/s (two NIST each)
 * 2.5 million of them wait there: this record is what lets the live-
 * transaction and byte bounds hold them (docs/sip-transactions.md).
 *
 * A record is one allocation (header, key, response), in the stack's
 * `done` table and in one FIFO ordered by deadline (Timer J has one
 * duration). Only RFC 3261 keys over unreliable transports get one; the
 * RFC 2543 fallback and CANCEL keep the full transaction. The TU's transaction
 * object is Terminated when its record takes over.
 *
 * The same for a finished non-INVITE client transaction (RFC 3261
 * §17.1.2.2, Completed): until Timer K (T4) it only absorbs retransmitted
 * finals, which needs the branch and method (§17.1.3) and the deadline; it
 * sends nothing. Over UDP, once its TU has had the final, a struct
 * sip_tsx_cdone in the stack's `cdone` table and a FIFO of its own takes
 * over (40 B and the key text instead of the whole transaction).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "loop/loop.h"
#include "sip/sip_tsx_int.h"

/* What a record costs beyond its bytes: the heap block's header and the
 * record's share of the table's buckets (as sip_tsx.c counts). */
#define DONE_BLOCK_OVH 16u
#define DONE_TABLE_OVH 16u

size_t sip_tsx_done_cost(size_t key_len, size_t out_len)
{
	return sizeof(struct sip_tsx_done) + key_len + out_len + DONE_BLOCK_OVH +
	       DONE_TABLE_OVH;
}

static struct pl done_method(const struct sip_tsx_done *d)
{
	return (struct pl){d->buf, d->mlen};
}

static struct pl done_branch(const struct sip_tsx_done *d)
{
	return (struct pl){d->buf + d->mlen, d->blen};
}

static struct pl done_host(const struct sip_tsx_done *d)
{
	return (struct pl){d->buf + d->mlen + d->blen, d->hlen};
}

static const uint8_t *done_out(const struct sip_tsx_done *d)
{
	return (const uint8_t *)d->buf + d->mlen + d->blen + d->hlen;
}

bool sip_tsx_done_fits(const struct sip_tsx *tsx)
{
	/* a CANCEL stays whole: its TU asks for its INVITE after the 200
	 * (sip_tsx_cancel_target) */
	return tsx->kind == SIP_TSX_NIST && tsx->rfc3261 && !tsx->reliable &&
	       tsx->meth != SIP_METHOD_CANCEL &&
	       tsx->klen[SIP_TSX_KF_METHOD] <= UINT8_MAX &&
	       tsx->klen[SIP_TSX_KF_BRANCH] <= UINT8_MAX &&
	       tsx->klen[SIP_TSX_KF_HOST] <= UINT8_MAX;
}

static void done_unlink(struct sip_tsx_stack *st, struct sip_tsx_done *d)
{
	if (d->dead)
		return;
	hash_remove(st->done, &d->he);
	d->dead = true;
	st->ndone--;
}

/* The memory counts against the byte bound until it is freed: a record
 * ended by a send error stays allocated until the FIFO reaches it. */
static void done_free(struct sip_tsx_stack *st, struct sip_tsx_done *d)
{
	done_unlink(st, d);
	st->bytes -= d->cost;
	free(d);
}

/* The slack of the transactions' deadline queues (sip_tsx.c) for the
 * duration of queue q. */
static uint64_t q_slack(const struct sip_tsx_stack *st, enum sip_tsx_qid q)
{
	uint64_t dur = st->q[q].dur_ms;

	if (dur < LOOP_TIMER_SLACK_MIN_DELAY)
		return 0;
	return dur / 64 > LOOP_TIMER_SLACK_MAX ? LOOP_TIMER_SLACK_MAX : dur / 64;
}

static void done_fire(void *arg)
{
	struct sip_tsx_stack *st = arg;
	const struct sip_tsx_env *env = st->env;
	uint64_t now = env->timer->now(env->timer_ctx);

	while (st->dq_head && (st->dq_head->dead || st->dq_head->end_at <= now)) {
		struct sip_tsx_done *d = st->dq_head;

		st->dq_head = d->q_next;
		if (!st->dq_head)
			st->dq_tail = NULL;
		done_free(st, d); /* Timer J */
	}
	if (st->dq_head)
		env->timer->start(st->dq_timer,
				  st->dq_head->end_at - now + q_slack(st, SIP_TSX_Q_64T1),
				  done_fire, st, env->timer_ctx);
}

int sip_tsx_done_take(struct sip_tsx *tsx)
{
	struct sip_tsx_stack *st = tsx->st;
	const struct sip_tsx_env *env;
	struct pl m = sip_tsx_kf(tsx, SIP_TSX_KF_METHOD);
	struct pl b = sip_tsx_kf(tsx, SIP_TSX_KF_BRANCH);
	struct pl h = sip_tsx_kf(tsx, SIP_TSX_KF_HOST);
	struct sip_tsx_done *d;
	size_t klen = m.l + b.l + h.l;

	if (!st || !sip_tsx_done_fits(tsx))
		return EINVAL;
	env = st->env;
	d = malloc(sizeof(*d) + klen + tsx->out_len);
	if (!d)
		return ENOMEM;
	memset(d, 0, sizeof(*d));
	memcpy(d->buf, m.p, m.l);
	memcpy(d->buf + m.l, b.p, b.l);
	memcpy(d->buf + m.l + b.l, h.p, h.l);
	memcpy(d->buf + klen, tsx->out, tsx->out_len);
	d->mlen = (uint8_t)m.l;
	d->blen = (uint8_t)b.l;
	d->hlen = (uint8_t)h.l;
	d->out_len = tsx->out_len;
	d->meth = tsx->meth;
	d->port = tsx->port;
	d->conn = tsx->conn;
	d->addr = tsx->addr;
	d->addrlen = tsx->addrlen;
	d->end_at = env->timer->now(env->timer_ctx) + st->q[SIP_TSX_Q_64T1].dur_ms;
	d->cost = (uint32_t)sip_tsx_done_cost(klen, d->out_len);
	hash_insert(st->done, &d->he, tsx->he_key.hv);
	st->ndone++;
	st->bytes += d->cost;
	if (st->dq_tail)
		st->dq_tail->q_next = d;
	else
		st->dq_head = d;
	st->dq_tail = d;
	if (st->dq_head == d)
		env->timer->start(st->dq_timer, st->q[SIP_TSX_Q_64T1].dur_ms, done_fire, st,
				  env->timer_ctx);
	return 0;
}

static bool done_match(const struct hash_entry *e, const void *arg)
{
	const struct sip_tsx_done *d = HASH_OBJ(e, struct sip_tsx_done, he);
	const struct sip_tsx_key *k = arg;

	if (!k->rfc3261 || d->meth != k->meth || d->port != k->port)
		return false;
	if (k->meth == SIP_METHOD_OTHER && !pl_eq(done_method(d), k->method))
		return false;
	return pl_caseeq(done_branch(d), k->branch) && pl_caseeq(done_host(d), k->host);
}

bool sip_tsx_done_recv(struct sip_tsx_stack *st, const struct sip_tsx_key *k, uint64_t hv)
{
	struct sip_tsx_done *d;
	struct sip_tsx_dst dst;
	struct hash_entry *e;

	if (!k->rfc3261 || k->ack || !st->ndone)
		return false;
	e = hash_lookup(st->done, hv, done_match, k);
	if (!e)
		return false;
	d = HASH_OBJ(e, struct sip_tsx_done, he);
	memset(&dst, 0, sizeof(dst));
	memcpy(&dst.addr, &d->addr, d->addrlen);
	dst.addrlen = d->addrlen;
	dst.conn = d->conn;
	/* §17.2.2: the final again; §17.2.4: a send error ends the record
	 * (the TU's transaction is already Terminated: no one to tell) */
	if (st->env->send(&dst, done_out(d), d->out_len, st->env->send_arg))
		done_unlink(st, d); /* freed when the FIFO reaches it */
	return true;
}

/* ---- finished non-INVITE client transactions (Timer K) ---- */

size_t sip_tsx_cdone_cost(size_t key_len)
{
	return sizeof(struct sip_tsx_cdone) + key_len + DONE_BLOCK_OVH + DONE_TABLE_OVH;
}

static struct pl cdone_method(const struct sip_tsx_cdone *c)
{
	return (struct pl){c->buf, c->mlen};
}

static struct pl cdone_branch(const struct sip_tsx_cdone *c)
{
	return (struct pl){c->buf + c->mlen, c->blen};
}

static void cdone_free(struct sip_tsx_stack *st, struct sip_tsx_cdone *c)
{
	hash_remove(st->cdone, &c->he);
	st->ncdone--;
	st->bytes -= c->cost;
	free(c);
}

static void cdone_fire(void *arg)
{
	struct sip_tsx_stack *st = arg;
	const struct sip_tsx_env *env = st->env;
	uint64_t now = env->timer->now(env->timer_ctx);

	while (st->cq_head && st->cq_head->end_at <= now) {
		struct sip_tsx_cdone *c = st->cq_head;

		st->cq_head = c->q_next;
		if (!st->cq_head)
			st->cq_tail = NULL;
		cdone_free(st, c); /* Timer K */
	}
	if (st->cq_head)
		env->timer->start(st->cq_timer,
				  st->cq_head->end_at - now + q_slack(st, SIP_TSX_Q_T4),
				  cdone_fire, st, env->timer_ctx);
}

int sip_tsx_cdone_take(struct sip_tsx *tsx)
{
	struct sip_tsx_stack *st = tsx->st;
	const struct sip_tsx_env *env;
	struct pl m = sip_tsx_kf(tsx, SIP_TSX_KF_METHOD);
	struct pl b = sip_tsx_kf(tsx, SIP_TSX_KF_BRANCH);
	struct sip_tsx_cdone *c;

	if (!st || tsx->kind != SIP_TSX_NICT || tsx->reliable || !tsx->final_seen ||
	    tsx->state != SIP_TSX_COMPLETED || m.l > UINT8_MAX || b.l > UINT8_MAX)
		return EINVAL;
	env = st->env;
	c = malloc(sizeof(*c) + m.l + b.l);
	if (!c)
		return ENOMEM;
	memset(c, 0, sizeof(*c));
	memcpy(c->buf, m.p, m.l);
	memcpy(c->buf + m.l, b.p, b.l);
	c->mlen = (uint8_t)m.l;
	c->blen = (uint8_t)b.l;
	c->meth = tsx->meth;
	c->end_at = env->timer->now(env->timer_ctx) + st->q[SIP_TSX_Q_T4].dur_ms;
	c->cost = (uint32_t)sip_tsx_cdone_cost(m.l + b.l);
	hash_insert(st->cdone, &c->he, tsx->he_key.hv);
	st->ncdone++;
	st->bytes += c->cost;
	if (st->cq_tail)
		st->cq_tail->q_next = c;
	else
		st->cq_head = c;
	st->cq_tail = c;
	if (st->cq_head == c)
		env->timer->start(st->cq_timer, st->q[SIP_TSX_Q_T4].dur_ms, cdone_fire,
				  st, env->timer_ctx);
	return 0;
}

static bool cdone_match(const struct hash_entry *e, const void *arg)
{
	const struct sip_tsx_cdone *c = HASH_OBJ(e, struct sip_tsx_cdone, he);
	const struct sip_tsx_key *k = arg;

	if (c->meth != k->meth)
		return false;
	if (k->meth == SIP_METHOD_OTHER && !pl_eq(cdone_method(c), k->method))
		return false;
	return pl_caseeq(cdone_branch(c), k->branch);
}

bool sip_tsx_cdone_recv(struct sip_tsx_stack *st, const struct sip_tsx_key *k,
			uint64_t hv)
{
	/* §17.1.2.2: in Completed a retransmitted final is absorbed */
	return k->rfc3261 && st->ncdone && hash_lookup(st->cdone, hv, cdone_match, k);
}

void sip_tsx_done_free_all(struct sip_tsx_stack *st)
{
	while (st->dq_head) {
		struct sip_tsx_done *d = st->dq_head;

		st->dq_head = d->q_next;
		done_free(st, d);
	}
	st->dq_tail = NULL;
	if (st->dq_timer)
		st->env->timer->cancel(st->dq_timer, st->env->timer_ctx);
	while (st->cq_head) {
		struct sip_tsx_cdone *c = st->cq_head;

		st->cq_head = c->q_next;
		cdone_free(st, c);
	}
	st->cq_tail = NULL;
	if (st->cq_timer)
		st->env->timer->cancel(st->cq_timer, st->env->timer_ctx);
}
