/*
 * registrar_store — the registrar's part of the state file (manual §5.2
 * `ue_db_filename`, docs/registrar.md "State file").
 *
 * Three tables, one row per user, binding and subscription:
 *
 *   reg_user    (user, nth, sqn_he, algo, ck, ik)
 *   reg_binding (user, nth, bid, contact, callid, cseq, reg_id, expires,
 *                expires_at, q1000, imei, event, peer, local, tcp)
 *   reg_sub     (user, nth, callid, local_tag, remote_tag, remote_uri,
 *                local_uri, target, routes, event_id, cseq, version,
 *                expires, expires_at, remote_cseq, peer, local, tcp)
 *
 * (created, or migrated from an older schema version, by
 * registrar_store_schema.c). A flow is stored by value: the peer's and our
 * local address as net_addr_print writes them, and whether it is TCP.
 *
 * A user is named by "impi:<IMPI>", else "imsi:<IMSI>", else
 * "impu:<first IMPU>", and nth tells multi_sim entries sharing that name
 * apart (configuration order). Expiry times are Unix seconds, so time spent
 * stopped counts. Whatever touched a user (a REGISTER, an expiry, a
 * SUBSCRIBE, a NOTIFY's outcome, a network de-registration) marks it, a
 * challenge marks its SQN_HE alone; the marked users are written in one
 * transaction before the loop sleeps, at most one every REG_STORE_GROUP_MS
 * while changes keep coming (group commit; a timer writes the rest).
 *
 * Answered means committed: an answer that acknowledges new state (a
 * REGISTER's 200, registrar_held.c) marks its user and is held on the list
 * of the next transaction, which carries the user's rows; it leaves when
 * that transaction's outcome is applied on the loop thread, as a 500 if the
 * commit failed. "Committed" is SQLite's COMMIT returned: the rows are in
 * the WAL file, in the kernel's page cache (synchronous=NORMAL), so killing
 * imsd at any moment loses no answered change; a power cut may still lose
 * the last transactions (store/store.h).
 *
 * On start every row is checked like network input (reg_store_*_decode:
 * bounded lengths, SIP syntax of contacts and dialog fields, ranges) before
 * anything is built from it; a bad row is skipped and counted, never fatal.
 * Bindings that expired while imsd was down are restored due now, so they
 * expire through the usual path and their subscribers get the NOTIFY.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"
#include "sip/sip_hdr.h"
#include "store/store.h"
#include "store/store_job.h"
#include "registrar/registrar_int.h"

enum {
	ST_INS_USER = 0,
	ST_DEL_USER,
	ST_INS_BIND,
	ST_DEL_BIND,
	ST_INS_SUB,
	ST_DEL_SUB,
	ST_N
};

static const char *const stmt_sql[ST_N] = {
    [ST_INS_USER] = "INSERT OR REPLACE INTO reg_user VALUES (?,?,?,?,?,?)",
    [ST_DEL_USER] = "DELETE FROM reg_user WHERE user=? AND nth=?",
    [ST_INS_BIND] = "INSERT OR REPLACE INTO reg_binding VALUES "
		    "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [ST_DEL_BIND] = "DELETE FROM reg_binding WHERE user=? AND nth=?",
    [ST_INS_SUB] = "INSERT OR REPLACE INTO reg_sub VALUES "
		   "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [ST_DEL_SUB] = "DELETE FROM reg_sub WHERE user=? AND nth=?",
};

struct reg_store_job;

struct reg_store {
	struct registrar *reg;	  /* owner, back-pointer */
	struct store *st;	  /* referenced */
	sqlite3_stmt *stmt[ST_N]; /* owned; used by one thread at a time */
	uint8_t *mark;		  /* per hss user: MARK_WHAT and the MARK_FILE_* bits */
	uint32_t *dirty;	  /* indexes of the marked users */
	uint32_t ndirty, nusers;
	struct loop_timer *timer; /* the next grouped write */
	uint64_t next_at;	  /* monotonic ms: no write before (grouping, retry) */
	uint64_t written, failed;
	struct reg_store_job *job; /* on a worker now, or NULL */
	/* answers waiting for the next job (a marked user each), in order;
	 * owned */
	struct reg_held *held, **held_tail;
	struct loop_timer *kick; /* wakes the loop to send what a hook released */
};

