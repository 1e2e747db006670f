/*
 * sip/sip_custom — custom_headers applied to the messages sent (manual
 * §5.2). See sip_custom.h.
 *
 * The message is read as RFC 3261 §7 lays it out: a start line, header
 * lines (a line starting with SP or HTAB continues the previous one,
 * §7.3.1), an empty line, the body. Only header lines are removed or
 * added; the start line and the body are copied as they are, so
 * Content-Length stays right.
 */
#include "sip/sip_custom.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One rule as applied: the caller's rule copied, with what matching needs
 * computed once rather than per message. */
struct custom_rule {
	struct sip_custom_hdr h; /* strings and arrays in the same allocation */
	const char *lname;	 /* the long form of h.name (itself or static) */
	const uint16_t *meth_l;	 /* lengths of h.methods[] */
	size_t lname_l;
	size_t name_l, value_l;
	bool meth_any; /* no method, or "*", listed */
};

#define CUSTOM_WORDS ((SIP_CUSTOM_MAX + 63u) / 64u)

struct sip_custom {
	struct custom_rule *v; /* in the same allocation */
	size_t n;
	size_t added_max;
	bool req_rules;	 /* some rule applies to requests (lists no code) */
	bool resp_rules; /* some rule applies to responses (lists codes) */
};

/* RFC 3261 §7.3.3 compact forms (and RFC 3515, 3841, 3892, 4028, 6665). */
static const struct {
	const char *name;
	char compact;
} custom_compact[] = {
    {"Accept-Contact", 'a'}, {"Referred-By", 'b'},	   {"Content-Type", 'c'},
    {"Request-Disposition", 'd'}, {"Content-Encoding", 'e'}, {"From", 'f'},
    {"Call-ID", 'i'},	     {"Reject-Contact", 'j'},	   {"Supported", 'k'},
    {"Content-Length", 'l'}, {"Contact", 'm'},		   {"Event", 'o'},
    {"Refer-To", 'r'},	     {"Subject", 's'},		   {"To", 't'},
    {"Allow-Events", 'u'},   {"Via", 'v'},		   {"Session-Expires", 'x'},
};

/* The headers that frame the message or match it to its transaction and
 * dialog (RFC 3261 §8.1.1, §17.1.3, §17.2.3): never touched. */
static const char *const custom_protected[] = {"Via",  "From",		 "To", "Call-ID",
					       "CSeq", "Content-Length"};

/* The long form of a header name (itself when it has no compact form). */
static void name_long(const char *p, size_t l, const char **lp, size_t *ll)
{
	*lp = p;
	*ll = l;
	if (l != 1)
		return;
	for (size_t i = 0; i < sizeof(custom_compact) / sizeof(custom_compact[0]); i++) {
		if ((p[0] | 0x20) == custom_compact[i].compact) {
			*lp = custom_compact[i].name;
			*ll = strlen(custom_compact[i].name);
			return;
		}
	}
}

static bool name_eq(const char *a, size_t al, const char *b, size_t bl)
{
	name_long(a, al, &a, &al);
	name_long(b, bl, &b, &bl);
	return al == bl && !strncasecmp(a, b, al);
}

static bool token_ok(const char *s, size_t max)
{
	size_t n = 0;

	/* RFC 3261 §25.1 token */
	for (; *s; s++, n++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("-.!%*_+`'~", *s)))
			return false;
	}
	return n > 0 && n <= max;
}

