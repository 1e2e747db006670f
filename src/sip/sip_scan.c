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

const uint16_t sip_ctab2[256] = {
	144, 144, 144, 144, 144, 144, 144, 144, 144,  17,  49, 144, 144,  49, 144, 144,
	144, 144, 144, 144, 144, 144, 144, 144, 144, 144, 144, 144, 144, 144, 144, 144,
	 17,   6, 176,   0,   0,   6,   0,   6,   0,   0,   6,   6,  32, 782,  14,   4,
	334, 334, 334, 334, 334, 334, 334, 334, 334, 334,   6,   0,  48,   4,  48,   0,
	  4, 846, 846, 846, 846, 846, 846, 846, 846, 846, 846, 846, 846, 846, 846, 846,
	846, 846, 846, 846, 846, 846, 846, 846, 846, 846, 846,   2, 160,   2,   0,   6,
	  6, 846, 846, 846, 846, 846, 846, 846, 846, 846, 846, 846, 846, 846, 846, 846,
	846, 846, 846, 846, 846, 846, 846, 846, 846, 846, 846,   0,   0,   0,   6, 144,
	 16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,
	 16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,
	 16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,
	 16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,
	 16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,
	 16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,
	 16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,
	 16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,
};

int sip_scan_quoted(struct sip_scan *s, struct pl *out)
{
	const char *p;

	if (s->p >= s->e || *s->p != '"')
		return EBADMSG;
	p = s->p + 1;
	for (;;) {
		unsigned char c;

		/* qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII; CR
		 * and LF only occur here as folding, checked by the decoder */
		while (p < s->e && !sip_c2_is(*p, SIP_C2_QSTOP))
			p++;
		if (p >= s->e)
			return EBADMSG;
		c = (unsigned char)*p;
		if (c == '"') {
			out->p = s->p + 1;
			out->l = (size_t)(p - out->p);
			s->p = p + 1;
			return 0;
		}
		if (c != '\\')
			return EBADMSG; /* a control character */
		/* quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F) */
		if (p + 1 >= s->e)
			return EBADMSG;
		c = (unsigned char)p[1];
		if (c == '\r' || c == '\n' || c > 0x7f)
			return EBADMSG;
		p += 2;
	}
}

int sip_scan_param(struct sip_scan *s, struct pl *name, struct pl *val)
{
	const char *save = s->p;

	sip_scan_sws(s);
	if (s->p >= s->e || *s->p != ';') {
		s->p = save;
		return ENOENT;
	}
	s->p++;
	sip_scan_sws(s);
	if (sip_scan_token(s, name))
		return EBADMSG;
	save = s->p;
	sip_scan_sws(s);
	if (s->p >= s->e || *s->p != '=') {
		s->p = save;
		*val = (struct pl){save, 0};
		return 0;
	}
	s->p++;
	sip_scan_sws(s);
	if (s->p < s->e && *s->p == '"')
		return sip_scan_quoted(s, val);
	val->p = s->p;
	while (s->p < s->e && sip_c2_is(*s->p, SIP_C2_GENV))
		s->p++;
	val->l = (size_t)(s->p - val->p);
	return val->l ? 0 : EBADMSG;
}

int sip_scan_params_each(struct sip_scan *s, struct pl *out, sip_param_h *h, void *arg)
{
	const char *start = NULL;
	unsigned n = 0;
	int err;

	for (;;) {
		struct pl name, val;

		err = sip_scan_param(s, &name, &val);
		if (err == ENOENT)
			break;
		if (err)
			return err;
		if (!start)
			start = name.p;
		if (++n > SIP_MAX_PARAMS)
			return E2BIG;
		if (h) {
			err = h(name, val, arg);
			if (err)
				return err;
		}
	}
	if (start) {
		/* from the ';' before the first name */
		while (*start != ';')
			start--;
	}
	out->p = start ? start : s->p;
	out->l = start ? (size_t)(s->p - start) : 0;
	return 0;
}

int sip_scan_params(struct sip_scan *s, struct pl *out)
{
	return sip_scan_params_each(s, out, NULL, NULL);
}

int sip_scan_done(struct sip_scan *s)
{
	sip_scan_sws(s);
	return sip_scan_end(s) ? 0 : EBADMSG;
}