/* One transaction (store_job.h); owner: the registrar. */
struct reg_store_job {
	struct store_job base; /* first */
	uint32_t *users;       /* owned: hss user indexes in the batch */
	uint8_t *bits;	       /* owned: MARK_FILE_* each leaves in the file */
	uint32_t n;
	struct reg_held *held; /* owned: the answers this commit releases */
};

/* ---- marking ---- */

/* mark[]: what to write (enum reg_store_what, 0 = nothing); whether the
 * file may hold binding or subscription rows of the user (set when rows are
 * written or found at start, cleared once a commit left none); whether one
 * of them went since the user was last written (or a bad row of the user
 * was found at start). Rows are written with INSERT OR REPLACE, so a DELETE
 * is needed only when something went: a refresh keeps its binding id. */
#define MARK_WHAT 3u
#define MARK_FILE_BIND 4u
#define MARK_FILE_SUB 8u
#define MARK_GONE_BIND 16u
#define MARK_GONE_SUB 32u

void reg_store_mark(struct registrar *reg, const struct hss_user *u,
		    enum reg_store_what what)
{
	struct reg_store *rs = reg->rs;
	uint32_t i;

	if (!rs || !u)
		return;
	i = hss_user_index(reg->hss, u);
	if (i >= rs->nusers)
		return;
	if (!(rs->mark[i] & MARK_WHAT))
		rs->dirty[rs->ndirty++] = i;
	if ((rs->mark[i] & MARK_WHAT) < what)
		rs->mark[i] = (uint8_t)((rs->mark[i] & ~MARK_WHAT) | what);
}

bool reg_store_hold(struct registrar *reg, const struct hss_user *u, struct reg_held *h)
{
	struct reg_store *rs = reg->rs;

	if (!rs || !u || hss_user_index(reg->hss, u) >= rs->nusers)
		return false;
	/* marked, so in the next job with h: a held answer always has a
	 * marked user until job_build moves both */
	reg_store_mark(reg, u, REG_STORE_ALL);
	h->next = NULL;
	*rs->held_tail = h;
	rs->held_tail = &h->next;
	return true;
}

/* The file holds rows of u in reg_binding (bind) or reg_sub (!bind). */
void reg_store_file_rows(struct registrar *reg, const struct hss_user *u, bool bind)
{
	uint32_t i = hss_user_index(reg->hss, u);

	if (reg->rs && i < reg->rs->nusers)
		reg->rs->mark[i] |= bind ? MARK_FILE_BIND : MARK_FILE_SUB;
}

void reg_store_gone(struct registrar *reg, const struct hss_user *u, bool bind)
{
	uint32_t i;

	if (!reg->rs)
		return;
	i = hss_user_index(reg->hss, u);
	if (i < reg->rs->nusers)
		reg->rs->mark[i] |= bind ? MARK_GONE_BIND : MARK_GONE_SUB;
}

/* ---- user names ---- */

/* The users a stored name designates, in configuration order (nth is an
 * index here), the first REG_STORE_NTH_MAX: kind 'i' IMPI, 'm' IMSI, 'u'
 * IMPU. */
static size_t users_named(const struct registrar *reg, char kind, struct pl id,
			  struct hss_user *c[REG_STORE_NTH_MAX])
{
	struct hss_impu_match m[REG_STORE_NTH_MAX];
	size_t n;

	if (kind == 'i')
		n = hss_users_by_impi(reg->hss, id, c, REG_STORE_NTH_MAX);
	else if (kind == 'm')
		n = hss_users_by_imsi(reg->hss, id, c, REG_STORE_NTH_MAX);
	else
		n = hss_users_by_impu(reg->hss, id, m, REG_STORE_NTH_MAX);
	if (n > REG_STORE_NTH_MAX)
		n = REG_STORE_NTH_MAX;
	for (size_t i = 0; kind != 'i' && kind != 'm' && i < n; i++)
		c[i] = m[i].user;
	return n;
}

