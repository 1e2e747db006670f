/*
 * monitor — command table, command execution and the stdin reader.
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
 * waits. At close the rest gets MONITOR_CLOSE_WAIT_MS to go. An output
 * that is gone (EPIPE...) drops it.
 */
#include "monitor/monitor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

#include "core/log.h"
#include "core/mbuf.h"
#include "core/nbfd.h"
#include "loop/loop.h"

#include <poll.h>

#define MONITOR_MAX_TABLES 32
#define MONITOR_CLOSE_WAIT_MS 2000
/* One answer's bound: `users` on a million users is about 100 MB. */
#define MONITOR_ANSWER_MAX ((size_t)1 << 30)

struct monitor_table {
	const struct monitor_cmd *cmds; /* borrowed */
	size_t n;
};

static struct {
	struct monitor_table tables[MONITOR_MAX_TABLES];
	size_t ntables;
	struct monitor_prm prm;
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
	monitor_more_h *more_h; /* the answer's next part (monitor_more) */
	void *more_arg;
	struct loop_timer *more_tmr;
} mon;

static const struct monitor_cmd *monitor_cmd_find(const char *name)
{
	for (size_t t = 0; t < mon.ntables; t++) {
		for (size_t i = 0; i < mon.tables[t].n; i++) {
			if (!strcmp(mon.tables[t].cmds[i].name, name))
				return &mon.tables[t].cmds[i];
		}
	}
	return NULL;
}

int monitor_cmds_register(const struct monitor_cmd *cmds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (monitor_cmd_find(cmds[i].name))
			return EEXIST;
	}
	if (mon.ntables >= MONITOR_MAX_TABLES)
		return ENOSPC;
	mon.tables[mon.ntables].cmds = cmds;
	mon.tables[mon.ntables].n = n;
	mon.ntables++;
	return 0;
}

int monitor_split(char *line, char **argv, int max, int *argc)
{
	int n = 0;
	char *p = line;

	for (;;) {
		char *w;

		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (!*p)
			break;
		if (n >= max)
			return ENOSPC;
		if (*p == '"') {
			w = ++p;
			while (*p && *p != '"')
				p++;
			if (*p != '"')
				return EBADMSG;
		} else {
			w = p;
			while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
				p++;
		}
		argv[n++] = w;
		if (!*p)
			break;
		*p++ = '\0';
	}
	*argc = n;
	return 0;
}

