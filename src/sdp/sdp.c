/*
 * sdp — decoding (RFC 4566 §5, §9 grammar).
 *
 * Accepted: the line order of RFC 4566 §5 as far as a relay cares — v=0
 * first, then the session section (o= once, s=, at least one t=), then
 * the m= sections with only i= c= b= k= a= lines. Lines end in CRLF or LF
 * alone (§5: parsers should accept both); empty lines are allowed only at
 * the end. Unknown line types are refused (§5: a parser must not use a
 * description with a type it does not understand).
 */
#include "sdp/sdp.h"
#include "sdp/sdp_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct dec {
	struct sdp_session *s;
	char *reason;
	size_t reason_size;
	unsigned lineno; /* 1-based, for reasons */
	bool has_o, has_s, has_t;
};

static int fail(struct dec *d, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct dec *d, int err, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (!d->reason || d->reason_size == 0)
		return err;
	if (d->lineno)
		n = snprintf(d->reason, d->reason_size, "SDP line %u: ", d->lineno);
	else
		n = snprintf(d->reason, d->reason_size, "SDP: ");
	if (n < 0 || (size_t)n >= d->reason_size)
		return err;
	va_start(ap, fmt);
	vsnprintf(d->reason + n, d->reason_size - (size_t)n, fmt, ap);
	va_end(ap);
	return err;
}

bool sdp_token(struct pl *pl, struct pl *tok)
{
	size_t i = 0;

	while (i < pl->l && (pl->p[i] == ' ' || pl->p[i] == '\t'))
		i++;
	if (i == pl->l)
		return false;
	tok->p = pl->p + i;
	while (i < pl->l && pl->p[i] != ' ' && pl->p[i] != '\t')
		i++;
	tok->l = (size_t)(pl->p + i - tok->p);
	pl->p += i;
	pl->l -= i;
	return true;
}

bool sdp_dir_from_pl(struct pl name, enum sdp_dir *dir)
{
	static const char *const names[] = {"sendrecv", "sendonly", "recvonly",
					    "inactive"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (pl_eq_str(name, names[i])) {
			*dir = (enum sdp_dir)i;
			return true;
		}
	}
	return false;
}

static bool is_hostname(struct pl p)
{
	bool alpha = false;

	for (size_t i = 0; i < p.l; i++) {
		char c = p.p[i];

		if (c >= 'a' && c <= 'z')
			alpha = true;
		else if (c >= 'A' && c <= 'Z')
			alpha = true;
		else if (!(c >= '0' && c <= '9') && c != '.' && c != '-')
			return false;
	}
	return alpha;
}

/* RFC 4566 §5.7: c=<nettype> <addrtype> <connection-address> */
int sdp_conn_parse(struct pl val, struct sdp_conn *c, const char **why)
{
	struct pl net, type, addr, rest = val, extra;
	char buf[INET6_ADDRSTRLEN + 1];
	int af;

	memset(c, 0, sizeof(*c));
	if (!sdp_token(&rest, &net) || !sdp_token(&rest, &type) || !sdp_token(&rest, &addr)) {
		*why = "needs <nettype> <addrtype> <address>";
		return EBADMSG;
	}
	if (sdp_token(&rest, &extra)) {
		*why = "has more than three fields";
		return EBADMSG;
	}
	if (!pl_eq_str(net, "IN")) {
		*why = "nettype is not IN";
		return EBADMSG;
	}
	if (pl_eq_str(type, "IP4"))
		af = AF_INET;
	else if (pl_eq_str(type, "IP6"))
		af = AF_INET6;
	else {
		*why = "addrtype is not IP4 or IP6";
		return EBADMSG;
	}
	if (memchr(addr.p, '/', addr.l)) {
		*why = "multicast (TTL or count) is not relayed";
		return ENOTSUP;
	}
	if (addr.l >= sizeof(buf) || pl_strcpy(addr, buf, sizeof(buf)) ||
	    memchr(addr.p, '\0', addr.l)) {
		*why = is_hostname(addr) ? "a host name is not relayed" : "bad address";
		return is_hostname(addr) ? ENOTSUP : EBADMSG;
	}
	net_addr_init(&c->addr, af);
	if (af == AF_INET ? inet_pton(AF_INET, buf, &c->addr.u.in.sin_addr) != 1
			  : inet_pton(AF_INET6, buf, &c->addr.u.in6.sin6_addr) != 1) {
		*why = is_hostname(addr) ? "a host name is not relayed"
					 : "address does not match its addrtype";
		return is_hostname(addr) ? ENOTSUP : EBADMSG;
	}
	if (af == AF_INET ? (ntohl(c->addr.u.in.sin_addr.s_addr) >> 28) == 0xe
			  : c->addr.u.in6.sin6_addr.s6_addr[0] == 0xff) {
		*why = "multicast is not relayed";
		return ENOTSUP;
	}
	c->set = true;
	return 0;
}

static int port_parse(struct pl p, uint16_t *port)
{
	uint32_t v;

	if (p.l == 0 || p.l > 5 || pl_u32(p, &v) || v > 65535)
		return EBADMSG;
	*port = (uint16_t)v;
	return 0;
}

