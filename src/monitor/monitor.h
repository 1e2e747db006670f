/*
 * monitor — the command line monitor (manual §7).
 *
 * Commands come from a table that each service extends with
 * monitor_cmds_register(). When stdin is a terminal the monitor shows a
 * prompt with line editing and history (libedit); otherwise it reads
 * commands line by line. End of input on stdin stops the monitor, not the
 * server: `quit` or SIGTERM does that.
 *
 * monitor_exec() runs one command line and writes its output to a buffer, so
 * that tests and the remote API can drive the same commands.
 */
#ifndef MONITOR_MONITOR_H
#define MONITOR_MONITOR_H

#include <stdbool.h>
#include <stddef.h>

struct mbuf;

#define MONITOR_MAX_ARGS 32
#define MONITOR_MAX_LINE 4096

/* Returns 0, or an errno value; the handler writes any error text to out. */
typedef int (monitor_cmd_h)(int argc, char **argv, struct mbuf *out, void *arg);

struct monitor_cmd {
	const char *name;
	const char *usage;   /* arguments, e.g. "[log_options]" */
	const char *summary; /* one line for `help` */
	const char *help;    /* detailed text for `help CMD` */
	monitor_cmd_h *h;
	void *arg;
};

struct monitor_prm {
	const char *prompt;       /* "(ims) " when NULL */
	void (*quit_h)(void *arg); /* what `quit` does */
	void *quit_arg;
	int in_fd;                /* usually 0 */
	int out_fd;               /* usually 1 */
};

int monitor_init(void);
void monitor_close(void);
/* The table is borrowed and must outlive the monitor. */
int monitor_cmds_register(const struct monitor_cmd *cmds, size_t n);
/* Starts reading commands from prm->in_fd on the event loop. */
int monitor_start(const struct monitor_prm *prm);
/* Runs one command line; EINVAL for an unknown command (message in out).
 * The answer is complete: parts a handler left for later (monitor_more)
 * are produced before it returns. */
int monitor_exec(const char *line, struct mbuf *out);

/*
 * A long answer in parts: the handler writes the first part to out and
 * calls monitor_more(h, arg) before it returns. The monitor then calls
 * h(out, arg) from the loop, one part at a time, as the console takes the
 * text, until h returns false; SIP is served in between. h(NULL, arg)
 * means the answer is abandoned (the monitor closes): free arg. One
 * continuation per command.
 */
typedef bool(monitor_more_h)(struct mbuf *out, void *arg);
void monitor_more(monitor_more_h *h, void *arg);
/* Splits a line into words ("quoted words" allowed); ENOSPC past max. */
int monitor_split(char *line, char **argv, int max, int *argc);

#endif
