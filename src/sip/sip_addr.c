/* sip/sip_addr — generic parameters, Via and address headers; see sip_hdr.h. */
#include <errno.h>
#include <string.h>

#include "sip/sip_hdr.h"
#include "sip/sip_scan.h"

bool sip_param_next(struct pl *it, struct pl *name, struct pl *val)
{
	struct sip_scan s;
	const char *save;

	sip_scan_init(&s, *it);
	sip_scan_sws(&s);
	if (sip_scan_peek(&s) != ';')
		return false;
	s.p++;
	sip_scan_sws(&s);
	if (sip_scan_token(&s, name))
		return false;
	save = s.p;
	sip_scan_sws(&s);
	if (sip_scan_peek(&s) == '=') {
		s.p++;
		sip_scan_sws(&s);
		if (sip_scan_peek(&s) == '"') {
			if (sip_scan_quoted(&s, val))
				return false;
		} else {
			val->p = s.p;
			while (s.p < s.e && (sip_c_is(*s.p, SIP_C_TOKEN) || *s.p == ':' ||
					     *s.p == '[' || *s.p == ']'))
				s.p++;
			val->l = (size_t)(s.p - val->p);
		}
	} else {
		s.p = save;
		*val = (struct pl){s.p, 0};
	}
	it->p = s.p;
	it->l = (size_t)(s.e - s.p);
	return true;
}

int sip_param_get(struct pl params, const char *name, struct pl *val)
{
	struct pl it = params, n, v;

	if (!name)
		return EINVAL;
	while (sip_param_next(&it, &n, &v)) {
		if (sip_pl_ieq(n, name)) {
			if (val)
				*val = v;
			return 0;
		}
	}
	return ENOENT;
}

int sip_pl_unquote(struct pl in, char *out, size_t size)
{
	size_t n = 0;

	if (!out || !size)
		return ENOSPC;
	for (size_t i = 0; i < in.l; i++) {
		char c = in.p[i];

		if (c == '\\' && i + 1 < in.l)
			c = in.p[++i];
		if (n + 1 >= size) {
			out[n] = '\0';
			return ENOSPC;
		}
		out[n++] = c;
	}
	out[n] = '\0';
	return 0;
}

/* sent-by = host [ COLON port ] */
static int sip_sentby_scan(struct sip_scan *s, struct sip_via *via)
{
	const char *h0 = s->p;
	struct pl host, port;

	if (sip_scan_peek(s) == '[') {
		const char *rb = memchr(s->p, ']', (size_t)(s->e - s->p));

		if (!rb)
			return EBADMSG;
		s->p = rb + 1;
	} else {
		/* hostname / IPv4address; sip_host_check() validates */
		while (s->p < s->e && sip_c2_is(*s->p, SIP_C2_SENTBY))
			s->p++;
	}
	host = (struct pl){h0, (size_t)(s->p - h0)};
	via->host_type = sip_host_check(host);
	if (via->host_type == SIP_HOST_NONE)
		return EBADMSG;
	via->host = host;
	if (via->host_type == SIP_HOST_IPV6) {
		via->host.p++;
		via->host.l -= 2;
	}
	if (sip_scan_sep(s, ':')) {
		uint32_t v;

		port.p = s->p;
		while (s->p < s->e && *s->p >= '0' && *s->p <= '9')
			s->p++;
		port.l = (size_t)(s->p - port.p);
		if (!port.l || port.l > 5 || sip_pl_u32(port, &v) || v > 65535)
			return EBADMSG;
		via->port = (uint16_t)v;
	}
	via->sentby = (struct pl){h0, (size_t)(s->p - h0)};
	return 0;
}

/* Each parameter as the scan meets it (every occurrence is checked; the
 * last one wins). */
static int sip_via_param_h(struct pl n, struct pl v, void *arg)
{
	struct sip_via *via = arg;
	uint32_t x;

	if (sip_tok_ieq(n, "branch", 6)) {
		if (!v.l)
			return EBADMSG;
		via->branch = v;
	} else if (sip_tok_ieq(n, "received", 8)) {
		/* RFC 5118 §4.5: IPv6 with or without brackets */
		if (sip_host_check(v) == SIP_HOST_NONE) {
			char b[64];

			if (!v.l || v.l > 45 || v.p[0] == '[')
				return EBADMSG;
			b[0] = '[';
			memcpy(b + 1, v.p, v.l);
			b[v.l + 1] = ']';
			if (sip_host_check((struct pl){b, v.l + 2}) != SIP_HOST_IPV6)
				return EBADMSG;
		}
		via->received = v;
	} else if (sip_tok_ieq(n, "rport", 5)) {
		via->rport = true;
		if (v.l) {
			if (v.l > 5 || sip_pl_u32(v, &x) || x > 65535)
				return EBADMSG;
			via->rport_val = (uint16_t)x;
		}
	} else if (sip_tok_ieq(n, "maddr", 5)) {
		if (sip_host_check(v) == SIP_HOST_NONE)
			return EBADMSG;
		via->maddr = v;
	} else if (sip_tok_ieq(n, "ttl", 3)) {
		if (v.l > 3 || sip_pl_u32(v, &x) || x > 255)
			return EBADMSG;
		via->ttl_set = true;
		via->ttl = (uint8_t)x;
	}
	return 0;
}