/* The name and nth of u; buf holds the name. ENOENT: u has no identity. */
static int user_key(const struct registrar *reg, const struct hss_user *u, char *buf,
		    size_t size, uint32_t *nth)
{
	struct hss_user *c[REG_STORE_NTH_MAX];
	char uri[HSS_URI_MAX];
	const char *id;
	char kind;
	size_t n;

	*nth = 0;
	if ((id = hss_user_impi(u)))
		kind = 'i';
	else if ((id = hss_user_imsi(u)))
		kind = 'm';
	else if (hss_user_impu_count(u) && !hss_impu_uri(reg->hss, u, 0, uri, sizeof(uri)))
		id = uri, kind = 'u';
	else
		return ENOENT;
	snprintf(buf, size, "%s:%s", kind == 'i' ? "impi" : kind == 'm' ? "imsi" : "impu",
		 id);
	n = users_named(reg, kind, pl_from_str(id), c);
	for (size_t i = 0; i < n; i++) {
		if (c[i] == u) {
			*nth = (uint32_t)i;
			return 0;
		}
	}
	return ENOENT;
}

/* The user a stored name designates, or NULL. */
struct hss_user *reg_store_user_find(const struct registrar *reg,
				     const struct reg_store_key *k)
{
	struct hss_user *c[REG_STORE_NTH_MAX];
	size_t n = users_named(reg, k->kind, k->id, c);

	return k->nth < n ? c[k->nth] : NULL;
}

/* ---- writing ---- */

int64_t reg_store_wall_now(void)
{
	return (int64_t)time(NULL);
}

static int64_t expires_at(const struct registrar *reg, uint64_t due)
{
	uint64_t now = reg_now(reg);

	return reg_store_wall_now() +
	       (due > now ? (int64_t)((due - now + 999) / 1000) : 0);
}

/* A row of statement st beginning with the user's name. The builders below
 * do not look at each add: the batch keeps the first failure
 * (store_batch_err), which job_build checks once. */
static void row_key(struct store_batch *b, int st, const char *key, uint32_t nth)
{
	store_batch_row(b, (unsigned)st);
	store_batch_str(b, key);
	store_batch_int(b, nth);
}

/* The peer and our local address as net_addr_print writes them ("" for
 * none; no local without a peer), tcp. */
static void row_flow(struct store_batch *b, const struct reg_flow *f)
{
	struct net_flow src;
	char peer[NET_ADDR_STRLEN] = "", local[NET_ADDR_STRLEN] = "";

	reg_flow_get(f, &src);
	if (net_addr_isset(&src.peer)) {
		net_addr_print(&src.peer, peer, sizeof(peer));
		if (net_addr_isset(&src.local))
			net_addr_print(&src.local, local, sizeof(local));
	}
	store_batch_str(b, peer);
	store_batch_str(b, local);
	store_batch_int(b, f->reliable);
}

static void row_binding(const struct registrar *reg, struct store_batch *b,
			const struct reg_binding *x, const char *key, uint32_t nth)
{
	row_key(b, ST_INS_BIND, key, nth);
	store_batch_int(b, x->id);
	store_batch_text(b, x->data, x->contact_len);
	store_batch_text(b, x->data + x->contact_len + 1, x->callid_len);
	store_batch_int(b, x->cseq);
	store_batch_int(b, x->reg_id);
	store_batch_int(b, x->expires);
	store_batch_int(b, expires_at(reg, x->tmr.due));
	store_batch_int(b, x->q1000);
	store_batch_str(b, x->imei);
	store_batch_int(b, x->event);
	row_flow(b, &x->flow);
}

static void row_sub(const struct registrar *reg, struct store_batch *b, struct reg_sub *x,
		    const char *key, uint32_t nth)
{
	const char *str[REG_SUB_NSTR];

	row_key(b, ST_INS_SUB, key, nth);
	reg_sub_fields(x, str);
	for (int i = 0; i < REG_SUB_NSTR; i++)
		store_batch_str(b, str[i]);
	store_batch_int(b, sip_dialog_local_cseq(x->dlg));
	store_batch_int(b, x->version);
	store_batch_int(b, x->expires);
	store_batch_int(b, expires_at(reg, x->tmr.due));
	store_batch_int(b, sip_dialog_remote_cseq(x->dlg));
	row_flow(b, &x->flow);
}

static void row_user(struct store_batch *b, const struct hss_user *u,
		     const struct reg_user *ru, const char *key, uint32_t nth)
{
	bool keys = ru && ru->algo >= 0;

	row_key(b, ST_INS_USER, key, nth);
	store_batch_int(b, (int64_t)hss_user_sqn_he(u));
	store_batch_int(b, ru ? ru->algo : -1);
	if (keys) {
		store_batch_blob(b, ru->ck, ru->ck_len);
		store_batch_blob(b, ru->ik, ru->ik_len);
	} else {
		store_batch_null(b);
		store_batch_null(b);
	}
}

