/* sip/sip_hdr — scalar, token, auth and extension header values; see sip_hdr.h. */
#include "sip/sip_hdr.h"

#include <errno.h>
#include <string.h>

#include "sip/sip_scan.h"

int sip_uint_decode(struct pl val, uint32_t max, uint32_t *v)
{
	uint64_t x;
	int err;

	val = pl_trim(val);
	/* leading zeros are allowed (RFC 4475 §3.1.1.1: "0068") but bounded */
	if (val.l > 20)
		return ERANGE;
	err = pl_u64(val, &x);
	if (err)
		return err;
	if (x > max)
		return ERANGE;
	*v = (uint32_t)x;
	return 0;
}

int sip_delta_decode(struct pl val, uint32_t *v)
{
	val = pl_trim(val);
	if (!val.l)
		return EBADMSG;
	for (size_t i = 0; i < val.l; i++) {
		if (val.p[i] < '0' || val.p[i] > '9')
			return EBADMSG;
	}
	if (sip_uint_decode(val, UINT32_MAX, v))
		*v = UINT32_MAX;
	return 0;
}

int sip_token_decode(struct pl val, struct pl *tok)
{
	struct sip_scan s;

	sip_scan_init(&s, val);
	sip_scan_sws(&s);
	if (sip_scan_token(&s, tok))
		return EBADMSG;
	return sip_scan_done(&s);
}

int sip_cseq_decode(struct sip_cseq *cseq, struct pl val)
{
	struct sip_scan s;
	struct pl num;
	uint32_t n;

	if (!cseq)
		return EINVAL;
	memset(cseq, 0, sizeof(*cseq));
	sip_scan_init(&s, val);
	sip_scan_sws(&s);
	num.p = s.p;
	while (s.p < s.e && *s.p >= '0' && *s.p <= '9')
		s.p++;
	num.l = (size_t)(s.p - num.p);
	/* RFC 3261 §20.16: a 32-bit unsigned integer */
	if (!num.l || sip_uint_decode(num, UINT32_MAX, &n))
		return EBADMSG;
	if (!sip_scan_sws(&s) || sip_scan_token(&s, &cseq->method))
		return EBADMSG;
	if (sip_scan_done(&s))
		return EBADMSG;
	cseq->num = n;
	cseq->meth = sip_method_from_pl(cseq->method);
	return 0;
}

int sip_callid_decode(struct pl val, struct pl *callid)
{
	struct sip_scan s;
	struct pl w;

	sip_scan_init(&s, val);
	sip_scan_sws(&s);
	callid->p = s.p;
	if (sip_scan_class(&s, SIP_C_WORD, &w))
		return EBADMSG;
	if (sip_scan_peek(&s) == '@') {
		s.p++;
		if (sip_scan_class(&s, SIP_C_WORD, &w))
			return EBADMSG;
	}
	callid->l = (size_t)(s.p - callid->p);
	return sip_scan_done(&s);
}

/* token *(SEMI generic-param): the shape of many extension headers. */
static int sip_tok_params(struct pl val, struct pl *tok, struct pl *params)
{
	struct sip_scan s;
	int err;

	sip_scan_init(&s, val);
	sip_scan_sws(&s);
	if (sip_scan_token(&s, tok))
		return EBADMSG;
	err = sip_scan_params(&s, params);
	if (err)
		return err;
	return sip_scan_done(&s);
}

int sip_ctype_decode(struct sip_ctype *ct, struct pl val)
{
	struct sip_scan s;
	int err;

	if (!ct)
		return EINVAL;
	memset(ct, 0, sizeof(*ct));
	sip_scan_init(&s, val);
	sip_scan_sws(&s);
	if (sip_scan_token(&s, &ct->type) || !sip_scan_sep(&s, '/') ||
	    sip_scan_token(&s, &ct->subtype))
		return EBADMSG;
	err = sip_scan_params(&s, &ct->params);
	if (err)
		return err;
	return sip_scan_done(&s);
}

int sip_event_decode(struct sip_event *ev, struct pl val)
{
	int err;

	if (!ev)
		return EINVAL;
	memset(ev, 0, sizeof(*ev));
	err = sip_tok_params(val, &ev->package, &ev->params);
	if (err)
		return err;
	if (sip_param_get(ev->params, "id", &ev->id) == 0 && !ev->id.l)
		return EBADMSG;
	return 0;
}