static int monitor_cmd_cmp(const void *a, const void *b)
{
	const struct monitor_cmd *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

static int monitor_help(int argc, char **argv, struct mbuf *out, void *arg)
{
	const struct monitor_cmd *list[256];
	size_t n = 0;

	(void)arg;
	if (argc > 1) {
		const struct monitor_cmd *c = monitor_cmd_find(argv[1]);

		if (!c) {
			mbuf_printf(out, "Unknown command: %s\n", argv[1]);
			return EINVAL;
		}
		mbuf_printf(out, "%s%s%s\n  %s\n", c->name, c->usage ? " " : "",
			    c->usage ? c->usage : "", c->summary);
		if (c->help)
			mbuf_printf(out, "\n%s\n", c->help);
		return 0;
	}
	for (size_t t = 0; t < mon.ntables; t++) {
		for (size_t i = 0; i < mon.tables[t].n && n < 256; i++)
			list[n++] = &mon.tables[t].cmds[i];
	}
	qsort(list, n, sizeof(list[0]), monitor_cmd_cmp);
	mbuf_printf(out, "Available commands:\n");
	for (size_t i = 0; i < n; i++)
		mbuf_printf(out, "  %-12s %s\n", list[i]->name, list[i]->summary);
	mbuf_printf(out, "Use 'help command' for details about a command.\n");
	return 0;
}

static int monitor_log(int argc, char **argv, struct mbuf *out, void *arg)
{
	char err[256];

	(void)arg;
	if (argc > 2) {
		mbuf_printf(out, "Error: log takes one argument (comma separated options)\n");
		return EINVAL;
	}
	if (argc == 2 && log_options_apply(argv[1], err, sizeof(err))) {
		mbuf_printf(out, "Error: %s\n", err);
		return EINVAL;
	}
	return log_state_print(out);
}

static int monitor_quit(int argc, char **argv, struct mbuf *out, void *arg)
{
	(void)argc;
	(void)argv;
	(void)out;
	(void)arg;
	if (mon.prm.quit_h)
		mon.prm.quit_h(mon.prm.quit_arg);
	return 0;
}

static const struct monitor_cmd monitor_builtin[] = {
	{"help", "[command]", "Display the help; 'help command' for details.",
	 "Without argument, lists the commands. With a command name, shows its\n"
	 "arguments and what it does.",
	 monitor_help, NULL},
	{"log", "[log_options]", "Display or change the log options.",
	 "Without argument, displays the current log state. With an argument,\n"
	 "changes the log options first; the syntax is that of the log_options\n"
	 "configuration property, e.g. 'log sip.level=debug,sip.max_size=2048'\n"
	 "or 'log all.level=info,file.rotate=now'.",
	 monitor_log, NULL},
	{"quit", NULL, "Stop the program and exit.", NULL, monitor_quit, NULL},
};

int monitor_init(void)
{
	memset(&mon, 0, sizeof(mon));
	return monitor_cmds_register(monitor_builtin,
				     sizeof(monitor_builtin) / sizeof(monitor_builtin[0]));
}

void monitor_more(monitor_more_h *h, void *arg)
{
	mon.more_h = h;
	mon.more_arg = arg;
}

/* Drops a continuation left by a command (the monitor closes). */
static void more_cancel(void)
{
	monitor_more_h *h = mon.more_h;

	mon.more_h = NULL;
	if (h)
		h(NULL, mon.more_arg);
	if (mon.more_tmr)
		loop_timer_cancel(mon.more_tmr);
}

static int monitor_exec_part(const char *line, struct mbuf *out);

int monitor_exec(const char *line, struct mbuf *out)
{
	/* a console answer still in parts is set aside meanwhile */
	monitor_more_h *h, *busy_h = mon.more_h;
	void *busy_arg = mon.more_arg;
	int err;

	mon.more_h = NULL;
	err = monitor_exec_part(line, out);
	while ((h = mon.more_h)) {
		mon.more_h = NULL;
		if (h(out, mon.more_arg))
			mon.more_h = h;
	}
	mon.more_h = busy_h;
	mon.more_arg = busy_arg;
	return err;
}

static int monitor_exec_part(const char *line, struct mbuf *out)
{
	char buf[MONITOR_MAX_LINE];
	char *argv[MONITOR_MAX_ARGS];
	const struct monitor_cmd *c;
	int argc, err;

	if (strlen(line) >= sizeof(buf)) {
		mbuf_printf(out, "Error: command line too long (max %d bytes)\n",
			    MONITOR_MAX_LINE - 1);
		return E2BIG;
	}
	strcpy(buf, line);
	err = monitor_split(buf, argv, MONITOR_MAX_ARGS, &argc);
	if (err == ENOSPC) {
		mbuf_printf(out, "Error: too many arguments (max %d)\n", MONITOR_MAX_ARGS);
		return err;
	}
	if (err) {
		mbuf_printf(out, "Error: unterminated quoted argument\n");
		return err;
	}
	if (argc == 0)
		return 0;
	c = monitor_cmd_find(argv[0]);
	if (!c) {
		mbuf_printf(out, "Unknown command: %s (type 'help' for the list)\n", argv[0]);
		return EINVAL;
	}
	return c->h(argc, argv, out, c->arg);
}

static void monitor_stdin_h(int fd, int events, void *arg);
static void monitor_rl_line_h(char *line);

static bool out_pending(void)
{
	return mon.pend_off < mon.pend.end;
}

/* An answer is still going out: its text waits, or it has parts to come. */
static bool busy(void)
{
	return out_pending() || mon.more_h;
}

static void in_pause(void)
{
	if (mon.started && !mon.in_paused) {
		loop_fd_close(mon.prm.in_fd);
		mon.in_paused = true;
	}
}

/* Writes what it can of pend; true when it is empty (or the output gone). */
static bool out_push(void)
{
	while (out_pending()) {
		ssize_t n = nbfd_write(&mon.out, mon.pend.buf + mon.pend_off,
				       mon.pend.end - mon.pend_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return false;
		if (n <= 0) {
			mon.pend_off = mon.pend.end; /* output gone: nothing to keep */
			break;
		}
		mon.pend_off += (size_t)n;
	}
	mbuf_reset(&mon.pend);
	mon.pend_off = 0;
	return true;
}

static void out_writable_h(int fd, int events, void *arg);
static void more_step_h(void *arg);

/* After a write: while text waits, watch the output and hold the input. */
static void out_settle(void)
{
	if (out_pending()) {
		if (!mon.out_watched &&
		    !loop_fd_listen(mon.out.fd, LOOP_WRITE, out_writable_h, NULL))
			mon.out_watched = true;
		in_pause();
		return;
	}
	if (mon.out_watched) {
		loop_fd_close(mon.out.fd);
		mon.out_watched = false;
	}
}

static void monitor_pipe_feed(const char *chunk, size_t n);

/* The answer has gone: the lines read meanwhile, then input and prompt. */
static void monitor_resume(void)
{
	if (mon.saved_len) {
		char buf[sizeof(mon.saved)];
		size_t n = mon.saved_len;

		memcpy(buf, mon.saved, n);
		mon.saved_len = 0;
		monitor_pipe_feed(buf, n);
		if (busy() || !mon.started)
			return;
	}
	if (mon.in_paused &&
	    !loop_fd_listen(mon.prm.in_fd, LOOP_READ, monitor_stdin_h, NULL))
		mon.in_paused = false;
	if (mon.prompt_due) {
		mon.prompt_due = false;
		rl_callback_handler_install(mon.prm.prompt, monitor_rl_line_h);
		fflush(rl_outstream ? rl_outstream : stdout);
	}
}

static void more_kick(void)
{
	loop_timer_start(mon.more_tmr, 0, more_step_h, NULL);
}

/* The console took everything: the next part of the answer, or input. */
static void out_drained(void)
{
	if (mon.more_h)
		more_kick();
	else if (mon.started)
		monitor_resume();
}

static void out_writable_h(int fd, int events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	out_push();
	out_settle();
	if (!out_pending())
		out_drained();
}

static void monitor_write_all(const void *data, size_t len)
{
	const char *p = data;

	if (mon.out.mode == NBFD_UNSET)
		nbfd_open(&mon.out, mon.prm.out_fd);
	while (len && !out_pending()) {
		ssize_t n = nbfd_write(&mon.out, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0)
			return; /* output gone: nothing useful left to do */
		p += n;
		len -= (size_t)n;
	}
	if (len && mbuf_write(&mon.pend, p, len))
		log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
			  "monitor: no memory to keep %zu bytes of an answer", len);
	out_settle();
}

/* One part of a long answer, from the loop, once the last part went out. */
static void more_step_h(void *arg)
{
	monitor_more_h *h = mon.more_h;
	struct mbuf part;

	(void)arg;
	if (!h || out_pending())
		return; /* out_drained comes back */
	mbuf_init(&part, MONITOR_ANSWER_MAX);
	mon.more_h = NULL;
	if (h(&part, mon.more_arg))
		mon.more_h = h;
	if (part.end)
		monitor_write_all(part.buf, part.end);
	mbuf_reset(&part);
	if (!out_pending())
		out_drained();
}

static void monitor_run_line(const char *line)
{
	struct mbuf out;

	mbuf_init(&out, MONITOR_ANSWER_MAX);
	mon.more_h = NULL;
	monitor_exec_part(line, &out);
	if (out.end)
		monitor_write_all(out.buf, out.end);
	mbuf_reset(&out);
	if (mon.more_h) {
		/* parts to come: no input until the last is out */
		in_pause();
		if (!out_pending())
			more_kick();
	}
}

static void monitor_stdin_close(void)
{
	loop_fd_close(mon.prm.in_fd);
	if (mon.tty)
		rl_callback_handler_remove();
	mon.started = false;
}

static void monitor_rl_line_h(char *line)
{
	if (!line) {
		/* Ctrl-D: stop reading, keep the server running */
		monitor_write_all("\n", 1);
		monitor_stdin_close();
		return;
	}
	if (*line)
		add_history(line);
	monitor_run_line(line);
	free(line);
	/* libedit leaves callback mode after delivering a line (its next
	 * el_gets would block for a whole line): re-arm it, which also shows
	 * the prompt again — after the answer, if that still waits. */
	if (!mon.started)
		return;
	if (busy()) {
		mon.prompt_due = true;
		return;
	}
	rl_callback_handler_install(mon.prm.prompt, monitor_rl_line_h);
	fflush(rl_outstream ? rl_outstream : stdout);
}

/* Runs the complete lines of chunk; the rest of a line waits in mon.line.
 * When an answer cannot go at once, the lines after it wait in mon.saved. */
static void monitor_pipe_feed(const char *chunk, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (chunk[i] != '\n') {
			if (mon.line_len < sizeof(mon.line) - 1)
				mon.line[mon.line_len++] = chunk[i];
			else
				mon.line_overflow = true;
			continue;
		}
		mon.line[mon.line_len] = '\0';
		if (mon.line_overflow) {
			char msg[96];
			int m = snprintf(msg, sizeof(msg),
					 "Error: command line too long (max %d bytes)\n",
					 MONITOR_MAX_LINE - 1);
			monitor_write_all(msg, (size_t)m);
		} else {
			monitor_run_line(mon.line);
		}
		mon.line_len = 0;
		mon.line_overflow = false;
		if (!mon.started)
			return; /* a command (quit) may have closed the monitor */
		if (busy()) {
			memcpy(mon.saved, chunk + i + 1, n - i - 1);
			mon.saved_len = n - i - 1;
			return;
		}
	}
}

