/*
 * monitor_dialog — `dialog` and `dialog_set` (manual §7, the data of §6
 * dialog_get / dialog_set): the calls the b2bua keeps, one line per dialog
 * (a call is a server dialog with its associated mt dialog, or one echo
 * dialog), stopped ones for 30 s; `dialog_set INDEX action` acts on one
 * (stop, answer, hold, reinvite, downgrade, media: b2bua_ctl.c);
 * `mt_call` makes a call from the server (b2bua_mt_call).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b2bua/b2bua.h"
#include "core/mbuf.h"
#include "media/media.h"
#include "monitor/monitor_int.h"

/* RTP packets the dialog's UE sent to the relay and got from it, over
 * its streams ("-" without the relay). */
static void rtp_counts(const struct b2bua_dialog_info *di, char *buf, size_t size)
{
	uint64_t rx = 0, tx = 0;
	size_t n = di->media ? media_session_stream_count(di->media) : 0;

	for (size_t i = 0; i < n; i++) {
		struct media_stream_info si;

		if (media_session_stream_info(di->media, (enum media_leg)di->media_leg, i,
					      &si))
			continue;
		rx += si.rtp_recv.pkts;
		tx += si.rtp_send.pkts;
	}
	if (di->media)
		snprintf(buf, size, "%llu/%llu", (unsigned long long)rx,
			 (unsigned long long)tx);
	else
		snprintf(buf, size, "-");
}

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
	err = mbuf_printf(out, "%5s %-8s %-7s %-6s %-28s %-28s %-8s %8s %-13s %s\n",
			  "index", "session", "state", "type", "from", "to", "assoc",
			  "duration", "rtp rx/tx", "call-id");
	while (!err && b2bua_dialog_next(mon->prm.b2bua, &cur, &di)) {
		char rtp[48];

		rtp_counts(&di, rtp, sizeof(rtp));
		err = mbuf_printf(
		    out, "%5u %-8s %-7s %-6s %-28s %-28s %-8s %8.1f %-13s %s\n", di.index,
		    di.session_id, b2bua_state_name(di.state), b2bua_type_name(di.type),
		    di.from, di.to, di.assoc[0] ? di.assoc : "-", di.duration, rtp,
		    di.callid);
		n++;
	}
	if (!err) {
		struct b2bua_stats st;

		b2bua_stats_get(mon->prm.b2bua, &st);
		err = mbuf_printf(
		    out,
		    "%zu dialog(s); calls: %llu live, %llu kept, %llu since start "
		    "(%llu answered), %zu bytes\n",
		    n, (unsigned long long)st.live, (unsigned long long)st.kept,
		    (unsigned long long)st.calls, (unsigned long long)st.answered,
		    st.mem_bytes);
	}
	return err;
}

static int onoff(const char *s, bool *v)
{
	if (!strcmp(s, "on") || !strcmp(s, "true") || !strcmp(s, "1"))
		*v = true;
	else if (!strcmp(s, "off") || !strcmp(s, "false") || !strcmp(s, "0"))
		*v = false;
	else
		return EINVAL;
	return 0;
}

