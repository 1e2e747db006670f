/*
 * store_job — a service's transaction run on a worker (store_job.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "core/mem.h"
#include "loop/loop.h"
#include "store/store.h"
#include "store/store_job.h"

int store_job_init(struct store_job *j, const struct store_job_ops *ops, void *owner,
		   struct store *st, struct sqlite3_stmt *const *stmts, unsigned nstmts)
{
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	j->ops = ops;
	j->owner = owner;
	j->st = mem_ref(st);
	j->stmts = stmts;
	j->nstmts = nstmts;
	return store_batch_alloc(&j->b);
}

void store_job_free(struct store_job *j)
{
	if (!j)
		return;
	if (j->ops && j->ops->destroy)
		j->ops->destroy(j);
	store_batch_free(j->b);
	mem_deref(j->st);
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cv);
	free(j);
}

static int job_work_h(void *arg)
{
	struct store_job *j = arg;
	int result = store_batch_exec(j->st, j->stmts, j->nstmts, j->b, j->err, sizeof(j->err));

	pthread_mutex_lock(&j->mu);
	j->result = result;
	j->finished = true;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	return result;
}

static void job_done_h(int err, void *arg)
{
	struct store_job *j = arg;

	if (j->owner) {
		/* the pool ran done without work: shutdown */
		if (err == ECANCELED && !j->finished) {
			j->result = ECANCELED;
			snprintf(j->err, sizeof(j->err), "cancelled at shutdown");
		}
		j->ops->done(j);
	}
	store_job_free(j);
}

int store_job_post(struct store_job *j)
{
	return loop_work_post(job_work_h, job_done_h, j);
}

int store_job_run(struct store_job *j)
{
	return job_work_h(j);
}

void store_job_wait(struct store_job *j)
{
	pthread_mutex_lock(&j->mu);
	while (!j->finished)
		pthread_cond_wait(&j->cv, &j->mu);
	pthread_mutex_unlock(&j->mu);
}

void store_job_abandon(struct store_job *j)
{
	j->owner = NULL;
}
