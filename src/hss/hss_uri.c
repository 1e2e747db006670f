/*
 * hss/hss_uri — reducing IMPUs, IMPIs and IMEIs to comparable keys.
 *
 * The rules (docs/hss.md): a URI without scheme is a sip URI; sips is sip;
 * the host is compared without case and without port; URI parameters and
 * headers are ignored except user=phone; a tel URI, a sip URI with
 * user=phone and a sip URI whose user part is a number (RFC 3966
 * global-number or local digits) are compared by number with the visual
 * separators "-.()" removed (RFC 3966 §5.1.1); when either side is tel or
 * user=phone the number alone identifies the subscriber (RFC 3261 §19.1.6:
 * the host of a user=phone URI only names who resolves the number); urn
 * URIs are compared exactly. Everything here reads outside input: it is
 * bounded by HSS_KEY_MAX and never writes past the caller's struct.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "hss/hss_int.h"

static bool is_sep(char c)
{
	return c == '-' || c == '.' || c == '(' || c == ')';
}

static struct pl pl_sub(struct pl s, size_t from, size_t to)
{
	return (struct pl){s.p + from, to - from};
}

static size_t pl_chr(struct pl s, char c)
{
	const char *p = s.l ? memchr(s.p, c, s.l) : NULL;

	return p ? (size_t)(p - s.p) : s.l;
}

/* "+33 6..." style: optional '+', digits and visual separators, a digit. */
static bool pl_is_number(struct pl s)
{
	bool digit = false;
	size_t i = 0;

	if (s.l && s.p[0] == '+')
		i = 1;
	for (; i < s.l; i++) {
		if (isdigit((unsigned char)s.p[i]))
			digit = true;
		else if (!is_sep(s.p[i]))
			return false;
	}
	return digit;
}

/* The number without visual separators, into u->buf. */
static int key_number(struct hss_uri *u, struct pl num)
{
	size_t n = 0;

	for (size_t i = 0; i < num.l; i++) {
		if (is_sep(num.p[i]))
			continue;
		if (n + 1 >= sizeof(u->buf))
			return EINVAL;
		u->buf[n++] = num.p[i];
	}
	if (!n)
		return EINVAL;
	u->key = (struct pl){u->buf, n};
	u->number = true;
	return 0;
}

/* Scheme of s ("sip" ...) if s starts with one: RFC 3986 scheme ":" */
static struct pl uri_scheme(struct pl s)
{
	size_t i;

	if (!s.l || !isalpha((unsigned char)s.p[0]))
		return (struct pl)PL_INIT;
	for (i = 1; i < s.l; i++) {
		char c = s.p[i];

		if (c == ':')
			return pl_sub(s, 0, i);
		if (!isalnum((unsigned char)c) && c != '+' && c != '-' && c != '.')
			break;
	}
	return (struct pl)PL_INIT;
}

/* True if the ;-separated parameters contain user=phone. */
static bool params_user_phone(struct pl params)
{
	while (params.l) {
		size_t e = pl_chr(params, ';');
		struct pl prm = pl_trim(pl_sub(params, 0, e));

		if (pl_caseeq(prm, PL("user=phone")))
			return true;
		params =
		    e < params.l ? pl_sub(params, e + 1, params.l) : (struct pl)PL_INIT;
	}
	return false;
}

static int parse_tel(struct pl rest, struct hss_uri *u)
{
	u->tel = true;
	u->phone = true;
	return key_number(u, pl_sub(rest, 0, pl_chr(rest, ';')));
}

/* host[:port] from "host[:port][;params]"; brackets of IPv6 kept. */
static int parse_host(struct pl hp, struct pl *host, struct pl *params)
{
	size_t e = pl_chr(hp, ';');
	struct pl h = pl_sub(hp, 0, e);

	*params = e < hp.l ? pl_sub(hp, e + 1, hp.l) : (struct pl)PL_INIT;
	if (h.l && h.p[0] == '[') {
		size_t rb = pl_chr(h, ']');

		if (rb == h.l)
			return EINVAL;
		h.l = rb + 1;
	} else {
		h.l = pl_chr(h, ':');
	}
	if (!h.l)
		return EINVAL;
	*host = h;
	return 0;
}

static int parse_sip(struct pl rest, const char *def_host, struct hss_uri *u)
{
	struct pl user, params = PL_INIT;
	size_t at;
	int err;

	rest.l = pl_chr(rest, '?'); /* headers */
	at = pl_chr(rest, '@');
	if (at < rest.l) {
		struct pl info = pl_sub(rest, 0, at);

		user = pl_sub(info, 0, pl_chr(info, ':')); /* drop a password */
		err = parse_host(pl_sub(rest, at + 1, rest.l), &u->host, &params);
		if (err)
			return err;
	} else {
		/* "sip:user" as the configuration writes it: no host. A ':'
		 * would be a password once a host is added: not a user. */
		size_t e = pl_chr(rest, ';');

		user = pl_sub(rest, 0, e);
		if (pl_chr(user, ':') < user.l)
			return EINVAL;
		params = e < rest.l ? pl_sub(rest, e + 1, rest.l) : (struct pl)PL_INIT;
		if (def_host && *def_host)
			u->host = pl_from_str(def_host);
	}
	if (!user.l || user.l >= HSS_KEY_MAX)
		return EINVAL;
	if (params_user_phone(params)) {
		u->phone = true;
		return key_number(u, pl_sub(user, 0, pl_chr(user, ';')));
	}
	if (pl_is_number(user))
		return key_number(u, user);
	u->key = user;
	return 0;
}

