/*
 * config/cfg_lex — the lexer of the configuration language.
 *
 * Single pass over the top source, no backtracking, so a file is read in
 * linear time. Directives (`#` first on a line) are handed to cfg_pp; lines
 * in an inactive #if branch are skipped there. String tokens are decoded
 * (JSON escapes, UTF-8 checked) into the ctx scratch buffer, valid until the
 * next token.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_lang_int.h"

enum { LEX_MAX_NUMBER = 400 };

static inline struct cfg_src *top(const struct cfg_ctx *c)
{
	return c->src[c->nsrc - 1];
}

static void loc_at(const struct cfg_src *s, const char *p, struct cfg_loc *loc)
{
	loc->file = s->name;
	loc->line = s->line;
	loc->col = (unsigned)(p - s->line_start) + 1;
}

void cfg_lex_loc(const struct cfg_ctx *c, struct cfg_loc *loc)
{
	const struct cfg_src *s = top(c);

	loc_at(s, s->p, loc);
}

static inline bool is_ident_start(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

static inline bool is_ident_char(unsigned char ch)
{
	return is_ident_start(ch) || (ch >= '0' && ch <= '9');
}

static inline void newline(struct cfg_src *s, const char *after)
{
	s->line++;
	s->line_start = after;
}

/* Skip a block comment that starts at *pp; *pp is moved after its end. */
static int skip_block_comment(struct cfg_ctx *c, struct cfg_src *s, const char **pp)
{
	const char *p = *pp + 2, *e = s->end;
	struct cfg_loc loc;

	loc_at(s, *pp, &loc);
	for (; p < e; p++) {
		if (*p == '\n')
			newline(s, p + 1);
		else if (*p == '*' && p + 1 < e && p[1] == '/') {
			*pp = p + 2;
			return 0;
		}
	}
	return cfg_err_set(c, &loc, EBADMSG, "unterminated comment");
}

/*
 * Skip blanks, newlines and comments. In a directive line a newline ends
 * the line: *eol is set and the newline consumed.
 */
static int skip_space(struct cfg_ctx *c, struct cfg_src *s, bool *eol,
		      struct cfg_loc *eolloc)
{
	const char *p = s->p, *e = s->end;
	int err = 0;

	*eol = false;
	while (p < e) {
		char ch = *p;

		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v') {
			p++;
		} else if (ch == '\n') {
			loc_at(s, p, eolloc);
			p++;
			newline(s, p);
			s->bol = true;
			if (c->directive) {
				*eol = true;
				break;
			}
		} else if (ch == '\\' && c->directive && p + 1 < e &&
			   (p[1] == '\n' ||
			    (p[1] == '\r' && p + 2 < e && p[2] == '\n'))) {
			p += p[1] == '\n' ? 2 : 3;
			newline(s, p);
		} else if (ch == '/' && p + 1 < e && p[1] == '/') {
			const char *nl = memchr(p, '\n', (size_t)(e - p));

			p = nl ? nl : e;
		} else if (ch == '/' && p + 1 < e && p[1] == '*') {
			err = skip_block_comment(c, s, &p);
			if (err)
				break;
		} else {
			break;
		}
	}
	s->p = p;
	return err;
}

static int scratch_grow(struct cfg_ctx *c, size_t need)
{
	size_t cap = c->scap ? c->scap : 256;
	char *n;

	while (cap < need)
		cap *= 2;
	n = realloc(c->sbuf, cap);
	if (!n)
		return ENOMEM;
	c->sbuf = n;
	c->scap = cap;
	return 0;
}

