/*
 * monitor_dialog — `dialog` and `dialog_set` (manual §7, the data of §6
 * dialog_get / dialog_set): the calls the b2bua keeps, one line per dialog
 * (a call is a server dialog with its associated mt dialog, or one echo
 * dialog), stopped ones for 30 s; `dialog_set INDEX stop` ends one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "b2bua/b2bua.h"
#include "core/mbuf.h"
#include "monitor/monitor_int.h"

static int dialog_h(struct monitor *mon, int argc, char **argv, struct mbuf *out,
		    struct monitor_ans *ans)
{
	struct b2bua_cursor cur = {0};
	struct b2bua_dialog_info di;
	size_t n = 0;
	int err;

	(void)argc;
	(void)argv;
	(void)ans;
	if (!mon->prm.b2bua)
		return mbuf_write_str(out, "calls are not running\n") ? ENOMEM : ENOTSUP;
	err = mbuf_printf(out, "%5s %-8s %-7s %-6s %-28s %-28s %-8s %8s %s\n", "index",
			  "session", "state", "type", "from", "to", "assoc", "duration",
			  "call-id");
	while (!err && b2bua_dialog_next(mon->prm.b2bua, &cur, &di)) {
		err = mbuf_printf(out, "%5u %-8s %-7s %-6s %-28s %-28s %-8s %8.1f %s\n",
				  di.index, di.session_id, b2bua_state_name(di.state),
				  b2bua_type_name(di.type), di.from, di.to,
				  di.assoc[0] ? di.assoc : "-", di.duration, di.callid);
		n++;
	}
	return err ? err : mbuf_printf(out, "%zu dialog(s)\n", n);
}

static int dialog_set_h(struct monitor *mon, int argc, char **argv, struct mbuf *out,
			struct monitor_ans *ans)
{
	char *end = NULL;
	unsigned long idx;
	int err;

	(void)ans;
	if (!mon->prm.b2bua)
		return mbuf_write_str(out, "calls are not running\n") ? ENOMEM : ENOTSUP;
	if (argc != 3 || strcmp(argv[2], "stop")) {
		(void)mbuf_write_str(out, "usage: dialog_set INDEX stop\n");
		return EINVAL;
	}
	idx = strtoul(argv[1], &end, 10);
	if (!*argv[1] || *end || idx > UINT32_MAX) {
		(void)mbuf_printf(out, "%s: not a dialog index\n", argv[1]);
		return EINVAL;
	}
	err = b2bua_dialog_stop(mon->prm.b2bua, (uint32_t)idx);
	(void)mbuf_printf(out, "dialog %lu: %s\n", idx,
			  !err		    ? "stopped"
			  : err == EALREADY ? "already stopped"
					    : "no such dialog");
	return err;
}

const struct monitor_cmd monitor_cmd_dialog = {
    .name = "dialog",
    .summary = "list the calls' dialogs (stopped ones for 30 s)",
    .help = "One line per dialog: index (for dialog_set), session id, state\n"
	    "(init, ringing, start, hold, stop), type (server: the caller's side,\n"
	    "mt: the callee's, echo), caller and callee IMPU, the associated\n"
	    "dialog, seconds since the answer, and the Call-ID the SIP log shows.\n",
    .h = dialog_h,
};

const struct monitor_cmd monitor_cmd_dialog_set = {
    .name = "dialog_set",
    .usage = "INDEX stop",
    .summary = "end a call (BYE on both sides, or 487 before the answer)",
    .h = dialog_set_h,
};
