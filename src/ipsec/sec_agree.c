/*
 * ipsec/sec_agree — RFC 3329 §2.2 header grammar:
 *
 *   Security-Client = "Security-Client" HCOLON sec-mechanism *(COMMA sec-mechanism)
 *   sec-mechanism   = mechanism-name *(SEMI mech-parameters)
 *   mech-parameters = preference / digest-algorithm / ... / extension
 *   preference      = "q" EQUAL qvalue
 *   extension       = generic-param          (token [EQUAL (token / host / quoted-string)])
 *
 * with the 3GPP parameters of TS 33.203 §7.1 (alg, ealg, prot, mod, spi-c,
 * spi-s, port-c, port-s). One pass, no allocation, views into the value.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ipsec/sec_agree.h"

struct scan {
	const char *p;
	size_t n, i;
};

static bool is_lws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_token(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("-.!%*_+`'~", c));
}

static void skip_lws(struct scan *s)
{
	while (s->i < s->n && is_lws(s->p[s->i]))
		s->i++;
}

static struct pl token(struct scan *s)
{
	size_t b = s->i;

	while (s->i < s->n && is_token(s->p[s->i]))
		s->i++;
	return (struct pl){s->p + b, s->i - b};
}

/* token, host (IPv6 reference included) or quoted-string (quotes kept) */
static int value(struct scan *s, struct pl *v)
{
	size_t b = s->i;

	if (s->i < s->n && s->p[s->i] == '"') {
		for (s->i++; s->i < s->n && s->p[s->i] != '"'; s->i++) {
			if (s->p[s->i] == '\\')
				s->i++;
		}
		if (s->i >= s->n)
			return EBADMSG;
		s->i++;
	} else {
		while (s->i < s->n && (is_token(s->p[s->i]) || strchr("[]:", s->p[s->i])))
			s->i++;
	}
	*v = (struct pl){s->p + b, s->i - b};
	return v->l ? 0 : EBADMSG;
}

static int num(struct pl v, size_t max_digits, uint32_t max, uint32_t *out)
{
	uint64_t x = 0;

	if (!v.l || v.l > max_digits)
		return EBADMSG;
	for (size_t i = 0; i < v.l; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return EBADMSG;
		x = x * 10 + (uint64_t)(v.p[i] - '0');
	}
	if (x > max)
		return EBADMSG;
	*out = (uint32_t)x;
	return 0;
}

/* qvalue = ("0" ["." 0*3DIGIT]) / ("1" ["." 0*3("0")]) (RFC 3261 §25.1) */
static int qvalue(struct pl v, uint16_t *q)
{
	unsigned x = 0, scale = 100;

	if (!v.l || (v.p[0] != '0' && v.p[0] != '1') || v.l == 2 || v.l > 5 ||
	    (v.l > 1 && v.p[1] != '.'))
		return EBADMSG;
	for (size_t i = 2; i < v.l; i++, scale /= 10) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return EBADMSG;
		x += (unsigned)(v.p[i] - '0') * scale;
	}
	if (v.p[0] == '1' && x)
		return EBADMSG;
	*q = (uint16_t)(v.p[0] == '1' ? 1000 : x);
	return 0;
}

static int param_enum(struct sec_offer *o, struct pl name, struct pl v)
{
	if (pl_caseeq_str(name, "prot")) {
		o->prot = pl_caseeq_str(v, "esp") ? SEC_PROT_ESP
			  : pl_caseeq_str(v, "ah") ? SEC_PROT_AH
						   : SEC_PROT_OTHER;
		return SEC_HAS_PROT;
	} else if (pl_caseeq_str(name, "mod")) {
		o->mod = pl_caseeq_str(v, "trans")	   ? SEC_MOD_TRANS
			 : pl_caseeq_str(v, "tun")	   ? SEC_MOD_TUN
			 : pl_caseeq_str(v, "UDP-enc-tun") ? SEC_MOD_UDP_ENC_TUN
							   : SEC_MOD_OTHER;
		return SEC_HAS_MOD;
	} else if (pl_caseeq_str(name, "alg")) {
		o->alg_name = v;
		o->alg_known = !esp_aalg_from_str(v.p, v.l, &o->aalg);
		return SEC_HAS_ALG;
	} else if (pl_caseeq_str(name, "ealg")) {
		o->ealg_name = v;
		o->ealg_known = !esp_ealg_from_str(v.p, v.l, &o->ealg);
		return SEC_HAS_EALG;
	}
	return 0;
}

/* One mech-parameter. A known one repeated, without a value or out of its
 * range (TS 24.229 §7.2A.7: spi 1*10DIGIT within 32 bits, port 1*5DIGIT
 * within 16) spoils its offer only (o->bad): the UE's other offers still
 * count, and the list still parses for a Security-Verify compare. */