/* The action and its arguments (argv[2..]) on dialog idx. */
static int dialog_action(struct b2bua *b, uint32_t idx, int argc, char **argv,
			 const char **done)
{
	const char *act = argv[2];
	bool rtp, rtcp;

	if (!strcmp(act, "stop") && argc <= 6) {
		/* manual §6 dialog_set stop: code, reason, reason_protocol */
		struct b2bua_stop_prm p = {.reason = argc > 4 ? argv[4] : NULL,
					   .protocol = argc > 5 ? argv[5] : NULL};
		char *end = NULL;
		unsigned long code = argc > 3 ? strtoul(argv[3], &end, 10) : 0;

		if (argc > 3 && (!*argv[3] || *end || code > 65535))
			return EDOM;
		p.code = (uint32_t)code;
		*done = "stopped";
		return b2bua_dialog_stop_reason(b, idx, &p);
	}
	if (!strcmp(act, "answer") && argc <= 4) {
		char *end = NULL;
		unsigned long code = argc == 4 ? strtoul(argv[3], &end, 10) : 0;

		if (argc == 4 && (!*argv[3] || *end || code > 699))
			return EDOM;
		*done = "answered";
		return b2bua_dialog_answer(b, idx, (uint16_t)code);
	}
	if (!strcmp(act, "hold") && argc <= 4) {
		struct b2bua_reinvite_prm p = {.hold = true, .media = argc == 4 ? argv[3] : NULL};

		*done = "re-INVITE sent (hold toggled)";
		return b2bua_dialog_reinvite(b, idx, &p);
	}
	if (!strcmp(act, "reinvite") && argc <= 4) {
		struct b2bua_reinvite_prm p = {.sdp_file = argc == 4 ? argv[3] : NULL};

		*done = "re-INVITE sent";
		return b2bua_dialog_reinvite(b, idx, &p);
	}
	if (!strcmp(act, "downgrade") && argc <= 4) {
		*done = "re-INVITE sent (media removed)";
		return b2bua_dialog_downgrade(b, idx, argc == 4 ? argv[3] : NULL);
	}
	if (!strcmp(act, "media") && argc == 5) {
		if (onoff(argv[3], &rtp) || onoff(argv[4], &rtcp))
			return EDOM;
		*done = "media forwarding set";
		return b2bua_dialog_media(b, idx, rtp, rtcp);
	}
	return EDOM;
}

static int dialog_set_h(struct monitor *mon, int argc, char **argv, struct mbuf *out,
			struct monitor_ans *ans)
{
	const char *done = "";
	char *end = NULL;
	unsigned long idx;
	int err;

	(void)ans;
	if (!mon->prm.b2bua)
		return mbuf_write_str(out, "calls are not running\n") ? ENOMEM : ENOTSUP;
	if (argc < 3) {
		(void)mbuf_printf(out, "usage: dialog_set %s\n", monitor_cmd_dialog_set.usage);
		return EINVAL;
	}
	idx = strtoul(argv[1], &end, 10);
	if (!*argv[1] || *end || idx > UINT32_MAX) {
		(void)mbuf_printf(out, "%s: not a dialog index\n", argv[1]);
		return EINVAL;
	}
	err = dialog_action(mon->prm.b2bua, (uint32_t)idx, argc, argv, &done);
	if (err == EDOM) {
		(void)mbuf_printf(out, "usage: dialog_set %s\n", monitor_cmd_dialog_set.usage);
		return EINVAL;
	}
	(void)mbuf_printf(out, "dialog %lu: %s\n", idx,
			  !err		    ? done
			  : err == EALREADY ? "not in this state (stopped, answered or not up)"
			  : err == EINVAL   ? "not for this kind of call (or a bad code, media or reason)"
			  : err == EIO	    ? "cannot read the SDP file"
			  : err == EPROTO   ? "the relay refuses the SDP file (see the log)"
			  : err == EBUSY    ? "an INVITE is in progress"
			  : err == ENOTSUP  ? "no media relay"
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
    .usage = "INDEX stop [CODE [REASON [PROTOCOL]]]|answer [CODE]|hold [MEDIA]|"
	     "reinvite [SDP_FILE]|downgrade [MEDIA]|media RTP RTCP",
    .summary = "act on a call: end, answer, hold, re-INVITE, block its media",
    .help = "stop: BYE on both sides, or 487 and CANCEL before the answer; with\n"
	    "CODE (0: none), REASON (quoted) and PROTOCOL (default SIP) the BYEs\n"
	    "carry Reason: PROTOCOL;cause=CODE;text=\"REASON\" (RFC 3326).\n"
	    "answer [CODE]: the final answer of an echo call whose caller IMPU has\n"
	    "remote_control: 200 (CODE absent or 2xx) or CODE (300-699) ending it.\n"
	    "hold [MEDIA]: re-INVITE from imsd to the phone (both phones of a call\n"
	    "between two), every stream (or those of MEDIA: audio, video, text)\n"
	    "a=sendonly (a=inactive if it was recvonly); again: as before.\n"
	    "reinvite [SDP_FILE]: the same without a change; on mt and echo calls\n"
	    "SDP_FILE is the new offer. downgrade [MEDIA]: the same with the\n"
	    "audio, video (default) or text streams at port 0.\n"
	    "media RTP RTCP: on|off each; off blocks what both phones send.\n",
    .h = dialog_set_h,
};

/* mt_call callee [-d duration] [sdp_file] [caller] (manual §7) */
static int mt_call_h(struct monitor *mon, int argc, char **argv, struct mbuf *out,
		     struct monitor_ans *ans)
{
	struct b2bua_mt_prm p = {0};
	const char *pos[3] = {NULL, NULL, NULL};
	uint32_t idx = 0;
	uint16_t scode = 0;
	size_t npos = 0;
	int err;

