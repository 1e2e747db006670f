/*
 * net/addr — IPv4 and IPv6 socket addresses.
 *
 * One value type for every transport address in the server: the configured
 * sip_addr entries, the source of a received datagram, the peer of a TCP
 * connection, the destination of a send. Text forms are the ones SIP uses
 * (RFC 3261 §25.1 hostport, RFC 5118 for IPv6): "1.2.3.4", "1.2.3.4:5060",
 * "[2001:db8::1]", "[2001:db8::1]:5060", and a bare "2001:db8::1" (no port;
 * the brackets are only needed when a port follows). Only numeric hosts are
 * accepted: resolving names is not this layer's job and must never block
 * the loop.
 */
#ifndef NET_NET_ADDR_H
#define NET_NET_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/pl.h"

struct net_addr {
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_storage ss;
	} u;
};

/* Longest text from net_addr_print, NUL included:
 * "[" v6 "%" scope "]:" port. */
#define NET_ADDR_STRLEN (INET6_ADDRSTRLEN + 16 + 8)

/* Parses "host", "host:port", "[v6]", "[v6]:port" or a bare IPv6 address.
 * A missing port becomes dport. Port 0 is allowed (bind: any port).
 * EBADMSG on anything malformed (names, bad digits, port > 65535). */
int net_addr_parse(struct net_addr *a, struct pl text, uint16_t dport);
int net_addr_parse_str(struct net_addr *a, const char *text, uint16_t dport);

/* Copies a kernel address; EAFNOSUPPORT unless AF_INET or AF_INET6. */
int net_addr_from_sa(struct net_addr *a, const struct sockaddr *sa, socklen_t len);

void net_addr_init(struct net_addr *a, int af); /* the any address, port 0 */
int net_addr_af(const struct net_addr *a);	/* AF_INET, AF_INET6, 0 */
bool net_addr_isset(const struct net_addr *a);
bool net_addr_is_any(const struct net_addr *a); /* 0.0.0.0 or :: */
uint16_t net_addr_port(const struct net_addr *a);
void net_addr_set_port(struct net_addr *a, uint16_t port);
const struct sockaddr *net_addr_sa(const struct net_addr *a);
socklen_t net_addr_len(const struct net_addr *a);

/* "1.2.3.4:5060" or "[::1]:5060"; always NUL-terminated. Returns buf so
 * it can be used inside a log call. */
const char *net_addr_print(const struct net_addr *a, char *buf, size_t size);
/* Host only, brackets kept for IPv6 (the form for a Via sent-by). */
const char *net_addr_print_host(const struct net_addr *a, char *buf, size_t size);

/* Total order (family, address, port, scope); 0 when equal. */
int net_addr_cmp(const struct net_addr *a, const struct net_addr *b);
bool net_addr_eq(const struct net_addr *a, const struct net_addr *b);
/* Same family and IP, any port. */
bool net_addr_eq_ip(const struct net_addr *a, const struct net_addr *b);
/* Hash of the IP only (the port left out, so one peer's connections share
 * a bucket and can be counted). */
uint32_t net_addr_hash_ip(const struct net_addr *a);
/* The peer a connection limit counts: an IPv4 address, or an IPv6 /64
 * (one subscriber's or one host's prefix: RFC 7934, TS 23.401 §5.3.1.2.2
 * give a UE a whole /64, so counting a /128 would let one peer open as many
 * connections as it has addresses). Same family and same group; its hash. */
bool net_addr_same_peer(const struct net_addr *a, const struct net_addr *b);
uint32_t net_addr_hash_peer(const struct net_addr *a);

#endif