/*
 * The rows replacing user u's: all of them, or the reg_user row alone when
 * only SQN_HE moved. A DELETE only where the file may hold rows and one of
 * them went. *bits receives the MARK_FILE_* bits the file has once the
 * batch is committed.
 */
static void user_rows(struct registrar *reg, struct store_batch *b, struct hss_user *u,
		      uint8_t mark, uint8_t *bits)
{
	const struct reg_user *ru = reg_user_find(reg, u);
	bool all = (mark & MARK_WHAT) == REG_STORE_ALL;
	char key[HSS_URI_MAX + 8];
	uint32_t nth;

	*bits = mark & (MARK_FILE_BIND | MARK_FILE_SUB);
	if (user_key(reg, u, key, sizeof(key), &nth))
		return; /* no stable name: nothing can be restored anyway */
	if (all && (mark & MARK_FILE_BIND) && (mark & MARK_GONE_BIND)) {
		row_key(b, ST_DEL_BIND, key, nth);
		*bits &= (uint8_t)~MARK_FILE_BIND;
	}
	if (all && (mark & MARK_FILE_SUB) && (mark & MARK_GONE_SUB)) {
		row_key(b, ST_DEL_SUB, key, nth);
		*bits &= (uint8_t)~MARK_FILE_SUB;
	}
	if (!ru && hss_user_sqn_he(u) == hss_user_cfg(u)->isim.sqn) {
		row_key(b, ST_DEL_USER, key, nth);
		return;
	}
	row_user(b, u, ru, key, nth);
	for (const struct reg_binding *x = ru && all ? ru->bindings : NULL; x;
	     x = x->next) {
		if (!x->terminated) {
			*bits |= MARK_FILE_BIND;
			row_binding(reg, b, x, key, nth);
		}
	}
	for (struct reg_sub *x = ru && all ? ru->subs : NULL; x; x = x->next) {
		*bits |= MARK_FILE_SUB;
		row_sub(reg, b, x, key, nth);
	}
}

/* ---- jobs ---- */

static void job_destroy(struct store_job *sj)
{
	struct reg_store_job *j = (struct reg_store_job *)sj;

	/* answers are released by job_apply; none are left unless the
	 * registrar was gone, and then there is nobody to send them */
	while (j->held) {
		struct reg_held *h = j->held;

		j->held = h->next;
		free(h);
	}
	free(j->users);
	free(j->bits);
}

static void job_done(struct store_job *sj);

static const struct store_job_ops job_ops = {.done = job_done, .destroy = job_destroy};

/* Moves every marked user into a new job. ENOMEM: nothing moved. */
static int job_build(struct registrar *reg, struct reg_store_job **jp)
{
	struct reg_store *rs = reg->rs;
	struct reg_store_job *j = calloc(1, sizeof(*j));
	int err;

	if (!j)
		return ENOMEM;
	err = store_job_init(&j->base, &job_ops, reg, rs->st, rs->stmt, ST_N);
	j->users = malloc((size_t)rs->ndirty * sizeof(*j->users));
	j->bits = malloc(rs->ndirty);
	if (!err && (!j->users || !j->bits))
		err = ENOMEM;
	for (uint32_t i = 0; i < rs->ndirty && !err; i++) {
		uint32_t u = rs->dirty[i];

		j->users[i] = u;
		user_rows(reg, j->base.b, hss_user_at(reg->hss, u), rs->mark[u], &j->bits[i]);
	}
	if (!err)
		err = store_batch_err(j->base.b);
	if (err) {
		store_job_free(&j->base);
		return err;
	}
	/* the marks go with the job; the file bits stay set (a superset)
	 * until the job's outcome is known */
	for (uint32_t i = 0; i < rs->ndirty; i++) {
		uint32_t u = rs->dirty[i];
		uint8_t m = rs->mark[u];

		/* the DELETEs are in the batch: nothing gone since */
		if ((m & MARK_WHAT) == REG_STORE_ALL)
			m &= (uint8_t) ~(MARK_GONE_BIND | MARK_GONE_SUB);
		rs->mark[u] = (uint8_t)((m & ~MARK_WHAT) | j->bits[i]);
	}
	j->n = rs->ndirty;
	rs->ndirty = 0;
	j->held = rs->held;
	rs->held = NULL;
	rs->held_tail = &rs->held;
	*jp = j;
	return 0;
}

