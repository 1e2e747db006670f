/* sip/sip_scan — bounded scanning primitives; see sip_scan.h. */
#include "sip/sip_scan.h"

#include <errno.h>

#include "sip/sip_msg.h"

/* Bit flags per byte, see the SIP_C_* classes (RFC 3261 §25.1). */
const unsigned char sip_ctab[256] = {
	  0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
	  0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
	  0, 131, 128,   0,  60, 129,  44, 131, 130, 130, 131, 189,  36, 131, 131, 156,
	195, 195, 195, 195, 195, 195, 195, 195, 195, 195, 152,   4, 128,  36, 128, 148,
	  0, 195, 195, 195, 195, 195, 195, 131, 131, 131, 131, 131, 131, 131, 131, 131,
	131, 131, 131, 131, 131, 131, 131, 131, 131, 131, 131, 152, 128, 152,   0, 131,
	129, 195, 195, 195, 195, 195, 195, 131, 131, 131, 131, 131, 131, 131, 131, 131,
	131, 131, 131, 131, 131, 131, 131, 131, 131, 131, 131, 128,   0, 128, 131,   0,
	  0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
	  0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
	  0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
	  0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
	  0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
	  0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
	  0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
	  0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
};

bool sip_scan_sws(struct sip_scan *s)
{
	const char *p0 = s->p;

	while (s->p < s->e && sip_c_ws(*s->p))
		s->p++;
	return s->p != p0;
}

bool sip_scan_sep(struct sip_scan *s, char c)
{
	const char *save = s->p;

	sip_scan_sws(s);
	if (s->p < s->e && *s->p == c) {
		s->p++;
		sip_scan_sws(s);
		return true;
	}
	s->p = save;
	return false;
}

int sip_scan_class(struct sip_scan *s, unsigned cls, struct pl *out)
{
	const char *p0 = s->p;

	while (s->p < s->e && sip_c_is(*s->p, cls))
		s->p++;
	if (s->p == p0)
		return EBADMSG;
	out->p = p0;
	out->l = (size_t)(s->p - p0);
	return 0;
}

int sip_scan_token(struct sip_scan *s, struct pl *tok)
{
	return sip_scan_class(s, SIP_C_TOKEN, tok);
}

int sip_scan_quoted(struct sip_scan *s, struct pl *out)
{
	const char *p;

	if (s->p >= s->e || *s->p != '"')
		return EBADMSG;
	p = s->p + 1;
	while (p < s->e) {
		unsigned char c = (unsigned char)*p;

		if (c == '"') {
			out->p = s->p + 1;
			out->l = (size_t)(p - out->p);
			s->p = p + 1;
			return 0;
		}
		if (c == '\\') {
			/* quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F) */
			if (p + 1 >= s->e)
				return EBADMSG;
			c = (unsigned char)p[1];
			if (c == '\r' || c == '\n' || c > 0x7f)
				return EBADMSG;
			p += 2;
			continue;
		}
		/* qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII;
		 * CR and LF only occur here as folding, checked by the decoder */
		if (c < 0x20 && c != '\t' && c != '\r' && c != '\n')
			return EBADMSG;
		if (c == 0x7f)
			return EBADMSG;
		p++;
	}
	return EBADMSG;
}

static bool sip_c_gen_value(char c)
{
	return sip_c_is(c, SIP_C_TOKEN) || c == ':' || c == '[' || c == ']';
}

static int sip_scan_param_value(struct sip_scan *s)
{
	struct pl v;

	if (sip_scan_peek(s) == '"')
		return sip_scan_quoted(s, &v);
	if (s->p >= s->e || !sip_c_gen_value(*s->p))
		return EBADMSG;
	while (s->p < s->e && sip_c_gen_value(*s->p))
		s->p++;
	return 0;
}

int sip_scan_params(struct sip_scan *s, struct pl *out)
{
	const char *start = NULL;
	unsigned n = 0;
	int err;

	for (;;) {
		const char *save = s->p;
		struct pl name;

		sip_scan_sws(s);
		if (sip_scan_peek(s) != ';') {
			s->p = save;
			break;
		}
		if (!start)
			start = s->p;
		s->p++;
		sip_scan_sws(s);
		if (sip_scan_token(s, &name))
			return EBADMSG;
		if (++n > SIP_MAX_PARAMS)
			return E2BIG;
		save = s->p;
		sip_scan_sws(s);
		if (sip_scan_peek(s) == '=') {
			s->p++;
			sip_scan_sws(s);
			err = sip_scan_param_value(s);
			if (err)
				return err;
		} else {
			s->p = save;
		}
	}
	out->p = start ? start : s->p;
	out->l = start ? (size_t)(s->p - start) : 0;
	return 0;
}

int sip_scan_done(struct sip_scan *s)
{
	sip_scan_sws(s);
	return sip_scan_end(s) ? 0 : EBADMSG;
}