int sip_substate_decode(struct sip_substate *ss, struct pl val)
{
	struct pl v;
	int err;

	if (!ss)
		return EINVAL;
	memset(ss, 0, sizeof(*ss));
	err = sip_tok_params(val, &ss->state, &ss->params);
	if (err)
		return err;
	sip_param_get(ss->params, "reason", &ss->reason);
	if (sip_param_get(ss->params, "expires", &v) == 0) {
		if (sip_delta_decode(v, &ss->expires))
			return EBADMSG;
		ss->expires_set = true;
	}
	if (sip_param_get(ss->params, "retry-after", &v) == 0) {
		if (sip_delta_decode(v, &ss->retry_after))
			return EBADMSG;
		ss->retry_set = true;
	}
	return 0;
}

static bool sip_c_authval(char c)
{
	/* unquoted auth-param values seen from UEs: tokens, and URIs or
	 * base64 written without quotes */
	return sip_c_is(c, SIP_C_TOKEN) || c == '/' || c == ':' || c == '@' || c == '=';
}

/* auth-param *(COMMA auth-param), auth-param = token EQUAL (token /
 * quoted-string). The cursor is after the scheme. */
static int sip_auth_params(struct sip_scan *s, struct pl *params)
{
	unsigned n = 0;

	params->p = s->p;
	for (;;) {
		struct pl name, v;

		if (sip_scan_token(s, &name) || !sip_scan_sep(s, '='))
			return EBADMSG;
		if (++n > SIP_MAX_PARAMS)
			return E2BIG;
		if (sip_scan_peek(s) == '"') {
			if (sip_scan_quoted(s, &v))
				return EBADMSG;
		} else {
			const char *v0 = s->p;

			while (s->p < s->e && sip_c_authval(*s->p))
				s->p++;
			if (s->p == v0)
				return EBADMSG;
		}
		params->l = (size_t)(s->p - params->p);
		if (!sip_scan_sep(s, ','))
			break;
	}
	return sip_scan_done(s);
}

static bool sip_auth_param_next(struct pl *it, struct pl *name, struct pl *val)
{
	struct sip_scan s;

	sip_scan_init(&s, *it);
	sip_scan_sws(&s);
	if (sip_scan_peek(&s) == ',') {
		s.p++;
		sip_scan_sws(&s);
	}
	if (sip_scan_token(&s, name) || !sip_scan_sep(&s, '='))
		return false;
	if (sip_scan_peek(&s) == '"') {
		if (sip_scan_quoted(&s, val))
			return false;
	} else {
		val->p = s.p;
		while (s.p < s.e && sip_c_authval(*s.p))
			s.p++;
		val->l = (size_t)(s.p - val->p);
	}
	it->p = s.p;
	it->l = (size_t)(s.e - s.p);
	return true;
}

int sip_auth_param_get(const struct sip_auth *auth, const char *name, struct pl *val)
{
	struct pl it, n, v;

	if (!auth || !name)
		return EINVAL;
	it = auth->params;
	while (sip_auth_param_next(&it, &n, &v)) {
		if (sip_pl_ieq(n, name)) {
			if (val)
				*val = v;
			return 0;
		}
	}
	return ENOENT;
}

static void sip_auth_fields(struct sip_auth *a)
{
	static const struct {
		const char *name;
		size_t off;
	} f[] = {
		{"username", offsetof(struct sip_auth, username)},
		{"realm", offsetof(struct sip_auth, realm)},
		{"nonce", offsetof(struct sip_auth, nonce)},
		{"uri", offsetof(struct sip_auth, uri)},
		{"response", offsetof(struct sip_auth, response)},
		{"algorithm", offsetof(struct sip_auth, algorithm)},
		{"qop", offsetof(struct sip_auth, qop)},
		{"nc", offsetof(struct sip_auth, nc)},
		{"cnonce", offsetof(struct sip_auth, cnonce)},
		{"opaque", offsetof(struct sip_auth, opaque)},
		{"auts", offsetof(struct sip_auth, auts)},
		{"integrity-protected", offsetof(struct sip_auth, integrity_protected)},
		{"stale", offsetof(struct sip_auth, stale)},
		{"domain", offsetof(struct sip_auth, domain)},
		{"nextnonce", offsetof(struct sip_auth, nextnonce)},
		{"rspauth", offsetof(struct sip_auth, rspauth)},
	};
	struct pl it = a->params, n, v;

	while (sip_auth_param_next(&it, &n, &v)) {
		for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
			if (sip_pl_ieq(n, f[i].name)) {
				struct pl *dst = (struct pl *)((char *)a + f[i].off);

				/* the first occurrence wins */
				if (!dst->p)
					*dst = v;
				break;
			}
		}
	}
}

