/*
 * loop_timer — pending timers in a 4-ary min-heap with back-indices.
 *
 * The heap array holds (due, seq, timer) so that comparisons never touch
 * the timer objects (24 bytes an entry: 24 MB for a million timers). Each
 * timer remembers its slot, so cancel and restart are O(log n); start is
 * O(log n); the next due timer is at slot 0. Ties on `due` (same
 * millisecond) are broken by `seq`, a counter taken at each start, so
 * timers due in the same millisecond fire in the order they were started.
 * A 4-ary heap is half as deep as a binary one and its children share a
 * cache line pair, which is what matters at a million entries.
 *
 * Starting never allocates, so it cannot fail: loop_timer_alloc() reserves
 * a heap slot for every live timer object, and the array only grows there.
 *
 * One timerfd (CLOCK_MONOTONIC, absolute) is armed for the heap top before
 * each sleep, and re-armed only when the top changes.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "loop/loop_int.h"

struct loop_timer {
	size_t slot; /* heap index + 1; 0 = not pending */
	uint64_t due;
	loop_timer_h *h;
	void *arg; /* borrowed */
};

struct heap_ent {
	uint64_t due;
	uint64_t seq;
	struct loop_timer *t;
};

enum { HEAP_D = 4 };

static struct {
	struct heap_ent *a; /* owned; capacity >= live timer objects */
	size_t n, cap;
	size_t ntimers; /* live loop_timer objects */
	uint64_t seq;
	int tfd;
	uint64_t armed; /* due time the timerfd is set to; 0 = disarmed */
} th = {.tfd = -1};

static inline bool heap_less(const struct heap_ent *x, const struct heap_ent *y)
{
	return x->due < y->due || (x->due == y->due && x->seq < y->seq);
}

static inline void heap_put(size_t i, struct heap_ent ent)
{
	th.a[i] = ent;
	ent.t->slot = i + 1;
}

static void heap_up(size_t i)
{
	struct heap_ent ent = th.a[i];

	while (i > 0) {
		size_t p = (i - 1) / HEAP_D;

		if (!heap_less(&ent, &th.a[p]))
			break;
		heap_put(i, th.a[p]);
		i = p;
	}
	heap_put(i, ent);
}

static void heap_down(size_t i)
{
	struct heap_ent ent = th.a[i];

	for (;;) {
		size_t c = i * HEAP_D + 1, end = c + HEAP_D, m = c;

		if (c >= th.n)
			break;
		if (end > th.n)
			end = th.n;
		for (size_t k = c + 1; k < end; k++) {
			if (heap_less(&th.a[k], &th.a[m]))
				m = k;
		}
		if (!heap_less(&th.a[m], &ent))
			break;
		heap_put(i, th.a[m]);
		i = m;
	}
	heap_put(i, ent);
}

/* Re-places slot i after its key changed (or it received the last entry). */
static void heap_fix(size_t i)
{
	if (i > 0 && heap_less(&th.a[i], &th.a[(i - 1) / HEAP_D]))
		heap_up(i);
	else
		heap_down(i);
}

static void heap_remove(size_t i)
{
	struct loop_timer *t = th.a[i].t;

	t->slot = 0;
	th.n--;
	if (i != th.n) {
		th.a[i] = th.a[th.n];
		heap_fix(i);
	}
}

struct loop_timer *loop_timer_alloc(void)
{
	struct loop_timer *t;

