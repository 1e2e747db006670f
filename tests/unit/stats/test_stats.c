/*
 * Unit tests for stats: the housekeeping rule, the timer it arms, and the
 * figures of a sample and of a trim without a stack or registrar. Their
 * text (`stats`) is tested in tests/unit/monitor and over the wire in
 * tests/integ/test_stats.py.
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

#include "loop/loop.h"
#include "stats/stats.h"

static void test_trim_rule(void **state)
{
	const size_t mib = (size_t)1 << 20;
	struct stats_mem m = {0};

	(void)state;
	/* over the floor and over half the arena */
	m.heap_free = 100 * mib;
	m.heap_arena = 150 * mib;
	assert_true(stats_trim_due(&m, STATS_TRIM_MIN_FREE));
	/* over the floor but a small part of a large arena: not worth it */
	m.heap_arena = 1000 * mib;
	assert_false(stats_trim_due(&m, STATS_TRIM_MIN_FREE));
	/* exactly half is not more than half */
	m.heap_arena = 200 * mib;
	assert_false(stats_trim_due(&m, STATS_TRIM_MIN_FREE));
	/* under the floor, however fragmented */
	m.heap_free = 60 * mib;
	m.heap_arena = 61 * mib;
	assert_false(stats_trim_due(&m, STATS_TRIM_MIN_FREE));
	assert_true(stats_trim_due(&m, 1));
}

static void test_mem_get(void **state)
{
	struct stats_mem m;
	void *p;

	(void)state;
	stats_mem_get(&m);
	assert_true(m.rss > 0);
	assert_true(m.heap_arena > 0);
	/* a live 1 MiB block shows in the bytes in use */
	p = malloc((size_t)1 << 20);
	assert_non_null(p);
	memset(p, 1, (size_t)1 << 20);
	{
		struct stats_mem m2;

		stats_mem_get(&m2);
		assert_true(m2.heap_in_use >= m.heap_in_use + ((size_t)1 << 20) - 65536);
	}
	free(p);
}

static void test_sample(void **state)
{
	struct stats_prm prm = {0};
	struct stats *s = NULL;
	struct stats_sample a, b;
	struct stats_trim t;
	size_t timers;

	(void)state;
	assert_int_equal(loop_init(), 0);
	timers = loop_timer_count();
	assert_int_equal(stats_alloc(&s, &prm), 0);
	assert_int_equal(loop_timer_count(), timers + 1); /* housekeeping armed */

	/* the first interval starts with the process */
	stats_sample(s, &a);
	assert_true(a.instance_id > 0 && a.instance_id < (UINT64_C(1) << 48));
	assert_int_equal(a.interval_ms, a.uptime_ms);
	assert_true(a.mem.rss > 0);
	assert_true(a.mem.heap_in_use > 0);
	assert_non_null(a.allocator);
	assert_int_equal(a.tsx_server + a.tsx_client, 0); /* no stack: zeros */
	assert_false(a.has_reg);
	assert_false(a.has_store);
	assert_int_equal(a.heap_trims, 0);
	/* the next interval starts at the previous sample; same instance */
	stats_sample(s, &b);
	assert_int_equal(b.instance_id, a.instance_id);
	assert_true(b.uptime_ms >= a.uptime_ms);
	assert_int_equal(b.interval_ms, b.uptime_ms - a.uptime_ms);

	stats_trim_run(s, &t);
	assert_true(t.before.rss > 0 && t.after.rss > 0);

	stats_free(s);
	assert_int_equal(loop_timer_count(), timers);
	loop_close();
}

/* A sample does not walk the allocator (mallinfo2() stalls the loop with a
 * large heap): it reports the figures of the last look, with their age;
 * stats_heap_refresh (the housekeeping timer) takes a new look. */
static void test_sample_heap_cached(void **state)
{
	const size_t big = (size_t)4 << 20;
	struct stats_prm prm = {0};
	struct stats *s = NULL;
	struct stats_sample a, b, c;
	void *p;

	(void)state;
	assert_int_equal(loop_init(), 0);
	assert_int_equal(stats_alloc(&s, &prm), 0);
	stats_sample(s, &a);
	assert_true(a.mem.heap_in_use > 0 && a.mem.heap_arena > 0); /* looked at start */
	assert_true(a.mem.rss > 0);
	p = malloc(big);
	assert_non_null(p);
	memset(p, 1, big);
	stats_sample(s, &b);
	assert_int_equal(b.mem.heap_in_use, a.mem.heap_in_use); /* not read again */
	assert_int_equal(b.mem.heap_arena, a.mem.heap_arena);
	assert_true(b.heap_age_ms >= a.heap_age_ms);
	assert_true(b.mem.rss > 0); /* read now */
	stats_heap_refresh(s);
	stats_sample(s, &c);
	assert_true(c.mem.heap_in_use >= a.mem.heap_in_use + big - 65536);
	assert_true(c.heap_age_ms <= b.heap_age_ms);
	free(p);
	stats_free(s);
	loop_close();
}

/* The allocator is consulted only once a burst of transactions is over. */
static void test_burst_rule(void **state)
{
	size_t peak = 0;

	(void)state;
	assert_false(stats_burst_over(&peak, 100, 100)); /* small: never */
	assert_false(stats_burst_over(&peak, 0, 0));
	assert_false(stats_burst_over(&peak, 40000, 40000)); /* load */
	assert_int_equal(peak, 40000);
	assert_false(stats_burst_over(&peak, 39000, 39000)); /* steady state */
	assert_false(stats_burst_over(&peak, 10001, 10001));
	assert_true(stats_burst_over(&peak, 10000, 10000)); /* a quarter: over */
	assert_int_equal(peak, 10000);
	assert_false(stats_burst_over(&peak, 9000, 9000)); /* peak reset: no repeat */
	assert_true(stats_burst_over(&peak, 9000, 0));     /* and the rest went */
	assert_false(stats_burst_over(&peak, 2600, 2600)); /* below the minimum */
	/* a burst that came and went between two looks: seen by its high */
	peak = 0;
	assert_true(stats_burst_over(&peak, 65000, 0));
	assert_int_equal(peak, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_trim_rule),
	    cmocka_unit_test(test_burst_rule),
	    cmocka_unit_test(test_mem_get),
	    cmocka_unit_test(test_sample),
	    cmocka_unit_test(test_sample_heap_cached),
	};

	return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