/* Length of the valid UTF-8 sequence at p (strict), 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *e)
{
	unsigned char b = p[0];
	size_t n, i;
	uint32_t cp;

	if (b < 0x80)
		return 1;
	if (b >= 0xc2 && b <= 0xdf) {
		n = 2;
		cp = b & 0x1f;
	} else if (b >= 0xe0 && b <= 0xef) {
		n = 3;
		cp = b & 0x0f;
	} else if (b >= 0xf0 && b <= 0xf4) {
		n = 4;
		cp = b & 0x07;
	} else {
		return 0;
	}
	if ((size_t)(e - p) < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

static int hex4(const char *p, const char *e, uint32_t *v)
{
	uint32_t r = 0;

	if (e - p < 4)
		return EBADMSG;
	for (int i = 0; i < 4; i++) {
		char ch = p[i];

		r <<= 4;
		if (ch >= '0' && ch <= '9')
			r |= (uint32_t)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			r |= (uint32_t)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			r |= (uint32_t)(ch - 'A' + 10);
		else
			return EBADMSG;
	}
	*v = r;
	return 0;
}

static size_t utf8_put(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Decode the escape at *pp (just after the backslash) into o; returns bytes written. */
static int lex_escape(struct cfg_ctx *c, struct cfg_src *s, const char **pp, bool bq,
		      char *o, size_t *olen)
{
	const char *p = *pp, *e = s->end;
	struct cfg_loc loc;
	uint32_t cp, lo;

	loc_at(s, p - 1, &loc);
	if (p >= e)
		return cfg_err_set(c, &loc, EBADMSG, "invalid escape sequence");
	*olen = 1;
	switch (*p) {
	case '"':
	case '\\':
	case '/':
		o[0] = *p;
		break;
	case 'b':
		o[0] = '\b';
		break;
	case 'f':
		o[0] = '\f';
		break;
	case 'n':
		o[0] = '\n';
		break;
	case 'r':
		o[0] = '\r';
		break;
	case 't':
		o[0] = '\t';
		break;
	case '`':
	case '$':
		if (!bq)
			return cfg_err_set(c, &loc, EBADMSG,
					   "invalid escape sequence '\\%c'", *p);
		o[0] = *p;
		break;
	case 'u':
		if (hex4(p + 1, e, &cp))
			return cfg_err_set(c, &loc, EBADMSG, "invalid \\u escape");
		p += 4;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (e - p < 7 || p[1] != '\\' || p[2] != 'u' ||
			    hex4(p + 3, e, &lo) || lo < 0xdc00 || lo > 0xdfff)
				return cfg_err_set(c, &loc, EBADMSG,
						   "invalid \\u escape (lone surrogate)");
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			p += 6;
		} else if (cp >= 0xdc00 && cp <= 0xdfff) {
			return cfg_err_set(c, &loc, EBADMSG,
					   "invalid \\u escape (lone surrogate)");
		} else if (cp == 0) {
			return cfg_err_set(c, &loc, EBADMSG,
					   "\\u0000 is not allowed in strings");
		}
		*olen = utf8_put(o, cp);
		break;
	default:
		if ((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f)
			return cfg_err_set(c, &loc, EBADMSG,
					   "invalid escape sequence '\\%c'", *p);
		return cfg_err_set(c, &loc, EBADMSG, "invalid escape sequence");
	}
	*pp = p + 1;
	return 0;
}

/*
 * Read string characters from s->p up to the terminator into the scratch
 * buffer. For "..." strings term is '"'; for backquote strings it is '`' and
 * "${" stops too (t->bq_more). start is where the string began.
 */
static int lex_chars(struct cfg_ctx *c, struct cfg_src *s, struct cfg_tok *t, bool bq,
		     const struct cfg_loc *start)
{
	const char *p = s->p, *e = s->end;
	size_t n = 0;
	int err;

	for (;;) {
		unsigned char ch;
		struct cfg_loc loc;

		if (n + 8 > c->scap && (err = scratch_grow(c, n + 8)))
			return cfg_err_set(c, start, err, "out of memory");
		if (n > CFG_LANG_MAX_STRING)
			return cfg_err_set(c, start, E2BIG, "string too long");
		if (p >= e)
			break;
		ch = (unsigned char)*p;
		if (ch == (bq ? '`' : '"')) {
			p++;
			t->bq_more = false;
			goto done;
		}
		if (bq && ch == '$' && p + 1 < e && p[1] == '{') {
			p += 2;
			t->bq_more = true;
			goto done;
		}
		if (ch == '\\') {
			size_t olen = 0;

			p++;
			s->p = p;
			err = lex_escape(c, s, &p, bq, c->sbuf + n, &olen);
			if (err)
				return err;
			n += olen;
		} else if (ch >= 0x80) {
			size_t k =
			    utf8_seq((const unsigned char *)p, (const unsigned char *)e);

			if (!k) {
				loc_at(s, p, &loc);
				return cfg_err_set(c, &loc, EBADMSG,
						   "invalid UTF-8 in string");
			}
			memcpy(c->sbuf + n, p, k);
			n += k;
			p += k;
		} else if (ch == '\n' && bq) {
			c->sbuf[n++] = '\n';
			p++;
			newline(s, p);
		} else if (ch < 0x20 && ch != '\t' && !(bq && ch == '\r')) {
			if (ch == '\n')
				break;
			loc_at(s, p, &loc);
			return cfg_err_set(c, &loc, EBADMSG,
					   "control character in string");
		} else {
			c->sbuf[n++] = (char)ch;
			p++;
		}
	}
	return cfg_err_set(c, start, EBADMSG,
			   bq ? "unterminated backquote string" : "unterminated string");
done:
	c->sbuf[n] = '\0';
	t->s = c->sbuf;
	t->len = n;
	s->p = p;
	return 0;
}

