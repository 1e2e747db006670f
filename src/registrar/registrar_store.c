/*
 * registrar_store — the registrar's part of the state file (manual §5.2
 * `ue_db_filename`, docs/registrar.md "State file").
 *
 * Three tables, one row per user, binding and subscription:
 *
 *   reg_user    (user, nth, sqn_he, algo, ck, ik)
 *   reg_binding (user, nth, bid, contact, callid, cseq, reg_id, expires,
 *                expires_at, q1000, imei, event, peer, sock_idx, tcp)
 *   reg_sub     (user, nth, callid, local_tag, remote_tag, remote_uri,
 *                local_uri, target, routes, event_id, cseq, version,
 *                expires, expires_at, remote_cseq, peer, sock_idx, tcp)
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
 * On start every row is checked like network input (reg_store_*_decode:
 * bounded lengths, SIP syntax of contacts and dialog fields, ranges) before
 * anything is built from it; a bad row is skipped and counted, never fatal.
 * Bindings that expired while imsd was down are restored due now, so they
 * expire through the usual path and their subscribers get the NOTIFY.
 */
#include <arpa/inet.h>
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

static const char *const schema =
    "CREATE TABLE IF NOT EXISTS reg_user (user TEXT NOT NULL, nth INTEGER NOT NULL,"
    " sqn_he INTEGER NOT NULL, algo INTEGER NOT NULL, ck BLOB, ik BLOB,"
    " PRIMARY KEY (user, nth)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS reg_binding (user TEXT NOT NULL, nth INTEGER NOT NULL,"
    " bid INTEGER NOT NULL, contact TEXT, callid TEXT, cseq INTEGER, reg_id INTEGER,"
    " expires INTEGER, expires_at INTEGER, q1000 INTEGER, imei TEXT, event INTEGER,"
    " peer TEXT, sock_idx INTEGER, tcp INTEGER, PRIMARY KEY (user, nth, bid))"
    " WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS reg_sub (user TEXT NOT NULL, nth INTEGER NOT NULL,"
    " callid TEXT NOT NULL, local_tag TEXT, remote_tag TEXT, remote_uri TEXT,"
    " local_uri TEXT, target TEXT, routes TEXT, event_id TEXT, cseq INTEGER,"
    " version INTEGER, expires INTEGER, expires_at INTEGER, remote_cseq INTEGER,"
    " peer TEXT, sock_idx INTEGER, tcp INTEGER, PRIMARY KEY (user, nth, callid))"
    " WITHOUT ROWID;";

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

struct reg_store {
	struct store *st;	  /* referenced */
	sqlite3_stmt *stmt[ST_N]; /* owned */
	uint8_t *mark;		  /* enum reg_store_what per hss user, 0 = none */
	uint32_t *dirty;	  /* indexes of the marked users */
	uint32_t ndirty, nusers;
	struct loop_timer *timer; /* the next grouped write */
	uint64_t next_at;	  /* monotonic ms: no write before (grouping, retry) */
	uint64_t written, failed;
};

/* ---- marking ---- */

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
	if (!rs->mark[i])
		rs->dirty[rs->ndirty++] = i;
	if (rs->mark[i] < what)
		rs->mark[i] = (uint8_t)what;
}

/* ---- user names ---- */

/* The name and nth of u; buf holds the name. ENOENT: u has no identity. */
static int user_key(const struct registrar *reg, const struct hss_user *u, char *buf,
		    size_t size, uint32_t *nth)
{
	struct hss_user *c[REG_STORE_NTH_MAX];
	struct hss_impu_match m[REG_STORE_NTH_MAX];
	char uri[HSS_URI_MAX];
	size_t n;

	*nth = 0;
	if (hss_user_impi(u)) {
		snprintf(buf, size, "impi:%s", hss_user_impi(u));
		n = hss_users_by_impi(reg->hss, pl_from_str(hss_user_impi(u)), c,
				      REG_STORE_NTH_MAX);
	} else if (hss_user_imsi(u)) {
		snprintf(buf, size, "imsi:%s", hss_user_imsi(u));
		n = hss_users_by_imsi(reg->hss, pl_from_str(hss_user_imsi(u)), c,
				      REG_STORE_NTH_MAX);
	} else if (hss_user_impu_count(u) &&
		   !hss_impu_uri(reg->hss, u, 0, uri, sizeof(uri))) {
		snprintf(buf, size, "impu:%s", uri);
		n = hss_users_by_impu(reg->hss, pl_from_str(uri), m, REG_STORE_NTH_MAX);
		for (size_t i = 0; i < n && i < REG_STORE_NTH_MAX; i++)
			c[i] = m[i].user;
	} else {
		return ENOENT;
	}
	for (size_t i = 0; i < n && i < REG_STORE_NTH_MAX; i++) {
		if (c[i] == u) {
			*nth = (uint32_t)i;
			return 0;
		}
	}
	return ENOENT;
}

