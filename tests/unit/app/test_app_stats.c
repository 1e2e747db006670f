/*
 * Unit tests for app/app_stats: the housekeeping rule, the timer it arms,
 * and the `stats` command through the monitor without a stack or registrar.
 * The over-the-wire tests are in tests/integ/test_stats.py.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/app_stats.h"
#include "core/mbuf.h"
#include "loop/loop.h"
#include "monitor/monitor.h"

static void test_trim_rule(void **state)
{
	const size_t mib = (size_t)1 << 20;
	struct app_stats_mem m = {0};

	(void)state;
	/* over the floor and over half the arena */
	m.heap_free = 100 * mib;
	m.heap_arena = 150 * mib;
	assert_true(app_stats_trim_due(&m, APP_STATS_TRIM_MIN_FREE));
	/* over the floor but a small part of a large arena: not worth it */
	m.heap_arena = 1000 * mib;
	assert_false(app_stats_trim_due(&m, APP_STATS_TRIM_MIN_FREE));
	/* exactly half is not more than half */
	m.heap_arena = 200 * mib;
	assert_false(app_stats_trim_due(&m, APP_STATS_TRIM_MIN_FREE));
	/* under the floor, however fragmented */
	m.heap_free = 60 * mib;
	m.heap_arena = 61 * mib;
	assert_false(app_stats_trim_due(&m, APP_STATS_TRIM_MIN_FREE));
	assert_true(app_stats_trim_due(&m, 1));
}

static void test_mem_get(void **state)
{
	struct app_stats_mem m;
	void *p;

	(void)state;
	app_stats_mem_get(&m);
	assert_true(m.rss > 0);
	assert_true(m.heap_arena > 0);
	/* a live 1 MiB block shows in the bytes in use */
	p = malloc((size_t)1 << 20);
	assert_non_null(p);
	memset(p, 1, (size_t)1 << 20);
	{
		struct app_stats_mem m2;

		app_stats_mem_get(&m2);
		assert_true(m2.heap_in_use >= m.heap_in_use + ((size_t)1 << 20) - 65536);
	}
	free(p);
}

static size_t field(const char *out, const char *name)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "\n%s: ", name);
	p = strstr(out, key);
	assert_non_null(p);
	return strtoull(p + strlen(key), NULL, 10);
}

static void test_command(void **state)
{
	struct app_stats_prm prm = {0};
	struct app_stats *s = NULL;
	struct mbuf mb;
	size_t timers;
	const char *out;

	(void)state;
	assert_int_equal(loop_init(), 0);
	assert_int_equal(monitor_init(), 0);
	mbuf_init(&mb, 65536);
	timers = loop_timer_count();
	assert_int_equal(app_stats_alloc(&s, &prm), 0);
	assert_int_equal(loop_timer_count(), timers + 1); /* housekeeping armed */

	assert_int_equal(monitor_exec("stats", &mb), 0);
	out = mbuf_str(&mb);
	assert_true(strncmp(out, "instance_id: ", 13) == 0);
	assert_true(field(out, "rss") > 0);
	assert_true(field(out, "heap_in_use") > 0);
	assert_int_equal(field(out, "sip.tsx_server"), 0);
	assert_int_equal(field(out, "heap_trims"), 0);
	assert_null(strstr(out, "registrar.")); /* no registrar given */

	mbuf_clear(&mb);
	assert_int_equal(monitor_exec("stats trim", &mb), 0);
	assert_non_null(strstr(mbuf_str(&mb), "rss_released: "));
	mbuf_clear(&mb);
	assert_int_equal(monitor_exec("stats everything", &mb), EINVAL);
	assert_string_equal(mbuf_str(&mb), "Error: usage: stats [trim]\n");

	app_stats_free(s);
	assert_int_equal(loop_timer_count(), timers);
	/* the command stays registered but has nothing to read */
	mbuf_clear(&mb);
	assert_int_equal(monitor_exec("stats", &mb), ENODEV);
	assert_non_null(strstr(mbuf_str(&mb), "Error: statistics are not running"));
	mbuf_reset(&mb);
	monitor_close();
	loop_close();
}

/* The allocator is consulted only once a burst of transactions is over. */
static void test_burst_rule(void **state)
{
	size_t peak = 0;

	(void)state;
	assert_false(app_stats_burst_over(&peak, 100, 100)); /* small: never */
	assert_false(app_stats_burst_over(&peak, 0, 0));
	assert_false(app_stats_burst_over(&peak, 40000, 40000)); /* load */
	assert_int_equal(peak, 40000);
	assert_false(app_stats_burst_over(&peak, 39000, 39000)); /* steady state */
	assert_false(app_stats_burst_over(&peak, 10001, 10001));
	assert_true(app_stats_burst_over(&peak, 10000, 10000)); /* a quarter: over */
	assert_int_equal(peak, 10000);
	assert_false(app_stats_burst_over(&peak, 9000, 9000)); /* peak reset: no repeat */
	assert_true(app_stats_burst_over(&peak, 9000, 0));     /* and the rest went */
	assert_false(app_stats_burst_over(&peak, 2600, 2600)); /* below the minimum */
	/* a burst that came and went between two looks: seen by its high */
	peak = 0;
	assert_true(app_stats_burst_over(&peak, 65000, 0));
	assert_int_equal(peak, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_trim_rule),
	    cmocka_unit_test(test_burst_rule),
	    cmocka_unit_test(test_mem_get),
	    cmocka_unit_test(test_command),
	};

	return cmocka_run_group_tests_name("app_stats", tests, NULL, NULL);
}
