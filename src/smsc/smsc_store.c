/*
 * smsc_store — the pending SMS in the state file (manual §5.2
 * `ue_db_filename`: "the registration info and pending SMS"; docs/sms.md
 * "State file").
 *
 *   sms_version (v)  the version of the tables below (SMSC_STORE_VERSION),
 *                    kept apart from the registrar's (store.h) so that
 *                    each service changes its tables on its own
 *   sms_msg (id, dst, dst_nth, orig, orig_nth, kind, submit_mr, srr, ra,
 *            created, expires, not_before, tpdu)
 *
 * A user is named by an IMPU as a URI (dst: the destination IMPU; orig:
 * the sender's, to report to) and nth, the place of the user among those
 * sharing that IMPU (multi_sim, configuration order). Times are Unix
 * seconds. tpdu is the SMS-DELIVER or SMS-STATUS-REPORT to send.
 *
 * Writes are grouped like the registrar's: a new SMS is an INSERT, a
 * delivered or expired one a DELETE, and what gathered goes in one
 * transaction before the loop sleeps, run on the worker thread. The state
 * file has one SQLite connection and imsd one worker thread (imsd.c
 * loop_work_start(1)): the registrar's transactions and these run one after
 * the other, never at once.
 *
 * Answered means committed: the 202 and the RP-ACK of an MO SMS are held on
 * the list of the transaction that carries its INSERT and leave when it has
 * committed; a new SMS is not delivered before either. A failed commit
 * answers 500 (Retry-After: 1) and drops the SMS of that transaction from
 * memory: the phone sends it again (TS 24.011 §5.3.2.1 TR1M), and nothing
 * is delivered that was not saved. DELETEs of a failed transaction are
 * written again with the next one.
 *
 * kill -9: a committed SMS is in the WAL file and comes back at start; an
 * SMS delivered (RP-ACK received) whose DELETE had not committed yet is
 * delivered again after a restart: that window is the few ms before the
 * next transaction.
 *
 * Rows are checked like network input when read (lengths, ranges, the TPDU
 * size); a bad row is skipped and logged, a row of a user no longer in
 * ue_db is left in the file.
 */
#include "smsc/smsc_int.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "store/store.h"
#include "store/store_job.h"

#define SMSC_STORE_VERSION 1
/* After a failed transaction, the next waits this long. */
#define SMSC_STORE_RETRY_MS 1000u

enum { SS_INS = 0, SS_DEL, SS_N };

static const char *const ss_sql[SS_N] = {
    [SS_INS] = "INSERT OR REPLACE INTO sms_msg VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [SS_DEL] = "DELETE FROM sms_msg WHERE id=?",
};

static const char *const ss_tables =
    "CREATE TABLE IF NOT EXISTS sms_version (v INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sms_msg (id INTEGER PRIMARY KEY, dst TEXT NOT NULL,"
    " dst_nth INTEGER NOT NULL, orig TEXT, orig_nth INTEGER, kind INTEGER NOT NULL,"
    " submit_mr INTEGER, srr INTEGER, ra TEXT, created INTEGER NOT NULL,"
    " expires INTEGER NOT NULL, not_before INTEGER NOT NULL, tpdu BLOB NOT NULL);";

struct ss_job;

struct smsc_store {
	struct smsc *s;
	struct store *st; /* referenced */
	sqlite3_stmt *stmt[SS_N];
	struct smsc_msg **put; /* new SMS to INSERT (borrowed: the queues own them) */
	uint32_t nput, cput;
	uint64_t *del;
	uint32_t ndel, cdel;
	struct smsc_held *held, **held_tail;
	struct ss_job *job; /* running, or NULL */
	struct loop_timer *timer;
	uint64_t next_at;
};

/* One transaction (store_job.h); owner: the struct smsc. */
struct ss_job {
	struct store_job base; /* first */
	struct smsc_msg **msgs; /* the INSERTs' SMS: saved once committed */
	uint32_t nmsgs;
	uint64_t *dels;
	uint32_t ndels;
	struct smsc_held *held;
};

/* ---- what to write ---- */

static int grow(void **a, uint32_t *cap, uint32_t n, size_t el)
{
	uint32_t c = *cap ? *cap * 2 : 64;
	void *p;

	if (n < *cap)
		return 0;
	p = realloc(*a, (size_t)c * el);
	if (!p)
		return ENOMEM;
	*a = p;
	*cap = c;
	return 0;
}