static void monitor_pipe_read(void)
{
	char chunk[sizeof(mon.saved)];
	ssize_t n = read(mon.prm.in_fd, chunk, sizeof(chunk));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		if (mon.line_len && !mon.line_overflow) {
			mon.line[mon.line_len] = '\0';
			monitor_run_line(mon.line);
		}
		mon.line_len = 0;
		monitor_stdin_close();
		return;
	}
	monitor_pipe_feed(chunk, (size_t)n);
}

static void monitor_stdin_h(int fd, int events, void *arg)
{
	(void)fd;
	(void)arg;
	if (mon.tty && (events & LOOP_READ)) {
		rl_callback_read_char();
		return;
	}
	if (events & (LOOP_READ | LOOP_ERROR))
		monitor_pipe_read();
}

int monitor_start(const struct monitor_prm *prm)
{
	int err;

	mon.prm = *prm;
	mbuf_init(&mon.pend, MONITOR_ANSWER_MAX);
	mon.more_tmr = loop_timer_alloc();
	if (!mon.more_tmr)
		return ENOMEM;
	if (!mon.prm.prompt)
		mon.prm.prompt = "(ims) ";
	mon.tty = isatty(prm->in_fd) && prm->in_fd == 0;
	err = loop_fd_listen(prm->in_fd, LOOP_READ, monitor_stdin_h, NULL);
	if (err)
		return err;
	mon.started = true;
	if (mon.tty) {
		using_history();
		rl_callback_handler_install(mon.prm.prompt, monitor_rl_line_h);
	}
	return 0;
}

void monitor_close(void)
{
	if (mon.started)
		monitor_stdin_close();
	more_cancel();
	loop_timer_free(mon.more_tmr);
	mon.more_tmr = NULL;
	for (int waited = 0; out_pending() && waited < MONITOR_CLOSE_WAIT_MS;
	     waited += 10) {
		struct pollfd pfd = {.fd = mon.out.fd, .events = POLLOUT};

		if (out_push())
			break;
		if (poll(&pfd, 1, 10) < 0 && errno != EINTR)
			break;
	}
	mbuf_reset(&mon.pend);
	mon.pend_off = 0;
	if (mon.out_watched) {
		loop_fd_close(mon.out.fd);
		mon.out_watched = false;
	}
	if (mon.out.mode != NBFD_UNSET)
		nbfd_close(&mon.out);
	mon.saved_len = 0;
	mon.in_paused = mon.prompt_due = false;
}
