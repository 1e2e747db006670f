/*
 * hss_store — users added at run time (hss_users_add, the API's users_add)
 * and their later changes kept in the state file (manual §5.2
 * `ue_db_filename`), so that they, and with them their bindings and
 * pending SMS, come back after a restart.
 *
 *   hss_added (id INTEGER PRIMARY KEY, users TEXT NOT NULL)
 *   hss_changed (row INTEGER, pos INTEGER, entry TEXT NOT NULL,
 *                PRIMARY KEY (row, pos))
 *   hss_echo_added (id INTEGER PRIMARY KEY, uris TEXT NOT NULL)
 *
 * hss_added: one row per users_add call, its `users` array as JSON text,
 * the entries as the client gave them once the configuration reader and
 * the HSS took them (all or none, so a row comes back all or none too).
 * Its id is chosen here (the largest of the file's plus one), so that the
 * loop thread knows it without waiting for the commit.
 * hss_changed: the entry of user `pos` of row `row` as it is after its
 * latest user_set / impu_set / impu_add / impu_del (hss_store_user_change:
 * the saved entry is edited as the API edited the user), which replaces
 * the row's one when the row is read. Configured users (ue_db) are not
 * kept: the configuration file stays their source of truth.
 * hss_echo_added: one row (id 1), the echo IMPUs added at run time
 * (hss_echo_add) and not removed since, a JSON array of strings.
 *
 * At attach, which imsd runs before the registrar and the SMS service read
 * their rows, each row is read again with the checks of the day
 * (ims_cfg_ue_from_json, then hss_users_add): a row that no longer passes
 * — a user of it is now in ue_db, say — is logged and left in the file,
 * like the registrar's rows of users no longer configured. Everything read
 * back is bounded (row and entry sizes, array lengths, positions).
 *
 * Writes run as store jobs on imsd's one worker thread, after and before
 * the registrar's and the SMS service's (smsc_store.c says why that is
 * safe); the caller's answer waits for the commit (answered means
 * committed). Saves asked for while a job runs wait in a bounded queue and
 * go together in the next job, in order. No user is removed at run time
 * (there is no message for it), so rows are never deleted by imsd.
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
#define HSS_STORE_ROW_MAX ((size_t)16 << 20)  /* bytes of one row read back */
#define HSS_STORE_ENTRY_MAX ((size_t)4 << 20) /* bytes of one changed entry */

/* the statements of a job, by index (store_batch_row) */
enum { HS_ADDED = 0, HS_CHANGED, HS_ECHO, HS_NSTMT };

struct hs_save {
	struct hs_save *next;
	unsigned stmt; /* HS_* */
	int64_t row;   /* HS_ADDED, HS_CHANGED: the hss_added row */
	uint32_t pos;  /* HS_CHANGED: the user's index in it */
	char *text;    /* owned */
	size_t len;
	hss_store_done_h *h;
	void *arg; /* the caller's, borrowed */
};

/* An added user's entry as saved: where, and its JSON text. */
struct hs_user {
	int64_t row; /* 0: not saved (its row failed to queue) */
	uint32_t pos;
	char *entry; /* owned, compact JSON */
};

struct hss_store {
	struct store *st; /* referenced */
	sqlite3_stmt *stmts[HS_NSTMT];
	sqlite3_stmt *sel; /* at attach: a row's changed entries */
	int64_t next_row;      /* id of the next hss_added row, 0: none left */
	struct hs_user *users; /* owned: [user index - cfg->ue_count] */
	uint32_t nusers;       /* allocated */
	struct hs_job *job;    /* running, or NULL */
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
			  "store: added users or changes not written: %s", j->base.err);
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
	err = store_job_init(&j->base, &hs_job_ops, hss, hs->st, hs->stmts, HS_NSTMT);
	for (struct hs_save *s = hs->queue; s && !err; s = s->next) {
		store_batch_row(j->base.b, s->stmt);
		if (s->stmt != HS_ECHO)
			store_batch_int(j->base.b, s->row);
		if (s->stmt == HS_CHANGED)
			store_batch_int(j->base.b, s->pos);
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
			  "store: added users or changes not written: %s", sj->err);
	saves_end(s, sj->result ? EIO : 0);
	if (hs_post(hss) && hss->store->queue) /* queued meanwhile: failed, answered */
		queue_fail(hss->store, ENOMEM);
}