/* The user a stored name designates, or NULL. */
static struct hss_user *user_by_key(const struct registrar *reg,
				    const struct reg_store_key *k)
{
	struct hss_user *c[REG_STORE_NTH_MAX];
	struct hss_impu_match m[REG_STORE_NTH_MAX];
	size_t n = 0;

	if (k->kind == 'i')
		n = hss_users_by_impi(reg->hss, k->id, c, REG_STORE_NTH_MAX);
	else if (k->kind == 'm')
		n = hss_users_by_imsi(reg->hss, k->id, c, REG_STORE_NTH_MAX);
	else {
		n = hss_users_by_impu(reg->hss, k->id, m, REG_STORE_NTH_MAX);
		for (size_t i = 0; i < n && i < REG_STORE_NTH_MAX; i++)
			c[i] = m[i].user;
	}
	if (k->nth >= n || k->nth >= REG_STORE_NTH_MAX)
		return NULL;
	return c[k->nth];
}

/* ---- writing ---- */

static int64_t wall_now(void)
{
	return (int64_t)time(NULL);
}

static void peer_text(const struct reg_flow *f, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN] = "";

	if (f->peer.in.sin_family == AF_INET6) {
		inet_ntop(AF_INET6, &f->peer.in6.sin6_addr, ip, sizeof(ip));
		snprintf(buf, size, "[%s]:%u", ip, ntohs(f->peer.in6.sin6_port));
	} else if (f->peer.in.sin_family == AF_INET) {
		inet_ntop(AF_INET, &f->peer.in.sin_addr, ip, sizeof(ip));
		snprintf(buf, size, "%s:%u", ip, ntohs(f->peer.in.sin_port));
	} else {
		buf[0] = '\0';
	}
}

static int step(struct reg_store *rs, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE)
		return store_fail(rs->st, what);
	store_count_rows(rs->st, 1);
	return 0;
}

static void bind_key(sqlite3_stmt *s, const char *key, uint32_t nth)
{
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, nth);
}

static void bind_flow(sqlite3_stmt *s, int col, const struct reg_flow *f)
{
	char peer[64];

	peer_text(f, peer, sizeof(peer));
	sqlite3_bind_text(s, col, peer, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, col + 1, f->sock_idx);
	sqlite3_bind_int(s, col + 2, f->reliable);
}

static int64_t expires_at(const struct registrar *reg, uint64_t due)
{
	uint64_t now = reg_now(reg);

	return wall_now() + (due > now ? (int64_t)((due - now + 999) / 1000) : 0);
}

static int bindings_write(struct registrar *reg, const struct reg_user *ru,
			  const char *key, uint32_t nth)
{
	struct reg_store *rs = reg->rs;
	sqlite3_stmt *s = rs->stmt[ST_INS_BIND];
	int err = 0;

	for (const struct reg_binding *b = ru->bindings; b && !err; b = b->next) {
		if (b->terminated)
			continue;
		bind_key(s, key, nth);
		sqlite3_bind_int64(s, 3, b->id);
		sqlite3_bind_text(s, 4, b->data, b->contact_len, SQLITE_STATIC);
		sqlite3_bind_text(s, 5, b->data + b->contact_len + 1, b->callid_len,
				  SQLITE_STATIC);
		sqlite3_bind_int64(s, 6, b->cseq);
		sqlite3_bind_int64(s, 7, b->reg_id);
		sqlite3_bind_int64(s, 8, b->expires);
		sqlite3_bind_int64(s, 9, expires_at(reg, b->tmr.due));
		sqlite3_bind_int(s, 10, b->q1000);
		sqlite3_bind_text(s, 11, b->imei, -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 12, b->event);
		bind_flow(s, 13, &b->flow);
		err = step(rs, s, "writing a binding");
	}
	return err;
}

