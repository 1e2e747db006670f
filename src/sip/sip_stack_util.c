/*
 * sip/sip_stack_util — helpers of the SIP stack: the top Via's received and
 * rport parameters (RFC 3261 §18.2.1, RFC 3581 §4), the Call-ID of a
 * serialized message for the log, header insertion into a built message.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <netinet/in.h>

#include "core/mem.h"
#include "sip/sip_build.h"
#include "sip/sip_hdr.h"
#include "sip/sip_stack_int.h"

const char *sip_stack_peer_str(bool reliable, const struct net_addr *a, char *buf,
			       size_t size)
{
	char ab[NET_ADDR_STRLEN];

	snprintf(buf, size, "%s:%s", reliable ? "tcp" : "udp",
		 net_addr_print(a, ab, sizeof(ab)));
	return buf;
}

/* Whether the header line at p (up to e) is named Call-ID or i. */
static const char *callid_value(const char *p, const char *e)
{
	const char *q = p;

	while (q < e && *q != ':' && *q != ' ' && *q != '\t')
		q++;
	if (!((q - p == 7 && !strncasecmp(p, "Call-ID", 7)) ||
	      (q - p == 1 && (*p == 'i' || *p == 'I'))))
		return NULL;
	while (q < e && (*q == ' ' || *q == '\t'))
		q++;
	if (q >= e || *q != ':')
		return NULL;
	q++;
	while (q < e && (*q == ' ' || *q == '\t'))
		q++;
	return q;
}

struct pl sip_stack_callid_scan(const void *buf, size_t len)
{
	const char *p = buf, *e = p + len;

	/* header lines start after a CRLF; stop at the blank line */
	while (p && p < e) {
		const char *lf = memchr(p, '\n', (size_t)(e - p));
		const char *v, *end;

		if (!lf || lf + 1 >= e)
			break;
		p = lf + 1;
		if (*p == '\r' || *p == '\n')
			break;
		v = callid_value(p, e);
		if (!v)
			continue;
		end = v;
		while (end < e && *end != '\r' && *end != '\n' && *end != ' ' &&
		       *end != '\t')
			end++;
		return (struct pl){v, (size_t)(end - v)};
	}
	return (struct pl)PL_INIT;
}

int sip_stack_hdrs_insert(struct mbuf *mb, struct pl hdrs)
{
	const char *s = (const char *)mb->buf;
	const char *blank;
	size_t at;
	int err;

	if (!hdrs.l)
		return 0;
	if (!s || mb->end < 4)
		return EINVAL;
	blank = memmem(s, mb->end, "\r\n\r\n", 4);
	if (!blank)
		return EINVAL;
	at = (size_t)(blank - s) + 2;
	err = mbuf_reserve(mb, hdrs.l);
	if (err)
		return err;
	memmove(mb->buf + at + hdrs.l, mb->buf + at, mb->end - at);
	memcpy(mb->buf + at, hdrs.p, hdrs.l);
	mb->end += hdrs.l;
	return 0;
}

/* The source IP as text. IPv4 by hand: glibc's inet_ntop goes through
 * sprintf, and this runs for every request with rport (every UE). */
static void stack_host_print(const struct net_addr *src, char *buf, size_t size)
{
	const struct sockaddr *sa = net_addr_sa(src);
	const uint8_t *b;
	size_t n = 0;

	if (sa->sa_family != AF_INET || size < 16) {
		net_addr_print_host(src, buf, size);
		return;
	}
	b = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	for (int i = 0; i < 4; i++) {
		unsigned v = b[i];

		if (v >= 100)
			buf[n++] = (char)('0' + v / 100);
		if (v >= 10)
			buf[n++] = (char)('0' + v / 10 % 10);
		buf[n++] = (char)('0' + v % 10);
		buf[n++] = i < 3 ? '.' : '\0';
	}
}

/* The new top Via value: the old one without received and rport, then
 * ;received=<source IP>[;rport=<source port>]. */