int cfg_lex_bq_part(struct cfg_ctx *c, struct cfg_tok *t, const struct cfg_loc *start)
{
	struct cfg_src *s = top(c);

	t->kind = TK_BQ;
	return lex_chars(c, s, t, true, start);
}

static int lex_hex(struct cfg_ctx *c, struct cfg_src *s, struct cfg_tok *t)
{
	const char *p = s->p + 2, *e = s->end;
	uint64_t v = 0;
	unsigned digits = 0;

	for (; p < e; p++, digits++) {
		char ch = *p;
		unsigned d;

		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			d = (unsigned)(ch - 'A' + 10);
		else
			break;
		if (v > (uint64_t)INT64_MAX >> 4)
			return cfg_err_set(c, &t->loc, EBADMSG,
					   "hexadecimal number too large");
		v = (v << 4) | d;
	}
	if (!digits || (p < e && (is_ident_char((unsigned char)*p) || *p == '.')))
		return cfg_err_set(c, &t->loc, EBADMSG, "invalid number");
	t->kind = TK_INT;
	t->i = (int64_t)v;
	s->p = p;
	return 0;
}

static int lex_number(struct cfg_ctx *c, struct cfg_src *s, struct cfg_tok *t)
{
	const char *p = s->p, *e = s->end;
	char buf[LEX_MAX_NUMBER + 1];
	bool real = false;
	uint64_t v = 0;
	bool big = false;

	if (p + 1 < e && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		return lex_hex(c, s, t);
	for (; p < e && *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > ((uint64_t)INT64_MAX - d) / 10)
			big = true;
		else
			v = v * 10 + d;
	}
	if (p < e && *p == '.') {
		real = true;
		p++;
		if (p >= e || *p < '0' || *p > '9')
			return cfg_err_set(c, &t->loc, EBADMSG, "invalid number");
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		real = true;
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			p++;
		if (p >= e || *p < '0' || *p > '9')
			return cfg_err_set(c, &t->loc, EBADMSG, "invalid number");
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < e && (is_ident_char((unsigned char)*p) || *p == '.'))
		return cfg_err_set(c, &t->loc, EBADMSG, "invalid number");
	if (!real && !big) {
		t->kind = TK_INT;
		t->i = (int64_t)v;
		s->p = p;
		return 0;
	}
	if (p - s->p > LEX_MAX_NUMBER)
		return cfg_err_set(c, &t->loc, EBADMSG, "number too long");
	memcpy(buf, s->p, (size_t)(p - s->p));
	buf[p - s->p] = '\0';
	t->kind = TK_REAL;
	t->d = strtod(buf, NULL);
	if (!isfinite(t->d))
		return cfg_err_set(c, &t->loc, EBADMSG, "number out of range");
	s->p = p;
	return 0;
}

static int lex_punct(struct cfg_ctx *c, struct cfg_src *s, struct cfg_tok *t)
{
	const char *p = s->p;
	char ch = *p, nx = p + 1 < s->end ? p[1] : '\0';
	size_t n = 1;

	switch (ch) {
	case '{':
		t->kind = TK_LBRACE;
		break;
	case '}':
		t->kind = TK_RBRACE;
		break;
	case '[':
		t->kind = TK_LBRACK;
		break;
	case ']':
		t->kind = TK_RBRACK;
		break;
	case '(':
		t->kind = TK_LPAREN;
		break;
	case ')':
		t->kind = TK_RPAREN;
		break;
	case ',':
		t->kind = TK_COMMA;
		break;
	case ':':
		t->kind = TK_COLON;
		break;
	case '+':
		t->kind = TK_PLUS;
		break;
	case '-':
		t->kind = TK_MINUS;
		break;
	case '*':
		t->kind = TK_STAR;
		break;
	case '/':
		t->kind = TK_SLASH;
		break;
	case '!':
		t->kind = nx == '=' ? TK_NE : TK_NOT;
		n = nx == '=' ? 2 : 1;
		break;
	case '=':
		if (nx != '=')
			return cfg_err_set(c, &t->loc, EBADMSG,
					   "unexpected '=' (use ':' or '==')");
		t->kind = TK_EQ;
		n = 2;
		break;
	case '<':
		t->kind = nx == '=' ? TK_LE : TK_LT;
		n = nx == '=' ? 2 : 1;
		break;
	case '>':
		t->kind = nx == '=' ? TK_GE : TK_GT;
		n = nx == '=' ? 2 : 1;
		break;
	case '|':
	case '&':
		if (nx != ch)
			return cfg_err_set(c, &t->loc, EBADMSG,
					   "unexpected '%c' (use '%c%c')", ch, ch, ch);
		t->kind = ch == '|' ? TK_OR : TK_AND;
		n = 2;
		break;
	default:
		if ((unsigned char)ch > 0x20 && (unsigned char)ch < 0x7f)
			return cfg_err_set(c, &t->loc, EBADMSG,
					   "unexpected character '%c'", ch);
		return cfg_err_set(c, &t->loc, EBADMSG, "unexpected character 0x%02x",
				   (unsigned char)ch);
	}
	s->p = p + n;
	return 0;
}

