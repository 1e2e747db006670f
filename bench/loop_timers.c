/*
 * bench/loop_timers — CPU cost of timer and hash table operations at a
 * million entries. Measures process CPU time (CLOCK_PROCESS_CPUTIME_ID), not
 * wall time, so a noisy shared machine disturbs it less.
 *
 *   build/bench/loop_timers [n]      (default n = 1000000)
 *
 * Prints one line per operation: ns of CPU per operation; then how late
 * timers of 20 ms, 100 ms and 1 s (the last with its slack of 1/64)
 * fired, in wall-clock ms (the machine's scheduling, not a CPU cost; the
 * unit tests only check that no timer fires early).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/hash.h"
#include "core/mem.h"
#include "loop/loop.h"

static double cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void report(const char *what, double t0, size_t n)
{
	printf("%-34s %8.1f ns/op\n", what, (cpu_ns() - t0) / (double)n);
}

static size_t nfired;

static void count_h(void *arg)
{
	(void)arg;
	nfired++;
	if (loop_timer_count() == 0)
		loop_stop();
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int bench_timers(size_t n)
{
	struct loop_timer **t = calloc(n, sizeof(*t));
	uint64_t seed = 88172645463325252ULL;
	double t0;

	if (!t)
		return ENOMEM;
	for (size_t i = 0; i < n; i++) {
		t[i] = loop_timer_alloc();
		if (!t[i])
			return ENOMEM;
	}
	/* SIP timers spread over ~32 s (Timer B/F/H are 32 s). */
	t0 = cpu_ns();
	for (size_t i = 0; i < n; i++)
		loop_timer_start(t[i], 1000 + rnd(&seed) % 32000, count_h, NULL);
	report("timer start (random 1-33 s)", t0, n);
	t0 = cpu_ns();
	for (size_t i = 0; i < n; i++)
		loop_timer_start(t[i], 1000 + rnd(&seed) % 32000, count_h, NULL);
	report("timer restart while pending", t0, n);
	t0 = cpu_ns();
	for (size_t i = 0; i < n; i++)
		loop_timer_cancel(t[(i * 7919) % n]);
	report("timer cancel (scattered)", t0, n);
	/* Expiry: everything due at once, measured through loop_run. */
	for (size_t i = 0; i < n; i++)
		loop_timer_start(t[i], rnd(&seed) % 50, count_h, NULL);
	nfired = 0;
	t0 = cpu_ns();
	loop_run();
	report("timer expire (via loop_run)", t0, nfired);
	for (size_t i = 0; i < n; i++)
		loop_timer_free(t[i]);
	free(t);
	return 0;
}

static double mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

enum { LATE_N = 3 };
static const uint64_t late_ms[LATE_N] = {20, 100, 1000};
static double late_fired[LATE_N];
static size_t late_left;

static void late_h(void *arg)
{
	late_fired[(size_t)(uintptr_t)arg] = mono_ns();
	if (--late_left == 0)
		loop_stop();
}

/* Wall-clock lateness of three timers started together (about 1 s). */
static int bench_lateness(void)
{
	struct loop_timer *t[LATE_N];
	double t0;

	for (size_t i = 0; i < LATE_N; i++) {
		t[i] = loop_timer_alloc();
		if (!t[i])
			return ENOMEM;
	}
	late_left = LATE_N;
	loop_now_update();
	t0 = mono_ns();
	for (size_t i = 0; i < LATE_N; i++)
		loop_timer_start(t[i], late_ms[i], late_h, (void *)(uintptr_t)i);
	loop_run();
	for (size_t i = 0; i < LATE_N; i++) {
		printf("timer lateness, %4llu ms timer       %8.2f ms\n",
		       (unsigned long long)late_ms[i],
		       (late_fired[i] - t0) / 1e6 - (double)late_ms[i]);
		loop_timer_free(t[i]);
	}
	return 0;
}

struct obj {
	struct hash_entry he;
	char key[48];
};

static bool obj_match(const struct hash_entry *e, const void *key)
{
	return strcmp(HASH_OBJ(e, struct obj, he)->key, key) == 0;
}

static int bench_hash(size_t n)
{
	struct obj *o = calloc(n, sizeof(*o));
	struct hash *h = NULL;
	size_t found = 0;
	double t0;
	int err;

	if (!o)
		return ENOMEM;
	err = hash_alloc(&h, 0);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++)
		snprintf(o[i].key, sizeof(o[i].key), "sip:+3161%07zu@ims.test", i);
	t0 = cpu_ns();
	for (size_t i = 0; i < n; i++)
		(void)hash_str(o[i].key);
	report("hash_str (~24-byte key)", t0, n);
	t0 = cpu_ns();
	for (size_t i = 0; i < n; i++)
		hash_insert(h, &o[i].he, hash_str(o[i].key));
	report("hash insert (grow from 16)", t0, n);
	t0 = cpu_ns();
	for (size_t i = 0; i < n; i++) {
		const char *k = o[(i * 7919) % n].key;

		found += hash_lookup(h, hash_str(k), obj_match, k) != NULL;
	}
	report("hash lookup hit (scattered)", t0, n);
	t0 = cpu_ns();
	for (size_t i = 0; i < n; i++)
		hash_remove(h, &o[(i * 7919) % n].he);
	report("hash remove (scattered)", t0, n);
	mem_deref(h);
	free(o);
	return found == n ? 0 : EFAULT;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	int err;

	if (n == 0 || n > 100000000) {
		fprintf(stderr, "usage: %s [n (1..1e8)]\n", argv[0]);
		return 2;
	}
	err = loop_init();
	if (!err)
		err = bench_timers(n);
	if (!err)
		err = bench_lateness();
	loop_close();
	if (!err)
		err = bench_hash(n);
	if (err) {
		fprintf(stderr, "bench failed: %s\n", strerror(err));
		return 1;
	}
	return 0;
}
