/*
 * loop — the signalling thread's event loop.
 *
 * One epoll instance drives file descriptors, timers, signals and the
 * completions of worker jobs. Everything registered here runs on the loop
 * thread; only worker job functions run elsewhere.
 *
 * Timers are kept so that a million pending entries cost O(log n) or better
 * to add and remove, and the loop sleeps exactly until the next one is due.
 * Times are milliseconds on CLOCK_MONOTONIC (loop_now_ms()).
 */
#ifndef LOOP_LOOP_H
#define LOOP_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- loop ---- */

int loop_init(void);           /* once, on the signalling thread */
void loop_close(void);         /* frees what the loop owns */
int loop_run(void);            /* returns after loop_stop(); 0 = ok */
void loop_stop(void);          /* callable from handlers and signal paths */
uint64_t loop_now_ms(void);    /* monotonic, cached per loop iteration */
/* Calls h(arg) once before each sleep, e.g. to flush batched writes. */
int loop_before_sleep_add(void (*h)(void *arg), void *arg);
/* Removes the first hook registered with this h and arg (safe from a hook). */
void loop_before_sleep_remove(void (*h)(void *arg), void *arg);
/* Re-reads the clock now, e.g. after long blocking start-up work, so that
 * timers started next are not measured from a stale time. */
void loop_now_update(void);
/* Naps (docs/loop.md): when busy, the loop sleeps up to `us` after a
 * wake-up so that the next one takes a batch. Default 500 us; 0 turns
 * them off; EINVAL above 100000. Until loop_close. */
int loop_nap_set(unsigned us);
/* Since loop_init (loop_close zeroes them): epoll_wait returns, naps. */
void loop_counts(uint64_t *wakeups, uint64_t *naps);

/* ---- file descriptors ---- */

enum {
	LOOP_READ = 1 << 0,
	LOOP_WRITE = 1 << 1,
	LOOP_ERROR = 1 << 2, /* EPOLLERR or EPOLLHUP (delivered, not requested) */
};

typedef void (loop_fd_h)(int fd, int events, void *arg);

/* Level-triggered: a handler is called again on the next iteration while
 * the fd stays readable (writable). Listening again on a watched fd
 * replaces its handler. Errors: EINVAL (bad events/handler, no loop),
 * EBADF, ENOMEM, or epoll_ctl's errno. */
int loop_fd_listen(int fd, int events, loop_fd_h *h, void *arg);
int loop_fd_modify(int fd, int events); /* same handler, new interest */
/* Call before close(fd). Events of fd still pending in the batch being
 * dispatched are dropped, even if the number is reused at once. */
void loop_fd_close(int fd); /* stops watching; does not close(fd) */

/* ---- timers ---- */

struct loop_timer; /* opaque; embed nothing, allocate with loop_timer_alloc */

typedef void (loop_timer_h)(void *arg);

/* A timer object is reusable: start, cancel, restart any number of times.
 * A timer started with a delay of at least LOOP_TIMER_SLACK_MIN_DELAY ms
 * may fire up to min(delay / 64, LOOP_TIMER_SLACK_MAX) ms late, so that
 * expiries close together share one wake-up; shorter delays are exact to
 * the millisecond. */
enum {
	LOOP_TIMER_SLACK_MIN_DELAY = 1000,
	LOOP_TIMER_SLACK_MAX = 50,
};

struct loop_timer *loop_timer_alloc(void);
void loop_timer_free(struct loop_timer *t); /* cancels first */
void loop_timer_start(struct loop_timer *t, uint64_t delay_ms,
		      loop_timer_h *h, void *arg);
void loop_timer_cancel(struct loop_timer *t);
bool loop_timer_pending(const struct loop_timer *t);
uint64_t loop_timer_remaining(const struct loop_timer *t); /* 0 if idle */
size_t loop_timer_count(void); /* pending timers */

/* ---- signals ---- */

typedef void (loop_signal_h)(int signo, void *arg);

/* Blocks signo for the process and delivers it through the loop. */
int loop_signal_add(int signo, loop_signal_h *h, void *arg);
/* Blocking is per thread and inherited by threads created later: add the
 * signals before starting any thread (workers block all signals anyway).
 * Adding a signal again replaces its handler. EINVAL for SIGKILL, SIGSTOP
 * or a number out of range. */

/* ---- worker jobs ---- */

/* work(arg) runs on a worker thread and must not touch loop state;
 * done(err, arg) then runs on the loop thread with work's return value. */
typedef int (loop_work_h)(void *arg);
typedef void (loop_done_h)(int err, void *arg);

int loop_work_start(unsigned nthreads); /* 0 = number of CPUs */
/* EAGAIN when queue_max jobs are outstanding (posted and whose done has
 * not run yet); EINVAL before loop_work_start; ESHUTDOWN while closing.
 * done may be NULL. At loop_close, jobs not yet run get done(ECANCELED). */
int loop_work_post(loop_work_h *work, loop_done_h *done, void *arg);

enum {
	LOOP_WORK_QUEUE_DEFAULT = 4096,
	LOOP_WORK_QUEUE_MAX = 1 << 20,
	LOOP_WORK_THREADS_MAX = 256,
};

struct loop_work_prm {
	unsigned nthreads; /* 0 = number of CPUs, at most LOOP_WORK_THREADS_MAX */
	size_t queue_max;  /* 0 = LOOP_WORK_QUEUE_DEFAULT */
};

int loop_work_start_prm(const struct loop_work_prm *prm);

#endif
