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
 * Lanes: most timers of a SIP server are started with a few fixed delays
 * (Timer J = 64*T1 for every UDP non-INVITE transaction, K = T4, ...).
 * Timers started with the same delay are due in start order, since the
 * cached clock never goes back, so such a run of timers is a FIFO list:
 * O(1) start, cancel and expiry, no heap traffic. A start whose delay
 * matches a lane in use goes there; otherwise it claims an empty lane,
 * and when all LANES lanes are in use with other delays it goes to the
 * heap. The next timer is the earliest of the heap top and the lane
 * heads, ties broken by `seq` as before.
 *
 * Slack: a lane of delay >= 1 s may fire up to min(delay / 64, 50 ms) late.
 * The timerfd is armed for the head's due time plus that slack, and every
 * timer due by then fires in the same wake-up: a second of Timer J
 * expiries at 20,000 transactions/s costs 20 wake-ups instead of 1,000.
 * Timers that fire with I/O wake-ups are not delayed at all.
 *
 * One timerfd (CLOCK_MONOTONIC, absolute) is armed for the earliest timer
 * before each sleep, and re-armed only when that changes.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "loop/loop_int.h"

struct loop_timer {
	size_t slot; /* heap index + 1; 0 = not in the heap */
	uint64_t due;
	uint64_t seq;			/* while in a lane */
	struct loop_timer *prev, *next; /* while in a lane */
	unsigned lane;			/* lane index + 1; 0 = not in a lane */
	loop_timer_h *h;
	void *arg; /* borrowed */
};

enum { LANES = 16 };

struct lane {
	uint64_t delay;
	struct loop_timer *head, *tail; /* due order */
	size_t n;			/* 0: free */
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
	struct lane lanes[LANES];
	size_t nlane; /* timers in lanes */
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

static void lane_unlink(struct loop_timer *t)
{
	struct lane *l = &th.lanes[t->lane - 1];

	if (t->prev)
		t->prev->next = t->next;
	else
		l->head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	else
		l->tail = t->prev;
	t->prev = t->next = NULL;
	t->lane = 0;
	l->n--;
	th.nlane--;
}

/* Appends t to the lane of delay_ms; false if every lane is in use with
 * another delay. */
static bool lane_append(struct loop_timer *t, uint64_t delay_ms)
{
	struct lane *l = NULL;

	for (size_t i = 0; i < LANES; i++) {
		if (th.lanes[i].n && th.lanes[i].delay == delay_ms) {
			l = &th.lanes[i];
			break;
		}
		if (!th.lanes[i].n && !l)
			l = &th.lanes[i];
	}
	if (!l)
		return false;
	if (!l->n) {
		l->delay = delay_ms;
		l->head = l->tail = NULL;
	}
	t->prev = l->tail;
	t->next = NULL;
	if (l->tail)
		l->tail->next = t;
	else
		l->head = t;
	l->tail = t;
	t->lane = (unsigned)(l - th.lanes) + 1;
	l->n++;
	th.nlane++;
	return true;
}

/* The pending timer due first (ties: started first), or NULL. */
static struct loop_timer *timer_first(void)
{
	struct loop_timer *best = th.n ? th.a[0].t : NULL;
	uint64_t due = th.n ? th.a[0].due : 0, seq = th.n ? th.a[0].seq : 0;

	if (!th.nlane)
		return best;
	for (size_t i = 0; i < LANES; i++) {
		const struct loop_timer *h = th.lanes[i].head;

		if (h && (!best || h->due < due || (h->due == due && h->seq < seq))) {
			best = th.lanes[i].head;
			due = h->due;
			seq = h->seq;
		}
	}
	return best;
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
	t->seq = ent.seq;
	t->h = h;
	t->arg = arg;
	if (t->lane)
		lane_unlink(t);
	if (!t->slot && lane_append(t, delay_ms))
		return;
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
	else if (t && t->lane)
		lane_unlink(t);
}

bool loop_timer_pending(const struct loop_timer *t)
{
	return t && (t->slot != 0 || t->lane != 0);
}

uint64_t loop_timer_remaining(const struct loop_timer *t)
{
	uint64_t now = loop_now_ms();

	if (!loop_timer_pending(t) || t->due <= now)
		return 0;
	return t->due - now;
}

size_t loop_timer_count(void)
{
	return th.n + th.nlane;
}

void loop_timer_expire(uint64_t now)
{
	/* Timers started by the handlers below get seq >= limit and wait
	 * for the next iteration, so a handler re-arming itself with delay
	 * 0 cannot keep this loop (and the fds) waiting forever. Such a
	 * timer is due no earlier than `now`, so it sorts after every older
	 * timer that is due: stopping at it skips none of them. */
	uint64_t limit = th.seq;

	while (!loop_stopping()) {
		struct loop_timer *t = timer_first();

		if (!t || t->due > now || (t->slot ? th.a[t->slot - 1].seq : t->seq) >= limit)
			break;
		loop_timer_cancel(t);
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

static uint64_t lane_slack(const struct lane *l)
{
	if (l->delay < LOOP_TIMER_SLACK_MIN_DELAY)
		return 0;
	return l->delay / 64 < LOOP_TIMER_SLACK_MAX ? l->delay / 64 : LOOP_TIMER_SLACK_MAX;
}

/* When the loop must wake up for its timers: the heap top's due time, or a
 * lane head's plus the lane's slack, whichever is first; 0 if none. */
static uint64_t timer_wake(void)
{
	uint64_t wake = th.n ? th.a[0].due : UINT64_MAX;

	for (size_t i = 0; th.nlane && i < LANES; i++) {
		const struct lane *l = &th.lanes[i];
		uint64_t w;

		if (!l->head)
			continue;
		w = l->head->due > UINT64_MAX - lane_slack(l) ? UINT64_MAX
							       : l->head->due + lane_slack(l);
		if (w < wake)
			wake = w;
	}
	return th.n || th.nlane ? wake : 0;
}

int loop_timer_arm(uint64_t now)
{
	struct itimerspec its;
	uint64_t due = timer_wake();

	if (!due) {
		if (th.armed) {
			memset(&its, 0, sizeof(its));
			timerfd_settime(th.tfd, TFD_TIMER_ABSTIME, &its, NULL);
			th.armed = 0;
		}
		return -1;
	}
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
	for (size_t i = 0; i < LANES; i++) {
		while (th.lanes[i].head)
			lane_unlink(th.lanes[i].head);
	}
	if (th.tfd >= 0) {
		loop_fd_close(th.tfd);
		close(th.tfd);
		th.tfd = -1;
	}
	th.armed = 0;
}