bool sip_custom_hdr_ok(const struct sip_custom_hdr *h, const char **why)
{
	size_t n;

	if (!h->name || !token_ok(h->name, SIP_CUSTOM_NAME_MAX)) {
		*why = "the name must be 1 to 64 token characters (RFC 3261 25.1)";
		return false;
	}
	for (size_t i = 0; i < sizeof(custom_protected) / sizeof(custom_protected[0]); i++) {
		if (name_eq(h->name, strlen(h->name), custom_protected[i],
			    strlen(custom_protected[i]))) {
			*why = "Via, From, To, Call-ID, CSeq and Content-Length cannot be "
			       "changed";
			return false;
		}
	}
	if (h->value) {
		/* field-value: printable text and HTAB; no CR, LF or other
		 * control character that would end or bend the line */
		for (n = 0; h->value[n]; n++) {
			unsigned char c = (unsigned char)h->value[n];

			if ((c < 0x20 && c != '\t') || c == 0x7f) {
				*why = "the value contains a control character";
				return false;
			}
		}
		if (n > SIP_CUSTOM_VALUE_MAX) {
			*why = "the value is longer than 1024 bytes";
			return false;
		}
	}
	if (h->code_count > SIP_CUSTOM_LIST_MAX || h->method_count > SIP_CUSTOM_LIST_MAX ||
	    (h->code_count && !h->codes) || (h->method_count && !h->methods)) {
		*why = "too many codes or methods";
		return false;
	}
	for (size_t i = 0; i < h->code_count; i++) {
		if (h->codes[i] && (h->codes[i] < 100 || h->codes[i] > 699)) {
			*why = "a code is not 0 or 100..699";
			return false;
		}
	}
	for (size_t i = 0; i < h->method_count; i++) {
		if (!h->methods[i] || !token_ok(h->methods[i], SIP_CUSTOM_NAME_MAX)) {
			*why = "a method is not a token";
			return false;
		}
	}
	return true;
}

size_t sip_custom_hdr_size(const struct sip_custom_hdr *h)
{
	size_t s = sizeof(struct custom_rule) + 2 * sizeof(void *); /* + alignment */

	s += (h->name ? strlen(h->name) + 1 : 0) + (h->value ? strlen(h->value) + 1 : 0);
	s += h->code_count * sizeof(uint16_t) +
	     h->method_count * (sizeof(char *) + sizeof(uint16_t));
	for (size_t i = 0; h->methods && i < h->method_count; i++)
		s += h->methods[i] ? strlen(h->methods[i]) + 1 : 0;
	return s;
}

static char *str_put(char **p, const char *s, size_t *lp)
{
	size_t l = strlen(s);
	char *d = *p;

	memcpy(d, s, l + 1);
	*p += l + 1;
	if (lp)
		*lp = l;
	return d;
}

static void align_ptr(char **p)
{
	*p += (sizeof(void *) - ((uintptr_t)*p % sizeof(void *))) % sizeof(void *);
}

/* Copies h into *d, its strings and arrays at *p. */
static void rule_copy(struct custom_rule *d, const struct sip_custom_hdr *h, char **p)
{
	const char **meths;
	uint16_t *codes, *meth_l;

	memset(d, 0, sizeof(*d));
	d->h = *h;
	align_ptr(p);
	meths = (const char **)(void *)*p;
	*p += h->method_count * sizeof(char *);
	codes = (uint16_t *)(void *)*p;
	*p += h->code_count * sizeof(uint16_t);
	meth_l = (uint16_t *)(void *)*p;
	*p += h->method_count * sizeof(uint16_t);
	if (h->code_count)
		memcpy(codes, h->codes, h->code_count * sizeof(uint16_t));
	d->meth_any = !h->method_count;
	for (size_t i = 0; i < h->method_count; i++) {
		size_t l;

		meths[i] = str_put(p, h->methods[i], &l);
		meth_l[i] = (uint16_t)l; /* a token of at most 64 bytes */
		d->meth_any = d->meth_any || !strcmp(meths[i], "*");
	}
	d->h.codes = h->code_count ? codes : NULL;
	d->h.methods = h->method_count ? meths : NULL;
	d->meth_l = meth_l;
	d->h.name = str_put(p, h->name, &d->name_l);
	d->h.value = h->value ? str_put(p, h->value, &d->value_l) : NULL;
	if (!d->h.value)
		d->h.replace = true;
	name_long(d->h.name, d->name_l, &d->lname, &d->lname_l);
}