/* Queues one row (text owned: taken here whatever the outcome) and posts
 * it; the return of hss_store_save. */
static int hs_queue(struct hss *hss, struct hs_save *tmpl, char *text, size_t len)
{
	struct hss_store *hs = hss->store;
	struct hs_save *s = NULL;
	int err;

	if (!text)
		return ENOMEM;
	if (hs->nqueue >= HSS_STORE_QUEUE_MAX) {
		free(text);
		return EBUSY;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		free(text);
		return ENOMEM;
	}
	*s = *tmpl;
	s->next = NULL;
	s->text = text;
	s->len = len;
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

/* The saved entry of users[idx], NULL for a configured user or one whose
 * row was never queued. */
static struct hs_user *hs_user(const struct hss *hss, uint32_t idx)
{
	const struct hss_store *hs = hss->store;
	uint32_t k = idx - hss->cfg->ue_count;

	if (!hs || idx < hss->cfg->ue_count || k >= hs->nusers || !hs->users[k].row)
		return NULL;
	return &hs->users[k];
}

static void hs_user_entry_set(struct hss *hss, struct hs_user *x, char *entry)
{
	hss->added_bytes -= x->entry ? strlen(x->entry) + 1 : 0;
	free(x->entry);
	x->entry = entry;
	hss->added_bytes += entry ? strlen(entry) + 1 : 0;
}

/* Users first.. are the entries of users (an array), row `row`. */
static int hs_users_map(struct hss *hss, uint32_t first, int64_t row, const json_t *users)
{
	struct hss_store *hs = hss->store;
	size_t n = json_array_size(users);
	uint32_t k0 = first - hss->cfg->ue_count;

	if (first < hss->cfg->ue_count || (uint64_t)k0 + n > HSS_ADD_MAX)
		return EINVAL;
	if (k0 + n > hs->nusers) {
		uint32_t want = (uint32_t)(k0 + n), cap = hs->nusers ? hs->nusers : 64;
		struct hs_user *arr;

		while (cap < want)
			cap = cap * 2 > HSS_ADD_MAX ? HSS_ADD_MAX : cap * 2;
		arr = realloc(hs->users, (size_t)cap * sizeof(*arr));
		if (!arr)
			return ENOMEM;
		memset(arr + hs->nusers, 0, (size_t)(cap - hs->nusers) * sizeof(*arr));
		hs->users = arr;
		hs->nusers = cap;
	}
	for (size_t i = 0; i < n; i++) {
		struct hs_user *x = &hs->users[k0 + i];
		char *t = json_dumps(json_array_get(users, i), JSON_COMPACT);

		if (!t)
			return ENOMEM;
		hs_user_entry_set(hss, x, t);
		x->row = row;
		x->pos = (uint32_t)i;
	}
	return 0;
}

int hss_store_save(struct hss *hss, const char *users, size_t len, hss_store_done_h *h,
		   void *arg)
{
	struct hss_store *hs = hss ? hss->store : NULL;
	struct hs_save t = {.stmt = HS_ADDED, .h = h, .arg = arg};
	json_t *arr = NULL;
	uint32_t first, n;
	char *text;
	int err;

	if (!hs)
		return ENOENT;
	if (!users || len > HSS_STORE_ROW_MAX)
		return EINVAL;
	if (!hs->next_row) /* ids used up (hs_next_row) */
		return ENOSPC;
	arr = json_loadb(users, len, 0, NULL);
	if (!json_is_array(arr) || json_array_size(arr) > hss->user_count) {
		json_decref(arr);
		return EINVAL;
	}
	t.row = hs->next_row;
	/* the call's users are the last ones hss_users_add appended */
	n = (uint32_t)json_array_size(arr);
	first = hss->user_count - n;
	err = hs_users_map(hss, first, t.row, arr);
	json_decref(arr);
	if (err)
		return err;
	hs->next_row = hs->next_row < INT64_MAX ? hs->next_row + 1 : 0;
	text = malloc(len ? len : 1);
	if (text)
		memcpy(text, users, len);
	err = hs_queue(hss, &t, text, len);
	if (err && err != EINPROGRESS) /* no row: their changes are not kept */
		for (uint32_t i = 0; i < n; i++)
			hs->users[first - hss->cfg->ue_count + i].row = 0;
	return err;
}

/* The saved entry edited as the API changed the user (docs/hss.md). */
static int entry_edit(json_t *ent, const struct hss_change *c)
{
	json_t *impus = json_object_get(ent, "impu"), *old, *o, *set;
	int e;

	if (c->op == HSS_CHANGE_USER_SET)
		return json_object_set_new(ent, "force_sms_over_sg",
					   json_boolean(c->force_sms_over_sg))
			       ? ENOMEM
			       : 0;
	if (!impus && c->op == HSS_CHANGE_IMPU_ADD) {
		impus = json_array();
		if (json_object_set_new(ent, "impu", impus))
			return ENOMEM;
	}
	if (!json_is_array(impus))
		return EINVAL;
	if (c->op == HSS_CHANGE_IMPU_ADD)
		return c->impu && !json_array_append_new(impus, json_deep_copy(c->impu)) ? 0
											: ENOMEM;
	old = json_array_get(impus, c->idx);
	if (!old)
		return EINVAL;
	if (c->op == HSS_CHANGE_IMPU_DEL)
		return json_array_remove(impus, c->idx) ? EINVAL : 0;
	if (c->op != HSS_CHANGE_IMPU_SET || !json_is_object(c->impu))
		return EINVAL;
	/* impu_set: the IMPU's present options are the defaults, so the old
	 * object's members stay unless the message sets them */
	o = json_is_object(old) ? json_deep_copy(old) : json_pack("{sO}", "impu", old);
	set = json_deep_copy(c->impu);
	e = o && set && !json_object_update(o, set) ? 0 : ENOMEM;
	json_decref(set);
	if (!e && json_array_set_new(impus, c->idx, o))
		return ENOMEM;
	if (e)
		json_decref(o);
	return e;
}

int hss_store_user_change(struct hss *hss, const struct hss_user *u,
			  const struct hss_change *c, hss_store_done_h *h, void *arg)
{
	struct hs_user *x = hss && u && c ? hs_user(hss, hss_user_index(hss, u)) : NULL;
	struct hs_save t = {.stmt = HS_CHANGED, .h = h, .arg = arg};
	json_t *ent;
	char *text = NULL;
	int err;

	if (!x)
		return ENOENT;
	ent = json_loads(x->entry, 0, NULL);
	err = json_is_object(ent) ? entry_edit(ent, c) : EINVAL;
	if (!err && !(text = json_dumps(ent, JSON_COMPACT)))
		err = ENOMEM;
	json_decref(ent);
	if (!err && strlen(text) > HSS_STORE_ENTRY_MAX)
		err = EFBIG; /* would not be read back */
	if (err) {
		free(text);
		return err;
	}
	hs_user_entry_set(hss, x, text); /* memory's view, whatever the write does */
	t.row = x->row;
	t.pos = x->pos;
	text = strdup(x->entry);
	return hs_queue(hss, &t, text, text ? strlen(text) : 0);
}

int hss_store_echo_save(struct hss *hss, hss_store_done_h *h, void *arg)
{
	struct hs_save t = {.stmt = HS_ECHO, .h = h, .arg = arg};
	json_t *arr;
	char *text;

	if (!hss || !hss->store)
		return ENOENT;
	arr = json_array();
	for (uint32_t i = 0; arr && i < hss->echo_added_n; i++) {
		if (!hss->echo_added[i]->gone &&
		    json_array_append_new(arr, json_string(hss->echo_added[i]->text))) {
			json_decref(arr);
			arr = NULL;
		}
	}
	text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
	json_decref(arr);
	return hs_queue(hss, &t, text, text ? strlen(text) : 0);
}

/* The row's users with their saved changes in place; false (logged) when
 * a change is out of bounds or not an entry. */
static bool row_changes(struct hss *hss, int64_t id, json_t *users)
{
	sqlite3_stmt *q = hss->store->sel;
	bool ok = true;
	int rc = SQLITE_DONE;

	sqlite3_reset(q);
	sqlite3_bind_int64(q, 1, id);
	while (ok && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		/* an integer: SQLite reads text such as 'abc' as 0, the first user */
		bool pos_int = sqlite3_column_type(q, 0) == SQLITE_INTEGER;
		int64_t pos = sqlite3_column_int64(q, 0);
		const char *t = (const char *)sqlite3_column_text(q, 1);
		int n = sqlite3_column_bytes(q, 1);
		json_t *e = t && n > 0 && (size_t)n <= HSS_STORE_ENTRY_MAX
				? json_loadb(t, (size_t)n, 0, NULL)
				: NULL;

		ok = pos_int && pos >= 0 && (uint64_t)pos < json_array_size(users) &&
		     json_is_object(e) &&
		     !json_array_set(users, (size_t)pos, e);
		json_decref(e);
		if (!ok)
			log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
				  "store: changed entry %lld of row %lld unreadable",
				  (long long)pos, (long long)id);
	}
	if (ok && rc != SQLITE_DONE) { /* changes unread: not the row without them */
		log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
			  "store: changed entries of row %lld unreadable: %s", (long long)id,
			  sqlite3_errmsg(store_db(hss->store->st)));
		ok = false;
	}
	sqlite3_reset(q);
	return ok;
}

