/* sip/sip_uri — URI parsing and comparison; see sip_uri.h. */
#include "sip/sip_uri.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <ctype.h>
#include <strings.h>

#include "sip/sip_msg.h"
#include "sip/sip_scan.h"

static bool sip_c_alnum(char c)
{
	return sip_c2_is(c, SIP_C2_ALNUM);
}

static int sip_hexval(char c)
{
	if (!sip_c_is(c, SIP_C_HEX))
		return -1;
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* IPv4address as inet_pton(AF_INET) reads it (RFC 3261 §25.1 with no
 * leading zeros): four decimal octets up to 255. Own code, so that no copy
 * to a NUL-terminated buffer is needed. */
bool sip_ipv4_ok(const char *p, const char *e)
{
	unsigned octets = 0;

	while (p < e) {
		unsigned v = 0, nd = 0;

		for (; p < e && *p >= '0' && *p <= '9'; p++, nd++) {
			if (nd && v == 0)
				return false;
			v = v * 10 + (unsigned)(*p - '0');
			if (v > 255)
				return false;
		}
		if (!nd || ++octets > 4)
			return false;
		if (p < e && (*p++ != '.' || p == e))
			return false;
	}
	return octets == 4;
}

/* Every byte of pl is in cls or a valid %XX escape. */
static bool sip_chars_ok(struct pl pl, unsigned cls)
{
	for (size_t i = 0; i < pl.l; i++) {
		char c;

		while (i < pl.l && sip_c_is(pl.p[i], cls))
			i++;
		if (i == pl.l)
			break;
		c = pl.p[i];
		if (c == '%') {
			if (i + 2 >= pl.l)
				return false;
			if (sip_hexval(pl.p[i + 1]) < 0 || sip_hexval(pl.p[i + 2]) < 0)
				return false;
			i += 2;
			continue;
		}
		return false;
	}
	return true;
}

static enum sip_host_type sip_hostname_check(struct pl h)
{
	const char *p = h.p, *e = h.p + h.l;
	bool digits_dots = true;

	if (!h.l || h.l > 255)
		return SIP_HOST_NONE;
	while (p < e) {
		/* a label starts with an alphanumeric; a trailing dot is kept */
		if (!sip_c2_is(*p, SIP_C2_ALNUM))
			return SIP_HOST_NONE;
		for (; p < e && *p != '.'; p++) {
			char c = *p;

			if (c >= '0' && c <= '9')
				continue;
			if (!sip_c2_is(c, SIP_C2_ALNUM) && c != '-')
				return SIP_HOST_NONE;
			digits_dots = false;
		}
		if (p < e)
			p++;
	}
	if (!digits_dots)
		return SIP_HOST_NAME;
	/* all digits and dots: must be a dotted IPv4 address */
	return sip_ipv4_ok(h.p, h.p + h.l) ? SIP_HOST_IPV4 : SIP_HOST_NONE;
}

bool sip_ipv6_ok(struct pl h)
{
	const char *p = h.p, *e = h.p + h.l, *tok;
	unsigned bytes = 0, digits = 0, val = 0;
	bool gap = false;

	if (!h.l)
		return false;
	/* a leading colon must be the first half of "::" */
	if (*p == ':' && (++p == e || *p != ':'))
		return false;
	tok = p;
	while (p < e) {
		char c = *p++;
		int x = sip_hexval(c);

		if (x >= 0) {
			if (digits == 4)
				return false;
			val = val << 4 | (unsigned)x;
			digits++;
			continue;
		}
		if (c == ':') {
			tok = p;
			if (!digits) {
				if (gap)
					return false;
				gap = true;
				continue;
			}
			if (p == e || bytes + 2 > 16)
				return false;
			bytes += 2;
			digits = val = 0;
			continue;
		}
		/* dotted-quad tail: the current group starts it, it ends the text */
		if (c == '.' && bytes + 4 <= 16 && sip_ipv4_ok(tok, e)) {
			bytes += 4;
			digits = 0;
			break;
		}
		return false;
	}
	if (digits) {
		if (bytes + 2 > 16)
			return false;
		bytes += 2;
	}
	/* "::" must stand for at least one zero group */
	return gap ? bytes < 16 : bytes == 16;
}

enum sip_host_type sip_host_check(struct pl host)
{
	if (host.l >= 2 && host.p[0] == '[') {
		if (host.p[host.l - 1] != ']')
			return SIP_HOST_NONE;
		return sip_ipv6_ok((struct pl){host.p + 1, host.l - 2}) ? SIP_HOST_IPV6
									: SIP_HOST_NONE;
	}
	return sip_hostname_check(host);
}

static int sip_uri_headers_check(struct pl hdrs)
{
	struct pl it = hdrs, n, v;
	unsigned count = 0;

	while (it.l) {
		if (!sip_uri_param_next(&it, '&', &n, &v))
			return EBADMSG;
		if (++count > SIP_MAX_PARAMS)
			return E2BIG;
		if (!n.l || !sip_chars_ok(n, SIP_C_UNRES | SIP_C_HNV) ||
		    !sip_chars_ok(v, SIP_C_UNRES | SIP_C_HNV))
			return EBADMSG;
	}
	return 0;
}

/* host [":" port] at *pp, in one pass: the host is scanned and checked as
 * it goes; what follows must be ';', '?' or the end. */
static int sip_uri_hostport(struct sip_uri *uri, const char **pp, const char *e)
{
	const char *p = *pp, *h0 = p;
	bool digits_dots = true;

	if (p < e && *p == '[') {
		const char *rb = memchr(p, ']', (size_t)(e - p));

		if (!rb || !sip_ipv6_ok((struct pl){p + 1, (size_t)(rb - p - 1)}))
			return EBADMSG;
		uri->host_type = SIP_HOST_IPV6;
		uri->host = (struct pl){p + 1, (size_t)(rb - p - 1)};
		p = rb + 1;
	} else {
		for (;;) {
			/* a label starts with an alphanumeric; a trailing dot is
			 * kept (as sip_host_check does) */
			if (p >= e || !sip_c2_is(*p, SIP_C2_ALNUM)) {
				if (p == h0 || (p < e && (*p == '-' || *p == '.')))
					return EBADMSG;
				break;
			}
			unsigned acc = 0;

			for (; p < e && sip_c2_is(*p, SIP_C2_HOST); p++)
				acc |= sip_ctab2[(unsigned char)*p];
			if (acc & SIP_C2_HNDIG)
				digits_dots = false;
			if (p >= e || *p != '.')
				break;
			p++;
		}
		if (p - h0 > 255 || (digits_dots && !sip_ipv4_ok(h0, p)))
			return EBADMSG;
		uri->host_type = digits_dots ? SIP_HOST_IPV4 : SIP_HOST_NAME;
		uri->host = (struct pl){h0, (size_t)(p - h0)};
	}
	if (p < e && *p == ':') {
		uint32_t port;
		const char *d0 = ++p;

		while (p < e && *p >= '0' && *p <= '9')
			p++;
		uri->port_pl = (struct pl){d0, (size_t)(p - d0)};
		if (uri->port_pl.l > 5 || sip_pl_u32(uri->port_pl, &port) || port > 65535)
			return EBADMSG;
		uri->port = (uint16_t)port;
	}
	if (p < e && *p != ';' && *p != '?')
		return EBADMSG;
	*pp = p;
	return 0;
}

/* uri-parameters at *pp up to '?' or the end, checked in one pass: each
 * ";" pname ["=" pvalue] with paramchar = param-unreserved / unreserved /
 * escaped (RFC 3261 §25.1), a non-empty name, at most SIP_MAX_PARAMS. */
static int sip_uri_params_scan(const char **pp, const char *e)
{
	const char *p = *pp;
	unsigned n = 0;

	while (p < e && *p == ';') {
		const char *n0 = ++p;
		bool in_val = false;

		if (++n > SIP_MAX_PARAMS)
			return E2BIG;
		for (;;) {
			/* paramchars hold none of ; ? = % */
			while (p < e && sip_c_is(*p, SIP_C_UNRES | SIP_C_PARAM))
				p++;
			if (p >= e || *p == ';' || *p == '?')
				break;
			if (*p == '=' && !in_val && p != n0) {
				in_val = true;
				p++;
			} else if (*p == '%' && e - p > 2 && sip_hexval(p[1]) >= 0 &&
				   sip_hexval(p[2]) >= 0) {
				p += 3;
			} else {
				return EBADMSG;
			}
		}
		if (p == n0)
			return EBADMSG;
	}
	*pp = p;
	return 0;
}

/* No white space, controls, or delimiters of name-addr. */
static bool sip_uri_chars_bad(struct pl rest)
{
	for (size_t i = 0; i < rest.l; i++) {
		if (sip_c2_is(rest.p[i], SIP_C2_URIBAD))
			return true;
	}
	return false;
}

static int sip_uri_sip_parts(struct sip_uri *uri, struct pl rest);

/* sip and sips: every byte is checked by the class of the part it is in,
 * so no separate pass over the whole text is needed, except to report a
 * bad character rather than E2BIG when both apply. */
static int sip_uri_sip(struct sip_uri *uri, struct pl rest)
{
	int err = sip_uri_sip_parts(uri, rest);

	return err == E2BIG && sip_uri_chars_bad(rest) ? EBADMSG : err;
}

static int sip_uri_sip_parts(struct sip_uri *uri, struct pl rest)
{
	const char *p = rest.p, *e = rest.p + rest.l;
	const char *at = memchr(p, '@', rest.l);
	const char *hp;
	int err;

	if (at) {
		struct pl ui = {p, (size_t)(at - p)};
		const char *colon = memchr(ui.p, ':', ui.l);

		uri->user = ui;
		if (colon) {
			uri->user.l = (size_t)(colon - ui.p);
			uri->password = (struct pl){colon + 1, (size_t)(at - colon - 1)};
			if (!sip_chars_ok(uri->password, SIP_C_UNRES | SIP_C_PASS))
				return EBADMSG;
		}
		if (!uri->user.l || !sip_chars_ok(uri->user, SIP_C_UNRES | SIP_C_USER))
			return EBADMSG;
		p = at + 1;
	}
	err = sip_uri_hostport(uri, &p, e);
	if (err)
		return err;
	hp = p;
	err = sip_uri_params_scan(&p, e);
	if (err)
		return err;
	uri->params = (struct pl){hp, (size_t)(p - hp)};
	if (p < e) {
		/* p is on '?' */
		uri->headers = (struct pl){p + 1, (size_t)(e - p - 1)};
		if (!uri->headers.l)
			return EBADMSG;
		return sip_uri_headers_check(uri->headers);
	}
	return 0;
}

/* RFC 3966: global-number ("+" digits, visual separators) or local-number
 * (hex digits, "*", "#", separators) which needs a phone-context. */
static int sip_uri_tel(struct sip_uri *uri, struct pl rest)
{
	const char *semi = memchr(rest.p, ';', rest.l);
	struct pl num = {rest.p, semi ? (size_t)(semi - rest.p) : rest.l};
	bool global = num.l && num.p[0] == '+';
	unsigned digits = 0;
	const char *p;
	struct pl pc;
	int err;

	for (size_t i = global ? 1 : 0; i < num.l; i++) {
		char c = num.p[i];

		if (c >= '0' && c <= '9')
			digits++;
		else if (!global && (sip_hexval(c) >= 0 || c == '*' || c == '#'))
			digits++;
		else if (c != '-' && c != '.' && c != '(' && c != ')')
			return EBADMSG;
	}
	if (!digits)
		return EBADMSG;
	uri->user = num;
	uri->params = (struct pl){num.p + num.l, rest.l - num.l};
	p = uri->params.p;
	err = sip_uri_params_scan(&p, rest.p + rest.l);
	if (err)
		return err;
	/* no headers in a tel URI: the scan stopped before the end on '?' */
	if (p != rest.p + rest.l)
		return EBADMSG;
	if (!global && sip_uri_param_get(uri, "phone-context", &pc))
		return EBADMSG;
	return 0;
}

int sip_uri_decode(struct sip_uri *uri, struct pl pl)
{
	const char *colon;
	struct pl rest;

	if (!uri)
		return EINVAL;
	memset(uri, 0, sizeof(*uri));
	uri->raw = pl;
	colon = pl.l ? memchr(pl.p, ':', pl.l) : NULL;
	if (!colon || colon == pl.p || !sip_c_alnum(pl.p[0]) ||
	    ((pl.p[0] | 0x20) < 'a' || (pl.p[0] | 0x20) > 'z'))
		return EBADMSG;
	uri->scheme_pl = (struct pl){pl.p, (size_t)(colon - pl.p)};
	for (size_t i = 0; i < uri->scheme_pl.l; i++) {
		char c = pl.p[i];

		if (!sip_c_alnum(c) && c != '+' && c != '-' && c != '.')
			return EBADMSG;
	}
	rest = (struct pl){colon + 1, pl.l - uri->scheme_pl.l - 1};
	uri->opaque = rest;
	if (!rest.l)
		return EBADMSG;
	if (sip_pl_ieq(uri->scheme_pl, "sip")) {
		uri->scheme = SIP_URI_SIP;
		return sip_uri_sip(uri, rest);
	}
	if (sip_pl_ieq(uri->scheme_pl, "sips")) {
		uri->scheme = SIP_URI_SIPS;
		return sip_uri_sip(uri, rest);
	}
	if (sip_pl_ieq(uri->scheme_pl, "tel")) {
		/* every byte is class-checked, as for sip (see sip_uri_sip) */
		int err;

		uri->scheme = SIP_URI_TEL;
		err = sip_uri_tel(uri, rest);
		return err == E2BIG && sip_uri_chars_bad(rest) ? EBADMSG : err;
	}
	if (sip_uri_chars_bad(rest))
		return EBADMSG;
	if (sip_pl_ieq(uri->scheme_pl, "urn")) {
		const char *c = memchr(rest.p, ':', rest.l);

		uri->scheme = SIP_URI_URN;
		return c && c != rest.p && c + 1 < rest.p + rest.l ? 0 : EBADMSG;
	}
	uri->scheme = SIP_URI_OTHER;
	return 0;
}

/* URIs that sip_uri_decode() accepted, by their bytes: a hit is the same
 * text, hence the same answer. Per thread, a fixed few slots replaced in
 * turn; longer URIs are not remembered. */
#define SIP_URI_MEMO_SLOTS 4
#define SIP_URI_MEMO_MAX 128
struct sip_uri_memo {
	uint8_t len[SIP_URI_MEMO_SLOTS]; /* 0: empty slot */
	uint8_t next;
	char text[SIP_URI_MEMO_SLOTS][SIP_URI_MEMO_MAX];
};
static _Thread_local struct sip_uri_memo sip_uri_memo;

int sip_uri_check(struct pl pl)
{
	struct sip_uri_memo *m = &sip_uri_memo;
	struct sip_uri uri;
	unsigned k;
	int err;

	if (pl.l && pl.l <= SIP_URI_MEMO_MAX) {
		for (k = 0; k < SIP_URI_MEMO_SLOTS; k++) {
			if (m->len[k] == pl.l && memcmp(m->text[k], pl.p, pl.l) == 0)
				return 0;
		}
	}
	err = sip_uri_decode(&uri, pl);
	if (err || !pl.l || pl.l > SIP_URI_MEMO_MAX)
		return err;
	k = m->next++ % SIP_URI_MEMO_SLOTS;
	memcpy(m->text[k], pl.p, pl.l);
	m->len[k] = (uint8_t)pl.l;
	return 0;
}

bool sip_uri_param_next(struct pl *it, char sep, struct pl *name, struct pl *val)
{
	const char *p, *e, *end, *eq;

	if (!it->l || !it->p)
		return false;
	p = it->p;
	e = it->p + it->l;
	if (*p == sep)
		p++;
	end = p;
	while (end < e && *end != sep)
		end++;
	eq = memchr(p, '=', (size_t)(end - p));
	if (eq) {
		*name = (struct pl){p, (size_t)(eq - p)};
		*val = (struct pl){eq + 1, (size_t)(end - eq - 1)};
	} else {
		*name = (struct pl){p, (size_t)(end - p)};
		*val = (struct pl){end, 0};
	}
	it->p = end;
	it->l = (size_t)(e - end);
	return true;
}

int sip_uri_param_get(const struct sip_uri *uri, const char *name, struct pl *val)
{
	struct pl it, n, v;

	if (!uri || !name)
		return EINVAL;
	it = uri->params;
	while (sip_uri_param_next(&it, ';', &n, &v)) {
		if (sip_pl_ieq(n, name)) {
			if (val)
				*val = v;
			return 0;
		}
	}
	return ENOENT;
}

int sip_pl_unescape(struct pl in, char *out, size_t size, size_t *outlen)
{
	size_t n = 0;

	if (!out || !size)
		return ENOSPC;
	for (size_t i = 0; i < in.l; i++) {
		char c = in.p[i];

		if (c == '%') {
			int h, l;

			if (i + 2 >= in.l)
				return EBADMSG;
			h = sip_hexval(in.p[i + 1]);
			l = sip_hexval(in.p[i + 2]);
			if (h < 0 || l < 0)
				return EBADMSG;
			c = (char)(h * 16 + l);
			i += 2;
		}
		if (n + 1 >= size) {
			out[n] = '\0';
			return ENOSPC;
		}
		out[n++] = c;
	}
	out[n] = '\0';
	if (outlen)
		*outlen = n;
	return 0;
}

/* Next byte of an escaped string with %XX resolved; -1 on a bad escape. */
static int sip_esc_at(struct pl s, size_t *i)
{
	char c = s.p[*i];

	if (c == '%') {
		int h, l;

		if (*i + 2 >= s.l)
			return -1;
		h = sip_hexval(s.p[*i + 1]);
		l = sip_hexval(s.p[*i + 2]);
		if (h < 0 || l < 0)
			return -1;
		*i += 3;
		return h * 16 + l;
	}
	*i += 1;
	return (unsigned char)c;
}

static bool sip_esc_eq(struct pl a, struct pl b, bool icase)
{
	size_t i = 0, j = 0;

	while (i < a.l && j < b.l) {
		int ca = sip_esc_at(a, &i), cb = sip_esc_at(b, &j);

		if (ca < 0 || cb < 0)
			return false;
		if (icase) {
			ca = tolower(ca);
			cb = tolower(cb);
		}
		if (ca != cb)
			return false;
	}
	return i == a.l && j == b.l;
}

static bool sip_list_find(struct pl list, char sep, struct pl name, struct pl *val)
{
	struct pl it = list, n, v;

	while (sip_uri_param_next(&it, sep, &n, &v)) {
		if (sip_esc_eq(n, name, true)) {
			*val = v;
			return true;
		}
	}
	return false;
}

/* RFC 3261 §19.1.4: user, ttl, method, maddr and transport must match when
 * either side has them; other parameters only when both have them. */
static bool sip_params_eq_one_way(struct pl a, struct pl b)
{
	static const char *const must[] = {"user", "ttl", "method", "maddr", "transport"};
	struct pl it = a, n, v, w;

	while (sip_uri_param_next(&it, ';', &n, &v)) {
		bool in_b = sip_list_find(b, ';', n, &w);

		if (in_b && !sip_esc_eq(v, w, true))
			return false;
		if (in_b)
			continue;
		for (size_t k = 0; k < sizeof(must) / sizeof(must[0]); k++) {
			if (sip_esc_eq(n, pl_from_str(must[k]), true))
				return false;
		}
	}
	return true;
}

static bool sip_headers_eq_one_way(struct pl a, struct pl b)
{
	struct pl it = a, n, v, w;

	while (sip_uri_param_next(&it, '&', &n, &v)) {
		if (!sip_list_find(b, '&', n, &w) || !sip_esc_eq(v, w, false))
			return false;
	}
	return true;
}

static bool sip_uri_sip_eq(const struct sip_uri *a, const struct sip_uri *b)
{
	if (!sip_esc_eq(a->user, b->user, false) ||
	    !sip_esc_eq(a->password, b->password, false))
		return false;
	if (a->host_type != b->host_type)
		return false;
	if (a->host_type == SIP_HOST_IPV6) {
		char x[64], y[64];
		struct in6_addr ax, ay;

		if (pl_strcpy(a->host, x, sizeof(x)) ||
		    pl_strcpy(b->host, y, sizeof(y)) ||
		    inet_pton(AF_INET6, x, &ax) != 1 || inet_pton(AF_INET6, y, &ay) != 1)
			return false;
		if (memcmp(&ax, &ay, sizeof(ax)) != 0)
			return false;
	} else if (!pl_caseeq(a->host, b->host)) {
		return false;
	}
	/* an absent port is not equal to an explicit default port */
	if (a->port_pl.l != 0 ? (b->port_pl.l == 0 || a->port != b->port)
			      : b->port_pl.l != 0)
		return false;
	return sip_params_eq_one_way(a->params, b->params) &&
	       sip_params_eq_one_way(b->params, a->params) &&
	       sip_headers_eq_one_way(a->headers, b->headers) &&
	       sip_headers_eq_one_way(b->headers, a->headers);
}

static bool sip_tel_eq(const struct sip_uri *a, const struct sip_uri *b)
{
	size_t i = 0, j = 0;
	struct pl it, n, v, w;
	unsigned na = 0, nb = 0;

	/* visual separators are not significant (RFC 3966 §4) */
	for (;;) {
		while (i < a->user.l && strchr("-.()", a->user.p[i]))
			i++;
		while (j < b->user.l && strchr("-.()", b->user.p[j]))
			j++;
		if (i == a->user.l || j == b->user.l)
			break;
		if (tolower((unsigned char)a->user.p[i++]) !=
		    tolower((unsigned char)b->user.p[j++]))
			return false;
	}
	if (i != a->user.l || j != b->user.l)
		return false;
	it = a->params;
	while (sip_uri_param_next(&it, ';', &n, &v)) {
		na++;
		if (!sip_list_find(b->params, ';', n, &w) || !sip_esc_eq(v, w, true))
			return false;
	}
	it = b->params;
	while (sip_uri_param_next(&it, ';', &n, &v))
		nb++;
	return na == nb;
}

bool sip_uri_eq(const struct sip_uri *a, const struct sip_uri *b)
{
	if (!a || !b || a->scheme != b->scheme)
		return false;
	switch (a->scheme) {
	case SIP_URI_SIP:
	case SIP_URI_SIPS:
		return sip_uri_sip_eq(a, b);
	case SIP_URI_TEL:
		return sip_tel_eq(a, b);
	default:
		return pl_caseeq(a->scheme_pl, b->scheme_pl) &&
		       sip_esc_eq(a->opaque, b->opaque, a->scheme == SIP_URI_URN);
	}
}

bool sip_uri_cmp(struct pl a, struct pl b)
{
	struct sip_uri ua, ub;

	if (sip_uri_decode(&ua, a) || sip_uri_decode(&ub, b))
		return false;
	return sip_uri_eq(&ua, &ub);
}
