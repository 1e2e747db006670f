/*
 * loop — epoll core: fd table, iteration, before-sleep hooks, stop.
 *
 * One iteration: run due timers, run before-sleep hooks, arm the timerfd
 * for the next timer, epoll_wait, refresh the cached time, dispatch the
 * batch. epoll is level-triggered, so a handler may read only part of what
 * is waiting and be called again next iteration; that keeps handlers
 * simple and fair at the cost of a re-report per busy fd.
 *
 * Naps (wake-up moderation): when the waits in epoll_wait have been short
 * (their moving average under half a nap), the loop is busy: after a batch
 * and the before-sleep hooks (which send what it produced) it sleeps until
 * a nap after the wake-up, so that the next wake-up finds several requests
 * to take with one recvmmsg, answer with one sendmmsg, and one
 * epoll_wait. A quiet loop never naps, not even after one event that
 * follows another at once. See docs/loop.md.
 *
 * Stale events: each watched fd has a generation number, bumped by
 * loop_fd_close(), and the epoll cookie carries fd and generation. An event
 * of a batch whose fd was closed by an earlier handler of the same batch
 * (even if the number was reused and listened to again) no longer matches
 * and is dropped.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "loop/loop_int.h"

enum {
	LOOP_BATCH = 128, /* events taken per epoll_wait */
	LOOP_FD_MAX = 1 << 24,
	LOOP_NAP_US_DEFAULT = 500,
	LOOP_NAP_US_MAX = 100000,
};

struct loop_fd {
	loop_fd_h *h;
	void *arg; /* borrowed */
	uint32_t gen;
	int events;
	bool used;
};

struct loop_hook {
	void (*h)(void *arg); /* NULL once removed */
	void *arg;
};

static struct {
	int epfd;
	int wakefd; /* eventfd written by loop_stop() from other threads */
	bool ready;
	bool running;
	uint64_t now;
	struct loop_fd *fds; /* indexed by fd, owned */
	size_t nfds;
	struct loop_hook *hooks; /* owned */
	size_t nhooks, hooks_cap;
	bool hooks_running, hooks_dirty;
	uint64_t nap_ns;       /* 0 = no naps */
	uint64_t nap_until_ns; /* the planned nap ends then; 0 = none */
	uint64_t wait_avg_ns;  /* moving average of the waits in epoll_wait */
	uint64_t wakeups, naps;
} lp = {
    .epfd = -1,
    .wakefd = -1,
    .nap_ns = LOOP_NAP_US_DEFAULT * 1000ull,
    .wait_avg_ns = LOOP_NAP_US_DEFAULT * 1000ull,
};

/* Separate from lp: written from signal handlers and other threads. */
static atomic_bool loop_stop_flag;

bool loop_ready(void)
{
	return lp.ready;
}

bool loop_stopping(void)
{
	return atomic_load_explicit(&loop_stop_flag, memory_order_relaxed);
}

static uint64_t loop_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static uint64_t loop_clock_ms(void)
{
	return loop_clock_ns() / 1000000;
}

/* Refreshes the cached time; returns it in ns. */
static uint64_t loop_now_update_ns(void)
{
	uint64_t ns = loop_clock_ns();

	lp.now = ns / 1000000;
	return ns;
}

void loop_now_update(void)
{
	(void)loop_now_update_ns();
}

uint64_t loop_nap_plan(uint64_t *avg_ns, uint64_t wait_ns, uint64_t wake_ns, int n,
		       uint64_t nap_ns)
{
	uint64_t waited = wake_ns - wait_ns;

	/* 1/8 of the newest wait: a long wait counts at once, a run of short
	 * ones after about twenty wake-ups */
	*avg_ns = *avg_ns - *avg_ns / 8 + waited / 8;
	if (n <= 0 || !nap_ns || *avg_ns >= nap_ns / 2)
		return 0;
	return wake_ns + nap_ns;
}

int loop_nap_set(unsigned us)
{
	if (us > LOOP_NAP_US_MAX)
		return EINVAL;
	lp.nap_ns = (uint64_t)us * 1000;
	lp.wait_avg_ns = lp.nap_ns;
	return 0;
}

void loop_counts(uint64_t *wakeups, uint64_t *naps)
{
	*wakeups = lp.wakeups;
	*naps = lp.naps;
}

/* Sleeps until the planned nap ends (not interrupted by signals: they
 * are read from a signalfd, and EINTR just goes on sleeping). */
static void loop_nap(void)
{
	struct timespec until = {
	    .tv_sec = (time_t)(lp.nap_until_ns / 1000000000),
	    .tv_nsec = (long)(lp.nap_until_ns % 1000000000),
	};

	lp.nap_until_ns = 0;
	lp.naps++;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR &&
	       !loop_stopping())
		;
	loop_now_update();
}

