/* sip/sip_hdr — scalar, token, auth and extension header values; see sip_hdr.h. */
#include "sip/sip_hdr.h"

#include <errno.h>
#include <string.h>

#include "sip/sip_scan.h"

int sip_uint_decode(struct pl val, uint32_t max, uint32_t *v)
{
	uint32_t x;
	int err;

	val = sip_pl_trim(val);
	/* leading zeros are allowed (RFC 4475 §3.1.1.1: "0068") but bounded */
	if (val.l > 20)
		return ERANGE;
	err = sip_pl_u32(val, &x);
	if (err)
		return err;
	if (x > max)
		return ERANGE;
	*v = x;
	return 0;
}

int sip_delta_decode(struct pl val, uint32_t *v)
{
	val = sip_pl_trim(val);
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

/* Unquoted auth-param values seen from UEs: tokens, and URIs or base64
 * written without quotes (SIP_C2_AUTHV). */
static bool sip_c_authval(char c)
{
	return sip_c2_is(c, SIP_C2_AUTHV);
}

/* The field of struct sip_auth named by an auth-param, or NULL. */
static struct pl *sip_auth_field(struct sip_auth *a, struct pl n)
{
	switch (n.l) {
	case 2:
		return sip_tok_ieq(n, "nc", 2) ? &a->nc : NULL;
	case 3:
		return sip_tok_ieq(n, "uri", 3)	  ? &a->uri
		       : sip_tok_ieq(n, "qop", 3) ? &a->qop
						  : NULL;
	case 4:
		return sip_tok_ieq(n, "auts", 4) ? &a->auts : NULL;
	case 5:
		return sip_tok_ieq(n, "realm", 5)   ? &a->realm
		       : sip_tok_ieq(n, "nonce", 5) ? &a->nonce
		       : sip_tok_ieq(n, "stale", 5) ? &a->stale
						    : NULL;
	case 6:
		return sip_tok_ieq(n, "cnonce", 6)   ? &a->cnonce
		       : sip_tok_ieq(n, "opaque", 6) ? &a->opaque
		       : sip_tok_ieq(n, "domain", 6) ? &a->domain
						     : NULL;
	case 7:
		return sip_tok_ieq(n, "rspauth", 7) ? &a->rspauth : NULL;
	case 8:
		return sip_tok_ieq(n, "username", 8)   ? &a->username
		       : sip_tok_ieq(n, "response", 8) ? &a->response
						       : NULL;
	case 9:
		return sip_tok_ieq(n, "algorithm", 9)	? &a->algorithm
		       : sip_tok_ieq(n, "nextnonce", 9) ? &a->nextnonce
							: NULL;
	case 19:
		return sip_tok_ieq(n, "integrity-protected", 19) ? &a->integrity_protected
								 : NULL;
	default:
		return NULL;
	}
}

/* auth-param *(COMMA auth-param), auth-param = token EQUAL (token /
 * quoted-string). The cursor is after the scheme. The known fields are
 * filled in the same pass; the first occurrence of each wins. */
static int sip_auth_params(struct sip_scan *s, struct sip_auth *a)
{
	unsigned n = 0;

	a->params.p = s->p;
	for (;;) {
		struct pl name, v, *dst;

		if (sip_scan_token(s, &name) || !sip_scan_sep(s, '='))
			return EBADMSG;
		if (++n > SIP_MAX_PARAMS)
			return E2BIG;
		if (sip_scan_peek(s) == '"') {
			if (sip_scan_quoted(s, &v))
				return EBADMSG;
		} else {
			v.p = s->p;
			while (s->p < s->e && sip_c2_is(*s->p, SIP_C2_AUTHV))
				s->p++;
			v.l = (size_t)(s->p - v.p);
			if (!v.l)
				return EBADMSG;
		}
		dst = sip_auth_field(a, name);
		if (dst && !dst->p)
			*dst = v;
		a->params.l = (size_t)(s->p - a->params.p);
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

/* Challenges and credentials start with a scheme (RFC 3261 §25.1:
 * "Digest" LWS params); Authentication-Info is the params alone. */
static int sip_auth_decode_common(struct sip_auth *auth, struct pl val, bool scheme)
{
	struct sip_scan s;

	if (!auth)
		return EINVAL;
	memset(auth, 0, sizeof(*auth));
	sip_scan_init(&s, val);
	sip_scan_sws(&s);
	if (scheme && (sip_scan_token(&s, &auth->scheme) || !sip_scan_sws(&s)))
		return EBADMSG;
	return sip_auth_params(&s, auth);
}

int sip_auth_decode(struct sip_auth *auth, struct pl val)
{
	return sip_auth_decode_common(auth, val, true);
}

int sip_authinfo_decode(struct sip_auth *auth, struct pl val)
{
	return sip_auth_decode_common(auth, val, false);
}

/* Secmech parameters the decoder knows, as bits of sip_secmech_h.seen. */
enum {
	SIP_SM_ALG = 1,
	SIP_SM_EALG = 2,
	SIP_SM_PROT = 4,
	SIP_SM_MOD = 8,
	SIP_SM_SPI_C = 16,
	SIP_SM_SPI_S = 32,
	SIP_SM_PORT_C = 64,
	SIP_SM_PORT_S = 128,
	SIP_SM_Q = 256,
};

struct sip_secmech_pick {
	struct sip_secmech *m;
	unsigned seen;
};

static unsigned sip_secmech_which(struct pl n)
{
	switch (n.l) {
	case 1:
		return (n.p[0] | 0x20) == 'q' ? SIP_SM_Q : 0;
	case 3:
		return sip_tok_ieq(n, "alg", 3)	  ? SIP_SM_ALG
		       : sip_tok_ieq(n, "mod", 3) ? SIP_SM_MOD
						  : 0;
	case 4:
		return sip_tok_ieq(n, "ealg", 4)   ? SIP_SM_EALG
		       : sip_tok_ieq(n, "prot", 4) ? SIP_SM_PROT
						   : 0;
	case 5:
		return sip_tok_ieq(n, "spi-c", 5)   ? SIP_SM_SPI_C
		       : sip_tok_ieq(n, "spi-s", 5) ? SIP_SM_SPI_S
						    : 0;
	case 6:
		return sip_tok_ieq(n, "port-c", 6)   ? SIP_SM_PORT_C
		       : sip_tok_ieq(n, "port-s", 6) ? SIP_SM_PORT_S
						     : 0;
	default:
		return 0;
	}
}

/* The first occurrence of each known parameter counts (as sip_param_get
 * would find it); numbers must fit their field. */
static int sip_secmech_h(struct pl n, struct pl v, void *arg)
{
	struct sip_secmech_pick *pk = arg;
	struct sip_secmech *m = pk->m;
	unsigned w = sip_secmech_which(n);
	uint32_t x;

	if (!w || (pk->seen & w))
		return 0;
	pk->seen |= w;
	switch (w) {
	case SIP_SM_ALG:
		m->alg = v;
		return 0;
	case SIP_SM_EALG:
		m->ealg = v;
		return 0;
	case SIP_SM_PROT:
		m->prot = v;
		return 0;
	case SIP_SM_MOD:
		m->mod = v;
		return 0;
	case SIP_SM_Q:
		m->q_set = sip_qvalue(v, &m->q1000) == 0;
		return m->q_set ? 0 : EBADMSG;
	default:
		break;
	}
	if (sip_uint_decode(v, w >= SIP_SM_PORT_C ? 65535 : UINT32_MAX, &x))
		return EBADMSG;
	switch (w) {
	case SIP_SM_SPI_C:
		m->spi_c_set = true;
		m->spi_c = x;
		break;
	case SIP_SM_SPI_S:
		m->spi_s_set = true;
		m->spi_s = x;
		break;
	case SIP_SM_PORT_C:
		m->port_c_set = true;
		m->port_c = (uint16_t)x;
		break;
	default:
		m->port_s_set = true;
		m->port_s = (uint16_t)x;
		break;
	}
	return 0;
}

int sip_secmech_decode(struct sip_secmech *m, struct pl val)
{
	struct sip_secmech_pick pk = {.m = m};
	struct sip_scan s;
	int err;

	if (!m)
		return EINVAL;
	memset(m, 0, sizeof(*m));
	sip_scan_init(&s, val);
	sip_scan_sws(&s);
	if (sip_scan_token(&s, &m->mech))
		return EBADMSG;
	err = sip_scan_params_each(&s, &m->params, sip_secmech_h, &pk);
	if (err)
		return err;
	return sip_scan_done(&s);
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

/* The memo fields are the message's own cache (sip_msg.h): writing them
 * behind a const pointer changes nothing a caller can observe. */
static struct sip_msg *memo_msg(const struct sip_msg *msg)
{
	return (struct sip_msg *)(uintptr_t)msg;
}

const struct sip_via *sip_msg_via(const struct sip_msg *msg)
{
	struct sip_msg *m = memo_msg(msg);
	const struct sip_hdr *h;

	if (!m)
		return NULL;
	if (!m->memo_via) {
		h = sip_msg_hdr(m, SIP_HDR_VIA);
		m->memo_via = h && !sip_via_decode(&m->via, h->val) ? 1 : -1;
	}
	return m->memo_via > 0 ? &m->via : NULL;
}

static const struct sip_addr *memo_addr(const struct sip_msg *msg, enum sip_hdr_id id,
					int8_t *flag, struct sip_addr *addr)
{
	const struct sip_hdr *h;

	if (!*flag) {
		h = sip_msg_hdr(msg, id);
		*flag = h && !sip_addr_decode(addr, h->val) ? 1 : -1;
	}
	return *flag > 0 ? addr : NULL;
}

const struct sip_addr *sip_msg_from(const struct sip_msg *msg)
{
	struct sip_msg *m = memo_msg(msg);

	return m ? memo_addr(m, SIP_HDR_FROM, &m->memo_from, &m->from) : NULL;
}

const struct sip_addr *sip_msg_to(const struct sip_msg *msg)
{
	struct sip_msg *m = memo_msg(msg);

	return m ? memo_addr(m, SIP_HDR_TO, &m->memo_to, &m->to) : NULL;
}

const struct sip_cseq *sip_msg_cseq(const struct sip_msg *msg)
{
	struct sip_msg *m = memo_msg(msg);
	const struct sip_hdr *h;

	if (!m)
		return NULL;
	if (!m->memo_cseq) {
		h = sip_msg_hdr(m, SIP_HDR_CSEQ);
		m->memo_cseq = h && !sip_cseq_decode(&m->cseq, h->val) ? 1 : -1;
	}
	return m->memo_cseq > 0 ? &m->cseq : NULL;
}
