/*
 * ipsec/ipsec_pkt — IPv4 (RFC 791) and IPv6 (RFC 8200) headers for the
 * ESP datapath. See ipsec_pkt.h.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "ipsec/ipsec_pkt.h"

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

int ipsec_pkt_ports(uint8_t proto, const uint8_t *l4, size_t len, uint16_t *sport,
		    uint16_t *dport)
{
	if (proto != IPSEC_PROTO_UDP && proto != IPSEC_PROTO_TCP)
		return ENOTSUP;
	if (len < (proto == IPSEC_PROTO_UDP ? 8u : 20u))
		return EBADMSG;
	*sport = get16(l4);
	*dport = get16(l4 + 2);
	return 0;
}

static void addr4(struct net_addr *a, const uint8_t *ip)
{
	net_addr_init(a, AF_INET);
	memcpy(&a->u.in.sin_addr, ip, 4);
}

static void addr6(struct net_addr *a, const uint8_t *ip)
{
	net_addr_init(a, AF_INET6);
	memcpy(&a->u.in6.sin6_addr, ip, 16);
}

static int parse4(const uint8_t *p, size_t n, struct ipsec_pkt *pkt)
{
	size_t ihl = (size_t)(p[0] & 0x0f) * 4, tot;

	if (n < IPSEC_IP4_HDR || ihl < IPSEC_IP4_HDR || ihl > n)
		return EBADMSG;
	tot = get16(p + 2);
	if (tot < ihl || tot > n)
		return EBADMSG;
	if (get16(p + 6) & 0x3fff)
		return ENOTSUP; /* MF or a fragment offset */
	pkt->af = AF_INET;
	pkt->proto = p[9];
	addr4(&pkt->src, p + 12);
	addr4(&pkt->dst, p + 16);
	pkt->l4 = p + ihl;
	pkt->l4_len = tot - ihl;
	return 0;
}

static int parse6(const uint8_t *p, size_t n, struct ipsec_pkt *pkt)
{
	size_t plen;

	if (n < IPSEC_IP6_HDR)
		return EBADMSG;
	plen = get16(p + 4);
	if (plen + IPSEC_IP6_HDR > n)
		return EBADMSG;
	pkt->af = AF_INET6;
	pkt->proto = p[6];
	if (pkt->proto != IPSEC_PROTO_UDP && pkt->proto != IPSEC_PROTO_TCP &&
	    pkt->proto != IPSEC_PROTO_ESP)
		return ENOTSUP; /* extension headers, ICMPv6 (ND): not ours */
	addr6(&pkt->src, p + 8);
	addr6(&pkt->dst, p + 24);
	pkt->l4 = p + IPSEC_IP6_HDR;
	pkt->l4_len = plen;
	return 0;
}

int ipsec_pkt_parse(const uint8_t *p, size_t n, struct ipsec_pkt *pkt)
{
	uint16_t sp, dp;
	int err;

	if (!p || !pkt || n < 1)
		return EBADMSG;
	memset(pkt, 0, sizeof(*pkt));
	switch (p[0] >> 4) {
	case 4:
		err = parse4(p, n, pkt);
		break;
	case 6:
		err = parse6(p, n, pkt);
		break;
	default:
		return EBADMSG;
	}
	if (err)
		return err;
	if (ipsec_pkt_ports(pkt->proto, pkt->l4, pkt->l4_len, &sp, &dp) == 0) {
		net_addr_set_port(&pkt->src, sp);
		net_addr_set_port(&pkt->dst, dp);
	} else if (pkt->proto == IPSEC_PROTO_UDP || pkt->proto == IPSEC_PROTO_TCP) {
		return EBADMSG;
	}
	return 0;
}

static uint16_t csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += get16(p + i);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

