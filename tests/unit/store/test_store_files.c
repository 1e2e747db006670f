/* Unit tests: store — the state file's place on disk (issue 19, finding 8):
 * no symbolic link is followed, the file, its WAL and shared-memory file
 * are private (0600), and deleted rows are overwritten (secure_delete). */
#include <errno.h>
#include <fcntl.h>
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
	snprintf(dir, sizeof(dir), "/tmp/imsd-stf-XXXXXX");
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

static unsigned mode_of(const char *p)
{
	struct stat sb;

	assert_int_equal(lstat(p, &sb), 0);
	return sb.st_mode & 0777;
}

/* A dangling link at the state file's name: refused, nothing created where
 * it points. */
static void test_dangling_symlink_refused(void **state)
{
	char target[160], err[256];
	struct store *st = NULL;
	struct stat sb;

	(void)state;
	snprintf(target, sizeof(target), "%s/elsewhere", dir);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(store_open(&st, path, NULL, 0, err, sizeof(err)), EIO);
	assert_null(st);
	assert_non_null(strstr(err, "symbolic link"));
	assert_int_equal(stat(target, &sb), -1);
	assert_int_equal(errno, ENOENT);
}

/* A link to an existing file is refused as well (it is not followed). */
static void test_symlink_to_file_refused(void **state)
{
	char target[160], err[256];
	struct store *st = NULL;
	int fd;

	(void)state;
	snprintf(target, sizeof(target), "%s/real", dir);
	fd = open(target, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(store_open(&st, path, NULL, 0, err, sizeof(err)), EIO);
	assert_int_equal(mode_of(target), 0644);
}

/* A link where the WAL would be: refused before SQLite writes through it. */
static void test_wal_symlink_refused(void **state)
{
	char wal[160], target[160], err[256];
	struct store *st = NULL;
	struct stat sb;

	(void)state;
	snprintf(wal, sizeof(wal), "%s-wal", path);
	snprintf(target, sizeof(target), "%s/wal-target", dir);
	assert_int_equal(symlink(target, wal), 0);
	assert_int_equal(store_open(&st, path, NULL, 0, err, sizeof(err)), EIO);
	assert_non_null(strstr(err, "-wal"));
	assert_int_equal(stat(target, &sb), -1);
}

/* Created 0600 whatever the umask; an existing 0644 file and WAL become
 * 0600. */
static void test_modes_private(void **state)
{
	char wal[160], shm[160], err[256];
	struct store *st = NULL;
	mode_t old = umask(0);

	(void)state;
	assert_int_equal(store_open(&st, path, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(store_exec(st, "CREATE TABLE t(x); INSERT INTO t VALUES(1)"), 0);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	snprintf(shm, sizeof(shm), "%s-shm", path);
	assert_int_equal(mode_of(path), 0600);
	assert_int_equal(mode_of(wal), 0600);
	mem_deref(st);
	assert_int_equal(chmod(path, 0644), 0);
	if (access(wal, F_OK) == 0)
		assert_int_equal(chmod(wal, 0666), 0);
	st = NULL;
	assert_int_equal(store_open(&st, path, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(mode_of(path), 0600);
	if (access(wal, F_OK) == 0)
		assert_int_equal(mode_of(wal), 0600);
	if (access(shm, F_OK) == 0)
		assert_int_equal(mode_of(shm), 0600);
	mem_deref(st);
	umask(old);
}

/* Deleted rows are zeroed: a key written then deleted is no longer in the
 * file or its WAL. */
static void test_secure_delete(void **state)
{
	static const char key[] = "CKIK-0123456789abcdef-SECRET";
	char err[256], sql[256], cmd[256];
	struct store *st = NULL;
	sqlite3_stmt *s = NULL;

	(void)state;
	assert_int_equal(store_open(&st, path, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(sqlite3_prepare_v2(store_db(st), "PRAGMA secure_delete", -1, &s, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 1);
	sqlite3_finalize(s);
	snprintf(sql, sizeof(sql),
		 "CREATE TABLE k(v); CREATE TABLE pad(x); INSERT INTO pad VALUES(1);"
		 "INSERT INTO k VALUES('%s')",
		 key);
	assert_int_equal(store_exec(st, sql), 0);
	assert_int_equal(store_exec(st, "PRAGMA wal_checkpoint(TRUNCATE)"), 0);
	assert_int_equal(store_exec(st, "DELETE FROM k"), 0);
	assert_int_equal(store_exec(st, "PRAGMA wal_checkpoint(TRUNCATE)"), 0);
	mem_deref(st);
	snprintf(cmd, sizeof(cmd), "cat '%s'* | grep -a -q '%s'", path, key);
	assert_int_not_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_dangling_symlink_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_symlink_to_file_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wal_symlink_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_modes_private, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_secure_delete, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