static int subs_write(struct registrar *reg, const struct reg_user *ru, const char *key,
		      uint32_t nth)
{
	struct reg_store *rs = reg->rs;
	sqlite3_stmt *s = rs->stmt[ST_INS_SUB];
	const char **str[REG_SUB_NSTR];
	int err = 0;

	for (struct reg_sub *sb = ru->subs; sb && !err; sb = sb->next) {
		if (sb->terminated)
			continue;
		reg_sub_fields(sb, str);
		bind_key(s, key, nth);
		for (int i = 0; i < REG_SUB_NSTR; i++)
			sqlite3_bind_text(s, 3 + i, *str[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 11, sb->cseq);
		sqlite3_bind_int64(s, 12, sb->version);
		sqlite3_bind_int64(s, 13, sb->expires);
		sqlite3_bind_int64(s, 14, expires_at(reg, sb->tmr.due));
		sqlite3_bind_int64(s, 15, sb->remote_cseq);
		bind_flow(s, 16, &sb->flow);
		err = step(rs, s, "writing a subscription");
	}
	return err;
}

/* Replaces the rows of user u by its current state: all of them, or the
 * reg_user row alone when only SQN_HE moved. */
static int user_write(struct registrar *reg, struct hss_user *u, enum reg_store_what what)
{
	struct reg_store *rs = reg->rs;
	const struct reg_user *ru = reg_user_find(reg, u);
	char key[HSS_URI_MAX + 8];
	uint32_t nth;
	int err;

	if (user_key(reg, u, key, sizeof(key), &nth))
		return 0; /* no stable name: nothing can be restored anyway */
	for (int i = ST_DEL_USER; what == REG_STORE_ALL && i <= ST_DEL_SUB; i += 2) {
		bind_key(rs->stmt[i], key, nth);
		err = step(rs, rs->stmt[i], "deleting a user's rows");
		if (err)
			return err;
	}
	if (!ru && hss_user_sqn_he(u) == hss_user_cfg(u)->isim.sqn)
		return 0;
	bind_key(rs->stmt[ST_INS_USER], key, nth);
	sqlite3_bind_int64(rs->stmt[ST_INS_USER], 3, (sqlite3_int64)hss_user_sqn_he(u));
	sqlite3_bind_int(rs->stmt[ST_INS_USER], 4, ru ? ru->algo : -1);
	if (ru && ru->algo >= 0) {
		sqlite3_bind_blob(rs->stmt[ST_INS_USER], 5, ru->ck, ru->ck_len,
				  SQLITE_STATIC);
		sqlite3_bind_blob(rs->stmt[ST_INS_USER], 6, ru->ik, ru->ik_len,
				  SQLITE_STATIC);
	}
	err = step(rs, rs->stmt[ST_INS_USER], "writing a user");
	if (!err && ru && what == REG_STORE_ALL)
		err = bindings_write(reg, ru, key, nth);
	if (!err && ru && what == REG_STORE_ALL)
		err = subs_write(reg, ru, key, nth);
	return err;
}

int registrar_store_flush(struct registrar *reg)
{
	struct reg_store *rs = reg ? reg->rs : NULL;
	int err;

	if (!rs || !rs->ndirty)
		return 0;
	err = store_begin(rs->st);
	for (uint32_t i = 0; i < rs->ndirty && !err; i++) {
		uint32_t u = rs->dirty[i];

		err = user_write(reg, hss_user_at(reg->hss, u),
				 (enum reg_store_what)rs->mark[u]);
	}
	if (!err)
		err = store_commit(rs->st);
	if (err) {
		/* keep the marks: the next attempt writes them all again */
		store_rollback(rs->st);
		rs->failed++;
		rs->next_at = reg_now(reg) + 1000;
		return err;
	}
	for (uint32_t i = 0; i < rs->ndirty; i++)
		rs->mark[rs->dirty[i]] = 0;
	rs->written += rs->ndirty;
	rs->ndirty = 0;
	rs->next_at = reg_now(reg) + REG_STORE_GROUP_MS;
	return 0;
}

static void reg_store_timer_h(void *arg)
{
	registrar_store_flush(arg);
}

/*
 * Before the loop sleeps: write now if the last write is old enough (so a
 * lone REGISTER is on disk before imsd waits for the next), else group with
 * what comes in the next few ms (a timer writes them then).
 */
static void reg_store_sleep_h(void *arg)
{
	struct registrar *reg = arg;
	struct reg_store *rs = reg->rs;
	uint64_t now = reg_now(reg);

	if (!rs->ndirty)
		return;
	if (now >= rs->next_at) {
		loop_timer_cancel(rs->timer);
		registrar_store_flush(reg);
	}
	if (rs->ndirty && !loop_timer_pending(rs->timer))
		loop_timer_start(rs->timer, rs->next_at > now ? rs->next_at - now : 1,
				 reg_store_timer_h, reg);
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
	registrar_store_flush(reg);
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
	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return ENOMEM;
	reg->rs = rs;
	rs->st = mem_ref(st);
	rs->nusers = hss_user_count(reg->hss);
	rs->mark = calloc((size_t)rs->nusers + 1, 1);
	rs->dirty = calloc((size_t)rs->nusers + 1, sizeof(*rs->dirty));
	rs->timer = loop_timer_alloc();
	if (!rs->mark || !rs->dirty || !rs->timer) {
		e = ENOMEM;
		goto out;
	}
	e = store_exec(st, schema) ? EIO : 0;
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
	out->pending = rs->ndirty;
	return true;
}

/* For reg_store_load (registrar_store_load.c). */
struct hss_user *reg_store_user_find(const struct registrar *reg,
				     const struct reg_store_key *k)
{
	return user_by_key(reg, k);
}

struct store *reg_store_st(const struct registrar *reg)
{
	return reg->rs->st;
}

int64_t reg_store_wall_now(void)
{
	return wall_now();
}