	if (th.ntimers == th.cap) {
		size_t n = th.cap ? th.cap * 2 : 64;
		struct heap_ent *a;

		if (n > SIZE_MAX / sizeof(*a))
			return NULL;
		a = realloc(th.a, n * sizeof(*a));
		if (!a)
			return NULL;
		th.a = a;
		th.cap = n;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	th.ntimers++;
	return t;
}

void loop_timer_free(struct loop_timer *t)
{
	if (!t)
		return;
	loop_timer_cancel(t);
	free(t);
	th.ntimers--;
	if (th.ntimers == 0) {
		free(th.a);
		th.a = NULL;
		th.cap = 0;
	} else if (th.cap > 1024 && th.ntimers < th.cap / 4) {
		/* Give back memory after a mass free; still >= 2x reserved,
		 * and n <= ntimers, so nothing pending is lost. */
		struct heap_ent *a = realloc(th.a, th.cap / 2 * sizeof(*a));

		if (a) {
			th.a = a;
			th.cap /= 2;
		}
	}
}

void loop_timer_start(struct loop_timer *t, uint64_t delay_ms, loop_timer_h *h, void *arg)
{
	uint64_t now = loop_now_ms();
	struct heap_ent ent;

	assert(t && h);
	ent.due = delay_ms > UINT64_MAX - now ? UINT64_MAX : now + delay_ms;
	ent.seq = th.seq++;
	ent.t = t;
	t->due = ent.due;
	t->h = h;
	t->arg = arg;
	if (t->slot) {
		/* Restart in place: a new key, same slot, fixed up or down. */
		th.a[t->slot - 1] = ent;
		heap_fix(t->slot - 1);
		return;
	}
	assert(th.n < th.cap); /* reserved by loop_timer_alloc */
	th.a[th.n] = ent;
	th.n++;
	heap_up(th.n - 1);
}

void loop_timer_cancel(struct loop_timer *t)
{
	if (t && t->slot)
		heap_remove(t->slot - 1);
}

bool loop_timer_pending(const struct loop_timer *t)
{
	return t && t->slot != 0;
}

uint64_t loop_timer_remaining(const struct loop_timer *t)
{
	uint64_t now = loop_now_ms();

	if (!t || !t->slot || t->due <= now)
		return 0;
	return t->due - now;
}

size_t loop_timer_count(void)
{
	return th.n;
}

void loop_timer_expire(uint64_t now)
{
	/* Timers started by the handlers below get seq >= limit and wait
	 * for the next iteration, so a handler re-arming itself with delay
	 * 0 cannot keep this loop (and the fds) waiting forever. Such a
	 * timer is due no earlier than `now`, so it sorts after every older
	 * timer that is due: stopping at it skips none of them. */
	uint64_t limit = th.seq;

	while (th.n > 0 && !loop_stopping()) {
		struct heap_ent *top = &th.a[0];
		struct loop_timer *t = top->t;

		if (top->due > now || top->seq >= limit)
			break;
		heap_remove(0);
		/* t may be restarted, cancelled or freed by its handler. */
		t->h(t->arg);
	}
}

static void loop_timer_fd_h(int fd, int events, void *arg)
{
	uint64_t v;

	/* One-shot: after expiring the timerfd is disarmed. */
	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: a re-arm already cleared it. */
	}
	th.armed = 0;
}

int loop_timer_arm(uint64_t now)
{
	struct itimerspec its;
	uint64_t due;

	if (th.n == 0) {
		if (th.armed) {
			memset(&its, 0, sizeof(its));
			timerfd_settime(th.tfd, TFD_TIMER_ABSTIME, &its, NULL);
			th.armed = 0;
		}
		return -1;
	}
	due = th.a[0].due;
	if (due <= now)
		return 0;
	if (due == th.armed)
		return -1;
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = (time_t)(due / 1000);
	its.it_value.tv_nsec = (long)(due % 1000) * 1000000;
	if (timerfd_settime(th.tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
		/* Cannot happen with a valid fd and value; fall back to a
		 * short poll rather than sleeping past the timer. */
		return 1;
	}
	th.armed = due;
	return -1;
}

int loop_timer_init(void)
{
	int err;

	th.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (th.tfd < 0)
		return errno;
	th.armed = 0;
	err = loop_fd_listen(th.tfd, LOOP_READ, loop_timer_fd_h, NULL);
	if (err) {
		close(th.tfd);
		th.tfd = -1;
	}
	return err;
}

void loop_timer_close(void)
{
	/* Timer objects outlive the loop (their owners free them); they just
	 * stop being pending. The heap array stays reserved for them. */
	for (size_t i = 0; i < th.n; i++)
		th.a[i].t->slot = 0;
	th.n = 0;
	if (th.tfd >= 0) {
		loop_fd_close(th.tfd);
		close(th.tfd);
		th.tfd = -1;
	}
	th.armed = 0;
}
