/*
 * monitor_users — the command `users [IMPI|IMPU]` (manual §4.3, §7): the
 * user database with each user's registration state and bindings, made from
 * what the registrar and the HSS expose (registrar_user_next(),
 * registrar_bindings_foreach(), hss_impu_uri()). The format is documented
 * in docs/registrar.md; every user's text is the same in the listing and
 * when asked for by name.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth/digest.h"
#include "b2bua/b2bua.h"
#include "core/mbuf.h"
#include "hss/hss.h"
#include "monitor/monitor_int.h"
#include "net/net_addr.h"
#include "registrar/registrar.h"
#include "smsc/smsc.h"

/* Candidates for `users X`: multi_sim entries share an IMPI or IMPU. */
#define USERS_FIND_MAX 16

struct binding_print {
	struct mbuf *mb;
	int err;
};

static void binding_print_h(const struct registrar_binding_info *b, void *arg)
{
	struct binding_print *bp = arg;
	char peer[NET_ADDR_STRLEN];

	if (bp->err)
		return;
	net_addr_print(&b->flow.peer, peer, sizeof(peer));
	bp->err =
	    mbuf_printf(bp->mb, "  contact c%u: %.*s  %s %s  expires=%us  q=%u.%03u",
			b->id, (int)b->uri.l, b->uri.p, b->flow.reliable ? "tcp" : "udp",
			peer, b->expires, b->q1000 / 1000, b->q1000 % 1000);
	if (!bp->err && b->imei[0])
		bp->err = mbuf_printf(bp->mb, "  imei=%s", b->imei);
	if (!bp->err && b->reg_id)
		bp->err = mbuf_printf(bp->mb, "  reg-id=%u", b->reg_id);
	if (!bp->err)
		bp->err = mbuf_write_str(bp->mb, "\n");
}

static int user_print(const struct monitor *mon, struct mbuf *mb,
		      const struct registrar_user_info *ui)
{
	const struct hss_user *u = ui->user;
	const char *impi = hss_user_impi(u), *imsi = hss_user_imsi(u);
	struct binding_print bp = {mb, 0};
	char uri[HSS_URI_MAX];
	int err;

	err = mbuf_printf(mb, "%s  imsi=%s  %s", impi ? impi : "-", imsi ? imsi : "-",
			  ui->registered ? "registered" : "not registered");
	if (!err && ui->registered)
		err = mbuf_printf(mb, "  auth=%s",
				  ui->algo >= 0
				      ? digest_algo_name((enum digest_algo)ui->algo)
				      : "none");
	if (!err && ui->registered && registrar_user_protected(mon->prm.reg, u))
		err = mbuf_write_str(mb, "  ipsec");
	if (!err && ui->nsub)
		err = mbuf_printf(mb, "  reg-subscriptions=%u", ui->nsub);
	if (!err && smsc_pending_count(mon->prm.sms, u))
		err = mbuf_printf(mb, "  sms-pending=%u", smsc_pending_count(mon->prm.sms, u));
	if (!err)
		err = mbuf_write_str(mb, "\n  impu:");
	for (uint32_t i = 0; !err && i < hss_user_impu_count(u); i++) {
		if (hss_impu_uri(mon->prm.hss, u, i, uri, sizeof(uri)))
			continue;
		err = mbuf_printf(mb, " %s", uri);
	}
	if (!err)
		err = mbuf_write_str(mb, "\n");
	if (!err && ui->registered) {
		registrar_bindings_foreach(mon->prm.reg, u, binding_print_h, &bp);
		err = bp.err;
	}
	return err;
}

/* The listing of every user, made in parts. */
struct users_walk {
	const struct monitor *mon; /* borrowed */
	struct registrar_user_cursor cur;
	uint32_t nreg;
};

/* Up to max users from w->cur, then the summary line once the last is
 * printed. True while users remain. */
