/*
 * monitor — the instance, the command table and command execution
 * (monitor.h). The built-in commands help, log and quit are here; the
 * commands that show a service's data have their own files.
 */
#include "monitor/monitor_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mbuf.h"

static const struct monitor_cmd monitor_cmd_help, monitor_cmd_log, monitor_cmd_quit;

/* Every command, in name order (the order of `help`). */
static const struct monitor_cmd *const monitor_cmds[] = {
    &monitor_cmd_dialog,     /* monitor_dialog.c: b2bua/ */
    &monitor_cmd_dialog_set, /* monitor_dialog.c */
    &monitor_cmd_help,	/* here */
    &monitor_cmd_ipsec, /* monitor_ipsec.c: ipsec/ */
    &monitor_cmd_log,	/* here: the log layer's options and state */
    &monitor_cmd_mt_call, /* monitor_dialog.c: b2bua/ */
    &monitor_cmd_quit,	/* here: the params' quit_h */
    &monitor_cmd_sms,	/* monitor_sms.c: smsc/ */
    &monitor_cmd_sms_flush, /* monitor_sms.c: smsc/ */
    &monitor_cmd_stats, /* monitor_stats.c: stats/ */
    &monitor_cmd_users, /* monitor_users.c: registrar/ and hss/ */
};

#define MONITOR_NCMDS (sizeof(monitor_cmds) / sizeof(monitor_cmds[0]))

static const struct monitor_cmd *monitor_cmd_find(const char *name)
{
	for (size_t i = 0; i < MONITOR_NCMDS; i++) {
		if (!strcmp(monitor_cmds[i]->name, name))
			return monitor_cmds[i];
	}
	return NULL;
}

int monitor_alloc(struct monitor **monp, const struct monitor_prm *prm)
{
	struct monitor *mon;

	if (!monp || !prm)
		return EINVAL;
	mon = calloc(1, sizeof(*mon));
	if (!mon)
		return ENOMEM;
	mon->prm = *prm;
	if (!mon->prm.users_part)
		mon->prm.users_part = MONITOR_USERS_PART;
	*monp = mon;
	return 0;
}

void monitor_free(struct monitor *mon)
{
	free(mon);
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

static int monitor_help_h(struct monitor *mon, int argc, char **argv, struct mbuf *out,
			  struct monitor_ans *ans)
{
	(void)mon;
	(void)ans;
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
	mbuf_printf(out, "Available commands:\n");
	for (size_t i = 0; i < MONITOR_NCMDS; i++)
		mbuf_printf(out, "  %-12s %s\n", monitor_cmds[i]->name,
			    monitor_cmds[i]->summary);
	mbuf_printf(out, "Use 'help command' for details about a command.\n");
	return 0;
}

static int monitor_log_h(struct monitor *mon, int argc, char **argv, struct mbuf *out,
			 struct monitor_ans *ans)
{
	char err[256];

	(void)mon;
	(void)ans;
	if (argc > 2) {
		mbuf_printf(out,
			    "Error: log takes one argument (comma separated options)\n");
		return EINVAL;
	}
	if (argc == 2 && log_options_apply(argv[1], err, sizeof(err))) {
		mbuf_printf(out, "Error: %s\n", err);
		return EINVAL;
	}
	return log_state_print(out);
}

static int monitor_quit_h(struct monitor *mon, int argc, char **argv, struct mbuf *out,
			  struct monitor_ans *ans)
{
	(void)argc;
	(void)argv;
	(void)out;
	(void)ans;
	if (mon->prm.quit_h)
		mon->prm.quit_h(mon->prm.quit_arg);
	return 0;
}

static const struct monitor_cmd monitor_cmd_help = {
    "help", "[command]", "Display the help; 'help command' for details.",
    "Without argument, lists the commands. With a command name, shows its\n"
    "arguments and what it does.",
    monitor_help_h};

static const struct monitor_cmd monitor_cmd_log = {
    "log", "[log_options]", "Display or change the log options.",
    "Without argument, displays the current log state. With an argument,\n"
    "changes the log options first; the syntax is that of the log_options\n"
    "configuration property, e.g. 'log sip.level=debug,sip.max_size=2048'\n"
    "or 'log all.level=info,file.rotate=now'.",
    monitor_log_h};

static const struct monitor_cmd monitor_cmd_quit = {
    "quit", NULL, "Stop the program and exit.", NULL, monitor_quit_h};

void monitor_more(struct monitor_ans *ans, monitor_more_h *h, void *arg)
{
	ans->more_h = h;
	ans->more_arg = arg;
}

int monitor_run(struct monitor *mon, const char *line, struct mbuf *out,
		struct monitor_ans *ans)
{
	char buf[MONITOR_MAX_LINE];
	char *argv[MONITOR_MAX_ARGS];
	const struct monitor_cmd *c;
	int argc, err;

	memset(ans, 0, sizeof(*ans));
	if (strlen(line) >= sizeof(buf)) {
		mbuf_printf(out, "Error: command line too long (max %d bytes)\n",
			    MONITOR_MAX_LINE - 1);
		return E2BIG;
	}
	strcpy(buf, line);
	err = monitor_split(buf, argv, MONITOR_MAX_ARGS, &argc);
	if (err == ENOSPC) {
		mbuf_printf(out, "Error: too many arguments (max %d)\n",
			    MONITOR_MAX_ARGS);
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
		mbuf_printf(out, "Unknown command: %s (type 'help' for the list)\n",
			    argv[0]);
		return EINVAL;
	}
	return c->h(mon, argc, argv, out, ans);
}

bool monitor_ans_next(struct monitor_ans *ans, struct mbuf *out)
{
	monitor_more_h *h = ans->more_h;

	if (!h)
		return false;
	if (h(out, ans->more_arg))
		return true;
	ans->more_h = NULL;
	ans->more_arg = NULL;
	return false;
}

void monitor_ans_drop(struct monitor_ans *ans)
{
	monitor_more_h *h = ans->more_h;

	ans->more_h = NULL;
	if (h)
		h(NULL, ans->more_arg);
	ans->more_arg = NULL;
}

int monitor_exec(struct monitor *mon, const char *line, struct mbuf *out)
{
	struct monitor_ans ans;
	int err = monitor_run(mon, line, out, &ans);

	while (monitor_ans_next(&ans, out))
		;
	return err;
}