void smsc_store_put(struct smsc *s, struct smsc_msg *m)
{
	struct smsc_store *ss = s->ss;

	if (!ss) {
		m->saved = true;
		return;
	}
	if (grow((void **)&ss->put, &ss->cput, ss->nput, sizeof(*ss->put))) {
		/* cannot be written: delivered from memory, as without a file */
		log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
			  "sms: message %llu not saved (out of memory)",
			  (unsigned long long)m->id);
		m->saved = true;
		return;
	}
	ss->put[ss->nput++] = m;
}

void smsc_store_del(struct smsc *s, uint64_t id)
{
	struct smsc_store *ss = s->ss;

	if (!ss)
		return;
	if (grow((void **)&ss->del, &ss->cdel, ss->ndel, sizeof(*ss->del))) {
		log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
			  "sms: message %llu stays in the state file (out of memory)",
			  (unsigned long long)id);
		return;
	}
	ss->del[ss->ndel++] = id;
}

bool smsc_store_hold(struct smsc *s, struct smsc_held *h)
{
	struct smsc_store *ss = s->ss;

	if (!ss)
		return false;
	h->next = NULL;
	*ss->held_tail = h;
	ss->held_tail = &h->next;
	return true;
}

/* ---- rows ---- */

/* u's IMPU i as a URI and u's place among the users sharing it. */
static int user_name(const struct smsc *s, const struct hss_user *u, uint32_t i, char *uri,
		     size_t size, int64_t *nth)
{
	struct hss_impu_match m[16];
	size_t n;

	if (hss_impu_uri(s->hss, u, i, uri, size))
		return ENOENT;
	n = hss_users_by_impu(s->hss, pl_from_str(uri), m, 16);
	for (size_t k = 0; k < n && k < 16; k++) {
		if (m[k].user == u) {
			*nth = (int64_t)k;
			return 0;
		}
	}
	return ENOENT;
}

static void row_put(const struct smsc *s, struct store_batch *b, const struct smsc_msg *m)
{
	struct hss_user *du = hss_user_at(s->hss, m->uidx);
	char dst[HSS_URI_MAX], orig[HSS_URI_MAX];
	int64_t dnth = 0, onth = 0;
	bool has_orig = m->orig &&
			!user_name(s, m->orig, m->orig_impu, orig, sizeof(orig), &onth);

	if (!du || user_name(s, du, m->dst_impu, dst, sizeof(dst), &dnth))
		return; /* no name to find it again by: kept in memory only */
	store_batch_row(b, SS_INS);
	store_batch_int(b, (int64_t)m->id);
	store_batch_str(b, dst);
	store_batch_int(b, dnth);
	if (has_orig) {
		store_batch_str(b, orig);
		store_batch_int(b, onth);
	} else {
		store_batch_null(b);
		store_batch_null(b);
	}
	store_batch_int(b, m->kind);
	store_batch_int(b, m->submit_mr);
	store_batch_int(b, m->srr);
	store_batch_str(b, m->ra);
	store_batch_int(b, m->created);
	store_batch_int(b, m->expires);
	store_batch_int(b, m->not_before);
	store_batch_blob(b, m->tpdu, m->tpdu_len);
}

/* ---- jobs ---- */

static void job_destroy(struct store_job *sj)
{
	struct ss_job *j = (struct ss_job *)sj;

	while (j->held) { /* the service is gone: nobody to answer */
		struct smsc_held *h = j->held;

		j->held = h->next;
		free(h->ids);
		free(h);
	}
	free(j->msgs);
	free(j->dels);
}

static void job_done(struct store_job *sj);

static const struct store_job_ops job_ops = {.done = job_done, .destroy = job_destroy};

