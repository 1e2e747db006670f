/*
 * A small private implementation of the loop/loop.h functions the net tests
 * need (fds, timers, before-sleep hooks), so net/ can be tested before the
 * real loop is merged. Level-triggered epoll; timers on a plain list (O(n),
 * fine for tests). Signals and worker jobs are left out (net uses neither).
 * Linked into the net unit tests only, never into libimsd.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "loop/loop.h"

#define TL_HOOKS 16
#define TL_EVENTS 64

struct loop_timer {
	uint64_t due;
	loop_timer_h *h;
	void *arg;
	bool pending;
	struct loop_timer *next, *prev;
};

struct tl_fd {
	loop_fd_h *h;
	void *arg;
	uint32_t gen;
	bool used;
};

static struct {
	int epfd;
	bool stop;
	uint64_t now;
	struct tl_fd *fds;
	size_t nfds;
	uint32_t gen;
	struct {
		void (*h)(void *arg);
		void *arg;
	} hooks[TL_HOOKS];
	size_t nhooks;
	struct loop_timer *timers;
	size_t ntimers;
} tl = {.epfd = -1};

static uint64_t clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int loop_init(void)
{
	tl.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (tl.epfd < 0)
		return errno;
	tl.now = clock_ms();
	tl.stop = false;
	return 0;
}

void loop_close(void)
{
	while (tl.timers)
		loop_timer_cancel(tl.timers);
	if (tl.epfd >= 0)
		close(tl.epfd);
	tl.epfd = -1;
	free(tl.fds);
	tl.fds = NULL;
	tl.nfds = 0;
	tl.nhooks = 0;
}

void loop_stop(void)
{
	tl.stop = true;
}

uint64_t loop_now_ms(void)
{
	return tl.now;
}

int loop_before_sleep_add(void (*h)(void *arg), void *arg)
{
	if (tl.nhooks == TL_HOOKS)
		return ENOSPC;
	tl.hooks[tl.nhooks].h = h;
	tl.hooks[tl.nhooks].arg = arg;
	tl.nhooks++;
	return 0;
}

static uint32_t to_epoll(int events)
{
	return (events & LOOP_READ ? EPOLLIN : 0) | (events & LOOP_WRITE ? EPOLLOUT : 0);
}

int loop_fd_listen(int fd, int events, loop_fd_h *h, void *arg)
{
	struct epoll_event ev = {.events = to_epoll(events)};

	if (fd < 0 || !h)
		return EINVAL;
	if ((size_t)fd >= tl.nfds) {
		size_t n = (size_t)fd + 64;
		struct tl_fd *nf = realloc(tl.fds, n * sizeof(*nf));

		if (!nf)
			return ENOMEM;
		memset(nf + tl.nfds, 0, (n - tl.nfds) * sizeof(*nf));
		tl.fds = nf;
		tl.nfds = n;
	}
	if (tl.fds[fd].used)
		return EEXIST;
	tl.fds[fd] = (struct tl_fd){.h = h, .arg = arg, .gen = ++tl.gen, .used = true};
	ev.data.u64 = (uint64_t)tl.fds[fd].gen << 32 | (uint32_t)fd;
	if (epoll_ctl(tl.epfd, EPOLL_CTL_ADD, fd, &ev)) {
		tl.fds[fd].used = false;
		return errno;
	}
	return 0;
}

int loop_fd_modify(int fd, int events)
{
	struct epoll_event ev = {.events = to_epoll(events)};

	if (fd < 0 || (size_t)fd >= tl.nfds || !tl.fds[fd].used)
		return ENOENT;
	ev.data.u64 = (uint64_t)tl.fds[fd].gen << 32 | (uint32_t)fd;
	return epoll_ctl(tl.epfd, EPOLL_CTL_MOD, fd, &ev) ? errno : 0;
}

void loop_fd_close(int fd)
{
	if (fd < 0 || (size_t)fd >= tl.nfds || !tl.fds[fd].used)
		return;
	tl.fds[fd].used = false;
	(void)epoll_ctl(tl.epfd, EPOLL_CTL_DEL, fd, NULL);
}

struct loop_timer *loop_timer_alloc(void)
{
	return calloc(1, sizeof(struct loop_timer));
}

void loop_timer_free(struct loop_timer *t)
{
	if (!t)
		return;
	loop_timer_cancel(t);
	free(t);
}

void loop_timer_cancel(struct loop_timer *t)
{
	if (!t || !t->pending)
		return;
	if (t->prev)
		t->prev->next = t->next;
	else
		tl.timers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->next = t->prev = NULL;
	t->pending = false;
	tl.ntimers--;
}

void loop_timer_start(struct loop_timer *t, uint64_t delay_ms, loop_timer_h *h, void *arg)
{
	loop_timer_cancel(t);
	t->due = tl.now + delay_ms;
	t->h = h;
	t->arg = arg;
	t->pending = true;
	t->prev = NULL;
	t->next = tl.timers;
	if (tl.timers)
		tl.timers->prev = t;
	tl.timers = t;
	tl.ntimers++;
}

bool loop_timer_pending(const struct loop_timer *t)
{
	return t->pending;
}

uint64_t loop_timer_remaining(const struct loop_timer *t)
{
	if (!t->pending)
		return 0;
	return t->due > tl.now ? t->due - tl.now : 0;
}

size_t loop_timer_count(void)
{
	return tl.ntimers;
}

static struct loop_timer *timer_next(void)
{
	struct loop_timer *best = NULL;

	for (struct loop_timer *t = tl.timers; t; t = t->next) {
		if (!best || t->due < best->due)
			best = t;
	}
	return best;
}

static void timers_run(void)
{
	struct loop_timer *t;

	while (!tl.stop && (t = timer_next()) && t->due <= tl.now) {
		loop_timer_cancel(t);
		t->h(t->arg);
	}
}

static void events_run(const struct epoll_event *evs, int n)
{
	for (int i = 0; i < n; i++) {
		int fd = (int)(uint32_t)evs[i].data.u64;
		uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
		int ev = 0;

		/* Skip events for fds closed (or reused) by an earlier
		 * handler in this batch. */
		if ((size_t)fd >= tl.nfds || !tl.fds[fd].used || tl.fds[fd].gen != gen)
			continue;
		if (evs[i].events & EPOLLIN)
			ev |= LOOP_READ;
		if (evs[i].events & EPOLLOUT)
			ev |= LOOP_WRITE;
		if (evs[i].events & (EPOLLERR | EPOLLHUP))
			ev |= LOOP_ERROR;
		tl.fds[fd].h(fd, ev, tl.fds[fd].arg);
	}
}

int loop_run(void)
{
	struct epoll_event evs[TL_EVENTS];
	struct loop_timer *t;
	int n, timeout;

	while (!tl.stop) {
		for (size_t i = 0; i < tl.nhooks; i++)
			tl.hooks[i].h(tl.hooks[i].arg);
		t = timer_next();
		timeout = -1;
		if (t)
			timeout = t->due > tl.now ? (int)(t->due - tl.now) : 0;
		n = epoll_wait(tl.epfd, evs, TL_EVENTS, timeout);
		if (n < 0 && errno != EINTR)
			return errno;
		tl.now = clock_ms();
		if (n > 0)
			events_run(evs, n);
		timers_run();
	}
	tl.stop = false;
	return 0;
}
