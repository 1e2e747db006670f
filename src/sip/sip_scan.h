/*
 * sip/sip_scan — character classes and a bounded cursor shared by the SIP
 * parsers (RFC 3261 §25.1). Internal to src/sip/.
 *
 * Every function checks the end pointer before reading; none can run past
 * the view it was given.
 */
#ifndef SIP_SIP_SCAN_H
#define SIP_SIP_SCAN_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pl.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

enum {
	SIP_C_TOKEN = 1, /* token */
	SIP_C_UNRES = 2, /* unreserved = alphanum / mark */
	SIP_C_USER = 4,	 /* user-unreserved: & = + $ , ; ? / */
	SIP_C_PARAM = 8, /* param-unreserved: [ ] / : & + $ */
	SIP_C_HNV = 16,	 /* hnv-unreserved: [ ] / ? : + $ */
	SIP_C_PASS = 32, /* password extras: & = + $ , */
	SIP_C_HEX = 64,
	SIP_C_WORD = 128, /* word (Call-ID) */
};

/* Second class table: classes the hot loops test in one lookup. */
enum {
	SIP_C2_WS = 1,	    /* SP HTAB CR LF (SWS; CRLF only occurs as folding) */
	SIP_C2_GENV = 2,    /* gen-value without quotes: token / ":" / "[" / "]" */
	SIP_C2_AUTHV = 4,   /* unquoted auth-param value: token / "/" ":" "@" "=" */
	SIP_C2_SENTBY = 8,  /* hostname / IPv4 characters: alnum "-" "." */
	SIP_C2_URIBAD = 16, /* never in a URI: CTL, SP, 8-bit, "<" ">" DQUOTE */
	SIP_C2_SPLIT = 32,  /* stops the list splitter: CR LF DQUOTE "\" "<" ">" "," */
	SIP_C2_ALNUM = 64,  /* ALPHA / DIGIT */
	SIP_C2_QSTOP = 128, /* ends qdtext: DQUOTE "\\" CTL but HTAB CR LF */
	SIP_C2_HOST = 256,  /* hostname label byte: alnum "-" */
	SIP_C2_HNDIG = 512, /* a label byte that is not a digit: ALPHA "-" */
};

extern const unsigned char sip_ctab[256];
extern const uint16_t sip_ctab2[256];

static inline bool sip_c_is(char c, unsigned cls)
{
	return (sip_ctab[(unsigned char)c] & cls) != 0;
}

static inline bool sip_c2_is(char c, unsigned cls)
{
	return (sip_ctab2[(unsigned char)c] & cls) != 0;
}

static inline bool sip_c_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ASCII case-insensitive equality of a view and a C string, without the
 * strlen()+strncasecmp() pair (locale-aware, slow on short names). */
static inline bool sip_pl_ieq(struct pl a, const char *s)
{
	size_t i = 0;

	for (; i < a.l; i++) {
		char x = a.p[i], y = s[i];

		if (!y)
			return false;
		if (x >= 'A' && x <= 'Z')
			x = (char)(x + 32);
		if (y >= 'A' && y <= 'Z')
			y = (char)(y + 32);
		if (x != y)
			return false;
	}
	return s[i] == '\0';
}

/* Case-insensitive equality of a scanned token and a lower-case literal of
 * len bytes. Folding with |0x20 is exact here: a token holds no control
 * characters, so only the upper-case letter maps onto each literal byte. */
static inline bool sip_tok_ieq(struct pl tok, const char *lit, size_t len)
{
	if (tok.l != len)
		return false;
	for (size_t i = 0; i < len; i++) {
		if ((tok.p[i] | 0x20) != lit[i])
			return false;
	}
	return true;
}

/* pl_trim() (SP HTAB CR LF at both ends), inlined for the decoder. */
static inline struct pl sip_pl_trim(struct pl pl)
{
	while (pl.l && sip_c2_is(pl.p[0], SIP_C2_WS)) {
		pl.p++;
		pl.l--;
	}
	while (pl.l && sip_c2_is(pl.p[pl.l - 1], SIP_C2_WS))
		pl.l--;
	return pl;
}

/* pl_u32() without a division per digit: EBADMSG if empty or not all
 * digits, ERANGE above UINT32_MAX, leading zeros allowed. */
