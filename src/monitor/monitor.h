/*
 * monitor — the commands of the command line monitor (manual §7), served to
 * any client: the console on stdin (monitor/monitor_console.h), the tests,
 * and the remote API (manual §6) to come.
 *
 * A struct monitor is one instance: the services it reads, named in its
 * params, and one const table of commands (monitor.c) whose handlers take
 * the instance. Services only expose data (registrar_user_next(),
 * stats_sample()...); the text is made here (monitor_users.c,
 * monitor_stats.c). Nothing is process-global: two instances (two
 * registrars in a test) answer each from its own services.
 *
 * An answer is text. A long one (`users` over a million users) is made in
 * parts: monitor_run() writes the first part and leaves in struct
 * monitor_ans what makes the next; the client calls monitor_ans_next() once
 * it has sent the last part, so that the loop serves SIP in between.
 * monitor_exec() makes the whole answer at once.
 *
 * Ownership: the monitor borrows the services of its params, which must
 * outlive it; an answer in parts borrows the monitor and its services (drop
 * it with monitor_ans_drop() before they go). Everything runs on the loop
 * thread. Functions return 0 or an errno value; what the user reads about
 * an error is in the answer text.
 */
#ifndef MONITOR_MONITOR_H
#define MONITOR_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mbuf;
struct monitor;
struct registrar;
struct hss;
struct stats;
struct smsc;
struct b2bua;

#define MONITOR_MAX_ARGS 32
#define MONITOR_MAX_LINE 4096
/* Users per part of the `users` listing: about 200 KB of text, a few ms of
 * the loop. */
#define MONITOR_USERS_PART 2000u

struct monitor_prm {
	struct registrar *reg;	   /* borrowed; NULL: `users` says it is not running */
	struct hss *hss;	   /* borrowed: the registrar's; needed with reg */
	struct stats *stats;	   /* borrowed; NULL: `stats` says it is not running */
	struct smsc *sms;	   /* borrowed; NULL: `sms` says it is not running */
	struct b2bua *b2bua;	   /* borrowed; NULL: `dialog` says calls are not running */
	struct ipsec *ipsec;	   /* borrowed; NULL: `ipsec` says IPsec is not running */
	void (*quit_h)(void *arg); /* what `quit` does; NULL: nothing */
	void *quit_arg;
	uint32_t users_part; /* users per part of `users`, 0 = MONITOR_USERS_PART */
};

int monitor_alloc(struct monitor **monp, const struct monitor_prm *prm);
void monitor_free(struct monitor *mon);

/* The next part of a long answer into out; true while parts remain.
 * h(NULL, arg) means the answer is dropped: free arg. */
typedef bool(monitor_more_h)(struct mbuf *out, void *arg);

/* An answer still to be made in parts. Filled by monitor_run(); its fields
 * are the monitor's. */
struct monitor_ans {
	monitor_more_h *more_h; /* NULL: the answer is complete */
	void *more_arg;
};

/*
 * Runs one command line: its answer, or the first part of it, into out,
 * and in *ans what makes the rest (ans->more_h NULL when there is none).
 * Returns the command's result; EINVAL for an unknown command, E2BIG for a
 * line of MONITOR_MAX_LINE bytes or more (the message is in out).
 */
int monitor_run(struct monitor *mon, const char *line, struct mbuf *out,
		struct monitor_ans *ans);
/* The next part into out; true while parts remain. */
bool monitor_ans_next(struct monitor_ans *ans, struct mbuf *out);
/* Gives up an answer whose parts are not all made. */
void monitor_ans_drop(struct monitor_ans *ans);
/* monitor_run() and every part: the whole answer into out. */
int monitor_exec(struct monitor *mon, const char *line, struct mbuf *out);

/* Splits a line into words ("quoted words" allowed); ENOSPC past max,
 * EBADMSG for an unterminated quote. */
int monitor_split(char *line, char **argv, int max, int *argc);

#endif
