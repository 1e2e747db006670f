/*
 * sip/sip_scan — character classes and a bounded cursor shared by the SIP
 * parsers (RFC 3261 §25.1). Internal to src/sip/.
 *
 * Every function checks the end pointer before reading; none can run past
 * the view it was given.
 */
#ifndef SIP_SIP_SCAN_H
#define SIP_SIP_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pl.h"

enum {
	SIP_C_TOKEN = 1,    /* token */
	SIP_C_UNRES = 2,    /* unreserved = alphanum / mark */
	SIP_C_USER = 4,     /* user-unreserved: & = + $ , ; ? / */
	SIP_C_PARAM = 8,    /* param-unreserved: [ ] / : & + $ */
	SIP_C_HNV = 16,     /* hnv-unreserved: [ ] / ? : + $ */
	SIP_C_PASS = 32,    /* password extras: & = + $ , */
	SIP_C_HEX = 64,
	SIP_C_WORD = 128,   /* word (Call-ID) */
};

extern const unsigned char sip_ctab[256];

static inline bool sip_c_is(char c, unsigned cls)
{
	return (sip_ctab[(unsigned char)c] & cls) != 0;
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
bool sip_scan_sws(struct sip_scan *s);
/* After SWS, consumes c if next; SWS after it too. */
bool sip_scan_sep(struct sip_scan *s, char c);
/* 1*token characters. EBADMSG if none. */
int sip_scan_token(struct sip_scan *s, struct pl *tok);
/* Characters of class cls (at least one). */
int sip_scan_class(struct sip_scan *s, unsigned cls, struct pl *out);
/* quoted-string at the cursor: out is the content between the quotes,
 * escapes left in place. EBADMSG if unterminated or bad quoted-pair. */
int sip_scan_quoted(struct sip_scan *s, struct pl *out);
/* Generic params "*( SEMI token [ EQUAL (token / host / quoted-string) ] )"
 * from the cursor; stops before a ',' or the end. out gets the raw text from
 * the first ';'. E2BIG beyond SIP_MAX_PARAMS. */
int sip_scan_params(struct sip_scan *s, struct pl *out);
/* A header value that must be empty from here on (SWS only). */
int sip_scan_done(struct sip_scan *s);

/* qvalue (RFC 3261 §25.1) in thousandths. */
int sip_qvalue(struct pl v, uint16_t *q1000);

#endif