static int param(struct sec_offer *o, struct pl name, struct pl v, bool has_v)
{
	static const struct {
		const char *name;
		unsigned bit;
		size_t digits;
		uint32_t max;
	} nums[] = {
	    {"spi-c", SEC_HAS_SPI_C, 10, UINT32_MAX}, {"spi-s", SEC_HAS_SPI_S, 10, UINT32_MAX},
	    {"port-c", SEC_HAS_PORT_C, 5, 65535},     {"port-s", SEC_HAS_PORT_S, 5, 65535},
	};
	uint32_t *dst[] = {&o->spi_c, &o->spi_s, NULL, NULL};
	uint32_t x = 0;
	int bit;

	for (size_t k = 0; k < sizeof(nums) / sizeof(nums[0]); k++) {
		if (!pl_caseeq_str(name, nums[k].name))
			continue;
		if ((o->has & nums[k].bit) || !has_v || num(v, nums[k].digits, nums[k].max, &x)) {
			o->bad = true;
			return 0;
		}
		o->has |= nums[k].bit;
		if (dst[k])
			*dst[k] = x;
		else if (k == 2)
			o->port_c = (uint16_t)x;
		else
			o->port_s = (uint16_t)x;
		return 0;
	}
	if (pl_caseeq_str(name, "q")) {
		if ((o->has & SEC_HAS_Q) || !has_v || qvalue(v, &o->q)) {
			o->bad = true;
			return 0;
		}
		o->has |= SEC_HAS_Q;
		return 0;
	}
	if (!has_v)
		return 0; /* a flag extension */
	bit = param_enum(o, name, v);
	if (bit && (o->has & (unsigned)bit))
		o->bad = true;
	o->has |= (unsigned)bit;
	return 0;
}

static int offer(struct scan *s, struct sec_offer *o)
{
	struct pl name, v = PL_INIT;
	unsigned nparam = 0;
	bool has_v;
	int err;

	memset(o, 0, sizeof(*o));
	o->ealg_known = true; /* absent: null */
	skip_lws(s);
	o->mech = token(s);
	if (!o->mech.l)
		return EBADMSG;
	o->ipsec = pl_caseeq_str(o->mech, SEC_AGREE_MECH_IPSEC);
	for (;;) {
		skip_lws(s);
		if (s->i >= s->n || s->p[s->i] == ',')
			return 0;
		if (s->p[s->i] != ';')
			return EBADMSG;
		s->i++;
		if (++nparam > SEC_AGREE_PARAM_MAX)
			return EOVERFLOW;
		skip_lws(s);
		name = token(s);
		if (!name.l)
			return EBADMSG;
		skip_lws(s);
		has_v = s->i < s->n && s->p[s->i] == '=';
		if (has_v) {
			s->i++;
			skip_lws(s);
			if ((err = value(s, &v)))
				return err;
		}
		if ((err = param(o, name, v, has_v)))
			return err;
	}
}

int sec_agree_parse(struct pl value_pl, struct sec_list *l)
{
	struct scan s = {value_pl.p, value_pl.l, 0};
	int err;

	if (!l || (!value_pl.p && value_pl.l))
		return EINVAL;
	for (;;) {
		if (l->n >= SEC_AGREE_OFFER_MAX)
			return EOVERFLOW;
		if ((err = offer(&s, &l->v[l->n])))
			return err;
		l->n++;
		if (s.i >= s.n)
			return 0;
		s.i++; /* ',' */
	}
}

static bool acceptable(const struct sec_offer *o, uint32_t amask, uint32_t emask)
{
	/* TS 33.203 §7.1: the UE's two SAs in are told apart by SPI and its
	 * two ports by number: equal ones could not carry two SA pairs */
	return o->ipsec && !o->bad && o->spi_c != o->spi_s && o->port_c != o->port_s &&
	       o->prot == SEC_PROT_ESP && o->mod == SEC_MOD_TRANS &&
	       (o->has & SEC_HAS_IPSEC_ALL) == SEC_HAS_IPSEC_ALL && o->alg_known &&
	       o->ealg_known && (amask >> o->aalg) & 1u && (emask >> o->ealg) & 1u &&
	       esp_alg_pair_valid(o->aalg, o->ealg) && o->spi_c && o->spi_s && o->port_c &&
	       o->port_s;
}

int sec_agree_choose(const struct sec_list *l, uint32_t aalg_mask, uint32_t ealg_mask,
		     size_t *idx)
{
	const struct sec_offer *best = NULL;

	if (!l || !idx)
		return EINVAL;
	for (size_t i = 0; i < l->n; i++) {
		const struct sec_offer *o = &l->v[i];

		if (!acceptable(o, aalg_mask, ealg_mask))
			continue;
		/* RFC 3329 §2.2: highest preference first; the UE's order otherwise */
		if (!best || o->q > best->q) {
			best = o;
			*idx = i;
		}
	}
	return best ? 0 : ENOENT;
}