uint64_t loop_now_ms(void)
{
	return lp.ready ? lp.now : loop_clock_ms();
}

void loop_stop(void)
{
	uint64_t one = 1;
	int fd = lp.wakefd;

	atomic_store(&loop_stop_flag, true);
	/* Wakes epoll_wait when called from a signal handler or another
	 * thread; write(2) is async-signal-safe. */
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is already non-zero, we wake anyway. */
	}
}

static void loop_wake_h(int fd, int events, void *arg)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing to clear. */
	}
}

static uint32_t loop_epoll_events(int events)
{
	uint32_t ev = 0;

	if (events & LOOP_READ)
		ev |= EPOLLIN;
	if (events & LOOP_WRITE)
		ev |= EPOLLOUT;
	return ev;
}

static int loop_fd_grow(int fd)
{
	size_t n = lp.nfds ? lp.nfds : 64;
	struct loop_fd *t;

	while (n <= (size_t)fd)
		n *= 2;
	t = realloc(lp.fds, n * sizeof(*t));
	if (!t)
		return ENOMEM;
	memset(t + lp.nfds, 0, (n - lp.nfds) * sizeof(*t));
	lp.fds = t;
	lp.nfds = n;
	return 0;
}

static int loop_epoll_ctl(int op, int fd, const struct loop_fd *e)
{
	struct epoll_event ev = {
	    .events = loop_epoll_events(e->events),
	    .data.u64 = ((uint64_t)e->gen << 32) | (uint32_t)fd,
	};

	return epoll_ctl(lp.epfd, op, fd, &ev) ? errno : 0;
}

int loop_fd_listen(int fd, int events, loop_fd_h *h, void *arg)
{
	struct loop_fd *e;
	int err;

	if (!lp.ready || !h || (events & ~(LOOP_READ | LOOP_WRITE | LOOP_ERROR)))
		return EINVAL;
	if (fd < 0 || fd >= LOOP_FD_MAX)
		return EBADF;
	if ((size_t)fd >= lp.nfds) {
		err = loop_fd_grow(fd);
		if (err)
			return err;
	}
	e = &lp.fds[fd];
	events &= LOOP_READ | LOOP_WRITE;
	if (e->used) {
		int old = e->events;

		e->events = events;
		err = loop_epoll_ctl(EPOLL_CTL_MOD, fd, e);
		if (err != ENOENT) {
			if (err) {
				e->events = old;
				return err;
			}
			e->h = h;
			e->arg = arg;
			return 0;
		}
		/* The fd was closed without loop_fd_close() and the number
		 * reused: register it afresh under a new generation. */
	}
	e->gen++;
	e->events = events;
	err = loop_epoll_ctl(EPOLL_CTL_ADD, fd, e);
	if (err) {
		e->used = false;
		return err;
	}
	e->h = h;
	e->arg = arg;
	e->used = true;
	return 0;
}

int loop_fd_modify(int fd, int events)
{
	struct loop_fd *e;
	int old, err;

	if (!lp.ready || (events & ~(LOOP_READ | LOOP_WRITE | LOOP_ERROR)))
		return EINVAL;
	if (fd < 0 || (size_t)fd >= lp.nfds || !lp.fds[fd].used)
		return ENOENT;
	e = &lp.fds[fd];
	old = e->events;
	e->events = events & (LOOP_READ | LOOP_WRITE);
	err = loop_epoll_ctl(EPOLL_CTL_MOD, fd, e);
	if (err)
		e->events = old;
	return err;
}

void loop_fd_close(int fd)
{
	struct loop_fd *e;

	if (!lp.ready || fd < 0 || (size_t)fd >= lp.nfds || !lp.fds[fd].used)
		return;
	e = &lp.fds[fd];
	e->used = false;
	e->gen++; /* events already fetched for this fd no longer match */
	e->h = NULL;
	e->arg = NULL;
	/* EBADF/ENOENT when the caller already closed it: nothing to undo. */
	epoll_ctl(lp.epfd, EPOLL_CTL_DEL, fd, NULL);
}

int loop_before_sleep_add(void (*h)(void *arg), void *arg)
{
	if (!h)
		return EINVAL;
	if (lp.nhooks == lp.hooks_cap) {
		size_t n = lp.hooks_cap ? lp.hooks_cap * 2 : 8;
		struct loop_hook *t = realloc(lp.hooks, n * sizeof(*t));

		if (!t)
			return ENOMEM;
		lp.hooks = t;
		lp.hooks_cap = n;
	}
	lp.hooks[lp.nhooks].h = h;
	lp.hooks[lp.nhooks].arg = arg;
	lp.nhooks++;
	return 0;
}