/* One row read back (with its users' changes) and added; false when it
 * does not pass today. */
static bool row_add(struct hss *hss, int64_t id, const char *text, size_t len)
{
	char err[512] = "";
	struct cfg_diag d = {err, sizeof(err), NULL, NULL};
	struct ims_cfg *set = NULL;
	uint32_t first = hss->user_count;
	json_error_t je;
	json_t *users = len <= HSS_STORE_ROW_MAX ? json_loadb(text, len, 0, &je) : NULL;
	/* what users_add takes at most: the reader allocates per item */
	int e = users && json_is_array(users) && json_array_size(users) <= HSS_ADD_MAX &&
			row_changes(hss, id, users)
		    ? ims_cfg_ue_from_json(hss->cfg, users, &set, &d)
		    : EBADMSG;

	if (!e)
		e = hss_users_add(hss, set, err, sizeof(err));
	if (e) {
		json_decref(users);
		ims_cfg_free(set);
		log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
			  "store: added users of row %lld not restored (kept in the file): %s",
			  (long long)id, err[0] ? err : strerror(e));
		return false;
	}
	/* set is the hss's now; without its entries later changes are not kept */
	if (hs_users_map(hss, first, id, users))
		log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
			  "store: users of row %lld restored, their changes will not be kept: "
			  "out of memory",
			  (long long)id);
	json_decref(users);
	return true;
}

