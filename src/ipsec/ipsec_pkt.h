/*
 * ipsec/ipsec_pkt — the IP headers around ESP in transport mode (RFC 4303
 * §3.1.1): read an IPv4/IPv6 packet (from the TUN device, or ESP from the
 * raw socket) and build one around a transport payload (to the TUN device).
 *
 * Only what the Gm datapath needs: no options beyond skipping an IPv4 IHL,
 * no IPv6 extension headers, no fragments (ESP is built under ipsec_mtu so
 * that the kernel fragments the outer packet if it must; a fragmented
 * inbound ESP packet was reassembled by the kernel before the raw socket
 * saw it). Pure functions, bounds-checked on every field.
 * Errors: 0; EBADMSG malformed or truncated; ENOTSUP a valid packet we do
 * not carry (fragment, extension header, other protocol); ENOSPC output
 * too small.
 */
#ifndef IPSEC_IPSEC_PKT_H
#define IPSEC_IPSEC_PKT_H

#include <stddef.h>
#include <stdint.h>

#include "net/net_addr.h"

#define IPSEC_PROTO_TCP 6
#define IPSEC_PROTO_UDP 17
#define IPSEC_PROTO_ESP 50
#define IPSEC_IP4_HDR 20
#define IPSEC_IP6_HDR 40

struct ipsec_pkt {
	int af;			/* AF_INET, AF_INET6 */
	struct net_addr src, dst; /* ports set for UDP and TCP, else 0 */
	uint8_t proto;		/* next header */
	const uint8_t *l4;	/* borrowed: the transport payload */
	size_t l4_len;
};

/* A whole IP packet: v4 or v6 by its version nibble. */
int ipsec_pkt_parse(const uint8_t *p, size_t n, struct ipsec_pkt *pkt);
/* Ports of a UDP header or TCP segment (both start with them). */
int ipsec_pkt_ports(uint8_t proto, const uint8_t *l4, size_t len, uint16_t *sport,
		    uint16_t *dport);
/* IP header (src, dst, proto) + l4 into out. */
int ipsec_pkt_build(const struct net_addr *src, const struct net_addr *dst, uint8_t proto,
		    const uint8_t *l4, size_t len, uint8_t *out, size_t size, size_t *olen);
/* UDP header (ports of src and dst, length, pseudo-header checksum) + data
 * into out: the ESP payload of a datagram sent on the direct path. */
int ipsec_pkt_udp_build(const struct net_addr *src, const struct net_addr *dst,
			const uint8_t *data, size_t len, uint8_t *out, size_t size, size_t *olen);
/* A received UDP header + data between src and dst: length field equal to
 * len, checksum right (required over IPv6); *data_len = bytes after it. */
int ipsec_pkt_udp_check(const struct net_addr *src, const struct net_addr *dst,
			const uint8_t *udp, size_t len, size_t *data_len);

#endif