int sec_agree_print(const struct sec_offer *o, char *buf, size_t size)
{
	int n, m = 0;

	if (!o || !buf || !size)
		return EINVAL;
	if (!o->ipsec) {
		n = snprintf(buf, size, "%.*s", (int)o->mech.l, o->mech.p);
	} else {
		if (o->has & SEC_HAS_Q)
			m = snprintf(buf, size, "%s;q=%u.%03u", SEC_AGREE_MECH_IPSEC,
				     o->q / 1000u, o->q % 1000u);
		else
			m = snprintf(buf, size, "%s", SEC_AGREE_MECH_IPSEC);
		if (m < 0 || (size_t)m >= size)
			return ENOSPC;
		n = snprintf(buf + m, size - (size_t)m,
			     ";prot=esp;mod=trans;spi-c=%u;spi-s=%u;port-c=%u;port-s=%u;ealg=%s;"
			     "alg=%s",
			     o->spi_c, o->spi_s, o->port_c, o->port_s, esp_ealg_name(o->ealg),
			     esp_aalg_name(o->aalg));
	}
	return n < 0 || (size_t)n + (size_t)m >= size ? ENOSPC : 0;
}

/* The first ealg of emask that makes a valid pair with a (from ealg null
 * up), ESP_EALG_COUNT if none; the same for the aalg beside e. */
static enum esp_ealg first_ealg(enum esp_aalg a, uint32_t emask)
{
	for (int e = 0; e < ESP_EALG_COUNT; e++)
		if ((emask >> e) & 1u && esp_alg_pair_valid(a, (enum esp_ealg)e))
			return (enum esp_ealg)e;
	return ESP_EALG_COUNT;
}

static enum esp_aalg first_aalg(enum esp_ealg e, uint32_t amask)
{
	for (int a = 0; a < ESP_AALG_COUNT; a++)
		if ((amask >> a) & 1u && esp_alg_pair_valid((enum esp_aalg)a, e))
			return (enum esp_aalg)a;
	return ESP_AALG_COUNT;
}

static int print_pair(char *buf, size_t size, size_t *n, enum esp_aalg a, enum esp_ealg e)
{
	int k = snprintf(buf + *n, size - *n, "%sipsec-3gpp;prot=esp;mod=trans;ealg=%s;alg=%s",
			 *n ? ", " : "", esp_ealg_name(e), esp_aalg_name(a));

	if (k < 0 || (size_t)k >= size - *n)
		return ENOSPC;
	*n += (size_t)k;
	return 0;
}

int sec_agree_print_ours(uint32_t aalg_mask, uint32_t ealg_mask, char *buf, size_t size)
{
	bool named[ESP_EALG_COUNT] = {false};
	size_t n = 0;
	int err = 0;

	if (!buf || !size)
		return EINVAL;
	buf[0] = '\0';
	for (int a = 0; a < ESP_AALG_COUNT && !err; a++) {
		enum esp_ealg e = first_ealg((enum esp_aalg)a, ealg_mask);

		if (!((aalg_mask >> a) & 1u) || e == ESP_EALG_COUNT)
			continue;
		named[e] = true;
		err = print_pair(buf, size, &n, (enum esp_aalg)a, e);
	}
	for (int e = 0; e < ESP_EALG_COUNT && !err; e++) {
		enum esp_aalg a = first_aalg((enum esp_ealg)e, aalg_mask);

		if (!((ealg_mask >> e) & 1u) || named[e] || a == ESP_AALG_COUNT)
			continue;
		err = print_pair(buf, size, &n, a, (enum esp_ealg)e);
	}
	if (err)
		buf[0] = '\0';
	return err ? err : n ? 0 : ENOENT;
}

bool sec_offer_eq(const struct sec_offer *a, const struct sec_offer *b)
{
	/* absent ealg = "ealg=null", absent prot and mod = esp and trans */
	const unsigned mask = ~(SEC_HAS_EALG | SEC_HAS_PROT | SEC_HAS_MOD);

	if (a->bad || b->bad || !pl_caseeq(a->mech, b->mech) || a->q != b->q ||
	    (a->has & SEC_HAS_Q) != (b->has & SEC_HAS_Q))
		return false;
	if (!a->ipsec)
		return true;
	if ((a->has & mask) != (b->has & mask) || a->prot != b->prot || a->mod != b->mod ||
	    a->spi_c != b->spi_c || a->spi_s != b->spi_s || a->port_c != b->port_c ||
	    a->port_s != b->port_s || a->alg_known != b->alg_known ||
	    a->ealg_known != b->ealg_known)
		return false;
	if (a->alg_known ? a->aalg != b->aalg : !pl_caseeq(a->alg_name, b->alg_name))
		return false;
	return a->ealg_known ? a->ealg == b->ealg : pl_caseeq(a->ealg_name, b->ealg_name);
}

int sec_agree_verify(const struct sec_list *verify, const struct sec_list *sent)
{
	if (!verify || !sent || !sent->n || verify->n != sent->n)
		return EACCES;
	for (size_t i = 0; i < sent->n; i++) {
		if (!sec_offer_eq(&verify->v[i], &sent->v[i]))
			return EACCES;
	}
	return 0;
}