int hss_uri_parse(struct pl uri, const char *def_host, struct hss_uri *u)
{
	struct pl s = pl_trim(uri), scheme;

	if (!u || (!s.p && s.l))
		return EINVAL;
	memset(u, 0, offsetof(struct hss_uri, buf));
	if (s.l >= 2 && s.p[0] == '<' && s.p[s.l - 1] == '>')
		s = pl_sub(s, 1, s.l - 1);
	if (!s.l)
		return EINVAL;
	scheme = uri_scheme(s);
	if (!scheme.l)
		return parse_sip(s, def_host, u);
	if (pl_caseeq(scheme, PL("sip")) || pl_caseeq(scheme, PL("sips")))
		return parse_sip(pl_sub(s, scheme.l + 1, s.l), def_host, u);
	if (pl_caseeq(scheme, PL("tel")))
		return parse_tel(pl_sub(s, scheme.l + 1, s.l), u);
	if (pl_caseeq(scheme, PL("urn"))) {
		if (s.l >= HSS_KEY_MAX || s.l == scheme.l + 1)
			return EINVAL;
		u->kind = HSS_URI_URN;
		u->key = s;
		return 0;
	}
	return EINVAL;
}

uint64_t hss_uri_hash(const struct hss_uri *u)
{
	uint64_t h = hash_bytes(u->key.p, u->key.l);

	return u->kind == HSS_URI_URN ? ~h : h;
}

static bool host_eq(struct pl a, struct pl b)
{
	if (!a.p || !b.p)
		return true;
	return pl_caseeq(a, b);
}

bool hss_uri_match(const struct hss_uri *in, const struct hss_uri *st)
{
	if (in->kind != st->kind)
		return false;
	if (in->kind == HSS_URI_URN)
		return pl_eq(in->key, st->key);
	if (in->number != st->number || !pl_eq(in->key, st->key))
		return false;
	if (in->phone || st->phone)
		return true;
	return host_eq(in->host, st->host);
}

bool hss_uri_conflict(const struct hss_uri *a, const struct hss_uri *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == HSS_URI_URN)
		return pl_eq(a->key, b->key);
	if (a->number != b->number || !pl_eq(a->key, b->key))
		return false;
	/* tel:N matches sip:N@any;user=phone, so one number names one user
	 * whatever host its sip forms carry. */
	if (a->number)
		return true;
	return host_eq(a->host, b->host);
}

/* ---- IMPI and NAI ---- */

void hss_nai_split(struct pl s, struct pl *user, struct pl *host)
{
	const char *at = s.l ? memrchr(s.p, '@', s.l) : NULL;

	if (!at) {
		*user = s;
		*host = (struct pl)PL_INIT;
		return;
	}
	*user = (struct pl){s.p, (size_t)(at - s.p)};
	*host = (struct pl){at + 1, s.l - (size_t)(at - s.p) - 1};
}

bool hss_nai_eq(struct pl a, struct pl b)
{
	struct pl ua, ha, ub, hb;

	hss_nai_split(a, &ua, &ha);
	hss_nai_split(b, &ub, &hb);
	if (!pl_eq(ua, ub) || !ha.p != !hb.p)
		return false;
	return !ha.p || pl_caseeq(ha, hb);
}

uint64_t hss_nai_hash(struct pl s)
{
	struct pl user, host;

	hss_nai_split(s, &user, &host);
	return hash_bytes(user.p, user.l);
}

/* ---- IMEI ---- */

int hss_imei_parse(struct pl s, char digits[15])
{
	size_t n = 0;

	s = pl_trim(s);
	if (s.l >= 2 && s.p[0] == '"' && s.p[s.l - 1] == '"')
		s = pl_sub(s, 1, s.l - 1);
	if (s.l >= 2 && s.p[0] == '<' && s.p[s.l - 1] == '>')
		s = pl_sub(s, 1, s.l - 1);
	if (s.l >= 14 && !strncasecmp(s.p, "urn:gsma:imei:", 14))
		s = pl_sub(s, 14, s.l);
	s.l = pl_chr(s, ';'); /* ;svn=.. */
	for (size_t i = 0; i < s.l; i++) {
		if (s.p[i] == '-')
			continue;
		if (!isdigit((unsigned char)s.p[i]))
			return EBADMSG;
		/* TAC (8) + SNR (6) identify the device; CD/SVN may follow. */
		if (n < 14)
			digits[n] = s.p[i];
		if (++n > 16)
			return EBADMSG;
	}
	if (n < 14)
		return EBADMSG;
	digits[14] = '\0';
	return 0;
}
