/*
 * store_job — one transaction of a service on its way to the state file:
 * built on the loop thread, run on a worker of the loop's pool (or on the
 * loop thread when there is no pool or the caller must wait), its outcome
 * applied on the loop thread. The registrar (registrar_store.c) and the SMS
 * store (smsc_store.c) each keep at most one job running.
 *
 * A service embeds struct store_job as the FIRST member of its own job
 * (what the commit carries: users, SMS, held answers) and gives ops:
 *   - done: on the loop thread, after a posted job ran (or was cancelled at
 *     shutdown: result ECANCELED, err "cancelled at shutdown"): the
 *     service forgets the running job, applies the outcome, re-arms;
 *   - destroy: frees the service's part of the job (not the job itself).
 * The service may stop waiting for a posted job (its flush at shutdown):
 * store_job_wait(), apply the outcome itself, then store_job_abandon();
 * the done handler run later by the loop only frees the job.
 *
 * Ownership: the job owns its batch and a reference to the store; whoever
 * holds the job frees it with store_job_free() (the loop does for a posted
 * job). Errors: errno ints.
 */
#ifndef STORE_STORE_JOB_H
#define STORE_STORE_JOB_H

#include <pthread.h>
#include <stdbool.h>

struct store;
struct store_batch;
struct sqlite3_stmt;
struct store_job;

struct store_job_ops {
	void (*done)(struct store_job *j);
	void (*destroy)(struct store_job *j);
};

struct store_job {
	const struct store_job_ops *ops;
	void *owner; /* the service's state; NULL once abandoned */
	struct store *st; /* referenced */
	struct sqlite3_stmt *const *stmts;
	unsigned nstmts;
	struct store_batch *b; /* owned */
	int result;	       /* store_batch_exec's, once finished */
	char err[256];	       /* SQLite's message of a failure */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool finished; /* under mu */
};

/* Sets up j (zeroed by the caller's calloc) with a new batch. On ENOMEM
 * j is still safe to store_job_free(). */
int store_job_init(struct store_job *j, const struct store_job_ops *ops, void *owner,
		   struct store *st, struct sqlite3_stmt *const *stmts, unsigned nstmts);
/* ops->destroy, then the common part, then free(j). NULL: nothing. */
void store_job_free(struct store_job *j);

/* Hands j to the worker pool: 0 and the loop owns j (ops->done, then
 * freed), or the loop's error (no pool, queue full) and j stays the
 * caller's. */
int store_job_post(struct store_job *j);
/* Runs j's transaction here and now; returns its result. */
int store_job_run(struct store_job *j);
/* Blocks until a posted j has run. */
void store_job_wait(struct store_job *j);
/* After store_job_wait and applying the outcome: the done handler will
 * only free j. */
void store_job_abandon(struct store_job *j);

#endif
