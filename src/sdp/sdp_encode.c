/*
 * sdp — reading a decoded session and writing it back, rewritten for the
 * relay (RFC 3264 §5, §6: addresses and ports are the only things a relay
 * changes; RFC 3605 §2.1 a=rtcp; RFC 5761 §5.1.3 rtcp-mux stays as is).
 */
#include "sdp/sdp.h"
#include "sdp/sdp_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "core/mbuf.h"

enum sdp_dir sdp_media_dir(const struct sdp_session *s, size_t i)
{
	if (i < s->media_count && s->media[i].dir_set)
		return s->media[i].dir;
	return s->dir_set ? s->dir : SDP_DIR_SENDRECV;
}

const struct sdp_conn *sdp_media_conn(const struct sdp_session *s, size_t i)
{
	if (i < s->media_count && s->media[i].conn.set)
		return &s->media[i].conn;
	return s->conn.set ? &s->conn : NULL;
}

void sdp_media_rtp_addr(const struct sdp_session *s, size_t i, struct net_addr *a)
{
	const struct sdp_conn *c = sdp_media_conn(s, i);

	if (!c || i >= s->media_count) {
		memset(a, 0, sizeof(*a));
		return;
	}
	*a = c->addr;
	net_addr_set_port(a, s->media[i].port);
}

void sdp_media_rtcp_addr(const struct sdp_session *s, size_t i, struct net_addr *a)
{
	const struct sdp_media *m;
	uint16_t port;

	sdp_media_rtp_addr(s, i, a);
	if (!net_addr_af(a))
		return;
	m = &s->media[i];
	if (m->rtcp_set && m->rtcp_conn.set)
		*a = m->rtcp_conn.addr;
	if (m->port == 0)
		port = 0;
	else if (m->rtcp_set)
		port = m->rtcp_port;
	else
		port = m->port == 65535 ? 0 : (uint16_t)(m->port + 1);
	net_addr_set_port(a, port);
}

int sdp_attr_get(const struct sdp_session *s, int media, const char *name, struct pl *value)
{
	size_t nl = strlen(name);
	uint8_t want = media < 0 ? 0 : (uint8_t)(media + 1);

	if (media >= (int)s->media_count)
		return ENOENT;
	for (size_t i = 0; i < s->line_count; i++) {
		const struct sdp_line *l = &s->lines[i];

		if (l->type != 'a' || l->media != want || l->val.l < nl ||
		    memcmp(l->val.p, name, nl) != 0)
			continue;
		if (l->val.l == nl) {
			if (value)
				*value = (struct pl){l->val.p + nl, 0};
			return 0;
		}
		if (l->val.p[nl] == ':') {
			if (value)
				*value = (struct pl){l->val.p + nl + 1, l->val.l - nl - 1};
			return 0;
		}
	}
	return ENOENT;
}

const char *sdp_dir_name(enum sdp_dir dir)
{
	switch (dir) {
	case SDP_DIR_SENDONLY:
		return "sendonly";
	case SDP_DIR_RECVONLY:
		return "recvonly";
	case SDP_DIR_INACTIVE:
		return "inactive";
	default:
		return "sendrecv";
	}
}

enum sdp_dir sdp_dir_reverse(enum sdp_dir dir)
{
	if (dir == SDP_DIR_SENDONLY)
		return SDP_DIR_RECVONLY;
	if (dir == SDP_DIR_RECVONLY)
		return SDP_DIR_SENDONLY;
	return dir;
}

const char *sdp_media_type_name(enum sdp_media_type t)
{
	switch (t) {
	case SDP_MEDIA_AUDIO:
		return "audio";
	case SDP_MEDIA_VIDEO:
		return "video";
	case SDP_MEDIA_TEXT:
		return "text";
	default:
		return "other";
	}
}

/* "IP4 1.2.3.4" / "IP6 2001:db8::1" (no brackets in SDP). */
static int addr_write(struct mbuf *mb, const struct net_addr *a, bool any)
{
	char buf[INET6_ADDRSTRLEN];
	int af = net_addr_af(a);
	const void *src;
	struct in6_addr any6 = IN6ADDR_ANY_INIT;
	struct in_addr any4 = {0};

	if (af == AF_INET)
		src = any ? (const void *)&any4 : (const void *)&a->u.in.sin_addr;
	else
		src = any ? (const void *)&any6 : (const void *)&a->u.in6.sin6_addr;
	if (!inet_ntop(af, src, buf, sizeof(buf)))
		return EINVAL;
	return mbuf_printf(mb, "%s %s", af == AF_INET ? "IP4" : "IP6", buf);
}

