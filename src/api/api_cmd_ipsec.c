/*
 * api_cmd_ipsec — the `ipsec` message (manual §6.5): the SAs of the
 * user-space IPsec datapath (src/ipsec, docs/ipsec.md), listed SA by SA
 * with ipsec_table_sa_walk as the monitor's `ipsec` lists them.
 *
 * Each SA: type (IPv4/IPv6), dir (in/out), spi, ue_id (the IPsec set's
 * id: one set of four SAs per protected registration flow, the monitor's
 * `set=`), mode (transport: imsd does not tunnel), src and dst (IP
 * addresses; their ports in src_port and dst_port), src_prefix and
 * dst_prefix (a host's: 32 or 128), authent_key and cipher_key (hex; ""
 * for the null cipher), and the UE's impi when the registrar knows it.
 * Without IPsec (off, or no address to protect) the list is empty. At most
 * API_IPSEC_SAS SAs are listed; `more` counts the others.
 */
#include "api/api_int.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "hss/hss.h"
#include "ipsec/ipsec.h"
#include "ipsec/ipsec_sa.h"
#include "net/net_addr.h"
#include "registrar/registrar.h"

#define API_IPSEC_SAS 100000u

struct ipsec_list {
	json_t *arr;
	size_t n, more;
};

static json_t *hex_json(const uint8_t *p, size_t len)
{
	char buf[2 * 64 + 1];
	size_t n = len <= 64 ? len : 64;

	for (size_t i = 0; i < n; i++) {
		buf[2 * i] = "0123456789abcdef"[p[i] >> 4];
		buf[2 * i + 1] = "0123456789abcdef"[p[i] & 15];
	}
	return json_stringn(buf, 2 * n);
}

/* The IP address alone, without the brackets of an IPv6 one. */
static json_t *ip_json(const struct net_addr *a)
{
	char buf[NET_ADDR_STRLEN];
	const char *h = net_addr_print_host(a, buf, sizeof(buf));
	size_t l = strlen(h);

	if (l >= 2 && h[0] == '[' && h[l - 1] == ']')
		return json_stringn(h + 1, l - 2);
	return json_string(h);
}

static void sa_h(const struct ipsec_set *s, const struct ipsec_sa_info *in, void *arg)
{
	struct ipsec_list *l = arg;
	const struct hss_user *u = registrar_ipsec_owner(ipsec_set_owner(s));
	const char *impi = u ? hss_user_impi(u) : NULL;
	bool v6 = net_addr_af(&in->src) == AF_INET6;
	json_t *o;

	if (l->n >= API_IPSEC_SAS) {
		l->more++;
		return;
	}
	o = json_pack("{s:s, s:s, s:I, s:I, s:s, s:o, s:o, s:i, s:i, s:i, s:i, s:o, s:o}",
		      "type", v6 ? "IPv6" : "IPv4", "dir", in->in ? "in" : "out", "spi",
		      (json_int_t)in->spi, "ue_id", (json_int_t)ipsec_set_id(s), "mode",
		      "transport", "src", ip_json(&in->src), "dst", ip_json(&in->dst),
		      "src_port", (int)net_addr_port(&in->src), "dst_port",
		      (int)net_addr_port(&in->dst), "src_prefix", v6 ? 128 : 32, "dst_prefix",
		      v6 ? 128 : 32, "authent_key", hex_json(in->keys.akey, in->keys.akey_len),
		      "cipher_key", hex_json(in->keys.ekey, in->keys.ekey_len));
	if (!o)
		return;
	json_object_set_new(o, "state",
			    json_string(ipsec_set_state(s) == IPSEC_SET_ACTIVE ? "active"
										: "pending"));
	json_object_set_new(o, "authent_alg", json_string(esp_aalg_name(in->aalg)));
	json_object_set_new(o, "cipher_alg", json_string(esp_ealg_name(in->ealg)));
	if (impi)
		json_object_set_new(o, "impi", json_string(impi));
	json_array_append_new(l->arr, o);
	l->n++;
}

int api_cmd_ipsec(struct api_ctx *ctx, json_t *resp)
{
	struct ipsec_list l = {.arr = json_array()};

	if (!l.arr)
		return api_error(resp, "Out of memory");
	if (ctx->api->prm.ipsec)
		ipsec_table_sa_walk(ipsec_table(ctx->api->prm.ipsec), sa_h, &l);
	json_object_set_new(resp, "SAs", l.arr);
	if (l.more)
		json_object_set_new(resp, "more", json_integer((json_int_t)l.more));
	return 0;
}
