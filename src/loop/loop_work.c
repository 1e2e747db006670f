/*
 * loop_work — a pthread pool for blocking or heavy jobs (database writes,
 * key derivation, DNS), with completions handed back to the loop thread.
 *
 * Jobs come from a pool of queue_max slots allocated at start, so posting
 * never allocates and the backlog is bounded: a slot is taken at
 * loop_work_post() and given back just before its done handler runs on
 * the loop thread (so done may post again). When no slot is free, post
 * fails with EAGAIN and the caller decides (reject, retry later).
 *
 * Workers take jobs FIFO from `queue`, run them, and append them to `done`;
 * the worker that makes `done` non-empty writes the eventfd once, and the
 * loop thread, woken by it, takes the whole list. Only `mu` guards both
 * lists and the free list.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/log.h"
#include "loop/loop_int.h"

struct loop_job {
	struct loop_job *next;
	loop_work_h *work;
	loop_done_h *done;
	void *arg; /* borrowed */
	int err;
};

struct job_list {
	struct loop_job *head;
	struct loop_job **tail;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t *thr; /* owned */
	unsigned nthr;
	struct loop_job *pool; /* owned, queue_max slots */
	struct loop_job *free;
	struct job_list queue, done;
	bool started, stopping;
	int efd;
} wk = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .cv = PTHREAD_COND_INITIALIZER,
    .efd = -1,
};

static void job_list_init(struct job_list *l)
{
	l->head = NULL;
	l->tail = &l->head;
}

static void job_list_push(struct job_list *l, struct loop_job *j)
{
	j->next = NULL;
	*l->tail = j;
	l->tail = &j->next;
}

static struct loop_job *job_list_take(struct job_list *l)
{
	struct loop_job *j = l->head;

	job_list_init(l);
	return j;
}

static void *loop_work_thread(void *arg)
{
	pthread_mutex_lock(&wk.mu);
	for (;;) {
		struct loop_job *j;
		bool wake;

		while (!wk.queue.head && !wk.stopping)
			pthread_cond_wait(&wk.cv, &wk.mu);
		if (wk.stopping)
			break;
		j = wk.queue.head;
		wk.queue.head = j->next;
		if (!wk.queue.head)
			wk.queue.tail = &wk.queue.head;
		pthread_mutex_unlock(&wk.mu);

		j->err = j->work(j->arg);

		pthread_mutex_lock(&wk.mu);
		wake = wk.done.head == NULL;
		job_list_push(&wk.done, j);
		if (wake) {
			uint64_t one = 1;

			if (write(wk.efd, &one, sizeof(one)) < 0) {
				/* EAGAIN: counter already set, loop wakes. */
			}
		}
	}
	pthread_mutex_unlock(&wk.mu);
	return NULL;
}

/* Runs the done handlers of list `j`, giving each slot back first. */
static void loop_work_deliver(struct loop_job *j, int force_err)
{
	while (j) {
		struct loop_job *next = j->next;
		loop_done_h *done = j->done;
		void *arg = j->arg;
		int err = force_err ? force_err : j->err;

		pthread_mutex_lock(&wk.mu);
		j->next = wk.free;
		wk.free = j;
		pthread_mutex_unlock(&wk.mu);
		if (done)
			done(err, arg);
		j = next;
	}
}

static void loop_work_fd_h(int fd, int events, void *arg)
{
	struct loop_job *j;
	uint64_t v;

	/* Clear the counter before taking the list: a completion appended
	 * after the take writes the eventfd again and is not lost. */
	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: spurious wake-up. */
	}
	pthread_mutex_lock(&wk.mu);
	j = job_list_take(&wk.done);
	pthread_mutex_unlock(&wk.mu);
	loop_work_deliver(j, 0);
}