int sip_via_decode(struct sip_via *via, struct pl val)
{
	struct sip_scan s;
	int err;

	if (!via)
		return EINVAL;
	memset(via, 0, sizeof(*via));
	sip_scan_init(&s, val);
	sip_scan_sws(&s);
	if (sip_scan_token(&s, &via->proto) || !sip_scan_sep(&s, '/') ||
	    sip_scan_token(&s, &via->version) || !sip_scan_sep(&s, '/') ||
	    sip_scan_token(&s, &via->transport))
		return EBADMSG;
	if (!sip_scan_sws(&s))
		return EBADMSG;
	err = sip_sentby_scan(&s, via);
	if (err)
		return err;
	err = sip_scan_params_each(&s, &via->params, sip_via_param_h, via);
	if (err)
		return err;
	return sip_scan_done(&s);
}

bool sip_via_branch_is_3261(const struct sip_via *via)
{
	return via && via->branch.l > 7 && memcmp(via->branch.p, "z9hG4bK", 7) == 0;
}

/* display-name = *(token LWS) / quoted-string, then LAQUOT. Returns 0 with
 * the cursor on '<' if this is a name-addr, ENOENT if it is an addr-spec. */
static int sip_dname_scan(struct sip_scan *s, struct sip_addr *addr)
{
	const char *p0 = s->p, *last = s->p;
	struct pl tok;

	if (sip_scan_peek(s) == '"') {
		if (sip_scan_quoted(s, &addr->dname))
			return EBADMSG;
		addr->dname_quoted = true;
		sip_scan_sws(s);
		return sip_scan_peek(s) == '<' ? 0 : EBADMSG;
	}
	while (sip_scan_token(s, &tok) == 0) {
		last = s->p;
		sip_scan_sws(s);
	}
	if (sip_scan_peek(s) == '<') {
		addr->dname = (struct pl){p0, (size_t)(last - p0)};
		return 0;
	}
	s->p = p0;
	return ENOENT;
}

/* The first tag counts and must have a value. */
static int sip_addr_param_h(struct pl n, struct pl v, void *arg)
{
	struct sip_addr *addr = arg;

	if (addr->tag.p || !sip_tok_ieq(n, "tag", 3))
		return 0;
	addr->tag = v;
	return v.l ? 0 : EBADMSG;
}

int sip_addr_decode(struct sip_addr *addr, struct pl val)
{
	struct sip_scan s;
	int err;

	if (!addr)
		return EINVAL;
	memset(addr, 0, sizeof(*addr));
	sip_scan_init(&s, val);
	sip_scan_sws(&s);
	if (sip_scan_peek(&s) == '*') {
		s.p++;
		addr->star = true;
		return sip_scan_done(&s);
	}
	err = sip_dname_scan(&s, addr);
	if (err == 0) {
		/* LAQUOT addr-spec RAQUOT: no white space inside the brackets */
		const char *gt = memchr(s.p, '>', (size_t)(s.e - s.p));

		if (!gt)
			return EBADMSG;
		addr->uri = (struct pl){s.p + 1, (size_t)(gt - s.p - 1)};
		addr->angle = true;
		s.p = gt + 1;
	} else if (err == ENOENT) {
		/* addr-spec: header parameters start at the first ';' and the URI
		 * may not contain ',', '?' or ';' (RFC 3261 §20) */
		const char *u = s.p;

		while (s.p < s.e && *s.p != ';' && !sip_c_ws(*s.p) && *s.p != ',' &&
		       *s.p != '?')
			s.p++;
		addr->uri = (struct pl){u, (size_t)(s.p - u)};
	} else {
		return err;
	}
	err = sip_uri_check(addr->uri);
	if (err)
		return err;
	err = sip_scan_params_each(&s, &addr->params, sip_addr_param_h, addr);
	if (err)
		return err;
	return sip_scan_done(&s);
}

int sip_addr_expires(const struct sip_addr *addr, uint32_t *expires)
{
	struct pl v;

	if (!addr || sip_param_get(addr->params, "expires", &v))
		return ENOENT;
	return sip_delta_decode(v, expires);
}

int sip_addr_q(const struct sip_addr *addr, uint16_t *q1000)
{
	struct pl v;

	if (!addr || sip_param_get(addr->params, "q", &v))
		return ENOENT;
	return sip_qvalue(v, q1000);
}

int sip_qvalue(struct pl v, uint16_t *q1000)
{
	unsigned q, scale = 1000;

	/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) */
	if (!v.l || v.l > 5 || (v.p[0] != '0' && v.p[0] != '1'))
		return EBADMSG;
	q = (unsigned)(v.p[0] - '0') * 1000;
	if (v.l > 1) {
		if (v.p[1] != '.')
			return EBADMSG;
		for (size_t i = 2; i < v.l; i++) {
			if (v.p[i] < '0' || v.p[i] > '9')
				return EBADMSG;
			scale /= 10;
			q += (unsigned)(v.p[i] - '0') * scale;
		}
	}
	if (q > 1000)
		return EBADMSG;
	*q1000 = (uint16_t)q;
	return 0;
}

int sip_addr_instance(const struct sip_addr *addr, struct pl *instance)
{
	struct pl v;

	if (!addr || sip_param_get(addr->params, "+sip.instance", &v))
		return ENOENT;
	if (v.l >= 2 && v.p[0] == '<' && v.p[v.l - 1] == '>') {
		v.p++;
		v.l -= 2;
	}
	if (!v.l)
		return EBADMSG;
	*instance = v;
	return 0;
}

int sip_addr_regid(const struct sip_addr *addr, uint32_t *reg_id)
{
	struct pl v;

	if (!addr || sip_param_get(addr->params, "reg-id", &v))
		return ENOENT;
	return sip_uint_decode(v, UINT32_MAX, reg_id);
}