static void loop_hooks_compact(void)
{
	size_t j = 0;

	for (size_t i = 0; i < lp.nhooks; i++) {
		if (lp.hooks[i].h)
			lp.hooks[j++] = lp.hooks[i];
	}
	lp.nhooks = j;
	lp.hooks_dirty = false;
}

void loop_before_sleep_remove(void (*h)(void *arg), void *arg)
{
	for (size_t i = 0; i < lp.nhooks; i++) {
		if (lp.hooks[i].h == h && lp.hooks[i].arg == arg) {
			lp.hooks[i].h = NULL;
			lp.hooks_dirty = true;
			break;
		}
	}
	if (lp.hooks_dirty && !lp.hooks_running)
		loop_hooks_compact();
}

static void loop_hooks_run(void)
{
	/* Hooks added by a hook run from the next iteration on. */
	size_t n = lp.nhooks;

	lp.hooks_running = true;
	for (size_t i = 0; i < n; i++) {
		void (*h)(void *arg) = lp.hooks[i].h;

		if (h)
			h(lp.hooks[i].arg);
	}
	lp.hooks_running = false;
	if (lp.hooks_dirty)
		loop_hooks_compact();
}

static void loop_dispatch(const struct epoll_event *evs, int n)
{
	for (int i = 0; i < n && !loop_stopping(); i++) {
		int fd = (int)(uint32_t)evs[i].data.u64;
		uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
		uint32_t ev = evs[i].events;
		struct loop_fd *e;
		int events = 0;

		if ((size_t)fd >= lp.nfds)
			continue;
		e = &lp.fds[fd];
		if (!e->used || e->gen != gen)
			continue; /* closed by an earlier handler of this batch */
		if (ev & EPOLLIN)
			events |= LOOP_READ;
		if (ev & EPOLLOUT)
			events |= LOOP_WRITE;
		/* Interest may have changed since the batch was fetched. */
		events &= e->events;
		if (ev & (EPOLLERR | EPOLLHUP))
			events |= LOOP_ERROR;
		if (events)
			e->h(fd, events, e->arg); /* e may move: not used after */
	}
}

int loop_run(void)
{
	struct epoll_event evs[LOOP_BATCH];
	int err = 0;

	if (!lp.ready)
		return EINVAL;
	if (lp.running)
		return EALREADY;
	lp.running = true;
	loop_now_update();
	while (!loop_stopping()) {
		uint64_t wait_ns, wake_ns;
		int n, timeout;

		loop_timer_expire(lp.now);
		if (loop_stopping())
			break;
		loop_hooks_run();
		if (loop_stopping())
			break;
		if (lp.nap_until_ns) {
			/* the batch's answers are out; timers due meanwhile
			 * run first when it ends */
			loop_nap();
			continue;
		}
		timeout = loop_timer_arm(lp.now);
		wait_ns = loop_clock_ns();
		n = epoll_wait(lp.epfd, evs, LOOP_BATCH, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
				  "loop: epoll_wait: %s", strerror(err));
			break;
		}
		wake_ns = loop_now_update_ns();
		lp.wakeups++;
		lp.nap_until_ns =
		    loop_nap_plan(&lp.wait_avg_ns, wait_ns, wake_ns, n, lp.nap_ns);
		loop_dispatch(evs, n);
	}
	lp.nap_until_ns = 0;
	atomic_store(&loop_stop_flag, false);
	lp.running = false;
	return err;
}

int loop_init(void)
{
	int err;

	if (lp.ready)
		return EALREADY;
	lp.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (lp.epfd < 0)
		return errno;
	lp.wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (lp.wakefd < 0) {
		err = errno;
		goto out;
	}
	lp.ready = true;
	loop_now_update();
	err = loop_fd_listen(lp.wakefd, LOOP_READ, loop_wake_h, NULL);
	if (err)
		goto out;
	err = loop_timer_init();
out:
	if (err)
		loop_close();
	return err;
}

void loop_close(void)
{
	if (lp.epfd < 0)
		return;
	/* Workers first: their done handlers may still use timers and fds. */
	loop_work_close();
	loop_signal_close();
	loop_timer_close();
	if (lp.wakefd >= 0) {
		loop_fd_close(lp.wakefd);
		close(lp.wakefd);
		lp.wakefd = -1;
	}
	close(lp.epfd);
	lp.epfd = -1;
	lp.ready = false;
	free(lp.fds);
	lp.fds = NULL;
	lp.nfds = 0;
	free(lp.hooks);
	lp.hooks = NULL;
	lp.nhooks = lp.hooks_cap = 0;
	lp.hooks_dirty = false;
	lp.nap_ns = lp.wait_avg_ns = LOOP_NAP_US_DEFAULT * 1000ull;
	lp.nap_until_ns = lp.wakeups = lp.naps = 0;
	atomic_store(&loop_stop_flag, false);
}