int sip_custom_alloc(struct sip_custom **cp, const struct sip_custom_hdr *v, size_t n)
{
	struct sip_custom *c;
	size_t size = sizeof(*c), rules = 0, added = 0;
	const char *why;
	char *p;

	*cp = NULL;
	if (n > SIP_CUSTOM_MAX || (n && !v))
		return EINVAL;
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!sip_custom_hdr_ok(&v[i], &why))
			return EINVAL;
		rules += sip_custom_hdr_size(&v[i]);
		if (rules > SIP_CUSTOM_BYTES_MAX)
			return E2BIG;
		if (v[i].value)
			added += strlen(v[i].name) + 2 + strlen(v[i].value) + 2;
	}
	c = calloc(1, size + rules);
	if (!c)
		return ENOMEM;
	p = (char *)(c + 1);
	align_ptr(&p);
	c->v = (struct custom_rule *)(void *)p;
	p = (char *)(c->v + n);
	c->n = n;
	c->added_max = added;
	for (size_t i = 0; i < n; i++) {
		rule_copy(&c->v[i], &v[i], &p);
		if (c->v[i].h.code_count)
			c->resp_rules = true;
		else
			c->req_rules = true;
	}
	*cp = c;
	return 0;
}

void sip_custom_free(struct sip_custom *c)
{
	free(c);
}

size_t sip_custom_added_max(const struct sip_custom *c)
{
	return c ? c->added_max : 0;
}

/* What a message is, for matching: its method (a request's, or the CSeq
 * method of a response) and its status code (0 for a request). */
struct custom_key {
	const char *meth;
	size_t meth_l;
	uint16_t code;
};

static const char *line_end(const char *p, const char *e)
{
	const char *q = memchr(p, '\n', (size_t)(e - p));

	return q ? q + 1 : e;
}

/* The end of the header line at p: continuation lines included. */
static const char *hdr_end(const char *p, const char *e)
{
	const char *q = line_end(p, e);

	while (q < e && (*q == ' ' || *q == '\t'))
		q = line_end(q, e);
	return q;
}

static bool is_blank(const char *p, const char *e)
{
	return (e - p >= 2 && p[0] == '\r' && p[1] == '\n') || (e - p >= 1 && p[0] == '\n');
}

/* The header name of the line at p: up to ':' with trailing blanks cut. */
static size_t hdr_name_len(const char *p, const char *e)
{
	const char *c = memchr(p, ':', (size_t)(e - p));
	size_t l;

	if (!c)
		return 0;
	l = (size_t)(c - p);
	while (l && (p[l - 1] == ' ' || p[l - 1] == '\t'))
		l--;
	return l;
}

/* The method of a CSeq value: "1 REGISTER". */
static void cseq_method(const char *p, const char *e, struct custom_key *k)
{
	const char *c = memchr(p, ':', (size_t)(e - p));

	if (!c)
		return;
	for (p = c + 1; p < e && (*p == ' ' || *p == '\t' || (*p >= '0' && *p <= '9')); p++)
		;
	k->meth = p;
	while (p < e && *p > ' ')
		p++;
	k->meth_l = (size_t)(p - k->meth);
}

/* The CSeq method of a response: its header line read, the first one. */
static void resp_meth_read(const char *head, const char *e, struct custom_key *k)
{
	for (const char *p = head; p < e && !is_blank(p, e); p = hdr_end(p, e)) {
		size_t nl = hdr_name_len(p, hdr_end(p, e));

		if (name_eq(p, nl, "CSeq", 4)) {
			cseq_method(p, hdr_end(p, e), k);
			return;
		}
	}
}

/* The start line: a request's method or a response's code; head is the
 * start of the header lines. */
static int key_read(const char *msg, const char *e, struct custom_key *k, const char **head)
{
	const char *p;

	memset(k, 0, sizeof(*k));
	*head = line_end(msg, e);
	if (e - msg > 12 && !memcmp(msg, "SIP/2.0 ", 8)) {
		for (int i = 8; i < 11; i++) {
			if (msg[i] < '0' || msg[i] > '9')
				return EBADMSG;
			k->code = (uint16_t)(k->code * 10 + (uint16_t)(msg[i] - '0'));
		}
		return k->code ? 0 : EBADMSG;
	}
	k->meth = msg;
	for (p = msg; p < e && *p > ' '; p++)
		;
	k->meth_l = (size_t)(p - msg);
	return k->meth_l ? 0 : EBADMSG;
}