static inline int sip_pl_u32(struct pl pl, uint32_t *v)
{
	uint64_t n = 0;
	bool big = false;

	if (!pl.l)
		return EBADMSG;
	for (size_t i = 0; i < pl.l; i++) {
		unsigned d = (unsigned char)pl.p[i] - (unsigned)'0';

		if (d > 9)
			return EBADMSG;
		n = n * 10 + d;
		if (n > UINT32_MAX) {
			/* stays above the bound; keep scanning for non-digits */
			big = true;
			n = (uint64_t)UINT32_MAX + 1;
		}
	}
	if (big)
		return ERANGE;
	*v = (uint32_t)n;
	return 0;
}

/* First CR or LF in [p, e), or e. One pass over the bytes instead of a
 * memchr for each: 16 bytes per step with SSE2 (every x86-64 CPU), never
 * reading past e. */
static inline const char *sip_find_crlf(const char *p, const char *e)
{
#if defined(__SSE2__)
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');

	for (; e - p >= 16; p += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
		int m = _mm_movemask_epi8(
		    _mm_or_si128(_mm_cmpeq_epi8(x, cr), _mm_cmpeq_epi8(x, lf)));

		if (m)
			return p + __builtin_ctz((unsigned)m);
	}
#endif
	for (; p < e; p++) {
		if (*p == '\r' || *p == '\n')
			return p;
	}
	return e;
}

struct sip_scan {
	const char *p;
	const char *e;
};

static inline void sip_scan_init(struct sip_scan *s, struct pl pl)
{
	if (!pl.p) {
		s->p = s->e = "";
		return;
	}
	s->p = pl.p;
	s->e = pl.p + pl.l;
}

static inline bool sip_scan_end(const struct sip_scan *s)
{
	return s->p >= s->e;
}

static inline char sip_scan_peek(const struct sip_scan *s)
{
	return s->p < s->e ? *s->p : '\0';
}

/* Skips SWS (white space, folding included); returns whether any. */
static inline bool sip_scan_sws(struct sip_scan *s)
{
	const char *p0 = s->p;

	while (s->p < s->e && sip_c2_is(*s->p, SIP_C2_WS))
		s->p++;
	return s->p != p0;
}

/* After SWS, consumes c if next; SWS after it too. */
static inline bool sip_scan_sep(struct sip_scan *s, char c)
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

/* Characters of class cls (at least one). */
static inline int sip_scan_class(struct sip_scan *s, unsigned cls, struct pl *out)
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

/* 1*token characters. EBADMSG if none. */
static inline int sip_scan_token(struct sip_scan *s, struct pl *tok)
{
	return sip_scan_class(s, SIP_C_TOKEN, tok);
}

/* quoted-string at the cursor: out is the content between the quotes,
 * escapes left in place. EBADMSG if unterminated or bad quoted-pair. */
int sip_scan_quoted(struct sip_scan *s, struct pl *out);
/* Generic params "*( SEMI token [ EQUAL (token / host / quoted-string) ] )"
 * from the cursor; stops before a ',' or the end. out gets the raw text from
 * the first ';'. E2BIG beyond SIP_MAX_PARAMS. */
int sip_scan_params(struct sip_scan *s, struct pl *out);
/* One generic-param at the cursor: SWS ";" SWS token [SWS "=" SWS value].
 * 0 with name and val (quoted: the content; no value: empty view right
 * after the name); ENOENT if no ';' follows (cursor unchanged); EBADMSG. */
int sip_scan_param(struct sip_scan *s, struct pl *name, struct pl *val);
/* sip_scan_params() calling h on each parameter in order (single pass: the
 * typed parsers pick the ones they know as they go). h returns 0 or an
 * error that stops the scan. */
typedef int(sip_param_h)(struct pl name, struct pl val, void *arg);
int sip_scan_params_each(struct sip_scan *s, struct pl *out, sip_param_h *h, void *arg);
/* A header value that must be empty from here on (SWS only). */
int sip_scan_done(struct sip_scan *s);

/* sip_uri_decode() as a yes/no answer, for the parsers that only need to
 * know that a URI is well formed (addresses). The last few URIs accepted are
 * remembered per thread by their bytes (sip_uri.c): the same text always
 * gives the same answer, so a From and a To with one URI, or a To checked by
 * sip_msg_check() and again by the response builder, are checked once. */
int sip_uri_check(struct pl pl);

/* qvalue (RFC 3261 §25.1) in thousandths. */
int sip_qvalue(struct pl v, uint16_t *q1000);

#endif
