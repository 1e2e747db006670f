/*
 * sip/sip_uri — URI parsing and comparison: sip/sips (RFC 3261 §19.1, §25.1),
 * tel (RFC 3966), urn (RFC 8141), any other scheme kept as an opaque
 * absolute URI (RFC 3986 §3).
 *
 * sip_uri_decode() fills views into the text it was given; escapes are left
 * in place and resolved by the comparison and sip_pl_unescape(). IPv6 hosts
 * are given without their brackets and checked with inet_pton() (so the
 * RFC 5118 §4.9 three-colon form is refused).
 */
#ifndef SIP_SIP_URI_H
#define SIP_SIP_URI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pl.h"

enum sip_uri_scheme {
	SIP_URI_OTHER = 0,
	SIP_URI_SIP,
	SIP_URI_SIPS,
	SIP_URI_TEL,
	SIP_URI_URN,
};

enum sip_host_type { SIP_HOST_NONE = 0, SIP_HOST_NAME, SIP_HOST_IPV4, SIP_HOST_IPV6 };

struct sip_uri {
	enum sip_uri_scheme scheme;
	struct pl scheme_pl;
	struct pl user;     /* sip/sips user; tel: the number */
	struct pl password; /* sip/sips */
	struct pl host;     /* sip/sips; IPv6 without brackets */
	enum sip_host_type host_type;
	struct pl port_pl;
	uint16_t port;      /* 0 if absent */
	struct pl params;   /* ";name[=value]..." from the first ';' (sip, sips, tel) */
	struct pl headers;  /* after '?', without it (sip, sips) */
	struct pl opaque;   /* everything after "scheme:" */
	struct pl raw;
};

/* EBADMSG if malformed, E2BIG over SIP_MAX_PARAMS parameters. */
int sip_uri_decode(struct sip_uri *uri, struct pl pl);
/* A URI parameter (name case-insensitive): 0 and its value (empty if it has
 * none, escapes left in place), or ENOENT. */
int sip_uri_param_get(const struct sip_uri *uri, const char *name, struct pl *val);
/* Iterates ";name[=value]" or "name=value&..." lists: *it starts as the
 * list and is advanced; false at the end. */
bool sip_uri_param_next(struct pl *it, char sep, struct pl *name, struct pl *val);
/* URI equality per RFC 3261 §19.1.4 (sip, sips), RFC 3966 §4 (tel),
 * case-insensitive exact match otherwise. */
bool sip_uri_eq(const struct sip_uri *a, const struct sip_uri *b);
/* Decodes both then compares; false if either is malformed. */
bool sip_uri_cmp(struct pl a, struct pl b);
/* %XX-unescapes into out (NUL-terminated); ENOSPC if it does not fit,
 * EBADMSG on a bad escape. *outlen gets the length (may include NULs). */
int sip_pl_unescape(struct pl in, char *out, size_t size, size_t *outlen);
/* host = hostname / IPv4address / IPv6reference (with brackets); also used
 * for Via sent-by and received. Returns the host type or SIP_HOST_NONE. */
enum sip_host_type sip_host_check(struct pl host);
/* Textual IPv6 address (RFC 4291 §2.2, no brackets, no zone) and dotted
 * IPv4 address [p, e), accepting exactly what inet_pton() accepts, without
 * copying. */
bool sip_ipv6_ok(struct pl h);
bool sip_ipv4_ok(const char *p, const char *e);

#endif