static bool meth_matches(const struct custom_rule *r, const struct custom_key *k)
{
	if (r->meth_any)
		return true;
	for (size_t i = 0; i < r->h.method_count; i++) {
		if (r->meth_l[i] == k->meth_l && !memcmp(r->h.methods[i], k->meth, k->meth_l))
			return true;
	}
	return false;
}

static bool code_matches(const struct custom_rule *r, uint16_t code)
{
	for (size_t i = 0; i < r->h.code_count; i++) {
		if (!r->h.codes[i] || r->h.codes[i] == code)
			return true;
	}
	return false;
}

static bool hit_get(const uint64_t *hit, size_t i)
{
	return (hit[i / 64] >> (i % 64)) & 1u;
}

/*
 * Marks in hit the rules that apply to the message; false when none does.
 * A response is matched on its code first: its CSeq is read only when a
 * rule takes that code and lists methods.
 */
static bool rules_match(const struct sip_custom *c, struct custom_key *k, const char *head,
			const char *e, uint64_t *hit)
{
	bool any = false, need_meth = false;

	memset(hit, 0, CUSTOM_WORDS * sizeof(*hit));
	if (!k->code) {
		for (size_t i = 0; c->req_rules && i < c->n; i++) {
			if (!c->v[i].h.code_count && meth_matches(&c->v[i], k)) {
				hit[i / 64] |= 1ull << (i % 64);
				any = true;
			}
		}
		return any;
	}
	for (size_t i = 0; c->resp_rules && i < c->n; i++) {
		if (c->v[i].h.code_count && code_matches(&c->v[i], k->code)) {
			hit[i / 64] |= 1ull << (i % 64);
			any = true;
			need_meth = need_meth || !c->v[i].meth_any;
		}
	}
	if (!need_meth)
		return any;
	resp_meth_read(head, e, k);
	any = false;
	for (size_t i = 0; i < c->n; i++) {
		if (hit_get(hit, i) && !meth_matches(&c->v[i], k))
			hit[i / 64] &= ~(1ull << (i % 64));
		any = any || hit_get(hit, i);
	}
	return any;
}

/* Whether a matching rule removes the header line named p[0..l). */
static bool line_removed(const struct sip_custom *c, const uint64_t *hit, const char *p,
			 size_t l)
{
	name_long(p, l, &p, &l);
	for (size_t i = 0; i < c->n; i++) {
		const struct custom_rule *r = &c->v[i];

		if (hit_get(hit, i) && r->h.replace && r->lname_l == l &&
		    !strncasecmp(r->lname, p, l))
			return true;
	}
	return false;
}

int sip_custom_apply(const struct sip_custom *c, const char *msg, size_t len,
		     struct mbuf *mb)
{
	const char *e = msg + len, *head, *p, *q;
	uint64_t hit[CUSTOM_WORDS];
	struct custom_key k;
	int err;

	if (!c || !c->n)
		return ENOENT;
	err = key_read(msg, e, &k, &head);
	if (err)
		return err;
	if (!rules_match(c, &k, head, e, hit))
		return ENOENT;
	err = mbuf_write(mb, msg, (size_t)(head - msg));
	for (p = head; !err && p < e && !is_blank(p, e); p = q) {
		q = hdr_end(p, e);
		if (!line_removed(c, hit, p, hdr_name_len(p, q)))
			err = mbuf_write(mb, p, (size_t)(q - p));
	}
	if (!err && p >= e)
		err = EBADMSG; /* no end of the header section */
	for (size_t i = 0; !err && i < c->n; i++) {
		const struct custom_rule *r = &c->v[i];

		if (!hit_get(hit, i) || !r->h.value)
			continue;
		err = mbuf_write(mb, r->h.name, r->name_l);
		err = err ? err : mbuf_write(mb, ": ", 2);
		err = err ? err : mbuf_write(mb, r->h.value, r->value_l);
		err = err ? err : mbuf_write(mb, "\r\n", 2);
	}
	if (!err)
		err = mbuf_write(mb, p, (size_t)(e - p)); /* empty line and body */
	return err;
}