static int lex_token(struct cfg_ctx *c, struct cfg_src *s, struct cfg_tok *t)
{
	unsigned char ch = (unsigned char)*s->p;

	if (is_ident_start(ch)) {
		const char *p = s->p + 1;

		while (p < s->end && is_ident_char((unsigned char)*p))
			p++;
		t->kind = TK_IDENT;
		t->s = s->p;
		t->len = (size_t)(p - s->p);
		s->p = p;
		return 0;
	}
	if (ch >= '0' && ch <= '9')
		return lex_number(c, s, t);
	if (ch == '"') {
		s->p++;
		t->kind = TK_STR;
		return lex_chars(c, s, t, false, &t->loc);
	}
	if (ch == '`') {
		s->p++;
		t->kind = TK_BQ;
		return lex_chars(c, s, t, true, &t->loc);
	}
	return lex_punct(c, s, t);
}

int cfg_lex_next(struct cfg_ctx *c, struct cfg_tok *t)
{
	for (;;) {
		struct cfg_src *s = top(c);
		bool eol;
		int err;

		if (!c->directive && c->ncond > s->cond_base &&
		    !c->cond[c->ncond - 1].active) {
			err = cfg_pp_skip_inactive(c);
			if (err)
				return err;
		}
		err = skip_space(c, s, &eol, &t->loc);
		if (err)
			return err;
		if (eol) {
			t->kind = TK_EOL;
			return 0;
		}
		loc_at(s, s->p, &t->loc);
		if (s->p == s->end) {
			if (c->directive) {
				t->kind = TK_EOL;
				return 0;
			}
			if (c->ncond > s->cond_base)
				return cfg_err_set(c, &c->cond[c->ncond - 1].loc, EBADMSG,
						   "unterminated #if");
			if (s->barrier || c->nsrc == 1) {
				t->kind = TK_EOF;
				return 0;
			}
			cfg_src_pop(c);
			continue;
		}
		if (*s->p == '#') {
			if (c->directive || !s->bol)
				return cfg_err_set(
				    c, &t->loc, EBADMSG,
				    "unexpected '#' (a directive must begin a line)");
			err = cfg_pp_directive(c);
			if (err)
				return err;
			continue;
		}
		s->bol = false;
		return lex_token(c, s, t);
	}
}

void cfg_lex_skip_line(struct cfg_ctx *c)
{
	struct cfg_src *s = top(c);
	const char *nl = memchr(s->p, '\n', (size_t)(s->end - s->p));

	if (!nl) {
		s->p = s->end;
		return;
	}
	s->p = nl + 1;
	newline(s, s->p);
	s->bol = true;
}

const char *cfg_tok_name(const struct cfg_tok *t, char *buf, size_t size)
{
	static const char *const punct[] = {
	    [TK_LBRACE] = "'{'", [TK_RBRACE] = "'}'", [TK_LBRACK] = "'['",
	    [TK_RBRACK] = "']'", [TK_LPAREN] = "'('", [TK_RPAREN] = "')'",
	    [TK_COMMA] = "','",	 [TK_COLON] = "':'",  [TK_PLUS] = "'+'",
	    [TK_MINUS] = "'-'",	 [TK_STAR] = "'*'",   [TK_SLASH] = "'/'",
	    [TK_NOT] = "'!'",	 [TK_OR] = "'||'",    [TK_AND] = "'&&'",
	    [TK_EQ] = "'=='",	 [TK_NE] = "'!='",    [TK_LT] = "'<'",
	    [TK_LE] = "'<='",	 [TK_GT] = "'>'",     [TK_GE] = "'>='",
	};

	switch (t->kind) {
	case TK_EOF:
		return "end of file";
	case TK_EOL:
		return "end of line";
	case TK_IDENT:
		snprintf(buf, size, "'%.*s'", t->len > 40 ? 40 : (int)t->len, t->s);
		return buf;
	case TK_INT:
	case TK_REAL:
		return "number";
	case TK_STR:
		return "string";
	case TK_BQ:
		return "backquote string";
	default:
		return punct[t->kind];
	}
}
