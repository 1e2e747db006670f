/*
 * monitor_console — the command line monitor on a descriptor (manual §7):
 * one client of a struct monitor (monitor.h).
 *
 * When in_fd is the standard input and a terminal, the console shows a
 * prompt with line editing and history (libedit); otherwise it reads
 * commands line by line. End of input stops the console, not the server:
 * `quit` (the monitor's quit_h) or SIGTERM does that. Answers never block
 * the loop: what out_fd does not take waits, and the next part of a long
 * answer is made once the last went out.
 *
 * libedit's callback interface is process-wide: one terminal console per
 * process (EBUSY for a second one).
 *
 * Ownership: the console borrows the monitor, which must outlive it.
 * Everything runs on the loop thread.
 */
#ifndef MONITOR_MONITOR_CONSOLE_H
#define MONITOR_MONITOR_CONSOLE_H

struct monitor;
struct monitor_console;

struct monitor_console_prm {
	struct monitor *mon; /* borrowed */
	const char *prompt;  /* "(ims) " when NULL */
	int in_fd;	     /* usually 0 */
	int out_fd;	     /* usually 1 */
};

/* Starts reading commands from prm->in_fd on the event loop. */
int monitor_console_alloc(struct monitor_console **cp,
			  const struct monitor_console_prm *prm);
/* Stops reading, drops an answer whose parts are not all made, and gives
 * the text still waiting up to MONITOR_CONSOLE_CLOSE_WAIT_MS to go. */
void monitor_console_free(struct monitor_console *c);

#define MONITOR_CONSOLE_CLOSE_WAIT_MS 2000

#endif