/* The echo IMPUs added at run time, added again; an IMPU already in the
 * list (configured since) is left. */
static int hs_echo_load(struct hss *hss, struct store *st)
{
	sqlite3_stmt *q = NULL;
	json_t *arr = NULL;
	int rc;

	if (sqlite3_prepare_v2(store_db(st), "SELECT uris FROM hss_echo_added WHERE id = 1", -1,
			       &q, NULL) != SQLITE_OK)
		return EIO;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(q, 0);
		int n = sqlite3_column_bytes(q, 0);

		if (t && n > 0 && (size_t)n <= HSS_STORE_ROW_MAX)
			arr = json_loadb(t, (size_t)n, 0, NULL);
		if (!json_is_array(arr) || json_array_size(arr) > HSS_ADD_MAX)
			log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
				  "store: added echo IMPUs unreadable (kept in the file)");
	}
	for (size_t i = 0; json_is_array(arr) && i < json_array_size(arr) && i < HSS_ADD_MAX;
	     i++) {
		const char *uri = json_string_value(json_array_get(arr, i));
		char err[256] = "";

		if (uri && hss_is_echo(hss, pl_from_str(uri)))
			continue;
		if (!uri || hss_echo_add(hss, uri, err, sizeof(err)))
			log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
				  "store: added echo IMPU %zu not restored: %s", i,
				  err[0] ? err : "not a string");
	}
	json_decref(arr);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : EIO;
}