int sip_auth_decode(struct sip_auth *auth, struct pl val)
{
	struct sip_scan s;
	int err;

	if (!auth)
		return EINVAL;
	memset(auth, 0, sizeof(*auth));
	sip_scan_init(&s, val);
	sip_scan_sws(&s);
	if (sip_scan_token(&s, &auth->scheme) || !sip_scan_sws(&s))
		return EBADMSG;
	err = sip_auth_params(&s, &auth->params);
	if (err)
		return err;
	sip_auth_fields(auth);
	return 0;
}

int sip_authinfo_decode(struct sip_auth *auth, struct pl val)
{
	struct sip_scan s;
	int err;

	if (!auth)
		return EINVAL;
	memset(auth, 0, sizeof(*auth));
	sip_scan_init(&s, val);
	sip_scan_sws(&s);
	err = sip_auth_params(&s, &auth->params);
	if (err)
		return err;
	sip_auth_fields(auth);
	return 0;
}

static int sip_u16_param(struct pl params, const char *name, bool *set, uint16_t *v)
{
	struct pl x;
	uint32_t n;

	if (sip_param_get(params, name, &x))
		return 0;
	if (sip_uint_decode(x, 65535, &n))
		return EBADMSG;
	*set = true;
	*v = (uint16_t)n;
	return 0;
}

static int sip_u32_param(struct pl params, const char *name, bool *set, uint32_t *v)
{
	struct pl x;

	if (sip_param_get(params, name, &x))
		return 0;
	if (sip_uint_decode(x, UINT32_MAX, v))
		return EBADMSG;
	*set = true;
	return 0;
}

int sip_secmech_decode(struct sip_secmech *m, struct pl val)
{
	struct pl q;
	int err;

	if (!m)
		return EINVAL;
	memset(m, 0, sizeof(*m));
	err = sip_tok_params(val, &m->mech, &m->params);
	if (err)
		return err;
	sip_param_get(m->params, "alg", &m->alg);
	sip_param_get(m->params, "ealg", &m->ealg);
	sip_param_get(m->params, "prot", &m->prot);
	sip_param_get(m->params, "mod", &m->mod);
	if (sip_u32_param(m->params, "spi-c", &m->spi_c_set, &m->spi_c) ||
	    sip_u32_param(m->params, "spi-s", &m->spi_s_set, &m->spi_s) ||
	    sip_u16_param(m->params, "port-c", &m->port_c_set, &m->port_c) ||
	    sip_u16_param(m->params, "port-s", &m->port_s_set, &m->port_s))
		return EBADMSG;
	if (sip_param_get(m->params, "q", &q) == 0) {
		if (sip_qvalue(q, &m->q1000))
			return EBADMSG;
		m->q_set = true;
	}
	return 0;
}

int sip_pani_decode(struct sip_pani *pani, struct pl val)
{
	if (!pani)
		return EINVAL;
	memset(pani, 0, sizeof(*pani));
	return sip_tok_params(val, &pani->access_type, &pani->params);
}

int sip_rack_decode(struct sip_rack *rack, struct pl val)
{
	struct sip_scan s;
	struct pl a, b;

	if (!rack)
		return EINVAL;
	memset(rack, 0, sizeof(*rack));
	sip_scan_init(&s, val);
	sip_scan_sws(&s);
	if (sip_scan_token(&s, &a) || !sip_scan_sws(&s) || sip_scan_token(&s, &b) ||
	    !sip_scan_sws(&s) || sip_scan_token(&s, &rack->method) || sip_scan_done(&s))
		return EBADMSG;
	if (sip_uint_decode(a, UINT32_MAX, &rack->rseq) ||
	    sip_uint_decode(b, UINT32_MAX, &rack->cseq))
		return EBADMSG;
	return 0;
}

int sip_sessexp_decode(struct sip_sessexp *se, struct pl val)
{
	struct pl d, r;
	int err;

	if (!se)
		return EINVAL;
	memset(se, 0, sizeof(*se));
	err = sip_tok_params(val, &d, &se->params);
	if (err)
		return err;
	if (sip_uint_decode(d, UINT32_MAX, &se->delta))
		return EBADMSG;
	if (sip_param_get(se->params, "refresher", &r) == 0) {
		if (sip_pl_ieq(r, "uac"))
			se->refresher = SIP_REFRESHER_UAC;
		else if (sip_pl_ieq(r, "uas"))
			se->refresher = SIP_REFRESHER_UAS;
		else
			return EBADMSG;
	}
	return 0;
}
