/* net/addr — parsing, printing and comparing IPv4/IPv6 addresses. */
#include "net/net_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

/* Longest host text we accept: a full IPv6 address plus a zone name. */
#define NET_ADDR_HOST_MAX (INET6_ADDRSTRLEN + IF_NAMESIZE + 1)

static int port_parse(struct pl pl, uint16_t *port)
{
	uint32_t v;

	/* pl_u32 takes any number of digits; a port has at most five. */
	if (pl.l == 0 || pl.l > 5 || pl_u32(pl, &v) || v > 65535)
		return EBADMSG;
	*port = (uint16_t)v;
	return 0;
}

static int zone_parse(const char *zone, uint32_t *scope)
{
	uint32_t v;

	if (!*zone)
		return EBADMSG;
	if (!pl_u32(pl_from_str(zone), &v)) {
		*scope = v;
		return 0;
	}
	v = if_nametoindex(zone);
	if (!v)
		return EBADMSG;
	*scope = v;
	return 0;
}

static int host6_parse(struct net_addr *a, struct pl host)
{
	char buf[NET_ADDR_HOST_MAX + 1];
	char *zone;
	uint32_t scope = 0;
	int err;

	if (host.l == 0 || host.l > NET_ADDR_HOST_MAX)
		return EBADMSG;
	memcpy(buf, host.p, host.l);
	buf[host.l] = '\0';
	zone = strchr(buf, '%');
	if (zone) {
		*zone++ = '\0';
		err = zone_parse(zone, &scope);
		if (err)
			return err;
	}
	memset(&a->u, 0, sizeof(a->u));
	if (inet_pton(AF_INET6, buf, &a->u.in6.sin6_addr) != 1)
		return EBADMSG;
	a->u.in6.sin6_family = AF_INET6;
	a->u.in6.sin6_scope_id = scope;
	return 0;
}

static int host4_parse(struct net_addr *a, struct pl host)
{
	char buf[INET_ADDRSTRLEN];

	if (host.l == 0 || host.l >= sizeof(buf))
		return EBADMSG;
	memcpy(buf, host.p, host.l);
	buf[host.l] = '\0';
	memset(&a->u, 0, sizeof(a->u));
	if (inet_pton(AF_INET, buf, &a->u.in.sin_addr) != 1)
		return EBADMSG;
	a->u.in.sin_family = AF_INET;
	return 0;
}

/* Splits "[v6]" / "[v6]:port" into host and port views. */
static int bracket_split(struct pl text, struct pl *host, struct pl *port)
{
	const char *end = memchr(text.p, ']', text.l);
	size_t rest;

	if (!end)
		return EBADMSG;
	host->p = text.p + 1;
	host->l = (size_t)(end - host->p);
	rest = text.l - (size_t)(end + 1 - text.p);
	if (rest == 0) {
		port->p = NULL;
		port->l = 0;
		return 0;
	}
	if (end[1] != ':' || rest < 2)
		return EBADMSG;
	port->p = end + 2;
	port->l = rest - 1;
	return 0;
}

int net_addr_parse(struct net_addr *a, struct pl text, uint16_t dport)
{
	struct pl host = text, port = PL_INIT;
	const char *colon;
	uint16_t pnum = dport;
	size_t ncolon = 0;
	int err;

	if (!text.p || text.l == 0 || text.l >= NET_ADDR_STRLEN + IF_NAMESIZE)
		return EBADMSG;
	/* The helpers below hand copies to inet_pton, which would stop at
	 * an embedded NUL and accept a prefix. */
	if (memchr(text.p, '\0', text.l))
		return EBADMSG;
	if (text.p[0] == '[') {
		err = bracket_split(text, &host, &port);
		if (!err && port.p)
			err = port_parse(port, &pnum);
		if (!err)
			err = host6_parse(a, host);
		goto out;
	}
	for (size_t i = 0; i < text.l; i++)
		ncolon += text.p[i] == ':';
	if (ncolon >= 2) {
		/* A bare IPv6 address: any port would have needed brackets. */
		err = host6_parse(a, text);
		goto out;
	}
	if (ncolon == 1) {
		colon = memchr(text.p, ':', text.l);
		host.l = (size_t)(colon - text.p);
		port.p = colon + 1;
		port.l = text.l - host.l - 1;
		err = port_parse(port, &pnum);
		if (err)
			goto out;
	}
	err = host4_parse(a, host);
out:
	if (!err)
		net_addr_set_port(a, pnum);
	return err;
}

int net_addr_parse_str(struct net_addr *a, const char *text, uint16_t dport)
{
	if (!text)
		return EBADMSG;
	return net_addr_parse(a, pl_from_str(text), dport);
}

int net_addr_from_sa(struct net_addr *a, const struct sockaddr *sa, socklen_t len)
{
	memset(&a->u, 0, sizeof(a->u));
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		memcpy(&a->u.in, sa, sizeof(struct sockaddr_in));
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		memcpy(&a->u.in6, sa, sizeof(struct sockaddr_in6));
		return 0;
	}
	return EAFNOSUPPORT;
}

void net_addr_init(struct net_addr *a, int af)
{
	memset(&a->u, 0, sizeof(a->u));
	a->u.sa.sa_family = (sa_family_t)af;
}

int net_addr_af(const struct net_addr *a)
{
	return a->u.sa.sa_family;
}