int loop_work_post(loop_work_h *work, loop_done_h *done, void *arg)
{
	struct loop_job *j;
	int err = 0;

	if (!work)
		return EINVAL;
	pthread_mutex_lock(&wk.mu);
	if (!wk.started) {
		err = EINVAL;
		goto out;
	}
	if (wk.stopping) {
		err = ESHUTDOWN;
		goto out;
	}
	j = wk.free;
	if (!j) {
		err = EAGAIN;
		goto out;
	}
	wk.free = j->next;
	j->work = work;
	j->done = done;
	j->arg = arg;
	j->err = 0;
	job_list_push(&wk.queue, j);
	pthread_cond_signal(&wk.cv);
out:
	pthread_mutex_unlock(&wk.mu);
	return err;
}

static void loop_work_join(void)
{
	pthread_mutex_lock(&wk.mu);
	wk.stopping = true;
	pthread_cond_broadcast(&wk.cv);
	pthread_mutex_unlock(&wk.mu);
	for (unsigned i = 0; i < wk.nthr; i++)
		pthread_join(wk.thr[i], NULL);
	wk.nthr = 0;
}

static int loop_work_spawn(unsigned n)
{
	sigset_t all, old;
	int err = 0;

	/* Workers inherit a full mask: every signal goes to the loop
	 * thread's signalfd (or its default action), never to a worker. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (wk.nthr = 0; wk.nthr < n; wk.nthr++) {
		err = pthread_create(&wk.thr[wk.nthr], NULL, loop_work_thread, NULL);
		if (err)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

int loop_work_start_prm(const struct loop_work_prm *prm)
{
	unsigned n = prm ? prm->nthreads : 0;
	size_t qmax = prm && prm->queue_max ? prm->queue_max : LOOP_WORK_QUEUE_DEFAULT;
	int err;

	if (!loop_ready() || n > LOOP_WORK_THREADS_MAX || qmax > LOOP_WORK_QUEUE_MAX)
		return EINVAL;
	if (wk.started)
		return EALREADY;
	if (n == 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);

		n = c < 1			? 1
		    : c > LOOP_WORK_THREADS_MAX ? LOOP_WORK_THREADS_MAX
						: (unsigned)c;
	}
	wk.thr = calloc(n, sizeof(*wk.thr));
	wk.pool = calloc(qmax, sizeof(*wk.pool));
	if (!wk.thr || !wk.pool) {
		err = ENOMEM;
		goto out;
	}
	wk.free = NULL;
	for (size_t i = qmax; i-- > 0;) {
		wk.pool[i].next = wk.free;
		wk.free = &wk.pool[i];
	}
	job_list_init(&wk.queue);
	job_list_init(&wk.done);
	wk.stopping = false;
	wk.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (wk.efd < 0) {
		err = errno;
		goto out;
	}
	err = loop_fd_listen(wk.efd, LOOP_READ, loop_work_fd_h, NULL);
	if (err)
		goto out;
	err = loop_work_spawn(n);
	if (err)
		goto out;
	wk.started = true;
out:
	if (err) {
		log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
			  "loop: cannot start %u workers: %s", n, strerror(err));
		loop_work_close();
	}
	return err;
}

int loop_work_start(unsigned nthreads)
{
	struct loop_work_prm prm = {.nthreads = nthreads};

	return loop_work_start_prm(&prm);
}

void loop_work_close(void)
{
	struct loop_job *done, *pending;

	loop_work_join();
	/* Hand every outstanding job back to its owner so `arg` is never
	 * leaked: finished ones with their result, the rest with
	 * ECANCELED (their work never ran). */
	pthread_mutex_lock(&wk.mu);
	done = job_list_take(&wk.done);
	pending = job_list_take(&wk.queue);
	pthread_mutex_unlock(&wk.mu);
	loop_work_deliver(done, 0);
	loop_work_deliver(pending, ECANCELED);
	if (wk.efd >= 0) {
		loop_fd_close(wk.efd);
		close(wk.efd);
		wk.efd = -1;
	}
	free(wk.thr);
	wk.thr = NULL;
	free(wk.pool);
	wk.pool = NULL;
	wk.free = NULL;
	wk.started = false;
	wk.stopping = false;
}
