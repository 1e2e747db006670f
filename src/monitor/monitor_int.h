/*
 * monitor internals: the instance, the command table's entries and the
 * commands kept in their own files (monitor_users.c, monitor_stats.c).
 */
#ifndef MONITOR_MONITOR_INT_H
#define MONITOR_MONITOR_INT_H

#include "monitor/monitor.h"

struct monitor {
	struct monitor_prm prm; /* the services are borrowed */
};

/* One command: writes its answer (or its first part, see monitor_more) to
 * out; returns 0 or an errno value, with the message for the user in out. */
typedef int(monitor_cmd_h)(struct monitor *mon, int argc, char **argv, struct mbuf *out,
			   struct monitor_ans *ans);

struct monitor_cmd {
	const char *name;
	const char *usage;   /* arguments, e.g. "[log_options]"; NULL: none */
	const char *summary; /* one line for `help` */
	const char *help;    /* detailed text for `help CMD`; NULL: none */
	monitor_cmd_h *h;
};

/* For a handler whose answer goes on in parts: h(out, arg) makes each next
 * part (monitor.h, monitor_more_h). One continuation per answer. */
void monitor_more(struct monitor_ans *ans, monitor_more_h *h, void *arg);

extern const struct monitor_cmd monitor_cmd_users; /* monitor_users.c */
extern const struct monitor_cmd monitor_cmd_stats; /* monitor_stats.c */
extern const struct monitor_cmd monitor_cmd_sms;   /* monitor_sms.c */
extern const struct monitor_cmd monitor_cmd_sms_flush;
extern const struct monitor_cmd monitor_cmd_dialog;	  /* monitor_dialog.c */
extern const struct monitor_cmd monitor_cmd_dialog_set; /* monitor_dialog.c */
extern const struct monitor_cmd monitor_cmd_ipsec; /* monitor_ipsec.c */
/* ipsec.sets and counters.ipsec.* lines (`ipsec`, `stats`). */
struct ipsec;
int monitor_ipsec_counters(const struct ipsec *ip, struct mbuf *out);
extern const struct monitor_cmd monitor_cmd_mt_call;	  /* monitor_dialog.c */

#endif
