/* Unit tests: store_job (a service's transaction run on a worker):
 * inline and posted runs, the done handler on the loop thread, a job the
 * service stopped waiting for, a failed transaction. */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/mem.h"
#include "loop/loop.h"
#include "store/store.h"
#include "store/store_job.h"

static char dir[64], path[128];
static struct store *st;
static sqlite3_stmt *stmts[1];
static int destroyed, done_calls, done_result;
static bool in_loop; /* destroy stops the loop */

struct test_job {
	struct store_job base;
	int *extra; /* freed by destroy: ASan finds a leak if it is not */
};

static void t_destroy(struct store_job *sj)
{
	free(((struct test_job *)sj)->extra);
	destroyed++;
	if (in_loop)
		loop_stop();
}

static void t_done(struct store_job *sj)
{
	done_calls++;
	done_result = sj->result;
}

static const struct store_job_ops ops = {.done = t_done, .destroy = t_destroy};

static int setup(void **state)
{
	char note[256], err[256];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/imsd-sjob-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/ims.state", dir);
	if (store_open(&st, path, note, sizeof(note), err, sizeof(err)))
		return -1;
	if (store_exec(st, "CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT NOT NULL)"))
		return -1;
	if (sqlite3_prepare_v2(store_db(st), "INSERT INTO t(k, v) VALUES(?, ?)", -1, &stmts[0],
			       NULL) != SQLITE_OK)
		return -1;
	destroyed = done_calls = done_result = 0;
	in_loop = false;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	sqlite3_finalize(stmts[0]);
	st = mem_deref(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static int rows(void)
{
	sqlite3_stmt *q;
	int n = -1;

	assert_int_equal(sqlite3_prepare_v2(store_db(st), "SELECT count(*) FROM t", -1, &q, NULL),
			 SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	return n;
}

/* A job with one row (k, v); v NULL breaks the NOT NULL constraint. */
static struct test_job *job_new(int64_t k, const char *v)
{
	struct test_job *j = calloc(1, sizeof(*j));

	assert_non_null(j);
	assert_int_equal(store_job_init(&j->base, &ops, &st, st, stmts, 1), 0);
	j->extra = malloc(16);
	store_batch_row(j->base.b, 0);
	store_batch_int(j->base.b, k);
	if (v)
		store_batch_str(j->base.b, v);
	else
		store_batch_null(j->base.b);
	assert_int_equal(store_batch_err(j->base.b), 0);
	return j;
}

static void test_run_inline(void **state)
{
	struct test_job *j = job_new(1, "one");

	(void)state;
	/* no worker pool: post refuses, the job stays the caller's */
	assert_int_not_equal(store_job_post(&j->base), 0);
	assert_int_equal(store_job_run(&j->base), 0);
	assert_int_equal(j->base.result, 0);
	assert_int_equal(rows(), 1);
	store_job_free(&j->base);
	assert_int_equal(destroyed, 1);
	assert_int_equal(done_calls, 0);
	store_job_free(NULL);
}

static void test_run_failed(void **state)
{
	struct test_job *j = job_new(1, NULL);

	(void)state;
	assert_int_equal(store_job_run(&j->base), EIO);
	assert_int_equal(j->base.result, EIO);
	assert_non_null(strstr(j->base.err, "NOT NULL"));
	assert_int_equal(rows(), 0); /* rolled back */
	store_job_free(&j->base);
	assert_int_equal(destroyed, 1);
}

static void test_posted(void **state)
{
	struct test_job *j;

	(void)state;
	assert_int_equal(loop_init(), 0);
	assert_int_equal(loop_work_start(1), 0);
	in_loop = true;
	j = job_new(7, "seven");
	assert_int_equal(store_job_post(&j->base), 0);
	/* done (on this thread) then the free, whose destroy stops the loop */
	assert_int_equal(loop_run(), 0);
	assert_int_equal(done_calls, 1);
	assert_int_equal(done_result, 0);
	assert_int_equal(destroyed, 1);
	assert_int_equal(rows(), 1);
	loop_close();
}

static void test_abandoned(void **state)
{
	struct test_job *j;

	(void)state;
	assert_int_equal(loop_init(), 0);
	assert_int_equal(loop_work_start(1), 0);
	in_loop = true;
	j = job_new(8, "eight");
	assert_int_equal(store_job_post(&j->base), 0);
	store_job_wait(&j->base);
	assert_true(j->base.finished);
	assert_int_equal(j->base.result, 0);
	store_job_abandon(&j->base);
	/* the loop's done handler only frees it */
	assert_int_equal(loop_run(), 0);
	assert_int_equal(done_calls, 0);
	assert_int_equal(destroyed, 1);
	assert_int_equal(rows(), 1);
	loop_close();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_run_inline, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_run_failed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_posted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_abandoned, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