static void job_apply_marks(struct registrar *reg, struct reg_store_job *j);

/* The outcome, on the loop thread; then the answers it carries go (their
 * follow-ups may mark users again: those go in the next job). */
static void job_apply(struct registrar *reg, struct reg_store_job *j)
{
	struct reg_held *held = j->held;

	j->held = NULL;
	job_apply_marks(reg, j);
	reg_held_release(reg, held, j->base.result);
}

static void job_apply_marks(struct registrar *reg, struct reg_store_job *j)
{
	struct reg_store *rs = reg->rs;

	store_batch_done(rs->st, j->base.b, j->base.result, j->base.err);
	if (j->base.result) {
		/* everything again, a second later, from the state then */
		for (uint32_t i = 0; i < j->n; i++) {
			reg_store_mark(reg, hss_user_at(reg->hss, j->users[i]),
				       REG_STORE_ALL);
			/* its DELETEs did not happen */
			rs->mark[j->users[i]] |= MARK_GONE_BIND | MARK_GONE_SUB;
		}
		rs->failed++;
		rs->next_at = reg_now(reg) + 1000;
		return;
	}
	for (uint32_t i = 0; i < j->n; i++) {
		uint8_t *m = &rs->mark[j->users[i]];

		/* exact unless marked again since (then a superset) */
		if (!(*m & MARK_WHAT))
			*m = (uint8_t)(j->bits[i] |
				       (*m & (MARK_GONE_BIND | MARK_GONE_SUB)));
	}
	rs->written += j->n;
}

static void reg_store_arm(struct registrar *reg);

static void reg_store_kick_h(void *arg)
{
	(void)arg; /* waking up is the point: the hooks flush before the next sleep */
}

static void job_done(struct store_job *sj)
{
	struct registrar *reg = sj->owner;

	job_apply(reg, (struct reg_store_job *)sj);
	reg->rs->job = NULL;
	reg_store_arm(reg);
}

/* Writes the marked users: on a worker if the pool is there and async,
 * else here. */
static int reg_store_write(struct registrar *reg, bool async)
{
	struct reg_store *rs = reg->rs;
	struct reg_store_job *j = NULL;
	int err;

	if (!rs->ndirty || rs->job)
		return 0;
	err = job_build(reg, &j); /* takes the held answers too */
	if (err) {
		rs->failed++;
		rs->next_at = reg_now(reg) + 1000;
		return err;
	}
	rs->next_at = reg_now(reg) + REG_STORE_GROUP_MS;
	if (async && !store_job_post(&j->base)) {
		rs->job = j;
		return 0;
	}
	err = store_job_run(&j->base);
	job_apply(reg, j);
	store_job_free(&j->base);
	/* from a hook or a timer: answers released after the UDP flush of
	 * this iteration would wait for the next wake-up */
	if (async && rs->kick && !loop_timer_pending(rs->kick))
		loop_timer_start(rs->kick, 0, reg_store_kick_h, reg);
	return err;
}

int registrar_store_flush(struct registrar *reg)
{
	struct reg_store *rs = reg ? reg->rs : NULL;

	if (!rs)
		return 0;
	if (rs->job) { /* its done handler, run later, only frees it */
		store_job_wait(&rs->job->base);
		job_apply(reg, rs->job);
		store_job_abandon(&rs->job->base);
		rs->job = NULL;
	}
	return reg_store_write(reg, false);
}

static void reg_store_timer_h(void *arg)
{
	struct registrar *reg = arg;

	reg_store_write(reg, true);
	reg_store_arm(reg);
}

/* A timer for what is marked and cannot be written yet. */
static void reg_store_arm(struct registrar *reg)
{
	struct reg_store *rs = reg->rs;
	uint64_t now = reg_now(reg);

	if (rs->ndirty && !rs->job && !loop_timer_pending(rs->timer))
		loop_timer_start(rs->timer, rs->next_at > now ? rs->next_at - now : 1,
				 reg_store_timer_h, reg);
}

/*
 * Before the loop sleeps: write now if the last write is old enough (so a
 * lone REGISTER is on its way to disk before imsd waits for the next), else
 * group with what comes in the next few ms (the timer writes them then).
 * One transaction at a time: the next waits for the running one's outcome.
 */
