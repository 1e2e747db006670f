/*
 * registrar_mon — the monitor command `users` (manual §4.3, §7): the user
 * database with each user's registration state and bindings. The output
 * format is documented in docs/registrar.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/monitor.h"
#include "sip/sip_hdr.h"
#include "registrar/registrar_int.h"

static const char *flow_proto(const struct reg_flow *f)
{
	return f->reliable ? "tcp" : "udp";
}

static int user_print(const struct registrar *reg, struct mbuf *mb,
		      const struct hss_user *u)
{
	const struct reg_user *ru = reg_user_find(reg, u);
	const char *impi = hss_user_impi(u), *imsi = hss_user_imsi(u);
	bool registered = ru && ru->bindings;
	char uri[HSS_URI_MAX];
	int err;

	err = mbuf_printf(mb, "%s  imsi=%s  %s", impi ? impi : "-", imsi ? imsi : "-",
			  registered ? "registered" : "not registered");
	if (!err && registered)
		err = mbuf_printf(mb, "  auth=%s",
				  ru->algo >= 0
				      ? digest_algo_name((enum digest_algo)ru->algo)
				      : "none");
	if (!err && ru && ru->nsub)
		err = mbuf_printf(mb, "  reg-subscriptions=%u", ru->nsub);
	if (!err)
		err = mbuf_write_str(mb, "\n  impu:");
	for (uint32_t i = 0; !err && i < hss_user_impu_count(u); i++) {
		if (hss_impu_uri(reg->hss, u, i, uri, sizeof(uri)))
			continue;
		err = mbuf_printf(mb, " %s", uri);
	}
	if (!err)
		err = mbuf_write_str(mb, "\n");
	for (const struct reg_binding *b = ru ? ru->bindings : NULL; b && !err;
	     b = b->next) {
		char peer[NET_ADDR_STRLEN];
		struct net_flow src;
		struct sip_addr a;
		struct pl c = {b->data, b->contact_len};

		if (b->terminated)
			continue;
		if (!sip_addr_decode(&a, c))
			c = a.uri;
		reg_flow_get(&b->flow, &src);
		net_addr_print(&src.peer, peer, sizeof(peer));
		err = mbuf_printf(
		    mb, "  contact c%u: %.*s  %s %s  expires=%us  q=%u.%03u", b->id,
		    (int)c.l, c.p, flow_proto(&b->flow), peer, reg_binding_left(reg, b),
		    b->q1000 / 1000, b->q1000 % 1000);
		if (!err && b->imei[0])
			err = mbuf_printf(mb, "  imei=%s", b->imei);
		if (!err && b->reg_id)
			err = mbuf_printf(mb, "  reg-id=%u", b->reg_id);
		if (!err)
			err = mbuf_write_str(mb, "\n");
	}
	return err;
}

struct users_walk {
	uint32_t next, nreg;
};

/* Up to max users of the listing from w->next, then the summary line once
 * the last is printed. True while users remain. */
static bool users_walk(const struct registrar *reg, struct mbuf *mb, struct users_walk *w,
		       uint32_t max, int *errp)
{
	uint32_t n = hss_user_count(reg->hss);
	int err = 0;

	for (uint32_t k = 0; w->next < n && k < max && !err; k++, w->next++) {
		const struct hss_user *u = hss_user_at(reg->hss, w->next);

		w->nreg += registrar_is_registered(reg, u);
		err = user_print(reg, mb, u);
	}
	if (!err && w->next < n)
		return true;
	if (!err)
		err = mbuf_printf(mb, "%u user(s), %u registered, %zu binding(s)\n", n,
				  w->nreg, reg->nbindings);
	*errp = err;
	return false;
}

int registrar_users_print(const struct registrar *reg, struct mbuf *mb, const char *who)
{
	struct users_walk w = {0};
	int err = 0;

	if (who && who[0]) {
		struct hss_user *cands[16];
		struct hss_impu_match m[16];
		struct pl p = pl_from_str(who);
		size_t k = hss_users_by_impi(reg->hss, p, cands, 16);

		if (!k) {
			size_t km = hss_users_by_impu(reg->hss, p, m, 16);

			for (size_t i = 0; i < km && i < 16; i++)
				cands[k++] = m[i].user;
		}
		if (k > 16)
			k = 16;
		if (!k)
			return ENOENT;
		for (size_t i = 0; i < k && !err; i++)
			err = user_print(reg, mb, cands[i]);
		return err;
	}
	while (users_walk(reg, mb, &w, UINT32_MAX, &err))
		;
	return err;
}

/* The registrar the command reads; one per process. */
static struct registrar *mon_reg;

/* Users per part of the `users` listing: about 200 KB of text, a few ms of
 * the loop; the monitor asks for the next part once the console took it. */
#define USERS_PART 2000

static bool users_part_h(struct mbuf *out, void *arg)
{
	struct users_walk *w = arg;
	int err = 0;

	if (out && mon_reg && users_walk(mon_reg, out, w, USERS_PART, &err))
		return true;
	if (err)
		mbuf_printf(out, "Error: the listing stopped: %s\n", strerror(err));
	free(w);
	return false;
}

static int users_cmd_h(int argc, char **argv, struct mbuf *out, void *arg)
{
	int err;

	(void)arg;
	if (!mon_reg) {
		mbuf_write_str(out, "Error: the registrar is not running\n");
		return ENODEV;
	}
	if (argc > 2) {
		mbuf_write_str(out, "Error: usage: users [IMPI|IMPU]\n");
		return EINVAL;
	}
	if (argc == 1) {
		/* every user: in parts, so that a million users do not hold
		 * the loop (monitor_more) */
		struct users_walk *w = calloc(1, sizeof(*w));

		if (!w) {
			mbuf_write_str(out, "Error: out of memory\n");
			return ENOMEM;
		}
		if (users_part_h(out, w))
			monitor_more(users_part_h, w);
		return 0;
	}
	err = registrar_users_print(mon_reg, out, argv[1]);
	if (err == ENOENT)
		mbuf_printf(out, "Error: unknown user '%s'\n", argv[1]);
	return err;
}

static const struct monitor_cmd users_cmd[] = {{
    .name = "users",
    .usage = "[IMPI|IMPU]",
    .summary = "list the user database and the registration state",
    .help = "users             every user: IMPI, IMSI, IMPUs, state, bindings\n"
	    "users IMPI|IMPU   one user (all multi_sim entries sharing it)\n"
	    "A binding line shows the contact URI, the transport and peer it was\n"
	    "registered from, the seconds left, q, the IMEI and reg-id if any.",
    .h = users_cmd_h,
}};

int registrar_monitor_register(struct registrar *reg)
{
	int err = monitor_cmds_register(users_cmd, 1);

	if (err == EEXIST)
		err = 0; /* already there (a previous registrar): just retarget */
	if (!err)
		mon_reg = reg;
	return err;
}

void reg_mon_forget(const struct registrar *reg)
{
	if (mon_reg == reg)
		mon_reg = NULL;
}
