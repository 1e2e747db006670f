/*
 * monitor_console — the command line monitor on stdin (monitor_console.h).
 *
 * Terminal input goes through libedit's callback interface so that the
 * prompt lives on the event loop next to the SIP sockets; other input is
 * read in chunks and split on newlines, bounded by MONITOR_MAX_LINE.
 *
 * Answers never block the loop (core/nbfd): a console nobody reads, or a
 * slow pipe, would otherwise stop SIP for as long as it takes to take a
 * `users` listing of a million users. What the output does not take waits
 * in a buffer written as the descriptor becomes writable; meanwhile no
 * input is read (and the prompt waits), so at most one command's answer
 * waits. A long answer's next part (struct monitor_ans) is made from a
 * zero-delay timer once the last part went out. At close the rest gets
 * MONITOR_CONSOLE_CLOSE_WAIT_MS to go. An output that is gone (EPIPE...)
 * drops it.
 */
#include "monitor/monitor_console.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

#include "core/log.h"
#include "core/mbuf.h"
#include "core/nbfd.h"
#include "loop/loop.h"
#include "monitor/monitor.h"

/* One answer's bound: `users` on a million users is about 100 MB. */
#define MONITOR_ANSWER_MAX ((size_t)1 << 30)

struct monitor_console {
	struct monitor *mon; /* borrowed */
	const char *prompt;
	int in_fd;
	bool started;
	bool tty;
	char line[MONITOR_MAX_LINE]; /* partial line (non-terminal input) */
	size_t line_len;
	bool line_overflow;
	struct nbfd out;  /* out_fd, written without blocking */
	struct mbuf pend; /* answer text the output has not taken yet */
	size_t pend_off;  /* how much of pend went out */
	bool out_watched; /* out.fd registered for LOOP_WRITE */
	bool in_paused;	  /* input not read until pend drains */
	bool prompt_due;  /* libedit's prompt waits for pend to drain */
	char saved[4096]; /* input lines read but not run while pend drains */
	size_t saved_len;
	struct monitor_ans ans;	     /* the answer's parts still to make */
	struct loop_timer *more_tmr; /* owned: makes the next part */
};

/* The terminal console: libedit's line callback takes no argument. */
static struct monitor_console *rl_console;

static void console_stdin_h(int fd, int events, void *arg);
static void console_rl_line_h(char *line);
static void out_writable_h(int fd, int events, void *arg);
static void more_step_h(void *arg);
static void console_pipe_feed(struct monitor_console *c, const char *chunk, size_t n);

static bool out_pending(const struct monitor_console *c)
{
	return c->pend_off < c->pend.end;
}

/* An answer is still going out: its text waits, or it has parts to come. */
static bool busy(const struct monitor_console *c)
{
	return out_pending(c) || c->ans.more_h;
}

static void in_pause(struct monitor_console *c)
{
	if (c->started && !c->in_paused) {
		loop_fd_close(c->in_fd);
		c->in_paused = true;
	}
}

