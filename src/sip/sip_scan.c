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

/* Skips plain qdtext: stops at a byte of SIP_C2_QSTOP or at e. SSE2 flags
 * 16 bytes at a time ('"', '\\', DEL, anything below 0x20) and the table
 * decides from the first flagged byte on (HTAB, CR and LF are flagged but
 * plain). */
static const char *sip_qdtext_skip(const char *p, const char *e)
{
#if defined(__SSE2__)
	const __m128i dq = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'),
		      del = _mm_set1_epi8(0x7f), c1f = _mm_set1_epi8(0x1f);

	while (e - p >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, dq), _mm_cmpeq_epi8(x, bs)),
					 _mm_or_si128(_mm_cmpeq_epi8(x, del),
						      _mm_cmpeq_epi8(_mm_min_epu8(x, c1f), x)));
		int bits = _mm_movemask_epi8(m);

		if (!bits) {
			p += 16;
			continue;
		}
		p += __builtin_ctz((unsigned)bits);
		if (sip_c2_is(*p, SIP_C2_QSTOP))
			return p;
		p++; /* HTAB, CR or LF: plain */
	}
#endif
	while (p < e && !sip_c2_is(*p, SIP_C2_QSTOP))
		p++;
	return p;
}

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
		p = sip_qdtext_skip(p, s->e);
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

static inline const char *sip_skip_ws(const char *p, const char *e)
{
	while (p < e && sip_c2_is(*p, SIP_C2_WS))
		p++;
	return p;
}

/* One parameter at p (the cursor, before any SWS): *pp moves past it.
 * Local pointers only, so that the loops run in registers. */
static inline __attribute__((always_inline)) int sip_param_at(const char **pp, const char *e, struct pl *name,
			       struct pl *val)
{
	const char *p = sip_skip_ws(*pp, e), *q;

	if (p >= e || *p != ';')
		return ENOENT;
	p = sip_skip_ws(p + 1, e);
	for (q = p; q < e && sip_c_is(*q, SIP_C_TOKEN); q++)
		;
	if (q == p)
		return EBADMSG;
	*name = (struct pl){p, (size_t)(q - p)};
	p = sip_skip_ws(q, e);
	if (p >= e || *p != '=') {
		*val = (struct pl){q, 0};
		*pp = q;
		return 0;
	}
	p = sip_skip_ws(p + 1, e);
	if (p < e && *p == '"') {
		struct sip_scan s = {p, e};
		int err = sip_scan_quoted(&s, val);

		*pp = s.p;
		return err;
	}
	for (q = p; q < e && sip_c2_is(*q, SIP_C2_GENV); q++)
		;
	*val = (struct pl){p, (size_t)(q - p)};
	*pp = q;
	return q > p ? 0 : EBADMSG;
}

int sip_scan_param(struct sip_scan *s, struct pl *name, struct pl *val)
{
	const char *p = s->p;
	int err = sip_param_at(&p, s->e, name, val);

	if (err != ENOENT)
		s->p = p;
	return err;
}

int sip_scan_params_each(struct sip_scan *s, struct pl *out, sip_param_h *h, void *arg)
{
	const char *p = s->p, *start = NULL;
	unsigned n = 0;
	int err;

	for (;;) {
		struct pl name, val;

		err = sip_param_at(&p, s->e, &name, &val);
		if (err == ENOENT)
			break;
		if (err) {
			s->p = p;
			return err;
		}
		if (!start)
			start = name.p;
		if (++n > SIP_MAX_PARAMS) {
			s->p = p;
			return E2BIG;
		}
		if (h) {
			err = h(name, val, arg);
			if (err) {
				s->p = p;
				return err;
			}
		}
	}
	s->p = p;
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
