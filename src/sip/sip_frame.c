/*
 * sip/sip_frame — message boundaries on stream transports (RFC 3261 §18.3:
 * Content-Length is mandatory there) and CRLF keep-alives (RFC 5626 §3.5.1).
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "sip/sip_msg.h"
#include "sip/sip_scan.h"

/* Content-Length of a complete header section (hdr ends with CRLFCRLF).
 * EBADMSG if absent, malformed or given twice with different values. */
static int sip_frame_clen(const char *p, const char *e, size_t *clen)
{
	bool found = false;
	size_t v = 0;

	/* skip the start line */
	p = memchr(p, '\n', (size_t)(e - p));
	while (p && ++p < e) {
		const char *eol = p, *q = p, *n;
		struct pl name, val;

		/* logical line: up to a CRLF not followed by SP/HTAB */
		for (;;) {
			eol = memchr(eol, '\n', (size_t)(e - eol));
			if (!eol || eol + 1 >= e || (eol[1] != ' ' && eol[1] != '\t'))
				break;
			eol++;
		}
		if (!eol)
			break;
		while (q < eol && sip_c_is(*q, SIP_C_TOKEN))
			q++;
		name = (struct pl){p, (size_t)(q - p)};
		n = q;
		while (n < eol && (*n == ' ' || *n == '\t'))
			n++;
		if (name.l && n < eol && *n == ':' &&
		    sip_hdr_id_from_name(name) == SIP_HDR_CONTENT_LENGTH) {
			uint32_t x;

			val = pl_trim((struct pl){n + 1, (size_t)(eol - n - 1)});
			if (pl_u32(val, &x) || (found && x != v))
				return EBADMSG;
			v = x;
			found = true;
		}
		p = eol;
	}
	if (!found)
		return EBADMSG;
	*clen = v;
	return 0;
}

static int sip_frame_crlf(const char *p, size_t len, struct sip_frame *f)
{
	if (len < 2)
		return ENODATA;
	if (p[1] != '\n')
		return EBADMSG;
	if (len >= 4 && p[2] == '\r' && p[3] == '\n') {
		f->kind = SIP_FRAME_PING;
		f->len = 4;
		return 0;
	}
	/* "\r\n" or "\r\n\r" may still become a ping */
	if (len == 2 || (len == 3 && p[2] == '\r'))
		return ENODATA;
	f->kind = SIP_FRAME_PONG;
	f->len = 2;
	return 0;
}

int sip_frame(const void *buf, size_t len, size_t max, struct sip_frame *f)
{
	const char *p = buf, *end;
	size_t look, hlen, clen;
	int err;

	if (!f || (!buf && len))
		return EINVAL;
	if (!max)
		max = SIP_MSG_MAX_TCP;
	if (max > SIP_MSG_MAX_HARD)
		max = SIP_MSG_MAX_HARD;
	if (!len)
		return ENODATA;
	if (p[0] == '\r')
		return sip_frame_crlf(p, len, f);
	if (!sip_c_is(p[0], SIP_C_TOKEN))
		return EBADMSG;
	look = len < max ? len : max;
	for (size_t i = 0; i < look && p[i] != '\n'; i++) {
		unsigned char c = (unsigned char)p[i];

		if ((c < 0x20 && c != '\r' && c != '\t') || c == 0x7f)
			return EBADMSG;
	}
	end = memmem(p, look, "\r\n\r\n", 4);
	if (!end)
		return len >= max ? EBADMSG : ENODATA;
	hlen = (size_t)(end + 4 - p);
	err = sip_frame_clen(p, end + 2, &clen);
	if (err)
		return err;
	if (clen > max - hlen) {
		/* the whole length as announced: the transport skips it */
		f->kind = SIP_FRAME_MSG;
		f->len = hlen + clen;
		return EMSGSIZE;
	}
	if (len < hlen + clen)
		return ENODATA;
	f->kind = SIP_FRAME_MSG;
	f->len = hlen + clen;
	return 0;
}

bool sip_is_keepalive(const void *buf, size_t len)
{
	const char *p = buf;

	if (!buf || !len || len % 2)
		return false;
	for (size_t i = 0; i < len; i += 2) {
		if (p[i] != '\r' || p[i + 1] != '\n')
			return false;
	}
	return true;
}