bool net_addr_isset(const struct net_addr *a)
{
	return a->u.sa.sa_family == AF_INET || a->u.sa.sa_family == AF_INET6;
}

bool net_addr_is_any(const struct net_addr *a)
{
	if (a->u.sa.sa_family == AF_INET)
		return a->u.in.sin_addr.s_addr == htonl(INADDR_ANY);
	if (a->u.sa.sa_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&a->u.in6.sin6_addr);
	return false;
}

uint16_t net_addr_port(const struct net_addr *a)
{
	if (a->u.sa.sa_family == AF_INET)
		return ntohs(a->u.in.sin_port);
	if (a->u.sa.sa_family == AF_INET6)
		return ntohs(a->u.in6.sin6_port);
	return 0;
}

void net_addr_set_port(struct net_addr *a, uint16_t port)
{
	if (a->u.sa.sa_family == AF_INET)
		a->u.in.sin_port = htons(port);
	else if (a->u.sa.sa_family == AF_INET6)
		a->u.in6.sin6_port = htons(port);
}

const struct sockaddr *net_addr_sa(const struct net_addr *a)
{
	return &a->u.sa;
}

socklen_t net_addr_len(const struct net_addr *a)
{
	if (a->u.sa.sa_family == AF_INET)
		return sizeof(struct sockaddr_in);
	if (a->u.sa.sa_family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	return 0;
}

const char *net_addr_print_host(const struct net_addr *a, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];

	if (!size)
		return buf;
	buf[0] = '\0';
	if (a->u.sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &a->u.in.sin_addr, ip, sizeof(ip));
		snprintf(buf, size, "%s", ip);
	} else if (a->u.sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &a->u.in6.sin6_addr, ip, sizeof(ip));
		if (a->u.in6.sin6_scope_id)
			snprintf(buf, size, "[%s%%%u]", ip, a->u.in6.sin6_scope_id);
		else
			snprintf(buf, size, "[%s]", ip);
	} else {
		snprintf(buf, size, "?");
	}
	return buf;
}

const char *net_addr_print(const struct net_addr *a, char *buf, size_t size)
{
	char host[NET_ADDR_STRLEN];

	if (!size)
		return buf;
	if (!net_addr_isset(a)) {
		snprintf(buf, size, "?");
		return buf;
	}
	net_addr_print_host(a, host, sizeof(host));
	snprintf(buf, size, "%s:%u", host, net_addr_port(a));
	return buf;
}

static int ip_cmp(const struct net_addr *a, const struct net_addr *b)
{
	if (a->u.sa.sa_family != b->u.sa.sa_family)
		return a->u.sa.sa_family < b->u.sa.sa_family ? -1 : 1;
	if (a->u.sa.sa_family == AF_INET)
		return memcmp(&a->u.in.sin_addr, &b->u.in.sin_addr,
			      sizeof(a->u.in.sin_addr));
	if (a->u.sa.sa_family == AF_INET6) {
		int c = memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr,
			       sizeof(a->u.in6.sin6_addr));

		if (c)
			return c;
		if (a->u.in6.sin6_scope_id != b->u.in6.sin6_scope_id)
			return a->u.in6.sin6_scope_id < b->u.in6.sin6_scope_id ? -1 : 1;
	}
	return 0;
}

int net_addr_cmp(const struct net_addr *a, const struct net_addr *b)
{
	uint16_t pa, pb;
	int c = ip_cmp(a, b);

	if (c)
		return c;
	pa = net_addr_port(a);
	pb = net_addr_port(b);
	return pa == pb ? 0 : (pa < pb ? -1 : 1);
}

bool net_addr_eq(const struct net_addr *a, const struct net_addr *b)
{
	return net_addr_cmp(a, b) == 0;
}

bool net_addr_eq_ip(const struct net_addr *a, const struct net_addr *b)
{
	return ip_cmp(a, b) == 0;
}

/* The first n bytes of a's IP that make the key (all of them, or an IPv6
 * address's /64 when peer is true). */
static const uint8_t *ip_bytes(const struct net_addr *a, bool peer, size_t *n)
{
	if (a->u.sa.sa_family == AF_INET) {
		*n = sizeof(a->u.in.sin_addr);
		return (const uint8_t *)&a->u.in.sin_addr;
	}
	if (a->u.sa.sa_family == AF_INET6) {
		*n = peer ? 8 : sizeof(a->u.in6.sin6_addr);
		return (const uint8_t *)&a->u.in6.sin6_addr;
	}
	*n = 0;
	return NULL;
}

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

uint32_t net_addr_hash_ip(const struct net_addr *a)
{
	size_t n;
	const uint8_t *p = ip_bytes(a, false, &n);

	return fnv1a(p, n);
}

bool net_addr_same_peer(const struct net_addr *a, const struct net_addr *b)
{
	size_t na, nb;
	const uint8_t *pa = ip_bytes(a, true, &na), *pb = ip_bytes(b, true, &nb);

	return a->u.sa.sa_family == b->u.sa.sa_family && na == nb && na &&
	       !memcmp(pa, pb, na);
}

uint32_t net_addr_hash_peer(const struct net_addr *a)
{
	size_t n;
	const uint8_t *p = ip_bytes(a, true, &n);

	return fnv1a(p, n);
}