/* The id of the next hss_added row: past every row and every change (a
 * change left by a row that failed to commit must not apply to another).
 * Only integer rows count: SQLite orders a text or blob above every number
 * (a hand-edited file's X'' would read as 0 and the next id be taken), and
 * such a row matches no id anyway. Negative ids (a hand-edited file)
 * leave the next one at 1. */
static int hs_next_row(struct hss_store *hs)
{
	sqlite3_stmt *q = NULL;
	int e = EIO;

	if (sqlite3_prepare_v2(store_db(hs->st),
			       "SELECT MAX(0, COALESCE((SELECT MAX(id) FROM hss_added), 0), "
			       "COALESCE((SELECT MAX(row) FROM hss_changed "
			       "WHERE typeof(row) = 'integer'), 0))",
			       -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW) {
		int64_t m = sqlite3_column_int64(q, 0);

		/* a row at INT64_MAX leaves no id: users added are not kept
		 * (hss_store_save says so), the file is restored all the same */
		hs->next_row = m >= 0 && m < INT64_MAX ? m + 1 : 0;
		if (!hs->next_row)
			log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
				  "store: no hss_added row id left after %lld: users added from "
				  "now on are not kept",
				  (long long)m);
		e = 0;
	}
	sqlite3_finalize(q);
	return e;
}

static int hs_load(struct hss *hss, struct store *st, unsigned *rows, unsigned *bad)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (hs_next_row(hss->store) ||
	    sqlite3_prepare_v2(store_db(st), "SELECT id, users FROM hss_added ORDER BY id", -1,
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
	return rc == SQLITE_DONE ? hs_echo_load(hss, st) : EIO;
}

static const char *const hs_sql[HS_NSTMT] = {
    [HS_ADDED] = "INSERT INTO hss_added (id, users) VALUES (?1, ?2)",
    [HS_CHANGED] = "INSERT OR REPLACE INTO hss_changed (row, pos, entry) VALUES (?1, ?2, ?3)",
    [HS_ECHO] = "INSERT OR REPLACE INTO hss_echo_added (id, uris) VALUES (1, ?1)",
};

static int hs_prepare(struct hss_store *hs)
{
	struct store *st = hs->st;

	if (store_exec(st, "CREATE TABLE IF NOT EXISTS hss_added (id INTEGER PRIMARY KEY, "
			   "users TEXT NOT NULL)") ||
	    store_exec(st, "CREATE TABLE IF NOT EXISTS hss_changed (row INTEGER NOT NULL, "
			   "pos INTEGER NOT NULL, entry TEXT NOT NULL, PRIMARY KEY (row, pos))") ||
	    store_exec(st, "CREATE TABLE IF NOT EXISTS hss_echo_added (id INTEGER PRIMARY KEY, "
			   "uris TEXT NOT NULL)"))
		return EIO;
	for (unsigned i = 0; i < HS_NSTMT; i++) {
		if (sqlite3_prepare_v3(store_db(st), hs_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &hs->stmts[i], NULL) != SQLITE_OK)
			return EIO;
	}
	/* read on the loop thread at attach only, before any job */
	if (sqlite3_prepare_v2(store_db(st), "SELECT pos, entry FROM hss_changed WHERE row = ?1",
			       -1, &hs->sel, NULL) != SQLITE_OK)
		return EIO;
	return 0;
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
	if (hs_prepare(hs) || hs_load(hss, st, &rows, &bad)) {
		snprintf(err, errlen, "%s: added users: %s", store_path(st),
			 sqlite3_errmsg(store_db(st)));
		hss_store_detach(hss);
		return e;
	}
	sqlite3_finalize(hs->sel);
	hs->sel = NULL;
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
	for (unsigned i = 0; i < HS_NSTMT; i++)
		sqlite3_finalize(hs->stmts[i]);
	sqlite3_finalize(hs->sel);
	for (uint32_t i = 0; i < hs->nusers; i++)
		free(hs->users[i].entry);
	free(hs->users);
	mem_deref(hs->st);
	free(hs);
	hss->store = NULL;
}