	(void)ans;
	if (!mon->prm.b2bua)
		return mbuf_write_str(out, "calls are not running\n") ? ENOMEM : ENOTSUP;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-d") && i + 1 < argc) {
			char *end = NULL;
			unsigned long d = strtoul(argv[++i], &end, 10);

			if (!*argv[i] || *end || d > 86400) {
				(void)mbuf_printf(out, "%s: not a duration in seconds "
						       "(0-86400)\n", argv[i]);
				return EINVAL;
			}
			p.duration_s = (uint32_t)d;
		} else if (npos < 3) {
			pos[npos++] = argv[i];
		} else {
			npos = 4;
		}
	}
	if (npos < 1 || npos > 3) {
		(void)mbuf_write_str(out, "usage: mt_call CALLEE [-d DURATION] [SDP_FILE] "
					  "[CALLER]\n");
		return EINVAL;
	}
	p.callee = pos[0];
	p.sdp_file = pos[1] && strcmp(pos[1], "-") ? pos[1] : NULL;
	p.caller = pos[2];
	err = b2bua_mt_call(mon->prm.b2bua, &p, &idx, &scode);
	if (!err)
		return mbuf_printf(out, "mt_call %s: dialog %u\n", p.callee, idx);
	if (err == ENOENT)
		(void)mbuf_printf(out, "mt_call %s: no such user or contact\n", p.callee);
	else if (err == ENOTCONN)
		(void)mbuf_printf(out, "mt_call %s: not registered\n", p.callee);
	else if (err == EIO && !scode)
		(void)mbuf_printf(out, "mt_call %s: cannot read the SDP file (see the log)\n",
				  p.callee);
	else if (scode)
		(void)mbuf_printf(out, "mt_call %s: not sent (%u)\n", p.callee, scode);
	else
		(void)mbuf_printf(out, "mt_call %s: %s\n", p.callee, strerror(err));
	return err;
}

const struct monitor_cmd monitor_cmd_mt_call = {
    .name = "mt_call",
    .usage = "CALLEE [-d DURATION] [SDP_FILE] [CALLER]",
    .summary = "call a user from the server (its media echoed)",
    .help = "CALLEE: an IMPU, an IMPI or a registered contact URI; every binding\n"
	    "rings (only that one for a contact). SDP_FILE: the offer (default the\n"
	    "callee IMPU's mt_call_sdp_file, else AMR-WB/AMR audio; '-' to skip it\n"
	    "and name a CALLER). CALLER: the From IMPU (P-Asserted-Identity when\n"
	    "it is a user's). -d DURATION: imsd hangs up after that many seconds.\n"
	    "The call is listed by `dialog` with type mt.\n",
    .h = mt_call_h,
};
