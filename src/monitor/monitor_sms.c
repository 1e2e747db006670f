/*
 * monitor_sms — the commands `sms impi|impu text` and `sms_flush impi`
 * (manual §7): an operator SMS queued for a user through the SMS service
 * (smsc_send(): split into parts, GSM 7-bit or UCS2), and its pending SMS
 * tried now (smsc_flush()). Formatting only; docs/monitor.md.
 */
#include <errno.h>
#include <string.h>

#include "core/mbuf.h"
#include "hss/hss.h"
#include "monitor/monitor_int.h"
#include "smsc/smsc.h"

/* The user `who` names: an IMPI, else an IMPU (manual §7: "impu if impi
 * has not been found"); *impu the IMPU it matched, else HSS_IMPU_NONE. */
static struct hss_user *sms_user(const struct monitor *mon, const char *who,
				 uint32_t *impu)
{
	struct hss_user *u = hss_user_by_impi(mon->prm.hss, pl_from_str(who));

	*impu = HSS_IMPU_NONE;
	if (u)
		return u;
	return hss_user_by_impu(mon->prm.hss, pl_from_str(who), impu);
}

static int sms_ready(const struct monitor *mon, struct mbuf *out)
{
	if (mon->prm.sms && mon->prm.hss)
		return 0;
	mbuf_write_str(out, "Error: the SMS service is not running\n");
	return ENODEV;
}

static int sms_cmd_h(struct monitor *mon, int argc, char **argv, struct mbuf *out,
		     struct monitor_ans *ans)
{
	struct smsc_send_prm p = {.tp_udl = -1, .dcs = -1};
	char text[MONITOR_MAX_LINE];
	struct hss_user *u;
	size_t n = 0;
	unsigned parts;
	uint32_t impu;
	int err;

	(void)ans;
	if ((err = sms_ready(mon, out)))
		return err;
	if (argc < 3) {
		mbuf_write_str(out, "Error: usage: sms impi|impu text\n");
		return EINVAL;
	}
	u = sms_user(mon, argv[1], &impu);
	if (!u) {
		mbuf_printf(out, "Error: unknown user '%s'\n", argv[1]);
		return ENOENT;
	}
	/* the words of the text, one space between them */
	text[0] = '\0';
	for (int i = 2; i < argc && n < sizeof(text) - 1; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%s", i > 2 ? " " : "",
				      argv[i]);
	p.text = text;
	err = smsc_send(mon->prm.sms, u, impu, &p, &parts);
	if (err) {
		mbuf_printf(out, "Error: SMS not queued: %s\n",
			    err == ENOSPC  ? "too many pending SMS for this user"
			    : err == E2BIG ? "text too long"
			    : err == EILSEQ ? "text is not valid UTF-8"
					    : strerror(err));
		return err;
	}
	mbuf_printf(out, "SMS queued for %s: %u part(s), %u pending\n", argv[1], parts,
		    smsc_pending_count(mon->prm.sms, u));
	return 0;
}

static int sms_flush_cmd_h(struct monitor *mon, int argc, char **argv, struct mbuf *out,
			   struct monitor_ans *ans)
{
	struct hss_user *u;
	uint32_t impu, n = 0;
	int err;

	(void)ans;
	if ((err = sms_ready(mon, out)))
		return err;
	if (argc != 2) {
		mbuf_write_str(out, "Error: usage: sms_flush impi\n");
		return EINVAL;
	}
	u = sms_user(mon, argv[1], &impu);
	if (!u) {
		mbuf_printf(out, "Error: unknown user '%s'\n", argv[1]);
		return ENOENT;
	}
	if (smsc_flush(mon->prm.sms, u, &n)) {
		mbuf_printf(out, "No pending SMS for %s\n", argv[1]);
		return 0;
	}
	mbuf_printf(out, "%u pending SMS for %s: delivery tried now\n", n, argv[1]);
	return 0;
}

const struct monitor_cmd monitor_cmd_sms = {
    .name = "sms",
    .usage = "impi|impu text",
    .summary = "send a SMS to the user identified by impi, or impu",
    .help = "The text (the rest of the line) is sent as an SMS-DELIVER from the SMS\n"
	    "centre address: GSM 7-bit when every character has a GSM 7-bit form,\n"
	    "else UCS2, in concatenated parts when it does not fit one SMS. It waits\n"
	    "in the user's pending queue until the phone acknowledges it.",
    .h = sms_cmd_h,
};

const struct monitor_cmd monitor_cmd_sms_flush = {
    .name = "sms_flush",
    .usage = "impi",
    .summary = "try to deliver the user's pending SMS now",
    .help = "Delivery of the user's pending SMS is tried at once, without waiting\n"
	    "for sms_retry_delay or a registration; the SMS stay pending until\n"
	    "the phone acknowledges them or they expire.",
    .h = sms_flush_cmd_h,
};