static bool users_walk(struct users_walk *w, struct mbuf *mb, uint32_t max, int *errp)
{
	const struct monitor *mon = w->mon;
	struct registrar_user_info ui;
	uint32_t k = 0;
	int err = 0;

	while (!err && k < max && registrar_user_next(mon->prm.reg, &w->cur, &ui)) {
		w->nreg += ui.registered;
		err = user_print(mon, mb, &ui);
		k++;
	}
	if (!err && w->cur.next < hss_user_count(mon->prm.hss))
		return true;
	if (!err)
		err = mbuf_printf(mb, "%u user(s), %u registered, %zu binding(s)\n",
				  hss_user_count(mon->prm.hss), w->nreg,
				  registrar_binding_count(mon->prm.reg));
	*errp = err;
	return false;
}

static bool users_part_h(struct mbuf *out, void *arg)
{
	struct users_walk *w = arg;
	int err = 0;

	if (out && users_walk(w, out, w->mon->prm.users_part, &err))
		return true;
	if (err)
		mbuf_printf(out, "Error: the listing stopped: %s\n", strerror(err));
	free(w);
	return false;
}

static void dialog_print_h(const struct b2bua_dialog_info *di, void *arg)
{
	struct binding_print *bp = arg;

	if (!bp->err)
		bp->err = mbuf_printf(bp->mb, "  dialog %u: %s %s %s -> %s\n", di->index,
				      b2bua_type_name(di->type),
				      b2bua_state_name(di->state), di->from, di->to);
}

/* `users X`: X as an IMPI, else as an IMPU; every matching entry, with the
 * dialogs it takes part in (docs/calls.md). */
static int users_one(const struct monitor *mon, struct mbuf *out, const char *who)
{
	struct hss_user *cands[USERS_FIND_MAX];
	struct hss_impu_match m[USERS_FIND_MAX];
	struct pl p = pl_from_str(who);
	size_t k = hss_users_by_impi(mon->prm.hss, p, cands, USERS_FIND_MAX);
	int err = 0;

	if (!k) {
		size_t km = hss_users_by_impu(mon->prm.hss, p, m, USERS_FIND_MAX);

		for (size_t i = 0; i < km && i < USERS_FIND_MAX; i++)
			cands[k++] = m[i].user;
	}
	if (k > USERS_FIND_MAX)
		k = USERS_FIND_MAX;
	if (!k) {
		mbuf_printf(out, "Error: unknown user '%s'\n", who);
		return ENOENT;
	}
	for (size_t i = 0; i < k && !err; i++) {
		struct registrar_user_info ui;

		registrar_user_info_get(mon->prm.reg, cands[i], &ui);
		err = user_print(mon, out, &ui);
		if (!err && mon->prm.b2bua) {
			struct binding_print dp = {out, 0};

			(void)b2bua_user_dialogs(mon->prm.b2bua, cands[i], dialog_print_h,
						 &dp);
			err = dp.err;
		}
	}
	return err;
}

static int users_cmd_h(struct monitor *mon, int argc, char **argv, struct mbuf *out,
		       struct monitor_ans *ans)
{
	struct users_walk *w;

	if (!mon->prm.reg || !mon->prm.hss) {
		mbuf_write_str(out, "Error: the registrar is not running\n");
		return ENODEV;
	}
	if (argc > 2) {
		mbuf_write_str(out, "Error: usage: users [IMPI|IMPU]\n");
		return EINVAL;
	}
	if (argc == 2)
		return users_one(mon, out, argv[1]);
	/* every user: in parts, so that a million users do not hold the loop */
	w = calloc(1, sizeof(*w));
	if (!w) {
		mbuf_write_str(out, "Error: out of memory\n");
		return ENOMEM;
	}
	w->mon = mon;
	if (users_part_h(out, w))
		monitor_more(ans, users_part_h, w);
	return 0;
}

const struct monitor_cmd monitor_cmd_users = {
    .name = "users",
    .usage = "[IMPI|IMPU]",
    .summary = "list the user database and the registration state",
    .help = "users             every user: IMPI, IMSI, IMPUs, state, bindings\n"
	    "users IMPI|IMPU   one user (all multi_sim entries sharing it)\n"
	    "A binding line shows the contact URI, the transport and peer it was\n"
	    "registered from, the seconds left, q, the IMEI and reg-id if any.",
    .h = users_cmd_h,
};
