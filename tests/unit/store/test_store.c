/* Unit tests: store (the SQLite state file): creation, files that are not
 * ours set aside untouched, one server per file, transactions. */
#include <errno.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/mem.h"
#include "store/store.h"

static char dir[64], path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/imsd-store-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/ims.state", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static void write_file(const char *p, const void *data, size_t len)
{
	FILE *f = fopen(p, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

/* The one "<path>.bad-*" file, read back; NULL if there is none. */
static char *aside_read(size_t *len)
{
	char cmd[256], name[256] = "";
	FILE *p;
	char *buf;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ls %s/ims.state.bad-* 2>/dev/null | grep -v -- -wal",
		 dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (!fgets(name, sizeof(name), p))
		name[0] = '\0';
	pclose(p);
	name[strcspn(name, "\n")] = '\0';
	if (!name[0])
		return NULL;
	f = fopen(name, "rb");
	assert_non_null(f);
	buf = calloc(1, 65536);
	*len = fread(buf, 1, 65536, f);
	fclose(f);
	return buf;
}

static struct store *open_ok(char *note, size_t notelen)
{
	struct store *st = NULL;
	char err[256];

	if (store_open(&st, path, note, notelen, err, sizeof(err)))
		fail_msg("store_open: %s", err);
	return st;
}

static void test_create_and_reopen(void **state)
{
	char note[256];
	struct store *st;
	struct store_stats ss;

	(void)state;
	st = open_ok(note, sizeof(note));
	assert_string_equal(note, "");
	assert_string_equal(store_path(st), path);
	{
		struct stat sb;

		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0600); /* it holds CK/IK */
	}
	assert_int_equal(store_exec(st, "CREATE TABLE t (a INTEGER);"
					"BEGIN; INSERT INTO t VALUES (1); COMMIT;"
					"BEGIN; INSERT INTO t VALUES (2); ROLLBACK;"),
			 0);
	assert_int_equal(store_exec(st, "no such statement"), EIO);
	store_stats_get(st, &ss);
	assert_int_equal(ss.errors, 1);
	mem_deref(st);

	st = open_ok(note, sizeof(note));
	assert_string_equal(note, "");
	{
		sqlite3_stmt *s;

		assert_int_equal(sqlite3_prepare_v2(store_db(st), "SELECT sum(a) FROM t",
						    -1, &s, NULL),
				 SQLITE_OK);
		assert_int_equal(sqlite3_step(s), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(s, 0), 1);
		sqlite3_finalize(s);
	}
	mem_deref(st);
	assert_null(aside_read(&(size_t){0}));
}

static void set_aside_case(const void *data, size_t len, const char *why)
{
	char note[512];
	struct store *st;
	size_t got = 0;
	char *back;

	write_file(path, data, len);
	st = open_ok(note, sizeof(note));
	if (!strstr(note, why))
		fail_msg("note \"%s\" does not say \"%s\"", note, why);
	assert_non_null(strstr(note, "kept as"));
	back = aside_read(&got);
	assert_non_null(back);
	assert_int_equal(got, len);
	assert_memory_equal(back, data, len);
	free(back);
	/* the new file is ours and works */
	assert_int_equal(store_exec(st, "CREATE TABLE t (a)"), 0);
	mem_deref(st);
}

static void test_garbage_set_aside(void **state)
{
	static const char junk[] = "this is not a database, it is a text file\n";

	(void)state;
	set_aside_case(junk, sizeof(junk) - 1, "not an SQLite database");
}

/* An SQLite file with the given application_id / user_version / table. */
static char *foreign_db(const char *sql, size_t *len)
{
	char tmp[160];
	sqlite3 *db;
	char *buf;
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/other.db", dir);
	assert_int_equal(sqlite3_open(tmp, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	f = fopen(tmp, "rb");
	assert_non_null(f);
	buf = calloc(1, 65536);
	*len = fread(buf, 1, 65536, f);
	fclose(f);
	unlink(tmp);
	return buf;
}

static void test_foreign_db_set_aside(void **state)
{
	size_t len;
	char *db = foreign_db(
	    "CREATE TABLE accounts (x); INSERT INTO accounts VALUES (1)", &len);

	(void)state;
	set_aside_case(db, len, "another program");
	free(db);
}

static void test_newer_version_set_aside(void **state)
{
	char sql[128];
	size_t len;
	char *db;

	(void)state;
	snprintf(sql, sizeof(sql), "PRAGMA application_id=%d; PRAGMA user_version=%d;",
		 STORE_APP_ID, STORE_VERSION + 1);
	db = foreign_db(sql, &len);
	set_aside_case(db, len, "newer imsd");
	free(db);
}

/* A new file gets the current version at once; an older one is opened as
 * it is and keeps its version until its services migrated it (a rolled
 * back stamp leaves it too), then reopens at the stamped one. */
static void test_versions(void **state)
{
	char note[256];
	struct store *st;
	FILE *f;
	char sql[128];
	size_t len;
	char *db;

	(void)state;
	st = open_ok(note, sizeof(note));
	assert_int_equal(store_version(st), STORE_VERSION);
	mem_deref(st);
	unlink(path);
	snprintf(sql, sizeof(sql),
		 "PRAGMA application_id=%d; PRAGMA user_version=1; CREATE TABLE t (a);",
		 STORE_APP_ID);
	db = foreign_db(sql, &len);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(db, 1, len, f), len);
	fclose(f);
	free(db);
	st = open_ok(note, sizeof(note));
	assert_string_equal(note, ""); /* an older version is ours, not set aside */
	assert_int_equal(store_version(st), 1);
	assert_int_equal(store_exec(st, "BEGIN"), 0);
	assert_int_equal(store_version_set(st, STORE_VERSION), 0);
	assert_int_equal(store_exec(st, "ROLLBACK"), 0);
	assert_int_equal(store_version(st), 1);
	mem_deref(st);
	st = open_ok(note, sizeof(note));
	assert_int_equal(store_version(st), 1);
	assert_int_equal(store_exec(st, "BEGIN"), 0);
	assert_int_equal(store_version_set(st, STORE_VERSION), 0);
	assert_int_equal(store_exec(st, "COMMIT"), 0);
	mem_deref(st);
	st = open_ok(note, sizeof(note));
	assert_int_equal(store_version(st), STORE_VERSION);
	mem_deref(st);
}

static void test_damaged_set_aside(void **state)
{
	char note[256];
	struct store *st = open_ok(note, sizeof(note));
	unsigned char *buf;
	size_t len;
	FILE *f;

	(void)state;
	assert_int_equal(
	    store_exec(st, "CREATE TABLE t (a TEXT); CREATE INDEX ti ON t(a);"
			   "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 "
			   "FROM n WHERE i < 2000) INSERT INTO t SELECT "
			   "hex(randomblob(20)) FROM n;"
			   "PRAGMA wal_checkpoint(TRUNCATE);"),
	    0);
	mem_deref(st);
	f = fopen(path, "rb");
	assert_non_null(f);
	buf = calloc(1, 1 << 20);
	len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	assert_true(len > 8 * 4096);
	/* scribble over pages 3..5 (the tables' b-trees), keep the header */
	memset(buf + 2 * 4096, 0xa5, 3 * 4096);
	write_file(path, buf, len);
	unlink(strcat(strcpy((char[160]){0}, path), "-wal"));
	st = open_ok(note, sizeof(note));
	if (!strstr(note, "damaged (integrity check failed): kept as"))
		fail_msg("note: %s", note);
	mem_deref(st);
	free(buf);
}

static void test_one_server_per_file(void **state)
{
	char note[256], err[256];
	struct store *st = open_ok(note, sizeof(note)), *st2 = NULL;

	(void)state;
	assert_int_equal(store_exec(st, "CREATE TABLE t (a)"), 0);
	assert_int_equal(store_open(&st2, path, note, sizeof(note), err, sizeof(err)),
			 EIO);
	assert_null(st2);
	assert_non_null(strstr(err, "in use by another process"));
	assert_null(aside_read(&(size_t){0})); /* not taken for a bad file */
	mem_deref(st);
}

static void test_unwritable_place(void **state)
{
	char err[256], bad[192];
	struct store *st = NULL;

	(void)state;
	snprintf(bad, sizeof(bad), "%s/no/such/dir/ims.state", dir);
	assert_int_equal(store_open(&st, bad, NULL, 0, err, sizeof(err)), EIO);
	assert_non_null(strstr(err, bad));
	assert_int_equal(store_open(&st, "", NULL, 0, err, sizeof(err)), EINVAL);
}

/* ":memory:" is SQLite's in-memory database: usable, and no file of that
 * name appears in the working directory. */
static void test_memory_db(void **state)
{
	char err[256], cwd[512];
	struct store *st = NULL;

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(store_open(&st, ":memory:", NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(store_exec(st, "CREATE TABLE t (a)"), 0);
	mem_deref(st);
	assert_int_equal(access(":memory:", F_OK), -1);
	assert_int_equal(chdir(cwd), 0);
}

/* A batch: values copied in, run in one transaction; a failing row rolls
 * the whole batch back and says why. */
static void test_batch(void **state)
{
	static const uint8_t key[4] = {1, 0, 2, 3};
	char note[256], err[256], text[8] = "abc";
	struct store *st = open_ok(note, sizeof(note));
	struct store_batch *b = NULL;
	struct store_stats ss;
	sqlite3_stmt *stmts[2] = {NULL, NULL}, *q;

	(void)state;
	assert_int_equal(store_exec(st, "CREATE TABLE t (k INTEGER PRIMARY KEY, s, b, n);"
					"CREATE TABLE u (x INTEGER NOT NULL)"),
			 0);
	assert_int_equal(sqlite3_prepare_v2(store_db(st),
					    "INSERT INTO t VALUES (?,?,?,?)", -1,
					    &stmts[0], NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(store_db(st), "INSERT INTO u VALUES (?)", -1,
					    &stmts[1], NULL),
			 SQLITE_OK);
	/* a value before any row: the error sticks, the batch is refused */
	assert_int_equal(store_batch_alloc(&b), 0);
	assert_int_equal(store_batch_int(b, 1), EINVAL);
	assert_int_equal(store_batch_row(b, 0), EINVAL);
	assert_int_equal(store_batch_err(b), EINVAL);
	assert_int_equal(store_batch_exec(st, stmts, 2, b, err, sizeof(err)), EINVAL);
	assert_non_null(strstr(err, "batch not built"));
	store_batch_free(b);
	assert_int_equal(store_batch_alloc(&b), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(store_batch_row(b, 0), 0);
		assert_int_equal(store_batch_int(b, i), 0);
		assert_int_equal(store_batch_text(b, text, 3), 0);
		assert_int_equal(store_batch_blob(b, key, sizeof(key)), 0);
		assert_int_equal(store_batch_null(b), 0);
	}
	text[0] = 'X'; /* copied in: the batch keeps "abc" */
	assert_int_equal(store_batch_rows(b), 3);
	assert_int_equal(store_batch_exec(st, stmts, 2, b, err, sizeof(err)), 0);
	store_batch_done(st, b, 0, err);
	store_batch_free(b);
	assert_int_equal(sqlite3_prepare_v2(store_db(st),
					    "SELECT count(*), min(s), max(length(b)), "
					    "count(n) FROM t",
					    -1, &q, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 3);
	assert_string_equal((const char *)sqlite3_column_text(q, 1), "abc");
	assert_int_equal(sqlite3_column_int(q, 2), 4);
	assert_int_equal(sqlite3_column_int(q, 3), 0);
	sqlite3_finalize(q);

	/* a good row, then one that breaks a constraint: neither stays */
	assert_int_equal(store_batch_alloc(&b), 0);
	assert_int_equal(store_batch_row(b, 0), 0);
	assert_int_equal(store_batch_int(b, 9), 0);
	assert_int_equal(store_batch_row(b, 1), 0);
	assert_int_equal(store_batch_null(b), 0);
	assert_int_equal(store_batch_exec(st, stmts, 2, b, err, sizeof(err)), EIO);
	assert_non_null(strstr(err, "NOT NULL"));
	store_batch_done(st, b, EIO, err);
	/* a row naming a statement that is not there is refused, not run */
	store_batch_free(b);
	assert_int_equal(store_batch_alloc(&b), 0);
	assert_int_equal(store_batch_row(b, 5), 0);
	assert_int_equal(store_batch_exec(st, stmts, 2, b, err, sizeof(err)), EBADMSG);
	store_batch_free(b);
	assert_int_equal(sqlite3_prepare_v2(store_db(st),
					    "SELECT count(*) FROM t WHERE k=9", -1, &q,
					    NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 0);
	sqlite3_finalize(q);
	store_stats_get(st, &ss);
	assert_int_equal(ss.commits, 1);
	assert_int_equal(ss.rows, 3);
	assert_int_equal(ss.errors, 1);
	sqlite3_finalize(stmts[0]);
	sqlite3_finalize(stmts[1]);
	mem_deref(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_create_and_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_garbage_set_aside, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_foreign_db_set_aside, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_newer_version_set_aside, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_versions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_damaged_set_aside, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_one_server_per_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unwritable_place, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_memory_db, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