static int via_value_build(struct mbuf *v, const struct sip_via *via, struct pl val,
			   const struct net_addr *src)
{
	struct pl it = via->params, name, pv;
	const char *start = it.p;
	char host[NET_ADDR_STRLEN];
	int err = 0;

	if (!via->params.p || !via->params.l)
		start = val.p + val.l;
	err = mbuf_write(v, val.p, (size_t)(start - val.p));
	while (!err && it.l) {
		const char *p0 = it.p;

		if (!sip_param_next(&it, &name, &pv))
			break;
		if ((name.l == 5 && !strncasecmp(name.p, "rport", 5)) ||
		    (name.l == 8 && !strncasecmp(name.p, "received", 8)))
			continue;
		err = mbuf_write(v, p0, (size_t)(it.p - p0));
	}
	/* whatever the loop did not consume (nothing for a valid Via) */
	if (!err && it.l && via->params.l)
		err = mbuf_write(v, it.p, it.l);
	stack_host_print(src, host, sizeof(host));
	/* RFC 3261 §25.1: received holds an IPv6 address without brackets */
	if (!err && host[0] == '[') {
		size_t hl = strlen(host);

		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	err = err ? err : mbuf_write(v, ";received=", 10);
	err = err ? err : mbuf_write_str(v, host);
	if (!err && via->rport) {
		char d[8];
		size_t n = sizeof(d);
		unsigned port = net_addr_port(src);

		do {
			d[--n] = (char)('0' + port % 10);
			port /= 10;
		} while (port);
		err = mbuf_write(v, ";rport=", 7);
		err = err ? err : mbuf_write(v, d + n, sizeof(d) - n);
	}
	return err;
}

int sip_stack_via_top(struct mbuf *v, const struct sip_hdr *vh, const struct sip_via *via,
		      const struct net_addr *src)
{
	struct net_addr a;
	char ip[NET_ADDR_STRLEN];

	/* rport always asks for both parameters; otherwise received only
	 * when the sent-by is not the source IP (IPv4 compared as text: a
	 * non-canonical spelling only costs a harmless received=) */
	if (via->rport)
		return via_value_build(v, via, vh->val, src);
	if (via->host_type == SIP_HOST_IPV4 && net_addr_sa(src)->sa_family == AF_INET) {
		stack_host_print(src, ip, sizeof(ip));
		if (pl_eq_str(via->host, ip))
			return 0;
	} else if ((via->host_type == SIP_HOST_IPV4 || via->host_type == SIP_HOST_IPV6) &&
		   !net_addr_parse(&a, via->host, 0) && net_addr_eq_ip(&a, src)) {
		return 0;
	}
	return via_value_build(v, via, vh->val, src);
}

int sip_stack_via_fix(struct sip_msg **outp, const struct sip_msg *msg,
		      const struct sip_hdr *vh, const struct sip_via *vp,
		      const struct net_addr *src)
{
	struct sip_decode_prm dp = {.max_size = SIP_MSG_MAX_HARD, .stream = false};
	struct sip_edit ed = {0};
	struct sip_fwd_prm fp = {0};
	struct mbuf v, out;
	struct sip_via via = *vp;
	struct net_addr a;
	bool differs = true;
	int err;

	*outp = NULL;
	if ((via.host_type == SIP_HOST_IPV4 || via.host_type == SIP_HOST_IPV6) &&
	    !net_addr_parse(&a, via.host, 0) && net_addr_eq_ip(&a, src))
		differs = false;
	if (!differs && !via.rport)
		return 0;
	mbuf_init(&v, SIP_MAX_LINE);
	mbuf_init(&out, SIP_MSG_MAX_HARD);
	err = via_value_build(&v, &via, vh->val, src);
	if (err)
		goto out;
	ed.op = SIP_EDIT_REPLACE;
	ed.hdr = vh;
	ed.val = (struct pl){(const char *)v.buf, v.end};
	fp.editv = &ed;
	fp.editc = 1;
	err = sip_msg_forward(&out, msg, &fp);
	err = err ? err : sip_msg_decode_copy(outp, out.buf, out.end, &dp);
out:
	mbuf_reset(&v);
	mbuf_reset(&out);
	return err;
}