/* Writes what it can of pend; true when it is empty (or the output gone). */
static bool out_push(struct monitor_console *c)
{
	while (out_pending(c)) {
		ssize_t n = nbfd_write(&c->out, c->pend.buf + c->pend_off,
				       c->pend.end - c->pend_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return false;
		if (n <= 0) {
			c->pend_off = c->pend.end; /* output gone: nothing to keep */
			break;
		}
		c->pend_off += (size_t)n;
	}
	mbuf_reset(&c->pend);
	c->pend_off = 0;
	return true;
}

/* After a write: while text waits, watch the output and hold the input. */
static void out_settle(struct monitor_console *c)
{
	if (out_pending(c)) {
		if (!c->out_watched &&
		    !loop_fd_listen(c->out.fd, LOOP_WRITE, out_writable_h, c))
			c->out_watched = true;
		in_pause(c);
		return;
	}
	if (c->out_watched) {
		loop_fd_close(c->out.fd);
		c->out_watched = false;
	}
}

static void prompt_show(struct monitor_console *c)
{
	rl_callback_handler_install(c->prompt, console_rl_line_h);
	fflush(rl_outstream ? rl_outstream : stdout);
}

/* The answer has gone: the lines read meanwhile, then input and prompt. */
static void console_resume(struct monitor_console *c)
{
	if (c->saved_len) {
		char buf[sizeof(c->saved)];
		size_t n = c->saved_len;

		memcpy(buf, c->saved, n);
		c->saved_len = 0;
		console_pipe_feed(c, buf, n);
		if (busy(c) || !c->started)
			return;
	}
	if (c->in_paused && !loop_fd_listen(c->in_fd, LOOP_READ, console_stdin_h, c))
		c->in_paused = false;
	if (c->prompt_due) {
		c->prompt_due = false;
		prompt_show(c);
	}
}

static void more_kick(struct monitor_console *c)
{
	loop_timer_start(c->more_tmr, 0, more_step_h, c);
}

/* The console took everything: the next part of the answer, or input. */
static void out_drained(struct monitor_console *c)
{
	if (c->ans.more_h)
		more_kick(c);
	else if (c->started)
		console_resume(c);
}

static void out_writable_h(int fd, int events, void *arg)
{
	struct monitor_console *c = arg;

	(void)fd;
	(void)events;
	out_push(c);
	out_settle(c);
	if (!out_pending(c))
		out_drained(c);
}

static void console_write_all(struct monitor_console *c, const void *data, size_t len)
{
	const char *p = data;

	while (len && !out_pending(c)) {
		ssize_t n = nbfd_write(&c->out, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0)
			return; /* output gone: nothing useful left to do */
		p += n;
		len -= (size_t)n;
	}
	if (len && mbuf_write(&c->pend, p, len))
		log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
			  "monitor: no memory to keep %zu bytes of an answer", len);
	out_settle(c);
}

/* One part of a long answer, from the loop, once the last part went out. */
static void more_step_h(void *arg)
{
	struct monitor_console *c = arg;
	struct mbuf part;

	if (!c->ans.more_h || out_pending(c))
		return; /* out_drained comes back */
	mbuf_init(&part, MONITOR_ANSWER_MAX);
	monitor_ans_next(&c->ans, &part);
	if (part.end)
		console_write_all(c, part.buf, part.end);
	mbuf_reset(&part);
	if (!out_pending(c))
		out_drained(c);
}

static void console_run_line(struct monitor_console *c, const char *line)
{
	struct mbuf out;

	mbuf_init(&out, MONITOR_ANSWER_MAX);
	monitor_run(c->mon, line, &out, &c->ans);
	if (out.end)
		console_write_all(c, out.buf, out.end);
	mbuf_reset(&out);
	if (c->ans.more_h) {
		/* parts to come: no input until the last is out */
		in_pause(c);
		if (!out_pending(c))
			more_kick(c);
	}
}

static void console_stdin_close(struct monitor_console *c)
{
	if (!c->in_paused)
		loop_fd_close(c->in_fd);
	if (c->tty)
		rl_callback_handler_remove();
	c->started = false;
}

static void console_rl_line_h(char *line)
{
	struct monitor_console *c = rl_console;

	if (!c) {
		free(line);
		return;
	}
	if (!line) {
		/* Ctrl-D: stop reading, keep the server running */
		console_write_all(c, "\n", 1);
		console_stdin_close(c);
		return;
	}
	if (*line)
		add_history(line);
	console_run_line(c, line);
	free(line);
	/* libedit leaves callback mode after delivering a line (its next
	 * el_gets would block for a whole line): re-arm it, which also shows
	 * the prompt again — after the answer, if that still waits. */
	if (!c->started)
		return;
	if (busy(c)) {
		c->prompt_due = true;
		return;
	}
	prompt_show(c);
}