static int job_build(struct smsc *s, struct ss_job **jp)
{
	struct smsc_store *ss = s->ss;
	struct ss_job *j = calloc(1, sizeof(*j));
	struct store_batch *b;
	int err;

	if (!j)
		return ENOMEM;
	err = store_job_init(&j->base, &job_ops, s, ss->st, ss->stmt, SS_N);
	b = j->base.b;
	for (uint32_t i = 0; i < ss->nput && !err; i++)
		row_put(s, b, ss->put[i]);
	for (uint32_t i = 0; i < ss->ndel && !err; i++) {
		store_batch_row(b, SS_DEL);
		store_batch_int(b, (int64_t)ss->del[i]);
	}
	if (!err)
		err = store_batch_err(b);
	if (err) {
		store_job_free(&j->base);
		return err;
	}
	/* the lists move into the job */
	j->msgs = ss->put;
	j->nmsgs = ss->nput;
	j->dels = ss->del;
	j->ndels = ss->ndel;
	ss->put = NULL;
	ss->nput = ss->cput = 0;
	ss->del = NULL;
	ss->ndel = ss->cdel = 0;
	j->held = ss->held;
	ss->held = NULL;
	ss->held_tail = &ss->held;
	*jp = j;
	return 0;
}

/* A failed commit: its SMS are dropped (their senders get 500), its
 * DELETEs go in the next transaction. */
static void job_failed(struct smsc *s, struct ss_job *j)
{
	for (uint32_t i = 0; i < j->ndels; i++)
		smsc_store_del(s, j->dels[i]);
	for (uint32_t i = 0; i < j->nmsgs; i++) {
		struct smsc_msg *m = j->msgs[i];
		struct smsc_user *su = smsc_user_at(s, m->uidx);

		if (su)
			smsc_msg_remove(s, su, m);
	}
	log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
		  "sms: the state file was not written (%s): %u new SMS dropped, their "
		  "senders answered 500",
		  j->base.err[0] ? j->base.err : strerror(j->base.result), j->nmsgs);
	s->ss->next_at = smsc_now(s) + SMSC_STORE_RETRY_MS;
}

/* The outcome, on the loop thread: answers, then deliveries. */
static void job_apply(struct smsc *s, struct ss_job *j)
{
	struct smsc_held *held = j->held;

	j->held = NULL;
	store_batch_done(s->ss->st, j->base.b, j->base.result, j->base.err);
	if (!j->base.result) {
		for (uint32_t i = 0; i < j->nmsgs; i++)
			j->msgs[i]->saved = true;
	}
	while (held) {
		struct smsc_held *h = held;

		held = h->next;
		smsc_held_release(s, h, j->base.result);
	}
	if (j->base.result) {
		job_failed(s, j);
		return;
	}
	for (uint32_t i = 0; i < j->nmsgs; i++) {
		struct smsc_user *su = smsc_user_at(s, j->msgs[i]->uidx);

		if (su)
			smsc_mt_try(s, su);
	}
}

static void ss_arm(struct smsc *s);

static void job_done(struct store_job *sj)
{
	struct smsc *s = sj->owner;

	s->ss->job = NULL;
	job_apply(s, (struct ss_job *)sj);
	ss_arm(s);
}

static bool ss_dirty(const struct smsc_store *ss)
{
	return ss->nput || ss->ndel || ss->held;
}

/* One transaction with what gathered, on the worker (else here). wait:
 * return once it is applied. */
static int ss_write(struct smsc *s, bool wait)
{
	struct smsc_store *ss = s->ss;
	struct ss_job *j = NULL;
	int err;

	if (!ss_dirty(ss) || ss->job)
		return 0;
	err = job_build(s, &j);
	if (err) {
		ss->next_at = smsc_now(s) + SMSC_STORE_RETRY_MS;
		return err;
	}
	if (!store_job_post(&j->base)) {
		if (!wait) {
			ss->job = j;
			return 0;
		}
		/* the worker runs it after whatever the registrar posted */
		store_job_wait(&j->base);
		store_job_abandon(&j->base); /* its done handler only frees it */
		job_apply(s, j);
		return j->base.result;
	}
	err = store_job_run(&j->base);
	job_apply(s, j);
	store_job_free(&j->base);
	return err;
}

static void ss_timer_h(void *arg)
{
	struct smsc *s = arg;

	ss_write(s, false);
	ss_arm(s);
}

static void ss_arm(struct smsc *s)
{
	struct smsc_store *ss = s->ss;
	uint64_t now = smsc_now(s);

	if (ss && ss_dirty(ss) && !ss->job && !loop_timer_pending(ss->timer))
		loop_timer_start(ss->timer, ss->next_at > now ? ss->next_at - now : 1,
				 ss_timer_h, s);
}