static void reg_store_sleep_h(void *arg)
{
	struct registrar *reg = arg;
	struct reg_store *rs = reg->rs;

	if (!rs->ndirty || rs->job)
		return;
	if (reg_now(reg) >= rs->next_at) {
		loop_timer_cancel(rs->timer);
		reg_store_write(reg, true);
	}
	reg_store_arm(reg);
}

/* ---- attach / detach ---- */

void reg_store_detach(struct registrar *reg)
{
	struct reg_store *rs = reg->rs;

	if (!rs)
		return;
	loop_before_sleep_remove(reg_store_sleep_h, reg);
	if (rs->timer)
		loop_timer_free(rs->timer);
	rs->timer = NULL;
	if (rs->kick)
		loop_timer_free(rs->kick);
	rs->kick = NULL;
	registrar_store_flush(reg);
	/* what the answers just sent did next (a NOTIFY's CSeq) */
	if (rs->ndirty)
		registrar_store_flush(reg);
	/* held answers whose job could not even be built: not saved */
	reg_held_release(reg, rs->held, ENOMEM);
	rs->held = NULL;
	rs->held_tail = &rs->held;
	if (rs->ndirty)
		log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
			  "store: %u user(s) could not be saved to %s", rs->ndirty,
			  store_path(rs->st));
	for (int i = 0; i < ST_N; i++)
		sqlite3_finalize(rs->stmt[i]);
	mem_deref(rs->st);
	free(rs->mark);
	free(rs->dirty);
	free(rs);
	reg->rs = NULL;
}

int registrar_store_attach(struct registrar *reg, struct store *st, char *err,
			   size_t errlen)
{
	struct reg_store *rs;
	struct reg_store_load_stats ls;
	int e;

	if (!reg || !st || reg->rs)
		return EINVAL;
	if (!reg->ops.tsx_find) {
		snprintf(err, errlen,
			 "%s: no way to find a transaction again for the answers "
			 "held until their state is saved (registrar_ops.tsx_find)",
			 store_path(st));
		return EINVAL;
	}
	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return ENOMEM;
	reg->rs = rs;
	rs->reg = reg;
	rs->st = mem_ref(st);
	rs->nusers = hss_user_count(reg->hss);
	rs->mark = calloc((size_t)rs->nusers + 1, 1);
	rs->dirty = calloc((size_t)rs->nusers + 1, sizeof(*rs->dirty));
	rs->held_tail = &rs->held;
	rs->timer = loop_timer_alloc();
	rs->kick = loop_timer_alloc();
	if (!rs->mark || !rs->dirty || !rs->timer || !rs->kick) {
		e = ENOMEM;
		goto out;
	}
	e = reg_store_schema_setup(reg, st);
	for (int i = 0; i < ST_N && !e; i++) {
		if (sqlite3_prepare_v3(store_db(st), stmt_sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &rs->stmt[i],
				       NULL) != SQLITE_OK)
			e = store_fail(st, stmt_sql[i]);
	}
	if (e) {
		snprintf(err, errlen, "%s: %s", store_path(st),
			 sqlite3_errmsg(store_db(st)));
		goto out;
	}
	e = reg_store_load(reg, &ls);
	if (e) {
		snprintf(err, errlen, "%s: cannot read: %s", store_path(st),
			 sqlite3_errmsg(store_db(st)));
		goto out;
	}
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
		  "store: %s: %u user(s), %u binding(s), %u subscription(s) restored; "
		  "%u row(s) of users not in ue_db kept, %u bad row(s) skipped",
		  store_path(st), ls.users, ls.bindings, ls.subs, ls.unknown, ls.bad);
	if (ls.bad)
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "store: %s: %u bad row(s) skipped (see the debug log)",
			  store_path(st), ls.bad);
	e = loop_before_sleep_add(reg_store_sleep_h, reg);
out:
	if (e)
		reg_store_detach(reg);
	return e;
}

bool registrar_store_stats(const struct registrar *reg, struct registrar_store_stats *out)
{
	const struct reg_store *rs = reg ? reg->rs : NULL;
	struct store_stats ss = {0};

	memset(out, 0, sizeof(*out));
	if (!rs)
		return false;
	store_stats_get(rs->st, &ss);
	out->users_written = rs->written;
	out->commits = ss.commits;
	out->failures = rs->failed;
	out->pending = rs->ndirty + (rs->job ? rs->job->n : 0);
	return true;
}

struct store *reg_store_st(const struct registrar *reg)
{
	return reg->rs->st;
}
