/* Unit tests: loop (timers, fds, signals, workers, hooks, stop). */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop/loop.h"
#include "loop/loop_int.h"

/* Every test sets a guard timer: if the behaviour under test never stops
 * the loop, the guard does and the test fails instead of hanging. */
enum { GUARD_MS = 10000 };

static bool guard_fired;
static struct loop_timer *guard;

static void guard_h(void *arg)
{
	(void)arg;
	guard_fired = true;
	loop_stop();
}

static int setup(void **state)
{
	(void)state;
	if (loop_init())
		return -1;
	guard = loop_timer_alloc();
	if (!guard)
		return -1;
	guard_fired = false;
	loop_timer_start(guard, GUARD_MS, guard_h, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	loop_timer_free(guard);
	guard = NULL;
	loop_close();
	return 0;
}

static void stop_h(void *arg)
{
	(void)arg;
	loop_stop();
}

/* ---- timers ---- */

static int fired[16];
static size_t nfired;

static void record_h(void *arg)
{
	if (nfired < 16)
		fired[nfired] = (int)(intptr_t)arg;
	nfired++;
}

static void test_timer_order(void **state)
{
	static const uint64_t delay[] = {30, 10, 20, 10, 0, 10};
	static const int want[] = {4, 1, 3, 5, 2, 0};
	struct loop_timer *t[6], *stop = loop_timer_alloc();

	(void)state;
	nfired = 0;
	for (int i = 0; i < 6; i++) {
		t[i] = loop_timer_alloc();
		assert_non_null(t[i]);
		loop_timer_start(t[i], delay[i], record_h, (void *)(intptr_t)i);
	}
	loop_timer_start(stop, 40, stop_h, NULL);
	assert_int_equal(loop_timer_count(), 8); /* with the guard */
	assert_int_equal(loop_run(), 0);
	assert_false(guard_fired);
	assert_int_equal(nfired, 6);
	assert_memory_equal(fired, want, sizeof(want));
	for (int i = 0; i < 6; i++) {
		assert_false(loop_timer_pending(t[i]));
		loop_timer_free(t[i]);
	}
	loop_timer_free(stop);
	assert_int_equal(loop_timer_count(), 1);
}

static void test_timer_cancel_restart(void **state)
{
	struct loop_timer *a = loop_timer_alloc(), *b = loop_timer_alloc();
	struct loop_timer *c = loop_timer_alloc(), *stop = loop_timer_alloc();

	(void)state;
	nfired = 0;
	loop_timer_cancel(a); /* idle: no-op */
	assert_false(loop_timer_pending(a));
	assert_int_equal(loop_timer_remaining(a), 0);
	loop_timer_start(a, 10, record_h, (void *)1);
	loop_timer_start(b, 20, record_h, (void *)2);
	loop_timer_start(c, 5, record_h, (void *)3);
	assert_true(loop_timer_pending(a));
	assert_int_equal(loop_timer_remaining(b), 20);
	loop_timer_cancel(a);
	assert_false(loop_timer_pending(a));
	/* Restart c while pending: it moves behind b. */
	loop_timer_start(c, 30, record_h, (void *)3);
	assert_int_equal(loop_timer_remaining(c), 30);
	/* Freeing a pending timer cancels it. */
	loop_timer_start(a, 1, record_h, (void *)1);
	assert_int_equal(loop_timer_count(), 4);
	loop_timer_free(a);
	assert_int_equal(loop_timer_count(), 3);
	loop_timer_start(stop, 50, stop_h, NULL);
	assert_int_equal(loop_run(), 0);
	assert_int_equal(nfired, 2);
	assert_int_equal(fired[0], 2);
	assert_int_equal(fired[1], 3);
	loop_timer_free(b);
	loop_timer_free(c);
	loop_timer_free(stop);
}

/* Handlers that restart, cancel and free timers while expiring. */
static struct loop_timer *self_t, *victim_t, *freed_t;
static int self_runs;

static void self_h(void *arg)
{
	(void)arg;
	self_runs++;
	if (self_runs < 5)
		loop_timer_start(self_t, 0, self_h, NULL); /* re-arm itself */
	else
		loop_stop();
}

static void canceller_h(void *arg)
{
	(void)arg;
	/* victim is due in this same millisecond, after us */
	loop_timer_cancel(victim_t);
	record_h((void *)1);
}

static void freer_h(void *arg)
{
	(void)arg;
	loop_timer_free(freed_t); /* frees the running timer */
	freed_t = NULL;
	record_h((void *)3);
}

static void test_timer_rearm_in_handler(void **state)
{
	struct loop_timer *canceller = loop_timer_alloc();

	(void)state;
	nfired = 0;
	self_runs = 0;
	self_t = loop_timer_alloc();
	victim_t = loop_timer_alloc();
	freed_t = loop_timer_alloc();
	loop_timer_start(canceller, 5, canceller_h, NULL);
	loop_timer_start(victim_t, 5, record_h, (void *)2);
	loop_timer_start(freed_t, 5, freer_h, NULL);
	loop_timer_start(self_t, 5, self_h, NULL);
	assert_int_equal(loop_run(), 0);
	assert_false(guard_fired);
	assert_int_equal(self_runs, 5);
	assert_int_equal(nfired, 2);
	assert_int_equal(fired[0], 1);
	assert_int_equal(fired[1], 3);
	assert_null(freed_t);
	assert_false(loop_timer_pending(self_t));
	loop_timer_free(self_t);
	loop_timer_free(victim_t);
	loop_timer_free(canceller);
}

/* A timer re-arming itself with delay 0 must not starve fd events. */
static int spin_runs;
static bool pipe_seen;
static struct loop_timer *spin_t;

static void spin_h(void *arg)
{
	(void)arg;
	spin_runs++;
	if (pipe_seen || spin_runs > 1000)
		loop_stop();
	else
		loop_timer_start(spin_t, 0, spin_h, NULL);
}

static void pipe_seen_h(int fd, int events, void *arg)
{
	char c;

	(void)arg;
	assert_true(events & LOOP_READ);
	assert_int_equal(read(fd, &c, 1), 1);
	pipe_seen = true;
}

static void test_timer_no_starvation(void **state)
{
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(loop_fd_listen(p[0], LOOP_READ, pipe_seen_h, NULL), 0);
	spin_t = loop_timer_alloc();
	spin_runs = 0;
	pipe_seen = false;
	loop_timer_start(spin_t, 0, spin_h, NULL);
	assert_int_equal(loop_run(), 0);
	assert_true(pipe_seen);
	assert_true(spin_runs <= 3);
	loop_timer_free(spin_t);
	loop_fd_close(p[0]);
	close(p[0]);
	close(p[1]);
}

enum { MILLION = 1000000, SPREAD = 40 };

struct mt {
	struct loop_timer *t;
	bool cancelled;
	bool fired;
};

static struct mt *mts;
static size_t m_fired, m_last = SIZE_MAX, m_bad;

static uint64_t mt_delay(size_t i)
{
	return (i * 7919) % SPREAD;
}

static void mt_h(void *arg)
{
	size_t i = (size_t)(uintptr_t)arg;

	if (mts[i].cancelled || mts[i].fired)
		m_bad++;
	/* All were started in the same cached millisecond: order is by
	 * delay, then by index (start order). */
	if (m_last != SIZE_MAX && (mt_delay(m_last) > mt_delay(i) ||
				   (mt_delay(m_last) == mt_delay(i) && m_last > i)))
		m_bad++;
	m_last = i;
	mts[i].fired = true;
	m_fired++;
}

static void mt_done_h(void *arg)
{
	(void)arg;
	if (loop_timer_count() == 1) /* only the guard left */
		loop_stop();
}

static void test_timer_million(void **state)
{
	size_t live = 0;

	(void)state;
	mts = calloc(MILLION, sizeof(*mts));
	assert_non_null(mts);
	m_fired = 0;
	m_bad = 0;
	m_last = SIZE_MAX;
	for (size_t i = 0; i < MILLION; i++) {
		mts[i].t = loop_timer_alloc();
		assert_non_null(mts[i].t);
		loop_timer_start(mts[i].t, mt_delay(i), mt_h, (void *)(uintptr_t)i);
	}
	assert_int_equal(loop_timer_count(), MILLION + 1);
	for (size_t i = 0; i < MILLION; i += 3) {
		loop_timer_cancel(mts[i].t);
		mts[i].cancelled = true;
	}
	for (size_t i = 0; i < MILLION; i++)
		live += !mts[i].cancelled;
	assert_int_equal(loop_timer_count(), live + 1);
	for (size_t i = 0; i < MILLION; i++)
		assert_int_equal(loop_timer_pending(mts[i].t), !mts[i].cancelled);
	/* A before-sleep hook stops the loop once everything has fired. */
	assert_int_equal(loop_before_sleep_add(mt_done_h, NULL), 0);
	assert_int_equal(loop_run(), 0);
	assert_false(guard_fired);
	assert_int_equal(m_bad, 0);
	assert_int_equal(m_fired, live);
	for (size_t i = 0; i < MILLION; i++) {
		assert_int_equal(mts[i].fired, !mts[i].cancelled);
		loop_timer_free(mts[i].t);
	}
	assert_int_equal(loop_timer_count(), 1);
	free(mts);
	mts = NULL;
}

/* Lanes: 24 delays (more than the 16 lanes, so some go to the heap), 5
 * timers each, started round-robin; every 7th cancelled, every 11th
 * restarted with its delay (same cached ms: it moves behind its equals).
 * They must fire by (delay, last start). */
enum { LN_DELAYS = 24, LN_REPS = 5, LN_N = LN_DELAYS * LN_REPS };
static struct {
	struct loop_timer *t;
	uint64_t delay, order; /* order: position of its last start */
	bool cancelled, fired;
} ln[LN_N];
static size_t ln_last = SIZE_MAX, ln_bad, ln_fired;

static void ln_h(void *arg)
{
	size_t i = (size_t)(uintptr_t)arg;

	if (ln[i].cancelled || ln[i].fired)
		ln_bad++;
	if (ln_last != SIZE_MAX &&
	    (ln[ln_last].delay > ln[i].delay ||
	     (ln[ln_last].delay == ln[i].delay && ln[ln_last].order > ln[i].order)))
		ln_bad++;
	ln_last = i;
	ln[i].fired = true;
	ln_fired++;
}

static void test_timer_lanes(void **state)
{
	struct loop_timer *stop = loop_timer_alloc();
	size_t order = 0, live = 0;

	(void)state;
	for (size_t r = 0; r < LN_REPS; r++) {
		for (size_t d = 0; d < LN_DELAYS; d++) {
			size_t i = r * LN_DELAYS + d;

			ln[i].t = loop_timer_alloc();
			assert_non_null(ln[i].t);
			ln[i].delay = 5 + (d * 37) % LN_DELAYS;
			ln[i].order = order++;
			loop_timer_start(ln[i].t, ln[i].delay, ln_h, (void *)(uintptr_t)i);
		}
	}
	for (size_t i = 0; i < LN_N; i += 7) {
		loop_timer_cancel(ln[i].t);
		ln[i].cancelled = true;
	}
	for (size_t i = 3; i < LN_N; i += 11) {
		if (ln[i].cancelled)
			continue;
		ln[i].order = order++;
		loop_timer_start(ln[i].t, ln[i].delay, ln_h, (void *)(uintptr_t)i);
	}
	for (size_t i = 0; i < LN_N; i++) {
		live += !ln[i].cancelled;
		assert_int_equal(loop_timer_pending(ln[i].t), !ln[i].cancelled);
	}
	assert_int_equal(loop_timer_count(), live + 1);
	loop_timer_start(stop, 5 + LN_DELAYS + 5, stop_h, NULL);
	assert_int_equal(loop_run(), 0);
	assert_false(guard_fired);
	assert_int_equal(ln_bad, 0);
	assert_int_equal(ln_fired, live);
	for (size_t i = 0; i < LN_N; i++) {
		assert_int_equal(ln[i].fired, !ln[i].cancelled);
		assert_int_equal(loop_timer_remaining(ln[i].t), 0);
		loop_timer_free(ln[i].t);
	}
	loop_timer_free(stop);
	assert_int_equal(loop_timer_count(), 1);
}

/* Slack: a 1 s timer (slack 1000/64 ms) and a 20 ms timer (none) both fire,
 * neither before its time. How late they fire is a figure of
 * bench/loop_timers (timer lateness), not a test: it is the machine's. */
static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t slack_fired_at[2];

static void slack_h(void *arg)
{
	size_t i = (size_t)(uintptr_t)arg;

	slack_fired_at[i] = mono_ms();
	if (slack_fired_at[0] && slack_fired_at[1])
		loop_stop();
}

static void test_timer_slack(void **state)
{
	struct loop_timer *a = loop_timer_alloc(), *b = loop_timer_alloc();
	uint64_t t0;

	(void)state;
	loop_now_update();
	t0 = loop_now_ms();
	loop_timer_start(a, 1000, slack_h, (void *)(uintptr_t)0);
	loop_timer_start(b, 20, slack_h, (void *)(uintptr_t)1);
	assert_int_equal(loop_run(), 0);
	assert_false(guard_fired);
	assert_true(slack_fired_at[1] >= t0 + 20);
	assert_true(slack_fired_at[0] >= t0 + 1000);
	loop_timer_free(a);
	loop_timer_free(b);
}

/* ---- file descriptors ---- */

struct echo {
	int a, b;
	int a_reads, b_writes, b_reads;
	char got[8];
};

static void echo_a_h(int fd, int events, void *arg)
{
	struct echo *e = arg;
	char buf[16];
	ssize_t n;

	assert_true(events & LOOP_READ);
	n = read(fd, buf, sizeof(buf));
	assert_true(n > 0);
	e->a_reads++;
	assert_int_equal(write(fd, buf, (size_t)n), n);
}

static void echo_b_h(int fd, int events, void *arg)
{
	struct echo *e = arg;

	if (events & LOOP_WRITE) {
		assert_int_equal(write(fd, "ping", 4), 4);
		e->b_writes++;
		/* Only read interest from now on. */
		assert_int_equal(loop_fd_modify(fd, LOOP_READ), 0);
		return;
	}
	assert_true(events & LOOP_READ);
	assert_int_equal(read(fd, e->got, 4), 4);
	e->b_reads++;
	loop_stop();
}

static void test_fd_read_write(void **state)
{
	struct echo e = {0};
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	e.a = sv[0];
	e.b = sv[1];
	assert_int_equal(loop_fd_listen(-1, LOOP_READ, echo_a_h, &e), EBADF);
	assert_int_equal(loop_fd_listen(e.a, 0x100, echo_a_h, &e), EINVAL);
	assert_int_equal(loop_fd_listen(e.a, LOOP_READ, NULL, &e), EINVAL);
	assert_int_equal(loop_fd_modify(e.a, LOOP_READ), ENOENT);
	assert_int_equal(loop_fd_listen(e.a, LOOP_READ, echo_a_h, &e), 0);
	assert_int_equal(loop_fd_listen(e.b, LOOP_WRITE, echo_b_h, &e), 0);
	assert_int_equal(loop_run(), 0);
	assert_false(guard_fired);
	assert_int_equal(e.b_writes, 1);
	assert_int_equal(e.a_reads, 1);
	assert_int_equal(e.b_reads, 1);
	assert_memory_equal(e.got, "ping", 4);
	loop_fd_close(e.a);
	loop_fd_close(e.b);
	loop_fd_close(e.b); /* twice: harmless */
	close(e.a);
	close(e.b);
}

/* Two readable pipes in one batch; whichever handler runs first closes
 * the other fd and at once reuses its number for a new, empty pipe. The
 * other handler must not run, nor the new pipe's handler be handed the
 * stale event. */
struct closer {
	int rd[2], wr[2];
	int calls;
	int reused_fd, fresh_wr;
	int fresh_calls;
	int hook_calls;
};

static struct closer cl;

static void fresh_h(int fd, int events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	cl.fresh_calls++;
}

static void closer_h(int fd, int events, void *arg)
{
	int other = (int)(intptr_t)arg;
	int np[2];

	(void)events;
	cl.calls++;
	assert_true(fd == cl.rd[0] || fd == cl.rd[1]);
	loop_fd_close(other);
	close(other);
	assert_int_equal(pipe(np), 0);
	cl.reused_fd = np[0];
	cl.fresh_wr = np[1];
	assert_int_equal(loop_fd_listen(np[0], LOOP_READ, fresh_h, NULL), 0);
	loop_fd_close(fd);
	close(fd);
}

static void closer_hook_h(void *arg)
{
	(void)arg;
	/* The first call is before the first sleep; the second after the
	 * batch holding both pipes has been dispatched. */
	if (++cl.hook_calls == 2)
		loop_stop();
}

static void test_fd_close_in_batch(void **state)
{
	int p0[2], p1[2], closed;

	(void)state;
	memset(&cl, 0, sizeof(cl));
	assert_int_equal(pipe(p0), 0);
	assert_int_equal(pipe(p1), 0);
	cl.rd[0] = p0[0];
	cl.rd[1] = p1[0];
	assert_int_equal(write(p0[1], "a", 1), 1);
	assert_int_equal(write(p1[1], "b", 1), 1);
	assert_int_equal(
	    loop_fd_listen(p0[0], LOOP_READ, closer_h, (void *)(intptr_t)p1[0]), 0);
	assert_int_equal(
	    loop_fd_listen(p1[0], LOOP_READ, closer_h, (void *)(intptr_t)p0[0]), 0);
	assert_int_equal(loop_before_sleep_add(closer_hook_h, NULL), 0);
	assert_int_equal(loop_run(), 0);
	assert_false(guard_fired);
	assert_int_equal(cl.calls, 1);
	assert_int_equal(cl.fresh_calls, 0);
	/* pipe() takes the lowest free number: the one just closed. */
	closed = cl.reused_fd;
	assert_true(closed == p0[0] || closed == p1[0]);
	loop_fd_close(cl.reused_fd);
	close(cl.reused_fd);
	close(cl.fresh_wr);
	close(p0[1]);
	close(p1[1]);
	loop_before_sleep_remove(closer_hook_h, NULL);
}

/* Both ends of a socketpair are writable in the first batch; whichever
 * handler runs first drops the other's write interest, so the other must
 * not be handed the WRITE event already fetched for it. */
static int wi_calls, wi_hooks;

static void write_interest_h(int fd, int events, void *arg)
{
	(void)fd;
	assert_true(events & LOOP_WRITE);
	wi_calls++;
	assert_int_equal(loop_fd_modify((int)(intptr_t)arg, LOOP_READ), 0);
	assert_int_equal(loop_fd_modify(fd, LOOP_READ), 0);
}

static void write_interest_hook(void *arg)
{
	(void)arg;
	if (++wi_hooks == 2)
		loop_stop();
}

static void test_fd_modify_in_batch(void **state)
{
	int sv[2];

	(void)state;
	wi_calls = wi_hooks = 0;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(
	    loop_fd_listen(sv[0], LOOP_WRITE, write_interest_h, (void *)(intptr_t)sv[1]),
	    0);
	assert_int_equal(
	    loop_fd_listen(sv[1], LOOP_WRITE, write_interest_h, (void *)(intptr_t)sv[0]),
	    0);
	assert_int_equal(loop_before_sleep_add(write_interest_hook, NULL), 0);
	assert_int_equal(loop_run(), 0);
	assert_false(guard_fired);
	assert_int_equal(wi_calls, 1);
	loop_fd_close(sv[0]);
	loop_fd_close(sv[1]);
	close(sv[0]);
	close(sv[1]);
}

/* ---- signals ---- */

static pthread_t main_thread;
static int sig_calls;

static void sig_h(int signo, void *arg)
{
	(void)arg;
	assert_int_equal(signo, SIGUSR1);
	assert_true(pthread_equal(pthread_self(), main_thread));
	sig_calls++;
	loop_stop();
}

static void *kill_thread(void *arg)
{
	(void)arg;
	kill(getpid(), SIGUSR1); /* process-directed, from another thread */
	return NULL;
}

static void test_signal(void **state)
{
	pthread_t thr;

	(void)state;
	main_thread = pthread_self();
	sig_calls = 0;
	assert_int_equal(loop_signal_add(SIGKILL, sig_h, NULL), EINVAL);
	assert_int_equal(loop_signal_add(0, sig_h, NULL), EINVAL);
	assert_int_equal(loop_signal_add(SIGUSR1, sig_h, NULL), 0);
	raise(SIGUSR1); /* blocked: would kill the process otherwise */
	assert_int_equal(loop_run(), 0);
	assert_false(guard_fired);
	assert_int_equal(sig_calls, 1);
	/* The thread inherits the blocked mask, so the signal goes to the
	 * process and the loop's signalfd reads it. */
	assert_int_equal(pthread_create(&thr, NULL, kill_thread, NULL), 0);
	assert_int_equal(loop_run(), 0);
	assert_false(guard_fired);
	assert_int_equal(sig_calls, 2);
	pthread_join(thr, NULL);
}

/* ---- worker jobs ---- */

enum { JOBS = 20000, QMAX = 64 };

static size_t jobs_posted, jobs_done, jobs_bad;
static pthread_t loop_thread;

struct job {
	unsigned in;
	unsigned out;
	pthread_t ran_on;
};

static struct job *jobs;

static int square_work(void *arg)
{
	struct job *j = arg;

	j->out = j->in * j->in;
	j->ran_on = pthread_self();
	return (int)(j->in % 7);
}

static void post_more(void);

static void square_done(int err, void *arg)
{
	struct job *j = arg;

	if (!pthread_equal(pthread_self(), loop_thread) ||
	    pthread_equal(j->ran_on, loop_thread) || j->out != j->in * j->in ||
	    err != (int)(j->in % 7))
		jobs_bad++;
	jobs_done++;
	if (jobs_done == JOBS)
		loop_stop();
	else
		post_more();
}

static void post_more(void)
{
	while (jobs_posted < JOBS) {
		struct job *j = &jobs[jobs_posted];
		int err;

		j->in = (unsigned)jobs_posted;
		err = loop_work_post(square_work, square_done, j);
		if (err == EAGAIN)
			return; /* full: continue from a done handler */
		assert_int_equal(err, 0);
		jobs_posted++;
	}
}

static void test_work_many(void **state)
{
	struct loop_work_prm prm = {.nthreads = 2, .queue_max = QMAX};

	(void)state;
	loop_thread = pthread_self();
	jobs = calloc(JOBS, sizeof(*jobs));
	assert_non_null(jobs);
	jobs_posted = jobs_done = jobs_bad = 0;
	assert_int_equal(loop_work_post(square_work, NULL, NULL), EINVAL);
	assert_int_equal(loop_work_start_prm(&prm), 0);
	assert_int_equal(loop_work_start(1), EALREADY);
	/* Slots free only when done runs on the loop thread, so exactly
	 * QMAX posts succeed before the loop runs. */
	post_more();
	assert_int_equal(jobs_posted, QMAX);
	assert_int_equal(loop_work_post(square_work, square_done, &jobs[0]), EAGAIN);
	assert_int_equal(loop_run(), 0);
	assert_false(guard_fired);
	assert_int_equal(jobs_done, JOBS);
	assert_int_equal(jobs_bad, 0);
	free(jobs);
	jobs = NULL;
}

/* At close: the running job finishes and reports its result, the queued
 * ones are cancelled, every done handler runs exactly once. */
static sem_t gate, gate_entered;
static int close_done[4];

static int gated_work(void *arg)
{
	(void)arg;
	sem_post(&gate_entered);
	sem_wait(&gate);
	return 0;
}

static int never_work(void *arg)
{
	(void)arg;
	return 0;
}

static void close_done_h(int err, void *arg)
{
	size_t i = (size_t)(uintptr_t)arg;

	close_done[i] = err ? err : -1;
}

static void *gate_opener(void *arg)
{
	(void)arg;
	/* Queue is full (EAGAIN) until loop_close starts stopping the
	 * workers (ESHUTDOWN); only then let the running job finish. */
	for (int i = 0; i < 10000; i++) {
		if (loop_work_post(never_work, NULL, NULL) == ESHUTDOWN)
			break;
		usleep(1000);
	}
	sem_post(&gate);
	return NULL;
}

static void test_work_close_cancels(void **state)
{
	struct loop_work_prm prm = {.nthreads = 1, .queue_max = 4};
	pthread_t thr;

	(void)state;
	memset(close_done, 0, sizeof(close_done));
	assert_int_equal(sem_init(&gate, 0, 0), 0);
	assert_int_equal(sem_init(&gate_entered, 0, 0), 0);
	assert_int_equal(loop_work_start_prm(&prm), 0);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(loop_work_post(i ? never_work : gated_work, close_done_h,
						(void *)(uintptr_t)i),
				 0);
	assert_int_equal(pthread_create(&thr, NULL, gate_opener, NULL), 0);
	/* The single worker is blocked in job 0, jobs 1-3 wait in the queue. */
	sem_wait(&gate_entered);
	loop_timer_free(guard);
	guard = NULL;
	loop_close();
	pthread_join(thr, NULL);
	assert_int_equal(close_done[0], -1); /* ran, returned 0 */
	/* The gate holds job 0 until stopping is set, so the worker never
	 * takes job 1. */
	assert_int_equal(close_done[1], ECANCELED);
	assert_int_equal(close_done[2], ECANCELED);
	assert_int_equal(close_done[3], ECANCELED);
	sem_destroy(&gate);
	sem_destroy(&gate_entered);
	assert_int_equal(loop_init(), 0); /* for teardown */
}

/* ---- stop, hooks ---- */

static int hook_a_calls, hook_b_calls;

static void hook_b(void *arg);

static void hook_a(void *arg)
{
	(void)arg;
	/* Removes the hook that would run right after it, from a hook. */
	if (hook_a_calls++ == 0)
		loop_before_sleep_remove(hook_b, NULL);
}

static void hook_b(void *arg)
{
	(void)arg;
	hook_b_calls++;
}

static void test_stop_from_timer_and_hooks(void **state)
{
	struct loop_timer *a = loop_timer_alloc(), *b = loop_timer_alloc();
	struct loop_timer *c = loop_timer_alloc();

	(void)state;
	nfired = 0;
	hook_a_calls = hook_b_calls = 0;
	assert_int_equal(loop_before_sleep_add(NULL, NULL), EINVAL);
	assert_int_equal(loop_before_sleep_add(hook_a, NULL), 0);
	assert_int_equal(loop_before_sleep_add(hook_b, NULL), 0);
	loop_timer_start(c, 2, record_h, (void *)7);
	loop_timer_start(a, 5, stop_h, NULL);
	loop_timer_start(b, 5, record_h, (void *)9); /* same ms, after a */
	assert_int_equal(loop_run(), 0);
	assert_int_equal(nfired, 1);
	assert_int_equal(fired[0], 7);
	assert_true(loop_timer_pending(b)); /* stop left it for next run */
	assert_true(hook_a_calls >= 1);
	assert_int_equal(hook_b_calls, 0);
	loop_timer_start(a, 10, stop_h, NULL);
	assert_int_equal(loop_run(), 0);
	assert_int_equal(nfired, 2);
	assert_int_equal(fired[1], 9);
	assert_int_equal(hook_b_calls, 0);
	loop_timer_free(a);
	loop_timer_free(b);
	loop_timer_free(c);
}

static void *stopper_thread(void *arg)
{
	(void)arg;
	loop_stop();
	return NULL;
}

static void start_stopper_h(void *arg)
{
	pthread_t *thr = arg;

	assert_int_equal(pthread_create(thr, NULL, stopper_thread, NULL), 0);
}

static void test_stop_from_thread(void **state)
{
	struct loop_timer *t = loop_timer_alloc();
	pthread_t thr;

	(void)state;
	/* After the timer nothing is pending but the guard: only the
	 * eventfd written by loop_stop() can wake the loop early. */
	loop_timer_start(t, 1, start_stopper_h, &thr);
	assert_int_equal(loop_run(), 0);
	assert_false(guard_fired);
	pthread_join(thr, NULL);
	loop_timer_free(t);
	assert_int_equal(loop_init(), EALREADY);
}

/* The nap decision: events while the waits have been short (busy) -> a
 * nap from the wake-up; one quick event after long waits, no events, or
 * naps off -> none. */
static void test_nap_plan(void)
{
	uint64_t avg = 500000, t = 0;
	int i;

	/* one event right after a long quiet spell: no nap */
	assert_int_equal(loop_nap_plan(&avg, 0, 2000000, 1, 500000), 0);
	assert_int_equal(avg, 500000 - 62500 + 250000);
	assert_int_equal(loop_nap_plan(&avg, 2000000, 2000000, 1, 500000), 0);
	/* a run of short waits: naps start within about twenty wake-ups */
	for (i = 0; i < 30; i++) {
		t += 20000;
		if (loop_nap_plan(&avg, t, t + 10000, 2, 500000))
			break;
		t += 10000;
	}
	assert_true(i > 3 && i < 30);
	assert_int_equal(loop_nap_plan(&avg, t, t, 3, 500000), t + 500000);
	/* no events (a timer's timeout), or naps off: none */
	assert_int_equal(loop_nap_plan(&avg, t, t, 0, 500000), 0);
	assert_int_equal(loop_nap_plan(&avg, t, t, -1, 500000), 0);
	assert_int_equal(loop_nap_plan(&avg, t, t, 3, 0), 0);
	/* one long wait ends it */
	assert_int_equal(loop_nap_plan(&avg, t, t + 5000000, 1, 500000), 0);
}

static void test_nap_set(void **state)
{
	(void)state;
	test_nap_plan();
	assert_int_equal(loop_nap_set(100001), EINVAL);
	assert_int_equal(loop_nap_set(100000), 0);
	assert_int_equal(loop_nap_set(0), 0);
}

static unsigned busy_calls;

static void busy_fd_h(int fd, int events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	busy_calls++; /* never drained: readable at every iteration */
}

/* An fd that is always readable keeps the loop busy for 100 ms: with naps
 * of 500 us it naps between wake-ups; without naps it spins. How many
 * wake-ups that saves depends on the machine (bench/RESULTS.md, naps A/B);
 * the arithmetic of a nap is test_nap_plan's. */
static unsigned busy_run(unsigned nap_us, uint64_t *naps)
{
	struct loop_timer *t = loop_timer_alloc();
	int fd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
	uint64_t wakeups;

	assert_true(fd >= 0);
	assert_int_equal(loop_nap_set(nap_us), 0);
	busy_calls = 0;
	assert_int_equal(loop_fd_listen(fd, LOOP_READ, busy_fd_h, NULL), 0);
	loop_timer_start(t, 100, stop_h, NULL);
	assert_int_equal(loop_run(), 0);
	assert_false(guard_fired);
	loop_counts(&wakeups, naps);
	assert_true(wakeups >= busy_calls);
	loop_fd_close(fd);
	close(fd);
	loop_timer_free(t);
	return busy_calls;
}

static void test_nap_when_busy(void **state)
{
	uint64_t naps;
	unsigned calls;

	(void)state;
	calls = busy_run(500, &naps);
	assert_true(calls >= 2);
	assert_true(naps >= 1);
}

static void test_no_nap_when_off(void **state)
{
	uint64_t naps;

	(void)state;
	assert_true(busy_run(0, &naps) >= 1);
	assert_int_equal(naps, 0);
}

static int quiet_fd;

static void *quiet_writer(void *arg)
{
	uint64_t one = 1;

	(void)arg;
	for (int i = 0; i < 20; i++) {
		nanosleep(&(struct timespec){.tv_nsec = 3000000}, NULL);
		if (write(quiet_fd, &one, sizeof(one)) != sizeof(one))
			break;
	}
	return NULL;
}

static unsigned quiet_reads;

static void quiet_fd_h(int fd, int events, void *arg)
{
	uint64_t v;

	(void)events;
	(void)arg;
	if (read(fd, &v, sizeof(v)) == sizeof(v))
		quiet_reads += (unsigned)v;
	if (quiet_reads >= 20)
		loop_stop();
}

/* Events 3 ms apart: the loop waits for each one, so it does not nap. */
static void test_no_nap_when_quiet(void **state)
{
	uint64_t wakeups, naps;
	pthread_t thr;

	(void)state;
	quiet_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(quiet_fd >= 0);
	quiet_reads = 0;
	assert_int_equal(loop_fd_listen(quiet_fd, LOOP_READ, quiet_fd_h, NULL), 0);
	assert_int_equal(pthread_create(&thr, NULL, quiet_writer, NULL), 0);
	assert_int_equal(loop_run(), 0);
	pthread_join(thr, NULL);
	assert_false(guard_fired);
	assert_int_equal(quiet_reads, 20);
	loop_counts(&wakeups, &naps);
	assert_true(wakeups >= 2);
	assert_int_equal(naps, 0);
	loop_fd_close(quiet_fd);
	close(quiet_fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_timer_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_cancel_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_rearm_in_handler, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_no_starvation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_lanes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_slack, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_million, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fd_read_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fd_close_in_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fd_modify_in_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_signal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_work_many, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_work_close_cancels, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_from_timer_and_hooks, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_stop_from_thread, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nap_set, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nap_when_busy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_nap_when_off, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_nap_when_quiet, setup, teardown),
	};

	return cmocka_run_group_tests_name("loop", tests, NULL, NULL);
}