static void ss_sleep_h(void *arg)
{
	struct smsc *s = arg;
	struct smsc_store *ss = s->ss;

	if (!ss_dirty(ss) || ss->job)
		return;
	if (smsc_now(s) >= ss->next_at) {
		loop_timer_cancel(ss->timer);
		ss_write(s, false);
	}
	ss_arm(s);
}

int smsc_store_flush(struct smsc *s)
{
	struct smsc_store *ss = s ? s->ss : NULL;
	int err;

	if (!ss)
		return 0;
	if (ss->job) {
		struct ss_job *j = ss->job;

		store_job_wait(&j->base);
		ss->job = NULL;
		store_job_abandon(&j->base);
		job_apply(s, j);
	}
	err = ss_write(s, true);
	/* what the answers just released queued (status reports) */
	if (!err && ss_dirty(ss))
		err = ss_write(s, true);
	return err;
}

/* ---- reading at start ---- */

struct ss_load {
	uint32_t msgs, unknown, bad;
};

/* The user a stored name designates, and its IMPU index. */
static struct hss_user *user_find(const struct smsc *s, const char *uri, int64_t nth,
				  uint32_t *impu)
{
	struct hss_impu_match m[16];
	size_t n;

	if (!uri || nth < 0 || nth >= 16)
		return NULL;
	n = hss_users_by_impu(s->hss, pl_from_str(uri), m, 16);
	if ((size_t)nth >= n)
		return NULL;
	*impu = m[nth].impu;
	return m[nth].user;
}

static const char *col_text(sqlite3_stmt *q, int c, size_t max)
{
	const char *t = (const char *)sqlite3_column_text(q, c);

	return t && (size_t)sqlite3_column_bytes(q, c) < max ? t : NULL;
}

/* One row into its destination's queue; false: a bad row. */
static bool load_row(struct smsc *s, sqlite3_stmt *q, struct ss_load *ls)
{
	int64_t id = sqlite3_column_int64(q, 0);
	const void *tpdu = sqlite3_column_blob(q, 12);
	int tlen = sqlite3_column_bytes(q, 12);
	const char *dst = col_text(q, 1, HSS_URI_MAX);
	const char *orig = col_text(q, 3, HSS_URI_MAX);
	const char *ra = col_text(q, 8, SMS_ADDR_DIGITS_MAX + 2);
	int64_t kind = sqlite3_column_int64(q, 5);
	uint32_t dimpu = 0, oimpu = HSS_IMPU_NONE;
	struct hss_user *du, *ou = NULL;
	struct smsc_user *su;
	struct smsc_msg *m;

	if (id <= 0 || !dst || !tpdu || tlen <= 0 || tlen > SMS_TPDU_MAX || kind < 0 ||
	    kind > SMSC_KIND_REPORT)
		return false;
	du = user_find(s, dst, sqlite3_column_int64(q, 2), &dimpu);
	if (!du) {
		ls->unknown++;
		return true;
	}
	if (orig)
		ou = user_find(s, orig, sqlite3_column_int64(q, 4), &oimpu);
	su = smsc_user_get(s, du);
	m = su ? smsc_msg_new(s, tpdu, (size_t)tlen) : NULL;
	if (!m)
		return false;
	s->next_id--; /* smsc_msg_new took one; the row has its own */
	m->id = (uint64_t)id;
	m->saved = true;
	m->dst_impu = dimpu;
	m->orig = ou;
	m->orig_impu = oimpu;
	m->kind = (uint8_t)kind;
	m->submit_mr = (uint8_t)sqlite3_column_int64(q, 6);
	m->srr = sqlite3_column_int64(q, 7) != 0;
	snprintf(m->ra, sizeof(m->ra), "%s", ra ? ra : "");
	m->created = sqlite3_column_int64(q, 9);
	m->expires = sqlite3_column_int64(q, 10);
	m->not_before = sqlite3_column_int64(q, 11);
	if ((uint64_t)id > s->next_id)
		s->next_id = (uint64_t)id;
	smsc_msg_enqueue(s, su, m);
	ls->msgs++;
	return true;
}