static int origin_write(struct mbuf *mb, const struct sdp_session *s, const struct net_addr *a)
{
	const struct sdp_origin *o = &s->origin;
	int err;

	err = mbuf_printf(mb, "o=%.*s %.*s %.*s %.*s ", (int)o->username.l, o->username.p,
			  (int)o->sess_id.l, o->sess_id.p, (int)o->sess_version.l,
			  o->sess_version.p, (int)o->nettype.l, o->nettype.p);
	return err ? err : addr_write(mb, a, false);
}

static int conn_write(struct mbuf *mb, struct pl val, const struct net_addr *a)
{
	struct sdp_conn c;
	const char *why;
	int err;

	/* decoded before, so it parses; keep the RFC 2543 hold form */
	if (sdp_conn_parse(val, &c, &why))
		return EINVAL;
	err = mbuf_write_str(mb, "c=IN ");
	return err ? err : addr_write(mb, a, net_addr_is_any(&c.addr));
}

static int media_write(struct mbuf *mb, const struct sdp_media *m, uint16_t port)
{
	return mbuf_printf(mb, "m=%.*s %u %.*s %.*s", (int)m->media.l, m->media.p, port,
			   (int)m->proto.l, m->proto.p, (int)m->fmts.l, m->fmts.p);
}

static int rtcp_write(struct mbuf *mb, const struct sdp_media *m, uint16_t port,
		      const struct net_addr *a)
{
	int err = mbuf_printf(mb, "a=rtcp:%u", port);

	if (!err && m->rtcp_conn.set) {
		err = mbuf_write_str(mb, " IN ");
		if (!err)
			err = addr_write(mb, a, false);
	}
	return err;
}

static bool is_attr(struct pl val, const char *name)
{
	size_t n = strlen(name);

	return val.l >= n && memcmp(val.p, name, n) == 0 &&
	       (val.l == n || val.p[n] == ':');
}

static int line_write(struct mbuf *mb, const struct sdp_session *s, const struct sdp_line *l,
		      const struct sdp_rewrite *rw)
{
	const struct sdp_media *m = l->media ? &s->media[l->media - 1] : NULL;
	const struct sdp_media_rw *mrw = m && rw->media ? &rw->media[l->media - 1] : NULL;
	enum sdp_dir dir;

	switch (l->type) {
	case 'o':
		return origin_write(mb, s, rw->addr);
	case 'c':
		return conn_write(mb, l->val, rw->addr);
	case 'm':
		/* a section with no c= anywhere cannot be given a port */
		if (mrw)
			return media_write(mb, m,
					   sdp_media_conn(s, l->media - 1) ? mrw->port : 0);
		break;
	case 'a':
		if (mrw && is_attr(l->val, "rtcp") && l->val.l > 4)
			return rtcp_write(mb, m, mrw->rtcp_port, rw->addr);
		if (rw->reverse_dir && sdp_dir_from_pl(l->val, &dir))
			return mbuf_printf(mb, "a=%s", sdp_dir_name(sdp_dir_reverse(dir)));
		break;
	default:
		break;
	}
	return mbuf_printf(mb, "%c=%.*s", l->type, (int)l->val.l, l->val.p);
}

int sdp_encode(struct mbuf *mb, const struct sdp_session *s, const struct sdp_rewrite *rw)
{
	int err = 0;

	if (rw && (rw->media_count != s->media_count || !rw->addr ||
		   (s->media_count && !rw->media) ||
		   (net_addr_af(rw->addr) != AF_INET && net_addr_af(rw->addr) != AF_INET6)))
		return EINVAL;
	for (size_t i = 0; i < s->line_count && !err; i++) {
		const struct sdp_line *l = &s->lines[i];

		if (rw)
			err = line_write(mb, s, l, rw);
		else
			err = mbuf_printf(mb, "%c=%.*s", l->type, (int)l->val.l, l->val.p);
		if (!err)
			err = mbuf_write(mb, "\r\n", 2);
	}
	return err;
}