/* Runs the complete lines of chunk; the rest of a line waits in c->line.
 * When an answer cannot go at once, the lines after it wait in c->saved. */
static void console_pipe_feed(struct monitor_console *c, const char *chunk, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (chunk[i] != '\n') {
			if (c->line_len < sizeof(c->line) - 1)
				c->line[c->line_len++] = chunk[i];
			else
				c->line_overflow = true;
			continue;
		}
		c->line[c->line_len] = '\0';
		if (c->line_overflow) {
			char msg[96];
			int m = snprintf(msg, sizeof(msg),
					 "Error: command line too long (max %d bytes)\n",
					 MONITOR_MAX_LINE - 1);
			console_write_all(c, msg, (size_t)m);
		} else {
			console_run_line(c, c->line);
		}
		c->line_len = 0;
		c->line_overflow = false;
		if (!c->started)
			return;
		if (busy(c)) {
			memcpy(c->saved, chunk + i + 1, n - i - 1);
			c->saved_len = n - i - 1;
			return;
		}
	}
}

static void console_pipe_read(struct monitor_console *c)
{
	char chunk[sizeof(c->saved)];
	ssize_t n = read(c->in_fd, chunk, sizeof(chunk));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		if (c->line_len && !c->line_overflow) {
			c->line[c->line_len] = '\0';
			console_run_line(c, c->line);
		}
		c->line_len = 0;
		console_stdin_close(c);
		return;
	}
	console_pipe_feed(c, chunk, (size_t)n);
}

static void console_stdin_h(int fd, int events, void *arg)
{
	struct monitor_console *c = arg;

	(void)fd;
	if (c->tty && (events & LOOP_READ)) {
		rl_callback_read_char();
		return;
	}
	if (events & (LOOP_READ | LOOP_ERROR))
		console_pipe_read(c);
}

int monitor_console_alloc(struct monitor_console **cp,
			  const struct monitor_console_prm *prm)
{
	struct monitor_console *c;
	int err;

	if (!cp || !prm || !prm->mon)
		return EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	c->mon = prm->mon;
	c->prompt = prm->prompt ? prm->prompt : "(ims) ";
	c->in_fd = prm->in_fd;
	c->tty = isatty(prm->in_fd) && prm->in_fd == 0;
	mbuf_init(&c->pend, MONITOR_ANSWER_MAX);
	nbfd_open(&c->out, prm->out_fd);
	c->more_tmr = loop_timer_alloc();
	if (!c->more_tmr) {
		err = ENOMEM;
		goto out;
	}
	if (c->tty && rl_console) {
		err = EBUSY;
		goto out;
	}
	err = loop_fd_listen(c->in_fd, LOOP_READ, console_stdin_h, c);
	if (err)
		goto out;
	c->started = true;
	if (c->tty) {
		rl_console = c;
		using_history();
		prompt_show(c);
	}
	*cp = c;
out:
	if (err) {
		c->tty = false;
		monitor_console_free(c);
	}
	return err;
}

void monitor_console_free(struct monitor_console *c)
{
	if (!c)
		return;
	if (c->started)
		console_stdin_close(c);
	if (rl_console == c)
		rl_console = NULL;
	monitor_ans_drop(&c->ans);
	loop_timer_free(c->more_tmr);
	for (int waited = 0; out_pending(c) && waited < MONITOR_CONSOLE_CLOSE_WAIT_MS;
	     waited += 10) {
		struct pollfd pfd = {.fd = c->out.fd, .events = POLLOUT};

		if (out_push(c))
			break;
		if (poll(&pfd, 1, 10) < 0 && errno != EINTR)
			break;
	}
	mbuf_reset(&c->pend);
	if (c->out_watched)
		loop_fd_close(c->out.fd);
	if (c->out.mode != NBFD_UNSET)
		nbfd_close(&c->out);
	free(c);
}