static int ss_load(struct smsc *s, struct store *st, struct ss_load *ls)
{
	static const char sql[] = "SELECT * FROM sms_msg ORDER BY id";
	sqlite3_stmt *q = NULL;
	int rc;

	memset(ls, 0, sizeof(*ls));
	/* ids stay unique over rows of users no longer in ue_db too */
	if (sqlite3_prepare_v2(store_db(st), "SELECT coalesce(max(id), 0) FROM sms_msg", -1,
			       &q, NULL) != SQLITE_OK ||
	    sqlite3_step(q) != SQLITE_ROW) {
		sqlite3_finalize(q);
		return store_fail(st, "sms: max(id)");
	}
	s->next_id = (uint64_t)sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	if (sqlite3_prepare_v2(store_db(st), sql, -1, &q, NULL) != SQLITE_OK)
		return store_fail(st, sql);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (sqlite3_column_count(q) != 13 || !load_row(s, q, ls)) {
			ls->bad++;
			log_write(LOG_IMS, LOG_LVL_DEBUG, LOG_DIR_NONE, NULL,
				  "store: sms_msg row %lld skipped: bad values",
				  (long long)sqlite3_column_int64(q, 0));
		}
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : store_fail(st, sql);
}

/* The tables, and their version: a newer one is not touched. */
static int ss_schema(struct store *st, char *err, size_t errlen)
{
	sqlite3_stmt *q = NULL;
	int64_t v = -1;

	if (store_exec(st, ss_tables))
		goto fail;
	if (sqlite3_prepare_v2(store_db(st), "SELECT max(v) FROM sms_version", -1, &q,
			       NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	if (v < 0)
		return store_exec(st, "INSERT INTO sms_version VALUES (1)") ? EIO : 0;
	if (v > SMSC_STORE_VERSION) {
		snprintf(err, errlen,
			 "%s: its SMS tables are version %lld, newer than this imsd's (%d)",
			 store_path(st), (long long)v, SMSC_STORE_VERSION);
		return EPROTO;
	}
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", store_path(st), sqlite3_errmsg(store_db(st)));
	return EIO;
}

/* ---- attach / detach ---- */

void smsc_store_detach(struct smsc *s)
{
	struct smsc_store *ss = s->ss;

	if (!ss)
		return;
	loop_before_sleep_remove(ss_sleep_h, s);
	loop_timer_free(ss->timer);
	ss->timer = NULL;
	if (smsc_store_flush(s) || ss_dirty(ss))
		log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
			  "store: pending SMS could not all be saved to %s",
			  store_path(ss->st));
	while (ss->held) { /* not saved: nobody told it is */
		struct smsc_held *h = ss->held;

		ss->held = h->next;
		smsc_held_release(s, h, ENOMEM);
	}
	for (int i = 0; i < SS_N; i++)
		sqlite3_finalize(ss->stmt[i]);
	mem_deref(ss->st);
	free(ss->put);
	free(ss->del);
	free(ss);
	s->ss = NULL;
}

int smsc_store_attach(struct smsc *s, struct store *st, char *err, size_t errlen)
{
	struct smsc_store *ss;
	struct ss_load ls;
	int e;

	if (!s || !st || s->ss)
		return EINVAL;
	ss = calloc(1, sizeof(*ss));
	if (!ss)
		return ENOMEM;
	s->ss = ss;
	ss->s = s;
	ss->st = mem_ref(st);
	ss->held_tail = &ss->held;
	ss->timer = loop_timer_alloc();
	e = ss->timer ? ss_schema(st, err, errlen) : ENOMEM;
	for (int i = 0; i < SS_N && !e; i++) {
		if (sqlite3_prepare_v3(store_db(st), ss_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &ss->stmt[i], NULL) != SQLITE_OK) {
			snprintf(err, errlen, "%s: %s", store_path(st),
				 sqlite3_errmsg(store_db(st)));
			e = EIO;
		}
	}
	if (!e && ss_load(s, st, &ls)) {
		snprintf(err, errlen, "%s: cannot read the pending SMS: %s", store_path(st),
			 sqlite3_errmsg(store_db(st)));
		e = EIO;
	}
	if (!e)
		e = loop_before_sleep_add(ss_sleep_h, s);
	if (e) {
		smsc_store_detach(s);
		return e;
	}
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
		  "store: %s: %u pending SMS restored; %u of users not in ue_db kept, %u bad "
		  "row(s) skipped",
		  store_path(st), ls.msgs, ls.unknown, ls.bad);
	return 0;
}
