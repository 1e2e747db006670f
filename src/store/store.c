/*
 * store — the SQLite state file: open, check, set aside, transactions.
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "store/store.h"

struct store {
	sqlite3 *db;
	char *path;
	struct store_stats stats;
};

static void store_destroy(void *data)
{
	struct store *st = data;

	if (st->db)
		sqlite3_close_v2(st->db);
	free(st->path);
}

const char *store_path(const struct store *st)
{
	return st->path;
}

struct sqlite3 *store_db(struct store *st)
{
	return st->db;
}

int store_fail(struct store *st, const char *what)
{
	st->stats.errors++;
	log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL, "store: %s: %s: %s",
		  st->path, what, sqlite3_errmsg(st->db));
	return EIO;
}

int store_exec(struct store *st, const char *sql)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_fail(st, sql);
	return 0;
}

void store_stats_get(const struct store *st, struct store_stats *out)
{
	*out = st->stats;
}

void store_batch_done(struct store *st, const struct store_batch *b, int result,
		      const char *err)
{
	if (result) {
		st->stats.errors++;
		log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
			  "store: %s: writing %zu row(s): %s", st->path,
			  store_batch_rows(b), err && *err ? err : "failed");
		return;
	}
	st->stats.commits++;
	st->stats.rows += store_batch_rows(b);
}

/* One integer from a PRAGMA; -1 on failure (not a database, damaged). */
static int64_t pragma_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int64_t v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

int store_version(struct store *st)
{
	int64_t v = pragma_int(st->db, "PRAGMA user_version");

	return v < 0 || v > STORE_VERSION ? -1 : (int)v;
}

int store_version_set(struct store *st, int v)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", v);
	return store_exec(st, sql);
}

static bool quick_check_ok(sqlite3 *db)
{
	sqlite3_stmt *s = NULL;
	bool ok = false;

	if (sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(s, 0);

		ok = t && !strcmp((const char *)t, "ok");
	}
	sqlite3_finalize(s);
	return ok;
}

enum open_res { OPEN_OK = 0, OPEN_BAD, OPEN_FAIL };

/*
 * The file holds CK/IK: it and its -wal and -shm (which SQLite creates
 * with the database file's mode) are for imsd's user only. None may be a
 * symbolic link (one left dangling in a shared directory would have the
 * file created wherever it points, with the umask's mode): the database
 * file is created here O_NOFOLLOW with mode 0600, and an existing file, WAL
 * or shared-memory file is made 0600 through a descriptor opened
 * O_NOFOLLOW, so a link is refused (ELOOP) rather than followed.
 */
static int store_files_private(const char *path, char *err, size_t errlen)
{
	static const char *const sfx[] = {"", "-wal", "-shm"};
	char name[4096];
	struct stat sb;
	int fd, e;

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		if ((size_t)snprintf(name, sizeof(name), "%s%s", path, sfx[i]) >=
		    sizeof(name)) {
			snprintf(err, errlen, "%s: file name too long", path);
			return ENAMETOOLONG;
		}
		fd = open(name, O_RDWR | O_NOFOLLOW | O_CLOEXEC | (i ? 0 : O_CREAT), 0600);
		if (fd < 0 && i && errno == ENOENT)
			continue;
		if (fd < 0) {
			e = errno;
			snprintf(err, errlen, "%s: %s", name,
				 e == ELOOP ? "is a symbolic link (refused: the state file "
					      "holds keys)"
					    : strerror(e));
			return e;
		}
		e = 0;
		if (fstat(fd, &sb) || !S_ISREG(sb.st_mode))
			e = EINVAL;
		else if ((sb.st_mode & 0777) != 0600 && fchmod(fd, 0600))
			e = errno;
		close(fd);
		if (e) {
			snprintf(err, errlen, "%s: %s", name,
				 e == EINVAL ? "not a regular file"
					     : "cannot make it private (mode 0600)");
			return e;
		}
	}
	return 0;
}

/*
 * Opens the file and decides whether it is ours. OPEN_BAD: set it aside
 * (why says why); OPEN_FAIL: cannot open at all (busy, no permission).
 */
