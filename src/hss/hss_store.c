/*
 * hss_store — users added at run time (hss_users_add, the API's users_add)
 * kept in the state file (manual §5.2 `ue_db_filename`), so that they, and
 * with them their bindings and pending SMS, come back after a restart.
 *
 *   hss_added (id INTEGER PRIMARY KEY, users TEXT NOT NULL)
 *
 * One row per users_add call: its `users` array as JSON text, the entries
 * as the client gave them once the configuration reader and the HSS took
 * them (all or none, so a row comes back all or none too). At attach, which
 * imsd runs before the registrar and the SMS service read their rows, each
 * row is read again with the checks of the day (ims_cfg_ue_from_json, then
 * hss_users_add): a row that no longer passes — a user of it is now in
 * ue_db, say — is logged and left in the file, like the registrar's rows
 * of users no longer configured.
 *
 * Writes run as store jobs on imsd's one worker thread, after and before
 * the registrar's and the SMS service's (smsc_store.c says why that is
 * safe); the caller's answer waits for the commit (answered means
 * committed). Saves asked for while a job runs wait in a bounded queue and
 * go together in the next job. No user is removed at run time (there is no
 * message for it), so rows are never deleted by imsd.
 */
#include "hss/hss_int.h"

#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/ims_cfg.h"
#include "core/log.h"
#include "core/mem.h"
#include "store/store.h"
#include "store/store_job.h"

#define HSS_STORE_QUEUE_MAX 256u
#define HSS_STORE_ROW_MAX ((size_t)16 << 20) /* bytes of one row read back */

struct hs_save {
	struct hs_save *next;
	char *text; /* owned */
	size_t len;
	hss_store_done_h *h;
	void *arg; /* the caller's, borrowed */
};

struct hss_store {
	struct store *st; /* referenced */
	sqlite3_stmt *ins;
	struct hs_job *job;   /* running, or NULL */
	struct hs_save *queue; /* waiting, oldest first */
	struct hs_save **tail;
	unsigned nqueue;
};

struct hs_job {
	struct store_job base; /* first */
	struct hs_save *saves;  /* owned: the ones this commit carries */
};

static void saves_end(struct hs_save *s, int result)
{
	while (s) {
		struct hs_save *next = s->next;

		if (s->h)
			s->h(result, s->arg);
		free(s->text);
		free(s);
		s = next;
	}
}

static void queue_fail(struct hss_store *hs, int err)
{
	struct hs_save *s = hs->queue;

	hs->queue = NULL;
	hs->tail = &hs->queue;
	hs->nqueue = 0;
	saves_end(s, err);
}

static void job_destroy(struct store_job *sj)
{
	struct hs_job *j = (struct hs_job *)sj;

	saves_end(j->saves, ECANCELED); /* not answered otherwise: say so */
}

static void job_done(struct store_job *sj);
static const struct store_job_ops hs_job_ops = {.done = job_done, .destroy = job_destroy};

/* A job run on the loop thread: its saves are done (h not called: the
 * caller of save learns the outcome from its return), the job freed. */
static void store_job_done_now(struct hs_job *j, int err)
{
	struct hss_store *hs = ((struct hss *)j->base.owner)->store;
	struct hs_save *s = hs->queue;

	if (err)
		log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
			  "store: added users not written: %s", j->base.err);
	hs->queue = NULL;
	hs->tail = &hs->queue;
	hs->nqueue = 0;
	for (struct hs_save *x = s; x; x = x->next)
		x->h = NULL;
	saves_end(s, err);
	store_job_free(&j->base);
}

/* The queued saves in one job, posted (0), or run at once when there is
 * no worker (EALREADY: committed, EIO: failed); 0 when nothing waits. */
static int hs_post(struct hss *hss)
{
	struct hss_store *hs = hss->store;
	struct hs_job *j;
	int err;

	if (!hs->queue || hs->job)
		return 0;
	j = calloc(1, sizeof(*j));
	if (!j)
		return ENOMEM;
	err = store_job_init(&j->base, &hs_job_ops, hss, hs->st, &hs->ins, 1);
	for (struct hs_save *s = hs->queue; s && !err; s = s->next) {
		store_batch_row(j->base.b, 0);
		err = store_batch_text(j->base.b, s->text, s->len);
	}
	if (!err)
		err = store_batch_err(j->base.b);
	if (!err && store_job_post(&j->base)) {
		/* no worker pool (tests, a store used alone): here and now */
		err = store_job_run(&j->base);
		store_job_done_now(j, err);
		return err ? EIO : EALREADY;
	}
	if (err) {
		store_job_free(&j->base);
		return err;
	}
	j->saves = hs->queue;
	hs->queue = NULL;
	hs->tail = &hs->queue;
	hs->nqueue = 0;
	hs->job = j;
	return 0;
}

