/*
 * monitor_ipsec — the command `ipsec [keys]`: the SAs of the IPsec datapath
 * (manual §6 `ipsec`: type, dir, spi, the UE, mode, src, dst, keys), one
 * line per SA from ipsec_set_sa_info(), then the datapath's counters
 * (ipsec_stats_get, the SA table's). Formatting only: the data is ipsec/'s
 * and the registrar's (which user a set belongs to). Keys only with `keys`.
 * At most MONITOR_IPSEC_SETS sets are listed; the rest are counted.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "core/mbuf.h"
#include "hss/hss.h"
#include "ipsec/ipsec.h"
#include "ipsec/ipsec_sa.h"
#include "monitor/monitor_int.h"
#include "registrar/registrar.h"

#define MONITOR_IPSEC_SETS 1000

struct ipsec_print {
	struct mbuf *out;
	bool keys;
	size_t sets, more;
	const struct ipsec_set *last; /* the set of the last SA met */
	bool skip;		      /* its SAs are not listed */
	int err;
};

static int hex_print(struct mbuf *out, const char *name, const uint8_t *p, size_t len)
{
	int err = mbuf_printf(out, " %s=", name);

	for (size_t i = 0; !err && i < len; i++)
		err = mbuf_printf(out, "%02x", p[i]);
	return err;
}

static int sa_print(struct ipsec_print *pp, const struct ipsec_set *s,
		    const struct ipsec_sa_info *in)
{
	const struct hss_user *u = registrar_ipsec_owner(ipsec_set_owner(s));
	const char *impi = u ? hss_user_impi(u) : NULL;
	char src[NET_ADDR_STRLEN], dst[NET_ADDR_STRLEN];
	int err;

	err = mbuf_printf(
	    pp->out,
	    "set=%llu %s %s dir=%s spi=0x%08x ue=%s mode=transport src=%s dst=%s alg=%s "
	    "ealg=%s packets=%llu bytes=%llu auth_fail=%llu replay=%llu malformed=%llu",
	    (unsigned long long)ipsec_set_id(s),
	    net_addr_af(&in->src) == AF_INET6 ? "IPv6" : "IPv4",
	    ipsec_set_state(s) == IPSEC_SET_ACTIVE ? "active" : "pending", in->in ? "in" : "out",
	    (unsigned)in->spi, impi ? impi : "-", net_addr_print(&in->src, src, sizeof(src)),
	    net_addr_print(&in->dst, dst, sizeof(dst)), esp_aalg_name(in->aalg),
	    esp_ealg_name(in->ealg), (unsigned long long)in->st.packets,
	    (unsigned long long)in->st.bytes, (unsigned long long)in->st.auth_fail,
	    (unsigned long long)in->st.replay, (unsigned long long)in->st.malformed);
	if (!err && pp->keys) {
		err = hex_print(pp->out, "cipher_key", in->keys.ekey, in->keys.ekey_len);
		if (!err)
			err = hex_print(pp->out, "authent_key", in->keys.akey, in->keys.akey_len);
	}
	return err ? err : mbuf_write_str(pp->out, "\n");
}

static void sa_h(const struct ipsec_set *s, const struct ipsec_sa_info *in, void *arg)
{
	struct ipsec_print *pp = arg;

	if (pp->err)
		return;
	if (s != pp->last) { /* a set's SAs come together */
		pp->last = s;
		pp->skip = pp->sets >= MONITOR_IPSEC_SETS;
		if (pp->skip)
			pp->more++;
		else
			pp->sets++;
	}
	if (!pp->skip)
		pp->err = sa_print(pp, s, in);
}

int monitor_ipsec_counters(const struct ipsec *ip, struct mbuf *out)
{
	struct ipsec_table_stats ts;
	struct ipsec_stats st;

	ipsec_stats_get(ip, &st);
	ipsec_table_stats(ipsec_table(ip), &ts);
	return mbuf_printf(
	    out,
	    "ipsec.sets: %llu\ncounters.ipsec.sets_created: %llu\n"
	    "counters.ipsec.sets_deleted: %llu\ncounters.ipsec.sets_expired: %llu\n"
	    "counters.ipsec.esp_rx: %llu\ncounters.ipsec.esp_rx_bytes: %llu\n"
	    "counters.ipsec.esp_tx: %llu\ncounters.ipsec.esp_tx_bytes: %llu\n"
	    "counters.ipsec.drop_no_sa: %llu\ncounters.ipsec.drop_auth: %llu\n"
	    "counters.ipsec.drop_replay: %llu\ncounters.ipsec.drop_malformed: %llu\n"
	    "counters.ipsec.drop_policy: %llu\ncounters.ipsec.drop_tun_no_sa: %llu\n"
	    "counters.ipsec.udp_direct_rx: %llu\ncounters.ipsec.udp_direct_tx: %llu\n"
	    "counters.ipsec.drop_io: %llu\ncounters.ipsec.drop_no_dst: %llu\n",
	    (unsigned long long)ts.sets, (unsigned long long)ts.sets_created,
	    (unsigned long long)ts.sets_deleted, (unsigned long long)ts.sets_expired,
	    (unsigned long long)st.esp_rx, (unsigned long long)st.esp_rx_bytes,
	    (unsigned long long)st.esp_tx, (unsigned long long)st.esp_tx_bytes,
	    (unsigned long long)st.drop_no_sa, (unsigned long long)st.drop_auth,
	    (unsigned long long)st.drop_replay, (unsigned long long)st.drop_malformed,
	    (unsigned long long)st.drop_policy, (unsigned long long)st.drop_tun_no_sa,
	    (unsigned long long)st.udp_direct_rx, (unsigned long long)st.udp_direct_tx,
	    (unsigned long long)st.drop_io, (unsigned long long)st.drop_no_dst);
}

static int ipsec_cmd_h(struct monitor *mon, int argc, char **argv, struct mbuf *out,
		       struct monitor_ans *ans)
{
	struct ipsec_print pp = {.out = out};

	(void)ans;
	if (!mon->prm.ipsec) {
		mbuf_write_str(out, "Error: IPsec is not running\n");
		return ENODEV;
	}
	if (argc > 2 || (argc == 2 && strcmp(argv[1], "keys"))) {
		mbuf_write_str(out, "Error: usage: ipsec [keys]\n");
		return EINVAL;
	}
	pp.keys = argc == 2;
	ipsec_table_sa_walk(ipsec_table(mon->prm.ipsec), sa_h, &pp);
	if (!pp.err && pp.more)
		pp.err = mbuf_printf(out, "(%zu more sets not listed)\n", pp.more);
	if (!pp.err)
		pp.err = monitor_ipsec_counters(mon->prm.ipsec, out);
	return pp.err;
}

const struct monitor_cmd monitor_cmd_ipsec = {
    .name = "ipsec",
    .usage = "[keys]",
    .summary = "IPsec security associations and the datapath's counters",
    .help = "ipsec        one line per SA (docs/monitor.md): set id, IPv4/IPv6,\n"
	    "  active or pending, dir in/out, spi, ue (IMPI), mode, src, dst\n"
	    "  (with ports), alg, ealg, packets, bytes, auth_fail, replay,\n"
	    "  malformed; then ipsec.sets and counters.ipsec.* (as in 'stats').\n"
	    "  At most 1000 sets are listed.\n"
	    "ipsec keys   the same with cipher_key and authent_key (hex, as used).",
    .h = ipsec_cmd_h,
};