static enum sdp_media_type media_type(struct pl m)
{
	if (pl_eq_str(m, "audio"))
		return SDP_MEDIA_AUDIO;
	if (pl_eq_str(m, "video"))
		return SDP_MEDIA_VIDEO;
	if (pl_eq_str(m, "text"))
		return SDP_MEDIA_TEXT;
	return SDP_MEDIA_OTHER;
}

static bool proto_udp(struct pl proto)
{
	static const struct pl rtp = {"RTP/", 4}, udp = {"UDP", 3};

	if (proto.l >= 4 && pl_caseeq((struct pl){proto.p, 4}, rtp))
		return true;
	if (proto.l >= 3 && pl_caseeq((struct pl){proto.p, 3}, udp))
		return true; /* udptl (T.38), UDP/TLS/RTP/SAVP, UDP/BFCP */
	return false;
}

/* RFC 4566 §5.14: m=<media> <port>[/<number of ports>] <proto> <fmt> ... */
static int media_parse(struct dec *d, struct pl val, struct sdp_media *m)
{
	struct pl rest = val, port, fmt;
	const char *slash;

	memset(m, 0, sizeof(*m));
	if (!sdp_token(&rest, &m->media) || !sdp_token(&rest, &port) ||
	    !sdp_token(&rest, &m->proto))
		return fail(d, EBADMSG, "m= needs <media> <port> <proto> <fmt>");
	m->fmts = pl_trim(rest);
	if (!sdp_token(&rest, &fmt))
		return fail(d, EBADMSG, "m= has no format");
	slash = memchr(port.p, '/', port.l);
	if (slash) {
		struct pl cnt = {slash + 1, (size_t)(port.p + port.l - slash - 1)};
		uint32_t n;

		port.l = (size_t)(slash - port.p);
		if (pl_u32(cnt, &n) || n == 0)
			return fail(d, EBADMSG, "m= port count is not a number");
		if (n != 1)
			return fail(d, ENOTSUP, "m= port count %u is not relayed", n);
	}
	if (port_parse(port, &m->port))
		return fail(d, EBADMSG, "m= port is not a number up to 65535");
	m->type = media_type(m->media);
	m->udp = proto_udp(m->proto);
	return 0;
}

/* RFC 3605 §2.1: a=rtcp:<port> [<nettype> <addrtype> <connection-address>] */
static int rtcp_parse(struct dec *d, struct pl val, struct sdp_media *m)
{
	struct pl rest = val, port;
	const char *why = NULL;
	int err;

	if (!sdp_token(&rest, &port) || port_parse(port, &m->rtcp_port))
		return fail(d, EBADMSG, "a=rtcp port is not a number up to 65535");
	rest = pl_trim(rest);
	if (rest.l) {
		err = sdp_conn_parse(rest, &m->rtcp_conn, &why);
		if (err)
			return fail(d, err, "a=rtcp address: %s", why);
	}
	m->rtcp_set = true;
	return 0;
}

static int attr_parse(struct dec *d, struct pl val, struct sdp_media *m)
{
	struct sdp_session *s = d->s;
	const char *colon = memchr(val.p, ':', val.l);
	struct pl name = val, value = PL_INIT;
	enum sdp_dir dir;

	if (colon) {
		name.l = (size_t)(colon - val.p);
		value = (struct pl){colon + 1, val.l - name.l - 1};
	}
	if (name.l == 0)
		return fail(d, EBADMSG, "a= has no attribute name");
	if (!colon && sdp_dir_from_pl(name, &dir)) {
		if (m) {
			m->dir_set = true;
			m->dir = dir;
		} else {
			s->dir_set = true;
			s->dir = dir;
		}
		return 0;
	}
	if (!m)
		return 0;
	if (!colon && pl_eq_str(name, "rtcp-mux"))
		m->rtcp_mux = true;
	else if (colon && pl_eq_str(name, "rtcp"))
		return rtcp_parse(d, value, m);
	return 0;
}

static int origin_parse(struct dec *d, struct pl val)
{
	struct sdp_origin *o = &d->s->origin;
	struct pl rest = val, extra;

	if (d->has_o)
		return fail(d, EBADMSG, "second o= line");
	d->has_o = true;
	if (!sdp_token(&rest, &o->username) || !sdp_token(&rest, &o->sess_id) ||
	    !sdp_token(&rest, &o->sess_version) || !sdp_token(&rest, &o->nettype) ||
	    !sdp_token(&rest, &o->addrtype) || !sdp_token(&rest, &o->addr) ||
	    sdp_token(&rest, &extra))
		return fail(d, EBADMSG, "o= needs six fields");
	return 0;
}

