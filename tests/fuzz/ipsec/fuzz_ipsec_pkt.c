/*
 * Fuzz target: the datapath's packet handling (ipsec/ipsec_pkt, ipsec_dp).
 * First byte 0: the input is a packet read from the TUN device (IPv4/IPv6
 * parse, then the outbound path with one SA set installed); a parsed
 * UDP/TCP packet must rebuild into one that parses to the same fields.
 * First byte 1: the input is ESP from the raw socket for the set's inbound
 * SPI region (the SPI of the input is replaced by the set's spi-s when the
 * second byte is odd), through lookup, decapsulation and the selectors.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipsec/ipsec_int.h"
#include "ipsec/ipsec_pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ipsec ip = {.tun_fd = -1, .raw4_fd = -1, .raw6_fd = -1, .netns_fd = -1};
static uint32_t spi_s;

static void setup(void)
{
	static const uint8_t k[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	struct sec_list l;
	struct sec_offer srv;
	struct ipsec_set_prm p = {.port_c = 5100, .port_s = 5101, .ck = k, .ik = k};
	size_t i = 0;
	uint64_t id;

	memset(&l, 0, sizeof(l));
	if (ipsec_table_alloc(&ip.table, 0) ||
	    sec_agree_parse(PL("ipsec-3gpp;alg=null;ealg=null;spi-c=1000;spi-s=1001;"
			       "port-c=6000;port-s=6001"),
			    &l) ||
	    sec_agree_choose(&l, ~0u, ~0u, &i) || net_addr_parse_str(&p.ue, "10.0.0.2", 0) ||
	    net_addr_parse_str(&p.local, "10.0.0.1", 0))
		abort();
	p.ue_offer = &l.v[i];
	if (ipsec_set_add(ip.table, &p, &id))
		abort();
	ipsec_set_server_offer(ipsec_set_get(ip.table, id), &srv);
	spi_s = srv.spi_s;
}

static void tun_path(const uint8_t *d, size_t n)
{
	static uint8_t out[70000], re[70000];
	struct ipsec_pkt p, q;
	struct net_addr src, dst;
	size_t olen = 0;

	if (ipsec_pkt_parse(d, n, &p))
		return;
	if ((p.proto == IPSEC_PROTO_UDP || p.proto == IPSEC_PROTO_TCP)) {
		if (ipsec_pkt_build(&p.src, &p.dst, p.proto, p.l4, p.l4_len, re, sizeof(re), &olen) ||
		    ipsec_pkt_parse(re, olen, &q) || q.proto != p.proto || q.l4_len != p.l4_len ||
		    !net_addr_eq(&q.src, &p.src) || !net_addr_eq(&q.dst, &p.dst))
			abort();
	}
	(void)ipsec_dp_tun_in(&ip, d, n, out, sizeof(out), &olen, &src, &dst);
}

static void esp_path(const uint8_t *d, size_t n, int own_spi)
{
	static uint8_t esp[70000], out[70000 + 64];
	struct net_addr ue, us;
	size_t olen = 0;

	if (n > sizeof(esp) || net_addr_parse_str(&ue, "10.0.0.2", 0) ||
	    net_addr_parse_str(&us, "10.0.0.1", 0))
		return;
	memcpy(esp, d, n);
	if (own_spi && n >= 4) {
		esp[0] = (uint8_t)(spi_s >> 24);
		esp[1] = (uint8_t)(spi_s >> 16);
		esp[2] = (uint8_t)(spi_s >> 8);
		esp[3] = (uint8_t)spi_s;
	}
	if (ipsec_dp_esp_in(&ip, &ue, &us, esp, n, out, sizeof(out), &olen) == 0) {
		struct ipsec_pkt p;

		if (ipsec_pkt_parse(out, olen, &p) || net_addr_port(&p.dst) != 5101)
			abort(); /* only what the SA's selectors allow gets through */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ip.table)
		setup();
	if (size < 2)
		return 0;
	if (data[0] & 1)
		esp_path(data + 2, size - 2, data[1] & 1);
	else
		tun_path(data + 2, size - 2);
	return 0;
}