static void job_done(struct store_job *sj)
{
	struct hs_job *j = (struct hs_job *)sj;
	struct hss *hss = sj->owner;
	struct hs_save *s = j->saves;

	j->saves = NULL;
	hss->store->job = NULL;
	if (sj->result)
		log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
			  "store: added users not written: %s", sj->err);
	saves_end(s, sj->result ? EIO : 0);
	if (hs_post(hss) && hss->store->queue) /* queued meanwhile: failed, answered */
		queue_fail(hss->store, ENOMEM);
}

int hss_store_save(struct hss *hss, const char *users, size_t len, hss_store_done_h *h,
		   void *arg)
{
	struct hss_store *hs = hss ? hss->store : NULL;
	struct hs_save *s;
	int err;

	if (!hs)
		return ENOENT;
	if (hs->nqueue >= HSS_STORE_QUEUE_MAX)
		return EBUSY;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->text = malloc(len ? len : 1))) {
		free(s);
		return ENOMEM;
	}
	memcpy(s->text, users, len);
	s->len = len;
	s->h = h;
	s->arg = arg;
	*hs->tail = s;
	hs->tail = &s->next;
	hs->nqueue++;
	err = hs_post(hss);
	if (err == EALREADY) /* committed now (no worker) */
		return 0;
	if (err == EIO)
		return EIO;
	if (err) { /* take it back: the caller answers the error */
		struct hs_save **pp = &hs->queue;

		while (*pp && *pp != s)
			pp = &(*pp)->next;
		*pp = NULL; /* s is last: nothing after it */
		hs->tail = pp;
		hs->nqueue--;
		s->h = NULL;
		saves_end(s, err);
		return err;
	}
	return EINPROGRESS;
}

/* One row read back and added; false when it does not pass today. */
static bool row_add(struct hss *hss, int64_t id, const char *text, size_t len)
{
	char err[512] = "";
	struct cfg_diag d = {err, sizeof(err), NULL, NULL};
	struct ims_cfg *set = NULL;
	json_error_t je;
	json_t *users = len <= HSS_STORE_ROW_MAX ? json_loadb(text, len, 0, &je) : NULL;
	/* what users_add takes at most: the reader allocates per item */
	int e = users && json_is_array(users) && json_array_size(users) <= HSS_ADD_MAX
			? ims_cfg_ue_from_json(hss->cfg, users, &set, &d)
			: EBADMSG;

	json_decref(users);
	if (!e)
		e = hss_users_add(hss, set, err, sizeof(err));
	if (e) {
		ims_cfg_free(set);
		log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
			  "store: added users of row %lld not restored (kept in the file): %s",
			  (long long)id, err[0] ? err : strerror(e));
		return false;
	}
	return true;
}

static int hs_load(struct hss *hss, struct store *st, unsigned *rows, unsigned *bad)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(store_db(st), "SELECT id, users FROM hss_added ORDER BY id", -1,
			       &q, NULL) != SQLITE_OK)
		return EIO;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(q, 1);
		int n = sqlite3_column_bytes(q, 1);

		(*rows)++;
		if (!t || n <= 0 || !row_add(hss, sqlite3_column_int64(q, 0), t, (size_t)n))
			(*bad)++;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : EIO;
}

int hss_store_attach(struct hss *hss, struct store *st, char *err, size_t errlen)
{
	struct hss_store *hs;
	unsigned rows = 0, bad = 0;
	int e = EIO;

	if (!hss || !st || hss->store)
		return EINVAL;
	hs = calloc(1, sizeof(*hs));
	if (!hs)
		return ENOMEM;
	hs->tail = &hs->queue;
	hs->st = mem_ref(st);
	hss->store = hs;
	if (store_exec(st, "CREATE TABLE IF NOT EXISTS hss_added (id INTEGER PRIMARY KEY, "
			   "users TEXT NOT NULL)") ||
	    sqlite3_prepare_v3(store_db(st), "INSERT INTO hss_added (users) VALUES (?1)", -1,
			       SQLITE_PREPARE_PERSISTENT, &hs->ins, NULL) != SQLITE_OK ||
	    hs_load(hss, st, &rows, &bad)) {
		snprintf(err, errlen, "%s: added users: %s", store_path(st),
			 sqlite3_errmsg(store_db(st)));
		hss_store_detach(hss);
		return e;
	}
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
		  "store: %s: %u users_add call(s) restored, %u kept unrestored", store_path(st),
		  rows - bad, bad);
	return 0;
}

void hss_store_detach(struct hss *hss)
{
	struct hss_store *hs = hss ? hss->store : NULL;

	if (!hs)
		return;
	if (hs->job) { /* its answers, then the done handler only frees it */
		struct hs_job *j = hs->job;
		struct hs_save *s = j->saves;

		store_job_wait(&j->base);
		store_job_abandon(&j->base);
		j->saves = NULL;
		hs->job = NULL;
		saves_end(s, j->base.result ? EIO : 0);
	}
	queue_fail(hs, ECANCELED);
	sqlite3_finalize(hs->ins);
	mem_deref(hs->st);
	free(hs);
	hss->store = NULL;
}