/* One line at session level (m == NULL) or in a media section. */
static int line_parse(struct dec *d, char type, struct pl val, struct sdp_media *m)
{
	struct sdp_session *s = d->s;
	const char *why = NULL;
	int err;

	switch (type) {
	case 'a':
		return attr_parse(d, val, m);
	case 'c':
		err = sdp_conn_parse(val, m ? &m->conn : &s->conn, &why);
		return err ? fail(d, err, "c= %s", why) : 0;
	case 'i':
	case 'b':
	case 'k':
		return 0;
	default:
		break;
	}
	if (m)
		return fail(d, EBADMSG, "%c= is not allowed in a media section", type);
	switch (type) {
	case 'o':
		return origin_parse(d, val);
	case 's':
		d->has_s = true;
		return 0;
	case 't':
		d->has_t = true;
		return 0;
	case 'u':
	case 'e':
	case 'p':
	case 'r':
	case 'z':
		return 0;
	case 'v':
		return fail(d, EBADMSG, "second v= line");
	default:
		return fail(d, EBADMSG, "unknown line type '%c'", type);
	}
}

/* Cuts the next line off *rest; false at the end. */
static bool next_line(struct pl *rest, struct pl *line)
{
	const char *nl;

	if (rest->l == 0)
		return false;
	nl = memchr(rest->p, '\n', rest->l);
	line->p = rest->p;
	line->l = nl ? (size_t)(nl - rest->p) : rest->l;
	rest->p += line->l + (nl ? 1 : 0);
	rest->l -= line->l + (nl ? 1 : 0);
	if (line->l && line->p[line->l - 1] == '\r')
		line->l--;
	return true;
}

static int line_add(struct dec *d, struct pl line)
{
	struct sdp_session *s = d->s;
	struct sdp_media *m = NULL;
	struct sdp_line *l;
	char type = line.p[0];
	int err;

	if (line.l < 2 || line.p[1] != '=' || type < 'a' || type > 'z')
		return fail(d, EBADMSG, "not <type>=<value>");
	if (memchr(line.p, '\0', line.l) || memchr(line.p, '\r', line.l))
		return fail(d, EBADMSG, "NUL or CR inside the line");
	if (s->line_count >= SDP_LINES_MAX)
		return fail(d, E2BIG, "more than %u lines", SDP_LINES_MAX);
	if (s->line_count == 0 && (type != 'v' || !pl_eq_str((struct pl){line.p + 2, line.l - 2}, "0")))
		return fail(d, EBADMSG, "the first line is not v=0");
	l = &s->lines[s->line_count];
	l->type = type;
	l->media = 0;
	l->val = (struct pl){line.p + 2, line.l - 2};
	if (s->line_count == 0) {
		s->line_count++;
		return 0;
	}
	if (type == 'm') {
		if (s->media_count >= SDP_MEDIA_MAX)
			return fail(d, E2BIG, "more than %u m= lines", SDP_MEDIA_MAX);
		if (s->media_count)
			s->media[s->media_count - 1].line_end = s->line_count;
		m = &s->media[s->media_count];
		err = media_parse(d, l->val, m);
		if (err)
			return err;
		m->line = s->line_count;
		s->media_count++;
	} else {
		m = s->media_count ? &s->media[s->media_count - 1] : NULL;
		err = line_parse(d, type, l->val, m);
		if (err)
			return err;
	}
	l->media = (uint8_t)s->media_count;
	s->line_count++;
	return 0;
}

static int check_session(struct dec *d)
{
	struct sdp_session *s = d->s;

	d->lineno = 0;
	if (!d->has_o)
		return fail(d, EBADMSG, "no o= line");
	if (!d->has_s)
		return fail(d, EBADMSG, "no s= line");
	if (!d->has_t)
		return fail(d, EBADMSG, "no t= line");
	if (s->media_count)
		s->media[s->media_count - 1].line_end = s->line_count;
	for (size_t i = 0; i < s->media_count; i++) {
		if (s->media[i].port && !s->media[i].conn.set && !s->conn.set)
			return fail(d, EBADMSG, "m= line %zu has no c= line (RFC 4566 §5.7)",
				    i + 1);
	}
	return 0;
}

int sdp_decode(struct sdp_session *s, const char *buf, size_t len, char *reason,
	       size_t reason_size)
{
	struct dec d = {.s = s, .reason = reason, .reason_size = reason_size};
	struct pl rest = {buf, len}, line;
	bool blank = false;
	int err;

	if (reason && reason_size)
		reason[0] = '\0';
	s->line_count = 0;
	s->media_count = 0;
	s->conn.set = false;
	s->dir_set = false;
	s->dir = SDP_DIR_SENDRECV;
	memset(&s->origin, 0, sizeof(s->origin));
	s->raw = rest;
	if (!buf || len == 0)
		return fail(&d, EBADMSG, "empty");
	if (len > SDP_SIZE_MAX)
		return fail(&d, E2BIG, "longer than %u bytes", SDP_SIZE_MAX);
	while (next_line(&rest, &line)) {
		d.lineno++;
		if (line.l == 0) {
			blank = true;
			continue;
		}
		if (blank)
			return fail(&d, EBADMSG, "empty line before the end");
		err = line_add(&d, line);
		if (err)
			return err;
	}
	if (s->line_count == 0)
		return fail(&d, EBADMSG, "empty");
	return check_session(&d);
}