int ipsec_pkt_build(const struct net_addr *src, const struct net_addr *dst, uint8_t proto,
		    const uint8_t *l4, size_t len, uint8_t *out, size_t size, size_t *olen)
{
	static uint16_t ip_id;
	int af = net_addr_af(src);
	size_t hl = af == AF_INET ? IPSEC_IP4_HDR : IPSEC_IP6_HDR;

	if ((af != AF_INET && af != AF_INET6) || net_addr_af(dst) != af || (!l4 && len))
		return EINVAL;
	if (len > 65535 - (af == AF_INET ? hl : 0))
		return EMSGSIZE;
	if (size < hl + len)
		return ENOSPC;
	memset(out, 0, hl);
	if (af == AF_INET) {
		out[0] = 0x45;
		put16(out + 2, (uint16_t)(hl + len));
		put16(out + 4, ++ip_id);
		out[8] = 64;
		out[9] = proto;
		memcpy(out + 12, &src->u.in.sin_addr, 4);
		memcpy(out + 16, &dst->u.in.sin_addr, 4);
		put16(out + 10, csum(out, hl));
	} else {
		out[0] = 0x60;
		put16(out + 4, (uint16_t)len);
		out[6] = proto;
		out[7] = 64;
		memcpy(out + 8, &src->u.in6.sin6_addr, 16);
		memcpy(out + 24, &dst->u.in6.sin6_addr, 16);
	}
	if (len)
		memmove(out + hl, l4, len);
	*olen = hl + len;
	return 0;
}

/* --- UDP for the direct path (ipsec.c): no IP header, no TUN --- */

/* s plus the 16-bit big-endian words of p (RFC 1071). The bulk is summed
 * as native 32-bit words into 64 bits and folded: a ones' complement sum
 * does not depend on byte order (RFC 1071 §2(B)) except for a final swap. */
static uint32_t sum16(uint32_t s, const uint8_t *p, size_t n)
{
	uint64_t acc = 0;
	uint16_t folded;
	size_t i = 0;

	for (; i + 4 <= n; i += 4) {
		uint32_t w;

		memcpy(&w, p + i, 4);
		acc += w;
	}
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	folded = (uint16_t)acc;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	folded = (uint16_t)(folded << 8 | folded >> 8); /* to network order */
#endif
	s += folded;
	for (; i + 1 < n; i += 2)
		s += get16(p + i);
	if (i < n)
		s += (uint32_t)p[i] << 8; /* odd length: padded with a zero byte */
	return s;
}

/* RFC 768 (IPv4) and RFC 8200 §8.1 (IPv6) pseudo-header checksum. */
static uint16_t udp_csum(const struct net_addr *src, const struct net_addr *dst,
			 const uint8_t *udp, size_t len)
{
	bool v6 = net_addr_af(src) == AF_INET6;
	uint32_t s = IPSEC_PROTO_UDP + (uint32_t)len;

	if (v6) {
		s = sum16(s, (const uint8_t *)&src->u.in6.sin6_addr, 16);
		s = sum16(s, (const uint8_t *)&dst->u.in6.sin6_addr, 16);
	} else {
		s = sum16(s, (const uint8_t *)&src->u.in.sin_addr, 4);
		s = sum16(s, (const uint8_t *)&dst->u.in.sin_addr, 4);
	}
	s = sum16(s, udp, len);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

int ipsec_pkt_udp_build(const struct net_addr *src, const struct net_addr *dst,
			const uint8_t *data, size_t len, uint8_t *out, size_t size, size_t *olen)
{
	uint16_t c;

	if (net_addr_af(src) != net_addr_af(dst) ||
	    (net_addr_af(src) != AF_INET && net_addr_af(src) != AF_INET6) || (!data && len))
		return EINVAL;
	if (len > 65535 - 8 - IPSEC_IP6_HDR)
		return EMSGSIZE;
	if (size < len + 8)
		return ENOSPC;
	put16(out, net_addr_port(src));
	put16(out + 2, net_addr_port(dst));
	put16(out + 4, (uint16_t)(len + 8));
	put16(out + 6, 0);
	if (len)
		memmove(out + 8, data, len);
	c = udp_csum(src, dst, out, len + 8);
	put16(out + 6, c ? c : 0xffff); /* 0 means "none" (RFC 768) */
	*olen = len + 8;
	return 0;
}

int ipsec_pkt_udp_check(const struct net_addr *src, const struct net_addr *dst,
			const uint8_t *udp, size_t len, size_t *data_len)
{
	size_t ulen;

	if (len < 8)
		return EBADMSG;
	ulen = get16(udp + 4);
	if (ulen < 8 || ulen != len)
		return EBADMSG;
	/* a zero checksum is "none" over IPv4, invalid over IPv6 (RFC 8200 §8.1) */
	if (get16(udp + 6) || net_addr_af(src) == AF_INET6) {
		if (udp_csum(src, dst, udp, len) != 0)
			return EBADMSG;
	}
	*data_len = ulen - 8;
	return 0;
}