static enum open_res store_try(struct store *st, const char **why, char *err,
			       size_t errlen)
{
	int64_t app, ver;
	int rc;

	/* ":memory:" is SQLite's private in-memory database (tests), not a
	 * file here. */
	if (strcmp(st->path, ":memory:") && store_files_private(st->path, err, errlen))
		return OPEN_FAIL;
	/* NOFOLLOW: SQLite refuses a path that is a symbolic link itself. */
	rc = sqlite3_open_v2(st->path, &st->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				 SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
			     NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", st->path,
			 st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		return OPEN_FAIL;
	}
	/* One imsd per state file: the lock is taken by the first write
	 * below and kept until close. */
	/* secure_delete: deleted rows (CK/IK of ended registrations) are
	 * overwritten with zeros, in the file's free pages and in the WAL
	 * frames that carry the change, instead of lingering there. */
	if (sqlite3_exec(st->db, "PRAGMA locking_mode=EXCLUSIVE; PRAGMA secure_delete=ON",
			 NULL, NULL, NULL) != SQLITE_OK) {
		*why = "not an SQLite database";
		return OPEN_BAD;
	}
	app = pragma_int(st->db, "PRAGMA application_id");
	ver = pragma_int(st->db, "PRAGMA user_version");
	if (app < 0 || ver < 0) {
		if (sqlite3_errcode(st->db) == SQLITE_BUSY) {
			snprintf(err, errlen, "%s: in use by another process", st->path);
			return OPEN_FAIL;
		}
		*why = "not an SQLite database";
		return OPEN_BAD;
	}
	if (app == 0 && ver == 0 &&
	    pragma_int(st->db, "SELECT count(*) FROM sqlite_schema") > 0) {
		*why = "an SQLite database of another program";
		return OPEN_BAD;
	}
	if (app != 0 && app != STORE_APP_ID) {
		*why = "an SQLite database of another program";
		return OPEN_BAD;
	}
	if (ver > STORE_VERSION) {
		*why = "written by a newer imsd";
		return OPEN_BAD;
	}
	if (!quick_check_ok(st->db)) {
		if (sqlite3_errcode(st->db) == SQLITE_BUSY) {
			snprintf(err, errlen, "%s: in use by another process", st->path);
			return OPEN_FAIL;
		}
		*why = "damaged (integrity check failed)";
		return OPEN_BAD;
	}
	return OPEN_OK;
}

/* Renames the file (and its WAL) aside; the new name goes into note. */
static int store_set_aside(struct store *st, const char *why, char *note, size_t notelen,
			   char *err, size_t errlen)
{
	static const char *const sfx[] = {"", "-wal", "-shm"};
	char from[4096], to[4096];
	long now = (long)time(NULL);

	sqlite3_close_v2(st->db);
	st->db = NULL;
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		if ((size_t)snprintf(from, sizeof(from), "%s%s", st->path, sfx[i]) >=
			sizeof(from) ||
		    (size_t)snprintf(to, sizeof(to), "%s.bad-%ld%s", st->path, now,
				     sfx[i]) >= sizeof(to)) {
			snprintf(err, errlen, "%s: file name too long", st->path);
			return ENAMETOOLONG;
		}
		if (rename(from, to) && errno != ENOENT) {
			snprintf(err, errlen, "%s is %s and cannot be renamed: %s",
				 st->path, why, strerror(errno));
			return errno;
		}
	}
	if (note)
		snprintf(note, notelen,
			 "%s was %s: kept as %s.bad-%ld, starting a new one", st->path,
			 why, st->path, now);
	return 0;
}

/* WAL, the application id, and the version when the file is new (an older
 * one keeps its own until its services migrated it, see store.h). */
static int store_setup(struct store *st, char *err, size_t errlen)
{
	int64_t ver = pragma_int(st->db, "PRAGMA user_version");
	char sql[160];

	snprintf(sql, sizeof(sql),
		 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
		 "PRAGMA application_id=%d; PRAGMA user_version=%d;",
		 STORE_APP_ID, ver > 0 ? (int)ver : STORE_VERSION);
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", st->path, sqlite3_errmsg(st->db));
		return EIO;
	}
	return 0;
}

int store_open(struct store **sp, const char *path, char *note, size_t notelen, char *err,
	       size_t errlen)
{
	struct store *st;
	const char *why = NULL;
	enum open_res r;
	int e = 0;

	if (note && notelen)
		note[0] = '\0';
	if (!sp || !path || !*path)
		return EINVAL;
	st = mem_zalloc(sizeof(*st), store_destroy);
	if (!st)
		return ENOMEM;
	st->path = strdup(path);
	if (!st->path) {
		e = ENOMEM;
		goto out;
	}
	r = store_try(st, &why, err, errlen);
	if (r == OPEN_BAD) {
		e = store_set_aside(st, why, note, notelen, err, errlen);
		if (!e)
			r = store_try(st, &why, err, errlen);
		if (!e && r == OPEN_BAD) {
			snprintf(err, errlen, "%s: %s", st->path, why);
			e = EIO;
		}
	}
	if (!e && r == OPEN_FAIL)
		e = EIO;
	if (!e)
		e = store_setup(st, err, errlen);
out:
	if (e)
		mem_deref(st);
	else
		*sp = st;
	return e;
}
